//! The package proxy on a host address, spoken to over real TCP: an allowed host is reached
//! (forwarded GET with its body streamed, and a CONNECT tunnel), a host not on the list gets 403
//! naming it, an unreachable one 502, malformed and oversized heads 400 and 431.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use cce_sandbox::{AllowList, PackageProxy};
use common::origin::http_origin;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// An origin server on `ip`: answers every request with what it received as its body, after
/// `len` bytes of filler when the path is `/big/<len>`.
async fn origin(ip: [u8; 4]) -> SocketAddr {
    http_origin(ip, |head| {
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let body = match path.strip_prefix("/big/") {
            Some(n) => vec![b'x'; n.parse().unwrap()],
            None => head.as_bytes().to_vec(),
        };
        ("200 OK", body)
    })
    .await
}

async fn exchange(proxy: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("the proxy answers")
        .unwrap();
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn the_proxy_admits_only_listed_hosts() {
    let allowed = origin([127, 0, 0, 1]).await;
    let other = origin([127, 0, 0, 1]).await;
    let allow = AllowList::parse(&format!("{allowed},unreachable.invalid:80,127.0.0.1:1")).unwrap();
    let proxy = PackageProxy::new(allow, tokio::runtime::Handle::current());
    let listener = proxy.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let p = listener.local_addr();

    // A forwarded GET reaches the origin in origin form, hop-by-hop headers dropped.
    let r = exchange(
        p,
        format!("GET http://{allowed}/debian/x HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    assert!(
        r.contains("GET /debian/x HTTP/1.1\r\n") && r.contains(&format!("Host: {allowed}")),
        "{r}"
    );
    assert!(
        !r.contains("Proxy-Connection") && r.contains("Connection: close"),
        "{r}"
    );

    // A large body streams through whole.
    let r = exchange(
        p,
        format!("GET http://{allowed}/big/3000000 HTTP/1.1\r\n\r\n").as_bytes(),
    )
    .await;
    let body = r.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body.len(), 3_000_000);

    // The same address on another port is another host.
    let r = exchange(
        p,
        format!("GET http://{other}/ HTTP/1.1\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 403 Forbidden"), "{r}");
    assert!(
        r.contains(&format!(
            "{other} is not on the local cloud's package allow-list"
        )),
        "{r}"
    );
    let r = exchange(p, b"GET http://evil.example/ HTTP/1.1\r\n\r\n").await;
    assert!(
        r.contains("403") && r.contains("evil.example:80 is not on"),
        "{r}"
    );

    // CONNECT: a tunnel to an allowed host, a refusal for another.
    let mut s = TcpStream::connect(p).await.unwrap();
    s.write_all(
        format!(
            "CONNECT {allowed} HTTP/1.1\r\nHost: {allowed}\r\n\r\nGET /tunnelled HTTP/1.1\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK"),
        "{out}"
    );
    assert!(out.contains("GET /tunnelled HTTP/1.1"), "{out}");
    let r = exchange(p, format!("CONNECT {other} HTTP/1.1\r\n\r\n").as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");

    // Unreachable upstreams: a name that does not resolve, a port nobody listens on.
    let r = exchange(p, b"GET http://unreachable.invalid/ HTTP/1.1\r\n\r\n").await;
    assert!(
        r.starts_with("HTTP/1.1 502 Bad Gateway")
            && r.contains("cannot reach unreachable.invalid:80"),
        "{r}"
    );
    let r = exchange(p, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 502"), "{r}");

    // Malformed and oversized heads.
    let r = exchange(p, b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        r.starts_with("HTTP/1.1 400 Bad Request") && r.contains("not an absolute http:// URL"),
        "{r}"
    );
    let mut big = b"GET http://evil.example/ HTTP/1.1\r\n".to_vec();
    while big.len() <= cce_sandbox::proxy::HEADER_LIMIT {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    let r = exchange(p, &big).await;
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");

    // Connections beyond the limit are answered 503 at once; a freed slot admits again.
    let mut held = Vec::new();
    for _ in 0..cce_sandbox::proxy::MAX_CONNECTIONS {
        held.push(TcpStream::connect(p).await.unwrap());
    }
    // The listener accepts in order: once the last held one is served, all are.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = exchange(
        p,
        format!("GET http://{allowed}/ HTTP/1.1\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 503") && r.contains("at most 128 connections"),
        "{r}"
    );
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = exchange(
            p,
            format!("GET http://{allowed}/ HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        if r.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slots were not freed: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
