//! Encrypt, Decrypt, ReEncrypt and GenerateDataKey under KMS master keys,
//! and the CKM_FHSM_KMS_WRAP blob for C_WrapKey / C_UnwrapKey.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::blob::{self, Blob, FLAG_STORE_CONTEXT};
use super::{KmsKey, MAX_DATA_KEY, MAX_PLAINTEXT};
use crate::error::{Error, Result};
use crate::token::audit::Record;
use crate::token::crypto::Produced;
use crate::token::Kms;
use crate::token::{Access, SessionHandle};

/// An encryption context as given: (key, value) pairs.
pub type Context = [(Vec<u8>, Vec<u8>)];

/// GenerateDataKey's result.
pub struct DataKey {
    /// None for the WithoutPlaintext variant.
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
    pub blob: Vec<u8>,
}

/// The context a blob opens with: the caller's (`canon`, its canonical
/// form, checked first), or the one the blob carries when the caller gives
/// none.
fn effective_context(b: &Blob, ctx: &Context, canon: Vec<u8>) -> Vec<u8> {
    match (&b.stored_context, ctx.is_empty()) {
        (Some(stored), true) => stored.clone(),
        _ => canon,
    }
}

/// Encrypt's input checks: at most 4,096 bytes of plaintext; the
/// context's canonical form.
fn plaintext_context(data: &[u8], ctx: &Context) -> Result<Vec<u8>> {
    if data.len() > MAX_PLAINTEXT {
        return Err(Error::DataLenRange);
    }
    blob::canonical_context(ctx)
}

impl Kms<'_> {
    fn record_use(&self, a: &Access, event: &str, key: &str, version: u32, r: &Result<impl Sized>, detail: &str) {
        self.m.audit().key_use(&Record { key, version: u64::from(version), detail, ..Record::of(a, event) }.result(r));
    }

    /// Seals `payload` under the newest version of each key.
    fn seal_for(&self, keys: &[KmsKey], ctx: &[u8], store_ctx: bool, payload: &[u8]) -> Result<Vec<u8>> {
        let flags = if store_ctx { FLAG_STORE_CONTEXT } else { 0 };
        let mut entries = Vec::with_capacity(keys.len());
        for k in keys {
            let v = k.version(k.current())?;
            entries.push(blob::seal_entry(&v.key, k.uid, v.n, flags, ctx, payload)?);
        }
        Ok(Blob { flags, stored_context: store_ctx.then(|| ctx.to_vec()), entries }.encode())
    }

    /// Opens a blob with the first entry whose key the caller may use for
    /// `usage`; with none, the first entry's reason. Audits the use as
    /// `event` (naming the first entry's key when none opened it). Returns
    /// the payload and the id and version of the key that opened it.
    fn open_blob(
        &self,
        a: &Access,
        b: &Blob,
        ctx: &Context,
        usage: ck::CK_ATTRIBUTE_TYPE,
        event: &str,
        detail: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, String, u32)> {
        let r = self.open_entries(a, b, ctx, usage);
        let (key, version) = match &r {
            Ok((_, k, v)) => (k.key_id(), *v),
            Err(_) => (crate::hex::hex(&b.entries[0].uid), b.entries[0].version),
        };
        self.record_use(a, event, &key, version, &r, detail);
        let (plain, _, version) = r?;
        Ok((plain, key, version))
    }

    fn open_entries(
        &self,
        a: &Access,
        b: &Blob,
        ctx: &Context,
        usage: ck::CK_ATTRIBUTE_TYPE,
    ) -> Result<(Zeroizing<Vec<u8>>, KmsKey, u32)> {
        let ctx = effective_context(b, ctx, blob::canonical_context(ctx)?);
        let mut first_err = None;
        for e in &b.entries {
            let r = self.key_by_uid(a, &e.uid).and_then(|k| {
                k.check_use(usage)?;
                let v = k.version(e.version)?;
                let plain = blob::open_entry(&v.key, e, b.flags, &ctx)?;
                Ok((plain, k, e.version))
            });
            match r {
                Ok(x) => return Ok(x),
                Err(err) => {
                    first_err.get_or_insert(err);
                }
            }
        }
        Err(first_err.unwrap_or(Error::EncryptedDataInvalid))
    }

    /// Encrypts up to 4,096 bytes under a master key's newest version.
    pub fn encrypt(
        &self,
        h: SessionHandle,
        key_id: &str,
        ctx: &Context,
        store_ctx: bool,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Produced> {
        let a = self.access(h)?;
        let canon = plaintext_context(data, ctx)?;
        let len = Blob::encoded_len(store_ctx.then_some(&canon[..]), data.len(), 1);
        if let Some(p) = Produced::query(len, cap) {
            return Ok(p);
        }
        Ok(Produced::public(self.encrypt_under(&a, key_id, &canon, store_ctx, data, "kms-encrypt", "")?, cap))
    }

    /// Encrypt for callers that take the ciphertext whole (the API
    /// server, GenerateDataKeyPair): no length query, no stored context.
    pub fn encrypt_blob(&self, h: SessionHandle, key_id: &str, ctx: &Context, data: &[u8]) -> Result<Vec<u8>> {
        let a = self.access(h)?;
        let canon = plaintext_context(data, ctx)?;
        self.encrypt_under(&a, key_id, &canon, false, data, "kms-encrypt", "")
    }

    /// Seals `data` under a key's newest version (rotating it first when
    /// due) and audits the use as `event`.
    #[allow(clippy::too_many_arguments)]
    fn encrypt_under(
        &self,
        a: &Access,
        key_id: &str,
        canon: &[u8],
        store_ctx: bool,
        data: &[u8],
        event: &str,
        detail: &str,
    ) -> Result<Vec<u8>> {
        let mut version = 0;
        let r = self.key(a, key_id).and_then(|k| {
            k.check_use(ck::CKA_ENCRYPT)?;
            let k = self.for_encrypt(a, k)?;
            version = k.current();
            Ok((k.key_id(), self.seal_for(std::slice::from_ref(&k), canon, store_ctx, data)?))
        });
        let key = r.as_ref().map_or(key_id.to_string(), |(k, _)| k.clone());
        self.record_use(a, event, &key, version, &r, detail);
        Ok(r?.1)
    }

    /// Decrypts a KMS blob; the key comes from the blob's header.
    pub fn decrypt(&self, h: SessionHandle, ctx: &Context, data: &[u8], cap: Option<usize>) -> Result<Produced> {
        let a = self.access(h)?;
        let b = Blob::parse(data)?;
        if let Some(p) = Produced::query(b.entries[0].plain_len(), cap) {
            return Ok(p);
        }
        Ok(Produced::Data(self.open_blob(&a, &b, ctx, ck::CKA_DECRYPT, "kms-decrypt", "")?.0))
    }

    /// The API's Decrypt: opens a blob with an entry of `only` (a key id;
    /// none of its entries: KmsIncorrectKey), or with any entry. Returns
    /// the plaintext and the id of the key that opened it.
    pub fn decrypt_with(
        &self,
        h: SessionHandle,
        ctx: &Context,
        data: &[u8],
        only: Option<&str>,
    ) -> Result<(Zeroizing<Vec<u8>>, String)> {
        let a = self.access(h)?;
        let mut b = Blob::parse(data)?;
        if let Some(key) = only {
            let uid = crate::token::keyid::uid_from_hex(key).ok_or(Error::KmsNotFound)?;
            b.entries.retain(|e| e.uid == uid);
            if b.entries.is_empty() {
                return Err(Error::KmsIncorrectKey);
            }
        }
        let (plain, key, _) = self.open_blob(&a, &b, ctx, ck::CKA_DECRYPT, "kms-decrypt", "")?;
        Ok((plain, key))
    }

    /// The key uids a blob names, in entry order (its header only; nothing
    /// is opened).
    pub fn blob_keys(data: &[u8]) -> Result<Vec<crate::store::Uid>> {
        Ok(Blob::parse(data)?.entries.iter().map(|e| e.uid).collect())
    }

    /// Moves a blob to another master key (or the same key's newest
    /// version) without the plaintext leaving the token.
    #[allow(clippy::too_many_arguments)]
    pub fn re_encrypt(
        &self,
        h: SessionHandle,
        data: &[u8],
        src_ctx: &Context,
        dest_key: &str,
        dest_ctx: &Context,
        store_ctx: bool,
        cap: Option<usize>,
    ) -> Result<Produced> {
        let a = self.access(h)?;
        let b = Blob::parse(data)?;
        let canon = blob::canonical_context(dest_ctx)?;
        let len = Blob::encoded_len(store_ctx.then_some(&canon[..]), b.entries[0].plain_len(), 1);
        if let Some(p) = Produced::query(len, cap) {
            return Ok(p);
        }
        let (plain, src_key, src_version) =
            self.open_blob(&a, &b, src_ctx, ck::CKA_DECRYPT, "kms-decrypt", "re-encrypt source")?;
        let detail = format!("from {src_key} v{src_version}");
        Ok(Produced::public(
            self.encrypt_under(&a, dest_key, &canon, store_ctx, &plain, "kms-re-encrypt", &detail)?,
            cap,
        ))
    }

    /// The blob length GenerateDataKey produces.
    pub fn data_key_len(keys: usize, key_len: usize, ctx: &Context, store_ctx: bool) -> Result<usize> {
        let canon = blob::canonical_context(ctx)?;
        Ok(Blob::encoded_len(store_ctx.then_some(&canon[..]), key_len, keys))
    }

    /// A fresh data key of `key_len` bytes, in plaintext (unless
    /// `without_plaintext`) and wrapped under every given master key in one
    /// blob, any one of which recovers it.
    pub fn generate_data_key(
        &self,
        h: SessionHandle,
        key_ids: &[&str],
        key_len: usize,
        ctx: &Context,
        store_ctx: bool,
        without_plaintext: bool,
    ) -> Result<DataKey> {
        let a = self.access(h)?;
        if key_len == 0 || key_len > MAX_DATA_KEY {
            return Err(Error::KeySizeRange);
        }
        if key_ids.is_empty() || key_ids.len() > blob::MAX_ENTRIES {
            return Err(Error::ArgumentsBad);
        }
        let canon = blob::canonical_context(ctx)?;
        let mut keys = Vec::with_capacity(key_ids.len());
        for id in key_ids {
            let k = self.key(&a, id).and_then(|k| {
                k.check_use(ck::CKA_ENCRYPT)?;
                self.for_encrypt(&a, k)
            });
            if let Err(e) = &k {
                self.record_use(&a, "generate-data-key", id, 0, &Err::<(), _>(e.clone()), "");
            }
            keys.push(k?);
        }
        let plain = crate::mech::keygen::random_key(key_len)?;
        let r = self.seal_for(&keys, &canon, store_ctx, &plain);
        let detail = format!("{key_len} bytes{}", if without_plaintext { ", without plaintext" } else { "" });
        for k in &keys {
            self.record_use(&a, "generate-data-key", &k.key_id(), k.current(), &r, &detail);
        }
        Ok(DataKey { plaintext: (!without_plaintext).then_some(plain), blob: r? })
    }

    /// CKM_FHSM_KMS_WRAP: a key's value sealed under a master key, in the
    /// same blob format as GenerateDataKey.
    pub(crate) fn wrap_value(&self, a: &Access, kek: &KmsKey, ctx: &Context, value: &[u8]) -> Result<Vec<u8>> {
        kek.check_enabled()?;
        let canon = blob::canonical_context(ctx).map_err(|_| Error::MechanismParamInvalid)?;
        let k = self.for_encrypt(a, kek.clone())?;
        let r = self.seal_for(std::slice::from_ref(&k), &canon, false, value);
        self.record_use(a, "wrap", &k.key_id(), k.current(), &r, "CKM_FHSM_KMS_WRAP");
        r
    }

    /// The reverse: the entry for `kek` opened with the context.
    pub(crate) fn unwrap_value(
        &self,
        a: &Access,
        kek: &KmsKey,
        ctx: &Context,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        kek.check_enabled()?;
        let canon = blob::canonical_context(ctx).map_err(|_| Error::MechanismParamInvalid)?;
        let b = Blob::parse(wrapped).map_err(|_| Error::WrappedKeyInvalid)?;
        let ctx = effective_context(&b, ctx, canon);
        let entry = b.entries.iter().find(|e| e.uid == kek.uid);
        let r = entry.ok_or(Error::WrappedKeyInvalid).and_then(|e| {
            let v = kek.version(e.version).map_err(|_| Error::WrappedKeyInvalid)?;
            blob::open_entry(&v.key, e, b.flags, &ctx).map_err(|_| Error::WrappedKeyInvalid)
        });
        let version = entry.map_or(0, |e| e.version);
        self.record_use(a, "unwrap", &kek.key_id(), version, &r, "CKM_FHSM_KMS_WRAP");
        r
    }
}
