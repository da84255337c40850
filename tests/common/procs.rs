//! What the multi-process tests (tests/crash.rs, tests/stress.rs) share:
//! the module loaded from the path the parent passes (a child must not
//! rebuild it), PKCS#11 calls that return the CK_RV instead of asserting,
//! templates that own their values, a seeded generator, append-only
//! journals that survive SIGKILL, and the `ferrohsm` checks run between
//! processes. Both tests are `harness = false`: their `main` is the parent,
//! or a child when the test's own variable names a role.

use std::ffi::c_void;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::ptr::null_mut;

use cryptoki_sys::*;

use super::kms::Kms;
use super::raw::Raw;

/// Where a child finds the module the parent built.
pub const MODULE_ENV: &str = "FERROHSM_TEST_MODULE";

pub type Rv<T> = Result<T, CK_RV>;

pub fn ck(rv: CK_RV) -> Rv<()> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

/// The module's 2.40 function table (and the library, for C_GetInterface).
#[derive(Clone, Copy)]
pub struct P11 {
    pub f: &'static CK_FUNCTION_LIST,
    pub lib: &'static libloading::Library,
}

/// A template that owns its values (the attributes point into them).
#[derive(Default)]
pub struct Tmpl {
    attrs: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl Tmpl {
    pub fn new() -> Tmpl {
        Tmpl::default()
    }
    pub fn bytes(mut self, t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Tmpl {
        self.attrs.push((t, v.to_vec()));
        self
    }
    pub fn ulong(self, t: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Tmpl {
        self.bytes(t, &v.to_ne_bytes())
    }
    pub fn bool(self, t: CK_ATTRIBUTE_TYPE, v: bool) -> Tmpl {
        self.bytes(t, &[v as u8])
    }
    /// The CK_ATTRIBUTE array, valid while `self` is not changed.
    pub fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.attrs
            .iter_mut()
            .map(|(t, v)| CK_ATTRIBUTE {
                type_: *t,
                pValue: if v.is_empty() { null_mut() } else { v.as_mut_ptr() as *mut c_void },
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
}

impl P11 {
    /// Loads (without initializing) the module at `path`.
    pub fn load(path: &Path) -> P11 {
        // SAFETY (test): our own module; leaked for 'static use.
        let lib: &'static libloading::Library =
            Box::leak(Box::new(unsafe { libloading::Library::new(path) }.expect("load the module")));
        let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
            unsafe { lib.get(b"C_GetFunctionList") }.unwrap();
        let mut p: *mut CK_FUNCTION_LIST = null_mut();
        assert_eq!(unsafe { get(&mut p) }, CKR_OK);
        P11 { f: unsafe { &*p }, lib }
    }

    /// The module at `$FERROHSM_TEST_MODULE`, initialized for threads.
    pub fn from_env() -> P11 {
        let path = std::env::var_os(MODULE_ENV).expect(MODULE_ENV);
        let p = P11::load(Path::new(&path));
        p.initialize().expect("C_Initialize");
        p
    }

    pub fn raw(&self) -> Raw {
        Raw { f: self.f, lib: self.lib }
    }

    /// The vendor KMS table on session `h`.
    pub fn kms(&self, h: CK_SESSION_HANDLE) -> Kms {
        Kms::new(self.raw(), h)
    }

    pub fn initialize(&self) -> Rv<()> {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: null_mut(),
        };
        ck(call!(self, C_Initialize(&mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void)))
    }

    pub fn finalize(&self) -> Rv<()> {
        ck(call!(self, C_Finalize(null_mut())))
    }

    /// A read-write session.
    pub fn open(&self, slot: CK_SLOT_ID) -> Rv<CK_SESSION_HANDLE> {
        let mut h = 0;
        ck(call!(self, C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut h)))?;
        Ok(h)
    }

    pub fn close(&self, h: CK_SESSION_HANDLE) -> Rv<()> {
        ck(call!(self, C_CloseSession(h)))
    }

    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &str) -> Rv<()> {
        ck(call!(self, C_Login(h, user, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG)))
    }

    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Rv<()> {
        ck(call!(self, C_Logout(h)))
    }

    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &str, label: &str) -> Rv<()> {
        let mut l = [b' '; 32];
        l[..label.len()].copy_from_slice(label.as_bytes());
        ck(call!(self, C_InitToken(slot, so_pin.as_ptr() as *mut u8, so_pin.len() as CK_ULONG, l.as_mut_ptr())))
    }

    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &str) -> Rv<()> {
        ck(call!(self, C_InitPIN(h, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG)))
    }

    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &str, new: &str) -> Rv<()> {
        ck(call!(
            self,
            C_SetPIN(h, old.as_ptr() as *mut u8, old.len() as CK_ULONG, new.as_ptr() as *mut u8, new.len() as CK_ULONG)
        ))
    }

    pub fn token_info(&self, slot: CK_SLOT_ID) -> Rv<CK_TOKEN_INFO> {
        // SAFETY (test): plain data, filled by the call.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        ck(call!(self, C_GetTokenInfo(slot, &mut info)))?;
        Ok(info)
    }

    /// The token's label, blanks trimmed.
    pub fn token_label(&self, slot: CK_SLOT_ID) -> Rv<String> {
        let info = self.token_info(slot)?;
        Ok(String::from_utf8_lossy(&info.label).trim_end().to_string())
    }

    /// The first slot whose token is not initialized.
    pub fn free_slot(&self) -> Rv<CK_SLOT_ID> {
        let mut n: CK_ULONG = 0;
        ck(call!(self, C_GetSlotList(0, null_mut(), &mut n)))?;
        let mut slots = vec![0; n as usize];
        ck(call!(self, C_GetSlotList(0, slots.as_mut_ptr(), &mut n)))?;
        for s in slots {
            if self.token_info(s)?.flags & CKF_TOKEN_INITIALIZED == 0 {
                return Ok(s);
            }
        }
        Err(CKR_SLOT_ID_INVALID)
    }

    /// Initializes the first free slot as `label`, with `so` and `user` PINs.
    pub fn new_token(&self, label: &str, so: &str, user: &str) -> Rv<CK_SLOT_ID> {
        let slot = self.free_slot()?;
        self.init_token(slot, so, label)?;
        let h = self.open(slot)?;
        self.login(h, CKU_SO, so)?;
        self.init_pin(h, user)?;
        self.logout(h)?;
        self.close(h)?;
        Ok(slot)
    }

    pub fn create(&self, h: CK_SESSION_HANDLE, t: &mut Tmpl) -> Rv<CK_OBJECT_HANDLE> {
        let mut a = t.raw();
        let mut o = 0;
        ck(call!(self, C_CreateObject(h, a.as_mut_ptr(), a.len() as CK_ULONG, &mut o)))?;
        Ok(o)
    }

    pub fn generate(&self, h: CK_SESSION_HANDLE, m: CK_MECHANISM_TYPE, t: &mut Tmpl) -> Rv<CK_OBJECT_HANDLE> {
        let mut a = t.raw();
        let mut m = CK_MECHANISM { mechanism: m, pParameter: null_mut(), ulParameterLen: 0 };
        let mut o = 0;
        ck(call!(self, C_GenerateKey(h, &mut m, a.as_mut_ptr(), a.len() as CK_ULONG, &mut o)))?;
        Ok(o)
    }

    pub fn generate_pair(
        &self,
        h: CK_SESSION_HANDLE,
        m: CK_MECHANISM_TYPE,
        public: &mut Tmpl,
        private: &mut Tmpl,
    ) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let (mut a, mut b) = (public.raw(), private.raw());
        let mut m = CK_MECHANISM { mechanism: m, pParameter: null_mut(), ulParameterLen: 0 };
        let (mut pu, mut pr) = (0, 0);
        ck(call!(
            self,
            C_GenerateKeyPair(
                h,
                &mut m,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                b.as_mut_ptr(),
                b.len() as CK_ULONG,
                &mut pu,
                &mut pr
            )
        ))?;
        Ok((pu, pr))
    }

    /// Every object matching `t`, in as many C_FindObjects calls as it takes.
    pub fn find(&self, h: CK_SESSION_HANDLE, t: &mut Tmpl) -> Rv<Vec<CK_OBJECT_HANDLE>> {
        let mut a = t.raw();
        let ptr = if a.is_empty() { null_mut() } else { a.as_mut_ptr() };
        ck(call!(self, C_FindObjectsInit(h, ptr, a.len() as CK_ULONG)))?;
        let mut out = Vec::new();
        loop {
            let mut buf = [0; 64];
            let mut n = 0;
            let r = call!(self, C_FindObjects(h, buf.as_mut_ptr(), buf.len() as CK_ULONG, &mut n));
            if r != CKR_OK {
                call!(self, C_FindObjectsFinal(h));
                return Err(r);
            }
            out.extend_from_slice(&buf[..n as usize]);
            if (n as usize) < buf.len() {
                break;
            }
        }
        ck(call!(self, C_FindObjectsFinal(h)))?;
        Ok(out)
    }

    pub fn find_label(&self, h: CK_SESSION_HANDLE, label: &str) -> Rv<Vec<CK_OBJECT_HANDLE>> {
        self.find(h, &mut Tmpl::new().bytes(CKA_LABEL, label.as_bytes()))
    }

    pub fn destroy(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Rv<()> {
        ck(call!(self, C_DestroyObject(h, o)))
    }

    pub fn attr_bytes(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Rv<Vec<u8>> {
        let mut q = [CK_ATTRIBUTE { type_: t, pValue: null_mut(), ulValueLen: 0 }];
        ck(call!(self, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)))?;
        let mut buf = vec![0u8; q[0].ulValueLen as usize];
        q[0].pValue = buf.as_mut_ptr() as *mut c_void;
        ck(call!(self, C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)))?;
        buf.truncate(q[0].ulValueLen as usize);
        Ok(buf)
    }

    pub fn attr_ulong(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Rv<CK_ULONG> {
        let v = self.attr_bytes(h, o, t)?;
        Ok(CK_ULONG::from_ne_bytes(v.try_into().map_err(|_| CKR_GENERAL_ERROR)?))
    }

    pub fn attr_bool(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Rv<bool> {
        Ok(self.attr_bytes(h, o, t)? == [1])
    }

    pub fn attr_text(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Rv<String> {
        Ok(String::from_utf8_lossy(&self.attr_bytes(h, o, t)?).into_owned())
    }

    pub fn set_attr(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: &mut Tmpl) -> Rv<()> {
        let mut a = t.raw();
        ck(call!(self, C_SetAttributeValue(h, o, a.as_mut_ptr(), a.len() as CK_ULONG)))
    }

    /// Single-part encryption; `param` is the mechanism parameter's bytes.
    pub fn encrypt(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        m: CK_MECHANISM_TYPE,
        param: &mut [u8],
        data: &[u8],
    ) -> Rv<Vec<u8>> {
        let mut m = mech_of(m, param);
        ck(call!(self, C_EncryptInit(h, &mut m, o)))?;
        let mut out = vec![0u8; data.len() + 64];
        let mut n = out.len() as CK_ULONG;
        ck(call!(self, C_Encrypt(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut n)))?;
        out.truncate(n as usize);
        Ok(out)
    }

    pub fn decrypt(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        m: CK_MECHANISM_TYPE,
        param: &mut [u8],
        data: &[u8],
    ) -> Rv<Vec<u8>> {
        let mut m = mech_of(m, param);
        ck(call!(self, C_DecryptInit(h, &mut m, o)))?;
        let mut out = vec![0u8; data.len() + 64];
        let mut n = out.len() as CK_ULONG;
        ck(call!(self, C_Decrypt(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut n)))?;
        out.truncate(n as usize);
        Ok(out)
    }

    pub fn sign(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, m: CK_MECHANISM_TYPE, data: &[u8]) -> Rv<Vec<u8>> {
        let mut m = mech_of(m, &mut []);
        ck(call!(self, C_SignInit(h, &mut m, o)))?;
        let mut out = vec![0u8; 512];
        let mut n = out.len() as CK_ULONG;
        ck(call!(self, C_Sign(h, data.as_ptr() as *mut u8, data.len() as CK_ULONG, out.as_mut_ptr(), &mut n)))?;
        out.truncate(n as usize);
        Ok(out)
    }

    pub fn verify(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        m: CK_MECHANISM_TYPE,
        data: &[u8],
        sig: &[u8],
    ) -> Rv<()> {
        let mut m = mech_of(m, &mut []);
        ck(call!(self, C_VerifyInit(h, &mut m, o)))?;
        ck(call!(
            self,
            C_Verify(
                h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                sig.as_ptr() as *mut u8,
                sig.len() as CK_ULONG
            )
        ))
    }
}

fn mech_of(m: CK_MECHANISM_TYPE, param: &mut [u8]) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: m,
        pParameter: if param.is_empty() { null_mut() } else { param.as_mut_ptr() as *mut c_void },
        ulParameterLen: param.len() as CK_ULONG,
    }
}

/// The name of a CK_RV the tests meet, else its number.
pub fn rv_name(rv: CK_RV) -> String {
    let name = match rv {
        CKR_OK => "CKR_OK",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DEVICE_MEMORY => "CKR_DEVICE_MEMORY",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SESSION_EXISTS => "CKR_SESSION_EXISTS",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_ENCRYPTED_DATA_INVALID => "CKR_ENCRYPTED_DATA_INVALID",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_CANT_LOCK => "CKR_CANT_LOCK",
        _ => return format!("{rv:#x}"),
    };
    name.to_string()
}

/// xorshift64*: a small seeded generator, so a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform enough in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `var` as a number, or `default`.
pub fn env_num(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{var}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// `var` as a seed, or one from the clock.
pub fn seed(var: &str) -> u64 {
    env_num(var, std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64)
}

/// An append-only journal: one `write` per line on an O_APPEND descriptor,
/// not buffered in the process, so a line written before SIGKILL is in the
/// file, and lines from several threads never interleave.
pub struct Journal(std::fs::File);

impl Journal {
    pub fn open(path: &Path) -> Journal {
        Journal(std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap())
    }
    pub fn line(&self, text: &str) {
        let mut l = String::with_capacity(text.len() + 1);
        l.push_str(text);
        l.push('\n');
        (&self.0).write_all(l.as_bytes()).unwrap();
    }
}

/// A journal's complete lines, split at spaces (a line cut short by a
/// kill, without its newline, is left out).
pub fn read_journal(path: &Path) -> Vec<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(|l| l.split(' ').map(str::to_string).collect()).collect()
}

/// Runs `ferrohsm ARGS` on the store of `conf` with the test PINs in the
/// environment: (success, stdout + stderr).
pub fn ferrohsm(conf: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrohsm"))
        .args(args)
        .env("FERROHSM_CONF", conf)
        .env("FERROHSM_SO_PIN", super::SO_PIN)
        .env("FERROHSM_USER_PIN", super::USER_PIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// This test binary again, as a child in `role` (`var`=`role`), with the
/// module path and the configuration of the parent.
pub fn self_child(var: &str, role: &str, module: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(var, role).env(MODULE_ENV, module).env_remove("RUST_TEST_THREADS");
    c
}

/// For a `harness = false` test: whether to run `name` given libtest-style
/// arguments (a filter it does not contain, `--list` or `--ignored` skip
/// it; `--list` prints it as libtest would).
pub fn selected(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => {
                println!("{name}: test");
                return false;
            }
            "--ignored" => return false,
            "--skip" => {
                if it.next().is_some_and(|s| name.contains(s.as_str())) {
                    return false;
                }
            }
            "--test-threads" | "--format" | "--color" | "-Z" | "--logfile" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => filters.push(s.to_string()),
        }
    }
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}
