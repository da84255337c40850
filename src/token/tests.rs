//! Core tests through the safe Rust API (no C ABI involved).

use cryptoki_sys as ck;

use super::objects::AttrOut;
use super::Module;
use crate::config::Config;
use crate::error::Error;
use crate::model::{Attribute, Template, Value};

fn module() -> (tempfile::TempDir, Module) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::from_toml("[kdf]\nm_cost_kib = 64\nt_cost = 1\np_cost = 1").unwrap();
    c.store.path = Some(dir.path().join("t.db"));
    let m = Module::new(c).unwrap();
    (dir, m)
}

fn label(s: &str) -> Attribute {
    Attribute::new(ck::CKA_LABEL, Value::bytes(s.as_bytes().to_vec()))
}

fn ready(m: &Module) -> u64 {
    m.slots().init_token(0, b"so-pin", &[b' '; 32]).unwrap();
    let h = m.sessions().open_session(0, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION).unwrap();
    m.slots().login(h, ck::CKU_SO, b"so-pin").unwrap();
    m.slots().init_pin(h, b"user-pin").unwrap();
    m.slots().logout(h).unwrap();
    h
}

#[test]
fn public_secret_key_is_listed_but_sealed_until_login() {
    let (_d, m) = module();
    let h = ready(&m);
    m.slots().login(h, ck::CKU_USER, b"user-pin").unwrap();
    let key = m
        .objects()
        .create_object(
            h,
            &Template::new(vec![
                Attribute::new(ck::CKA_CLASS, Value::Ulong(ck::CKO_SECRET_KEY)),
                Attribute::new(ck::CKA_KEY_TYPE, Value::Ulong(ck::CKK_AES)),
                Attribute::new(ck::CKA_TOKEN, Value::Bool(true)),
                Attribute::new(ck::CKA_PRIVATE, Value::Bool(false)),
                Attribute::new(ck::CKA_SENSITIVE, Value::Bool(false)),
                Attribute::new(ck::CKA_EXTRACTABLE, Value::Bool(true)),
                Attribute::new(ck::CKA_VALUE, Value::bytes(vec![9u8; 16])),
                label("pub"),
            ]),
        )
        .unwrap();
    m.slots().logout(h).unwrap();

    // Listed and its public attributes readable...
    m.objects().find_init(h, &Template::new(vec![label("pub")])).unwrap();
    assert_eq!(m.objects().find_next(h, 10).unwrap(), vec![key]);
    m.objects().find_final(h).unwrap();
    let got = m.objects().get_attributes(h, key, &[ck::CKA_LABEL, ck::CKA_VALUE]).unwrap();
    assert!(matches!(&got[0], AttrOut::Value(Value::Bytes(b)) if &b[..] == b"pub"));
    // ...but the sealed value cannot be opened, nor the object re-sealed.
    assert!(matches!(got[1], AttrOut::Sensitive));
    assert_eq!(m.objects().set_attributes(h, key, &Template::new(vec![label("x")])), Err(Error::UserNotLoggedIn));
    assert_eq!(m.objects().copy_object(h, key, &Template::default()), Err(Error::UserNotLoggedIn));

    m.slots().login(h, ck::CKU_USER, b"user-pin").unwrap();
    let got = m.objects().get_attributes(h, key, &[ck::CKA_VALUE]).unwrap();
    assert!(matches!(&got[0], AttrOut::Value(Value::Bytes(b)) if b[..] == [9u8; 16]));
}

#[test]
fn find_uses_the_index_and_compares_in_full() {
    let (_d, m) = module();
    let h = ready(&m);
    m.slots().login(h, ck::CKU_USER, b"user-pin").unwrap();
    let mk = |l: &str, app: &[u8]| {
        m.objects()
            .create_object(
                h,
                &Template::new(vec![
                    Attribute::new(ck::CKA_CLASS, Value::Ulong(ck::CKO_DATA)),
                    Attribute::new(ck::CKA_TOKEN, Value::Bool(true)),
                    Attribute::new(ck::CKA_APPLICATION, Value::bytes(app.to_vec())),
                    Attribute::new(ck::CKA_VALUE, Value::bytes(vec![0u8; 2000])),
                    label(l),
                ]),
            )
            .unwrap()
    };
    let a = mk("a", b"app1");
    let b = mk("b", b"app1");
    let _c = mk("c", b"app2");
    let find = |t: Vec<Attribute>| {
        m.objects().find_init(h, &Template::new(t)).unwrap();
        let r = m.objects().find_next(h, 100).unwrap();
        m.objects().find_final(h).unwrap();
        r
    };
    assert_eq!(find(vec![Attribute::new(ck::CKA_APPLICATION, Value::bytes(b"app1".to_vec()))]), vec![a, b]);
    assert_eq!(find(vec![label("b")]), vec![b]);
    // A value too long to be indexed is still matched by comparison.
    assert_eq!(find(vec![label("a"), Attribute::new(ck::CKA_VALUE, Value::bytes(vec![0u8; 2000]))]), vec![a]);
    assert!(find(vec![Attribute::new(0x7fff_ffff, Value::bytes(b"?".to_vec()))]).is_empty());
    assert_eq!(find(vec![]).len(), 3);
}

#[test]
fn config_pin_policy_applies_to_new_pins() {
    let (_d, m) = module();
    assert_eq!(m.slots().init_token(0, b"abc", &[b' '; 32]), Err(Error::PinLenRange));
    let h = ready(&m);
    assert_eq!(m.slots().set_pin(h, b"user-pin", b"x"), Err(Error::PinLenRange));
    assert_eq!(m.slots().set_pin(h, b"wrong-pin", b"new-pin-1"), Err(Error::PinIncorrect));
    m.slots().set_pin(h, b"user-pin", b"new-pin-1").unwrap();
    m.slots().login(h, ck::CKU_USER, b"new-pin-1").unwrap();
}
