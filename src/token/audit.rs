//! The audit trail: every key-management event and every use of a token key,
//! appended to a hash chain in the store (`Store::append_audit`). Management
//! events are written at once; uses are buffered and written in batches (at
//! 512 records, after a second, at C_Finalize and at process exit), one
//! chained row per batch, so auditing costs a fraction of a microsecond per
//! operation. Records are JSON lines; a batch's hash covers every byte of
//! every record in it, and the chain and its stored head cover the order and
//! the number of batches. Whatever can write the store can recompute an
//! unkeyed chain, so two things sit beside it: MACed checkpoints, written
//! while a token key is at hand (a login), and an outside anchor of every
//! batch (`store::anchor`). Checking, export and pruning are in
//! `audit_check`; docs/audit.md says what each detects.

use super::Audit;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::sync::Mutex;
use std::time::{Duration, Instant};

use cryptoki_sys::CK_RV;

use super::clock;
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::store::{AuditSigner, TokenKey, Uid};

/// Distinct pending use records before a batch is written.
const BATCH_RECORDS: usize = 512;
const BATCH_AGE: Duration = Duration::from_secs(1);
/// Past this many unwritten records (the store failing), the oldest go.
const MAX_PENDING: usize = 100_000;
/// How far back a new use looks for an identical pending one.
const COALESCE_WINDOW: usize = 8;

/// Buffers for uses, one per group of threads, so that threads working in
/// parallel do not all take one lock per operation; events go to shard 0.
const SHARDS: usize = 4;

/// At most one checkpoint per this interval per process (plus one at the
/// module's end). A checkpoint is a key derivation, a MAC and a row in the
/// batch's own transaction (so it never names a batch that did not
/// commit); per batch it would double the rows of a log whose events are
/// each a batch, for little: the chain links every batch to the next
/// checkpoint anyway, so a checkpoint covers all batches before it.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct AuditBuffer {
    shards: [Shard; SHARDS],
    /// When this process last wrote a checkpoint.
    checkpointed: Mutex<Option<Instant>>,
}

/// One shard on its own cache lines (no false sharing between threads).
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Pending>);

impl std::ops::Deref for Shard {
    type Target = Mutex<Pending>;
    fn deref(&self) -> &Mutex<Pending> {
        &self.0
    }
}

/// This thread's shard (assigned round-robin when the thread first audits).
fn shard() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.try_with(|m| *m).unwrap_or(0)
}

/// Records not yet written. Uses that are identical in every field,
/// including the second they happened in, are one entry with a count: the
/// log loses nothing (times are in whole seconds) and a loop of a million
/// encryptions costs one line per second, not a million.
#[derive(Default)]
struct Pending {
    uses: Vec<(Owned, u64)>,
    events: String,
    first: Option<Instant>,
}

/// A record's fields, owned, as kept until written.
#[derive(PartialEq, Eq)]
struct Owned {
    time: u64,
    event: String,
    token: Option<Uid>,
    session: u64,
    key: String,
    version: u64,
    mechanism: Option<u64>,
    rv: CK_RV,
    detail: String,
    /// Who called, from where (the API server's requests; empty for
    /// PKCS#11 callers).
    principal: String,
    source: String,
}

/// The caller the API server is serving on this thread (see
/// [`with_caller`]): every record made meanwhile names it.
pub struct Caller {
    /// The principal's ARN.
    pub principal: String,
    /// The client's address.
    pub source: String,
    /// What makes a key's ARN of its UUID (`arn:aws:kms:REGION:ACCOUNT:key/`):
    /// records made for this caller name keys by ARN.
    pub key_arn_prefix: String,
}

thread_local! {
    static CALLER: std::cell::RefCell<Option<Caller>> = const { std::cell::RefCell::new(None) };
    static RECORDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every audit record it makes naming `caller`; also says
/// whether `f` made any.
pub fn with_caller<T>(caller: Caller, f: impl FnOnce() -> T) -> (T, bool) {
    CALLER.with(|c| *c.borrow_mut() = Some(caller));
    RECORDED.with(|r| r.set(false));
    let out = f();
    CALLER.with(|c| *c.borrow_mut() = None);
    (out, RECORDED.with(|r| r.replace(false)))
}

/// The caller's principal, address and the record's key as the caller
/// names keys (an ARN for a key id, else as given).
fn caller(key: &str) -> (String, String, String) {
    CALLER
        .try_with(|c| {
            c.borrow().as_ref().map_or_else(
                || (String::new(), String::new(), key.to_string()),
                |c| {
                    let _ = RECORDED.try_with(|r| r.set(true));
                    let key = match crate::token::keyid::uid_from_text(key) {
                        Some(uid) if !c.key_arn_prefix.is_empty() => {
                            format!("{}{}", c.key_arn_prefix, crate::token::keyid::uuid(&uid))
                        }
                        _ => key.to_string(),
                    };
                    (c.principal.clone(), c.source.clone(), key)
                },
            )
        })
        .unwrap_or_else(|_| (String::new(), String::new(), key.to_string()))
}

impl Owned {
    /// Is this the record `r` (whose key, as the caller names keys, is
    /// `key`) made at `time`?
    fn is(&self, time: u64, r: &Record, key: &str) -> bool {
        self.time == time
            && self.session == r.session
            && self.rv == r.rv
            && self.version == r.version
            && self.mechanism == r.mechanism
            && self.event == r.event
            && self.key == key
            && self.token.as_ref() == r.token
            && self.detail == r.detail
            && CALLER
                .try_with(|c| match c.borrow().as_ref() {
                    Some(c) => self.principal == c.principal && self.source == c.source,
                    None => self.principal.is_empty() && self.source.is_empty(),
                })
                .unwrap_or(false)
    }

    fn of(time: u64, r: &Record) -> Owned {
        Owned::of_named(time, r, caller(r.key))
    }

    /// The same, with what `caller` gave for `r` already at hand.
    fn of_named(time: u64, r: &Record, (principal, source, key): (String, String, String)) -> Owned {
        Owned {
            time,
            event: r.event.to_string(),
            token: r.token.copied(),
            session: r.session,
            key,
            version: r.version,
            mechanism: r.mechanism,
            rv: r.rv,
            detail: r.detail.to_string(),
            principal,
            source,
        }
    }
}

/// One audit record. `key` is the key's CKA_UNIQUE_ID (or an alias name),
/// empty when the event concerns no key.
#[derive(Clone, Copy)]
pub(crate) struct Record<'a> {
    pub event: &'a str,
    pub token: Option<&'a Uid>,
    pub session: u64,
    pub key: &'a str,
    pub version: u64,
    pub mechanism: Option<u64>,
    pub rv: CK_RV,
    pub detail: &'a str,
}

impl<'a> Record<'a> {
    pub fn new(event: &'a str) -> Record<'a> {
        Record { event, token: None, session: 0, key: "", version: 0, mechanism: None, rv: 0, detail: "" }
    }

    /// A record of `event` on the session and token of `a`.
    pub fn of(a: &'a super::Access, event: &'a str) -> Record<'a> {
        Record { token: Some(&a.token.uid), session: a.session, ..Record::new(event) }
    }

    /// A copy with this result code.
    pub fn clone_with_rv(&self, rv: CK_RV) -> Record<'a> {
        Record { rv, ..*self }
    }

    /// The record with the call's result code.
    pub fn result<T>(self, r: &Result<T>) -> Record<'a> {
        Record { rv: r.as_ref().err().map_or(0, Error::ck_rv), ..self }
    }
}

/// An event record as one JSON line, stamped now.
fn event_line(r: &Record) -> String {
    let mut l = String::new();
    line(&mut l, &Owned::of(clock::now(), r), 1);
    l
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One JSON line: time, pid, event, token, session, key, version,
/// mechanism (if any), rv, detail, count (identical uses in that second).
fn line(out: &mut String, o: &Owned, count: u64) {
    let _ = write!(out, "{{\"time\":{},\"pid\":{},\"event\":", o.time, std::process::id());
    json_str(out, &o.event);
    out.push_str(",\"token\":");
    json_str(out, &o.token.map(|u| hex(&u)).unwrap_or_default());
    let _ = write!(out, ",\"session\":{},\"key\":", o.session);
    json_str(out, &o.key);
    let _ = write!(out, ",\"version\":{}", o.version);
    if let Some(m) = o.mechanism {
        let _ = write!(out, ",\"mechanism\":\"{m:#x}\"");
    }
    let _ = write!(out, ",\"rv\":\"{:#x}\",\"detail\":", o.rv);
    json_str(out, &o.detail);
    if !o.principal.is_empty() {
        out.push_str(",\"principal\":");
        json_str(out, &o.principal);
        out.push_str(",\"source\":");
        json_str(out, &o.source);
    }
    let _ = writeln!(out, ",\"count\":{count}}}");
}

impl Audit<'_> {
    /// A use of a key: buffered, identical uses in one second counted.
    pub(crate) fn key_use(&self, r: &Record) {
        let now = clock::now();
        // The key as the record will name it (an ARN for an API caller):
        // computed only when a caller is set, the PKCS#11 path borrows.
        let named = CALLER.try_with(|c| c.borrow().is_some()).unwrap_or(false).then(|| caller(r.key));
        let key: &str = named.as_ref().map_or(r.key, |n| n.2.as_str());
        let due = {
            let mut p = self.m.audit.shards[shard()].lock();
            if p.uses.len() >= MAX_PENDING {
                log::error!("audit: {MAX_PENDING} records could not be written; dropping them");
                p.uses.clear();
            }
            let n = p.uses.len();
            match p.uses[n.saturating_sub(COALESCE_WINDOW)..].iter_mut().rev().find(|(o, _)| o.is(now, r, key)) {
                Some((_, count)) => *count += 1,
                None => {
                    let o = match named {
                        Some(n) => Owned::of_named(now, r, n),
                        None => Owned::of(now, r),
                    };
                    p.uses.push((o, 1));
                }
            }
            let first = *p.first.get_or_insert_with(Instant::now);
            p.uses.len() >= BATCH_RECORDS || first.elapsed() >= BATCH_AGE
        };
        if due {
            let _ = self.flush();
        }
    }

    /// A key-management event: written before the call returns.
    /// Writes an event now. If it cannot be written, the error is returned
    /// for the event's call to fail with (the record stays buffered and is
    /// written with the next batch).
    pub(crate) fn event(&self, r: &Record) -> Result<()> {
        self.m.audit.shards[0].lock().events.push_str(&event_line(r));
        self.flush().inspect_err(|e| log::error!("audit: could not write the {} event: {e}", r.event))
    }

    /// A key-management event that goes with the calling thread's next
    /// store write (in the same transaction, see `Store::stage_audit`).
    pub(crate) fn with_next_write(&self, r: &Record) {
        self.m.store.stage_audit(&event_line(r));
    }

    /// Writes every buffered record as one batch: uses first (they happened
    /// before the event that triggers a write), then events.
    pub fn flush(&self) -> Result<()> {
        self.flush_with(false)
    }

    /// The token keys of logged-in slots, by token uid. Only `try_read`s:
    /// this runs while writing audit records, which some callers do while
    /// holding a slot's locks; a busy slot is skipped, never waited for.
    pub(crate) fn keys(&self) -> Vec<(Uid, Arc<TokenKey>)> {
        self.m.slots().logged_in_keys()
    }

    /// A key to checkpoint with, when one is due (or `force`d) and a slot
    /// is logged in.
    fn checkpoint_key(&self, force: bool) -> Option<(Uid, Arc<TokenKey>)> {
        let last = *self.m.audit.checkpointed.lock();
        if !force && last.is_some_and(|t| t.elapsed() < CHECKPOINT_EVERY) {
            return None;
        }
        self.keys().into_iter().next()
    }

    /// As `flush_audit`; `final_flush` (the module's end) checkpoints
    /// whatever the interval, with nothing to write the chain's head.
    pub(crate) fn flush_with(&self, final_flush: bool) -> Result<()> {
        // Every shard locked in order (no other path holds two), so the
        // batch is one consistent cut.
        let mut guards = Vec::with_capacity(SHARDS);
        for sh in &self.m.audit.shards {
            guards.push(sh.lock());
        }
        if guards.iter().all(|p| p.uses.is_empty() && p.events.is_empty()) {
            // Events staged with a write (most management events) commit
            // without a checkpoint; the module's end vouches for them.
            if let (true, Some((uid, k))) = (final_flush, self.checkpoint_key(true)) {
                self.m.store.checkpoint_audit_head(&AuditSigner { token_uid: uid, key: &k, time: clock::now() })?;
            }
            return Ok(());
        }
        let mut body = String::new();
        for p in &guards {
            for (o, count) in &p.uses {
                line(&mut body, o, *count);
            }
        }
        for p in &guards {
            body.push_str(&p.events);
        }
        let key = self.checkpoint_key(final_flush);
        let signer = key.as_ref().map(|(uid, k)| AuditSigner { token_uid: *uid, key: k, time: clock::now() });
        self.m.store.append_audit(&body, signer.as_ref())?;
        if signer.is_some() {
            *self.m.audit.checkpointed.lock() = Some(Instant::now());
        }
        for p in guards.iter_mut() {
            **p = Pending::default();
        }
        Ok(())
    }
}

impl Audit<'_> {
    /// The API server's record of a request that no token call recorded
    /// (a read, or a request refused before it reached the token):
    /// `operation` (e.g. `kms:DescribeKey`), the key's ARN or id if any,
    /// and the outcome (empty: success; else the error's name).
    pub fn request(&self, h: super::SessionHandle, operation: &str, key: &str, outcome: &str) -> Result<()> {
        let a = self.m.kms().access(h)?;
        let rv = if outcome.is_empty() { 0 } else { cryptoki_sys::CKR_FUNCTION_FAILED };
        self.key_use(&Record { key, detail: outcome, rv, ..Record::of(&a, operation) });
        Ok(())
    }
}
