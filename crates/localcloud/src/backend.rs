//! The seam between the control plane and whatever runs a server. The control plane owns the
//! records and the state machines; a backend is told when a server must come into being, stop,
//! start, go away or be captured into an image, and may refuse. Today the only backend keeps
//! records alone; sandbox-backed servers plug in here later.

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
