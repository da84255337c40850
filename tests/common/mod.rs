//! Shared by the integration tests: a private store per test, the built
//! module's path, and one lock so tests in one binary take turns with the
//! process-wide PKCS#11 state.
#![allow(dead_code)]

#[macro_use]
pub mod raw;
pub mod clients;
pub mod dlog;
pub mod kms;
pub mod pg;
#[macro_use]
pub mod msg;
pub mod procs;
pub mod server;
pub mod vectors;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

pub const SO_PIN: &str = "so-pin-1234";
pub const USER_PIN: &str = "user-pin-1234";

static LOCK: Mutex<()> = Mutex::new(());

/// target/<profile>/ (tests run from target/<profile>/deps/).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The module built from the current source: the first call in each test
/// process runs `cargo build --lib --examples` with this test build's
/// features (`cargo test` alone builds only the rlib, so a stale or
/// differently featured `.so` would be tested otherwise).
pub fn module_path() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = cargo_build().args(["--lib", "--examples"]).status().expect("cargo");
        assert!(status.success(), "building the module failed");
    });
    target_dir().join("libferrohsm.so")
}

/// `cargo build --quiet --locked` into this test build's target directory
/// with its profile and features; the caller adds what to build.
pub fn cargo_build() -> std::process::Command {
    let mut features: Vec<&str> = Vec::new();
    if cfg!(feature = "test-clock") {
        features.push("test-clock");
    }
    if cfg!(feature = "test-hooks") {
        features.push("test-hooks");
    }
    let dir = target_dir();
    let mut c = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(["build", "--quiet", "--locked"])
        .arg("--target-dir")
        .arg(dir.parent().unwrap())
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.ends_with("release") {
        c.arg("--release");
    }
    if !features.is_empty() {
        c.arg("--features").arg(features.join(","));
    }
    c
}

pub fn example(name: &str) -> PathBuf {
    let _ = module_path();
    target_dir().join("examples").join(name)
}

/// One test's world: its own store, config, and turn at the module.
pub struct World {
    _guard: MutexGuard<'static, ()>,
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub db: PathBuf,
    /// With `FERROHSM_TEST_STORE=postgres`: this world's own schema on
    /// the server (dropped with the world).
    pub pg: Option<pg::Schema>,
}

impl World {
    /// Runs one SQL statement on this world's store, SQLite or (with
    /// `FERROHSM_TEST_STORE=postgres`) its PostgreSQL schema: for tests
    /// that edit rows as an attacker with database access would.
    pub fn sql(&self, q: &str) {
        match &self.pg {
            Some(s) => {
                pg::sql(&s.base, &s.name, q);
            }
            None => {
                let db = rusqlite::Connection::open(&self.db).unwrap();
                db.execute(q, []).unwrap();
                db.close().unwrap();
            }
        }
    }
}

/// A fresh store with a cheap KDF (tests only) plus `extra` TOML sections.
pub fn world(extra: &str) -> World {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let conf = dir.path().join("ferrohsm.toml");
    // The suites run once more with every store on PostgreSQL (.ci/run).
    let (store, pg) = pg::store_line(&db);
    std::fs::write(
        &conf,
        format!("[store]\n{store}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n[log]\nlevel = \"off\"\n{extra}"),
    )
    .unwrap();
    std::env::set_var("FERROHSM_CONF", &conf);
    World { _guard: guard, dir, conf, db, pg }
}

/// The loaded module, finalized when dropped. The library is linked
/// NODELETE (see build.rs), so its state outlives a dlclose: a test that
/// ends without C_Finalize would leave the next one initialized.
pub struct Module(Option<Pkcs11>);

impl std::ops::Deref for Module {
    type Target = Pkcs11;
    fn deref(&self) -> &Pkcs11 {
        self.0.as_ref().expect("finalized")
    }
}

impl Module {
    pub fn finalize(mut self) -> cryptoki::error::Result<()> {
        self.0.take().expect("finalized").finalize()
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.finalize();
        }
    }
}

pub fn load() -> Module {
    let open = || {
        Pkcs11::new(module_path())
            .expect("load libferrohsm.so: run `cargo build --lib --examples` first (.ci/test does)")
    };
    let args = || CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK);
    let p = open();
    match p.initialize(args()) {
        Ok(()) => Module(Some(p)),
        // A test that panicked earlier in this process left it initialized.
        Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
            let _ = p.finalize();
            let p = open();
            p.initialize(args()).unwrap();
            Module(Some(p))
        }
        Err(e) => panic!("C_Initialize: {e}"),
    }
}

pub fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.to_string().into())
}

/// Initializes the first free slot as `label` with SO_PIN and USER_PIN.
pub fn init_token(p: &Pkcs11, label: &str) -> Slot {
    let slot = p
        .get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| !p.get_token_info(*s).unwrap().token_initialized())
        .expect("a free slot");
    p.init_token(slot, &pin(SO_PIN), label).unwrap();
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin(USER_PIN)).unwrap();
    s.logout().unwrap();
    slot
}

pub fn user_session(p: &Pkcs11, slot: Slot) -> Session {
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    s
}

/// The CK_RV inside a cryptoki error.
pub fn rv<T: std::fmt::Debug>(r: Result<T, Error>) -> RvError {
    match r {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// DER OID of P-256, as CKA_EC_PARAMS.
pub const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The one object with this label and class.
pub fn one(s: &Session, label: &str, class: cryptoki::object::ObjectClass) -> cryptoki::object::ObjectHandle {
    use cryptoki::object::Attribute;
    let v = s.find_objects(&[Attribute::Label(label.into()), Attribute::Class(class)]).unwrap();
    assert_eq!(v.len(), 1, "{label} {class:?}");
    v[0]
}

/// A private, sensitive AES-256 token key for encrypt/decrypt (and
/// wrap/unwrap if `wrap`), plus `extra` attributes.
pub fn aes_token_key(
    s: &Session,
    label: &str,
    id: &[u8],
    extractable: bool,
    wrap: bool,
    extra: Vec<cryptoki::object::Attribute>,
) -> cryptoki::object::ObjectHandle {
    use cryptoki::object::Attribute;
    let mut t = extra;
    t.extend([
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(extractable),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(wrap),
        Attribute::Unwrap(wrap),
        Attribute::ValueLen(32.into()),
        Attribute::Label(label.into()),
        Attribute::Id(id.to_vec()),
    ]);
    s.generate_key(&cryptoki::mechanism::Mechanism::AesKeyGen, &t).unwrap()
}

/// Turns a store of this version back into what a store from before format
/// 6 looked like: no object versions or tags, no audit checkpoints (v7),
/// and PIN records that wrap the bare token key (unwrapped here with the
/// PINs, as the old code wrapped it), at schema `version` (at most 5).
#[allow(dead_code)]
pub fn make_legacy(db: &std::path::Path, so_pin: &str, user_pin: Option<&str>, version: i64) {
    use aes_kw::KeyInit;
    let c = rusqlite::Connection::open(db).unwrap();
    let rewrap = |pin: &str, salt: Vec<u8>, wrapped: Vec<u8>, kdf: String| -> Vec<u8> {
        let nums: Vec<u32> = kdf
            .trim_start_matches("argon2id:")
            .split(',')
            .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
            .collect();
        let params = argon2::Params::new(nums[0], nums[1], nums[2], Some(32)).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = [0u8; 32];
        a.hash_password_into(pin.as_bytes(), &salt, &mut kek).unwrap();
        let kw = aes_kw::KwAes256::new_from_slice(&kek).unwrap();
        assert_eq!(wrapped.len(), 48, "a PIN record of format 6");
        let mut payload = [0u8; 40];
        kw.unwrap_key(&wrapped, &mut payload).unwrap();
        let mut old = vec![0u8; 40];
        kw.wrap_key(&payload[..32], &mut old).unwrap();
        old
    };
    type Pins = (i64, Vec<u8>, Vec<u8>, String, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);
    let rows: Vec<Pins> = c
        .prepare("SELECT token_id, so_salt, so_wrapped, so_kdf, user_salt, user_wrapped, user_kdf FROM tokens")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, so_salt, so_wrapped, so_kdf, us, uw, uk) in rows {
        let so = rewrap(so_pin, so_salt, so_wrapped, so_kdf);
        c.execute("UPDATE tokens SET so_wrapped = ?1 WHERE token_id = ?2", rusqlite::params![so, id]).unwrap();
        if let (Some(pin), Some(s), Some(w), Some(k)) = (user_pin, us, uw, uk) {
            let user = rewrap(pin, s, w, k);
            c.execute("UPDATE tokens SET user_wrapped = ?1 WHERE token_id = ?2", rusqlite::params![user, id]).unwrap();
        }
    }
    c.execute_batch(&format!(
        "DROP TRIGGER objects_changed; DROP TRIGGER objects_deleted;
         ALTER TABLE objects DROP COLUMN version; ALTER TABLE objects DROP COLUMN tag;
         ALTER TABLE tokens DROP COLUMN objects_digest; ALTER TABLE tokens DROP COLUMN objects_count;
         ALTER TABLE tokens DROP COLUMN digest_tag;
         DROP TABLE audit_checkpoint; DROP TABLE audit_base; DROP TABLE audit_exported;
         CREATE TRIGGER objects_changed AFTER UPDATE ON objects
         BEGIN UPDATE tokens SET rev = rev + 1 WHERE token_id = OLD.token_id; END;
         CREATE TRIGGER objects_deleted AFTER DELETE ON objects
         BEGIN UPDATE tokens SET rev = rev + 1 WHERE token_id = OLD.token_id; END;
         PRAGMA user_version = {version};"
    ))
    .unwrap();
}

/// Writes a child's standard input. A child that exits without reading it
/// all (a usage error found before reading) closes the pipe: that is its
/// answer, for the test to check, not a failure of the write.
#[allow(dead_code)]
pub fn feed(mut stdin: std::process::ChildStdin, data: &[u8]) {
    use std::io::Write;
    match stdin.write_all(data) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    }
}
