//! ML-KEM (FIPS 203) and ML-DSA (FIPS 204) over aws-lc's own functions
//! (`crypto/fipsmodule/ml_kem/ml_kem.h`, `ml_dsa/ml_dsa.h`): aws-lc-sys
//! does not bind them, its EVP layer takes no signing randomness (so no
//! deterministic signature), no message prefix (so no HashML-DSA) and no
//! key-generation seed for ML-DSA. The symbols carry aws-lc-sys's version
//! prefix; a new aws-lc-sys fails to link here until this is updated.
//!
//! Every buffer is sized from the parameter set before a call, and every
//! input is checked against the length the set needs.

use super::{Failed, R};

/// ML-KEM parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kem {
    K512,
    K768,
    K1024,
}

impl Kem {
    pub const fn public_len(self) -> usize {
        match self {
            Kem::K512 => 800,
            Kem::K768 => 1184,
            Kem::K1024 => 1568,
        }
    }
    pub const fn private_len(self) -> usize {
        match self {
            Kem::K512 => 1632,
            Kem::K768 => 2400,
            Kem::K1024 => 3168,
        }
    }
    pub const fn ciphertext_len(self) -> usize {
        match self {
            Kem::K512 => 768,
            Kem::K768 => 1088,
            Kem::K1024 => 1568,
        }
    }
}

/// The ML-KEM key-generation seed (d ‖ z) and the shared secret length.
pub const KEM_SEED: usize = 64;
pub const KEM_SHARED: usize = 32;
/// The encapsulation randomness m.
pub const KEM_ENCAPS_SEED: usize = 32;

/// ML-DSA parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dsa {
    D44,
    D65,
    D87,
}

impl Dsa {
    pub const fn public_len(self) -> usize {
        match self {
            Dsa::D44 => 1312,
            Dsa::D65 => 1952,
            Dsa::D87 => 2592,
        }
    }
    pub const fn private_len(self) -> usize {
        match self {
            Dsa::D44 => 2560,
            Dsa::D65 => 4032,
            Dsa::D87 => 4896,
        }
    }
    pub const fn sig_len(self) -> usize {
        match self {
            Dsa::D44 => 2420,
            Dsa::D65 => 3309,
            Dsa::D87 => 4627,
        }
    }
}

/// The ML-DSA key-generation seed ξ, the signing randomness and μ.
pub const DSA_SEED: usize = 32;
pub const DSA_RND: usize = 32;
pub const DSA_MU: usize = 64;

mod ffi {
    use std::os::raw::c_int;
    macro_rules! kem {
        ($($kp:ident $enc:ident $dec:ident $chk:ident: $p:literal;)*) => { extern "C" { $(
            #[link_name = concat!("aws_lc_0_47_0_ml_kem_", $p, "_keypair_deterministic")]
            pub fn $kp(pk: *mut u8, pk_len: *mut usize, sk: *mut u8, sk_len: *mut usize, seed: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_kem_", $p, "_encapsulate_deterministic")]
            pub fn $enc(ct: *mut u8, ct_len: *mut usize, ss: *mut u8, ss_len: *mut usize, pk: *const u8, seed: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_kem_", $p, "_decapsulate")]
            pub fn $dec(ss: *mut u8, ss_len: *mut usize, ct: *const u8, sk: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_kem_", $p, "_check_pk")]
            pub fn $chk(pk: *const u8, len: usize) -> c_int;
        )* } };
    }
    kem! {
        kem512_keypair kem512_encaps kem512_decaps kem512_check_pk: "512";
        kem768_keypair kem768_encaps kem768_decaps kem768_check_pk: "768";
        kem1024_keypair kem1024_encaps kem1024_decaps kem1024_check_pk: "1024";
    }
    macro_rules! dsa {
        ($($kp:ident $pk:ident $sign:ident $mu_sign:ident $verify:ident $mu_verify:ident: $p:literal;)*) => { extern "C" { $(
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_", $p, "_keypair_internal")]
            pub fn $kp(pk: *mut u8, sk: *mut u8, seed: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_", $p, "_pack_pk_from_sk")]
            pub fn $pk(pk: *mut u8, sk: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_", $p, "_sign_internal")]
            pub fn $sign(sk: *const u8, sig: *mut u8, sig_len: *mut usize, m: *const u8, m_len: usize, pre: *const u8, pre_len: usize, rnd: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_extmu_", $p, "_sign_internal")]
            pub fn $mu_sign(sk: *const u8, sig: *mut u8, sig_len: *mut usize, mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize, rnd: *const u8) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_", $p, "_verify_internal")]
            pub fn $verify(pk: *const u8, sig: *const u8, sig_len: usize, m: *const u8, m_len: usize, pre: *const u8, pre_len: usize) -> c_int;
            #[link_name = concat!("aws_lc_0_47_0_ml_dsa_extmu_", $p, "_verify_internal")]
            pub fn $mu_verify(pk: *const u8, sig: *const u8, sig_len: usize, mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize) -> c_int;
        )* } };
    }
    dsa! {
        dsa44_keypair dsa44_pk dsa44_sign dsa44_mu_sign dsa44_verify dsa44_mu_verify: "44";
        dsa65_keypair dsa65_pk dsa65_sign dsa65_mu_sign dsa65_verify dsa65_mu_verify: "65";
        dsa87_keypair dsa87_pk dsa87_sign dsa87_mu_sign dsa87_verify dsa87_mu_verify: "87";
    }
}

/// ML-KEM functions return 0 on success.
fn kem_ok(rc: std::os::raw::c_int) -> R<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Failed)
    }
}

/// ML-KEM.KeyGen_internal(d, z) from the 64-byte seed d ‖ z: (ek, dk).
pub fn kem_keypair(set: Kem, seed: &[u8]) -> R<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    if seed.len() != KEM_SEED {
        return Err(Failed);
    }
    let (mut pk, mut sk) = (vec![0u8; set.public_len()], zeroize::Zeroizing::new(vec![0u8; set.private_len()]));
    let (mut pl, mut sl) = (pk.len(), sk.len());
    let f = match set {
        Kem::K512 => ffi::kem512_keypair,
        Kem::K768 => ffi::kem768_keypair,
        Kem::K1024 => ffi::kem1024_keypair,
    };
    // SAFETY: the buffers hold the set's key lengths (passed in pl/sl, which
    // the call checks), the seed is KEM_SEED bytes.
    kem_ok(unsafe { f(pk.as_mut_ptr(), &mut pl, sk.as_mut_ptr(), &mut sl, seed.as_ptr()) })?;
    if pl != pk.len() || sl != sk.len() {
        return Err(Failed);
    }
    Ok((pk, sk))
}

/// Whether `pk` is a well-formed encapsulation key of the set (FIPS 203
/// §7.2's modulus check).
pub fn kem_check_public(set: Kem, pk: &[u8]) -> R<()> {
    if pk.len() != set.public_len() {
        return Err(Failed);
    }
    let f = match set {
        Kem::K512 => ffi::kem512_check_pk,
        Kem::K768 => ffi::kem768_check_pk,
        Kem::K1024 => ffi::kem1024_check_pk,
    };
    // SAFETY: reads exactly pk.len() bytes.
    kem_ok(unsafe { f(pk.as_ptr(), pk.len()) })
}

/// ML-KEM.Encaps_internal(ek, m): (ciphertext, shared secret).
pub fn kem_encapsulate(set: Kem, pk: &[u8], m: &[u8]) -> R<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    if pk.len() != set.public_len() || m.len() != KEM_ENCAPS_SEED {
        return Err(Failed);
    }
    let (mut ct, mut ss) = (vec![0u8; set.ciphertext_len()], zeroize::Zeroizing::new(vec![0u8; KEM_SHARED]));
    let (mut cl, mut sl) = (ct.len(), ss.len());
    let f = match set {
        Kem::K512 => ffi::kem512_encaps,
        Kem::K768 => ffi::kem768_encaps,
        Kem::K1024 => ffi::kem1024_encaps,
    };
    // SAFETY: output buffers of the lengths passed; pk is the set's length,
    // m is 32 bytes.
    kem_ok(unsafe { f(ct.as_mut_ptr(), &mut cl, ss.as_mut_ptr(), &mut sl, pk.as_ptr(), m.as_ptr()) })?;
    if cl != ct.len() || sl != ss.len() {
        return Err(Failed);
    }
    Ok((ct, ss))
}

/// ML-KEM.Decaps(dk, c): the shared secret (implicit rejection: a bad
/// ciphertext of the right length gives a pseudo-random secret).
pub fn kem_decapsulate(set: Kem, sk: &[u8], ct: &[u8]) -> R<zeroize::Zeroizing<Vec<u8>>> {
    if sk.len() != set.private_len() || ct.len() != set.ciphertext_len() {
        return Err(Failed);
    }
    let mut ss = zeroize::Zeroizing::new(vec![0u8; KEM_SHARED]);
    let mut sl = ss.len();
    let f = match set {
        Kem::K512 => ffi::kem512_decaps,
        Kem::K768 => ffi::kem768_decaps,
        Kem::K1024 => ffi::kem1024_decaps,
    };
    // SAFETY: ss has sl bytes; ct and sk have the set's lengths.
    kem_ok(unsafe { f(ss.as_mut_ptr(), &mut sl, ct.as_ptr(), sk.as_ptr()) })?;
    if sl != KEM_SHARED {
        return Err(Failed);
    }
    Ok(ss)
}

/// ML-DSA.KeyGen_internal(ξ): (pk, sk).
pub fn dsa_keypair(set: Dsa, seed: &[u8]) -> R<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    if seed.len() != DSA_SEED {
        return Err(Failed);
    }
    let (mut pk, mut sk) = (vec![0u8; set.public_len()], zeroize::Zeroizing::new(vec![0u8; set.private_len()]));
    let f = match set {
        Dsa::D44 => ffi::dsa44_keypair,
        Dsa::D65 => ffi::dsa65_keypair,
        Dsa::D87 => ffi::dsa87_keypair,
    };
    // SAFETY: pk and sk hold the set's lengths; the seed is 32 bytes.
    super::ok(unsafe { f(pk.as_mut_ptr(), sk.as_mut_ptr(), seed.as_ptr()) })?;
    Ok((pk, sk))
}

/// The public key an expanded private key carries (ρ and t1 recomputed).
pub fn dsa_public_from_private(set: Dsa, sk: &[u8]) -> R<Vec<u8>> {
    if sk.len() != set.private_len() {
        return Err(Failed);
    }
    let mut pk = vec![0u8; set.public_len()];
    let f = match set {
        Dsa::D44 => ffi::dsa44_pk,
        Dsa::D65 => ffi::dsa65_pk,
        Dsa::D87 => ffi::dsa87_pk,
    };
    // SAFETY: pk holds the set's public length, sk the private length.
    super::ok(unsafe { f(pk.as_mut_ptr(), sk.as_ptr()) })?;
    Ok(pk)
}

/// What is signed: the message with its FIPS 204 prefix (M' = pre ‖ M),
/// or an external μ (64 bytes, §6.2).
#[derive(Clone, Copy)]
pub enum DsaInput<'a> {
    Message { pre: &'a [u8], msg: &'a [u8] },
    Mu(&'a [u8]),
}

/// ML-DSA.Sign_internal(sk, M', rnd).
pub fn dsa_sign(set: Dsa, sk: &[u8], input: DsaInput, rnd: &[u8; DSA_RND]) -> R<Vec<u8>> {
    if sk.len() != set.private_len() {
        return Err(Failed);
    }
    let mut sig = vec![0u8; set.sig_len()];
    let mut len = sig.len();
    let rc = match input {
        DsaInput::Message { pre, msg } => {
            let f = match set {
                Dsa::D44 => ffi::dsa44_sign,
                Dsa::D65 => ffi::dsa65_sign,
                Dsa::D87 => ffi::dsa87_sign,
            };
            // SAFETY: sig holds the set's signature length; every input is a
            // slice passed with its own length; rnd is 32 bytes.
            unsafe {
                f(
                    sk.as_ptr(),
                    sig.as_mut_ptr(),
                    &mut len,
                    msg.as_ptr(),
                    msg.len(),
                    pre.as_ptr(),
                    pre.len(),
                    rnd.as_ptr(),
                )
            }
        }
        DsaInput::Mu(mu) => {
            if mu.len() != DSA_MU {
                return Err(Failed);
            }
            let f = match set {
                Dsa::D44 => ffi::dsa44_mu_sign,
                Dsa::D65 => ffi::dsa65_mu_sign,
                Dsa::D87 => ffi::dsa87_mu_sign,
            };
            // SAFETY: as above; mu is 64 bytes and no prefix is passed.
            unsafe {
                f(sk.as_ptr(), sig.as_mut_ptr(), &mut len, mu.as_ptr(), mu.len(), std::ptr::null(), 0, rnd.as_ptr())
            }
        }
    };
    super::ok(rc)?;
    if len != sig.len() {
        return Err(Failed);
    }
    Ok(sig)
}

/// ML-DSA.Verify_internal(pk, M', σ): true when the signature is valid.
pub fn dsa_verify(set: Dsa, pk: &[u8], input: DsaInput, sig: &[u8]) -> bool {
    if pk.len() != set.public_len() || sig.len() != set.sig_len() {
        return false;
    }
    let rc = match input {
        DsaInput::Message { pre, msg } => {
            let f = match set {
                Dsa::D44 => ffi::dsa44_verify,
                Dsa::D65 => ffi::dsa65_verify,
                Dsa::D87 => ffi::dsa87_verify,
            };
            // SAFETY: every pointer comes with its slice's length.
            unsafe { f(pk.as_ptr(), sig.as_ptr(), sig.len(), msg.as_ptr(), msg.len(), pre.as_ptr(), pre.len()) }
        }
        DsaInput::Mu(mu) => {
            if mu.len() != DSA_MU {
                return false;
            }
            let f = match set {
                Dsa::D44 => ffi::dsa44_mu_verify,
                Dsa::D65 => ffi::dsa65_mu_verify,
                Dsa::D87 => ffi::dsa87_mu_verify,
            };
            // SAFETY: every pointer comes with its slice's length; no prefix.
            unsafe { f(pk.as_ptr(), sig.as_ptr(), sig.len(), mu.as_ptr(), mu.len(), std::ptr::null(), 0) }
        }
    };
    rc == 1
}
