//! A small signed HTTP client for the local cloud's tests: real HTTP over loopback, requests
//! signed with the shared `SDK-HMAC-SHA256` signer exactly as the SDKs do. Beside it: `sandbox`
//! (sandbox-server tests), `sdk` (finding the official SDK) and `serve` (the `localcloud serve`
//! process).

#![allow(dead_code)]

pub mod sandbox;
pub mod sdk;
pub mod serve;

use cce_cloud::signer::{self, Credentials};
use cce_localcloud::{Config, LocalCloud, LocalCloudHandle, Service};
use serde_json::Value;

pub struct Client {
    pub http: reqwest::Client,
    pub creds: Credentials,
    pub project_id: String,
    /// Shifts the signing time, to test the skew check.
    pub skew: time::Duration,
}

pub struct Answer {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Value,
    pub raw: Vec<u8>,
}

/// A request to `base` + `path` signed over `body` with `creds`, for a test that sends it
/// itself: to watch what the connection does, or to send another body than the one signed.
pub fn signed_request(
    creds: &Credentials,
    base: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let host = base.trim_start_matches("http://").to_string();
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    signer::sign(
        creds,
        method,
        &host,
        path,
        &[],
        &mut headers,
        body,
        time::OffsetDateTime::now_utc(),
    );
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{base}{path}"));
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("host") {
            req = req.header(k, v);
        }
    }
    req
}

impl Client {
    /// [`signed_request`] to `service` with this client's keys; `path` may contain `{pid}`.
    pub fn signed_request(
        &self,
        h: &LocalCloudHandle,
        service: Service,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        let path = path.replace("{pid}", &self.project_id);
        signed_request(&self.creds, h.endpoint(service), method, &path, body)
    }

    pub fn new(h: &LocalCloudHandle) -> Client {
        Client {
            http: reqwest::Client::new(),
            creds: Credentials {
                access_key: h.access_key.clone(),
                secret_key: h.secret_key.clone(),
                security_token: None,
            },
            project_id: h.project_id.clone(),
            skew: time::Duration::ZERO,
        }
    }

    /// A signed GET of `path` (which may contain `{pid}`).
    pub async fn get(&self, h: &LocalCloudHandle, service: Service, path: &str) -> Answer {
        self.call(h, service, "GET", path, &[], None).await
    }

    /// A signed GET of `path` with a query.
    pub async fn get_query(
        &self,
        h: &LocalCloudHandle,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
    ) -> Answer {
        self.call(h, service, "GET", path, query, None).await
    }

    /// A signed POST of `body` to `path`.
    pub async fn post(
        &self,
        h: &LocalCloudHandle,
        service: Service,
        path: &str,
        body: &Value,
    ) -> Answer {
        self.call(h, service, "POST", path, &[], Some(body)).await
    }

    /// A signed DELETE of `path`.
    pub async fn delete(&self, h: &LocalCloudHandle, service: Service, path: &str) -> Answer {
        self.call(h, service, "DELETE", path, &[], None).await
    }

    /// Sends a signed request. `path` may contain `{pid}`.
    pub async fn call(
        &self,
        h: &LocalCloudHandle,
        service: Service,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let base = h.endpoint(service).to_string();
        let host = base.trim_start_matches("http://").to_string();
        let path = path.replace("{pid}", &self.project_id);
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body_bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let mut headers = vec![
            (
                "Content-Type".to_string(),
                "application/json;charset=UTF-8".to_string(),
            ),
            ("X-Project-Id".to_string(), self.project_id.clone()),
        ];
        signer::sign(
            &self.creds,
            method,
            &host,
            &path,
            &query,
            &mut headers,
            &body_bytes,
            time::OffsetDateTime::now_utc() + self.skew,
        );
        let qs = signer::canonical_query(&query);
        let url = if qs.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{qs}")
        };
        let mut req = self.http.request(method.parse().unwrap(), url);
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("host") {
                req = req.header(k, v);
            }
        }
        let resp = req
            .body(body_bytes)
            .send()
            .await
            .expect("request reaches the local cloud");
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let raw = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            request_id,
            body,
            raw,
        }
    }
}

pub async fn start(dir: &std::path::Path) -> LocalCloudHandle {
    LocalCloud::start(Config::new(dir))
        .await
        .expect("local cloud starts")
}

pub async fn start_with(config: Config) -> LocalCloudHandle {
    LocalCloud::start(config).await.expect("local cloud starts")
}
