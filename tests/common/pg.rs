//! The PostgreSQL server the tests may use: `FERROHSM_TEST_PG_URL` (with
//! `PGPASSWORD`), which `.ci/run` always sets (`.ci/pg-cluster`). Tests
//! that need it skip, loudly, only when it is unset.

use std::sync::atomic::{AtomicU64, Ordering};

/// The server's URL, or None after printing a loud skip line for `test`.
pub fn url_or_skip(test: &str) -> Option<String> {
    match std::env::var("FERROHSM_TEST_PG_URL").ok().filter(|u| !u.is_empty()) {
        Some(u) => Some(u),
        None => {
            eprintln!("!!!!!!!! SKIPPED {test}: FERROHSM_TEST_PG_URL is not set (.ci/run sets it; see .ci/pg-cluster) !!!!!!!!");
            None
        }
    }
}

/// Whether this run puts every world's store on PostgreSQL
/// (`FERROHSM_TEST_STORE=postgres`); then the server must be there.
pub fn worlds_on_postgres() -> bool {
    let on = std::env::var("FERROHSM_TEST_STORE").is_ok_and(|s| s == "postgres");
    if on {
        assert!(
            std::env::var("FERROHSM_TEST_PG_URL").is_ok_and(|u| !u.is_empty()),
            "FERROHSM_TEST_STORE=postgres needs FERROHSM_TEST_PG_URL"
        );
    }
    on
}

/// A client on the test server (as the module's role).
fn client(url: &str) -> postgres::Client {
    let mut c: postgres::Config = url.parse().expect("FERROHSM_TEST_PG_URL");
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        c.password(pw);
    }
    c.connect(postgres::NoTls).expect("connect to FERROHSM_TEST_PG_URL")
}

/// Runs `f` with a client, on a thread of its own: the blocking client
/// cannot start (or drop) its runtime inside an async test's.
fn with_client<T: Send>(url: &str, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(|| f(&mut client(url))).join().unwrap())
}

/// A fresh, empty schema on the server: returns the store URL that puts a
/// module's tables there, and the schema's name.
pub fn fresh_schema(url: &str) -> (String, String) {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("t_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    with_client(url, |c| c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap());
    let sep = if url.contains('?') { '&' } else { '?' };
    (format!("{url}{sep}options=-csearch_path%3D{name}"), name)
}

/// Drops a schema made by `fresh_schema` (best effort: never hangs a test).
pub fn drop_schema(url: &str, name: &str) {
    with_client(url, |c| {
        let _ = c.batch_execute(&format!("SET lock_timeout = '2s'; DROP SCHEMA IF EXISTS {name} CASCADE"));
    });
}

/// Runs one SQL statement in a schema, returning the first column of each
/// row as text.
pub fn sql(url: &str, schema: &str, q: &str) -> Vec<String> {
    with_client(url, |c| {
        c.batch_execute(&format!("SET search_path = {schema}")).unwrap();
        c.simple_query(q)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("").to_string()),
                _ => None,
            })
            .collect()
    })
}

/// A schema that is dropped with this guard.
pub struct Schema {
    pub base: String,
    pub name: String,
    /// The store URL selecting it.
    pub url: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        drop_schema(&self.base, &self.name);
    }
}

/// The `[store]` line of a test configuration: the SQLite file `db`, or
/// with `FERROHSM_TEST_STORE=postgres` a fresh schema (kept while the
/// guard lives).
pub fn store_line(db: &std::path::Path) -> (String, Option<Schema>) {
    if !worlds_on_postgres() {
        return (format!("path = {:?}", db.to_str().unwrap()), None);
    }
    let base = std::env::var("FERROHSM_TEST_PG_URL").unwrap();
    let (url, name) = fresh_schema(&base);
    (format!("url = {url:?}"), Some(Schema { base, name, url }))
}
