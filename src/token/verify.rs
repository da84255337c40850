//! `ferrohsm store verify`: every object of a token opened and its tag
//! checked, and the token's object-set digest recomputed from them. This
//! finds what no single read can: an object rolled back whole to an older
//! copy of itself, an object deleted, or one brought back after deletion.
//! It also checks each object's find-index entries (not covered by the
//! object's tag) against its attributes. Its cost grows with the store,
//! so it is an operator's command, not part of a login.

use super::Audit;
use super::SessionHandle;
use crate::error::{Error, Result};
use crate::hex::hex;
use crate::store::seal::member_hash;
use crate::store::{codec, SetDigest};

/// What verification found.
#[derive(Debug, Default)]
pub struct StoreReport {
    /// Objects in the store for this token.
    pub objects: usize,
    /// Objects that failed (uid in hex, or the store id, and why).
    pub refused: Vec<String>,
    /// Whether the stored object-set digest passed its tag check.
    pub digest_authentic: bool,
    /// Whether it equals the digest recomputed from the objects.
    pub digest_matches: bool,
    /// The count the digest records.
    pub digest_count: u64,
}

impl StoreReport {
    pub fn ok(&self) -> bool {
        self.refused.is_empty() && self.digest_authentic && self.digest_matches
    }
}

impl Audit<'_> {
    /// Verifies every object of the session's token (a user or SO login).
    pub fn verify_store(&self, h: SessionHandle) -> Result<StoreReport> {
        let (_, a) = self.m.authorize(h, super::Need::Login)?;
        let key = a.key.as_deref().ok_or(Error::UserNotLoggedIn)?;
        let sealer = a.sealer();
        let ids = self.m.store.all_objects(a.token.token_id)?;
        let mut report = StoreReport { objects: ids.len(), ..StoreReport::default() };
        let mut sum = SetDigest::default();
        for id in ids {
            let Some(stored) = self.m.store.load_object(a.token.token_id, id)? else { continue };
            match (codec::decode(sealer, &stored), stored.tag) {
                (Ok(obj), Some(tag)) => {
                    sum.add(&member_hash(&stored.uid, stored.version, &tag));
                    let bad = codec::index_mismatches(key, &obj, &self.m.store.object_index(id)?);
                    if !bad.is_empty() {
                        let names: Vec<String> = bad.iter().map(|t| format!("{t:#x}")).collect();
                        report.refused.push(format!(
                            "{} (find-index entry of attribute {} does not match the object)",
                            hex(&stored.uid),
                            names.join(", ")
                        ));
                    }
                }
                (Err(e), _) => report.refused.push(format!("{} ({e})", hex(&stored.uid))),
                (Ok(_), None) => report.refused.push(format!("{} (no tag)", hex(&stored.uid))),
            }
        }
        // Read after the objects: a write in between shows as a mismatch,
        // and the caller runs it again.
        let token = self.m.store.token_at(a.slot)?.ok_or(Error::TokenNotPresent)?;
        if let Some(d) = token.digest {
            report.digest_authentic = key.set_digest_ok(&token.uid, &d);
            report.digest_count = d.count;
            report.digest_matches = d.acc == sum.acc && d.count == sum.count;
        }
        if !report.ok() {
            log::error!(
                "store verification of slot {}: {} objects refused, digest {}",
                a.slot,
                report.refused.len(),
                if !report.digest_authentic {
                    "fails its tag"
                } else if !report.digest_matches {
                    "does not match the objects"
                } else {
                    "ok"
                }
            );
        }
        Ok(report)
    }
}
