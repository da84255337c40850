//! `ferrohsm migrate-softhsm --tokendir DIR [--token LABEL]`: recreates
//! every object of SoftHSM v2 tokens (file or db backend) in FerroHSM
//! tokens of the same label, with all attributes, in one store transaction
//! per token. Objects already there (same class, key type, CKA_ID and
//! CKA_LABEL) are skipped, so running it twice changes nothing. Unless
//! `--allow-partial`, one object that cannot be migrated stops the token's
//! migration before anything is written.

mod softhsm;
mod softhsm_db;

use std::path::Path;

use cryptoki_sys as ck;
use ferrohsm::model::policy;
use ferrohsm::model::{Attribute, Kind, Template, Value};
use ferrohsm::token::Module;

use crate::cli::Migrate;
use crate::common;
use softhsm::{SAttr, SObject, SToken};

pub fn run(a: &Migrate) -> i32 {
    let dir = match a.tokendir.as_ref().map(std::path::PathBuf::from).or_else(softhsm_tokendir) {
        Some(d) => d,
        None => {
            // A usage error, worded and coded as clap's are.
            eprintln!(
                "error: --tokendir DIR is required (no softhsm2.conf names one)\n\n\
                 For more information, try 'ferrohsm migrate-softhsm --help'."
            );
            return 2;
        }
    };
    match migrate_all(a, &dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ferrohsm migrate-softhsm: {e}");
            1
        }
    }
}

/// `directories.tokendir` of the softhsm2.conf SoftHSM would read
/// (SOFTHSM2_CONF, ~/.config/softhsm2/softhsm2.conf, /etc/softhsm/softhsm2.conf).
fn softhsm_tokendir() -> Option<std::path::PathBuf> {
    let conf = ferrohsm::config::softhsm::find().unwrap_or_else(|| "/etc/softhsm/softhsm2.conf".into());
    let text = std::fs::read_to_string(conf).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.trim().split_once('=')?;
        (k.trim() == "directories.tokendir").then(|| std::path::PathBuf::from(v.trim()))
    })
}

fn migrate_all(a: &Migrate, dir: &Path) -> Result<(), String> {
    let mut tokens = Vec::new();
    for d in softhsm::token_dirs(dir)? {
        let parsed = if softhsm::is_file_backend(&d) {
            softhsm::read_file_backend(&d)
        } else {
            softhsm_db::read_db_backend(&d.join("sqlite3.db"))
        };
        let t = parsed.and_then(|p| softhsm::token_from(&d, p)).map_err(|e| format!("{}: {e}", d.display()))?;
        if a.token.as_deref().is_none_or(|l| l == t.label) {
            tokens.push(t);
        }
    }
    if tokens.is_empty() {
        return Err(match &a.token {
            Some(l) => format!("no SoftHSM token labelled {l:?} under {}", dir.display()),
            None => format!("no SoftHSM token under {}", dir.display()),
        });
    }
    let pin = common::read_pin(&a.pin.source())?;
    let m = common::module()?;
    let mut failed = 0;
    for t in &tokens {
        if let Err(e) = migrate_token(&m, a, t, pin.as_bytes()) {
            eprintln!("token {:?}: {e}", t.label);
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} token(s) not migrated", tokens.len()));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn class_name(c: Option<u64>) -> &'static str {
    match c {
        Some(ck::CKO_DATA) => "data object",
        Some(ck::CKO_CERTIFICATE) => "certificate",
        Some(ck::CKO_PUBLIC_KEY) => "public key",
        Some(ck::CKO_PRIVATE_KEY) => "private key",
        Some(ck::CKO_SECRET_KEY) => "secret key",
        Some(ck::CKO_DOMAIN_PARAMETERS) => "domain parameters",
        _ => "object",
    }
}

fn key_type_name(k: u64) -> String {
    match k {
        ck::CKK_RSA => "RSA".into(),
        ck::CKK_EC => "EC".into(),
        ck::CKK_AES => "AES".into(),
        ck::CKK_GENERIC_SECRET => "generic secret".into(),
        ck::CKK_DES => "DES".into(),
        ck::CKK_DES2 => "DES2".into(),
        ck::CKK_DES3 => "DES3".into(),
        ck::CKK_DSA => "DSA".into(),
        ck::CKK_DH => "DH".into(),
        ck::CKK_EC_EDWARDS => "EdDSA".into(),
        ck::CKK_EC_MONTGOMERY => "Montgomery".into(),
        other => format!("key type {other:#x}"),
    }
}

/// "private key RSA id=01 label="web"" — never a value.
fn describe(o: &SObject) -> String {
    let mut s = class_name(o.ulong(ck::CKA_CLASS)).to_string();
    if let Some(k) = o.ulong(ck::CKA_KEY_TYPE) {
        s += &format!(" {}", key_type_name(k));
    }
    s += &format!(" id={}", hex(o.bytes(ck::CKA_ID).unwrap_or_default()));
    s += &format!(" label={:?}", String::from_utf8_lossy(o.bytes(ck::CKA_LABEL).unwrap_or_default()));
    s
}

/// The value in our model, if the attribute's kind matches ours.
fn to_value(kind: Kind, v: &SAttr, bit: u8, notes: &mut Vec<String>) -> Option<Value> {
    Some(match (kind, v) {
        (Kind::Bool, SAttr::Bool(b)) => Value::Bool(*b),
        (Kind::Ulong, SAttr::Ulong(u)) => Value::Ulong(*u),
        (Kind::Bytes | Kind::Date, SAttr::Bytes(b)) => Value::Bytes(b.clone()),
        (Kind::MechList, SAttr::Mechs(m)) => Value::MechList(m.clone()),
        (Kind::Template, SAttr::Map(m)) => Value::Template(to_attrs(m, None, notes)),
        _ => {
            let _ = bit;
            return None;
        }
    })
}

/// Our attributes for SoftHSM's, noting each one left out and why.
fn to_attrs(attrs: &[(u64, SAttr)], bit: Option<u8>, notes: &mut Vec<String>) -> Vec<Attribute> {
    let mut out = Vec::new();
    for (t, v) in attrs {
        let Some(rule) = policy::rule(*t) else {
            notes.push(format!("attribute {t:#x} is not supported here; left out"));
            continue;
        };
        if bit.is_some_and(|b| rule.classes & b == 0) {
            notes.push(format!("{} does not apply to this class here; left out", rule.name));
            continue;
        }
        match to_value(rule.kind, v, bit.unwrap_or(0), notes) {
            Some(value) => out.push(Attribute::new(*t, value)),
            None => notes.push(format!("{} has an unexpected value kind; left out", rule.name)),
        }
    }
    out
}

/// A SoftHSM object (decrypted) as the template of the object to create.
fn convert(o: &SObject, notes: &mut Vec<String>) -> Result<Template, String> {
    let class = o.ulong(ck::CKA_CLASS).ok_or("no CKA_CLASS")?;
    let bit = policy::class_bit(class).ok_or_else(|| format!("class {class:#x} is not supported"))?;
    let t = Template::new(to_attrs(&o.attrs, Some(bit), notes));
    ferrohsm::token::migrate::migrated_object(&t).map_err(|e| format!("rejected: {e}"))?;
    Ok(t)
}

/// The slot of the FerroHSM token with this label, if there is one.
fn target_slot(m: &Module, label: &str) -> Result<Option<u64>, String> {
    match common::slot_of(m, Some(label)) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.starts_with("no token labelled") => Ok(None),
        Err(e) => Err(e),
    }
}

fn free_slot(m: &Module) -> Result<u64, String> {
    for s in m.slots().slot_list().map_err(|e| e.to_string())? {
        if m.slots().token_info(s).is_ok_and(|i| i.flags & ck::CKF_TOKEN_INITIALIZED == 0) {
            return Ok(s);
        }
    }
    Err("no free slot".into())
}

fn padded_label(l: &str) -> [u8; 32] {
    let mut out = [b' '; 32];
    let n = l.len().min(32);
    out[..n].copy_from_slice(&l.as_bytes()[..n]);
    out
}

enum Presence {
    Absent,
    /// The same object (same identity and public values).
    Same,
    /// Another object with the same class, key type, CKA_ID and label.
    Conflict,
}

/// Is this object already in the FerroHSM token? Found by class, key type,
/// CKA_ID and label, then told apart by the values that identify it and
/// can be read (public key values, check values, certificate and data
/// values).
fn presence(m: &Module, h: u64, t: &Template) -> Result<Presence, String> {
    use ferrohsm::token::objects::AttrOut;
    let keep =
        [ck::CKA_CLASS, ck::CKA_KEY_TYPE, ck::CKA_CERTIFICATE_TYPE, ck::CKA_ID, ck::CKA_LABEL, ck::CKA_APPLICATION];
    let probe = Template::new(t.iter().filter(|a| keep.contains(&a.atype)).cloned().collect());
    m.objects().find_init(h, &probe).map_err(|e| e.to_string())?;
    let hits = m.objects().find_next(h, 64).map_err(|e| e.to_string());
    let _ = m.objects().find_final(h);
    let hits = hits?;
    let identity = [
        ck::CKA_MODULUS,
        ck::CKA_PUBLIC_EXPONENT,
        ck::CKA_EC_POINT,
        ck::CKA_EC_PARAMS,
        ck::CKA_CHECK_VALUE,
        ck::CKA_VALUE,
        ck::CKA_OBJECT_ID,
    ];
    let wanted: Vec<&Attribute> = t.iter().filter(|a| identity.contains(&a.atype)).collect();
    for o in &hits {
        let types: Vec<u64> = wanted.iter().map(|a| a.atype).collect();
        let got = m.objects().get_attributes(h, *o, &types).map_err(|e| e.to_string())?;
        let same = wanted.iter().zip(&got).all(|(w, g)| match g {
            AttrOut::Value(v) => *v == w.value,
            // A secret value cannot be compared; the rest decides.
            AttrOut::Sensitive => true,
            AttrOut::Invalid => false,
        });
        if same {
            return Ok(Presence::Same);
        }
    }
    Ok(if hits.is_empty() { Presence::Absent } else { Presence::Conflict })
}

fn migrate_token(m: &Module, a: &Migrate, t: &SToken, pin: &[u8]) -> Result<(), String> {
    println!(
        "SoftHSM token {:?} (serial {}, {} backend, {}): {} object(s)",
        t.label,
        t.serial,
        t.backend,
        t.dir.display(),
        t.objects.len()
    );
    if !t.has_user_pin() {
        return Err("the SoftHSM token has no user PIN".into());
    }
    let key = t.open_user(pin).ok_or("the user PIN does not open the SoftHSM token")?;
    let mut ready = Vec::new();
    let mut failed = Vec::new();
    for o in &t.objects {
        let mut notes = Vec::new();
        let r = key.open(o).and_then(|plain| {
            let d = describe(&plain);
            convert(&plain, &mut notes).map(|tmpl| (d, tmpl)).map_err(|e| format!("{}: {e}", describe(&plain)))
        });
        match r {
            Ok((d, tmpl)) => ready.push((d, tmpl, notes)),
            Err(e) => failed.push(format!("{} ({})", e, o.name)),
        }
    }
    for f in &failed {
        println!("  cannot migrate: {f}");
    }
    if !failed.is_empty() && !a.allow_partial {
        return Err(format!(
            "{} object(s) cannot be migrated; nothing written (use --allow-partial to migrate the rest)",
            failed.len()
        ));
    }
    let existing = target_slot(m, &t.label)?;
    let so_pin = match existing {
        Some(_) => None,
        None => {
            let so = match common::pin_from(&a.so_pin.source())? {
                Some(p) => p,
                None => common::prompt_pin("SO PIN", false)?
                    .ok_or("no FerroHSM token with this label yet: its SO PIN is needed (--so-pin-fd N, --so-pin-env VAR or FERROHSM_SO_PIN)")?,
            };
            if !t.check_so(so.as_bytes()) {
                return Err("the SO PIN does not match the SoftHSM token's".into());
            }
            Some(so)
        }
    };
    if a.dry_run {
        for (d, _, notes) in &ready {
            println!("  would migrate: {d}");
            for n in notes {
                println!("    note: {n}");
            }
        }
        println!("dry run: nothing written");
        return Ok(());
    }
    let (slot, created) = match existing {
        Some(s) => (s, false),
        None => {
            let s = free_slot(m)?;
            let so = so_pin.as_ref().map(|p| p.as_bytes()).unwrap_or_default();
            let kept = m
                .slots()
                .init_token_with_serial(s, so, &padded_label(&t.label), &t.serial)
                .map_err(|e| format!("creating the FerroHSM token: {e}"))?;
            if !kept {
                println!("  note: serial {} is taken here; the new token has its own", t.serial);
            }
            let h =
                m.sessions().open_session(s, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION).map_err(|e| e.to_string())?;
            let r = m.slots().login(h, ck::CKU_SO, so).and_then(|()| m.slots().init_pin(h, pin));
            let _ = m.sessions().close_session(h);
            if let Err(e) = r {
                let _ = m.slots().delete_token(s);
                return Err(format!("setting the user PIN of the new FerroHSM token: {e}"));
            }
            println!("  created FerroHSM token {:?} in slot {s}", t.label);
            (s, true)
        }
    };
    let result = import_into(m, slot, pin, ready, a.allow_partial);
    match result {
        Ok(c) => {
            println!(
                "FerroHSM token {:?} in slot {slot}: {} migrated, {} already present, {} not migrated",
                t.label,
                c.done,
                c.skipped,
                failed.len() + c.conflicts
            );
            Ok(())
        }
        Err(e) => {
            if created {
                let _ = m.slots().delete_token(slot);
            }
            Err(format!("{e}; nothing written"))
        }
    }
}

type Ready = Vec<(String, Template, Vec<String>)>;

fn import_into(m: &Module, slot: u64, pin: &[u8], ready: Ready, allow_partial: bool) -> Result<Counts, String> {
    let h = m.sessions().open_session(slot, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION).map_err(|e| e.to_string())?;
    let r = (|| {
        m.slots().login(h, ck::CKU_USER, pin).map_err(|e| format!("login to the FerroHSM token: {e}"))?;
        let mut new = Vec::new();
        let (mut skipped, mut conflicts) = (0, 0);
        for (d, tmpl, notes) in ready {
            match presence(m, h, &tmpl)? {
                Presence::Same => {
                    println!("  already present: {d}");
                    skipped += 1;
                    continue;
                }
                Presence::Conflict => {
                    println!(
                        "  cannot migrate: {d}: another object with this class, id and label is in the FerroHSM token"
                    );
                    conflicts += 1;
                    continue;
                }
                Presence::Absent => {}
            }
            println!("  migrating: {d}");
            for n in notes {
                println!("    note: {n}");
            }
            new.push(tmpl);
        }
        if conflicts > 0 && !allow_partial {
            return Err(format!(
                "{conflicts} object(s) conflict with objects already there (use --allow-partial to migrate the rest)"
            ));
        }
        m.slots().import_migrated(h, &new).map_err(|e| format!("storing the objects: {e}"))?;
        Ok(Counts { done: new.len(), skipped, conflicts })
    })();
    let _ = m.sessions().close_session(h);
    r
}

struct Counts {
    done: usize,
    skipped: usize,
    conflicts: usize,
}
