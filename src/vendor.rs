//! FerroHSM's vendor-defined constants (mirrored in `include/ferrohsm.h`),
//! a leaf module every layer may use.
//! All live under one vendor prefix so they cannot collide with the spec's.

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_KEY_TYPE, CK_MECHANISM_TYPE, CK_RV, CK_ULONG};

/// CKA_/CKM_/CKR_VENDOR_DEFINED | 0x0F48_0000 ("FH"); bit 30
/// (CKF_ARRAY_ATTRIBUTE) stays clear.
pub const FHSM_BASE: CK_ULONG = 0x8F48_0000;

/// CK_TRUE on a KMS master key (set at generation, never changed).
pub const CKA_FHSM_KMS: CK_ATTRIBUTE_TYPE = FHSM_BASE + 1;
/// CKF_FHSM_STATE_* (token-set; changed through the KMS interface).
pub const CKA_FHSM_KEY_STATE: CK_ATTRIBUTE_TYPE = FHSM_BASE + 2;
/// The newest key version (1 at creation, +1 per rotation).
pub const CKA_FHSM_KEY_VERSION: CK_ATTRIBUTE_TYPE = FHSM_BASE + 3;
/// Every version's material (secret part: sealed, never readable).
pub const CKA_FHSM_VERSIONS: CK_ATTRIBUTE_TYPE = FHSM_BASE + 4;
/// Creation time, seconds since the Unix epoch (UTC).
pub const CKA_FHSM_CREATION_TIME: CK_ATTRIBUTE_TYPE = FHSM_BASE + 5;
/// Automatic rotation period in days (0 = off; else 90..=2560).
pub const CKA_FHSM_ROTATION_PERIOD: CK_ATTRIBUTE_TYPE = FHSM_BASE + 6;
/// Time of the last rotation (creation time before the first).
pub const CKA_FHSM_LAST_ROTATION: CK_ATTRIBUTE_TYPE = FHSM_BASE + 7;
/// When a key pending deletion is purged (0 when not pending).
pub const CKA_FHSM_DELETION_TIME: CK_ATTRIBUTE_TYPE = FHSM_BASE + 8;
/// A free-text description.
pub const CKA_FHSM_DESCRIPTION: CK_ATTRIBUTE_TYPE = FHSM_BASE + 9;
/// When automatic rotation is next due (0 when it is off).
pub const CKA_FHSM_NEXT_ROTATION: CK_ATTRIBUTE_TYPE = FHSM_BASE + 10;
/// The key policy (JSON, as the KMS API takes it); absent: the default
/// key policy (the account's identity policies decide).
pub const CKA_FHSM_KEY_POLICY: CK_ATTRIBUTE_TYPE = FHSM_BASE + 11;
/// The key's tags (JSON `[{"TagKey":..,"TagValue":..}]`).
pub const CKA_FHSM_TAGS: CK_ATTRIBUTE_TYPE = FHSM_BASE + 12;
/// The key's spec as the KMS API names it ("RSA_2048", "HMAC_256", ...);
/// absent: SYMMETRIC_DEFAULT.
pub const CKA_FHSM_KEY_SPEC: CK_ATTRIBUTE_TYPE = FHSM_BASE + 13;
/// The key's usage ("ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC").
pub const CKA_FHSM_KEY_USAGE: CK_ATTRIBUTE_TYPE = FHSM_BASE + 14;
/// An asymmetric KMS key's public key (DER SubjectPublicKeyInfo).
pub const CKA_FHSM_PUBLIC_KEY: CK_ATTRIBUTE_TYPE = FHSM_BASE + 15;
/// "EXTERNAL" for a key whose material is imported (absent: made here).
pub const CKA_FHSM_ORIGIN: CK_ATTRIBUTE_TYPE = FHSM_BASE + 16;
/// SHA-256 of imported material: a re-import must bring the same.
pub const CKA_FHSM_MATERIAL_HASH: CK_ATTRIBUTE_TYPE = FHSM_BASE + 17;

/// The key type of an asymmetric KMS key: a secret-key object whose
/// CKA_VALUE is the private key as PKCS#8 (usable only through the KMS calls).
pub const CKK_FHSM_KMS_ASYMMETRIC: CK_KEY_TYPE = FHSM_BASE + 1;

pub const FHSM_STATE_ENABLED: CK_ULONG = 0;
pub const FHSM_STATE_DISABLED: CK_ULONG = 1;
pub const FHSM_STATE_PENDING_DELETION: CK_ULONG = 2;
/// A key made for imported material (origin EXTERNAL) that has none yet,
/// or whose material was deleted.
pub const FHSM_STATE_PENDING_IMPORT: CK_ULONG = 3;

/// Wraps a key's value as a self-describing KMS blob under a KMS master
/// key (parameter: CK_FHSM_KMS_WRAP_PARAMS, the encryption context).
pub const CKM_FHSM_KMS_WRAP: CK_MECHANISM_TYPE = FHSM_BASE + 1;

/// The key is disabled.
pub const CKR_FHSM_KEY_DISABLED: CK_RV = FHSM_BASE + 1;
/// The key is pending deletion.
pub const CKR_FHSM_KEY_PENDING_DELETION: CK_RV = FHSM_BASE + 2;
/// The audit log failed verification.
pub const CKR_FHSM_AUDIT_INVALID: CK_RV = FHSM_BASE + 3;
/// No key or alias by that name.
pub const CKR_FHSM_NOT_FOUND: CK_RV = FHSM_BASE + 4;
/// An alias by that name exists already.
pub const CKR_FHSM_ALIAS_EXISTS: CK_RV = FHSM_BASE + 5;
/// The ciphertext was not made under the key the caller named.
pub const CKR_FHSM_INCORRECT_KEY: CK_RV = FHSM_BASE + 6;
/// The key awaits imported material.
pub const CKR_FHSM_KEY_PENDING_IMPORT: CK_RV = FHSM_BASE + 7;
/// Imported material differs from what the key had.
pub const CKR_FHSM_INCORRECT_MATERIAL: CK_RV = FHSM_BASE + 8;
/// The import token is unknown, expired or for another key.
pub const CKR_FHSM_IMPORT_TOKEN_INVALID: CK_RV = FHSM_BASE + 9;
/// The application tag of pending import parameters (a wrapping key).
pub const IMPORT_APPLICATION: &[u8] = b"ferrohsm.kms.import";

/// The application tag of alias objects (CKO_DATA, CKA_LABEL "alias/NAME",
/// CKA_VALUE the target's CKA_UNIQUE_ID).
pub const ALIAS_APPLICATION: &[u8] = b"ferrohsm.kms.alias";

/// The application tags of the KMS API server's records, each a private
/// token data object (CKA_LABEL the name, CKA_VALUE a JSON document):
/// principals (users with their access keys), groups, grants.
pub const PRINCIPAL_APPLICATION: &[u8] = b"ferrohsm.iam.user";
pub const GROUP_APPLICATION: &[u8] = b"ferrohsm.iam.group";
pub const GRANT_APPLICATION: &[u8] = b"ferrohsm.kms.grant";

/// Encrypt flag: keep the encryption context in the ciphertext (readable
/// by anyone holding it).
pub const FHSM_FLAG_STORE_CONTEXT: CK_ULONG = 1;

/// The vendor interface's name for C_GetInterface.
pub const KMS_INTERFACE_NAME: &[u8] = b"FerroHSM KMS\0";
