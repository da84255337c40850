//! The operations on asymmetric and HMAC keys: Sign, Verify,
//! GetPublicKey, GenerateMac, VerifyMac, GenerateDataKeyPair(+WithoutPlaintext),
//! Encrypt/Decrypt with RSAES_OAEP under an RSA key, and importing key
//! material (GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial).

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::api::ApiError;
use super::call::{b64, core_context, Call};
use crate::token::kms::asym::{MessageType, Spec};
use crate::token::kms::KeyInfo;

const MAX_MESSAGE: usize = 4096;
const MAX_SIGNATURE: usize = 6144;
const MAX_MAC_MESSAGE: usize = 4096;

fn hex(uid: &[u8; 16]) -> String {
    crate::hex::hex(uid)
}

/// The algorithm parameter, which must be one the key offers
/// (InvalidKeyUsageException otherwise, as KMS answers).
fn algorithm<'a>(c: &'a Call, name: &str, k: &KeyInfo) -> Result<&'a str, ApiError> {
    let alg = c.str_req(name)?;
    let spec = Spec::parse(k.spec).unwrap_or(Spec::Symmetric);
    if !spec.algorithms(&k.usage).contains(&alg) {
        return Err(ApiError::new(
            "InvalidKeyUsageException",
            format!("{alg} is not valid for {} with usage {}", k.spec, k.usage),
        ));
    }
    Ok(alg)
}

fn usage(k: &KeyInfo, want: &str, arn: &str) -> Result<(), ApiError> {
    if k.usage != want {
        return Err(ApiError::new("InvalidKeyUsageException", format!("{arn} has usage {}, not {want}", k.usage)));
    }
    Ok(())
}

fn message_type(c: &Call) -> Result<MessageType, ApiError> {
    match c.str_opt("MessageType")? {
        None => Ok(MessageType::Raw),
        Some(t) => MessageType::parse(t)
            .ok_or_else(|| ApiError::validation(format!("MessageType {t} is not RAW, DIGEST or EXTERNAL_MU"))),
    }
}

/// Serves one of this module's operations.
pub fn dispatch(c: &mut Call, op: &str) -> Result<Json, ApiError> {
    let st = c.state;
    let (m, h) = (&st.module, st.session);
    match op {
        "Sign" | "Verify" => {
            c.grant_tokens()?;
            let msg = c.blob("Message", MAX_MESSAGE)?;
            let digest = message_type(c)?;
            let k = c.key("KeyId")?;
            let arn = c.key.clone();
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            usage(&k, "SIGN_VERIFY", &arn)?;
            let alg = algorithm(c, "SigningAlgorithm", &k)?.to_string();
            if op == "Sign" {
                let sig = c.core(&arn, m.kms().sign(h, &hex(&k.uid), &msg, digest, &alg))?;
                return Ok(json!({ "KeyId": arn, "Signature": b64().encode(sig), "SigningAlgorithm": alg }));
            }
            let sig = c.blob("Signature", MAX_SIGNATURE)?;
            if !c.core(&arn, m.kms().verify(h, &hex(&k.uid), &msg, digest, &alg, &sig))? {
                return Err(ApiError::new("KMSInvalidSignatureException", "The signature is not valid."));
            }
            Ok(json!({ "KeyId": arn, "SignatureValid": true, "SigningAlgorithm": alg }))
        }
        "GenerateMac" | "VerifyMac" => {
            c.grant_tokens()?;
            let msg = c.blob("Message", MAX_MAC_MESSAGE)?;
            let k = c.key("KeyId")?;
            let arn = c.key.clone();
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            usage(&k, "GENERATE_VERIFY_MAC", &arn)?;
            let alg = algorithm(c, "MacAlgorithm", &k)?.to_string();
            if op == "GenerateMac" {
                let mac = c.core(&arn, m.kms().generate_mac(h, &hex(&k.uid), &alg, &msg))?;
                return Ok(json!({ "KeyId": arn, "Mac": b64().encode(mac), "MacAlgorithm": alg }));
            }
            let mac = c.blob("Mac", 64)?;
            if !c.core(&arn, m.kms().verify_mac(h, &hex(&k.uid), &alg, &msg, &mac))? {
                return Err(ApiError::new("KMSInvalidMacException", "The MAC is not valid."));
            }
            Ok(json!({ "KeyId": arn, "MacValid": true, "MacAlgorithm": alg }))
        }
        "GetPublicKey" => {
            c.grant_tokens()?;
            let k = c.key("KeyId")?;
            let arn = c.key.clone();
            c.authorize("kms:GetPublicKey", Some(&k), &[], &[])?;
            let spec = Spec::parse(k.spec).unwrap_or(Spec::Symmetric);
            if !spec.is_asymmetric() {
                return Err(ApiError::unsupported(format!("{arn} is not an asymmetric key")));
            }
            let public = c.core(&arn, m.kms().public_key(h, &hex(&k.uid)))?;
            let mut out = json!({
                "KeyId": arn,
                "PublicKey": b64().encode(public),
                "CustomerMasterKeySpec": k.spec,
                "KeySpec": k.spec,
                "KeyUsage": k.usage,
            });
            let algs = spec.algorithms(&k.usage);
            let field = if k.usage == "SIGN_VERIFY" { "SigningAlgorithms" } else { "EncryptionAlgorithms" };
            out[field] = json!(algs);
            Ok(out)
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            c.grant_tokens()?;
            if c.input.contains_key("Recipient") {
                return Err(ApiError::unsupported("Recipient (Nitro Enclaves attestation) is not offered"));
            }
            let pair = c.str_req("KeyPairSpec")?.to_string();
            if !matches!(Spec::parse(&pair), Some(Spec::Rsa(_) | Spec::Ecc(_))) {
                return Err(if pair.starts_with("SM2") {
                    ApiError::unsupported(format!("KeyPairSpec {pair} is not offered"))
                } else {
                    ApiError::validation(format!("KeyPairSpec {pair} is not valid"))
                });
            }
            let ctx = c.context("EncryptionContext")?;
            let k = c.key("KeyId")?;
            let arn = c.key.clone();
            c.authorize(&format!("kms:{op}"), Some(&k), &ctx, &[])?;
            if k.spec != "SYMMETRIC_DEFAULT" {
                return Err(ApiError::new(
                    "InvalidKeyUsageException",
                    format!("{arn} is not a symmetric encryption key"),
                ));
            }
            let core_ctx = core_context(&ctx);
            let without = op.ends_with("WithoutPlaintext");
            let (public, private, blob) =
                c.core(&arn, m.kms().generate_data_key_pair(h, &hex(&k.uid), &pair, &core_ctx, without))?;
            let mut out = json!({
                "KeyId": arn,
                "KeyPairSpec": pair,
                "PublicKey": b64().encode(public),
                "PrivateKeyCiphertextBlob": b64().encode(blob),
            });
            if let Some(p) = private {
                out["PrivateKeyPlaintext"] = json!(b64().encode(&p[..]));
            }
            Ok(out)
        }
        _ => Err(ApiError::new("UnknownOperationException", "")),
    }
}

/// Encrypt under an RSA ENCRYPT_DECRYPT key (RSAES_OAEP_SHA_1/256).
pub fn rsa_encrypt(c: &mut Call, k: &KeyInfo, plain: &[u8]) -> Result<Json, ApiError> {
    let arn = c.key.clone();
    usage(k, "ENCRYPT_DECRYPT", &arn)?;
    let alg = algorithm(c, "EncryptionAlgorithm", k)?.to_string();
    let ct = c.core(&arn, c.state.module.kms().rsa_encrypt(c.state.session, &hex(&k.uid), &alg, plain))?;
    Ok(json!({ "CiphertextBlob": b64().encode(ct), "KeyId": arn, "EncryptionAlgorithm": alg }))
}

/// Decrypt under an RSA key: KeyId and the algorithm are required.
pub fn rsa_decrypt(c: &mut Call, k: &KeyInfo, ct: &[u8]) -> Result<Json, ApiError> {
    let arn = c.key.clone();
    usage(k, "ENCRYPT_DECRYPT", &arn)?;
    let alg = algorithm(c, "EncryptionAlgorithm", k)?.to_string();
    let plain = c.core(&arn, c.state.module.kms().rsa_decrypt(c.state.session, &hex(&k.uid), &alg, ct))?;
    Ok(json!({ "KeyId": arn, "Plaintext": b64().encode(&plain[..]), "EncryptionAlgorithm": alg }))
}

/// Bring your own key.
pub fn import(c: &mut Call, op: &str) -> Result<Json, ApiError> {
    let st = c.state;
    let (m, h) = (&st.module, st.session);
    let k = c.key("KeyId")?;
    let arn = c.key.clone();
    c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
    if !k.external {
        return Err(ApiError::unsupported(format!("{arn}'s origin is not EXTERNAL")));
    }
    match op {
        "GetParametersForImport" => {
            let alg = c.str_req("WrappingAlgorithm")?.to_string();
            match alg.as_str() {
                "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" => {}
                "RSAES_PKCS1_V1_5" | "RSA_AES_KEY_WRAP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_256" | "SM2PKE" => {
                    return Err(ApiError::unsupported(format!("WrappingAlgorithm {alg} is not offered")))
                }
                _ => return Err(ApiError::validation(format!("WrappingAlgorithm {alg} is not valid"))),
            }
            let bits = match c.str_req("WrappingKeySpec")? {
                "RSA_2048" => 2048,
                "RSA_3072" => 3072,
                "RSA_4096" => 4096,
                s => return Err(ApiError::validation(format!("WrappingKeySpec {s} is not valid"))),
            };
            let p = c.core(&arn, m.kms().import_parameters(h, &hex(&k.uid), &alg, bits))?;
            Ok(json!({
                "KeyId": arn,
                "ImportToken": b64().encode(p.token.as_bytes()),
                "PublicKey": b64().encode(p.public_key),
                "ParametersValidTo": p.valid_to,
            }))
        }
        "ImportKeyMaterial" => {
            let token = c.blob("ImportToken", 6144)?;
            let wrapped = c.blob("EncryptedKeyMaterial", 6144)?;
            match c.str_opt("ExpirationModel")? {
                None | Some("KEY_MATERIAL_DOES_NOT_EXPIRE") => {}
                Some("KEY_MATERIAL_EXPIRES") => {
                    return Err(ApiError::unsupported(
                        "expiring key material is not offered (use KEY_MATERIAL_DOES_NOT_EXPIRE)",
                    ))
                }
                Some(e) => return Err(ApiError::validation(format!("ExpirationModel {e} is not valid"))),
            }
            let token = String::from_utf8(token)
                .map_err(|_| ApiError::new("InvalidImportTokenException", "The import token is invalid."))?;
            c.core(&arn, m.kms().import_material(h, &hex(&k.uid), &token, &wrapped))?;
            Ok(json!({}))
        }
        _ => {
            c.core(&arn, m.kms().delete_material(h, &hex(&k.uid)))?;
            Ok(json!({}))
        }
    }
}
