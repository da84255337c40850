//! `ferrohsm store verify [--token LABEL] [--so]`: every object of a token
//! opened and authenticated, and the token's object-set digest recomputed
//! (see `token::verify`). Needs the user PIN (or, with `--so`, the SO PIN).

use crate::cli::StoreCmd;
use crate::common::{self, module};

pub fn run(cmd: &StoreCmd) -> i32 {
    match cmd {
        StoreCmd::Verify { so, login, so_pin } => match verify(*so, login, so_pin) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("ferrohsm store verify: {e}");
                1
            }
        },
    }
}

fn verify(so: bool, login: &crate::cli::Login, so_pin: &crate::cli::SoPin) -> Result<bool, String> {
    let m = module()?;
    let token = login.token.as_deref();
    let h = if so {
        common::login(&m, token, cryptoki_sys::CKU_SO, &so_pin.source())?
    } else {
        common::user_session(&m, token, &login.pin.source())?
    };
    let r = m.audit().verify_store(h).map_err(|e| e.to_string())?;
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
