//! The trusted import behind `ferrohsm migrate-softhsm`, through the safe
//! Rust API: token-set attributes are kept as given, every object of one
//! call is stored or none is, and the ordinary C_CreateObject path still
//! refuses those attributes.

mod common;

use common::*;
use cryptoki_sys as ck;
use ferrohsm::error::Error;
use ferrohsm::model::{Attribute, Template, Value};
use ferrohsm::token::Module;

fn module() -> (World, Module, u64) {
    let w = world("");
    let m = Module::new(ferrohsm::config::Config::load().unwrap()).unwrap();
    let slot = m.slots().slot_list().unwrap()[0];
    m.slots().init_token(slot, SO_PIN.as_bytes(), &[b' '; 32]).unwrap();
    let h = m.sessions().open_session(slot, ck::CKF_SERIAL_SESSION | ck::CKF_RW_SESSION).unwrap();
    m.slots().login(h, ck::CKU_SO, SO_PIN.as_bytes()).unwrap();
    m.slots().init_pin(h, USER_PIN.as_bytes()).unwrap();
    m.slots().logout(h).unwrap();
    (w, m, h)
}

fn secret(key_type: u64, value: &[u8], flags: &[(u64, bool)]) -> Template {
    let mut t = vec![
        Attribute::new(ck::CKA_CLASS, Value::Ulong(ck::CKO_SECRET_KEY)),
        Attribute::new(ck::CKA_KEY_TYPE, Value::Ulong(key_type)),
        Attribute::new(ck::CKA_TOKEN, Value::Bool(true)),
        Attribute::new(ck::CKA_VALUE, Value::bytes(value.to_vec())),
        Attribute::new(ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(ck::CKM_AES_KEY_GEN)),
    ];
    t.extend(flags.iter().map(|&(a, b)| Attribute::new(a, Value::Bool(b))));
    Template::new(t)
}

const NEVER_OUT: &[(u64, bool)] = &[
    (ck::CKA_SENSITIVE, true),
    (ck::CKA_EXTRACTABLE, false),
    (ck::CKA_LOCAL, true),
    (ck::CKA_ALWAYS_SENSITIVE, true),
    (ck::CKA_NEVER_EXTRACTABLE, true),
];

fn count(m: &Module, h: u64) -> usize {
    m.objects().find_init(h, &Template::new(vec![])).unwrap();
    let n = m.objects().find_next(h, 100).unwrap().len();
    m.objects().find_final(h).unwrap();
    n
}

#[test]
fn trusted_import_keeps_token_set_flags_and_is_all_or_nothing() {
    let (_w, m, h) = module();
    let good = secret(ck::CKK_AES, &[7; 32], NEVER_OUT);
    assert_eq!(m.slots().import_migrated(h, std::slice::from_ref(&good)), Err(Error::UserNotLoggedIn));
    m.slots().login(h, ck::CKU_USER, USER_PIN.as_bytes()).unwrap();

    // One object it cannot hold (a CAST5 key) and nothing is stored.
    let cast5 = secret(ck::CKK_CAST5, &[1; 16], &[]);
    assert!(m.slots().import_migrated(h, &[good.clone(), cast5]).is_err());
    assert_eq!(count(&m, h), 0);
    // Flags that contradict each other are refused.
    let bad = secret(ck::CKK_AES, &[7; 32], &[(ck::CKA_SENSITIVE, false), (ck::CKA_ALWAYS_SENSITIVE, true)]);
    assert_eq!(m.slots().import_migrated(h, &[bad]), Err(Error::TemplateInconsistent));
    assert_eq!(count(&m, h), 0);

    let handles = m.slots().import_migrated(h, &[good.clone(), secret(ck::CKK_AES, &[8; 16], &[])]).unwrap();
    assert_eq!(handles.len(), 2);
    assert_eq!(count(&m, h), 2);
    let types = [ck::CKA_LOCAL, ck::CKA_ALWAYS_SENSITIVE, ck::CKA_NEVER_EXTRACTABLE, ck::CKA_KEY_GEN_MECHANISM];
    let got: Vec<String> = m
        .objects()
        .get_attributes(h, handles[0], &types)
        .unwrap()
        .into_iter()
        .map(|a| match a {
            ferrohsm::token::objects::AttrOut::Value(v) => format!("{v:?}"),
            _ => "?".into(),
        })
        .collect();
    assert_eq!(got, vec!["true", "true", "true", "0x1080"]);
    // The second key: no token-set flags given, the usual defaults.
    let second = m.objects().get_attributes(h, handles[1], &[ck::CKA_LOCAL, ck::CKA_NEVER_EXTRACTABLE]).unwrap();
    assert!(second.iter().all(|a| matches!(a, ferrohsm::token::objects::AttrOut::Value(Value::Bool(false)))));
    // The ordinary path still refuses what only a token may set.
    assert_eq!(m.objects().create_object(h, &good), Err(Error::AttributeReadOnly));
}
