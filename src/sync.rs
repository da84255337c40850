//! Locks that a panic cannot wedge. The C ABI catches every panic at its
//! boundary; a std lock held across one would stay poisoned and every
//! later call that takes it would fail (CKR_CANT_LOCK until C_Finalize).
//! These take the lock whatever happened before: the data under each lock
//! here is a cache, a table or one session's operation state, each valid
//! after any partial update (at worst an operation a panic interrupted
//! is left as it was, and the caller ends it as after any error).

use std::sync::PoisonError;

pub use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default, Debug)]
pub struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub const fn new(t: T) -> Mutex<T> {
        Mutex(std::sync::Mutex::new(t))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default, Debug)]
pub struct RwLock<T>(std::sync::RwLock<T>);

impl<T> RwLock<T> {
    pub const fn new(t: T) -> RwLock<T> {
        RwLock(std::sync::RwLock::new(t))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The read lock if no writer holds it now (poison ignored).
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        match self.0.try_read() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_while_locked_leaves_the_lock_usable() {
        let m = std::sync::Arc::new(super::Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock();
            panic!("while locked");
        })
        .join();
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
        let r = std::sync::Arc::new(super::RwLock::new(0));
        let r2 = r.clone();
        let _ = std::thread::spawn(move || {
            let _g = r2.write();
            panic!("while locked");
        })
        .join();
        *r.write() += 1;
        assert_eq!(*r.read(), 1);
    }
}
