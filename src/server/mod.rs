//! The AWS-KMS-compatible API server (`ferrohsm serve`): AWS's JSON 1.1
//! protocol over HTTP/1.1 (TLS by rustls), SigV4 on every request, key
//! policies, identity policies and grants, over the same token core and
//! store as the PKCS#11 module.

pub mod iam;
pub mod sigv4;
