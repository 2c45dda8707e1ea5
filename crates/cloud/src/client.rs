//! The signed HTTP client: one `send` path that rate-limits, signs with `signer::sign`, puts the
//! canonical query on the wire, reads `X-Request-Id`, parses errors and retries idempotent calls
//! with jittered backoff. Creates are never repeated blindly: `create_or_find` looks the resource
//! up by its unique name after an ambiguous failure.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoints::{Endpoints, EndpointsFile, Service, TransportOptions};
use crate::error::{ApiError, CONNECT_FAILED, CloudError, REQUEST_FAILED};
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::retry::{Backoff, Timer, TokioTimer};
use crate::signer::{self, Credentials};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("cce-image-builder/", env!("CARGO_PKG_VERSION"));
/// The `Content-Type` of every request.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// Everything a client needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// Known project id; otherwise call `Client::resolve_project`.
    pub project_id: Option<String>,
    pub transport: TransportOptions,
    pub retry: Backoff,
    pub rate_limit: RateLimit,
    pub timer: Arc<dyn Timer>,
    /// How many lookups by name follow an ambiguous create failure (the resource may show up late).
    pub create_lookup_attempts: u32,
}

impl ClientConfig {
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoints,
            credentials,
            project_id: None,
            transport: TransportOptions::default(),
            retry: Backoff::default(),
            rate_limit: RateLimit::default(),
            timer: Arc::new(TokioTimer),
            create_lookup_attempts: 3,
        }
    }

    /// Everything from a local cloud endpoints file, with proxy and CA settings from `env`.
    pub fn from_endpoints_file(file: &EndpointsFile, env: &HashMap<String, String>) -> Result<ClientConfig, CloudError> {
        let mut c = ClientConfig::new(file.endpoints()?, file.credentials());
        c.project_id = file.project_id.clone();
        c.transport = TransportOptions::from_env(env);
        Ok(c)
    }
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    endpoints: Endpoints,
    credentials: Credentials,
    limiter: RateLimiter,
    retry: Backoff,
    timer: Arc<dyn Timer>,
    create_lookup_attempts: u32,
    writes: InFlight,
}

/// The calls that change the cloud (POST, PUT, PATCH) still on the wire. Such a call is sent from
/// a task of its own, so a caller that stops waiting (an interrupted build) does not cut it off
/// halfway; cleanup waits for these to land before it looks for what they made.
#[derive(Debug, Default)]
struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    landed: tokio::sync::Notify,
}

/// Counts one call in [`InFlight`] until dropped.
struct InFlightGuard(Arc<Shared>);

impl InFlightGuard {
    fn new(shared: &Arc<Shared>) -> InFlightGuard {
        shared.writes.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlightGuard(Arc::clone(shared))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.writes.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.writes.landed.notify_waiters();
    }
}

/// The Huawei Cloud API client for one region. Cheap to clone; clones share the rate limiter.
#[derive(Clone, Debug)]
pub struct Client {
    shared: Arc<Shared>,
    project_id: Option<Arc<str>>,
}

/// One request to make.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub service: Service,
    pub operation: &'static str,
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Adds `X-Project-Id`.
    pub project_scoped: bool,
}

impl Call {
    pub fn new(service: Service, operation: &'static str, method: Method, path: impl Into<String>) -> Call {
        Call { service, operation, method, path: path.into(), query: Vec::new(), body: None, project_scoped: true }
    }
    pub fn query(mut self, k: &str, v: impl ToString) -> Call {
        self.query.push((k.to_string(), v.to_string()));
        self
    }
    pub fn query_opt(self, k: &str, v: Option<impl ToString>) -> Call {
        match v {
            Some(v) => self.query(k, v),
            None => self,
        }
    }
    pub fn json<B: Serialize>(mut self, body: &B) -> Result<Call, CloudError> {
        let bytes = serde_json::to_vec(body).map_err(|e| CloudError::Config(format!("{} {}: cannot encode the request: {e}", self.service, self.operation)))?;
        self.body = Some(bytes);
        Ok(self)
    }
    pub fn unscoped(mut self) -> Call {
        self.project_scoped = false;
        self
    }
    /// GET, HEAD and DELETE may be repeated; POST, PUT and PATCH may not.
    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::DELETE)
    }
}

/// A successful response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, CloudError> {
        let http = config.transport.build_http(USER_AGENT)?;
        let limiter = RateLimiter::new(config.rate_limit, config.timer.clone());
        let shared = Shared {
            http,
            endpoints: config.endpoints,
            credentials: config.credentials,
            limiter,
            retry: config.retry,
            timer: config.timer,
            create_lookup_attempts: config.create_lookup_attempts,
            writes: InFlight::default(),
        };
        Ok(Client { shared: Arc::new(shared), project_id: config.project_id.map(Arc::from) })
    }

    /// The same client (same limiter) scoped to another project.
    pub fn with_project_id(&self, project_id: &str) -> Client {
        Client { shared: self.shared.clone(), project_id: Some(Arc::from(project_id)) }
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.shared.endpoints
    }

    pub fn region(&self) -> &str {
        self.shared.endpoints.region()
    }

    pub fn timer(&self) -> &Arc<dyn Timer> {
        &self.shared.timer
    }

    /// The project id, or an error saying how to get one.
    pub(crate) fn pid(&self, service: Service, operation: &str) -> Result<&str, CloudError> {
        self.project_id().ok_or_else(|| {
            CloudError::Config(format!("{service} {operation}: the project id is not known: set project_id or resolve it from the project name first"))
        })
    }

    /// Waits until no call that changes the cloud is on the wire (one that a stopped caller left
    /// behind finishes in its own task), or `timeout` has passed; says whether they all landed.
    pub async fn settle_writes(&self, timeout: std::time::Duration) -> bool {
        let writes = &self.shared.writes;
        let settled = async {
            loop {
                let landed = writes.landed.notified();
                tokio::pin!(landed);
                // Registered before the count is read, so a landing in between is not missed.
                landed.as_mut().enable();
                if writes.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                landed.await;
            }
        };
        tokio::time::timeout(timeout, settled).await.is_ok()
    }

    /// Sends one call, retrying when that is safe: idempotent calls on 429, 5xx and transport
    /// faults; any call on 429 (the gateway refused it unprocessed) and on connect failures
    /// (it never left). Everything else is returned as is. A call that changes the cloud runs
    /// to its end even if the caller stops waiting for it (see [`InFlight`]).
    pub(crate) async fn send(&self, call: &Call) -> Result<Response, CloudError> {
        if call.idempotent() {
            return self.send_retrying(call).await;
        }
        let guard = InFlightGuard::new(&self.shared);
        let (client, call) = (self.clone(), call.clone());
        let task = tokio::spawn(async move {
            let _guard = guard;
            client.send_retrying(&call).await
        });
        match task.await {
            Ok(result) => result,
            Err(e) => Err(CloudError::Config(format!("the request task ended without an answer: {e}"))),
        }
    }

    async fn send_retrying(&self, call: &Call) -> Result<Response, CloudError> {
        let max = self.shared.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            let mut retry_after = None;
            let result = self.send_once(call, &mut retry_after).await;
            attempt += 1;
            let retry = match &result {
                Ok(_) => return result,
                Err(CloudError::Api(a)) if a.status == 429 => true,
                Err(CloudError::Api(a)) => a.status >= 500 && call.idempotent(),
                Err(CloudError::Transport { kind, .. }) => call.idempotent() || *kind == CONNECT_FAILED,
                Err(_) => false,
            };
            if !retry || attempt >= max {
                return result;
            }
            // A server's Retry-After is honoured, up to the backoff cap.
            let backoff = self.shared.retry.delay(attempt - 1);
            let delay = retry_after.map_or(backoff, |ra: std::time::Duration| backoff.max(ra.min(self.shared.retry.cap)));
            if let Err(e) = &result {
                tracing::debug!(error = %e, attempt, delay_ms = delay.as_millis() as u64, "retrying");
            }
            self.shared.timer.sleep(delay).await;
        }
    }

    async fn send_once(&self, call: &Call, retry_after: &mut Option<std::time::Duration>) -> Result<Response, CloudError> {
        let svc = call.service.name();
        let base = self.shared.endpoints.url(call.service);
        let base_url = reqwest::Url::parse(base)
            .map_err(|e| CloudError::Config(format!("{svc} {}: bad endpoint {base:?}: {e}", call.operation)))?;
        let host = match (base_url.host_str(), base_url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(CloudError::Config(format!("{svc} {}: endpoint {base:?} has no host", call.operation))),
        };
        let path = format!("{}{}", base_url.path().trim_end_matches('/'), call.path);
        let query = signer::canonical_query(&call.query);
        let mut url = format!("{}://{host}{path}", base_url.scheme());
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let body = call.body.clone().unwrap_or_default();
        let mut headers = vec![
            ("Content-Type".to_string(), CONTENT_TYPE.to_string()),
            ("User-Agent".to_string(), USER_AGENT.to_string()),
        ];
        if call.project_scoped {
            if let Some(pid) = self.project_id() {
                headers.push(("X-Project-Id".to_string(), pid.to_string()));
            }
        }
        signer::sign(
            &self.shared.credentials,
            call.method.as_str(),
            &host,
            &path,
            &call.query,
            &mut headers,
            &body,
            time::OffsetDateTime::now_utc(),
        );
        tracing::debug!(
            service = svc,
            operation = call.operation,
            "request {} {url}\n  headers: {}\n  body: {}",
            call.method,
            masked_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            masked_body(&body)
        );
        self.shared.limiter.acquire().await;
        let mut req = self.shared.http.request(call.method.clone(), url.as_str());
        for (k, v) in &headers {
            // reqwest derives Host from the URL: the same authority we signed.
            if !k.eq_ignore_ascii_case("host") {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        let transport = |e: reqwest::Error| {
            let kind = if e.is_connect() { CONNECT_FAILED } else { REQUEST_FAILED };
            CloudError::Transport { service: svc.to_string(), operation: call.operation.to_string(), kind, source: e }
        };
        let started = std::time::Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(service = svc, operation = call.operation, elapsed_ms = started.elapsed().as_millis() as u64, "no response to {} {url}: {e}", call.method);
                return Err(transport(e));
            }
        };
        let status = resp.status().as_u16();
        // Formatted only when the debug log is on: masking parses every body.
        let response_headers = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| masked_headers(resp.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<binary>")))))
            .unwrap_or_default();
        let request_id = ["x-request-id", "x-iam-trace-id", "x-openstack-request-id"]
            .iter()
            .find_map(|h| resp.headers().get(*h).and_then(|v| v.to_str().ok()).map(str::to_string));
        *retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let body = resp.bytes().await.map_err(transport)?;
        tracing::debug!(
            service = svc,
            operation = call.operation,
            method = %call.method,
            path = %path,
            status,
            request_id = request_id.as_deref().unwrap_or("-"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response {status} to {} {url}\n  headers: {response_headers}\n  body: {}",
            call.method,
            masked_body(&body)
        );
        if status >= 400 {
            return Err(ApiError::from_response(svc, call.operation, status, &body, request_id).into());
        }
        Ok(Response { status, body, request_id })
    }

    /// Sends and decodes a JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, CloudError> {
        let resp = self.send(call).await?;
        decode(call, &resp)
    }

    /// Sends a create. If it fails in a way that leaves its outcome unknown (5xx, a timeout, a
    /// reset connection), looks the resource up by its unique name with `find` and returns what
    /// was found, or `CreateUncertain` when nothing turned up.
    pub(crate) async fn create_or_find<T, F, Fut>(
        &self,
        call: &Call,
        kind: &'static str,
        name: &str,
        decode_created: impl FnOnce(&Response) -> Result<T, CloudError>,
        mut find: F,
    ) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, CloudError>>,
    {
        let err = match self.send(call).await {
            Ok(resp) => return decode_created(&resp),
            Err(e) if e.is_ambiguous() => e,
            Err(e) => return Err(e),
        };
        tracing::warn!(error = %err, kind, name, "create failed ambiguously; looking it up by name");
        let attempts = self.shared.create_lookup_attempts.max(1);
        for i in 0..attempts {
            if i > 0 {
                self.shared.timer.sleep(self.shared.retry.delay(i - 1)).await;
            }
            match find().await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "lookup after an ambiguous create failed"),
            }
        }
        Err(CloudError::CreateUncertain {
            service: call.service.name().to_string(),
            operation: call.operation.to_string(),
            kind,
            name: name.to_string(),
            cause: Box::new(err),
        })
    }
}

pub(crate) fn decode<T: DeserializeOwned>(call: &Call, resp: &Response) -> Result<T, CloudError> {
    serde_json::from_slice(&resp.body).map_err(|e| CloudError::Decode {
        service: call.service.name().to_string(),
        operation: call.operation.to_string(),
        request_id: resp.request_id.clone(),
        reason: e.to_string(),
    })
}

/// Headers whose whole value is a credential.
const SECRET_HEADERS: [&str; 3] = ["x-security-token", "x-subject-token", "x-auth-token"];

/// JSON fields whose string values are credentials (compared case-insensitively): the keypair's
/// generated private key, server passwords and temporary AK/SK/token triples.
const SECRET_FIELDS: [&str; 8] = ["private_key", "adminpass", "admin_pass", "password", "access", "secret", "securitytoken", "security_token"];

/// Headers as `Name: value; …` for the debug log, with credentials masked. The `Authorization`
/// header keeps its algorithm and signed header names (what a signature mismatch is debugged
/// with) but not the access key nor the signature.
pub(crate) fn masked_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = Vec::new();
    for (k, v) in headers {
        let shown = if k.eq_ignore_ascii_case("authorization") {
            match signer::parse_authorization(v) {
                Some(a) => format!("{} Access=<sensitive>, SignedHeaders={}, Signature=<sensitive>", signer::ALGORITHM, a.signed_headers.join(";")),
                None => "<sensitive>".to_string(),
            }
        } else if SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            "<sensitive>".to_string()
        } else {
            v.to_string()
        };
        out.push(format!("{k}: {shown}"));
    }
    out.join("; ")
}

/// A body for the debug log: JSON with credential fields masked (a secret the cloud generates,
/// such as a keypair's private key, is logged before anyone could register it for redaction),
/// other text as is.
pub(crate) fn masked_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty)".to_string();
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) {
        if mask_secret_fields(&mut value) {
            return value.to_string();
        }
    }
    String::from_utf8_lossy(body).into_owned()
}

/// Replaces the values of credential fields anywhere in `value`; whether any was replaced.
fn mask_secret_fields(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut masked = false;
            for (k, v) in map.iter_mut() {
                if SECRET_FIELDS.iter().any(|s| k.eq_ignore_ascii_case(s)) && !v.is_null() {
                    *v = Value::String("<sensitive>".to_string());
                    masked = true;
                } else {
                    masked |= mask_secret_fields(v);
                }
            }
            masked
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, v| mask_secret_fields(v) | acc),
        _ => false,
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn authorization_keeps_signed_headers_but_not_the_key_or_signature() {
        let sig = "a".repeat(64);
        let auth = format!("SDK-HMAC-SHA256 Access=AKIDEXAMPLE, SignedHeaders=content-type;host;x-sdk-date, Signature={sig}");
        let shown = masked_headers([("Authorization", auth.as_str()), ("X-Security-Token", "tok-123456"), ("X-Sdk-Date", "20261125T165500Z")].into_iter());
        assert!(!shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains(&sig), "{shown}");
        assert!(!shown.contains("tok-123456"), "{shown}");
        assert!(shown.contains("SignedHeaders=content-type;host;x-sdk-date"), "{shown}");
        assert!(shown.contains("X-Sdk-Date: 20261125T165500Z"), "{shown}");
        let garbled = masked_headers([("authorization", "Basic QUtJRDpzZWNyZXQ=")].into_iter());
        assert_eq!(garbled, "authorization: <sensitive>");
    }

    #[test]
    fn generated_credentials_in_bodies_are_masked() {
        let body = br#"{"keypair":{"name":"kp","private_key":"-----BEGIN OPENSSH PRIVATE KEY-----\nabc"},"list":[{"credential":{"access":"TMPAK","secret":"TMPSK","securitytoken":"TOKEN"}}]}"#;
        let shown = masked_body(body);
        for leaked in ["BEGIN OPENSSH", "TMPAK", "TMPSK", "TOKEN"] {
            assert!(!shown.contains(leaked), "{leaked} in {shown}");
        }
        assert!(shown.contains(r#""name":"kp""#), "{shown}");
        let plain = br#"{"servers":[{"id":"s-1"}]}"#;
        assert_eq!(masked_body(plain), r#"{"servers":[{"id":"s-1"}]}"#);
        assert_eq!(masked_body(b""), "(empty)");
        assert_eq!(masked_body(b"not json"), "not json");
    }
}
