//! `ferrohsm store verify [--token LABEL] [--so]`: every object of a token
//! opened and authenticated, and the token's object-set digest recomputed
//! (see `token::verify`). Needs the user PIN (or, with `--so`, the SO PIN).
//! `ferrohsm store copy --from STORE --to STORE`: see `store::copy`.

use crate::cli::StoreCmd;
use crate::common::{self, module};
use ferrohsm::store::Store;

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
        StoreCmd::Copy { from, to } => match copy(from, to) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ferrohsm store copy: {e}");
                1
            }
        },
    }
}

/// Opens a store named by a path or a postgresql:// URL (its password from
/// the configuration's `store.password_file`, else PGPASSWORD).
fn open(name: &str) -> Result<Box<dyn Store>, String> {
    use ferrohsm::store::postgres::{conn, PgStore};
    if conn::is_url(name) {
        let conf = ferrohsm::config::Config::load().map_err(|e| format!("configuration: {e}"))?;
        let t = conn::parse(name)?.with_password(conf.store.password_file.as_deref()).map_err(|e| e.to_string())?;
        Ok(Box::new(PgStore::open(t).map_err(|e| format!("{name}: {e}"))?))
    } else {
        let s = ferrohsm::store::sqlite::SqliteStore::open(std::path::Path::new(name))
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(Box::new(s))
    }
}

fn copy(from: &str, to: &str) -> Result<(), String> {
    use ferrohsm::store::copy;
    if from == to {
        return Err("--from and --to name the same store".into());
    }
    let src = open(from)?;
    let d = copy::dump(src.as_ref()).map_err(|e| format!("reading {from}: {e}"))?;
    let dst = open(to)?;
    dst.import(&d).map_err(|e| format!("writing {to}: {e}"))?;
    let n = copy::verify(&d, dst.as_ref()).map_err(|e| e.to_string())?;
    println!(
        "copied and verified: {} tokens, {} objects (every row and index entry), {} audit batches",
        n.tokens, n.objects, n.batches
    );
    Ok(())
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
