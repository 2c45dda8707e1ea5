//! Signs the reference ECS batch-stop request (test vector V2) repeatedly and prints the rate,
//! for `bench/signing.sh`. Refuses to report a rate if the signature is not the expected one.

use std::time::Instant;

use cce_cloud::signer::{self, Credentials};

const AK: &str = "HPUAEXAMPLEAK0000001";
const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
const PID: &str = "0123456789abcdef0123456789abcdef";
const DATE: &str = "20240101T120000Z";
const EXPECTED: &str = "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=7c56f23bf37e7c8a7a8e918889c865cbbba27a799e3e8e5926b62a3708a1a995";

fn sign_once(creds: &Credentials, path: &str, now: time::OffsetDateTime) -> String {
    let body = br#"{"os-stop":{"type":"SOFT","servers":[{"id":"616fb98f-46ca-475e-917e-2563e5a8cd19"}]}}"#;
    let mut headers = vec![
        ("X-Sdk-Date".to_string(), DATE.to_string()),
        ("X-Project-Id".to_string(), PID.to_string()),
        ("Content-Type".to_string(), "application/json;charset=UTF-8".to_string()),
    ];
    signer::sign(creds, "POST", "ecs.ru-moscow-1.hc.sbercloud.ru", path, &[], &mut headers, body, now);
    headers.pop().map(|(_, v)| v).unwrap_or_default()
}

fn main() -> std::process::ExitCode {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let creds = Credentials { access_key: AK.into(), secret_key: SK.into(), security_token: None };
    let path = format!("/v1/{PID}/cloudservers/action");
    let now = time::OffsetDateTime::now_utc();
    let first = sign_once(&creds, &path, now);
    if first != EXPECTED {
        eprintln!("sign_rate: wrong signature: {first}");
        return std::process::ExitCode::FAILURE;
    }
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..n {
        sink = sink.wrapping_add(sign_once(&creds, &path, now).len());
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{:.0}", f64::from(n) / secs);
    eprintln!("sign_rate: {n} signatures in {secs:.3}s ({sink} bytes)");
    std::process::ExitCode::SUCCESS
}
