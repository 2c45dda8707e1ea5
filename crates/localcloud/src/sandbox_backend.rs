//! Servers as real machines: each local-cloud server is a `cce_sandbox::Sandbox` (systemd and
//! sshd in its own namespaces) booted from its image's layers, reached through forwarders on the
//! addresses the API reports (its fixed IP and, when bound, its EIP, both loopback addresses).
//!
//! Backend calls come under the control plane's lock, so every boot, stop, delete and capture
//! runs on a thread of its own; the control plane learns the outcome through
//! [`ServerBackend::progress`]. Operations on one server are serialised by its slot lock.
//!
//! On disk, under the state directory: `servers/<id>/` (the sandbox's folder, with
//! `server.json`, what is needed to boot it again after a restart) and `layers/<image id>/` (a
//! captured disk) with `layers/<image id>.parent` naming the image it was stacked on.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cce_sandbox::{DataDisk, Forwarder, Sandbox, SandboxSpec};
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, IngressRule, Progress, ServerBackend, ServerSpec, ssh_admits};

/// How long a boot may take before the server goes to ERROR.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a clean poweroff may take before the sandbox's processes are killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The port servers' sshd listens on and the forwarders expose.
const SSH_PORT: u16 = 22;

/// What a server is made of, kept beside its disk so it can boot again after a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ServerRecord {
    id: String,
    name: String,
    image_id: String,
    private_ip: String,
    public_key: Option<String>,
    user_data: Option<Vec<u8>>,
    /// Root's password for the first boot; never written to `server.json`.
    #[serde(skip)]
    admin_pass: Option<String>,
    /// Sizes in GB of the data disks (`/dev/vdb`, …); records written before they existed have none.
    #[serde(default)]
    data_volume_sizes_gb: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Booting,
    Running,
    Stopping,
    Stopped,
    Failed(String),
}

#[derive(Default)]
struct Slot {
    sandbox: Option<Sandbox>,
    /// Listening address → forwarder.
    forwarders: HashMap<String, Forwarder>,
}

struct Entry {
    record: ServerRecord,
    phase: Mutex<Phase>,
    slot: Mutex<Slot>,
    /// Set by delete before its worker runs: a boot that gets the slot after the delete's
    /// worker must not bring the sandbox up again (it would outlive its server).
    deleted: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a worker thread panicked; the data stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a [`SandboxBackend`] keeps things and finds its base image.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The local cloud's state directory.
    pub state_dir: PathBuf,
    /// Cache of the debootstrapped base rootfs (`CCE_ROOTFS_CACHE`, else
    /// `/var/cache/cce-image-builder`).
    pub rootfs_cache: PathBuf,
    /// Debian mirror used the first time the rootfs is built.
    pub mirror: String,
    pub boot_timeout: Duration,
    /// The host's registry of loopback address blocks (`CCE_ADDRESS_REGISTRY`, else
    /// `/run/cce-image-builder/address-blocks`), so that two local clouds never hand out the
    /// same server or EIP addresses.
    pub address_registry: PathBuf,
    /// The hosts servers may reach through their package proxy (`127.0.0.1:3128` inside each
    /// server); `None`: no proxy, no way out at all.
    pub package_proxy: Option<cce_sandbox::AllowList>,
}

impl SandboxConfig {
    /// As [`SandboxConfig::new`], but a bad value of `CCE_LOCALCLOUD_PACKAGE_PROXY` or
    /// `CCE_LOCALCLOUD_PACKAGE_HOSTS` is an error naming the variable.
    pub fn from_env(state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<SandboxConfig, String> {
        let package_proxy = crate::config::package_proxy_from_env(&env)?;
        Ok(SandboxConfig { package_proxy, ..SandboxConfig::new(state_dir, env) })
    }

    /// Defaults for `state_dir`, reading `CCE_ROOTFS_CACHE`, `CCE_ADDRESS_REGISTRY` and the
    /// package proxy's variables from `env`. A bad package proxy value is warned about and the
    /// default (this machine's Debian mirrors) used; [`SandboxConfig::from_env`] refuses it.
    pub fn new(state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> SandboxConfig {
        let package_proxy = crate::config::package_proxy_from_env(&env).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "using the default package allow-list");
            Some(cce_sandbox::AllowList::host_mirrors())
        });
        SandboxConfig {
            package_proxy,
            state_dir: state_dir.to_path_buf(),
            rootfs_cache: env("CCE_ROOTFS_CACHE")
                .map_or_else(|| PathBuf::from("/var/cache/cce-image-builder"), PathBuf::from),
            mirror: cce_sandbox::debian_mirror(),
            boot_timeout: BOOT_TIMEOUT,
            address_registry: env("CCE_ADDRESS_REGISTRY").map_or_else(
                || PathBuf::from(cce_sandbox::address_block::DEFAULT_REGISTRY),
                PathBuf::from,
            ),
        }
    }
}

/// Runs local-cloud servers as sandboxes.
pub struct SandboxBackend {
    config: SandboxConfig,
    runtime: tokio::runtime::Handle,
    servers: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
    captures: Arc<Mutex<HashMap<String, Progress>>>,
    /// Server id → the SSH rules of its security groups; the forwarders ask on every connection.
    ssh_ingress: Arc<Mutex<HashMap<String, Vec<IngressRule>>>>,
    /// This cloud's loopback address block (its index), held until shutdown.
    address_block: Option<u8>,
    address_claim: Arc<Mutex<Option<cce_sandbox::address_block::AddressBlock>>>,
    /// The package proxy every server gets, built from `config.package_proxy`.
    package_proxy: Option<cce_sandbox::PackageProxy>,
}

impl std::fmt::Debug for SandboxBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBackend")
            .field("state_dir", &self.config.state_dir)
            .finish()
    }
}

impl SandboxBackend {
    /// A backend whose forwarders run on `runtime` (the local cloud's). It claims a loopback
    /// address block for its state directory; if none can be claimed it warns and uses block 0,
    /// whose addresses another local cloud may hold.
    pub fn new(config: SandboxConfig, runtime: tokio::runtime::Handle) -> SandboxBackend {
        let claim =
            match cce_sandbox::address_block::claim(&config.address_registry, &config.state_dir) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!(error = %e, "no loopback address block of its own: servers use 127.10.0.0/24");
                    None
                }
            };
        // A killed process that served this state may have left its servers running: reclaim
        // them (their disks stay), so they start afresh as SHUTOFF servers.
        let own: std::collections::HashSet<String> = std::fs::read_dir(config.state_dir.join("servers"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        if !own.is_empty() {
            for id in cce_sandbox::gc_matching(|id| own.contains(id)) {
                tracing::warn!(server = %id, "reclaimed a server sandbox a killed local cloud left");
            }
        }
        let package_proxy = config
            .package_proxy
            .clone()
            .map(|allow| cce_sandbox::PackageProxy::new(allow, runtime.clone()));
        SandboxBackend {
            config,
            runtime,
            package_proxy,
            servers: Arc::default(),
            captures: Arc::default(),
            ssh_ingress: Arc::default(),
            address_block: claim.as_ref().map(|b| b.index()),
            address_claim: Arc::new(Mutex::new(claim)),
        }
    }

    fn server_dir(&self, id: &str) -> PathBuf {
        self.config.state_dir.join("servers").join(id)
    }

    fn entry(&self, id: &str) -> Option<Arc<Entry>> {
        lock(&self.servers).get(id).cloned()
    }

    /// The entry of a server, loaded from its `server.json` when this process has not run it
    /// yet (after a restart).
    fn entry_or_load(&self, id: &str) -> Result<Arc<Entry>, BackendError> {
        if let Some(e) = self.entry(id) {
            return Ok(e);
        }
        let path = self.server_dir(id).join("server.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            BackendError(format!(
                "the disk of server {id} is gone ({}: {e}); delete the server",
                path.display()
            ))
        })?;
        let record: ServerRecord = serde_json::from_str(&text)
            .map_err(|e| BackendError(format!("{}: {e}; delete the server", path.display())))?;
        let entry = Arc::new(Entry {
            record,
            phase: Mutex::new(Phase::Stopped),
            slot: Mutex::default(),
            deleted: std::sync::atomic::AtomicBool::new(false),
        });
        lock(&self.servers).insert(id.to_string(), entry.clone());
        Ok(entry)
    }

    /// The layers of `image_id`, topmost first.
    fn layers(&self, image_id: &str) -> Result<Vec<PathBuf>, String> {
        image_layers(&self.config, image_id)
    }

    fn sandbox_spec(&self, record: &ServerRecord, layers: Vec<PathBuf>) -> SandboxSpec {
        SandboxSpec {
            id: record.id.clone(),
            hostname: hostname(&record.name),
            dir: self.server_dir(&record.id),
            layers,
            authorized_keys: record.public_key.clone(),
            user_data: record.user_data.clone(),
            admin_pass: record.admin_pass.clone(),
            data_disks: record
                .data_volume_sizes_gb
                .iter()
                .map(|gb| DataDisk { size_bytes: u64::from(*gb) << 30 })
                .collect(),
            boot_timeout: self.config.boot_timeout,
        }
    }

    /// Boots the server on a worker thread: layers, sandbox, forwarder on its fixed IP.
    fn boot(&self, entry: Arc<Entry>) -> Result<(), BackendError> {
        *lock(&entry.phase) = Phase::Booting;
        let layers_of = {
            let b = self.clone_parts();
            move |image: &str| b.layers(image)
        };
        let spec_of = {
            let b = self.clone_parts();
            move |record: &ServerRecord, layers| b.sandbox_spec(record, layers)
        };
        let runtime = self.runtime.clone();
        let gate = ssh_gate(&self.ssh_ingress, &entry.record.id);
        let package_proxy = self.package_proxy.clone();
        std::thread::Builder::new()
            .name(format!("boot-{}", entry.record.id))
            .spawn(move || {
                let result = (|| -> Result<(), String> {
                    let mut slot = lock(&entry.slot);
                    if entry.deleted.load(std::sync::atomic::Ordering::SeqCst) {
                        return Err("the server was deleted while it was starting".into());
                    }
                    let record = &entry.record;
                    let private: SocketAddr = SocketAddr::new(
                        record
                            .private_ip
                            .parse::<Ipv4Addr>()
                            .map_err(|e| format!("fixed ip `{}`: {e}", record.private_ip))?
                            .into(),
                        SSH_PORT,
                    );
                    if slot.sandbox.is_none() {
                        let layers = layers_of(&record.image_id)?;
                        slot.sandbox = Some(Sandbox::new(spec_of(record, layers)));
                    }
                    let netns = slot.sandbox.as_ref().map(Sandbox::netns).unwrap_or_default();
                    if !slot.forwarders.contains_key(&record.private_ip) {
                        let fw = start_forwarder(&runtime, private, netns, gate.clone())?;
                        slot.forwarders.insert(record.private_ip.clone(), fw);
                    }
                    match slot.sandbox.as_mut() {
                        Some(sb) => {
                            sb.set_package_proxy(package_proxy);
                            sb.start().map_err(|e| e.to_string())
                        }
                        None => Err("the sandbox was not made".into()),
                    }
                })();
                *lock(&entry.phase) = match result {
                    Ok(()) => Phase::Running,
                    Err(e) => Phase::Failed(e),
                };
            })
            .map_err(|e| BackendError(format!("cannot start a boot thread: {e}")))?;
        Ok(())
    }

    /// A cheap copy of what the worker threads need.
    fn clone_parts(&self) -> SandboxBackend {
        SandboxBackend {
            config: self.config.clone(),
            runtime: self.runtime.clone(),
            servers: self.servers.clone(),
            captures: self.captures.clone(),
            ssh_ingress: self.ssh_ingress.clone(),
            address_block: self.address_block,
            address_claim: self.address_claim.clone(),
            package_proxy: self.package_proxy.clone(),
        }
    }
}

/// The layers of `image_id`, topmost first: a public image is the cached Debian rootfs; a
/// private one is its layer folder on its parent's layers, down to a public image or to an
/// imported base layer (one without a `.parent` file).
pub fn image_layers(config: &SandboxConfig, image_id: &str) -> Result<Vec<PathBuf>, String> {
    let gold: Vec<String> = crate::ops::ims::GOLD
        .iter()
        .map(crate::ops::ims::gold_id)
        .collect();
    let dir = config.state_dir.join("layers");
    let mut layers = Vec::new();
    let mut current = image_id.to_string();
    // A chain longer than this is a loop in the parent files.
    for _ in 0..64 {
        if gold.contains(&current) {
            let base = cce_sandbox::ensure_debian_rootfs(&config.rootfs_cache, &config.mirror)
                .map_err(|e| e.to_string())?;
            layers.push(base);
            return Ok(layers);
        }
        let layer = dir.join(&current);
        if !layer.is_dir() {
            return Err(format!(
                "image {current} has no disk in {} (it was not captured or imported by this local cloud)",
                dir.display()
            ));
        }
        layers.push(layer);
        let parent_file = dir.join(format!("{current}.parent"));
        match std::fs::read_to_string(&parent_file) {
            Ok(parent) => current = parent.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(layers),
            Err(e) => return Err(format!("cannot read {}: {e}", parent_file.display())),
        }
    }
    Err(format!("image {image_id} has a parent chain longer than 64 layers"))
}

/// Finds an image of the state by id or name (public images included); its id.
pub fn resolve_image(world: &crate::world::World, image: &str) -> Result<String, String> {
    for g in crate::ops::ims::GOLD {
        let id = crate::ops::ims::gold_id(g);
        if id == image || g.name == image {
            return Ok(id);
        }
    }
    if world.images.contains_key(image) {
        return Ok(image.to_string());
    }
    let named: Vec<&String> = world
        .images
        .values()
        .filter(|i| i.name == image)
        .map(|i| &i.id)
        .collect();
    match named.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("no image `{image}` in the local cloud: give an image id or name")),
        _ => Err(format!("{} images are named `{image}`: give its id", named.len())),
    }
}

/// Imports a root tarball or a qcow2/raw/vhd disk as a new private image named `name`, active
/// at once, into the state of a local cloud that is not running. Returns its id.
pub fn import_image(config: &SandboxConfig, file: &Path, name: &str) -> Result<String, String> {
    let store = crate::world::Store::new(&config.state_dir);
    let now = crate::world::now_ms();
    let mut world = store
        .load()
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| crate::world::World::fresh(now));
    let id = crate::world::new_id();
    let layer = config.state_dir.join("layers").join(&id);
    let work = config.state_dir.join("work").join(format!("import-{id}"));
    let result = cce_sandbox::image::import(file, &layer, &work).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&work);
    result?;
    let size_bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    world.images.insert(
        id.clone(),
        crate::world::Image {
            id: id.clone(),
            name: name.to_string(),
            description: format!("imported from {}", file.display()),
            status: "active".into(),
            saving_at: now,
            done_at: now,
            final_status: "active".into(),
            source_server: String::new(),
            source_image: String::new(),
            min_disk: 40,
            min_ram: 0,
            size_bytes,
            tags: Vec::new(),
            members: Vec::new(),
            os_version: "Other Linux(64 bit)".into(),
            platform: "Other".into(),
            created: now,
            updated: now,
        },
    );
    let bytes = serde_json::to_vec_pretty(&world).map_err(|e| e.to_string())?;
    store.save_bytes(&bytes).map_err(|e| e.to_string())?;
    Ok(id)
}

/// Exports `image` (id or name) of a local cloud's state to `out` in `format`.
pub fn export_image(
    config: &SandboxConfig,
    image: &str,
    format: cce_sandbox::image::ExportFormat,
    out: &Path,
) -> Result<(), String> {
    let store = crate::world::Store::new(&config.state_dir);
    let world = store
        .load()
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| crate::world::World::fresh(crate::world::now_ms()));
    let id = resolve_image(&world, image)?;
    if let Some(i) = world.images.get(&id).filter(|i| i.status != "active") {
        return Err(format!("image `{image}` is {}, not active: wait for it or pick another", i.status));
    }
    let layers = image_layers(config, &id)?;
    let work = config.state_dir.join("work").join(format!("export-{}", crate::world::new_id()));
    let result = cce_sandbox::image::export(&layers, format, out, &work).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Removes the layers no live image needs: a layer is kept when it is a live image's or on the
/// parent chain of one. Captures under way (`*.tmp-*`) are left alone.
fn sweep_layers(dir: &Path, live: &[String]) {
    let mut keep: std::collections::HashSet<String> = std::collections::HashSet::new();
    for id in live {
        let mut current = id.clone();
        // A chain longer than this is a loop in the parent files.
        for _ in 0..64 {
            if !keep.insert(current.clone()) {
                break;
            }
            match std::fs::read_to_string(dir.join(format!("{current}.parent"))) {
                Ok(p) => current = p.trim().to_string(),
                Err(_) => break,
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.contains(".tmp-") {
            continue;
        }
        let id = name.strip_suffix(".parent").unwrap_or(&name).to_string();
        if keep.contains(&id) {
            continue;
        }
        let path = e.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(err) = removed {
            tracing::warn!(path = %path.display(), error = %err, "cannot remove an unused layer");
        }
    }
}

/// Listens on `addr` and carries connections to sshd in `netns`; a clear error when the port is
/// taken on every address.
fn start_forwarder(
    runtime: &tokio::runtime::Handle,
    addr: SocketAddr,
    netns: String,
    gate: cce_sandbox::Gate,
) -> Result<Forwarder, String> {
    runtime
        .block_on(Forwarder::start_gated(addr, netns, SSH_PORT, gate))
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "; something on the host listens on {addr} or on 0.0.0.0:{SSH_PORT} (an sshd bound to all addresses?): make it listen on specific addresses only"
                )
            } else {
                String::new()
            };
            format!("cannot listen on {addr} for the server's ssh: {e}{hint}")
        })
}

/// The gate of a server's forwarders: its security groups' SSH rules as they are at each
/// connection.
fn ssh_gate(rules: &Arc<Mutex<HashMap<String, Vec<IngressRule>>>>, server_id: &str) -> cce_sandbox::Gate {
    let rules = rules.clone();
    let id = server_id.to_string();
    Arc::new(move |peer| match peer {
        std::net::IpAddr::V4(v4) => lock(&rules).get(&id).is_some_and(|r| ssh_admits(r, v4)),
        std::net::IpAddr::V6(_) => false,
    })
}

/// A hostname from a server name: lowercase letters, digits and dashes, at most 63.
fn hostname(name: &str) -> String {
    let h: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(63)
        .collect();
    let h = h.trim_matches('-').to_string();
    if h.is_empty() { "server".into() } else { h }
}

impl ServerBackend for SandboxBackend {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create(&self, spec: &ServerSpec) -> Result<(), BackendError> {
        let record = ServerRecord {
            id: spec.id.clone(),
            name: spec.name.clone(),
            image_id: spec.image_id.clone(),
            private_ip: spec.private_ip.clone(),
            public_key: spec.public_key.clone(),
            user_data: spec.user_data.clone(),
            admin_pass: spec.admin_pass.clone(),
            data_volume_sizes_gb: spec.data_volume_sizes_gb.clone(),
        };
        let dir = self.server_dir(&spec.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| BackendError(format!("cannot create {}: {e}", dir.display())))?;
        let json = serde_json::to_vec_pretty(&record)
            .map_err(|e| BackendError(format!("cannot encode the server record: {e}")))?;
        std::fs::write(dir.join("server.json"), json)
            .map_err(|e| BackendError(format!("cannot write {}: {e}", dir.display())))?;
        let entry = Arc::new(Entry {
            record,
            phase: Mutex::new(Phase::Booting),
            slot: Mutex::default(),
            deleted: std::sync::atomic::AtomicBool::new(false),
        });
        lock(&self.servers).insert(spec.id.clone(), entry.clone());
        lock(&self.ssh_ingress).insert(spec.id.clone(), spec.ssh_ingress.clone());
        self.boot(entry)
    }

    fn stop(&self, server_id: &str) -> Result<(), BackendError> {
        let entry = self.entry_or_load(server_id)?;
        *lock(&entry.phase) = Phase::Stopping;
        std::thread::Builder::new()
            .name(format!("stop-{server_id}"))
            .spawn(move || {
                let slot = lock(&entry.slot);
                let result = match &slot.sandbox {
                    Some(sb) => sb.stop(STOP_TIMEOUT).map_err(|e| e.to_string()),
                    None => Ok(()),
                };
                *lock(&entry.phase) = match result {
                    Ok(()) => Phase::Stopped,
                    Err(e) => Phase::Failed(e),
                };
            })
            .map_err(|e| BackendError(format!("cannot start a stop thread: {e}")))?;
        Ok(())
    }

    fn start(&self, server_id: &str) -> Result<(), BackendError> {
        let entry = self.entry_or_load(server_id)?;
        self.boot(entry)
    }

    fn delete(&self, server_id: &str) -> Result<(), BackendError> {
        let entry = lock(&self.servers).remove(server_id);
        if let Some(e) = &entry {
            e.deleted.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        lock(&self.ssh_ingress).remove(server_id);
        let dir = self.server_dir(server_id);
        let id = server_id.to_string();
        std::thread::Builder::new()
            .name(format!("delete-{server_id}"))
            .spawn(move || {
                if let Some(entry) = entry {
                    let mut slot = lock(&entry.slot);
                    slot.forwarders.clear();
                    if let Some(sb) = slot.sandbox.take() {
                        if let Err(e) = sb.delete() {
                            tracing::warn!(error = %e, "cannot delete a sandbox");
                        }
                    }
                }
                // A killed process may have left the data disks attached.
                if let Err(e) = cce_sandbox::disks::detach_folder(&id, &dir) {
                    tracing::warn!(error = %e, "cannot detach a deleted server's data disks");
                }
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a server's folder");
                    }
                }
            })
            .map_err(|e| BackendError(format!("cannot start a delete thread: {e}")))?;
        Ok(())
    }

    fn capture(&self, server_id: &str, image_id: &str) -> Result<(), BackendError> {
        let entry = self.entry_or_load(server_id)?;
        let layers_dir = self.config.state_dir.join("layers");
        let disk = self.server_dir(server_id).join("upper");
        let image_id = image_id.to_string();
        lock(&self.captures).insert(image_id.clone(), Progress::Pending);
        let captures = self.captures.clone();
        std::thread::Builder::new()
            .name(format!("capture-{image_id}"))
            .spawn(move || {
                // Holding the slot keeps a start from booting the disk while it is copied.
                let _slot = lock(&entry.slot);
                let result = (|| -> Result<(), String> {
                    std::fs::create_dir_all(&layers_dir)
                        .map_err(|e| format!("cannot create {}: {e}", layers_dir.display()))?;
                    let parent = layers_dir.join(format!("{image_id}.parent"));
                    std::fs::write(&parent, &entry.record.image_id)
                        .map_err(|e| format!("cannot write {}: {e}", parent.display()))?;
                    cce_sandbox::image::copy_tree(&disk, &layers_dir.join(&image_id))
                        .map_err(|e| e.to_string())
                })();
                let progress = match result {
                    Ok(()) => Progress::Done,
                    Err(e) => Progress::Failed(e),
                };
                lock(&captures).insert(image_id, progress);
            })
            .map_err(|e| BackendError(format!("cannot start a capture thread: {e}")))?;
        Ok(())
    }

    fn progress(&self, server_id: &str, status: &str) -> Progress {
        let Some(entry) = self.entry(server_id) else {
            return Progress::Failed(format!("server {server_id} has no sandbox"));
        };
        let phase = lock(&entry.phase).clone();
        match (phase, status) {
            (Phase::Failed(e), _) => Progress::Failed(e),
            (Phase::Running, "ACTIVE") | (Phase::Stopped, "SHUTOFF") => Progress::Done,
            (Phase::Booting, "ACTIVE") | (Phase::Stopping, "SHUTOFF") => Progress::Pending,
            (phase, _) => Progress::Failed(format!(
                "server {server_id} is {phase:?} in its sandbox, not {status}"
            )),
        }
    }

    fn capture_progress(&self, image_id: &str) -> Progress {
        lock(&self.captures)
            .get(image_id)
            .cloned()
            .unwrap_or(Progress::Done)
    }

    fn is_running(&self, server_id: &str) -> bool {
        self.entry(server_id).is_some_and(|e| {
            matches!(*lock(&e.phase), Phase::Booting | Phase::Running)
        })
    }

    fn bind_address(&self, server_id: &str, address: &str) -> Result<(), BackendError> {
        let entry = self.entry_or_load(server_id)?;
        let ip: Ipv4Addr = address
            .parse()
            .map_err(|e| BackendError(format!("address `{address}`: {e}")))?;
        let runtime = self.runtime.clone();
        let netns = format!("cce-sb-{server_id}");
        let address = address.to_string();
        let gate = ssh_gate(&self.ssh_ingress, server_id);
        // The slot may be held by a boot for a while: bind on a thread of its own.
        std::thread::Builder::new()
            .name(format!("bind-{server_id}"))
            .spawn(move || {
                let fw = start_forwarder(&runtime, SocketAddr::new(ip.into(), SSH_PORT), netns, gate);
                match fw {
                    Ok(fw) => {
                        lock(&entry.slot).forwarders.insert(address, fw);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot forward an eip"),
                }
            })
            .map_err(|e| BackendError(format!("cannot start a bind thread: {e}")))?;
        Ok(())
    }

    fn unbind_address(&self, server_id: &str, address: &str) {
        if let Some(entry) = self.entry(server_id) {
            let address = address.to_string();
            let _ = std::thread::Builder::new()
                .name(format!("unbind-{server_id}"))
                .spawn(move || {
                    lock(&entry.slot).forwarders.remove(&address);
                });
        }
    }

    fn images_deleted(&self, live: &[String]) {
        let dir = self.config.state_dir.join("layers");
        let live = live.to_vec();
        // Removing layers can take a while: off the control plane's lock.
        let spawned = std::thread::Builder::new()
            .name("layer-sweep".into())
            .spawn(move || sweep_layers(&dir, &live));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the layer sweep");
        }
    }

    fn address_block(&self) -> Option<u8> {
        self.address_block
    }

    fn set_ssh_ingress(&self, server_id: &str, rules: Vec<IngressRule>) {
        // Not for a server whose delete has removed its folder: the entry would stay forever.
        if self.entry(server_id).is_some() || self.server_dir(server_id).is_dir() {
            lock(&self.ssh_ingress).insert(server_id.to_string(), rules);
        }
    }

    fn shutdown(&self) {
        let entries: Vec<Arc<Entry>> = lock(&self.servers).drain().map(|(_, e)| e).collect();
        let handles: Vec<_> = entries
            .into_iter()
            .filter_map(|entry| {
                std::thread::Builder::new()
                    .name(format!("shutdown-{}", entry.record.id))
                    .spawn(move || {
                        let mut slot = lock(&entry.slot);
                        slot.forwarders.clear();
                        if let Some(sb) = slot.sandbox.take() {
                            if let Err(e) = sb.stop(STOP_TIMEOUT) {
                                tracing::warn!(error = %e, "cannot stop a sandbox");
                            }
                            // Dropping the handle removes the namespace and cgroup; the disk stays.
                            drop(sb);
                        }
                        *lock(&entry.phase) = Phase::Stopped;
                    })
                    .ok()
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        // Nothing listens on the block's addresses any more: a restart may claim it again.
        lock(&self.address_claim).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_keeps_the_chains_of_live_images_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for id in ["base", "mid", "top", "dead", "x.tmp-1"] {
            std::fs::create_dir(d.join(id)).unwrap();
        }
        std::fs::write(d.join("mid.parent"), "base").unwrap();
        std::fs::write(d.join("top.parent"), "mid").unwrap();
        std::fs::write(d.join("dead.parent"), "gold-id").unwrap();
        sweep_layers(d, &["top".to_string(), "gold-id".to_string()]);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["base", "mid", "mid.parent", "top", "top.parent", "x.tmp-1"]);
    }

    #[test]
    fn hostnames_are_valid() {
        assert_eq!(hostname("Packer_Build 1"), "packer-build-1");
        assert_eq!(hostname("__"), "server");
        assert_eq!(hostname(&"a".repeat(80)).len(), 63);
    }
}
