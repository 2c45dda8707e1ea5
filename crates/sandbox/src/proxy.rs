//! The sandbox's only way out: an allow-listed HTTP proxy to the package mirror. A listener
//! inside each server's network namespace (`127.0.0.1:3128`, bound from a thread that joins the
//! namespace) hands every connection to this process, which speaks HTTP proxy to it and reaches
//! only the hosts on the allow-list: `CONNECT host:port` is tunnelled, an absolute-form
//! `GET http://host/path` is forwarded with `Connection: close`. Names are resolved here, on the
//! host side, so the server needs no DNS, and there is still no routed link out of it.
//!
//! The server learns about the proxy from files in a layer of their own, outside its disk (see
//! [`settings_files`]), so a captured image never carries them.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::os::fd::AsFd as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a relayed exchange may carry nothing either way before it is cut (a silent
/// upstream must not hold a connection, and with it the server's namespace, forever).
pub const RELAY_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Most connections one listener (one server) carries at once; more are answered 503.
pub const MAX_CONNECTIONS: usize = 128;
/// The port the proxy listens on inside each server (`127.0.0.1:3128`).
pub const SANDBOX_PROXY_PORT: u16 = 3128;
/// Largest request head (request line and headers) accepted.
pub const HEADER_LIMIT: usize = 64 * 1024;
/// How long a client may take to send its request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the connection to an upstream (name resolution included) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One allowed host: a name or address, lowercase, and a port (`None`: 80 and 443).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    pub host: String,
    pub port: Option<u16>,
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bracketed(&self.host))?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The hosts the proxy reaches; everything else is refused with 403.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<AllowedHost>,
}

impl AllowList {
    /// Parses `host1,host2:8080,[2001:db8::1]:80`: names or addresses, each with an optional
    /// port (without one, 80 and 443 are allowed). The error names the bad entry.
    pub fn parse(list: &str) -> Result<AllowList, String> {
        let mut hosts = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, port) = parse_authority(entry).map_err(|e| format!("`{entry}`: {e}"))?;
            let allowed = AllowedHost { host, port };
            if !hosts.contains(&allowed) {
                hosts.push(allowed);
            }
        }
        if hosts.is_empty() {
            return Err("the list of package hosts is empty: give at least one host, or turn the package proxy off".into());
        }
        Ok(AllowList { hosts })
    }

    /// The hosts of this machine's Debian mirrors: [`crate::debian_mirror`] and every `http`
    /// or `https` source of `/etc/apt/sources.list` and `/etc/apt/sources.list.d/debian.sources`
    /// (the security mirror included).
    pub fn host_mirrors() -> AllowList {
        let mut urls = vec![crate::debian_mirror()];
        if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
            urls.extend(one_line_source_urls(&text));
        }
        if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources") {
            urls.extend(deb822_source_urls(&text));
        }
        let mut list = AllowList::default();
        for url in urls {
            let Some(rest) = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
            else {
                continue;
            };
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if let Ok((host, port)) = parse_authority(authority) {
                let allowed = AllowedHost { host, port };
                if !list.hosts.contains(&allowed) {
                    list.hosts.push(allowed);
                }
            }
        }
        if list.hosts.is_empty() {
            list.hosts.push(AllowedHost {
                host: "deb.debian.org".into(),
                port: None,
            });
        }
        list
    }

    pub fn hosts(&self) -> &[AllowedHost] {
        &self.hosts
    }

    /// Whether `host` (already lowercase, as [`parse_authority`] gives it) on `port` may be reached.
    pub fn admits(&self, host: &str, port: u16) -> bool {
        self.hosts
            .iter()
            .any(|a| a.host == host && a.port.map_or(port == 80 || port == 443, |p| p == port))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{h}")?;
        }
        Ok(())
    }
}

fn one_line_source_urls(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("deb ") || l.starts_with("deb-src "))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        })
        .map(str::to_string)
        .collect()
}

fn deb822_source_urls(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("URIs:"))
        .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Splits `host[:port]` or `[v6]:port` into a lowercase host (a v6 address without brackets)
/// and its port. Names hold letters, digits, `-`, `_` and `.`; user info is refused.
pub fn parse_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        return Err("user info (`user@`) is not accepted".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address lacks its closing `]`")?;
        let addr: Ipv6Addr = v6
            .parse()
            .map_err(|_| format!("`{v6}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the IPv6 address")?),
        };
        (addr.to_string(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err("an IPv6 address must be in brackets: `[2001:db8::1]:80`".into());
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.is_empty() {
            return Err("no host".into());
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || host.starts_with('.')
            || host.contains("..")
        {
            return Err(format!("`{host}` is not a host name or address"));
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => Some(n),
            _ => return Err(format!("port `{p}` is not a number from 1 to 65535")),
        },
    };
    Ok((host, port))
}

/// A request head as the proxy understands it.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyRequest {
    /// `CONNECT host:port`: a tunnel.
    Connect { host: String, port: u16 },
    /// `METHOD http://host[:port]/path`: forwarded with the head rewritten for the origin.
    Forward {
        host: String,
        port: u16,
        head: Vec<u8>,
        line: String,
    },
}

/// Headers that concern one hop only and are not forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

/// Parses a request head (through the blank line). Errors are the text of a 400 answer.
pub fn parse_request(head: &[u8]) -> Result<ProxyRequest, String> {
    let text = std::str::from_utf8(head).map_err(|_| "the request head is not text".to_string())?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "malformed request line `{}`",
            request_line.escape_default()
        ));
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
    {
        return Err(format!("malformed method `{}`", method.escape_default()));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!(
            "unsupported protocol `{}`: use HTTP/1.0 or HTTP/1.1",
            version.escape_default()
        ));
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            return Err("folded header lines are not accepted".into());
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed header line `{}`", line.escape_default()))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("malformed header name `{}`", name.escape_default()));
        }
        headers.push((name, value.trim()));
    }
    if method == "CONNECT" {
        let (host, port) =
            parse_authority(target).map_err(|e| format!("CONNECT target `{target}`: {e}"))?;
        let port = port.ok_or_else(|| format!("CONNECT target `{target}` has no port"))?;
        return Ok(ProxyRequest::Connect { host, port });
    }
    let lower = target
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("http://") {
        &target[7..]
    } else if lower == "https://" {
        return Err(format!(
            "`{target}` is https: ask for it with CONNECT (set https_proxy, not http_proxy)"
        ));
    } else {
        return Err(format!(
            "`{target}` is not an absolute http:// URL: this is a proxy, send it the whole URL"
        ));
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let (host, port) = parse_authority(authority).map_err(|e| format!("URL `{target}`: {e}"))?;
    let port = port.unwrap_or(80);
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    // Headers the client names in `Connection` are hop-by-hop too.
    let named: Vec<String> = headers
        .iter()
        .filter(|(n, _)| {
            n.eq_ignore_ascii_case("connection") || n.eq_ignore_ascii_case("proxy-connection")
        })
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let mut out = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        out.push_str(&format!("Host: {authority}\r\n"));
    }
    for (name, value) in &headers {
        let lname = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lname.as_str()) || named.contains(&lname) {
            continue;
        }
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(ProxyRequest::Forward {
        host,
        port,
        head: out.into_bytes(),
        line: format!("{method} {target}"),
    })
}

/// The proxy of one local cloud: its allow-list and the runtime its connections run on.
#[derive(Clone)]
pub struct PackageProxy {
    allow: Arc<AllowList>,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for PackageProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackageProxy")
            .field("allow", &self.allow.to_string())
            .finish()
    }
}

/// A running proxy listener; dropping it stops accepting (open connections end with their peers).
pub struct ProxyListener {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ProxyListener {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ProxyListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PackageProxy {
    pub fn new(allow: AllowList, runtime: tokio::runtime::Handle) -> PackageProxy {
        PackageProxy {
            allow: Arc::new(allow),
            runtime,
        }
    }

    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    /// Listens on a host address (for tools and tests; servers get [`Self::listen_in_netns`]).
    pub async fn listen(&self, addr: SocketAddr) -> std::io::Result<ProxyListener> {
        let listener = TcpListener::bind(addr).await?;
        self.accept_loop(listener, addr.to_string())
    }

    /// Listens on `127.0.0.1:port` inside the named network namespace. The socket is bound on a
    /// short-lived thread that joins the namespace; connections are served by this process.
    pub fn listen_in_netns(&self, netns: &str, port: u16) -> std::io::Result<ProxyListener> {
        let path = format!("/run/netns/{netns}");
        let std_listener = std::thread::spawn(move || {
            let f = std::fs::File::open(&path)?;
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        })
        .join()
        .map_err(|_| std::io::Error::other("the namespace binder thread panicked"))??;
        std_listener.set_nonblocking(true)?;
        let _guard = self.runtime.enter();
        let listener = TcpListener::from_std(std_listener)?;
        self.accept_loop(listener, netns.to_string())
    }

    fn accept_loop(&self, listener: TcpListener, label: String) -> std::io::Result<ProxyListener> {
        let addr = listener.local_addr()?;
        let allow = self.allow.clone();
        // One server cannot use up the descriptors of the process that also serves the API.
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let task = self.runtime.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((mut client, _)) => {
                        let allow = allow.clone();
                        let label = label.clone();
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            tracing::warn!(server = %label, "package proxy refused a connection: too many at once");
                            tokio::spawn(async move {
                                let message = format!("the package proxy carries at most {MAX_CONNECTIONS} connections of a server at once");
                                answer(&mut client, 503, "Service Unavailable", &message).await;
                            });
                            continue;
                        };
                        tokio::spawn(async move {
                            serve_connection(client, &allow, &label).await;
                            drop(slot);
                        });
                    }
                    // Out of descriptors, most likely: wait rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Ok(ProxyListener { addr, task })
    }
}

/// Why a request head could not be read.
enum HeadError {
    /// The client closed before sending anything: nothing to answer.
    Closed,
    Answer(u16, &'static str, String),
}

/// Reads through the blank line that ends the head; returns the head and any bytes after it.
async fn read_head<S: AsyncRead + Unpin>(client: &mut S) -> Result<(Vec<u8>, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = client
                .read(&mut chunk)
                .await
                .map_err(|_| HeadError::Closed)?;
            if n == 0 {
                return Err(if buf.is_empty() {
                    HeadError::Closed
                } else {
                    HeadError::Answer(400, "Bad Request", "the request head ended early".into())
                });
            }
            let from = buf.len().saturating_sub(3);
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + end + 4;
                let rest = buf.split_off(end);
                return Ok((std::mem::take(&mut buf), rest));
            }
            if buf.len() > HEADER_LIMIT {
                return Err(HeadError::Answer(
                    431,
                    "Request Header Fields Too Large",
                    format!("the request head is larger than {HEADER_LIMIT} bytes"),
                ));
            }
        }
    };
    match tokio::time::timeout(HEADER_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err(HeadError::Answer(
            408,
            "Request Timeout",
            format!(
                "the request head did not arrive within {} s",
                HEADER_TIMEOUT.as_secs()
            ),
        )),
    }
}

async fn answer<S: AsyncWrite + Unpin>(client: &mut S, status: u16, reason: &str, message: &str) {
    let body = format!("{message}\n");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = client.write_all(head.as_bytes()).await;
    let _ = client.write_all(body.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Serves one client connection: reads its request, checks the host and relays.
pub async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    allow: &AllowList,
    server: &str,
) {
    let (head, rest) = match read_head(&mut client).await {
        Ok(h) => h,
        Err(HeadError::Closed) => return,
        Err(HeadError::Answer(status, reason, message)) => {
            tracing::warn!(server, status, %message, "package proxy refused a request");
            answer(&mut client, status, reason, &message).await;
            return;
        }
    };
    let request = match parse_request(&head) {
        Ok(r) => r,
        Err(message) => {
            tracing::warn!(server, %message, "package proxy refused a malformed request");
            answer(&mut client, 400, "Bad Request", &message).await;
            return;
        }
    };
    let (host, port) = match &request {
        ProxyRequest::Connect { host, port } | ProxyRequest::Forward { host, port, .. } => {
            (host.clone(), *port)
        }
    };
    let target = format!("{}:{port}", bracketed(&host));
    if !allow.admits(&host, port) {
        let message = format!(
            "{target} is not on the local cloud's package allow-list ({allow}); change it with CCE_LOCALCLOUD_PACKAGE_HOSTS or `localcloud serve --package-hosts`"
        );
        tracing::warn!(server, %target, "package proxy refused a host not on the allow-list");
        answer(&mut client, 403, "Forbidden", &message).await;
        return;
    }
    let upstream = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let message = format!("cannot reach {target}: {e}");
            tracing::warn!(server, %target, error = %e, "package proxy cannot reach an upstream");
            answer(&mut client, 502, "Bad Gateway", &message).await;
            return;
        }
        Err(_) => {
            let message = format!(
                "cannot reach {target}: no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            );
            tracing::warn!(server, %target, "package proxy timed out connecting to an upstream");
            answer(&mut client, 502, "Bad Gateway", &message).await;
            return;
        }
    };
    let mut upstream = upstream;
    match request {
        ProxyRequest::Connect { .. } => {
            tracing::info!(server, %target, "package proxy tunnel");
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        ProxyRequest::Forward { head, line, .. } => {
            tracing::info!(server, request = %line, "package proxy request");
            if upstream.write_all(&head).await.is_err() {
                answer(
                    &mut client,
                    502,
                    "Bad Gateway",
                    &format!("{target} closed the connection"),
                )
                .await;
                return;
            }
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    // Bodies stream both ways until both sides are done or the exchange falls silent.
    relay(client, upstream, RELAY_IDLE_TIMEOUT).await;
}

/// Copies both ways between `a` and `b` until both have ended (an end is passed on as a
/// half-close) or nothing has moved either way for `idle`.
pub async fn relay<A, B>(a: A, b: B, idle: Duration)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let start = tokio::time::Instant::now();
    // Milliseconds since `start` of the last byte moved either way.
    let last = std::sync::atomic::AtomicU64::new(0);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    tokio::join!(
        pump(ar, bw, &last, start, idle),
        pump(br, aw, &last, start, idle)
    );
}

async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
    last: &std::sync::atomic::AtomicU64,
    start: tokio::time::Instant,
    idle: Duration,
) {
    use std::sync::atomic::Ordering;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match tokio::time::timeout(idle, from.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(Ok(n)) => {
                last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => {
                let since = start
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                if since >= idle {
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    }
}

/// The files that point a server at its proxy, as (path inside the server, content): apt's
/// `Acquire::http(s)::Proxy`, `http_proxy`/`https_proxy` for SSH sessions (sshd's `SetEnv`) and
/// for systemd services (the manager's `DefaultEnvironment`), and for login shells.
pub fn settings_files(port: u16) -> Vec<(&'static str, String)> {
    let url = format!("http://127.0.0.1:{port}");
    let no_proxy = "localhost,127.0.0.1,::1";
    vec![
        (
            "etc/apt/apt.conf.d/99cce-package-proxy",
            format!(
                "// The local cloud's package proxy; not part of any image made from this server.\nAcquire::http::Proxy \"{url}\";\nAcquire::https::Proxy \"{url}\";\nAcquire::http::Pipeline-Depth \"0\";\n"
            ),
        ),
        (
            "etc/ssh/sshd_config.d/cce-package-proxy.conf",
            format!(
                "# The local cloud's package proxy; not part of any image made from this server.\nSetEnv http_proxy={url} https_proxy={url} HTTP_PROXY={url} HTTPS_PROXY={url} no_proxy={no_proxy}\n"
            ),
        ),
        (
            "etc/systemd/system.conf.d/cce-package-proxy.conf",
            format!(
                "# The local cloud's package proxy; not part of any image made from this server.\n[Manager]\nDefaultEnvironment=http_proxy={url} https_proxy={url} HTTP_PROXY={url} HTTPS_PROXY={url} no_proxy={no_proxy}\n"
            ),
        ),
        (
            "etc/profile.d/cce-package-proxy.sh",
            format!(
                "# The local cloud's package proxy; not part of any image made from this server.\nexport http_proxy={url} https_proxy={url} HTTP_PROXY={url} HTTPS_PROXY={url} no_proxy={no_proxy}\n"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_parse_and_match_hosts_and_ports() {
        let a = AllowList::parse(
            " Deb.Debian.org , mirror.local:8080,[2001:DB8::1]:80, 127.0.0.9:3000",
        )
        .unwrap();
        assert!(a.admits("deb.debian.org", 80));
        assert!(a.admits("deb.debian.org", 443));
        assert!(!a.admits("deb.debian.org", 8080));
        assert!(a.admits("mirror.local", 8080));
        assert!(!a.admits("mirror.local", 80));
        assert!(a.admits("2001:db8::1", 80));
        assert!(!a.admits("2001:db8::1", 443));
        assert!(a.admits("127.0.0.9", 3000));
        assert!(!a.admits("evil.example", 80));
        // A suffix or a prefix of an allowed name is another host.
        assert!(!a.admits("debian.org", 80));
        assert!(!a.admits("deb.debian.org.evil.example", 80));
        assert_eq!(
            a.to_string(),
            "deb.debian.org, mirror.local:8080, [2001:db8::1]:80, 127.0.0.9:3000"
        );
    }

    #[test]
    fn bad_allow_lists_name_the_entry() {
        for (list, want) in [
            ("", "empty"),
            (" , ", "empty"),
            (
                "a.example,b.example:99999",
                "`b.example:99999`: port `99999`",
            ),
            ("host:0", "port `0`"),
            ("2001:db8::1", "in brackets"),
            ("[2001:db8::1", "closing"),
            ("[nothing]:80", "not an IPv6 address"),
            ("user@host", "user info"),
            ("bad/host", "not a host name"),
            ("a..b", "not a host name"),
        ] {
            let e = AllowList::parse(list).unwrap_err();
            assert!(e.contains(want), "{list}: {e}");
        }
    }

    #[test]
    fn mirrors_are_read_from_apt_sources() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://security.debian.org/debian-security\n";
        assert_eq!(
            deb822_source_urls(deb822),
            [
                "http://deb.debian.org/debian",
                "http://security.debian.org/debian-security"
            ]
        );
        let list = "# deb http://commented.example/debian x\ndeb [arch=amd64] http://mirror.example:8080/debian bookworm main\ndeb-src https://src.example/debian bookworm main\n";
        assert_eq!(
            one_line_source_urls(list),
            [
                "http://mirror.example:8080/debian",
                "https://src.example/debian"
            ]
        );
        // This machine's list is never empty.
        assert!(!AllowList::host_mirrors().hosts().is_empty());
    }

    #[test]
    fn absolute_requests_are_rewritten_for_the_origin() {
        let head = b"GET http://Mirror.Example:8080/debian/dists/x?y=1 HTTP/1.1\r\nHost: mirror.example:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nUser-Agent: apt\r\n\r\n";
        let ProxyRequest::Forward {
            host,
            port,
            head,
            line,
        } = parse_request(head).unwrap()
        else {
            panic!("a forward")
        };
        assert_eq!((host.as_str(), port), ("mirror.example", 8080));
        assert_eq!(line, "GET http://Mirror.Example:8080/debian/dists/x?y=1");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /debian/dists/x?y=1 HTTP/1.1\r\nHost: mirror.example:8080\r\nUser-Agent: apt\r\nConnection: close\r\n\r\n"
        );
        // No path, no Host header, default port.
        let ProxyRequest::Forward { port, head, .. } =
            parse_request(b"HEAD http://a.example HTTP/1.0\r\n\r\n").unwrap()
        else {
            panic!("a forward")
        };
        assert_eq!(port, 80);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HEAD / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
        );
        let ProxyRequest::Forward { host, .. } =
            parse_request(b"GET http://[::1]:81/x HTTP/1.1\r\n\r\n").unwrap()
        else {
            panic!("a forward")
        };
        assert_eq!(host, "::1");
    }

    #[test]
    fn connect_requests_name_host_and_port() {
        assert_eq!(
            parse_request(
                b"CONNECT Deb.Debian.org:443 HTTP/1.1\r\nHost: deb.debian.org:443\r\n\r\n"
            )
            .unwrap(),
            ProxyRequest::Connect {
                host: "deb.debian.org".into(),
                port: 443
            }
        );
        assert!(
            parse_request(b"CONNECT deb.debian.org HTTP/1.1\r\n\r\n")
                .unwrap_err()
                .contains("has no port")
        );
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        for (head, want) in [
            (
                &b"GET /debian HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                "not an absolute http:// URL",
            ),
            (
                b"GET https://x.example/ HTTP/1.1\r\n\r\n",
                "ask for it with CONNECT",
            ),
            (
                b"GET http://x.example/ HTTP/2\r\n\r\n",
                "unsupported protocol",
            ),
            (
                b"GET  http://x.example/ HTTP/1.1\r\n\r\n",
                "malformed request line",
            ),
            (
                b"G@T http://x.example/ HTTP/1.1\r\n\r\n",
                "malformed method",
            ),
            (
                b"GET http://x.example/ HTTP/1.1\r\nNoColon\r\n\r\n",
                "malformed header line",
            ),
            (
                b"GET http://x.example/ HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
                "folded",
            ),
            (b"GET http://u@x.example/ HTTP/1.1\r\n\r\n", "user info"),
            (
                b"GET http://x.example:http/ HTTP/1.1\r\n\r\n",
                "port `http`",
            ),
            (b"\xff\xfe\r\n\r\n", "not text"),
        ] {
            let e = parse_request(head).unwrap_err();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(head));
        }
    }

    #[tokio::test]
    async fn a_silent_relay_is_cut_and_a_busy_one_is_not() {
        let idle = Duration::from_millis(300);
        let (client, mut client_peer) = tokio::io::duplex(1024);
        let (upstream, mut upstream_peer) = tokio::io::duplex(1024);
        let relayed = tokio::spawn(relay(client, upstream, idle));
        // Data one way keeps the exchange alive past several idle periods.
        for _ in 0..6 {
            upstream_peer.write_all(b"chunk").await.unwrap();
            let mut got = [0u8; 5];
            client_peer.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"chunk");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!relayed.is_finished(), "a busy exchange is not cut");
        // Then silence: the relay ends, and both peers see the end.
        tokio::time::timeout(Duration::from_secs(3), relayed)
            .await
            .expect("a silent relay ends")
            .unwrap();
        let mut rest = Vec::new();
        client_peer.read_to_end(&mut rest).await.unwrap();
        upstream_peer.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn settings_point_at_the_listener() {
        let files = settings_files(3128);
        assert_eq!(files.len(), 4);
        for (path, content) in files {
            assert!(content.contains("http://127.0.0.1:3128"), "{path}");
        }
    }
}
