//! AES block modes for C_Encrypt/C_Decrypt (ECB, CBC, CBC_PAD, CTR, GCM)
//! and AES MACs (CMAC, CMAC_GENERAL, CBC-MAC). Buffering and padding are
//! done here so every update's output length is known before it runs.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::{MechType, Param};
use crate::sys::awslc::{AesCtx, Cmac, Mode};

const BLOCK: usize = 16;

/// A cipher mechanism with its parameters checked.
#[derive(Clone)]
pub enum CipherSpec {
    Ecb,
    Cbc { iv: [u8; 16], pad: bool },
    Ctr { counter_bits: u32, block: [u8; 16] },
    Gcm { iv: Vec<u8>, aad: Vec<u8>, tag_len: usize },
}

impl CipherSpec {
    pub fn parse(mtype: MechType, param: &Param) -> Result<CipherSpec> {
        let bytes = |p: &Param| match p {
            Param::Bytes(b) => Some(b.to_vec()),
            Param::None => None,
            _ => None,
        };
        Ok(match mtype {
            ck::CKM_AES_ECB => match param {
                Param::None => CipherSpec::Ecb,
                _ => return Err(Error::MechanismParamInvalid),
            },
            ck::CKM_AES_CBC | ck::CKM_AES_CBC_PAD => {
                let iv: [u8; 16] = bytes(param).and_then(|b| b.try_into().ok()).ok_or(Error::MechanismParamInvalid)?;
                CipherSpec::Cbc { iv, pad: mtype == ck::CKM_AES_CBC_PAD }
            }
            ck::CKM_AES_CTR => {
                // CK_AES_CTR_PARAMS: CK_ULONG ulCounterBits; CK_BYTE cb[16].
                let b = bytes(param).ok_or(Error::MechanismParamInvalid)?;
                let ul = std::mem::size_of::<ck::CK_ULONG>();
                if b.len() != ul + 16 {
                    return Err(Error::MechanismParamInvalid);
                }
                let bits = ck::CK_ULONG::from_ne_bytes(b[..ul].try_into().map_err(|_| Error::MechanismParamInvalid)?);
                if bits == 0 || bits > 128 {
                    return Err(Error::MechanismParamInvalid);
                }
                let block: [u8; 16] = b[ul..].try_into().map_err(|_| Error::MechanismParamInvalid)?;
                CipherSpec::Ctr { counter_bits: bits as u32, block }
            }
            ck::CKM_AES_GCM => match param {
                Param::Gcm { iv, aad, tag_bits } => {
                    if iv.is_empty()
                        || iv.len() > crate::model::mechanism::bound::GCM_IV
                        || !(96..=128).contains(tag_bits)
                        || tag_bits % 8 != 0
                    {
                        return Err(Error::MechanismParamInvalid);
                    }
                    CipherSpec::Gcm { iv: iv.to_vec(), aad: aad.to_vec(), tag_len: (*tag_bits / 8) as usize }
                }
                _ => return Err(Error::MechanismParamInvalid),
            },
            _ => return Err(Error::MechanismInvalid),
        })
    }
}

fn failed(_: crate::sys::awslc::Failed) -> Error {
    Error::general("AES primitive failed")
}

/// One encryption or decryption in progress.
pub struct AesCipher {
    spec: CipherSpec,
    encrypt: bool,
    ctx: AesCtx,
    /// ECB/CBC: the partial block; CBC_PAD decrypt: also the held-back last
    /// block; GCM decrypt: all ciphertext (released only after the tag).
    buf: Zeroizing<Vec<u8>>,
    /// CTR: (bytes done, blocks available before the counter field wraps).
    ctr: Option<(u128, u128)>,
}

impl AesCipher {
    pub fn new(spec: CipherSpec, key: &[u8], encrypt: bool) -> Result<AesCipher> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(Error::KeySizeRange);
        }
        let (mode, iv): (Mode, Vec<u8>) = match &spec {
            CipherSpec::Ecb => (Mode::Ecb, vec![]),
            CipherSpec::Cbc { iv, .. } => (Mode::Cbc, iv.to_vec()),
            CipherSpec::Ctr { block, .. } => (Mode::Ctr, block.to_vec()),
            CipherSpec::Gcm { iv, .. } => (Mode::Gcm, iv.clone()),
        };
        let mut ctx = AesCtx::new(mode, key, &iv, encrypt).map_err(failed)?;
        if let CipherSpec::Gcm { aad, .. } = &spec {
            ctx.aad(aad).map_err(failed)?;
        }
        let ctr = match &spec {
            CipherSpec::Ctr { counter_bits, block } => {
                let value = u128::from_be_bytes(*block);
                let mask = if *counter_bits == 128 { u128::MAX } else { (1u128 << counter_bits) - 1 };
                Some((0, (mask - (value & mask)).saturating_add(1)))
            }
            _ => None,
        };
        Ok(AesCipher { spec, encrypt, ctx, buf: Zeroizing::new(Vec::new()), ctr })
    }

    fn len_err(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    fn holds_last_block(&self) -> bool {
        matches!(self.spec, CipherSpec::Cbc { pad: true, .. }) && !self.encrypt
    }

    /// Exact output length of `update` with `n` more input bytes.
    pub fn update_len(&self, n: usize) -> usize {
        match &self.spec {
            CipherSpec::Ctr { .. } => n,
            CipherSpec::Gcm { .. } if self.encrypt => n,
            CipherSpec::Gcm { .. } => 0,
            _ => {
                let total = self.buf.len() + n;
                let whole = total / BLOCK * BLOCK;
                if self.holds_last_block() && total % BLOCK == 0 && total > 0 {
                    whole - BLOCK
                } else {
                    whole
                }
            }
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match &self.spec {
            CipherSpec::Ctr { .. } => {
                let (done, max) = self.ctr.as_mut().expect("set for CTR");
                let total = *done + data.len() as u128;
                if total.div_ceil(BLOCK as u128) > *max {
                    return Err(Error::DataLenRange);
                }
                *done = total;
                Ok(Zeroizing::new(self.ctx.update(data).map_err(failed)?))
            }
            CipherSpec::Gcm { .. } if self.encrypt => Ok(Zeroizing::new(self.ctx.update(data).map_err(failed)?)),
            CipherSpec::Gcm { .. } => {
                // All ciphertext is held until the tag verifies: bounded,
                // and checked before anything is copied.
                // (A tag or padding's worth more than the data bound, as
                // for one call: see `bound::ENCRYPTED`.)
                let most = crate::model::mechanism::bound::operation_bytes() + 64;
                if self.buf.len().saturating_add(data.len()) > most {
                    return Err(Error::EncryptedDataLenRange);
                }
                self.buf.try_reserve(data.len()).map_err(|_| Error::HostMemory)?;
                self.buf.extend_from_slice(data);
                Ok(Zeroizing::new(Vec::new()))
            }
            _ => {
                let n = self.update_len(data.len());
                self.buf.extend_from_slice(data);
                let rest = self.buf.split_off(n);
                let out = self.ctx.update(&self.buf).map_err(failed)?;
                *self.buf = rest;
                Ok(Zeroizing::new(out))
            }
        }
    }

    /// Ends the operation: pads, checks lengths, verifies the GCM tag.
    pub fn finish(mut self) -> Result<Zeroizing<Vec<u8>>> {
        match self.spec.clone() {
            CipherSpec::Ecb | CipherSpec::Cbc { pad: false, .. } => {
                if !self.buf.is_empty() {
                    return Err(self.len_err());
                }
                self.ctx.finish().map_err(failed)?;
                Ok(Zeroizing::new(Vec::new()))
            }
            CipherSpec::Cbc { pad: true, .. } if self.encrypt => {
                let padn = BLOCK - self.buf.len();
                let mut last = Zeroizing::new(self.buf.to_vec());
                last.extend(std::iter::repeat_n(padn as u8, padn));
                Ok(Zeroizing::new(self.ctx.update(&last).map_err(failed)?))
            }
            CipherSpec::Cbc { pad: true, .. } => {
                if self.buf.len() != BLOCK {
                    return Err(Error::EncryptedDataLenRange);
                }
                let mut last = Zeroizing::new(self.ctx.update(&self.buf).map_err(failed)?);
                let padn = *last.last().unwrap_or(&0) as usize;
                let good = (1..=BLOCK).contains(&padn) && last[BLOCK - padn..].iter().all(|&b| b as usize == padn);
                if !good {
                    return Err(Error::EncryptedDataInvalid);
                }
                last.truncate(BLOCK - padn);
                Ok(last)
            }
            CipherSpec::Ctr { .. } => Ok(Zeroizing::new(Vec::new())),
            CipherSpec::Gcm { tag_len, .. } if self.encrypt => {
                self.ctx.finish().map_err(failed)?;
                Ok(Zeroizing::new(self.ctx.tag(tag_len).map_err(failed)?))
            }
            CipherSpec::Gcm { tag_len, .. } => {
                if self.buf.len() < tag_len {
                    return Err(Error::EncryptedDataLenRange);
                }
                let split = self.buf.len() - tag_len;
                let tag = self.buf[split..].to_vec();
                let out = Zeroizing::new(self.ctx.update(&self.buf[..split]).map_err(failed)?);
                self.ctx.set_tag(&tag).map_err(failed)?;
                self.ctx.finish().map_err(|_| Error::EncryptedDataInvalid)?;
                Ok(out)
            }
        }
    }

    /// The exact single-part output length for `n` input bytes, where the
    /// mode lets the output go straight into the caller's buffer (GCM).
    pub fn direct_len(&self, n: usize) -> Option<usize> {
        match &self.spec {
            CipherSpec::Gcm { tag_len, .. } if self.encrypt => n.checked_add(*tag_len),
            CipherSpec::Gcm { tag_len, .. } => n.checked_sub(*tag_len),
            _ => None,
        }
    }

    /// Single-part GCM straight into `out` (at least `direct_len` bytes);
    /// returns the length written. A decryption whose tag fails leaves
    /// `out` wiped.
    pub fn oneshot_into(mut self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        let n = self.direct_len(data.len()).ok_or_else(|| Error::general("no direct output for this mode"))?;
        if out.len() < n {
            return Err(Error::BufferTooSmall);
        }
        match self.spec.clone() {
            CipherSpec::Gcm { tag_len, .. } if self.encrypt => {
                let (body, tag) = out[..n].split_at_mut(data.len());
                self.ctx.update_into(data, body).map_err(failed)?;
                self.ctx.finish().map_err(failed)?;
                tag.copy_from_slice(&self.ctx.tag(tag_len).map_err(failed)?);
                Ok(n)
            }
            CipherSpec::Gcm { .. } => {
                let (ct, tag) = data.split_at(n);
                let r = self
                    .ctx
                    .update_into(ct, &mut out[..n])
                    .and_then(|_| self.ctx.set_tag(tag))
                    .and_then(|_| self.ctx.finish());
                if r.is_err() {
                    crate::sys::awslc::cleanse(&mut out[..n]);
                    return Err(Error::EncryptedDataInvalid);
                }
                Ok(n)
            }
            _ => Err(Error::general("no direct output for this mode")),
        }
    }

    /// Single-part: update then finish.
    pub fn oneshot(mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = self.update(data)?;
        let mut last = self.finish()?;
        if out.is_empty() {
            return Ok(last);
        }
        out.extend_from_slice(&last);
        crate::sys::awslc::wipe(&mut last);
        Ok(out)
    }
}

impl Drop for AesCipher {
    fn drop(&mut self) {
        crate::sys::awslc::wipe(&mut self.buf);
    }
}

/// AES MACs for C_Sign/C_Verify.
pub enum AesMac {
    Cmac {
        cmac: Cmac,
        out_len: usize,
    },
    /// CKM_AES_MAC: CBC-MAC with a zero IV, zero-padded, half a block out.
    CbcMac {
        ctx: AesCtx,
        buf: Vec<u8>,
        last: [u8; 16],
    },
}

impl AesMac {
    pub fn cmac(key: &[u8], out_len: usize) -> Result<AesMac> {
        if out_len == 0 || out_len > BLOCK {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(AesMac::Cmac { cmac: Cmac::new(key).map_err(|_| Error::KeySizeRange)?, out_len })
    }

    pub fn cbc_mac(key: &[u8]) -> Result<AesMac> {
        let ctx = AesCtx::new(Mode::Cbc, key, &[0u8; 16], true).map_err(|_| Error::KeySizeRange)?;
        Ok(AesMac::CbcMac { ctx, buf: Vec::new(), last: [0u8; 16] })
    }

    pub fn output_len(&self) -> usize {
        match self {
            AesMac::Cmac { out_len, .. } => *out_len,
            AesMac::CbcMac { .. } => BLOCK / 2,
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            AesMac::Cmac { cmac, .. } => cmac.update(data).map_err(failed),
            AesMac::CbcMac { ctx, buf, last } => {
                buf.extend_from_slice(data);
                let whole = buf.len() / BLOCK * BLOCK;
                if whole > 0 {
                    let out = ctx.update(&buf[..whole]).map_err(failed)?;
                    last.copy_from_slice(&out[whole - BLOCK..]);
                    buf.drain(..whole);
                }
                Ok(())
            }
        }
    }

    pub fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            AesMac::Cmac { mut cmac, out_len } => {
                Ok(Zeroizing::new(cmac.finish().map_err(failed)?[..out_len].to_vec()))
            }
            AesMac::CbcMac { mut ctx, mut buf, mut last } => {
                if !buf.is_empty() {
                    buf.resize(BLOCK, 0);
                    last.copy_from_slice(&ctx.update(&buf).map_err(failed)?);
                }
                Ok(Zeroizing::new(last[..BLOCK / 2].to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn cbc_pad_round_trips_every_length_in_pieces() {
        let key = [7u8; 32];
        for len in 0..50 {
            let data: Vec<u8> = (0..len as u8).collect();
            let spec = CipherSpec::Cbc { iv: [1; 16], pad: true };
            let ct = AesCipher::new(spec.clone(), &key, true).unwrap().oneshot(&data).unwrap();
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            let mut d = AesCipher::new(spec, &key, false).unwrap();
            let mut pt = Vec::new();
            for piece in ct.chunks(5) {
                let expect = d.update_len(piece.len());
                let out = d.update(piece).unwrap();
                assert_eq!(out.len(), expect);
                pt.extend_from_slice(&out);
            }
            pt.extend_from_slice(&d.finish().unwrap());
            assert_eq!(pt, data);
        }
    }

    #[test]
    fn ctr_refuses_to_wrap_the_counter_field() {
        let mut block = [0u8; 16];
        block[15] = 0xfe; // 8-bit counter at 254: two blocks left
        let spec = CipherSpec::Ctr { counter_bits: 8, block };
        let c = AesCipher::new(spec.clone(), &[1; 16], true).unwrap();
        assert!(c.oneshot(&[0; 32]).is_ok());
        let c = AesCipher::new(spec, &[1; 16], true).unwrap();
        assert_eq!(c.oneshot(&[0; 33]).err(), Some(Error::DataLenRange));
    }

    #[test]
    fn sp800_38a_f2_1_cbc_aes128_first_block() {
        let key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let ct = AesCipher::new(CipherSpec::Cbc { iv, pad: false }, &key, true)
            .unwrap()
            .oneshot(&unhex("6bc1bee22e409f96e93d7e117393172a"))
            .unwrap();
        assert_eq!(&ct[..], &unhex("7649abac8119b246cee98e9b12e9197d")[..]);
    }
}
