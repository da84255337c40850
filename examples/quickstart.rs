//! The main job on the embedded default: initialize a token (first run),
//! generate a non-extractable AES-256 master key on it, and list the keys,
//! all through the PKCS#11 interface of the built `libferrohsm.so`.
//!
//! `cargo run --release --example quickstart`
//!
//! PINs come from FERROHSM_SO_PIN / FERROHSM_USER_PIN; without them the demo
//! PINs below are used (fine for a demo store, not for real keys).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn module_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("FERROHSM_MODULE") {
        return p.into();
    }
    // target/<profile>/examples/quickstart → target/<profile>/libferrohsm.so
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(|d| d.parent()).expect("target dir").join("libferrohsm.so")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let so_pin = std::env::var("FERROHSM_SO_PIN").unwrap_or_else(|_| "so-demo-pin".into());
    let user_pin = std::env::var("FERROHSM_USER_PIN").unwrap_or_else(|_| "user-demo-pin".into());
    let path = module_path();
    println!("module: {}", path.display());
    let p11 = Pkcs11::new(&path)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;

    let label = "quickstart";
    let slot = match p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).map(|t| t.label() == label).unwrap_or(false))
    {
        Some(s) => s,
        None => {
            let free = p11
                .get_all_slots()?
                .into_iter()
                .find(|s| p11.get_token_info(*s).map(|t| !t.token_initialized()).unwrap_or(false))
                .ok_or("no free slot")?;
            println!("initializing token {label:?} in slot {}", free.id());
            p11.init_token(free, &AuthPin::new(so_pin.clone().into()), label)?;
            let s = p11.open_rw_session(free)?;
            s.login(UserType::So, Some(&AuthPin::new(so_pin.into())))?;
            s.init_pin(&AuthPin::new(user_pin.clone().into()))?;
            free
        }
    };
    let session = p11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::new(user_pin.into())))?;

    let n = session.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])?.len();
    let key_label = format!("master-{}", n + 1);
    let key = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::ValueLen(32.into()),
            Attribute::Label(key_label.clone().into_bytes()),
        ],
    )?;
    println!("generated non-extractable AES-256 master key {key_label:?} (handle {key})");
    match session.get_attributes(key, &[AttributeType::Value]) {
        Ok(v) if v.is_empty() => println!("its value stays on the token (CKA_VALUE is not readable)"),
        Ok(_) => return Err("CKA_VALUE of a non-extractable key was readable".into()),
        Err(e) => println!("its value stays on the token ({e})"),
    }

    println!("secret keys on token {label:?}:");
    for h in session.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])? {
        let attrs = session.get_attributes(
            h,
            &[AttributeType::Label, AttributeType::UniqueId, AttributeType::ValueLen, AttributeType::Extractable],
        )?;
        let mut line = String::new();
        for a in attrs {
            match a {
                Attribute::Label(l) => line += &format!("  {:<12}", String::from_utf8_lossy(&l)),
                Attribute::UniqueId(u) => line += &format!(" id={}", String::from_utf8_lossy(&u)),
                Attribute::ValueLen(v) => line += &format!(" bits={}", u64::from(v) * 8),
                Attribute::Extractable(e) => line += &format!(" extractable={e}"),
                _ => {}
            }
        }
        println!("{line}");
    }
    Ok(())
}
