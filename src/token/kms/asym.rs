//! Asymmetric and HMAC KMS keys: RSA_2048/3072/4096 (encrypt/decrypt or
//! sign/verify), ECC_NIST_P256/P384/P521 and ECC_SECG_P256K1 (sign/verify),
//! ML_DSA_44/65/87 (sign/verify with ML_DSA_SHAKE_256, RAW or EXTERNAL_MU
//! messages), HMAC_224..512
//! (generate/verify MAC), and GenerateDataKeyPair.
//!
//! Such a key is a token secret key like a symmetric master key
//! (CKA_FHSM_KMS, sealed, never extractable, usable only through the KMS
//! calls): CKA_VALUE holds the private key as PKCS#8 (or the HMAC key),
//! CKA_FHSM_KEY_SPEC / CKA_FHSM_KEY_USAGE name what it is, and
//! CKA_FHSM_PUBLIC_KEY holds the public key (SubjectPublicKeyInfo). As in
//! AWS KMS these keys have one version: they do not rotate.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::KmsKey;
use crate::error::{Error, Result};
use crate::mech::asym::{md_len, CryptAlg, Pss, SignAlg};
use crate::mech::keys::Key;
use crate::mech::pq::{Dsa, DsaContext, PqKey, Set};
use crate::model::{Template, Value};
use crate::sys::awslc::ec::Curve;
use crate::sys::awslc::Md;
use crate::token::audit::Record;
use crate::token::Kms;
use crate::token::{clock, SessionHandle};
use crate::vendor::*;

/// A new key's material: CKA_VALUE, and the public key (SPKI) if any.
type Material = (Zeroizing<Vec<u8>>, Option<Vec<u8>>);

/// GenerateDataKeyPair's result: public SPKI, private PKCS#8 (None
/// without plaintext), the private key sealed under the master key.
pub type DataKeyPair = (Vec<u8>, Option<Zeroizing<Vec<u8>>>, Vec<u8>);

/// What a key is (AWS's KeySpec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Symmetric,
    Rsa(u32),
    Ecc(Curve),
    /// HMAC with this digest (the key is the digest's length).
    Hmac(Md),
    /// ML-DSA (FIPS 204) at this parameter set.
    MlDsa(Dsa),
}

/// How Sign and Verify read the message (AWS's MessageType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself (hashed by the algorithm).
    Raw,
    /// The message's digest (RSA and ECDSA).
    Digest,
    /// ML-DSA's 64-byte message representative μ (FIPS 204 §6.2).
    ExternalMu,
}

impl MessageType {
    pub fn parse(s: &str) -> Option<MessageType> {
        Some(match s {
            "RAW" => MessageType::Raw,
            "DIGEST" => MessageType::Digest,
            "EXTERNAL_MU" => MessageType::ExternalMu,
            _ => return None,
        })
    }
}

impl Spec {
    pub fn parse(s: &str) -> Option<Spec> {
        Some(match s {
            "SYMMETRIC_DEFAULT" => Spec::Symmetric,
            "RSA_2048" => Spec::Rsa(2048),
            "RSA_3072" => Spec::Rsa(3072),
            "RSA_4096" => Spec::Rsa(4096),
            "ECC_NIST_P256" => Spec::Ecc(Curve::P256),
            "ECC_NIST_P384" => Spec::Ecc(Curve::P384),
            "ECC_NIST_P521" => Spec::Ecc(Curve::P521),
            "ECC_SECG_P256K1" => Spec::Ecc(Curve::Secp256k1),
            "HMAC_224" => Spec::Hmac(Md::Sha224),
            "HMAC_256" => Spec::Hmac(Md::Sha256),
            "HMAC_384" => Spec::Hmac(Md::Sha384),
            "HMAC_512" => Spec::Hmac(Md::Sha512),
            "ML_DSA_44" => Spec::MlDsa(Dsa::D44),
            "ML_DSA_65" => Spec::MlDsa(Dsa::D65),
            "ML_DSA_87" => Spec::MlDsa(Dsa::D87),
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Spec::Symmetric => "SYMMETRIC_DEFAULT",
            Spec::Rsa(2048) => "RSA_2048",
            Spec::Rsa(3072) => "RSA_3072",
            Spec::Rsa(_) => "RSA_4096",
            Spec::Ecc(Curve::P256) => "ECC_NIST_P256",
            Spec::Ecc(Curve::P384) => "ECC_NIST_P384",
            Spec::Ecc(Curve::P521) => "ECC_NIST_P521",
            Spec::Ecc(Curve::Secp256k1) => "ECC_SECG_P256K1",
            // No AWS key spec names these curves; `parse` never makes them.
            Spec::Ecc(Curve::BrainpoolP256r1) => "ECC_BRAINPOOL_P256R1",
            Spec::Ecc(Curve::BrainpoolP384r1) => "ECC_BRAINPOOL_P384R1",
            Spec::Ecc(Curve::BrainpoolP512r1) => "ECC_BRAINPOOL_P512R1",
            Spec::Ecc(Curve::P192) => "ECC_NIST_P192",
            Spec::Hmac(Md::Sha224) => "HMAC_224",
            Spec::Hmac(Md::Sha384) => "HMAC_384",
            Spec::Hmac(Md::Sha512) => "HMAC_512",
            Spec::Hmac(_) => "HMAC_256",
            Spec::MlDsa(Dsa::D44) => "ML_DSA_44",
            Spec::MlDsa(Dsa::D65) => "ML_DSA_65",
            Spec::MlDsa(Dsa::D87) => "ML_DSA_87",
        }
    }

    /// The usages AWS allows for the spec; the first is the default.
    pub fn usages(self) -> &'static [&'static str] {
        match self {
            Spec::Symmetric => &["ENCRYPT_DECRYPT"],
            Spec::Rsa(_) => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
            Spec::Ecc(_) | Spec::MlDsa(_) => &["SIGN_VERIFY"],
            Spec::Hmac(_) => &["GENERATE_VERIFY_MAC"],
        }
    }

    /// The algorithms a key of this spec and usage offers, AWS's names.
    pub fn algorithms(self, usage: &str) -> &'static [&'static str] {
        match (self, usage) {
            (Spec::Symmetric, _) => &["SYMMETRIC_DEFAULT"],
            (Spec::Rsa(_), "ENCRYPT_DECRYPT") => &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
            (Spec::Rsa(_), _) => &[
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
            ],
            (Spec::Ecc(Curve::P256 | Curve::Secp256k1), _) => &["ECDSA_SHA_256"],
            (Spec::Ecc(Curve::P384), _) => &["ECDSA_SHA_384"],
            (Spec::Ecc(Curve::P521), _) => &["ECDSA_SHA_512"],
            (Spec::Ecc(Curve::BrainpoolP256r1 | Curve::BrainpoolP384r1 | Curve::BrainpoolP512r1 | Curve::P192), _) => {
                &[]
            }
            (Spec::Hmac(Md::Sha224), _) => &["HMAC_SHA_224"],
            (Spec::Hmac(Md::Sha384), _) => &["HMAC_SHA_384"],
            (Spec::Hmac(Md::Sha512), _) => &["HMAC_SHA_512"],
            (Spec::Hmac(_), _) => &["HMAC_SHA_256"],
            (Spec::MlDsa(_), _) => &["ML_DSA_SHAKE_256"],
        }
    }

    /// A new key's material: (CKA_VALUE, public key SPKI if any).
    fn generate(self) -> Result<Material> {
        match self {
            Spec::Symmetric => Ok((crate::mech::keygen::random_key(32)?, None)),
            Spec::Rsa(bits) => key_material(&Key::generate_rsa(bits, &[1, 0, 1])?),
            Spec::Ecc(c) => key_material(&Key::generate_ec(crate::mech::curve::CurveId::Nist(c))?),
            Spec::Hmac(md) => Ok((crate::mech::keygen::random_key(md_len(md))?, None)),
            Spec::MlDsa(d) => key_material(&Key::Pq(PqKey::generate(Set::Dsa(d))?)),
        }
    }

    /// An asymmetric spec (a key pair with a public key).
    pub fn is_asymmetric(self) -> bool {
        matches!(self, Spec::Rsa(_) | Spec::Ecc(_) | Spec::MlDsa(_))
    }
}

/// ML-DSA as KMS has it: ML_DSA_SHAKE_256 over the RAW message (FIPS 204
/// ML-DSA.Sign with an empty context, hedged) or over an EXTERNAL_MU μ;
/// DIGEST is not a message type ML-DSA takes.
fn ml_dsa_key<'k>(key: &'k Key, alg: &str, mt: MessageType, message: &[u8]) -> Result<&'k PqKey> {
    let k = key.pq().ok_or(Error::KeyFunctionNotPermitted)?;
    if alg != "ML_DSA_SHAKE_256" {
        return Err(Error::KeyFunctionNotPermitted);
    }
    match mt {
        MessageType::Digest => Err(Error::ArgumentsBad),
        MessageType::ExternalMu if message.len() != crate::mech::pq::DSA_MU => Err(Error::DataLenRange),
        _ => Ok(k),
    }
}

/// The RSA / ECDSA reading of the message type: a digest or not; μ is
/// ML-DSA's only.
fn is_digest(mt: MessageType) -> Result<bool> {
    match mt {
        MessageType::Raw => Ok(false),
        MessageType::Digest => Ok(true),
        MessageType::ExternalMu => Err(Error::ArgumentsBad),
    }
}

fn key_material(k: &Key) -> Result<Material> {
    Ok((k.pkcs8()?, Some(k.spki()?)))
}

fn sha(bits: u32) -> Md {
    match bits {
        384 => Md::Sha384,
        512 => Md::Sha512,
        _ => Md::Sha256,
    }
}

/// A signing algorithm by AWS's name, for a key of `spec`.
fn sign_alg(spec: Spec, alg: &str) -> Result<SignAlg> {
    let pss = |md| SignAlg::RsaPss(Pss { md, mgf: md, salt: md_len(md) });
    let a = match (spec, alg) {
        (Spec::Rsa(_), "RSASSA_PSS_SHA_256") => pss(Md::Sha256),
        (Spec::Rsa(_), "RSASSA_PSS_SHA_384") => pss(Md::Sha384),
        (Spec::Rsa(_), "RSASSA_PSS_SHA_512") => pss(Md::Sha512),
        (Spec::Rsa(_), "RSASSA_PKCS1_V1_5_SHA_256") => SignAlg::RsaPkcsHash(Md::Sha256),
        (Spec::Rsa(_), "RSASSA_PKCS1_V1_5_SHA_384") => SignAlg::RsaPkcsHash(Md::Sha384),
        (Spec::Rsa(_), "RSASSA_PKCS1_V1_5_SHA_512") => SignAlg::RsaPkcsHash(Md::Sha512),
        (Spec::Ecc(Curve::P256 | Curve::Secp256k1), "ECDSA_SHA_256") => SignAlg::EcdsaHash(sha(256)),
        (Spec::Ecc(Curve::P384), "ECDSA_SHA_384") => SignAlg::EcdsaHash(sha(384)),
        (Spec::Ecc(Curve::P521), "ECDSA_SHA_512") => SignAlg::EcdsaHash(sha(512)),
        _ => return Err(Error::KeyFunctionNotPermitted),
    };
    Ok(a)
}

/// The digest to sign: the message hashed (`digest` false) or the
/// caller's digest, which must have the digest's length.
fn to_digest(alg: SignAlg, message: &[u8], digest: bool) -> Result<Vec<u8>> {
    let md = match alg {
        SignAlg::RsaPss(p) => p.md,
        SignAlg::RsaPkcsHash(md) | SignAlg::EcdsaHash(md) => md,
        _ => return Err(Error::KeyFunctionNotPermitted),
    };
    if digest {
        if message.len() != md_len(md) {
            return Err(Error::DataLenRange);
        }
        return Ok(message.to_vec());
    }
    Ok(aws_lc_rs::digest::digest(crate::mech::asym::digest_alg(md), message).as_ref().to_vec())
}

/// A digest signature scheme for signing the digest `to_digest` made.
fn over_digest(alg: SignAlg) -> SignAlg {
    match alg {
        SignAlg::EcdsaHash(_) => SignAlg::Ecdsa,
        other => other,
    }
}

/// r‖s (each `n` bytes) as DER `SEQUENCE { INTEGER r, INTEGER s }`, the
/// form KMS returns ECDSA signatures in.
pub fn ecdsa_der(rs: &[u8]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len().saturating_sub(1))..];
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        out.push((v.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let (r, s) = rs.split_at(rs.len() / 2);
    let mut body = Vec::with_capacity(rs.len() + 8);
    int(&mut body, r);
    int(&mut body, s);
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    out
}

/// The reverse, strictly (DER, minimal integers, no trailing bytes), to r‖s
/// of `n` bytes each; None if malformed.
pub fn ecdsa_raw(der: &[u8], n: usize) -> Option<Vec<u8>> {
    fn len(b: &[u8]) -> Option<(usize, &[u8])> {
        match *b.first()? {
            l if l < 0x80 => Some((l as usize, &b[1..])),
            0x81 if *b.get(1)? >= 0x80 => Some((b[1] as usize, &b[2..])),
            _ => None,
        }
    }
    fn int(b: &[u8], n: usize) -> Option<(Vec<u8>, &[u8])> {
        if *b.first()? != 0x02 {
            return None;
        }
        let (l, rest) = len(&b[1..])?;
        if l == 0 || rest.len() < l {
            return None;
        }
        let (v, rest) = rest.split_at(l);
        if v[0] & 0x80 != 0 || (v.len() > 1 && v[0] == 0 && v[1] & 0x80 == 0) {
            return None;
        }
        let v = if v[0] == 0 { &v[1..] } else { v };
        if v.len() > n {
            return None;
        }
        let mut out = vec![0u8; n - v.len()];
        out.extend_from_slice(v);
        Some((out, rest))
    }
    if *der.first()? != 0x30 {
        return None;
    }
    let (l, body) = len(&der[1..])?;
    if body.len() != l {
        return None;
    }
    let (mut r, rest) = int(body, n)?;
    let (s, rest) = int(rest, n)?;
    if !rest.is_empty() {
        return None;
    }
    r.extend_from_slice(&s);
    Some(r)
}

impl KmsKey {
    /// The key's spec (keys made before specs existed are symmetric).
    pub fn spec(&self) -> Spec {
        self.obj
            .bytes(CKA_FHSM_KEY_SPEC)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(Spec::parse)
            .unwrap_or(Spec::Symmetric)
    }

    pub fn usage(&self) -> String {
        self.obj
            .bytes(CKA_FHSM_KEY_USAGE)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| "ENCRYPT_DECRYPT".into())
    }

    /// The key's material for an asymmetric use, with `usage` allowed.
    fn asym_key(&self, usage: &str) -> Result<Key> {
        self.check_enabled()?;
        if self.usage() != usage || !self.spec().is_asymmetric() {
            return Err(Error::KeyFunctionNotPermitted);
        }
        let der = self.obj.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?;
        Key::from_pkcs8(der).map_err(|_| Error::general("a KMS key's private key does not parse"))
    }
}

impl Kms<'_> {
    /// Creates a KMS key of any spec; returns its key id. The template
    /// may carry CKA_LABEL, CKA_FHSM_DESCRIPTION, CKA_FHSM_KEY_POLICY and
    /// CKA_FHSM_TAGS.
    pub fn create_key_spec(&self, h: SessionHandle, spec: &str, usage: &str, tmpl: Template) -> Result<String> {
        let sp = Spec::parse(spec).ok_or(Error::FunctionNotSupported)?;
        if !sp.usages().contains(&usage) {
            return Err(Error::TemplateInconsistent);
        }
        if sp == Spec::Symmetric {
            return self.create_key(h, tmpl);
        }
        let (s, a) = self.m.authorize(h, super::super::Need::UserRw)?;
        for t in tmpl.iter() {
            if ![ck::CKA_LABEL, CKA_FHSM_DESCRIPTION, CKA_FHSM_KEY_POLICY, CKA_FHSM_TAGS].contains(&t.atype) {
                return Err(Error::TemplateInconsistent);
            }
        }
        let (value, public) = sp.generate()?;
        let now = clock::now();
        let key_type = if public.is_some() { CKK_FHSM_KMS_ASYMMETRIC } else { ck::CKK_GENERIC_SECRET };
        let checked = super::super::newobj::Checked::new(crate::model::policy::SECRET, &tmpl, a.is_so())?;
        let mut obj =
            super::super::newobj::secret_key(&checked, key_type, value, Some(ck::CKM_GENERIC_SECRET_KEY_GEN))?;
        let flag = |u: &str| Value::Bool(usage == u);
        for (t, v) in [
            (ck::CKA_TOKEN, Value::Bool(true)),
            (ck::CKA_PRIVATE, Value::Bool(true)),
            (ck::CKA_SENSITIVE, Value::Bool(true)),
            (ck::CKA_ALWAYS_SENSITIVE, Value::Bool(true)),
            (ck::CKA_EXTRACTABLE, Value::Bool(false)),
            (ck::CKA_NEVER_EXTRACTABLE, Value::Bool(true)),
            (ck::CKA_COPYABLE, Value::Bool(false)),
            (ck::CKA_ENCRYPT, flag("ENCRYPT_DECRYPT")),
            (ck::CKA_DECRYPT, flag("ENCRYPT_DECRYPT")),
            (ck::CKA_SIGN, Value::Bool(usage == "SIGN_VERIFY" || usage == "GENERATE_VERIFY_MAC")),
            (ck::CKA_VERIFY, Value::Bool(usage == "SIGN_VERIFY" || usage == "GENERATE_VERIFY_MAC")),
            (ck::CKA_WRAP, Value::Bool(false)),
            (ck::CKA_UNWRAP, Value::Bool(false)),
            (ck::CKA_DERIVE, Value::Bool(false)),
            (CKA_FHSM_KMS, Value::Bool(true)),
            (CKA_FHSM_KEY_SPEC, Value::bytes(sp.name().as_bytes())),
            (CKA_FHSM_KEY_USAGE, Value::bytes(usage.as_bytes())),
            (CKA_FHSM_KEY_STATE, Value::Ulong(FHSM_STATE_ENABLED)),
            (CKA_FHSM_KEY_VERSION, Value::Ulong(1)),
            (CKA_FHSM_VERSIONS, Value::bytes(Vec::new())),
            (CKA_FHSM_CREATION_TIME, Value::Ulong(now)),
            (CKA_FHSM_ROTATION_PERIOD, Value::Ulong(0)),
            (CKA_FHSM_LAST_ROTATION, Value::Ulong(now)),
            (CKA_FHSM_NEXT_ROTATION, Value::Ulong(0)),
            (CKA_FHSM_DELETION_TIME, Value::Ulong(0)),
        ] {
            obj.set(t, v);
        }
        if let Some(p) = public {
            obj.set(CKA_FHSM_PUBLIC_KEY, Value::bytes(p));
        }
        let handle = self.m.objects().store_new(&a, &s, obj)?;
        self.new_key_id(h, handle)
    }

    fn asym_use<T>(
        &self,
        h: SessionHandle,
        key_id: &str,
        event: &str,
        detail: &str,
        f: impl FnOnce(&KmsKey) -> Result<T>,
    ) -> Result<T> {
        let a = self.access(h)?;
        let k = self.key(&a, key_id);
        let r = k.as_ref().map_err(Clone::clone).and_then(f);
        let key = k.as_ref().map_or(key_id.to_string(), KmsKey::key_id);
        self.m.audit().key_use(&Record { key: &key, version: 1, detail, ..Record::of(&a, event) }.result(&r));
        r
    }

    /// Sign: `message` (hashed here), its digest or ML-DSA's μ, as `mt`
    /// says; `alg` AWS's name. ECDSA signatures come back in DER, as KMS
    /// gives them.
    pub fn sign(&self, h: SessionHandle, key_id: &str, message: &[u8], mt: MessageType, alg: &str) -> Result<Vec<u8>> {
        self.asym_use(h, key_id, "kms-sign", alg, |k| {
            let key = k.asym_key("SIGN_VERIFY")?;
            if let Spec::MlDsa(_) = k.spec() {
                let pq = ml_dsa_key(&key, alg, mt, message)?;
                return match mt {
                    MessageType::ExternalMu => pq.sign_mu(message),
                    _ => pq.sign(&DsaContext::default(), message),
                };
            }
            let digest = is_digest(mt)?;
            let sa = sign_alg(k.spec(), alg)?;
            let d = to_digest(sa, message, digest)?;
            let sig = over_digest(sa).sign(&key, &d)?;
            Ok(if matches!(sa, SignAlg::EcdsaHash(_)) { ecdsa_der(&sig) } else { sig })
        })
    }

    /// Verify: Ok(true) valid, Ok(false) not.
    pub fn verify(
        &self,
        h: SessionHandle,
        key_id: &str,
        message: &[u8],
        mt: MessageType,
        alg: &str,
        sig: &[u8],
    ) -> Result<bool> {
        self.asym_use(h, key_id, "kms-verify", alg, |k| {
            let key = k.asym_key("SIGN_VERIFY")?;
            if let Spec::MlDsa(_) = k.spec() {
                let pq = ml_dsa_key(&key, alg, mt, message)?;
                let r = match mt {
                    MessageType::ExternalMu => pq.verify_mu(message, sig),
                    _ => pq.verify(&DsaContext::default(), message, sig),
                };
                return match r {
                    Ok(()) => Ok(true),
                    Err(Error::SignatureInvalid | Error::SignatureLenRange) => Ok(false),
                    Err(e) => Err(e),
                };
            }
            let digest = is_digest(mt)?;
            let sa = sign_alg(k.spec(), alg)?;
            let d = to_digest(sa, message, digest)?;
            let raw;
            let sig = match (sa, k.spec()) {
                (SignAlg::EcdsaHash(_), Spec::Ecc(c)) => match ecdsa_raw(sig, c.byte_len()) {
                    Some(r) => {
                        raw = r;
                        &raw[..]
                    }
                    None => return Ok(false),
                },
                _ => sig,
            };
            match over_digest(sa).verify(&key, &d, sig) {
                Ok(()) => Ok(true),
                Err(Error::SignatureInvalid | Error::SignatureLenRange) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// RSAES_OAEP_SHA_1 / _SHA_256 encryption under an RSA KMS key.
    pub fn rsa_encrypt(&self, h: SessionHandle, key_id: &str, alg: &str, plain: &[u8]) -> Result<Vec<u8>> {
        self.asym_use(h, key_id, "kms-encrypt", alg, |k| {
            let key = k.asym_key("ENCRYPT_DECRYPT")?;
            oaep(alg)?.encrypt(&key, plain)
        })
    }

    pub fn rsa_decrypt(&self, h: SessionHandle, key_id: &str, alg: &str, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.asym_use(h, key_id, "kms-decrypt", alg, |k| {
            let key = k.asym_key("ENCRYPT_DECRYPT")?;
            oaep(alg)?.decrypt(&key, ct).map_err(|_| Error::EncryptedDataInvalid)
        })
    }

    /// The public key (DER SubjectPublicKeyInfo) of an asymmetric key.
    pub fn public_key(&self, h: SessionHandle, key_id: &str) -> Result<Vec<u8>> {
        let a = self.access(h)?;
        let k = self.key(&a, key_id)?;
        k.check_enabled()?;
        k.obj.bytes(CKA_FHSM_PUBLIC_KEY).map(<[u8]>::to_vec).ok_or(Error::KeyFunctionNotPermitted)
    }

    fn hmac_key(k: &KmsKey, alg: &str) -> Result<(Md, Zeroizing<Vec<u8>>)> {
        k.check_enabled()?;
        let Spec::Hmac(md) = k.spec() else { return Err(Error::KeyFunctionNotPermitted) };
        if !k.spec().algorithms("GENERATE_VERIFY_MAC").contains(&alg) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        let v = k.obj.bytes(ck::CKA_VALUE).ok_or(Error::UserNotLoggedIn)?;
        Ok((md, Zeroizing::new(v.to_vec())))
    }

    pub fn generate_mac(&self, h: SessionHandle, key_id: &str, alg: &str, msg: &[u8]) -> Result<Vec<u8>> {
        self.asym_use(h, key_id, "kms-generate-mac", alg, |k| {
            let (md, key) = Self::hmac_key(k, alg)?;
            let mut m = crate::mech::digest::Hmac::new(crate::mech::asym::digest_alg(md).into(), &key, md_len(md))?;
            m.update(msg);
            Ok(m.finish().to_vec())
        })
    }

    pub fn verify_mac(&self, h: SessionHandle, key_id: &str, alg: &str, msg: &[u8], mac: &[u8]) -> Result<bool> {
        self.asym_use(h, key_id, "kms-verify-mac", alg, |k| {
            let (md, key) = Self::hmac_key(k, alg)?;
            let mut m = crate::mech::digest::Hmac::new(crate::mech::asym::digest_alg(md).into(), &key, md_len(md))?;
            m.update(msg);
            Ok(crate::mech::digest::ct_eq(&m.finish(), mac))
        })
    }

    /// GenerateDataKeyPair: a new RSA or NIST EC key pair whose private key
    /// (PKCS#8) comes back in plaintext (unless `without_plaintext`) and
    /// sealed under a symmetric master key. Returns (public SPKI, private
    /// PKCS#8 or None, blob).
    pub fn generate_data_key_pair(
        &self,
        h: SessionHandle,
        key_id: &str,
        pair_spec: &str,
        ctx: &super::Context,
        without_plaintext: bool,
    ) -> Result<DataKeyPair> {
        let sp =
            Spec::parse(pair_spec).filter(|s| matches!(s, Spec::Rsa(_) | Spec::Ecc(_))).ok_or(Error::ArgumentsBad)?;
        let (private, public) = sp.generate()?;
        let public = public.ok_or_else(|| Error::general("key pair without a public key"))?;
        let blob = self.encrypt_blob(h, key_id, ctx, &private)?;
        Ok((public, (!without_plaintext).then_some(private), blob))
    }
}

/// RSAES_OAEP_SHA_1 / _SHA_256 by AWS's name (MGF1 with the same hash,
/// no label); another name is not a usage this key has.
pub(super) fn oaep(alg: &str) -> Result<CryptAlg> {
    let md = match alg {
        "RSAES_OAEP_SHA_1" => Md::Sha1,
        "RSAES_OAEP_SHA_256" => Md::Sha256,
        _ => return Err(Error::KeyFunctionNotPermitted),
    };
    Ok(CryptAlg::Oaep { md, mgf: md, label: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_der_round_trips_and_refuses_non_der() {
        for n in [32usize, 48, 66] {
            for (r0, s0) in [(0x01u8, 0x7fu8), (0x80, 0xff), (0x00, 0x00)] {
                let mut rs = vec![0x11; 2 * n];
                rs[0] = r0;
                rs[n] = s0;
                let der = ecdsa_der(&rs);
                assert_eq!(ecdsa_raw(&der, n), Some(rs.clone()), "n={n} r0={r0:#x} s0={s0:#x}");
            }
        }
        let good = ecdsa_der(&[0x11; 64]);
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(ecdsa_raw(&trailing, 32), None);
        let mut non_minimal = vec![0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01];
        assert_eq!(ecdsa_raw(&non_minimal, 32), None);
        non_minimal[1] = 0x06;
        assert_eq!(ecdsa_raw(&non_minimal, 32), None);
        assert_eq!(ecdsa_raw(&[], 32), None);
    }

    #[test]
    fn specs_name_round_trip() {
        for s in [
            "SYMMETRIC_DEFAULT",
            "RSA_2048",
            "RSA_3072",
            "RSA_4096",
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "ECC_NIST_P521",
            "HMAC_224",
            "HMAC_256",
            "HMAC_384",
            "HMAC_512",
            "ML_DSA_44",
            "ML_DSA_65",
            "ML_DSA_87",
        ] {
            assert_eq!(Spec::parse(s).map(Spec::name), Some(s));
        }
        assert_eq!(Spec::parse("SM2"), None);
    }
}
