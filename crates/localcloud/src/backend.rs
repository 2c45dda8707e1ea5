//! The seam between the control plane and whatever runs a server. The control plane owns the
//! records and the state machines; a backend is told when a server must come into being, stop,
//! start, go away or be captured into an image, and may refuse. Long work (a boot, a capture)
//! runs in the background; the control plane asks [`ServerBackend::progress`] when a timed
//! transition comes due and holds the transition until the backend says it is done.

/// What a backend needs to know about a server it is asked to create.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub flavor_id: String,
    pub private_ip: String,
    /// The public key of the server's keypair, if it has one.
    pub public_key: Option<String>,
    /// Decoded `user_data`.
    pub user_data: Option<Vec<u8>>,
    /// `adminPass`: root's password, set on the first boot.
    pub admin_pass: Option<String>,
    /// Sizes in GB of the data volumes, in device order (`/dev/vdb`, `/dev/vdc`, …).
    pub data_volume_sizes_gb: Vec<u32>,
    /// The rules of its security groups that concern SSH (TCP 22 over IPv4, ingress).
    pub ssh_ingress: Vec<IngressRule>,
}

/// An ingress rule of a server's security groups that concerns TCP 22: whom it allows or
/// denies, and its priority (1 is the highest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressRule {
    pub network: std::net::Ipv4Addr,
    pub prefix_len: u32,
    pub allow: bool,
    pub priority: u32,
}

impl IngressRule {
    fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        let mask = if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len.min(32))
        };
        u32::from(ip) & mask == u32::from(self.network) & mask
    }
}

/// Whether `rules` let `peer` reach TCP 22: the matching rule of highest priority decides (a
/// deny wins over an allow of the same priority); no matching rule means no.
pub fn ssh_admits(rules: &[IngressRule], peer: std::net::Ipv4Addr) -> bool {
    rules
        .iter()
        .filter(|r| r.contains(peer))
        .min_by_key(|r| (r.priority, r.allow))
        .is_some_and(|r| r.allow)
}

/// Where a backend's background work for a server or an image stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Still under way: the transition waits.
    Pending,
    /// It failed: the server ends in ERROR (the image in `killed`) with this reason.
    Failed(String),
}

/// Why a backend refused an operation; the server ends in ERROR with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// Runs servers. Calls are made under the control plane's lock, so they must be quick: start
/// long work in the background and report problems through later calls.
pub trait ServerBackend: Send + Sync + std::fmt::Debug {
    /// A short name shown in the inventory.
    fn name(&self) -> &'static str;
    fn create(&self, spec: &ServerSpec) -> Result<(), BackendError>;
    fn stop(&self, server_id: &str) -> Result<(), BackendError>;
    fn start(&self, server_id: &str) -> Result<(), BackendError>;
    fn delete(&self, server_id: &str) -> Result<(), BackendError>;
    /// Captures the server's system disk as `image_id`.
    fn capture(&self, server_id: &str, image_id: &str) -> Result<(), BackendError>;
    /// Whether the server has reached `status` (`ACTIVE` or `SHUTOFF`) in the backend.
    fn progress(&self, _server_id: &str, _status: &str) -> Progress {
        Progress::Done
    }
    /// Whether the capture into `image_id` has finished.
    fn capture_progress(&self, _image_id: &str) -> Progress {
        Progress::Done
    }
    /// Whether the backend still runs this server; after a restart a sandbox is gone and the
    /// control plane shows the server SHUTOFF, as after a power loss.
    fn is_running(&self, _server_id: &str) -> bool {
        true
    }
    /// The server is now also reachable at `address` (an EIP was bound to it).
    fn bind_address(&self, _server_id: &str, _address: &str) -> Result<(), BackendError> {
        Ok(())
    }
    /// `address` no longer reaches the server.
    fn unbind_address(&self, _server_id: &str, _address: &str) {}
    /// An image was deleted; `live` are the images still in use (listed, or booted by a server).
    /// The backend may drop what only dead images needed.
    fn images_deleted(&self, _live: &[String]) {}
    /// Stops every server and closes what it listens on; called when the cloud shuts down.
    fn shutdown(&self) {}
    /// The SSH rules of a server's security groups as they are now (told on every request,
    /// so a rule added or removed applies from the next API call on).
    fn set_ssh_ingress(&self, _server_id: &str, _rules: Vec<IngressRule>) {}
    /// The loopback address block (`127.10.n.0/24`, `127.100.n.10`…) this cloud's servers and
    /// EIPs get, when the backend serves addresses on the host; `None` keeps block 0.
    fn address_block(&self) -> Option<u8> {
        None
    }
}

/// A backend that runs nothing: servers exist as records only.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordOnly;

impl ServerBackend for RecordOnly {
    fn name(&self) -> &'static str {
        "record-only"
    }
    fn create(&self, _spec: &ServerSpec) -> Result<(), BackendError> {
        Ok(())
    }
    fn stop(&self, _server_id: &str) -> Result<(), BackendError> {
        Ok(())
    }
    fn start(&self, _server_id: &str) -> Result<(), BackendError> {
        Ok(())
    }
    fn delete(&self, _server_id: &str) -> Result<(), BackendError> {
        Ok(())
    }
    fn capture(&self, _server_id: &str, _image_id: &str) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn rule(net: [u8; 4], len: u32, allow: bool, priority: u32) -> IngressRule {
        IngressRule {
            network: Ipv4Addr::from(net),
            prefix_len: len,
            allow,
            priority,
        }
    }

    #[test]
    fn the_matching_rule_of_highest_priority_decides() {
        let lo = Ipv4Addr::new(127, 0, 0, 1);
        assert!(!ssh_admits(&[], lo), "no rule admits nobody");
        assert!(ssh_admits(&[rule([0, 0, 0, 0], 0, true, 1)], lo));
        assert!(
            !ssh_admits(&[rule([10, 0, 0, 0], 8, true, 1)], lo),
            "another network"
        );
        assert!(ssh_admits(&[rule([127, 0, 0, 0], 8, true, 1)], lo));
        let deny_all = rule([0, 0, 0, 0], 0, false, 5);
        assert!(
            ssh_admits(&[deny_all.clone(), rule([127, 0, 0, 1], 32, true, 1)], lo),
            "a higher-priority allow wins"
        );
        assert!(
            !ssh_admits(&[deny_all.clone(), rule([127, 0, 0, 1], 32, true, 9)], lo),
            "a higher-priority deny wins"
        );
        assert!(
            !ssh_admits(
                &[
                    rule([0, 0, 0, 0], 0, false, 5),
                    rule([0, 0, 0, 0], 0, true, 5)
                ],
                lo
            ),
            "deny wins a tie"
        );
    }
}
