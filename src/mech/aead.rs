//! The AEADs of the PKCS#11 3.0 message API (AES-GCM, AES-CCM,
//! ChaCha20-Poly1305) and the single-part CKM_AES_CCM and
//! CKM_CHACHA20_POLY1305 of C_Encrypt/C_Decrypt; the IV generators of the
//! message API live in `msgiv`.
//!
//! A message encrypts as it streams (GCM, ChaCha20-Poly1305); a message
//! being decrypted is held until its tag verifies, and a CCM message (whose
//! MAC comes before its encryption) is held in both directions. What is
//! held is bounded by `bound::operation_bytes`.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::mechanism::bound;
use crate::model::{MechType, Param};
use crate::sys::awslc::aead::{Aead, AeadKind};

pub use crate::sys::awslc::aead::AeadKind as Kind;

fn failed(_: crate::sys::awslc::Failed) -> Error {
    Error::general("AEAD primitive failed")
}

/// The AEAD a mechanism names, if it is one of the message API's.
pub fn kind(m: MechType) -> Option<AeadKind> {
    match m {
        ck::CKM_AES_GCM => Some(AeadKind::Gcm),
        ck::CKM_AES_CCM => Some(AeadKind::Ccm),
        ck::CKM_CHACHA20_POLY1305 => Some(AeadKind::ChaChaPoly),
        _ => None,
    }
}

/// The key type an AEAD takes.
pub fn key_type(kind: AeadKind) -> ck::CK_KEY_TYPE {
    match kind {
        AeadKind::Gcm | AeadKind::Ccm => ck::CKK_AES,
        AeadKind::ChaChaPoly => ck::CKK_CHACHA20,
    }
}

/// The key type an AEAD takes and whether `len` bytes is a key for it.
pub fn key_fits(kind: AeadKind, key_type: ck::CK_KEY_TYPE, len: usize) -> bool {
    match kind {
        AeadKind::Gcm | AeadKind::Ccm => key_type == ck::CKK_AES && matches!(len, 16 | 24 | 32),
        AeadKind::ChaChaPoly => key_type == ck::CKK_CHACHA20 && len == 32,
    }
}

/// Checks an IV / nonce length and a tag length (bytes) for `kind`
/// (CKR_MECHANISM_PARAM_INVALID otherwise). GCM: IV 1..=256, tag 12..=16
/// as the single-part GCM here takes; CCM: nonce 7..=13, tag 4..=16 even;
/// ChaCha20-Poly1305: the 96-bit nonce, a 16-byte tag.
pub fn check_lengths(kind: AeadKind, iv: usize, tag: usize) -> Result<()> {
    let ok = match kind {
        AeadKind::Gcm => (1..=bound::GCM_IV).contains(&iv) && (12..=16).contains(&tag),
        AeadKind::Ccm => (7..=13).contains(&iv) && (4..=16).contains(&tag) && tag % 2 == 0,
        AeadKind::ChaChaPoly => iv == 12 && tag == 16,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::MechanismParamInvalid)
    }
}

/// The most message bytes CCM can carry with an `iv`-byte nonce
/// (L = 15 - nonce length bytes of length field).
fn ccm_max(iv: usize) -> u128 {
    let l = 15usize.saturating_sub(iv).min(16);
    if l >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * l)) - 1
    }
}

/// One message in one direction. Begin/Next of the message API and the
/// single-part mechanisms both run on this.
pub struct Message {
    kind: AeadKind,
    encrypt: bool,
    tag_len: usize,
    /// Streaming (GCM / ChaCha encryption): the running context.
    ctx: Option<Aead>,
    /// Otherwise everything needed to run at the end.
    key: Zeroizing<Vec<u8>>,
    iv: Vec<u8>,
    aad: Vec<u8>,
    /// CCM: the message length announced in the parameter, if any.
    ccm_len: Option<u64>,
    buf: Zeroizing<Vec<u8>>,
}

impl Message {
    pub fn start(
        kind: AeadKind,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        tag_len: usize,
        encrypt: bool,
        ccm_len: Option<u64>,
    ) -> Result<Message> {
        check_lengths(kind, iv.len(), tag_len)?;
        if let Some(n) = ccm_len {
            if u128::from(n) > ccm_max(iv.len()) {
                return Err(Error::MechanismParamInvalid);
            }
        }
        let streams = encrypt && kind != AeadKind::Ccm;
        let ctx = if streams {
            let mut c = Aead::new(kind, key, iv, true, tag_len, None).map_err(failed)?;
            c.aad(aad).map_err(failed)?;
            Some(c)
        } else {
            None
        };
        Ok(Message {
            kind,
            encrypt,
            tag_len,
            ctx,
            key: Zeroizing::new(if streams { Vec::new() } else { key.to_vec() }),
            iv: iv.to_vec(),
            aad: if streams { Vec::new() } else { aad.to_vec() },
            ccm_len,
            buf: Zeroizing::new(Vec::new()),
        })
    }

    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn len_err(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Output of a `next` (not the end) with `n` bytes.
    pub fn next_len(&self, n: usize) -> usize {
        if self.ctx.is_some() {
            n
        } else {
            0
        }
    }

    /// Output of the end with `n` more bytes (without the tag).
    pub fn end_len(&self, n: usize) -> usize {
        self.next_len(n) + if self.ctx.is_some() { 0 } else { self.buf.len() + n }
    }

    /// A part that does not end the message.
    pub fn next(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if let Some(c) = self.ctx.as_mut() {
            let mut out = Zeroizing::new(vec![0u8; data.len()]);
            c.update_into(data, &mut out).map_err(failed)?;
            return Ok(out);
        }
        // Held: bounded (a tag's worth more for single-part decryption,
        // which holds the tag too), checked before anything is copied.
        let most = bound::operation_bytes() + 64;
        if self.buf.len().saturating_add(data.len()) > most {
            return Err(self.len_err());
        }
        self.buf.try_reserve(data.len()).map_err(|_| Error::HostMemory)?;
        self.buf.extend_from_slice(data);
        Ok(Zeroizing::new(Vec::new()))
    }

    /// The last part: returns its output and, encrypting, the tag.
    /// Decrypting, `tag` is the expected tag (its length is the tag
    /// length); a mismatch is CKR_ENCRYPTED_DATA_INVALID and nothing is
    /// released.
    pub fn end(mut self, data: &[u8], tag: Option<&[u8]>) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        if let Some(mut c) = self.ctx.take() {
            let mut out = Zeroizing::new(vec![0u8; data.len()]);
            c.update_into(data, &mut out).map_err(failed)?;
            c.finish().map_err(failed)?;
            let t = c.tag(self.tag_len).map_err(failed)?;
            return Ok((out, t));
        }
        let held = self.next(data)?;
        debug_assert!(held.is_empty());
        let input = std::mem::take(&mut *self.buf);
        let input = Zeroizing::new(input);
        if let Some(n) = self.ccm_len {
            if n != input.len() as u64 {
                return Err(self.len_err());
            }
        }
        if self.kind == AeadKind::Ccm && input.len() as u128 > ccm_max(self.iv.len()) {
            return Err(self.len_err());
        }
        let expected = match (self.encrypt, tag) {
            (true, _) => None,
            (false, Some(t)) if t.len() == self.tag_len => Some(t),
            (false, _) => return Err(Error::general("decryption without its tag")),
        };
        let ccm = (self.kind == AeadKind::Ccm).then_some((input.len(), expected));
        let mut c = Aead::new(self.kind, &self.key, &self.iv, self.encrypt, self.tag_len, ccm).map_err(failed)?;
        c.aad(&self.aad).map_err(failed)?;
        let mut out = Zeroizing::new(vec![0u8; input.len()]);
        if self.encrypt {
            c.update_into(&input, &mut out).map_err(failed)?;
            c.finish().map_err(failed)?;
            let t = c.tag(self.tag_len).map_err(failed)?;
            return Ok((out, t));
        }
        let verified = match self.kind {
            // CCM checks its tag within the one update.
            AeadKind::Ccm => c.update_into(&input, &mut out),
            _ => c
                .set_tag(expected.unwrap_or_default())
                .and_then(|_| c.update_into(&input, &mut out))
                .and_then(|_| c.finish()),
        };
        if verified.is_err() {
            crate::sys::awslc::cleanse(&mut out);
            return Err(Error::EncryptedDataInvalid);
        }
        Ok((out, Vec::new()))
    }
}

/// CKM_AES_CCM / CKM_CHACHA20_POLY1305 through C_Encrypt / C_Decrypt: the
/// output is ciphertext || tag, as for CKM_AES_GCM.
pub struct AeadCipher {
    msg: Message,
    encrypt: bool,
}

impl AeadCipher {
    /// The parameter of a single-part AEAD mechanism, checked.
    pub fn new(mtype: MechType, param: &Param, key: &[u8], encrypt: bool) -> Result<AeadCipher> {
        let kind = kind(mtype).ok_or(Error::MechanismInvalid)?;
        let Param::Aead { nonce, aad, tag_len, data_len } = param else {
            return Err(Error::MechanismParamInvalid);
        };
        let tag = usize::try_from(*tag_len).map_err(|_| Error::MechanismParamInvalid)?;
        let ccm_len = match kind {
            AeadKind::Ccm => Some(data_len.ok_or(Error::MechanismParamInvalid)?),
            _ => None,
        };
        Ok(AeadCipher { msg: Message::start(kind, key, nonce, aad, tag, encrypt, ccm_len)?, encrypt })
    }

    pub fn update_len(&self, n: usize) -> usize {
        if self.encrypt {
            self.msg.next_len(n)
        } else {
            0
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.msg.next(data)
    }

    pub fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        if self.encrypt {
            let (mut out, tag) = self.msg.end(&[], None)?;
            out.extend_from_slice(&tag);
            return Ok(out);
        }
        // Decrypting, everything (tag included) was held by `update`.
        let mut msg = self.msg;
        let all = Zeroizing::new(std::mem::take(&mut *msg.buf));
        let t = msg.tag_len();
        if all.len() < t {
            return Err(Error::EncryptedDataLenRange);
        }
        let (ct, tag) = all.split_at(all.len() - t);
        msg.end(ct, Some(tag)).map(|(out, _)| out)
    }

    pub fn oneshot(mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = self.update(data)?;
        let last = self.finish()?;
        if out.is_empty() {
            return Ok(last);
        }
        out.extend_from_slice(&last);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn sp800_38c_example_1_ccm() {
        // SP 800-38C Appendix C.1: K 40..4f, N 10..16, A 00..07, P 20..23, Tlen 32 bits.
        let key = unhex("404142434445464748494a4b4c4d4e4f");
        let m =
            Message::start(AeadKind::Ccm, &key, &unhex("10111213141516"), &unhex("0001020304050607"), 4, true, None)
                .unwrap();
        let (ct, tag) = m.end(&unhex("20212223"), None).unwrap();
        assert_eq!(&ct[..], &unhex("7162015b")[..]);
        assert_eq!(tag, unhex("4dac255d"));
        let m =
            Message::start(AeadKind::Ccm, &key, &unhex("10111213141516"), &unhex("0001020304050607"), 4, false, None)
                .unwrap();
        assert_eq!(m.end(&ct, Some(&tag)).unwrap().0.to_vec(), unhex("20212223"));
    }

    #[test]
    fn ccm_length_checks() {
        assert_eq!(check_lengths(AeadKind::Ccm, 6, 4), Err(Error::MechanismParamInvalid));
        assert_eq!(check_lengths(AeadKind::Ccm, 13, 5), Err(Error::MechanismParamInvalid));
        assert!(check_lengths(AeadKind::Ccm, 13, 16).is_ok());
        // A 13-byte nonce leaves a 2-byte length field: 65535 bytes at most.
        assert_eq!(
            Message::start(AeadKind::Ccm, &[0; 16], &[0; 13], &[], 16, true, Some(65536)).err(),
            Some(Error::MechanismParamInvalid)
        );
    }
}
