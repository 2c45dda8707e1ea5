//! The embedded local cloud: an emulator of the ECS, IMS, VPC, EIP and IAM APIs that checks
//! signatures like the real gateway, keeps its state on disk and runs servers through a
//! [`ServerBackend`]: records only ([`RecordOnly`]) or real machines
//! ([`sandbox_backend::SandboxBackend`]). The real-cloud path never needs it.
//!
//! Start one with [`LocalCloud::start`]; it serves each service on its own loopback port (the
//! SDKs build URLs as endpoint + path, and ECS and IMS share `/v1/{project_id}/jobs`), and
//! [`LocalCloudHandle::ready_line`] gives the JSON line clients configure themselves from.

#![recursion_limit = "256"]

pub mod backend;
pub mod config;
pub mod faults;
pub mod http;
pub mod keys;
pub mod ops;
pub mod sandbox_backend;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use backend::{BackendError, Progress, RecordOnly, ServerBackend, ServerSpec};
pub use sandbox_backend::{SandboxBackend, SandboxConfig};
pub use config::{Config, Latency, Profile, default_state_dir};
pub use faults::{FaultKind, FaultRule, FaultSet};
pub use http::Service;

/// Why a local cloud could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalCloudError {
    #[error(transparent)]
    State(#[from] world::StateError),
    #[error(
        "cannot listen on {addr} for {service}: {source}; choose another --listen port or 0 for free ones"
    )]
    Bind {
        addr: SocketAddr,
        service: &'static str,
        source: std::io::Error,
    },
    #[error("--access-key and --secret-key go together: give both or neither")]
    HalfKeys,
}

/// How long [`LocalCloudHandle::shutdown`] waits for requests under way.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts local clouds.
pub struct LocalCloud;

impl LocalCloud {
    /// Starts a local cloud with servers kept as records.
    pub async fn start(config: Config) -> Result<LocalCloudHandle, LocalCloudError> {
        Self::start_with_backend(config, Arc::new(RecordOnly)).await
    }

    /// Starts a local cloud whose servers are run by `backend`.
    pub async fn start_with_backend(
        config: Config,
        backend: Arc<dyn ServerBackend>,
    ) -> Result<LocalCloudHandle, LocalCloudError> {
        let store = world::Store::new(&config.state_dir);
        let now = world::now_ms();
        let mut world = match store.load()? {
            Some(w) => w,
            None => world::World::fresh(now),
        };
        let (access_key, secret_key) = match (&config.access_key, &config.secret_key) {
            (Some(a), Some(s)) => (a.clone(), s.clone()),
            (None, None) => (world.access_key.clone(), world.secret_key.clone()),
            _ => return Err(LocalCloudError::HalfKeys),
        };
        // A server whose machine did not survive the restart is off, as after a power loss.
        for s in world.servers.values_mut() {
            let removing = s.transition.as_ref().is_some_and(|t| t.remove);
            if !removing && s.status != "ERROR" && !backend.is_running(&s.id) {
                s.status = "SHUTOFF".into();
                s.task_state = None;
                s.transition = None;
            }
        }
        // Transitions that fell due while the cloud was down happen now.
        let gone = world.advance_with(now, backend.as_ref());
        for id in gone {
            if let Err(e) = backend.delete(&id) {
                tracing::warn!(server = %id, error = %e, "backend failed to delete a server");
            }
        }
        let bytes = serde_json::to_vec_pretty(&world)
            .map_err(|e| world::StateError::Encode(e.to_string()))?;
        store.save_bytes(&bytes)?;

        let mut listeners = Vec::new();
        for (i, service) in Service::ALL.iter().enumerate() {
            let mut addr = config.listen;
            if addr.port() != 0 {
                addr.set_port(addr.port().saturating_add(i as u16));
            }
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| LocalCloudError::Bind {
                    addr,
                    service: service.name(),
                    source,
                })?;
            let local = l.local_addr().map_err(|source| LocalCloudError::Bind {
                addr,
                service: service.name(),
                source,
            })?;
            listeners.push((*service, l, local));
        }
        let shared = Arc::new(http::Shared {
            latency: config.latency(),
            access_key: access_key.clone(),
            secret_key: secret_key.clone(),
            backend,
            store,
            inner: Mutex::new(http::Inner {
                world: world.clone(),
                faults: faults::Faults::new(config.faults.clone()),
                auth_failures: 0,
                locked_until: None,
                saved: bytes,
            }),
            config: config.clone(),
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut endpoints = BTreeMap::new();
        let mut tasks = Vec::new();
        for (service, listener, addr) in listeners {
            endpoints.insert(service.name().to_string(), format!("http://{addr}"));
            let app = axum::Router::new()
                .fallback(http::handle)
                .with_state((shared.clone(), service));
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %e, "local cloud listener stopped");
                }
            }));
        }
        Ok(LocalCloudHandle {
            endpoints,
            region: config.region.clone(),
            project_id: world.project_id.clone(),
            domain_id: world.domain_id.clone(),
            access_key,
            secret_key,
            state_dir: config.state_dir.clone(),
            stop: stop_tx,
            tasks,
            shared,
        })
    }
}

/// A running local cloud. Dropping it does not stop it: call [`LocalCloudHandle::shutdown`].
pub struct LocalCloudHandle {
    /// `iam`, `ecs`, `ims`, `vpc` → `http://127.0.0.1:PORT`.
    pub endpoints: BTreeMap<String, String>,
    pub region: String,
    pub project_id: String,
    pub domain_id: String,
    pub access_key: String,
    pub secret_key: String,
    pub state_dir: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shared: Arc<http::Shared>,
}

impl std::fmt::Debug for LocalCloudHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCloudHandle")
            .field("endpoints", &self.endpoints)
            .field("project_id", &self.project_id)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<sensitive>")
            .finish()
    }
}

impl LocalCloudHandle {
    /// The endpoint of one service.
    pub fn endpoint(&self, service: Service) -> &str {
        self.endpoints
            .get(service.name())
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The one JSON line printed when the cloud is ready.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "endpoints": self.endpoints,
            "region": self.region,
            "project_id": self.project_id,
            "domain_id": self.domain_id,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "state_dir": self.state_dir,
            "servers": self.servers(),
        })
        .to_string()
    }

    /// What runs servers: `sandbox` (real machines) or `record` (records only).
    pub fn servers(&self) -> &'static str {
        if self.shared.backend.name() == "sandbox" {
            "sandbox"
        } else {
            "record"
        }
    }

    /// Arms more faults (as `POST /_admin/faults` does).
    pub fn add_faults(&self, rules: Vec<FaultRule>) {
        let mut inner = self.shared.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.faults.add(rules);
    }

    /// Stops the listeners and waits for requests under way to finish, at most
    /// [`SHUTDOWN_GRACE`]; listeners still busy then (a client holding a slow call) are aborted.
    /// Then every server the backend runs is stopped and its forwarders closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
        let backend = self.shared.backend.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || backend.shutdown()).await {
            tracing::error!(error = %e, "stopping the servers failed");
        }
    }
}
