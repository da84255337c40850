//! A mechanism with its parameter, owned and typed once at the boundary.

use zeroize::Zeroizing;

pub type MechType = cryptoki_sys::CK_MECHANISM_TYPE;

/// Bounds on what a caller passes with a mechanism or to an operation,
/// checked at the boundary before anything is copied. The spec allows
/// lengths up to 2^32-1 (or more) for most of these; implementations cap.
pub mod bound {
    /// A GCM IV (the spec allows 1..2^32-1 bytes; 12 is the norm and
    /// anything past 256 is hashed down by GHASH anyway).
    pub const GCM_IV: usize = 256;
    /// GCM additional authenticated data carried in the parameter.
    pub const GCM_AAD: usize = 1 << 20;
    /// Any other byte string inside a parameter (an IV, an OAEP label,
    /// HKDF salt and info, ECDH public and shared data, an EdDSA context,
    /// derivation data, the whole of a pointer-free parameter).
    pub const PARAM_BYTES: usize = 64 << 10;
    /// Data items of one CK_SP800_108_KDF_PARAMS.
    pub const KDF_ITEMS: usize = 32;
    /// Additional derived keys (CK_DERIVED_KEY) of one SP 800-108 call.
    pub const KDF_EXTRA_KEYS: usize = 16;
    /// Input to one call (C_Encrypt, C_DecryptUpdate, C_Sign, ...), and the
    /// most a buffering operation (GCM decryption, which holds the
    /// ciphertext until the tag verifies; whole-message signatures) holds.
    pub const DATA: usize = 256 << 20;
    /// Encrypted input to one call, and the most ciphertext a GCM
    /// decryption buffers: `DATA` plus room for a tag or padding, so that
    /// whatever one call can encrypt one call can decrypt.
    pub const ENCRYPTED: usize = DATA + 64;

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The most a buffering operation holds in this process: the
    /// configuration's `limits.operation_bytes` (set at C_Initialize),
    /// never more than `DATA`.
    static OPERATION: AtomicUsize = AtomicUsize::new(DATA);

    pub fn operation_bytes() -> usize {
        OPERATION.load(Ordering::Relaxed)
    }

    pub fn set_operation_bytes(n: usize) {
        OPERATION.store(n.min(DATA), Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub enum Param {
    None,
    /// A parameter that is a plain byte string or a pointer-free struct
    /// (an IV, CK_AES_CTR_PARAMS, CK_MAC_GENERAL_PARAMS, ...), as laid out
    /// in memory.
    Bytes(Zeroizing<Vec<u8>>),
    /// CK_GCM_PARAMS (3.0 layout, or 2.40 without ulIvBits).
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: u64,
    },
    /// CK_CCM_PARAMS (`data_len` is ulDataLen) or
    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS (no data length, 16-byte tag).
    Aead {
        nonce: Vec<u8>,
        aad: Vec<u8>,
        tag_len: u64,
        data_len: Option<u64>,
    },
    /// CK_HKDF_PARAMS.
    Hkdf {
        extract: bool,
        expand: bool,
        prf: MechType,
        salt: HkdfSalt,
        info: Vec<u8>,
    },
    /// CK_SP800_108_KDF_PARAMS or CK_SP800_108_FEEDBACK_KDF_PARAMS: the
    /// mode (from the mechanism), the PRF, the input layout and the
    /// templates of the additional derived keys, in order.
    Kdf108 {
        mode: Kdf108Mode,
        prf: MechType,
        data: Vec<PrfData>,
        extra: Vec<crate::model::Template>,
    },
    /// CK_KEY_DERIVATION_STRING_DATA.
    DataString(Zeroizing<Vec<u8>>),
    /// CK_RSA_PKCS_PSS_PARAMS.
    Pss {
        hash: MechType,
        mgf: u64,
        salt_len: u64,
    },
    /// CK_RSA_PKCS_OAEP_PARAMS (the source is always CKZ_DATA_SPECIFIED).
    Oaep(Oaep),
    /// CK_RSA_AES_KEY_WRAP_PARAMS.
    RsaAesWrap {
        aes_bits: u64,
        oaep: Oaep,
    },
    /// CK_ECDH1_DERIVE_PARAMS.
    Ecdh {
        kdf: u64,
        shared: Vec<u8>,
        public: Vec<u8>,
    },
    /// CK_EDDSA_PARAMS.
    Eddsa {
        prehash: bool,
        context: Vec<u8>,
    },
    /// CK_SIGN_ADDITIONAL_CONTEXT (CKM_ML_DSA): hedge variant, context.
    SignContext {
        hedge: u64,
        context: Vec<u8>,
    },
    /// CK_FHSM_KMS_WRAP_PARAMS: the encryption context.
    KmsContext(Vec<(Vec<u8>, Vec<u8>)>),
    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS.
    CbcData {
        iv: [u8; 16],
        data: Zeroizing<Vec<u8>>,
    },
    /// CK_DES_CBC_ENCRYPT_DATA_PARAMS.
    DesCbcData {
        iv: [u8; 8],
        data: Zeroizing<Vec<u8>>,
    },
}

#[derive(Clone)]
pub struct Oaep {
    pub hash: MechType,
    pub mgf: u64,
    pub label: Vec<u8>,
}

#[derive(Clone)]
pub enum HkdfSalt {
    Null,
    Data(Vec<u8>),
    Key(u64),
}

/// The three SP 800-108 KDFs (§4.1 counter, §4.2 feedback with K(0) = the
/// IV, §4.3 double pipeline).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Kdf108Mode {
    Counter,
    Feedback { iv: Vec<u8> },
    DoublePipeline,
}

/// One entry of an SP 800-108 PRF input layout.
#[derive(Clone)]
pub enum PrfData {
    /// The loop counter i: counter mode's iteration variable, or the
    /// optional CK_SP800_108_COUNTER of the other two modes.
    Counter {
        little_endian: bool,
        bits: u32,
    },
    /// The feedback/pipeline iteration variable: K(i-1) or A(i).
    Iteration,
    DkmLength {
        sum_of_segments: bool,
        little_endian: bool,
        bits: u32,
    },
    Bytes(Vec<u8>),
    /// CK_SP800_108_KEY_HANDLE: another secret key's value, in place.
    Key(u64),
}

#[derive(Clone)]
pub struct Mechanism {
    pub mtype: MechType,
    pub param: Param,
}

impl Mechanism {
    pub fn new(mtype: MechType) -> Mechanism {
        Mechanism { mtype, param: Param::None }
    }

    /// How many additional keys (CK_DERIVED_KEY) the parameter asks for.
    pub fn extra_keys(&self) -> usize {
        match &self.param {
            Param::Kdf108 { extra, .. } => extra.len(),
            _ => 0,
        }
    }
}
