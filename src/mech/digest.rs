//! Digests (SHA-1, SHA-2, SHA-3 via aws-lc-rs) and HMAC over them.

use aws_lc_rs::digest::{self, Context};
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::MechType;

/// The digest behind a digest or HMAC mechanism.
pub fn algorithm(m: MechType) -> Option<&'static digest::Algorithm> {
    Some(match m {
        ck::CKM_SHA_1 | ck::CKM_SHA_1_HMAC | ck::CKM_SHA_1_HMAC_GENERAL => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        ck::CKM_SHA224 | ck::CKM_SHA224_HMAC | ck::CKM_SHA224_HMAC_GENERAL => &digest::SHA224,
        ck::CKM_SHA256 | ck::CKM_SHA256_HMAC | ck::CKM_SHA256_HMAC_GENERAL => &digest::SHA256,
        ck::CKM_SHA384 | ck::CKM_SHA384_HMAC | ck::CKM_SHA384_HMAC_GENERAL => &digest::SHA384,
        ck::CKM_SHA512 | ck::CKM_SHA512_HMAC | ck::CKM_SHA512_HMAC_GENERAL => &digest::SHA512,
        ck::CKM_SHA3_256 | ck::CKM_SHA3_256_HMAC | ck::CKM_SHA3_256_HMAC_GENERAL => &digest::SHA3_256,
        ck::CKM_SHA3_384 | ck::CKM_SHA3_384_HMAC | ck::CKM_SHA3_384_HMAC_GENERAL => &digest::SHA3_384,
        ck::CKM_SHA3_512 | ck::CKM_SHA3_512_HMAC | ck::CKM_SHA3_512_HMAC_GENERAL => &digest::SHA3_512,
        _ => return None,
    })
}

/// Is this one of the `_HMAC_GENERAL` mechanisms (output length a parameter)?
pub fn is_general_hmac(m: MechType) -> bool {
    matches!(
        m,
        ck::CKM_SHA_1_HMAC_GENERAL
            | ck::CKM_SHA224_HMAC_GENERAL
            | ck::CKM_SHA256_HMAC_GENERAL
            | ck::CKM_SHA384_HMAC_GENERAL
            | ck::CKM_SHA512_HMAC_GENERAL
            | ck::CKM_SHA3_256_HMAC_GENERAL
            | ck::CKM_SHA3_384_HMAC_GENERAL
            | ck::CKM_SHA3_512_HMAC_GENERAL
    )
}

/// A running digest.
#[derive(Clone)]
pub struct Hasher {
    ctx: Context,
}

impl Hasher {
    pub fn new(alg: &'static digest::Algorithm) -> Hasher {
        Hasher { ctx: Context::new(alg) }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data)
    }

    pub fn output_len(&self) -> usize {
        self.ctx.algorithm().output_len()
    }

    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

/// HMAC (RFC 2104) over any of the digests above, with the inner and outer
/// states keyed once at init.
#[derive(Clone)]
pub struct Hmac {
    inner: Context,
    outer: Context,
    out_len: usize,
}

impl Hmac {
    /// `out_len` is the (possibly truncated) MAC length.
    pub fn new(alg: &'static digest::Algorithm, key: &[u8], out_len: usize) -> Result<Hmac> {
        if out_len == 0 || out_len > alg.output_len() {
            return Err(Error::MechanismParamInvalid);
        }
        let block = alg.block_len();
        let mut k = Zeroizing::new(vec![0u8; block]);
        if key.len() > block {
            let d = digest::digest(alg, key);
            k[..d.as_ref().len()].copy_from_slice(d.as_ref());
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = Zeroizing::new(vec![0u8; block]);
        let mut inner = Context::new(alg);
        pad.iter_mut().zip(k.iter()).for_each(|(p, b)| *p = b ^ 0x36);
        inner.update(&pad);
        let mut outer = Context::new(alg);
        pad.iter_mut().zip(k.iter()).for_each(|(p, b)| *p = b ^ 0x5c);
        outer.update(&pad);
        Ok(Hmac { inner, outer, out_len })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data)
    }

    pub fn output_len(&self) -> usize {
        self.out_len
    }

    pub fn finish(self) -> Zeroizing<Vec<u8>> {
        let mut outer = self.outer;
        outer.update(self.inner.finish().as_ref());
        Zeroizing::new(outer.finish().as_ref()[..self.out_len].to_vec())
    }
}

/// Constant-time equality for MAC verification.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
