//! RSA over aws-lc-sys: key generation with any public exponent, keys from
//! components, raw and padded private/public operations, PSS and OAEP with
//! separate MGF1 digests and labels. The safe aws-lc-rs API signs only
//! whole messages with a fixed exponent, which PKCS#11 needs beyond.

use std::os::raw::c_int;
use std::ptr::{null, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::bn::{to_be, Bn};
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
    pub fn generate(bits: u32, e: &[u8]) -> R<Rsa> {
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
    fn exponent_3_is_honoured() {
        let k = Rsa::generate(2048, &[3]).unwrap();
        assert_eq!(&k.parts().e[..], &[3]);
    }
}
