//! The process random generator.

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Small requests are served from a per-thread block (see `random`).
const BLOCK: usize = 512;
struct Pool {
    generation: u64,
    used: usize,
    bytes: Zeroizing<[u8; BLOCK]>,
}
thread_local! {
    static POOL: std::cell::RefCell<Pool> =
        std::cell::RefCell::new(Pool { generation: 0, used: BLOCK, bytes: Zeroizing::new([0u8; BLOCK]) });
}

/// Fills `buf` with random bytes from aws-lc's generator (`RAND_bytes`: a
/// per-thread DRBG seeded and reseeded from getrandom(2), safe across fork;
/// getrandom directly if it fails).
///
/// Each `RAND_bytes` call costs ~0.25 µs (an RDRAND draw and a DRBG key
/// schedule), two per generated key: small requests are served from a
/// per-thread block of 512 bytes drawn at once, wiped as served. A block
/// drawn before a fork must never serve the child too, so the block is used
/// only once the fork handler is registered (`super::fork::watch`, done by
/// the C ABI), which moves the fork generation in the child; without it
/// every request goes to aws-lc.
pub fn random(buf: &mut [u8]) -> Result<()> {
    let draw = |b: &mut [u8]| -> Result<()> {
        if aws_lc_rs::rand::fill(b).is_ok() {
            return Ok(());
        }
        getrandom::fill(b).map_err(|e| Error::general(format!("getrandom: {e}")))
    };
    if buf.len() > 64 || !super::fork::watched() {
        return draw(buf);
    }
    // try_with: in a thread's (or the process's) exit handlers the pool may
    // be gone; then aws-lc serves the request directly.
    POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        let generation = super::fork::generation();
        if p.generation != generation || p.used + buf.len() > BLOCK {
            draw(&mut p.bytes[..])?;
            p.generation = generation;
            p.used = 0;
        }
        let start = p.used;
        buf.copy_from_slice(&p.bytes[start..start + buf.len()]);
        p.bytes[start..start + buf.len()].zeroize();
        p.used += buf.len();
        Ok(())
    })
    .unwrap_or_else(|_| draw(buf))
}

/// C_SeedRandom: the caller's bytes, hashed to 32, are mixed into this
/// thread's generator (see `awslc::rand_mix`), and this thread's block of
/// drawn bytes is dropped, so what it draws next comes after the mixing.
pub fn seed(data: &[u8]) -> Result<()> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut input = Zeroizing::new([0u8; 32]);
    input.copy_from_slice(digest.as_ref());
    super::awslc::rand_mix(&input).map_err(|_| Error::general("the random generator refused the seed"))?;
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        p.bytes.zeroize();
        p.used = BLOCK;
    });
    Ok(())
}

/// A fresh random 16-byte identifier (object and token UIDs).
pub fn random_uid() -> Result<[u8; 16]> {
    let mut u = [0u8; 16];
    random(&mut u)?;
    Ok(u)
}
