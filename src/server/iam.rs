//! IAM-style policy documents and their evaluation (key policies, identity
//! policies, grants). Pure: no I/O, no token access.
//!
//! The evaluation follows AWS KMS: an explicit `Deny` anywhere wins; a key
//! policy `Allow` whose principal matches the caller allows; a key policy
//! `Allow` naming the caller's account (`arn:aws:iam::ACCOUNT:root` or the
//! bare account id) delegates to that account's identity policies; a grant
//! may allow; anything else is denied.
//!
//! Where a request cannot be evaluated for certain (a policy variable with
//! no value, an encryption-context key given twice with different cases and
//! different values), the statement fails closed: an `Allow` does not
//! apply, a `Deny` does.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// AWS's limit on a key policy document, in bytes.
pub const MAX_POLICY_BYTES: usize = 32768;

/// A policy document that is not valid; becomes `MalformedPolicyDocumentException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

/// Which kind of document is parsed: key policies must name a principal in
/// every statement, identity policies must not name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Key,
    Identity,
}

/// The outcome of one policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some `Allow` statement applies and no `Deny` does.
    Allow,
    /// An explicit `Deny` statement applies.
    Deny,
    /// No statement applies.
    NotApplicable,
}

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Caller ARN, e.g. `arn:aws:iam::111122223333:user/alice`.
    pub principal: &'a str,
    /// Caller's account id, e.g. `111122223333`.
    pub account: &'a str,
    /// e.g. `kms:Encrypt`.
    pub action: &'a str,
    /// Key ARN, or `*` for account-level actions (CreateKey, ListKeys...).
    pub resource: &'a str,
    pub encryption_context: &'a [(String, String)],
    /// For CreateGrant: the operations requested.
    pub grant_operations: &'a [String],
    /// Any other condition keys, e.g. `("kms:KeySpec", ["SYMMETRIC_DEFAULT"])`.
    pub extra: &'a [(String, Vec<String>)],
}

/// A grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: String,
    pub retiring: Option<String>,
    /// AWS operation names without `kms:`, e.g. `Encrypt`, `Decrypt`.
    pub operations: Vec<String>,
    /// EncryptionContextEquals: the request's context must be exactly this set.
    pub context_equals: Option<Vec<(String, String)>>,
    /// EncryptionContextSubset: every pair must be in the request's context.
    pub context_subset: Option<Vec<(String, String)>>,
}

impl Grant {
    /// True if this grant allows the request: the caller is the grantee, the
    /// action is `kms:<Op>` for one of the grant's operations, and the
    /// encryption-context constraints hold.
    pub fn allows(&self, req: &Request) -> bool {
        if self.grantee != req.principal {
            return false;
        }
        let Some(op) = strip_prefix_ci(req.action, "kms:") else {
            return false;
        };
        if !self.operations.iter().any(|o| o.eq_ignore_ascii_case(op)) {
            return false;
        }
        let ctx = req.encryption_context;
        let has = |set: &[(String, String)], (k, v): &(String, String)| set.iter().any(|(a, b)| a == k && b == v);
        if let Some(eq) = &self.context_equals {
            if !eq.iter().all(|p| has(ctx, p)) || !ctx.iter().all(|p| has(eq, p)) {
                return false;
            }
        }
        if let Some(sub) = &self.context_subset {
            if !sub.iter().all(|p| has(ctx, p)) {
                return false;
            }
        }
        true
    }
}

/// A parsed and validated policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// `arn:aws:iam::ACCOUNT:root` or the bare account id.
    Account(String),
    /// Any other AWS principal ARN; may hold `*` and `?`.
    Arn(Vec<Pc>),
    /// Service, Federated, CanonicalUser: never one of our callers.
    Other,
}

#[derive(Debug, Clone)]
struct Principals {
    negated: bool,
    entries: Vec<PrincipalEntry>,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    principal: Option<Principals>,
    actions_negated: bool,
    /// Lower-cased patterns.
    actions: Vec<Vec<Pc>>,
    resources_negated: bool,
    resources: Vec<Template>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQ {
    Plain,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    StrEq,
    StrEqIc,
    StrLike,
    NumEq,
    NumLt,
    NumLe,
    NumGt,
    NumGe,
    Bool,
    Null,
    Arn,
}

#[derive(Debug, Clone)]
struct Condition {
    kind: OpKind,
    negated: bool,
    if_exists: bool,
    set: SetQ,
    /// Lower-cased.
    key: String,
    values: Vec<Template>,
}

/// One character of a resolved pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pc {
    Lit(char),
    Star,
    Quest,
}

#[derive(Debug, Clone)]
enum Seg {
    /// Policy text: `*` and `?` are wildcards where the operator allows them.
    Text(String),
    /// `${*}`, `${?}`, `${$}`: a literal character.
    Lit(char),
    /// `${key}` or `${key, 'default'}`; key lower-cased.
    Var { key: String, default: Option<String> },
}

#[derive(Debug, Clone)]
struct Template(Vec<Seg>);

/// The request lacks what a statement needs to be evaluated for certain.
#[derive(Debug, Clone, Copy)]
struct Unresolved;

type Ev = Result<bool, Unresolved>;

impl Policy {
    /// Parses and validates a policy document (JSON text).
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return err(format!("policy document is {} bytes, more than {MAX_POLICY_BYTES}", json.len()));
        }
        let doc: J = serde_json::from_str(json).map_err(|e| PolicyError(format!("policy is not valid JSON: {e}")))?;
        let J::Obj(top) = doc else { return err("policy document must be a JSON object") };
        let mut version = None;
        let mut statement = None;
        for (k, v) in top {
            match k.as_str() {
                "Version" => match v {
                    J::Str(s) if s == "2012-10-17" || s == "2008-10-17" => version = Some(s),
                    _ => return err("Version must be \"2012-10-17\" or \"2008-10-17\""),
                },
                "Id" => {
                    if !matches!(v, J::Str(_)) {
                        return err("Id must be a string");
                    }
                }
                "Statement" => statement = Some(v),
                _ => return err(format!("unknown policy element {k:?}")),
            }
        }
        let vars = version.as_deref() == Some("2012-10-17");
        let list = match statement {
            None => return err("policy has no Statement"),
            Some(J::Arr(a)) => a,
            Some(o @ J::Obj(_)) => vec![o],
            Some(_) => return err("Statement must be an object or an array of objects"),
        };
        if list.is_empty() {
            return err("Statement is empty");
        }
        let mut sids: Vec<String> = Vec::new();
        let mut statements = Vec::with_capacity(list.len());
        for s in list {
            statements.push(parse_statement(s, kind, vars, &mut sids)?);
        }
        Ok(Policy { kind, statements })
    }

    /// The kind this policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// This policy's answer for the request on its own. For a key policy an
    /// `Allow` naming the caller's account (not the caller) does not count
    /// here unless the caller is that account's root: see
    /// [`Policy::delegates_to_account`].
    pub fn evaluate(&self, req: &Request) -> Decision {
        let mut allowed = false;
        for st in &self.statements {
            match st.effect {
                Effect::Deny => {
                    if st.principal_applies(req) && st.applies(req).unwrap_or(true) {
                        return Decision::Deny;
                    }
                }
                Effect::Allow => {
                    if !allowed && st.principal_applies(req) && st.applies(req).unwrap_or(false) {
                        allowed = true;
                    }
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }

    /// True if some `Allow` statement in this key policy names the caller's
    /// account root (`arn:aws:iam::ACCOUNT:root` or `ACCOUNT`) as principal
    /// and otherwise applies to the request (action, resource, conditions):
    /// the identity policies of that account are then consulted.
    pub fn delegates_to_account(&self, req: &Request) -> bool {
        self.statements.iter().any(|st| {
            st.effect == Effect::Allow
                && st.principal.as_ref().is_some_and(|p| {
                    !p.negated && p.entries.iter().any(|e| matches!(e, PrincipalEntry::Account(a) if a == req.account))
                })
                && st.applies(req).unwrap_or(false)
        })
    }
}

/// The final answer for a request (AWS KMS's evaluation logic): an explicit
/// `Deny` in the key policy or any identity policy denies; else an `Allow`
/// in the key policy for the caller allows; else, if the key policy
/// delegates to the caller's account, an `Allow` in an identity policy
/// allows; else a grant may allow. Account-level actions (no key) pass
/// `key_policy: None`: only identity policies count.
pub fn authorize(key_policy: Option<&Policy>, identity: &[&Policy], grants: &[Grant], req: &Request) -> bool {
    let key_decision = key_policy.map(|p| p.evaluate(req));
    if key_decision == Some(Decision::Deny) {
        return false;
    }
    let mut identity_allows = false;
    for p in identity {
        match p.evaluate(req) {
            Decision::Deny => return false,
            Decision::Allow => identity_allows = true,
            Decision::NotApplicable => {}
        }
    }
    let Some(kp) = key_policy else { return identity_allows };
    if key_decision == Some(Decision::Allow) {
        return true;
    }
    if identity_allows && kp.delegates_to_account(req) {
        return true;
    }
    grants.iter().any(|g| g.allows(req))
}

/// The default key policy AWS gives a key created without one: the account
/// root may do `kms:*` on the key, which delegates to identity policies.
pub fn default_key_policy(account: &str) -> String {
    let principal = serde_json::Value::String(format!("arn:aws:iam::{account}:root"));
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \
         \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \
         \"Principal\" : {{\n      \"AWS\" : {principal}\n    }},\n    \"Action\" : \"kms:*\",\n    \
         \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

/// The identity policy `--admin` attaches: `kms:*` on `*`.
pub fn admin_policy() -> String {
    "{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {\n    \"Sid\" : \"FerroHsmAdmin\",\n    \
     \"Effect\" : \"Allow\",\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}"
        .to_owned()
}

// ---------------------------------------------------------------------------
// Parsing

fn parse_statement(s: J, kind: PolicyKind, vars: bool, sids: &mut Vec<String>) -> Result<Statement, PolicyError> {
    let J::Obj(fields) = s else { return err("each Statement must be an object") };
    let mut effect = None;
    let mut principal = None;
    let mut action = None;
    let mut resource = None;
    let mut conditions = Vec::new();
    for (k, v) in fields {
        match k.as_str() {
            "Sid" => {
                let J::Str(sid) = v else { return err("Sid must be a string") };
                if !sid.is_empty() {
                    if sids.contains(&sid) {
                        return err(format!("duplicate Sid {sid:?}"));
                    }
                    sids.push(sid);
                }
            }
            "Effect" => match v {
                J::Str(e) if e == "Allow" => effect = Some(Effect::Allow),
                J::Str(e) if e == "Deny" => effect = Some(Effect::Deny),
                _ => return err("Effect must be \"Allow\" or \"Deny\""),
            },
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return err("a statement may have Principal or NotPrincipal, not both");
                }
                principal = Some(Principals { negated: k == "NotPrincipal", entries: parse_principal(v, &k)? });
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return err("a statement may have Action or NotAction, not both");
                }
                let mut pats = Vec::new();
                for a in string_list(v, &k)? {
                    if a != "*" && !a.split_once(':').is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty()) {
                        return err(format!("{k} {a:?} must be \"*\" or \"service:action\""));
                    }
                    pats.push(text_pattern(&a.to_lowercase()));
                }
                action = Some((k == "NotAction", pats));
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return err("a statement may have Resource or NotResource, not both");
                }
                let mut ts = Vec::new();
                for r in string_list(v, &k)? {
                    if r.is_empty() {
                        return err(format!("{k} must not be empty"));
                    }
                    ts.push(parse_template(&r, vars)?);
                }
                resource = Some((k == "NotResource", ts));
            }
            "Condition" => conditions = parse_conditions(v, vars)?,
            _ => return err(format!("unknown statement element {k:?}")),
        }
    }
    let Some(effect) = effect else { return err("statement has no Effect") };
    match (kind, &principal) {
        (PolicyKind::Key, None) => return err("a key policy statement must have Principal or NotPrincipal"),
        (PolicyKind::Identity, Some(_)) => return err("an identity policy statement must not have Principal"),
        _ => {}
    }
    let Some((actions_negated, actions)) = action else { return err("statement has no Action or NotAction") };
    let Some((resources_negated, resources)) = resource else {
        return err("statement has no Resource or NotResource");
    };
    Ok(Statement { effect, principal, actions_negated, actions, resources_negated, resources, conditions })
}

/// A string or a non-empty array of strings.
fn string_list(v: J, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        J::Str(s) => Ok(vec![s]),
        J::Arr(a) if !a.is_empty() => a
            .into_iter()
            .map(|x| match x {
                J::Str(s) => Ok(s),
                _ => err(format!("{what} must hold strings")),
            })
            .collect(),
        _ => err(format!("{what} must be a string or a non-empty array of strings")),
    }
}

fn parse_principal(v: J, what: &str) -> Result<Vec<PrincipalEntry>, PolicyError> {
    match v {
        J::Str(s) if s == "*" => Ok(vec![PrincipalEntry::Any]),
        J::Obj(m) if !m.is_empty() => {
            let mut out = Vec::new();
            for (k, v) in m {
                let aws = match k.as_str() {
                    "AWS" => true,
                    "Service" | "Federated" | "CanonicalUser" => false,
                    _ => return err(format!("unknown {what} type {k:?}")),
                };
                for p in string_list(v, what)? {
                    if p.is_empty() {
                        return err(format!("empty {what}"));
                    }
                    out.push(if !aws {
                        PrincipalEntry::Other
                    } else if p == "*" {
                        PrincipalEntry::Any
                    } else if is_account_id(&p) {
                        PrincipalEntry::Account(p)
                    } else if let Some(acct) = root_arn_account(&p) {
                        PrincipalEntry::Account(acct.to_owned())
                    } else if p.starts_with("arn:") {
                        PrincipalEntry::Arn(text_pattern(&p))
                    } else {
                        return err(format!("{what} {p:?} is not \"*\", an account id or an ARN"));
                    });
                }
            }
            Ok(out)
        }
        _ => err(format!("{what} must be \"*\" or an object such as {{\"AWS\": ...}}")),
    }
}

fn parse_conditions(v: J, vars: bool) -> Result<Vec<Condition>, PolicyError> {
    let J::Obj(ops) = v else { return err("Condition must be an object") };
    let mut out = Vec::new();
    for (op, body) in ops {
        let (set, rest) = if let Some(r) = strip_prefix_ci(&op, "ForAllValues:") {
            (SetQ::ForAllValues, r)
        } else if let Some(r) = strip_prefix_ci(&op, "ForAnyValue:") {
            (SetQ::ForAnyValue, r)
        } else {
            (SetQ::Plain, op.as_str())
        };
        let (if_exists, base) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let (kind, negated) = match base.to_ascii_lowercase().as_str() {
            "stringequals" => (OpKind::StrEq, false),
            "stringnotequals" => (OpKind::StrEq, true),
            "stringequalsignorecase" => (OpKind::StrEqIc, false),
            "stringnotequalsignorecase" => (OpKind::StrEqIc, true),
            "stringlike" => (OpKind::StrLike, false),
            "stringnotlike" => (OpKind::StrLike, true),
            "numericequals" => (OpKind::NumEq, false),
            "numericnotequals" => (OpKind::NumEq, true),
            "numericlessthan" => (OpKind::NumLt, false),
            "numericlessthanequals" => (OpKind::NumLe, false),
            "numericgreaterthan" => (OpKind::NumGt, false),
            "numericgreaterthanequals" => (OpKind::NumGe, false),
            "bool" => (OpKind::Bool, false),
            "null" => (OpKind::Null, false),
            "arnequals" | "arnlike" => (OpKind::Arn, false),
            "arnnotequals" | "arnnotlike" => (OpKind::Arn, true),
            _ => return err(format!("unknown condition operator {op:?}")),
        };
        if kind == OpKind::Null && (if_exists || set != SetQ::Plain) {
            return err(format!("condition operator {op:?} is not valid"));
        }
        let J::Obj(keys) = body else { return err(format!("condition {op:?} must be an object")) };
        for (key, vals) in keys {
            if !key.split_once(':').is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty()) {
                return err(format!("condition key {key:?} must be \"service:name\""));
            }
            let raw: Vec<J> = match vals {
                J::Arr(a) => a,
                x => vec![x],
            };
            if raw.is_empty() {
                return err(format!("condition key {key:?} has no values"));
            }
            let mut values = Vec::with_capacity(raw.len());
            for x in raw {
                let s = match x {
                    J::Str(s) | J::Num(s) => s,
                    J::Bool(b) => b.to_string(),
                    _ => return err(format!("condition key {key:?}: values must be strings, numbers or booleans")),
                };
                match kind {
                    OpKind::Bool | OpKind::Null => {
                        if !s.eq_ignore_ascii_case("true") && !s.eq_ignore_ascii_case("false") {
                            return err(format!("{op} value {s:?} must be true or false"));
                        }
                        values.push(Template(vec![Seg::Text(s.to_ascii_lowercase())]));
                    }
                    OpKind::NumEq | OpKind::NumLt | OpKind::NumLe | OpKind::NumGt | OpKind::NumGe => {
                        if parse_num(&s).is_none() {
                            return err(format!("{op} value {s:?} is not a number"));
                        }
                        values.push(Template(vec![Seg::Text(s)]));
                    }
                    OpKind::StrEq | OpKind::StrEqIc | OpKind::StrLike | OpKind::Arn => {
                        values.push(parse_template(&s, vars)?)
                    }
                }
            }
            out.push(Condition { kind, negated, if_exists, set, key: key.to_lowercase(), values });
        }
    }
    Ok(out)
}

/// Splits `${...}` policy variables out of a value (only in 2012-10-17 policies).
fn parse_template(s: &str, vars: bool) -> Result<Template, PolicyError> {
    if !vars || !s.contains("${") {
        return Ok(Template(vec![Seg::Text(s.to_owned())]));
    }
    let mut segs = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            segs.push(Seg::Text(rest[..i].to_owned()));
        }
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { return err(format!("unterminated policy variable in {s:?}")) };
        let inner = &after[..end];
        segs.push(match inner {
            "*" => Seg::Lit('*'),
            "?" => Seg::Lit('?'),
            "$" => Seg::Lit('$'),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    None => (inner.trim(), None),
                    Some((k, d)) => {
                        let d = d.trim();
                        match d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')) {
                            Some(d) => (k.trim(), Some(d.to_owned())),
                            None => return err(format!("policy variable default must be quoted in {s:?}")),
                        }
                    }
                };
                if !key.split_once(':').is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty()) {
                    return err(format!("policy variable {key:?} in {s:?} is not a condition key"));
                }
                Seg::Var { key: key.to_lowercase(), default }
            }
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        segs.push(Seg::Text(rest.to_owned()));
    }
    Ok(Template(segs))
}

fn text_pattern(s: &str) -> Vec<Pc> {
    s.chars()
        .map(|c| match c {
            '*' => Pc::Star,
            '?' => Pc::Quest,
            c => Pc::Lit(c),
        })
        .collect()
}

fn is_account_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:<partition>:iam::<account>:root` -> the account.
fn root_arn_account(arn: &str) -> Option<&str> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    match p[..] {
        ["arn", _, "iam", "", acct, "root"] if is_account_id(acct) => Some(acct),
        _ => None,
    }
}

/// `arn:<partition>:sts::<account>:assumed-role/<role>/<session>` -> the role ARN.
fn session_role_arn(arn: &str) -> Option<String> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || p[2] != "sts" {
        return None;
    }
    let mut r = p[5].strip_prefix("assumed-role/")?.splitn(2, '/');
    let role = r.next()?;
    r.next()?;
    Some(format!("arn:{}:iam::{}:role/{role}", p[1], p[4]))
}

fn parse_num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

// ---------------------------------------------------------------------------
// Evaluation

impl PrincipalEntry {
    /// The entry names this caller itself.
    fn matches_caller(&self, req: &Request) -> bool {
        match self {
            PrincipalEntry::Any => true,
            PrincipalEntry::Account(a) => root_arn_account(req.principal) == Some(a.as_str()),
            PrincipalEntry::Arn(p) => {
                glob(p, &chars(req.principal), false)
                    || session_role_arn(req.principal).is_some_and(|r| glob(p, &chars(&r), false))
            }
            PrincipalEntry::Other => false,
        }
    }

    /// The entry names the caller's account.
    fn matches_account(&self, req: &Request) -> bool {
        match self {
            PrincipalEntry::Any => true,
            PrincipalEntry::Account(a) => a == req.account,
            PrincipalEntry::Arn(p) => glob(p, &chars(&format!("arn:aws:iam::{}:root", req.account)), false),
            PrincipalEntry::Other => false,
        }
    }
}

impl Statement {
    /// Principal / NotPrincipal applies to the caller directly (identity
    /// policies have none and always apply).
    fn principal_applies(&self, req: &Request) -> bool {
        let Some(p) = &self.principal else { return true };
        if !p.negated {
            return match self.effect {
                // An Allow naming the account (not the caller) is delegation,
                // not a permission: see delegates_to_account.
                Effect::Allow => p.entries.iter().any(|e| e.matches_caller(req)),
                // A Deny naming the caller's account denies everyone in it.
                Effect::Deny => p.entries.iter().any(|e| e.matches_caller(req) || e.matches_account(req)),
            };
        }
        let caller_listed = p.entries.iter().any(|e| e.matches_caller(req));
        match self.effect {
            // Allow + NotPrincipal: everyone not listed.
            Effect::Allow => !caller_listed,
            // Deny + NotPrincipal applies to the request if any identity it is
            // made as (the caller, and its account unless the caller is the
            // root) is not exempted (AWS: exempting a user requires listing
            // its account as well).
            Effect::Deny => {
                if root_arn_account(req.principal).is_some() {
                    !caller_listed
                } else {
                    !caller_listed || !p.entries.iter().any(|e| e.matches_account(req))
                }
            }
        }
    }

    /// Action, resource and conditions (not the principal) apply.
    fn applies(&self, req: &Request) -> Ev {
        let action = chars(&req.action.to_lowercase());
        if self.actions.iter().any(|p| glob(p, &action, false)) == self.actions_negated {
            return Ok(false);
        }
        let resource = chars(req.resource);
        let mut any = false;
        for r in &self.resources {
            if glob(&resolve(r, req)?, &resource, false) {
                any = true;
                break;
            }
        }
        if any == self.resources_negated {
            return Ok(false);
        }
        for c in &self.conditions {
            if !c.holds(req)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Condition {
    fn holds(&self, req: &Request) -> Ev {
        let present = lookup(req, &self.key);
        if self.kind == OpKind::Null {
            let is_null = matches!(present, Ok(None));
            return Ok(self
                .values
                .iter()
                .any(|v| matches!(v.0.first(), Some(Seg::Text(t)) if (t == "true") == is_null)));
        }
        let Some(have) = present? else {
            return Ok(match self.set {
                SetQ::ForAllValues => true,
                SetQ::ForAnyValue => self.if_exists,
                SetQ::Plain => self.if_exists || self.negated,
            });
        };
        let mut wants = Vec::with_capacity(self.values.len());
        for v in &self.values {
            wants.push(resolve(v, req)?);
        }
        let positive = |r: &str| wants.iter().any(|p| op_matches(self.kind, r, p));
        Ok(match self.set {
            SetQ::Plain => have.iter().any(|r| positive(r)) != self.negated,
            SetQ::ForAnyValue => have.iter().any(|r| positive(r) != self.negated),
            SetQ::ForAllValues => have.iter().all(|r| positive(r) != self.negated),
        })
    }
}

fn op_matches(kind: OpKind, have: &str, want: &[Pc]) -> bool {
    let literal = || -> String {
        want.iter()
            .map(|c| match c {
                Pc::Lit(c) => *c,
                Pc::Star => '*',
                Pc::Quest => '?',
            })
            .collect()
    };
    let num = |f: fn(f64, f64) -> bool| match (parse_num(have), parse_num(&literal())) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    };
    match kind {
        OpKind::StrEq => have == literal(),
        OpKind::StrEqIc => have.to_lowercase() == literal().to_lowercase(),
        OpKind::StrLike => glob(want, &chars(have), false),
        OpKind::Bool => have.eq_ignore_ascii_case(&literal()),
        OpKind::NumEq => num(|a, b| a == b),
        OpKind::NumLt => num(|a, b| a < b),
        OpKind::NumLe => num(|a, b| a <= b),
        OpKind::NumGt => num(|a, b| a > b),
        OpKind::NumGe => num(|a, b| a >= b),
        OpKind::Arn => arn_matches(want, have),
        OpKind::Null => false,
    }
}

/// ArnEquals / ArnLike: the six colon-separated parts are matched one by
/// one, with wildcards that do not cross a part (the last part, the
/// resource, may itself hold colons).
fn arn_matches(want: &[Pc], have: &str) -> bool {
    if want == [Pc::Star] {
        return true;
    }
    let have_parts: Vec<Vec<char>> = have.splitn(6, ':').map(chars).collect();
    let mut want_parts: Vec<&[Pc]> = Vec::with_capacity(6);
    let mut rest = want;
    while want_parts.len() < 5 {
        let Some(i) = rest.iter().position(|c| *c == Pc::Lit(':')) else { break };
        want_parts.push(&rest[..i]);
        rest = &rest[i + 1..];
    }
    want_parts.push(rest);
    have_parts.len() == 6 && want_parts.len() == 6 && want_parts.iter().zip(&have_parts).all(|(w, h)| glob(w, h, false))
}

/// The values of a condition key in the request; `None` if absent.
fn lookup(req: &Request, key: &str) -> Result<Option<Vec<String>>, Unresolved> {
    let some = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
    if let Some(ck) = key.strip_prefix("kms:encryptioncontext:") {
        // Condition key names are case-insensitive, so the context key part
        // is too. Two context keys that differ only in case with different
        // values leave the answer open: fail closed.
        let mut found: Option<&String> = None;
        for (k, v) in req.encryption_context {
            if k.to_lowercase() == ck {
                match found {
                    Some(f) if f != v => return Err(Unresolved),
                    _ => found = Some(v),
                }
            }
        }
        return Ok(found.map(|v| vec![v.clone()]));
    }
    Ok(match key {
        "kms:encryptioncontextkeys" => some(req.encryption_context.iter().map(|(k, _)| k.clone()).collect()),
        "kms:calleraccount" | "aws:principalaccount" => {
            some(vec![req.account.to_owned()]).filter(|_| !req.account.is_empty())
        }
        "kms:grantoperations" => some(req.grant_operations.to_vec()),
        "aws:principalarn" => some(vec![req.principal.to_owned()]).filter(|_| !req.principal.is_empty()),
        "aws:username" => user_name(req.principal).map(|u| vec![u.to_owned()]),
        _ => some(
            req.extra.iter().filter(|(k, _)| k.to_lowercase() == key).flat_map(|(_, v)| v.iter().cloned()).collect(),
        ),
    })
}

/// The IAM user name of a user ARN (after the path).
fn user_name(arn: &str) -> Option<&str> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || p[2] != "iam" {
        return None;
    }
    let name = p[5].strip_prefix("user/")?.rsplit('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Fills in policy variables.
fn resolve(t: &Template, req: &Request) -> Result<Vec<Pc>, Unresolved> {
    let mut out = Vec::new();
    for seg in &t.0 {
        match seg {
            Seg::Text(s) => out.extend(text_pattern(s)),
            Seg::Lit(c) => out.push(Pc::Lit(*c)),
            Seg::Var { key, default } => match (lookup(req, key)?, default) {
                (Some(v), _) if v.len() == 1 => out.extend(v[0].chars().map(Pc::Lit)),
                (None, Some(d)) => out.extend(d.chars().map(Pc::Lit)),
                _ => return Err(Unresolved),
            },
        }
    }
    Ok(out)
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// `*` matches any run of characters, `?` any one character.
fn glob(p: &[Pc], s: &[char], ignore_case: bool) -> bool {
    let eq = |a: char, b: char| a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()));
    let (mut pi, mut si) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(Pc::Star) => {
                back = Some((pi, si));
                pi += 1;
                continue;
            }
            Some(Pc::Quest) => {
                pi += 1;
                si += 1;
                continue;
            }
            Some(Pc::Lit(c)) if eq(*c, s[si]) => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match back {
            Some((bp, bs)) => {
                pi = bp + 1;
                si = bs + 1;
                back = Some((bp, bs + 1));
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == Pc::Star)
}

// ---------------------------------------------------------------------------
// JSON with duplicate keys refused (serde_json's Value keeps the last one,
// which would let two readers of a policy disagree on it).

enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<J, E> {
        Ok(J::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<J, E> {
        Ok(J::Num(n.to_string()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<J, E> {
        Ok(J::Num(n.to_string()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<J, E> {
        Ok(J::Num(n.to_string()))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<J, E> {
        Ok(J::Str(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<J, E> {
        Ok(J::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element()? {
            v.push(x);
        }
        Ok(J::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<J, A::Error> {
        let mut v: Vec<(String, J)> = Vec::new();
        while let Some((k, x)) = m.next_entry::<String, J>()? {
            if v.iter().any(|(seen, _)| *seen == k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            v.push((k, x));
        }
        Ok(J::Obj(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "111122223333";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const ROOT: &str = "arn:aws:iam::111122223333:root";

    fn req<'a>(principal: &'a str, action: &'a str) -> Request<'a> {
        Request {
            principal,
            account: ACCT,
            action,
            resource: KEY,
            encryption_context: &[],
            grant_operations: &[],
            extra: &[],
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn key(json: &str) -> Policy {
        Policy::parse(json, PolicyKind::Key).unwrap()
    }

    fn ident(json: &str) -> Policy {
        Policy::parse(json, PolicyKind::Identity).unwrap()
    }

    fn identity_allowing(actions: &str) -> Policy {
        ident(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":{actions},"Resource":"*"}}}}"#
        ))
    }

    /// An identity policy allowing kms:* on * with one condition block.
    fn cond_policy(cond: &str) -> Policy {
        ident(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{cond}}}}}"#
        ))
    }

    fn allows_ctx(p: &Policy, c: &[(&str, &str)]) -> bool {
        let c = ctx(c);
        let r = Request { encryption_context: &c, ..req(ALICE, "kms:Decrypt") };
        p.evaluate(&r) == Decision::Allow
    }

    fn malformed(json: &str, kind: PolicyKind) -> String {
        match Policy::parse(json, kind) {
            Err(PolicyError(m)) => m,
            Ok(_) => panic!("accepted: {json}"),
        }
    }

    #[test]
    fn encryptors_and_decryptors_under_default_key_policy() {
        let kp = key(&default_key_policy(ACCT));
        let enc = identity_allowing(r#"["kms:Encrypt","kms:GenerateDataKey*"]"#);
        let dec = identity_allowing(r#""kms:Decrypt""#);
        let can = |who: &str, p: &Policy, action: &str| authorize(Some(&kp), &[p], &[], &req(who, action));
        assert!(can(ALICE, &enc, "kms:Encrypt"));
        assert!(can(ALICE, &enc, "kms:GenerateDataKey"));
        assert!(can(ALICE, &enc, "kms:GenerateDataKeyWithoutPlaintext"));
        assert!(!can(ALICE, &enc, "kms:Decrypt"));
        assert!(!can(ALICE, &enc, "kms:ReEncryptFrom"));
        assert!(can(BOB, &dec, "kms:Decrypt"));
        assert!(!can(BOB, &dec, "kms:Encrypt"));
        assert!(!can(BOB, &dec, "kms:GenerateDataKey"));
        // No identity policy at all: the default key policy alone allows only the root.
        assert!(!authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Encrypt")));
        assert!(authorize(Some(&kp), &[], &[], &req(ROOT, "kms:Encrypt")));
        assert_eq!(kp.evaluate(&req(ALICE, "kms:Encrypt")), Decision::NotApplicable);
        assert!(kp.delegates_to_account(&req(ALICE, "kms:Encrypt")));
        // Another account's caller is not delegated to by this key policy.
        let other = Request { account: "444455556666", ..req("arn:aws:iam::444455556666:user/eve", "kms:Encrypt") };
        assert!(!kp.delegates_to_account(&other));
        assert!(!authorize(Some(&kp), &[&enc], &[], &other));
    }

    #[test]
    fn action_names_are_case_insensitive_and_wildcards_work() {
        let p = identity_allowing(r#"["KMS:encrypt","kms:Re?ncrypt*"]"#);
        assert_eq!(p.evaluate(&req(ALICE, "kms:Encrypt")), Decision::Allow);
        assert_eq!(p.evaluate(&req(ALICE, "kms:ReEncryptFrom")), Decision::Allow);
        assert_eq!(p.evaluate(&req(ALICE, "kms:ReEncryptTo")), Decision::Allow);
        assert_eq!(p.evaluate(&req(ALICE, "kms:Decrypt")), Decision::NotApplicable);
        let all = identity_allowing(r#""*""#);
        assert_eq!(all.evaluate(&req(ALICE, "kms:ScheduleKeyDeletion")), Decision::Allow);
    }

    #[test]
    fn explicit_deny_beats_allow_everywhere() {
        let kp = key(&default_key_policy(ACCT));
        let admin = ident(&admin_policy());
        let deny_decrypt = ident(r#"{"Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#);
        assert!(authorize(Some(&kp), &[&admin], &[], &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&kp), &[&admin, &deny_decrypt], &[], &req(ALICE, "kms:Decrypt")));
        assert!(authorize(Some(&kp), &[&admin, &deny_decrypt], &[], &req(ALICE, "kms:Encrypt")));

        // Deny in the key policy beats identity allows, key policy allows and grants.
        let kp_deny = key(&format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"root","Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
                {{"Sid":"alice","Effect":"Allow","Principal":{{"AWS":"{ALICE}"}},"Action":"kms:*","Resource":"*"}},
                {{"Sid":"nodecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}}]}}"#
        ));
        let grant = Grant {
            grantee: ALICE.into(),
            retiring: None,
            operations: vec!["Decrypt".into()],
            context_equals: None,
            context_subset: None,
        };
        assert_eq!(kp_deny.evaluate(&req(ALICE, "kms:Decrypt")), Decision::Deny);
        assert!(!authorize(Some(&kp_deny), &[&admin], std::slice::from_ref(&grant), &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&kp_deny), &[], &[], &req(ROOT, "kms:Decrypt")));
        assert!(authorize(Some(&kp_deny), &[], &[], &req(ALICE, "kms:Encrypt")));
        // Identity deny also beats a grant.
        assert!(authorize(Some(&kp), &[], std::slice::from_ref(&grant), &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&kp), &[&deny_decrypt], &[grant], &req(ALICE, "kms:Decrypt")));
    }

    #[test]
    fn key_policy_naming_a_user_needs_no_identity_policy() {
        let kp = key(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":["{ALICE}"]}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}}}}"#
        ));
        assert!(authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Encrypt")));
        assert!(authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&kp), &[], &[], &req(ALICE, "kms:ScheduleKeyDeletion")));
        assert!(!authorize(Some(&kp), &[], &[], &req(BOB, "kms:Encrypt")));
        // Not even the root: the account is not named.
        assert!(!authorize(Some(&kp), &[], &[], &req(ROOT, "kms:Encrypt")));
        // Wildcard principal ARNs and "*".
        let kp = key(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/a*"},"Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[], &[], &req(BOB, "kms:Encrypt")));
        let kp = key(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}}"#);
        assert!(authorize(Some(&kp), &[], &[], &req(BOB, "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[], &[], &req(BOB, "kms:Decrypt")));
        // A role names every session of it.
        let kp = key(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ops"},"Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(authorize(Some(&kp), &[], &[], &req("arn:aws:sts::111122223333:assumed-role/ops/s1", "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[], &[], &req("arn:aws:sts::111122223333:assumed-role/dev/s1", "kms:Encrypt")));
        // A Service principal never matches our callers.
        let kp = key(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(!authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Encrypt")));
    }

    #[test]
    fn key_policy_without_account_delegation_ignores_identity_policies() {
        let kp = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":"kms:*","Resource":"*"}}}}"#
        ));
        let admin = ident(&admin_policy());
        assert!(!kp.delegates_to_account(&req(ALICE, "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[&admin], &[], &req(ALICE, "kms:Encrypt")));
        assert!(authorize(Some(&kp), &[&admin], &[], &req(BOB, "kms:Encrypt")));
        // Delegation limited to some actions only delegates those (bare account id form).
        let kp = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{ACCT}"}},"Action":"kms:Encrypt","Resource":"*"}}}}"#
        ));
        assert!(authorize(Some(&kp), &[&admin], &[], &req(ALICE, "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[&admin], &[], &req(ALICE, "kms:Decrypt")));
        // Account-level actions: only identity policies count.
        let list = Request { resource: "*", ..req(ALICE, "kms:ListKeys") };
        assert!(authorize(None, &[&admin], &[], &list));
        assert!(!authorize(None, &[], &[], &list));
        let key_only = identity_allowing(r#""kms:*""#);
        let scoped = ident(&format!(r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"{KEY}"}}}}"#));
        assert!(authorize(None, &[&key_only], &[], &list));
        assert!(!authorize(None, &[&scoped], &[], &list));
    }

    #[test]
    fn not_principal_deny_needs_the_account_listed_too() {
        let only_user = key(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","NotPrincipal":{{"AWS":"{ALICE}"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        ));
        let with_acct = key(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","NotPrincipal":{{"AWS":["{ALICE}","{ROOT}"]}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        ));
        assert_eq!(only_user.evaluate(&req(ALICE, "kms:Decrypt")), Decision::Deny);
        assert_eq!(with_acct.evaluate(&req(ALICE, "kms:Decrypt")), Decision::NotApplicable);
        assert_eq!(with_acct.evaluate(&req(BOB, "kms:Decrypt")), Decision::Deny);
        assert_eq!(with_acct.evaluate(&req(ROOT, "kms:Decrypt")), Decision::Allow);
        let admin = ident(&admin_policy());
        assert!(authorize(Some(&with_acct), &[&admin], &[], &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&with_acct), &[&admin], &[], &req(BOB, "kms:Decrypt")));

        // A Deny naming the account applies to every principal of the account.
        for acct in [ROOT, ACCT] {
            let kp = key(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}},
                {{"Effect":"Deny","Principal":{{"AWS":"{acct}"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
            ));
            assert_eq!(kp.evaluate(&req(ALICE, "kms:Decrypt")), Decision::Deny);
            assert_eq!(kp.evaluate(&req(ROOT, "kms:Decrypt")), Decision::Deny);
            assert_eq!(kp.evaluate(&req(ALICE, "kms:Encrypt")), Decision::Allow);
            let eve = Request { account: "444455556666", ..req("arn:aws:iam::444455556666:user/eve", "kms:Decrypt") };
            assert_eq!(kp.evaluate(&eve), Decision::Allow);
        }
        // Allow + NotPrincipal: everyone but the listed callers.
        let kp = key(&format!(
            r#"{{"Statement":{{"Effect":"Allow","NotPrincipal":{{"AWS":"{BOB}"}},"Action":"kms:*","Resource":"*"}}}}"#
        ));
        assert!(authorize(Some(&kp), &[], &[], &req(ALICE, "kms:Decrypt")));
        assert!(!authorize(Some(&kp), &[], &[], &req(BOB, "kms:Decrypt")));
        assert!(!kp.delegates_to_account(&req(BOB, "kms:Decrypt")));
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = ident(
            r#"{"Statement":{"Effect":"Allow","NotAction":["kms:ScheduleKeyDeletion","kms:Put*"],"Resource":"*"}}"#,
        );
        assert_eq!(p.evaluate(&req(ALICE, "kms:Encrypt")), Decision::Allow);
        assert_eq!(p.evaluate(&req(ALICE, "kms:ScheduleKeyDeletion")), Decision::NotApplicable);
        assert_eq!(p.evaluate(&req(ALICE, "kms:PutKeyPolicy")), Decision::NotApplicable);

        let p = ident(&format!(r#"{{"Statement":{{"Effect":"Deny","Action":"kms:*","NotResource":"{KEY}"}}}}"#));
        assert_eq!(p.evaluate(&req(ALICE, "kms:Encrypt")), Decision::NotApplicable);
        let other = Request { resource: "arn:aws:kms:us-east-1:111122223333:key/other", ..req(ALICE, "kms:Encrypt") };
        assert_eq!(p.evaluate(&other), Decision::Deny);

        let p = ident(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/1234*"}}"#,
        );
        assert_eq!(p.evaluate(&req(ALICE, "kms:Encrypt")), Decision::Allow);
        assert_eq!(p.evaluate(&other), Decision::NotApplicable);
        // Resource matching is case-sensitive.
        let p = ident(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"{}"}}}}"#,
            KEY.to_uppercase()
        ));
        assert_eq!(p.evaluate(&req(ALICE, "kms:Encrypt")), Decision::NotApplicable);
    }

    #[test]
    fn condition_string_equals_on_encryption_context() {
        let p = cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:purpose":"backup"}}"#);
        assert!(allows_ctx(&p, &[("purpose", "backup")]));
        assert!(allows_ctx(&p, &[("purpose", "backup"), ("other", "x")]));
        assert!(!allows_ctx(&p, &[("purpose", "Backup")]));
        assert!(!allows_ctx(&p, &[("purpose", "restore")]));
        assert!(!allows_ctx(&p, &[]));
        // Condition key names are case-insensitive, the context key part included.
        let p = cond_policy(r#"{"StringEquals":{"KMS:encryptioncontext:PURPOSE":["backup","archive"]}}"#);
        assert!(allows_ctx(&p, &[("Purpose", "archive")]));
        assert!(allows_ctx(&p, &[("purpose", "backup")]));
        // Same key in two cases with different values: fail closed.
        assert!(!allows_ctx(&p, &[("purpose", "backup"), ("PURPOSE", "other")]));
        let deny = ident(
            r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"x"}}}}"#,
        );
        let c = ctx(&[("purpose", "backup"), ("PURPOSE", "other")]);
        assert_eq!(deny.evaluate(&Request { encryption_context: &c, ..req(ALICE, "kms:Decrypt") }), Decision::Deny);
        // StringEqualsIgnoreCase / StringNotEquals.
        let p = cond_policy(r#"{"StringEqualsIgnoreCase":{"kms:EncryptionContext:purpose":"BACKUP"}}"#);
        assert!(allows_ctx(&p, &[("purpose", "backup")]));
        let p = cond_policy(r#"{"StringNotEquals":{"kms:EncryptionContext:purpose":["a","b"]}}"#);
        assert!(allows_ctx(&p, &[("purpose", "c")]));
        assert!(!allows_ctx(&p, &[("purpose", "b")]));
        // IAM: a negated operator on a missing key is true.
        assert!(allows_ctx(&p, &[]));
    }

    #[test]
    fn condition_set_operators_on_context_keys() {
        let all = cond_policy(r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","env"]}}"#);
        assert!(allows_ctx(&all, &[("app", "a")]));
        assert!(allows_ctx(&all, &[("app", "a"), ("env", "prod")]));
        assert!(!allows_ctx(&all, &[("app", "a"), ("user", "u")]));
        // Vacuously true on no context.
        assert!(allows_ctx(&all, &[]));
        let any = cond_policy(r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["app","env"]}}"#);
        assert!(allows_ctx(&any, &[("user", "u"), ("env", "prod")]));
        assert!(!allows_ctx(&any, &[("user", "u")]));
        assert!(!allows_ctx(&any, &[]));
        // ForAllValues with a negated operator: no key may be listed.
        let none = cond_policy(r#"{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":"secret"}}"#);
        assert!(allows_ctx(&none, &[("app", "a")]));
        assert!(!allows_ctx(&none, &[("app", "a"), ("secret", "s")]));
        // Keys and operators are AND'ed.
        let both = cond_policy(
            r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","env"]},
                "StringEquals":{"kms:EncryptionContext:app":"web","kms:EncryptionContext:env":"prod"}}"#,
        );
        assert!(allows_ctx(&both, &[("app", "web"), ("env", "prod")]));
        assert!(!allows_ctx(&both, &[("app", "web")]));
        assert!(!allows_ctx(&both, &[("app", "web"), ("env", "prod"), ("x", "y")]));
    }

    #[test]
    fn condition_like_null_and_if_exists() {
        let like = cond_policy(r#"{"StringLike":{"kms:EncryptionContext:path":["/home/*","/tmp/?"]}}"#);
        assert!(allows_ctx(&like, &[("path", "/home/alice/x")]));
        assert!(allows_ctx(&like, &[("path", "/tmp/a")]));
        assert!(!allows_ctx(&like, &[("path", "/tmp/ab")]));
        assert!(!allows_ctx(&like, &[("path", "/etc")]));
        assert!(!allows_ctx(&like, &[]));
        let not_like = cond_policy(r#"{"StringNotLike":{"kms:EncryptionContext:path":"/etc/*"}}"#);
        assert!(allows_ctx(&not_like, &[("path", "/home")]));
        assert!(!allows_ctx(&not_like, &[("path", "/etc/passwd")]));

        let must_have = cond_policy(r#"{"Null":{"kms:EncryptionContext:tenant":"false"}}"#);
        assert!(allows_ctx(&must_have, &[("tenant", "t1")]));
        assert!(!allows_ctx(&must_have, &[]));
        let must_lack = cond_policy(r#"{"Null":{"kms:EncryptionContextKeys":true}}"#);
        assert!(allows_ctx(&must_lack, &[]));
        assert!(!allows_ctx(&must_lack, &[("a", "b")]));

        let if_exists = cond_policy(r#"{"StringEqualsIfExists":{"kms:EncryptionContext:tenant":"t1"}}"#);
        assert!(allows_ctx(&if_exists, &[]));
        assert!(allows_ctx(&if_exists, &[("tenant", "t1")]));
        assert!(!allows_ctx(&if_exists, &[("tenant", "t2")]));
        let any_if = cond_policy(r#"{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"a"}}"#);
        assert!(allows_ctx(&any_if, &[]));
        assert!(!allows_ctx(&any_if, &[("b", "1")]));
    }

    #[test]
    fn condition_other_operators_and_keys() {
        let extra = vec![
            ("kms:KeySpec".to_string(), vec!["SYMMETRIC_DEFAULT".to_string()]),
            ("aws:SecureTransport".to_string(), vec!["true".to_string()]),
            ("kms:ScheduleKeyDeletionPendingWindowInDays".to_string(), vec!["7".to_string()]),
            ("kms:ViaService".to_string(), vec!["s3.us-east-1.amazonaws.com".to_string()]),
        ];
        let r = Request { extra: &extra, ..req(ALICE, "kms:CreateKey") };
        let ok = |cond: &str| cond_policy(cond).evaluate(&r) == Decision::Allow;
        assert!(ok(r#"{"StringEquals":{"kms:keyspec":"SYMMETRIC_DEFAULT"}}"#));
        assert!(!ok(r#"{"StringEquals":{"kms:KeySpec":"RSA_2048"}}"#));
        assert!(ok(r#"{"Bool":{"aws:SecureTransport":"true"}}"#));
        assert!(!ok(r#"{"Bool":{"aws:SecureTransport":false}}"#));
        assert!(ok(r#"{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":7}}"#));
        assert!(!ok(r#"{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}"#));
        assert!(ok(r#"{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"30"}}"#));
        assert!(ok(r#"{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7.0"}}"#));
        assert!(ok(r#"{"NumericEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}"#));
        assert!(!ok(r#"{"NumericNotEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["6","7"]}}"#));
        assert!(ok(r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#));
        assert!(!ok(r#"{"StringEquals":{"kms:CallerAccount":"444455556666"}}"#));
        assert!(ok(r#"{"StringEquals":{"aws:username":"alice"}}"#));
        assert!(ok(r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}"#));
        assert!(ok(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}"#));
        // ARN wildcards do not cross the colon-separated parts.
        assert!(!ok(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:*:user/alice"}}"#));
        assert!(!ok(r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/a*"}}"#));
        assert!(ok(r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}"#));
        assert!(ok(r#"{"StringLike":{"kms:ViaService":"*.amazonaws.com"}}"#));
        // Missing key: positive operators do not match; IfExists does.
        assert!(!ok(r#"{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}"#));
        assert!(ok(r#"{"StringEqualsIfExists":{"aws:SourceIp":"10.0.0.1"}}"#));
        assert!(!ok(r#"{"BoolIfExists":{"aws:SecureTransport":"false"}}"#));

        // kms:GrantOperations.
        let ops = vec!["Encrypt".to_string(), "Decrypt".to_string()];
        let g = Request { grant_operations: &ops, ..req(ALICE, "kms:CreateGrant") };
        let p = cond_policy(
            r#"{"ForAllValues:StringEquals":{"kms:GrantOperations":["Encrypt","Decrypt","GenerateDataKey"]}}"#,
        );
        assert_eq!(p.evaluate(&g), Decision::Allow);
        let p = cond_policy(r#"{"ForAllValues:StringEquals":{"kms:GrantOperations":["Encrypt"]}}"#);
        assert_eq!(p.evaluate(&g), Decision::NotApplicable);
    }

    #[test]
    fn policy_variables() {
        let p = ident(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*",
               "Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}}"#,
        );
        let c = ctx(&[("owner", "alice")]);
        assert_eq!(p.evaluate(&Request { encryption_context: &c, ..req(ALICE, "kms:Decrypt") }), Decision::Allow);
        assert_eq!(p.evaluate(&Request { encryption_context: &c, ..req(BOB, "kms:Decrypt") }), Decision::NotApplicable);
        // A variable with no value: an Allow does not apply, a Deny does.
        assert_eq!(
            p.evaluate(&Request { encryption_context: &c, ..req(ROOT, "kms:Decrypt") }),
            Decision::NotApplicable
        );
        let d = ident(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*",
               "Condition":{"StringNotEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}}"#,
        );
        assert_eq!(d.evaluate(&Request { encryption_context: &c, ..req(ROOT, "kms:Decrypt") }), Decision::Deny);
        assert_eq!(
            d.evaluate(&Request { encryption_context: &c, ..req(ALICE, "kms:Decrypt") }),
            Decision::NotApplicable
        );
        // Default value, and 2008-10-17 takes the text literally.
        let p = cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username, 'nobody'}"}}"#);
        let c = ctx(&[("owner", "nobody")]);
        assert_eq!(p.evaluate(&Request { encryption_context: &c, ..req(ROOT, "kms:Decrypt") }), Decision::Allow);
        let old = ident(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*",
               "Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}}"#,
        );
        let c = ctx(&[("owner", "${aws:username}")]);
        assert_eq!(old.evaluate(&Request { encryption_context: &c, ..req(ALICE, "kms:Decrypt") }), Decision::Allow);
        // ${*} is a literal star in StringLike.
        let p = cond_policy(r#"{"StringLike":{"kms:EncryptionContext:x":"a${*}"}}"#);
        assert!(allows_ctx(&p, &[("x", "a*")]));
        assert!(!allows_ctx(&p, &[("x", "ab")]));
    }

    #[test]
    fn grants_with_constraints() {
        let kp = key(&default_key_policy(ACCT));
        let mut g = Grant {
            grantee: BOB.into(),
            retiring: Some(ALICE.into()),
            operations: vec!["Encrypt".into(), "Decrypt".into()],
            context_equals: None,
            context_subset: None,
        };
        assert!(g.allows(&req(BOB, "kms:Decrypt")));
        assert!(!g.allows(&req(ALICE, "kms:Decrypt")));
        assert!(!g.allows(&req(BOB, "kms:GenerateDataKey")));
        assert!(!g.allows(&req(BOB, "Decrypt")));
        assert!(authorize(Some(&kp), &[], std::slice::from_ref(&g), &req(BOB, "kms:Encrypt")));
        assert!(!authorize(Some(&kp), &[], std::slice::from_ref(&g), &req(BOB, "kms:ReEncryptFrom")));

        g.context_equals = Some(ctx(&[("app", "web"), ("env", "prod")]));
        let with = |c: &[(&str, &str)]| {
            let c = ctx(c);
            g.allows(&Request { encryption_context: &c, ..req(BOB, "kms:Decrypt") })
        };
        assert!(with(&[("env", "prod"), ("app", "web")]));
        assert!(!with(&[("app", "web")]));
        assert!(!with(&[("app", "web"), ("env", "prod"), ("x", "y")]));
        assert!(!with(&[("app", "web"), ("env", "PROD")]));
        assert!(!with(&[]));

        g.context_equals = None;
        g.context_subset = Some(ctx(&[("app", "web")]));
        let with = |c: &[(&str, &str)]| {
            let c = ctx(c);
            g.allows(&Request { encryption_context: &c, ..req(BOB, "kms:Decrypt") })
        };
        assert!(with(&[("app", "web")]));
        assert!(with(&[("app", "web"), ("env", "prod")]));
        assert!(!with(&[("app", "api"), ("env", "prod")]));
        assert!(!with(&[]));
    }

    #[test]
    fn default_and_admin_policies_parse() {
        let kp = key(&default_key_policy(ACCT));
        assert_eq!(kp.kind(), PolicyKind::Key);
        assert!(default_key_policy(ACCT).contains("\"Enable IAM User Permissions\""));
        assert_eq!(kp.evaluate(&req(ROOT, "kms:PutKeyPolicy")), Decision::Allow);
        let admin = ident(&admin_policy());
        assert_eq!(admin.evaluate(&Request { resource: "*", ..req(ALICE, "kms:CreateKey") }), Decision::Allow);
        assert_eq!(admin.evaluate(&req(ALICE, "iam:CreateUser")), Decision::NotApplicable);
        assert!(Policy::parse(&admin_policy(), PolicyKind::Key).is_err());
        assert!(Policy::parse(&default_key_policy(ACCT), PolicyKind::Identity).is_err());
    }

    #[test]
    fn malformed_documents_are_rejected() {
        use PolicyKind::{Identity, Key};
        let good = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert!(Policy::parse(good, Identity).is_ok());
        assert!(malformed(r#"{"Statement":{"Effect":"allow","Action":"kms:*","Resource":"*"}}"#, Identity)
            .contains("Effect"));
        malformed(r#"{"Statement":{"Effect":"Permit","Action":"kms:*","Resource":"*"}}"#, Identity);
        malformed(r#"{"Statement":{"Action":"kms:*","Resource":"*"}}"#, Identity);
        assert!(malformed(r#"{"Version":"2012-10-17"}"#, Identity).contains("Statement"));
        malformed(r#"{"Statement":[]}"#, Identity);
        malformed(r#"{"Statement":"x"}"#, Identity);
        malformed(
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            Identity,
        );
        assert!(malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"kms:CallerAccount":"1"}}}}"#,
            Identity
        )
        .contains("operator"));
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"kms:CallerAccount":"true"}}}}"#,
            Identity,
        );
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NumericEquals":{"kms:X":"seven"}}}}"#,
            Identity,
        );
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:X":{"a":1}}}}}"#,
            Identity,
        );
        assert!(malformed(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            Identity
        )
        .contains("Principal"));
        assert!(malformed(good, Key).contains("Principal"));
        malformed(r#"{"Statement":{"Effect":"Allow","Principal":"alice","Action":"kms:*","Resource":"*"}}"#, Key);
        malformed(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"kms:*","Resource":"*"}}"#,
            Key,
        );
        malformed(r#"{"Statement":{"Effect":"Allow","Principal":{"IAM":"*"},"Action":"kms:*","Resource":"*"}}"#, Key);
        malformed(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Extra":1}}"#, Identity);
        malformed(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"},"Extra":1}"#, Identity);
        malformed(r#"{"Statement":{"Effect":"Allow","Action":"Encrypt","Resource":"*"}}"#, Identity);
        malformed(r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, Identity);
        malformed(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}"#,
            Identity,
        );
        malformed(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, Identity);
        malformed(r#"{"Statement":{"Effect":"Allow","Action":7,"Resource":"*"}}"#, Identity);
        assert!(malformed(
            r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"kms:*","Resource":"*"}}"#,
            Identity
        )
        .contains("duplicate"));
        malformed(
            r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":"kms:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#,
            Identity,
        );
        malformed(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}} x"#, Identity);
        malformed("[]", Identity);
        // Size limit: 32768 bytes is fine, one more is not.
        let pad = |n: usize| {
            let base = r#"{"Id":"","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
            format!(
                r#"{{"Id":"{}","Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"*"}}}}"#,
                "x".repeat(n - base.len())
            )
        };
        assert_eq!(pad(MAX_POLICY_BYTES).len(), MAX_POLICY_BYTES);
        assert!(Policy::parse(&pad(MAX_POLICY_BYTES), Identity).is_ok());
        assert!(malformed(&pad(MAX_POLICY_BYTES + 1), Identity).contains("bytes"));
    }
}
