//! Fork tracking: one `pthread_atfork` child handler for the process that
//! only bumps a counter, so anything that must not survive into a child (the
//! C ABI's module state, the random pool) can tell it is in one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(1);
static WATCHED: AtomicBool = AtomicBool::new(false);
static WATCH: Once = Once::new();

extern "C" fn in_child() {
    // Only an atomic add: async-signal-safe, as a child handler of a
    // multi-threaded parent must be.
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Registers the fork handler (once per process); afterwards `generation`
/// changes in every forked child. True if it is registered.
pub fn watch() -> bool {
    WATCH.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn` with no captured state
        // that only performs an atomic add; the library is never unloaded
        // (linked -z nodelete), so the handler outlives every fork.
        if unsafe { libc::pthread_atfork(None, None, Some(in_child)) } == 0 {
            WATCHED.store(true, Ordering::Release);
        }
    });
    watched()
}

/// Whether `watch` has registered the handler (then `generation` is trusted).
pub fn watched() -> bool {
    WATCHED.load(Ordering::Acquire)
}

/// Moves in every forked child once `watch` has run; starts at 1.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}
