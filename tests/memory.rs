//! Memory stays bounded under long loops of calls that allocate and free
//! (issue 17, item 6): create/destroy of session and token objects, and
//! login/logout, measured as the process's resident memory before and after.
//! Memory is counted after a warm-up that fills every bounded cache (the
//! opened-object cache, SQLite's page cache), so what is left to see is
//! growth per call. CI runs a short loop;
//! `FERROHSM_MEMORY_ITERS=1000000 cargo test --test memory -- --nocapture`
//! is the long run (figures in docs/reliability.md); FERROHSM_MEMORY_TRACE=1
//! prints the memory every tenth of a loop.

#[macro_use]
mod common;

use common::*;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{Session, UserType};

/// This process's resident memory in KiB (Linux): (anonymous, file-backed).
/// The store file is memory-mapped, so its pages count as file-backed
/// resident memory, and the file grows by design (every create and destroy
/// is an audit record): a leak shows in the anonymous part (heap).
fn rss_kib() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> i64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn iters(default: u64) -> u64 {
    std::env::var("FERROHSM_MEMORY_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `f` `warm` times (the caches fill to their caps, the allocator
/// settles), then `n` times more, and returns the growth of the anonymous
/// resident memory over the `n` calls, in KiB.
fn growth(name: &str, warm: u64, n: u64, mut f: impl FnMut(u64)) -> i64 {
    for i in 0..warm {
        f(i);
    }
    let (anon0, file0) = rss_kib();
    let t = std::time::Instant::now();
    for i in warm..warm + n {
        f(i);
        if std::env::var_os("FERROHSM_MEMORY_TRACE").is_some() && (i - warm + 1) % (n / 10).max(1) == 0 {
            println!("  {name}: after {} calls: {:?} KiB", i - warm + 1, rss_kib());
        }
    }
    let (anon1, file1) = rss_kib();
    println!(
        "{name}: {warm} calls to warm up, then {n} in {:.1} s: anonymous RSS {anon0} -> {anon1} KiB ({:+}), file-backed {file0} -> {file1} KiB ({:+})",
        t.elapsed().as_secs_f64(),
        anon1 - anon0,
        file1 - file0
    );
    anon1 - anon0
}

/// A world whose store is on tmpfs when there is one: the loops measure
/// memory, not fsync.
fn fast_world() -> World {
    let w = world("");
    if std::path::Path::new("/dev/shm").is_dir() {
        let dir = Box::leak(Box::new(tempfile::tempdir_in("/dev/shm").unwrap()));
        let text = std::fs::read_to_string(&w.conf).unwrap();
        let old = format!("path = {:?}", w.db.to_str().unwrap());
        let new = format!("path = {:?}", dir.path().join("store.db").to_str().unwrap());
        std::fs::write(&w.conf, text.replace(&old, &new)).unwrap();
    }
    w
}

fn create_destroy(s: &Session, token: bool, i: u64) {
    let h = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(token),
            Attribute::Private(true),
            Attribute::Label(format!("m{i}").into_bytes()),
            Attribute::Value(vec![(i & 0xff) as u8; 64]),
        ])
        .unwrap();
    s.destroy_object(h).unwrap();
}

/// What the loop may grow by: 1 MiB whatever the count. A leak of 100
/// bytes a call would pass it within the CI loop.
const BOUND_KIB: i64 = 1024;

/// The opened-object cache holds up to 4,096 objects (`token::OPENED_MAX`)
/// before it starts over: a warm-up past it fills every cache.
const CACHES_FULL: u64 = 6_000;

#[test]
fn session_object_create_destroy_does_not_grow() {
    let _w = fast_world();
    let p = load();
    let s = user_session(&p, init_token(&p, "t"));
    let g = growth("session create/destroy", CACHES_FULL, iters(100_000), |i| create_destroy(&s, false, i));
    assert!(g < BOUND_KIB, "RSS grew {g} KiB");
}

#[test]
fn token_object_create_destroy_does_not_grow() {
    let _w = fast_world();
    let p = load();
    let s = user_session(&p, init_token(&p, "t"));
    let g = growth("token create/destroy", CACHES_FULL, iters(100_000) / 25, |i| create_destroy(&s, true, i));
    assert!(g < BOUND_KIB, "RSS grew {g} KiB");
}

#[test]
fn login_logout_and_session_open_close_do_not_grow() {
    let _w = fast_world();
    let p = load();
    let slot = init_token(&p, "t");
    // SQLite's page cache (2,000 KiB a connection) fills as the store
    // grows (each login is an audit record): fill it first, with large objects
    // written (3 MB of distinct pages) and removed, or the loop would measure it.
    {
        let s = user_session(&p, slot);
        let made: Vec<_> = (0..50u8)
            .map(|i| {
                let big =
                    [Attribute::Class(ObjectClass::DATA), Attribute::Token(true), Attribute::Value(vec![i; 60_000])];
                s.create_object(&big).unwrap()
            })
            .collect();
        for h in made {
            s.destroy_object(h).unwrap();
        }
    }
    let keep = p.open_ro_session(slot).unwrap();
    let g = growth("login/logout", 500, iters(100_000) / 50, |_| {
        keep.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        keep.logout().unwrap();
    });
    assert!(g < BOUND_KIB, "RSS grew {g} KiB");
    let g = growth("session open/close", 1_000, iters(100_000), |_| drop(p.open_rw_session(slot).unwrap()));
    assert!(g < BOUND_KIB, "RSS grew {g} KiB");
}
