//! The KMS operations: each takes the request's JSON, checks it as AWS
//! does, authorizes the caller (key policy, identity policies, grants) and
//! calls the token core.

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::api::ApiError;
use super::call::{b64, core_context, epoch, length_error, Call};
use super::iam::{self, Policy, PolicyKind};
use crate::token::keyid::uuid;
use crate::token::kms::KeyInfo;
use crate::vendor::*;

type Out = Result<Json, ApiError>;

/// AWS's limits.
const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;
const MAX_DESCRIPTION: usize = 8192;
const MAX_POLICY: usize = 32_768;
const MAX_TAGS: usize = 50;

fn check_alias_name(name: &str) -> Result<(), ApiError> {
    if name.starts_with("alias/aws/") {
        return Err(ApiError::new("NotAuthorizedException", "alias/aws/ is reserved for AWS managed keys"));
    }
    if !crate::token::kms::valid_alias(name) {
        return Err(ApiError::new(
            "InvalidAliasNameException",
            format!("Alias {name} is invalid: alias/ then 1 to 250 of A-Z a-z 0-9 / _ -"),
        ));
    }
    Ok(())
}

fn tags_of(k: &KeyInfo) -> Vec<(String, String)> {
    let Some(b) = &k.tags else { return vec![] };
    serde_json::from_slice::<Vec<(String, String)>>(b).unwrap_or_default()
}

fn tags_json(tags: &[(String, String)]) -> Json {
    Json::Array(tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect())
}

fn parse_tags(v: Option<&Json>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(v) = v else { return Ok(vec![]) };
    let Json::Array(a) = v else { return Err(ApiError::serialization("Tags must be a list")) };
    let mut out = Vec::new();
    for t in a {
        let (Some(Json::String(k)), v) = (t.get("TagKey"), t.get("TagValue")) else {
            return Err(ApiError::validation("each tag needs a TagKey"));
        };
        let v = match v {
            Some(Json::String(v)) => v.clone(),
            None | Some(Json::Null) => return Err(ApiError::validation("each tag needs a TagValue")),
            _ => return Err(ApiError::serialization("TagValue must be a string")),
        };
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
            return Err(ApiError::new(
                "TagException",
                format!("Tag {k} is invalid: keys 1..128 characters (not aws:), values up to 256"),
            ));
        }
        out.retain(|(x, _): &(String, String)| x != k);
        out.push((k.clone(), v));
    }
    Ok(out)
}

/// Serves one operation.
pub fn dispatch(c: &mut Call, op: &str) -> Out {
    let st = c.state;
    let h = st.session;
    let m = &st.module;
    match op {
        "CreateKey" => {
            c.authorize("kms:CreateKey", None, &[], &[])?;
            let spec_name = c
                .str_opt("KeySpec")?
                .or(c.str_opt("CustomerMasterKeySpec")?)
                .unwrap_or("SYMMETRIC_DEFAULT")
                .to_string();
            let spec = match crate::token::kms::asym::Spec::parse(&spec_name) {
                Some(s) => s,
                None if spec_name == "ECC_SECG_P256K1" || spec_name.starts_with("SM2") => {
                    return Err(ApiError::unsupported(format!(
                        "KeySpec {spec_name} is not offered by this server; see docs/kms-api.md"
                    )))
                }
                None => return Err(ApiError::validation(format!("KeySpec {spec_name} is not valid"))),
            };
            let usage = c.str_opt("KeyUsage")?.unwrap_or(spec.usages()[0]).to_string();
            if !spec.usages().contains(&usage.as_str()) {
                return Err(ApiError::validation(format!("KeyUsage {usage} is not valid for KeySpec {spec_name}")));
            }
            let external = match c.str_opt("Origin")?.unwrap_or("AWS_KMS") {
                "AWS_KMS" => false,
                "EXTERNAL" if spec_name == "SYMMETRIC_DEFAULT" => true,
                "EXTERNAL" => {
                    return Err(ApiError::unsupported("imported material is offered for SYMMETRIC_DEFAULT keys only"))
                }
                "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE" => {
                    return Err(ApiError::unsupported("custom key stores are not offered"))
                }
                o => return Err(ApiError::validation(format!("Origin {o} is not valid"))),
            };
            if c.bool_opt("MultiRegion")? == Some(true) {
                return Err(ApiError::unsupported("multi-Region keys are not offered"));
            }
            let desc = c.str_opt("Description")?.unwrap_or("").to_string();
            if desc.len() > MAX_DESCRIPTION {
                return Err(length_error("Description", MAX_DESCRIPTION));
            }
            let tags = parse_tags(c.input.get("Tags"))?;
            if tags.len() > MAX_TAGS {
                return Err(ApiError::new("TagException", "at most 50 tags"));
            }
            let policy = c.str_opt("Policy")?.map(str::to_string);
            if let Some(p) = &policy {
                let bypass = c.bool_opt("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
                check_key_policy(c, p, (!bypass).then(|| "*".to_string()))?;
            }
            let mut attrs = vec![crate::model::Attribute {
                atype: CKA_FHSM_DESCRIPTION,
                value: crate::model::Value::bytes(desc.as_bytes()),
            }];
            if external {
                attrs.push(crate::model::Attribute {
                    atype: CKA_FHSM_ORIGIN,
                    value: crate::model::Value::bytes(&b"EXTERNAL"[..]),
                });
            }
            if let Some(p) = &policy {
                attrs.push(crate::model::Attribute {
                    atype: CKA_FHSM_KEY_POLICY,
                    value: crate::model::Value::bytes(p.as_bytes()),
                });
            }
            if !tags.is_empty() {
                let t = serde_json::to_vec(&tags).unwrap_or_default();
                attrs.push(crate::model::Attribute { atype: CKA_FHSM_TAGS, value: crate::model::Value::bytes(t) });
            }
            let id = c.core(
                "CreateKey",
                m.kms().create_key_spec(h, &spec_name, &usage, crate::model::Template::new(attrs)),
            )?;
            let info = c.key_named(&id)?;
            Ok(json!({ "KeyMetadata": c.metadata(&info) }))
        }
        "DescribeKey" => {
            c.grant_tokens()?;
            let k = c.key("KeyId")?;
            c.authorize("kms:DescribeKey", Some(&k), &[], &[])?;
            Ok(json!({ "KeyMetadata": c.metadata(&k) }))
        }
        "ListKeys" => {
            c.authorize("kms:ListKeys", None, &[], &[])?;
            let (limit, start) = paging(c)?;
            let keys = c.core("ListKeys", m.kms().key_infos(h))?;
            let page: Vec<Json> = keys
                .iter()
                .skip(start)
                .take(limit)
                .map(|k| json!({ "KeyId": uuid(&k.uid), "KeyArn": c.key_arn(&k.uid) }))
                .collect();
            Ok(paged(json!({ "Keys": page }), start + limit, keys.len()))
        }
        "UpdateKeyDescription" => {
            let k = c.key("KeyId")?;
            let desc = c.str_req("Description")?.to_string();
            if desc.len() > MAX_DESCRIPTION {
                return Err(length_error("Description", MAX_DESCRIPTION));
            }
            c.authorize("kms:UpdateKeyDescription", Some(&k), &[], &[])?;
            let key = c.key.clone();
            c.core(
                &key,
                m.kms().set_meta(
                    h,
                    &crate::hex::hex(&k.uid),
                    CKA_FHSM_DESCRIPTION,
                    desc.into_bytes(),
                    "update-description",
                ),
            )?;
            Ok(json!({}))
        }
        "EnableKey" | "DisableKey" => {
            let k = c.key("KeyId")?;
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            if k.state == FHSM_STATE_PENDING_DELETION {
                return Err(ApiError::new("KMSInvalidStateException", format!("{} is pending deletion.", c.key)));
            }
            let key = c.key.clone();
            c.core(&key, m.kms().set_enabled(h, &crate::hex::hex(&k.uid), op == "EnableKey"))?;
            Ok(json!({}))
        }
        "ScheduleKeyDeletion" => {
            let k = c.key("KeyId")?;
            let days = c.int_opt("PendingWindowInDays")?.unwrap_or(30);
            if !(7..=30).contains(&days) {
                return Err(ApiError::validation("PendingWindowInDays must be between 7 and 30"));
            }
            c.authorize("kms:ScheduleKeyDeletion", Some(&k), &[], &[])?;
            let key = c.key.clone();
            if k.state == FHSM_STATE_PENDING_DELETION {
                return Err(ApiError::new("KMSInvalidStateException", format!("{key} is pending deletion.")));
            }
            let when = c.core(&key, m.kms().schedule_deletion(h, &crate::hex::hex(&k.uid), days as u64))?;
            Ok(
                json!({ "KeyId": key, "DeletionDate": epoch(when), "KeyState": "PendingDeletion", "PendingWindowInDays": days }),
            )
        }
        "CancelKeyDeletion" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:CancelKeyDeletion", Some(&k), &[], &[])?;
            let key = c.key.clone();
            if k.state != FHSM_STATE_PENDING_DELETION {
                return Err(ApiError::new("KMSInvalidStateException", format!("{key} is not pending deletion.")));
            }
            c.core(&key, m.kms().cancel_deletion(h, &crate::hex::hex(&k.uid)))?;
            Ok(json!({ "KeyId": key }))
        }
        "EnableKeyRotation" | "DisableKeyRotation" => {
            let k = c.key("KeyId")?;
            let days = if op == "EnableKeyRotation" {
                let d = c.int_opt("RotationPeriodInDays")?.unwrap_or(365);
                if !(90..=2560).contains(&d) {
                    return Err(ApiError::validation("RotationPeriodInDays must be between 90 and 2560"));
                }
                d as u64
            } else {
                0
            };
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            let key = c.key.clone();
            state_must_allow(&k, &key)?;
            c.core(&key, m.kms().set_rotation(h, &crate::hex::hex(&k.uid), days))?;
            Ok(json!({}))
        }
        "GetKeyRotationStatus" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:GetKeyRotationStatus", Some(&k), &[], &[])?;
            let mut out = json!({ "KeyId": c.key, "KeyRotationEnabled": k.rotation_days != 0 });
            if k.rotation_days != 0 {
                out["RotationPeriodInDays"] = json!(k.rotation_days);
                out["NextRotationDate"] = epoch(k.next_rotation);
            }
            Ok(out)
        }
        "RotateKeyOnDemand" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:RotateKeyOnDemand", Some(&k), &[], &[])?;
            let key = c.key.clone();
            state_must_allow(&k, &key)?;
            c.core(&key, m.kms().rotate(h, &crate::hex::hex(&k.uid)))?;
            Ok(json!({ "KeyId": key }))
        }
        "ListKeyRotations" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:ListKeyRotations", Some(&k), &[], &[])?;
            let (limit, start) = paging(c)?;
            let rotations: Vec<Json> = k
                .versions
                .iter()
                .filter(|(n, _)| *n > 1)
                .map(|(_, t)| json!({ "KeyId": c.key, "RotationDate": epoch(*t) }))
                .collect();
            let total = rotations.len();
            let page: Vec<Json> = rotations.into_iter().skip(start).take(limit).collect();
            Ok(paged(json!({ "Rotations": page }), start + limit, total))
        }
        "GenerateRandom" => {
            let n = c.int_opt("NumberOfBytes")?.ok_or_else(|| ApiError::validation("NumberOfBytes is required"))?;
            if !(1..=1024).contains(&n) {
                return Err(ApiError::validation("NumberOfBytes must be between 1 and 1024"));
            }
            if c.str_opt("CustomKeyStoreId")?.is_some() {
                return Err(ApiError::new("CustomKeyStoreNotFoundException", "custom key stores are not offered"));
            }
            c.authorize("kms:GenerateRandom", None, &[], &[])?;
            let mut out = zeroize::Zeroizing::new(vec![0u8; n as usize]);
            c.core("GenerateRandom", crate::sys::rand::random(&mut out))?;
            Ok(json!({ "Plaintext": b64().encode(&out[..]) }))
        }
        "Encrypt" => {
            c.grant_tokens()?;
            let plain = zeroize::Zeroizing::new(c.blob("Plaintext", MAX_PLAINTEXT)?);
            let ctx = c.context("EncryptionContext")?;
            let k = c.key("KeyId")?;
            c.authorize("kms:Encrypt", Some(&k), &ctx, &[])?;
            if k.spec != "SYMMETRIC_DEFAULT" {
                return super::asym::rsa_encrypt(c, &k, &plain);
            }
            algorithm(c, "EncryptionAlgorithm")?;
            let key = c.key.clone();
            let blob = c.core(&key, encrypt(c, &k, &ctx, &plain))?;
            Ok(
                json!({ "CiphertextBlob": b64().encode(blob), "KeyId": key, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT" }),
            )
        }
        "Decrypt" => {
            c.grant_tokens()?;
            if c.input.contains_key("Recipient") {
                return Err(ApiError::unsupported("Recipient (Nitro Enclaves attestation) is not offered"));
            }
            let blob = c.blob("CiphertextBlob", MAX_CIPHERTEXT)?;
            let ctx = c.context("EncryptionContext")?;
            if let Some(id) = c.str_opt("KeyId")?.map(str::to_string) {
                let k = c.key_named(&id)?;
                if k.spec != "SYMMETRIC_DEFAULT" {
                    c.authorize("kms:Decrypt", Some(&k), &ctx, &[])?;
                    return super::asym::rsa_decrypt(c, &k, &blob);
                }
            }
            algorithm(c, "EncryptionAlgorithm")?;
            let (k, plain) = decrypt(c, &blob, &ctx, "KeyId", "kms:Decrypt")?;
            Ok(
                json!({ "KeyId": c.key_arn(&k.uid), "Plaintext": b64().encode(&plain[..]), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT" }),
            )
        }
        "ReEncrypt" => {
            c.grant_tokens()?;
            algorithm(c, "SourceEncryptionAlgorithm")?;
            algorithm(c, "DestinationEncryptionAlgorithm")?;
            let blob = c.blob("CiphertextBlob", MAX_CIPHERTEXT)?;
            let src_ctx = c.context("SourceEncryptionContext")?;
            let dst_ctx = c.context("DestinationEncryptionContext")?;
            let dest = c.key("DestinationKeyId")?;
            let dest_arn = c.key.clone();
            c.authorize("kms:ReEncryptTo", Some(&dest), &dst_ctx, &[])?;
            let (src, plain) = decrypt(c, &blob, &src_ctx, "SourceKeyId", "kms:ReEncryptFrom")?;
            let out = c.core(&dest_arn, encrypt(c, &dest, &dst_ctx, &plain))?;
            c.key = dest_arn.clone();
            Ok(json!({
                "CiphertextBlob": b64().encode(out), "SourceKeyId": c.key_arn(&src.uid), "KeyId": dest_arn,
                "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            }))
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            c.grant_tokens()?;
            if c.input.contains_key("Recipient") {
                return Err(ApiError::unsupported("Recipient (Nitro Enclaves attestation) is not offered"));
            }
            let len = match (c.str_opt("KeySpec")?, c.int_opt("NumberOfBytes")?) {
                (Some("AES_256"), None) => 32,
                (Some("AES_128"), None) => 16,
                (Some(s), None) => return Err(ApiError::validation(format!("KeySpec {s} is not AES_256 or AES_128"))),
                (None, Some(n)) if (1..=1024).contains(&n) => n as usize,
                (None, Some(_)) => return Err(ApiError::validation("NumberOfBytes must be between 1 and 1024")),
                (None, None) => return Err(ApiError::validation("Please specify either number of bytes or key spec.")),
                (Some(_), Some(_)) => {
                    return Err(ApiError::validation("Please specify either number of bytes or key spec, not both."))
                }
            };
            let ctx = c.context("EncryptionContext")?;
            let k = c.key("KeyId")?;
            c.authorize(&format!("kms:{op}"), Some(&k), &ctx, &[])?;
            let key = c.key.clone();
            let without = op == "GenerateDataKeyWithoutPlaintext";
            let core_ctx = core_context(&ctx);
            let dk = c.core(
                &key,
                m.kms().generate_data_key(h, &[&crate::hex::hex(&k.uid)], len, &core_ctx, false, without),
            )?;
            let mut out = json!({ "CiphertextBlob": b64().encode(&dk.blob), "KeyId": key });
            if let Some(p) = &dk.plaintext {
                out["Plaintext"] = json!(b64().encode(&p[..]));
            }
            Ok(out)
        }
        "CreateAlias" | "UpdateAlias" => {
            let name = c.str_req("AliasName")?.to_string();
            check_alias_name(&name)?;
            let k = c.key("TargetKeyId")?;
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            if op == "UpdateAlias" {
                // As in KMS: moving an alias needs the permission on the key
                // it points to now as well as on the new one.
                let target_arn = c.key.clone();
                let current = c.key_named(&name)?;
                c.authorize("kms:UpdateAlias", Some(&current), &[], &[])?;
                c.key = target_arn;
            }
            let alias_arn = c.alias_arn(&name);
            let r = if op == "CreateAlias" {
                m.kms().create_alias(h, &name, &crate::hex::hex(&k.uid))
            } else {
                m.kms().update_alias(h, &name, &crate::hex::hex(&k.uid))
            };
            c.core(&format!("Alias {alias_arn}"), r)?;
            Ok(json!({}))
        }
        "DeleteAlias" => {
            let name = c.str_req("AliasName")?.to_string();
            check_alias_name(&name)?;
            let alias_arn = c.alias_arn(&name);
            // The alias's key decides (kms:DeleteAlias on it).
            let k = c.key_named(&name)?;
            c.authorize("kms:DeleteAlias", Some(&k), &[], &[])?;
            c.core(&format!("Alias {alias_arn}"), m.kms().delete_alias(h, &name))?;
            Ok(json!({}))
        }
        "ListAliases" => {
            let only = match c.str_opt("KeyId")?.map(str::to_string) {
                Some(id) => Some(c.key_named(&id)?),
                None => None,
            };
            c.authorize("kms:ListAliases", None, &[], &[])?;
            let (limit, start) = paging(c)?;
            let all = c.core("ListAliases", m.kms().aliases(h))?;
            let want = only.as_ref().map(|k| crate::hex::hex(&k.uid));
            let list: Vec<Json> = all
                .iter()
                .filter_map(|(name, target)| {
                    let uid = crate::token::keyid::uid_from_text(target)?;
                    if want.as_ref().is_some_and(|w| *w != crate::hex::hex(&uid)) {
                        return None;
                    }
                    Some(json!({ "AliasName": name, "AliasArn": c.alias_arn(name), "TargetKeyId": uuid(&uid) }))
                })
                .collect();
            let total = list.len();
            let page: Vec<Json> = list.into_iter().skip(start).take(limit).collect();
            Ok(paged(json!({ "Aliases": page }), start + limit, total))
        }
        "GetKeyPolicy" => {
            let k = c.key("KeyId")?;
            policy_name(c)?;
            c.authorize("kms:GetKeyPolicy", Some(&k), &[], &[])?;
            let text = match &k.policy {
                Some(p) => String::from_utf8_lossy(p).into_owned(),
                None => iam::default_key_policy(&st.account),
            };
            Ok(json!({ "Policy": text, "PolicyName": "default" }))
        }
        "ListKeyPolicies" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:ListKeyPolicies", Some(&k), &[], &[])?;
            Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
        }
        "PutKeyPolicy" => {
            let k = c.key("KeyId")?;
            policy_name(c)?;
            let text = c.str_req("Policy")?.to_string();
            c.authorize("kms:PutKeyPolicy", Some(&k), &[], &[])?;
            let bypass = c.bool_opt("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
            check_key_policy(c, &text, (!bypass).then(|| c.key_arn(&k.uid)))?;
            let key = c.key.clone();
            c.core(
                &key,
                m.kms().set_meta(h, &crate::hex::hex(&k.uid), CKA_FHSM_KEY_POLICY, text.into_bytes(), "put-key-policy"),
            )?;
            Ok(json!({}))
        }
        "TagResource" | "UntagResource" => {
            let k = c.key("KeyId")?;
            c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            let key = c.key.clone();
            state_must_allow(&k, &key)?;
            let mut tags = tags_of(&k);
            if op == "TagResource" {
                for (tk, tv) in parse_tags(c.input.get("Tags"))? {
                    tags.retain(|(x, _)| *x != tk);
                    tags.push((tk, tv));
                }
                if tags.len() > MAX_TAGS {
                    return Err(ApiError::new("LimitExceededException", "a key has at most 50 tags"));
                }
            } else {
                let Some(Json::Array(keys)) = c.input.get("TagKeys") else {
                    return Err(ApiError::validation("TagKeys is required"));
                };
                for tk in keys {
                    tags.retain(|(x, _)| Some(x.as_str()) != tk.as_str());
                }
            }
            let body = serde_json::to_vec(&tags).unwrap_or_default();
            c.core(&key, m.kms().set_meta(h, &crate::hex::hex(&k.uid), CKA_FHSM_TAGS, body, &op.to_ascii_lowercase()))?;
            Ok(json!({}))
        }
        "ListResourceTags" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:ListResourceTags", Some(&k), &[], &[])?;
            let (limit, start) = paging(c)?;
            let tags = tags_of(&k);
            let page: Vec<(String, String)> = tags.iter().skip(start).take(limit).cloned().collect();
            Ok(paged(json!({ "Tags": tags_json(&page) }), start + limit, tags.len()))
        }
        "CreateGrant" | "ListGrants" | "ListRetirableGrants" | "RetireGrant" | "RevokeGrant" => {
            super::grants::dispatch(c, op)
        }
        "Sign"
        | "Verify"
        | "GetPublicKey"
        | "GenerateMac"
        | "VerifyMac"
        | "GenerateDataKeyPair"
        | "GenerateDataKeyPairWithoutPlaintext" => super::asym::dispatch(c, op),
        "GetParametersForImport" | "ImportKeyMaterial" | "DeleteImportedKeyMaterial" => super::asym::import(c, op),
        "CreateCustomKeyStore"
        | "ConnectCustomKeyStore"
        | "DeleteCustomKeyStore"
        | "DescribeCustomKeyStores"
        | "DisconnectCustomKeyStore"
        | "UpdateCustomKeyStore"
        | "ReplicateKey"
        | "UpdatePrimaryRegion"
        | "DeriveSharedSecret" => {
            Err(ApiError::unsupported(format!("{op} is not offered by this server; see docs/kms-api.md")))
        }
        _ => Err(ApiError::new("UnknownOperationException", "")),
    }
}

fn algorithm(c: &Call, name: &str) -> Result<(), ApiError> {
    match c.str_opt(name)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => {
            Err(ApiError::new("InvalidKeyUsageException", format!("{a} is not valid for a symmetric key")))
        }
        Some(a) => Err(ApiError::validation(format!("{name} {a} is not a valid algorithm"))),
    }
}

fn policy_name(c: &Call) -> Result<(), ApiError> {
    match c.str_opt("PolicyName")? {
        None | Some("default") => Ok(()),
        Some(_) => Err(ApiError::not_found("The only key policy is named 'default'.")),
    }
}

/// A disabled key can still change its rotation and tags; one pending
/// deletion cannot.
fn state_must_allow(k: &KeyInfo, arn: &str) -> Result<(), ApiError> {
    if k.state == FHSM_STATE_PENDING_DELETION {
        return Err(ApiError::new("KMSInvalidStateException", format!("{arn} is pending deletion.")));
    }
    Ok(())
}

/// A new key policy must parse and, unless the caller bypasses the
/// lockout check (`current` None), still let the caller change it.
/// `lockout`: the key's ARN to run the lockout check on ("*" for a key
/// not made yet), None when the caller bypasses it.
fn check_key_policy(c: &Call, text: &str, lockout: Option<String>) -> Result<(), ApiError> {
    if text.len() > MAX_POLICY {
        return Err(length_error("Policy", MAX_POLICY));
    }
    let p = Policy::parse(text, PolicyKind::Key).map_err(|e| ApiError::new("MalformedPolicyDocumentException", e.0))?;
    if let Some(resource) = lockout {
        let req = iam::Request {
            principal: &c.principal.arn,
            account: &c.st().account,
            action: "kms:PutKeyPolicy",
            resource: &resource,
            encryption_context: &[],
            grant_operations: &[],
            extra: &[],
        };
        let identity: Vec<&Policy> = c.principal.policies.iter().map(|p| p.as_ref()).collect();
        if !iam::authorize(Some(&p), &identity, &[], &req) {
            return Err(ApiError::new(
                "MalformedPolicyDocumentException",
                "The new key policy will not allow you to update the key policy in the future.",
            ));
        }
    }
    Ok(())
}

fn encrypt(c: &Call, k: &KeyInfo, ctx: &[(String, String)], plain: &[u8]) -> crate::error::Result<Vec<u8>> {
    let st = c.st();
    st.module.kms().encrypt_blob(st.session, &crate::hex::hex(&k.uid), &core_context(ctx), plain)
}

/// Opens a ciphertext for `action` on its key: the key named by the blob
/// (or the caller's `key_param`, which must be the blob's:
/// IncorrectKeyException otherwise) is authorized, then opened.
fn decrypt(
    c: &mut Call,
    blob: &[u8],
    ctx: &[(String, String)],
    key_param: &str,
    action: &str,
) -> Result<(KeyInfo, zeroize::Zeroizing<Vec<u8>>), ApiError> {
    let invalid = || ApiError::new("InvalidCiphertextException", "");
    let named = crate::token::Kms::blob_keys(blob).map_err(|_| invalid())?;
    let k = match c.str_opt(key_param)?.map(str::to_string) {
        Some(given) => {
            let k = c.key_named(&given)?;
            if !named.contains(&k.uid) {
                return Err(ApiError::from_token(&crate::error::Error::KmsIncorrectKey, ""));
            }
            k
        }
        None => {
            let first = named.first().ok_or_else(invalid)?;
            c.key_named(&crate::hex::hex(first))?
        }
    };
    c.authorize(action, Some(&k), ctx, &[])?;
    let st = c.st();
    let key = c.key.clone();
    let (plain, _) = c.core(
        &key,
        st.module.kms().decrypt_with(st.session, &core_context(ctx), blob, Some(&crate::hex::hex(&k.uid))),
    )?;
    Ok((k, plain))
}

/// Limit (1..=1000, default 100) and Marker (an offset this server gave).
fn paging(c: &Call) -> Result<(usize, usize), ApiError> {
    let limit = c.int_opt("Limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation("Limit must be between 1 and 1000"));
    }
    let start = match c.str_opt("Marker")? {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| ApiError::new("InvalidMarkerException", "The marker is invalid"))?,
    };
    Ok((limit as usize, start))
}

fn paged(mut out: Json, next: usize, total: usize) -> Json {
    let truncated = next < total;
    out["Truncated"] = json!(truncated);
    if truncated {
        out["NextMarker"] = json!(next.to_string());
    }
    out
}
