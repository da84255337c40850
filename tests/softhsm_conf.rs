//! Without FERROHSM_CONF, a SoftHSM user's `softhsm2.conf` (SOFTHSM2_CONF)
//! configures the module: token directory, mechanism allow/deny lists,
//! removable slots, the store's umask.

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::Attribute;

fn with_softhsm_conf(conf: &str, check: impl FnOnce(&Module, &std::path::Path)) {
    let w = world("");
    let tokens = w.dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let path = w.dir.path().join("softhsm2.conf");
    std::fs::write(&path, conf.replace("TOKENDIR", tokens.to_str().unwrap())).unwrap();
    std::env::remove_var("FERROHSM_CONF");
    std::env::set_var("SOFTHSM2_CONF", &path);
    let p = load();
    check(&p, &tokens);
    drop(p);
    std::env::remove_var("SOFTHSM2_CONF");
}

#[test]
fn tokendir_allow_list_removable_and_umask() {
    let conf = "# from a SoftHSM setup\n\
                directories.tokendir = TOKENDIR\n\
                objectstore.backend = file\n\
                objectstore.umask = 0077\n\
                log.level = ERROR\n\
                slots.removable = true\n\
                slots.mechanisms = CKM_AES_KEY_GEN,CKM_AES_GCM,CKM_SHA256,CKM_DES_OFB64\n";
    with_softhsm_conf(conf, |p, tokens| {
        let slot = p.get_all_slots().unwrap()[0];
        assert!(p.get_slot_info(slot).unwrap().removable_device());
        let mechs = p.get_mechanism_list(slot).unwrap();
        assert_eq!(mechs, vec![MechanismType::AES_KEY_GEN, MechanismType::AES_GCM, MechanismType::SHA256]);
        assert_eq!(rv(p.get_mechanism_info(slot, MechanismType::AES_CBC)), RvError::MechanismInvalid);
        let slot = init_token(p, "from-softhsm");
        let db = tokens.join("ferrohsm.db");
        assert!(db.is_file(), "the store lives in SoftHSM's token directory");
        assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
        let s = user_session(p, slot);
        let key =
            s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(32.into()), Attribute::Encrypt(true)]).unwrap();
        // Not in the list: refused like an unknown mechanism.
        assert_eq!(rv(s.encrypt(&Mechanism::AesCbcPad([0; 16]), key, b"x")), RvError::MechanismInvalid);
        assert_eq!(rv(s.digest(&Mechanism::Sha1, b"x")), RvError::MechanismInvalid);
        s.digest(&Mechanism::Sha256, b"x").unwrap();
    });
}

#[test]
fn deny_list_and_default_umask_mapping() {
    let conf = "directories.tokendir = TOKENDIR\nobjectstore.umask = 0027\nslots.mechanisms = -CKM_AES_ECB\n";
    with_softhsm_conf(conf, |p, tokens| {
        let slot = p.get_all_slots().unwrap()[0];
        assert!(!p.get_slot_info(slot).unwrap().removable_device());
        let mechs = p.get_mechanism_list(slot).unwrap();
        assert!(!mechs.contains(&MechanismType::AES_ECB));
        assert!(mechs.contains(&MechanismType::AES_CBC) && mechs.contains(&MechanismType::RSA_PKCS_KEY_PAIR_GEN));
        init_token(p, "deny");
        let mode = std::fs::metadata(tokens.join("ferrohsm.db")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "0666 & !0027");
    });
}

#[test]
fn a_mistyped_mechanism_stops_initialize() {
    let w = common::world("[slots]\nmechanisms = \"-CKM_AES_ECBB\"\n");
    let p = cryptoki::context::Pkcs11::new(common::module_path()).unwrap();
    let r = p.initialize(cryptoki::context::CInitializeArgs::new(cryptoki::context::CInitializeFlags::OS_LOCKING_OK));
    assert!(r.is_err(), "a deny list naming no mechanism must not offer everything");
    drop(w);
}
