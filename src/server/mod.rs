//! The AWS-KMS-compatible API server (`ferrohsm serve`): AWS's JSON 1.1
//! protocol over HTTP/1.1 (TLS by rustls), SigV4 on every request, key
//! policies, identity policies and grants, over the same token core and
//! store as the PKCS#11 module.
//!
//! A request: size-checked before it is read (64 KiB, refused from its
//! Content-Length or as it arrives), read with a deadline, its signature
//! verified against the principal's secret (`directory`), its JSON parsed,
//! then served by `ops::dispatch` on this worker thread (the token calls
//! are short and synchronous), with every audit record it makes naming the
//! principal and the client's address.

pub mod api;
mod asym;
mod call;
pub mod directory;
mod grants;
pub mod iam;
mod ops;
pub mod sigv4;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value as Json};

use crate::sync::RwLock;
use crate::token::{Module, SessionHandle};
use api::ApiError;
use directory::Directory;
use grants::GrantDoc;
use iam::{Grant, Policy, PolicyKind};

/// Largest request body (a 32 KB policy, base64 blobs of 6 KB: all fit).
pub const MAX_BODY: usize = 64 * 1024;
/// Time a client has to send a request's headers, then its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests may finish for this long after SIGTERM.
const DRAIN: Duration = Duration::from_secs(30);

/// How to serve.
pub struct Options {
    pub listen: SocketAddr,
    pub region: String,
    pub account: String,
    /// PEM certificate chain and private key files: HTTPS.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

/// What every request shares.
pub struct State {
    pub module: Arc<Module>,
    /// A read-write session logged in as the token's user.
    pub session: SessionHandle,
    pub region: String,
    pub account: String,
    verifier: sigv4::Verifier,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Key policies parsed, by their text (the default one among them).
    policies: RwLock<std::collections::HashMap<Vec<u8>, Arc<Policy>>>,
}

/// Distinct key policies kept parsed; past this the cache starts over.
const POLICY_CACHE: usize = 1024;

/// Principals, groups and grants as read at a token revision.
struct Snapshot {
    rev: u64,
    directory: Directory,
    grants: Arc<Vec<GrantDoc>>,
}

impl State {
    pub fn new(module: Arc<Module>, session: SessionHandle, region: &str, account: &str) -> State {
        State {
            module,
            session,
            region: region.into(),
            account: account.into(),
            verifier: sigv4::Verifier::new(region, "kms"),
            snapshot: RwLock::new(None),
            policies: RwLock::new(std::collections::HashMap::new()),
        }
    }

    /// The principals and grants as the token holds them now: kept while
    /// the token's stamp is unchanged (any process's addition, change or
    /// removal of one of its objects changes it).
    fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        let internal = |e: crate::error::Error| ApiError::from_token(&e, "the principal directory");
        let rev = self.module.kms().token_stamp(self.session).map_err(internal)?;
        if let Some(s) = self.snapshot.read().as_ref().filter(|s| s.rev == rev) {
            return Ok(s.clone());
        }
        let directory = Directory::load(&self.module, self.session, &self.account).map_err(internal)?;
        let mut grants = Vec::new();
        for (_, body) in self.module.kms().docs(self.session, crate::vendor::GRANT_APPLICATION).map_err(internal)? {
            match serde_json::from_slice::<GrantDoc>(&body) {
                Ok(g) => grants.push(g),
                Err(e) => log::error!("api: a stored grant does not parse and is left out: {e}"),
            }
        }
        let s = Arc::new(Snapshot { rev, directory, grants: Arc::new(grants) });
        *self.snapshot.write() = Some(s.clone());
        Ok(s)
    }

    /// The key's policy: its own, or the default one. A stored policy
    /// that no longer parses allows nothing (fails closed).
    pub fn key_policy(&self, k: &crate::token::kms::KeyInfo) -> Result<Arc<Policy>, ApiError> {
        let text = match &k.policy {
            Some(p) => p.clone(),
            None => iam::default_key_policy(&self.account).into_bytes(),
        };
        if let Some(p) = self.policies.read().get(&text) {
            return Ok(p.clone());
        }
        let parsed = Policy::parse(&String::from_utf8_lossy(&text), PolicyKind::Key).map(Arc::new).map_err(|e| {
            log::error!("api: the key policy of {} does not parse: {}", crate::token::keyid::uuid(&k.uid), e.0);
            ApiError::new("KMSInternalException", "The key's policy cannot be read.")
        })?;
        let mut cache = self.policies.write();
        if cache.len() >= POLICY_CACHE {
            cache.clear();
        }
        cache.insert(text, parsed.clone());
        Ok(parsed)
    }

    pub fn grants_for(&self, uid: &[u8; 16]) -> Vec<Grant> {
        let hex = crate::hex::hex(uid);
        self.grant_docs().map(|g| g.iter().filter(|g| g.key == hex).map(GrantDoc::grant).collect()).unwrap_or_default()
    }

    fn grant_docs(&self) -> Result<Arc<Vec<GrantDoc>>, ApiError> {
        Ok(self.snapshot()?.grants.clone())
    }

    /// Serves one request whose body has been read.
    pub fn serve(
        &self,
        remote: &str,
        method: &str,
        uri: &hyper::Uri,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Json, ApiError> {
        if method != "POST" || uri.path() != "/" {
            return Err(ApiError::new("UnknownOperationException", "KMS takes POST / only"));
        }
        let target = headers.iter().find(|(n, _)| n == "x-amz-target").map(|(_, v)| v.as_str());
        let op = target
            .and_then(|t| t.strip_prefix("TrentService."))
            .ok_or_else(|| ApiError::new("UnknownOperationException", ""))?
            .to_string();
        let snapshot = self.snapshot()?;
        let now = crate::token::clock::now() as i64;
        let req = sigv4::Request { method, path: uri.path(), query: uri.query().unwrap_or(""), headers, body };
        let verified = self.verifier.verify(&req, now, |ak| snapshot.directory.principal(ak).map(|p| p.secret.clone()));
        let principal = match verified {
            Ok(ak) => {
                snapshot.directory.principal(&ak).ok_or_else(|| ApiError::new("UnrecognizedClientException", ""))?
            }
            Err(e) => {
                let err = match e {
                    sigv4::SigError::Missing => {
                        ApiError::new("MissingAuthenticationTokenException", "Missing Authentication Token")
                    }
                    sigv4::SigError::UnknownKey => ApiError::new(
                        "UnrecognizedClientException",
                        "The security token included in the request is invalid.",
                    ),
                    sigv4::SigError::Invalid(m) => ApiError::new("InvalidSignatureException", m),
                };
                let caller = crate::token::Caller {
                    principal: "unauthenticated".into(),
                    source: remote.into(),
                    key_arn_prefix: String::new(),
                };
                let _ = crate::token::with_caller(caller, || {
                    self.module.audit().request(self.session, &format!("kms:{op}"), "", err.code)
                });
                return Err(err);
            }
        };
        let input: Map<String, Json> = if body.is_empty() {
            Map::new()
        } else {
            match serde_json::from_slice(body) {
                Ok(Json::Object(m)) => m,
                Ok(_) => return Err(ApiError::serialization("The request body must be a JSON object")),
                Err(e) => return Err(ApiError::serialization(format!("The request body is not valid JSON: {e}"))),
            }
        };
        let mut call = call::Call { state: self, principal: principal.clone(), input, key: String::new() };
        let caller = crate::token::Caller {
            principal: principal.arn.clone(),
            source: remote.into(),
            key_arn_prefix: format!("arn:aws:kms:{}:{}:key/", self.region, self.account),
        };
        let (r, recorded) = crate::token::with_caller(caller, || ops::dispatch(&mut call, &op));
        if !recorded {
            let caller = crate::token::Caller {
                principal: principal.arn.clone(),
                source: remote.into(),
                key_arn_prefix: format!("arn:aws:kms:{}:{}:key/", self.region, self.account),
            };
            let outcome = r.as_ref().err().map_or("", |e| e.code);
            let _ = crate::token::with_caller(caller, || {
                self.module.audit().request(self.session, &format!("kms:{op}"), &call.key, outcome)
            });
        }
        r
    }
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = crate::sys::rand::random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    crate::token::keyid::uuid(&b)
}

fn respond(status: u16, body: Json) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

async fn handle(
    state: Arc<State>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let declared =
        parts.headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        let e = ApiError::new("RequestEntityTooLargeException", format!("Request bodies are at most {MAX_BODY} bytes"));
        return Ok(respond(e.status, e.body()));
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            let e =
                ApiError::new("RequestEntityTooLargeException", format!("Request bodies are at most {MAX_BODY} bytes"));
            return Ok(respond(e.status, e.body()));
        }
        Err(_) => {
            let e = ApiError::new("RequestTimeoutException", "The request body did not arrive in time");
            return Ok(respond(408, e.body()));
        }
    };
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (n, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            headers.push((n.as_str().to_string(), v.to_string()));
        }
    }
    let remote = remote.ip().to_string();
    let r = state.serve(&remote, parts.method.as_str(), &parts.uri, &headers, &body);
    Ok(match r {
        Ok(out) => respond(200, out),
        Err(e) => respond(e.status, e.body()),
    })
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    use pki_types::pem::PemObject;
    let certs: Vec<pki_types::CertificateDer<'static>> = pki_types::CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves until SIGTERM or SIGINT, then lets in-flight requests finish
/// (up to 30 s) and flushes the audit trail. `ready` gets the bound
/// address once listening.
pub fn run(state: Arc<State>, opts: Options, ready: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let tls = match &opts.tls {
        Some((c, k)) => Some(tls_acceptor(c, k)?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2 * std::thread::available_parallelism().map_or(2, |n| n.get()))
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let st = state.clone();
    rt.block_on(async move {
        let state = st;
        let listener = tokio::net::TcpListener::bind(opts.listen).await.map_err(|e| format!("{}: {e}", opts.listen))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        ready(bound);
        let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.map_err(|e| e.to_string())?,
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            };
            let (stream, remote) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        log::warn!("api: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            };
            let _ = stream.set_nodelay(true);
            let st = state.clone();
            let service = hyper::service::service_fn(move |req| handle(st.clone(), remote, req));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true);
            match &tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                        drop(permit);
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let Ok(Ok(tls)) = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await else {
                            return;
                        };
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        let _ = watcher.watch(conn).await;
                        drop(permit);
                    });
                }
            }
        }
        drop(listener);
        log::info!("api: shutting down; in-flight requests may finish");
        if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
            log::warn!("api: requests still in flight after {DRAIN:?}; stopping");
        }
        Ok::<(), String>(())
    })?;
    state.module.audit().flush().map_err(|e| format!("audit: {e}"))
}
