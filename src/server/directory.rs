//! The API server's principals (users with one access key each) and groups,
//! with their identity policies. Each is a token document (see
//! `token::kms` docs): a private, sealed, authenticated data object, so an
//! edit of the store cannot plant a principal or widen a policy. The
//! server keeps a parsed copy stamped with the token's revision and reads
//! again when any process changed the token.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use zeroize::Zeroizing;

use super::iam::{Policy, PolicyKind};
use crate::error::{Error, Result};
use crate::token::{Module, SessionHandle};
use crate::vendor::{GROUP_APPLICATION, PRINCIPAL_APPLICATION};

/// A user's stored record.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct UserDoc {
    user_name: String,
    access_key_id: String,
    secret_access_key: String,
    status: String,
    create_date: u64,
    #[serde(default)]
    groups: Vec<String>,
    /// Identity policies by name (JSON text).
    #[serde(default)]
    policies: BTreeMap<String, String>,
}

impl Drop for UserDoc {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.secret_access_key.zeroize();
    }
}

#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
struct GroupDoc {
    group_name: String,
    #[serde(default)]
    policies: BTreeMap<String, String>,
}

/// A principal as the server uses it.
pub struct Principal {
    pub name: String,
    pub arn: String,
    pub secret: Zeroizing<String>,
    /// Its own and its groups' identity policies, parsed.
    pub policies: Vec<Arc<Policy>>,
}

/// Every principal, by access key id.
#[derive(Default)]
pub struct Directory {
    by_key: HashMap<String, Arc<Principal>>,
}

impl Directory {
    pub fn principal(&self, access_key: &str) -> Option<Arc<Principal>> {
        self.by_key.get(access_key).cloned()
    }

    /// Reads every user and group of the token. A stored policy that no
    /// longer parses is left out (and logged): it never widens access.
    pub fn load(m: &Module, h: SessionHandle, account: &str) -> Result<Directory> {
        let mut groups: HashMap<String, Vec<Arc<Policy>>> = HashMap::new();
        for (name, body) in m.kms().docs(h, GROUP_APPLICATION)? {
            let g: GroupDoc = parse_doc(&body)?;
            groups.insert(name, parse_policies(&g.policies, &g.group_name));
        }
        let mut by_key = HashMap::new();
        for (_, body) in m.kms().docs(h, PRINCIPAL_APPLICATION)? {
            let u: UserDoc = parse_doc(&body)?;
            if u.status != "Active" {
                continue;
            }
            let mut policies = parse_policies(&u.policies, &u.user_name);
            for g in &u.groups {
                policies.extend(groups.get(g).into_iter().flatten().cloned());
            }
            let p = Principal {
                arn: user_arn(account, &u.user_name),
                name: u.user_name.clone(),
                secret: Zeroizing::new(u.secret_access_key.clone()),
                policies,
            };
            by_key.insert(u.access_key_id.clone(), Arc::new(p));
        }
        Ok(Directory { by_key })
    }
}

fn parse_doc<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::general(format!("a stored IAM record does not parse: {e}")))
}

fn parse_policies(docs: &BTreeMap<String, String>, owner: &str) -> Vec<Arc<Policy>> {
    docs.iter()
        .filter_map(|(name, text)| match Policy::parse(text, PolicyKind::Identity) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                log::error!("iam: policy {name} of {owner} is left out: {}", e.0);
                None
            }
        })
        .collect()
}

pub fn user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

/// IAM's user and group names: 1..=64 of [A-Za-z0-9+=,.@_-].
pub fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn random_text(len: usize, alphabet: &[u8]) -> Result<String> {
    let mut raw = Zeroizing::new(vec![0u8; len]);
    crate::sys::rand::random(&mut raw)?;
    Ok(raw.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect())
}

fn new_access_key() -> Result<(String, Zeroizing<String>)> {
    let id = format!("AKIA{}", random_text(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")?);
    // 64 symbols: every byte maps without bias (256 = 4 x 64).
    let secret = random_text(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")?;
    Ok((id, Zeroizing::new(secret)))
}

fn bad_name(n: &str) -> Error {
    log::error!("iam: '{n}' is not a valid name (1..=64 of A-Z a-z 0-9 +=,.@_-)");
    Error::ArgumentsBad
}

fn load_user(m: &Module, h: SessionHandle, name: &str) -> Result<UserDoc> {
    let body =
        m.kms().docs(h, PRINCIPAL_APPLICATION)?.into_iter().find(|(n, _)| n == name).ok_or(Error::KmsNotFound)?.1;
    parse_doc(&body)
}

fn save_user(m: &Module, h: SessionHandle, u: &UserDoc, create: bool, event: &str) -> Result<()> {
    let body = Zeroizing::new(serde_json::to_vec(u).map_err(|e| Error::general(e.to_string()))?);
    m.kms().put_doc(h, PRINCIPAL_APPLICATION, &u.user_name, &body, create, event)
}

fn access_key_json(u: &UserDoc) -> Json {
    json!({ "AccessKey": {
        "UserName": u.user_name,
        "AccessKeyId": u.access_key_id,
        "SecretAccessKey": u.secret_access_key,
        "Status": u.status,
        "CreateDate": crate::token::clock::iso8601(u.create_date),
    }})
}

/// Creates a user with a new access key; returns what
/// `aws iam create-access-key` prints (the only time the secret is shown).
pub fn create_principal(m: &Module, h: SessionHandle, name: &str, groups: &[String], admin: bool) -> Result<Json> {
    if !valid_name(name) {
        return Err(bad_name(name));
    }
    let known: Vec<String> = m.kms().docs(h, GROUP_APPLICATION)?.into_iter().map(|(n, _)| n).collect();
    if let Some(g) = groups.iter().find(|g| !known.contains(g)) {
        log::error!("iam: no group '{g}'");
        return Err(Error::KmsNotFound);
    }
    let (id, secret) = new_access_key()?;
    let mut policies = BTreeMap::new();
    if admin {
        policies.insert("admin".to_string(), super::iam::admin_policy());
    }
    let u = UserDoc {
        user_name: name.into(),
        access_key_id: id,
        secret_access_key: secret.to_string(),
        status: "Active".into(),
        create_date: crate::token::clock::now(),
        groups: groups.to_vec(),
        policies,
    };
    save_user(m, h, &u, true, "create-principal")?;
    Ok(access_key_json(&u))
}

/// Replaces a user's access key (the old one stops working at once).
pub fn rotate_secret(m: &Module, h: SessionHandle, name: &str) -> Result<Json> {
    let mut u = load_user(m, h, name)?;
    let (id, secret) = new_access_key()?;
    u.access_key_id = id;
    u.secret_access_key = secret.to_string();
    u.create_date = crate::token::clock::now();
    save_user(m, h, &u, false, "rotate-principal-secret")?;
    Ok(access_key_json(&u))
}

pub fn delete_principal(m: &Module, h: SessionHandle, name: &str) -> Result<()> {
    m.kms().delete_doc(h, PRINCIPAL_APPLICATION, name, "delete-principal")
}

/// Users without their secrets: name, ARN, access key id, groups, policy names.
pub fn list_principals(m: &Module, h: SessionHandle, account: &str) -> Result<Vec<Json>> {
    let mut out = Vec::new();
    for (_, body) in m.kms().docs(h, PRINCIPAL_APPLICATION)? {
        let u: UserDoc = parse_doc(&body)?;
        out.push(json!({
            "UserName": u.user_name,
            "Arn": user_arn(account, &u.user_name),
            "AccessKeyId": u.access_key_id,
            "Status": u.status,
            "CreateDate": crate::token::clock::iso8601(u.create_date),
            "Groups": u.groups,
            "Policies": u.policies.keys().collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

fn check_policy(text: &str) -> Result<()> {
    Policy::parse(text, PolicyKind::Identity).map(|_| ()).map_err(|e| {
        log::error!("iam: the policy does not parse: {}", e.0);
        Error::ArgumentsBad
    })
}

/// Attaches (or replaces) a named identity policy on a user.
pub fn attach_user_policy(m: &Module, h: SessionHandle, user: &str, name: &str, text: &str) -> Result<()> {
    check_policy(text)?;
    let mut u = load_user(m, h, user)?;
    u.policies.insert(name.into(), text.into());
    save_user(m, h, &u, false, "attach-principal-policy")
}

pub fn detach_user_policy(m: &Module, h: SessionHandle, user: &str, name: &str) -> Result<()> {
    let mut u = load_user(m, h, user)?;
    u.policies.remove(name).ok_or(Error::KmsNotFound)?;
    save_user(m, h, &u, false, "detach-principal-policy")
}

pub fn create_group(m: &Module, h: SessionHandle, name: &str) -> Result<()> {
    if !valid_name(name) {
        return Err(bad_name(name));
    }
    let g = GroupDoc { group_name: name.into(), policies: BTreeMap::new() };
    save_group(m, h, &g, true)
}

fn save_group(m: &Module, h: SessionHandle, g: &GroupDoc, create: bool) -> Result<()> {
    let body = serde_json::to_vec(g).map_err(|e| Error::general(e.to_string()))?;
    m.kms().put_doc(
        h,
        GROUP_APPLICATION,
        &g.group_name,
        &body,
        create,
        if create { "create-group" } else { "update-group" },
    )
}

pub fn attach_group_policy(m: &Module, h: SessionHandle, group: &str, name: &str, text: &str) -> Result<()> {
    check_policy(text)?;
    let body = m.kms().docs(h, GROUP_APPLICATION)?.into_iter().find(|(n, _)| n == group).ok_or(Error::KmsNotFound)?.1;
    let mut g: GroupDoc = parse_doc(&body)?;
    g.policies.insert(name.into(), text.into());
    save_group(m, h, &g, false)
}

pub fn delete_group(m: &Module, h: SessionHandle, name: &str) -> Result<()> {
    m.kms().delete_doc(h, GROUP_APPLICATION, name, "delete-group")
}

/// Adds a user to a group (`add`) or removes it.
pub fn set_membership(m: &Module, h: SessionHandle, group: &str, user: &str, add: bool) -> Result<()> {
    if !m.kms().docs(h, GROUP_APPLICATION)?.iter().any(|(n, _)| n == group) {
        return Err(Error::KmsNotFound);
    }
    let mut u = load_user(m, h, user)?;
    u.groups.retain(|g| g != group);
    if add {
        u.groups.push(group.into());
    }
    save_user(m, h, &u, false, if add { "add-to-group" } else { "remove-from-group" })
}

/// Groups with their members and policy names.
pub fn list_groups(m: &Module, h: SessionHandle) -> Result<Vec<Json>> {
    let users: Vec<UserDoc> =
        m.kms().docs(h, PRINCIPAL_APPLICATION)?.iter().map(|(_, b)| parse_doc(b)).collect::<Result<_>>()?;
    let mut out = Vec::new();
    for (name, body) in m.kms().docs(h, GROUP_APPLICATION)? {
        let g: GroupDoc = parse_doc(&body)?;
        let members: Vec<&str> =
            users.iter().filter(|u| u.groups.contains(&name)).map(|u| u.user_name.as_str()).collect();
        out.push(json!({ "GroupName": name, "Members": members, "Policies": g.policies.keys().collect::<Vec<_>>() }));
    }
    Ok(out)
}
