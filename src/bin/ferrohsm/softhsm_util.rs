//! The `softhsm2-util` front: SoftHSM's flags with the same meaning, its
//! messages and exit codes (0 done, 1 failed), over the FerroHSM store the
//! configuration names. Built into `ferrohsm softhsm2-util ...` and into the
//! `softhsm2-util` binary (softhsm-compat/softhsm2-util.rs).

use cryptoki_sys as ck;
use ferrohsm::error::Error;
use ferrohsm::mech::keys::Key;
use ferrohsm::model::{Attribute, Template, Value};
use ferrohsm::token::Module;
use zeroize::Zeroizing;

use crate::common::{self, Args};
use crate::pem;

const WITH_VALUE: &[&str] = &[
    "slot",
    "label",
    "pin",
    "so-pin",
    "pin-fd",
    "so-pin-fd",
    "pin-env",
    "so-pin-env",
    "token",
    "serial",
    "import",
    "import-type",
    "id",
    "file-pin",
    "module",
    "show-config",
];
const FLAGS: &[&str] =
    &["init-token", "show-slots", "delete-token", "free", "no-public-key", "aes", "force", "help", "version"];

/// softhsm2-util's version with ours appended, so that scripts comparing
/// versions still see the SoftHSM release this front follows.
const VERSION: &str = concat!("2.6.1-ferrohsm-", env!("CARGO_PKG_VERSION"));

pub fn run(argv: &[String]) -> i32 {
    if argv.is_empty() {
        usage();
        return 1;
    }
    let Ok(a) = Args::parse(argv, WITH_VALUE) else {
        usage();
        return 1;
    };
    // Like getopt in softhsm2-util 2.6.1: an unknown option prints the help
    // and the tool exits 0.
    for (name, _) in &a.flags {
        if !WITH_VALUE.contains(&name.as_str()) && !FLAGS.contains(&name.as_str()) {
            eprintln!("softhsm2-util: unrecognized option '--{name}'");
            usage();
            return 0;
        }
    }
    if let Some(p) = a.positional.first() {
        match p.as_str() {
            "-h" => {
                usage();
                return 0;
            }
            "-v" => {
                println!("{VERSION}");
                return 0;
            }
            other => {
                eprintln!("softhsm2-util: invalid argument '{other}'");
                usage();
                return 0;
            }
        }
    }
    if a.has("help") {
        usage();
        return 0;
    }
    if a.has("version") {
        println!("{VERSION}");
        return 0;
    }
    if let Some(var) = a.get("show-config") {
        return show_config(var);
    }
    if a.get("module").is_some() {
        eprintln!("ERROR: --module is not supported: this tool works on the FerroHSM store directly.");
        return 1;
    }
    let action = if a.has("init-token") {
        init_token
    } else if a.has("show-slots") {
        show_slots
    } else if a.has("delete-token") {
        delete_token
    } else if a.get("import").is_some() {
        import
    } else {
        usage();
        return 1;
    };
    let m = match common::module() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("ERROR: Could not initialize the library: {e}");
            eprintln!("ERROR: Please verify that the configuration is correct.");
            return 1;
        }
    };
    match action(&m, &a) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    }
}

type Done = Result<(), String>;

fn show_config(var: &str) -> i32 {
    if var != "default-pkcs11-lib" {
        eprintln!("ERROR: Invalid configuration key '{var}'");
        return 1;
    }
    // The module built beside this executable, else the usual install path.
    let beside = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("libferrohsm.so")));
    match beside.filter(|p| p.exists()) {
        Some(p) => println!("{}", p.display()),
        None => println!("/usr/lib/ferrohsm/libferrohsm.so"),
    }
    0
}

fn label_of(info: &ck::CK_TOKEN_INFO) -> String {
    String::from_utf8_lossy(&info.label).trim_end().to_string()
}

fn serial_of(info: &ck::CK_TOKEN_INFO) -> String {
    String::from_utf8_lossy(&info.serialNumber).trim_end().to_string()
}

fn initialized(info: &ck::CK_TOKEN_INFO) -> bool {
    info.flags & ck::CKF_TOKEN_INITIALIZED != 0
}

/// The slot named by --slot, --token / --serial or --free, announcing how
/// it was found the way softhsm2-util does.
fn find_slot(m: &Module, a: &Args, free_allowed: bool) -> Result<u64, String> {
    if let Some(s) = a.get("slot") {
        return s.parse::<u64>().map_err(|_| format!("ERROR: Invalid slot number: {s}"));
    }
    let slots = m.slots().slot_list().map_err(|e| e.to_string())?;
    let infos: Vec<(u64, ck::CK_TOKEN_INFO)> =
        slots.iter().filter_map(|&s| m.slots().token_info(s).ok().map(|i| (s, i))).collect();
    let (label, serial) = (a.get("token"), a.get("serial"));
    if label.is_some() || serial.is_some() {
        for (slot, info) in &infos {
            if !initialized(info) {
                continue;
            }
            let lm = label.is_none_or(|l| l == label_of(info));
            let sm = serial.is_none_or(|s| s == serial_of(info));
            if lm && sm {
                let how = match (label, serial) {
                    (Some(_), Some(_)) => "serial and token label",
                    (Some(_), None) => "token label",
                    _ => "serial",
                };
                println!("Found slot {slot} with matching {how}.");
                return Ok(*slot);
            }
        }
        return Err("ERROR: Could not find a slot/token using --serial, or --token".into());
    }
    if free_allowed && a.has("free") {
        if let Some((slot, _)) = infos.iter().find(|(_, i)| !initialized(i)) {
            println!("Slot {slot} has a free/uninitialized token.");
            return Ok(*slot);
        }
        return Err("ERROR: Could not find a free/uninitialized token.".into());
    }
    Err(if free_allowed {
        "ERROR: A slot/token must be supplied. Use --slot <number>, --serial <serial>, --token <label>, or --free"
    } else {
        "ERROR: A slot/token must be supplied. Use --slot <number>, --serial <serial> or --token <label>"
    }
    .into())
}

/// A PIN from the flags/environment, else asked twice on the terminal.
fn get_pin(m: &Module, a: &Args, so: bool, confirm: bool) -> Result<Zeroizing<String>, String> {
    let (flag, env, who) =
        if so { ("so-pin", "FERROHSM_SO_PIN", "SO PIN") } else { ("pin", "FERROHSM_USER_PIN", "user PIN") };
    if let Some(p) = common::pin_from_args(a, flag, env)? {
        return Ok(p);
    }
    let what = if so { "SO PIN" } else { "User PIN" };
    let (min, max) = (m.config.pin.min_len, m.config.pin.max_len);
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        println!("=== {what} ({min}-{max} characters) ===");
    }
    match common::prompt_pin(who, confirm) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(format!("ERROR: Could not get {who}")),
        Err(e) => Err(format!("ERROR: Could not get {who}: {e}")),
    }
}

fn rv_name(e: &Error) -> String {
    format!("rv=0x{:08X}", e.ck_rv())
}

fn init_token(m: &Module, a: &Args) -> Done {
    let slot = find_slot(m, a, true)?;
    let label = a.get("label").ok_or("ERROR: A label for the token must be supplied. Use --label <text>")?;
    if label.len() > 32 {
        return Err("ERROR: The token label must not have a length greater than 32 chars.".into());
    }
    let so_pin = get_pin(m, a, true, true)?;
    let user_pin = get_pin(m, a, false, true)?;
    let fresh = m.slots().token_info(slot).is_ok_and(|i| !initialized(&i));
    let mut padded = [b' '; 32];
    padded[..label.len()].copy_from_slice(label.as_bytes());
    match m.slots().init_token(slot, so_pin.as_bytes(), &padded) {
        Ok(()) => {}
        Err(Error::SlotIdInvalid) => return Err(format!("CKR_SLOT_ID_INVALID: Slot {slot} does not exist.")),
        Err(Error::PinIncorrect) => {
            return Err("CKR_PIN_INCORRECT: The given SO PIN does not match the one in the token. Needed when reinitializing the token.".into())
        }
        Err(Error::PinLenRange) => return Err("ERROR: The PIN length is out of range.".into()),
        Err(e) => {
            return Err(format!(
                "ERROR {}: Could not initialize the token.\nPlease check log files for additional information.",
                rv_name(&e)
            ))
        }
    }
    let h = m
        .sessions()
        .open_session(slot, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION)
        .map_err(|_| "ERROR: Could not open a session with the library.")?;
    let r = m
        .slots()
        .login(h, ck::CKU_SO, so_pin.as_bytes())
        .map_err(|_| "ERROR: Could not log in on the token.".to_string())
        .and_then(|()| {
            m.slots().init_pin(h, user_pin.as_bytes()).map_err(|_| "ERROR: Could not initialize the user PIN.".into())
        });
    let _ = m.sessions().close_session(h);
    r?;
    // SoftHSM moves a new token to a slot derived from its serial and says
    // so; scripts parse that line. FerroHSM's slot IDs never change, so the
    // number printed is the slot the token was initialized in.
    if fresh {
        println!("The token has been initialized and is reassigned to slot {slot}");
    } else {
        println!("The token has been initialized on slot {slot}");
    }
    Ok(())
}

fn show_slots(m: &Module, _a: &Args) -> Done {
    let slots = m.slots().slot_list().map_err(|_| "ERROR: Could not get the slot list.")?;
    println!("Available slots:");
    for slot in slots {
        let si = m.slots().slot_info(slot).map_err(|_| format!("ERROR: Could not get info about slot {slot}."))?;
        println!("Slot {slot}");
        println!("    Slot info:");
        println!("        Description:      {}", String::from_utf8_lossy(&si.slotDescription));
        println!("        Manufacturer ID:  {}", String::from_utf8_lossy(&si.manufacturerID));
        println!("        Hardware version: {}.{}", si.hardwareVersion.major, si.hardwareVersion.minor);
        println!("        Firmware version: {}.{}", si.firmwareVersion.major, si.firmwareVersion.minor);
        println!("        Token present:    yes");
        let ti = m
            .slots()
            .token_info(slot)
            .map_err(|_| format!("ERROR: Could not get info about the token in slot {slot}."))?;
        println!("    Token info:");
        println!("        Manufacturer ID:  {}", String::from_utf8_lossy(&ti.manufacturerID));
        println!("        Model:            {}", String::from_utf8_lossy(&ti.model));
        println!("        Hardware version: {}.{}", ti.hardwareVersion.major, ti.hardwareVersion.minor);
        println!("        Firmware version: {}.{}", ti.firmwareVersion.major, ti.firmwareVersion.minor);
        println!("        Serial number:    {}", String::from_utf8_lossy(&ti.serialNumber));
        let yn = |b: bool| if b { "yes" } else { "no" };
        println!("        Initialized:      {}", yn(initialized(&ti)));
        println!("        User PIN init.:   {}", yn(ti.flags & ck::CKF_USER_PIN_INITIALIZED != 0));
        println!("        Label:            {}", String::from_utf8_lossy(&ti.label));
    }
    Ok(())
}

fn delete_token(m: &Module, a: &Args) -> Done {
    let (label, serial) = (a.get("token"), a.get("serial"));
    if label.is_none() && serial.is_none() {
        return Err("ERROR: A token must be supplied. Use --serial <serial> or --token <label>".into());
    }
    let mut found = Vec::new();
    for slot in m.slots().slot_list().map_err(|e| e.to_string())? {
        let Ok(info) = m.slots().token_info(slot) else { continue };
        if initialized(&info)
            && label.is_none_or(|l| l == label_of(&info))
            && serial.is_none_or(|s| s == serial_of(&info))
        {
            found.push((slot, serial_of(&info)));
        }
    }
    let (slot, ser) = match found.len() {
        0 => return Err("ERROR: Could not find a token using --serial or --token.".into()),
        1 => found.remove(0),
        _ => return Err("ERROR: Found multiple matching tokens.".into()),
    };
    let how = match (label, serial) {
        (Some(_), Some(_)) => "serial and token label",
        (Some(_), None) => "token label",
        _ => "serial",
    };
    println!("Found token (slot {slot}, serial {ser}) with matching {how}.");
    m.slots().delete_token(slot).map_err(|e| format!("ERROR: Could not delete the token: {e}"))?;
    println!("The token (slot {slot}, serial {ser}) has been deleted.");
    Ok(())
}

fn ulong(t: ck::CK_ATTRIBUTE_TYPE, v: u64) -> Attribute {
    Attribute::new(t, Value::Ulong(v))
}
fn boolean(t: ck::CK_ATTRIBUTE_TYPE, v: bool) -> Attribute {
    Attribute::new(t, Value::Bool(v))
}
fn bytes(t: ck::CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute::new(t, Value::bytes(v.to_vec()))
}

fn import(m: &Module, a: &Args) -> Done {
    let path = a.get("import").unwrap_or_default();
    let kind = match (a.get("import-type"), a.has("aes")) {
        (Some("keypair") | None, false) => "keypair",
        (Some("aes"), _) | (None, true) => "aes",
        (Some("cert"), false) => "cert",
        (Some(other), _) => return Err(format!("ERROR: Invalid import type '{other}'")),
    };
    // softhsm2-util finds the token before it looks at the object flags.
    let slot = find_slot(m, a, false)?;
    let label = a.get("label").ok_or("ERROR: A label for the object must be supplied. Use --label <text>")?;
    let id_hex = a.get("id").ok_or("ERROR: An ID for the object must be supplied. Use --id <hex>")?;
    let id = pem::hex_to_bin(id_hex).map_err(|e| format!("{e}\nPlease edit --id <hex> to correct error."))?;
    if a.get("file-pin").is_some() {
        return Err("ERROR: Encrypted PKCS#8 files (--file-pin) are not supported; decrypt the file first.".into());
    }
    let h = m
        .sessions()
        .open_session(slot, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION)
        .map_err(|_| "ERROR: Could not open a session on the given slot.")?;
    let r = import_in(m, a, h, kind, label, &id, path);
    let _ = m.sessions().close_session(h);
    r
}

fn import_in(m: &Module, a: &Args, h: u64, kind: &str, label: &str, id: &[u8], path: &str) -> Done {
    let pin = get_pin(m, a, false, false)?;
    match m.slots().login(h, ck::CKU_USER, pin.as_bytes()) {
        Ok(()) => {}
        Err(Error::PinIncorrect) => return Err("ERROR: The given user PIN does not match the one in the token.".into()),
        Err(_) => return Err("ERROR: Could not log in on the token.".into()),
    }
    let classes: &[u64] = match kind {
        "keypair" => &[ck::CKO_PRIVATE_KEY, ck::CKO_PUBLIC_KEY],
        "aes" => &[ck::CKO_SECRET_KEY],
        _ => &[ck::CKO_CERTIFICATE],
    };
    if !a.has("force") {
        for &c in classes {
            let t = Template::new(vec![ulong(ck::CKA_CLASS, c), bytes(ck::CKA_ID, id)]);
            m.objects().find_init(h, &t).map_err(|e| e.to_string())?;
            let hits = m.objects().find_next(h, 1).map_err(|e| e.to_string())?;
            let _ = m.objects().find_final(h);
            if !hits.is_empty() {
                return Err(
                    "ERROR: The ID is already assigned to another object. Use --force to override this message.".into(),
                );
            }
        }
    }
    let common_attrs = |class| {
        vec![
            ulong(ck::CKA_CLASS, class),
            bytes(ck::CKA_LABEL, label.as_bytes()),
            bytes(ck::CKA_ID, id),
            boolean(ck::CKA_TOKEN, true),
        ]
    };
    match kind {
        "aes" => {
            let value = Zeroizing::new(std::fs::read(path).map_err(|_| "ERROR: Could not open the secret key file.")?);
            let mut t = common_attrs(ck::CKO_SECRET_KEY);
            t.extend([
                ulong(ck::CKA_KEY_TYPE, ck::CKK_AES),
                boolean(ck::CKA_ENCRYPT, true),
                boolean(ck::CKA_DECRYPT, true),
                boolean(ck::CKA_SENSITIVE, true),
                bytes(ck::CKA_VALUE, &value),
            ]);
            m.objects()
                .create_object(h, &Template::new(t))
                .map_err(|e| format!("ERROR: Could not save the secret key in the token. {}", rv_name(&e)))?;
        }
        "cert" => {
            let text =
                std::fs::read_to_string(path).map_err(|_| format!("ERROR: Could open the PKCS#8 file: {path}"))?;
            let der = pem::pem_block(&text, "CERTIFICATE")
                .ok_or_else(|| format!("ERROR: Could not read the certificate file: {path}"))?;
            let mut t = common_attrs(ck::CKO_CERTIFICATE);
            t.extend([
                ulong(ck::CKA_CERTIFICATE_TYPE, ck::CKC_X_509),
                boolean(ck::CKA_PRIVATE, false),
                bytes(ck::CKA_VALUE, &der),
            ]);
            m.objects()
                .create_object(h, &Template::new(t))
                .map_err(|e| format!("ERROR: Could not save the certificate in the token. {}", rv_name(&e)))?;
            println!("The certificate with label={label} has been imported.");
        }
        _ => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path).map_err(|_| format!("ERROR: Could open the PKCS#8 file: {path}"))?,
            );
            let unreadable = "ERROR: Could not read the PKCS#8 file. Maybe it is encypted (--file-pin <PIN>)";
            let der = pem::private_key_pkcs8(&text).ok_or(unreadable)?;
            let key = Key::from_pkcs8(&der).map_err(|_| unreadable)?;
            let rsa = key.key_type() == ck::CKK_RSA;
            let public = key.public_attrs(None).map_err(|_| "ERROR: Could not convert the key.")?;
            let public: Vec<Attribute> = public
                .into_iter()
                .filter(|(t, _)| *t != ck::CKA_PUBLIC_KEY_INFO)
                .map(|(t, v)| Attribute::new(t, v))
                .collect();
            let mut p = common_attrs(ck::CKO_PRIVATE_KEY);
            p.extend([
                boolean(ck::CKA_SIGN, true),
                boolean(ck::CKA_DECRYPT, rsa),
                boolean(ck::CKA_UNWRAP, rsa),
                boolean(ck::CKA_SENSITIVE, true),
                boolean(ck::CKA_PRIVATE, true),
                boolean(ck::CKA_EXTRACTABLE, false),
            ]);
            p.extend(public.iter().filter(|a| a.atype != ck::CKA_EC_POINT).cloned());
            let private = key.private_attrs().map_err(|_| "ERROR: Could not convert the key.")?;
            p.extend(private.into_iter().map(|(t, v)| Attribute::new(t, v)));
            m.objects()
                .create_object(h, &Template::new(p))
                .map_err(|e| format!("ERROR: Could not save the private key in the token. {}", rv_name(&e)))?;
            if !a.has("no-public-key") {
                let mut q = common_attrs(ck::CKO_PUBLIC_KEY);
                q.extend([
                    boolean(ck::CKA_VERIFY, true),
                    boolean(ck::CKA_ENCRYPT, rsa),
                    boolean(ck::CKA_WRAP, rsa),
                    boolean(ck::CKA_PRIVATE, false),
                ]);
                q.extend(public);
                m.objects()
                    .create_object(h, &Template::new(q))
                    .map_err(|e| format!("ERROR: Could not save the public key in the token. {}", rv_name(&e)))?;
            }
            println!("The key pair has been imported.");
        }
    }
    Ok(())
}

fn usage() {
    print!(
        "Support tool for PKCS#11 (FerroHSM's softhsm2-util front)
Usage: softhsm2-util [ACTION] [OPTIONS]
Action:
  --delete-token    Delete the token at a given slot.
                    Use with --token or --serial.
                    WARNING: Any content in token will be erased.
  -h                Shows this help screen.
  --help            Shows this help screen.
  --import <path>   Import an object from the given path.
                    Use with --import-type, --slot or --token or --serial,
                    --label, --id, --no-public-key, and --pin.
  --import-type <type>
                    Import object type, type may be one of:
                        keypair [default]
                            The file must be in PKCS#8 PEM format.
                        aes
                            The file must be in binary format.
                        cert
                            The file must be in X509 PEM format.
  --init-token      Initialize the token at a given slot.
                    Use with --slot or --token or --serial or --free,
                    --label, --so-pin, and --pin.
                    WARNING: Any content in token will be erased.
  --show-slots      Display all the available slots.
  --show-config <var>
                    Show configuration info, var may be one of:
                        default-pkcs11-lib
                            print the default PKCS#11 library.
  -v                Show version info.
  --version         Show version info.
Options:
  --aes             Same as '--import-type aes'.
  --force           Used to override a warning.
  --free            Use the first free/uninitialized token.
  --id <hex>        Defines the ID of the object. Hexadecimal characters.
  --label <text>    Defines the label of the object or the token.
  --no-public-key   Do not import the public key.
  --pin <PIN>       The PIN for the normal user (visible to other users: prefer
                    --pin-fd N, --pin-env VAR, FERROHSM_USER_PIN or the prompt).
  --so-pin <PIN>    The PIN for the Security Officer (SO) (or --so-pin-fd N,
                    --so-pin-env VAR, FERROHSM_SO_PIN, the prompt).
  --serial <number> Will use the token with a matching serial number.
  --slot <number>   The slot where the token is located.
  --token <label>   Will use the token with a matching token label.
"
    );
}
