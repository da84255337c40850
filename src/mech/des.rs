//! DES and triple-DES: the block modes for C_Encrypt/C_Decrypt (ECB, CBC,
//! CBC_PAD), the MACs (TDES-CMAC, CMAC_GENERAL, CBC-MAC, MAC_GENERAL), and
//! the key rules (lengths, odd parity, key generation that avoids weak
//! keys). The same buffering rules as `aes`, so every update's output
//! length is known before it runs.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::{MechType, Param, Ulong};
use crate::sys::awslc::des::{self, DesCtx, TdesCmac, BLOCK};

/// The key length of a DES key type.
pub fn key_len(kt: Ulong) -> Option<usize> {
    match kt {
        ck::CKK_DES => Some(8),
        ck::CKK_DES2 => Some(16),
        ck::CKK_DES3 => Some(24),
        _ => None,
    }
}

/// Is this a single-DES mechanism (else triple-DES)?
pub fn single(m: MechType) -> bool {
    matches!(
        m,
        ck::CKM_DES_ECB
            | ck::CKM_DES_CBC
            | ck::CKM_DES_CBC_PAD
            | ck::CKM_DES_ECB_ENCRYPT_DATA
            | ck::CKM_DES_CBC_ENCRYPT_DATA
    )
}

/// The key types a DES mechanism takes: CKK_DES for single DES, CKK_DES2
/// and CKK_DES3 for the triple-DES ones (as SoftHSM).
pub fn key_type_ok(m: MechType, kt: Ulong) -> bool {
    if single(m) {
        kt == ck::CKK_DES
    } else {
        matches!(kt, ck::CKK_DES2 | ck::CKK_DES3)
    }
}

pub fn is_cipher(m: MechType) -> bool {
    matches!(
        m,
        ck::CKM_DES_ECB
            | ck::CKM_DES_CBC
            | ck::CKM_DES_CBC_PAD
            | ck::CKM_DES3_ECB
            | ck::CKM_DES3_CBC
            | ck::CKM_DES3_CBC_PAD
    )
}

pub fn is_mac(m: MechType) -> bool {
    matches!(m, ck::CKM_DES3_CMAC | ck::CKM_DES3_CMAC_GENERAL | ck::CKM_DES3_MAC | ck::CKM_DES3_MAC_GENERAL)
}

/// Fresh key bytes for a DES key type: odd parity, and no part a weak or
/// semi-weak DES key, nor two adjacent parts equal (which would make
/// triple-DES single DES).
pub fn generate(kt: Ulong) -> Result<Zeroizing<Vec<u8>>> {
    let len = key_len(kt).ok_or(Error::TemplateInconsistent)?;
    loop {
        let mut k = super::keygen::random_key(len)?;
        des::set_odd_parity(&mut k);
        let parts: Vec<[u8; 8]> = k.chunks(8).map(|c| c.try_into().expect("8-byte chunks")).collect();
        let weak = parts.iter().any(des::is_weak) || parts.windows(2).any(|w| w[0] == w[1]);
        let mut parts = parts;
        parts.iter_mut().for_each(|p| crate::sys::awslc::cleanse(p));
        if !weak {
            return Ok(k);
        }
    }
}

/// The key's value as the spec requires it for a new key (create,
/// unwrap): the length of its type and every byte of odd parity.
pub fn check_key(kt: Ulong, value: &[u8]) -> Result<()> {
    if key_len(kt) != Some(value.len()) || !des::has_odd_parity(value) {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(())
}

/// Sets odd parity on derived key bytes (as SoftHSM does).
pub fn fix_parity(value: &mut [u8]) {
    des::set_odd_parity(value)
}

/// CKA_CHECK_VALUE of a DES key: the first 3 bytes of ECB(K, 0^64).
pub fn check_value(key: &[u8]) -> Result<Vec<u8>> {
    let block = DesCtx::new(key, None, true)
        .and_then(|mut c| c.update(&[0u8; BLOCK]))
        .map_err(|_| Error::AttributeValueInvalid)?;
    Ok(block[..3].to_vec())
}

#[derive(Clone)]
pub enum DesSpec {
    Ecb,
    Cbc { iv: [u8; 8], pad: bool },
}

impl DesSpec {
    pub fn parse(mtype: MechType, param: &Param) -> Result<DesSpec> {
        match (mtype, param) {
            (ck::CKM_DES_ECB | ck::CKM_DES3_ECB, Param::None) => Ok(DesSpec::Ecb),
            (ck::CKM_DES_CBC | ck::CKM_DES_CBC_PAD | ck::CKM_DES3_CBC | ck::CKM_DES3_CBC_PAD, Param::Bytes(b)) => {
                let iv: [u8; 8] = b[..].try_into().map_err(|_| Error::MechanismParamInvalid)?;
                Ok(DesSpec::Cbc { iv, pad: matches!(mtype, ck::CKM_DES_CBC_PAD | ck::CKM_DES3_CBC_PAD) })
            }
            (m, _) if is_cipher(m) => Err(Error::MechanismParamInvalid),
            _ => Err(Error::MechanismInvalid),
        }
    }
}

fn failed(_: crate::sys::awslc::Failed) -> Error {
    Error::general("DES primitive failed")
}

/// One DES/TDES encryption or decryption in progress.
pub struct DesCipher {
    spec: DesSpec,
    encrypt: bool,
    ctx: DesCtx,
    /// The partial block; CBC_PAD decrypt: also the held-back last block.
    buf: Zeroizing<Vec<u8>>,
}

impl DesCipher {
    pub fn new(spec: DesSpec, key: &[u8], encrypt: bool) -> Result<DesCipher> {
        let iv = match &spec {
            DesSpec::Ecb => None,
            DesSpec::Cbc { iv, .. } => Some(iv),
        };
        let ctx = DesCtx::new(key, iv, encrypt).map_err(|_| Error::KeySizeRange)?;
        Ok(DesCipher { spec, encrypt, ctx, buf: Zeroizing::new(Vec::new()) })
    }

    fn holds_last_block(&self) -> bool {
        matches!(self.spec, DesSpec::Cbc { pad: true, .. }) && !self.encrypt
    }

    /// Exact output length of `update` with `n` more input bytes.
    pub fn update_len(&self, n: usize) -> usize {
        let total = self.buf.len().saturating_add(n);
        let whole = total / BLOCK * BLOCK;
        if self.holds_last_block() && total % BLOCK == 0 && total > 0 {
            whole - BLOCK
        } else {
            whole
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let n = self.update_len(data.len());
        if n == 0 {
            self.buf.extend_from_slice(data);
            return Ok(Zeroizing::new(Vec::new()));
        }
        if self.buf.is_empty() && n <= data.len() {
            // The common case: no partial block held; no copy of the input.
            let out = self.ctx.update(&data[..n]).map_err(failed)?;
            self.buf.extend_from_slice(&data[n..]);
            return Ok(Zeroizing::new(out));
        }
        self.buf.extend_from_slice(data);
        let rest = self.buf.split_off(n);
        let out = self.ctx.update(&self.buf).map_err(failed)?;
        crate::sys::awslc::wipe(&mut self.buf);
        *self.buf = rest;
        Ok(Zeroizing::new(out))
    }

    /// Ends the operation: pads, or checks the length and the padding.
    pub fn finish(mut self) -> Result<Zeroizing<Vec<u8>>> {
        match self.spec {
            DesSpec::Ecb | DesSpec::Cbc { pad: false, .. } => {
                if !self.buf.is_empty() {
                    return Err(if self.encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange });
                }
                Ok(Zeroizing::new(Vec::new()))
            }
            DesSpec::Cbc { pad: true, .. } if self.encrypt => {
                let padn = BLOCK - self.buf.len();
                let mut last = Zeroizing::new(self.buf.to_vec());
                last.extend(std::iter::repeat_n(padn as u8, padn));
                Ok(Zeroizing::new(self.ctx.update(&last).map_err(failed)?))
            }
            DesSpec::Cbc { pad: true, .. } => {
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
        }
    }

    /// Single-part: update then finish.
    pub fn oneshot(mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = self.update(data)?;
        let last = self.finish()?;
        out.extend_from_slice(&last);
        Ok(out)
    }
}

impl Drop for DesCipher {
    fn drop(&mut self) {
        crate::sys::awslc::wipe(&mut self.buf);
    }
}

/// The TDES MACs for C_Sign/C_Verify.
pub enum DesMac {
    Cmac {
        cmac: TdesCmac,
        out_len: usize,
    },
    /// CKM_DES3_MAC(_GENERAL): CBC-MAC with a zero IV, zero-padded.
    CbcMac {
        ctx: DesCtx,
        buf: Zeroizing<Vec<u8>>,
        last: [u8; 8],
        out_len: usize,
    },
}

impl DesMac {
    /// The MAC for a mechanism; `general` is the CK_MAC_GENERAL_PARAMS
    /// length of the _GENERAL ones (1..=8).
    pub fn new(m: MechType, key: &[u8], general: Option<usize>) -> Result<DesMac> {
        let out_len = match (m, general) {
            (ck::CKM_DES3_CMAC, None) => BLOCK,
            (ck::CKM_DES3_MAC, None) => BLOCK / 2,
            (ck::CKM_DES3_CMAC_GENERAL | ck::CKM_DES3_MAC_GENERAL, Some(n)) if (1..=BLOCK).contains(&n) => n,
            _ => return Err(Error::MechanismParamInvalid),
        };
        if !matches!(key.len(), 16 | 24) {
            return Err(Error::KeySizeRange);
        }
        Ok(if matches!(m, ck::CKM_DES3_CMAC | ck::CKM_DES3_CMAC_GENERAL) {
            DesMac::Cmac { cmac: des::tdes_cmac(key).map_err(failed)?, out_len }
        } else {
            let ctx = DesCtx::new(key, Some(&[0u8; 8]), true).map_err(failed)?;
            DesMac::CbcMac { ctx, buf: Zeroizing::new(Vec::new()), last: [0u8; 8], out_len }
        })
    }

    pub fn output_len(&self) -> usize {
        match self {
            DesMac::Cmac { out_len, .. } | DesMac::CbcMac { out_len, .. } => *out_len,
        }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            DesMac::Cmac { cmac, .. } => cmac.update(data).map_err(failed),
            DesMac::CbcMac { ctx, buf, last, .. } => {
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
            DesMac::Cmac { mut cmac, out_len } => {
                Ok(Zeroizing::new(cmac.finish().map_err(failed)?[..out_len].to_vec()))
            }
            DesMac::CbcMac { mut ctx, mut buf, mut last, out_len } => {
                if !buf.is_empty() {
                    buf.resize(BLOCK, 0);
                    last.copy_from_slice(&ctx.update(&buf).map_err(failed)?);
                }
                Ok(Zeroizing::new(last[..out_len].to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_odd_parity_and_no_weak_part() {
        for kt in [ck::CKK_DES, ck::CKK_DES2, ck::CKK_DES3] {
            let k = generate(kt).unwrap();
            assert_eq!(Some(k.len()), key_len(kt));
            assert!(check_key(kt, &k).is_ok());
        }
        assert_eq!(check_key(ck::CKK_DES3, &[0u8; 24]), Err(Error::AttributeValueInvalid), "even parity");
        assert_eq!(check_key(ck::CKK_DES3, &[1u8; 16]), Err(Error::AttributeValueInvalid), "length");
    }

    #[test]
    fn cbc_pad_round_trips_every_length_in_pieces() {
        let key = generate(ck::CKK_DES3).unwrap();
        for len in 0..30 {
            let data: Vec<u8> = (0..len as u8).collect();
            let spec = DesSpec::Cbc { iv: [1; 8], pad: true };
            let ct = DesCipher::new(spec.clone(), &key, true).unwrap().oneshot(&data).unwrap();
            assert_eq!(ct.len(), (len / 8 + 1) * 8);
            let mut d = DesCipher::new(spec, &key, false).unwrap();
            let mut pt = Vec::new();
            for piece in ct.chunks(3) {
                let expect = d.update_len(piece.len());
                let out = d.update(piece).unwrap();
                assert_eq!(out.len(), expect);
                pt.extend_from_slice(&out);
            }
            pt.extend_from_slice(&d.finish().unwrap());
            assert_eq!(pt, data);
        }
    }
}
