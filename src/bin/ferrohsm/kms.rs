//! KMS commands: master keys, aliases, encrypt/decrypt/re-encrypt, data
//! keys and the audit log. They call the same core functions as the
//! "FerroHSM KMS" PKCS#11 interface.

use std::io::{Read, Write};

use ferrohsm::model::{Attribute, Template, Value};
use ferrohsm::token::crypto::Produced;
use ferrohsm::token::{Module, SessionHandle};
use ferrohsm::vendor::*;

use crate::common::{self, Args, CliResult};

const USAGE: &str = "usage:
  ferrohsm key create [--label L] [--description D] [--usage encrypt-decrypt|encrypt-only|decrypt-only]
                      [--rotation-days N] [--alias alias/NAME]
  ferrohsm key list [--json]
  ferrohsm key describe KEY [--json]
  ferrohsm key rotate KEY
  ferrohsm key rotation KEY (--enable | --days 90..2560 | --off)      (--enable: 365 days)
  ferrohsm key enable KEY | disable KEY
  ferrohsm key schedule-deletion KEY [--days 7..30]
  ferrohsm key cancel-deletion KEY
  ferrohsm key purge KEY                          (SO PIN)
  ferrohsm alias create NAME KEY | update NAME KEY | delete NAME | list [--json]
  ferrohsm encrypt --key KEY [--context k=v]... [--store-context] [--in FILE] [--out FILE]
  ferrohsm decrypt [--context k=v]... [--in FILE] [--out FILE]
  ferrohsm re-encrypt --key KEY [--context k=v]... [--dest-context k=v]... [--in FILE] [--out FILE]
  ferrohsm data-key --key KEY [--key KEY]... [--bytes N] [--context k=v]... [--without-plaintext]
                    --blob-out FILE [--plaintext-out FILE]
  ferrohsm audit show [--since DATE|SECONDS] [--key KEY] [--json]
  ferrohsm audit verify [--require-anchor]        (with a PIN: checkpoint MACs too; see docs/audit.md)
  ferrohsm audit export --until DATE [--out FILE]   (batches before DATE, with a proof line)
  ferrohsm audit verify-export FILE               (offline, no store)
  ferrohsm audit prune --until DATE [--export FILE] (exported batches only, and none past FILE; user PIN)
KEY is a key id (CKA_UNIQUE_ID) or alias/NAME. Every command takes --token LABEL and the
user PIN from --pin-fd N, --pin-env VAR or FERROHSM_USER_PIN (purge: --so-pin-fd/--so-pin-env
or FERROHSM_SO_PIN). --in/--out default to standard input/output.";

const VALUE_FLAGS: &[&str] = &[
    "token",
    "pin",
    "pin-fd",
    "pin-env",
    "so-pin",
    "so-pin-fd",
    "so-pin-env",
    "label",
    "description",
    "usage",
    "rotation-days",
    "alias",
    "days",
    "key",
    "context",
    "dest-context",
    "in",
    "out",
    "bytes",
    "blob-out",
    "plaintext-out",
    "since",
    "until",
    "export",
];

pub fn run(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return 0;
    }
    let parsed = match Args::parse(&args[1..], VALUE_FLAGS) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ferrohsm: {e}\n{USAGE}");
            return 2;
        }
    };
    match dispatch(&args[0], &parsed) {
        Ok(()) => 0,
        Err(Failure::Usage(e)) => {
            eprintln!("ferrohsm: {e}\n{USAGE}");
            2
        }
        Err(Failure::Failed(e)) => {
            eprintln!("ferrohsm: {e}");
            1
        }
    }
}

enum Failure {
    Usage(String),
    Failed(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Failed(s)
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
        Failure::Failed(if why.is_empty() { e.to_string() } else { format!("{why} ({e})") })
    }
}

fn usage<T>(msg: &str) -> Result<T, Failure> {
    Err(Failure::Usage(msg.to_string()))
}

fn pos<'a>(a: &'a Args, i: usize, what: &str) -> Result<&'a str, Failure> {
    a.positional.get(i).map(String::as_str).ok_or_else(|| Failure::Usage(format!("missing {what}")))
}

fn context(a: &Args, flag: &str) -> Result<ferrohsm::token::kms::ContextPairs, Failure> {
    a.all(flag)
        .into_iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').ok_or_else(|| Failure::Usage(format!("--{flag} wants key=value")))?;
            Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        })
        .collect()
}

fn read_input(a: &Args) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    match a.get("in") {
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

fn session(m: &Module, a: &Args) -> CliResult<SessionHandle> {
    common::user_session(m, a)
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn dispatch(cmd: &str, a: &Args) -> Result<(), Failure> {
    let sub = a.positional.first().map(String::as_str).unwrap_or("");
    if (cmd, sub) == ("audit", "verify-export") {
        return verify_export(a);
    }
    let m = common::module()?;
    match (cmd, sub) {
        ("key", "create") => key_create(&m, a),
        ("key", "list") => {
            let h = session(&m, a)?;
            let keys = m.kms_list(h)?;
            if a.has("json") {
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
            Ok(())
        }
        ("key", "describe") => {
            let h = session(&m, a)?;
            let d = m.kms_describe(h, pos(a, 1, "KEY")?)?;
            if a.has("json") {
                print_json(&d);
            } else {
                describe_text(&d);
            }
            Ok(())
        }
        ("key", "rotate") => {
            let h = session(&m, a)?;
            let v = m.kms_rotate(h, pos(a, 1, "KEY")?)?;
            println!("rotated: now at version {v}");
            Ok(())
        }
        ("key", "rotation") => {
            let h = session(&m, a)?;
            let days = match (a.get("days"), a.has("off"), a.has("enable")) {
                (Some(d), false, _) => d.parse().map_err(|_| Failure::Usage("--days wants a number".into()))?,
                (None, false, true) => ferrohsm::token::kms::DEFAULT_ROTATION_DAYS,
                (None, true, false) => 0,
                _ => return usage("give --enable (365 days), --days N or --off"),
            };
            m.kms_set_rotation(h, pos(a, 1, "KEY")?, days)?;
            Ok(())
        }
        ("key", "enable") | ("key", "disable") => {
            let h = session(&m, a)?;
            m.kms_set_enabled(h, pos(a, 1, "KEY")?, sub == "enable")?;
            Ok(())
        }
        ("key", "schedule-deletion") => {
            let h = session(&m, a)?;
            let days = a
                .get("days")
                .map_or(Ok(ferrohsm::token::kms::DEFAULT_DELETION_DAYS), |d| d.parse())
                .map_err(|_| Failure::Usage("--days wants a number".into()))?;
            let when = m.kms_schedule_deletion(h, pos(a, 1, "KEY")?, days)?;
            println!("pending deletion: purged after {}", ferrohsm::token::clock::iso8601(when));
            Ok(())
        }
        ("key", "cancel-deletion") => {
            let h = session(&m, a)?;
            m.kms_cancel_deletion(h, pos(a, 1, "KEY")?)?;
            println!("deletion cancelled: the key is disabled");
            Ok(())
        }
        ("key", "purge") => {
            let slot = common::slot_of(&m, a.get("token"))?;
            let h = m.open_session(slot, cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION)?;
            let pin = common::so_pin(a)?;
            m.login(h, cryptoki_sys::CKU_SO, pin.as_bytes()).map_err(|e| format!("SO login: {e}"))?;
            m.kms_purge(h, pos(a, 1, "KEY")?)?;
            println!("purged");
            Ok(())
        }
        ("alias", "create") | ("alias", "update") => {
            let h = session(&m, a)?;
            let (name, key) = (pos(a, 1, "NAME")?, pos(a, 2, "KEY")?);
            if sub == "create" {
                m.kms_create_alias(h, name, key)?;
            } else {
                m.kms_update_alias(h, name, key)?;
            }
            Ok(())
        }
        ("alias", "delete") => {
            let h = session(&m, a)?;
            m.kms_delete_alias(h, pos(a, 1, "NAME")?)?;
            Ok(())
        }
        ("alias", "list") => {
            let h = session(&m, a)?;
            let list = m.kms_aliases(h)?;
            if a.has("json") {
                let v = list.iter().map(|(n, t)| serde_json::json!({"AliasName": n, "TargetKeyId": t})).collect();
                print_json(&serde_json::Value::Array(v));
            } else {
                for (n, t) in list {
                    println!("{n}  {t}");
                }
            }
            Ok(())
        }
        ("encrypt", _) => {
            let key = a.get("key").ok_or_else(|| Failure::Usage("--key is required".into()))?;
            let ctx = context(a, "context")?;
            let data = read_input(a)?;
            let h = session(&m, a)?;
            let out = m.kms_encrypt(h, key, &ctx, a.has("store-context"), &data, Some(usize::MAX))?;
            write_output(a.get("out"), &bytes_of(out))?;
            Ok(())
        }
        ("decrypt", _) => {
            let ctx = context(a, "context")?;
            let data = read_input(a)?;
            let h = session(&m, a)?;
            let out = zeroize::Zeroizing::new(bytes_of(m.kms_decrypt(h, &ctx, &data, Some(usize::MAX))?));
            write_output(a.get("out"), &out)?;
            Ok(())
        }
        ("re-encrypt", _) => {
            let key = a.get("key").ok_or_else(|| Failure::Usage("--key is required".into()))?;
            let (src, dst) = (context(a, "context")?, context(a, "dest-context")?);
            let data = read_input(a)?;
            let h = session(&m, a)?;
            let out = m.kms_re_encrypt(h, &data, &src, key, &dst, a.has("store-context"), Some(usize::MAX))?;
            write_output(a.get("out"), &bytes_of(out))?;
            Ok(())
        }
        ("data-key", _) => data_key(&m, a),
        ("audit", "verify") => audit_verify(&m, a),
        ("audit", "export") => audit_export(&m, a),
        ("audit", "prune") => {
            let until = date(a, "until")?;
            let export = match a.get("export") {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                    Some(ferrohsm::token::verify_export(&text).map_err(audit_failure)?)
                }
                None => None,
            };
            let h = session(&m, a)?;
            match m.audit_prune(h, until, export.as_ref()).map_err(audit_failure)? {
                Some(seq) => println!("pruned: batches up to {seq}; the log now starts after batch {seq}"),
                None => println!("nothing to prune: no exported batch before that date (audit export first)"),
            }
            Ok(())
        }
        ("audit", "show") => audit_show(&m, a),
        _ => usage(&format!("unknown command {cmd} {sub}")),
    }
}

fn key_create(m: &Module, a: &Args) -> Result<(), Failure> {
    let h = session(m, a)?;
    let mut attrs = Vec::new();
    if let Some(l) = a.get("label") {
        attrs.push(Attribute { atype: cryptoki_sys::CKA_LABEL, value: Value::bytes(l.as_bytes()) });
    }
    if let Some(d) = a.get("description") {
        attrs.push(Attribute { atype: CKA_FHSM_DESCRIPTION, value: Value::bytes(d.as_bytes()) });
    }
    let (enc, dec) = match a.get("usage").unwrap_or("encrypt-decrypt") {
        "encrypt-decrypt" => (true, true),
        "encrypt-only" => (true, false),
        "decrypt-only" => (false, true),
        _ => return usage("--usage is encrypt-decrypt, encrypt-only or decrypt-only"),
    };
    attrs.push(Attribute { atype: cryptoki_sys::CKA_ENCRYPT, value: Value::Bool(enc) });
    attrs.push(Attribute { atype: cryptoki_sys::CKA_DECRYPT, value: Value::Bool(dec) });
    if let Some(d) = a.get("rotation-days") {
        let d: u64 = d.parse().map_err(|_| Failure::Usage("--rotation-days wants a number".into()))?;
        attrs.push(Attribute { atype: CKA_FHSM_ROTATION_PERIOD, value: Value::Ulong(d) });
    }
    let id = m.kms_create_key(h, Template::new(attrs))?;
    if let Some(alias) = a.get("alias") {
        m.kms_create_alias(h, alias, &id)?;
    }
    println!("{id}");
    Ok(())
}

fn data_key(m: &Module, a: &Args) -> Result<(), Failure> {
    let keys = a.all("key");
    if keys.is_empty() {
        return usage("--key is required");
    }
    let blob_out = a.get("blob-out").ok_or_else(|| Failure::Usage("--blob-out FILE is required".into()))?;
    let bytes: usize =
        a.get("bytes").unwrap_or("32").parse().map_err(|_| Failure::Usage("--bytes wants a number".into()))?;
    let without = a.has("without-plaintext");
    if without && a.get("plaintext-out").is_some() {
        return usage("--without-plaintext and --plaintext-out exclude each other");
    }
    let ctx = context(a, "context")?;
    let h = session(m, a)?;
    let dk = m.kms_generate_data_key(h, &keys, bytes, &ctx, a.has("store-context"), without)?;
    write_private(blob_out, &dk.blob)?;
    if let Some(p) = dk.plaintext {
        match a.get("plaintext-out") {
            Some(path) => write_private(path, &p)?,
            None => println!("{}", ferrohsm::hex::hex(&p)),
        }
    }
    Ok(())
}

/// A `--since`/`--until` date as Unix seconds.
fn date(a: &Args, flag: &str) -> Result<u64, Failure> {
    let v = a.get(flag).ok_or_else(|| Failure::Usage(format!("--{flag} DATE is required")))?;
    ferrohsm::token::clock::parse_time(v)
        .ok_or_else(|| Failure::Usage(format!("--{flag} wants YYYY-MM-DD[THH:MM:SSZ] or Unix seconds")))
}

fn audit_failure(e: ferrohsm::error::Error) -> Failure {
    match e {
        ferrohsm::error::Error::AuditInvalid(why) => Failure::Failed(format!("audit log INVALID: {why}")),
        e => e.into(),
    }
}

/// Verifies the trail and says exactly what was proven. With a PIN (the
/// usual options, never a prompt) the user logs in first, so that the
/// checkpoints of that token get their MACs checked.
fn audit_verify(m: &Module, a: &Args) -> Result<(), Failure> {
    use ferrohsm::token::{clock, Anchored};
    let pin = common::pin_from_args(a, "pin", "FERROHSM_USER_PIN")?;
    // Why a MAC could not be checked.
    let unchecked = if pin.is_some() { "its token is not logged in" } else { "no login" };
    if let Some(pin) = pin {
        let slot = common::slot_of(m, a.get("token"))?;
        let h = m.open_session(slot, cryptoki_sys::CKF_SERIAL_SESSION)?;
        m.login(h, cryptoki_sys::CKU_USER, pin.as_bytes()).map_err(|e| format!("login: {e}"))?;
    }
    let s = m.audit_verify().map_err(audit_failure)?;
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
    if a.has("require-anchor") && !anchored {
        return Err(Failure::Failed(
            "audit log not anchored: --require-anchor needs the sidecar to name the last batch".into(),
        ));
    }
    Ok(())
}

fn audit_export(m: &Module, a: &Args) -> Result<(), Failure> {
    let until = date(a, "until")?;
    let Some(x) = m.audit_export(until).map_err(audit_failure)? else {
        return Err(Failure::Failed("nothing to export: no stored batch lies wholly before that date".into()));
    };
    match a.get("out") {
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
    m.audit_exported(&x.proof)?;
    let p = x.proof;
    eprintln!("exported batches {} to {} ({} records)", p.first_seq, p.last_seq, p.records);
    Ok(())
}

fn verify_export(a: &Args) -> Result<(), Failure> {
    let path = pos(a, 1, "FILE")?;
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

fn audit_show(m: &Module, a: &Args) -> Result<(), Failure> {
    let since = if a.get("since").is_some() { date(a, "since")? } else { 0 };
    let key = match a.get("key") {
        Some(k) if k.starts_with("alias/") => {
            let h = session(m, a)?;
            Some(m.kms_describe(h, k)?["KeyId"].as_str().unwrap_or_default().to_string())
        }
        Some(k) => Some(k.to_string()),
        None => None,
    };
    let records = m.audit_records(since, key.as_deref())?;
    if a.has("json") {
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
