//! AWS Signature Version 4: the verifier the server runs on every request,
//! and the signer its tests and load generator use (the same canonical
//! request code on both sides, checked against botocore and aws-sdk-rust by
//! the integration tests).
//!
//! Only header-signed requests (`Authorization: AWS4-HMAC-SHA256 ...`) are
//! accepted; query-string (presigned) signatures are not offered by KMS's
//! JSON API.

use std::collections::HashMap;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::hex::hex;
use crate::sync::Mutex;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Requests dated further than this from the server's clock are refused.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Headers every request must sign: the ones that decide what is done.
const MUST_SIGN: [&str; 2] = ["host", "x-amz-target"];

/// Why a signature was refused; each maps to AWS's exception name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    /// No Authorization header: MissingAuthenticationTokenException.
    Missing,
    /// Malformed header or credential scope, unsigned required header,
    /// stale date, bad signature: InvalidSignatureException.
    Invalid(String),
    /// Unknown access key id: UnrecognizedClientException.
    UnknownKey,
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone)]
pub struct Auth {
    pub access_key: String,
    /// yyyymmdd of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case, in the order the client gave (which must be sorted).
    pub signed_headers: Vec<String>,
    pub signature: [u8; 32],
}

fn invalid(msg: impl Into<String>) -> SigError {
    SigError::Invalid(msg.into())
}

/// Parses `AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(h: &str) -> Result<Auth, SigError> {
    let rest = h
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| invalid("Authorization header requires the AWS4-HMAC-SHA256 algorithm"))?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part.split_once('=').ok_or_else(|| invalid("Authorization header is malformed"))?;
        match k {
            "Credential" => cred = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => sig = Some(v),
            _ => return Err(invalid(format!("Authorization header has an unknown field '{k}'"))),
        }
    }
    let missing = |what: &str| invalid(format!("Authorization header requires '{what}' parameter"));
    let cred = cred.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let sig = sig.ok_or_else(|| missing("Signature"))?;
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" || parts[0].is_empty() {
        return Err(invalid("Credential should be of the form AKID/yyyymmdd/region/service/aws4_request"));
    }
    if parts[1].len() != 8 || !parts[1].bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("Credential date is malformed"));
    }
    let mut signature = [0u8; 32];
    let sb = sig.as_bytes();
    if sb.len() != 64 {
        return Err(invalid("Signature is malformed"));
    }
    for (i, pair) in sb.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| invalid("Signature is malformed"))?;
        signature[i] = u8::from_str_radix(s, 16).map_err(|_| invalid("Signature is malformed"))?;
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    if signed_headers.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(invalid("SignedHeaders is malformed"));
    }
    Ok(Auth {
        access_key: parts[0].to_string(),
        date: parts[1].to_string(),
        region: parts[2].to_string(),
        service: parts[3].to_string(),
        signed_headers,
        signature,
    })
}

/// RFC 3986 unreserved characters stay; everything else is %XX (upper).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn uri_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&uri_decode(k), false), uri_encode(&uri_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A header value as SigV4 has it: trimmed, inner runs of spaces as one.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request. `headers` are (lower-case name, value) in any
/// order; repeated names are joined with ','.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    signed: &[String],
    payload_sha256_hex: &str,
) -> Result<String, SigError> {
    let mut out = String::with_capacity(512);
    out.push_str(method);
    out.push('\n');
    out.push_str(&uri_encode(&uri_decode(if path.is_empty() { "/" } else { path }), true));
    out.push('\n');
    out.push_str(&canonical_query(query));
    out.push('\n');
    for name in signed {
        let values: Vec<String> = headers.iter().filter(|(n, _)| n == name).map(|(_, v)| canonical_value(v)).collect();
        if values.is_empty() {
            return Err(invalid(format!("The request signs header '{name}', which it does not carry")));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(payload_sha256_hex);
    Ok(out)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The day's signing key for a secret and scope.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()))
}

/// Seconds since the epoch of an `x-amz-date` (yyyymmddThhmmssZ).
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { std::str::from_utf8(&b[r]).ok()?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `x-amz-date` for a time in epoch seconds: ISO 8601 basic format.
pub fn amz_date(t: i64) -> String {
    crate::token::clock::iso8601(t.max(0) as u64).replace(['-', ':'], "")
}

/// What the verifier needs of a request.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// (lower-case name, value).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A day's signing key and the fingerprint of the secret it came from.
type DayKey = ([u8; 32], [u8; 32]);

/// Verifies requests; caches each day's signing key per access key.
pub struct Verifier {
    pub region: String,
    pub service: String,
    keys: Mutex<HashMap<(String, String), DayKey>>,
}

impl Verifier {
    pub fn new(region: &str, service: &str) -> Verifier {
        Verifier { region: region.into(), service: service.into(), keys: Mutex::new(HashMap::new()) }
    }

    /// Checks `req`'s signature at time `now`. `secret` looks up an access
    /// key's secret. Returns the access key id that signed it.
    pub fn verify(
        &self,
        req: &Request,
        now: i64,
        secret: impl FnOnce(&str) -> Option<zeroize::Zeroizing<String>>,
    ) -> Result<String, SigError> {
        let auth = req.header("authorization").ok_or(SigError::Missing)?;
        let auth = parse_authorization(auth)?;
        let date_header = if req.header("x-amz-date").is_some() { "x-amz-date" } else { "date" };
        let amz = req.header(date_header).ok_or_else(|| invalid("The request has no x-amz-date header"))?;
        let t = parse_amz_date(amz).ok_or_else(|| invalid(format!("Date '{amz}' is not in ISO 8601 basic format")))?;
        if (t - now).abs() > MAX_SKEW_SECS {
            return Err(invalid(format!(
                "Signature expired: {amz} is now earlier than {} ({} - 15 min.)",
                amz_date(now - MAX_SKEW_SECS),
                amz_date(now)
            )));
        }
        if !amz.starts_with(&auth.date) {
            return Err(invalid("Date in Credential scope does not match the request date"));
        }
        if auth.region != self.region {
            return Err(invalid(format!("Credential should be scoped to a valid region ('{}')", self.region)));
        }
        if auth.service != self.service {
            return Err(invalid(format!("Credential should be scoped to correct service: '{}'", self.service)));
        }
        let mut sorted = auth.signed_headers.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != auth.signed_headers {
            return Err(invalid("SignedHeaders must be sorted and distinct"));
        }
        for must in MUST_SIGN.iter().chain(std::iter::once(&date_header)) {
            if !auth.signed_headers.iter().any(|h| h == must) {
                return Err(invalid(format!("'{must}' must be a signed header")));
            }
        }
        let secret = secret(&auth.access_key).ok_or(SigError::UnknownKey)?;
        let canonical = canonical_request(
            req.method,
            req.path,
            req.query,
            req.headers,
            &auth.signed_headers,
            &sha256_hex(req.body),
        )?;
        let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
        let sts = string_to_sign(amz, &scope, &canonical);
        // The day's key, cached per (access key, day) and bound to the
        // secret it was made from (a rotated secret is a miss).
        let fingerprint: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let cache_key = (auth.access_key.clone(), auth.date.clone());
        let cached = self.keys.lock().get(&cache_key).filter(|(f, _)| *f == fingerprint).map(|(_, k)| *k);
        let key = match cached {
            Some(k) => k,
            None => {
                let k = signing_key(&secret, &auth.date, &auth.region, &auth.service);
                let mut m = self.keys.lock();
                if m.len() > 10_000 {
                    m.clear();
                }
                m.insert(cache_key, (fingerprint, k));
                k
            }
        };
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(sts.as_bytes());
        // Constant-time comparison (hmac's verify_slice).
        mac.verify_slice(&auth.signature).map_err(|_| {
            invalid(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        })?;
        Ok(auth.access_key)
    }
}

/// Signs a request for a client: returns the headers to add
/// (`x-amz-date`, `authorization`). `headers` must hold `host` and every
/// other header to sign (lower-case names).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: i64,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(String, String)> {
    let amz = amz_date(now);
    let mut all: Vec<(String, String)> = headers.to_vec();
    all.push(("x-amz-date".into(), amz.clone()));
    let mut signed: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    signed.sort();
    signed.dedup();
    let canonical = canonical_request(method, path, "", &all, &signed, &sha256_hex(body))
        .unwrap_or_else(|_| unreachable!("every signed header is present"));
    let date = &amz[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let key = signing_key(secret, date, region, service);
    let sig = hmac(&key, string_to_sign(&amz, &scope, &canonical).as_bytes());
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={}, Signature={}",
        signed.join(";"),
        hex(&sig)
    );
    vec![("x-amz-date".into(), amz), ("authorization".into(), auth)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> Vec<(String, String)> {
        vec![
            ("host".into(), "localhost:4599".into()),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), "TrentService.ListKeys".into()),
        ]
    }

    fn signed_request(body: &[u8], now: i64) -> Vec<(String, String)> {
        let mut h = headers();
        h.extend(sign("AKID", "secret", "us-east-1", "kms", now, "POST", "/", &headers(), body));
        h
    }

    fn check(h: &[(String, String)], body: &[u8], now: i64, secret: &str) -> Result<String, SigError> {
        let v = Verifier::new("us-east-1", "kms");
        let req = Request { method: "POST", path: "/", query: "", headers: h, body };
        v.verify(&req, now, |ak| (ak == "AKID").then(|| zeroize::Zeroizing::new(secret.to_string())))
    }

    #[test]
    fn dates_round_trip() {
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_amz_date(&amz_date(t)), Some(t));
        }
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    }

    /// The example in AWS's SigV4 documentation (GET ?Action=ListUsers on
    /// IAM): its signing key and signature.
    #[test]
    fn aws_documented_example() {
        let k = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
        assert_eq!(hex(&k), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
        let headers = vec![
            ("content-type".to_string(), "application/x-www-form-urlencoded; charset=utf-8".to_string()),
            ("host".to_string(), "iam.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        let c =
            canonical_request("GET", "/", "Action=ListUsers&Version=2010-05-08", &headers, &signed, &sha256_hex(b""))
                .unwrap();
        assert_eq!(sha256_hex(c.as_bytes()), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", &c);
        assert_eq!(hex(&hmac(&k, sts.as_bytes())), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    }

    #[test]
    fn a_signed_request_verifies_and_every_change_is_refused() {
        let now = 1_790_000_000;
        let body = br#"{"Limit":5}"#;
        let h = signed_request(body, now);
        assert_eq!(check(&h, body, now, "secret"), Ok("AKID".into()));
        // Wrong secret, tampered body, stale and future dates.
        assert!(matches!(check(&h, body, now, "other"), Err(SigError::Invalid(_))));
        assert!(matches!(check(&h, br#"{"Limit":6}"#, now, "secret"), Err(SigError::Invalid(_))));
        assert!(matches!(check(&h, body, now + 16 * 60, "secret"), Err(SigError::Invalid(m)) if m.contains("expired")));
        assert!(check(&h, body, now - 14 * 60, "secret").is_ok());
        // A signed header changed.
        let mut t = h.clone();
        t.iter_mut().find(|(n, _)| n == "x-amz-target").unwrap().1 = "TrentService.Decrypt".into();
        assert!(matches!(check(&t, body, now, "secret"), Err(SigError::Invalid(_))));
        // Unknown key, no header.
        let v = Verifier::new("us-east-1", "kms");
        let req = Request { method: "POST", path: "/", query: "", headers: &h, body };
        assert_eq!(v.verify(&req, now, |_| None), Err(SigError::UnknownKey));
        let none: Vec<_> = h.iter().filter(|(n, _)| n != "authorization").cloned().collect();
        assert_eq!(check(&none, body, now, "secret"), Err(SigError::Missing));
    }

    #[test]
    fn the_target_must_be_signed_and_the_scope_must_match() {
        let now = 1_790_000_000;
        let body = b"{}";
        let unsigned: Vec<(String, String)> = headers().into_iter().filter(|(n, _)| n != "x-amz-target").collect();
        let mut h = headers();
        h.extend(sign("AKID", "secret", "us-east-1", "kms", now, "POST", "/", &unsigned, body));
        assert!(matches!(check(&h, body, now, "secret"), Err(SigError::Invalid(m)) if m.contains("x-amz-target")));
        let mut h = headers();
        h.extend(sign("AKID", "secret", "eu-west-1", "kms", now, "POST", "/", &headers(), body));
        assert!(matches!(check(&h, body, now, "secret"), Err(SigError::Invalid(m)) if m.contains("region")));
        let mut h = headers();
        h.extend(sign("AKID", "secret", "us-east-1", "s3", now, "POST", "/", &headers(), body));
        assert!(matches!(check(&h, body, now, "secret"), Err(SigError::Invalid(m)) if m.contains("service")));
    }
}
