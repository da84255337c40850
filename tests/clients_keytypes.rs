//! The key types added for issue #16 through the real clients that support
//! them, each a separate process: OpenSC `pkcs11-tool` and OpenSSL 3 through
//! the libp11 engine (RSA-3092/4000, brainpool P-256/384/512, secp256k1,
//! P-192), GnuTLS `p11tool` / `certtool` (RSA-3092, P-384, P-192, DSA,
//! Ed25519). Every signature is checked by plain OpenSSL against the public
//! key as the module stores it (`common::clients::spki`).
//!
//! What these client versions (Debian 12) cannot do is left out, and why is
//! in docs/pkcs11.md's "Client support" section.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::clients::*;
use common::*;

const DATA: &[u8] = b"signed through a PKCS#11 client by FerroHSM\n";

/// Plain OpenSSL verifies `sig` over `data` with the DER public key `spki`;
/// over other data it refuses it.
fn openssl_verifies(dir: &Path, digest: &str, spki: &str, sig: &str, pss: bool) {
    let mut args = vec!["dgst", digest, "-keyform", "DER", "-verify", spki, "-signature", sig];
    if pss {
        args.extend(["-sigopt", "rsa_padding_mode:pss"]);
    }
    let ok = openssl(dir, &[&args[..], &["data"]].concat());
    assert!(ok.contains("Verified OK"), "{sig}: {ok}");
    let bad = Command::new("openssl").current_dir(dir).args(&args).arg("other").output().unwrap();
    assert!(!bad.status.success(), "{sig} verified over other data: {}", text(&bad));
}

#[test]
fn openssl_engine_and_pkcs11_tool_sign_with_the_new_curves_and_rsa_sizes() {
    let w = world("");
    let dir = w.dir.path();
    std::fs::write(dir.join("data"), DATA).unwrap();
    std::fs::write(dir.join("other"), b"other data\n").unwrap();
    // libp11 0.4.12 understands RSA and EC keys only (see the top): this
    // token holds nothing else.
    init(dir, "eng");
    // (pkcs11-tool key type, label, id, digest, pkcs11-tool's mechanism)
    let keys = [
        ("rsa:3092", "rsa3092", "01", "-sha256", "SHA256-RSA-PKCS"),
        ("rsa:4000", "rsa4000", "02", "-sha512", "SHA512-RSA-PKCS-PSS"),
        ("EC:brainpoolP256r1", "bp256", "03", "-sha256", "ECDSA-SHA256"),
        ("EC:brainpoolP384r1", "bp384", "04", "-sha384", "ECDSA-SHA384"),
        ("EC:brainpoolP512r1", "bp512", "05", "-sha512", "ECDSA-SHA512"),
        ("EC:secp256k1", "k1", "06", "-sha256", "ECDSA-SHA256"),
        ("EC:prime192v1", "p192", "07", "-sha256", "ECDSA-SHA256"),
    ];
    for (kt, label, id, _, _) in keys {
        let out = keypair(dir, "eng", kt, label, id);
        let want = match kt.strip_prefix("rsa:") {
            Some(bits) => format!("Public Key Object; RSA {bits} bits"),
            None => "Public Key Object; EC".to_string(),
        };
        assert!(out.contains(&want), "{kt}: {out}");
        spki_file(dir, "eng", label, &format!("{label}.der"));
    }
    let conf = engine_conf(dir);
    let engine = |args: &[&str]| run_ok(Command::new("openssl").current_dir(dir).env("OPENSSL_CONF", &conf).args(args));
    let uri = |label: &str| format!("pkcs11:token=eng;object={label};type=private?pin-value={USER_PIN}");

    for (_, label, id, digest, mech) in keys {
        let spki = format!("{label}.der");
        // OpenSSL signs through the engine, the key staying on the token.
        let sig = format!("{label}.engine.sig");
        engine(&[
            "dgst",
            digest,
            "-engine",
            "pkcs11",
            "-keyform",
            "engine",
            "-sign",
            &uri(label),
            "-out",
            &sig,
            "data",
        ]);
        openssl_verifies(dir, digest, &spki, &sig, false);
        // pkcs11-tool signs (ECDSA as DER, as OpenSSL reads it).
        let sig = format!("{label}.tool.sig");
        let login = ["--token-label", "eng", "--login", "--pin", USER_PIN, "--id", id, "-m", mech];
        tool(dir, &[&login[..], &["--sign", "--signature-format", "openssl", "-i", "data", "-o", &sig]].concat());
        openssl_verifies(dir, digest, &spki, &sig, mech.contains("PSS"));
    }

    // RSA-PSS through the engine with RSA-4000, OAEP decryption with RSA-3092.
    let (u4000, u3092) = (uri("rsa4000"), uri("rsa3092"));
    let eng = ["-engine", "pkcs11", "-keyform", "engine"];
    let pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:64"];
    engine(&[&["dgst", "-sha512"][..], &eng, &["-sign", &u4000], &pss, &["-out", "pss.sig", "data"]].concat());
    openssl_verifies(dir, "-sha512", "rsa4000.der", "pss.sig", true);
    let oaep = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"];
    let pubin = ["-pubin", "-keyform", "DER", "-inkey", "rsa3092.der"];
    openssl(dir, &[&["pkeyutl", "-encrypt"][..], &pubin, &oaep, &["-in", "data", "-out", "ct"]].concat());
    let pt = engine(&[&["pkeyutl", "-decrypt"][..], &eng, &["-inkey", &u3092], &oaep, &["-in", "ct"]].concat());
    assert!(pt.contains(std::str::from_utf8(DATA).unwrap().trim()), "{pt}");

    // ECDH through the engine agrees with OpenSSL's on the peer's side.
    for (label, curve, len) in [("bp384", "brainpoolP384r1", 48), ("k1", "secp256k1", 32)] {
        let (peer, peer_pub, spki) = (format!("{label}-peer.pem"), format!("{label}-peer.pub"), format!("{label}.der"));
        let (z_token, z_peer, key) = (format!("{label}.z.token"), format!("{label}.z.peer"), uri(label));
        openssl(
            dir,
            &["genpkey", "-algorithm", "EC", "-pkeyopt", &format!("ec_paramgen_curve:{curve}"), "-out", &peer],
        );
        openssl(dir, &["pkey", "-in", &peer, "-pubout", "-out", &peer_pub]);
        engine(
            &[&["pkeyutl", "-derive"][..], &eng, &["-inkey", &key, "-peerkey", &peer_pub, "-out", &z_token]].concat(),
        );
        openssl(dir, &["pkeyutl", "-derive", "-inkey", &peer, "-peerform", "DER", "-peerkey", &spki, "-out", &z_peer]);
        let (a, b) = (std::fs::read(dir.join(&z_token)).unwrap(), std::fs::read(dir.join(&z_peer)).unwrap());
        assert_eq!(a.len(), len, "{label}");
        assert_eq!(a, b, "{label}: the token's ECDH secret differs from OpenSSL's");
    }
}

/// p11tool with this module as its provider, logged in.
fn p11tool(dir: &Path, args: &[&str]) -> String {
    let pin = format!("--set-pin={USER_PIN}");
    let provider = module_path();
    run_ok(
        Command::new("p11tool")
            .current_dir(dir)
            .args(["--provider", provider.to_str().unwrap(), "--login", &pin])
            .args(args),
    )
}

#[test]
fn gnutls_p11tool_generates_and_certtool_signs_with_the_new_key_types() {
    let w = world("");
    let dir = w.dir.path();
    init(dir, "gt");
    // GnuTLS 3.7.9 generates RSA, EC on its curves (P-192 to P-521) and
    // DSA; its Ed25519 generation asks for CKM_EDDSA as the key-pair
    // mechanism (fixed in 3.8.2), so pkcs11-tool makes the Ed25519 key.
    for (kind, param, label) in [
        ("rsa", "--bits=3092", "rsa3092"),
        ("ecdsa", "--curve=secp384r1", "p384"),
        ("ecdsa", "--curve=secp192r1", "p192"),
        ("dsa", "--bits=2048", "dsa"),
    ] {
        let out = p11tool(
            dir,
            &[
                &format!("--generate-privkey={kind}"),
                param,
                &format!("--label={label}"),
                &format!("--outfile={label}.gen.pem"),
                "pkcs11:token=gt",
            ],
        );
        assert!(out.contains("Generating a"), "{label}: {out}");
    }
    keypair(dir, "gt", "EC:edwards25519", "ed25519", "05");
    let listed = p11tool(dir, &["--list-all", "pkcs11:token=gt"]);
    for want in [
        "Type: Public key (RSA-3092)",
        "Type: Public key (EC/ECDSA-SECP384R1)",
        "Type: Private key (EC/ECDSA-SECP384R1)",
        "Type: Public key (EC/ECDSA-SECP192R1)",
        "Type: Public key (DSA-2048)",
        "Type: Private key (DSA)",
        "Type: Public key (EdDSA (Ed25519))",
        "Type: Private key (EdDSA (Ed25519))",
    ] {
        assert!(listed.contains(want), "p11tool misses {want:?}:\n{listed}");
    }

    // certtool signs a CA certificate with each token key.
    std::fs::write(dir.join("tmpl"), "cn = \"gnutls on FerroHSM\"\nexpiration_days = 2\nca\ncert_signing_key\n")
        .unwrap();
    for (label, sign_params, sig_alg) in [
        ("rsa3092", None, "sha384WithRSAEncryption"),
        ("rsa3092", Some("--sign-params=RSA-PSS"), "rsassaPss"),
        ("p384", None, "ecdsa-with-SHA384"),
        ("p192", None, "ecdsa-with-SHA256"),
        ("dsa", None, "dsa_with_SHA256"),
        ("ed25519", None, "ED25519"),
    ] {
        let cert = format!("{label}{}.pem", if sign_params.is_some() { "-pss" } else { "" });
        let provider = module_path();
        let mut c = Command::new("certtool");
        c.current_dir(dir).env("GNUTLS_PIN", USER_PIN).arg("--provider").arg(&provider);
        c.args(["--generate-self-signed", "--template", "tmpl", "--outfile", &cert]);
        c.arg(format!("--load-privkey=pkcs11:token=gt;object={label};type=private"));
        c.args(sign_params);
        run_ok(&mut c);
        let v = run_ok(Command::new("certtool").current_dir(dir).args([
            "--verify",
            "--load-ca-certificate",
            &cert,
            "--infile",
            &cert,
        ]));
        assert!(v.contains("Chain verification output: Verified."), "{cert}: {v}");
        let v = openssl(dir, &["verify", "-CAfile", &cert, &cert]);
        assert!(v.contains(&format!("{cert}: OK")), "{v}");
        let t = openssl(dir, &["x509", "-in", &cert, "-noout", "-text"]);
        assert!(t.contains(&format!("Signature Algorithm: {sig_alg}")), "{cert}: {t}");
        // The certificate's key is the token's: as p11tool exports it and,
        // but for DSA, as the module stores it.
        let in_cert = openssl(dir, &["x509", "-in", &cert, "-noout", "-pubkey"]);
        let exported = format!("{label}.pub.pem");
        p11tool(
            dir,
            &[
                "--export-pubkey",
                &format!("--outfile={exported}"),
                &format!("pkcs11:token=gt;object={label};type=public"),
            ],
        );
        assert_eq!(in_cert, openssl(dir, &["pkey", "-pubin", "-in", &exported]), "{label}");
        if label != "dsa" {
            assert_eq!(in_cert, spki_file(dir, "gt", label, &format!("{label}.der")), "{label}");
        }
    }
}

/// pkcs11-tool 0.23 cannot generate Ed448 keys (it knows edwards25519
/// only) but signs with CKM_EDDSA whatever the curve: an Ed448 key the
/// module generates and an Ed25519 key pkcs11-tool generates both sign
/// through it, and plain OpenSSL verifies.
#[test]
fn pkcs11_tool_signs_with_ed25519_and_ed448_openssl_verifies() {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::Attribute;
    let w = world("");
    let dir = w.dir.path();
    std::fs::write(dir.join("data"), DATA).unwrap();
    std::fs::write(dir.join("other"), b"other data\n").unwrap();
    init(dir, "ed");
    keypair(dir, "ed", "EC:edwards25519", "ed25519", "01");
    {
        let p = load();
        let slot = p.get_slots_with_initialized_token().unwrap()[0];
        let s = user_session(&p, slot);
        let ed448_oid = vec![0x06, 0x03, 0x2b, 0x65, 0x71];
        let common = |sign: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Label(b"ed448".to_vec()),
                Attribute::Id(vec![0x02]),
                if sign { Attribute::Sign(true) } else { Attribute::Verify(true) },
            ]
        };
        let public = [common(false), vec![Attribute::EcParams(ed448_oid)]].concat();
        s.generate_key_pair(
            &Mechanism::EccEdwardsKeyPairGen,
            &public,
            &[common(true), vec![Attribute::Private(true)]].concat(),
        )
        .unwrap();
    }
    for (label, id, len) in [("ed25519", "01", 64), ("ed448", "02", 114)] {
        let spki = format!("{label}.der");
        spki_file(dir, "ed", label, &spki);
        let sig = format!("{label}.sig");
        let login = ["--token-label", "ed", "--login", "--pin", USER_PIN, "--id", id, "-m", "EDDSA"];
        tool(dir, &[&login[..], &["--sign", "-i", "data", "-o", &sig]].concat());
        assert_eq!(std::fs::read(dir.join(&sig)).unwrap().len(), len, "{label}");
        let verify = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", &spki, "-rawin", "-sigfile", &sig];
        let ok = openssl(dir, &[&verify[..], &["-in", "data"]].concat());
        assert!(ok.contains("Signature Verified Successfully"), "{label}: {ok}");
        let bad = Command::new("openssl").current_dir(dir).args(verify).args(["-in", "other"]).output().unwrap();
        assert!(!bad.status.success(), "{label} verified over other data: {}", text(&bad));
    }
}
