//! `source "null"`: no machine is created; provisioners run over the communicator against an
//! existing host, or not at all with `communicator = "none"`.

use serde::Serialize;

use super::communicator::{self, COMMUNICATOR_FIELDS, Communicator};
use super::fields::Reader;
use crate::body::Block;
use crate::diag::Diagnostics;

/// A checked `source "null"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NullConfig {
    pub communicator: Communicator,
}

/// Reads a `source "null"` block, with the null builder's rules: over SSH it needs a host, a
/// user and one authentication method.
pub(crate) fn read(block: &Block, what: &str, check_required: bool) -> (NullConfig, Diagnostics) {
    let mut r = Reader::new(block, &[COMMUNICATOR_FIELDS], what);
    let communicator = communicator::read(&mut r, check_required);
    if let (Communicator::Ssh(ssh), true) = (&communicator, check_required) {
        r.require("ssh_host", &ssh.host, "the null source creates no machine: set ssh_host to the host to provision, or communicator = \"none\"");
        let has_auth = ssh.password.is_some() || ssh.private_key_file.is_some() || ssh.agent_auth;
        if !has_auth {
            r.error_at(block.kind_span, format!("one authentication method must be set in {what}")).help =
                Some("set ssh_password, ssh_private_key_file or ssh_agent_auth = true".into());
        }
    }
    (NullConfig { communicator }, r.finish())
}
