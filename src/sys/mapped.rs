//! `<store>.gen` read through a shared read-only mapping: the generation
//! check runs on every PKCS#11 call, and a load from the mapping costs a few
//! nanoseconds where a `pread` costs a system call (~0.35 µs here, ~10% of a
//! session-key generation). Writers still use `pwrite` on the file; the page
//! cache is the same page, so every process sees a commit as soon as its
//! writer has stored the new value.
//!
//! A mapping is the point, so this lives in `sys`. The file is extended to 8 bytes before mapping and
//! never shortened by us; truncating it under a running process would fault
//! like truncating SQLite's own `-shm` mapping would.

use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

const LEN: usize = 8;

pub struct Generation {
    file: std::fs::File,
    map: NonNull<AtomicU64>,
}

// SAFETY: the mapping is read-only shared memory read with atomic loads; the
// file handle is only written with pwrite. Both are safe from any thread.
unsafe impl Send for Generation {}
// SAFETY: as above.
unsafe impl Sync for Generation {}

impl Generation {
    /// Maps the (at least 8-byte) generation file; None if it cannot be.
    pub fn new(file: std::fs::File) -> Option<Generation> {
        let len = file.metadata().ok()?.len();
        if len < LEN as u64 {
            // set_len only grows it here and leaves bytes another process
            // may have written in between unchanged.
            file.set_len(LEN as u64).ok()?;
        }
        // SAFETY: a fresh read-only shared mapping of the first 8 bytes of an
        // open file of at least that size; the result is checked.
        let p =
            unsafe { libc::mmap(std::ptr::null_mut(), LEN, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return None;
        }
        // mmap returns page-aligned memory, so the u64 is aligned.
        Some(Generation { file, map: NonNull::new(p as *mut AtomicU64)? })
    }

    pub fn read(&self) -> u64 {
        // SAFETY: the mapping lives as long as `self` and is 8 aligned bytes.
        unsafe { self.map.as_ref() }.load(Ordering::Acquire)
    }

    /// Stores a new value (any change tells readers to look again).
    pub fn write(&self, value: [u8; LEN]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(&value, 0)
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        unsafe { libc::munmap(self.map.as_ptr() as *mut libc::c_void, LEN) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_write_through_the_file_is_seen_through_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g");
        let open = || std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&p).unwrap();
        let a = super::Generation::new(open()).unwrap();
        let b = super::Generation::new(open()).unwrap();
        assert_eq!(a.read(), 0);
        a.write(7u64.to_ne_bytes()).unwrap();
        assert_eq!(b.read(), 7);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 8);
    }
}
