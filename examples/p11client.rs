//! A tiny PKCS#11 client used by the multi-process tests (and handy by
//! hand): it loads libferrohsm.so, logs in to the first initialized token
//! with $P11_PIN and runs one command.
//!
//!   p11client create <label-prefix> <n>   create n token data objects
//!   p11client count <label-prefix>        count token data objects whose
//!                                         label starts with the prefix
//!   p11client relabel <label> <new>       change an object's label
//!   p11client destroy <label>             destroy the objects with a label

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let exe = std::env::current_exe()?;
    let module = std::env::var_os("FERROHSM_MODULE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| exe.parent().unwrap().parent().unwrap().join("libferrohsm.so"));
    let p11 = Pkcs11::new(module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = *p11.get_slots_with_initialized_token()?.first().ok_or("no initialized token")?;
    let s = p11.open_rw_session(slot)?;
    s.login(UserType::User, Some(&AuthPin::new(std::env::var("P11_PIN")?.into())))?;
    match args.get(1).map(String::as_str) {
        Some("create") => {
            let prefix = &args[2];
            let n: usize = args[3].parse()?;
            for i in 0..n {
                s.create_object(&[
                    Attribute::Class(ObjectClass::DATA),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Label(format!("{prefix}-{i}").into_bytes()),
                    Attribute::Value(format!("value {i}").into_bytes()),
                ])?;
            }
            println!("created {n}");
        }
        Some("count") => {
            let prefix = args[2].as_bytes();
            let mut n = 0;
            for h in s.find_objects(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(true)])? {
                if let Some(Attribute::Label(l)) = s.get_attributes(h, &[AttributeType::Label])?.pop() {
                    n += l.starts_with(prefix) as usize;
                }
            }
            println!("{n}");
        }
        Some("relabel") => {
            for h in s.find_objects(&[Attribute::Label(args[2].clone().into_bytes())])? {
                s.update_attributes(h, &[Attribute::Label(args[3].clone().into_bytes())])?;
            }
        }
        Some("destroy") => {
            for h in s.find_objects(&[Attribute::Label(args[2].clone().into_bytes())])? {
                s.destroy_object(h)?;
            }
        }
        _ => return Err("usage: p11client create|count|relabel|destroy ...".into()),
    }
    Ok(())
}
