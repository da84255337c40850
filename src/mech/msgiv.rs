//! The IV generators of the PKCS#11 3.0 message API (CK_GENERATOR_FUNCTION
//! in CK_GCM_MESSAGE_PARAMS / CK_CCM_MESSAGE_PARAMS) and the rule that no
//! IV is used twice under the key of one message-encryption operation.
//!
//! The leading `fixed_bits` of the IV come from the caller's IV buffer; the
//! module fills the rest: CKG_GENERATE_COUNTER (and CKG_GENERATE, which is
//! the same here: a deterministic construction, SP 800-38D §8.2.1) with the
//! operation's message counter, big-endian, refusing with CKR_KEY_EXHAUSTED
//! a counter that no longer fits; CKG_GENERATE_RANDOM with fresh random
//! bits. CKG_NO_GENERATE takes the caller's IV whole (`fixed_bits` must be
//! 0).
//!
//! Every IV an operation encrypts under is remembered (up to `TRACKED`), so
//! a caller-supplied IV equal to one already used, or a random one that
//! collides, is refused (random: drawn again, a few times).

use std::collections::HashSet;

use cryptoki_sys as ck;

use crate::error::{Error, Result};

/// The most IVs one operation remembers. Past that, counter IVs stay
/// unique by construction; caller-supplied and random ones are checked
/// against the remembered ones only.
pub const TRACKED: usize = 1 << 16;

/// Random draws before a collision-prone random space is declared spent.
const RANDOM_TRIES: usize = 8;

#[derive(Default)]
pub struct IvState {
    counter: u128,
    used: HashSet<Vec<u8>>,
}

/// The generator of a message parameter, checked against `fixed_bits` and
/// the IV length (CKR_MECHANISM_PARAM_INVALID).
pub fn check(generator: ck::CK_GENERATOR_FUNCTION, fixed_bits: u64, iv_len: usize) -> Result<()> {
    let total = iv_len as u64 * 8;
    match generator {
        ck::CKG_NO_GENERATE if fixed_bits == 0 => Ok(()),
        ck::CKG_GENERATE | ck::CKG_GENERATE_COUNTER | ck::CKG_GENERATE_RANDOM if fixed_bits <= total => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// `base` with every bit after the first `fixed_bits` replaced by `fill`'s.
fn merge(base: &[u8], fill: &[u8], fixed_bits: usize) -> Vec<u8> {
    base.iter()
        .zip(fill)
        .enumerate()
        .map(|(i, (&b, &f))| {
            let start = i * 8;
            let keep = if fixed_bits >= start + 8 {
                0xffu8
            } else if fixed_bits <= start {
                0
            } else {
                0xffu8 << (8 - (fixed_bits - start))
            };
            (b & keep) | (f & !keep)
        })
        .collect()
}

impl IvState {
    fn remember(&mut self, iv: &[u8]) {
        if self.used.len() < TRACKED {
            self.used.insert(iv.to_vec());
        }
    }

    /// The IV of the next message encrypted, from the caller's buffer
    /// `given`; remembered as used. (Called only when the message is
    /// actually encrypted, never for a length query.)
    pub fn next(&mut self, generator: ck::CK_GENERATOR_FUNCTION, fixed_bits: u64, given: &[u8]) -> Result<Vec<u8>> {
        check(generator, fixed_bits, given.len())?;
        let fixed = fixed_bits as usize;
        let free = given.len() * 8 - fixed;
        let iv = match generator {
            ck::CKG_NO_GENERATE => {
                if self.used.contains(given) {
                    // The spec's code for a parameter the operation cannot take.
                    return Err(Error::MechanismParamInvalid);
                }
                given.to_vec()
            }
            ck::CKG_GENERATE | ck::CKG_GENERATE_COUNTER => {
                let c = self.counter;
                if free < 128 && c >> free != 0 {
                    return Err(Error::KeyExhausted);
                }
                let mut fill = vec![0u8; given.len()];
                let be = c.to_be_bytes();
                let n = fill.len().min(16);
                let at = fill.len() - n;
                fill[at..].copy_from_slice(&be[16 - n..]);
                self.counter += 1;
                let iv = merge(given, &fill, fixed);
                if self.used.contains(&iv) {
                    // A caller-supplied IV took this one earlier.
                    return Err(Error::KeyExhausted);
                }
                iv
            }
            ck::CKG_GENERATE_RANDOM => {
                let mut tries = 0;
                loop {
                    let mut fill = vec![0u8; given.len()];
                    crate::sys::rand::random(&mut fill)?;
                    let iv = merge(given, &fill, fixed);
                    if !self.used.contains(&iv) {
                        break iv;
                    }
                    tries += 1;
                    if tries >= RANDOM_TRIES {
                        return Err(Error::KeyExhausted);
                    }
                }
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        self.remember(&iv);
        Ok(iv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_keeps_fixed_bits_and_refuses_to_wrap() {
        let mut s = IvState::default();
        // 12 fixed bits of 16: a 4-bit counter, 16 IVs.
        let given = [0xab, 0xcd];
        for i in 0..16u8 {
            let iv = s.next(ck::CKG_GENERATE_COUNTER, 12, &given).unwrap();
            assert_eq!(iv, vec![0xab, 0xc0 | i]);
        }
        assert_eq!(s.next(ck::CKG_GENERATE_COUNTER, 12, &given), Err(Error::KeyExhausted));
    }

    #[test]
    fn caller_iv_reuse_is_refused_and_random_keeps_fixed_part() {
        let mut s = IvState::default();
        s.next(ck::CKG_NO_GENERATE, 0, &[1; 12]).unwrap();
        assert_eq!(s.next(ck::CKG_NO_GENERATE, 0, &[1; 12]), Err(Error::MechanismParamInvalid));
        assert_eq!(s.next(ck::CKG_NO_GENERATE, 8, &[2; 12]), Err(Error::MechanismParamInvalid));
        let iv = s.next(ck::CKG_GENERATE_RANDOM, 32, &[7; 12]).unwrap();
        assert_eq!(&iv[..4], &[7; 4]);
        // One free bit: two IVs, then the space is spent.
        let mut s = IvState::default();
        let a = s.next(ck::CKG_GENERATE_RANDOM, 95, &[0; 12]).unwrap();
        let b = s.next(ck::CKG_GENERATE_RANDOM, 95, &[0; 12]);
        if let Ok(b) = b {
            assert_ne!(a, b);
        }
        // No free bit: one IV, then the space is spent.
        assert_eq!(s.next(ck::CKG_GENERATE_RANDOM, 96, &[9; 12]), Ok(vec![9; 12]));
        assert_eq!(s.next(ck::CKG_GENERATE_RANDOM, 96, &[9; 12]), Err(Error::KeyExhausted));
    }
}
