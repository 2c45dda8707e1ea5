//! The `null` builder: creates no machine. It connects to an existing host with the source's
//! communicator fields (or not at all with `communicator = "none"`), runs the build's
//! provisioners, then its `manifest` and `shell-local` post-processors, reporting like Packer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cce_remote::{Communicator, SshCommunicator};
use cce_template::schema::{Build, BuildSource, SourceConfig};

use crate::comm;
use crate::events::{BuildStatus, Event, Reporter};
use crate::postprocess::{self, ArtifactInfo};
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
                let remote = comm::ssh_config(ssh, None, None, &self.cwd, &self.redactor)?;
                for (k, v) in [
                    ("ConnType", "ssh".to_string()),
                    ("Host", remote.host.clone()),
                    ("Port", remote.port.to_string()),
                    ("User", remote.username.clone()),
                    ("Password", ssh.password.clone().unwrap_or_default()),
                    ("SSHPublicKey", String::new()),
                    (
                        "SSHPrivateKey",
                        remote
                            .auth
                            .private_key_text()
                            .unwrap_or_default()
                            .to_string(),
                    ),
                ] {
                    ctx.values.insert(k.into(), v);
                }
                if let Some(p) = ssh.pause_before_connecting {
                    ctx.say(format!("Pausing {p} before connecting..."));
                    tokio::time::sleep(p.0).await;
                }
                ctx.say(format!(
                    "Using ssh communicator to connect: {}",
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
        let artifact = ArtifactInfo {
            builder_id: NULL_BUILDER_ID.into(),
            id: NULL_ARTIFACT_ID.into(),
            files: Vec::new(),
        };
        postprocess::post_process(self.build, &artifact, &ctx).await
    }
}

/// A new `PACKER_RUN_UUID`: one per `build` command, shared by its builds.
pub fn new_run_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
