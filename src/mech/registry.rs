//! The one mechanism table: type, key-size range and flags. It answers
//! C_GetMechanismList and C_GetMechanismInfo and tells the token layer
//! whether a mechanism may be used for an operation at all.

use cryptoki_sys as ck;
use cryptoki_sys::{CK_FLAGS, CK_MECHANISM_INFO};

use crate::error::{Error, Result};
use crate::model::MechType;

pub struct Entry {
    pub mtype: MechType,
    pub name: &'static str,
    /// Key size range in bytes, as C_GetMechanismInfo reports it for
    /// symmetric mechanisms.
    pub min_key: u64,
    pub max_key: u64,
    pub flags: CK_FLAGS,
}

macro_rules! entries {
    ($( $ck:ident, $min:expr, $max:expr, $flags:expr; )*) => {
        pub static MECHANISMS: &[Entry] = &[
            $( Entry { mtype: names::$ck, name: stringify!($ck), min_key: $min, max_key: $max, flags: $flags }, )*
        ];
    };
}

const MAC: CK_FLAGS = ck::CKF_SIGN | ck::CKF_VERIFY;
const CIPHER: CK_FLAGS = ck::CKF_ENCRYPT | ck::CKF_DECRYPT;
const WRAP: CK_FLAGS = ck::CKF_WRAP | ck::CKF_UNWRAP;
const RECOVER: CK_FLAGS = ck::CKF_SIGN_RECOVER | ck::CKF_VERIFY_RECOVER;
const PAIR: CK_FLAGS = ck::CKF_GENERATE_KEY_PAIR;
/// The 3.0 message API, single messages and Begin/Next.
const MSG: CK_FLAGS = ck::CKF_MESSAGE_ENCRYPT | ck::CKF_MESSAGE_DECRYPT | ck::CKF_MULTI_MESSAGE;
/// Curve capabilities C_GetMechanismInfo reports for EC mechanisms.
const ECF: CK_FLAGS = ck::CKF_EC_F_P | ck::CKF_EC_NAMEDCURVE | ck::CKF_EC_UNCOMPRESS;

/// The spec's names and ours, for the table.
mod names {
    pub use crate::vendor::*;
    pub use cryptoki_sys::*;
}

entries! {
    CKM_AES_KEY_GEN, 16, 32, ck::CKF_GENERATE;
    CKM_GENERIC_SECRET_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_AES_ECB, 16, 32, CIPHER;
    CKM_AES_CBC, 16, 32, CIPHER;
    CKM_AES_CBC_PAD, 16, 32, CIPHER | WRAP;
    CKM_AES_CTR, 16, 32, CIPHER;
    CKM_AES_GCM, 16, 32, CIPHER | WRAP | MSG;
    CKM_AES_CCM, 16, 32, CIPHER | MSG;
    CKM_CHACHA20_KEY_GEN, 32, 32, ck::CKF_GENERATE;
    CKM_CHACHA20_POLY1305, 32, 32, CIPHER | MSG;
    CKM_AES_KEY_WRAP, 16, 32, WRAP;
    CKM_AES_KEY_WRAP_PAD, 16, 32, WRAP;
    CKM_AES_KEY_WRAP_KWP, 16, 32, WRAP;
    // Self-describing KMS blob under a KMS master key (vendor-defined).
    CKM_FHSM_KMS_WRAP, 32, 32, WRAP;
    CKM_AES_CMAC, 16, 32, MAC;
    CKM_AES_CMAC_GENERAL, 16, 32, MAC;
    CKM_AES_MAC, 16, 32, MAC;
    CKM_HKDF_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA_1_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA224_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA256_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA384_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA512_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA3_224_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA3_256_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA3_384_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_SHA3_512_KEY_GEN, 1, 512, ck::CKF_GENERATE;
    CKM_HKDF_DERIVE, 1, 512, ck::CKF_DERIVE;
    CKM_HKDF_DATA, 1, 512, ck::CKF_DERIVE;
    CKM_SP800_108_COUNTER_KDF, 1, 512, ck::CKF_DERIVE;
    CKM_SP800_108_FEEDBACK_KDF, 1, 512, ck::CKF_DERIVE;
    CKM_SP800_108_DOUBLE_PIPELINE_KDF, 1, 512, ck::CKF_DERIVE;
    CKM_AES_ECB_ENCRYPT_DATA, 16, 32, ck::CKF_DERIVE;
    CKM_AES_CBC_ENCRYPT_DATA, 16, 32, ck::CKF_DERIVE;
    CKM_CONCATENATE_BASE_AND_KEY, 1, 512, ck::CKF_DERIVE;
    CKM_CONCATENATE_BASE_AND_DATA, 1, 512, ck::CKF_DERIVE;
    CKM_CONCATENATE_DATA_AND_BASE, 1, 512, ck::CKF_DERIVE;
    CKM_XOR_BASE_AND_DATA, 1, 512, ck::CKF_DERIVE;
    CKM_EXTRACT_KEY_FROM_KEY, 1, 512, ck::CKF_DERIVE;
    // Asymmetric sizes are in bits, as the spec has them.
    CKM_RSA_PKCS_KEY_PAIR_GEN, 1024, 16384, PAIR;
    CKM_RSA_PKCS, 1024, 16384, CIPHER | MAC | RECOVER | WRAP;
    CKM_RSA_X_509, 1024, 16384, CIPHER | MAC | RECOVER;
    CKM_RSA_PKCS_OAEP, 1024, 16384, CIPHER | WRAP;
    CKM_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_SHA1_RSA_PKCS, 1024, 16384, MAC;
    CKM_SHA224_RSA_PKCS, 1024, 16384, MAC;
    CKM_SHA256_RSA_PKCS, 1024, 16384, MAC;
    CKM_SHA384_RSA_PKCS, 1024, 16384, MAC;
    CKM_SHA512_RSA_PKCS, 1024, 16384, MAC;
    CKM_SHA1_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_SHA224_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_SHA256_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_SHA384_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_SHA512_RSA_PKCS_PSS, 1024, 16384, MAC;
    CKM_RSA_AES_KEY_WRAP, 1024, 16384, WRAP;
    CKM_EC_KEY_PAIR_GEN, 192, 521, PAIR | ECF;
    CKM_ECDSA, 192, 521, MAC | ECF;
    CKM_ECDSA_SHA1, 192, 521, MAC | ECF;
    CKM_ECDSA_SHA224, 192, 521, MAC | ECF;
    CKM_ECDSA_SHA256, 192, 521, MAC | ECF;
    CKM_ECDSA_SHA384, 192, 521, MAC | ECF;
    CKM_ECDSA_SHA512, 192, 521, MAC | ECF;
    CKM_ECDH1_DERIVE, 192, 521, ck::CKF_DERIVE | ECF;
    CKM_ECDH1_COFACTOR_DERIVE, 192, 521, ck::CKF_DERIVE | ECF;
    CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448, PAIR;
    CKM_EDDSA, 255, 448, MAC;
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 255, 448, PAIR;
    // PKCS#11 3.2 post-quantum keys; the size range is the CKP_* parameter
    // sets (1..=3: ML-KEM-512/768/1024, ML-DSA-44/65/87).
    CKM_ML_KEM_KEY_PAIR_GEN, 1, 3, PAIR;
    CKM_ML_KEM, 1, 3, ck::CKF_ENCAPSULATE | ck::CKF_DECAPSULATE;
    CKM_ML_DSA_KEY_PAIR_GEN, 1, 3, PAIR;
    CKM_ML_DSA, 1, 3, MAC;
    // DES and triple-DES (SoftHSM's set, plus the TDES MACs); key sizes
    // are not in use (0), as SoftHSM reports them.
    CKM_DES_KEY_GEN, 0, 0, ck::CKF_GENERATE;
    CKM_DES2_KEY_GEN, 0, 0, ck::CKF_GENERATE;
    CKM_DES3_KEY_GEN, 0, 0, ck::CKF_GENERATE;
    CKM_DES_ECB, 0, 0, CIPHER | WRAP;
    CKM_DES_CBC, 0, 0, CIPHER | WRAP;
    CKM_DES_CBC_PAD, 0, 0, CIPHER | WRAP;
    CKM_DES3_ECB, 0, 0, CIPHER | WRAP;
    CKM_DES3_CBC, 0, 0, CIPHER | WRAP;
    CKM_DES3_CBC_PAD, 0, 0, CIPHER | WRAP;
    CKM_DES_ECB_ENCRYPT_DATA, 0, 0, ck::CKF_DERIVE;
    CKM_DES_CBC_ENCRYPT_DATA, 0, 0, ck::CKF_DERIVE;
    CKM_DES3_ECB_ENCRYPT_DATA, 0, 0, ck::CKF_DERIVE;
    CKM_DES3_CBC_ENCRYPT_DATA, 0, 0, ck::CKF_DERIVE;
    CKM_DES3_CMAC, 0, 0, MAC;
    CKM_DES3_CMAC_GENERAL, 0, 0, MAC;
    CKM_DES3_MAC, 0, 0, MAC;
    CKM_DES3_MAC_GENERAL, 0, 0, MAC;
    // DSA and PKCS #3 DH, sizes of p in bits: generated from 1024 to
    // 3072 (FIPS 186-4's L; DH parameters to 4096), used up to aws-lc's
    // 10000 (what a SoftHSM token may hold).
    CKM_DSA_PARAMETER_GEN, 1024, 3072, ck::CKF_GENERATE;
    CKM_DSA_KEY_PAIR_GEN, 1024, 3072, PAIR;
    CKM_DSA, 1024, 10000, MAC;
    CKM_DSA_SHA1, 1024, 10000, MAC;
    CKM_DSA_SHA224, 1024, 10000, MAC;
    CKM_DSA_SHA256, 1024, 10000, MAC;
    CKM_DSA_SHA384, 1024, 10000, MAC;
    CKM_DSA_SHA512, 1024, 10000, MAC;
    CKM_DH_PKCS_PARAMETER_GEN, 1024, 4096, ck::CKF_GENERATE;
    CKM_DH_PKCS_KEY_PAIR_GEN, 1024, 10000, PAIR;
    CKM_DH_PKCS_DERIVE, 1024, 10000, ck::CKF_DERIVE;
    CKM_SHA_1, 0, 0, ck::CKF_DIGEST;
    CKM_SHA224, 0, 0, ck::CKF_DIGEST;
    CKM_SHA256, 0, 0, ck::CKF_DIGEST;
    CKM_SHA384, 0, 0, ck::CKF_DIGEST;
    CKM_SHA512, 0, 0, ck::CKF_DIGEST;
    CKM_SHA3_224, 0, 0, ck::CKF_DIGEST;
    CKM_SHA3_256, 0, 0, ck::CKF_DIGEST;
    CKM_SHA3_384, 0, 0, ck::CKF_DIGEST;
    CKM_SHA3_512, 0, 0, ck::CKF_DIGEST;
    CKM_SHA_1_HMAC, 1, 512, MAC;
    CKM_SHA_1_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA224_HMAC, 1, 512, MAC;
    CKM_SHA224_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA256_HMAC, 1, 512, MAC;
    CKM_SHA256_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA384_HMAC, 1, 512, MAC;
    CKM_SHA384_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA512_HMAC, 1, 512, MAC;
    CKM_SHA512_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA3_224_HMAC, 1, 512, MAC;
    CKM_SHA3_224_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA3_256_HMAC, 1, 512, MAC;
    CKM_SHA3_256_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA3_384_HMAC, 1, 512, MAC;
    CKM_SHA3_384_HMAC_GENERAL, 1, 512, MAC;
    CKM_SHA3_512_HMAC, 1, 512, MAC;
    CKM_SHA3_512_HMAC_GENERAL, 1, 512, MAC;
}

/// Which mechanisms a configuration offers (`slots.mechanisms`, SoftHSM's
/// syntax): all, only a list, or all but a list. Names this module does not
/// implement are ignored (they cannot be offered anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    Only(Vec<MechType>),
    AllBut(Vec<MechType>),
}

impl Filter {
    pub fn parse(list: &str) -> std::result::Result<Filter, String> {
        let list = list.trim();
        if list.eq_ignore_ascii_case("ALL") {
            return Ok(Filter::All);
        }
        let (deny, names) = match list.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, list),
        };
        let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            return Err("an empty mechanism list".into());
        }
        // A name must be a PKCS#11 mechanism: a typo in a deny list would
        // otherwise deny nothing. A standard mechanism this module does not
        // implement is simply not offered either way.
        if let Some(bad) = names.iter().find(|n| !super::names::STANDARD.contains(n)) {
            return Err(format!("{bad} is not a PKCS#11 mechanism name"));
        }
        let types = names.iter().filter_map(|n| MECHANISMS.iter().find(|e| e.name == *n)).map(|e| e.mtype).collect();
        Ok(if deny { Filter::AllBut(types) } else { Filter::Only(types) })
    }

    fn allows(&self, m: MechType) -> bool {
        match self {
            Filter::All => true,
            Filter::Only(v) => v.contains(&m),
            Filter::AllBut(v) => !v.contains(&m),
        }
    }
}

/// The process's filter, set by `C_Initialize` from the configuration and
/// read by every operation's init: an `ArcSwap`, whose load writes no cache
/// line that other threads read (an `RwLock` read does).
static FILTER: std::sync::LazyLock<arc_swap::ArcSwap<Filter>> =
    std::sync::LazyLock::new(|| arc_swap::ArcSwap::from_pointee(Filter::All));

pub fn set_filter(f: Filter) {
    FILTER.store(std::sync::Arc::new(f));
}

fn allowed(m: MechType) -> bool {
    FILTER.load().allows(m)
}

pub fn lookup(mtype: MechType) -> Result<&'static Entry> {
    MECHANISMS.iter().find(|e| e.mtype == mtype && allowed(e.mtype)).ok_or(Error::MechanismInvalid)
}

/// The registered mechanism if it supports the operation flag.
pub fn for_operation(mtype: MechType, op: CK_FLAGS) -> Result<&'static Entry> {
    let e = lookup(mtype)?;
    if e.flags & op == 0 {
        return Err(Error::MechanismInvalid);
    }
    Ok(e)
}

pub fn list() -> Vec<MechType> {
    MECHANISMS.iter().filter(|e| allowed(e.mtype)).map(|e| e.mtype).collect()
}

pub fn info(mtype: MechType) -> Result<CK_MECHANISM_INFO> {
    let e = lookup(mtype)?;
    Ok(CK_MECHANISM_INFO { ulMinKeySize: e.min_key, ulMaxKeySize: e.max_key, flags: e.flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_unique_and_has_flags() {
        for (i, e) in MECHANISMS.iter().enumerate() {
            assert!(e.flags != 0, "{}", e.name);
            assert!(e.min_key <= e.max_key, "{}", e.name);
            assert!(MECHANISMS[i + 1..].iter().all(|o| o.mtype != e.mtype), "{} twice", e.name);
        }
        assert_eq!(info(0xdead_beef).err(), Some(Error::MechanismInvalid));
        assert_eq!(for_operation(ck::CKM_AES_KEY_GEN, ck::CKF_ENCRYPT).err(), Some(Error::MechanismInvalid));
    }

    #[test]
    fn filters_parse_softhsm_lists() {
        assert_eq!(Filter::parse("ALL").unwrap(), Filter::All);
        assert_eq!(
            Filter::parse("CKM_AES_GCM, CKM_DES_OFB64").unwrap(),
            Filter::Only(vec![ck::CKM_AES_GCM]),
            "unknown names are ignored"
        );
        assert_eq!(Filter::parse("-CKM_AES_ECB").unwrap(), Filter::AllBut(vec![ck::CKM_AES_ECB]));
        assert!(Filter::parse("-").is_err());
        // A typo fails closed (a deny list that denies nothing).
        assert!(Filter::parse("-CKM_AES_ECBB").unwrap_err().contains("CKM_AES_ECBB"));
        assert!(Filter::parse("CKM_SHA256,CKM_AES_GMC").is_err());
        assert!(!Filter::AllBut(vec![ck::CKM_AES_ECB]).allows(ck::CKM_AES_ECB));
    }
}
