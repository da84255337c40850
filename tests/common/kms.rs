//! The "FerroHSM KMS" vendor interface of the built module, called through
//! its function table with Rust-side buffers.

use std::ptr::{null, null_mut};

use cryptoki_sys::*;
use ferrohsm::ffi::kms::{CK_FHSM_CONTEXT_PAIR, CK_FHSM_KEY_ID, CK_FHSM_KMS_FUNCTION_LIST};

use super::raw::Raw;

pub struct Kms {
    pub r: Raw,
    pub k: &'static CK_FHSM_KMS_FUNCTION_LIST,
    pub h: CK_SESSION_HANDLE,
}

pub type R<T> = Result<T, CK_RV>;

fn rv(r: CK_RV) -> R<()> {
    if r == CKR_OK {
        Ok(())
    } else {
        Err(r)
    }
}

/// Context pairs pointing into `ctx` (which must outlive the call).
pub fn pairs(ctx: &[(&str, &str)]) -> Vec<CK_FHSM_CONTEXT_PAIR> {
    ctx.iter()
        .map(|(k, v)| CK_FHSM_CONTEXT_PAIR {
            pKey: k.as_ptr(),
            ulKeyLen: k.len() as CK_ULONG,
            pValue: v.as_ptr(),
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect()
}

/// Runs an output call twice: a length query, then into a buffer of
/// exactly that size (a short buffer is also checked to say so).
fn output(mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> R<Vec<u8>> {
    let mut len: CK_ULONG = 0;
    rv(f(null_mut(), &mut len))?;
    let mut buf = vec![0u8; len as usize];
    if len > 0 {
        let mut short = len - 1;
        assert_eq!(f(buf.as_mut_ptr(), &mut short), CKR_BUFFER_TOO_SMALL);
        assert_eq!(short, len, "a short buffer reports the length");
    }
    rv(f(buf.as_mut_ptr(), &mut len))?;
    buf.truncate(len as usize);
    Ok(buf)
}

impl Kms {
    /// The vendor table of a loaded module and a user session `h`.
    pub fn new(r: Raw, h: CK_SESSION_HANDLE) -> Kms {
        type GetIface = unsafe extern "C" fn(*mut u8, *mut CK_VERSION, *mut *mut CK_INTERFACE, CK_FLAGS) -> CK_RV;
        let get: libloading::Symbol<GetIface> = unsafe { r.lib.get(b"C_GetInterface") }.unwrap();
        let mut iface: *mut CK_INTERFACE = null_mut();
        assert_eq!(unsafe { get(c"FerroHSM KMS".as_ptr() as *mut u8, null_mut(), &mut iface, 0) }, CKR_OK);
        let k = unsafe { &*((*iface).pFunctionList as *const CK_FHSM_KMS_FUNCTION_LIST) };
        Kms { r, k, h }
    }

    pub fn create(&self, tmpl: &mut [CK_ATTRIBUTE]) -> R<String> {
        let mut id = [0u8; 32];
        let mut len = id.len() as CK_ULONG;
        rv(unsafe {
            (self.k.FHSM_CreateKey)(self.h, tmpl.as_mut_ptr(), tmpl.len() as CK_ULONG, id.as_mut_ptr(), &mut len)
        })?;
        Ok(String::from_utf8(id[..len as usize].to_vec()).unwrap())
    }

    pub fn key(&self) -> String {
        self.create(&mut []).unwrap()
    }

    pub fn encrypt_flags(&self, key: &str, ctx: &[(&str, &str)], flags: CK_ULONG, data: &[u8]) -> R<Vec<u8>> {
        let p = pairs(ctx);
        output(|o, l| unsafe {
            (self.k.FHSM_Encrypt)(
                self.h,
                key.as_ptr(),
                key.len() as CK_ULONG,
                p.as_ptr(),
                p.len() as CK_ULONG,
                flags,
                data.as_ptr(),
                data.len() as CK_ULONG,
                o,
                l,
            )
        })
    }

    pub fn encrypt(&self, key: &str, ctx: &[(&str, &str)], data: &[u8]) -> R<Vec<u8>> {
        self.encrypt_flags(key, ctx, 0, data)
    }

    pub fn decrypt(&self, ctx: &[(&str, &str)], blob: &[u8]) -> R<Vec<u8>> {
        let p = pairs(ctx);
        output(|o, l| unsafe {
            (self.k.FHSM_Decrypt)(self.h, p.as_ptr(), p.len() as CK_ULONG, blob.as_ptr(), blob.len() as CK_ULONG, o, l)
        })
    }

    pub fn re_encrypt(&self, blob: &[u8], src: &[(&str, &str)], key: &str, dst: &[(&str, &str)]) -> R<Vec<u8>> {
        let (s, d) = (pairs(src), pairs(dst));
        output(|o, l| unsafe {
            (self.k.FHSM_ReEncrypt)(
                self.h,
                blob.as_ptr(),
                blob.len() as CK_ULONG,
                s.as_ptr(),
                s.len() as CK_ULONG,
                key.as_ptr(),
                key.len() as CK_ULONG,
                d.as_ptr(),
                d.len() as CK_ULONG,
                0,
                o,
                l,
            )
        })
    }

    /// (plaintext, blob); `with_plain` false is the WithoutPlaintext call.
    pub fn data_key(
        &self,
        keys: &[&str],
        len: usize,
        ctx: &[(&str, &str)],
        with_plain: bool,
    ) -> R<(Option<Vec<u8>>, Vec<u8>)> {
        let ids: Vec<CK_FHSM_KEY_ID> =
            keys.iter().map(|k| CK_FHSM_KEY_ID { pId: k.as_ptr(), ulIdLen: k.len() as CK_ULONG }).collect();
        let p = pairs(ctx);
        let call = |plain: *mut u8, pl: *mut CK_ULONG, blob: *mut u8, bl: *mut CK_ULONG| unsafe {
            (self.k.FHSM_GenerateDataKey)(
                self.h,
                ids.as_ptr(),
                ids.len() as CK_ULONG,
                len as CK_ULONG,
                p.as_ptr(),
                p.len() as CK_ULONG,
                0,
                plain,
                pl,
                blob,
                bl,
            )
        };
        let (mut pl, mut bl): (CK_ULONG, CK_ULONG) = (0, 0);
        let plp: *mut CK_ULONG = if with_plain { &mut pl } else { null_mut() };
        rv(call(null_mut(), plp, null_mut(), &mut bl))?;
        let mut plain = vec![0u8; pl as usize];
        let mut blob = vec![0u8; bl as usize];
        let pp = if with_plain { plain.as_mut_ptr() } else { null_mut() };
        rv(call(pp, plp, blob.as_mut_ptr(), &mut bl))?;
        Ok((with_plain.then_some(plain), blob))
    }

    fn id_call(&self, f: unsafe extern "C" fn(CK_SESSION_HANDLE, *const u8, CK_ULONG) -> CK_RV, key: &str) -> R<()> {
        rv(unsafe { f(self.h, key.as_ptr(), key.len() as CK_ULONG) })
    }

    pub fn rotate(&self, key: &str) -> R<CK_ULONG> {
        let mut v = 0;
        rv(unsafe { (self.k.FHSM_RotateKey)(self.h, key.as_ptr(), key.len() as CK_ULONG, &mut v) })?;
        Ok(v)
    }

    pub fn set_rotation(&self, key: &str, days: CK_ULONG) -> R<()> {
        rv(unsafe { (self.k.FHSM_SetKeyRotation)(self.h, key.as_ptr(), key.len() as CK_ULONG, days) })
    }

    pub fn enable(&self, key: &str) -> R<()> {
        self.id_call(self.k.FHSM_EnableKey, key)
    }

    pub fn disable(&self, key: &str) -> R<()> {
        self.id_call(self.k.FHSM_DisableKey, key)
    }

    pub fn schedule(&self, key: &str, days: CK_ULONG) -> R<CK_ULONG> {
        let mut when = 0;
        rv(unsafe { (self.k.FHSM_ScheduleKeyDeletion)(self.h, key.as_ptr(), key.len() as CK_ULONG, days, &mut when) })?;
        Ok(when)
    }

    pub fn cancel(&self, key: &str) -> R<()> {
        self.id_call(self.k.FHSM_CancelKeyDeletion, key)
    }

    pub fn purge_in(&self, h: CK_SESSION_HANDLE, key: &str) -> R<()> {
        rv(unsafe { (self.k.FHSM_PurgeKey)(h, key.as_ptr(), key.len() as CK_ULONG) })
    }

    pub fn alias(&self, name: &str, key: &str, update: bool) -> R<()> {
        let f = if update { self.k.FHSM_UpdateAlias } else { self.k.FHSM_CreateAlias };
        rv(unsafe { f(self.h, name.as_ptr(), name.len() as CK_ULONG, key.as_ptr(), key.len() as CK_ULONG) })
    }

    pub fn delete_alias(&self, name: &str) -> R<()> {
        self.id_call(self.k.FHSM_DeleteAlias, name)
    }

    fn json(&self, f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> R<serde_json::Value> {
        Ok(serde_json::from_slice(&output(f)?).unwrap())
    }

    pub fn aliases(&self) -> R<serde_json::Value> {
        self.json(|o, l| unsafe { (self.k.FHSM_ListAliases)(self.h, o, l) })
    }

    pub fn describe(&self, key: &str) -> R<serde_json::Value> {
        self.json(|o, l| unsafe { (self.k.FHSM_DescribeKey)(self.h, key.as_ptr(), key.len() as CK_ULONG, o, l) })
    }

    pub fn list(&self) -> R<serde_json::Value> {
        self.json(|o, l| unsafe { (self.k.FHSM_ListKeys)(self.h, o, l) })
    }

    pub fn audit_verify(&self) -> R<CK_ULONG> {
        let mut n = 0;
        rv(unsafe { (self.k.FHSM_AuditVerify)(self.h, &mut n) })?;
        Ok(n)
    }

    /// Every audit record (optionally naming `key`).
    pub fn audit(&self, key: Option<&str>) -> Vec<serde_json::Value> {
        let (p, n) = key.map_or((null(), 0), |k| (k.as_ptr(), k.len() as CK_ULONG));
        let v = self.json(|o, l| unsafe { (self.k.FHSM_AuditRead)(self.h, 0, p, n, o, l) }).unwrap();
        v.as_array().unwrap().clone()
    }
}
