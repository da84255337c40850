//! Persistent storage: a small typed, transactional trait, its SQLite
//! implementation, and sealing (the only code that encrypts at rest).

pub mod codec;
pub mod seal;
pub mod sqlite;

use crate::error::Result;
use crate::model::AttrType;
pub use seal::{Idx, KdfParams, PinRecord, TokenKey, Uid};

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
}

/// One stored attribute: its value (sealed or not) and its index entry.
pub struct Row {
    pub atype: AttrType,
    pub sealed: bool,
    pub value: Vec<u8>,
    pub idx: Option<Idx>,
}

pub struct StoredObject {
    pub id: ObjectId,
    pub uid: Uid,
    pub private: bool,
    pub rows: Vec<Row>,
}

/// Which PIN a counter or record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    So,
    User,
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
    fn clear_failures(&self, token: TokenId, who: Who) -> Result<()>;
    fn insert_object(&self, token: TokenId, obj: &StoredObject) -> Result<ObjectId>;
    /// Inserts all of `objs` in one transaction (all or none); used by
    /// migration so that a failure leaves the token untouched.
    fn insert_objects(&self, token: TokenId, objs: &[StoredObject]) -> Result<Vec<ObjectId>> {
        let _ = (token, objs);
        Err(crate::error::Error::general("this store cannot insert objects in one transaction"))
    }
    fn load_object(&self, token: TokenId, id: ObjectId) -> Result<Option<StoredObject>>;
    /// Replaces every row of an object; false if it no longer exists.
    fn replace_object(&self, token: TokenId, obj: &StoredObject) -> Result<bool>;
    fn delete_object(&self, token: TokenId, id: ObjectId) -> Result<bool>;
    /// Objects of a token having, for each filter, the attribute with one of
    /// the given index entries; private ones only if `with_private`.
    fn find(&self, token: TokenId, with_private: bool, filters: &[(AttrType, Vec<Idx>)]) -> Result<Vec<ObjectId>>;
}
