//! RSA over aws-lc-sys: key generation with any public exponent, keys from
//! components, raw and padded private/public operations, PSS and OAEP with
//! separate MGF1 digests and labels. The safe aws-lc-rs API signs only
//! whole messages with a fixed exponent, which PKCS#11 needs beyond.

use std::os::raw::c_int;
use std::ptr::{null, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::bn::{to_be, Bn, BnCtx};
use super::{evp_md, ok, Failed, Md, R};

pub struct Rsa(NonNull<sys::RSA>);

// SAFETY: aws-lc RSA objects are safe to share between threads: private-key
// operations take the key's internal lock for lazily built state (Montgomery
// contexts, blinding), and we never mutate the key after construction.
unsafe impl Send for Rsa {}
// SAFETY: as for Send: shared use only reads, and aws-lc locks its caches.
unsafe impl Sync for Rsa {}

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: we own one reference; RSA_free wipes private parts.
        unsafe { sys::RSA_free(self.0.as_ptr()) }
    }
}

/// Big-endian components; the private ones are empty for a public key and
/// the CRT ones may be empty for a private key given without them.
#[derive(Default)]
pub struct RsaParts {
    pub n: Zeroizing<Vec<u8>>,
    pub e: Zeroizing<Vec<u8>>,
    pub d: Zeroizing<Vec<u8>>,
    pub p: Zeroizing<Vec<u8>>,
    pub q: Zeroizing<Vec<u8>>,
    pub dp: Zeroizing<Vec<u8>>,
    pub dq: Zeroizing<Vec<u8>>,
    pub qinv: Zeroizing<Vec<u8>>,
}

fn rsa_ptr(p: *mut sys::RSA) -> R<Rsa> {
    NonNull::new(p).map(Rsa).ok_or(Failed)
}

/// Output buffer protocol shared by the raw calls.
pub(super) fn run(max: usize, f: impl FnOnce(*mut usize, *mut u8) -> c_int) -> R<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; max]);
    let mut n = 0usize;
    ok(f(&mut n, out.as_mut_ptr()))?;
    out.truncate(n);
    Ok(out)
}

impl Rsa {
    /// A new key of exactly `bits` bits (1024..=16384). aws-lc's own
    /// generator (its FIPS path) makes the multiples of 128 it supports;
    /// other sizes come from `generate_any`.
    pub fn generate(bits: u32, e: &[u8]) -> R<Rsa> {
        if !(1024..=16384).contains(&bits) {
            return Err(Failed);
        }
        if bits % 128 != 0 {
            return generate_any(bits, e);
        }
        let e = Bn::from_be(e)?;
        // SAFETY: fresh RSA object, freed by `Rsa` on every path.
        let rsa = rsa_ptr(unsafe { sys::RSA_new() })?;
        let bits = c_int::try_from(bits).map_err(|_| Failed)?;
        // SAFETY: valid RSA and BIGNUM; no callback.
        ok(unsafe { sys::RSA_generate_key_ex(rsa.0.as_ptr(), bits, e.as_ptr(), null_mut()) })?;
        Ok(rsa)
    }

    pub fn public(n: &[u8], e: &[u8]) -> R<Rsa> {
        let (n, e) = (Bn::from_be(n)?, Bn::from_be(e)?);
        // SAFETY: the BIGNUMs are copied into the new key.
        rsa_ptr(unsafe { sys::RSA_new_public_key(n.as_ptr(), e.as_ptr()) })
    }

    /// A private key from components; the CRT parts are used when all five
    /// are present. Keys from outside are checked for consistency (`check`);
    /// keys this module stored itself are not checked again on every use.
    pub fn private(parts: &RsaParts, check: bool) -> R<Rsa> {
        let bn = |b: &[u8]| Bn::from_be(b);
        let (n, e, d) = (bn(&parts.n)?, bn(&parts.e)?, bn(&parts.d)?);
        let crt = [&parts.p, &parts.q, &parts.dp, &parts.dq, &parts.qinv].iter().all(|v| !v.is_empty());
        let rsa = if crt {
            let (p, q, dp, dq, qi) = (bn(&parts.p)?, bn(&parts.q)?, bn(&parts.dp)?, bn(&parts.dq)?, bn(&parts.qinv)?);
            // SAFETY: all BIGNUMs are valid and copied into the new key.
            rsa_ptr(unsafe {
                sys::RSA_new_private_key(
                    n.as_ptr(),
                    e.as_ptr(),
                    d.as_ptr(),
                    p.as_ptr(),
                    q.as_ptr(),
                    dp.as_ptr(),
                    dq.as_ptr(),
                    qi.as_ptr(),
                )
            })?
        } else {
            // SAFETY: as above.
            rsa_ptr(unsafe { sys::RSA_new_private_key_no_crt(n.as_ptr(), e.as_ptr(), d.as_ptr()) })?
        };
        if check {
            // SAFETY: valid key.
            ok(unsafe { sys::RSA_check_key(rsa.0.as_ptr()) })?;
        }
        Ok(rsa)
    }

    /// Takes over a reference returned by aws-lc.
    pub(super) fn adopt(p: *mut sys::RSA) -> R<Rsa> {
        rsa_ptr(p)
    }

    pub(super) fn as_ptr(&self) -> *mut sys::RSA {
        self.0.as_ptr()
    }

    pub fn parts(&self) -> RsaParts {
        let k = self.0.as_ptr();
        let (mut n, mut e, mut d) = (null(), null(), null());
        let (mut p, mut q, mut dp, mut dq, mut qi) = (null(), null(), null(), null(), null());
        // SAFETY: getters fill borrowed pointers (or NULL) owned by `k`.
        unsafe {
            sys::RSA_get0_key(k, &mut n, &mut e, &mut d);
            sys::RSA_get0_factors(k, &mut p, &mut q);
            sys::RSA_get0_crt_params(k, &mut dp, &mut dq, &mut qi);
        }
        RsaParts {
            n: to_be(n),
            e: to_be(e),
            d: to_be(d),
            p: to_be(p),
            q: to_be(q),
            dp: to_be(dp),
            dq: to_be(dq),
            qinv: to_be(qi),
        }
    }

    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: valid key.
        unsafe { sys::RSA_size(self.0.as_ptr()) as usize }
    }

    pub fn bits(&self) -> usize {
        // SAFETY: valid key.
        unsafe { sys::RSA_bits(self.0.as_ptr()) as usize }
    }

    /// The private-key operation with PKCS#1 v1.5 type 1 padding or none.
    pub fn private_op(&self, data: &[u8], pad: bool) -> R<Zeroizing<Vec<u8>>> {
        let padding = if pad { sys::RSA_PKCS1_PADDING } else { sys::RSA_NO_PADDING };
        // SAFETY: output has RSA_size bytes, the maximum the call writes.
        run(self.size(), |n, out| unsafe {
            sys::RSA_sign_raw(self.0.as_ptr(), n, out, self.size(), data.as_ptr(), data.len(), padding)
        })
    }

    /// The public-key operation, removing PKCS#1 type 1 padding or none.
    pub fn public_op(&self, data: &[u8], pad: bool) -> R<Zeroizing<Vec<u8>>> {
        let padding = if pad { sys::RSA_PKCS1_PADDING } else { sys::RSA_NO_PADDING };
        // SAFETY: as above.
        run(self.size(), |n, out| unsafe {
            sys::RSA_verify_raw(self.0.as_ptr(), n, out, self.size(), data.as_ptr(), data.len(), padding)
        })
    }

    /// PKCS#1 v1.5 signature over a digest (the DigestInfo is added here).
    pub fn sign_digest(&self, md: Md, digest: &[u8]) -> R<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut n: std::os::raw::c_uint = 0;
        // SAFETY: `out` has RSA_size bytes; the digest length is passed.
        ok(unsafe {
            sys::RSA_sign(
                sys::EVP_MD_type(evp_md(md)),
                digest.as_ptr(),
                digest.len(),
                out.as_mut_ptr(),
                &mut n,
                self.0.as_ptr(),
            )
        })?;
        out.truncate(n as usize);
        Ok(out)
    }

    pub fn verify_digest(&self, md: Md, digest: &[u8], sig: &[u8]) -> bool {
        // SAFETY: lengths passed with their buffers.
        unsafe {
            sys::RSA_verify(
                sys::EVP_MD_type(evp_md(md)),
                digest.as_ptr(),
                digest.len(),
                sig.as_ptr(),
                sig.len(),
                self.0.as_ptr(),
            ) == 1
        }
    }

    pub fn sign_pss(&self, md: Md, mgf: Md, salt_len: usize, digest: &[u8]) -> R<Vec<u8>> {
        let salt = c_int::try_from(salt_len).map_err(|_| Failed)?;
        // SAFETY: output has RSA_size bytes.
        let out = run(self.size(), |n, out| unsafe {
            sys::RSA_sign_pss_mgf1(
                self.0.as_ptr(),
                n,
                out,
                self.size(),
                digest.as_ptr(),
                digest.len(),
                evp_md(md),
                evp_md(mgf),
                salt,
            )
        })?;
        Ok(out.to_vec())
    }

    pub fn verify_pss(&self, md: Md, mgf: Md, salt_len: usize, digest: &[u8], sig: &[u8]) -> bool {
        let Ok(salt) = c_int::try_from(salt_len) else { return false };
        // SAFETY: lengths passed with their buffers.
        unsafe {
            sys::RSA_verify_pss_mgf1(
                self.0.as_ptr(),
                digest.as_ptr(),
                digest.len(),
                evp_md(md),
                evp_md(mgf),
                salt,
                sig.as_ptr(),
                sig.len(),
            ) == 1
        }
    }

    /// PKCS#1 v1.5 (type 2) encryption.
    pub fn encrypt_pkcs1(&self, msg: &[u8]) -> R<Vec<u8>> {
        // SAFETY: output has RSA_size bytes.
        let out = run(self.size(), |n, out| unsafe {
            sys::RSA_encrypt(self.0.as_ptr(), n, out, self.size(), msg.as_ptr(), msg.len(), sys::RSA_PKCS1_PADDING)
        })?;
        Ok(out.to_vec())
    }

    /// PKCS#1 v1.5 decryption; the padding check is aws-lc's constant-time
    /// one and every failure looks the same.
    pub fn decrypt_pkcs1(&self, ct: &[u8]) -> R<Zeroizing<Vec<u8>>> {
        // SAFETY: output has RSA_size bytes.
        run(self.size(), |n, out| unsafe {
            sys::RSA_decrypt(self.0.as_ptr(), n, out, self.size(), ct.as_ptr(), ct.len(), sys::RSA_PKCS1_PADDING)
        })
    }
}

/// FIPS 186-5 A.1.3-style generation for sizes aws-lc refuses: p and q
/// of ceil/floor(bits/2) bits with their top two bits set (so n has
/// exactly `bits` bits), gcd(e, p−1) = gcd(e, q−1) = 1,
/// |p − q| > 2^(bits/2 − 100) and d > 2^(bits/2); the result passes
/// RSA_check_key.
fn generate_any(bits: u32, e_bytes: &[u8]) -> R<Rsa> {
    let ctx = BnCtx::new()?;
    let e = Bn::from_be(e_bytes)?;
    // The caller checked e: odd, > 1, at most 64 bits.
    // SAFETY: valid BIGNUM.
    let e_word = unsafe { sys::BN_get_word(e.as_ptr()) };
    if e.bits() > 64 || e_word < 3 || e_word % 2 == 0 {
        return Err(Failed);
    }
    let (pbits, qbits) = (bits.div_ceil(2), bits / 2);
    for _ in 0..64 {
        let p = prime(pbits, &e, &ctx)?;
        let q = prime(qbits, &e, &ctx)?;
        let mut diff = Bn::new()?;
        let mut n = Bn::new()?;
        // SAFETY: valid BIGNUMs and context; outputs are distinct from inputs.
        unsafe {
            ok(sys::BN_sub(diff.as_mut(), p.as_ptr(), q.as_ptr()))?;
            ok(sys::BN_mul(n.as_mut(), p.as_ptr(), q.as_ptr(), ctx.as_ptr()))?;
        }
        // BN_num_bits ignores the sign: this is |p − q|.
        if diff.bits() <= bits / 2 - 100 || n.bits() != bits {
            continue;
        }
        let (mut p1, mut q1) = (copy(&p)?, copy(&q)?);
        let (mut g, mut phi, mut lambda, mut rem) = (Bn::new()?, Bn::new()?, Bn::new()?, Bn::new()?);
        // SAFETY: valid BIGNUMs and context; outputs are distinct from inputs.
        unsafe {
            ok(sys::BN_sub_word(p1.as_mut(), 1))?;
            ok(sys::BN_sub_word(q1.as_mut(), 1))?;
            ok(sys::BN_gcd(g.as_mut(), p1.as_ptr(), q1.as_ptr(), ctx.as_ptr()))?;
            ok(sys::BN_mul(phi.as_mut(), p1.as_ptr(), q1.as_ptr(), ctx.as_ptr()))?;
            ok(sys::BN_div(lambda.as_mut(), rem.as_mut(), phi.as_ptr(), g.as_ptr(), ctx.as_ptr()))?;
        }
        // d = e⁻¹ mod λ without a variable-time inverse modulo the secret
        // λ: with t = −λ⁻¹ mod e (e is public), e divides 1 + λ·t and
        // d = (1 + λ·t) / e.
        // SAFETY: valid BIGNUM; e_word is not zero.
        let lambda_mod_e = unsafe { sys::BN_mod_word(lambda.as_ptr(), e_word) };
        let Some(inv) = inverse_mod(lambda_mod_e, e_word) else { continue };
        let t = e_word - inv;
        let mut d = copy(&lambda)?;
        // SAFETY: valid BIGNUM, in-place word operations.
        let r = unsafe {
            ok(sys::BN_mul_word(d.as_mut(), t))?;
            ok(sys::BN_add_word(d.as_mut(), 1))?;
            sys::BN_div_word(d.as_mut(), e_word)
        };
        if r != 0 || d.bits() <= bits / 2 {
            continue;
        }
        let (mut dp, mut dq, mut qr, mut qinv, mut p2) = (Bn::new()?, Bn::new()?, Bn::new()?, Bn::new()?, copy(&p)?);
        // SAFETY: valid BIGNUMs and context; outputs are distinct from
        // inputs. q⁻¹ mod p is q^(p−2) mod p (p prime), in constant time.
        unsafe {
            ok(sys::BN_div(null_mut(), dp.as_mut(), d.as_ptr(), p1.as_ptr(), ctx.as_ptr()))?;
            ok(sys::BN_div(null_mut(), dq.as_mut(), d.as_ptr(), q1.as_ptr(), ctx.as_ptr()))?;
            ok(sys::BN_nnmod(qr.as_mut(), q.as_ptr(), p.as_ptr(), ctx.as_ptr()))?;
            ok(sys::BN_sub_word(p2.as_mut(), 2))?;
            ok(sys::BN_mod_exp_mont_consttime(
                qinv.as_mut(),
                qr.as_ptr(),
                p2.as_ptr(),
                p.as_ptr(),
                ctx.as_ptr(),
                null(),
            ))?;
        }
        let parts = RsaParts {
            n: n.to_vec(),
            e: e.to_vec(),
            d: d.to_vec(),
            p: p.to_vec(),
            q: q.to_vec(),
            dp: dp.to_vec(),
            dq: dq.to_vec(),
            qinv: qinv.to_vec(),
        };
        return Rsa::private(&parts, true);
    }
    Err(Failed)
}

fn copy(b: &Bn) -> R<Bn> {
    // SAFETY: valid BIGNUM; a new copy, NULL checked.
    NonNull::new(unsafe { sys::BN_dup(b.as_ptr()) }).map(Bn).ok_or(Failed)
}

/// A prime of exactly `bits` bits with its top two bits set and
/// gcd(e, prime − 1) = 1.
fn prime(bits: u32, e: &Bn, ctx: &BnCtx) -> R<Bn> {
    let nbits = c_int::try_from(bits).map_err(|_| Failed)?;
    for _ in 0..1000 {
        let mut p = Bn::new()?;
        let mut g = Bn::new()?;
        // SAFETY: valid BIGNUMs and context; no callback, no congruence
        // condition (aws-lc then sets the top two bits itself).
        unsafe {
            ok(sys::BN_generate_prime_ex(p.as_mut(), nbits, 0, null(), null(), null_mut()))?;
        }
        // SAFETY: valid BIGNUM; bit indexes are below `bits`.
        let top_two = unsafe { sys::BN_is_bit_set(p.as_ptr(), nbits - 1) & sys::BN_is_bit_set(p.as_ptr(), nbits - 2) };
        if p.bits() != bits || top_two != 1 {
            continue;
        }
        let mut p1 = copy(&p)?;
        // SAFETY: valid BIGNUMs and context.
        unsafe {
            ok(sys::BN_sub_word(p1.as_mut(), 1))?;
            ok(sys::BN_gcd(g.as_mut(), p1.as_ptr(), e.as_ptr(), ctx.as_ptr()))?;
        }
        // SAFETY: valid BIGNUM.
        if unsafe { sys::BN_is_one(g.as_ptr()) } == 1 {
            return Ok(p);
        }
    }
    Err(Failed)
}

/// a⁻¹ mod m for word-sized values (None when not invertible).
fn inverse_mod(a: u64, m: u64) -> Option<u64> {
    let (mut r0, mut r1) = (i128::from(m), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if r0 != 1 {
        return None;
    }
    u64::try_from(t0.rem_euclid(i128::from(m))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_sign_verify_and_rebuild_from_parts() {
        let k = Rsa::generate(2048, &[1, 0, 1]).unwrap();
        assert_eq!(k.size(), 256);
        let digest = [7u8; 32];
        let sig = k.sign_digest(Md::Sha256, &digest).unwrap();
        let parts = k.parts();
        assert_eq!(&parts.e[..], &[1, 0, 1]);
        let public = Rsa::public(&parts.n, &parts.e).unwrap();
        assert!(public.verify_digest(Md::Sha256, &digest, &sig));
        assert!(!public.verify_digest(Md::Sha256, &[8u8; 32], &sig));
        let again = Rsa::private(&parts, true).unwrap();
        let pss = again.sign_pss(Md::Sha256, Md::Sha1, 32, &digest).unwrap();
        assert!(public.verify_pss(Md::Sha256, Md::Sha1, 32, &digest, &pss));
        assert!(!public.verify_pss(Md::Sha256, Md::Sha256, 32, &digest, &pss));
        let ct = public.encrypt_pkcs1(b"secret").unwrap();
        assert_eq!(&again.decrypt_pkcs1(&ct).unwrap()[..], b"secret");
    }

    #[test]
    fn any_size_has_exactly_its_bits() {
        for (bits, e) in [(1032u32, &[1u8, 0, 1][..]), (1100, &[3][..]), (1537, &[1, 0, 1][..])] {
            let k = Rsa::generate(bits, e).unwrap();
            assert_eq!(k.bits(), bits as usize);
            let parts = k.parts();
            assert_eq!(&parts.e[..], e);
            let public = Rsa::public(&parts.n, &parts.e).unwrap();
            let sig = k.sign_digest(Md::Sha256, &[9u8; 32]).unwrap();
            assert_eq!(sig.len(), (bits as usize).div_ceil(8));
            assert!(public.verify_digest(Md::Sha256, &[9u8; 32], &sig));
            let ct = public.encrypt_pkcs1(b"data").unwrap();
            assert_eq!(&k.decrypt_pkcs1(&ct).unwrap()[..], b"data");
        }
        assert!(Rsa::generate(1016, &[1, 0, 1]).is_err());
        assert!(Rsa::generate(16392, &[1, 0, 1]).is_err());
        assert_eq!(inverse_mod(3, 65537), Some(21846));
        assert_eq!(inverse_mod(6, 9), None);
    }

    #[test]
    fn exponent_3_is_honoured() {
        let k = Rsa::generate(2048, &[3]).unwrap();
        assert_eq!(&k.parts().e[..], &[3]);
    }
}
