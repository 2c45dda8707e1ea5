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
    /// Sizes in GB of the data volumes, in device order (`/dev/vdb`, `/dev/vdc`, …).
    pub data_volume_sizes_gb: Vec<u32>,
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
