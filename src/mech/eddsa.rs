//! CKM_EDDSA and its CK_EDDSA_PARAMS (PKCS#11 3.0 §2.3.14): Ed25519 on
//! aws-lc (pure, Ed25519ctx, Ed25519ph), Ed448 on `mech::curve448`
//! (pure/with context, Ed448ph).
//!
//! No parameter, or phFlag = FALSE with an empty context, is pure EdDSA.
//! For Ed25519 that is RFC 8032's Ed25519 (no dom2 prefix): RFC 8032 §5.1
//! says Ed25519ctx SHOULD NOT be used with an empty context, and clients
//! (OpenSSL's pkcs11-provider among them) send {FALSE, NULL, 0} meaning
//! plain Ed25519. For Ed448, pure is Ed448 with an empty context, the same
//! thing either way. A non-empty context without phFlag is Ed25519ctx /
//! Ed448 with that context; phFlag = TRUE is Ed25519ph / Ed448ph with the
//! context (empty allowed). A context over 255 bytes is
//! CKR_MECHANISM_PARAM_INVALID.

use super::curve448;
use super::keys::Key;
use crate::error::{Error, Result};
use crate::model::Param;
use crate::sys::awslc::ec;

/// The longest context RFC 8032 allows.
pub const MAX_CONTEXT: usize = 255;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EdParams {
    prehash: bool,
    len: u8,
    ctx: [u8; MAX_CONTEXT],
}

impl std::fmt::Debug for EdParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdParams").field("prehash", &self.prehash).field("context", &self.context()).finish()
    }
}

impl EdParams {
    pub const PURE: EdParams = EdParams { prehash: false, len: 0, ctx: [0; MAX_CONTEXT] };

    /// From the mechanism's parameter: none, or CK_EDDSA_PARAMS.
    pub fn parse(p: &Param) -> Result<EdParams> {
        match p {
            Param::None => Ok(EdParams::PURE),
            Param::Eddsa { prehash, context } => {
                let len = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
                let mut ctx = [0u8; MAX_CONTEXT];
                ctx[..context.len()].copy_from_slice(context);
                Ok(EdParams { prehash: *prehash, len, ctx })
            }
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    fn context(&self) -> &[u8] {
        &self.ctx[..self.len as usize]
    }

    fn pure(&self) -> bool {
        !self.prehash && self.len == 0
    }

    pub fn sign(&self, key: &Key, msg: &[u8]) -> Result<Vec<u8>> {
        let failed = || Error::general("EdDSA signing failed");
        match key {
            Key::Ed25519 { private: Some(s), .. } if self.pure() => ec::ed25519_sign(s, msg).map_err(|_| failed()),
            Key::Ed25519 { private: Some(s), .. } => {
                ec::ed25519_sign_ctx(s, msg, self.prehash, self.context()).map_err(|_| failed())
            }
            Key::Ed448 { private: Some(s), .. } => {
                curve448::ed448_sign(s, msg, self.prehash, self.context()).ok_or_else(failed)
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    pub fn verify(&self, key: &Key, msg: &[u8], sig: &[u8]) -> Result<bool> {
        Ok(match key {
            Key::Ed25519 { public, .. } if self.pure() => ec::ed25519_verify(public, msg, sig),
            Key::Ed25519 { public, .. } => ec::ed25519_verify_ctx(public, msg, sig, self.prehash, self.context()),
            Key::Ed448 { public, .. } => curve448::ed448_verify(public, msg, sig, self.prehash, self.context()),
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn params(prehash: bool, context: &[u8]) -> EdParams {
        EdParams::parse(&Param::Eddsa { prehash, context: context.to_vec() }).unwrap()
    }

    fn ed25519(seed: &str) -> Key {
        let seed = h(seed);
        let public = ec::ed25519_public(&seed).unwrap();
        Key::Ed25519 { private: Some(Zeroizing::new(seed)), public }
    }

    #[test]
    fn rfc8032_ed25519ctx() {
        // RFC 8032 §7.2, "foo" (message f726936d19c800494e3fdaff20b276a8, context "foo").
        let k = ed25519("0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6");
        let msg = h("f726936d19c800494e3fdaff20b276a8");
        let sig = h("55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a
                     8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d");
        let p = params(false, b"foo");
        assert_eq!(p.sign(&k, &msg).unwrap(), sig);
        assert!(p.verify(&k, &msg, &sig).unwrap());
        // The same message under context "bar" (RFC 8032 §7.2's second test).
        let sig_bar = h("fc60d5872fc46b3aa69f8b5b4351d5808f92bcc044606db097abab6dbcb1aee3
                         216c48e8b3b66431b5b186d1d28f8ee15a5ca2df6668346291c2043d4eb3e90d");
        assert_eq!(params(false, b"bar").sign(&k, &msg).unwrap(), sig_bar);
        assert!(!p.verify(&k, &msg, &sig_bar).unwrap());
        // No parameter, or {FALSE, empty}: plain Ed25519, not Ed25519ctx.
        let pure = EdParams::parse(&Param::None).unwrap().sign(&k, &msg).unwrap();
        assert_eq!(params(false, b"").sign(&k, &msg).unwrap(), pure);
        assert_ne!(pure, sig);
    }

    #[test]
    fn rfc8032_ed25519ph() {
        // RFC 8032 §7.3, TEST abc.
        let k = ed25519("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let sig = h("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41
                     31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406");
        let p = params(true, b"");
        assert_eq!(p.sign(&k, b"abc").unwrap(), sig);
        assert!(p.verify(&k, b"abc", &sig).unwrap());
        assert!(!params(false, b"").verify(&k, b"abc", &sig).unwrap());
        assert!(!params(true, b"x").verify(&k, b"abc", &sig).unwrap());
    }

    #[test]
    fn context_length_is_bounded() {
        assert!(EdParams::parse(&Param::Eddsa { prehash: false, context: vec![1; 255] }).is_ok());
        assert_eq!(
            EdParams::parse(&Param::Eddsa { prehash: true, context: vec![1; 256] }),
            Err(Error::MechanismParamInvalid)
        );
    }
}
