//! The `huaweicloud-ecs` builder: the steps of plugin v1.x (zone, flavor, source image, keypair,
//! network, EIP, server, connect, provision, stop, image, share), each journaled in the build's
//! ledger before and after every create so that cleanup — run at the end of every build, on
//! success, failure and interrupt — removes everything but the image, even after a crash.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cce_cloud::models::{
    IdRef, Image, ImageCreate, ImageQuery, NicSpec, PublicIp, RootVolume, ServerCreate,
    SubnetCreate, Tag, VpcCreate,
};
use cce_cloud::{Cloud, CloudError, Findable, PercentObserver, WaitPolicy, Waits};
use cce_remote::{Auth, Communicator, ExecOptions, SshCommunicator};
use cce_template::schema::communicator::KeyPair;
use cce_template::schema::huaweicloud::{
    DataDiskSource, HuaweiEcsConfig, ImageFilter, SecurityGroupRef, SourceImage, UserData,
};
use cce_template::schema::{Build, BuildSource, SourceConfig};
use serde_json::{Value, json};

use crate::comm;
use crate::events::{BuildStatus, Event, Reporter, StepStatus, StepTiming};
use crate::interrupt::Interrupt;
use crate::ledger::{
    Cleanup, CleanupReport, FinishStatus, IntentId, Ledger, ResourceKind, Tags, build_tags,
    resource_name,
};
use crate::null_build::display_name;
use crate::postprocess::{self, ArtifactInfo};
use crate::provision::{self, BuildContext};
use crate::redact::Redactor;

#[path = "ecs/fields.rs"]
mod fields;
#[path = "ecs/remover.rs"]
mod remover;

pub use fields::unsupported;
use fields::{TempKey, generate_key, image_field, sort_newest_first, user_data_b64};
use remover::EcsRemover;

/// How long cleanup waits for requests an interrupt left on the wire: longer than one request
/// with its retries of a 429 can take.
const SETTLE_WRITES: std::time::Duration = std::time::Duration::from_secs(120);

/// Packer's builder id of the plugin's artifact.
pub const ECS_BUILDER_ID: &str = "huawei.huaweicloud";
/// Where the build log is put inside the image.
pub const LOG_IN_IMAGE: &str = "/var/log/cce-image-builder/build.log";
/// The temporary network, as the plugin makes it.
pub const TEMP_VPC_CIDR: &str = "172.16.0.0/16";
pub const TEMP_SUBNET_CIDR: &str = "172.16.0.0/24";
pub const TEMP_SUBNET_GATEWAY: &str = "172.16.0.1";

/// What the user chose when asked about a failed build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureChoice {
    /// Remove what the build made.
    Cleanup,
    /// Leave it for `cce-image-builder cleanup <id>`.
    Abort,
}

/// Asks the user what to do about a failed step (given the step and the error). Called on a
/// blocking thread.
pub type AskFn = Arc<dyn Fn(&str, &str) -> FailureChoice + Send + Sync>;
/// Called after each successful step (`-debug`); returns when the user wants to go on. Called
/// on a blocking thread.
pub type PauseFn = Arc<dyn Fn(&str) + Send + Sync>;

/// `-on-error` of an ECS build.
#[derive(Clone, Default)]
pub enum OnFailure {
    /// Run the error-cleanup-provisioner, then remove every resource (the default).
    #[default]
    Cleanup,
    /// Stop at once: no error-cleanup-provisioner, resources left for `cleanup <id>`.
    Abort,
    /// Run the error-cleanup-provisioner, then leave resources for `cleanup <id>`.
    RunCleanupProvisioner,
    /// Run the error-cleanup-provisioner, then ask.
    Ask(AskFn),
}

impl std::fmt::Debug for OnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OnFailure::Cleanup => "Cleanup",
            OnFailure::Abort => "Abort",
            OnFailure::RunCleanupProvisioner => "RunCleanupProvisioner",
            OnFailure::Ask(_) => "Ask",
        })
    }
}

/// Options of the `build` command that change how an ECS build runs.
#[derive(Clone, Default)]
pub struct EcsOptions {
    /// `-force`: delete private images named `image_name` before building.
    pub force: bool,
    /// `-debug`: called after each step.
    pub pause_after_step: Option<PauseFn>,
}

/// One build of one `huaweicloud-ecs` source.
pub struct EcsBuild<'a> {
    pub build: &'a Build,
    pub source: &'a BuildSource,
    pub cloud: Arc<dyn Cloud>,
    /// The journal of this build, created by the caller.
    pub ledger: Arc<Ledger>,
    pub reporter: Arc<dyn Reporter>,
    /// Secrets met while building (the temporary private key) are added here.
    pub redactor: Redactor,
    pub run_uuid: String,
    pub cwd: PathBuf,
    pub on_error: OnFailure,
    pub interrupt: Interrupt,
    pub waits: Waits,
    /// An already redacted log uploaded to [`LOG_IN_IMAGE`] before the server stops.
    pub log_file: Option<PathBuf>,
    /// Building on the embedded local cloud: empty fields get the local cloud's defaults.
    pub local_cloud: bool,
    pub options: EcsOptions,
}

/// How an ECS build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsBuildOutcome {
    pub display_name: String,
    pub build_id: String,
    /// The image id, when the build succeeded.
    pub artifact_id: Option<String>,
    pub error: Option<String>,
    pub interrupted: bool,
    /// Whether cleanup ran (not after a failure with `-on-error=abort`).
    pub cleaned_up: bool,
    /// Resources cleanup could not remove, as `kind name: error`.
    pub cleanup_failures: Vec<String>,
}

/// Why a step stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Error(String),
    Interrupted,
}

impl Failure {
    fn msg(m: impl Into<String>) -> Failure {
        Failure::Error(m.into())
    }
}

impl From<CloudError> for Failure {
    fn from(e: CloudError) -> Failure {
        Failure::Error(e.to_string())
    }
}

impl From<crate::ledger::LedgerError> for Failure {
    fn from(e: crate::ledger::LedgerError) -> Failure {
        Failure::Error(format!(
            "cannot write the build journal, so nothing more is created: {e}"
        ))
    }
}

impl From<crate::provision::ProvisionError> for Failure {
    fn from(e: crate::provision::ProvisionError) -> Failure {
        Failure::Error(e.message)
    }
}

type Step<T> = Result<T, Failure>;

/// What the network step found or made.
#[derive(Debug, Clone)]
struct Network {
    vpc_id: String,
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
}

/// The EIP the server gets.
#[derive(Debug, Clone)]
struct Eip {
    id: String,
    address: Option<String>,
}

struct Runner<'b, 'a> {
    b: &'b EcsBuild<'a>,
    cfg: &'b HuaweiEcsConfig,
    name: String,
    build_id: String,
    timings: Mutex<Vec<StepTiming>>,
    subnet_vpcs: Arc<Mutex<HashMap<String, String>>>,
    /// The title of the step that failed, for `-on-error=ask`.
    failed_step: Mutex<Option<String>>,
}

impl EcsBuild<'_> {
    /// Runs the build to its end (cleanup included), reporting every step; never panics on bad
    /// input.
    pub async fn run(self) -> EcsBuildOutcome {
        let name = display_name(self.build, self.source);
        let build_id = self.ledger.build_id().to_string();
        let started = Instant::now();
        let _ = self.reporter.report(&Event::BuildStarted {
            build: name.clone(),
            build_id: build_id.clone(),
        });
        let SourceConfig::HuaweiEcs(cfg) = &self.source.config else {
            let error = format!(
                "source {} is not a huaweicloud-ecs source",
                self.source.reference()
            );
            let _ = self.reporter.report(&Event::BuildFinished {
                build: name.clone(),
                status: BuildStatus::Failed,
                artifacts: Vec::new(),
                elapsed_ms: 0,
                steps: Vec::new(),
                error: Some(error.clone()),
            });
            let _ = self.ledger.finished(FinishStatus::Failed, Vec::new());
            return EcsBuildOutcome {
                display_name: name,
                build_id,
                artifact_id: None,
                error: Some(error),
                interrupted: false,
                cleaned_up: false,
                cleanup_failures: Vec::new(),
            };
        };
        let runner = Runner {
            b: &self,
            cfg,
            name: name.clone(),
            build_id: build_id.clone(),
            timings: Mutex::new(Vec::new()),
            subnet_vpcs: Arc::new(Mutex::new(HashMap::new())),
            failed_step: Mutex::new(None),
        };
        let result = runner.steps().await;
        let (interrupted, error) = match &result {
            Ok(_) => (false, None),
            Err(Failure::Interrupted) => (true, Some("the build was interrupted".to_string())),
            Err(Failure::Error(e)) => (false, Some(e.clone())),
        };
        if let Some(e) = &error {
            if !interrupted {
                let _ = self.reporter.report(&Event::Error {
                    build: Some(name.clone()),
                    message: format!("Build failed: {e}"),
                });
            }
        }
        // Decide about cleanup: always after success or interrupt; after a failure per -on-error.
        let clean = match (&result, &self.on_error) {
            (Ok(_), _) | (Err(Failure::Interrupted), _) => true,
            (Err(_), OnFailure::Cleanup) => true,
            (Err(_), OnFailure::Abort | OnFailure::RunCleanupProvisioner) => false,
            (Err(Failure::Error(e)), OnFailure::Ask(ask)) => {
                let ask = Arc::clone(ask);
                let e = e.clone();
                let step = runner
                    .failed_step
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| "build".into());
                // A prompt that cannot run (its thread panicked) falls back to the default.
                tokio::task::spawn_blocking(move || ask(&step, &e))
                    .await
                    .unwrap_or(FailureChoice::Cleanup)
                    == FailureChoice::Cleanup
            }
        };
        let mut cleanup_failures = Vec::new();
        if clean {
            let report = runner.cleanup().await;
            for f in &report.failed {
                cleanup_failures.push(format!(
                    "{} {}: {}",
                    f.resource.kind, f.resource.name, f.error
                ));
            }
        } else {
            let left = self.ledger.outstanding().len();
            let _ = self.reporter.report(&Event::Warning {
                build: Some(name.clone()),
                message: format!(
                    "-on-error: {left} resource(s) of build {build_id} are left in the cloud for inspection; `cce-image-builder cleanup {build_id}` removes them"
                ),
            });
        }
        if !cleanup_failures.is_empty() {
            let _ = self.reporter.report(&Event::Error {
                build: Some(name.clone()),
                message: format!(
                    "cleanup could not remove: {}; run `cce-image-builder cleanup {build_id}` to try again",
                    cleanup_failures.join("; ")
                ),
            });
        }
        let artifact_id = result.as_ref().ok().cloned();
        let status = match (&result, interrupted) {
            (Ok(_), _) => BuildStatus::Succeeded,
            (_, true) => BuildStatus::Interrupted,
            _ => BuildStatus::Failed,
        };
        let finish = match status {
            BuildStatus::Succeeded => FinishStatus::Succeeded,
            BuildStatus::Interrupted => FinishStatus::Interrupted,
            BuildStatus::Failed => FinishStatus::Failed,
        };
        let _ = self
            .ledger
            .finished(finish, artifact_id.iter().cloned().collect());
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let steps = runner
            .timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let _ = self.reporter.report(&Event::BuildFinished {
            build: name.clone(),
            status,
            artifacts: artifact_id
                .iter()
                .map(|id| format!("An image was created: {id}"))
                .collect(),
            elapsed_ms,
            steps,
            error: error.clone(),
        });
        EcsBuildOutcome {
            display_name: name,
            build_id,
            artifact_id,
            error,
            interrupted,
            cleaned_up: clean,
            cleanup_failures,
        }
    }
}

impl Runner<'_, '_> {
    fn say(&self, text: impl Into<String>) {
        let _ = self.b.reporter.report(&Event::StepStarted {
            build: self.name.clone(),
            step: text.into(),
        });
    }

    fn warn(&self, text: impl Into<String>) {
        let _ = self.b.reporter.report(&Event::Warning {
            build: Some(self.name.clone()),
            message: text.into(),
        });
    }

    fn created(&self, kind: ResourceKind, name: &str, id: &str) {
        let _ = self.b.reporter.report(&Event::ResourceCreated {
            build: self.name.clone(),
            kind,
            id: id.to_string(),
            name: name.to_string(),
        });
    }

    /// An observer of the image job that reports its percent as `Progress` events. The bar
    /// never goes back: a job that reads ambiguously for one poll (see `job_percent`) keeps the
    /// highest value seen.
    fn image_progress(&self, image_name: &str) -> PercentObserver {
        let reporter = Arc::clone(&self.b.reporter);
        let build = self.name.clone();
        let what = format!("image {image_name}");
        let highest = std::sync::atomic::AtomicU64::new(0);
        Arc::new(move |percent| {
            let percent = u64::from(percent);
            let done =
                percent.max(highest.fetch_max(percent, std::sync::atomic::Ordering::Relaxed));
            let _ = reporter.report(&Event::Progress {
                build: build.clone(),
                what: what.clone(),
                done,
                total: Some(100),
            });
        })
    }

    fn rname(&self, kind: ResourceKind) -> String {
        resource_name(&self.build_id, &kind)
    }

    /// Runs one step: journaled, reported, raced against the interrupt, timed; then the `-debug`
    /// pause.
    async fn step<T>(&self, title: &str, fut: impl Future<Output = Step<T>>) -> Step<T> {
        self.say(title);
        self.b.ledger.step_started(title)?;
        let start = Instant::now();
        let r = tokio::select! {
            biased;
            _ = self.b.interrupt.cancelled() => Err(Failure::Interrupted),
            r = fut => r,
        };
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, text) = match &r {
            Ok(_) => (StepStatus::Succeeded, "succeeded"),
            Err(Failure::Interrupted) => (StepStatus::Interrupted, "interrupted"),
            Err(Failure::Error(_)) => {
                self.failed_step
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(|| title.to_string());
                (StepStatus::Failed, "failed")
            }
        };
        let _ = self.b.reporter.report(&Event::StepFinished {
            build: self.name.clone(),
            step: title.to_string(),
            elapsed_ms: ms,
            status,
        });
        // The journal write failing here would hide nothing: the resources are journaled apart.
        let _ = self.b.ledger.step_finished(title, text, ms);
        self.timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StepTiming {
                step: title.to_string(),
                ms,
            });
        if r.is_ok() {
            if let Some(pause) = &self.b.options.pause_after_step {
                let pause = Arc::clone(pause);
                let t = title.to_string();
                let wait = tokio::task::spawn_blocking(move || pause(&t));
                tokio::select! {
                    biased;
                    _ = self.b.interrupt.cancelled() => return Err(Failure::Interrupted),
                    _ = wait => {}
                }
            }
        }
        r
    }

    async fn steps(&self) -> Step<String> {
        let refused = unsupported(self.cfg);
        if !refused.is_empty() {
            return Err(Failure::msg(format!(
                "source {}: {}",
                self.b.source.reference(),
                refused.join("; ")
            )));
        }
        let image_name = self.cfg.image_name.clone().ok_or_else(|| {
            Failure::msg("image_name is not set: set it to the name of the image to create")
        })?;
        if self.b.options.force {
            self.step(
                "Deleting private images with the same name (-force)...",
                self.force_delete(&image_name),
            )
            .await?;
        }
        let user_data = self.user_data()?;

        // Independent lookups and creates run at once. A failure does not cut the others short:
        // a create under way finishes and journals its id, so cleanup need not search by name.
        let (zone_flavor, source_image, key, network, eip) = tokio::join!(
            self.step(
                "Loading availability zone and flavor...",
                self.zone_and_flavor()
            ),
            self.step("Loading source image...", self.source_image()),
            self.step("Creating temporary keypair...", self.keypair()),
            self.step("Preparing the network...", self.network()),
            self.step("Preparing the EIP...", self.eip()),
        );
        let (zone_flavor, source_image, key, network, eip) =
            (zone_flavor?, source_image?, key?, network?, eip?);
        let (az, flavor) = zone_flavor;
        if eip.is_none() && self.cfg.associate_public_ip_address && !self.b.local_cloud {
            // The plugin then connects to an empty host; we connect to the private IP instead.
            self.warn("no EIP: associate_public_ip_address is true but none of floating_ip, reuse_ips, eip_bandwidth_size is set; SSH goes to the private IP");
        }
        let (key_name, temp_key) = key;

        let server = self
            .step(
                "Creating the server...",
                self.create_server(
                    &az,
                    &flavor,
                    &source_image,
                    key_name.as_deref(),
                    &network,
                    eip.as_ref(),
                    user_data,
                ),
            )
            .await?;
        let (server_id, private_ip, public_ip) = server;

        let ssh = self.cfg.communicator.ssh().ok_or_else(|| {
            Failure::msg("the huaweicloud-ecs builder needs the ssh communicator")
        })?;
        let host = ssh.host.clone().or(public_ip).or(Some(private_ip.clone()));
        let mut remote = comm::ssh_config(
            ssh,
            host,
            temp_key.as_ref().map(|k| k.private_openssh.as_str()),
            &self.b.cwd,
            &self.b.redactor,
        )?;
        if ssh.password.is_none()
            && ssh.private_key_file.is_none()
            && !ssh.agent_auth
            && temp_key.is_none()
        {
            return Err(Failure::msg(
                "no ssh authentication: set ssh_password, ssh_private_key_file or ssh_agent_auth",
            ));
        }
        remote.timeout = ssh.timeout.0;

        let mut ctx = BuildContext {
            display_name: self.name.clone(),
            build_name: self.b.build.name.clone(),
            source_type: self.b.source.source_type.clone(),
            source_name: self.b.source.name.clone(),
            run_uuid: self.b.run_uuid.clone(),
            values: BTreeMap::new(),
            reporter: Arc::clone(&self.b.reporter),
            cwd: self.b.cwd.clone(),
        };
        for (k, v) in [
            ("ID", server_id.clone()),
            ("ConnType", "ssh".to_string()),
            ("Host", remote.host.clone()),
            ("Port", remote.port.to_string()),
            ("User", remote.username.clone()),
            ("Password", ssh.password.clone().unwrap_or_default()),
            (
                "SSHPublicKey",
                temp_key
                    .as_ref()
                    .map(|k| k.public_openssh.clone())
                    .unwrap_or_default(),
            ),
            (
                "SSHPrivateKey",
                match &remote.auth {
                    Auth::PrivateKey { text, .. } => text.clone(),
                    _ => String::new(),
                },
            ),
            ("SourceImageName", source_image.name.clone()),
            ("PackerHTTPAddr", String::new()),
        ] {
            ctx.values.insert(k.into(), v);
        }

        let as_root = remote.username == "root";
        let comm = self
            .step(
                "Connecting over SSH...",
                self.connect(remote, ssh.pause_before_connecting.map(|d| d.0)),
            )
            .await?;
        let provisioned = self
            .step("Provisioning...", self.provision(&ctx, &comm))
            .await;
        let finished = match provisioned {
            Ok(()) => {
                self.step(
                    "Finishing the server...",
                    self.finish_server(
                        &comm,
                        as_root,
                        ssh.clear_authorized_keys,
                        temp_key.as_ref(),
                        key_name.as_deref(),
                    ),
                )
                .await
            }
            Err(e) => Err(e),
        };
        comm.disconnect().await;
        finished?;

        self.step("Stopping the server...", async {
            self.b
                .cloud
                .stop_server(&server_id, &self.b.waits.server)
                .await?;
            Ok(())
        })
        .await?;
        let (image_id, image_intent) = self
            .step(
                "Creating the image...",
                self.create_image(&image_name, &server_id),
            )
            .await?;
        let _ = self.b.reporter.report(&Event::Artifact {
            build: self.name.clone(),
            builder_id: ECS_BUILDER_ID.into(),
            id: image_id.clone(),
            description: format!("An image was created: {image_id}"),
        });
        let artifact = ArtifactInfo {
            builder_id: ECS_BUILDER_ID.into(),
            id: image_id.clone(),
            files: Vec::new(),
        };
        if !self.b.build.post_processors.is_empty() {
            self.step("Running post-processors...", async {
                Ok(postprocess::post_process(self.b.build, &artifact, &ctx).await?)
            })
            .await?;
        }
        // The build succeeded: the image is its result, not something to clean up.
        self.b.ledger.kept(image_intent, "the build's image")?;
        Ok(image_id)
    }

    fn user_data(&self) -> Step<Option<String>> {
        Ok(match &self.cfg.user_data {
            None => None,
            Some(UserData::Inline(s)) => Some(user_data_b64(s.as_bytes())),
            Some(UserData::File(f)) => {
                let path = comm::resolve(&self.b.cwd, f);
                let bytes = std::fs::read(&path).map_err(|e| {
                    Failure::msg(format!(
                        "cannot read user_data_file {}: {e}",
                        path.display()
                    ))
                })?;
                Some(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        })
    }

    async fn force_delete(&self, image_name: &str) -> Step<()> {
        let ids = self
            .b
            .cloud
            .find_by_name(Findable::Image, image_name, &BTreeMap::new())
            .await?;
        for id in ids {
            self.say(format!("Deleting image {id} named {image_name:?} (-force)"));
            self.b.cloud.delete_image(&id).await?;
        }
        Ok(())
    }

    async fn zone_and_flavor(&self) -> Step<(String, String)> {
        let zones = self.b.cloud.list_availability_zones().await?;
        let available: Vec<&str> = zones
            .iter()
            .filter(|z| z.available)
            .map(|z| z.name.as_str())
            .collect();
        let az = match &self.cfg.availability_zone {
            Some(az) if available.contains(&az.as_str()) => az.clone(),
            Some(az) => {
                return Err(Failure::msg(format!(
                    "availability_zone {az:?} is not an available zone of region {}: use one of {}",
                    self.b.cloud.region(),
                    available.join(", ")
                )));
            }
            None => {
                if available.is_empty() {
                    return Err(Failure::msg(format!(
                        "region {} has no available zone",
                        self.b.cloud.region()
                    )));
                }
                let pick = available[rand::random_range(0..available.len())].to_string();
                self.say(format!(
                    "Availability zone not set: picked {pick} at random among {}",
                    available.join(", ")
                ));
                pick
            }
        };
        let flavors = self.b.cloud.list_flavors(Some(&az)).await?;
        let flavor = match &self.cfg.flavor {
            Some(f) if flavors.iter().any(|x| &x.id == f) => f.clone(),
            Some(f) => {
                let few: Vec<&str> = flavors.iter().take(8).map(|x| x.id.as_str()).collect();
                return Err(Failure::msg(format!(
                    "flavor {f:?} is not sold in {az}: use one that is, e.g. {}",
                    if few.is_empty() {
                        "(none listed)".to_string()
                    } else {
                        few.join(", ")
                    }
                )));
            }
            None if self.b.local_cloud => {
                let f = flavors.first().ok_or_else(|| {
                    Failure::msg(format!("the local cloud sells no flavor in {az}"))
                })?;
                self.say(format!("Flavor not set: using {} of the local cloud", f.id));
                f.id.clone()
            }
            None => {
                return Err(Failure::msg(
                    "flavor is not set: set it to a flavor ID, e.g. \"s7n.large.2\"",
                ));
            }
        };
        self.say(format!("Using availability zone {az} and flavor {flavor}"));
        Ok((az, flavor))
    }

    async fn source_image(&self) -> Step<Image> {
        let cloud = &self.b.cloud;
        let image = match &self.cfg.source_image {
            Some(SourceImage::Id(id)) => {
                let img = cloud.show_image(id).await?.ok_or_else(|| {
                    Failure::msg(format!(
                        "source_image {id:?} does not exist: check the image ID in IMS"
                    ))
                })?;
                if img.status != "active" {
                    return Err(Failure::msg(format!(
                        "source_image {id:?} is {:?}, not active: use an active image",
                        img.status
                    )));
                }
                img
            }
            Some(SourceImage::Name(name)) => {
                let q = ImageQuery {
                    name: Some(name.clone()),
                    status: Some("active".into()),
                    ..Default::default()
                };
                let mut list: Vec<Image> = cloud
                    .list_images(&q)
                    .await?
                    .into_iter()
                    .filter(|i| &i.name == name)
                    .collect();
                sort_newest_first(&mut list);
                list.into_iter().next().ok_or_else(|| {
                    Failure::msg(format!(
                        "source_image_name {name:?} matches no active image: check the name in IMS"
                    ))
                })?
            }
            Some(SourceImage::Filter(f)) => self.filter_image(f).await?,
            None if self.b.local_cloud => {
                let q = ImageQuery {
                    image_type: Some("gold".into()),
                    status: Some("active".into()),
                    ..Default::default()
                };
                let list = cloud.list_images(&q).await?;
                let pick = list
                    .iter()
                    .find(|i| i.name == "Debian 12 (local sandbox rootfs)")
                    .or_else(|| list.iter().find(|i| i.name.contains("Debian")))
                    .cloned()
                    .ok_or_else(|| Failure::msg("the local cloud lists no Debian base image"))?;
                self.say(format!(
                    "Source image not set: using the local cloud's base image {:?}",
                    pick.name
                ));
                pick
            }
            None => {
                return Err(Failure::msg(
                    "one of source_image, source_image_name or source_image_filter must be set: for CCE, the ID of the CCE node base image",
                ));
            }
        };
        self.say(format!("Using source image {} ({})", image.id, image.name));
        if self.b.local_cloud && image.image_type.as_deref() == Some("gold") {
            if let Some(ssh) = self.cfg.communicator.ssh() {
                let own_access = !matches!(ssh.key_pair, KeyPair::Existing { .. })
                    && (ssh.private_key_file.is_some() || ssh.password.is_some() || ssh.agent_auth);
                if own_access {
                    self.warn(
                        concat!(
                            "the local cloud's base images let root in only with the server's keypair, so ",
                            "ssh_password, ssh_private_key_file or ssh_agent_auth without a keypair will be refused: ",
                            "leave them out on the local cloud (a temporary keypair is made) or import an image ",
                            "that has that access (cce-image-builder localcloud import-image)"
                        ),
                    );
                }
            }
        }
        Ok(image)
    }

    async fn filter_image(&self, f: &ImageFilter) -> Step<Image> {
        let q = ImageQuery {
            name: f.name.clone(),
            owner: f.owner.clone(),
            image_type: f.image_type.clone(),
            tag: f.tag.clone(),
            status: Some("active".into()),
            ..Default::default()
        };
        let mut list: Vec<Image> = self
            .b
            .cloud
            .list_images(&q)
            .await?
            .into_iter()
            .filter(|i| f.name.as_ref().is_none_or(|n| &i.name == n))
            .filter(|i| {
                f.properties
                    .iter()
                    .all(|(k, v)| image_field(i, k).as_deref() == Some(v.as_str()))
            })
            .collect();
        sort_newest_first(&mut list);
        match list.len() {
            0 => Err(Failure::msg(
                "source_image_filter matches no active image: loosen the filters",
            )),
            1 => Ok(list.remove(0)),
            n if f.most_recent => {
                self.say(format!(
                    "source_image_filter matches {n} images: taking the newest (most_recent)"
                ));
                Ok(list.remove(0))
            }
            n => {
                let names: Vec<String> = list
                    .iter()
                    .take(5)
                    .map(|i| format!("{} ({})", i.id, i.name))
                    .collect();
                Err(Failure::msg(format!(
                    "source_image_filter matches {n} images ({}): narrow the filters or set most_recent = true",
                    names.join(", ")
                )))
            }
        }
    }

    /// The key the server gets: `(key_name, temporary key)`.
    async fn keypair(&self) -> Step<(Option<String>, Option<TempKey>)> {
        let Some(ssh) = self.cfg.communicator.ssh() else {
            return Ok((None, None));
        };
        let temp_name = match &ssh.key_pair {
            KeyPair::Existing { name } => {
                self.say(format!("Using existing keypair {name}"));
                return Ok((Some(name.clone()), None));
            }
            // A key file or a password without a keypair name: the image's own access is used.
            _ if ssh.private_key_file.is_some() || ssh.password.is_some() || ssh.agent_auth => {
                return Ok((None, None));
            }
            KeyPair::Temporary { name: Some(n) } => n.clone(),
            KeyPair::Temporary { name: None } | KeyPair::NotUsed => {
                self.rname(ResourceKind::Keypair)
            }
        };
        let key = generate_key(&temp_name).map_err(Failure::Error)?;
        let _ = self.b.redactor.add(&key.private_openssh);
        for line in key
            .private_openssh
            .lines()
            .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        {
            let _ = self.b.redactor.add(line);
        }
        let intent = self
            .b
            .ledger
            .intent(ResourceKind::Keypair, &temp_name, Tags::new())?;
        let kp = self
            .b
            .cloud
            .create_keypair(&temp_name, Some(&key.public_openssh))
            .await?;
        self.b.ledger.created(intent, &kp.name)?;
        self.created(ResourceKind::Keypair, &kp.name, &kp.name);
        Ok((Some(kp.name), Some(key)))
    }

    async fn network(&self) -> Step<Network> {
        let cloud = &self.b.cloud;
        let (vpc_id, subnet_ids) = match &self.cfg.vpc_id {
            Some(vpc_id) => {
                let vpc = cloud.show_vpc(vpc_id).await.map_err(|e| {
                    if e.is_not_found() {
                        Failure::msg(format!(
                            "vpc_id {vpc_id:?} does not exist: check the VPC ID"
                        ))
                    } else {
                        e.into()
                    }
                })?;
                if self.cfg.subnets.is_empty() {
                    return Err(Failure::msg(
                        "vpc_id is set but subnets is not: set subnets to a subnet of this VPC",
                    ));
                }
                for s in &self.cfg.subnets {
                    let subnet = cloud.show_subnet(s).await.map_err(|e| {
                        if e.is_not_found() {
                            Failure::msg(format!("subnet {s:?} does not exist: check subnets"))
                        } else {
                            e.into()
                        }
                    })?;
                    if subnet.vpc_id != vpc.id {
                        return Err(Failure::msg(format!(
                            "subnet {s:?} belongs to VPC {:?}, not to vpc_id {vpc_id:?}: use a subnet of that VPC",
                            subnet.vpc_id
                        )));
                    }
                }
                (vpc.id, self.cfg.subnets.clone())
            }
            None => {
                let (vpc_cidr, subnet_cidr, gateway) = if self.b.local_cloud {
                    // Local-cloud servers listen on their fixed IP, so the network must be on
                    // loopback; a random range keeps concurrent local clouds apart.
                    let (x, y) = (
                        rand::random_range(11..=254u8),
                        rand::random_range(0..=255u8),
                    );
                    (
                        format!("127.{x}.0.0/16"),
                        format!("127.{x}.{y}.0/24"),
                        format!("127.{x}.{y}.1"),
                    )
                } else {
                    (
                        TEMP_VPC_CIDR.to_string(),
                        TEMP_SUBNET_CIDR.to_string(),
                        TEMP_SUBNET_GATEWAY.to_string(),
                    )
                };
                let vpc_name = self.rname(ResourceKind::Vpc);
                let intent = self
                    .b
                    .ledger
                    .intent(ResourceKind::Vpc, &vpc_name, Tags::new())?;
                let vpc = cloud
                    .create_vpc(
                        &VpcCreate {
                            name: vpc_name.clone(),
                            cidr: vpc_cidr,
                            description: Some(format!(
                                "temporary network of build {}",
                                self.build_id
                            )),
                            enterprise_project_id: self.cfg.enterprise_project_id.clone(),
                        },
                        &self.b.waits.network,
                    )
                    .await?;
                self.b.ledger.created(intent, &vpc.id)?;
                self.created(ResourceKind::Vpc, &vpc_name, &vpc.id);
                let subnet_name = self.rname(ResourceKind::Subnet);
                let intent =
                    self.b
                        .ledger
                        .intent(ResourceKind::Subnet, &subnet_name, Tags::new())?;
                let subnet = cloud
                    .create_subnet(
                        &SubnetCreate {
                            name: subnet_name.clone(),
                            cidr: subnet_cidr,
                            gateway_ip: gateway,
                            vpc_id: vpc.id.clone(),
                            ..Default::default()
                        },
                        &self.b.waits.network,
                    )
                    .await?;
                self.subnet_vpcs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(subnet.id.clone(), vpc.id.clone());
                self.b.ledger.created(intent, &subnet.id)?;
                self.created(ResourceKind::Subnet, &subnet_name, &subnet.id);
                (vpc.id, vec![subnet.id])
            }
        };
        let security_group_ids = self.security_groups().await?;
        Ok(Network {
            vpc_id,
            subnet_ids,
            security_group_ids,
        })
    }

    async fn security_groups(&self) -> Step<Vec<String>> {
        let refs = &self.cfg.security_groups;
        let needs_list =
            refs.is_empty() || refs.iter().any(|r| matches!(r, SecurityGroupRef::Name(_)));
        let groups = if needs_list {
            self.b.cloud.list_security_groups().await?
        } else {
            Vec::new()
        };
        if refs.is_empty() {
            return Ok(match groups.iter().find(|g| g.name == "default") {
                Some(g) => vec![g.id.clone()],
                // No group named default: the API puts the server in the project's default.
                None => Vec::new(),
            });
        }
        let mut ids = Vec::new();
        for r in refs {
            match r {
                SecurityGroupRef::Id(id) => ids.push(id.clone()),
                SecurityGroupRef::Name(n) => {
                    let hits: Vec<&str> = groups
                        .iter()
                        .filter(|g| &g.name == n)
                        .map(|g| g.id.as_str())
                        .collect();
                    match hits.as_slice() {
                        [one] => ids.push(one.to_string()),
                        [] => {
                            return Err(Failure::msg(format!(
                                "security group {n:?} does not exist: give an existing group's name or ID"
                            )));
                        }
                        many => {
                            return Err(Failure::msg(format!(
                                "{} security groups are named {n:?}: give the ID instead (one of {})",
                                many.len(),
                                many.join(", ")
                            )));
                        }
                    }
                }
            }
        }
        Ok(ids)
    }

    async fn eip(&self) -> Step<Option<Eip>> {
        if !self.cfg.associate_public_ip_address {
            return Ok(None);
        }
        let cloud = &self.b.cloud;
        if let Some(id) = &self.cfg.floating_ip {
            let e = cloud.show_eip(id).await.map_err(|e| {
                if e.is_not_found() {
                    Failure::msg(format!(
                        "floating_ip {id:?} does not exist: give the ID of an EIP of this project"
                    ))
                } else {
                    e.into()
                }
            })?;
            if e.port_id.as_deref().is_some_and(|p| !p.is_empty()) {
                return Err(Failure::msg(format!(
                    "floating_ip {id:?} is bound to another port: unbind it or use another EIP"
                )));
            }
            self.say(format!("Using EIP {id} (floating_ip; it is kept)"));
            return Ok(Some(Eip {
                id: e.id,
                address: e.public_ip_address,
            }));
        }
        if self.cfg.reuse_ips {
            let free = cloud
                .list_eips()
                .await?
                .into_iter()
                .find(|e| e.port_id.as_deref().is_none_or(str::is_empty) && e.status == "DOWN");
            return match free {
                Some(e) => {
                    self.say(format!(
                        "Reusing unbound EIP {} (reuse_ips; it is kept)",
                        e.id
                    ));
                    Ok(Some(Eip {
                        id: e.id,
                        address: e.public_ip_address,
                    }))
                }
                None => Err(Failure::msg(
                    "reuse_ips is set but the project has no unbound EIP: free one or set eip_bandwidth_size",
                )),
            };
        }
        if self.cfg.eip_bandwidth_size == 0 {
            return Ok(None);
        }
        let alias = self.rname(ResourceKind::Eip);
        let mut spec = cce_cloud::models::EipCreate::new(&alias, self.cfg.eip_bandwidth_size);
        spec.ip_type = self.cfg.eip_type.clone();
        spec.enterprise_project_id = self.cfg.enterprise_project_id.clone();
        let intent = self
            .b
            .ledger
            .intent(ResourceKind::Eip, &alias, Tags::new())?;
        let e: PublicIp = cloud.create_eip(&spec, &self.b.waits.eip).await?;
        self.b.ledger.created(intent, &e.id)?;
        self.created(ResourceKind::Eip, &alias, &e.id);
        Ok(Some(Eip {
            id: e.id,
            address: e.public_ip_address,
        }))
    }

    fn server_name(&self) -> String {
        // The schema fills instance_name with image_name; a name of our own is unique, so a
        // server whose id was lost (a crash during the create wait) is found again.
        match (&self.cfg.instance_name, &self.cfg.image_name) {
            (Some(i), Some(n)) if i != n => i.clone(),
            (Some(i), None) => i.clone(),
            _ => self.rname(ResourceKind::Server),
        }
    }

    /// Creates the server; returns its id, private IP and the EIP address.
    #[allow(clippy::too_many_arguments)]
    async fn create_server(
        &self,
        az: &str,
        flavor: &str,
        image: &Image,
        key_name: Option<&str>,
        net: &Network,
        eip: Option<&Eip>,
        user_data: Option<String>,
    ) -> Step<(String, String, Option<String>)> {
        let cfg = self.cfg;
        let mut extendparam = serde_json::Map::new();
        if let Some(ep) = &cfg.enterprise_project_id {
            extendparam.insert("enterprise_project_id".into(), json!(ep));
        }
        if cfg.spot_pricing {
            extendparam.insert("marketType".into(), json!("spot"));
            if let Some(p) = &cfg.spot_maximum_price {
                extendparam.insert("spotPrice".into(), json!(p));
            }
        }
        let mut extra = serde_json::Map::new();
        let data_volumes: Vec<Value> = cfg
            .data_disks
            .iter()
            .filter_map(|d| match d.source {
                DataDiskSource::Size(n) => Some(json!({"volumetype": d.volume_type, "size": n})),
                _ => None,
            })
            .collect();
        if !data_volumes.is_empty() {
            extra.insert("data_volumes".into(), Value::Array(data_volumes));
        }
        let name = self.server_name();
        let tags = build_tags(&self.build_id);
        let spec = ServerCreate {
            name: name.clone(),
            image_ref: image.id.clone(),
            flavor_ref: flavor.to_string(),
            vpcid: net.vpc_id.clone(),
            nics: net
                .subnet_ids
                .iter()
                .map(|s| NicSpec {
                    subnet_id: s.clone(),
                    ip_address: None,
                })
                .collect(),
            security_groups: net
                .security_group_ids
                .iter()
                .map(|id| IdRef { id: id.clone() })
                .collect(),
            availability_zone: Some(az.to_string()),
            root_volume: RootVolume {
                volumetype: cfg.volume_type.clone(),
                size: cfg.volume_size,
            },
            key_name: key_name.map(str::to_string),
            user_data,
            metadata: cfg.instance_metadata.clone(),
            server_tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            publicip: eip.map(|e| json!({"id": e.id})),
            extendparam,
            extra,
            ..Default::default()
        };
        let intent = self.b.ledger.intent(ResourceKind::Server, &name, tags)?;
        let server = self
            .b
            .cloud
            .create_server(&spec, &self.b.waits.server)
            .await?;
        self.b.ledger.created(intent, &server.id)?;
        self.created(ResourceKind::Server, &name, &server.id);
        let nics = self.b.cloud.server_interfaces(&server.id).await?;
        let private_ip = nics
            .first()
            .and_then(|n| n.fixed_ips.first())
            .map(|ip| ip.ip_address.clone())
            .filter(|ip| !ip.is_empty())
            .or_else(|| server.fixed_ip().map(str::to_string))
            .ok_or_else(|| {
                Failure::msg(format!(
                    "server {} has no private IP on its first NIC",
                    server.id
                ))
            })?;
        let public_ip = server
            .floating_ip()
            .map(str::to_string)
            .or_else(|| eip.and_then(|e| e.address.clone()));
        self.say(format!(
            "Server {} is ACTIVE: private IP {private_ip}{}",
            server.id,
            public_ip
                .as_ref()
                .map(|p| format!(", EIP {p}"))
                .unwrap_or_default()
        ));
        Ok((server.id, private_ip, public_ip))
    }

    async fn connect(
        &self,
        remote: cce_remote::SshConfig,
        pause: Option<Duration>,
    ) -> Step<SshCommunicator> {
        if let Some(p) = pause {
            self.say(format!("Pausing {p:?} before connecting..."));
            tokio::time::sleep(p).await;
        }
        self.say(format!(
            "Using SSH communicator to connect: {}",
            remote.host
        ));
        self.say("Waiting for SSH to become available...");
        let c = SshCommunicator::connect(remote)
            .await
            .map_err(|e| Failure::msg(format!("error waiting for SSH: {e}")))?;
        self.say("Connected to SSH!");
        Ok(c)
    }

    async fn provision(&self, ctx: &BuildContext, comm: &SshCommunicator) -> Step<()> {
        let run_cleanup = !matches!(self.b.on_error, OnFailure::Abort);
        let r = provision::run_provisioners(
            &self.b.build.provisioners,
            self.b.build.error_cleanup_provisioner.as_ref(),
            run_cleanup,
            ctx,
            Some(comm as &dyn Communicator),
        )
        .await;
        Ok(r?)
    }

    /// Removes the temporary key from `authorized_keys` if asked, and puts the build log in
    /// the image.
    async fn finish_server(
        &self,
        comm: &SshCommunicator,
        as_root: bool,
        clear_keys: bool,
        temp_key: Option<&TempKey>,
        key_name: Option<&str>,
    ) -> Step<()> {
        let run = |cmd: String| async move {
            let status = comm
                .exec(&cmd, &[], ExecOptions::default())
                .await
                .map_err(|e| Failure::msg(format!("`{cmd}` failed: {e}")))?;
            if !status.success() {
                return Err(Failure::msg(format!("`{cmd}` ended with {status:?}")));
            }
            Ok(())
        };
        if let (true, Some(_), Some(name)) = (clear_keys, temp_key, key_name) {
            self.say("Trying to remove ephemeral keys from authorized_keys files");
            // The plugin's command: the key line ends with the keypair name, its comment.
            let q = cce_remote::shell_quote(&format!("/ {name}$/d"));
            run(format!(
                "sed -i.bak {q} ~/.ssh/authorized_keys; rm -f ~/.ssh/authorized_keys.bak"
            ))
            .await?;
            run(format!(
                "if command -v sudo >/dev/null 2>&1 && [ \"$(id -u)\" != 0 ]; then sudo sed -i.bak {q} /root/.ssh/authorized_keys; sudo rm -f /root/.ssh/authorized_keys.bak; fi"
            ))
            .await?;
        }
        if let Some(log) = &self.b.log_file {
            self.say(format!("Uploading the build log to {LOG_IN_IMAGE}"));
            let data = std::fs::read(log).map_err(|e| {
                Failure::msg(format!("cannot read the build log {}: {e}", log.display()))
            })?;
            let data = self.b.redactor.redact_bytes(&data).into_owned();
            let dir = LOG_IN_IMAGE.rsplit_once('/').map_or("/", |(d, _)| d);
            let sudo = if as_root { "" } else { "sudo " };
            run(format!("{sudo}mkdir -p {dir}")).await?;
            let tmp = "/tmp/cce-image-builder-build.log";
            comm.upload_bytes(&data, tmp, 0o600)
                .await
                .map_err(|e| Failure::msg(format!("cannot upload the build log: {e}")))?;
            run(format!(
                "{sudo}mv {tmp} {LOG_IN_IMAGE} && {sudo}chmod 600 {LOG_IN_IMAGE}"
            ))
            .await?;
        }
        Ok(())
    }

    /// Creates, sizes and shares the image; returns its id and its journal intent, which stays
    /// open until the build succeeded (a failure after this point removes the image too).
    async fn create_image(&self, image_name: &str, server_id: &str) -> Step<(String, IntentId)> {
        let cfg = self.cfg;
        let mut tags: Tags = cfg.image_tags.clone();
        tags.extend(build_tags(&self.build_id));
        let spec = ImageCreate {
            name: image_name.to_string(),
            instance_id: server_id.to_string(),
            description: cfg.image_description.clone(),
            image_tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            enterprise_project_id: cfg.enterprise_project_id.clone(),
            ..Default::default()
        };
        let intent = self
            .b
            .ledger
            .intent(ResourceKind::Image, image_name, tags)?;
        let wait = WaitPolicy {
            timeout: cfg.wait_image_ready_timeout.0,
            ..self.b.waits.image.clone()
        };
        let id = self
            .b
            .cloud
            .create_image_with_progress(&spec, &wait, Some(self.image_progress(image_name)))
            .await?;
        self.b.ledger.created(intent, &id)?;
        self.created(ResourceKind::Image, image_name, &id);
        if let Some(min) = cfg.image_min_disk {
            self.say(format!("Setting the image's minimum disk to {min} GB"));
            self.b.cloud.update_image_min_disk(&id, min).await?;
        }
        if !cfg.image_members.is_empty() {
            self.say(format!(
                "Sharing the image with {}",
                cfg.image_members.join(", ")
            ));
            self.b
                .cloud
                .share_image(&id, &cfg.image_members, &self.b.waits.image)
                .await
                .map_err(|e| {
                    Failure::msg(format!("cannot share image {id} with image_members: {e}"))
                })?;
        }
        Ok((id, intent))
    }

    async fn cleanup(&self) -> CleanupReport {
        // A failed server is stopped first only by deleting it; nothing here watches the interrupt.
        let remover = EcsRemover {
            cloud: Arc::clone(&self.b.cloud),
            waits: self.b.waits.clone(),
            subnet_vpcs: Arc::clone(&self.subnet_vpcs),
        };
        let outstanding = self.b.ledger.outstanding();
        if outstanding.is_empty() {
            return CleanupReport::default();
        }
        self.say("Cleaning up: removing the build's temporary resources...");
        // A create the interrupt cut short is still on the wire: once it has its answer, the
        // cloud has the resource (found by name) or never will (absent).
        if !self.b.cloud.settle_writes(SETTLE_WRITES).await {
            self.warn("requests sent before the interrupt are still unanswered; looking for what they made anyway");
        }
        let report = Cleanup::run(&self.b.ledger, &remover).await;
        for (res, id) in &report.deleted {
            let _ = self.b.reporter.report(&Event::ResourceDeleted {
                build: self.name.clone(),
                kind: res.kind.clone(),
                id: id.clone(),
                name: res.name.clone(),
            });
        }
        report
    }
}
