//! Test-only fault points (feature `test-hooks`, never in releases): a
//! panic at a named point while locks are held, to show that the panic
//! caught at the C boundary leaves the module usable (`tests/panic.rs`).

/// Panics when `FERROHSM_TEST_PANIC` names `point` (test-hooks builds).
#[cfg(feature = "test-hooks")]
pub fn panic_point(point: &str) {
    if std::env::var("FERROHSM_TEST_PANIC").is_ok_and(|v| v == point) {
        panic!("test panic at {point}");
    }
}

/// Nothing in ordinary builds.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn panic_point(_point: &str) {}
