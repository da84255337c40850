//! The generation across processes, against the test server
//! (`FERROHSM_TEST_PG_URL`, which .ci/run always sets; without it these
//! skip, loudly).

use super::*;

fn server() -> Option<String> {
    let url = std::env::var("FERROHSM_TEST_PG_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("!!!!!!!! SKIPPED store::postgres tests: FERROHSM_TEST_PG_URL is not set (.ci/run sets it) !!!!!!!!");
    }
    url
}

/// A store in a fresh schema, and a second one on the same schema (two
/// "hosts").
fn two(url: &str) -> (PgStore, PgStore, String) {
    let t = conn::parse(url).unwrap().with_password(None).unwrap();
    let mut c = Pool::new(t).unwrap().connect().unwrap();
    let name = format!("u_{}_{}", std::process::id(), crate::hex::hex(&crate::sys::rand::random_uid().unwrap()[..6]));
    c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let url = format!("{url}&options=-csearch_path%3D{name}");
    let open = || PgStore::open(conn::parse(&url).unwrap().with_password(None).unwrap()).unwrap();
    (open(), open(), name)
}

fn drop_schema(url: &str, name: &str) {
    let t = conn::parse(url).unwrap().with_password(None).unwrap();
    let _ = Pool::new(t).unwrap().connect().unwrap().batch_execute(&format!("DROP SCHEMA {name} CASCADE"));
}

fn wait(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn generation_follows_other_hosts_with_and_without_the_listener() {
    let Some(url) = server() else { return };
    let (a, b, schema) = two(&url);
    wait("both listeners are up", || a.gen.listened().is_some() && b.gen.listened().is_some());
    // Listening: a value from the atomic (no round trip), changed by the
    // other host's commit once its notification arrives.
    let g0 = b.generation().unwrap();
    assert_eq!(Some(g0), b.gen.listened());
    a.append_audit("one", None).unwrap();
    wait("B hears A's commit", || b.generation() != Some(g0));
    // A host's own commit changes its own generation at once.
    let mine = a.generation();
    a.append_audit("two", None).unwrap();
    assert_ne!(a.generation(), mine);
    // B's listener stopped: B reads the row on every call, so A's next
    // commit is seen at B's very next call, with no wait at all.
    b.gen.stop();
    wait("B's listener is down", || b.gen.listened().is_none());
    let g1 = b.generation().unwrap();
    assert_eq!(g1, b.generation().unwrap(), "nothing changed");
    a.append_audit("three", None).unwrap();
    assert_ne!(b.generation().unwrap(), g1);
    // The row and the listener's values never coincide.
    assert!(g1 < 1 << 63 && g0 >= 1 << 63);
    drop((a, b));
    drop_schema(&url, &schema);
}

#[test]
fn writers_on_two_hosts_lose_nothing() {
    let Some(url) = server() else { return };
    let (a, b, schema) = two(&url);
    std::thread::scope(|s| {
        for st in [&a, &b] {
            s.spawn(move || {
                for i in 0..40 {
                    st.append_audit(&format!("batch {i}"), None).unwrap();
                }
            });
        }
    });
    // One chain of 80 batches, each linked to the one before.
    let log = a.audit_log().unwrap();
    assert_eq!(log.rows.len(), 80);
    let mut prev = vec![0u8; 32];
    for (i, r) in log.rows.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1);
        assert_eq!(r.prev, prev);
        assert_eq!(r.hash, super::super::audit_hash(&r.prev, r.seq, &r.body));
        prev = r.hash.clone();
    }
    assert_eq!(log.head, Some((80, prev)));
    drop((a, b));
    drop_schema(&url, &schema);
}
