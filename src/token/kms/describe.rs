//! DescribeKey / ListKeys: a key's metadata as KMS reports it, as JSON.

use cryptoki_sys as ck;
use serde_json::{json, Value as Json};

use super::{KmsKey, DAY};
use crate::error::Result;
use crate::model::{Attribute, Template, Value};
use crate::store::codec;
use crate::token::clock::iso8601;
use crate::token::Kms;
use crate::token::{Access, SessionHandle};
use crate::vendor::*;

fn date(t: Option<u64>) -> Json {
    match t {
        Some(t) if t != 0 => Json::String(iso8601(t)),
        _ => Json::Null,
    }
}

impl Kms<'_> {
    fn describe_key(&self, k: &KmsKey, aliases: &[(crate::store::ObjectId, String, String)]) -> Result<Json> {
        let o = &k.obj;
        let id = k.key_id();
        let state = match k.state() {
            FHSM_STATE_ENABLED => "Enabled",
            FHSM_STATE_PENDING_DELETION => "PendingDeletion",
            FHSM_STATE_PENDING_IMPORT => "PendingImport",
            _ => "Disabled",
        };
        let usage = match (o.bool(ck::CKA_ENCRYPT), o.bool(ck::CKA_DECRYPT)) {
            _ if k.spec() != super::asym::Spec::Symmetric => k.usage(),
            (true, true) => "ENCRYPT_DECRYPT".into(),
            (true, false) => "ENCRYPT_ONLY".into(),
            (false, true) => "DECRYPT_ONLY".into(),
            (false, false) => "NONE".into(),
        };
        let period = o.ulong(CKA_FHSM_ROTATION_PERIOD).unwrap_or(0);
        let versions: Vec<Json> = k
            .version_dates()?
            .into_iter()
            .map(|(n, created)| json!({ "Version": n, "CreationDate": iso8601(created), "Current": n == k.current() }))
            .collect();
        let text = |t| o.bytes(t).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        Ok(json!({
            "KeyId": id,
            "Aliases": aliases.iter().filter(|(_, _, t)| *t == id).map(|(_, n, _)| n.clone()).collect::<Vec<_>>(),
            "Label": text(ck::CKA_LABEL),
            "Description": text(CKA_FHSM_DESCRIPTION),
            "CreationDate": date(o.ulong(CKA_FHSM_CREATION_TIME)),
            "KeyState": state,
            "Enabled": k.state() == FHSM_STATE_ENABLED,
            "KeyUsage": usage,
            "KeySpec": k.spec().name(),
            "Origin": if o.bytes(CKA_FHSM_ORIGIN) == Some(b"EXTERNAL") || !o.bool(ck::CKA_LOCAL) { "EXTERNAL" } else { "FERROHSM" },
            "KeyRotationEnabled": period != 0,
            "RotationPeriodInDays": if period == 0 { Json::Null } else { json!(period) },
            "LastRotationDate": date(o.ulong(CKA_FHSM_LAST_ROTATION)),
            "NextRotationDate": date(o.ulong(CKA_FHSM_NEXT_ROTATION)),
            "CurrentVersion": k.current(),
            "Versions": versions,
            "DeletionDate": date(o.ulong(CKA_FHSM_DELETION_TIME)),
            "PendingWindowInDays": if k.state() == FHSM_STATE_PENDING_DELETION {
                json!(o.ulong(CKA_FHSM_DELETION_TIME).unwrap_or(0).saturating_sub(crate::token::clock::now()).div_ceil(DAY))
            } else { Json::Null },
        }))
    }

    pub fn describe(&self, h: SessionHandle, key_id: &str) -> Result<Json> {
        let a = self.access(h)?;
        let k = self.key(&a, key_id)?;
        self.describe_key(&k, &self.alias_list(&a)?)
    }

    /// Every KMS master key of the token (purging those whose deletion
    /// window has passed), oldest first.
    pub fn list(&self, h: SessionHandle) -> Result<Vec<Json>> {
        let a = self.access(h)?;
        let aliases = self.alias_list(&a)?;
        let mut out = Vec::new();
        for k in self.keys(&a)? {
            // A key purged now (or whose purge failed) is not listed.
            if let Ok(false) = self.purged_if_due(&a, &k) {
                out.push(self.describe_key(&k, &aliases)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn keys(&self, a: &Access) -> Result<Vec<KmsKey>> {
        self.keys_where(a, vec![])
    }

    /// The master keys matching `more` as well; an indexed attribute in it
    /// (CKA_FHSM_KEY_STATE) makes this cost what it finds, not the store.
    pub(crate) fn keys_where(&self, a: &Access, more: Vec<Attribute>) -> Result<Vec<KmsKey>> {
        let mut attrs = vec![
            Attribute { atype: ck::CKA_CLASS, value: Value::Ulong(ck::CKO_SECRET_KEY) },
            Attribute { atype: CKA_FHSM_KMS, value: Value::Bool(true) },
        ];
        attrs.extend(more);
        let tmpl = Template::new(attrs);
        let filters = codec::find_filters(a.sealer(), &tmpl);
        let mut out = Vec::new();
        for id in self.m.store.find(a.token.token_id, crate::store::Visible::to(true), &filters)? {
            if let Some((uid, o)) = self.load_any(a, id)? {
                if o.matches(&tmpl) {
                    out.push(KmsKey { id, uid, obj: std::sync::Arc::new(o) });
                }
            }
        }
        out.sort_by_key(|k| k.obj.ulong(CKA_FHSM_CREATION_TIME).unwrap_or(0));
        Ok(out)
    }
}

/// A key's metadata as the KMS API reports it (raw values; the server
/// formats them).
pub struct KeyInfo {
    pub uid: crate::store::Uid,
    pub state: u64,
    pub created: u64,
    pub description: String,
    pub encrypt: bool,
    pub decrypt: bool,
    /// Generated in the token (not imported).
    pub local: bool,
    pub rotation_days: u64,
    pub last_rotation: u64,
    pub next_rotation: u64,
    pub deletion_time: u64,
    pub current_version: u32,
    /// (version, created) of every version.
    pub versions: Vec<(u32, u64)>,
    pub policy: Option<Vec<u8>>,
    pub tags: Option<Vec<u8>>,
    /// AWS's KeySpec and KeyUsage names.
    pub spec: &'static str,
    pub usage: String,
    /// The material was (or is to be) imported: origin EXTERNAL.
    pub external: bool,
}

impl Kms<'_> {
    fn info_of(k: &KmsKey) -> Result<KeyInfo> {
        let o = &k.obj;
        let text = |t| o.bytes(t).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        Ok(KeyInfo {
            uid: k.uid,
            state: k.state(),
            created: o.ulong(CKA_FHSM_CREATION_TIME).unwrap_or(0),
            description: text(CKA_FHSM_DESCRIPTION),
            encrypt: o.bool(ck::CKA_ENCRYPT),
            decrypt: o.bool(ck::CKA_DECRYPT),
            local: o.bool(ck::CKA_LOCAL),
            rotation_days: o.ulong(CKA_FHSM_ROTATION_PERIOD).unwrap_or(0),
            last_rotation: o.ulong(CKA_FHSM_LAST_ROTATION).unwrap_or(0),
            next_rotation: o.ulong(CKA_FHSM_NEXT_ROTATION).unwrap_or(0),
            deletion_time: o.ulong(CKA_FHSM_DELETION_TIME).unwrap_or(0),
            current_version: k.current(),
            versions: k.version_dates()?,
            policy: o.bytes(CKA_FHSM_KEY_POLICY).filter(|b| !b.is_empty()).map(<[u8]>::to_vec),
            tags: o.bytes(CKA_FHSM_TAGS).filter(|b| !b.is_empty()).map(<[u8]>::to_vec),
            spec: k.spec().name(),
            usage: k.usage(),
            external: o.bytes(CKA_FHSM_ORIGIN) == Some(b"EXTERNAL"),
        })
    }

    /// One key's metadata (by id, UUID or alias).
    pub fn key_info(&self, h: SessionHandle, key_id: &str) -> Result<KeyInfo> {
        let a = self.access(h)?;
        Self::info_of(&self.key(&a, key_id)?)
    }

    /// Every key's metadata, oldest first (keys past their deletion window
    /// are purged, not listed).
    pub fn key_infos(&self, h: SessionHandle) -> Result<Vec<KeyInfo>> {
        let a = self.access(h)?;
        let mut out = Vec::new();
        for k in self.keys(&a)? {
            if let Ok(false) = self.purged_if_due(&a, &k) {
                out.push(Self::info_of(&k)?);
            }
        }
        Ok(out)
    }
}
