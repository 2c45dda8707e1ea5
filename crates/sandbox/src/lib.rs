//! Local-cloud servers as Linux sandboxes: network, mount, pid, uts and ipc namespaces over an
//! overlayfs disk, with a real `sshd` inside, reached through a loopback forwarder, and kernel
//! parameters that never reach the host.
