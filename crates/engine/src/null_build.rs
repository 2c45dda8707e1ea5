//! The `null` builder: creates no machine. It connects to an existing host with the source's
//! communicator fields (or not at all with `communicator = "none"`), runs the build's
//! provisioners, then its `manifest` and `shell-local` post-processors, reporting like Packer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cce_remote::{Auth, Communicator, SshCommunicator, TransferMethod};
use cce_template::schema::communicator::FileTransfer;
use cce_template::schema::post_processors::{Manifest, PostProcessorKind};
use cce_template::schema::{Build, BuildSource, SourceConfig};

use crate::events::{BuildStatus, Event, Reporter};
use crate::provision::{self, BuildContext, ProvisionError};
use crate::redact::Redactor;

/// Packer's builder id of the null builder's artifact.
pub const NULL_BUILDER_ID: &str = "fnoeding.null";
/// The null artifact's id and text, as Packer prints them.
pub const NULL_ARTIFACT_ID: &str = "Null";
pub const NULL_ARTIFACT_STRING: &str = "Did not export anything. This is the null builder";

/// What to do when a build fails (`-on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Run the `error-cleanup-provisioner`, then clean up (the default).
    #[default]
    Cleanup,
    /// Stop at once: no error-cleanup-provisioner.
    Abort,
}

/// One build of one `null` source.
pub struct NullBuild<'a> {
    pub build: &'a Build,
    pub source: &'a BuildSource,
    pub reporter: Arc<dyn Reporter>,
    /// Secrets met while building (the private key, the password) are added here.
    pub redactor: Redactor,
    pub run_uuid: String,
    /// Relative paths (scripts, files, the manifest) are taken from here.
    pub cwd: PathBuf,
    pub on_error: OnError,
}

/// How a build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullBuildOutcome {
    pub display_name: String,
    pub error: Option<String>,
}

/// Packer's name of a build of a source: `BUILD.TYPE.NAME`, or `TYPE.NAME` without a build name.
pub fn display_name(build: &Build, source: &BuildSource) -> String {
    match &build.name {
        Some(n) => format!("{n}.{}.{}", source.source_type, source.name),
        None => format!("{}.{}", source.source_type, source.name),
    }
}

impl NullBuild<'_> {
    /// Runs the build to its end, reporting every step; never panics on bad input.
    pub async fn run(self) -> NullBuildOutcome {
        let name = display_name(self.build, self.source);
        let started = Instant::now();
        let _ = self.reporter.report(&Event::BuildStarted {
            build: name.clone(),
            build_id: self.run_uuid.clone(),
        });
        let result = self.steps(&name).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, artifacts, error) = match &result {
            Ok(()) => (
                BuildStatus::Succeeded,
                vec![NULL_ARTIFACT_STRING.to_string()],
                None,
            ),
            Err(e) => (BuildStatus::Failed, Vec::new(), Some(e.message.clone())),
        };
        let _ = self.reporter.report(&Event::BuildFinished {
            build: name.clone(),
            status,
            artifacts,
            elapsed_ms,
            steps: Vec::new(),
            error: error.clone(),
        });
        NullBuildOutcome {
            display_name: name,
            error,
        }
    }

    async fn steps(&self, name: &str) -> Result<(), ProvisionError> {
        let SourceConfig::Null(cfg) = &self.source.config else {
            return Err(ProvisionError {
                message: format!("source {} is not a null source", self.source.reference()),
            });
        };
        let mut ctx = BuildContext {
            display_name: name.to_string(),
            build_name: self.build.name.clone(),
            source_type: self.source.source_type.clone(),
            source_name: self.source.name.clone(),
            run_uuid: self.run_uuid.clone(),
            values: BTreeMap::new(),
            reporter: Arc::clone(&self.reporter),
            cwd: self.cwd.clone(),
        };
        ctx.values.insert("ID".into(), NULL_ARTIFACT_ID.into());
        ctx.values.insert("PackerHTTPAddr".into(), String::new());
        let comm = match cfg.communicator.ssh() {
            None => {
                ctx.values.insert("ConnType".into(), "none".into());
                None
            }
            Some(ssh) => {
                let remote = self.ssh_config(ssh)?;
                for (k, v) in [
                    ("ConnType", "ssh".to_string()),
                    ("Host", remote.host.clone()),
                    ("Port", remote.port.to_string()),
                    ("User", remote.username.clone()),
                    ("Password", ssh.password.clone().unwrap_or_default()),
                    ("SSHPublicKey", String::new()),
                    (
                        "SSHPrivateKey",
                        match &remote.auth {
                            Auth::PrivateKey { text, .. } => text.clone(),
                            _ => String::new(),
                        },
                    ),
                ] {
                    ctx.values.insert(k.into(), v);
                }
                if let Some(p) = ssh.pause_before_connecting {
                    ctx.say(format!("Pausing {p} before connecting..."));
                    tokio::time::sleep(p.0).await;
                }
                ctx.say(format!(
                    "Using SSH communicator to connect: {}",
                    remote.host
                ));
                ctx.say("Waiting for SSH to become available...");
                let c = SshCommunicator::connect(remote)
                    .await
                    .map_err(|e| ProvisionError {
                        message: format!("error waiting for SSH: {e}"),
                    })?;
                ctx.say("Connected to SSH!");
                Some(c)
            }
        };
        let comm_ref = comm.as_ref().map(|c| c as &dyn Communicator);
        let provisioned = provision::run_provisioners(
            &self.build.provisioners,
            self.build.error_cleanup_provisioner.as_ref(),
            self.on_error == OnError::Cleanup,
            &ctx,
            comm_ref,
        )
        .await;
        if let Some(c) = &comm {
            c.disconnect().await;
        }
        provisioned?;
        let _ = self.reporter.report(&Event::Artifact {
            build: name.to_string(),
            builder_id: NULL_BUILDER_ID.into(),
            id: NULL_ARTIFACT_ID.into(),
            description: NULL_ARTIFACT_STRING.into(),
        });
        self.post_process(&ctx).await
    }

    /// The template's communicator fields as a connection config; secrets go to the redactor.
    fn ssh_config(
        &self,
        ssh: &cce_template::schema::SshConfig,
    ) -> Result<cce_remote::SshConfig, ProvisionError> {
        let err = |m: String| ProvisionError { message: m };
        let host = ssh.host.clone().ok_or_else(|| {
            err("ssh_host is not set: the null source needs the host to provision".into())
        })?;
        let user = ssh
            .username
            .clone()
            .ok_or_else(|| err("ssh_username is not set".into()))?;
        if ssh.bastion.is_some() {
            return Err(err("ssh_bastion_host is not supported by the null builder yet; connect to the host directly".into()));
        }
        let auth = if let Some(file) = &ssh.private_key_file {
            let path = resolve(&self.cwd, file);
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
                let _ = self.redactor.add(line);
            }
            Auth::private_key(text)
        } else if let Some(p) = &ssh.password {
            let _ = self.redactor.add(p);
            Auth::Password(p.clone())
        } else if ssh.agent_auth {
            Auth::Agent
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

    async fn post_process(&self, ctx: &BuildContext) -> Result<(), ProvisionError> {
        let reference = ctx.reference();
        for chain in &self.build.post_processors {
            for pp in chain {
                if !provision::applies_to(&pp.only, &pp.except, &reference) {
                    continue;
                }
                let ty = match &pp.kind {
                    PostProcessorKind::Manifest(_) => "manifest",
                    PostProcessorKind::Checksum(_) => "checksum",
                    PostProcessorKind::ShellLocal(_) => "shell-local",
                };
                // Packer 1.6 prints the block's name (often empty) and the type.
                ctx.say(format!(
                    "Running post-processor: {} (type {ty})",
                    pp.name.as_deref().unwrap_or("")
                ));
                match &pp.kind {
                    PostProcessorKind::Manifest(m) => self.write_manifest(m, ctx)?,
                    PostProcessorKind::ShellLocal(s) => {
                        provision::run_shell_local(s, ctx, "shell-local", None).await?
                    }
                    // The null artifact has no files to sum.
                    PostProcessorKind::Checksum(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Appends this build to the manifest file, in Packer's format.
    fn write_manifest(&self, m: &Manifest, ctx: &BuildContext) -> Result<(), ProvisionError> {
        let err = |m: String| ProvisionError { message: m };
        let output = match &m.output {
            cce_template::schema::Deferrable::Known(s) => s.clone(),
            cce_template::schema::Deferrable::Deferred(src) => {
                let v = cce_template::eval::eval_deferred(src, &manifest_roots(ctx))
                    .map_err(|e| err(format!("manifest output `{src}`: {e}")))?;
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            }
        };
        let custom_data = match &m.custom_data {
            None => serde_json::Value::Null,
            Some(cce_template::schema::Deferrable::Known(map)) => {
                serde_json::to_value(map).unwrap_or_default()
            }
            Some(cce_template::schema::Deferrable::Deferred(src)) => {
                let v = cce_template::eval::eval_deferred(src, &manifest_roots(ctx))
                    .map_err(|e| err(format!("manifest custom_data `{src}`: {e}")))?;
                serde_json::to_value(v).unwrap_or_default()
            }
        };
        let path = resolve(&self.cwd, &output);
        let mut doc: ManifestFile = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text).map_err(|e| {
                err(format!(
                    "existing manifest {} cannot be read: {e}; remove it or choose another output",
                    path.display()
                ))
            })?,
            _ => ManifestFile::default(),
        };
        let build_time = if m.strip_time {
            None
        } else {
            Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            )
        };
        doc.builds.push(ManifestBuild {
            name: ctx.source_name.clone(),
            builder_type: ctx.source_type.clone(),
            build_time,
            files: serde_json::Value::Null,
            artifact_id: NULL_ARTIFACT_ID.into(),
            packer_run_uuid: ctx.run_uuid.clone(),
            custom_data,
        });
        doc.last_run_uuid = ctx.run_uuid.clone();
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| err(format!("cannot encode the manifest: {e}")))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| err(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| err(format!("cannot write the manifest {}: {e}", path.display())))
    }
}

/// Packer's manifest file, fields in Packer's order.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct ManifestFile {
    #[serde(default)]
    builds: Vec<ManifestBuild>,
    #[serde(default)]
    last_run_uuid: String,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ManifestBuild {
    name: String,
    builder_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    build_time: Option<u64>,
    #[serde(default)]
    files: serde_json::Value,
    #[serde(default)]
    artifact_id: String,
    #[serde(default)]
    packer_run_uuid: String,
    #[serde(default)]
    custom_data: serde_json::Value,
}

fn manifest_roots(ctx: &BuildContext) -> hcl::Map<String, hcl::Value> {
    let mut build = hcl::Map::new();
    for (k, v) in &ctx.values {
        build.insert(k.clone(), hcl::Value::String(v.clone()));
    }
    build.insert(
        "PackerRunUUID".into(),
        hcl::Value::String(ctx.run_uuid.clone()),
    );
    build.insert(
        "name".into(),
        hcl::Value::String(ctx.build_name.clone().unwrap_or_default()),
    );
    let mut source = hcl::Map::new();
    source.insert("name".into(), hcl::Value::String(ctx.source_name.clone()));
    source.insert("type".into(), hcl::Value::String(ctx.source_type.clone()));
    let mut roots = hcl::Map::new();
    roots.insert("build".into(), hcl::Value::Object(build));
    roots.insert("source".into(), hcl::Value::Object(source));
    roots
}

fn resolve(cwd: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// A new `PACKER_RUN_UUID`: one per `build` command, shared by its builds.
pub fn new_run_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
