//! The one error type. Every variant names the PKCS#11 return code it stands
//! for; [`Error::ck_rv`] is the only place a `CK_RV` is produced.

use cryptoki_sys as ck;
use cryptoki_sys::CK_RV;

use crate::vendor;

pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, in the spec's words. Variants without data map 1:1 to a
/// `CKR_*` code; the few with data carry a message for the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    ActionProhibited,
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    BufferTooSmall,
    CantLock,
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    CurveNotSupported,
    DataInvalid,
    DataLenRange,
    /// Storage failed (I/O, SQLite). The string goes to the log.
    Device(String),
    DomainParamsInvalid,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    FunctionNotSupported,
    /// Something that must not happen: a broken invariant, a panic caught
    /// at the boundary, a sealed value that fails to open.
    General(String),
    HostMemory,
    /// C_WaitForSlotEvent with CKF_DONT_BLOCK and nothing happened.
    NoEvent,
    /// The token's capacity is reached (a configured limit).
    DeviceMemory,
    KeyFunctionNotPermitted,
    /// A KMS key that is disabled (vendor code).
    KmsKeyDisabled,
    /// A KMS key that is pending deletion (vendor code).
    KmsKeyPendingDeletion,
    /// The audit log failed verification (vendor code); the string says where.
    AuditInvalid(String),
    /// No KMS key or alias by that name (vendor code).
    KmsNotFound,
    /// An alias by that name exists already (vendor code).
    KmsAliasExists,
    /// The ciphertext was not made under the key the caller named (vendor code).
    KmsIncorrectKey,
    /// The key awaits imported material (vendor code).
    KmsKeyPendingImport,
    /// Imported material differs from the key's (vendor code).
    KmsIncorrectMaterial,
    /// The import token is unknown, expired or for another key (vendor code).
    KmsImportTokenInvalid,
    KeyHandleInvalid,
    KeyIndigestible,
    KeyNotWrappable,
    KeySizeRange,
    KeyTypeInconsistent,
    KeyUnextractable,
    MechanismInvalid,
    MechanismParamInvalid,
    ObjectHandleInvalid,
    /// CKA_PARAMETER_SET names no set of the key type (PKCS#11 3.2).
    ParameterSetNotSupported,
    OperationActive,
    OperationNotInitialized,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    SessionCount,
    SessionExists,
    SessionHandleInvalid,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    SignatureInvalid,
    SignatureLenRange,
    SlotIdInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
    TokenNotPresent,
    TokenNotRecognized,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTypeInvalid,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyHandleInvalid,
    WrappingKeySizeRange,
    WrappingKeyTypeInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeySizeRange,
    UnwrappingKeyTypeInconsistent,
    /// A message operation cannot make another IV that was not used in it
    /// (its IV counter would wrap): CKR_KEY_EXHAUSTED.
    KeyExhausted,
}

impl Error {
    /// The return code for this error. Exhaustive on purpose: a new variant
    /// must say which code it is.
    pub fn ck_rv(&self) -> CK_RV {
        use Error::*;
        match self {
            ActionProhibited => ck::CKR_ACTION_PROHIBITED,
            ArgumentsBad => ck::CKR_ARGUMENTS_BAD,
            AttributeReadOnly => ck::CKR_ATTRIBUTE_READ_ONLY,
            AttributeSensitive => ck::CKR_ATTRIBUTE_SENSITIVE,
            AttributeTypeInvalid => ck::CKR_ATTRIBUTE_TYPE_INVALID,
            AttributeValueInvalid => ck::CKR_ATTRIBUTE_VALUE_INVALID,
            BufferTooSmall => ck::CKR_BUFFER_TOO_SMALL,
            CantLock => ck::CKR_CANT_LOCK,
            CryptokiAlreadyInitialized => ck::CKR_CRYPTOKI_ALREADY_INITIALIZED,
            CryptokiNotInitialized => ck::CKR_CRYPTOKI_NOT_INITIALIZED,
            DataInvalid => ck::CKR_DATA_INVALID,
            CurveNotSupported => ck::CKR_CURVE_NOT_SUPPORTED,
            DomainParamsInvalid => ck::CKR_DOMAIN_PARAMS_INVALID,
            DataLenRange => ck::CKR_DATA_LEN_RANGE,
            Device(_) => ck::CKR_DEVICE_ERROR,
            EncryptedDataInvalid => ck::CKR_ENCRYPTED_DATA_INVALID,
            EncryptedDataLenRange => ck::CKR_ENCRYPTED_DATA_LEN_RANGE,
            FunctionFailed => ck::CKR_FUNCTION_FAILED,
            FunctionNotSupported => ck::CKR_FUNCTION_NOT_SUPPORTED,
            General(_) => ck::CKR_GENERAL_ERROR,
            HostMemory => ck::CKR_HOST_MEMORY,
            NoEvent => ck::CKR_NO_EVENT,
            DeviceMemory => ck::CKR_DEVICE_MEMORY,
            KeyFunctionNotPermitted => ck::CKR_KEY_FUNCTION_NOT_PERMITTED,
            KmsKeyDisabled => vendor::CKR_FHSM_KEY_DISABLED,
            KmsKeyPendingDeletion => vendor::CKR_FHSM_KEY_PENDING_DELETION,
            AuditInvalid(_) => vendor::CKR_FHSM_AUDIT_INVALID,
            KmsNotFound => vendor::CKR_FHSM_NOT_FOUND,
            KmsAliasExists => vendor::CKR_FHSM_ALIAS_EXISTS,
            KmsIncorrectKey => vendor::CKR_FHSM_INCORRECT_KEY,
            KmsKeyPendingImport => vendor::CKR_FHSM_KEY_PENDING_IMPORT,
            KmsIncorrectMaterial => vendor::CKR_FHSM_INCORRECT_MATERIAL,
            KmsImportTokenInvalid => vendor::CKR_FHSM_IMPORT_TOKEN_INVALID,
            KeyHandleInvalid => ck::CKR_KEY_HANDLE_INVALID,
            KeyIndigestible => ck::CKR_KEY_INDIGESTIBLE,
            KeyNotWrappable => ck::CKR_KEY_NOT_WRAPPABLE,
            KeySizeRange => ck::CKR_KEY_SIZE_RANGE,
            KeyTypeInconsistent => ck::CKR_KEY_TYPE_INCONSISTENT,
            KeyUnextractable => ck::CKR_KEY_UNEXTRACTABLE,
            MechanismInvalid => ck::CKR_MECHANISM_INVALID,
            MechanismParamInvalid => ck::CKR_MECHANISM_PARAM_INVALID,
            ParameterSetNotSupported => ck::CKR_PARAMETER_SET_NOT_SUPPORTED,
            ObjectHandleInvalid => ck::CKR_OBJECT_HANDLE_INVALID,
            OperationActive => ck::CKR_OPERATION_ACTIVE,
            OperationNotInitialized => ck::CKR_OPERATION_NOT_INITIALIZED,
            PinIncorrect => ck::CKR_PIN_INCORRECT,
            PinInvalid => ck::CKR_PIN_INVALID,
            PinLenRange => ck::CKR_PIN_LEN_RANGE,
            PinLocked => ck::CKR_PIN_LOCKED,
            SessionCount => ck::CKR_SESSION_COUNT,
            SessionExists => ck::CKR_SESSION_EXISTS,
            SessionHandleInvalid => ck::CKR_SESSION_HANDLE_INVALID,
            SessionParallelNotSupported => ck::CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            SessionReadOnly => ck::CKR_SESSION_READ_ONLY,
            SessionReadOnlyExists => ck::CKR_SESSION_READ_ONLY_EXISTS,
            SessionReadWriteSoExists => ck::CKR_SESSION_READ_WRITE_SO_EXISTS,
            SignatureInvalid => ck::CKR_SIGNATURE_INVALID,
            SignatureLenRange => ck::CKR_SIGNATURE_LEN_RANGE,
            SlotIdInvalid => ck::CKR_SLOT_ID_INVALID,
            TemplateIncomplete => ck::CKR_TEMPLATE_INCOMPLETE,
            TemplateInconsistent => ck::CKR_TEMPLATE_INCONSISTENT,
            TokenNotPresent => ck::CKR_TOKEN_NOT_PRESENT,
            TokenNotRecognized => ck::CKR_TOKEN_NOT_RECOGNIZED,
            UserAlreadyLoggedIn => ck::CKR_USER_ALREADY_LOGGED_IN,
            UserAnotherAlreadyLoggedIn => ck::CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            UserNotLoggedIn => ck::CKR_USER_NOT_LOGGED_IN,
            UserPinNotInitialized => ck::CKR_USER_PIN_NOT_INITIALIZED,
            UserTypeInvalid => ck::CKR_USER_TYPE_INVALID,
            WrappedKeyInvalid => ck::CKR_WRAPPED_KEY_INVALID,
            WrappedKeyLenRange => ck::CKR_WRAPPED_KEY_LEN_RANGE,
            WrappingKeyHandleInvalid => ck::CKR_WRAPPING_KEY_HANDLE_INVALID,
            WrappingKeySizeRange => ck::CKR_WRAPPING_KEY_SIZE_RANGE,
            WrappingKeyTypeInconsistent => ck::CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
            UnwrappingKeyHandleInvalid => ck::CKR_UNWRAPPING_KEY_HANDLE_INVALID,
            UnwrappingKeySizeRange => ck::CKR_UNWRAPPING_KEY_SIZE_RANGE,
            UnwrappingKeyTypeInconsistent => ck::CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            KeyExhausted => ck::CKR_KEY_EXHAUSTED,
        }
    }

    /// A storage failure, logged once where it is made.
    pub fn device(msg: impl Into<String>) -> Error {
        let msg = msg.into();
        log::error!("store: {msg}");
        Error::Device(msg)
    }

    /// An integrity or invariant failure, logged once where it is made.
    pub fn general(msg: impl Into<String>) -> Error {
        let msg = msg.into();
        log::error!("{msg}");
        Error::General(msg)
    }
}

impl std::fmt::Display for Error {
    /// The kind and code; a message the error carries is printed as it is
    /// (not quoted and escaped as `Debug` would), after the kind.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Device(m) => write!(f, "Device: {m} (CK_RV {:#x})", self.ck_rv()),
            Error::General(m) => write!(f, "General: {m} (CK_RV {:#x})", self.ck_rv()),
            Error::AuditInvalid(m) => write!(f, "AuditInvalid: {m} (CK_RV {:#x})", self.ck_rv()),
            _ => write!(f, "{self:?} (CK_RV {:#x})", self.ck_rv()),
        }
    }
}

impl std::error::Error for Error {}
