//! The SQLite slot store: WAL, a busy timeout, `synchronous=FULL` (a key the
//! caller was told exists survives power loss), one `BEGIN IMMEDIATE`
//! transaction per write, and a schema version in `PRAGMA user_version`.
//!
//! Connections come from a small pool so that threads do not queue behind
//! one connection; SQLite's own locking arbitrates between processes.

use crate::sync::Mutex;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::seal::{Idx, KdfParams, PinRecord, UID_LEN};
use super::{
    AuditLog, AuditSigner, ObjectId, Row, SetDigest, SlotId, Store, StoredObject, TokenId, TokenRecord, Uid, Visible,
    Who, Writer,
};
use crate::error::{Error, Result};
use crate::model::AttrType;

mod audit;
mod copy;
pub(in crate::store) mod digest;
mod schema;

use digest::{digest_from, member_in, member_of, update_digest, write_digest};

use schema::*;

pub struct SqliteStore {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    /// How long a write waits for another process's (`store.busy_timeout_ms`).
    busy: Duration,
    /// `<store>.gen`: 8 bytes every writer changes after each commit, so
    /// every process can tell cheaply (a load from a shared mapping, see
    /// `mapped`; no SQLite lock) whether anything changed since it last
    /// looked. None if it cannot be opened or mapped; then nothing is cached.
    generation: Option<crate::sys::mapped::Generation>,
    /// Where committed audit batches are anchored outside the store.
    anchor: super::anchor::Anchor,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::device(format!("sqlite: {e}"))
    }
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600 in a 0700 directory) and migrates
    /// the store.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with_umask(path, None)
    }

    /// As `open`; a configured umask (SoftHSM's `objectstore.umask`) gives
    /// the modes 0666 & !umask for files and 0777 & !umask for a new directory.
    pub fn open_with_umask(path: &Path, umask: Option<u32>) -> Result<SqliteStore> {
        Self::open_with(path, umask, Duration::from_secs(30))
    }

    /// As `open_with_umask`, waiting at most `busy` for another process's
    /// write.
    pub fn open_with(path: &Path, umask: Option<u32>, busy: Duration) -> Result<SqliteStore> {
        let (dir_mode, file_mode) = match umask {
            Some(m) => (0o777 & !m, 0o666 & !m),
            None => (0o700, 0o600),
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(dir_mode)
                    .create(dir)
                    .map_err(|e| Error::device(format!("create {}: {e}", dir.display())))?;
            }
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            // Create with our mode before SQLite does, so no process umask
            // widens it.
            let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(file_mode).open(path);
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut gen_path = path.as_os_str().to_owned();
        gen_path.push(".gen");
        let generation = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(file_mode)
            .open(&gen_path);
        if let Err(e) = &generation {
            log::warn!("{}: {e}; the store is read on every call", PathBuf::from(&gen_path).display());
        }
        let generation = generation.ok().and_then(crate::sys::mapped::Generation::new);
        let anchor = super::anchor::Anchor { mode: file_mode, ..Default::default() };
        let store = SqliteStore { path: path.to_path_buf(), pool: Mutex::new(Vec::new()), busy, generation, anchor };
        let mut conn = store.connect()?;
        store.migrate(&mut conn)?;
        store.give_back(conn);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Anchors audit batches in `sidecar` (created now, with the store's
    /// file mode, so that a sidecar that cannot be written stops start-up)
    /// and/or the log from now on.
    pub fn with_audit_anchor(mut self, sidecar: Option<PathBuf>, syslog: bool) -> Result<SqliteStore> {
        self.anchor.sidecar = sidecar;
        self.anchor.syslog = syslog;
        self.anchor.open()?;
        Ok(self)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(self.busy)?;
        // For a new store only (an existing one keeps its size): a commit
        // writes every page it changed (~15 of 4 KiB, or ~20 of 1 KiB, per
        // token object), so smaller pages mean less to write and sync per
        // durable create (+10%), and
        // less to read per find among 100,000 objects (83k -> 104k/s); the
        // resident size with 100,000 objects went from 48 to 54 MiB.
        conn.pragma_update(None, "page_size", 1024)?;
        // Statement journals (a multi-row statement inside a transaction)
        // in memory, not as temporary files written on every such commit.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Reads through a shared mapping instead of a pread per page: a find
        // among 100,000 objects walks index pages that mostly miss the 2 MiB
        // page cache (47k -> 67k finds/s). Capped at 40 MiB because mapped
        // pages count in the process's resident size (48 MiB with 100,000
        // objects, against the 64 MiB budget).
        conn.pragma_update(None, "mmap_size", 40i64 << 20)?;
        Ok(conn)
    }

    fn migrate(&self, conn: &mut Connection) -> Result<()> {
        // A store already at this version needs no write: opening it must
        // work while another process holds the write lock.
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::device(format!(
                "store schema {version} is newer than this module understands ({SCHEMA_VERSION})"
            )));
        }
        if version < 1 {
            tx.execute_batch(SCHEMA_V1)?;
        }
        if version < 2 {
            tx.execute_batch(SCHEMA_V2)?;
        }
        if version < 3 {
            tx.execute_batch(SCHEMA_V3)?;
        }
        if version < 4 {
            tx.execute_batch(SCHEMA_V4)?;
        }
        if version < 5 {
            tx.execute_batch(&schema_v5())?;
        }
        if version < 6 {
            tx.execute_batch(SCHEMA_V6)?;
        }
        if version < 7 {
            tx.execute_batch(SCHEMA_V7)?;
        }
        // Later schema versions add their steps here, each guarded by `version < N`.
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    fn take(&self) -> Result<Connection> {
        let pooled = self.pool.lock().pop();
        match pooled {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give_back(&self, c: Connection) {
        let mut p = self.pool.lock();
        if p.len() < 8 {
            p.push(c);
        }
    }

    /// Runs `f` on a pooled connection.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut c = self.take()?;
        let r = f(&mut c);
        self.give_back(c);
        r
    }

    /// Runs `f` in one immediate (write-locking) transaction, with the audit
    /// lines this thread staged — before the call or inside `f` (a change
    /// whose record depends on what it read, like a rotation's new
    /// version). A failed write drops them: no record of a change that did
    /// not happen, and no change without its record.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.write_audited(None, None, f)
    }

    /// As `write`, also appending `batch` (then the staged lines, each a
    /// batch) and, with a signer, a checkpoint of the last batch; after the
    /// commit the new batches are anchored.
    fn write_audited<T>(
        &self,
        batch: Option<&str>,
        signer: Option<&AuditSigner>,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<T>,
    ) -> Result<T> {
        // try_with: at process exit (the audit flush) thread-locals may be gone.
        let take = || STAGED.try_with(|s| std::mem::take(&mut *s.borrow_mut())).unwrap_or_default();
        let r = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            let staged = take();
            let mut appended = Vec::new();
            for body in [batch.unwrap_or(""), &staged] {
                if !body.is_empty() {
                    appended.push(audit::append_in(&tx, body)?);
                }
            }
            if let (Some(s), Some((seq, hash))) = (signer, appended.last()) {
                audit::checkpoint_in(&tx, &s.mark(super::CHECKPOINT_DOMAIN, *seq, hash))?;
            }
            tx.commit()?;
            self.bump_generation();
            self.anchor.record(&appended);
            Ok(v)
        });
        if r.is_err() {
            take();
        }
        r
    }

    /// After a commit: a fresh random value (no read-modify-write race).
    fn bump_generation(&self) {
        if let Some(f) = &self.generation {
            let mut g = [0u8; 8];
            if crate::sys::rand::random(&mut g).is_err() || f.write(g).is_err() {
                log::warn!("could not update the store generation file");
            }
        }
    }
}

fn who_cols(who: Who) -> (&'static str, &'static str, &'static str, &'static str) {
    match who {
        Who::So => ("so_salt", "so_wrapped", "so_kdf", "so_fail"),
        Who::User => ("user_salt", "user_wrapped", "user_kdf", "user_fail"),
    }
}

const TOKEN_COLS: &str = "token_id, slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf, \
                          user_salt, user_wrapped, user_kdf, so_fail, user_fail, rev, \
                          objects_digest, objects_count, digest_tag";

fn fixed<const N: usize>(v: Vec<u8>) -> rusqlite::Result<[u8; N]> {
    v.try_into()
        .map_err(|_| rusqlite::Error::InvalidColumnType(0, "fixed-size blob".into(), rusqlite::types::Type::Blob))
}

fn token_from_row(r: &rusqlite::Row) -> rusqlite::Result<(TokenRecord, String, Option<String>)> {
    let so_kdf: String = r.get(7)?;
    let user_salt: Option<Vec<u8>> = r.get(8)?;
    let user_wrapped: Option<Vec<u8>> = r.get(9)?;
    let user_kdf: Option<String> = r.get(10)?;
    let placeholder = KdfParams { m_cost_kib: 0, t_cost: 0, p_cost: 0 };
    let rec = TokenRecord {
        token_id: r.get(0)?,
        slot_id: r.get::<_, i64>(1)? as SlotId,
        uid: fixed::<UID_LEN>(r.get(2)?)?,
        label: fixed::<32>(r.get(3)?)?,
        serial: fixed::<16>(r.get(4)?)?,
        so_pin: PinRecord { salt: r.get(5)?, wrapped: r.get(6)?, kdf: placeholder },
        user_pin: match (user_salt, user_wrapped) {
            (Some(salt), Some(wrapped)) => Some(PinRecord { salt, wrapped, kdf: placeholder }),
            _ => None,
        },
        so_fail: r.get(11)?,
        user_fail: r.get(12)?,
        rev: r.get(13)?,
        digest: digest_from(r.get(14)?, r.get(15)?, r.get(16)?),
    };
    Ok((rec, so_kdf, user_kdf))
}

fn finish_token((mut rec, so_kdf, user_kdf): (TokenRecord, String, Option<String>)) -> Result<TokenRecord> {
    rec.so_pin.kdf = KdfParams::from_text(&so_kdf)?;
    if let (Some(p), Some(k)) = (rec.user_pin.as_mut(), user_kdf) {
        p.kdf = KdfParams::from_text(&k)?;
    }
    Ok(rec)
}

fn insert_rows(tx: &rusqlite::Transaction, id: ObjectId, rows: &[Row]) -> Result<()> {
    let mut st =
        tx.prepare_cached("INSERT INTO attrs (obj_id, atype, sealed, value, idx) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for r in rows {
        st.execute(params![id, r.atype as i64, r.sealed, r.value, r.idx.as_ref().map(|i| &i[..])])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn generation(&self) -> Option<u64> {
        Some(self.generation.as_ref()?.read())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY slot_id"))?;
            let rows = st.query_map([], token_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(finish_token).collect()
        })
    }

    fn token_at(&self, slot: SlotId) -> Result<Option<TokenRecord>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE slot_id = ?1"))?;
            st.query_row([slot as i64], token_from_row).optional()?.map(finish_token).transpose()
        })
    }

    fn put_token(&self, rec: &TokenRecord) -> Result<TokenId> {
        self.write(|tx| {
            // ON DELETE CASCADE removes the old token's objects and attributes.
            tx.execute("DELETE FROM tokens WHERE slot_id = ?1", [rec.slot_id as i64])?;
            tx.execute(
                "INSERT INTO tokens (slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    rec.slot_id as i64,
                    &rec.uid[..],
                    &rec.label[..],
                    &rec.serial[..],
                    rec.so_pin.salt,
                    rec.so_pin.wrapped,
                    rec.so_pin.kdf.to_text()
                ],
            )?;
            let id = tx.last_insert_rowid();
            if let Some(d) = &rec.digest {
                write_digest(tx, id, d)?;
            }
            Ok(id)
        })
    }

    fn delete_token(&self, token: TokenId) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM tokens WHERE token_id = ?1", [token])? > 0))
    }

    fn set_pin(&self, token: TokenId, who: Who, rec: &PinRecord) -> Result<()> {
        let (salt, wrapped, kdf, fail) = who_cols(who);
        self.write(|tx| {
            let n = tx.execute(
                &format!("UPDATE tokens SET {salt} = ?1, {wrapped} = ?2, {kdf} = ?3, {fail} = 0 WHERE token_id = ?4"),
                params![rec.salt, rec.wrapped, rec.kdf.to_text(), token],
            )?;
            if n == 0 {
                return Err(Error::TokenNotRecognized);
            }
            Ok(())
        })
    }

    fn add_failure(&self, token: TokenId, who: Who) -> Result<u32> {
        let fail = who_cols(who).3;
        self.write(|tx| {
            Ok(tx.query_row(
                &format!("UPDATE tokens SET {fail} = {fail} + 1 WHERE token_id = ?1 RETURNING {fail}"),
                [token],
                |r| r.get(0),
            )?)
        })
    }

    fn clear_failures(&self, token: TokenId, who: Who, max: u32) -> Result<()> {
        let fail = who_cols(who).3;
        self.write(|tx| {
            let n = tx.execute(
                &format!("UPDATE tokens SET {fail} = 0 WHERE token_id = ?1 AND (?2 = 0 OR {fail} < ?2)"),
                params![token, max],
            )?;
            if n == 0 {
                return Err(Error::PinLocked);
            }
            Ok(())
        })
    }

    fn insert_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<ObjectId> {
        self.write(|tx| {
            update_digest(tx, token, w, &[], &member_of(obj))?;
            tx.prepare_cached(
                "INSERT INTO objects (token_id, uid, private, version, tag) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                token,
                &obj.uid[..],
                obj.private,
                obj.version as i64,
                obj.tag.as_ref().map(|t| &t[..])
            ])?;
            let id = tx.last_insert_rowid();
            insert_rows(tx, id, &obj.rows)?;
            Ok(id)
        })
    }

    fn insert_objects(&self, token: TokenId, w: Writer, objs: &[StoredObject]) -> Result<Vec<ObjectId>> {
        self.write(|tx| {
            let members: Vec<[u8; 32]> = objs.iter().flat_map(member_of).collect();
            update_digest(tx, token, w, &[], &members)?;
            let mut ids = Vec::with_capacity(objs.len());
            for obj in objs {
                tx.execute(
                    "INSERT INTO objects (token_id, uid, private, version, tag) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![token, &obj.uid[..], obj.private, obj.version as i64, obj.tag.as_ref().map(|t| &t[..])],
                )?;
                let id = tx.last_insert_rowid();
                insert_rows(tx, id, &obj.rows)?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    fn load_object(&self, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>> {
        // The head and the rows are two statements: one read transaction
        // (one snapshot) around them, else another process's commit in
        // between (a KMS rotation, an attribute change) pairs the old head
        // and tag with the new rows, and a sound object fails its tag.
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
            let r = load_in(&tx, token, id)?;
            tx.finish()?;
            Ok(r)
        })
    }

    fn replace_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<bool> {
        self.write(|tx| {
            // Gone, or without a tag (refused on every read): nothing to replace.
            let Some(old) = member_in(tx, token, obj.id)? else { return Ok(false) };
            replace_in(tx, token, w, old, obj)
        })
    }

    fn object_by_uid(&self, token: TokenId, uid: &Uid) -> Result<Option<ObjectId>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT obj_id FROM objects WHERE uid = ?1 AND token_id = ?2")?
                .query_row(params![&uid[..], token], |r| r.get(0))
                .optional()?)
        })
    }

    fn update_object(
        &self,
        token: TokenId,
        w: Writer,
        id: ObjectId,
        f: &mut dyn FnMut(StoredObject) -> Result<Option<StoredObject>>,
    ) -> Result<bool> {
        self.write(|tx| {
            let Some(cur) = load_in(tx, token, id)? else { return Ok(false) };
            // Its share of the digest, from the row just read (`f` opened
            // it, so an untagged object never gets this far).
            let old = member_of(&cur).pop();
            let Some(new) = f(cur)? else { return Ok(true) };
            let Some(old) = old else { return Ok(false) };
            replace_in(tx, token, w, old, &new)
        })
    }

    fn append_audit(&self, body: &str, signer: Option<&AuditSigner>) -> Result<()> {
        self.write_audited(Some(body), signer, |_| Ok(()))
    }

    fn discard_staged(&self) {
        let _ = STAGED.try_with(|s| s.borrow_mut().clear());
    }

    fn stage_audit(&self, lines: &str) {
        if STAGED.try_with(|s| s.borrow_mut().push_str(lines)).is_err() {
            log::error!("audit: record staged after thread exit, lost");
        }
    }

    fn untagged_objects(&self, token: TokenId) -> Result<Vec<ObjectId>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT obj_id FROM objects WHERE token_id = ?1 AND tag IS NULL")?;
            let ids = st.query_map([token], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(ids)
        })
    }

    fn tag_object(
        &self,
        token: TokenId,
        w: Writer,
        id: ObjectId,
        version: u64,
        tag: &super::seal::Tag,
    ) -> Result<bool> {
        self.write(|tx| {
            let uid: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT uid FROM objects WHERE obj_id = ?1 AND token_id = ?2 AND tag IS NULL",
                    params![id, token],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(uid) = uid.and_then(|u| <Uid>::try_from(u).ok()) else { return Ok(false) };
            update_digest(tx, token, w, &[], &[super::seal::member_hash(&uid, version, tag)])?;
            Ok(tx.execute(
                "UPDATE objects SET version = ?1, tag = ?2 WHERE obj_id = ?3 AND token_id = ?4 AND tag IS NULL",
                params![version as i64, &tag[..], id, token],
            )? > 0)
        })
    }

    fn set_digest(&self, token: TokenId, d: &SetDigest) -> Result<()> {
        self.write(|tx| write_digest(tx, token, d))
    }

    fn all_objects(&self, token: TokenId) -> Result<Vec<ObjectId>> {
        self.with(|c| token_objects(c, token, Visible { public: true, private: true }))
    }

    fn object_index(&self, id: ObjectId) -> Result<Vec<(AttrType, Option<Vec<u8>>)>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT atype, idx FROM attrs WHERE obj_id = ?1")?;
            let rows = st
                .query_map([id], |r| Ok((r.get::<_, i64>(0)? as AttrType, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn audit_log(&self) -> Result<AuditLog> {
        self.with(|c| audit::log_in(&c.transaction()?))
    }

    fn audit_anchor(&self) -> Result<super::anchor::Sidecar> {
        self.anchor.read()
    }

    fn checkpoint_audit_head(&self, signer: &AuditSigner) -> Result<()> {
        self.write(|tx| audit::checkpoint_head_in(tx, signer))
    }

    fn mark_audit_exported(&self, seq: i64, hash: &[u8]) -> Result<()> {
        self.write(|tx| audit::mark_exported_in(tx, seq, hash))
    }

    fn prune_audit(&self, upto: i64, signer: &AuditSigner) -> Result<Option<i64>> {
        self.write(|tx| audit::prune_in(tx, upto, signer))
    }

    fn import(&self, d: &super::copy::Dump) -> Result<()> {
        self.write(|tx| copy::import_in(tx, d))
    }

    fn delete_object(&self, token: TokenId, w: Writer, id: ObjectId) -> Result<bool> {
        self.write(|tx| {
            let old: Vec<[u8; 32]> = member_in(tx, token, id)?.into_iter().collect();
            update_digest(tx, token, w, &old, &[])?;
            Ok(tx
                .prepare_cached("DELETE FROM objects WHERE obj_id = ?1 AND token_id = ?2")?
                .execute(params![id, token])?
                > 0)
        })
    }

    fn find(&self, token: TokenId, vis: Visible, filters: &[(AttrType, Vec<Idx>)]) -> Result<Vec<ObjectId>> {
        if filters.iter().any(|(_, idxs)| idxs.is_empty()) || !(vis.public || vis.private) {
            return Ok(Vec::new());
        }
        // Only single-table statements on one index each: SQLite re-prepares
        // a cached statement that joins `objects` (or sorts) on every new
        // binding, which made a find cost ~40 µs instead of a few. The
        // search starts from the most selective attribute's index entries;
        // the other conditions are checked per candidate while there are
        // few, and by set intersection when there are many.
        let mut order: Vec<&(AttrType, Vec<Idx>)> = filters.iter().collect();
        order.sort_by_key(|(atype, _)| selectivity_rank(*atype));
        self.with(|c| {
            // (object, matched through an entry keyed to this token).
            let mut cands: Vec<(ObjectId, bool)> = match order.split_first() {
                None => return token_objects(c, token, vis),
                Some(((atype, idxs), _)) => ids_with_value(c, *atype, idxs)?,
            };
            for (atype, idxs) in order.iter().skip(1) {
                if cands.is_empty() {
                    break;
                }
                if cands.len() <= FEW {
                    let mut st = c.prepare_cached(&format!(
                        "SELECT 1 FROM attrs WHERE obj_id = ? AND atype = ? AND idx IN ({})",
                        placeholders(idxs.len())
                    ))?;
                    let mut keep = Vec::with_capacity(cands.len());
                    for (id, keyed) in cands {
                        let mut args: Vec<rusqlite::types::Value> = vec![id.into(), (*atype as i64).into()];
                        args.extend(idxs.iter().map(|i| rusqlite::types::Value::Blob(i.to_vec())));
                        if st.exists(rusqlite::params_from_iter(args.iter()))? {
                            keep.push((id, keyed));
                        }
                    }
                    cands = keep;
                } else {
                    let set: std::collections::HashSet<ObjectId> =
                        ids_with_value(c, *atype, idxs)?.into_iter().map(|(id, _)| id).collect();
                    cands.retain(|(id, _)| set.contains(id));
                }
            }
            // An entry keyed to this token is a private object of this
            // token: visible exactly when private ones are, without reading
            // its row (one b-tree lookup less per find). The others need
            // their token and visibility checked.
            let (keyed, unkeyed): (Vec<_>, Vec<_>) = cands.into_iter().partition(|(_, keyed)| *keyed);
            let mut found: Vec<ObjectId> =
                if vis.private { keyed.into_iter().map(|(id, _)| id).collect() } else { Vec::new() };
            let mut cands: Vec<ObjectId> = unkeyed.into_iter().map(|(id, _)| id).collect();
            if cands.len() <= FEW {
                let mut st = c.prepare_cached("SELECT token_id, private FROM objects WHERE obj_id = ?")?;
                let mut keep = Vec::with_capacity(cands.len());
                for id in cands {
                    let row: Option<(i64, bool)> = st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
                    if row.is_some_and(|(t, private)| t == token && if private { vis.private } else { vis.public }) {
                        keep.push(id);
                    }
                }
                cands = keep;
            } else {
                let set: std::collections::HashSet<ObjectId> = token_objects(c, token, vis)?.into_iter().collect();
                cands.retain(|id| set.contains(id));
            }
            found.extend(cands);
            found.sort_unstable();
            found.dedup();
            Ok(found)
        })
    }
}

/// Up to this many candidates are checked one by one; more are intersected.
const FEW: usize = 64;

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Objects having `atype` with one of the index entries, each with whether
/// it matched a keyed one (any but the first, see `Store::find`).
fn ids_with_value(c: &Connection, atype: AttrType, idxs: &[Idx]) -> Result<Vec<(ObjectId, bool)>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT obj_id, idx FROM attrs WHERE atype = ? AND idx IN ({})",
        placeholders(idxs.len())
    ))?;
    let mut args: Vec<rusqlite::types::Value> = vec![(atype as i64).into()];
    args.extend(idxs.iter().map(|i| rusqlite::types::Value::Blob(i.to_vec())));
    let public = &idxs[0][..];
    let ids = st
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let idx: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, idx != public))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Every object of a token the caller may see, in id order.
fn token_objects(c: &Connection, token: TokenId, vis: Visible) -> Result<Vec<ObjectId>> {
    // Visibility picks the statement (no bound flag to fold into the plan).
    let sql = match (vis.public, vis.private) {
        (true, true) => "SELECT obj_id FROM objects WHERE token_id = ?",
        (true, false) => "SELECT obj_id FROM objects WHERE token_id = ? AND private = 0",
        (false, true) => "SELECT obj_id FROM objects WHERE token_id = ? AND private = 1",
        (false, false) => return Ok(Vec::new()),
    };
    let mut st = c.prepare_cached(sql)?;
    let mut ids: Vec<ObjectId> = st.query_map([token], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Which template attributes to search by first: names and identifiers
/// pick out few objects, classes and flags many.
pub(in crate::store) fn selectivity_rank(atype: AttrType) -> u8 {
    use cryptoki_sys as ck;
    match atype {
        ck::CKA_ID | ck::CKA_LABEL | ck::CKA_VALUE | ck::CKA_SERIAL_NUMBER | ck::CKA_MODULUS | ck::CKA_EC_POINT => 0,
        ck::CKA_SUBJECT | ck::CKA_ISSUER | ck::CKA_OBJECT_ID | ck::CKA_APPLICATION | ck::CKA_PUBLIC_KEY_INFO => 1,
        ck::CKA_CLASS | ck::CKA_KEY_TYPE | ck::CKA_CERTIFICATE_TYPE => 3,
        _ if crate::model::policy::kind_of(atype) == crate::model::Kind::Bool => 4,
        _ => 2,
    }
}

/// Replaces every row of an object inside a write transaction, `old` being
/// its current share of the token's digest; false if it no longer exists.
fn replace_in(
    tx: &rusqlite::Transaction,
    token: TokenId,
    w: Writer,
    old: [u8; 32],
    obj: &StoredObject,
) -> Result<bool> {
    update_digest(tx, token, w, &[old], &member_of(obj))?;
    let n = tx.execute(
        "UPDATE objects SET private = ?1, version = ?5, tag = ?6 WHERE obj_id = ?2 AND token_id = ?3 AND uid = ?4",
        params![obj.private, obj.id, token, &obj.uid[..], obj.version as i64, obj.tag.as_ref().map(|t| &t[..])],
    )?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute("DELETE FROM attrs WHERE obj_id = ?1", [obj.id])?;
    insert_rows(tx, obj.id, &obj.rows)?;
    Ok(true)
}

/// Reads one object on a connection or inside a transaction.
fn load_in(c: &Connection, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>> {
    type Head = (Vec<u8>, bool, i64, Option<Vec<u8>>);
    let head: Option<Head> = c
        .prepare_cached("SELECT uid, private, version, tag FROM objects WHERE obj_id = ?1 AND token_id = ?2")?
        .query_row(params![id, token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((uid, private, version, tag)) = head else { return Ok(None) };
    let uid = uid.try_into().map_err(|_| Error::general("stored object uid has the wrong length"))?;
    // A tag of the wrong length is kept as a wrong tag (it fails the check
    // with the object named), not as a missing one.
    let tag = tag.map(|t| <super::seal::Tag>::try_from(&t[..]).unwrap_or([0u8; super::seal::TAG_LEN]));
    let version = u64::try_from(version).map_err(|_| Error::general("stored object version is negative"))?;
    let mut st = c.prepare_cached("SELECT atype, sealed, value FROM attrs WHERE obj_id = ?1")?;
    let rows = st
        .query_map([id], |r| {
            Ok(Row { atype: r.get::<_, i64>(0)? as AttrType, sealed: r.get(1)?, value: r.get(2)?, idx: None })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(StoredObject { id, uid, private, version, tag, rows }))
}

thread_local! {
    /// Audit lines staged by this thread for its next write transaction.
    static STAGED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}
