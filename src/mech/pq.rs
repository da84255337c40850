//! ML-KEM (FIPS 203) and ML-DSA (FIPS 204) keys as PKCS#11 3.2 has them:
//! parameter sets (CKA_PARAMETER_SET), the raw public key as CKA_VALUE of
//! the public object, the expanded private key as CKA_VALUE and the seed as
//! CKA_SEED of the private one; their SubjectPublicKeyInfo and PKCS#8
//! encodings (the IETF LAMPS profiles: `id-ml-dsa-*` / `id-alg-ml-kem-*`
//! with no parameters, the private key as the `seed`, `expandedKey` or
//! `both` choice); signing with a context string and the hedged or
//! deterministic variant; encapsulation and decapsulation.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::der::{read_minimal as read_tlv, read_minimal_raw as read_tlv_raw, tlv};
use crate::error::{Error, Result};
use crate::sys::awslc::pq as sys;
pub use crate::sys::awslc::pq::{Dsa, DsaInput, Kem, DSA_MU, DSA_SEED, KEM_SEED, KEM_SHARED};

/// A post-quantum key's parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Kem(Kem),
    Dsa(Dsa),
}

impl Set {
    /// The set a CKA_PARAMETER_SET value names for a key type; None if it
    /// names none (CKR_PARAMETER_SET_NOT_SUPPORTED at the caller).
    pub fn from_ck(key_type: ck::CK_KEY_TYPE, p: ck::CK_ULONG) -> Option<Set> {
        Some(match (key_type, p) {
            (ck::CKK_ML_KEM, ck::CKP_ML_KEM_512) => Set::Kem(Kem::K512),
            (ck::CKK_ML_KEM, ck::CKP_ML_KEM_768) => Set::Kem(Kem::K768),
            (ck::CKK_ML_KEM, ck::CKP_ML_KEM_1024) => Set::Kem(Kem::K1024),
            (ck::CKK_ML_DSA, ck::CKP_ML_DSA_44) => Set::Dsa(Dsa::D44),
            (ck::CKK_ML_DSA, ck::CKP_ML_DSA_65) => Set::Dsa(Dsa::D65),
            (ck::CKK_ML_DSA, ck::CKP_ML_DSA_87) => Set::Dsa(Dsa::D87),
            _ => return None,
        })
    }

    pub fn ck(self) -> ck::CK_ULONG {
        match self {
            Set::Kem(Kem::K512) => ck::CKP_ML_KEM_512,
            Set::Kem(Kem::K768) => ck::CKP_ML_KEM_768,
            Set::Kem(Kem::K1024) => ck::CKP_ML_KEM_1024,
            Set::Dsa(Dsa::D44) => ck::CKP_ML_DSA_44,
            Set::Dsa(Dsa::D65) => ck::CKP_ML_DSA_65,
            Set::Dsa(Dsa::D87) => ck::CKP_ML_DSA_87,
        }
    }

    pub fn key_type(self) -> ck::CK_KEY_TYPE {
        match self {
            Set::Kem(_) => ck::CKK_ML_KEM,
            Set::Dsa(_) => ck::CKK_ML_DSA,
        }
    }

    pub fn public_len(self) -> usize {
        match self {
            Set::Kem(k) => k.public_len(),
            Set::Dsa(d) => d.public_len(),
        }
    }

    pub fn private_len(self) -> usize {
        match self {
            Set::Kem(k) => k.private_len(),
            Set::Dsa(d) => d.private_len(),
        }
    }

    pub fn seed_len(self) -> usize {
        match self {
            Set::Kem(_) => KEM_SEED,
            Set::Dsa(_) => DSA_SEED,
        }
    }

    /// The last arc of the algorithm's OID under 2.16.840.1.101.3.4
    /// (NIST: .3.17-19 ML-DSA, .4.1-3 ML-KEM).
    fn oid_tail(self) -> [u8; 2] {
        match self {
            Set::Dsa(Dsa::D44) => [3, 17],
            Set::Dsa(Dsa::D65) => [3, 18],
            Set::Dsa(Dsa::D87) => [3, 19],
            Set::Kem(Kem::K512) => [4, 1],
            Set::Kem(Kem::K768) => [4, 2],
            Set::Kem(Kem::K1024) => [4, 3],
        }
    }

    /// DER AlgorithmIdentifier: SEQUENCE { OID } (parameters absent).
    fn algorithm_id(self) -> Vec<u8> {
        let t = self.oid_tail();
        let oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, t[0], t[1]];
        tlv(0x30, &oid)
    }

    const ALL: [Set; 6] = [
        Set::Kem(Kem::K512),
        Set::Kem(Kem::K768),
        Set::Kem(Kem::K1024),
        Set::Dsa(Dsa::D44),
        Set::Dsa(Dsa::D65),
        Set::Dsa(Dsa::D87),
    ];

    fn from_algorithm_id(der: &[u8]) -> Option<Set> {
        Set::ALL.into_iter().find(|s| s.algorithm_id() == der)
    }
}

/// A post-quantum private key: the expanded key, and the seed it came from
/// when known (generated here, or given).
pub struct Private {
    pub seed: Option<Zeroizing<Vec<u8>>>,
    pub expanded: Zeroizing<Vec<u8>>,
}

/// A post-quantum key: its set, public key and maybe private key.
pub struct PqKey {
    pub set: Set,
    pub public: Vec<u8>,
    pub private: Option<Private>,
}

fn bad<T>(_: T) -> Error {
    Error::AttributeValueInvalid
}

impl PqKey {
    /// A new key pair from a fresh random seed.
    pub fn generate(set: Set) -> Result<PqKey> {
        let mut seed = Zeroizing::new(vec![0u8; set.seed_len()]);
        crate::sys::rand::random(&mut seed)?;
        PqKey::from_seed(set, seed).map_err(|_| Error::general("post-quantum key generation failed"))
    }

    /// The key pair a seed determines (ML-KEM: d ‖ z, 64 bytes; ML-DSA: ξ,
    /// 32 bytes).
    pub fn from_seed(set: Set, seed: Zeroizing<Vec<u8>>) -> Result<PqKey> {
        if seed.len() != set.seed_len() {
            return Err(Error::AttributeValueInvalid);
        }
        let (public, expanded) = match set {
            Set::Kem(k) => sys::kem_keypair(k, &seed).map_err(bad)?,
            Set::Dsa(d) => sys::dsa_keypair(d, &seed).map_err(bad)?,
        };
        Ok(PqKey { set, public, private: Some(Private { seed: Some(seed), expanded }) })
    }

    /// A private key from its expanded form (and the seed, which must then
    /// expand to it).
    pub fn from_private(set: Set, expanded: &[u8], seed: Option<&[u8]>) -> Result<PqKey> {
        if let Some(s) = seed {
            let k = PqKey::from_seed(set, Zeroizing::new(s.to_vec()))?;
            let same = k.private.as_ref().is_some_and(|p| crate::mech::digest::ct_eq(&p.expanded, expanded));
            return if same { Ok(k) } else { Err(Error::AttributeValueInvalid) };
        }
        if expanded.len() != set.private_len() {
            return Err(Error::AttributeValueInvalid);
        }
        let public = match set {
            // dk = dk_PKE ‖ ek ‖ H(ek) ‖ z (FIPS 203 Algorithm 16); the
            // hash is checked so a corrupted key is refused.
            Set::Kem(k) => {
                let off = k.public_len() - 32;
                let ek = &expanded[off..off + k.public_len()];
                let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA3_256, ek);
                if h.as_ref() != &expanded[off + ek.len()..off + ek.len() + 32] {
                    return Err(Error::AttributeValueInvalid);
                }
                sys::kem_check_public(k, ek).map_err(bad)?;
                ek.to_vec()
            }
            // sk = ρ ‖ K ‖ tr ‖ ... with tr = H(pk) (FIPS 204 Algorithm 24):
            // the public key recomputed from sk must hash to the tr it holds.
            Set::Dsa(d) => {
                let pk = sys::dsa_public_from_private(d, expanded).map_err(bad)?;
                if shake256_64(&pk)[..] != expanded[64..128] {
                    return Err(Error::AttributeValueInvalid);
                }
                pk
            }
        };
        Ok(PqKey { set, public, private: Some(Private { seed: None, expanded: Zeroizing::new(expanded.to_vec()) }) })
    }

    /// A public key from its raw encoding.
    pub fn from_public(set: Set, public: &[u8]) -> Result<PqKey> {
        if public.len() != set.public_len() {
            return Err(Error::AttributeValueInvalid);
        }
        if let Set::Kem(k) = set {
            sys::kem_check_public(k, public).map_err(bad)?;
        }
        Ok(PqKey { set, public: public.to_vec(), private: None })
    }

    /// DER SubjectPublicKeyInfo: the raw key in the BIT STRING.
    pub fn spki(&self) -> Vec<u8> {
        let mut bits = Vec::with_capacity(self.public.len() + 1);
        bits.push(0);
        bits.extend_from_slice(&self.public);
        tlv(0x30, &[self.set.algorithm_id(), tlv(0x03, &bits)].concat())
    }

    /// A public key from its SubjectPublicKeyInfo.
    pub fn from_spki(der: &[u8]) -> Result<PqKey> {
        let (body, rest) = read_tlv(der, 0x30).ok_or(Error::AttributeValueInvalid)?;
        let (alg, rest2) = read_tlv_raw(body, 0x30).ok_or(Error::AttributeValueInvalid)?;
        let set = Set::from_algorithm_id(alg).ok_or(Error::AttributeValueInvalid)?;
        let (bits, end) = read_tlv(rest2, 0x03).ok_or(Error::AttributeValueInvalid)?;
        if !rest.is_empty() || !end.is_empty() || bits.first() != Some(&0) {
            return Err(Error::AttributeValueInvalid);
        }
        PqKey::from_public(set, &bits[1..])
    }

    /// DER PKCS#8 (OneAsymmetricKey v0): the `both` choice when the seed is
    /// known (the seed, and the expanded key it gives, so a reader that
    /// does not expand seeds can use it too), else `expandedKey`.
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        let p = self.private.as_ref().ok_or(Error::KeyNotWrappable)?;
        let inner = Zeroizing::new(match &p.seed {
            Some(s) => tlv(0x30, &Zeroizing::new([tlv(0x04, s), tlv(0x04, &p.expanded)].concat())),
            None => tlv(0x04, &p.expanded),
        });
        let body = Zeroizing::new([vec![0x02, 0x01, 0x00], self.set.algorithm_id(), tlv(0x04, &inner)].concat());
        Ok(Zeroizing::new(tlv(0x30, &body)))
    }

    /// A private key from PKCS#8, None if the algorithm is not ML-KEM or
    /// ML-DSA; any of the three private key forms.
    pub fn from_pkcs8(der: &[u8]) -> Option<Result<PqKey>> {
        let (body, rest) = read_tlv(der, 0x30)?;
        let (ver, body) = read_tlv(body, 0x02)?;
        let (alg, body) = read_tlv_raw(body, 0x30)?;
        let set = Set::from_algorithm_id(alg)?;
        let invalid = Some(Err(Error::WrappedKeyInvalid));
        // v0, or v1 with a public key after the private one (not kept: the
        // private key gives it).
        let Some((octets, _attrs_or_public)) = read_tlv(body, 0x04) else { return invalid };
        if !rest.is_empty() || !(ver == [0] || ver == [1]) {
            return invalid;
        }
        let r = match octets.first() {
            Some(0x80) => read_tlv(octets, 0x80)
                .filter(|(_, end)| end.is_empty())
                .map(|(seed, _)| PqKey::from_seed(set, Zeroizing::new(seed.to_vec()))),
            Some(0x04) => {
                read_tlv(octets, 0x04).filter(|(_, end)| end.is_empty()).map(|(e, _)| PqKey::from_private(set, e, None))
            }
            Some(0x30) => read_tlv(octets, 0x30).filter(|(_, end)| end.is_empty()).and_then(|(both, _)| {
                let (seed, r) = read_tlv(both, 0x04)?;
                let (e, r) = read_tlv(r, 0x04)?;
                r.is_empty().then(|| PqKey::from_private(set, e, Some(seed)))
            }),
            _ => None,
        };
        Some(r.unwrap_or(Err(Error::WrappedKeyInvalid)).map_err(|_| Error::WrappedKeyInvalid))
    }
}

/// The CK_SIGN_ADDITIONAL_CONTEXT of a CKM_ML_DSA operation: the context
/// string (at most 255 bytes) and whether the signature is deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsaContext {
    len: u8,
    bytes: [u8; 255],
    pub deterministic: bool,
}

impl DsaContext {
    /// From the parameter: hedge variant and context; a context over 255
    /// bytes or an unknown variant is CKR_MECHANISM_PARAM_INVALID.
    pub fn new(hedge: ck::CK_ULONG, context: &[u8]) -> Result<DsaContext> {
        let deterministic = match hedge {
            ck::CKH_HEDGE_PREFERRED | ck::CKH_HEDGE_REQUIRED => false,
            ck::CKH_DETERMINISTIC_REQUIRED => true,
            _ => return Err(Error::MechanismParamInvalid),
        };
        let len = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
        let mut bytes = [0u8; 255];
        bytes[..context.len()].copy_from_slice(context);
        Ok(DsaContext { len, bytes, deterministic })
    }

    pub fn context(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// FIPS 204 Algorithm 2's prefix of the message: 0 ‖ |ctx| ‖ ctx.
    fn prefix(&self) -> Vec<u8> {
        [&[0, self.len][..], self.context()].concat()
    }
}

impl Default for DsaContext {
    fn default() -> Self {
        DsaContext { len: 0, bytes: [0; 255], deterministic: false }
    }
}

impl PqKey {
    fn dsa(&self) -> Result<Dsa> {
        match self.set {
            Set::Dsa(d) => Ok(d),
            Set::Kem(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    pub fn sig_len(&self) -> usize {
        match self.set {
            Set::Dsa(d) => d.sig_len(),
            Set::Kem(_) => 0,
        }
    }

    fn rnd(deterministic: bool) -> Result<Zeroizing<[u8; 32]>> {
        let mut rnd = Zeroizing::new([0u8; 32]);
        if !deterministic {
            crate::sys::rand::random(&mut rnd[..])?;
        }
        Ok(rnd)
    }

    /// ML-DSA.Sign(sk, M, ctx), hedged or deterministic.
    pub fn sign(&self, ctx: &DsaContext, msg: &[u8]) -> Result<Vec<u8>> {
        let d = self.dsa()?;
        let p = self.private.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        let pre = ctx.prefix();
        let rnd = Self::rnd(ctx.deterministic)?;
        sys::dsa_sign(d, &p.expanded, DsaInput::Message { pre: &pre, msg }, &rnd)
            .map_err(|_| Error::general("ML-DSA signing failed"))
    }

    /// ML-DSA signing of an external μ (FIPS 204 §6.2), hedged.
    pub fn sign_mu(&self, mu: &[u8]) -> Result<Vec<u8>> {
        let d = self.dsa()?;
        let p = self.private.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        if mu.len() != DSA_MU {
            return Err(Error::DataLenRange);
        }
        let rnd = Self::rnd(false)?;
        sys::dsa_sign(d, &p.expanded, DsaInput::Mu(mu), &rnd).map_err(|_| Error::general("ML-DSA signing failed"))
    }

    /// ML-DSA.Verify(pk, M, σ, ctx).
    pub fn verify(&self, ctx: &DsaContext, msg: &[u8], sig: &[u8]) -> Result<()> {
        let d = self.dsa()?;
        if sig.len() != d.sig_len() {
            return Err(Error::SignatureLenRange);
        }
        let pre = ctx.prefix();
        if sys::dsa_verify(d, &self.public, DsaInput::Message { pre: &pre, msg }, sig) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }

    /// Verification against an external μ.
    pub fn verify_mu(&self, mu: &[u8], sig: &[u8]) -> Result<()> {
        let d = self.dsa()?;
        if mu.len() != DSA_MU {
            return Err(Error::DataLenRange);
        }
        if sig.len() != d.sig_len() {
            return Err(Error::SignatureLenRange);
        }
        if sys::dsa_verify(d, &self.public, DsaInput::Mu(mu), sig) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }

    /// The ciphertext length of an ML-KEM key.
    pub fn ciphertext_len(&self) -> Result<usize> {
        match self.set {
            Set::Kem(k) => Ok(k.ciphertext_len()),
            Set::Dsa(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    /// ML-KEM.Encaps(ek): (ciphertext, shared secret).
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let Set::Kem(k) = self.set else { return Err(Error::KeyTypeInconsistent) };
        let mut m = Zeroizing::new([0u8; 32]);
        crate::sys::rand::random(&mut m[..])?;
        sys::kem_encapsulate(k, &self.public, &m[..]).map_err(|_| Error::general("ML-KEM encapsulation failed"))
    }

    /// ML-KEM.Decaps(dk, c): a ciphertext of the wrong length is
    /// CKR_ENCRYPTED_DATA_LEN_RANGE; a wrong one of the right length gives
    /// the implicit-rejection secret (FIPS 203), not an error.
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let Set::Kem(k) = self.set else { return Err(Error::KeyTypeInconsistent) };
        let p = self.private.as_ref().ok_or(Error::KeyTypeInconsistent)?;
        if ct.len() != k.ciphertext_len() {
            return Err(Error::EncryptedDataLenRange);
        }
        sys::kem_decapsulate(k, &p.expanded, ct).map_err(|_| Error::general("ML-KEM decapsulation failed"))
    }
}

/// SHAKE256 with a 64-byte output (FIPS 204's H for tr).
fn shake256_64(data: &[u8]) -> [u8; 64] {
    use sha3::digest::{ExtendableOutput, Update, XofReader};
    let mut h = sha3::Shake256::default();
    h.update(data);
    let mut out = [0u8; 64];
    h.finalize_xof().read(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_for_every_set() {
        for set in Set::ALL {
            let k = PqKey::generate(set).unwrap();
            let p = PqKey::from_spki(&k.spki()).unwrap();
            assert_eq!(p.public, k.public);
            assert_eq!(p.set, set);
            let der = k.pkcs8().unwrap();
            let back = PqKey::from_pkcs8(&der).unwrap().unwrap();
            assert_eq!(back.public, k.public);
            let (a, b) = (back.private.unwrap(), k.private.as_ref().unwrap());
            assert_eq!(&a.expanded[..], &b.expanded[..]);
            assert_eq!(a.seed.as_deref(), b.seed.as_deref());
            // The expanded form alone gives the same public key.
            let e = PqKey::from_private(set, &b.expanded, None).unwrap();
            assert_eq!(e.public, k.public);
            // A seed that does not expand to the key is refused, and so is
            // an expanded key whose hash of the public key is not its own.
            let wrong = vec![7u8; set.seed_len()];
            assert!(PqKey::from_private(set, &b.expanded, Some(&wrong)).is_err());
            let mut corrupt = b.expanded.to_vec();
            let at = if let Set::Dsa(_) = set { 100 } else { corrupt.len() - 40 };
            corrupt[at] ^= 1;
            assert_eq!(PqKey::from_private(set, &corrupt, None).err(), Some(Error::AttributeValueInvalid));
        }
        assert!(PqKey::from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_none());
    }

    fn unhex(s: &str) -> Vec<u8> {
        if s == "-" {
            return Vec::new();
        }
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn rows(text: &str) -> Vec<Vec<&str>> {
        text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(|l| l.split(' ').collect()).collect()
    }

    /// FIPS 203 KATs (tests/vectors/ml_kem_kat.txt): KeyGen(d, z), Encaps
    /// with the vector's m, Decaps of the right and of a rejected ciphertext.
    #[test]
    fn ml_kem_known_answers() {
        let text = include_str!("../../tests/vectors/ml_kem_kat.txt");
        let mut n = 0;
        for r in rows(text) {
            let set = match r[0] {
                "512" => Kem::K512,
                "768" => Kem::K768,
                _ => Kem::K1024,
            };
            let seed = [unhex(r[1]), unhex(r[2])].concat();
            let k = PqKey::from_seed(Set::Kem(set), Zeroizing::new(seed)).unwrap();
            let dk = unhex(r[3]);
            assert_eq!(&k.private.as_ref().unwrap().expanded[..], &dk[..], "dk {}", r[0]);
            let (ct, ss) = sys::kem_encapsulate(set, &k.public, &unhex(r[4])).unwrap();
            assert_eq!(ct, unhex(r[5]));
            assert_eq!(&ss[..], &unhex(r[6])[..]);
            assert_eq!(&k.decapsulate(&ct).unwrap()[..], &unhex(r[6])[..]);
            assert_eq!(&k.decapsulate(&unhex(r[7])).unwrap()[..], &unhex(r[8])[..], "implicit rejection");
            // The expanded key alone gives the same public key.
            assert_eq!(PqKey::from_private(Set::Kem(set), &dk, None).unwrap().public, k.public);
            n += 1;
        }
        assert_eq!(n, 6);
    }

    /// FIPS 204 KATs (tests/vectors/ml_dsa_kat.txt): KeyGen(ξ) and the
    /// deterministic signature with the vector's context.
    #[test]
    fn ml_dsa_known_answers() {
        let text = include_str!("../../tests/vectors/ml_dsa_kat.txt");
        let mut n = 0;
        for r in rows(text) {
            let set = match r[0] {
                "44" => Dsa::D44,
                "65" => Dsa::D65,
                _ => Dsa::D87,
            };
            let k = PqKey::from_seed(Set::Dsa(set), Zeroizing::new(unhex(r[1]))).unwrap();
            assert_eq!(k.public, unhex(r[2]), "pk {}", r[0]);
            assert_eq!(&k.private.as_ref().unwrap().expanded[..], &unhex(r[3])[..]);
            let ctx = DsaContext::new(ck::CKH_DETERMINISTIC_REQUIRED, &unhex(r[5])).unwrap();
            let sig = k.sign(&ctx, &unhex(r[4])).unwrap();
            assert_eq!(sig, unhex(r[6]), "sig {}", r[0]);
            k.verify(&ctx, &unhex(r[4]), &sig).unwrap();
            n += 1;
        }
        assert_eq!(n, 6);
    }

    #[test]
    fn contexts_are_bounded() {
        assert!(DsaContext::new(ck::CKH_HEDGE_PREFERRED, &[1; 255]).is_ok());
        assert_eq!(DsaContext::new(ck::CKH_HEDGE_REQUIRED, &[1; 256]).err(), Some(Error::MechanismParamInvalid));
        assert_eq!(DsaContext::new(3, &[]).err(), Some(Error::MechanismParamInvalid));
    }
}
