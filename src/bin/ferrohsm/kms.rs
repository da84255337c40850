//! KMS commands: master keys, aliases, encrypt/decrypt/re-encrypt, data
//! keys and the audit log. They call the same core functions as the
//! "FerroHSM KMS" PKCS#11 interface.

use std::io::{Read, Write};

use ferrohsm::model::{Attribute, Template, Value};
use ferrohsm::token::crypto::Produced;
use ferrohsm::token::{Module, SessionHandle};
use ferrohsm::vendor::*;

use crate::cli::{AliasCmd, AuditCmd, Command, KeyArg, KeyCmd, Login};
use crate::common::{self, CliResult};

/// Runs a KMS command (clap has checked its arguments): 0 done, 1 failed.
pub fn run(cmd: Command) -> i32 {
    match dispatch(cmd) {
        Ok(()) => 0,
        Err(Failure(e)) => {
            eprintln!("ferrohsm: {e}");
            1
        }
    }
}

/// A failed operation, said for a person.
struct Failure(String);

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure(s)
    }
}

impl From<ferrohsm::error::Error> for Failure {
    fn from(e: ferrohsm::error::Error) -> Failure {
        use ferrohsm::error::Error as E;
        let why = match &e {
            E::EncryptedDataInvalid => {
                "cannot decrypt: wrong encryption context, or the ciphertext is not a KMS ciphertext or was altered"
            }
            E::KmsKeyDisabled => "the key is disabled",
            E::KmsKeyPendingDeletion => "the key is pending deletion",
            E::KmsNotFound => "no such key or alias",
            E::KmsAliasExists => "an alias by that name exists",
            E::KeyFunctionNotPermitted => "the key's usage does not allow this",
            E::DataLenRange => "too much data (at most 4096 bytes)",
            E::PinIncorrect => "wrong PIN",
            E::UserNotLoggedIn => "not logged in",
            _ => "",
        };
        Failure(if why.is_empty() { e.to_string() } else { format!("{why} ({e})") })
    }
}

fn read_input(path: Option<&str>) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    match path {
        Some(p) if p != "-" => buf = std::fs::read(p).map_err(|e| format!("{p}: {e}"))?,
        _ => {
            std::io::stdin().read_to_end(&mut buf).map_err(|e| e.to_string())?;
        }
    }
    Ok(buf)
}

fn write_output(path: Option<&str>, data: &[u8]) -> CliResult<()> {
    match path {
        Some(p) if p != "-" => write_private(p, data),
        _ => std::io::stdout().write_all(data).map_err(|e| e.to_string()),
    }
}

/// Creates (or truncates) a file readable by its owner only.
fn write_private(path: &str, data: &[u8]) -> CliResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    f.write_all(data).map_err(|e| format!("{path}: {e}"))
}

fn bytes_of(p: Produced) -> Vec<u8> {
    match &p {
        Produced::Data(d) => d.to_vec(),
        Produced::Public(d) => d.clone(),
        Produced::Length(_) | Produced::TooSmall(_) | Produced::Written(_) => Vec::new(),
    }
}

fn session(m: &Module, l: &Login) -> CliResult<SessionHandle> {
    common::user_session(m, l.token.as_deref(), &l.pin.source())
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn dispatch(cmd: Command) -> Result<(), Failure> {
    if let Command::Audit(AuditCmd::VerifyExport { file }) = &cmd {
        return verify_export(file);
    }
    let m = common::module()?;
    match cmd {
        Command::Key(k) => key(&m, k),
        Command::Alias(a) => alias(&m, a),
        Command::Encrypt(a) => {
            let data = read_input(a.io.input.as_deref())?;
            let h = session(&m, &a.login)?;
            let out = m.kms().encrypt(h, &a.key, &a.context, a.store_context, &data, Some(usize::MAX))?;
            write_output(a.io.out.as_deref(), &bytes_of(out))?;
            Ok(())
        }
        Command::Decrypt(a) => {
            let data = read_input(a.io.input.as_deref())?;
            let h = session(&m, &a.login)?;
            let out = zeroize::Zeroizing::new(bytes_of(m.kms().decrypt(h, &a.context, &data, Some(usize::MAX))?));
            write_output(a.io.out.as_deref(), &out)?;
            Ok(())
        }
        Command::ReEncrypt(a) => {
            let data = read_input(a.io.input.as_deref())?;
            let h = session(&m, &a.login)?;
            let (src, dst) = (&a.context, &a.dest_context);
            let out = m.kms().re_encrypt(h, &data, src, &a.key, dst, a.store_context, Some(usize::MAX))?;
            write_output(a.io.out.as_deref(), &bytes_of(out))?;
            Ok(())
        }
        Command::DataKey(a) => data_key(&m, &a),
        Command::Audit(a) => audit(&m, a),
        // main.rs sends only the KMS commands here.
        _ => Err(Failure("not a KMS command".into())),
    }
}

fn key(m: &Module, cmd: KeyCmd) -> Result<(), Failure> {
    match cmd {
        KeyCmd::Create { label, description, usage, rotation_days, alias, login } => {
            let h = session(m, &login)?;
            let mut attrs = Vec::new();
            if let Some(l) = label {
                attrs.push(Attribute { atype: cryptoki_sys::CKA_LABEL, value: Value::bytes(l.as_bytes()) });
            }
            if let Some(d) = description {
                attrs.push(Attribute { atype: CKA_FHSM_DESCRIPTION, value: Value::bytes(d.as_bytes()) });
            }
            // clap lets only the three values through.
            let (enc, dec) = match usage.as_str() {
                "encrypt-only" => (true, false),
                "decrypt-only" => (false, true),
                _ => (true, true),
            };
            attrs.push(Attribute { atype: cryptoki_sys::CKA_ENCRYPT, value: Value::Bool(enc) });
            attrs.push(Attribute { atype: cryptoki_sys::CKA_DECRYPT, value: Value::Bool(dec) });
            if let Some(d) = rotation_days {
                attrs.push(Attribute { atype: CKA_FHSM_ROTATION_PERIOD, value: Value::Ulong(d) });
            }
            let id = m.kms().create_key(h, Template::new(attrs))?;
            if let Some(alias) = alias {
                m.kms().create_alias(h, &alias, &id)?;
            }
            println!("{id}");
        }
        KeyCmd::List { json, login } => {
            let h = session(m, &login)?;
            let keys = m.kms().list(h)?;
            if json {
                print_json(&serde_json::Value::Array(keys));
            } else {
                for k in keys {
                    println!(
                        "{}  {:<15} v{:<3} {}  {}",
                        k["KeyId"].as_str().unwrap_or(""),
                        k["KeyState"].as_str().unwrap_or(""),
                        k["CurrentVersion"],
                        k["KeyUsage"].as_str().unwrap_or(""),
                        k["Label"].as_str().unwrap_or("")
                    );
                }
            }
        }
        KeyCmd::Describe { key, json } => {
            let h = session(m, &key.login)?;
            let d = m.kms().describe(h, &key.key)?;
            if json {
                print_json(&d);
            } else {
                describe_text(&d);
            }
        }
        KeyCmd::Rotate(k) => {
            let h = session(m, &k.login)?;
            let v = m.kms().rotate(h, &k.key)?;
            println!("rotated: now at version {v}");
        }
        KeyCmd::Rotation { key, enable: _, days, off } => {
            // clap lets exactly one of --enable, --days, --off through.
            let days = match (days, off) {
                (Some(d), _) => d,
                (None, true) => 0,
                (None, false) => ferrohsm::token::kms::DEFAULT_ROTATION_DAYS,
            };
            let h = session(m, &key.login)?;
            m.kms().set_rotation(h, &key.key, days)?;
        }
        KeyCmd::Enable(k) => set_enabled(m, &k, true)?,
        KeyCmd::Disable(k) => set_enabled(m, &k, false)?,
        KeyCmd::ScheduleDeletion { key, days } => {
            let h = session(m, &key.login)?;
            let when = m.kms().schedule_deletion(h, &key.key, days)?;
            println!("pending deletion: purged after {}", ferrohsm::token::clock::iso8601(when));
        }
        KeyCmd::CancelDeletion(k) => {
            let h = session(m, &k.login)?;
            m.kms().cancel_deletion(h, &k.key)?;
            println!("deletion cancelled: the key is disabled");
        }
        KeyCmd::Purge { key, login } => {
            let h = common::login(m, login.token.as_deref(), cryptoki_sys::CKU_SO, &login.so_pin.source())?;
            m.kms().purge(h, &key)?;
            println!("purged");
        }
    }
    Ok(())
}

fn set_enabled(m: &Module, k: &KeyArg, enabled: bool) -> Result<(), Failure> {
    let h = session(m, &k.login)?;
    m.kms().set_enabled(h, &k.key, enabled)?;
    Ok(())
}

fn alias(m: &Module, cmd: AliasCmd) -> Result<(), Failure> {
    match cmd {
        AliasCmd::Create(a) => {
            let h = session(m, &a.login)?;
            m.kms().create_alias(h, &a.name, &a.key)?;
        }
        AliasCmd::Update(a) => {
            let h = session(m, &a.login)?;
            m.kms().update_alias(h, &a.name, &a.key)?;
        }
        AliasCmd::Delete { name, login } => {
            let h = session(m, &login)?;
            m.kms().delete_alias(h, &name)?;
        }
        AliasCmd::List { json, login } => {
            let h = session(m, &login)?;
            let list = m.kms().aliases(h)?;
            if json {
                let v = list.iter().map(|(n, t)| serde_json::json!({"AliasName": n, "TargetKeyId": t})).collect();
                print_json(&serde_json::Value::Array(v));
            } else {
                for (n, t) in list {
                    println!("{n}  {t}");
                }
            }
        }
    }
    Ok(())
}

fn data_key(m: &Module, a: &crate::cli::DataKey) -> Result<(), Failure> {
    let keys: Vec<&str> = a.key.iter().map(String::as_str).collect();
    let h = session(m, &a.login)?;
    let dk = m.kms().generate_data_key(h, &keys, a.bytes, &a.context, a.store_context, a.without_plaintext)?;
    write_private(&a.blob_out, &dk.blob)?;
    if let Some(p) = dk.plaintext {
        match &a.plaintext_out {
            Some(path) => write_private(path, &p)?,
            None => println!("{}", ferrohsm::hex::hex(&p)),
        }
    }
    Ok(())
}

fn audit(m: &Module, cmd: AuditCmd) -> Result<(), Failure> {
    match cmd {
        AuditCmd::Verify { require_anchor, login } => audit_verify(m, &login, require_anchor),
        // The export needs no login: it reads the (public) log only.
        AuditCmd::Export { until, out, login: _ } => audit_export(m, until, out.as_deref()),
        AuditCmd::Prune { until, export, login } => {
            let export = match export {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                    Some(ferrohsm::token::verify_export(&text).map_err(audit_failure)?)
                }
                None => None,
            };
            let h = session(m, &login)?;
            match m.audit().prune(h, until, export.as_ref()).map_err(audit_failure)? {
                Some(seq) => println!("pruned: batches up to {seq}; the log now starts after batch {seq}"),
                None => println!("nothing to prune: no exported batch before that date (audit export first)"),
            }
            Ok(())
        }
        AuditCmd::Show { since, key, json, login } => audit_show(m, since.unwrap_or(0), key, json, &login),
        AuditCmd::VerifyExport { file } => verify_export(&file),
    }
}

fn audit_failure(e: ferrohsm::error::Error) -> Failure {
    match e {
        ferrohsm::error::Error::AuditInvalid(why) => Failure(format!("audit log INVALID: {why}")),
        e => e.into(),
    }
}

/// Verifies the trail and says exactly what was proven. With a PIN (the
/// usual options, never a prompt) the user logs in first, so that the
/// checkpoints of that token get their MACs checked.
fn audit_verify(m: &Module, login: &Login, require_anchor: bool) -> Result<(), Failure> {
    use ferrohsm::token::{clock, Anchored};
    let pin = common::pin_from(&login.pin.source())?;
    // Why a MAC could not be checked.
    let unchecked = if pin.is_some() { "its token is not logged in" } else { "no login" };
    if let Some(pin) = pin {
        let slot = common::slot_of(m, login.token.as_deref())?;
        let h = m.sessions().open_session(slot, cryptoki_sys::CKF_SERIAL_SESSION)?;
        m.slots().login(h, cryptoki_sys::CKU_USER, pin.as_bytes()).map_err(|e| format!("login: {e}"))?;
    }
    let s = m.audit().verify().map_err(audit_failure)?;
    println!("audit log intact: {} records ({} events and uses) in {} batches", s.records, s.events, s.batches);
    if let (Some((f, ft)), Some((l, lt))) = (s.first, s.last) {
        println!("batches {f} ({}) to {l} ({})", clock::iso8601(ft), clock::iso8601(lt));
    }
    if let Some((seq, checked)) = s.pruned {
        let how = if checked { "its MAC verified".to_string() } else { format!("its MAC not verified ({unchecked})") };
        println!("pruned: batches up to {seq} were exported and removed; the chain starts after it, {how}");
    }
    match s.newest_checkpoint {
        None => println!("checkpoints: none (written only while a token is logged in)"),
        Some((seq, t)) => {
            let age = clock::now().saturating_sub(t);
            let mac = match s.checkpoints_verified {
                0 => format!("present, not verified ({unchecked})"),
                n if n == s.checkpoints => format!("all {n} MAC-verified"),
                n => format!("{n} of {} MAC-verified (the others are of tokens not logged in)", s.checkpoints),
            };
            println!("checkpoints: {}, newest at batch {seq}, {age} s old; {mac}", s.checkpoints);
        }
    }
    let anchored = match s.anchor {
        _ if s.end == 0 => {
            println!("anchor: the log is empty and no anchor names a batch");
            true
        }
        Anchored::Entries { first, last } => {
            // What was stored before the sidecar began (an older store, or
            // a sidecar deleted and begun anew) it cannot vouch for.
            let stored = s.first.map_or(s.end, |(f, _)| f);
            if first > stored.max(1) {
                println!("note: the sidecar begins at batch {first}; it cannot vouch for batches before it");
            }
            if last == s.end {
                println!("anchor: the sidecar anchors the tail (batch {last})");
            } else {
                println!(
                    "anchor: the sidecar anchors batch {last} of {}: the last {} are not anchored",
                    s.end,
                    s.end - last
                );
            }
            last == s.end
        }
        Anchored::Missing => {
            println!("WARNING: no audit sidecar (or it names no batch): cannot prove the log's tail was not cut off");
            false
        }
        Anchored::Off => {
            println!("WARNING: no audit sidecar configured: cannot prove the log's tail was not cut off");
            false
        }
    };
    if require_anchor && !anchored {
        return Err(Failure(
            "audit log not anchored: --require-anchor needs the sidecar to name the last batch".into(),
        ));
    }
    Ok(())
}

fn audit_export(m: &Module, until: u64, out: Option<&str>) -> Result<(), Failure> {
    let Some(x) = m.audit().export(until).map_err(audit_failure)? else {
        return Err(Failure("nothing to export: no stored batch lies wholly before that date".into()));
    };
    match out {
        // Synced before the store learns of it: pruning may then delete
        // what the file holds.
        Some(path) if path != "-" => {
            write_private(path, x.text.as_bytes())?;
            std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| format!("{path}: {e}"))?;
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(x.text.as_bytes()).and_then(|()| out.flush()).map_err(|e| e.to_string())?;
        }
    }
    m.audit().exported(&x.proof)?;
    let p = x.proof;
    eprintln!("exported batches {} to {} ({} records)", p.first_seq, p.last_seq, p.records);
    Ok(())
}

fn verify_export(path: &str) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let p = ferrohsm::token::verify_export(&text).map_err(audit_failure)?;
    println!(
        "export intact: batches {} to {}, {} records; starts after hash {}, ends at hash {}",
        p.first_seq,
        p.last_seq,
        p.records,
        ferrohsm::hex::hex(&p.prev_hash),
        ferrohsm::hex::hex(&p.last_hash)
    );
    Ok(())
}

fn audit_show(m: &Module, since: u64, key: Option<String>, json: bool, login: &Login) -> Result<(), Failure> {
    let key = match key {
        Some(k) if k.starts_with("alias/") => {
            let h = session(m, login)?;
            Some(m.kms().describe(h, &k)?["KeyId"].as_str().unwrap_or_default().to_string())
        }
        Some(k) => Some(k),
        None => None,
    };
    let records = m.audit().records(since, key.as_deref())?;
    if json {
        print_json(&serde_json::Value::Array(records));
        return Ok(());
    }
    for r in records {
        println!(
            "{}  pid {:<7} {:<18} {:<32} v{:<3} rv {:<6} x{:<5} {}",
            ferrohsm::token::clock::iso8601(r["time"].as_u64().unwrap_or(0)),
            r["pid"],
            r["event"].as_str().unwrap_or(""),
            r["key"].as_str().unwrap_or(""),
            r["version"],
            r["rv"].as_str().unwrap_or(""),
            r["count"].as_u64().unwrap_or(1),
            r["detail"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

fn describe_text(d: &serde_json::Value) {
    let Some(obj) = d.as_object() else { return };
    for (k, v) in obj {
        match v {
            serde_json::Value::Array(items) if k == "Versions" => {
                println!("{k}:");
                for i in items {
                    println!(
                        "  v{}  created {}{}",
                        i["Version"],
                        i["CreationDate"].as_str().unwrap_or(""),
                        if i["Current"] == true { "  (current)" } else { "" }
                    );
                }
            }
            serde_json::Value::String(s) => println!("{k}: {s}"),
            serde_json::Value::Null => println!("{k}: -"),
            other => println!("{k}: {other}"),
        }
    }
}
