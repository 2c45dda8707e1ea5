//! TLS and proxy on the real path: an in-test HTTPS endpoint with a certificate from a private CA
//! (made by the `openssl` CLI) is refused by default, trusted through `CCE_CA_BUNDLE`, accepted
//! with `insecure`, and reached through an `HTTPS_PROXY` CONNECT tunnel.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use cce_cloud::{Backoff, Client, TransportOptions, VirtualTimer};
use common::config;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn have_openssl() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("openssl CLI is required for the TLS tests (CI=true)");
        }
        eprintln!("skipping: the openssl CLI is not installed");
    }
    ok
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cce test ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &csr);
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(dir, &["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext"]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

const ANSWER: &str = r#"{"vpc": {"id": "v-tls", "name": "n", "status": "OK"}}"#;

async fn read_head(s: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

/// An HTTPS server answering every GET with `ANSWER`; returns its URL.
async fn https_server(cert: &Path, key: &Path) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let cfg = tokio_rustls::rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let _ = read_head(&mut tls).await;
                let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ANSWER}", ANSWER.len());
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

/// A CONNECT proxy that records each request line and tunnels bytes both ways.
async fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let head = read_head(&mut client).await;
                let line = head.lines().next().unwrap_or("").to_string();
                log.lock().unwrap().push(line.clone());
                let Some(target) = line.strip_prefix("CONNECT ").and_then(|r| r.split(' ').next()) else { return };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else { return };
                if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (url, seen)
}

fn tls_client(url: &str, transport: TransportOptions) -> Result<Client, cce_cloud::CloudError> {
    let mut cfg = config(url, Arc::new(VirtualTimer::default()));
    cfg.transport = transport;
    cfg.retry = Backoff { max_attempts: 1, ..Backoff::default() };
    Client::new(cfg)
}

#[tokio::test]
async fn private_ca_is_refused_by_default_and_trusted_through_the_bundle() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(dir.path());
    let url = https_server(&cert, &key).await;

    let err = tls_client(&url, TransportOptions::default()).unwrap().show_vpc("v").await.unwrap_err();
    assert!(err.to_string().starts_with("vpc show vpc: connection failed"), "{err}");

    let env = HashMap::from([("CCE_CA_BUNDLE".to_string(), ca.display().to_string())]);
    let trusted = tls_client(&url, TransportOptions::from_env(&env)).unwrap();
    assert_eq!(trusted.show_vpc("v").await.unwrap().id, "v-tls");

    let insecure = tls_client(&url, TransportOptions { insecure: true, ..Default::default() }).unwrap();
    assert_eq!(insecure.show_vpc("v").await.unwrap().id, "v-tls");
}

#[tokio::test]
async fn https_proxy_from_the_injected_env_is_used() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(dir.path());
    let url = https_server(&cert, &key).await;
    let (proxy, seen) = connect_proxy().await;
    let env = HashMap::from([("https_proxy".to_string(), proxy), ("CCE_CA_BUNDLE".to_string(), ca.display().to_string())]);
    let c = tls_client(&url, TransportOptions::from_env(&env)).unwrap();
    assert_eq!(c.show_vpc("v").await.unwrap().id, "v-tls");
    let lines = seen.lock().unwrap().clone();
    let authority = url.trim_start_matches("https://");
    assert_eq!(lines, vec![format!("CONNECT {authority} HTTP/1.1")]);
}
