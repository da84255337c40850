//! The KMS API's errors: AWS's exception names and HTTP statuses. This is
//! the one place an API error is made from a token error (as
//! `Error::ck_rv` is for PKCS#11 return codes).

use serde_json::{json, Value as Json};

use crate::error::Error;

/// An error answer: `{"__type": code, "message": message}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        let status = match code {
            "KMSInternalException" | "DependencyTimeoutException" => 500,
            "RequestEntityTooLargeException" => 413,
            "AccessDeniedException" => 400,
            _ => 400,
        };
        ApiError { status, code, message: message.into() }
    }
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("NotFoundException", message)
    }
    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new("UnsupportedOperationException", message)
    }
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }
    pub fn body(&self) -> Json {
        json!({ "__type": self.code, "message": self.message })
    }

    /// A token error met while serving a request on `what` (a key ARN, an
    /// alias name).
    pub fn from_token(e: &Error, what: &str) -> ApiError {
        use Error::*;
        match e {
            KmsNotFound => ApiError::not_found(format!("{what} is not found.")),
            KmsKeyDisabled => ApiError::new("DisabledException", format!("{what} is disabled.")),
            KmsKeyPendingDeletion => ApiError::new("KMSInvalidStateException", format!("{what} is pending deletion.")),
            KmsKeyPendingImport => ApiError::new("KMSInvalidStateException", format!("{what} is pending import.")),
            KmsIncorrectMaterial => ApiError::new(
                "IncorrectKeyMaterialException",
                "The key material is not the material previously imported into this key (or not 256 bits).",
            ),
            KmsImportTokenInvalid => ApiError::new(
                "InvalidImportTokenException",
                "The import token is invalid, expired, or for another key.",
            ),
            KmsAliasExists => ApiError::new("AlreadyExistsException", format!("{what} already exists")),
            KmsIncorrectKey => ApiError::new(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ),
            EncryptedDataInvalid | EncryptedDataLenRange | WrappedKeyInvalid => ApiError::new(
                "InvalidCiphertextException",
                "The ciphertext is invalid or was made under another context.",
            ),
            KeyFunctionNotPermitted | KeyTypeInconsistent => {
                ApiError::new("InvalidKeyUsageException", format!("{what}'s key usage does not allow this operation."))
            }
            SignatureInvalid | SignatureLenRange => ApiError::new("KMSInvalidSignatureException", ""),
            DataLenRange
            | KeySizeRange
            | ArgumentsBad
            | AttributeValueInvalid
            | TemplateInconsistent
            | MechanismParamInvalid => ApiError::validation(format!("{what}: a parameter is out of range ({e:?})")),
            FunctionNotSupported | MechanismInvalid => {
                ApiError::unsupported(format!("{what}: this operation is not supported for this key"))
            }
            Device(_) => ApiError::new("KMSInternalException", "The store is unavailable; retry."),
            _ => {
                log::error!("api: {what}: {e}");
                ApiError::new("KMSInternalException", "An internal error occurred.")
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
