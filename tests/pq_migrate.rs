//! ML-DSA keys through the trusted import behind migration
//! (`Slots::import_migrated`, the safe Rust API): a key pair another token
//! holds arrives with its token-set flags, keeps the FIPS 204 known answer
//! (the deterministic signature of tests/vectors/ml_dsa_kat.txt) and its
//! seed, and a private key whose seed is not its own is refused.

mod common;

use common::vectors::{unhex, vectors};
use common::*;
use cryptoki_sys as ck;
use ferrohsm::model::{Attribute, Mechanism, Param, Template, Value};
use ferrohsm::token::crypto::Produced;
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
    m.slots().login(h, ck::CKU_USER, USER_PIN.as_bytes()).unwrap();
    (w, m, h)
}

fn template(attrs: Vec<(u64, Value)>) -> Template {
    Template::new(attrs.into_iter().map(|(t, v)| Attribute::new(t, v)).collect())
}

fn key(class: u64, key_type: u64, set: u64, material: Vec<(u64, Value)>) -> Template {
    let mut a = vec![
        (ck::CKA_CLASS, Value::Ulong(class)),
        (ck::CKA_KEY_TYPE, Value::Ulong(key_type)),
        (ck::CKA_PARAMETER_SET, Value::Ulong(set)),
        (ck::CKA_TOKEN, Value::Bool(true)),
        (ck::CKA_LOCAL, Value::Bool(true)),
    ];
    a.extend(material);
    template(a)
}

#[test]
fn migrated_ml_dsa_keys_keep_their_known_answer() {
    let (_w, m, h) = module();
    let r = vectors("ml_dsa_kat.txt").into_iter().next().unwrap();
    assert_eq!(r[0], "44");
    let (xi, pk, sk, msg, ctx, sig) =
        (unhex(&r[1]), unhex(&r[2]), unhex(&r[3]), unhex(&r[4]), unhex(&r[5]), unhex(&r[6]));
    let private = |seed: Vec<u8>| {
        key(
            ck::CKO_PRIVATE_KEY,
            ck::CKK_ML_DSA,
            ck::CKP_ML_DSA_44,
            vec![
                (ck::CKA_VALUE, Value::bytes(sk.clone())),
                (ck::CKA_SEED, Value::bytes(seed)),
                (ck::CKA_SIGN, Value::Bool(true)),
                (ck::CKA_SENSITIVE, Value::Bool(true)),
                (ck::CKA_EXTRACTABLE, Value::Bool(false)),
                (ck::CKA_ALWAYS_SENSITIVE, Value::Bool(true)),
                (ck::CKA_NEVER_EXTRACTABLE, Value::Bool(true)),
                (ck::CKA_KEY_GEN_MECHANISM, Value::Ulong(ck::CKM_ML_DSA_KEY_PAIR_GEN)),
            ],
        )
    };
    let public = key(ck::CKO_PUBLIC_KEY, ck::CKK_ML_DSA, ck::CKP_ML_DSA_44, vec![(ck::CKA_VALUE, Value::bytes(pk))]);

    // A seed that is not the key's own: nothing is stored.
    assert!(m.slots().import_migrated(h, &[public.clone(), private(vec![0; 32])]).is_err());

    let handles = m.slots().import_migrated(h, &[public, private(xi)]).unwrap();
    let mech = Mechanism {
        mtype: ck::CKM_ML_DSA,
        param: Param::SignContext { hedge: ck::CKH_DETERMINISTIC_REQUIRED, context: ctx },
    };
    m.sessions().sign_init(h, &mech, handles[1]).unwrap();
    match &m.sessions().sign(h, &msg, Some(sig.len())).unwrap() {
        Produced::Data(d) => assert_eq!(&d[..], &sig[..]),
        Produced::Public(d) => assert_eq!(d, &sig),
        _ => panic!("no signature"),
    }
    m.sessions().verify_init(h, &mech, handles[0]).unwrap();
    m.sessions().verify(h, &msg, &sig).unwrap();
}
