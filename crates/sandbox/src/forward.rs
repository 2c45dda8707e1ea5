//! The loopback forwarder: a listener on the host address the API reports for a server (its EIP
//! or fixed IP, mapped to a 127.x.y.z address) that carries each connection to port 22 inside the
//! server's network namespace. No routed link: the server has no way out through it. A gate
//! (the server's security groups) may refuse a connection: it is closed at once, unforwarded.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::sandbox::connect_in_netns;

/// A running forwarder; dropping it stops accepting (open connections end with their peers).
pub struct Forwarder {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// Decides, per connection, whether a client address may reach the server.
pub type Gate = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

impl Forwarder {
    /// Listens on `listen` and forwards every connection to `127.0.0.1:port` inside `netns`.
    /// The namespace is looked up per connection, so it may be made anew on each boot.
    pub async fn start(listen: SocketAddr, netns: String, port: u16) -> std::io::Result<Self> {
        Self::start_gated(listen, netns, port, Arc::new(|_| true)).await
    }

    /// As [`Forwarder::start`], but a connection from an address `gate` refuses is closed at
    /// once without reaching the server. The gate is asked on every connection, so a change of
    /// the rules behind it applies to the next one.
    pub async fn start_gated(listen: SocketAddr, netns: String, port: u16, gate: Gate) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, peer)) = listener.accept().await else { continue };
                if !gate(peer.ip()) {
                    drop(client);
                    continue;
                }
                let ns = netns.clone();
                tokio::spawn(async move {
                    let inner = tokio::task::spawn_blocking(move || connect_in_netns(&ns, port, Duration::from_secs(5))).await;
                    let Ok(Ok(std_stream)) = inner else { return };
                    if std_stream.set_nonblocking(true).is_err() {
                        return;
                    }
                    let Ok(mut server) = TcpStream::from_std(std_stream) else { return };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
