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
/// a keypair the builder made; it is offered unless the template names a key file.
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
    let bastion = match &ssh.bastion {
        None => None,
        Some(b) => Some(bastion(b, ssh, cwd, redactor)?),
    };
    // Packer offers every method the template gives, in this order: the agent, the key file,
    // the builder's temporary key, the password.
    let mut methods = Vec::new();
    if ssh.agent_auth {
        agent_available("ssh_agent_auth")?;
        methods.push(Auth::Agent);
    }
    if let Some(file) = &ssh.private_key_file {
        methods.push(Auth::private_key(read_key(
            cwd,
            file,
            "ssh_private_key_file",
            redactor,
        )?));
    } else if let Some(key) = temporary_key {
        methods.push(Auth::private_key(key.to_string()));
    }
    if let Some(p) = &ssh.password {
        let _ = redactor.add(p);
        methods.push(Auth::Password(p.clone()));
    }
    let auth = match methods.len() {
        0 => {
            return Err(err(
                "no ssh authentication: set ssh_password, ssh_private_key_file or ssh_agent_auth"
                    .into(),
            ));
        }
        1 => methods.remove(0),
        _ => Auth::Any(methods),
    };
    let mut c = cce_remote::SshConfig::new(host, user, auth);
    c.bastion = bastion;
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

/// The jump host of `ssh_bastion_*`. As in Packer, the bastion's key defaults to
/// `ssh_private_key_file`, and one of a password, a key or the agent must be given; when several
/// are, each is tried in Packer's order: password, key file, agent.
fn bastion(
    b: &cce_template::schema::communicator::Bastion,
    ssh: &cce_template::schema::SshConfig,
    cwd: &Path,
    redactor: &Redactor,
) -> Result<cce_remote::Bastion, ProvisionError> {
    let err = |m: String| ProvisionError { message: m };
    let username = b.username.clone().ok_or_else(|| {
        err("ssh_bastion_username is not set; set the user to log in as on the jump host".into())
    })?;
    let key_file = b
        .private_key_file
        .as_ref()
        .map(|f| (f, "ssh_bastion_private_key_file"))
        .or_else(|| {
            ssh.private_key_file
                .as_ref()
                .map(|f| (f, "ssh_private_key_file (used for the bastion too)"))
        });
    // Packer's bastion order: password, key file, agent.
    let mut methods = Vec::new();
    if let Some(p) = &b.password {
        let _ = redactor.add(p);
        methods.push(Auth::Password(p.clone()));
    }
    if let Some((file, field)) = key_file {
        methods.push(Auth::private_key(read_key(cwd, file, field, redactor)?));
    }
    if b.agent_auth {
        agent_available("ssh_bastion_agent_auth")?;
        methods.push(Auth::Agent);
    }
    let auth = match methods.len() {
        0 => {
            return Err(err(
                "ssh_bastion_password or ssh_bastion_private_key_file must be specified (or ssh_bastion_agent_auth = true)"
                    .into(),
            ));
        }
        1 => methods.remove(0),
        _ => Auth::Any(methods),
    };
    Ok(cce_remote::Bastion {
        host: b.host.clone(),
        port: b.port,
        username,
        auth,
    })
}

/// Packer stops at once when agent authentication is asked for without an agent, rather than
/// spending ssh_timeout on logins that cannot work.
fn agent_available(field: &str) -> Result<(), ProvisionError> {
    match std::env::var_os("SSH_AUTH_SOCK") {
        Some(sock) if !sock.is_empty() => Ok(()),
        _ => Err(ProvisionError {
            message: format!(
                "{field} is set but SSH_AUTH_SOCK is not: start an ssh-agent, add the key with ssh-add, and run the build in that environment"
            ),
        }),
    }
}

/// Reads a private key file named by `field`, handing its body to the redactor.
fn read_key(
    cwd: &Path,
    file: &str,
    field: &str,
    redactor: &Redactor,
) -> Result<String, ProvisionError> {
    let path = resolve(cwd, file);
    let text = std::fs::read_to_string(&path).map_err(|e| ProvisionError {
        message: format!("cannot read {field} {}: {e}", path.display()),
    })?;
    for line in text
        .lines()
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
    {
        // Lines too short or too common to redact are refused by the redactor; the key
        // as a whole is still covered by its long body lines.
        let _ = redactor.add(line);
    }
    Ok(text)
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
