//! What every command needs: the module, a session on a token chosen by
//! label, and PINs read without putting them on the command line.

use ferrohsm::config::Config;
use ferrohsm::token::{Module, SessionHandle};

pub type CliResult<T> = Result<T, String>;

/// Parsed `--flag value` / `--flag` arguments: the `softhsm2-util` front's
/// own parser, which keeps SoftHSM's getopt behaviour (the `ferrohsm`
/// commands are parsed by clap, see cli.rs).
pub struct Args {
    pub positional: Vec<String>,
    pub flags: Vec<(String, Option<String>)>,
}

impl Args {
    /// `with_value` lists the flags that take a value.
    pub fn parse(args: &[String], with_value: &[&str]) -> CliResult<Args> {
        let mut out = Args { positional: Vec::new(), flags: Vec::new() };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if with_value.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it.next().cloned().ok_or(format!("--{name} needs a value"))?,
                    };
                    out.flags.push((name.to_string(), Some(v)));
                } else {
                    out.flags.push((name.to_string(), None));
                }
            } else {
                out.positional.push(a.clone());
            }
        }
        Ok(out)
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }
    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }
}

pub fn module() -> CliResult<Module> {
    let config = Config::load().map_err(|e| match e {
        ferrohsm::error::Error::General(why) => format!("configuration: {why}"),
        e => format!("configuration: {e}"),
    })?;
    // The audit head goes to the log (see docs/audit.md); otherwise the
    // tool keeps its output to its own messages.
    if config.audit.syslog {
        ferrohsm::logging::init(&config.log);
    }
    Module::new(config).map_err(|e| format!("store: {e}"))
}

/// The slot holding the token with this label (or the first initialized
/// token when `label` is None).
pub fn slot_of(m: &Module, label: Option<&str>) -> CliResult<u64> {
    for slot in m.slots().slot_list().map_err(|e| e.to_string())? {
        let Ok(info) = m.slots().token_info(slot) else { continue };
        if info.flags & cryptoki_sys::CKF_TOKEN_INITIALIZED == 0 {
            continue;
        }
        let l = String::from_utf8_lossy(&info.label).trim_end().to_string();
        if label.is_none_or(|want| want == l) {
            return Ok(slot);
        }
    }
    Err(match label {
        Some(l) => format!("no token labelled {l:?}"),
        None => "no initialized token".into(),
    })
}

/// Where a PIN comes from, in this order: a descriptor (`--FLAG-fd N`, its
/// first line), a named variable (`--FLAG-env VAR`), the value itself
/// (`--FLAG VALUE`, discouraged), then the variable `env`.
pub struct PinSource<'a> {
    /// `pin` or `so-pin`: the flags' stem, for messages.
    pub flag: &'static str,
    /// `FERROHSM_USER_PIN` or `FERROHSM_SO_PIN`.
    pub env: &'static str,
    pub fd: Option<u32>,
    pub var: Option<&'a str>,
    pub value: Option<&'a str>,
}

impl PinSource<'_> {
    fn who(&self) -> &'static str {
        if self.flag == "so-pin" {
            "SO PIN"
        } else {
            "user PIN"
        }
    }
}

/// The PIN from the command line or the environment, else a no-echo
/// prompt when stdin is a terminal, else an error.
pub fn read_pin(src: &PinSource) -> CliResult<zeroize::Zeroizing<String>> {
    if let Some(p) = pin_from(src)? {
        return Ok(p);
    }
    if let Some(p) = prompt_pin(src.who(), false)? {
        return Ok(p);
    }
    let (flag, env) = (src.flag, src.env);
    Err(format!("no PIN: give --{flag}-fd N, --{flag}-env VAR or set {env}"))
}

/// The PIN from the command line or the environment, without prompting.
pub fn pin_from(src: &PinSource) -> CliResult<Option<zeroize::Zeroizing<String>>> {
    use std::io::BufRead;
    if let Some(fd) = src.fd {
        let path = format!("/dev/fd/{fd}");
        let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::BufReader::new(f).read_line(&mut line).map_err(|e| e.to_string())?;
        let t = line.trim_end_matches(['\r', '\n']).to_string();
        return Ok(Some(zeroize::Zeroizing::new(t)));
    }
    if let Some(v) = src.var {
        return std::env::var(v).map(|p| Some(zeroize::Zeroizing::new(p))).map_err(|_| format!("{v} is not set"));
    }
    if let Some(p) = src.value {
        return Ok(Some(zeroize::Zeroizing::new(p.to_string())));
    }
    Ok(std::env::var(src.env).ok().map(zeroize::Zeroizing::new))
}

/// [`pin_from`] over hand-parsed flags (the `softhsm2-util` front):
/// `--FLAG-fd N`, `--FLAG-env VAR`, `--FLAG VALUE`, then `env`.
pub fn pin_from_args(a: &Args, flag: &'static str, env: &'static str) -> CliResult<Option<zeroize::Zeroizing<String>>> {
    let fd = match a.get(&format!("{flag}-fd")) {
        Some(n) => Some(n.parse::<u32>().map_err(|_| format!("--{flag}-fd: not a number"))?),
        None => None,
    };
    let var = a.get(&format!("{flag}-env"));
    pin_from(&PinSource { flag, env, fd, var, value: a.get(flag) })
}

/// Asks for a PIN on the terminal without echo (None when stdin is not a
/// terminal). With `confirm`, asks twice and insists on the same answer.
pub fn prompt_pin(who: &str, confirm: bool) -> CliResult<Option<zeroize::Zeroizing<String>>> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let ask = |p: &str| rpassword::prompt_password(p).map(zeroize::Zeroizing::new).map_err(|e| e.to_string());
    let first = ask(&format!("Please enter {who}: "))?;
    if confirm {
        let again = ask(&format!("Please reenter {who}: "))?;
        if *again != *first {
            return Err(format!("the two {who}s differ"));
        }
    }
    Ok(Some(first))
}

/// A read-write session on the token labelled `token` (the first
/// initialized one when None), logged in as the user.
pub fn user_session(m: &Module, token: Option<&str>, pin: &PinSource) -> CliResult<SessionHandle> {
    login(m, token, cryptoki_sys::CKU_USER, pin)
}

/// A read-write session on the token, logged in as `user` with the PIN
/// from `pin`.
pub fn login(
    m: &Module,
    token: Option<&str>,
    user: cryptoki_sys::CK_USER_TYPE,
    pin: &PinSource,
) -> CliResult<SessionHandle> {
    let slot = slot_of(m, token)?;
    let h = m
        .sessions()
        .open_session(slot, cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION)
        .map_err(|e| e.to_string())?;
    let pin = read_pin(pin)?;
    let who = if user == cryptoki_sys::CKU_SO { "SO login" } else { "login" };
    m.slots().login(h, user, pin.as_bytes()).map_err(|e| format!("{who}: {e}"))?;
    Ok(h)
}
