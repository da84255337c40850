//! NSS (`modutil`, `certutil` from libnss3-tools) and Java 17's SunPKCS11
//! (`keytool`) generating key pairs on the token with the key types they
//! support and signing certificates and requests with them, which plain
//! OpenSSL then verifies. What these clients cannot do is listed in
//! docs/pkcs11.md's "Client support" section.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::clients::*;
use common::*;

/// `openssl verify` of a self-signed certificate, and its signature algorithm.
fn self_signed_ok(dir: &Path, cert: &str) -> String {
    let v = openssl(dir, &["verify", "-CAfile", cert, cert]);
    assert!(v.contains(&format!("{cert}: OK")), "{v}");
    let t = openssl(dir, &["x509", "-in", cert, "-noout", "-text"]);
    let alg = t.lines().find_map(|l| l.trim().strip_prefix("Signature Algorithm: ")).unwrap_or_default();
    alg.trim().to_string()
}

#[test]
fn nss_certutil_makes_certificates_with_keys_generated_on_the_token() {
    let w = world("");
    let dir = w.dir.path();
    init(dir, "nss");
    let lib = module_path();
    let nss = |args: &[&str]| run_ok(Command::new(args[0]).current_dir(dir).args(&args[1..]));
    std::fs::create_dir(dir.join("nssdb")).unwrap();
    nss(&["modutil", "-create", "-dbdir", "sql:nssdb", "-force"]);
    nss(&["modutil", "-add", "FerroHSM", "-dbdir", "sql:nssdb", "-libfile", lib.to_str().unwrap(), "-force"]);
    let listed = nss(&["modutil", "-list", "FerroHSM", "-dbdir", "sql:nssdb"]);
    assert!(listed.contains("Token Name: nss") && listed.contains("User Pin: Initialized"), "{listed}");

    std::fs::write(dir.join("pin"), format!("{USER_PIN}\n")).unwrap();
    std::fs::write(dir.join("noise"), [0x5a; 64]).unwrap();
    // (nickname, certutil's key options, the signature OpenSSL sees)
    let certs: [(&str, &[&str], &str); 6] = [
        ("rsa3072", &["-k", "rsa", "-g", "3072"], "sha256WithRSAEncryption"),
        ("rsa4000-pss", &["-k", "rsa", "-g", "4000", "--pss-sign", "-Z", "SHA384"], "rsassaPss"),
        ("p384", &["-k", "ec", "-q", "secp384r1", "-Z", "SHA384"], "ecdsa-with-SHA384"),
        ("p521", &["-k", "ec", "-q", "nistp521", "-Z", "SHA512"], "ecdsa-with-SHA512"),
        ("dsa2048", &["-k", "dsa", "-g", "2048"], "dsa_with_SHA256"),
        ("dsa3072", &["-k", "dsa", "-g", "3072"], "dsa_with_SHA256"),
    ];
    let certutil = ["certutil", "-d", "sql:nssdb", "-h", "nss", "-f", "pin"];
    for (nick, key, _) in certs {
        let cn = format!("CN=nss {nick}");
        nss(&[&certutil[..], &["-S", "-z", "noise", "-n", nick, "-s", &cn, "-x", "-t", "CT,,", "-v", "12"], key]
            .concat());
    }
    let listed = nss(&[&certutil[..], &["-L"]].concat());
    let keys = nss(&[&certutil[..], &["-K"]].concat());
    for (nick, key, sig_alg) in certs {
        let name = format!("nss:{nick}");
        assert!(listed.contains(&format!("{name:<60} CTu,u,u")), "{nick} not listed:\n{listed}");
        // The private key is the token's, under the certificate's nickname.
        let kind = if key[1] == "ec" { "ec " } else { key[1] };
        assert!(keys.lines().any(|l| l.contains(kind) && l.trim_end().ends_with(&name)), "{nick}:\n{keys}");
        let pem = nss(&[&certutil[..], &["-L", "-n", &name, "-a"]].concat());
        let file = format!("{nick}.pem");
        std::fs::write(dir.join(&file), pem).unwrap();
        assert_eq!(self_signed_ok(dir, &file), sig_alg, "{nick}");
    }
    // pkcs11-tool sees what NSS made: six private keys and certificates.
    let objs = tool(dir, &["--token-label", "nss", "--login", "--pin", USER_PIN, "--list-objects"]);
    assert_eq!(objs.matches("Private Key Object").count(), 6, "{objs}");
    assert_eq!(objs.matches("Certificate Object").count(), 6, "{objs}");
    assert_eq!(objs.matches("Private Key Object; RSA").count(), 2, "{objs}");
    assert_eq!(objs.matches("Private Key Object; EC").count(), 2, "{objs}");
}

#[test]
fn java_keytool_generates_key_pairs_on_the_token_and_signs() {
    let w = world("");
    let dir = w.dir.path();
    init(dir, "java");
    std::fs::write(dir.join("java.cfg"), format!("name = FerroHSM\nlibrary = {}\n", module_path().display())).unwrap();
    let keytool = |args: &[&str]| {
        run_ok(Command::new("keytool").current_dir(dir).args(args).args([
            "-keystore",
            "NONE",
            "-storetype",
            "PKCS11",
            "-providerName",
            "SunPKCS11-FerroHSM",
            "-addprovider",
            "SunPKCS11",
            "-providerArg",
            "java.cfg",
            "-storepass",
            USER_PIN,
        ]))
    };
    // (alias, key options, signature of the self-signed certificate)
    let keys: [(&str, &[&str], &str); 8] = [
        ("rsa3072", &["-keyalg", "RSA", "-keysize", "3072"], "sha256WithRSAEncryption"),
        ("rsa4000", &["-keyalg", "RSA", "-keysize", "4000"], "sha384WithRSAEncryption"),
        ("p384", &["-keyalg", "EC", "-groupname", "secp384r1"], "ecdsa-with-SHA384"),
        ("bp256", &["-keyalg", "EC", "-groupname", "brainpoolP256r1"], "ecdsa-with-SHA256"),
        ("bp512", &["-keyalg", "EC", "-groupname", "brainpoolP512r1"], "ecdsa-with-SHA512"),
        ("k1", &["-keyalg", "EC", "-groupname", "secp256k1"], "ecdsa-with-SHA256"),
        ("p192", &["-keyalg", "EC", "-groupname", "secp192r1"], "ecdsa-with-SHA256"),
        ("dsa", &["-keyalg", "DSA", "-keysize", "2048"], "dsa_with_SHA256"),
    ];
    for (alias, opts, _) in keys {
        let dname = format!("CN=java {alias}");
        keytool(&[&["-genkeypair", "-alias", alias, "-dname", &dname][..], opts].concat());
    }
    let listed = keytool(&["-list"]);
    for (alias, _, sig_alg) in keys {
        assert!(listed.contains(&format!("{alias}, PrivateKeyEntry")), "{alias}:\n{listed}");
        let cert = format!("{alias}.pem");
        keytool(&["-exportcert", "-rfc", "-alias", alias, "-file", &cert]);
        assert_eq!(self_signed_ok(dir, &cert), sig_alg, "{alias}");
    }
    // A certificate request signed on the token, verified by OpenSSL, for
    // the certificate's key.
    for alias in ["rsa4000", "bp512", "k1"] {
        let req = format!("{alias}.csr");
        keytool(&["-certreq", "-alias", alias, "-file", &req]);
        let v = openssl(dir, &["req", "-in", &req, "-noout", "-verify"]);
        assert!(v.contains("verify OK"), "{alias}: {v}");
        let in_req = openssl(dir, &["req", "-in", &req, "-noout", "-pubkey"]);
        assert_eq!(in_req, openssl(dir, &["x509", "-in", &format!("{alias}.pem"), "-noout", "-pubkey"]), "{alias}");
    }
    // Each private key was generated on the token (SunPKCS11 keeps the
    // private key, CKA_ID the alias, and the certificate; the public key
    // was a session object).
    let objs = tool(dir, &["--token-label", "java", "--login", "--pin", USER_PIN, "--list-objects"]);
    let private: Vec<&str> = objs.split("Private Key Object").skip(1).collect();
    assert_eq!(private.len(), keys.len(), "{objs}");
    for (alias, opts, _) in keys {
        let id: String = alias.bytes().map(|b| format!("{b:02x}")).collect();
        // pkcs11-tool 0.23 names no DSA private key: CKK_DSA is 1.
        let kind = match opts[1] {
            "DSA" => "; unknown key algorithm 1",
            k => k,
        };
        let key = private
            .iter()
            .find(|b| b.contains(&format!("ID:         {id}\n")))
            .unwrap_or_else(|| panic!("{alias}: {objs}"));
        assert!(key.contains(kind) && key.contains("never extractable, local"), "{alias}: {key}");
    }
}
