//! Ed448 and X448 (RFC 8032, RFC 7748), which aws-lc lacks: RustCrypto's
//! `ed448-goldilocks` (Ed448, Ed448ph, contexts) and `x448`. Their PKCS#8
//! and SubjectPublicKeyInfo encodings (RFC 8410) are fixed byte layouts,
//! written and read here.

use ed448_goldilocks::shake::{Shake256, Update};
use ed448_goldilocks::{PreHasherXof, Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

pub const ED448_LEN: usize = 57;
pub const X448_LEN: usize = 56;
pub const ED448_SIG_LEN: usize = 114;

/// Which of the two curves a key is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ed448,
    X448,
}

impl Kind {
    fn oid_byte(self) -> u8 {
        match self {
            Kind::Ed448 => 0x71,
            Kind::X448 => 0x6f,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Kind::Ed448 => ED448_LEN,
            Kind::X448 => X448_LEN,
        }
    }
}

/// The public key for a 57-byte Ed448 private key (the RFC 8032 seed).
pub fn ed448_public(seed: &[u8]) -> Option<[u8; ED448_LEN]> {
    let sk = SigningKey::try_from(seed).ok()?;
    Some(sk.verifying_key().to_bytes())
}

/// Ed448 (`prehash` false; an empty context is plain Ed448) or Ed448ph
/// (SHAKE256 of the message, 64 bytes). The context is at most 255 bytes.
pub fn ed448_sign(seed: &[u8], msg: &[u8], prehash: bool, ctx: &[u8]) -> Option<Vec<u8>> {
    if ctx.len() > 255 {
        return None;
    }
    let sk = SigningKey::try_from(seed).ok()?;
    let sig = if prehash { sk.sign_prehashed(Some(ctx), prehashed(msg)).ok()? } else { sk.sign_ctx(ctx, msg).ok()? };
    Some(sig.to_bytes().to_vec())
}

pub fn ed448_verify(public: &[u8], msg: &[u8], sig: &[u8], prehash: bool, ctx: &[u8]) -> bool {
    let (Ok(public), Ok(sig)) = (<&[u8; ED448_LEN]>::try_from(public), Signature::from_slice(sig)) else {
        return false;
    };
    let Ok(vk) = VerifyingKey::from_bytes(public) else { return false };
    if ctx.len() > 255 {
        return false;
    }
    if prehash {
        vk.verify_prehashed(&sig, Some(ctx), prehashed(msg)).is_ok()
    } else {
        vk.verify_ctx(&sig, ctx, msg).is_ok()
    }
}

/// Whether 57 bytes decode to a point on Ed448.
pub fn ed448_point_valid(public: &[u8; ED448_LEN]) -> bool {
    VerifyingKey::from_bytes(public).is_ok()
}

fn prehashed(msg: &[u8]) -> PreHasherXof<Shake256> {
    let mut h = Shake256::default();
    h.update(msg);
    PreHasherXof::from(h)
}

fn fixed<const N: usize>(b: &[u8]) -> Option<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    if b.len() != N {
        return None;
    }
    out.copy_from_slice(b);
    Some(out)
}

/// The X448 public key (u-coordinate) for a 56-byte private key.
pub fn x448_public(private: &[u8]) -> Option<[u8; X448_LEN]> {
    let k = fixed::<X448_LEN>(private)?;
    x448::x448(*k, x448::X448_BASEPOINT_BYTES)
}

/// X448; None for a low-order peer point (the shared secret would be zero).
pub fn x448(private: &[u8], peer: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k = fixed::<X448_LEN>(private)?;
    let peer: [u8; X448_LEN] = peer.try_into().ok()?;
    let shared = Zeroizing::new(x448::x448(*k, peer)?);
    Some(Zeroizing::new(shared.to_vec()))
}

/// PKCS#8 PrivateKeyInfo (version 0, RFC 8410): the private key is an
/// OCTET STRING inside the privateKey OCTET STRING.
pub fn pkcs8(kind: Kind, private: &[u8]) -> Zeroizing<Vec<u8>> {
    let n = private.len() as u8;
    let mut der = Zeroizing::new(vec![0x30, n + 14, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65]);
    der.extend_from_slice(&[kind.oid_byte(), 0x04, n + 2, 0x04, n]);
    der.extend_from_slice(private);
    der
}

/// SubjectPublicKeyInfo: the public key as the BIT STRING.
pub fn spki(kind: Kind, public: &[u8]) -> Vec<u8> {
    let n = public.len() as u8;
    let mut der = vec![0x30, n + 10, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, kind.oid_byte(), 0x03, n + 1, 0x00];
    der.extend_from_slice(public);
    der
}

/// An Ed448 or X448 private key from PKCS#8 (the v0 layout `pkcs8`
/// writes; a v1 OneAsymmetricKey with the optional public key is taken
/// too, the public key checked against the private one). None for
/// anything else, including other algorithms.
pub fn parse_pkcs8(der: &[u8]) -> Option<(Kind, Zeroizing<Vec<u8>>)> {
    let body = match der {
        [0x30, len, body @ ..] if *len < 0x80 && *len as usize == body.len() => body,
        _ => return None,
    };
    let (version, body) = match body {
        [0x02, 0x01, v @ (0 | 1), rest @ ..] => (*v, rest),
        _ => return None,
    };
    for kind in [Kind::Ed448, Kind::X448] {
        let n = kind.key_len() as u8;
        let head = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, kind.oid_byte(), 0x04, n + 2, 0x04, n];
        let Some(rest) = body.strip_prefix(&head[..]) else { continue };
        if rest.len() < kind.key_len() {
            return None;
        }
        let (private, tail) = rest.split_at(kind.key_len());
        let private = Zeroizing::new(private.to_vec());
        let public = match kind {
            Kind::Ed448 => ed448_public(&private)?.to_vec(),
            Kind::X448 => x448_public(&private)?.to_vec(),
        };
        let ok = match (version, tail) {
            (_, []) => true,
            // [1] IMPLICIT BIT STRING, no unused bits: must match the private key.
            (1, [0x81, len, 0x00, pk @ ..]) => *len as usize == pk.len() + 1 && pk == &public[..],
            _ => false,
        };
        return ok.then_some((kind, private));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc8032_ed448_and_ed448ph() {
        // RFC 8032 §7.4, "1 octet" (no context) and "1 octet (with context)".
        let sk = h("c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a
                    fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e");
        let pk = h("43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086
                    6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480");
        assert_eq!(ed448_public(&sk).unwrap().to_vec(), pk);
        let sig = h("26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f435
                     2541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cb
                     cee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0f
                     f3348ab21aa4adafd1d234441cf807c03a00");
        assert_eq!(ed448_sign(&sk, &[0x03], false, b"").unwrap(), sig);
        assert!(ed448_verify(&pk, &[0x03], &sig, false, b""));
        assert!(!ed448_verify(&pk, &[0x04], &sig, false, b""));
        let sig = h("d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2
                     151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da
                     1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d
                     5428407e85dcbc98a49155c13764e66c3c00");
        assert_eq!(ed448_sign(&sk, &[0x03], false, &[0x66, 0x6f, 0x6f]).unwrap(), sig);
        assert!(ed448_verify(&pk, &[0x03], &sig, false, b"foo"));
        assert!(!ed448_verify(&pk, &[0x03], &sig, false, b""));

        // RFC 8032 §7.5, Ed448ph "TEST abc" without and with context "foo".
        let sk = h("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42
                    ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49");
        let pk = h("259b71c19f83ef77a7abd26524cbdb3161b590a48f7d17de3ee0ba9c52beb743
                    c09428a131d6b1b57303d90d8132c276d5ed3d5d01c0f53880");
        assert_eq!(ed448_public(&sk).unwrap().to_vec(), pk);
        let sig = h("822f6901f7480f3d5f562c592994d9693602875614483256505600bbc281ae38
                     1f54d6bce2ea911574932f52a4e6cadd78769375ec3ffd1b801a0d9b3f4030cd
                     433964b6457ea39476511214f97469b57dd32dbc560a9a94d00bff07620464a3
                     ad203df7dc7ce360c3cd3696d9d9fab90f00");
        assert_eq!(ed448_sign(&sk, b"abc", true, b"").unwrap(), sig);
        assert!(ed448_verify(&pk, b"abc", &sig, true, b""));
        assert!(!ed448_verify(&pk, b"abc", &sig, false, b""));
        let sig = h("c32299d46ec8ff02b54540982814dce9a05812f81962b649d528095916a2aa48
                     1065b1580423ef927ecf0af5888f90da0f6a9a85ad5dc3f280d91224ba9911a3
                     653d00e484e2ce232521481c8658df304bb7745a73514cdb9bf3e15784ab7128
                     4f8d0704a608c54a6b62d97beb511d132100");
        assert_eq!(ed448_sign(&sk, b"abc", true, b"foo").unwrap(), sig);
        assert!(ed448_verify(&pk, b"abc", &sig, true, b"foo"));
        assert!(ed448_sign(&sk, b"abc", false, &[0; 256]).is_none());
    }

    #[test]
    fn rfc7748_x448() {
        // RFC 7748 §6.2.
        let a = h("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5
                   74a9419744897391006382a6f127ab1d9ac2d8c0a598726b");
        let a_pub = h("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bb
                       c836647241d953d40c5b12da88120d53177f80e532c41fa0");
        let b = h("1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120
                   bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d");
        let b_pub = h("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972
                       fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609");
        let shared = h("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56
                        fd2464c335543936521c24403085d59a449a5037514a879d");
        assert_eq!(x448_public(&a).unwrap().to_vec(), a_pub);
        assert_eq!(x448_public(&b).unwrap().to_vec(), b_pub);
        assert_eq!(&x448(&a, &b_pub).unwrap()[..], &shared[..]);
        assert_eq!(&x448(&b, &a_pub).unwrap()[..], &shared[..]);
        // RFC 7748 §5.2, the first X448 function test vector.
        let k = h("3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c
                   984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3");
        let u = h("06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031
                   ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086");
        let out = h("ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaad
                     eb445fc66a01b0779d98223961111e21766282f73dd96b6f");
        assert_eq!(&x448(&k, &u).unwrap()[..], &out[..]);
        // A low-order peer point (u = 0 or 1) is refused.
        assert!(x448(&k, &[0u8; 56]).is_none());
    }

    #[test]
    fn pkcs8_and_spki_layouts() {
        for (kind, len) in [(Kind::Ed448, 57usize), (Kind::X448, 56)] {
            let private = vec![7u8; len];
            let der = pkcs8(kind, &private);
            assert_eq!(der.len(), 16 + len);
            let (k, p) = parse_pkcs8(&der).unwrap();
            assert_eq!((k, &p[..]), (kind, &private[..]));
            assert!(parse_pkcs8(&der[..der.len() - 1]).is_none());
            assert_eq!(spki(kind, &[1u8; 8])[..2], [0x30, 18]);
        }
        // RFC 8410 §10.3's shape: 30 47 02 01 00 30 05 06 03 2B 65 71 04 3B 04 39 ...
        assert_eq!(pkcs8(Kind::Ed448, &[0u8; 57])[..16], h("3047020100300506032b6571043b0439")[..]);
        assert_eq!(spki(Kind::X448, &[0u8; 56])[..12], h("3042300506032b656f033900")[..]);
    }
}
