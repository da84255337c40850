//! A small logger behind the `log` facade: stderr or a file, level from the
//! configuration. Key material is never formatted into a message.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConf {
    /// off, error, warn, info, debug, trace: parsed at load, so an unknown
    /// word stops the configuration (never a silent default).
    #[serde(deserialize_with = "level")]
    pub level: LevelFilter,
    /// Log file; stderr when absent.
    pub file: Option<PathBuf>,
}

impl Default for LogConf {
    fn default() -> Self {
        LogConf { level: LevelFilter::Warn, file: None }
    }
}

fn level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LevelFilter, D::Error> {
    let s = String::deserialize(d)?;
    parse_level(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown level {s:?}")))
}

pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.to_ascii_lowercase().as_str() {
        "off" | "none" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

struct Logger {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "ferrohsm[{}] {}: {}", std::process::id(), r.level(), r.args());
        }
    }
    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// Installs the logger once per process (the `log` facade allows only one);
/// later calls only adjust the level.
pub fn init(conf: &LogConf) {
    let level = conf.level;
    let out: Box<dyn Write + Send> = match &conf.file {
        Some(p) => match std::fs::OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Box::new(f),
            Err(_) => Box::new(std::io::stderr()),
        },
        None => Box::new(std::io::stderr()),
    };
    // Fails only if a logger is already installed (ours or the host's).
    let _ = log::set_boxed_logger(Box::new(Logger { out: Mutex::new(out) }));
    log::set_max_level(level);
}
