//! One request being served: its caller, its input, and what every
//! operation needs of them (typed parameters, the key it names, the
//! authorization check, the key metadata KMS reports).

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

use super::api::ApiError;
use super::directory::Principal;
use super::iam::{self, Policy};
use super::State;
use crate::token::keyid::uuid;
use crate::token::kms::KeyInfo;
use crate::vendor::*;

/// AWS's limits on every operation's common parameters.
const MAX_GRANT_TOKENS: usize = 10;
const MAX_KEY_ID: usize = 2048;

/// One request being served.
pub struct Call<'a> {
    pub state: &'a State,
    pub principal: Arc<Principal>,
    pub input: Map<String, Json>,
    /// The key the request concerned, for the audit record (an ARN).
    pub key: String,
}

pub(super) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

pub(super) fn epoch(t: u64) -> Json {
    json!(t)
}

impl Call<'_> {
    pub(super) fn st(&self) -> &State {
        self.state
    }

    pub(super) fn str_opt(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.input.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!("{name} must be a string"))),
        }
    }

    pub(super) fn str_req(&self, name: &str) -> Result<&str, ApiError> {
        self.str_opt(name)?.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub(super) fn int_opt(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.input.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| ApiError::serialization(format!("{name} must be an integer")))
            }
            Some(_) => Err(ApiError::serialization(format!("{name} must be an integer"))),
        }
    }

    pub(super) fn bool_opt(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.input.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!("{name} must be a boolean"))),
        }
    }

    /// A base64 blob of 1..=max bytes.
    pub(super) fn blob(&self, name: &str, max: usize) -> Result<Vec<u8>, ApiError> {
        let s = self.str_req(name)?;
        if s.len() > max.div_ceil(3) * 4 + 4 {
            return Err(length_error(name, max));
        }
        let b = b64().decode(s).map_err(|_| ApiError::serialization(format!("{name} is not valid base64")))?;
        if b.is_empty() || b.len() > max {
            return Err(length_error(name, max));
        }
        Ok(b)
    }

    pub(super) fn context(&self, name: &str) -> Result<Vec<(String, String)>, ApiError> {
        match self.input.get(name) {
            None | Some(Json::Null) => Ok(vec![]),
            Some(Json::Object(m)) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, v) in m {
                    let Json::String(v) = v else {
                        return Err(ApiError::serialization(format!("{name} values must be strings")));
                    };
                    out.push((k.clone(), v.clone()));
                }
                Ok(out)
            }
            Some(_) => Err(ApiError::serialization(format!("{name} must be a map"))),
        }
    }

    pub(super) fn grant_tokens(&self) -> Result<(), ApiError> {
        match self.input.get("GrantTokens") {
            None | Some(Json::Null) => Ok(()),
            Some(Json::Array(a)) if a.len() <= MAX_GRANT_TOKENS && a.iter().all(Json::is_string) => Ok(()),
            Some(Json::Array(_)) => Err(ApiError::validation("GrantTokens: at most 10 grant tokens")),
            Some(_) => Err(ApiError::serialization("GrantTokens must be a list")),
        }
    }

    pub(super) fn key_arn(&self, uid: &[u8; 16]) -> String {
        format!("arn:aws:kms:{}:{}:key/{}", self.st().region, self.st().account, uuid(uid))
    }

    pub(super) fn alias_arn(&self, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{}", self.st().region, self.st().account, name)
    }

    /// A key id as the caller may give it — key id, key ARN, alias name or
    /// alias ARN — as the core takes it; an ARN of another region or
    /// account names no key here.
    pub(super) fn core_id<'s>(&self, id: &'s str) -> Result<&'s str, ApiError> {
        if id.is_empty() || id.len() > MAX_KEY_ID {
            return Err(ApiError::validation("KeyId must be 1 to 2048 characters"));
        }
        if let Some(rest) = id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let ours = parts.len() == 5
                && parts[0] == "aws"
                && parts[1] == "kms"
                && parts[2] == self.st().region
                && parts[3] == self.st().account;
            if !ours {
                return Err(ApiError::not_found(format!("Invalid arn {id}")));
            }
            let res = parts[4];
            return match res.strip_prefix("key/") {
                Some(k) => Ok(k),
                None if res.starts_with("alias/") => Ok(res),
                None => Err(ApiError::not_found(format!("Invalid arn {id}"))),
            };
        }
        Ok(id)
    }

    /// Resolves the request's key parameter to the key's metadata.
    pub(super) fn key(&mut self, param: &str) -> Result<KeyInfo, ApiError> {
        let given = self.str_req(param)?.to_string();
        self.key_named(&given)
    }

    pub(super) fn key_named(&mut self, given: &str) -> Result<KeyInfo, ApiError> {
        let id = self.core_id(given)?;
        let what = if id.starts_with("alias/") {
            format!("Alias {}", self.alias_arn(id))
        } else {
            format!("Key '{}'", self.key_arn_guess(id))
        };
        let info =
            self.st().module.kms().key_info(self.st().session, id).map_err(|e| ApiError::from_token(&e, &what))?;
        self.key = self.key_arn(&info.uid);
        Ok(info)
    }

    pub(super) fn key_arn_guess(&self, id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{}", self.st().region, self.st().account, id)
    }

    /// Is the caller allowed `action` on `key` (None: an account-level
    /// action)? AccessDeniedException if not.
    pub(super) fn authorize(
        &self,
        action: &str,
        key: Option<&KeyInfo>,
        ctx: &[(String, String)],
        grant_ops: &[String],
    ) -> Result<(), ApiError> {
        let resource = key.map_or_else(|| "*".to_string(), |k| self.key_arn(&k.uid));
        let req = iam::Request {
            principal: &self.principal.arn,
            account: &self.st().account,
            action,
            resource: &resource,
            encryption_context: ctx,
            grant_operations: grant_ops,
            extra: &[],
        };
        let key_policy = match key {
            Some(k) => Some(self.st().key_policy(k)?),
            None => None,
        };
        let identity: Vec<&Policy> = self.principal.policies.iter().map(|p| p.as_ref()).collect();
        let grants = key.map(|k| self.st().grants_for(&k.uid)).unwrap_or_default();
        if iam::authorize(key_policy.as_deref(), &identity, &grants, &req) {
            return Ok(());
        }
        Err(ApiError::new(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} because no policy allows the {action} action",
                self.principal.arn
            ),
        ))
    }

    pub(super) fn core<T>(&self, what: &str, r: crate::error::Result<T>) -> Result<T, ApiError> {
        r.map_err(|e| ApiError::from_token(&e, what))
    }

    pub(super) fn metadata(&self, k: &KeyInfo) -> Json {
        let state = match k.state {
            FHSM_STATE_ENABLED => "Enabled",
            FHSM_STATE_PENDING_DELETION => "PendingDeletion",
            FHSM_STATE_PENDING_IMPORT => "PendingImport",
            _ => "Disabled",
        };
        let mut m = json!({
            "AWSAccountId": self.st().account,
            "KeyId": uuid(&k.uid),
            "Arn": self.key_arn(&k.uid),
            "CreationDate": epoch(k.created),
            "Enabled": k.state == FHSM_STATE_ENABLED,
            "Description": k.description,
            "KeyUsage": k.usage,
            "KeyState": state,
            "Origin": if k.external { "EXTERNAL" } else { "AWS_KMS" },
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": k.spec,
            "KeySpec": k.spec,
            "MultiRegion": false,
        });
        let spec = crate::token::kms::asym::Spec::parse(k.spec).unwrap_or(crate::token::kms::asym::Spec::Symmetric);
        let field = match k.usage.as_str() {
            "SIGN_VERIFY" => "SigningAlgorithms",
            "GENERATE_VERIFY_MAC" => "MacAlgorithms",
            _ => "EncryptionAlgorithms",
        };
        m[field] = json!(spec.algorithms(&k.usage));
        if k.state == FHSM_STATE_PENDING_DELETION {
            m["DeletionDate"] = epoch(k.deletion_time);
            m["PendingDeletionWindowInDays"] =
                json!(k.deletion_time.saturating_sub(crate::token::clock::now()).div_ceil(crate::token::kms::DAY));
        }
        m
    }
}

pub(super) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

pub(super) fn length_error(name: &str, max: usize) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1",
        lower_first(name)
    ))
}

/// An encryption context as the token core takes it.
pub(super) fn core_context(ctx: &[(String, String)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    ctx.iter().map(|(a, b)| (a.clone().into_bytes(), b.clone().into_bytes())).collect()
}
