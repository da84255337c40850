//! Shared by the integration tests: a private store per test, the built
//! module's path, and one lock so tests in one binary take turns with the
//! process-wide PKCS#11 state.
#![allow(dead_code)]

#[macro_use]
pub mod raw;
pub mod kms;
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

pub fn module_path() -> PathBuf {
    target_dir().join("libferrohsm.so")
}

pub fn example(name: &str) -> PathBuf {
    target_dir().join("examples").join(name)
}

/// One test's world: its own store, config, and turn at the module.
pub struct World {
    _guard: MutexGuard<'static, ()>,
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub db: PathBuf,
}

/// A fresh store with a cheap KDF (tests only) plus `extra` TOML sections.
pub fn world(extra: &str) -> World {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let conf = dir.path().join("ferrohsm.toml");
    std::fs::write(
        &conf,
        format!(
            "[store]\npath = {:?}\n[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1\n[log]\nlevel = \"off\"\n{extra}",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    std::env::set_var("FERROHSM_CONF", &conf);
    World { _guard: guard, dir, conf, db }
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
