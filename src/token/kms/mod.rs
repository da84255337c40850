//! KMS semantics on top of the token: master keys with versions, rotation,
//! enable/disable, scheduled deletion, aliases, self-describing ciphertexts
//! with an encryption context, and data keys.
//!
//! A KMS master key is a token AES-256 secret key with `CKA_FHSM_KMS` true.
//! Every version's material sits in `CKA_FHSM_VERSIONS`, a secret part
//! (sealed like `CKA_VALUE`, never readable); `CKA_VALUE` is the newest
//! version. Such a key is usable only through the KMS calls and
//! `CKM_FHSM_KMS_WRAP`: a raw `C_Encrypt` under it would make ciphertext
//! that no longer decrypts once the key rotates.
//!
//! The KMS component: `Kms` (from `Module::kms`) is its whole interface,
//! and `KeyCache` its only state. It reaches the rest of the core through
//! the core's services alone (`authorize`, the object lookups, the store,
//! the audit), never through another component's state.

mod alias;
pub mod asym;
pub mod blob;
mod describe;
mod docs;
mod import;
mod ops;

use crate::token::Kms;
use std::sync::Arc;

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::audit::Record;
use super::{clock, Access};
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::model::{Object, Template, Value};
use crate::store::{codec, ObjectId, Uid};
use crate::token::keyid::uid_from_hex;
use crate::vendor::*;

pub use alias::valid_alias;
pub use describe::KeyInfo;
pub use import::{ImportParameters, IMPORT_VALIDITY};
pub use ops::{Context, DataKey};

/// An owned encryption context: (key, value) pairs.
pub type ContextPairs = Vec<(Vec<u8>, Vec<u8>)>;

pub const DAY: u64 = 86_400;
/// Automatic rotation periods, in days, as KMS allows them.
pub const ROTATION_DAYS: std::ops::RangeInclusive<u64> = 90..=2560;
pub const DEFAULT_ROTATION_DAYS: u64 = 365;
/// Deletion windows, in days.
pub const DELETION_DAYS: std::ops::RangeInclusive<u64> = 7..=30;
pub const DEFAULT_DELETION_DAYS: u64 = 30;
/// Plaintext accepted by Encrypt, as KMS has it.
pub const MAX_PLAINTEXT: usize = 4096;
/// Data keys: 1..=1024 bytes.
pub const MAX_DATA_KEY: usize = 1024;

/// KMS keys opened, by uid, stamped with their token's revision (a key's
/// change or removal bumps it; see `cache`). Cleared at logout.
pub(crate) struct KeyCache {
    keys: super::cache::Stamped<(crate::store::TokenId, Uid), (ObjectId, Arc<Object>)>,
}

impl KeyCache {
    pub fn new(cap: usize) -> KeyCache {
        KeyCache { keys: super::cache::Stamped::new(cap) }
    }
    pub fn clear(&self) {
        self.keys.clear();
    }
}

const VERSION_LEN: usize = 4 + 8 + 32;

/// One version of a master key.
pub struct Version {
    pub n: u32,
    pub created: u64,
    pub key: Zeroizing<Vec<u8>>,
}

fn encode_versions(vs: &[Version]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(vs.len() * VERSION_LEN));
    for v in vs {
        out.extend_from_slice(&v.n.to_be_bytes());
        out.extend_from_slice(&v.created.to_be_bytes());
        out.extend_from_slice(&v.key);
    }
    out
}

/// The stored versions, each VERSION_LEN bytes.
fn version_chunks(b: &[u8]) -> Result<std::slice::Chunks<'_, u8>> {
    if b.len() % VERSION_LEN != 0 {
        return Err(Error::general("KMS key versions are malformed"));
    }
    Ok(b.chunks(VERSION_LEN))
}

/// A stored version's number and creation time.
fn version_header(c: &[u8]) -> (u32, u64) {
    (
        u32::from_be_bytes(c[..4].try_into().unwrap_or_default()),
        u64::from_be_bytes(c[4..12].try_into().unwrap_or_default()),
    )
}

fn decode_versions(b: &[u8]) -> Result<Vec<Version>> {
    Ok(version_chunks(b)?
        .map(|c| {
            let (n, created) = version_header(c);
            Version { n, created, key: Zeroizing::new(c[12..].to_vec()) }
        })
        .collect())
}

/// A resolved KMS master key as stored now.
#[derive(Clone)]
pub(crate) struct KmsKey {
    pub id: ObjectId,
    pub uid: Uid,
    pub obj: Arc<Object>,
}

impl KmsKey {
    pub fn key_id(&self) -> String {
        hex(&self.uid)
    }
    pub fn state(&self) -> u64 {
        self.obj.ulong(CKA_FHSM_KEY_STATE).unwrap_or(FHSM_STATE_DISABLED)
    }
    pub fn current(&self) -> u32 {
        self.obj.ulong(CKA_FHSM_KEY_VERSION).unwrap_or(0) as u32
    }
    /// (number, creation time) of every version, no key material copied.
    pub fn version_dates(&self) -> Result<Vec<(u32, u64)>> {
        Ok(version_chunks(self.obj.bytes(CKA_FHSM_VERSIONS).ok_or(Error::UserNotLoggedIn)?)?
            .map(version_header)
            .collect())
    }
    /// Refuses a disabled or pending-deletion key.
    pub fn check_enabled(&self) -> Result<()> {
        state_check(&self.obj)
    }
    /// `usage` (CKA_ENCRYPT / CKA_DECRYPT) allowed, and the key enabled:
    /// a symmetric master key's use (an asymmetric or HMAC key refuses).
    pub fn check_use(&self, usage: ck::CK_ATTRIBUTE_TYPE) -> Result<()> {
        self.check_enabled()?;
        if self.spec() != asym::Spec::Symmetric {
            return Err(Error::KeyFunctionNotPermitted);
        }
        if !self.obj.bool(usage) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Ok(())
    }
    /// One version, its key copied (the others' are not).
    fn version(&self, n: u32) -> Result<Version> {
        let stored = self.obj.bytes(CKA_FHSM_VERSIONS).ok_or(Error::UserNotLoggedIn)?;
        let c = version_chunks(stored)?.find(|c| version_header(c).0 == n).ok_or(Error::EncryptedDataInvalid)?;
        Ok(Version { n, created: version_header(c).1, key: Zeroizing::new(c[12..].to_vec()) })
    }
}

/// A disabled or pending-deletion KMS key refuses every use.
pub(crate) fn state_check(o: &Object) -> Result<()> {
    match o.ulong(CKA_FHSM_KEY_STATE) {
        Some(FHSM_STATE_ENABLED) => Ok(()),
        Some(FHSM_STATE_PENDING_DELETION) => Err(Error::KmsKeyPendingDeletion),
        Some(FHSM_STATE_PENDING_IMPORT) => Err(Error::KmsKeyPendingImport),
        _ => Err(Error::KmsKeyDisabled),
    }
}

/// The attributes that make a new AES-256 token key a KMS master key, after
/// checking the caller did not ask for anything a master key must not be.
pub(crate) fn new_key_attrs(
    tmpl: &Template,
    key_type: ck::CK_KEY_TYPE,
    value: &[u8],
) -> Result<Vec<(ck::CK_ATTRIBUTE_TYPE, Value)>> {
    if key_type != ck::CKK_AES || value.len() != 32 {
        return Err(Error::TemplateInconsistent);
    }
    let refused = [
        (ck::CKA_TOKEN, false),
        (ck::CKA_PRIVATE, false),
        (ck::CKA_SENSITIVE, false),
        (ck::CKA_EXTRACTABLE, true),
        (ck::CKA_COPYABLE, true),
    ];
    if refused.iter().any(|(t, bad)| tmpl.bool(*t) == Some(*bad)) {
        return Err(Error::TemplateInconsistent);
    }
    let period = tmpl.ulong(CKA_FHSM_ROTATION_PERIOD).unwrap_or(0);
    if period != 0 && !ROTATION_DAYS.contains(&period) {
        return Err(Error::AttributeValueInvalid);
    }
    let now = clock::now();
    let external = match tmpl.bytes(CKA_FHSM_ORIGIN) {
        None => false,
        Some(b"EXTERNAL") => true,
        Some(_) => return Err(Error::AttributeValueInvalid),
    };
    if external && period != 0 {
        // As in KMS: imported material does not rotate.
        return Err(Error::TemplateInconsistent);
    }
    let v1 = Version { n: 1, created: now, key: Zeroizing::new(value.to_vec()) };
    // A key for imported material has no usable version until the import.
    let (state, versions) = if external {
        (FHSM_STATE_PENDING_IMPORT, Zeroizing::new(Vec::new()))
    } else {
        (FHSM_STATE_ENABLED, encode_versions(&[v1]))
    };
    Ok(vec![
        (ck::CKA_TOKEN, Value::Bool(true)),
        (ck::CKA_PRIVATE, Value::Bool(true)),
        (ck::CKA_SENSITIVE, Value::Bool(true)),
        (ck::CKA_EXTRACTABLE, Value::Bool(false)),
        (ck::CKA_COPYABLE, Value::Bool(false)),
        (CKA_FHSM_KMS, Value::Bool(true)),
        (CKA_FHSM_KEY_STATE, Value::Ulong(state)),
        (CKA_FHSM_KEY_VERSION, Value::Ulong(1)),
        (CKA_FHSM_VERSIONS, Value::Bytes(versions)),
        (CKA_FHSM_CREATION_TIME, Value::Ulong(now)),
        (CKA_FHSM_ROTATION_PERIOD, Value::Ulong(period)),
        (CKA_FHSM_LAST_ROTATION, Value::Ulong(now)),
        (CKA_FHSM_NEXT_ROTATION, Value::Ulong(if period == 0 { 0 } else { now + period * DAY })),
        (CKA_FHSM_DELETION_TIME, Value::Ulong(0)),
    ])
}

/// What a key-management call changes on a stored key.
enum Change {
    Rotate,
    /// Rotate only if automatic rotation is (still) due: two processes
    /// finding it due at once rotate once.
    RotateIfDue,
    SetState(u64),
    Rotation(u64),
    ScheduleDeletion(u64),
    CancelDeletion,
    /// Description, key policy or tags.
    SetMeta(ck::CK_ATTRIBUTE_TYPE, Vec<u8>),
    /// Imported material becomes version 1 (the same material as before,
    /// if the key had some).
    Import(Zeroizing<Vec<u8>>),
    /// Imported material is deleted; the key awaits a new import.
    DeleteMaterial,
}

/// The management call in progress on this thread: `kms_change` stages
/// its record into the change's own transaction, so a change is never
/// committed without its record (nor a record without its change).
struct Managing {
    event: String,
    detail: String,
    staged: bool,
}

thread_local! {
    static MANAGING: std::cell::RefCell<Option<Managing>> = const { std::cell::RefCell::new(None) };
}

/// Runs a management call; the flag says whether its record was written
/// with its change.
fn managing(event: &str, detail: &str, f: impl FnOnce() -> Result<KmsKey>) -> Result<(KmsKey, bool)> {
    MANAGING.with(|m| *m.borrow_mut() = Some(Managing { event: event.into(), detail: detail.into(), staged: false }));
    let r = f();
    let staged = MANAGING.with(|m| m.borrow_mut().take()).is_some_and(|m| m.staged);
    r.map(|k| (k, staged))
}

impl Change {
    fn apply(&self, o: &mut Object) -> Result<()> {
        let now = clock::now();
        let pending = o.ulong(CKA_FHSM_KEY_STATE) == Some(FHSM_STATE_PENDING_DELETION);
        let due = o.ulong(CKA_FHSM_NEXT_ROTATION).is_some_and(|t| t != 0 && t <= now);
        match *self {
            Change::SetMeta(t, ref v) => {
                if pending {
                    return Err(Error::KmsKeyPendingDeletion);
                }
                o.set(t, Value::bytes(v.as_slice()));
            }
            Change::Import(ref material) => {
                if o.bytes(CKA_FHSM_ORIGIN) != Some(b"EXTERNAL") {
                    return Err(Error::FunctionNotSupported);
                }
                if o.ulong(CKA_FHSM_KEY_STATE) != Some(FHSM_STATE_PENDING_IMPORT) {
                    state_check(o)?;
                    return Err(Error::KmsKeyPendingDeletion);
                }
                use sha2::Digest;
                let hash = sha2::Sha256::digest(&material[..]).to_vec();
                if o.bytes(CKA_FHSM_MATERIAL_HASH).is_some_and(|h| h != hash.as_slice()) {
                    return Err(Error::KmsIncorrectMaterial);
                }
                let created = o.ulong(CKA_FHSM_CREATION_TIME).unwrap_or(now);
                let v1 = Version { n: 1, created, key: material.clone() };
                o.set(ck::CKA_CHECK_VALUE, Value::bytes(crate::mech::keygen::check_value(ck::CKK_AES, material)?));
                o.set(ck::CKA_VALUE, Value::Bytes(material.clone()));
                o.set(CKA_FHSM_VERSIONS, Value::Bytes(encode_versions(&[v1])));
                o.set(CKA_FHSM_KEY_VERSION, Value::Ulong(1));
                o.set(CKA_FHSM_MATERIAL_HASH, Value::bytes(hash));
                o.set(CKA_FHSM_KEY_STATE, Value::Ulong(FHSM_STATE_ENABLED));
            }
            Change::DeleteMaterial => {
                if o.bytes(CKA_FHSM_ORIGIN) != Some(b"EXTERNAL") {
                    return Err(Error::FunctionNotSupported);
                }
                if pending {
                    return Err(Error::KmsKeyPendingDeletion);
                }
                // The material goes; random bytes (never usable: the key
                // is pending import) keep the object complete.
                let filler = crate::mech::keygen::random_key(32)?;
                o.set(ck::CKA_CHECK_VALUE, Value::bytes(crate::mech::keygen::check_value(ck::CKK_AES, &filler)?));
                o.set(ck::CKA_VALUE, Value::Bytes(filler));
                o.set(CKA_FHSM_VERSIONS, Value::bytes(Vec::new()));
                o.set(CKA_FHSM_KEY_STATE, Value::Ulong(FHSM_STATE_PENDING_IMPORT));
            }
            Change::Rotate | Change::RotateIfDue | Change::Rotation(_)
                if o.get(CKA_FHSM_KEY_SPEC).is_some() || o.get(CKA_FHSM_ORIGIN).is_some() =>
            {
                // Asymmetric, HMAC and imported keys have one version, as in KMS.
                return Err(Error::FunctionNotSupported);
            }
            Change::RotateIfDue if !due => {}
            Change::Rotate | Change::RotateIfDue => {
                state_check(o)?;
                let mut vs = decode_versions(o.bytes(CKA_FHSM_VERSIONS).ok_or(Error::UserNotLoggedIn)?)?;
                let n = vs.iter().map(|v| v.n).max().unwrap_or(0) + 1;
                let key = crate::mech::keygen::random_key(32)?;
                o.set(ck::CKA_CHECK_VALUE, Value::bytes(crate::mech::keygen::check_value(ck::CKK_AES, &key)?));
                o.set(ck::CKA_VALUE, Value::Bytes(key.clone()));
                vs.push(Version { n, created: now, key });
                o.set(CKA_FHSM_VERSIONS, Value::Bytes(encode_versions(&vs)));
                o.set(CKA_FHSM_KEY_VERSION, Value::Ulong(u64::from(n)));
                o.set(CKA_FHSM_LAST_ROTATION, Value::Ulong(now));
                let period = o.ulong(CKA_FHSM_ROTATION_PERIOD).unwrap_or(0);
                o.set(CKA_FHSM_NEXT_ROTATION, Value::Ulong(if period == 0 { 0 } else { now + period * DAY }));
            }
            Change::SetState(s) => {
                if pending {
                    return Err(Error::KmsKeyPendingDeletion);
                }
                if o.ulong(CKA_FHSM_KEY_STATE) == Some(FHSM_STATE_PENDING_IMPORT) {
                    return Err(Error::KmsKeyPendingImport);
                }
                o.set(CKA_FHSM_KEY_STATE, Value::Ulong(s));
            }
            Change::Rotation(days) => {
                if pending {
                    return Err(Error::KmsKeyPendingDeletion);
                }
                o.set(CKA_FHSM_ROTATION_PERIOD, Value::Ulong(days));
                o.set(CKA_FHSM_NEXT_ROTATION, Value::Ulong(if days == 0 { 0 } else { now + days * DAY }));
            }
            Change::ScheduleDeletion(days) => {
                if pending {
                    return Err(Error::KmsKeyPendingDeletion);
                }
                o.set(CKA_FHSM_KEY_STATE, Value::Ulong(FHSM_STATE_PENDING_DELETION));
                o.set(CKA_FHSM_DELETION_TIME, Value::Ulong(now + days * DAY));
            }
            Change::CancelDeletion => {
                if !pending {
                    return Err(Error::KeyFunctionNotPermitted);
                }
                // As KMS does: a cancelled deletion leaves the key disabled
                // (or awaiting its material, if it has none).
                let no_material = o.bytes(CKA_FHSM_VERSIONS).is_some_and(<[u8]>::is_empty);
                let state = if no_material { FHSM_STATE_PENDING_IMPORT } else { FHSM_STATE_DISABLED };
                o.set(CKA_FHSM_KEY_STATE, Value::Ulong(state));
                o.set(CKA_FHSM_DELETION_TIME, Value::Ulong(0));
            }
        }
        Ok(())
    }
}

impl Kms<'_> {
    /// The logged-in user's view of a session, for KMS calls.
    pub(crate) fn access(&self, h: super::SessionHandle) -> Result<Access> {
        Ok(self.m.authorize(h, super::Need::User)?.1)
    }

    /// Loads a token object by store id, whoever is logged in (SO or user):
    /// for key-management paths that must see private objects.
    fn load_any(&self, a: &Access, id: ObjectId) -> Result<Option<(Uid, Object)>> {
        a.require(super::Need::Login)?;
        let Some(stored) = self.m.store.load_object(a.token.token_id, id)? else { return Ok(None) };
        Ok(Some((stored.uid, codec::decode(a.sealer(), &stored)?)))
    }

    /// Resolves a key id (a CKA_UNIQUE_ID or `alias/NAME`) to a KMS master
    /// key. A key whose deletion window has passed is purged here.
    pub(crate) fn key(&self, a: &Access, key_id: &str) -> Result<KmsKey> {
        let target;
        let uid_hex = if key_id.starts_with("alias/") {
            target = self.alias_target(a, key_id)?;
            target.as_str()
        } else {
            key_id
        };
        let uid = uid_from_hex(uid_hex).ok_or(Error::KmsNotFound)?;
        self.key_by_uid(a, &uid)
    }

    /// The key by uid, from the cache of opened keys while nothing changed.
    pub(crate) fn key_by_uid(&self, a: &Access, uid: &Uid) -> Result<KmsKey> {
        a.require(super::Need::Login)?;
        // Opened keys are kept while the token's revision stands (every
        // change to or removal of one of its objects, in any process,
        // moves it), so a key used again costs no store read.
        let stamp = a.token.rev as u64;
        let cache_key = (a.token.token_id, *uid);
        let key = match self.m.kms.keys.get(&cache_key, stamp) {
            Some((id, obj)) => KmsKey { id, uid: *uid, obj },
            None => {
                let id = self.m.store.object_by_uid(a.token.token_id, uid)?.ok_or(Error::KmsNotFound)?;
                let (uid, obj) = self.load_any(a, id)?.ok_or(Error::KmsNotFound)?;
                if !obj.bool(CKA_FHSM_KMS) {
                    return Err(Error::KmsNotFound);
                }
                let obj = Arc::new(obj);
                self.m.kms.keys.put(cache_key, stamp, (id, obj.clone()));
                KmsKey { id, uid, obj }
            }
        };
        if self.purged_if_due(a, &key)? {
            return Err(Error::KmsNotFound);
        }
        Ok(key)
    }

    /// Purges a key whose deletion window has passed; true if it did.
    pub(crate) fn purged_if_due(&self, a: &Access, key: &KmsKey) -> Result<bool> {
        let due = key.state() == FHSM_STATE_PENDING_DELETION
            && key.obj.ulong(CKA_FHSM_DELETION_TIME).is_some_and(|t| t <= clock::now());
        if due {
            self.purge_key(a, key, "deletion window passed")?;
        }
        Ok(due)
    }

    /// Applies a change in one store transaction on the freshly read key
    /// and returns the key as it is afterwards.
    fn change(&self, a: &Access, k: &KmsKey, change: Change) -> Result<KmsKey> {
        // The key exactly as this call wrote it (the closure's last run is
        // what was written). Read back after the commit instead, another
        // process's change in between could show through: two concurrent
        // rotations once both reported the later one's version.
        let mut written: Option<Object> = None;
        let ok = self.m.store.update_object(a.token.token_id, a.writer()?, k.id, &mut |stored| {
            let mut obj = codec::decode(a.sealer(), &stored)?;
            change.apply(&mut obj)?;
            // The management call's record, with the version as changed,
            // commits with the change (see `manage_key`).
            MANAGING.with(|m| {
                if let Some(m) = m.borrow_mut().as_mut() {
                    let version = obj.ulong(CKA_FHSM_KEY_VERSION).unwrap_or(0);
                    let key = k.key_id();
                    self.m.audit().with_next_write(&Record {
                        key: &key,
                        version,
                        detail: &m.detail,
                        ..Record::of(a, &m.event)
                    });
                    m.staged = true;
                }
            });
            let new = codec::encode(a.sealer(), stored.id, &stored.uid, &obj)?;
            obj.version = new.version;
            written = Some(obj);
            Ok(Some(new))
        })?;
        match (ok, written) {
            (true, Some(obj)) => Ok(KmsKey { id: k.id, uid: k.uid, obj: Arc::new(obj) }),
            _ => Err(Error::KmsNotFound),
        }
    }

    /// A key-management call on a key named by the caller, audited.
    fn manage(
        &self,
        a: &Access,
        event: &str,
        key_id: &str,
        detail: &str,
        f: impl FnOnce(&KmsKey) -> Result<KmsKey>,
    ) -> Result<KmsKey> {
        let r = self.key(a, key_id).and_then(|k| managing(event, detail, || f(&k)));
        self.audited(a, event, key_id, detail, r)
    }

    /// The same on a key already resolved.
    fn manage_key(
        &self,
        a: &Access,
        event: &str,
        k: &KmsKey,
        detail: &str,
        f: impl FnOnce(&KmsKey) -> Result<KmsKey>,
    ) -> Result<KmsKey> {
        let r = managing(event, detail, || f(k));
        self.audited(a, event, &k.key_id(), detail, r)
    }

    /// Ends a management call: a change that was written has its record
    /// already, in its own transaction (`managing`); otherwise the record
    /// is written now (the key as it is after, or the name the caller gave
    /// when it failed), and if it cannot be, the call fails.
    fn audited(
        &self,
        a: &Access,
        event: &str,
        key_id: &str,
        detail: &str,
        r: Result<(KmsKey, bool)>,
    ) -> Result<KmsKey> {
        let (k, staged) = match r {
            Ok(done) => done,
            Err(e) => {
                // What the failed call staged goes first: the failure
                // record's own write must not carry it.
                self.m.store.discard_staged();
                let _ = self.m.audit().event(&Record { key: key_id, detail, rv: e.ck_rv(), ..Record::of(a, event) });
                return Err(e);
            }
        };
        if !staged {
            let version = u64::from(k.current());
            self.m.audit().event(&Record { key: &k.key_id(), version, detail, ..Record::of(a, event) })?;
        }
        Ok(k)
    }

    fn rw_access(&self, h: super::SessionHandle) -> Result<Access> {
        Ok(self.m.authorize(h, super::Need::UserRw)?.1)
    }

    /// Generates a master key from the caller's template (CKA_FHSM_KMS,
    /// CKA_TOKEN and CKA_VALUE_LEN 32 added where absent) and returns its
    /// key id (CKA_UNIQUE_ID).
    pub fn create_key(&self, h: super::SessionHandle, mut tmpl: Template) -> Result<String> {
        for (t, v) in [
            (CKA_FHSM_KMS, Value::Bool(true)),
            (ck::CKA_TOKEN, Value::Bool(true)),
            (ck::CKA_VALUE_LEN, Value::Ulong(32)),
        ] {
            if !tmpl.contains(t) {
                tmpl.push(crate::model::Attribute { atype: t, value: v });
            }
        }
        let handle = self.m.sessions().generate_key(h, &crate::model::Mechanism::new(ck::CKM_AES_KEY_GEN), &tmpl)?;
        self.new_key_id(h, handle)
    }

    /// The key id (CKA_UNIQUE_ID) of a key just made.
    fn new_key_id(&self, h: super::SessionHandle, handle: super::ObjectHandle) -> Result<String> {
        match self.m.objects().get_attributes(h, handle, &[ck::CKA_UNIQUE_ID])?.pop() {
            Some(super::AttrOut::Value(Value::Bytes(b))) => Ok(String::from_utf8_lossy(&b).into_owned()),
            _ => Err(Error::general("new KMS key has no unique id")),
        }
    }

    /// Rotates now: a new version with new material; older versions keep
    /// decrypting. Returns the new version number.
    pub fn rotate(&self, h: super::SessionHandle, key_id: &str) -> Result<u32> {
        let a = self.rw_access(h)?;
        Ok(self.manage(&a, "rotate", key_id, "on demand", |k| self.change(&a, k, Change::Rotate))?.current())
    }

    /// Turns automatic rotation on (`days` in 90..=2560) or off (0).
    pub fn set_rotation(&self, h: super::SessionHandle, key_id: &str, days: u64) -> Result<()> {
        let a = self.rw_access(h)?;
        if days != 0 && !ROTATION_DAYS.contains(&days) {
            return Err(Error::ArgumentsBad);
        }
        let detail = format!("period {days} days");
        self.manage(&a, "set-rotation", key_id, &detail, |k| self.change(&a, k, Change::Rotation(days)))?;
        Ok(())
    }

    pub fn set_enabled(&self, h: super::SessionHandle, key_id: &str, enabled: bool) -> Result<()> {
        let a = self.rw_access(h)?;
        let (event, state) = if enabled { ("enable", FHSM_STATE_ENABLED) } else { ("disable", FHSM_STATE_DISABLED) };
        self.manage(&a, event, key_id, "", |k| self.change(&a, k, Change::SetState(state)))?;
        Ok(())
    }

    /// Puts a key in pending deletion for `days` (7..=30); returns the
    /// time it will be purged.
    pub fn schedule_deletion(&self, h: super::SessionHandle, key_id: &str, days: u64) -> Result<u64> {
        let a = self.rw_access(h)?;
        if !DELETION_DAYS.contains(&days) {
            return Err(Error::ArgumentsBad);
        }
        let detail = format!("window {days} days");
        let k = self
            .manage(&a, "schedule-deletion", key_id, &detail, |k| self.change(&a, k, Change::ScheduleDeletion(days)))?;
        Ok(k.obj.ulong(CKA_FHSM_DELETION_TIME).unwrap_or(0))
    }

    /// Sets a key's description, key policy or tags; audited as `event`.
    pub fn set_meta(
        &self,
        h: super::SessionHandle,
        key_id: &str,
        atype: ck::CK_ATTRIBUTE_TYPE,
        value: Vec<u8>,
        event: &str,
    ) -> Result<()> {
        let a = self.rw_access(h)?;
        if ![CKA_FHSM_DESCRIPTION, CKA_FHSM_KEY_POLICY, CKA_FHSM_TAGS].contains(&atype) {
            return Err(Error::AttributeTypeInvalid);
        }
        let change = Change::SetMeta(atype, value);
        self.manage(&a, event, key_id, "", |k| self.change(&a, k, change))?;
        Ok(())
    }

    pub fn cancel_deletion(&self, h: super::SessionHandle, key_id: &str) -> Result<()> {
        let a = self.rw_access(h)?;
        self.manage(&a, "cancel-deletion", key_id, "", |k| self.change(&a, k, Change::CancelDeletion))?;
        Ok(())
    }

    /// C_DestroyObject on a KMS key: schedules deletion (default window)
    /// instead of destroying; a key already pending stays as it is.
    pub(crate) fn destroy(&self, a: &Access, uid: &Uid) -> Result<()> {
        let k = self.key_by_uid(a, uid)?;
        if k.state() == FHSM_STATE_PENDING_DELETION {
            return Ok(());
        }
        let detail = format!("C_DestroyObject: window {DEFAULT_DELETION_DAYS} days");
        self.manage_key(a, "schedule-deletion", &k, &detail, |k| {
            self.change(a, k, Change::ScheduleDeletion(DEFAULT_DELETION_DAYS))
        })?;
        Ok(())
    }

    /// Destroys a key now, with its aliases: the SO only.
    pub fn purge(&self, h: super::SessionHandle, key_id: &str) -> Result<()> {
        let (_, a) = self.m.authorize(h, super::Need::SoRw)?;
        let k = self.key(&a, key_id)?;
        self.purge_key(&a, &k, "by the SO")
    }

    fn purge_key(&self, a: &Access, k: &KmsKey, why: &str) -> Result<()> {
        let id = k.key_id();
        for (alias_id, _, target) in self.alias_list(a)? {
            if target == id {
                self.m.store.delete_object(a.token.token_id, a.writer()?, alias_id)?;
            }
        }
        let version = u64::from(k.current());
        let record = Record { key: &id, version, detail: why, ..Record::of(a, "purge") };
        let r = a.writer().and_then(|w| {
            self.m.audit().with_next_write(&record);
            self.m.store.delete_object(a.token.token_id, w, k.id)
        });
        if r.is_err() {
            self.m.store.discard_staged();
            let _ = self.m.audit().event(&record.result(&r));
        }
        r.map(|_| ())
    }

    /// Purges every master key whose deletion window has passed.
    pub(crate) fn sweep(&self, a: &Access) {
        // Only the keys pending deletion, found through the index: a login
        // costs the same with 10 or 100,000 objects.
        let pending = crate::model::Attribute {
            atype: CKA_FHSM_KEY_STATE,
            value: crate::model::Value::Ulong(FHSM_STATE_PENDING_DELETION),
        };
        let Ok(keys) = self.keys_where(a, vec![pending]) else { return };
        for k in &keys {
            let _ = self.purged_if_due(a, k);
        }
    }

    /// The key for a new encryption: rotated first if its automatic
    /// rotation is due.
    fn for_encrypt(&self, a: &Access, k: KmsKey) -> Result<KmsKey> {
        let due = k.obj.ulong(CKA_FHSM_NEXT_ROTATION).is_some_and(|t| t != 0 && t <= clock::now());
        if !due || k.state() != FHSM_STATE_ENABLED {
            return Ok(k);
        }
        self.manage_key(a, "rotate", &k, "automatic", |k| self.change(a, k, Change::RotateIfDue))
    }
}
