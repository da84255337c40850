//! The official AWS SDK for Rust (`aws-sdk-kms`) pointed at a `ferrohsm
//! serve`: built from `aws_sdk_kms::Config` directly (no `aws-config`, so no
//! environment, profile or IMDS look-ups), static credentials, no retries.
//! Included by path (`#[path = "common/sdk.rs"]`) by the tests that use the
//! SDK only, so the other test binaries do not compile it.
#![allow(dead_code)]

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};

use crate::common::server::{Creds, REGION};

/// A client for `url` signing as `c`; `http` replaces the SDK's default
/// HTTPS client (to trust a test certificate).
pub fn client(url: &str, c: &Creds, http: Option<SharedHttpClient>) -> aws_sdk_kms::Client {
    let creds = Credentials::new(&c.access_key_id, &c.secret_access_key, None, None, "ferrohsm-test");
    let mut b = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(creds)
        .retry_config(RetryConfig::disabled());
    if let Some(h) = http {
        b = b.http_client(h);
    }
    aws_sdk_kms::Client::from_conf(b.build())
}

/// The SDK's own HTTPS client (hyper + rustls on aws-lc) trusting only the
/// PEM certificate `pem`.
pub fn https_trusting(pem: &[u8]) -> SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let ctx = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false).with_pem_certificate(pem.to_vec()))
        .build()
        .unwrap();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(ctx)
        .build_https()
}

/// `arn:aws:kms:us-east-1:111122223333:key/<uuid>`: the key ARN's uuid.
pub fn key_uuid(arn: &str) -> &str {
    let id = arn
        .strip_prefix("arn:aws:kms:us-east-1:111122223333:key/")
        .unwrap_or_else(|| panic!("not a key ARN of the server's region and account: {arn}"));
    assert!(is_uuid(id), "not a uuid: {id}");
    id
}

/// 8-4-4-4-12 lower-case hex digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}
