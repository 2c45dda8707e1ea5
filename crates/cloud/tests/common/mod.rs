//! A signature-checking in-test HTTP server answering from a script, shared by the HTTP tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cce_cloud::signer::{self, Credentials, RequestParts};
use cce_cloud::{Backoff, Client, ClientConfig, Endpoints, Service, VirtualTimer};
use serde_json::{Value, json};

pub const AK: &str = "HPUAEXAMPLEAK0000001";
pub const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
pub const PID: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub type Script = dyn Fn(&Seen, usize) -> (u16, Value) + Send + Sync;

pub struct TestServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.seen().iter().filter(|s| s.method == method && s.path.contains(path_part)).count()
    }
}

pub async fn serve(script: impl Fn(&Seen, usize) -> (u16, Value) + Send + Sync + 'static) -> TestServer {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let script: Arc<Script> = Arc::new(script);
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        let script = script.clone();
        async move {
            let headers: Vec<(String, String)> =
                headers.iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
            let raw_query = uri.query().unwrap_or("").to_string();
            let query = signer::parse_query(&raw_query);
            let parts = RequestParts { method: method.as_str(), path: uri.path(), query: &query, headers: &headers, body: &body };
            let verified = signer::verify(&parts, |ak| (ak == AK).then(|| SK.to_string()), time::OffsetDateTime::now_utc());
            let s = Seen {
                method: method.to_string(),
                path: uri.path().to_string(),
                raw_query,
                query: query.clone(),
                headers: headers.clone(),
                body: body.to_vec(),
                at: Instant::now(),
            };
            let n = {
                let mut l = log.lock().unwrap();
                l.push(s.clone());
                l.len() - 1
            };
            let (status, value) = match verified {
                Ok(_) => script(&s, n),
                Err(e) => (401, json!({"error_code": "APIGW.0301", "error_msg": format!("Incorrect IAM authentication information: {e}")})),
            };
            let mut resp: Response = (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response();
            resp.headers_mut().insert("x-request-id", format!("req-{n}").parse().unwrap());
            if status == 429 {
                resp.headers_mut().insert("retry-after", "7".parse().unwrap());
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer { url, seen }
}

pub fn config(url: &str, timer: Arc<VirtualTimer>) -> ClientConfig {
    let mut e = Endpoints::cloud_ru("ru-moscow-1");
    for svc in Service::ALL {
        e = e.with_url(svc, url).unwrap();
    }
    let creds = Credentials { access_key: AK.into(), secret_key: SK.into(), security_token: None };
    let mut c = ClientConfig::new(e, creds);
    c.project_id = Some(PID.into());
    c.timer = timer;
    c.retry = Backoff { initial: Duration::from_secs(1), cap: Duration::from_secs(30), max_attempts: 4 };
    c
}

pub fn client(url: &str) -> (Client, Arc<VirtualTimer>) {
    let timer = Arc::new(VirtualTimer::default());
    (Client::new(config(url, timer.clone())).unwrap(), timer)
}

