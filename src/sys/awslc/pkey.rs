//! EVP_PKEY: PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo encodings of
//! our keys, parsing PKCS#8 back into them, and RSA-OAEP (an EVP_PKEY
//! operation).

use std::mem::MaybeUninit;
use std::ptr::{null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::ec::{Curve, EcKey};
use super::rsa::Rsa;
use super::{evp_md, ok, Failed, Md, R};

pub(super) struct Pkey(NonNull<sys::EVP_PKEY>);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) }
    }
}

fn new_pkey() -> R<Pkey> {
    // SAFETY: a fresh, empty EVP_PKEY.
    NonNull::new(unsafe { sys::EVP_PKEY_new() }).map(Pkey).ok_or(Failed)
}

impl Pkey {
    pub(super) fn from_rsa(k: &Rsa) -> R<Pkey> {
        let p = new_pkey()?;
        // SAFETY: set1 takes its own reference to the RSA key.
        ok(unsafe { sys::EVP_PKEY_set1_RSA(p.0.as_ptr(), k.as_ptr()) })?;
        Ok(p)
    }

    pub(super) fn from_ec(k: &EcKey) -> R<Pkey> {
        let p = new_pkey()?;
        // SAFETY: set1 takes its own reference to the EC key.
        ok(unsafe { sys::EVP_PKEY_set1_EC_KEY(p.0.as_ptr(), k.as_ptr()) })?;
        Ok(p)
    }

    fn raw(id: i32, private: bool, bytes: &[u8]) -> R<Pkey> {
        // SAFETY: reads `bytes.len()` bytes.
        let p = unsafe {
            if private {
                sys::EVP_PKEY_new_raw_private_key(id, null_mut(), bytes.as_ptr(), bytes.len())
            } else {
                sys::EVP_PKEY_new_raw_public_key(id, null_mut(), bytes.as_ptr(), bytes.len())
            }
        };
        NonNull::new(p).map(Pkey).ok_or(Failed)
    }

    pub(super) fn as_ptr(&self) -> *mut sys::EVP_PKEY {
        self.0.as_ptr()
    }

    fn marshal(&self, private: bool) -> R<Zeroizing<Vec<u8>>> {
        let mut cbb = MaybeUninit::<sys::CBB>::zeroed();
        // SAFETY: CBB_init on zeroed storage; CBB_cleanup on every failure;
        // CBB_finish hands us an OPENSSL_malloc buffer we copy and free.
        unsafe {
            ok(sys::CBB_init(cbb.as_mut_ptr(), 0))?;
            let rc = if private {
                sys::EVP_marshal_private_key(cbb.as_mut_ptr(), self.0.as_ptr())
            } else {
                sys::EVP_marshal_public_key(cbb.as_mut_ptr(), self.0.as_ptr())
            };
            let mut out: *mut u8 = null_mut();
            let mut len = 0usize;
            if rc != 1 || sys::CBB_finish(cbb.as_mut_ptr(), &mut out, &mut len) != 1 {
                sys::CBB_cleanup(cbb.as_mut_ptr());
                return Err(Failed);
            }
            let v = Zeroizing::new(std::slice::from_raw_parts(out, len).to_vec());
            // OPENSSL_free wipes the buffer before releasing it.
            sys::OPENSSL_free(out as *mut _);
            Ok(v)
        }
    }
}

/// A private key as PKCS#8 or public key as SPKI, by kind.
pub enum KeyRef<'a> {
    Rsa(&'a Rsa),
    Ec(&'a EcKey),
    Ed25519(&'a [u8]),
    X25519(&'a [u8]),
}

fn pkey_of(k: &KeyRef<'_>, private: bool) -> R<Pkey> {
    match k {
        KeyRef::Rsa(r) => Pkey::from_rsa(r),
        KeyRef::Ec(e) => Pkey::from_ec(e),
        KeyRef::Ed25519(b) => Pkey::raw(sys::EVP_PKEY_ED25519, private, b),
        KeyRef::X25519(b) => Pkey::raw(sys::EVP_PKEY_X25519, private, b),
    }
}

/// PKCS#8 PrivateKeyInfo. For Edwards/Montgomery keys pass the private bytes.
pub fn pkcs8(k: KeyRef<'_>) -> R<Zeroizing<Vec<u8>>> {
    pkey_of(&k, true)?.marshal(true)
}

/// SubjectPublicKeyInfo. For Edwards/Montgomery keys pass the public bytes.
pub fn spki(k: KeyRef<'_>) -> R<Vec<u8>> {
    Ok(pkey_of(&k, false)?.marshal(false)?.to_vec())
}

/// A private key parsed from PKCS#8.
pub enum Parsed {
    Rsa(Rsa),
    Ec(Curve, EcKey),
    Ed25519(Zeroizing<Vec<u8>>),
    X25519(Zeroizing<Vec<u8>>),
}

pub fn parse_pkcs8(der: &[u8]) -> R<Parsed> {
    let mut cbs = MaybeUninit::<sys::CBS>::zeroed();
    // SAFETY: the CBS borrows `der` for the duration of the parse.
    let p = unsafe {
        sys::CBS_init(cbs.as_mut_ptr(), der.as_ptr(), der.len());
        sys::EVP_parse_private_key(cbs.as_mut_ptr())
    };
    let pkey = NonNull::new(p).map(Pkey).ok_or(Failed)?;
    // SAFETY: the CBS was initialised above; trailing bytes are an error.
    if unsafe { sys::CBS_len(cbs.as_ptr()) } != 0 {
        return Err(Failed);
    }
    let raw_private = || -> R<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; 32]);
        let mut n = out.len();
        // SAFETY: `out` has `n` bytes.
        ok(unsafe { sys::EVP_PKEY_get_raw_private_key(pkey.as_ptr(), out.as_mut_ptr(), &mut n) })?;
        out.truncate(n);
        Ok(out)
    };
    // SAFETY: valid EVP_PKEY; get1 returns new references we take over.
    match unsafe { sys::EVP_PKEY_id(pkey.as_ptr()) } {
        // SAFETY: `pkey` is a valid EVP_PKEY holding an RSA key; get1 returns a
        // new reference that `adopt` takes over (NULL checked).
        sys::EVP_PKEY_RSA => Ok(Parsed::Rsa(Rsa::adopt(unsafe { sys::EVP_PKEY_get1_RSA(pkey.as_ptr()) })?)),
        sys::EVP_PKEY_EC => {
            // SAFETY: `pkey` is a valid EVP_PKEY holding an EC key; get1 returns
            // a new reference that `adopt` takes over (NULL checked).
            let k = EcKey::adopt(unsafe { sys::EVP_PKEY_get1_EC_KEY(pkey.as_ptr()) })?;
            Ok(Parsed::Ec(k.curve()?, k))
        }
        sys::EVP_PKEY_ED25519 => Ok(Parsed::Ed25519(raw_private()?)),
        sys::EVP_PKEY_X25519 => Ok(Parsed::X25519(raw_private()?)),
        _ => Err(Failed),
    }
}

/// RSA-OAEP encryption (`md` the label hash, `mgf` MGF1's).
pub fn oaep_encrypt(k: &Rsa, md: Md, mgf: Md, label: &[u8], msg: &[u8]) -> R<Vec<u8>> {
    Ok(oaep(k, true, md, mgf, label, msg)?.to_vec())
}

/// RSA-OAEP decryption.
pub fn oaep_decrypt(k: &Rsa, md: Md, mgf: Md, label: &[u8], ct: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    oaep(k, false, md, mgf, label, ct)
}

fn oaep(k: &Rsa, encrypt: bool, md: Md, mgf: Md, label: &[u8], input: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    let pkey = Pkey::from_rsa(k)?;
    // SAFETY: a context over our EVP_PKEY, freed by `Ctx`.
    let ctx = Ctx(NonNull::new(unsafe { sys::EVP_PKEY_CTX_new(pkey.as_ptr(), null_mut()) }).ok_or(Failed)?);
    let c = ctx.0.as_ptr();
    // SAFETY: valid context; the digests are static tables. The label is
    // copied into OPENSSL_malloc memory whose ownership passes to `c`.
    unsafe {
        ok(if encrypt { sys::EVP_PKEY_encrypt_init(c) } else { sys::EVP_PKEY_decrypt_init(c) })?;
        ok(sys::EVP_PKEY_CTX_set_rsa_padding(c, sys::RSA_PKCS1_OAEP_PADDING))?;
        ok(sys::EVP_PKEY_CTX_set_rsa_oaep_md(c, evp_md(md)))?;
        ok(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(c, evp_md(mgf)))?;
        if !label.is_empty() {
            let buf = sys::OPENSSL_malloc(label.len()) as *mut u8;
            if buf.is_null() {
                return Err(Failed);
            }
            std::ptr::copy_nonoverlapping(label.as_ptr(), buf, label.len());
            if sys::EVP_PKEY_CTX_set0_rsa_oaep_label(c, buf, label.len()) != 1 {
                sys::OPENSSL_free(buf as *mut _);
                return Err(Failed);
            }
        }
    }
    let max = k.size();
    // SAFETY: `out` holds `max` = RSA_size bytes and `n` says so.
    super::rsa::run(max, |n, out| unsafe {
        *n = max;
        if encrypt {
            sys::EVP_PKEY_encrypt(c, out, n, input.as_ptr(), input.len())
        } else {
            sys::EVP_PKEY_decrypt(c, out, n, input.as_ptr(), input.len())
        }
    })
}

struct Ctx(NonNull<sys::EVP_PKEY_CTX>);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: we own the context.
        unsafe { sys::EVP_PKEY_CTX_free(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oaep_round_trips_and_binds_the_label() {
        let k = Rsa::generate(2048, &[1, 0, 1]).unwrap();
        let parts = k.parts();
        let public = Rsa::public(&parts.n, &parts.e).unwrap();
        let ct = oaep_encrypt(&public, Md::Sha256, Md::Sha256, b"label", b"secret").unwrap();
        assert_eq!(&oaep_decrypt(&k, Md::Sha256, Md::Sha256, b"label", &ct).unwrap()[..], b"secret");
        assert!(oaep_decrypt(&k, Md::Sha256, Md::Sha256, b"other", &ct).is_err());
        assert!(oaep_decrypt(&k, Md::Sha1, Md::Sha1, b"label", &ct).is_err());
    }
}
