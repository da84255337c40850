//! Where the PostgreSQL store connects: the URL (checked when the
//! configuration loads: fail closed), the password (from a file or the
//! environment, never the URL), and TLS through rustls.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// libpq's `sslmode`, as far as it is honoured here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (or a Unix socket).
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    Prefer,
    /// TLS or no connection, without checking the certificate (libpq's
    /// `require`: protects against eavesdropping, not impersonation).
    Require,
    /// TLS, the certificate checked against `sslrootcert` and the host name.
    VerifyFull,
}

/// A parsed `[store] url`, without a password.
#[derive(Clone)]
pub struct Target {
    pub config: postgres::Config,
    pub ssl: SslMode,
    /// `sslrootcert`: the CAs `verify-full` trusts (PEM).
    pub root_cert: Option<std::path::PathBuf>,
}

/// Whether a store setting names PostgreSQL rather than a SQLite path.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// Parses and checks a store URL: a password in it, an unknown sslmode or
/// anything the client's parser refuses stops the configuration.
pub fn parse(url: &str) -> std::result::Result<Target, String> {
    if !is_url(url) {
        return Err("store.url must start with postgresql:// (or postgres://)".into());
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    // The authority's user part: "user:password@" would carry a password.
    let rest = base.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if userinfo.contains(':') {
            return Err("store.url must not contain a password: put it in store.password_file or PGPASSWORD".into());
        }
    }
    let mut ssl = SslMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, raw) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "password" => {
                return Err("store.url must not contain a password: put it in store.password_file or PGPASSWORD".into())
            }
            "sslmode" => {
                let v = percent_decoded(k, raw)?;
                ssl = match String::from_utf8_lossy(&v).as_ref() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "store.url: sslmode={other} is not one of disable, prefer, require, verify-full"
                        ))
                    }
                }
            }
            "sslrootcert" => {
                use std::os::unix::ffi::OsStringExt;
                root_cert = Some(std::path::PathBuf::from(std::ffi::OsString::from_vec(percent_decoded(k, raw)?)))
            }
            _ => kept.push(pair),
        }
    }
    let rebuilt = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    let mut config: postgres::Config = rebuilt.parse().map_err(|e| format!("store.url: {e}"))?;
    if config.get_password().is_some() {
        return Err("store.url must not contain a password: put it in store.password_file or PGPASSWORD".into());
    }
    if config.get_hosts().is_empty() {
        return Err("store.url names no host".into());
    }
    config.ssl_mode(match ssl {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyFull => postgres::config::SslMode::Require,
    });
    // A database that is down must fail the call, not hang it.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("ferrohsm");
    }
    Ok(Target { config, ssl, root_cert })
}

/// A query value of the URL as libpq (and the client's parser, for the
/// parameters passed on) reads it: `%XX` is the byte XX.
fn percent_decoded(key: &str, v: &str) -> std::result::Result<Vec<u8>, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("store.url: {key}: a % not followed by two hex digits"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl Target {
    /// Sets the password from `password_file` (first line), else `PGPASSWORD`.
    pub fn with_password(mut self, password_file: Option<&Path>) -> Result<Target> {
        if let Some(p) = password_file {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::device(format!("store.password_file {}: {e}", p.display())))?;
            let text = zeroize::Zeroizing::new(text);
            let line = text.lines().next().unwrap_or("");
            self.config.password(line);
        } else if let Some(pw) = std::env::var_os("PGPASSWORD") {
            use std::os::unix::ffi::OsStrExt;
            self.config.password(pw.as_bytes());
        }
        Ok(self)
    }

    /// The TLS connector for every connection (unused with `disable`).
    pub fn tls(&self) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::device(format!("tls: {e}")))?;
        let config = if self.ssl == SslMode::VerifyFull {
            let path = match &self.root_cert {
                Some(p) => p.clone(),
                None => {
                    // libpq's default.
                    let home = std::env::var_os("HOME").unwrap_or_default();
                    Path::new(&home).join(".postgresql/root.crt")
                }
            };
            use pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| Error::device(format!("sslrootcert {}: {e}", path.display())))?;
            for c in certs {
                let c = c.map_err(|e| Error::device(format!("sslrootcert {}: {e}", path.display())))?;
                roots.add(c).map_err(|e| Error::device(format!("sslrootcert {}: {e}", path.display())))?;
            }
            // Trusting nothing would refuse every server later, one
            // handshake at a time: say so now, when the store opens.
            if roots.is_empty() {
                return Err(Error::device(format!("sslrootcert {}: holds no certificate", path.display())));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Unverified(provider))).with_no_client_auth()
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// `prefer`/`require`: any certificate (libpq's meaning), but the
/// handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let t = parse("postgresql://hsm@db.example:5433/keys?sslmode=verify-full&sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(t.ssl, SslMode::VerifyFull);
        assert_eq!(t.config.get_ports(), &[5433]);
        assert_eq!(t.config.get_user(), Some("hsm"));
        assert_eq!(t.config.get_dbname(), Some("keys"));
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(parse("postgres://h/db").unwrap().ssl, SslMode::Prefer);
        assert_eq!(parse("postgres://h/db?sslmode=disable").unwrap().ssl, SslMode::Disable);
        assert_eq!(parse("postgres://h/db?sslmode=require").unwrap().ssl, SslMode::Require);
        for bad in [
            "postgresql://u:secret@h/db",
            "postgresql://u@h/db?password=secret",
            "postgresql://u@h/db?sslmode=verify-ca",
            "postgresql://u@h/db?sslmode=allow",
            "postgresql://u@h/db?sslmode=bogus",
            "postgresql://u@h:notaport/db",
            "mysql://u@h/db",
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        let e = parse("postgresql://u:secret@h/db").err().unwrap();
        assert!(e.contains("password"), "{e}");
    }

    #[test]
    fn a_root_file_without_a_certificate_is_refused_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let url = format!("postgresql://u@h/db?sslmode=verify-full&sslrootcert={}", empty.display());
        let e = parse(&url).unwrap().tls().err().expect("an empty root file accepted");
        assert!(e.to_string().contains("holds no certificate"), "{e}");
        // Without verify-full the file is not read.
        assert!(parse(&url.replace("verify-full", "require")).unwrap().tls().is_ok());
    }

    #[test]
    fn query_values_are_percent_decoded_as_libpq_does() {
        let t = parse("postgresql://h/db?sslmode=verify%2Dfull&sslrootcert=%2Fetc%2Fmy%20ca.pem").unwrap();
        assert_eq!(t.ssl, SslMode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/etc/my ca.pem")));
        for bad in
            ["postgresql://h/db?sslrootcert=%2", "postgresql://h/db?sslrootcert=%zz", "postgresql://h/db?sslmode=%"]
        {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains("two hex digits"), "{e}");
        }
    }
}
