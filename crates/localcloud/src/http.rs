//! The HTTP front of the local cloud: one listener per service (IAM, ECS, IMS, VPC/EIP), each
//! request checked like the API gateway does (signature, date skew), routed to an operation,
//! faults applied, state saved, and an `X-Request-Id` put on every response.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::backend::ServerBackend;
use crate::config::{Config, Latency};
use crate::faults::{FaultKind, Faults};
use crate::ops::{self, ApiError, Ctx, Reply};
use crate::world::{Store, World, now_ms};

/// Largest request body accepted.
const MAX_BODY: usize = 8 << 20;

/// The four services, each on its own listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Iam,
    Ecs,
    Ims,
    Vpc,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Iam, Service::Ecs, Service::Ims, Service::Vpc];

    pub fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Ecs => "ecs",
            Service::Ims => "ims",
            Service::Vpc => "vpc",
        }
    }
}

/// What every listener shares.
pub(crate) struct Shared {
    pub config: Config,
    pub latency: Latency,
    pub access_key: String,
    pub secret_key: String,
    pub backend: Arc<dyn ServerBackend>,
    pub store: Store,
    pub inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    pub world: World,
    pub faults: Faults,
    /// Consecutive signature failures of the access key, and until when it is locked.
    pub auth_failures: u32,
    pub locked_until: Option<std::time::Instant>,
    /// The bytes last written, to skip writes that change nothing.
    pub saved: Vec<u8>,
}

impl Shared {
    /// A poisoned lock means a handler panicked; the state itself is still consistent because
    /// every handler validates before it mutates.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the state if it changed. Failing to save is logged and reported as a 500 by the
    /// caller: the client must not believe a change was kept when it was not.
    pub(crate) fn persist(&self, inner: &mut Inner) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(&inner.world)
            .map_err(|e| format!("cannot encode state: {e}"))?;
        if bytes != inner.saved {
            self.store.save_bytes(&bytes).map_err(|e| e.to_string())?;
            inner.saved = bytes;
        }
        Ok(())
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn json_response(status: u16, body: &Value, rid: &str) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw_response(status, bytes, rid)
}

fn raw_response(status: u16, bytes: Vec<u8>, rid: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-request-id", v);
    }
    resp
}

/// The gateway's 401 for any signature problem.
pub fn auth_error_body(rid: &str) -> Value {
    json!({
        "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
        "error_code": "APIGW.0301",
        "request_id": rid,
    })
}

/// The gateway's 404 for a path no API is published on.
pub fn not_found_body(rid: &str) -> Value {
    json!({"error_msg": "API not found", "error_code": "APIGW.0101", "request_id": rid})
}

/// The gateway's 429.
pub fn throttle_body(rid: &str) -> Value {
    json!({
        "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second",
        "error_code": "APIGW.0308",
        "request_id": rid,
    })
}

/// Appends one request to the request log. Failing to write is logged, never fatal: the log is
/// a testing aid and must not change what the client sees.
/// Request fields that carry a secret: their values never reach the request log.
const SECRET_FIELDS: &[&str] = &["adminPass", "admin_pass", "password", "private_key"];

fn redact_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str()) && !val.is_null() {
                    *val = Value::String("<sensitive>".into());
                } else {
                    redact_secrets(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

fn record_request(
    log: &std::path::Path,
    service: Service,
    op: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &Value,
) {
    use std::io::Write;
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    let mut body = body.clone();
    redact_secrets(&mut body);
    let line = json!({
        "service": service.name(),
        "op": op,
        "method": method,
        "path": path,
        "query": pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "body": body,
    });
    // One write per line: concurrent requests append to the same file, and `writeln!` of a
    // `Value` would issue a write per token, interleaving lines.
    let mut text = line.to_string();
    text.push('\n');
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(file = %log.display(), error = %e, "cannot write the request log");
    }
}

pub(crate) async fn handle(
    State((shared, service)): State<(Arc<Shared>, Service)>,
    req: Request<Body>,
) -> Response<Body> {
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let b = json!({"error_msg": "Request entity too large or unreadable", "error_code": "APIGW.0201", "request_id": rid});
            return json_response(413, &b, &rid);
        }
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = cce_cloud::signer::parse_query(parts.uri.query().unwrap_or(""));
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();

    // Like the gateway: an unknown API is a 404 before any signature check.
    let Some(route) = ops::route(service, &method, &path) else {
        return json_response(404, &not_found_body(&rid), &rid);
    };
    let signed = cce_cloud::signer::RequestParts {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let verified = cce_cloud::signer::verify(
        &signed,
        |ak| (ak == shared.access_key).then(|| shared.secret_key.clone()),
        time::OffsetDateTime::now_utc(),
    );
    {
        let mut inner = shared.lock();
        let now = std::time::Instant::now();
        if inner.locked_until.is_some_and(|until| now < until)
            && verified.as_deref() == Ok(shared.access_key.as_str())
        {
            tracing::debug!(%method, %path, "access key is locked after repeated signature failures");
            return json_response(401, &auth_error_body(&rid), &rid);
        }
        match &verified {
            Ok(_) => inner.auth_failures = 0,
            Err(e) => {
                // Only failures of the known key count towards its lock.
                if !matches!(
                    e,
                    cce_cloud::signer::VerifyError::UnknownAccessKey
                        | cce_cloud::signer::VerifyError::MalformedAuthorization
                ) {
                    inner.auth_failures += 1;
                    if shared
                        .config
                        .lock_after_failures
                        .is_some_and(|n| inner.auth_failures >= n)
                    {
                        inner.locked_until = Some(now + shared.config.lockout);
                        inner.auth_failures = 0;
                    }
                }
                tracing::debug!(%method, %path, error = %e, "signature refused");
                return json_response(401, &auth_error_body(&rid), &rid);
            }
        }
    }

    let body_value: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let err = ops::error(
                    route.style,
                    400,
                    "",
                    &format!("request body is not valid JSON: {e}"),
                    &rid,
                );
                return json_response(err.status, &err.body, &rid);
            }
        }
    };
    let op = ops::op_name(&route, &body_value);
    if let Some(log) = &shared.config.request_log {
        record_request(log, service, op, &method, &path, &query, &body_value);
    }

    let fault = if route.admin {
        None
    } else {
        shared.lock().faults.on_call(service.name(), op)
    };
    match &fault {
        Some(FaultKind::Status { status }) => {
            let b = json!({"error_msg": "Backend service unavailable", "error_code": "APIGW.0202", "request_id": rid});
            return json_response(*status, &b, &rid);
        }
        Some(FaultKind::Throttle) => return json_response(429, &throttle_body(&rid), &rid),
        Some(FaultKind::Slow { delay_ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(*delay_ms)).await
        }
        _ => {}
    }
    let reply = {
        let mut inner = shared.lock();
        if let Some(pid) = &route.project {
            if *pid != inner.world.project_id {
                let err = ops::error(
                    route.style,
                    403,
                    "",
                    &format!("project `{pid}` in the path is not the project of these credentials"),
                    &rid,
                );
                return json_response(err.status, &err.body, &rid);
            }
        }
        let now = now_ms();
        let gone = inner.world.advance_with(now, shared.backend.as_ref());
        for id in gone {
            if let Err(e) = shared.backend.delete(&id) {
                tracing::warn!(server = %id, error = %e, "backend failed to delete a server");
            }
        }
        let inner_ref = &mut *inner;
        let mut ctx = Ctx {
            world: &mut inner_ref.world,
            faults: &mut inner_ref.faults,
            now,
            latency: &shared.latency,
            config: &shared.config,
            backend: shared.backend.as_ref(),
            fault: fault.clone(),
            request_id: &rid,
            params: route.params.clone(),
            query: &query,
            body: &body_value,
            style: route.style,
        };
        let result = (route.handler)(&mut ctx);
        match shared.persist(&mut inner) {
            Ok(()) => result,
            Err(e) => {
                tracing::error!(error = %e, "cannot save the local cloud's state");
                Err(ops::error(
                    route.style,
                    500,
                    "",
                    &format!("cannot save state: {e}"),
                    &rid,
                ))
            }
        }
    };

    let (status, body) = match reply {
        Ok(Reply { status, body }) => (status, body),
        Err(ApiError { status, body }) => (status, Some(body)),
    };
    tracing::debug!(service = service.name(), op, status, request_id = %rid, fault = ?fault, "api call");
    let bytes = match &body {
        Some(v) => serde_json::to_vec(v).unwrap_or_default(),
        None => Vec::new(),
    };
    match fault {
        Some(FaultKind::Drop) => {
            // The operation ran; the client sees the connection close without a response body.
            let stream = futures_util::stream::once(async {
                Err::<Vec<u8>, std::io::Error>(std::io::Error::other("dropped"))
            });
            let mut resp = Response::new(Body::from_stream(stream));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Ok(v) = HeaderValue::from_str(&rid) {
                resp.headers_mut().insert("x-request-id", v);
            }
            resp
        }
        Some(FaultKind::Truncate) => {
            let half = bytes.len() / 2;
            raw_response(status, bytes[..half].to_vec(), &rid)
        }
        Some(FaultKind::Malformed) => raw_response(
            status,
            b"<html><body>502 Bad Gateway</body></html>{\"job_id\":".to_vec(),
            &rid,
        ),
        _ => {
            let mut resp = raw_response(status, bytes, &rid);
            if body.is_none() {
                resp.headers_mut().remove("content-type");
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_a_body_never_reach_the_request_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("requests.jsonl");
        let body = json!({"server": {"name": "s", "adminPass": "Secret-Pass-1", "nics": [{"password": "p2"}]}});
        record_request(&log, Service::Ecs, "CreateServers", "POST", "/p", &[], &body);
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(!text.contains("Secret-Pass-1") && !text.contains("p2"), "{text}");
        let v: Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(v["body"]["server"]["adminPass"], "<sensitive>");
        assert_eq!(v["body"]["server"]["name"], "s");
    }

    /// Requests are served concurrently and all append to one log: every line must stay whole.
    #[test]
    fn concurrent_requests_log_whole_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("requests.jsonl");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let body = json!({"n": i, "t": t, "pad": vec!["x".repeat(64); 40]});
                        record_request(&log, Service::Ecs, "Op", "POST", "/p", &[], &body);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        let text = std::fs::read_to_string(&log).expect("log");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 400);
        for line in lines {
            let v: Value = serde_json::from_str(line).expect("a whole JSON line");
            assert_eq!(v["op"], "Op");
        }
    }
}
