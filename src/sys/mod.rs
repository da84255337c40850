//! The shim: every `unsafe` outside the C ABI (`ffi`) lives here, behind
//! wrappers that are safe to call. aws-lc-sys calls the safe aws-lc-rs API
//! lacks (`awslc`), the mapping of the store's generation file (`mapped`),
//! fork tracking and the process random generator (`fork`, `rand`), and the
//! odd libc call (`release_free_memory`, `default_sigpipe`).

pub mod awslc;
pub mod fork;
pub mod mapped;
pub mod rand;

/// Hands freed heap memory back to the OS. After a 19 MiB Argon2 derivation
/// glibc raises its mmap threshold, later large buffers land on the heap,
/// and a process that logged in a few times kept ~40 MiB it no longer used.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only returns free pages to
    // the OS; it is thread-safe (it takes the arena locks itself).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Dies quietly on a closed pipe (`ferrohsm audit show | head`), as command
/// line tools do, instead of panicking in `println!`. Rust ignores SIGPIPE
/// by default; this puts back the default action. For programs (the CLI),
/// not for the library inside someone else's process.
pub fn default_sigpipe() {
    // SAFETY: installs the default disposition (SIG_DFL, no handler code of
    // ours) for one signal; `signal` takes no pointers we own.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
