//! KMS semantics through the C ABI: the "FerroHSM KMS" vendor interface and
//! the standard calls where they fit (C_GenerateKey, C_WrapKey,
//! C_UnwrapKey, C_DestroyObject, C_GetAttributeValue), with bad input.

#[macro_use]
mod common;

use std::ptr::null_mut;

use common::kms::Kms;
use common::raw::*;
use common::{world, World};
use cryptoki_sys::*;
use ferrohsm::ffi::kms::CK_FHSM_KMS_WRAP_PARAMS;
use ferrohsm::vendor::*;

fn setup() -> (World, Kms) {
    let w = world("");
    let r = raw();
    init(&r);
    let h = ready_session(&r);
    (w, Kms::new(r, h))
}

fn finalize(k: &Kms) {
    assert_eq!(call!(k.r, C_Finalize(null_mut())), CKR_OK);
}

fn ulong_attr(k: &Kms, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Result<CK_ULONG, CK_RV> {
    let mut v: CK_ULONG = 0;
    let mut q = [attr(t, &mut v)];
    match call!(k.r, C_GetAttributeValue(k.h, o, q.as_mut_ptr(), 1)) {
        CKR_OK => Ok(v),
        e => Err(e),
    }
}

/// The handle of the KMS key with this id (CKA_UNIQUE_ID).
fn handle_of(k: &Kms, id: &str) -> CK_OBJECT_HANDLE {
    let mut uid = id.as_bytes().to_vec();
    let mut t = [bytes_attr(CKA_UNIQUE_ID, &mut uid)];
    assert_eq!(call!(k.r, C_FindObjectsInit(k.h, t.as_mut_ptr(), 1)), CKR_OK);
    let mut found = [0; 4];
    let mut n = 0;
    assert_eq!(call!(k.r, C_FindObjects(k.h, found.as_mut_ptr(), 4, &mut n)), CKR_OK);
    assert_eq!(call!(k.r, C_FindObjectsFinal(k.h)), CKR_OK);
    assert_eq!(n, 1, "one object with CKA_UNIQUE_ID {id}");
    found[0]
}

#[test]
fn encryption_context_binds_and_alice_cannot_be_read_as_bob() {
    let (_w, k) = setup();
    let key = k.key();
    let alice = [("user", "alice")];
    let ct = k.encrypt(&key, &alice, b"alice's secret").unwrap();
    assert_eq!(&ct[..4], b"FHK\x01", "self-describing header");
    assert_eq!(k.decrypt(&alice, &ct).unwrap(), b"alice's secret");
    assert_eq!(k.decrypt(&[("user", "bob")], &ct), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert_eq!(k.decrypt(&[("user", "alice"), ("extra", "1")], &ct), Err(CKR_ENCRYPTED_DATA_INVALID));
    // Order does not matter; the encoding is unambiguous.
    let ctx2 = [("b", "2"), ("a", "1")];
    let ct2 = k.encrypt(&key, &ctx2, b"x").unwrap();
    assert_eq!(k.decrypt(&[("a", "1"), ("b", "2")], &ct2).unwrap(), b"x");
    let ab = k.encrypt(&key, &[("ab", "c")], b"y").unwrap();
    assert_eq!(k.decrypt(&[("a", "bc")], &ab), Err(CKR_ENCRYPTED_DATA_INVALID));
    // The context is not in the ciphertext unless asked for.
    assert!(!ct.windows(5).any(|w| w == b"alice"));
    let stored = k.encrypt_flags(&key, &alice, FHSM_FLAG_STORE_CONTEXT, b"z").unwrap();
    assert!(stored.windows(5).any(|w| w == b"alice"));
    assert_eq!(k.decrypt(&[], &stored).unwrap(), b"z", "a stored context is used when none is given");
    assert_eq!(k.decrypt(&[("user", "bob")], &stored), Err(CKR_ENCRYPTED_DATA_INVALID));
    // Repeated or empty context keys are bad arguments.
    assert_eq!(k.encrypt(&key, &[("k", "1"), ("k", "2")], b"x"), Err(CKR_ARGUMENTS_BAD));
    assert_eq!(k.encrypt(&key, &[("", "1")], b"x"), Err(CKR_ARGUMENTS_BAD));
    finalize(&k);
}

#[test]
fn ciphertexts_are_checked_and_sizes_enforced() {
    let (_w, k) = setup();
    let key = k.key();
    let ct = k.encrypt(&key, &[], b"payload").unwrap();
    for n in 0..ct.len() {
        assert_eq!(k.decrypt(&[], &ct[..n]), Err(CKR_ENCRYPTED_DATA_INVALID), "truncated to {n}");
    }
    for i in 0..ct.len() {
        let mut t = ct.clone();
        t[i] ^= 0x01;
        let r = k.decrypt(&[], &t);
        assert!(matches!(r, Err(CKR_ENCRYPTED_DATA_INVALID) | Err(CKR_FHSM_NOT_FOUND)), "byte {i} altered: {r:x?}");
    }
    let mut longer = ct.clone();
    longer.push(0);
    assert_eq!(k.decrypt(&[], &longer), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert!(k.encrypt(&key, &[], &[7u8; 4096]).is_ok());
    assert_eq!(k.encrypt(&key, &[], &[7u8; 4097]), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(k.encrypt("0123456789abcdef0123456789abcdef", &[], b"x"), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(k.encrypt("alias/nobody", &[], b"x"), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(k.encrypt("not-a-key", &[], b"x"), Err(CKR_FHSM_NOT_FOUND));
    // NULL pointers where the call needs them.
    let mut len: CK_ULONG = 0;
    let r = unsafe { (k.k.FHSM_Encrypt)(k.h, null_mut(), 4, null_mut(), 0, 0, b"x".as_ptr(), 1, null_mut(), &mut len) };
    assert_eq!(r, CKR_ARGUMENTS_BAD);
    let r = unsafe {
        (k.k.FHSM_Encrypt)(k.h, key.as_ptr(), 32, null_mut(), 0, 0, b"x".as_ptr(), 1, null_mut(), null_mut())
    };
    assert_eq!(r, CKR_ARGUMENTS_BAD);
    let r = unsafe { (k.k.FHSM_Decrypt)(k.h, null_mut(), 2, ct.as_ptr(), ct.len() as CK_ULONG, null_mut(), &mut len) };
    assert_eq!(r, CKR_ARGUMENTS_BAD);
    let r =
        unsafe { (k.k.FHSM_Decrypt)(0xdead, null_mut(), 0, ct.as_ptr(), ct.len() as CK_ULONG, null_mut(), &mut len) };
    assert_eq!(r, CKR_SESSION_HANDLE_INVALID);
    // Not logged in: nothing.
    assert_eq!(call!(k.r, C_Logout(k.h)), CKR_OK);
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_USER_NOT_LOGGED_IN));
    assert_eq!(k.encrypt(&key, &[], b"x"), Err(CKR_USER_NOT_LOGGED_IN));
    finalize(&k);
}

#[test]
fn data_keys_with_and_without_plaintext_and_multi_keyring() {
    let (_w, k) = setup();
    let (a, b) = (k.key(), k.key());
    let ctx = [("bucket", "logs")];
    for len in [16, 32, 1, 1024] {
        let (plain, blob) = k.data_key(&[&a], len, &ctx, true).unwrap();
        let plain = plain.unwrap();
        assert_eq!(plain.len(), len);
        assert_eq!(k.decrypt(&ctx, &blob).unwrap(), plain);
    }
    let (none, blob) = k.data_key(&[&a], 32, &ctx, false).unwrap();
    assert!(none.is_none());
    assert_eq!(k.decrypt(&ctx, &blob).unwrap().len(), 32);
    assert_eq!(k.data_key(&[&a], 0, &ctx, true), Err(CKR_KEY_SIZE_RANGE));
    assert_eq!(k.data_key(&[&a], 1025, &ctx, true), Err(CKR_KEY_SIZE_RANGE));
    assert_eq!(k.data_key(&[], 32, &ctx, true), Err(CKR_ARGUMENTS_BAD));
    // One data key under two master keys: either recovers it.
    let (plain, blob) = k.data_key(&[&a, &b], 32, &ctx, true).unwrap();
    let plain = plain.unwrap();
    k.disable(&a).unwrap();
    assert_eq!(k.decrypt(&ctx, &blob).unwrap(), plain, "b recovers it with a disabled");
    k.enable(&a).unwrap();
    k.disable(&b).unwrap();
    assert_eq!(k.decrypt(&ctx, &blob).unwrap(), plain, "a recovers it with b disabled");
    k.disable(&a).unwrap();
    assert_eq!(k.decrypt(&ctx, &blob), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.data_key(&[&a], 32, &ctx, true), Err(CKR_FHSM_KEY_DISABLED));
    finalize(&k);
}

#[test]
fn generate_key_and_wrap_key_make_the_same_blob_format() {
    let (_w, k) = setup();
    let master = k.key();
    let mk = handle_of(&k, &master);
    // A data key as a session key, wrapped with CKM_FHSM_KMS_WRAP.
    let value = [0x5au8; 32];
    let dk = secret_key(&k.r, k.h, CKK_AES, &value);
    let ctx = common::kms::pairs(&[("tenant", "acme")]);
    let mut params = CK_FHSM_KMS_WRAP_PARAMS { pContext: ctx.as_ptr(), ulContextCount: 1 };
    let mut m = mech_with(CKM_FHSM_KMS_WRAP, &mut params);
    let mut len: CK_ULONG = 0;
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut m, mk, dk, null_mut(), &mut len)), CKR_OK);
    let mut blob = vec![0u8; len as usize];
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut m, mk, dk, blob.as_mut_ptr(), &mut len)), CKR_OK);
    blob.truncate(len as usize);
    assert_eq!(k.decrypt(&[("tenant", "acme")], &blob).unwrap(), value, "FHSM_Decrypt opens a C_WrapKey blob");
    assert_eq!(k.decrypt(&[("tenant", "other")], &blob), Err(CKR_ENCRYPTED_DATA_INVALID));
    // And C_UnwrapKey takes a GenerateDataKey blob.
    let (plain, dblob) = k.data_key(&[&master], 32, &[("tenant", "acme")], true).unwrap();
    let (mut class, mut kt, mut yes, mut no) = (CKO_SECRET_KEY, CKK_AES, 1u8, 0u8);
    let mut y2 = 1u8;
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_EXTRACTABLE, &mut yes),
        attr(CKA_SENSITIVE, &mut no),
        attr(CKA_ENCRYPT, &mut y2),
    ];
    let mut out = 0;
    let mut unwrap = |mech: &mut CK_MECHANISM, blob: &[u8], out: &mut CK_OBJECT_HANDLE| {
        let (p, n) = (blob.as_ptr() as *mut u8, blob.len() as CK_ULONG);
        call!(k.r, C_UnwrapKey(k.h, mech, mk, p, n, t.as_mut_ptr(), t.len() as CK_ULONG, out))
    };
    assert_eq!(unwrap(&mut m, &dblob, &mut out), CKR_OK);
    assert_eq!(value_of(&k.r, k.h, out), plain.unwrap());
    // Wrong context, altered blob, non-KMS wrapping key, KMS key with AES wrap.
    let mut wrong_ctx = common::kms::pairs(&[("tenant", "evil")]);
    let mut wp = CK_FHSM_KMS_WRAP_PARAMS { pContext: wrong_ctx.as_mut_ptr(), ulContextCount: 1 };
    let mut wm = mech_with(CKM_FHSM_KMS_WRAP, &mut wp);
    assert_eq!(unwrap(&mut wm, &dblob, &mut out), CKR_WRAPPED_KEY_INVALID);
    let mut bad = dblob.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(unwrap(&mut m, &bad, &mut out), CKR_WRAPPED_KEY_INVALID);
    let plain_aes = secret_key(&k.r, k.h, CKK_AES, &[1u8; 32]);
    assert_eq!(
        call!(k.r, C_WrapKey(k.h, &mut m, plain_aes, dk, null_mut(), &mut len)),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT
    );
    let mut kw = mech(CKM_AES_KEY_WRAP_KWP);
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut kw, mk, dk, null_mut(), &mut len)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    // A bad parameter: a context pointer that is NULL with a count.
    let mut np = CK_FHSM_KMS_WRAP_PARAMS { pContext: std::ptr::null(), ulContextCount: 3 };
    let mut nm = mech_with(CKM_FHSM_KMS_WRAP, &mut np);
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut nm, mk, dk, null_mut(), &mut len)), CKR_MECHANISM_PARAM_INVALID);
    // Disabled master keys wrap nothing.
    k.disable(&master).unwrap();
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut m, mk, dk, null_mut(), &mut len)), CKR_FHSM_KEY_DISABLED);
    finalize(&k);
}

#[test]
fn rotation_keeps_every_version_and_encrypts_with_the_newest() {
    let (_w, k) = setup();
    let key = k.key();
    let other = k.key();
    let v1 = k.encrypt(&key, &[], b"one").unwrap();
    assert_eq!(k.rotate(&key).unwrap(), 2);
    let v2 = k.encrypt(&key, &[], b"two").unwrap();
    assert_eq!(k.rotate(&key).unwrap(), 3);
    // Header: magic, flags, n, uid (16), version (4 BE).
    let version = |b: &[u8]| u32::from_be_bytes(b[22..26].try_into().unwrap());
    assert_eq!((version(&v1), version(&v2)), (1, 2));
    assert_eq!(k.decrypt(&[], &v1).unwrap(), b"one");
    assert_eq!(k.decrypt(&[], &v2).unwrap(), b"two");
    let v3 = k.encrypt(&key, &[], b"three").unwrap();
    assert_eq!(version(&v3), 3, "new encryptions use the newest version");
    // ReEncrypt: to the newest version of the same key, and to another key.
    let moved = k.re_encrypt(&v1, &[], &key, &[("to", "newest")]).unwrap();
    assert_eq!(version(&moved), 3);
    assert_eq!(k.decrypt(&[("to", "newest")], &moved).unwrap(), b"one");
    let elsewhere = k.re_encrypt(&v2, &[], &other, &[]).unwrap();
    assert_eq!(&elsewhere[6..22], &k.encrypt(&other, &[], b"").unwrap()[6..22], "names the other key");
    assert_eq!(k.decrypt(&[], &elsewhere).unwrap(), b"two");
    assert_eq!(k.re_encrypt(&v1, &[("wrong", "ctx")], &other, &[]), Err(CKR_ENCRYPTED_DATA_INVALID));
    let d = k.describe(&key).unwrap();
    assert_eq!(d["CurrentVersion"], 3);
    assert_eq!(d["Versions"].as_array().unwrap().len(), 3);
    // Automatic rotation periods: 90..=2560 days, 0 = off.
    for bad in [1, 89, 2561] {
        assert_eq!(k.set_rotation(&key, bad), Err(CKR_ARGUMENTS_BAD));
    }
    k.set_rotation(&key, 90).unwrap();
    let d = k.describe(&key).unwrap();
    assert_eq!((d["KeyRotationEnabled"].as_bool(), d["RotationPeriodInDays"].as_u64()), (Some(true), Some(90)));
    assert!(d["NextRotationDate"].is_string());
    k.set_rotation(&key, 0).unwrap();
    assert_eq!(k.describe(&key).unwrap()["KeyRotationEnabled"], false);
    // Through the template at creation.
    let mut period: CK_ULONG = 365;
    let rotating = k.create(&mut [attr(CKA_FHSM_ROTATION_PERIOD, &mut period)]).unwrap();
    assert_eq!(k.describe(&rotating).unwrap()["RotationPeriodInDays"], 365);
    let mut short: CK_ULONG = 30;
    assert_eq!(k.create(&mut [attr(CKA_FHSM_ROTATION_PERIOD, &mut short)]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    finalize(&k);
}

#[test]
fn disabled_keys_refuse_everything_and_come_back_unchanged() {
    let (_w, k) = setup();
    let key = k.key();
    let other = k.key();
    let ct = k.encrypt(&key, &[], b"kept").unwrap();
    let h = handle_of(&k, &key);
    assert_eq!(ulong_attr(&k, h, CKA_FHSM_KEY_STATE), Ok(FHSM_STATE_ENABLED));
    k.disable(&key).unwrap();
    assert_eq!(ulong_attr(&k, h, CKA_FHSM_KEY_STATE), Ok(FHSM_STATE_DISABLED));
    assert_eq!(k.encrypt(&key, &[], b"x"), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.data_key(&[&key], 32, &[], true), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.re_encrypt(&ct, &[], &other, &[]), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.rotate(&key), Err(CKR_FHSM_KEY_DISABLED));
    let other_ct = k.encrypt(&other, &[], b"o").unwrap();
    assert_eq!(k.re_encrypt(&other_ct, &[], &key, &[]), Err(CKR_FHSM_KEY_DISABLED));
    assert_eq!(k.describe(&key).unwrap()["KeyState"], "Disabled");
    k.enable(&key).unwrap();
    assert_eq!(k.decrypt(&[], &ct).unwrap(), b"kept");
    assert_eq!(k.describe(&key).unwrap()["CurrentVersion"], 1);
    finalize(&k);
}

#[test]
fn scheduled_deletion_destroy_object_cancel_and_purge() {
    let (_w, k) = setup();
    let key = k.key();
    let ct = k.encrypt(&key, &[], b"x").unwrap();
    for bad in [0u64, 6, 31] {
        if bad != 0 {
            assert_eq!(k.schedule(&key, bad), Err(CKR_ARGUMENTS_BAD));
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let when = k.schedule(&key, 7).unwrap();
    assert!((when as i64 - (now + 7 * 86_400) as i64).abs() < 60);
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_FHSM_KEY_PENDING_DELETION));
    assert_eq!(k.encrypt(&key, &[], b"x"), Err(CKR_FHSM_KEY_PENDING_DELETION));
    assert_eq!(k.enable(&key), Err(CKR_FHSM_KEY_PENDING_DELETION));
    assert_eq!(k.schedule(&key, 30), Err(CKR_FHSM_KEY_PENDING_DELETION));
    let d = k.describe(&key).unwrap();
    assert_eq!((d["KeyState"].as_str(), d["PendingWindowInDays"].as_u64()), (Some("PendingDeletion"), Some(7)));
    k.cancel(&key).unwrap();
    assert_eq!(k.describe(&key).unwrap()["KeyState"], "Disabled", "a cancelled deletion leaves it disabled");
    assert_eq!(k.cancel(&key), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    k.enable(&key).unwrap();
    assert_eq!(k.decrypt(&[], &ct).unwrap(), b"x");
    // C_DestroyObject schedules (30 days) instead of destroying.
    let h = handle_of(&k, &key);
    assert_eq!(call!(k.r, C_DestroyObject(k.h, h)), CKR_OK);
    assert_eq!(ulong_attr(&k, h, CKA_FHSM_KEY_STATE), Ok(FHSM_STATE_PENDING_DELETION));
    let t = ulong_attr(&k, h, CKA_FHSM_DELETION_TIME).unwrap();
    assert!((t as i64 - (now + 30 * 86_400) as i64).abs() < 60);
    // Immediate purge is the SO's.
    assert_eq!(k.purge_in(k.h, &key), Err(CKR_USER_NOT_LOGGED_IN));
    let mut so = 0;
    assert_eq!(call!(k.r, C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut so)), CKR_OK);
    assert_eq!(call!(k.r, C_Logout(k.h)), CKR_OK);
    let (p, n) = pin_args(common::SO_PIN);
    assert_eq!(call!(k.r, C_Login(so, CKU_SO, p, n)), CKR_OK);
    k.purge_in(so, &key).unwrap();
    assert_eq!(k.purge_in(so, &key), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(call!(k.r, C_Logout(so)), CKR_OK);
    let (p, n) = pin_args(common::USER_PIN);
    assert_eq!(call!(k.r, C_Login(k.h, CKU_USER, p, n)), CKR_OK);
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(k.describe(&key), Err(CKR_FHSM_NOT_FOUND));
    finalize(&k);
}

#[test]
fn aliases_name_repoint_list_and_delete() {
    let (_w, k) = setup();
    let (a, b) = (k.key(), k.key());
    k.alias("alias/orders", &a, false).unwrap();
    assert_eq!(k.alias("alias/orders", &b, false), Err(CKR_FHSM_ALIAS_EXISTS));
    for bad in ["orders", "alias/", "alias/has space", "alias/é"] {
        assert_eq!(k.alias(bad, &a, false), Err(CKR_ARGUMENTS_BAD), "{bad}");
    }
    assert_eq!(k.alias("alias/x", "0123456789abcdef0123456789abcdef", false), Err(CKR_FHSM_NOT_FOUND));
    let ct = k.encrypt("alias/orders", &[], b"o").unwrap();
    assert_eq!(&ct[6..22], &common::vectors::unhex(&a)[..], "the ciphertext names the key, not the alias");
    k.alias("alias/orders", &b, true).unwrap();
    let ct_b = k.encrypt("alias/orders", &[], b"o").unwrap();
    assert_eq!(&ct_b[6..22], &common::vectors::unhex(&b)[..]);
    assert_eq!(k.decrypt(&[], &ct).unwrap(), b"o", "old ciphertexts still open after repointing");
    assert_eq!(k.alias("alias/missing", &b, true), Err(CKR_FHSM_NOT_FOUND));
    k.alias("alias/backup", &b, false).unwrap();
    let list = k.aliases().unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|x| x["AliasName"].as_str().unwrap()).collect();
    assert_eq!(names, ["alias/backup", "alias/orders"]);
    assert_eq!(k.describe("alias/orders").unwrap()["KeyId"], b.as_str());
    let aliases = k.describe(&b).unwrap()["Aliases"].clone();
    assert_eq!(aliases.as_array().unwrap().len(), 2);
    k.delete_alias("alias/orders").unwrap();
    assert_eq!(k.delete_alias("alias/orders"), Err(CKR_FHSM_NOT_FOUND));
    assert_eq!(k.encrypt("alias/orders", &[], b"o"), Err(CKR_FHSM_NOT_FOUND));
    finalize(&k);
}

#[test]
fn master_keys_stay_in_the_token_and_serve_only_kms_calls() {
    let (w, k) = setup();
    // Import known material as a master key (origin EXTERNAL) to grep for it.
    let known: Vec<u8> = (0..32).map(|i| 0xA0 ^ i as u8).collect();
    let (mut class, mut kt, mut yes) = (CKO_SECRET_KEY, CKK_AES, 1u8);
    let mut y2 = 1u8;
    let mut v = known.clone();
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_TOKEN, &mut yes),
        attr(CKA_FHSM_KMS, &mut y2),
        bytes_attr(CKA_VALUE, &mut v),
    ];
    let mut h = 0;
    assert_eq!(call!(k.r, C_CreateObject(k.h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut h)), CKR_OK);
    let mut uid = [0u8; 32];
    let mut q = [bytes_attr(CKA_UNIQUE_ID, &mut uid)];
    assert_eq!(call!(k.r, C_GetAttributeValue(k.h, h, q.as_mut_ptr(), 1)), CKR_OK);
    let id = String::from_utf8(uid.to_vec()).unwrap();
    assert_eq!(k.describe(&id).unwrap()["Origin"], "EXTERNAL");
    assert_eq!(k.describe(&k.key()).unwrap()["Origin"], "FERROHSM");
    k.rotate(&id).unwrap();
    let ct = k.encrypt(&id, &[], b"x").unwrap();
    assert_eq!(k.decrypt(&[], &ct).unwrap(), b"x");
    // Never readable, never raw-usable, never copied.
    for t in [CKA_VALUE, CKA_FHSM_VERSIONS] {
        let mut q = [CK_ATTRIBUTE { type_: t, pValue: null_mut(), ulValueLen: 0 }];
        assert_eq!(call!(k.r, C_GetAttributeValue(k.h, h, q.as_mut_ptr(), 1)), CKR_ATTRIBUTE_SENSITIVE);
    }
    let mut gcm = mech(CKM_AES_ECB);
    assert_eq!(call!(k.r, C_EncryptInit(k.h, &mut gcm, h)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    let mut out = 0;
    assert_eq!(call!(k.r, C_CopyObject(k.h, h, null_mut(), 0, &mut out)), CKR_ACTION_PROHIBITED);
    let mut bad_state: CK_ULONG = 0;
    let mut t2 = [attr(CKA_FHSM_KEY_STATE, &mut bad_state)];
    assert_eq!(k.create(&mut t2), Err(CKR_ATTRIBUTE_READ_ONLY));
    let mut extractable = 1u8;
    assert_eq!(k.create(&mut [attr(CKA_EXTRACTABLE, &mut extractable)]), Err(CKR_TEMPLATE_INCONSISTENT));
    let mut session_only = 0u8;
    assert_eq!(k.create(&mut [attr(CKA_TOKEN, &mut session_only)]), Err(CKR_TEMPLATE_INCONSISTENT));
    let mut len16: CK_ULONG = 16;
    assert_eq!(k.create(&mut [attr(CKA_VALUE_LEN, &mut len16)]), Err(CKR_TEMPLATE_INCONSISTENT));
    // Encrypt-only and decrypt-only keys.
    let mut no = 0u8;
    let enc_only = k.create(&mut [attr(CKA_DECRYPT, &mut no)]).unwrap();
    let ct = k.encrypt(&enc_only, &[], b"x").unwrap();
    assert_eq!(k.decrypt(&[], &ct), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(k.describe(&enc_only).unwrap()["KeyUsage"], "ENCRYPT_ONLY");
    let mut no2 = 0u8;
    let dec_only = k.create(&mut [attr(CKA_ENCRYPT, &mut no2)]).unwrap();
    assert_eq!(k.encrypt(&dec_only, &[], b"x"), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(k.data_key(&[&dec_only], 32, &[], true), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(k.re_encrypt(&ct, &[], &dec_only, &[]), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    // A master key cannot arrive by unwrap.
    let kek = secret_key(&k.r, k.h, CKK_AES, &[3u8; 32]);
    let mut kwp = mech(CKM_AES_KEY_WRAP_KWP);
    let dk = secret_key(&k.r, k.h, CKK_AES, &[4u8; 32]);
    let mut wrapped = vec![0u8; 64];
    let mut wl = wrapped.len() as CK_ULONG;
    assert_eq!(call!(k.r, C_WrapKey(k.h, &mut kwp, kek, dk, wrapped.as_mut_ptr(), &mut wl)), CKR_OK);
    let (mut c2, mut k2, mut y3) = (CKO_SECRET_KEY, CKK_AES, 1u8);
    let mut ut = [attr(CKA_CLASS, &mut c2), attr(CKA_KEY_TYPE, &mut k2), attr(CKA_FHSM_KMS, &mut y3)];
    let rv = call!(k.r, C_UnwrapKey(k.h, &mut kwp, kek, wrapped.as_mut_ptr(), wl, ut.as_mut_ptr(), 3, &mut out));
    assert_eq!(rv, CKR_TEMPLATE_INCONSISTENT);
    finalize(&k);
    // The store holds no master key material in the clear.
    for f in [w.db.clone(), w.db.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&f) {
            assert!(!bytes.windows(known.len()).any(|x| x == &known[..]), "{} holds the key", f.display());
        }
    }
}

#[test]
fn describe_and_list() {
    let (_w, k) = setup();
    let mut label = b"payments".to_vec();
    let mut desc = b"card data".to_vec();
    let id = k.create(&mut [bytes_attr(CKA_LABEL, &mut label), bytes_attr(CKA_FHSM_DESCRIPTION, &mut desc)]).unwrap();
    k.alias("alias/payments", &id, false).unwrap();
    let d = k.describe("alias/payments").unwrap();
    assert_eq!(d["KeyId"], id.as_str());
    assert_eq!(d["Label"], "payments");
    assert_eq!(d["Description"], "card data");
    assert_eq!(d["KeyState"], "Enabled");
    assert_eq!(d["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(d["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(d["Aliases"][0], "alias/payments");
    assert!(d["CreationDate"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d["Versions"][0]["Version"], 1);
    assert!(d["DeletionDate"].is_null());
    let second = k.key();
    let list = k.list().unwrap();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|x| x["KeyId"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str(), second.as_str()]);
    // Buffer protocol on JSON outputs: NULL length, short buffer.
    let mut len: CK_ULONG = 0;
    assert_eq!(unsafe { (k.k.FHSM_ListKeys)(k.h, null_mut(), &mut len) }, CKR_OK);
    let mut small = vec![0u8; 4];
    let mut four: CK_ULONG = 4;
    assert_eq!(unsafe { (k.k.FHSM_ListKeys)(k.h, small.as_mut_ptr(), &mut four) }, CKR_BUFFER_TOO_SMALL);
    assert_eq!(four, len);
    assert_eq!(unsafe { (k.k.FHSM_ListKeys)(k.h, small.as_mut_ptr(), null_mut()) }, CKR_ARGUMENTS_BAD);
    finalize(&k);
}

#[test]
fn audit_records_every_event_and_detects_tampering() {
    let (w, k) = setup();
    let key = k.key();
    k.alias("alias/audited", &key, false).unwrap();
    let ct = k.encrypt("alias/audited", &[("user", "alice")], b"x").unwrap();
    assert!(k.decrypt(&[("user", "bob")], &ct).is_err());
    k.decrypt(&[("user", "alice")], &ct).unwrap();
    k.data_key(&[&key], 32, &[], false).unwrap();
    k.rotate(&key).unwrap();
    k.disable(&key).unwrap();
    k.enable(&key).unwrap();
    k.schedule(&key, 7).unwrap();
    k.cancel(&key).unwrap();
    // A standard PKCS#11 use of a token key is audited too, with its mechanism.
    let (mut class, mut kt, mut yes, mut len) = (CKO_SECRET_KEY, CKK_AES, 1u8, 32 as CK_ULONG);
    let mut t = [
        attr(CKA_CLASS, &mut class),
        attr(CKA_KEY_TYPE, &mut kt),
        attr(CKA_TOKEN, &mut yes),
        attr(CKA_VALUE_LEN, &mut len),
    ];
    let mut aes = 0;
    let mut gen = mech(CKM_AES_KEY_GEN);
    assert_eq!(call!(k.r, C_GenerateKey(k.h, &mut gen, t.as_mut_ptr(), 4, &mut aes)), CKR_OK);
    let mut ecb = mech(CKM_AES_ECB);
    assert_eq!(call!(k.r, C_EncryptInit(k.h, &mut ecb, aes)), CKR_OK);
    let mut label = b"renamed".to_vec();
    let mut lt = [bytes_attr(CKA_LABEL, &mut label)];
    assert_eq!(call!(k.r, C_SetAttributeValue(k.h, aes, lt.as_mut_ptr(), 1)), CKR_OK);
    assert_eq!(call!(k.r, C_EncryptFinal(k.h, null_mut(), &mut len)), CKR_OK);
    assert_eq!(call!(k.r, C_DestroyObject(k.h, aes)), CKR_OK);
    // A failed login as well.
    let mut other = 0;
    assert_eq!(call!(k.r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut other)), CKR_OK);
    assert_eq!(call!(k.r, C_Logout(k.h)), CKR_OK);
    let (p, n) = pin_args("wrong-pin");
    assert_eq!(call!(k.r, C_Login(other, CKU_USER, p, n)), CKR_PIN_INCORRECT);
    let (p, n) = pin_args(common::USER_PIN);
    assert_eq!(call!(k.r, C_Login(k.h, CKU_USER, p, n)), CKR_OK);

    let records = k.audit(None);
    let events: Vec<&str> = records.iter().map(|r| r["event"].as_str().unwrap()).collect();
    for e in [
        "init-token",
        "init-pin",
        "login",
        "login-failed",
        "create-kms-key",
        "create-alias",
        "kms-encrypt",
        "kms-decrypt",
        "generate-data-key",
        "rotate",
        "disable",
        "enable",
        "schedule-deletion",
        "cancel-deletion",
        "generate-key",
        "encrypt",
    ] {
        assert!(events.contains(&e), "no {e} record in {events:?}");
    }
    let decrypts: Vec<_> = records.iter().filter(|r| r["event"] == "kms-decrypt").collect();
    assert_eq!(decrypts.len(), 2);
    assert_eq!(decrypts[0]["rv"], "0x40", "the failed decrypt has its code");
    assert_eq!(decrypts[1]["rv"], "0x0");
    assert_eq!(decrypts[1]["key"], key.as_str());
    assert_eq!(decrypts[1]["version"], 1);
    assert_eq!(decrypts[1]["pid"], std::process::id());
    let ecb_use = records.iter().find(|r| r["event"] == "encrypt").unwrap();
    assert_eq!(ecb_use["mechanism"], format!("{CKM_AES_ECB:#x}"));
    assert_eq!(k.audit(Some(&key)).iter().filter(|r| r["event"] == "rotate").count(), 1);
    let n = k.audit_verify().unwrap();
    assert_eq!(n as usize, records.len());
    finalize(&k);

    // Tamper with the store directly: edit, delete, swap, truncate. Each
    // change is made on a connection that is closed again before the module
    // reads (the test binary's SQLite is another copy than the module's, and
    // two copies must not hold one file open at once).
    let sql = |f: &dyn Fn(&rusqlite::Connection)| {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        f(&db);
        db.close().unwrap();
    };
    let body = |seq: i64| -> String {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        db.query_row("SELECT body FROM audit WHERE seq = ?1", [seq], |r| r.get(0)).unwrap()
    };
    let set_body = |seq: i64, b: &str| {
        sql(&|db| {
            assert_eq!(db.execute("UPDATE audit SET body = ?1 WHERE seq = ?2", rusqlite::params![b, seq]).unwrap(), 1)
        })
    };
    let verify = || {
        let r = raw();
        init(&r);
        let mut s = 0;
        assert_eq!(call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s)), CKR_OK);
        let k = Kms::new(r, s);
        let v = k.audit_verify();
        finalize(&k);
        v
    };
    assert!(verify().is_ok());
    let b2 = body(2);
    let edited = b2.replacen("\"rv\":\"0x", "\"rv\":\"0x1", 1);
    assert_ne!(edited, b2);
    set_body(2, &edited);
    assert_eq!(verify(), Err(CKR_FHSM_AUDIT_INVALID), "an edited record");
    set_body(2, &b2);
    assert!(verify().is_ok());
    let b3 = body(3);
    set_body(2, &b3);
    set_body(3, &b2);
    assert_eq!(verify(), Err(CKR_FHSM_AUDIT_INVALID), "two batches swapped");
    set_body(2, &b2);
    set_body(3, &b3);
    assert!(verify().is_ok());
    let last: i64 = {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        db.query_row("SELECT MAX(seq) FROM audit", [], |r| r.get(0)).unwrap()
    };
    assert!(last >= 4);
    let saved: (String, Vec<u8>, Vec<u8>) = {
        let db = rusqlite::Connection::open(&w.db).unwrap();
        db.query_row("SELECT body, prev, hash FROM audit WHERE seq = ?1", [last], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    sql(&|db| {
        db.execute("DELETE FROM audit WHERE seq = ?1", [last]).unwrap();
    });
    assert_eq!(verify(), Err(CKR_FHSM_AUDIT_INVALID), "the last batch removed");
    sql(&|db| {
        db.execute(
            "INSERT INTO audit (seq, body, prev, hash) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![last, saved.0, saved.1, saved.2],
        )
        .unwrap();
    });
    assert!(verify().is_ok());
    // The last batch removed and the head moved back to the one before (no
    // hashing needed), checkpoints deleted too: the sidecar still names it.
    sql(&|db| {
        db.execute("DELETE FROM audit WHERE seq = ?1", [last]).unwrap();
        db.execute("UPDATE audit_head SET seq = ?1, hash = (SELECT hash FROM audit WHERE seq = ?1)", [last - 1])
            .unwrap();
        db.execute("DELETE FROM audit_checkpoint", []).unwrap();
    });
    assert_eq!(verify(), Err(CKR_FHSM_AUDIT_INVALID), "the tail cut and the head moved back");
    sql(&|db| {
        db.execute(
            "INSERT INTO audit (seq, body, prev, hash) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![last, saved.0, saved.1, saved.2],
        )
        .unwrap();
        db.execute("UPDATE audit_head SET seq = ?1, hash = ?2", rusqlite::params![last, saved.2]).unwrap();
    });
    assert!(verify().is_ok());
    sql(&|db| {
        db.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
    });
    assert_eq!(verify(), Err(CKR_FHSM_AUDIT_INVALID), "a middle batch removed");
}

#[test]
fn buffered_use_records_survive_finalize() {
    let (_w, k) = setup();
    let key = k.key();
    for _ in 0..10 {
        k.encrypt(&key, &[], b"x").unwrap();
    }
    finalize(&k);
    let r = raw();
    init(&r);
    let mut s = 0;
    assert_eq!(call!(r, C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s)), CKR_OK);
    let k = Kms::new(r, s);
    let uses: Vec<_> = k.audit(Some(&key)).into_iter().filter(|r| r["event"] == "kms-encrypt").collect();
    let n: u64 = uses.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(n, 10, "every use counted");
    assert!(uses.len() <= 2, "identical uses in one second are one line with a count: {uses:?}");
    finalize(&k);
}
