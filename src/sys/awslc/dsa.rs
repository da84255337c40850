//! DSA (FIPS 186) and finite-field Diffie-Hellman (PKCS #3) through
//! aws-lc: domain parameter and key generation, signatures as r||s, the
//! padded shared secret. Keys go in and out as big-endian byte strings;
//! each call builds the aws-lc object it needs and frees it.

use std::os::raw::c_int;
use std::ptr::{null, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::bn::{to_be, to_be_padded, Bn};
use super::{ok, Failed, R};

/// A BIGNUM whose ownership passes to an aws-lc `set0` call.
fn give(b: &[u8]) -> R<*mut sys::BIGNUM> {
    let bn = Bn::from_be(b)?;
    let p = bn.0.as_ptr();
    std::mem::forget(bn);
    Ok(p)
}

struct Dsa(NonNull<sys::DSA>);

impl Drop for Dsa {
    fn drop(&mut self) {
        // SAFETY: we own the DSA; DSA_free clears its private key.
        unsafe { sys::DSA_free(self.0.as_ptr()) }
    }
}

impl Dsa {
    fn new(p: &[u8], q: &[u8], g: &[u8], y: Option<&[u8]>, x: Option<&[u8]>) -> R<Dsa> {
        // SAFETY: allocation; NULL checked.
        let d = Dsa(NonNull::new(unsafe { sys::DSA_new() }).ok_or(Failed)?);
        let (bp, bq, bg) = (give(p)?, give(q)?, give(g)?);
        // SAFETY: three fresh BIGNUMs whose ownership passes to the DSA.
        ok(unsafe { sys::DSA_set0_pqg(d.0.as_ptr(), bp, bq, bg) })?;
        if y.is_some() || x.is_some() {
            let by = match y {
                Some(y) => give(y)?,
                None => null_mut(),
            };
            let bx = match x {
                Some(x) => give(x)?,
                None => null_mut(),
            };
            // SAFETY: fresh BIGNUMs (or NULL) whose ownership passes to the DSA.
            ok(unsafe { sys::DSA_set0_key(d.0.as_ptr(), by, bx) })?;
        }
        Ok(d)
    }

    fn q_len(&self) -> usize {
        let mut q: *const sys::BIGNUM = null();
        // SAFETY: a live DSA; the borrowed q stays owned by it.
        unsafe { sys::DSA_get0_pqg(self.0.as_ptr(), null_mut(), &mut q, null_mut()) };
        // SAFETY: q is the DSA's own, set at construction.
        unsafe { sys::BN_num_bytes(q) as usize }
    }
}

/// DSA domain parameters of `bits` (q of 160 bits below 2048, else 256).
pub fn dsa_paramgen(bits: u32) -> R<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    // SAFETY: allocation; NULL checked.
    let d = Dsa(NonNull::new(unsafe { sys::DSA_new() }).ok_or(Failed)?);
    // SAFETY: a fresh DSA; no seed, counters or callback.
    ok(unsafe { sys::DSA_generate_parameters_ex(d.0.as_ptr(), bits, null(), 0, null_mut(), null_mut(), null_mut()) })?;
    let (mut p, mut q, mut g) = (null(), null(), null());
    // SAFETY: borrowed from the live DSA and copied out before it is freed.
    unsafe { sys::DSA_get0_pqg(d.0.as_ptr(), &mut p, &mut q, &mut g) };
    Ok((to_be(p).to_vec(), to_be(q).to_vec(), to_be(g).to_vec()))
}

/// A DSA key pair under the parameters: (x, y).
pub fn dsa_keygen(p: &[u8], q: &[u8], g: &[u8]) -> R<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let d = Dsa::new(p, q, g, None, None)?;
    // SAFETY: a DSA with its parameters set.
    ok(unsafe { sys::DSA_generate_key(d.0.as_ptr()) })?;
    let (mut y, mut x) = (null(), null());
    // SAFETY: borrowed from the live DSA and copied out before it is freed.
    unsafe { sys::DSA_get0_key(d.0.as_ptr(), &mut y, &mut x) };
    Ok((to_be(x), to_be(y).to_vec()))
}

/// Checks parameters and a public value as aws-lc will use them (q of
/// 160, 224 or 256 bits, p at most 10000 bits, 1 < g < p, 0 < y < p).
pub fn dsa_check(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> R<()> {
    let d = Dsa::new(p, q, g, Some(y), None)?;
    // A probe signature verification runs aws-lc's key checks; the
    // signature itself is irrelevant.
    let mut valid: c_int = 0;
    // SAFETY: allocation; NULL checked.
    let sig = NonNull::new(unsafe { sys::DSA_SIG_new() }).ok_or(Failed)?;
    let (r, s) = (give(&[1])?, give(&[1])?);
    // SAFETY: fresh BIGNUMs whose ownership passes to the signature.
    let set = unsafe { sys::DSA_SIG_set0(sig.as_ptr(), r, s) };
    // SAFETY: a live signature and DSA; a 20-byte digest.
    let rc = unsafe { sys::DSA_do_check_signature(&mut valid, [0u8; 20].as_ptr(), 20, sig.as_ptr(), d.0.as_ptr()) };
    // SAFETY: allocated above, freed once.
    unsafe { sys::DSA_SIG_free(sig.as_ptr()) };
    ok(set)?;
    ok(rc)
}

/// y = g^x mod p (a private key's public value).
pub fn mod_exp(g: &[u8], x: &[u8], p: &[u8]) -> R<Vec<u8>> {
    let (bg, bx, bp) = (Bn::from_be(g)?, Bn::from_be(x)?, Bn::from_be(p)?);
    // SAFETY: allocations; NULL checked below.
    let (y, ctx) = unsafe { (sys::BN_new(), sys::BN_CTX_new()) };
    // SAFETY: a live BIGNUM.
    let odd = unsafe { sys::BN_is_odd(bp.as_ptr()) } == 1;
    let done = !y.is_null()
        && !ctx.is_null()
        && odd
        // SAFETY: live BIGNUMs and context; the modulus is odd, as the
        // constant-time exponentiation needs.
        && unsafe { sys::BN_mod_exp_mont_consttime(y, bg.as_ptr(), bx.as_ptr(), bp.as_ptr(), ctx, null()) } == 1;
    let out = if done { Ok(to_be(y).to_vec()) } else { Err(Failed) };
    // SAFETY: freed once each (NULL is accepted).
    unsafe {
        sys::BN_free(y);
        sys::BN_CTX_free(ctx);
    }
    out
}

/// A DSA signature r||s (each of q's length) over `digest` (aws-lc wants
/// the public value y with the private x).
pub fn dsa_sign(p: &[u8], q: &[u8], g: &[u8], y: &[u8], x: &[u8], digest: &[u8]) -> R<Vec<u8>> {
    let d = Dsa::new(p, q, g, Some(y), Some(x))?;
    let n = d.q_len();
    // SAFETY: a DSA with parameters and private key; the digest is valid
    // for its length (aws-lc takes its leftmost q bits).
    let sig = NonNull::new(unsafe { sys::DSA_do_sign(digest.as_ptr(), digest.len(), d.0.as_ptr()) }).ok_or(Failed)?;
    let (mut r, mut s) = (null(), null());
    // SAFETY: borrowed from the live signature, copied before it is freed.
    unsafe { sys::DSA_SIG_get0(sig.as_ptr(), &mut r, &mut s) };
    let out = to_be_padded(r, n).and_then(|r| Ok([r.to_vec(), to_be_padded(s, n)?.to_vec()].concat()));
    // SAFETY: allocated by DSA_do_sign, freed once.
    unsafe { sys::DSA_SIG_free(sig.as_ptr()) };
    out
}

/// Whether `sig` (r||s) is a valid signature of `digest` under y.
pub fn dsa_verify(p: &[u8], q: &[u8], g: &[u8], y: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    let Ok(d) = Dsa::new(p, q, g, Some(y), None) else { return false };
    let n = sig.len() / 2;
    // SAFETY: allocation; NULL checked.
    let Some(s) = NonNull::new(unsafe { sys::DSA_SIG_new() }) else { return false };
    let mut valid: c_int = 0;
    let rc = match (give(&sig[..n]), give(&sig[n..])) {
        (Ok(br), Ok(bs)) => {
            // SAFETY: fresh BIGNUMs whose ownership passes to the signature.
            unsafe { sys::DSA_SIG_set0(s.as_ptr(), br, bs) };
            // SAFETY: a live signature and DSA; the digest is valid for its length.
            unsafe { sys::DSA_do_check_signature(&mut valid, digest.as_ptr(), digest.len(), s.as_ptr(), d.0.as_ptr()) }
        }
        _ => 0,
    };
    // SAFETY: allocated above, freed once.
    unsafe { sys::DSA_SIG_free(s.as_ptr()) };
    rc == 1 && valid == 1
}

struct Dh(NonNull<sys::DH>);

impl Drop for Dh {
    fn drop(&mut self) {
        // SAFETY: we own the DH; DH_free clears its private key.
        unsafe { sys::DH_free(self.0.as_ptr()) }
    }
}

impl Dh {
    fn new(p: &[u8], g: &[u8], x: Option<&[u8]>) -> R<Dh> {
        // SAFETY: allocation; NULL checked.
        let d = Dh(NonNull::new(unsafe { sys::DH_new() }).ok_or(Failed)?);
        let (bp, bg) = (give(p)?, give(g)?);
        // SAFETY: fresh BIGNUMs whose ownership passes to the DH (no q).
        ok(unsafe { sys::DH_set0_pqg(d.0.as_ptr(), bp, null_mut(), bg) })?;
        if let Some(x) = x {
            let bx = give(x)?;
            // SAFETY: a fresh BIGNUM whose ownership passes to the DH.
            ok(unsafe { sys::DH_set0_key(d.0.as_ptr(), null_mut(), bx) })?;
        }
        Ok(d)
    }
}

/// PKCS #3 parameters of `bits` with generator 2: (p, g).
pub fn dh_paramgen(bits: u32) -> R<(Vec<u8>, Vec<u8>)> {
    // SAFETY: allocation; NULL checked.
    let d = Dh(NonNull::new(unsafe { sys::DH_new() }).ok_or(Failed)?);
    let bits = c_int::try_from(bits).map_err(|_| Failed)?;
    // SAFETY: a fresh DH; no callback.
    ok(unsafe { sys::DH_generate_parameters_ex(d.0.as_ptr(), bits, 2, null_mut()) })?;
    let (mut p, mut g) = (null(), null());
    // SAFETY: borrowed from the live DH and copied out before it is freed.
    unsafe { sys::DH_get0_pqg(d.0.as_ptr(), &mut p, null_mut(), &mut g) };
    Ok((to_be(p).to_vec(), to_be(g).to_vec()))
}

/// A DH key pair: (x, y); `priv_bits` is CKA_VALUE_BITS (0: aws-lc's
/// default, a private value below p/2).
pub fn dh_keygen(p: &[u8], g: &[u8], priv_bits: u32) -> R<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let d = Dh::new(p, g, None)?;
    if priv_bits > 0 {
        // SAFETY: a live DH.
        ok(unsafe { sys::DH_set_length(d.0.as_ptr(), priv_bits) })?;
    }
    // SAFETY: a DH with its parameters set.
    ok(unsafe { sys::DH_generate_key(d.0.as_ptr()) })?;
    let (mut y, mut x) = (null(), null());
    // SAFETY: borrowed from the live DH and copied out before it is freed.
    unsafe { sys::DH_get0_key(d.0.as_ptr(), &mut y, &mut x) };
    Ok((to_be(x), to_be(y).to_vec()))
}

/// The shared secret with a peer's public value, left-padded to p's
/// length (PKCS #3). Fails for a peer value outside 1 < y < p-1.
pub fn dh_compute(p: &[u8], g: &[u8], x: &[u8], peer: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    let d = Dh::new(p, g, Some(x))?;
    let peer = Bn::from_be(peer)?;
    // SAFETY: a live DH.
    let n = usize::try_from(unsafe { sys::DH_size(d.0.as_ptr()) }).map_err(|_| Failed)?;
    let mut out = Zeroizing::new(vec![0u8; n]);
    // SAFETY: `out` has DH_size bytes, what the padded computation writes;
    // the DH has p, g and x.
    let rc = unsafe { sys::DH_compute_key_padded(out.as_mut_ptr(), peer.as_ptr(), d.0.as_ptr()) };
    if usize::try_from(rc).ok() != Some(n) {
        return Err(Failed);
    }
    Ok(out)
}
