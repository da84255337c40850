//! Digests (SHA-1, SHA-2, SHA-3 via aws-lc-rs; SHA3-224, which aws-lc-rs
//! does not offer, via RustCrypto's `sha3`) and HMAC over them.

use aws_lc_rs::digest::{self, Context};
use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::MechType;

/// A digest algorithm.
#[derive(Clone, Copy)]
pub enum Alg {
    Lc(&'static digest::Algorithm),
    Sha3_224,
}

impl From<&'static digest::Algorithm> for Alg {
    fn from(a: &'static digest::Algorithm) -> Alg {
        Alg::Lc(a)
    }
}

impl Alg {
    pub fn output_len(self) -> usize {
        match self {
            Alg::Lc(a) => a.output_len(),
            Alg::Sha3_224 => 28,
        }
    }

    /// The block length HMAC pads keys to (SHA3-224's rate: 144 bytes).
    pub fn block_len(self) -> usize {
        match self {
            Alg::Lc(a) => a.block_len(),
            Alg::Sha3_224 => 144,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish()
    }
}

/// The digest behind a digest or HMAC mechanism.
pub fn algorithm(m: MechType) -> Option<Alg> {
    if matches!(m, ck::CKM_SHA3_224 | ck::CKM_SHA3_224_HMAC | ck::CKM_SHA3_224_HMAC_GENERAL) {
        return Some(Alg::Sha3_224);
    }
    Some(Alg::Lc(match m {
        ck::CKM_SHA_1 | ck::CKM_SHA_1_HMAC | ck::CKM_SHA_1_HMAC_GENERAL => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        ck::CKM_SHA224 | ck::CKM_SHA224_HMAC | ck::CKM_SHA224_HMAC_GENERAL => &digest::SHA224,
        ck::CKM_SHA256 | ck::CKM_SHA256_HMAC | ck::CKM_SHA256_HMAC_GENERAL => &digest::SHA256,
        ck::CKM_SHA384 | ck::CKM_SHA384_HMAC | ck::CKM_SHA384_HMAC_GENERAL => &digest::SHA384,
        ck::CKM_SHA512 | ck::CKM_SHA512_HMAC | ck::CKM_SHA512_HMAC_GENERAL => &digest::SHA512,
        ck::CKM_SHA3_256 | ck::CKM_SHA3_256_HMAC | ck::CKM_SHA3_256_HMAC_GENERAL => &digest::SHA3_256,
        ck::CKM_SHA3_384 | ck::CKM_SHA3_384_HMAC | ck::CKM_SHA3_384_HMAC_GENERAL => &digest::SHA3_384,
        ck::CKM_SHA3_512 | ck::CKM_SHA3_512_HMAC | ck::CKM_SHA3_512_HMAC_GENERAL => &digest::SHA3_512,
        _ => return None,
    }))
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
            | ck::CKM_SHA3_224_HMAC_GENERAL
            | ck::CKM_SHA3_256_HMAC_GENERAL
            | ck::CKM_SHA3_384_HMAC_GENERAL
            | ck::CKM_SHA3_512_HMAC_GENERAL
    )
}

/// A running digest.
#[derive(Clone)]
pub enum Hasher {
    Lc(Context),
    Sha3_224(Box<sha3::Sha3_224>),
}

impl Hasher {
    pub fn new(alg: Alg) -> Hasher {
        match alg {
            Alg::Lc(a) => Hasher::Lc(Context::new(a)),
            Alg::Sha3_224 => Hasher::Sha3_224(Box::new(<sha3::Sha3_224 as sha3::Digest>::new())),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Lc(c) => c.update(data),
            Hasher::Sha3_224(h) => sha3::Digest::update(h.as_mut(), data),
        }
    }

    pub fn output_len(&self) -> usize {
        match self {
            Hasher::Lc(c) => c.algorithm().output_len(),
            Hasher::Sha3_224(_) => 28,
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Lc(c) => c.finish().as_ref().to_vec(),
            Hasher::Sha3_224(h) => sha3::Digest::finalize(*h).to_vec(),
        }
    }
}

/// HMAC (RFC 2104) over any of the digests above, with the inner and outer
/// states keyed once at init.
#[derive(Clone)]
pub struct Hmac {
    inner: Hasher,
    outer: Hasher,
    out_len: usize,
}

impl Hmac {
    /// `out_len` is the (possibly truncated) MAC length.
    pub fn new(alg: Alg, key: &[u8], out_len: usize) -> Result<Hmac> {
        if out_len == 0 || out_len > alg.output_len() {
            return Err(Error::MechanismParamInvalid);
        }
        let block = alg.block_len();
        let mut k = Zeroizing::new(vec![0u8; block]);
        if key.len() > block {
            let d = Zeroizing::new(alg.digest(key));
            k[..d.len()].copy_from_slice(&d);
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = Zeroizing::new(vec![0u8; block]);
        let mut inner = Hasher::new(alg);
        pad.iter_mut().zip(k.iter()).for_each(|(p, b)| *p = b ^ 0x36);
        inner.update(&pad);
        let mut outer = Hasher::new(alg);
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
        outer.update(&Zeroizing::new(self.inner.finish()));
        let mut full = Zeroizing::new(outer.finish());
        full.truncate(self.out_len);
        full
    }
}

/// Constant-time equality for MAC verification.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
