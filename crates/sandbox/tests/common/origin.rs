//! Plain HTTP/1.1 origins on host loopback addresses for the package-proxy tests: each reads a
//! request head, answers from it and closes the connection. Also used by the local cloud's
//! proxy tests (through `#[path]`), so it needs nothing but tokio.
#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// The body of `/pool/hello.txt` on a [`hello_origin`].
pub const HELLO: &str = "hello from the package mirror";

/// An origin on `ip` (a free port) answering each request with the status (`200 OK`, …) and
/// body that `answer` makes of its head.
pub async fn http_origin<F>(ip: [u8; 4], answer: F) -> SocketAddr
where
    F: Fn(&str) -> (&'static str, Vec<u8>) + Send + Sync + Clone + 'static,
{
    let listener = TcpListener::bind(SocketAddr::from((ip, 0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let (status, body) = answer(&String::from_utf8_lossy(&buf));
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    addr
}

/// An origin on `ip` serving `/pool/hello.txt` ([`HELLO`]); 404 for anything else.
pub async fn hello_origin(ip: [u8; 4]) -> SocketAddr {
    http_origin(ip, |head| match head.split(' ').nth(1) {
        Some("/pool/hello.txt") => ("200 OK", format!("{HELLO}\n").into_bytes()),
        _ => ("404 Not Found", b"no such file\n".to_vec()),
    })
    .await
}
