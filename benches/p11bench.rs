//! p11bench: loads any PKCS#11 modules by path and runs the same cases on
//! each, taking turns, on fresh tokens it creates in temporary stores, then
//! prints a side-by-side table (and, with --out, writes it as Markdown).
//!
//!   cargo bench --bench p11bench -- \
//!       --module ferrohsm=target/release/libferrohsm.so \
//!       --module softhsm=/usr/lib/softhsm/libsofthsm2.so [--quick] [--out BENCHMARKS.md]
//!
//! The first module is "ours"; ratios are ours / each other module. Each
//! case prints ops/s, the median µs per op, and process CPU µs per op.
//!
//! The store on PostgreSQL next to SQLite (docs/storage.md): the same
//! FerroHSM build twice, the second given a database (a fresh schema in it,
//! dropped after; the password from PGPASSWORD), the store cases only:
//!
//!   cargo bench --bench p11bench -- \
//!       --module sqlite=target/release/libferrohsm.so \
//!       --module postgresql=target/release/libferrohsm.so --store postgresql="$URL" \
//!       --only "token keygen,GCM-4k encrypt,objects,processes" --counts 1000
//!
//! `--store NAME=URL` loads module NAME from a copy of its file (one
//! process can hold two instances of the library that way). "processes"
//! runs 1, 2 and 4 client processes (`--procs 1,2,4`) on one store at once.

#[path = "common/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SO_PIN: &str = "bench-so-pin";
const USER_PIN: &str = "bench-user-pin";

struct Module {
    name: String,
    /// The file loaded (for `--store`, the copy).
    path: String,
    p11: Pkcs11,
    slot: Slot,
    session: Session,
    /// FerroHSM's configuration file (None for other modules).
    conf: Option<std::path::PathBuf>,
    _schema: Option<pg::PgSchema>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Default)]
struct Stat {
    ops_per_s: f64,
    median_us: f64,
    cpu_us: f64,
    mb_per_s: Option<f64>,
}

enum Outcome {
    Done(Stat),
    Unsupported(String),
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a plain struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(String::from))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Runs `op` for about `budget` (at least `min_ops` times), per-op timed.
fn measure(budget: Duration, min_ops: usize, bytes: Option<usize>, mut op: impl FnMut() -> Res<()>) -> Res<Stat> {
    op()?; // warm-up, and fail early if unsupported
    let mut times = Vec::new();
    let (start, cpu0) = (Instant::now(), cpu_time());
    while times.len() < min_ops || start.elapsed() < budget {
        let t = Instant::now();
        op()?;
        times.push(t.elapsed());
        if times.len() >= 2_000_000 {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    times.sort();
    let n = times.len() as f64;
    Ok(Stat {
        ops_per_s: n / wall,
        median_us: times[times.len() / 2].as_secs_f64() * 1e6,
        cpu_us: cpu / n * 1e6,
        mb_per_s: bytes.map(|b| b as f64 * n / wall / 1e6),
    })
}
/// Two operations measured in alternation, 32 calls of one then 32 of the
/// other until the budget is spent: both see the same machine (this
/// shared VM's speed drifts by 10-20% between cases run one after the
/// other, more than the differences these comparisons are about). Each
/// Stat from its own calls' times (ops/s from the sum of its calls).
fn paired(budget: Duration, mut a: impl FnMut() -> Res<()>, mut b: impl FnMut() -> Res<()>) -> Res<(Stat, Stat)> {
    a()?;
    b()?;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget || ta.len() < 256 {
        for (op, times) in [(&mut a as &mut dyn FnMut() -> Res<()>, &mut ta), (&mut b, &mut tb)] {
            for _ in 0..32 {
                let t = Instant::now();
                op()?;
                times.push(t.elapsed());
            }
        }
    }
    let stat = |mut times: Vec<Duration>| {
        let total: f64 = times.iter().map(Duration::as_secs_f64).sum();
        times.sort();
        let n = times.len() as f64;
        Stat {
            ops_per_s: n / total,
            median_us: times[times.len() / 2].as_secs_f64() * 1e6,
            cpu_us: total / n * 1e6,
            mb_per_s: None,
        }
    };
    Ok((stat(ta), stat(tb)))
}

/// A session ML-KEM-768 key pair (public, private).
fn ml_kem_768_pair(s: &Session) -> cryptoki::error::Result<(ObjectHandle, ObjectHandle)> {
    use cryptoki::object::MlKemParameterSetType;
    let set = Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_768.into());
    s.generate_key_pair(&Mechanism::MlKemKeyPairGen, &[set, Attribute::Token(false)], &[Attribute::Token(false)])
}

/// The session secret key each ML-KEM call makes from the shared secret
/// (the PKCS#11 interface has no other output); the cases destroy it in
/// the loop, as a client done with it would.
const KEM_SECRET: [Attribute; 2] = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Token(false)];

fn encapsulate_and_destroy(s: &Session, public: ObjectHandle) -> Res<Vec<u8>> {
    let (ct, k) = s.encapsulate_key(&Mechanism::MlKem, public, &KEM_SECRET)?;
    s.destroy_object(k)?;
    Ok(ct)
}

fn decapsulate_and_destroy(s: &Session, private: ObjectHandle, ct: &[u8]) -> Res<()> {
    let k = s.decapsulate_key(&Mechanism::MlKem, private, &KEM_SECRET, ct)?;
    s.destroy_object(k)?;
    Ok(())
}

/// A session ML-DSA-65 key pair (public, private).
fn ml_dsa_65_pair(s: &Session) -> cryptoki::error::Result<(ObjectHandle, ObjectHandle)> {
    use cryptoki::object::MlDsaParameterSetType;
    let set = Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_65.into());
    s.generate_key_pair(
        &Mechanism::MlDsaKeyPairGen,
        &[set, Attribute::Token(false)],
        &[Attribute::Sign(true), Attribute::Token(false)],
    )
}

/// Hedged ML-DSA with no context, as the cases sign.
fn ml_dsa_mech() -> Mechanism<'static> {
    use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
    Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None))
}

/// The post-quantum cases of `m` (ours) and aws-lc-rs's, in alternation
/// (`paired`): (case, ours, aws-lc-rs).
fn pq_paired(m: &Module, budget: Duration, wanted: &dyn Fn(&str) -> bool) -> Res<Vec<(&'static str, Stat, Stat)>> {
    use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, ML_KEM_768};
    use aws_lc_rs::signature::KeyPair as _;
    use aws_lc_rs::signature::{PqdsaKeyPair, ML_DSA_65, ML_DSA_65_SIGNING};
    let s = &m.session;
    let mut out = Vec::new();
    if wanted("ML-KEM-768 encapsulate") || wanted("ML-KEM-768 decapsulate") {
        let (pubk, privk) = ml_kem_768_pair(s)?;
        let dk = DecapsulationKey::generate(&ML_KEM_768).map_err(|_| "ml-kem")?;
        let ek = dk.encapsulation_key().map_err(|_| "ml-kem")?;
        if wanted("ML-KEM-768 encapsulate") {
            let (a, b) = paired(
                budget,
                || encapsulate_and_destroy(s, pubk).map(drop),
                || {
                    ek.encapsulate().map_err(|_| "encapsulate")?;
                    Ok(())
                },
            )?;
            out.push(("ML-KEM-768 encapsulate", a, b));
        }
        if wanted("ML-KEM-768 decapsulate") {
            let ct = encapsulate_and_destroy(s, pubk)?;
            let (raw_ct, _) = ek.encapsulate().map_err(|_| "encapsulate")?;
            let raw_ct = raw_ct.as_ref().to_vec();
            let (a, b) = paired(
                budget,
                || decapsulate_and_destroy(s, privk, &ct),
                || {
                    dk.decapsulate(Ciphertext::from(&raw_ct[..])).map_err(|_| "decapsulate")?;
                    Ok(())
                },
            )?;
            out.push(("ML-KEM-768 decapsulate", a, b));
        }
    }
    if wanted("ML-DSA-65 sign") || wanted("ML-DSA-65 verify") {
        let (pubk, privk) = ml_dsa_65_pair(s)?;
        let mech = ml_dsa_mech();
        let msg = [3u8; 32];
        let kp = PqdsaKeyPair::generate(&ML_DSA_65_SIGNING).map_err(|_| "ml-dsa")?;
        let mut raw_sig = vec![0u8; ML_DSA_65_SIGNING.signature_len()];
        if wanted("ML-DSA-65 sign") {
            let (a, b) = paired(
                budget,
                || s.sign(&mech, privk, &msg).map(drop).map_err(Into::into),
                || {
                    kp.sign(&msg, &mut raw_sig).map_err(|_| "sign")?;
                    Ok(())
                },
            )?;
            out.push(("ML-DSA-65 sign", a, b));
        }
        if wanted("ML-DSA-65 verify") {
            let sig = s.sign(&mech, privk, &msg)?;
            kp.sign(&msg, &mut raw_sig).map_err(|_| "sign")?;
            let public = aws_lc_rs::signature::UnparsedPublicKey::new(&ML_DSA_65, kp.public_key().as_ref().to_vec());
            let (a, b) = paired(
                budget,
                || s.verify(&mech, pubk, &msg, &sig).map_err(Into::into),
                || {
                    public.verify(&msg, &raw_sig).map_err(|_| "verify")?;
                    Ok(())
                },
            )?;
            out.push(("ML-DSA-65 verify", a, b));
        }
    }
    Ok(out)
}

fn setup(name: &str, path: &str, ours: bool, store_url: Option<&str>) -> Res<Module> {
    let dir = tempfile::tempdir()?;
    let (mut path, mut conf_path, mut schema) = (path.to_string(), None, None);
    // Each module gets its own store and configuration, set before its
    // C_Initialize reads it.
    if ours {
        let conf = dir.path().join("ferrohsm.toml");
        let store = match store_url {
            Some(url) => {
                let s = pg::PgSchema::new(url, name)?;
                let line = format!("url = {:?}", s.store_url());
                schema = Some(s);
                // A copy of the file: a second instance of the library
                // beside the one another --module loaded.
                let copy = dir.path().join(format!("libferrohsm-{name}.so"));
                std::fs::copy(&path, &copy)?;
                path = copy.to_str().ok_or("temporary path")?.to_string();
                line
            }
            None => format!("path = {:?}", dir.path().join("store.db")),
        };
        std::fs::write(&conf, format!("[store]\n{store}\n"))?;
        std::env::set_var("FERROHSM_CONF", &conf);
        conf_path = Some(conf);
    } else {
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens)?;
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
        )?;
        std::env::set_var("SOFTHSM2_CONF", &conf);
    }
    let p11 = Pkcs11::new(&path)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = p11
        .get_all_slots()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).map(|t| !t.token_initialized()).unwrap_or(false))
        .ok_or("no free slot")?;
    let so = AuthPin::new(SO_PIN.into());
    p11.init_token(slot, &so, "p11bench")?;
    // SoftHSM moves a token to a new slot id when it is initialized.
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).map(|t| t.label() == "p11bench").unwrap_or(false))
        .ok_or("token vanished")?;
    let session = p11.open_rw_session(slot)?;
    session.login(UserType::So, Some(&so))?;
    session.init_pin(&AuthPin::new(USER_PIN.into()))?;
    session.logout()?;
    session.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))?;
    Ok(Module { name: name.into(), path, p11, slot, session, conf: conf_path, _schema: schema, _dir: dir })
}

fn aes_key(s: &Session, token: bool, extractable: bool) -> Res<ObjectHandle> {
    Ok(s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::ValueLen(32.into()),
            Attribute::Token(token),
            Attribute::Private(true),
            Attribute::Sensitive(!extractable),
            Attribute::Extractable(extractable),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Sign(true),
            Attribute::Verify(true),
        ],
    )?)
}

/// A token AES-256 key with a label, for other processes to find.
fn aes_key_labelled(s: &Session, label: &[u8]) -> Res<ObjectHandle> {
    Ok(s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Encrypt(true),
            Attribute::Label(label.to_vec()),
        ],
    )?)
}

fn gcm_once(s: &Session, key: ObjectHandle, iv_ctr: &mut u64, data: &[u8], aad: &[u8]) -> Res<Vec<u8>> {
    *iv_ctr += 1;
    let mut iv = [0u8; 12];
    iv[4..].copy_from_slice(&iv_ctr.to_be_bytes());
    Ok(s.encrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, aad, 128.into())?), key, data)?)
}

/// AES-GCM through the module's raw function list.
struct RawGcm {
    f: &'static cryptoki_sys::CK_FUNCTION_LIST,
    _lib: libloading::Library,
}

impl RawGcm {
    fn load(path: &str) -> Res<RawGcm> {
        // SAFETY (bench): the module is already loaded and initialized by
        // cryptoki from the same path; this handle shares that instance.
        let lib = unsafe { libloading::Library::new(path) }?;
        let get: libloading::Symbol<
            unsafe extern "C" fn(*mut *mut cryptoki_sys::CK_FUNCTION_LIST) -> cryptoki_sys::CK_RV,
        > = unsafe { lib.get(b"C_GetFunctionList") }?;
        let mut p = std::ptr::null_mut();
        if unsafe { get(&mut p) } != cryptoki_sys::CKR_OK || p.is_null() {
            return Err("C_GetFunctionList".into());
        }
        Ok(RawGcm { f: unsafe { &*p }, _lib: lib })
    }

    fn encrypt(&self, h: u64, key: u64, iv_ctr: &mut u64, data: &[u8], aad: &[u8], out: &mut [u8]) -> Res<()> {
        *iv_ctr += 1;
        let mut iv = [0u8; 12];
        iv[4..].copy_from_slice(&iv_ctr.to_be_bytes());
        let mut params = cryptoki_sys::CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: aad.as_ptr() as *mut u8,
            ulAADLen: aad.len() as u64,
            ulTagBits: 128,
        };
        let mut mech = cryptoki_sys::CK_MECHANISM {
            mechanism: cryptoki_sys::CKM_AES_GCM,
            pParameter: &mut params as *mut _ as *mut std::ffi::c_void,
            ulParameterLen: std::mem::size_of::<cryptoki_sys::CK_GCM_PARAMS>() as u64,
        };
        let mut len = out.len() as u64;
        // SAFETY (bench): valid pointers and lengths for the calls' duration.
        let rv = unsafe { (self.f.C_EncryptInit.ok_or("no C_EncryptInit")?)(h, &mut mech, key) };
        if rv != cryptoki_sys::CKR_OK {
            return Err(format!("C_EncryptInit {rv:#x}").into());
        }
        let rv = unsafe {
            (self.f.C_Encrypt.ok_or("no C_Encrypt")?)(
                h,
                data.as_ptr() as *mut u8,
                data.len() as u64,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        if rv != cryptoki_sys::CKR_OK || len as usize != data.len() + 16 {
            return Err(format!("C_Encrypt {rv:#x}").into());
        }
        Ok(())
    }
}

/// One named case on one module.
fn run_case(m: &Module, case: &str, budget: Duration) -> Res<Outcome> {
    let s = &m.session;
    let unsupported = |e: &dyn std::fmt::Display| Outcome::Unsupported(e.to_string());
    let stat = |r: Res<Stat>| -> Res<Outcome> {
        match r {
            Ok(st) => Ok(Outcome::Done(st)),
            Err(e) => Ok(unsupported(&e)),
        }
    };
    let data4k = vec![0x5a; 4096];
    let aad = [7u8; 16];
    let mib = vec![0xa5; 1 << 20];
    match case {
        "login+logout" => stat(measure(budget, 5, None, || {
            s.logout()?;
            s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))?;
            Ok(())
        })),
        "open+close session" => stat(measure(budget, 100, None, || {
            drop(m.p11.open_ro_session(m.slot)?);
            Ok(())
        })),
        "AES-256 session keygen" => stat(measure(budget, 100, None, || {
            let k = aes_key(s, false, false)?;
            s.destroy_object(k)?;
            Ok(())
        })),
        "AES-256 token keygen (durable)" => stat(measure(budget, 10, None, || {
            let k = aes_key(s, true, false)?;
            s.destroy_object(k)?;
            Ok(())
        })),
        "GCM-4k encrypt" | "GCM-4k decrypt" => {
            let key = aes_key(s, true, false)?;
            let mut ctr = 0u64;
            if case.ends_with("encrypt") {
                stat(measure(budget, 100, Some(4096), || gcm_once(s, key, &mut ctr, &data4k, &aad).map(drop)))
            } else {
                let ct = gcm_once(s, key, &mut ctr, &data4k, &aad)?;
                let iv0 = ctr;
                stat(measure(budget, 100, Some(4096), || {
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&iv0.to_be_bytes());
                    let m = Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into())?);
                    s.decrypt(&m, key, &ct)?;
                    Ok(())
                }))
            }
        }
        "DES3-CBC 4k encrypt" => {
            // A triple-DES session key (both modules generate one), 4 KiB
            // of whole blocks, single-part C_Encrypt.
            let t = [Attribute::Token(false), Attribute::Encrypt(true)];
            let key = match s.generate_key(&Mechanism::Des3KeyGen, &t) {
                Ok(k) => k,
                Err(e) => return Ok(unsupported(&e)),
            };
            stat(measure(budget, 20, Some(4096), || {
                s.encrypt(&Mechanism::Des3Cbc([3; 8]), key, &data4k)?;
                Ok(())
            }))
        }
        "GCM 1 MiB encrypt" => {
            // Raw C_EncryptInit/C_Encrypt into one reused output buffer, for
            // every module alike: cryptoki's encrypt() allocates and
            // zero-fills a fresh 1 MiB Vec per call, client cost that the
            // in-place aws-lc-rs baseline does not pay either.
            let key = aes_key(s, true, false)?;
            let raw = RawGcm::load(&m.path)?;
            let mut out = vec![0u8; (1 << 20) + 16];
            let mut ctr = 0u64;
            stat(measure(budget, 5, Some(1 << 20), || {
                raw.encrypt(s.handle(), key.handle(), &mut ctr, &mib, &aad, &mut out)
            }))
        }
        "KW wrap AES-256" | "KW unwrap AES-256" | "KWP wrap AES-256" | "KWP unwrap AES-256" => {
            let mech = if case.starts_with("KWP") { Mechanism::AesKeyWrapPad } else { Mechanism::AesKeyWrap };
            let kek = aes_key(s, true, false)?;
            let dk = aes_key(s, false, true)?;
            if case.contains(" wrap") {
                stat(measure(budget, 100, None, || s.wrap_key(&mech, kek, dk).map(drop).map_err(Into::into)))
            } else {
                let blob = match s.wrap_key(&mech, kek, dk) {
                    Ok(b) => b,
                    Err(e) => return Ok(unsupported(&e)),
                };
                let t = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Token(false),
                ];
                stat(measure(budget, 100, None, || {
                    let k = s.unwrap_key(&mech, kek, &blob, &t)?;
                    s.destroy_object(k)?;
                    Ok(())
                }))
            }
        }
        "data-key envelope" => {
            let master = aes_key(s, true, false)?;
            stat(measure(budget, 100, None, || {
                let dk = aes_key(s, false, true)?;
                s.wrap_key(&Mechanism::AesKeyWrap, master, dk)?;
                s.destroy_object(dk)?;
                Ok(())
            }))
        }
        "HMAC-SHA256 1 KiB" => {
            let k = s.generate_key(
                &Mechanism::GenericSecretKeyGen,
                &[Attribute::ValueLen(32.into()), Attribute::Token(true), Attribute::Sign(true)],
            )?;
            let d = vec![1u8; 1024];
            stat(measure(budget, 100, Some(1024), || {
                s.sign(&Mechanism::Sha256Hmac, k, &d).map(drop).map_err(Into::into)
            }))
        }
        "SHA-256 1 MiB" => {
            stat(measure(budget, 5, Some(1 << 20), || s.digest(&Mechanism::Sha256, &mib).map(drop).map_err(Into::into)))
        }
        c if c.starts_with("RSA-2048") || c.starts_with("ECDSA P-256") => {
            let rsa = c.starts_with("RSA");
            let (mech, pub_t, priv_t) = if rsa {
                (
                    Mechanism::RsaPkcsKeyPairGen,
                    vec![Attribute::ModulusBits(2048.into()), Attribute::Verify(true), Attribute::Token(false)],
                    vec![Attribute::Sign(true), Attribute::Token(false)],
                )
            } else {
                let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
                (
                    Mechanism::EccKeyPairGen,
                    vec![Attribute::EcParams(p256_oid), Attribute::Verify(true), Attribute::Token(false)],
                    vec![Attribute::Sign(true), Attribute::Token(false)],
                )
            };
            let (pubk, privk) = match s.generate_key_pair(&mech, &pub_t, &priv_t) {
                Ok(kp) => kp,
                Err(e) => return Ok(unsupported(&e)),
            };
            let sig_mech = if rsa { Mechanism::Sha256RsaPkcs } else { Mechanism::Ecdsa };
            let msg = [3u8; 32];
            if c.ends_with("keygen") {
                stat(measure(budget, 3, None, || {
                    let (a, b) = s.generate_key_pair(&mech, &pub_t, &priv_t)?;
                    s.destroy_object(a)?;
                    s.destroy_object(b)?;
                    Ok(())
                }))
            } else if c.ends_with("sign") {
                stat(measure(budget, 20, None, || s.sign(&sig_mech, privk, &msg).map(drop).map_err(Into::into)))
            } else {
                let sig = s.sign(&sig_mech, privk, &msg)?;
                stat(measure(budget, 20, None, || s.verify(&sig_mech, pubk, &msg, &sig).map_err(Into::into)))
            }
        }
        "ML-KEM-768 encapsulate" | "ML-KEM-768 decapsulate" => {
            let (pubk, privk) = match ml_kem_768_pair(s) {
                Ok(kp) => kp,
                Err(e) => return Ok(unsupported(&e)),
            };
            if case.ends_with("encapsulate") {
                stat(measure(budget, 20, None, || encapsulate_and_destroy(s, pubk).map(drop)))
            } else {
                let ct = encapsulate_and_destroy(s, pubk)?;
                stat(measure(budget, 20, None, || decapsulate_and_destroy(s, privk, &ct)))
            }
        }
        "ML-DSA-65 sign" | "ML-DSA-65 verify" => {
            let (pubk, privk) = match ml_dsa_65_pair(s) {
                Ok(kp) => kp,
                Err(e) => return Ok(unsupported(&e)),
            };
            let mech = ml_dsa_mech();
            let msg = [3u8; 32];
            if case.ends_with("sign") {
                stat(measure(budget, 20, None, || s.sign(&mech, privk, &msg).map(drop).map_err(Into::into)))
            } else {
                let sig = s.sign(&mech, privk, &msg)?;
                stat(measure(budget, 20, None, || s.verify(&mech, pubk, &msg, &sig).map_err(Into::into)))
            }
        }
        _ => Err(format!("unknown case {case}").into()),
    }
}

/// Login cost with N token secret keys in the token (a login must not do
/// work in proportion to the store): generates them, measures
/// login+logout, destroys them.
fn login_with_keys(m: &Module, n: usize, budget: Duration) -> Res<Stat> {
    let s = &m.session;
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        keys.push(s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Encrypt(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(format!("login-key-{i}").into_bytes()),
            ],
        )?);
    }
    let st = measure(budget, 5, None, || {
        s.logout()?;
        s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))?;
        Ok(())
    })?;
    // Found again: SoftHSM does not keep handles across a logout.
    drop(keys);
    let found = s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Token(true)])?;
    for k in found {
        let label = s.get_attributes(k, &[AttributeType::Label])?;
        if matches!(label.first(), Some(Attribute::Label(l)) if l.starts_with(b"login-key-")) {
            s.destroy_object(k)?;
        }
    }
    Ok(st)
}

/// Object-count cases: create N token data objects, find one by label
/// among them, destroy them. Returns (create, find, destroy, rss MiB).
/// The find is measured twice: as before (labels in a sequence that
/// repeats: 51 distinct at N=1,000, 2,501 at N=100,000, so a module that
/// keeps answers while nothing changed answers from there), and "cold",
/// every label asked once, in order (at most N finds or the budget).
fn objects_case(m: &Module, n: usize, budget: Duration) -> Res<(Stat, Stat, Stat, Stat, f64)> {
    let s = &m.session;
    let mut handles = Vec::with_capacity(n);
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        handles.push(s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(format!("obj-{i}").into_bytes()),
            Attribute::Value(vec![i as u8; 32]),
        ])?);
        times.push(t.elapsed());
    }
    let create = summarize(times, t0.elapsed(), cpu_time() - c0);
    let mut i = 0usize;
    let find = measure(budget, 20, None, || {
        i = (i * 7919 + 13) % n;
        let found = s.find_objects(&[Attribute::Label(format!("obj-{i}").into_bytes())])?;
        if found.len() != 1 {
            return Err(format!("found {} objects for obj-{i}", found.len()).into());
        }
        Ok(())
    })?;
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut times = Vec::new();
    for j in 0..n {
        if t0.elapsed() >= budget && times.len() >= 20 {
            break;
        }
        let t = Instant::now();
        let found = s.find_objects(&[Attribute::Label(format!("obj-{j}").into_bytes())])?;
        times.push(t.elapsed());
        if found.len() != 1 {
            return Err(format!("found {} objects for obj-{j}", found.len()).into());
        }
    }
    let cold = summarize(times, t0.elapsed(), cpu_time() - c0);
    let rss = rss_mib();
    let (t0, c0) = (Instant::now(), cpu_time());
    let mut times = Vec::with_capacity(n);
    for h in handles {
        let t = Instant::now();
        s.destroy_object(h)?;
        times.push(t.elapsed());
    }
    let destroy = summarize(times, t0.elapsed(), cpu_time() - c0);
    Ok((create, find, cold, destroy, rss))
}

/// What each client process of the "processes" cases does.
const PROC_OPS: &[(&str, &str)] =
    &[("create", "token object create+destroy (2 commits)"), ("encrypt", "GCM-4k encrypt, token key")];

/// `k` client processes on `m`'s store at once, each its own session and
/// login on the token, running `op` for `budget` after a common start
/// signal: the sum of their ops/s, the median of their median µs.
fn procs_case(m: &Module, k: usize, op: &str, budget: Duration) -> Res<Stat> {
    use std::io::{BufRead, BufReader, Write};
    let conf = m.conf.as_ref().ok_or("processes: FerroHSM modules only")?;
    let mut kids = Vec::new();
    for _ in 0..k {
        let mut c = std::process::Command::new(std::env::current_exe()?)
            .args(["--worker", &m.path, op, &budget.as_millis().to_string()])
            .env("FERROHSM_CONF", conf)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(c.stdout.take().ok_or("stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if line.trim() != "READY" {
            let _ = c.kill();
            return Err(format!("worker: {line:?}").into());
        }
        kids.push((c, out));
    }
    for (c, _) in &mut kids {
        writeln!(c.stdin.as_mut().ok_or("stdin")?, "GO")?;
    }
    let (mut total, mut medians, mut cpu) = (0.0, Vec::new(), 0.0);
    for (mut c, mut out) in kids {
        let mut line = String::new();
        out.read_line(&mut line)?;
        c.wait()?;
        // "OPS_PER_S=.. MEDIAN_US=.. CPU_US=.."
        let f = |k: &str| -> Res<f64> {
            let v =
                line.split_whitespace().find_map(|p| p.strip_prefix(k)).ok_or_else(|| format!("worker: {line:?}"))?;
            Ok(v.parse::<f64>()?)
        };
        total += f("OPS_PER_S=")?;
        medians.push(f("MEDIAN_US=")?);
        cpu += f("CPU_US=")?;
    }
    medians.sort_by(f64::total_cmp);
    Ok(Stat { ops_per_s: total, median_us: medians[medians.len() / 2], cpu_us: cpu / k as f64, mb_per_s: None })
}

/// A client process of `procs_case`: loads `lib` (FERROHSM_CONF set),
/// logs in on the token "p11bench", says READY, waits for GO, runs.
fn worker(lib: &str, op: &str, millis: u64) -> Res<()> {
    use std::io::BufRead;
    let p11 = Pkcs11::new(lib)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).map(|t| t.label() == "p11bench").unwrap_or(false))
        .ok_or("no p11bench token")?;
    let s = p11.open_rw_session(slot)?;
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))?;
    let key = s.find_objects(&[Attribute::Label(b"procs-key".to_vec())])?.first().copied().ok_or("no procs-key")?;
    let (data, aad, mut ctr) = (vec![0x5a; 4096], [7u8; 16], u64::from(std::process::id()) << 32);
    let label = format!("w{}", std::process::id()).into_bytes();
    let mut one = || -> Res<()> {
        match op {
            "create" => {
                let h = s.create_object(&[
                    Attribute::Class(ObjectClass::DATA),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Label(label.clone()),
                    Attribute::Value(vec![1; 32]),
                ])?;
                s.destroy_object(h)?;
            }
            _ => drop(gcm_once(&s, key, &mut ctr, &data, &aad)?),
        }
        Ok(())
    };
    one()?;
    println!("READY");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;
    let st = measure(Duration::from_millis(millis), 10, None, one)?;
    println!("OPS_PER_S={} MEDIAN_US={} CPU_US={}", st.ops_per_s, st.median_us, st.cpu_us);
    drop(s);
    let _ = p11.finalize();
    Ok(())
}

fn summarize(mut times: Vec<Duration>, wall: Duration, cpu: Duration) -> Stat {
    times.sort();
    let n = times.len().max(1) as f64;
    Stat {
        ops_per_s: n / wall.as_secs_f64(),
        median_us: times.get(times.len() / 2).map_or(0.0, |t| t.as_secs_f64() * 1e6),
        cpu_us: cpu.as_secs_f64() / n * 1e6,
        mb_per_s: None,
    }
}

/// Two threads, one session each, on the GCM-4k / ECDSA-sign case, and the
/// same with one thread just before (its ops/s).
fn two_threads(m: &Module, case: &str, budget: Duration) -> Res<(Outcome, Option<f64>)> {
    let key = aes_key(&m.session, true, false)?;
    let pair = if case.starts_with("ECDSA") {
        let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        match m.session.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(p256_oid), Attribute::Token(true)],
            &[Attribute::Sign(true), Attribute::Token(true)],
        ) {
            Ok(p) => Some(p),
            Err(e) => return Ok((Outcome::Unsupported(e.to_string()), None)),
        }
    } else {
        None
    };
    // Threads on sessions of their own; one thread right before, the same
    // way: the scaling figure compares runs minutes apart no more (a shared
    // VM drifts).
    let (p11, slot) = (&m.p11, m.slot);
    let init = |t: u64| Some((p11.open_rw_session(slot).ok()?, vec![0x5au8; 4096], t << 40));
    let op = |(s, data, ctr): &mut (Session, Vec<u8>, u64)| match pair {
        Some((_, privk)) => s.sign(&Mechanism::Ecdsa, privk, &[1u8; 32]).is_ok(),
        None => gcm_once(s, key, ctr, data, &[7u8; 16]).is_ok(),
    };
    let one = on_threads(1, budget, init, op);
    Ok((Outcome::Done(on_threads(2, budget, init, op)), Some(one.ops_per_s)))
}

/// `op` on `threads` threads at once for `budget`, each with its own state
/// from `init(thread)`; a thread whose `init` gives nothing or whose `op`
/// fails counts no operations. Ops/s and process CPU per op, no median.
fn on_threads<S>(
    threads: u64,
    budget: Duration,
    init: impl Fn(u64) -> Option<S> + Sync,
    op: impl Fn(&mut S) -> bool + Sync,
) -> Stat {
    let (start, cpu0) = (Instant::now(), cpu_time());
    let total: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (init, op) = (&init, &op);
                sc.spawn(move || {
                    let mut state = init(t)?;
                    let (mut n, t0) = (0usize, Instant::now());
                    while t0.elapsed() < budget {
                        if !op(&mut state) {
                            return None;
                        }
                        n += 1;
                    }
                    Some(n)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().ok().flatten().unwrap_or(0)).sum()
    });
    let (wall, cpu) = (start.elapsed().as_secs_f64(), (cpu_time() - cpu0).as_secs_f64());
    Stat { ops_per_s: total as f64 / wall, median_us: 0.0, cpu_us: cpu / total.max(1) as f64 * 1e6, mb_per_s: None }
}

/// The crypto library's own speed on this machine, for compute-bound cases.
fn raw_baselines(budget: Duration, wanted: &dyn Fn(&str) -> bool) -> Res<BTreeMap<&'static str, Stat>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let mut out = BTreeMap::new();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[1u8; 32]).map_err(|_| "key")?);
    let mut buf = vec![0xa5u8; 1 << 20];
    let mut ctr = 0u64;
    if wanted("DES3-CBC 4k encrypt") {
        // aws-lc's own triple-DES (EVP_des_ede3_cbc through aws-lc-sys; the
        // safe API has no DES), one context reused, 4 KiB per call: what the
        // module's DES3 costs without PKCS#11 around it.
        use aws_lc_sys as sys;
        // SAFETY: a fresh context, freed below.
        let ctx = unsafe { sys::EVP_CIPHER_CTX_new() };
        let key = [0x5bu8; 24];
        let data = vec![0xa5u8; 4096];
        let mut ct = vec![0u8; 4096 + 8];
        let st = measure(budget, 20, Some(4096), || {
            let mut n: std::ffi::c_int = 0;
            // SAFETY: valid context; key 24 bytes, IV 8, output room for
            // the whole input.
            let ok = unsafe {
                sys::EVP_EncryptInit_ex(
                    ctx,
                    sys::EVP_des_ede3_cbc(),
                    std::ptr::null_mut(),
                    key.as_ptr(),
                    [3u8; 8].as_ptr(),
                ) == 1
                    && sys::EVP_CIPHER_CTX_set_padding(ctx, 0) == 1
                    && sys::EVP_EncryptUpdate(
                        ctx,
                        ct.as_mut_ptr(),
                        &mut n,
                        data.as_ptr(),
                        data.len() as std::ffi::c_int,
                    ) == 1
            };
            if ok && n == 4096 {
                Ok(())
            } else {
                Err("DES3".into())
            }
        });
        // SAFETY: the context made above, no longer used.
        unsafe { sys::EVP_CIPHER_CTX_free(ctx) };
        out.insert("DES3-CBC 4k encrypt", st?);
    }
    if wanted("GCM 1 MiB encrypt") {
        out.insert(
            "GCM 1 MiB encrypt",
            measure(budget, 5, Some(1 << 20), || {
                ctr += 1;
                let mut n = [0u8; 12];
                n[4..].copy_from_slice(&ctr.to_be_bytes());
                let _tag = key
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(&[7u8; 16]), &mut buf)
                    .map_err(|_| "seal")?;
                Ok(())
            })?,
        );
    }
    // GCM-4k alone and on two threads at once: how far the machine itself
    // scales (two vCPUs may share a core's AES units or memory bandwidth),
    // next to the module's figures.
    let seal_4k = |key: &LessSafeKey, ctr: &mut u64, buf: &mut [u8]| -> Res<()> {
        *ctr += 1;
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&ctr.to_be_bytes());
        let _tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(&[7u8; 16]), buf)
            .map_err(|_| "seal")?;
        Ok(())
    };
    if wanted("GCM-4k encrypt") {
        let mut b4 = vec![0x5au8; 4096];
        out.insert("GCM-4k encrypt", measure(budget, 20, Some(4096), || seal_4k(&key, &mut ctr, &mut b4))?);
    }
    if wanted("GCM-4k encrypt x2 threads") {
        let st =
            on_threads(2, budget, |t| Some((vec![0x5au8; 4096], t << 40)), |(b4, ctr)| seal_4k(&key, ctr, b4).is_ok());
        out.insert("GCM-4k encrypt x2 threads", st);
    }
    let mib = vec![0xa5u8; 1 << 20];
    if wanted("SHA-256 1 MiB") {
        out.insert(
            "SHA-256 1 MiB",
            measure(budget, 5, Some(1 << 20), || {
                let _ = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &mib);
                Ok(())
            })?,
        );
    }
    let rng = SystemRandom::new();
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| "ec")?;
    if wanted("ECDSA P-256 sign") {
        out.insert(
            "ECDSA P-256 sign",
            measure(budget, 20, None, || {
                ec.sign(&rng, &[3u8; 32]).map_err(|_| "sign")?;
                Ok(())
            })?,
        );
    }
    if wanted("ECDSA P-256 sign x2 threads") {
        let st = on_threads(2, budget, |_| Some(()), |_| ec.sign(&rng, &[3u8; 32]).is_ok());
        out.insert("ECDSA P-256 sign x2 threads", st);
    }
    let ec_sig = ec.sign(&rng, &[3u8; 32]).map_err(|_| "sign")?;
    let ec_pub = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        ec.public_key().as_ref().to_vec(),
    );
    if wanted("ECDSA P-256 verify") {
        out.insert(
            "ECDSA P-256 verify",
            measure(budget, 20, None, || {
                ec_pub.verify(&[3u8; 32], ec_sig.as_ref()).map_err(|_| "verify")?;
                Ok(())
            })?,
        );
    }
    {
        use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, ML_KEM_768};
        let dk = DecapsulationKey::generate(&ML_KEM_768).map_err(|_| "ml-kem")?;
        let ek = dk.encapsulation_key().map_err(|_| "ml-kem")?;
        if wanted("ML-KEM-768 encapsulate") {
            let st = measure(budget, 20, None, || {
                ek.encapsulate().map_err(|_| "encapsulate")?;
                Ok(())
            })?;
            out.insert("ML-KEM-768 encapsulate", st);
        }
        if wanted("ML-KEM-768 decapsulate") {
            let (ct, _) = ek.encapsulate().map_err(|_| "encapsulate")?;
            let ct = ct.as_ref().to_vec();
            let st = measure(budget, 20, None, || {
                dk.decapsulate(Ciphertext::from(&ct[..])).map_err(|_| "decapsulate")?;
                Ok(())
            })?;
            out.insert("ML-KEM-768 decapsulate", st);
        }
    }
    {
        use aws_lc_rs::signature::KeyPair as _;
        use aws_lc_rs::signature::{PqdsaKeyPair, ML_DSA_65, ML_DSA_65_SIGNING};
        let kp = PqdsaKeyPair::generate(&ML_DSA_65_SIGNING).map_err(|_| "ml-dsa")?;
        let mut sig = vec![0u8; ML_DSA_65_SIGNING.signature_len()];
        if wanted("ML-DSA-65 sign") {
            let st = measure(budget, 20, None, || {
                kp.sign(&[3u8; 32], &mut sig).map_err(|_| "sign")?;
                Ok(())
            })?;
            out.insert("ML-DSA-65 sign", st);
        }
        if wanted("ML-DSA-65 verify") {
            kp.sign(&[3u8; 32], &mut sig).map_err(|_| "sign")?;
            let public = aws_lc_rs::signature::UnparsedPublicKey::new(&ML_DSA_65, kp.public_key().as_ref().to_vec());
            let st = measure(budget, 20, None, || {
                public.verify(&[3u8; 32], &sig).map_err(|_| "verify")?;
                Ok(())
            })?;
            out.insert("ML-DSA-65 verify", st);
        }
    }
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| "rsa")?;
    let mut sig = vec![0u8; rsa.public_modulus_len()];
    if wanted("RSA-2048 sign") {
        out.insert(
            "RSA-2048 sign",
            measure(budget, 20, None, || {
                rsa.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, &[3u8; 32], &mut sig).map_err(|_| "sign")?;
                Ok(())
            })?,
        );
    }
    Ok(out)
}

const CASES: &[&str] = &[
    "login+logout",
    "open+close session",
    "AES-256 session keygen",
    "AES-256 token keygen (durable)",
    "GCM-4k encrypt",
    "GCM-4k decrypt",
    "GCM 1 MiB encrypt",
    "DES3-CBC 4k encrypt",
    "KW wrap AES-256",
    "KW unwrap AES-256",
    "KWP wrap AES-256",
    "KWP unwrap AES-256",
    "data-key envelope",
    "HMAC-SHA256 1 KiB",
    "SHA-256 1 MiB",
    "RSA-2048 sign",
    "RSA-2048 verify",
    "RSA-2048 keygen",
    "ECDSA P-256 sign",
    "ECDSA P-256 verify",
    "ECDSA P-256 keygen",
    "ML-KEM-768 encapsulate",
    "ML-KEM-768 decapsulate",
    "ML-DSA-65 sign",
    "ML-DSA-65 verify",
];

/// A FerroHSM module (by file name): measured at every object count.
fn is_ferrohsm(path: &str) -> bool {
    path.contains("libferrohsm")
}

fn fmt_stat(o: Option<&Outcome>) -> String {
    match o {
        Some(Outcome::Done(s)) => match s.mb_per_s {
            Some(mb) if mb > 50.0 => format!("{mb:.0} MB/s, {:.1} µs, cpu {:.1} µs", s.median_us, s.cpu_us),
            _ => format!("{:.0}/s, {:.1} µs, cpu {:.1} µs", s.ops_per_s, s.median_us, s.cpu_us),
        },
        Some(Outcome::Unsupported(e)) => format!("unsupported ({})", e.chars().take(40).collect::<String>()),
        None => "-".into(),
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut mods = Vec::new();
    let (mut quick, mut out, mut counts) = (false, None, vec![1_000usize, 10_000, 100_000]);
    let mut other_counts = vec![1_000usize, 3_000];
    let mut only: Option<String> = None;
    let mut memory: Option<usize> = None;
    let mut stores: BTreeMap<String, String> = BTreeMap::new();
    let mut procs = vec![1usize, 2, 4];
    let mut counts_given = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--module" => {
                let v = it.next().ok_or("--module NAME=PATH")?;
                let (n, p) = v.split_once('=').ok_or("--module NAME=PATH")?;
                mods.push((n.to_string(), p.to_string()));
            }
            // FerroHSM module NAME's store on PostgreSQL (a fresh schema).
            "--store" => {
                let v = it.next().ok_or("--store NAME=URL")?;
                let (n, u) = v.split_once('=').ok_or("--store NAME=URL")?;
                stores.insert(n.to_string(), u.to_string());
            }
            // Object counts for FerroHSM modules (default 1000,10000,100000).
            "--counts" => {
                let v = it.next().ok_or("--counts N,N")?;
                counts_given = Some(v.split(',').map(str::parse).collect::<Result<Vec<usize>, _>>()?);
            }
            "--procs" => {
                let v = it.next().ok_or("--procs K,K")?;
                procs = v.split(',').map(str::parse).collect::<Result<Vec<usize>, _>>()?;
            }
            // Internal: a client process of the "processes" cases.
            "--worker" => {
                let lib = it.next().ok_or("--worker LIB OP MILLIS")?;
                let op = it.next().ok_or("--worker LIB OP MILLIS")?;
                let ms = it.next().ok_or("--worker LIB OP MILLIS")?.parse()?;
                return worker(lib, op, ms);
            }
            "--quick" => {
                quick = true;
                counts = vec![1_000, 10_000];
                other_counts = vec![1_000];
            }
            "--out" => out = Some(it.next().ok_or("--out FILE")?.clone()),
            // Only cases whose name contains this text (for profiling).
            "--only" => only = Some(it.next().ok_or("--only TEXT")?.clone()),
            // Internal: the memory measurement, run in a child process.
            "--memory" => memory = Some(it.next().ok_or("--memory N")?.parse::<usize>()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if mods.is_empty() {
        return Err("give at least one --module NAME=PATH (the first is ours)".into());
    }
    if let Some(c) = counts_given {
        counts = c;
    }
    if let Some(n) = stores.keys().find(|n| !mods.iter().any(|(m, p)| m == *n && is_ferrohsm(p))) {
        return Err(format!("--store {n}: no FerroHSM --module of that name").into());
    }
    let budget = Duration::from_millis(if quick { 300 } else { 1500 });
    if let Some(n) = memory {
        let (name, path) = &mods[0];
        let m = setup(name, path, true, None)?;
        let (_, _, _, _, rss) = objects_case(&m, n, Duration::from_millis(300))?;
        println!("RSS_MIB={rss:.1}");
        close(m);
        return Ok(());
    }
    let mut loaded = Vec::new();
    for (i, (n, p)) in mods.iter().enumerate() {
        // Every FerroHSM build (ours, or an earlier one to compare with)
        // gets a store of its own.
        loaded.push(setup(n, p, i == 0 || is_ferrohsm(p), stores.get(n).map(String::as_str))?);
    }
    let names: Vec<String> = loaded.iter().map(|m| m.name.clone()).collect();
    let mut rows: Vec<(String, Vec<Option<Outcome>>)> = Vec::new();
    // --only: cases whose name contains any of its comma-separated parts.
    let wanted = |c: &str| only.as_deref().is_none_or(|o| o.split(',').any(|o| c.contains(o)));
    let mut scaling: Vec<String> = Vec::new();
    for case in CASES.iter().filter(|c| wanted(c)) {
        let mut row = Vec::new();
        for m in &loaded {
            let o = run_case(m, case, budget)?;
            eprintln!("{case:<32} {:<10} {}", m.name, fmt_stat(Some(&o)));
            row.push(Some(o));
        }
        rows.push((case.to_string(), row));
    }
    for case in ["GCM-4k encrypt x2 threads", "ECDSA P-256 sign x2 threads"].into_iter().filter(|c| wanted(c)) {
        let mut row = Vec::new();
        for m in &loaded {
            let (o, one) = two_threads(m, case, budget)?;
            eprintln!("{case:<32} {:<10} {}", m.name, fmt_stat(Some(&o)));
            if let (Outcome::Done(st), Some(one)) = (&o, one) {
                scaling.push(format!(
                    "| {case} | {} | {one:.0}/s | {:.0}/s | {:.2}x |",
                    m.name,
                    st.ops_per_s,
                    st.ops_per_s / one
                ));
            }
            row.push(Some(o));
        }
        rows.push((case.to_string(), row));
    }
    let mut rss_line = String::new();
    let max_n = counts.iter().chain(other_counts.iter()).copied().max().unwrap_or(0);
    for n in counts.iter().chain(other_counts.iter()).copied().collect::<std::collections::BTreeSet<_>>() {
        if n > max_n || !wanted("objects") {
            continue;
        }
        let mut r_create = Vec::new();
        let mut r_find = Vec::new();
        let mut r_cold = Vec::new();
        let mut r_destroy = Vec::new();
        for (i, m) in loaded.iter().enumerate() {
            let allowed = if i == 0 || is_ferrohsm(&m.path) { &counts } else { &other_counts };
            if !allowed.contains(&n) {
                for r in [&mut r_create, &mut r_find, &mut r_cold, &mut r_destroy] {
                    r.push(None);
                }
                continue;
            }
            let (c, f, fc, d, rss) = objects_case(m, n, budget)?;
            eprintln!(
                "objects N={n:<8} {:<10} create {} | find {} | cold {} | destroy {} | rss {rss:.1} MiB",
                m.name,
                fmt_stat(Some(&Outcome::Done(c))),
                fmt_stat(Some(&Outcome::Done(f))),
                fmt_stat(Some(&Outcome::Done(fc))),
                fmt_stat(Some(&Outcome::Done(d)))
            );
            if i == 0 && n == *counts.iter().max().unwrap_or(&0) {
                rss_line =
                    format!("Resident size of the bench process with {n} token objects in {}: {rss:.1} MiB", m.name);
            }
            r_create.push(Some(Outcome::Done(c)));
            r_find.push(Some(Outcome::Done(f)));
            r_cold.push(Some(Outcome::Done(fc)));
            r_destroy.push(Some(Outcome::Done(d)));
        }
        if r_create.iter().all(Option::is_none) {
            continue; // a count none of these modules is measured at
        }
        rows.push((format!("create token data object (N={n})"), r_create));
        rows.push((format!("find one by label among N={n}"), r_find));
        rows.push((format!("find one by label among N={n}, each label once (cold)"), r_cold));
        rows.push((format!("destroy token data object (N={n})"), r_destroy));
    }
    // Login with many keys: ours at 1,000 and 10,000, the others at 1,000
    // (SoftHSM makes a durable key in ~9 ms).
    if wanted("login+logout with") {
        for n in [1_000usize, 10_000] {
            let mut row = Vec::new();
            for (i, m) in loaded.iter().enumerate() {
                if i > 0 && !is_ferrohsm(&m.path) && n > 1_000 {
                    row.push(None);
                    continue;
                }
                let st = login_with_keys(m, if quick { n / 10 } else { n }, budget)?;
                eprintln!("login+logout with N={n} keys {:<10} {}", m.name, fmt_stat(Some(&Outcome::Done(st))));
                row.push(Some(Outcome::Done(st)));
            }
            rows.push((format!("login+logout with N={n} token keys"), row));
        }
    }
    // Several client processes on one store at once (FerroHSM modules).
    if wanted("processes") {
        for m in &loaded {
            if m.conf.is_some() {
                aes_key_labelled(&m.session, b"procs-key")?;
            }
        }
        for (op, what) in PROC_OPS {
            for &k in &procs {
                let mut row = Vec::new();
                for m in &loaded {
                    if m.conf.is_none() {
                        row.push(None);
                        continue;
                    }
                    let st = procs_case(m, k, op, budget)?;
                    eprintln!("{what} x{k} processes {:<10} {}", m.name, fmt_stat(Some(&Outcome::Done(st))));
                    row.push(Some(Outcome::Done(st)));
                }
                rows.push((format!("{what}, {k} client processes"), row));
            }
        }
    }
    let raw = raw_baselines(budget, &wanted)?;
    let pq = match pq_paired(&loaded[0], budget, &wanted) {
        Ok(pq) => pq,
        Err(e) => {
            eprintln!("post-quantum cases in alternation with aws-lc-rs: {e}");
            Vec::new()
        }
    };
    // Memory: a fresh process holding only the first module and its largest
    // object count, so other cases' buffers and the other modules do not count.
    if wanted("objects") {
        let n = counts.iter().copied().max().unwrap_or(0);
        let out = std::process::Command::new(std::env::current_exe()?)
            .args(["--module", &format!("{}={}", mods[0].0, mods[0].1), "--memory", &n.to_string()])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(v) = text.lines().find_map(|l| l.strip_prefix("RSS_MIB=")) {
            rss_line = format!(
                "Resident size of a process holding only {} with {n} token objects (created, then searched; \
                 measured in a child process): {v} MiB",
                mods[0].0
            );
        }
    }

    // The table: ours, each other module, ratio ours/other by ops/s.
    let mut md = String::new();
    md.push_str(&format!(
        "| case | {} | ratio {} |\n",
        names.join(" | "),
        names[1..].iter().map(|n| format!("{}/{n}", names[0])).collect::<Vec<_>>().join(" | ")
    ));
    md.push_str(&format!("|---|{}{}\n", "---|".repeat(names.len()), "---|".repeat(names.len().saturating_sub(1))));
    for (case, row) in &rows {
        let cells: Vec<String> = row.iter().map(|o| fmt_stat(o.as_ref())).collect();
        let ours = match &row[0] {
            Some(Outcome::Done(s)) => Some(s.ops_per_s),
            _ => None,
        };
        let ratios: Vec<String> = row[1..]
            .iter()
            .map(|o| match (ours, o) {
                (Some(a), Some(Outcome::Done(b))) if b.ops_per_s > 0.0 => format!("{:.1}x", a / b.ops_per_s),
                _ => "-".into(),
            })
            .collect();
        md.push_str(&format!("| {case} | {} | {} |\n", cells.join(" | "), ratios.join(" | ")));
    }
    md.push_str("\nThe crypto library on its own (aws-lc-rs, same process, same run):\n\n| case | aws-lc-rs | ours / aws-lc-rs |\n|---|---|---|\n");
    for (case, st) in &raw {
        let ours = rows.iter().find(|(c, _)| c == case).and_then(|(_, r)| match &r[0] {
            Some(Outcome::Done(s)) => Some(s.ops_per_s),
            _ => None,
        });
        let ratio = ours.map_or("-".into(), |o| format!("{:.2}x", o / st.ops_per_s));
        md.push_str(&format!("| {case} | {} | {ratio} |\n", fmt_stat(Some(&Outcome::Done(*st)))));
    }
    if !pq.is_empty() {
        md.push_str(&format!(
            "\nPost-quantum cases of {} and aws-lc-rs measured in alternation (32 calls of one, then 32 of the \
             other, for the whole budget: both see the same machine; its encapsulate and decapsulate include the \
             C_DestroyObject of the key each makes):\n\n| case | {} | aws-lc-rs | ratio by ops/s | ratio by medians |\n\
             |---|---|---|---|---|\n",
            names[0], names[0]
        ));
        for (case, a, b) in &pq {
            md.push_str(&format!(
                "| {case} | {} | {} | {:.2}x | {:.2}x |\n",
                fmt_stat(Some(&Outcome::Done(*a))),
                fmt_stat(Some(&Outcome::Done(*b))),
                a.ops_per_s / b.ops_per_s,
                b.median_us / a.median_us
            ));
        }
    }
    if !scaling.is_empty() {
        md.push_str("\nTwo threads against one, measured back to back on the same key:\n\n| case | module | 1 thread | 2 threads | 2 / 1 |\n|---|---|---|---|---|\n");
        for l in &scaling {
            md.push_str(l);
            md.push('\n');
        }
    }
    md.push_str(&format!("\n{rss_line}\n"));
    println!("{md}");
    if let Some(path) = &out {
        let uname = std::process::Command::new("uname")
            .arg("-srm")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        let date = std::process::Command::new("date")
            .arg("-u")
            .arg("+%Y-%m-%d %H:%M UTC")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        let mut doc = if stores.is_empty() {
            format!("# Benchmarks\n\nGenerated by `benches/run.sh` (p11bench) on {date}.\n\n- Machine: {uname}, {cpu}, {cores} cores\n")
        } else {
            // The command as run, the server's address (no password in it) kept.
            let argv: Vec<String> =
                args.iter().filter(|a| !a.starts_with("--out") && Some(*a) != out.as_ref()).cloned().collect();
            let mut d = format!(
                "## The store: SQLite and PostgreSQL\n\nGenerated by `cargo bench --bench p11bench -- {}` on {date}.\n\n- Machine: {uname}, {cpu}, {cores} cores\n",
                argv.join(" ")
            );
            for m in &loaded {
                d.push_str(&format!(
                    "- {}: {}\n",
                    m.name,
                    stores
                        .get(&m.name)
                        .map_or("a SQLite file (WAL, synchronous=FULL) in a temporary directory".into(), |u| format!(
                            "PostgreSQL at `{u}`, a schema of its own"
                        ))
                ));
            }
            d
        };
        for m in &loaded {
            let info = m.p11.get_library_info()?;
            doc.push_str(&format!(
                "- {}: {} {} (library version {})\n",
                m.name,
                info.manufacturer_id(),
                info.library_description(),
                info.library_version()
            ));
        }
        doc.push_str(&format!("- Budget per case: {} ms{}\n\nEach cell: ops/s (MB/s for bulk cases), median µs per op, process CPU µs per op.\n\n", budget.as_millis(), if quick { " (--quick)" } else { "" }));
        doc.push_str(&md);
        std::fs::write(path, doc)?;
    }
    loaded.into_iter().for_each(close);
    Ok(())
}

/// C_Finalize, then the store's schema and directory go: a module left
/// initialized would flush its audit records at exit into a store that
/// is gone.
fn close(m: Module) {
    let Module { p11, session, _schema, _dir, .. } = m;
    drop(session);
    let _ = p11.finalize();
    drop(_schema);
    drop(_dir);
}
