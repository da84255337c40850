//! Asymmetric signature and encryption schemes over `keys::Key`: RSA
//! PKCS#1 v1.5 / X.509 (raw) / PSS / OAEP, ECDSA and EdDSA. Parameters are
//! checked when the operation starts; lengths when data arrives.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::eddsa::EdParams;
use super::keys::Key;
use super::pq::DsaContext;
use crate::error::{Error, Result};
use crate::model::{MechType, Mechanism, Oaep, Param};
use crate::sys::awslc::Md;

/// The digest named by a CKM_SHA* mechanism.
pub fn md_of(m: MechType) -> Result<Md> {
    Ok(match m {
        ck::CKM_SHA_1 => Md::Sha1,
        ck::CKM_SHA224 => Md::Sha224,
        ck::CKM_SHA256 => Md::Sha256,
        ck::CKM_SHA384 => Md::Sha384,
        ck::CKM_SHA512 => Md::Sha512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

fn mgf_of(g: u64) -> Result<Md> {
    Ok(match g {
        ck::CKG_MGF1_SHA1 => Md::Sha1,
        ck::CKG_MGF1_SHA224 => Md::Sha224,
        ck::CKG_MGF1_SHA256 => Md::Sha256,
        ck::CKG_MGF1_SHA384 => Md::Sha384,
        ck::CKG_MGF1_SHA512 => Md::Sha512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

pub fn md_len(md: Md) -> usize {
    match md {
        Md::Sha1 => 20,
        Md::Sha224 => 28,
        Md::Sha256 | Md::Sha3_256 => 32,
        Md::Sha384 | Md::Sha3_384 => 48,
        Md::Sha512 | Md::Sha3_512 => 64,
    }
}

/// The aws-lc-rs digest for hashing data before signing.
pub fn digest_alg(md: Md) -> &'static aws_lc_rs::digest::Algorithm {
    use aws_lc_rs::digest;
    match md {
        Md::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Md::Sha224 => &digest::SHA224,
        Md::Sha256 => &digest::SHA256,
        Md::Sha384 => &digest::SHA384,
        Md::Sha512 => &digest::SHA512,
        Md::Sha3_256 => &digest::SHA3_256,
        Md::Sha3_384 => &digest::SHA3_384,
        Md::Sha3_512 => &digest::SHA3_512,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pss {
    pub md: Md,
    pub mgf: Md,
    pub salt: usize,
}

// EdDSA's and ML-DSA's contexts (up to 255 bytes each) are held inline so
// the scheme stays Copy; one such value per operation is no cost worth
// boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignAlg {
    /// CKM_RSA_PKCS: the caller supplies the DigestInfo.
    RsaPkcs,
    /// CKM_RSA_X_509: raw RSA.
    RsaX509,
    /// CKM_RSA_PKCS_PSS over the caller's digest.
    RsaPss(Pss),
    RsaPkcsHash(Md),
    RsaPssHash(Pss),
    /// CKM_ECDSA over the caller's digest.
    Ecdsa,
    EcdsaHash(Md),
    /// CKM_EDDSA: Ed25519 / Ed448, pure or with CK_EDDSA_PARAMS.
    EdDsa(EdParams),
    /// CKM_ML_DSA (pure ML-DSA, FIPS 204 Algorithm 2) with its context.
    MlDsa(DsaContext),
    /// CKM_DSA over the caller's digest.
    Dsa,
    DsaHash(Md),
}

fn pss_param(m: &Mechanism, fixed: Option<Md>) -> Result<Pss> {
    let Param::Pss { hash, mgf, salt_len } = &m.param else { return Err(Error::MechanismParamInvalid) };
    let md = md_of(*hash)?;
    if fixed.is_some_and(|f| f != md) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Pss { md, mgf: mgf_of(*mgf)?, salt: usize::try_from(*salt_len).map_err(|_| Error::MechanismParamInvalid)? })
}

fn none(m: &Mechanism) -> Result<()> {
    match m.param {
        Param::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

impl SignAlg {
    /// The scheme for a signature mechanism, or None if it is not one.
    pub fn parse(m: &Mechanism) -> Result<Option<SignAlg>> {
        use SignAlg::*;
        let hashed = |md| -> Result<SignAlg> { none(m).map(|_| md) };
        Ok(Some(match m.mtype {
            ck::CKM_RSA_PKCS => hashed(RsaPkcs)?,
            ck::CKM_RSA_X_509 => hashed(RsaX509)?,
            ck::CKM_RSA_PKCS_PSS => RsaPss(pss_param(m, None)?),
            ck::CKM_SHA1_RSA_PKCS => hashed(RsaPkcsHash(Md::Sha1))?,
            ck::CKM_SHA224_RSA_PKCS => hashed(RsaPkcsHash(Md::Sha224))?,
            ck::CKM_SHA256_RSA_PKCS => hashed(RsaPkcsHash(Md::Sha256))?,
            ck::CKM_SHA384_RSA_PKCS => hashed(RsaPkcsHash(Md::Sha384))?,
            ck::CKM_SHA512_RSA_PKCS => hashed(RsaPkcsHash(Md::Sha512))?,
            ck::CKM_SHA1_RSA_PKCS_PSS => RsaPssHash(pss_param(m, Some(Md::Sha1))?),
            ck::CKM_SHA224_RSA_PKCS_PSS => RsaPssHash(pss_param(m, Some(Md::Sha224))?),
            ck::CKM_SHA256_RSA_PKCS_PSS => RsaPssHash(pss_param(m, Some(Md::Sha256))?),
            ck::CKM_SHA384_RSA_PKCS_PSS => RsaPssHash(pss_param(m, Some(Md::Sha384))?),
            ck::CKM_SHA512_RSA_PKCS_PSS => RsaPssHash(pss_param(m, Some(Md::Sha512))?),
            ck::CKM_ECDSA => hashed(Ecdsa)?,
            ck::CKM_ECDSA_SHA1 => hashed(EcdsaHash(Md::Sha1))?,
            ck::CKM_ECDSA_SHA224 => hashed(EcdsaHash(Md::Sha224))?,
            ck::CKM_ECDSA_SHA256 => hashed(EcdsaHash(Md::Sha256))?,
            ck::CKM_ECDSA_SHA384 => hashed(EcdsaHash(Md::Sha384))?,
            ck::CKM_ECDSA_SHA512 => hashed(EcdsaHash(Md::Sha512))?,
            ck::CKM_DSA => hashed(Dsa)?,
            ck::CKM_DSA_SHA1 => hashed(DsaHash(Md::Sha1))?,
            ck::CKM_DSA_SHA224 => hashed(DsaHash(Md::Sha224))?,
            ck::CKM_DSA_SHA256 => hashed(DsaHash(Md::Sha256))?,
            ck::CKM_DSA_SHA384 => hashed(DsaHash(Md::Sha384))?,
            ck::CKM_DSA_SHA512 => hashed(DsaHash(Md::Sha512))?,
            ck::CKM_EDDSA => EdDsa(EdParams::parse(&m.param)?),
            ck::CKM_ML_DSA => match &m.param {
                Param::None => MlDsa(DsaContext::default()),
                Param::SignContext { hedge, context } => MlDsa(DsaContext::new(*hedge, context)?),
                _ => return Err(Error::MechanismParamInvalid),
            },
            _ => return Ok(None),
        }))
    }

    /// The digest the token computes over the data, if any.
    pub fn prehash(self) -> Option<Md> {
        match self {
            SignAlg::RsaPkcsHash(md) | SignAlg::EcdsaHash(md) | SignAlg::DsaHash(md) => Some(md),
            SignAlg::RsaPssHash(p) => Some(p.md),
            _ => None,
        }
    }

    /// Whether the key suits the scheme; PSS salt lengths are checked
    /// against the modulus here.
    pub fn check_key(self, key: &Key) -> Result<()> {
        use SignAlg::*;
        match (self, key) {
            (RsaPss(p) | RsaPssHash(p), Key::Rsa { key, .. }) => {
                // The salt length is the caller's CK_ULONG: the sum must not wrap.
                if md_len(p.md).checked_add(p.salt).and_then(|n| n.checked_add(2)).is_none_or(|n| n > key.size()) {
                    return Err(Error::MechanismParamInvalid);
                }
                Ok(())
            }
            (RsaPkcs | RsaX509 | RsaPkcsHash(_), Key::Rsa { .. }) => Ok(()),
            (Ecdsa | EcdsaHash(_), Key::Ec { .. }) => Ok(()),
            (MlDsa(_), Key::Pq(k)) if k.set.key_type() == ck::CKK_ML_DSA => Ok(()),
            (EdDsa(_), Key::Ed25519 { .. } | Key::Ed448 { .. }) => Ok(()),
            (Dsa | DsaHash(_), Key::Dsa(_)) => Ok(()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    pub fn sig_len(self, key: &Key) -> usize {
        match key {
            Key::Rsa { key, .. } => key.size(),
            Key::Ec { curve, .. } => 2 * curve.byte_len(),
            Key::Ed25519 { .. } | Key::X25519 { .. } => 64,
            Key::Pq(k) => k.sig_len(),
            Key::Ed448 { .. } | Key::X448 { .. } => super::curve448::ED448_SIG_LEN,
            // r||s, each of the subprime's length (DH keys do not sign).
            Key::Dsa(k) | Key::Dh(k) => 2 * k.q_len(),
        }
    }

    /// Signs `input`: the message, or its digest when `prehash` said so.
    pub fn sign(self, key: &Key, input: &[u8]) -> Result<Vec<u8>> {
        use SignAlg::*;
        let failed = |_| Error::general("signing failed");
        match (self, key) {
            (RsaPkcs, Key::Rsa { key, .. }) => {
                if input.len() + 11 > key.size() {
                    return Err(Error::DataLenRange);
                }
                Ok(key.private_op(input, true).map_err(failed)?.to_vec())
            }
            (RsaX509, Key::Rsa { key, .. }) => {
                let block = raw_block(input, key.size())?;
                Ok(key.private_op(&block, false).map_err(|_| Error::DataInvalid)?.to_vec())
            }
            (RsaPss(p) | RsaPssHash(p), Key::Rsa { key, .. }) => {
                if input.len() != md_len(p.md) {
                    return Err(Error::DataLenRange);
                }
                key.sign_pss(p.md, p.mgf, p.salt, input).map_err(failed)
            }
            (RsaPkcsHash(md), Key::Rsa { key, .. }) => key.sign_digest(md, input).map_err(failed),
            (Ecdsa | EcdsaHash(_), Key::Ec { key, .. }) => key.sign(input).map_err(failed),
            (MlDsa(ctx), Key::Pq(k)) => k.sign(&ctx, input),
            (EdDsa(p), _) => p.sign(key, input),
            (Dsa | DsaHash(_), Key::Dsa(k)) => {
                dsa_input(input)?;
                k.sign(input)
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    pub fn verify(self, key: &Key, input: &[u8], sig: &[u8]) -> Result<()> {
        use SignAlg::*;
        if sig.len() != self.sig_len(key) {
            return Err(Error::SignatureLenRange);
        }
        let good = match (self, key) {
            (RsaPkcs, Key::Rsa { key, .. }) => {
                if input.len() + 11 > key.size() {
                    return Err(Error::DataLenRange);
                }
                key.public_op(sig, true).is_ok_and(|r| super::digest::ct_eq(&r, input))
            }
            (RsaX509, Key::Rsa { key, .. }) => {
                let block = raw_block(input, key.size())?;
                key.public_op(sig, false).is_ok_and(|r| super::digest::ct_eq(&r, &block))
            }
            (RsaPss(p) | RsaPssHash(p), Key::Rsa { key, .. }) => {
                if input.len() != md_len(p.md) {
                    return Err(Error::DataLenRange);
                }
                key.verify_pss(p.md, p.mgf, p.salt, input, sig)
            }
            (RsaPkcsHash(md), Key::Rsa { key, .. }) => key.verify_digest(md, input, sig),
            (Ecdsa | EcdsaHash(_), Key::Ec { key, .. }) => key.verify(input, sig),
            (MlDsa(ctx), Key::Pq(k)) => return k.verify(&ctx, input, sig),
            (EdDsa(p), _) => p.verify(key, input, sig)?,
            (Dsa | DsaHash(_), Key::Dsa(k)) => {
                dsa_input(input)?;
                k.verify(input, sig)
            }
            _ => return Err(Error::KeyTypeInconsistent),
        };
        if good {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

impl SignAlg {
    /// C_VerifyRecover: the data a signature carries (CKM_RSA_PKCS: the
    /// PKCS #1 v1.5 block-type-1 payload; CKM_RSA_X_509: the whole
    /// modulus-length block).
    pub fn recover(self, key: &Key, sig: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sig.len() != self.sig_len(key) {
            return Err(Error::SignatureLenRange);
        }
        match (self, key) {
            (SignAlg::RsaPkcs, Key::Rsa { key, .. }) => key.public_op(sig, true).map_err(|_| Error::SignatureInvalid),
            (SignAlg::RsaX509, Key::Rsa { key, .. }) => key.public_op(sig, false).map_err(|_| Error::SignatureInvalid),
            _ => Err(Error::MechanismInvalid),
        }
    }
}

/// CKM_DSA's input is a digest: 1 to 64 bytes (SHA-1 to SHA-512; aws-lc
/// uses its leftmost bits, as FIPS 186-4 §4.6 says).
fn dsa_input(input: &[u8]) -> Result<()> {
    if input.is_empty() || input.len() > 64 {
        return Err(Error::DataLenRange);
    }
    Ok(())
}

/// Raw RSA input: at most the modulus length, left-padded with zeros.
fn raw_block(input: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    if input.len() > k {
        return Err(Error::DataLenRange);
    }
    let mut b = Zeroizing::new(vec![0u8; k - input.len()]);
    b.extend_from_slice(input);
    Ok(b)
}

/// RSA encryption schemes.
#[derive(Clone)]
pub enum CryptAlg {
    RsaPkcs,
    RsaX509,
    Oaep { md: Md, mgf: Md, label: Vec<u8> },
}

impl CryptAlg {
    pub fn oaep(o: &Oaep) -> Result<CryptAlg> {
        Ok(CryptAlg::Oaep { md: md_of(o.hash)?, mgf: mgf_of(o.mgf)?, label: o.label.clone() })
    }

    pub fn parse(m: &Mechanism) -> Result<Option<CryptAlg>> {
        Ok(Some(match (m.mtype, &m.param) {
            (ck::CKM_RSA_PKCS, Param::None) => CryptAlg::RsaPkcs,
            (ck::CKM_RSA_X_509, Param::None) => CryptAlg::RsaX509,
            (ck::CKM_RSA_PKCS_OAEP, Param::Oaep(o)) => CryptAlg::oaep(o)?,
            (ck::CKM_RSA_PKCS | ck::CKM_RSA_X_509 | ck::CKM_RSA_PKCS_OAEP, _) => {
                return Err(Error::MechanismParamInvalid)
            }
            _ => return Ok(None),
        }))
    }

    pub fn encrypt(&self, key: &Key, data: &[u8]) -> Result<Vec<u8>> {
        let Key::Rsa { key, .. } = key else { return Err(Error::KeyTypeInconsistent) };
        let k = key.size();
        // A key below 1024 bits verifies old signatures only.
        if k < 128 {
            return Err(Error::KeySizeRange);
        }
        let failed = |_| Error::general("RSA encryption failed");
        match self {
            CryptAlg::RsaPkcs => {
                if data.len() + 11 > k {
                    return Err(Error::DataLenRange);
                }
                key.encrypt_pkcs1(data).map_err(failed)
            }
            CryptAlg::RsaX509 => {
                let block = raw_block(data, k)?;
                Ok(key.public_op(&block, false).map_err(|_| Error::DataInvalid)?.to_vec())
            }
            CryptAlg::Oaep { md, mgf, label } => {
                if data.len() + 2 * md_len(*md) + 2 > k {
                    return Err(Error::DataLenRange);
                }
                crate::sys::awslc::pkey::oaep_encrypt(key, *md, *mgf, label, data).map_err(failed)
            }
        }
    }

    /// Decryption. Every padding failure is the same
    /// CKR_ENCRYPTED_DATA_INVALID, whatever the cause.
    pub fn decrypt(&self, key: &Key, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let Key::Rsa { key, private: true } = key else { return Err(Error::KeyTypeInconsistent) };
        if ct.len() != key.size() {
            return Err(Error::EncryptedDataLenRange);
        }
        let invalid = |_| Error::EncryptedDataInvalid;
        match self {
            CryptAlg::RsaPkcs => key.decrypt_pkcs1(ct).map_err(invalid),
            CryptAlg::RsaX509 => key.private_op(ct, false).map_err(invalid),
            CryptAlg::Oaep { md, mgf, label } => {
                crate::sys::awslc::pkey::oaep_decrypt(key, *md, *mgf, label, ct).map_err(invalid)
            }
        }
    }
}
