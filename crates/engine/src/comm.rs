//! The SSH communicator's settings from a source's communicator fields: the one translation of
//! `ssh_*` fields into a connection config, shared by every builder. Secrets met on the way (the
//! private key, the password) go to the redactor before anything can print them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cce_remote::{Auth, TransferMethod};
use cce_template::schema::communicator::FileTransfer;

use crate::provision::ProvisionError;
use crate::redact::Redactor;

/// The template's communicator fields as a connection config. `ssh_host` wins over `host`, the
/// address the builder found (`None` for the null builder). `temporary_key` is the private key of
/// a keypair the builder made; it is used when the template names no key, password or agent.
pub fn ssh_config(
    ssh: &cce_template::schema::SshConfig,
    host: Option<String>,
    temporary_key: Option<&str>,
    cwd: &Path,
    redactor: &Redactor,
) -> Result<cce_remote::SshConfig, ProvisionError> {
    let err = |m: String| ProvisionError { message: m };
    let host = ssh.host.clone().or(host).ok_or_else(|| {
        err("ssh_host is not set and the builder has no address to connect to".into())
    })?;
    let user = ssh
        .username
        .clone()
        .ok_or_else(|| err("ssh_username is not set".into()))?;
    if ssh.bastion.is_some() {
        return Err(err("ssh_bastion_host is not supported by the null builder yet; connect to the host directly".into()));
    }
    let auth = if let Some(file) = &ssh.private_key_file {
        let path = resolve(cwd, file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            err(format!(
                "cannot read ssh_private_key_file {}: {e}",
                path.display()
            ))
        })?;
        for line in text
            .lines()
            .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        {
            // Lines too short or too common to redact are refused by the redactor; the key
            // as a whole is still covered by its long body lines.
            let _ = redactor.add(line);
        }
        Auth::private_key(text)
    } else if let Some(p) = &ssh.password {
        let _ = redactor.add(p);
        Auth::Password(p.clone())
    } else if ssh.agent_auth {
        Auth::Agent
    } else if let Some(key) = temporary_key {
        Auth::private_key(key.to_string())
    } else {
        return Err(err(
            "no ssh authentication: set ssh_password, ssh_private_key_file or ssh_agent_auth"
                .into(),
        ));
    };
    let mut c = cce_remote::SshConfig::new(host, user, auth);
    c.port = ssh.port;
    c.timeout = ssh.timeout.0;
    c.handshake_attempts = ssh.handshake_attempts.max(1);
    c.keepalive_interval = ssh.keep_alive_interval.0;
    c.read_write_timeout = ssh.read_write_timeout.map(|d| d.0);
    c.pty = ssh.pty;
    c.attempt_timeout = c
        .attempt_timeout
        .min(ssh.timeout.0.max(Duration::from_secs(1)));
    c.transfer = match ssh.file_transfer_method {
        FileTransfer::Sftp => TransferMethod::Sftp,
        _ => TransferMethod::Tar,
    };
    Ok(c)
}

/// A path of the template, relative to the working directory unless absolute.
pub fn resolve(cwd: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}
