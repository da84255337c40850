//! `ferrohsm store verify [--token LABEL] [--so]`: every object of a token
//! opened and authenticated, and the token's object-set digest recomputed
//! (see `token::verify`). Needs the user PIN (or, with `--so`, the SO PIN).

use crate::common::{module, slot_of, so_pin, user_session, Args};

const USAGE: &str = "usage: ferrohsm store verify [--token LABEL] [--so]
  Opens every object of the token, checks each one's authentication tag and
  the token's object-set digest (catches objects edited, rolled back whole,
  deleted or brought back). Exit 0 when all is intact, 1 otherwise.";

pub fn run(args: &[String]) -> i32 {
    let a = match Args::parse(&args[1..], &["token", "pin", "pin-fd", "pin-env", "so-pin", "so-pin-fd", "so-pin-env"]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ferrohsm store: {e}\n{USAGE}");
            return 2;
        }
    };
    match a.positional.first().map(String::as_str) {
        Some("verify") => match verify(&a) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("ferrohsm store verify: {e}");
                1
            }
        },
        Some("--help") | Some("help") | None => {
            println!("{USAGE}");
            i32::from(a.positional.is_empty()) * 2
        }
        Some(other) => {
            eprintln!("ferrohsm store: unknown command {other:?}\n{USAGE}");
            2
        }
    }
}

fn verify(a: &Args) -> Result<bool, String> {
    let m = module()?;
    let h = if a.has("so") {
        let slot = slot_of(&m, a.get("token"))?;
        let h = m
            .open_session(slot, cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION)
            .map_err(|e| e.to_string())?;
        let pin = so_pin(a)?;
        m.login(h, cryptoki_sys::CKU_SO, pin.as_bytes()).map_err(|e| format!("login: {e}"))?;
        h
    } else {
        user_session(&m, a)?
    };
    let r = m.verify_store(h).map_err(|e| e.to_string())?;
    for why in &r.refused {
        println!("REFUSED object {why}");
    }
    let digest = match (r.digest_authentic, r.digest_matches) {
        (false, _) => "FAILS its authentication tag (edited?)".to_string(),
        (true, false) => format!(
            "authentic but does NOT match the objects: it records {} objects (an object rolled back, deleted or restored)",
            r.digest_count
        ),
        (true, true) => format!("matches ({} objects)", r.digest_count),
    };
    println!("objects: {}, refused: {}, object-set digest {digest}", r.objects, r.refused.len());
    if r.ok() {
        println!("store intact");
    } else {
        println!("store INVALID");
    }
    Ok(r.ok())
}
