//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant. Each grant is a token document (GRANT_APPLICATION, named
//! by its grant id), read into the server's directory with the principals.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::api::ApiError;
use super::call::Call;
use super::iam::Grant;
use crate::vendor::GRANT_APPLICATION;

/// The operations a grant may allow, as AWS lists them.
const OPERATIONS: [&str; 17] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// A stored grant.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct GrantDoc {
    pub grant_id: String,
    pub grant_token: String,
    /// The key's uid, hex.
    pub key: String,
    #[serde(default)]
    pub name: String,
    pub creation_date: u64,
    pub grantee_principal: String,
    #[serde(default)]
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    #[serde(default)]
    pub context_equals: Option<Vec<(String, String)>>,
    #[serde(default)]
    pub context_subset: Option<Vec<(String, String)>>,
}

impl GrantDoc {
    pub fn grant(&self) -> Grant {
        Grant {
            grantee: self.grantee_principal.clone(),
            retiring: self.retiring_principal.clone(),
            operations: self.operations.clone(),
            context_equals: self.context_equals.clone(),
            context_subset: self.context_subset.clone(),
        }
    }

    fn json(&self, key_arn: &str) -> Json {
        let mut g = json!({
            "KeyId": key_arn,
            "GrantId": self.grant_id,
            "Name": self.name,
            "CreationDate": self.creation_date,
            "GranteePrincipal": self.grantee_principal,
            "IssuingAccount": format!("arn:aws:iam::{}:root", self.issuing_account),
            "Operations": self.operations,
        });
        if let Some(r) = &self.retiring_principal {
            g["RetiringPrincipal"] = json!(r);
        }
        let mut constraints = serde_json::Map::new();
        if let Some(c) = &self.context_equals {
            constraints.insert("EncryptionContextEquals".into(), pairs_json(c));
        }
        if let Some(c) = &self.context_subset {
            constraints.insert("EncryptionContextSubset".into(), pairs_json(c));
        }
        if !constraints.is_empty() {
            g["Constraints"] = Json::Object(constraints);
        }
        g
    }
}

fn pairs_json(p: &[(String, String)]) -> Json {
    Json::Object(p.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn pairs(v: Option<&Json>) -> Result<Option<Vec<(String, String)>>, ApiError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ApiError::serialization("encryption context values must be strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::serialization("a grant constraint must be a map")),
    }
}

fn principal_arn(s: &str) -> Result<(), ApiError> {
    let ok = s == "*"
        || (s.starts_with("arn:aws:iam::") && s.len() <= 256)
        || (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!("{s} is not a valid principal ARN")))
    }
}

fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut b = vec![0u8; n];
    crate::sys::rand::random(&mut b).map_err(|e| ApiError::from_token(&e, "grant"))?;
    Ok(crate::hex::hex(&b))
}

pub fn dispatch(c: &mut Call, op: &str) -> Result<Json, ApiError> {
    let st = c.state;
    let (m, h) = (&st.module, st.session);
    match op {
        "CreateGrant" => {
            let k = c.key("KeyId")?;
            let grantee = c.str_req("GranteePrincipal")?.to_string();
            principal_arn(&grantee)?;
            let retiring = c.str_opt("RetiringPrincipal")?.map(str::to_string);
            if let Some(r) = &retiring {
                principal_arn(r)?;
            }
            let ops: Vec<String> = match c.input.get("Operations") {
                Some(Json::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|o| match o.as_str() {
                        Some(s) if OPERATIONS.contains(&s) => Ok(s.to_string()),
                        _ => Err(ApiError::validation(format!("{o} is not a grant operation"))),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(ApiError::validation("Operations must list at least one operation")),
            };
            let (equals, subset) = match c.input.get("Constraints") {
                None | Some(Json::Null) => (None, None),
                Some(Json::Object(o)) => {
                    (pairs(o.get("EncryptionContextEquals"))?, pairs(o.get("EncryptionContextSubset"))?)
                }
                Some(_) => return Err(ApiError::serialization("Constraints must be a map")),
            };
            let name = c.str_opt("Name")?.map(str::to_string).unwrap_or_default();
            if name.len() > 256 {
                return Err(ApiError::validation("Name is at most 256 characters"));
            }
            let ctx_ops: Vec<String> = ops.clone();
            c.authorize("kms:CreateGrant", Some(&k), &[], &ctx_ops)?;
            let doc = GrantDoc {
                grant_id: random_hex(32)?,
                grant_token: base64::engine::general_purpose::STANDARD.encode(random_hex(48)?),
                key: crate::hex::hex(&k.uid),
                name,
                creation_date: crate::token::clock::now(),
                grantee_principal: grantee,
                retiring_principal: retiring,
                issuing_account: st.account.clone(),
                operations: ops,
                context_equals: equals,
                context_subset: subset,
            };
            let body = serde_json::to_vec(&doc).map_err(|e| ApiError::new("KMSInternalException", e.to_string()))?;
            let key = c.key.clone();
            m.kms()
                .put_doc(h, GRANT_APPLICATION, &doc.grant_id, &body, true, "create-grant")
                .map_err(|e| ApiError::from_token(&e, &key))?;
            Ok(json!({ "GrantToken": doc.grant_token, "GrantId": doc.grant_id }))
        }
        "ListGrants" => {
            let k = c.key("KeyId")?;
            c.authorize("kms:ListGrants", Some(&k), &[], &[])?;
            let id = c.str_opt("GrantId")?.map(str::to_string);
            let grantee = c.str_opt("GranteePrincipal")?.map(str::to_string);
            let arn = c.key.clone();
            let list: Vec<Json> = st
                .grant_docs()?
                .iter()
                .filter(|g| g.key == crate::hex::hex(&k.uid))
                .filter(|g| id.as_ref().is_none_or(|i| *i == g.grant_id))
                .filter(|g| grantee.as_ref().is_none_or(|p| *p == g.grantee_principal))
                .map(|g| g.json(&arn))
                .collect();
            Ok(json!({ "Grants": list, "Truncated": false }))
        }
        "ListRetirableGrants" => {
            let who = c.str_req("RetiringPrincipal")?.to_string();
            c.authorize("kms:ListRetirableGrants", None, &[], &[])?;
            let list: Vec<Json> = st
                .grant_docs()?
                .iter()
                .filter(|g| g.retiring_principal.as_deref() == Some(who.as_str()))
                .map(|g| g.json(&crate::token::keyid::uid_from_text(&g.key).map(|u| c.key_arn(&u)).unwrap_or_default()))
                .collect();
            Ok(json!({ "Grants": list, "Truncated": false }))
        }
        "RetireGrant" | "RevokeGrant" => {
            let token = if op == "RetireGrant" { c.str_opt("GrantToken")?.map(str::to_string) } else { None };
            let all = st.grant_docs()?;
            let g = match token {
                Some(t) => all
                    .iter()
                    .find(|g| g.grant_token == t)
                    .cloned()
                    .ok_or_else(|| ApiError::new("InvalidGrantTokenException", "The grant token is not valid"))?,
                None => {
                    let k = c.key("KeyId")?;
                    let id = c.str_req("GrantId")?.to_string();
                    all.iter()
                        .find(|g| g.grant_id == id && g.key == crate::hex::hex(&k.uid))
                        .cloned()
                        .ok_or_else(|| ApiError::new("InvalidGrantIdException", "The grant id is not valid"))?
                }
            };
            let k = c.key_named(&g.key)?;
            let caller = c.principal.arn.clone();
            let may_retire = op == "RetireGrant"
                && (g.retiring_principal.as_deref() == Some(caller.as_str())
                    || (g.grantee_principal == caller && g.operations.iter().any(|o| o == "RetireGrant")));
            if !may_retire {
                c.authorize(&format!("kms:{op}"), Some(&k), &[], &[])?;
            }
            let key = c.key.clone();
            m.kms()
                .delete_doc(
                    h,
                    GRANT_APPLICATION,
                    &g.grant_id,
                    if op == "RetireGrant" { "retire-grant" } else { "revoke-grant" },
                )
                .map_err(|e| ApiError::from_token(&e, &key))?;
            Ok(json!({}))
        }
        _ => Err(ApiError::new("UnknownOperationException", "")),
    }
}
