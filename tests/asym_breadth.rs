//! Key types and sizes beyond the common ones, through the `cryptoki`
//! crate: RSA key generation at any size from 1024 to 16384 bits, EdDSA
//! with CK_EDDSA_PARAMS (Ed25519ctx, Ed25519ph), and the exact return
//! codes for what is refused.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;

fn session() -> (World, Module, Session) {
    let w = world("");
    let p = load();
    let slot = init_token(&p, "breadth");
    let s = user_session(&p, slot);
    (w, p, s)
}

fn bytes_attr(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(o, &[t]).unwrap().into_iter().next() {
        Some(Attribute::Modulus(b) | Attribute::EcPoint(b) | Attribute::Value(b) | Attribute::PublicKeyInfo(b)) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// Bits of a big-endian unsigned number.
fn bit_len(b: &[u8]) -> usize {
    let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..];
    b.first().map_or(0, |x| 8 * b.len() - x.leading_zeros() as usize)
}

#[test]
fn rsa_keys_of_any_size() {
    let (_w, _p, s) = session();
    for bits in [1032u64, 3092, 4000] {
        let public_tmpl = [Attribute::ModulusBits(bits.into()), Attribute::Encrypt(true), Attribute::Verify(true)];
        let private_tmpl = [Attribute::Sign(true), Attribute::Decrypt(true)];
        let (public, private) =
            s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_tmpl, &private_tmpl).unwrap();
        match &s.get_attributes(public, &[AttributeType::ModulusBits]).unwrap()[..] {
            [Attribute::ModulusBits(b)] => assert_eq!(u64::from(*b), bits),
            other => panic!("{other:?}"),
        }
        let n = bytes_attr(&s, public, AttributeType::Modulus);
        assert_eq!(bit_len(&n), bits as usize, "CKA_MODULUS has exactly the bits asked for");
        assert_eq!(bytes_attr(&s, private, AttributeType::Modulus), n);
        let data = b"any size";
        let sig = s.sign(&Mechanism::Sha256RsaPkcs, private, data).unwrap();
        assert_eq!(sig.len(), (bits as usize).div_ceil(8));
        s.verify(&Mechanism::Sha256RsaPkcs, public, data, &sig).unwrap();
        assert_eq!(rv(s.verify(&Mechanism::Sha256RsaPkcs, public, b"other", &sig)), RvError::SignatureInvalid);
        let ct = s.encrypt(&Mechanism::RsaPkcs, public, data).unwrap();
        assert_eq!(s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(), data);
        let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ));
        let ct = s.encrypt(&oaep, public, data).unwrap();
        assert_eq!(s.decrypt(&oaep, private, &ct).unwrap(), data);
    }
    let gen =
        |bits: u64| rv(s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &[Attribute::ModulusBits(bits.into())], &[]));
    assert_eq!(gen(1016), RvError::KeySizeRange);
    assert_eq!(gen(1023), RvError::KeySizeRange);
    assert_eq!(gen(16385), RvError::KeySizeRange);
    assert_eq!(gen(16392), RvError::KeySizeRange);
}
