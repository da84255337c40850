//! Envelope encryption with FerroHSM, the way AWS KMS's GenerateDataKey is
//! used: master keys never leave the token; a fresh data key encrypts the
//! file and leaves the token only wrapped.
//!
//!   envelope encrypt FILE [k=v ...]     writes FILE.fhe (IV + AES-GCM
//!                                       ciphertext) and FILE.key-a /
//!                                       FILE.key-b (the data key wrapped
//!                                       under master keys A and B)
//!   envelope decrypt FILE OUT a|b [k=v ...]
//!                                       unwraps with master A or B and
//!                                       decrypts FILE.fhe into OUT
//!
//! The k=v pairs are the encryption context: bound as AES-GCM AAD with an
//! unambiguous encoding and required again to decrypt. PINs come from
//! FERROHSM_SO_PIN / FERROHSM_USER_PIN (demo PINs otherwise).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const TOKEN: &str = "envelope";

fn module_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("FERROHSM_MODULE") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(|d| d.parent()).expect("target dir").join("libferrohsm.so")
}

fn pin(var: &str, demo: &str) -> AuthPin {
    AuthPin::new(std::env::var(var).unwrap_or_else(|_| demo.into()).into())
}

/// A logged-in session on the "envelope" token, initializing it first time.
fn session(p11: &Pkcs11) -> Res<Session> {
    let existing = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).map(|t| t.label() == TOKEN).unwrap_or(false));
    let slot = match existing {
        Some(s) => s,
        None => {
            let free = p11
                .get_all_slots()?
                .into_iter()
                .find(|s| p11.get_token_info(*s).map(|t| !t.token_initialized()).unwrap_or(false))
                .ok_or("no free slot")?;
            let so = pin("FERROHSM_SO_PIN", "so-demo-pin");
            p11.init_token(free, &so, TOKEN)?;
            let s = p11.open_rw_session(free)?;
            s.login(UserType::So, Some(&so))?;
            s.init_pin(&pin("FERROHSM_USER_PIN", "user-demo-pin"))?;
            free
        }
    };
    let s = p11.open_rw_session(slot)?;
    s.login(UserType::User, Some(&pin("FERROHSM_USER_PIN", "user-demo-pin")))?;
    Ok(s)
}

/// Master key `name`, created on first use: a token key that never leaves
/// (sensitive, non-extractable) and can only wrap and unwrap.
fn master(s: &Session, name: &str) -> Res<ObjectHandle> {
    let label = format!("envelope-master-{name}").into_bytes();
    if let Some(h) = s.find_objects(&[Attribute::Label(label.clone())])?.first() {
        return Ok(*h);
    }
    Ok(s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::ValueLen(32.into()),
            Attribute::Label(label),
        ],
    )?)
}

/// The encryption context as AAD: pairs sorted by key, each string
/// length-prefixed, so {"ab":"c"} and {"a":"bc"} differ.
fn context_aad(pairs: &[String]) -> Res<Vec<u8>> {
    let mut kv: Vec<(&str, &str)> =
        pairs.iter().map(|p| p.split_once('=').ok_or("context is k=v")).collect::<Result<_, _>>()?;
    kv.sort();
    let mut aad = b"FHSM-ctx1".to_vec();
    for (k, v) in kv {
        for part in [k, v] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
    }
    Ok(aad)
}

fn data_key_template() -> Vec<Attribute> {
    vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false)]
}

fn encrypt(s: &Session, file: &str, ctx: &[String]) -> Res<()> {
    let (a, b) = (master(s, "a")?, master(s, "b")?);
    // A fresh session data key: extractable only so it can be wrapped.
    let dk = s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
        ],
    )?;
    let wrapped_a = s.wrap_key(&Mechanism::AesKeyWrapPad, a, dk)?;
    let wrapped_b = s.wrap_key(&Mechanism::AesKeyWrapPad, b, dk)?;
    let mut iv = [0u8; 12];
    s.generate_random_slice(&mut iv)?;
    let aad = context_aad(ctx)?;
    let plain = std::fs::read(file)?;
    let mut iv_m = iv;
    let ct = s.encrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv_m, &aad, 128.into())?), dk, &plain)?;
    s.destroy_object(dk)?;
    let mut out = iv.to_vec();
    out.extend(ct);
    std::fs::write(format!("{file}.fhe"), out)?;
    std::fs::write(format!("{file}.key-a"), wrapped_a)?;
    std::fs::write(format!("{file}.key-b"), wrapped_b)?;
    println!("encrypted {file} -> {file}.fhe; data key wrapped under masters a and b ({file}.key-a, {file}.key-b)");
    Ok(())
}

fn decrypt(s: &Session, file: &str, out: &str, which: &str, ctx: &[String]) -> Res<()> {
    let m = master(s, which)?;
    let wrapped = std::fs::read(format!("{file}.key-{which}"))?;
    let dk = s.unwrap_key(&Mechanism::AesKeyWrapPad, m, &wrapped, &data_key_template())?;
    let blob = std::fs::read(format!("{file}.fhe"))?;
    if blob.len() < 12 + 16 {
        return Err("ciphertext too short".into());
    }
    let mut iv: [u8; 12] = blob[..12].try_into()?;
    let aad = context_aad(ctx)?;
    let plain = s.decrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into())?), dk, &blob[12..]);
    s.destroy_object(dk)?;
    std::fs::write(out, plain.map_err(|e| format!("decryption failed (wrong context or damaged file): {e}"))?)?;
    println!("decrypted {file}.fhe -> {out} with master {which}");
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p11 = Pkcs11::new(module_path())?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let s = session(&p11)?;
    match args.first().map(String::as_str) {
        Some("encrypt") if args.len() >= 2 => encrypt(&s, &args[1], &args[2..]),
        Some("decrypt") if args.len() >= 4 => decrypt(&s, &args[1], &args[2], &args[3], &args[4..]),
        _ => Err("usage: envelope encrypt FILE [k=v ...] | envelope decrypt FILE OUT a|b [k=v ...]".into()),
    }
}
