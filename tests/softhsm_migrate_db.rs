//! Migration from SoftHSM's db backend (`sqlite3.db`). Debian's softhsm2
//! has no db backend, so the token directory under
//! tests/fixtures/softhsm-db/ was made once by SoftHSM 2.6.1 built from
//! source with `--with-objectstore-backend-db`, by the ignored `generate`
//! test below:
//!
//! ```sh
//! FIXTURE_SOFTHSM_LIB=/path/to/libsofthsm2.so cargo test --test softhsm_migrate_db -- --ignored generate
//! ```
//!
//! It holds an AES key (never extractable), a key-encryption key, a data
//! key, an RSA and an EC key pair, a certificate and a data object;
//! `values.txt` has what SoftHSM made with them (ciphertexts, wrapped keys,
//! signatures, public values). PINs: the ones below.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::vectors::{hex, unhex};
use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

const FIX_SO_PIN: &str = "fixture-so-pin";
const FIX_USER_PIN: &str = "fixture-user-pin";
const MSG: &[u8] = b"encrypted by SoftHSM's db backend";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/softhsm-db")
}

fn bytes(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(o, &[t]).unwrap().pop() {
        Some(Attribute::Modulus(b) | Attribute::EcPoint(b) | Attribute::Value(b) | Attribute::CheckValue(b)) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

fn aes(s: &Session, label: &str, extractable: bool, wrap: bool) -> ObjectHandle {
    aes_token_key(s, label, &label.as_bytes()[..1], extractable, wrap, vec![])
}

/// Makes the fixture with a SoftHSM built with the db backend.
#[test]
#[ignore]
fn generate() {
    let lib = std::env::var("FIXTURE_SOFTHSM_LIB").expect("FIXTURE_SOFTHSM_LIB=path to a db-backend libsofthsm2.so");
    let out = fixture_dir();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("tokens")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = db\nlog.level = ERROR\n",
            out.join("tokens").display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let p = Pkcs11::new(lib).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = p.get_slots_with_token().unwrap()[0];
    p.init_token(slot, &pin(FIX_SO_PIN), "dbtoken").unwrap();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(FIX_SO_PIN))).unwrap();
    s.init_pin(&pin(FIX_USER_PIN)).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(FIX_USER_PIN))).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let master = aes(&s, "master", false, false);
    let kek = aes(&s, "kek", false, true);
    let dek = aes(&s, "dek", true, false);
    v.push(("cbc".into(), s.encrypt(&Mechanism::AesCbcPad([7; 16]), master, MSG).unwrap()));
    v.push(("wrapped_pad".into(), s.wrap_key(&Mechanism::AesKeyWrapPad, kek, dek).unwrap()));
    v.push(("under_dek".into(), s.encrypt(&Mechanism::AesCbcPad([3; 16]), dek, MSG).unwrap()));
    v.push(("master_kcv".into(), bytes(&s, master, AttributeType::CheckValue)));
    let common = |label: &str| vec![Attribute::Token(true), Attribute::Label(label.into()), Attribute::Id(vec![9])];
    let mut rpub =
        vec![Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Verify(true)];
    rpub.extend(common("rsa"));
    let mut rpriv = vec![
        Attribute::Sign(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ];
    rpriv.extend(common("rsa"));
    let (rp, rk) = s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &rpub, &rpriv).unwrap();
    v.push(("rsa_sig".into(), s.sign(&Mechanism::Sha256RsaPkcs, rk, MSG).unwrap()));
    v.push(("rsa_modulus".into(), bytes(&s, rp, AttributeType::Modulus)));
    let mut epub = vec![Attribute::EcParams(P256.to_vec()), Attribute::Verify(true)];
    epub.extend(common("ec"));
    let mut epriv = vec![
        Attribute::Sign(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ];
    epriv.extend(common("ec"));
    let (ep, ek) = s.generate_key_pair(&Mechanism::EccKeyPairGen, &epub, &epriv).unwrap();
    let digest = s.digest(&Mechanism::Sha256, MSG).unwrap();
    v.push(("ec_sig".into(), s.sign(&Mechanism::Ecdsa, ek, &digest).unwrap()));
    v.push(("ec_point".into(), bytes(&s, ep, AttributeType::EcPoint)));
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=db"])
        .args(["-keyout", "/dev/null", "-outform", "DER"])
        .output()
        .unwrap();
    assert!(st.status.success());
    let cert = st.stdout;
    s.create_object(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(cryptoki::object::CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label("cert".into()),
        Attribute::Id(vec![9]),
        Attribute::Subject(b"\x30\x0d\x31\x0b\x30\x09\x06\x03\x55\x04\x03\x0c\x02db".to_vec()),
        Attribute::Value(cert.clone()),
    ])
    .unwrap();
    v.push(("cert".into(), cert));
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label("blob".into()),
        Attribute::Application("db-app".into()),
        Attribute::Value(b"db data object".to_vec()),
    ])
    .unwrap();
    drop(s);
    p.finalize().unwrap();
    let text: String = v.iter().map(|(k, b)| format!("{k} {}\n", hex(b))).collect();
    std::fs::write(out.join("values.txt"), text).unwrap();
}

#[test]
fn migrates_the_db_backend() {
    let w = world("");
    let src = fixture_dir();
    let values: HashMap<String, Vec<u8>> = std::fs::read_to_string(src.join("values.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_string(), unhex(v))))
        .collect();
    // Work on a copy: SQLite may leave side files next to a database it opens.
    let tokens = w.dir.path().join("tokens");
    for e in walk(&src.join("tokens")) {
        let rel = e.strip_prefix(src.join("tokens")).unwrap();
        std::fs::create_dir_all(tokens.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&e, tokens.join(rel)).unwrap();
    }
    let run = || {
        let o = Command::new(target_dir().join("ferrohsm"))
            .args(["migrate-softhsm", "--tokendir"])
            .arg(&tokens)
            .args(["--pin-env", "P", "--so-pin-env", "S"])
            .env("FERROHSM_CONF", &w.conf)
            .env("P", FIX_USER_PIN)
            .env("S", FIX_SO_PIN)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let out = run();
    assert!(out.contains("db backend"), "{out}");
    assert!(out.contains("9 migrated, 0 already present, 0 not migrated"), "{out}");
    assert!(run().contains("0 migrated, 9 already present"));

    let p = load();
    let slot = p
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label().trim_end() == "dbtoken")
        .unwrap();
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(FIX_USER_PIN))).unwrap();
    let master = one(&s, "master", ObjectClass::SECRET_KEY);
    assert_eq!(
        s.get_attributes(
            master,
            &[AttributeType::NeverExtractable, AttributeType::AlwaysSensitive, AttributeType::Extractable]
        )
        .unwrap(),
        vec![Attribute::NeverExtractable(true), Attribute::AlwaysSensitive(true), Attribute::Extractable(false)]
    );
    assert_eq!(bytes(&s, master, AttributeType::CheckValue), values["master_kcv"]);
    assert_eq!(s.decrypt(&Mechanism::AesCbcPad([7; 16]), master, &values["cbc"]).unwrap(), MSG);
    let kek = one(&s, "kek", ObjectClass::SECRET_KEY);
    let t = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false)];
    let dek = s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, &values["wrapped_pad"], &t).unwrap();
    assert_eq!(s.decrypt(&Mechanism::AesCbcPad([3; 16]), dek, &values["under_dek"]).unwrap(), MSG);
    let rpub = one(&s, "rsa", ObjectClass::PUBLIC_KEY);
    assert_eq!(bytes(&s, rpub, AttributeType::Modulus), values["rsa_modulus"]);
    s.verify(&Mechanism::Sha256RsaPkcs, rpub, MSG, &values["rsa_sig"]).unwrap();
    let rk = one(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let sig = s.sign(&Mechanism::Sha256RsaPkcs, rk, MSG).unwrap();
    assert_eq!(sig, values["rsa_sig"], "PKCS#1 v1.5 is deterministic: same key, same signature");
    let epub = one(&s, "ec", ObjectClass::PUBLIC_KEY);
    assert_eq!(bytes(&s, epub, AttributeType::EcPoint), values["ec_point"]);
    let digest = s.digest(&Mechanism::Sha256, MSG).unwrap();
    s.verify(&Mechanism::Ecdsa, epub, &digest, &values["ec_sig"]).unwrap();
    let ek = one(&s, "ec", ObjectClass::PRIVATE_KEY);
    let new_sig = s.sign(&Mechanism::Ecdsa, ek, &digest).unwrap();
    s.verify(&Mechanism::Ecdsa, epub, &digest, &new_sig).unwrap();
    let cert = one(&s, "cert", ObjectClass::CERTIFICATE);
    assert_eq!(bytes(&s, cert, AttributeType::Value), values["cert"]);
    let blob = one(&s, "blob", ObjectClass::DATA);
    assert_eq!(bytes(&s, blob, AttributeType::Value), b"db data object");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
