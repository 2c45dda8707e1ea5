//! Local-cloud servers as Linux sandboxes: network, mount, pid, uts, ipc and cgroup namespaces
//! over an overlayfs disk, systemd as init and a real `sshd` inside, reached through a loopback
//! forwarder, with kernel parameters that never reach the host.
//!
//! What is covered today and what is not is listed in the crate's README section of the
//! project's `README.md`.

pub mod address_block;
pub mod disks;
mod error;
mod forward;
pub mod image;
pub mod proxy;
pub mod modules;
mod rootfs;
mod sandbox;

pub use disks::DataDisk;
pub use error::SandboxError;
pub use forward::{Forwarder, Gate};
pub use proxy::{AllowList, PackageProxy, ProxyListener, SANDBOX_PROXY_PORT};
pub use rootfs::{debian_mirror, ensure_debian_rootfs, shift_owners, ID_COUNT, ID_SHIFT};
pub use sandbox::{gc, gc_matching, host_supports_sandboxes, Sandbox, SandboxSpec, SandboxState, DOCUMENT_SYSCTLS};
