//! Key derivation: HKDF (RFC 5869) and the SP 800-108 KDFs (counter,
//! feedback, double pipeline) with an HMAC or AES-CMAC PRF.

use cryptoki_sys as ck;
use zeroize::Zeroizing;

use super::aes::AesMac;
use super::digest::{self, Hmac};
use crate::error::{Error, Result};
use crate::model::{Kdf108Mode, MechType, PrfData};
use crate::sys::awslc::{self as raw, Md};

fn md(prf: MechType) -> Result<Md> {
    Ok(match prf {
        ck::CKM_SHA_1 => Md::Sha1,
        ck::CKM_SHA224 => Md::Sha224,
        ck::CKM_SHA256 => Md::Sha256,
        ck::CKM_SHA384 => Md::Sha384,
        ck::CKM_SHA512 => Md::Sha512,
        ck::CKM_SHA3_256 => Md::Sha3_256,
        ck::CKM_SHA3_384 => Md::Sha3_384,
        ck::CKM_SHA3_512 => Md::Sha3_512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// The output length of an HKDF PRF (its hash's), for a derived generic
/// secret whose template gives no CKA_VALUE_LEN.
pub fn hkdf_hash_len(prf: MechType) -> Result<usize> {
    md(prf)?;
    Ok(digest::algorithm(prf).ok_or(Error::MechanismParamInvalid)?.output_len())
}

/// HKDF with the extract and/or expand step. With extract only, the output
/// is the PRK and `len` must be the hash length.
pub fn hkdf(
    prf: MechType,
    extract: bool,
    expand: bool,
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let md = md(prf)?;
    let hash_len = digest::algorithm(prf).ok_or(Error::MechanismParamInvalid)?.output_len();
    if !extract && !expand {
        return Err(Error::MechanismParamInvalid);
    }
    let failed = |_| Error::general("HKDF failed");
    let prk = if extract {
        // A NULL salt is HashLen zero bytes (RFC 5869 §2.2).
        let zeros = vec![0u8; hash_len];
        raw::hkdf_extract(md, salt.unwrap_or(&zeros), ikm).map_err(failed)?
    } else {
        Zeroizing::new(ikm.to_vec())
    };
    if !expand {
        if len != prk.len() {
            return Err(Error::TemplateInconsistent);
        }
        return Ok(prk);
    }
    if len == 0 || len > 255 * hash_len {
        return Err(Error::TemplateInconsistent);
    }
    raw::hkdf_expand(md, &prk, info, len).map_err(failed)
}

enum Prf {
    Hmac(digest::Alg),
    Cmac,
}

impl Prf {
    fn new(prf: MechType) -> Result<Prf> {
        match prf {
            ck::CKM_AES_CMAC => Ok(Prf::Cmac),
            m => digest::algorithm(m)
                .filter(|_| !digest::is_general_hmac(m) && digest::algorithm(m).is_some())
                .map(Prf::Hmac)
                .ok_or(Error::MechanismParamInvalid),
        }
    }

    fn out_len(&self) -> usize {
        match self {
            Prf::Hmac(a) => a.output_len(),
            Prf::Cmac => 16,
        }
    }

    fn run(&self, key: &[u8], input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Prf::Hmac(a) => {
                let mut h = Hmac::new(*a, key, a.output_len())?;
                h.update(input);
                Ok(h.finish())
            }
            Prf::Cmac => {
                let mut m = AesMac::cmac(key, 16)?;
                m.update(input)?;
                m.finish()
            }
        }
    }
}

fn encode(v: u64, bits: u32, little_endian: bool) -> Vec<u8> {
    let n = (bits / 8) as usize;
    let be = v.to_be_bytes();
    let mut out = be[8 - n..].to_vec();
    if little_endian {
        out.reverse();
    }
    out
}

/// Which HMAC/CMAC PRFs are valid for the SP 800-108 KDF (`prfType`).
pub fn is_kdf_prf(prf: MechType) -> bool {
    prf == ck::CKM_AES_CMAC
        || matches!(
            prf,
            ck::CKM_SHA_1_HMAC
                | ck::CKM_SHA224_HMAC
                | ck::CKM_SHA256_HMAC
                | ck::CKM_SHA384_HMAC
                | ck::CKM_SHA512_HMAC
                | ck::CKM_SHA3_224_HMAC
                | ck::CKM_SHA3_256_HMAC
                | ck::CKM_SHA3_384_HMAC
                | ck::CKM_SHA3_512_HMAC
        )
}

/// One resolved entry of an SP 800-108 input layout: what
/// [`PrfData`] says, with a key handle's value already looked up.
pub enum Input<'a> {
    Counter { little_endian: bool, bits: u32 },
    Iteration,
    DkmLength { sum_of_segments: bool, little_endian: bool, bits: u32 },
    Bytes(&'a [u8]),
}

impl<'a> Input<'a> {
    /// `d` as an input; `key` gives a CK_SP800_108_KEY_HANDLE's value.
    pub fn of(d: &'a PrfData, key: impl FnOnce(u64) -> Result<&'a [u8]>) -> Result<Input<'a>> {
        Ok(match d {
            PrfData::Counter { little_endian, bits } => Input::Counter { little_endian: *little_endian, bits: *bits },
            PrfData::Iteration => Input::Iteration,
            PrfData::DkmLength { sum_of_segments, little_endian, bits } => {
                Input::DkmLength { sum_of_segments: *sum_of_segments, little_endian: *little_endian, bits: *bits }
            }
            PrfData::Bytes(b) => Input::Bytes(b),
            PrfData::Key(h) => Input::Bytes(key(*h)?),
        })
    }
}

/// SP 800-108 in any of its three modes, for keys of `lens` bytes. Every
/// key starts on a fresh PRF segment (PKCS#11 3.0 §2.42.7: keys come from
/// disjoint segments), so the i-th output is the first `lens[i]` bytes of
/// its own run of segments.
///
/// - counter: K(i) = PRF(key, layout with the counter = i);
/// - feedback: K(i) = PRF(key, layout with the iteration variable = K(i-1)
///   and the optional counter = i), K(0) = the IV;
/// - double pipeline: A(0) = the layout without iteration variable and
///   counter, A(i) = PRF(key, A(i-1)), K(i) = PRF(key, layout with the
///   iteration variable = A(i) and the optional counter = i).
///
/// A DKM length item carries the sum of the keys' lengths or of the
/// segments', in bits.
pub fn sp800_108(
    mode: &Kdf108Mode,
    prf: MechType,
    key: &[u8],
    layout: &[Input],
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if !is_kdf_prf(prf) {
        return Err(Error::MechanismParamInvalid);
    }
    let p = Prf::new(prf)?;
    let count = |f: fn(&Input) -> bool| layout.iter().filter(|d| f(d)).count();
    let counters = count(|d| matches!(d, Input::Counter { .. }));
    let iterations = count(|d| matches!(d, Input::Iteration));
    let dkms = count(|d| matches!(d, Input::DkmLength { .. }));
    let shape_ok = match mode {
        Kdf108Mode::Counter => counters == 1 && iterations == 0,
        _ => iterations == 1 && counters <= 1,
    };
    if !shape_ok || dkms > 1 || lens.is_empty() || lens.contains(&0) {
        return Err(Error::MechanismParamInvalid);
    }
    let h = p.out_len();
    let segments: usize = lens.iter().map(|l| l.div_ceil(h)).sum();
    // Counter mode's counter must not wrap (n <= 2^r - 1); the other two
    // modes allow 2^32 - 1 iterations, and an optional counter its width.
    for d in layout {
        match d {
            Input::Counter { bits, .. } if !matches!(bits, 8 | 16 | 24 | 32) => {
                return Err(Error::MechanismParamInvalid)
            }
            Input::Counter { bits, .. } if (segments as u64) >= (1u64 << bits) => {
                return Err(Error::MechanismParamInvalid)
            }
            Input::DkmLength { bits, .. } if !(8..=64).contains(bits) || bits % 8 != 0 => {
                return Err(Error::MechanismParamInvalid)
            }
            _ => {}
        }
    }
    if segments as u64 > u32::MAX as u64 {
        return Err(Error::MechanismParamInvalid);
    }
    let dkm_bits = |sum_of_segments: bool| -> u64 {
        if sum_of_segments {
            (segments * h * 8) as u64
        } else {
            lens.iter().map(|l| (*l as u64) * 8).sum()
        }
    };
    // The layout with the iteration variable and counter filled in.
    let assemble = |i: u64, iteration: &[u8]| -> Zeroizing<Vec<u8>> {
        let mut input = Zeroizing::new(Vec::new());
        for d in layout {
            match d {
                Input::Counter { little_endian, bits } => input.extend(encode(i, *bits, *little_endian)),
                Input::Iteration => input.extend_from_slice(iteration),
                Input::DkmLength { sum_of_segments, little_endian, bits } => {
                    input.extend(encode(dkm_bits(*sum_of_segments), *bits, *little_endian))
                }
                Input::Bytes(b) => input.extend_from_slice(b),
            }
        }
        input
    };
    let mut stream = Zeroizing::new(Vec::with_capacity(segments * h));
    let mut prev: Zeroizing<Vec<u8>> = match mode {
        Kdf108Mode::Feedback { iv } => Zeroizing::new(iv.clone()),
        // A(0): the fixed data, without iteration variable and counter.
        Kdf108Mode::DoublePipeline => {
            let mut a0 = Zeroizing::new(Vec::new());
            for d in layout {
                match d {
                    Input::DkmLength { sum_of_segments, little_endian, bits } => {
                        a0.extend(encode(dkm_bits(*sum_of_segments), *bits, *little_endian))
                    }
                    Input::Bytes(b) => a0.extend_from_slice(b),
                    Input::Counter { .. } | Input::Iteration => {}
                }
            }
            a0
        }
        Kdf108Mode::Counter => Zeroizing::new(Vec::new()),
    };
    for i in 1..=segments as u64 {
        let k = match mode {
            Kdf108Mode::Counter => p.run(key, &assemble(i, &[]))?,
            Kdf108Mode::Feedback { .. } => p.run(key, &assemble(i, &prev))?,
            Kdf108Mode::DoublePipeline => {
                let a = p.run(key, &prev)?;
                let k = p.run(key, &assemble(i, &a))?;
                prev = a;
                k
            }
        };
        stream.extend_from_slice(&k);
        if let Kdf108Mode::Feedback { .. } = mode {
            prev = k;
        }
    }
    let mut out = Vec::with_capacity(lens.len());
    let mut at = 0;
    for l in lens {
        out.push(Zeroizing::new(stream[at..at + l].to_vec()));
        at += l.div_ceil(h) * h;
    }
    Ok(out)
}

/// ANSI X9.63 KDF (as PKCS#11's CKD_SHA*_KDF): H(Z ‖ counter ‖ shared)
/// blocks, the 32-bit big-endian counter starting at 1.
pub fn x963(md: Md, z: &[u8], shared: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let alg = crate::mech::asym::digest_alg(md);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut c = aws_lc_rs::digest::Context::new(alg);
        c.update(z);
        c.update(&counter.to_be_bytes());
        c.update(shared);
        out.extend_from_slice(c.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc5869_case1() {
        let okm = hkdf(
            ck::CKM_SHA256,
            true,
            true,
            Some(&unhex("000102030405060708090a0b0c")),
            &[0x0b; 22],
            &unhex("f0f1f2f3f4f5f6f7f8f9"),
            42,
        )
        .unwrap();
        assert_eq!(
            &okm[..],
            &unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")[..]
        );
    }

    #[test]
    fn counter_width_is_checked() {
        let layout = [Input::Counter { little_endian: false, bits: 12 }];
        assert_eq!(
            sp800_108(&Kdf108Mode::Counter, ck::CKM_SHA256_HMAC, &[1; 32], &layout, &[32]).err(),
            Some(Error::MechanismParamInvalid)
        );
    }
}
