//! Persistent storage: a small typed, transactional trait, its SQLite
//! implementation, and sealing (the only code that encrypts at rest).

pub mod anchor;
pub mod codec;
pub mod copy;
pub mod postgres;
pub mod seal;
pub mod sqlite;

use crate::error::Result;
use crate::model::AttrType;
pub use seal::{Idx, KdfParams, PinRecord, SetDigest, TokenKey, Uid};

pub type TokenId = i64;
pub type ObjectId = i64;
pub type SlotId = u64;

/// A token as stored. PIN records hold only wrapped copies of the token key.
#[derive(Clone)]
pub struct TokenRecord {
    pub token_id: TokenId,
    pub slot_id: SlotId,
    pub uid: Uid,
    pub label: [u8; 32],
    pub serial: [u8; 16],
    pub so_pin: PinRecord,
    pub user_pin: Option<PinRecord>,
    pub so_fail: u32,
    pub user_fail: u32,
    /// Bumped by every change to or removal of one of its objects.
    pub rev: i64,
    /// The summary of its objects (None only before format 6's first login).
    pub digest: Option<SetDigest>,
}

/// Who writes objects: every object write updates the token's
/// `SetDigest`, checked and re-tagged under the token key in the same
/// transaction, so writing needs a login.
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    pub token_uid: &'a Uid,
    pub key: &'a TokenKey,
}

/// One stored attribute: its value (sealed or not) and its index entry.
#[derive(Clone)]
pub struct Row {
    pub atype: AttrType,
    pub sealed: bool,
    pub value: Vec<u8>,
    pub idx: Option<Idx>,
}

#[derive(Clone)]
pub struct StoredObject {
    pub id: ObjectId,
    pub uid: Uid,
    pub private: bool,
    /// Starts at 1 and grows with every change; covered by the tag, so a
    /// row rolled back to an earlier state of its object fails it.
    pub version: u64,
    /// The object's authentication tag (`TokenKey::object_tag`); None only
    /// in a store from before format 6 not yet authenticated.
    pub tag: Option<seal::Tag>,
    pub rows: Vec<Row>,
}

/// One stored batch of audit records, hash-chained to the one before.
pub struct AuditRow {
    pub seq: i64,
    pub body: String,
    pub prev: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The recorded end of the audit chain: last batch number and its hash.
pub type AuditHead = (i64, Vec<u8>);

/// A MACed statement about the chain: "batch `seq` had hash `hash` at
/// `time`", made with the audit key of token `token_uid`. Checkpoints say
/// it of a batch as it was written; the base says it of the last pruned
/// batch, where the stored chain now starts.
#[derive(Clone)]
pub struct AuditMark {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub time: u64,
    /// As stored (checked for length only when a key is at hand).
    pub token_uid: Vec<u8>,
    pub mac: Vec<u8>,
}

/// `AuditMark::mac`'s domain for checkpoints and for the pruned base.
pub const CHECKPOINT_DOMAIN: &[u8; 8] = b"FHSMchk1";
pub const BASE_DOMAIN: &[u8; 8] = b"FHSMbas1";

/// A logged-in token's key, for MACing audit marks.
pub struct AuditSigner<'a> {
    pub token_uid: Uid,
    pub key: &'a TokenKey,
    /// Unix seconds stamped into the marks it makes.
    pub time: u64,
}

impl AuditSigner<'_> {
    pub fn mark(&self, domain: &[u8; 8], seq: i64, hash: &[u8]) -> AuditMark {
        let mac = self.key.audit_mac(domain, &self.token_uid, seq, hash, self.time);
        AuditMark { seq, hash: hash.to_vec(), time: self.time, token_uid: self.token_uid.to_vec(), mac }
    }
}

/// Everything stored about the audit trail, read in one transaction.
pub struct AuditLog {
    /// The batches after the pruned prefix, in order.
    pub rows: Vec<AuditRow>,
    pub head: Option<AuditHead>,
    /// The last pruned batch (None: nothing was pruned, the chain starts
    /// from 32 zero bytes).
    pub base: Option<AuditMark>,
    pub checkpoints: Vec<AuditMark>,
    /// The last batch exported (`audit export`): pruning stops there.
    pub exported: Option<AuditHead>,
}

/// The chain: hash = SHA-256(prev ‖ seq (8 bytes BE) ‖ body). The first
/// batch's prev is 32 zero bytes.
pub fn audit_hash(prev: &[u8], seq: i64, body: &str) -> Vec<u8> {
    let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    c.update(prev);
    c.update(&seq.to_be_bytes());
    c.update(body.as_bytes());
    c.finish().as_ref().to_vec()
}

/// Which PIN a counter or record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    So,
    User,
}

/// Which of a token's objects a find returns, by their CKA_PRIVATE (a column
/// of its own, so it needs no index entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visible {
    pub public: bool,
    pub private: bool,
}

impl Visible {
    /// Public objects, and private ones when the user is logged in.
    pub fn to(user_logged_in: bool) -> Visible {
        Visible { public: true, private: user_logged_in }
    }
}

/// Everything the token layer needs from storage. Each method is one
/// transaction.
pub trait Store: Send + Sync {
    /// A value that changes whenever any process commits a change to the
    /// store; None when the store cannot tell (then callers must not cache).
    fn generation(&self) -> Option<u64>;
    fn tokens(&self) -> Result<Vec<TokenRecord>>;
    fn token_at(&self, slot: SlotId) -> Result<Option<TokenRecord>>;
    /// Creates or replaces the token in `rec.slot_id`, destroying every object
    /// of a token it replaces. Returns the new token id.
    fn put_token(&self, rec: &TokenRecord) -> Result<TokenId>;
    fn delete_token(&self, token: TokenId) -> Result<bool>;
    /// Stores a PIN's wrapped token key and clears that PIN's failure counter.
    fn set_pin(&self, token: TokenId, who: Who, rec: &PinRecord) -> Result<()>;
    /// Adds one failed login and returns the new count.
    fn add_failure(&self, token: TokenId, who: Who) -> Result<u32>;
    /// Clears a PIN's failure counter after a right PIN, unless it reached
    /// `max` meanwhile (0: no limit): then CKR_PIN_LOCKED and nothing is
    /// written. Always one write, so the caller's staged audit commits.
    fn clear_failures(&self, token: TokenId, who: Who, max: u32) -> Result<()>;
    fn insert_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<ObjectId>;
    /// Inserts all of `objs` in one transaction (all or none); used by
    /// migration so that a failure leaves the token untouched.
    fn insert_objects(&self, token: TokenId, w: Writer, objs: &[StoredObject]) -> Result<Vec<ObjectId>> {
        let _ = (token, w, objs);
        Err(crate::error::Error::general("this store cannot insert objects in one transaction"))
    }
    fn load_object(&self, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>>;
    /// Replaces every row of an object; false if it no longer exists.
    fn replace_object(&self, token: TokenId, w: Writer, obj: &StoredObject) -> Result<bool>;
    fn delete_object(&self, token: TokenId, w: Writer, id: ObjectId) -> Result<bool>;
    /// Objects of a token having, for each filter, the attribute with one of
    /// the given index entries, public and/or private as `vis` says. A
    /// filter's first entry is the public (unkeyed) one; any others are
    /// keyed to this token, so an object matched through one of them is
    /// known to be a private object of this token.
    fn find(&self, token: TokenId, vis: Visible, filters: &[(AttrType, Vec<Idx>)]) -> Result<Vec<ObjectId>>;
    /// The object with this uid (CKA_UNIQUE_ID), if the token has it.
    fn object_by_uid(&self, token: TokenId, uid: &Uid) -> Result<Option<ObjectId>>;
    /// Read-modify-write of one object in one transaction, so concurrent
    /// writers cannot lose each other's changes (a KMS key rotated by two
    /// processes at once keeps both versions). `f` returns the replacement
    /// or None to leave it. False if the object does not exist.
    fn update_object(
        &self,
        token: TokenId,
        w: Writer,
        id: ObjectId,
        f: &mut dyn FnMut(StoredObject) -> Result<Option<StoredObject>>,
    ) -> Result<bool>;
    /// Appends one batch (one or more records, one per line) to the audit
    /// chain; with a signer, also a checkpoint of it (same transaction).
    /// After the commit the batch is anchored outside the store (see
    /// `anchor`), as is every batch any write appends.
    fn append_audit(&self, body: &str, signer: Option<&AuditSigner>) -> Result<()>;
    /// Stages audit lines for the calling thread's next write, which then
    /// appends them in its own transaction: the record of a change commits
    /// with the change, in one fsync. A failed write drops them.
    fn stage_audit(&self, lines: &str);
    /// Drops what the calling thread staged (its call failed before
    /// writing).
    fn discard_staged(&self);
    /// Objects of a token with no authentication tag (made before store
    /// format 6), to be authenticated at the first login after the upgrade.
    fn untagged_objects(&self, token: TokenId) -> Result<Vec<ObjectId>>;
    /// Sets the version and tag of an object that has no tag yet; false if
    /// it is gone or was tagged meanwhile.
    fn tag_object(&self, token: TokenId, w: Writer, id: ObjectId, version: u64, tag: &seal::Tag) -> Result<bool>;
    /// Sets a token's object-set digest (at the first login of a store from
    /// before format 6, and when a token is made).
    fn set_digest(&self, token: TokenId, d: &SetDigest) -> Result<()>;
    /// Every object id of a token, public and private (for verification).
    fn all_objects(&self, token: TokenId) -> Result<Vec<ObjectId>>;
    /// An object's find-index entries as stored, by attribute type (for
    /// verification: entries are not covered by the object's tag).
    fn object_index(&self, id: ObjectId) -> Result<Vec<(AttrType, Option<Vec<u8>>)>>;
    /// The whole audit chain and the recorded head (last seq and hash),
    /// which catches a truncated tail.
    fn audit_log(&self) -> Result<AuditLog>;
    /// What the outside anchor (the sidecar file) holds. Read it before
    /// `audit_log`: it is appended after each commit, so every entry read
    /// first names a batch already committed.
    fn audit_anchor(&self) -> Result<anchor::Sidecar> {
        Ok(anchor::Sidecar::Off)
    }
    /// Checkpoints the chain's current head unless it has a checkpoint.
    fn checkpoint_audit_head(&self, signer: &AuditSigner) -> Result<()>;
    /// Records that batches up to `seq` (with that hash) were exported,
    /// unless a later export was recorded already.
    fn mark_audit_exported(&self, seq: i64, hash: &[u8]) -> Result<()>;
    /// Deletes the batches up to `upto` but never past the last exported
    /// one, and records the last deleted as the chain's base, MACed by
    /// `signer`. Returns the new base seq, None when nothing was pruned.
    fn prune_audit(&self, upto: i64, signer: &AuditSigner) -> Result<Option<i64>>;
    /// Fills an empty store (no token, no audit batch) with exactly the
    /// rows of `d`, in one transaction (`ferrohsm store copy`): bytes only,
    /// nothing opened, so no PIN is needed.
    fn import(&self, d: &copy::Dump) -> Result<()> {
        let _ = d;
        Err(crate::error::Error::general("this store cannot import a copy"))
    }
}
