//! `kms_http`: the KMS API server's request path in-process, without a
//! socket: `server::State::serve` (the function the HTTP handler calls
//! once a body is read) with the method, URI, headers and body from the
//! input: SigV4 header parsing and verification, JSON parsing, the
//! operation dispatch with its parameter readers, key, identity and grant
//! policy evaluation, and the token calls behind them. Also the policy
//! parser and SigV4's `Authorization` parser directly.
//!
//! Most requests are signed correctly by the harness (`sigv4::sign`, the
//! signer the server's tests use) so they reach the operations; the rest
//! are signed and then altered, or carry the input's own headers. Per
//! process: a token, an admin principal, four keys (AES, RSA, ECC, HMAC),
//! an alias and a valid ciphertext.
//!
//! Harness rules: key ids of the fixed keys are offered only to
//! operations that do not change a key (so no input disables, deletes or
//! locks them for the inputs after); operations that add to the store
//! (CreateKey, CreateAlias, CreateGrant, RotateKeyOnDemand, ...) are
//! capped per process (`CREATE_CAP`), past which they are sent as
//! DescribeKey, so the store stays small over a long campaign.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use base64::Engine;
use ferrohsm::server::{directory, iam, sigv4, State};
use serde_json::{json, Map, Value as Json};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";
const CREATE_CAP: usize = 300;

struct World {
    state: State,
    access: String,
    secret: String,
    /// Fixed key ids (UUIDs), then their ARNs.
    keys: Vec<String>,
    ciphertext: String,
    created: AtomicUsize,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(setup)
}

fn setup() -> World {
    let conf = crate::write_config();
    let config = ferrohsm::config::Config::from_file(&conf).expect("config");
    let m = ferrohsm::token::Module::new(config).expect("module");
    let slot = m.slots().slot_list().expect("slots")[0];
    let mut label = [b' '; 32];
    label[..4].copy_from_slice(b"fuzz");
    m.slots().init_token(slot, crate::p11::SO_PIN, &label).expect("init token");
    let flags = cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION;
    let h = m.sessions().open_session(slot, flags).expect("session");
    m.slots().login(h, cryptoki_sys::CKU_SO, crate::p11::SO_PIN).expect("so login");
    m.slots().init_pin(h, crate::p11::USER_PIN).expect("init pin");
    m.slots().logout(h).expect("logout");
    m.slots().login(h, cryptoki_sys::CKU_USER, crate::p11::USER_PIN).expect("login");
    let p = directory::create_principal(&m, h, "fuzz", &[], true).expect("principal");
    let find = |v: &Json, k: &str| -> String {
        fn walk<'a>(v: &'a Json, k: &str) -> Option<&'a str> {
            match v {
                Json::Object(m) => m.get(k).and_then(Json::as_str).or_else(|| m.values().find_map(|x| walk(x, k))),
                Json::Array(a) => a.iter().find_map(|x| walk(x, k)),
                _ => None,
            }
        }
        walk(v, k).unwrap_or_else(|| panic!("no {k} in {v}")).to_string()
    };
    let (access, secret) = (find(&p, "AccessKeyId"), find(&p, "SecretAccessKey"));
    let mut w = World {
        state: State::new(Arc::new(m), h, REGION, ACCOUNT),
        access,
        secret,
        keys: Vec::new(),
        ciphertext: String::new(),
        created: AtomicUsize::new(0),
    };
    for body in [
        json!({}),
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    ] {
        let r = w.call("CreateKey", &body).expect("CreateKey");
        w.keys.push(find(&r, "KeyId"));
    }
    let arns: Vec<String> = w.keys.iter().map(|k| format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{k}")).collect();
    w.keys.extend(arns);
    w.call("CreateAlias", &json!({"AliasName": "alias/fuzz", "TargetKeyId": w.keys[0]})).expect("alias");
    let r = w
        .call(
            "Encrypt",
            &json!({"KeyId": w.keys[0], "Plaintext": b64().encode(b"fuzz"), "EncryptionContext": {"purpose": "fuzz"}}),
        )
        .expect("Encrypt");
    w.ciphertext = find(&r, "CiphertextBlob");
    w
}

impl World {
    fn headers(&self, op: &str) -> Vec<(String, String)> {
        vec![
            ("host".into(), "localhost:4599".into()),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), format!("TrentService.{op}")),
        ]
    }

    fn call(&self, op: &str, body: &Json) -> Result<Json, ferrohsm::server::api::ApiError> {
        let body = body.to_string().into_bytes();
        let mut h = self.headers(op);
        let now = ferrohsm::token::clock::now() as i64;
        h.extend(sigv4::sign(&self.access, &self.secret, REGION, "kms", now, "POST", "/", &h, &body));
        self.state.serve("127.0.0.1", "POST", &hyper::Uri::from_static("/"), &h, &body)
    }
}

const OPS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "GenerateRandom",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "CreateAlias",
    "DeleteAlias",
    "UpdateAlias",
    "ListAliases",
    "GetKeyPolicy",
    "ListKeyPolicies",
    "PutKeyPolicy",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "CreateCustomKeyStore",
];

/// Operations that change or add to what they name.
const CHANGING: &[&str] = &[
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "DeleteAlias",
    "UpdateAlias",
    "PutKeyPolicy",
    "TagResource",
    "UntagResource",
    "RetireGrant",
    "RevokeGrant",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
];

/// Operations that add to the store.
const ADDING: &[&str] =
    &["CreateKey", "CreateAlias", "CreateGrant", "RotateKeyOnDemand", "ImportKeyMaterial", "TagResource"];

const FIELDS: &[&str] = &[
    "KeyId",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "DestinationKeyId",
    "SourceKeyId",
    "GrantTokens",
    "KeySpec",
    "KeyUsage",
    "NumberOfBytes",
    "EncryptionAlgorithm",
    "SourceEncryptionAlgorithm",
    "DestinationEncryptionAlgorithm",
    "SigningAlgorithm",
    "MacAlgorithm",
    "Message",
    "MessageType",
    "Signature",
    "Mac",
    "AliasName",
    "TargetKeyId",
    "Policy",
    "PolicyName",
    "Limit",
    "Marker",
    "Description",
    "Tags",
    "TagKeys",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "GrantId",
    "GrantToken",
    "Name",
    "KeyPairSpec",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "Origin",
    "BypassPolicyLockoutSafetyCheck",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "ImportToken",
    "EncryptedKeyMaterial",
    "ValidTo",
    "ExpirationModel",
    "DryRun",
    "Recipient",
];

const WORDS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_256",
    "RSAES_OAEP_SHA_1",
    "ECDSA_SHA_256",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "HMAC_SHA_256",
    "RAW",
    "DIGEST",
    "AES_256",
    "AES_128",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_SECG_P256K1",
    "HMAC_256",
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "EXTERNAL",
    "AWS_KMS",
    "RSA_AES_KEY_WRAP_SHA_256",
    "RSAES_OAEP_SHA_256",
    "KEY_MATERIAL_DOES_NOT_EXPIRE",
    "default",
    "alias/fuzz",
    "alias/aws/x",
    "alias/other",
    "arn:aws:iam::111122223333:user/fuzz",
    "arn:aws:iam::111122223333:root",
    "Encrypt",
    "Decrypt",
    "*",
    "",
];

struct Gen<'a, 'w> {
    u: Unstructured<'a>,
    w: &'w World,
    /// Whether fixed keys may be named (not for CHANGING operations).
    fixed_ok: bool,
    /// Key ids this input made.
    made: Vec<String>,
}

impl Gen<'_, '_> {
    fn small(&mut self, max: usize) -> usize {
        self.u.int_in_range(0..=max).unwrap_or(0)
    }

    fn string(&mut self) -> String {
        match self.small(12) {
            0 => {
                let n = self.small(40);
                let b = self.u.bytes(n.min(self.u.len())).unwrap_or_default();
                String::from_utf8_lossy(b).into_owned()
            }
            1 => {
                let n = self.small(64);
                let b = self.u.bytes(n.min(self.u.len())).unwrap_or_default().to_vec();
                b64().encode(b)
            }
            2 => self.w.ciphertext.clone(),
            3 | 4 => self.key_id(),
            5 => {
                // A policy document, arbitrary in its statements.
                let st = json!({
                    "Effect": if self.small(1) == 0 { "Allow" } else { "Deny" },
                    "Principal": self.value(2),
                    "Action": self.value(2),
                    "Resource": "*",
                    "Condition": self.value(3),
                });
                json!({"Version": "2012-10-17", "Statement": [st]}).to_string()
            }
            _ => (*self.u.choose(WORDS).unwrap_or(&"")).to_string(),
        }
    }

    fn key_id(&mut self) -> String {
        if self.fixed_ok || self.made.is_empty() {
            if self.fixed_ok {
                let i = self.small(self.w.keys.len() - 1);
                return self.w.keys[i].clone();
            }
            return format!("{:08x}-0000-4000-8000-000000000000", self.u.arbitrary::<u32>().unwrap_or(0));
        }
        let i = self.small(self.made.len() - 1);
        self.made[i].clone()
    }

    fn value(&mut self, depth: usize) -> Json {
        match self.small(if depth == 0 { 5 } else { 9 }) {
            0 => Json::Null,
            1 => Json::Bool(self.u.arbitrary().unwrap_or(false)),
            2 => json!(self.u.arbitrary::<i64>().unwrap_or(0)),
            3 => json!(self.small(5000)),
            4 | 5 => Json::String(self.string()),
            6 => json!(self.u.arbitrary::<f64>().ok().filter(|f| f.is_finite()).unwrap_or(1.5)),
            7 => {
                let n = self.small(4);
                Json::Array((0..n).map(|_| self.value(depth - 1)).collect())
            }
            _ => {
                let n = self.small(4);
                let mut m = Map::new();
                for _ in 0..n {
                    let k = if self.small(3) == 0 { self.string() } else { "purpose".into() };
                    let v = if self.small(3) == 0 { self.value(depth - 1) } else { Json::String(self.string()) };
                    m.insert(k, v);
                }
                Json::Object(m)
            }
        }
    }

    fn body(&mut self) -> Json {
        let n = self.small(6);
        let mut m = Map::new();
        for _ in 0..n {
            let k = match self.small(15) {
                0 => self.string(),
                _ => (*self.u.choose(FIELDS).unwrap_or(&"KeyId")).to_string(),
            };
            let v = match k.as_str() {
                "KeyId" | "TargetKeyId" | "DestinationKeyId" | "SourceKeyId" if self.small(4) != 0 => {
                    Json::String(self.key_id())
                }
                "EncryptionContext" | "SourceEncryptionContext" if self.small(2) != 0 => json!({"purpose": "fuzz"}),
                _ => self.value(3),
            };
            m.insert(k, v);
        }
        Json::Object(m)
    }
}

pub fn run(data: &[u8]) {
    let w = world();
    let mut u = Unstructured::new(data);
    let mut made: Vec<String> = Vec::new();
    for _ in 0..8 {
        if u.is_empty() {
            break;
        }
        let mut op: String = match u.int_in_range(0u8..=30).unwrap_or(0) {
            0 => {
                let n = u.int_in_range(0..=24).unwrap_or(0);
                String::from_utf8_lossy(u.bytes(n.min(u.len())).unwrap_or_default()).into_owned()
            }
            _ => (*u.choose(OPS).unwrap_or(&"ListKeys")).to_string(),
        };
        if ADDING.contains(&op.as_str()) && w.created.fetch_add(1, Ordering::Relaxed) >= CREATE_CAP {
            op = "DescribeKey".into();
        }
        let fixed_ok = !CHANGING.contains(&op.as_str());
        let mode = u.int_in_range(0u8..=31).unwrap_or(0);
        let mut g = Gen { u, w, fixed_ok, made: made.clone() };
        let body: Vec<u8> = match mode {
            0 => {
                let n = g.small(300);
                g.u.bytes(n.min(g.u.len())).unwrap_or_default().to_vec()
            }
            1 => Vec::new(),
            _ => g.body().to_string().into_bytes(),
        };
        let mut h = w.headers(&op);
        let now = ferrohsm::token::clock::now() as i64;
        let skew: i64 = if g.small(15) == 0 { g.u.arbitrary::<i32>().unwrap_or(0) as i64 } else { 0 };
        let secret = if g.small(31) == 0 { "wrong".to_string() } else { w.secret.clone() };
        let mut signed = sigv4::sign(&w.access, &secret, REGION, "kms", now + skew, "POST", "/", &h, &body);
        let mut method = "POST".to_string();
        let mut uri = hyper::Uri::from_static("/");
        let mut body = body;
        match g.small(23) {
            0 => signed.retain(|(n, _)| n != "authorization"),
            1 => {
                // The input's own Authorization header, parsed directly too.
                let s = g.string();
                let _ = sigv4::parse_authorization(&s);
                signed.retain(|(n, _)| n != "authorization");
                signed.push(("authorization".into(), s));
            }
            2 => {
                // Edits of the real header.
                if let Some((_, v)) = signed.iter_mut().find(|(n, _)| n == "authorization") {
                    let cut = g.small(v.len());
                    let extra = g.string();
                    v.truncate(cut);
                    v.push_str(&extra);
                    let _ = sigv4::parse_authorization(v);
                }
            }
            3 => {
                let n = g.string().to_ascii_lowercase();
                let v = g.string();
                h.push((n, v));
            }
            4 => body.push(b' '),
            5 => method = g.string(),
            6 => {
                if let Ok(x) = hyper::Uri::try_from(g.string()) {
                    uri = x;
                }
            }
            7 => {
                if let Some((_, v)) = signed.iter_mut().find(|(n, _)| n == "x-amz-date") {
                    *v = g.string();
                }
            }
            8 => {
                // A policy text straight to the parser, both kinds.
                let s = g.string();
                let _ = iam::Policy::parse(&s, iam::PolicyKind::Key);
                let _ = iam::Policy::parse(&s, iam::PolicyKind::Identity);
            }
            _ => {}
        }
        h.extend(signed);
        u = g.u;
        if let Ok(r) = w.state.serve("127.0.0.1", &method, &uri, &h, &body) {
            if op == "CreateKey" {
                if let Some(id) = r.pointer("/KeyMetadata/KeyId").and_then(Json::as_str) {
                    made.push(id.to_string());
                }
            }
        }
    }
}
