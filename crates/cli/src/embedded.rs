//! The embedded local cloud of a build: started in-process from its state directory when a
//! template has no credentials (and again by `cleanup` for a build that used it), with sandbox
//! servers, so the build reaches it through the same signed HTTP client as the real cloud.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use cce_cloud::signer::Credentials;
use cce_cloud::{ClientConfig, Endpoints, Service};
use cce_localcloud::{
    Config, LocalCloud, LocalCloudHandle, Profile, SandboxBackend, SandboxConfig,
};

/// The state directory of the embedded local cloud: `CCE_LOCALCLOUD_STATE`, else
/// `/var/lib/cce-image-builder/localcloud` for root (sandboxes run as other users and must reach
/// their disks, which root's home does not allow), else the default
/// (`$XDG_STATE_HOME/cce-image-builder/localcloud`).
pub fn state_dir(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = env("CCE_LOCALCLOUD_STATE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if nix_is_root() {
        return Ok(PathBuf::from("/var/lib/cce-image-builder/localcloud"));
    }
    cce_localcloud::default_state_dir(env)
        .context("neither XDG_STATE_HOME nor HOME is set: set CCE_LOCALCLOUD_STATE to a directory for the local cloud")
}

/// Latency profile of the embedded cloud: `CCE_LOCALCLOUD_PROFILE` (`instant` or `realistic`)
/// and `CCE_LOCALCLOUD_SCALE`, else instant.
pub fn profile(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<(Profile, f64)> {
    let profile = match env("CCE_LOCALCLOUD_PROFILE").filter(|v| !v.is_empty()) {
        Some(p) => p
            .parse::<Profile>()
            .map_err(|e| anyhow::anyhow!("CCE_LOCALCLOUD_PROFILE={p}: {e}"))?,
        None => Profile::Instant,
    };
    let scale = match env("CCE_LOCALCLOUD_SCALE").filter(|v| !v.is_empty()) {
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .with_context(|| format!("CCE_LOCALCLOUD_SCALE={s} is not a non-negative number"))?,
        None => 1.0,
    };
    Ok((profile, scale))
}

/// Starts the local cloud on `state` with sandbox servers (real machines reached over SSH),
/// which a build needs. Fails with what to do when this host cannot run sandboxes.
pub async fn start(state: &Path, profile: Profile, scale: f64) -> anyhow::Result<LocalCloudHandle> {
    cce_sandbox::host_supports_sandboxes()
        .context("the embedded local cloud runs servers as sandboxes, which this host cannot run (run as root on Linux with user namespaces), or set the seven variables to build on the real cloud")?;
    if let Some(dir) = crate::commands::localcloud::closed_ancestor(state) {
        anyhow::bail!(
            "sandboxes could not reach their disks under {}: {} is not searchable by others; chmod o+x it or set CCE_LOCALCLOUD_STATE to a directory under /var/lib",
            state.display(),
            dir.display()
        );
    }
    let mut config = Config::new(state.to_path_buf());
    config.profile = profile;
    config.scale = scale;
    // A bad package proxy setting is refused rather than silently replaced by the default.
    let sandboxes = SandboxConfig::from_env(&config.state_dir, |k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?;
    let backend = SandboxBackend::new(sandboxes, tokio::runtime::Handle::current());
    LocalCloud::start_with_backend(config, Arc::new(backend))
        .await
        .with_context(|| format!("cannot start the local cloud on {}", state.display()))
}

/// A client configuration reaching a running local cloud.
pub fn client_config(handle: &LocalCloudHandle) -> anyhow::Result<ClientConfig> {
    let mut endpoints = Endpoints::cloud_ru(&handle.region);
    for svc in Service::ALL {
        endpoints = endpoints
            .with_url(svc, handle.endpoint(svc_of(svc)))
            .with_context(|| format!("the local cloud gave a bad {} endpoint", svc.name()))?;
    }
    let credentials = Credentials {
        access_key: handle.access_key.clone(),
        secret_key: handle.secret_key.clone(),
        security_token: None,
    };
    let mut config = ClientConfig::new(endpoints, credentials);
    config.project_id = Some(handle.project_id.clone());
    Ok(config)
}

fn svc_of(svc: Service) -> cce_localcloud::Service {
    match svc {
        Service::Iam => cce_localcloud::Service::Iam,
        Service::Ecs => cce_localcloud::Service::Ecs,
        Service::Ims => cce_localcloud::Service::Ims,
        Service::Vpc => cce_localcloud::Service::Vpc,
    }
}

fn nix_is_root() -> bool {
    // The owner of our own /proc entry is our effective uid.
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}
