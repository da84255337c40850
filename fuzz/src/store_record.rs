//! `store_record`: the store's record decoder (`store::codec::decode`) and
//! sealed-row opener (`TokenKey::open`), on rows as an edited store file
//! could hold them.
//!
//! Three ways in, chosen by the input: (a) without the token key, as a
//! public object is read before login: nothing is authenticated and every
//! unsealed row reaches the value decoders; (b) with the key and the
//! input's own tag: the tag check must refuse; (c) with the key and a tag
//! (and seals) the harness computes, standing for a row set the key
//! authenticates: the decoder must still refuse, without panicking,
//! whatever the rows say. An object (c) accepts must survive
//! encode → decode (the store writes back what it reads). Also the PIN
//! record: its stored KDF parameters, salt and wrapped key, opened as at
//! login.

use arbitrary::Unstructured;
use ferrohsm::model::policy;
use ferrohsm::store::codec::{self, Sealer};
use ferrohsm::store::seal::TokenKey;
use ferrohsm::store::{KdfParams, PinRecord, Row, StoredObject};

fn key() -> &'static TokenKey {
    static K: std::sync::OnceLock<TokenKey> = std::sync::OnceLock::new();
    K.get_or_init(|| TokenKey::generate().expect("token key"))
}

const TOKEN: [u8; 16] = *b"fuzz-token-uid!!";

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mode = u.int_in_range(0u8..=4).unwrap_or(0);
    let k = key();
    if mode == 4 {
        // A PIN record as the store holds it: the KDF parameter text, the
        // salt and the wrapped token key, opened as a login would.
        let n = u.int_in_range(0..=40).unwrap_or(0);
        let text = String::from_utf8_lossy(u.bytes(n.min(u.len())).unwrap_or_default()).into_owned();
        let Ok(kdf) = KdfParams::from_text(&text) else { return };
        let sl = u.int_in_range(0..=32).unwrap_or(16);
        let salt = u.bytes(sl.min(u.len())).unwrap_or_default().to_vec();
        let wrapped = u.bytes(u.len()).unwrap_or_default().to_vec();
        // Parameters within the module's limits can still cost seconds
        // (2 GiB, 16 passes: by design, an administrator's choice); those
        // are not run here. Beyond the limits the module must refuse at
        // once, so they are.
        let within = kdf.check().is_ok();
        if within && u64::from(kdf.m_cost_kib) * u64::from(kdf.t_cost) > 16 << 10 {
            return;
        }
        let r = TokenKey::unwrap_with_pin(b"fuzz-user-pin", &PinRecord { salt, wrapped, kdf });
        assert!(within || r.is_err(), "KDF parameters beyond the limits were used");
        return;
    }
    if mode == 3 {
        // The opener alone, on arbitrary sealed bytes.
        let atype: u64 = u.arbitrary().unwrap_or(0);
        let uid: [u8; 16] = u.arbitrary().unwrap_or_default();
        let rest = u.take_rest();
        let _ = k.open(&TOKEN, &uid, atype, rest);
        return;
    }
    let uid: [u8; 16] = u.arbitrary().unwrap_or_default();
    let private: bool = u.arbitrary().unwrap_or(false);
    let version: u64 = u.arbitrary().unwrap_or(1);
    let n = u.int_in_range(0..=16).unwrap_or(0);
    let mut rows = Vec::new();
    for _ in 0..n {
        let atype = match u.int_in_range(0u8..=9).unwrap_or(0) {
            0 => u.arbitrary().unwrap_or(0),
            1 => cryptoki_sys::CKA_CLASS,
            _ => u.choose(policy::RULES).map(|r| r.atype).unwrap_or(0),
        };
        let sealed: bool = u.arbitrary().unwrap_or(false);
        let len = u.int_in_range(0..=96).unwrap_or(0);
        let mut value = u.bytes(len.min(u.len())).map(<[u8]>::to_vec).unwrap_or_default();
        if atype == cryptoki_sys::CKA_CLASS && value.len() == 8 {
            // Steer the class towards real ones: it decides the rest.
            let c = [0u64, 1, 2, 3, 4, 7][value[0] as usize % 6];
            value = c.to_ne_bytes().to_vec();
        }
        if mode == 2 && sealed {
            value = k.seal(&TOKEN, &uid, atype, &value).expect("seal");
        }
        rows.push(Row { atype, sealed, value, idx: None });
    }
    let tag_bytes: Option<[u8; 32]> = u.arbitrary().unwrap_or(None);
    let mut stored = StoredObject { id: 1, uid, private, version, tag: tag_bytes, rows };
    let s = match mode {
        0 => Sealer { token_uid: &TOKEN, key: None },
        _ => Sealer { token_uid: &TOKEN, key: Some(k) },
    };
    if mode == 2 {
        stored.rows.sort_by_key(|r| r.atype);
        stored.tag = Some(k.object_tag(&TOKEN, &stored));
    }
    let Ok(obj) = codec::decode(s, &stored) else { return };
    if mode == 2 {
        let again = codec::encode(s, stored.id, &stored.uid, &obj).expect("an object the decoder accepted encodes");
        codec::decode(s, &again).expect("what the codec wrote decodes");
    }
}
