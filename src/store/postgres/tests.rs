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

/// A store made by a version-1 module (no `objects.gen`): opening it
/// migrates, and its objects, older than any change, are found and
/// loaded from the process's copy and follow later changes.
#[test]
fn a_version_1_schema_is_migrated_and_its_objects_found() {
    let Some(url) = server() else { return };
    let t = conn::parse(&url).unwrap().with_password(None).unwrap();
    let mut c = Pool::new(t).unwrap().connect().unwrap();
    let name = format!("v1_{}_{}", std::process::id(), crate::hex::hex(&crate::sys::rand::random_uid().unwrap()[..6]));
    c.batch_execute(&format!("CREATE SCHEMA {name}; SET search_path = {name}")).unwrap();
    c.batch_execute(schema::SCHEMA_V1).unwrap();
    c.batch_execute(
        "UPDATE ferrohsm_schema SET version = 1;
         INSERT INTO tokens (token_id, slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf)
             VALUES (7, 0, '\\x00', '\\x00', '\\x00', '\\x00', '\\x00', 'x');
         INSERT INTO objects (obj_id, token_id, uid, private, version)
             VALUES (70, 7, '\\x01010101010101010101010101010101', false, 1),
                    (71, 7, '\\x02020202020202020202020202020202', true, 1);
         INSERT INTO attrs (obj_id, atype, sealed, value, idx) VALUES
             (70, 3, false, '\\x61', '\\x03030303030303030303030303030303'),
             (71, 3, false, '\\x62', '\\x04040404040404040404040404040404');",
    )
    .unwrap();
    let url = format!("{url}&options=-csearch_path%3D{name}");
    let open = || PgStore::open(conn::parse(&url).unwrap().with_password(None).unwrap()).unwrap();
    let (a, b) = (open(), open());
    let v: i32 = c.query_one("SELECT version FROM ferrohsm_schema", &[]).unwrap().get(0);
    assert_eq!(v, schema::SCHEMA_VERSION);
    wait("both listeners are up", || a.gen.listened().is_some() && b.gen.listened().is_some());
    let all = Visible { public: true, private: true };
    let by = |i: u8| vec![(3 as AttrType, vec![[i; 16]])];
    // The first find asks the database and starts the copy.
    assert_eq!(a.find(7, all, &by(3)).unwrap(), vec![70]);
    wait("A copied token 7", || a.gen.mirror.load(a.gen.mirror.epoch(), 7, 70).is_some());
    assert_eq!(a.find(7, all, &by(3)).unwrap(), vec![70]);
    assert_eq!(a.find(7, Visible { public: true, private: false }, &by(4)).unwrap(), Vec::<ObjectId>::new());
    assert_eq!(a.find(7, all, &[]).unwrap(), vec![70, 71]);
    let epoch = a.gen.mirror.epoch();
    let o = a.gen.mirror.load(epoch, 7, 71).expect("served from the copy").expect("there");
    assert_eq!((o.uid.len(), o.rows.len(), &o.rows[0].value[..]), (16, 1, &b"b"[..]));
    // Notifications are per database: another schema's store, numbering
    // its tokens and objects on its own, names the same ids. Its
    // notifications are not about this store (once, before the schema was
    // named in them, they marked these objects stale, and a read finding
    // none yet marked them deleted, so this store's own new object with
    // that id was missing from its copy). Then one of this store: it is
    // heard after the other, in order.
    let other = a.gen.store + 1;
    let g0 = a.generation();
    c.batch_execute(&format!("NOTIFY ferrohsm_gen, 'm1 {other} 999 7 70,71,72'")).unwrap();
    c.batch_execute(&format!("NOTIFY ferrohsm_gen, 'm1 {} 1000'", a.gen.store)).unwrap();
    wait("A heard its own store's notification", || a.generation() != g0);
    let e = a.gen.mirror.epoch();
    assert!(a.gen.mirror.load(e, 7, 70).is_some() && a.gen.mirror.load(e, 7, 71).is_some());
    c.batch_execute(&format!("NOTIFY ferrohsm_gen, 'm1 {} 1001 7 71'", a.gen.store)).unwrap();
    wait("A marked 71 stale", || a.gen.mirror.load(a.gen.mirror.epoch(), 7, 71).is_none());
    assert_eq!(a.find(7, all, &by(4)).unwrap(), vec![71], "read again (its mark settled by the read)");
    assert!(a.gen.mirror.load(a.gen.mirror.epoch(), 7, 71).is_some());
    // Changed behind both stores' backs by SQL (no notification): the
    // copy keeps what it had...
    c.batch_execute("UPDATE attrs SET idx = '\\x05050505050505050505050505050505' WHERE obj_id = 70").unwrap();
    assert_eq!(a.find(7, all, &by(3)).unwrap(), vec![70]);
    // ...until a drop: a notification from another version (no payload
    // this version parses) drops every copy.
    c.batch_execute("NOTIFY ferrohsm_gen, '12'").unwrap();
    wait("A dropped its copy", || a.gen.mirror.load(a.gen.mirror.epoch(), 7, 70).is_none());
    assert_eq!(a.find(7, all, &by(5)).unwrap(), vec![70]);
    assert_eq!(a.find(7, all, &by(3)).unwrap(), Vec::<ObjectId>::new());
    drop((a, b));
    drop_schema(url.split("&options").next().unwrap(), &name);
}

/// A token of 100,000 objects (rows made by SQL, as a version-1 module's
/// would be after the migration): the first find asks the database and
/// starts copying it (one statement, its own thread), and every find from
/// the copy, by label or by class, names exactly the right objects.
/// Prints how long the copy took.
#[test]
fn a_token_of_100000_objects_is_copied_once_and_searched() {
    let Some(url) = server() else { return };
    let (a, b, schema) = two(&url);
    drop(b);
    let t = conn::parse(&url).unwrap().with_password(None).unwrap();
    let mut c = Pool::new(t).unwrap().connect().unwrap();
    let t0 = std::time::Instant::now();
    c.batch_execute(&format!(
        "SET search_path = {schema};
         INSERT INTO tokens (token_id, slot_id, uid, label, serial, so_salt, so_wrapped, so_kdf)
             VALUES (9, 0, '\\x00', '\\x00', '\\x00', '\\x00', '\\x00', 'x');
         INSERT INTO objects (obj_id, token_id, uid, private, version)
             SELECT i, 9, decode(lpad(to_hex(i), 32, '0'), 'hex'), i % 2 = 0, 1 FROM generate_series(1, 100000) i;
         INSERT INTO attrs (obj_id, atype, sealed, value, idx)
             SELECT i, a, a = 17, decode(repeat('ab', 40), 'hex'),
                    CASE WHEN a = 3 THEN decode(lpad(to_hex(i), 32, '0'), 'hex')
                         WHEN a = 0 THEN decode(repeat('11', 16), 'hex') END
             FROM generate_series(1, 100000) i, unnest(ARRAY[0, 1, 2, 3, 17, 256, 258, 259, 260, 261, 262]) a;
         ANALYZE objects; ANALYZE attrs;"
    ))
    .unwrap();
    eprintln!("100,000 objects made by SQL in {:?}", t0.elapsed());
    // The notification of a write (none here) is not needed: the token
    // was never searched, so the first find reads it whole.
    wait("the listener is up", || a.gen.listened().is_some());
    let all = Visible { public: true, private: true };
    let label =
        |i: i64| vec![(3 as AttrType, vec![<Idx>::try_from(&[&[0u8; 8][..], &i.to_be_bytes()].concat()[..]).unwrap()])];
    let t0 = std::time::Instant::now();
    assert_eq!(a.find(9, all, &label(77_777)).unwrap(), vec![77_777]);
    eprintln!("first find (from the database): {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let copied = || a.gen.mirror.load(a.gen.mirror.epoch(), 9, 1).is_some();
    while !copied() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(120), "not copied in 2 minutes");
        assert_eq!(a.find(9, all, &label(5)).unwrap(), vec![5], "finds while copying ask the database");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    eprintln!("token copied in {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    for i in (1..=100_000).step_by(997) {
        assert_eq!(a.find(9, all, &label(i)).unwrap(), vec![i]);
        let o = a.load_object(9, i).unwrap().unwrap();
        assert_eq!((o.rows.len(), o.private), (11, i % 2 == 0));
    }
    eprintln!("101 finds and loads from the copy: {:?}", t0.elapsed());
    assert_eq!(a.find(9, Visible { public: false, private: true }, &label(3)).unwrap(), Vec::<ObjectId>::new());
    let class = vec![(0 as AttrType, vec![[0x11; 16]])];
    assert_eq!(a.find(9, all, &class).unwrap().len(), 100_000);
    assert_eq!(a.find(9, Visible { public: true, private: false }, &class).unwrap().len(), 50_000);
    drop(a);
    drop_schema(&url, &schema);
}
