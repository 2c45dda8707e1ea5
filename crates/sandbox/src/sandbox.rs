//! One server's sandbox: its folder (overlay upper and work dirs, boot id, console log), its
//! network namespace (made anew on every boot, so network knobs reset as on a real reboot), its
//! cgroup, and a supervisor thread that boots it, reboots it when it asks (`reboot` inside ends
//! the namespace's init with SIGHUP) and notices when it powers off.

use std::fs;
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::SandboxError;

/// The eight kernel parameters the user's document warns about.
pub const DOCUMENT_SYSCTLS: [&str; 8] = [
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_max_tw_buckets",
    "net.core.somaxconn",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "net.core.netdev_max_backlog",
    "net.core.wmem_max",
    "net.core.rmem_max",
];

const INIT_SCRIPT: &str = include_str!("init.sh");

/// cloud-init's stand-in, for images that have none (see the script).
const CLOUD_INIT_STANDIN: &str = include_str!("cloud-init.sh");

/// Runs the user data once per instance, after the network is up, before logins, as cloud-init's
/// `scripts-user` stage does.
const USER_DATA_UNIT: &str = "[Unit]
Description=Run the server's user data once per instance
After=network.target
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/var/lib/cce-instance/run-user-data
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
";

const USER_DATA_RUNNER: &str = r##"#!/bin/sh
# Runs /var/lib/cce-instance/user-data once for this instance id; output in /var/log/cce-user-data.log.
set -u
# Host keys a hygiene step removed are made again on every boot, as cloud-init makes them for a
# new instance; keys that exist are kept.
if command -v ssh-keygen >/dev/null 2>&1; then
  ssh-keygen -A >/dev/null 2>&1 || true
fi
dir=/var/lib/cce-instance
id=$(cat "$dir/instance-id")
done="$dir/done-$id"
[ -e "$done" ] && exit 0
# Root's password (the API's adminPass), from /run: set it and allow root's password login,
# as cloud-init does with ssh_pwauth.
pass=/run/cce-instance/admin-pass
if [ -f "$pass" ]; then
  printf 'root:%s\n' "$(cat "$pass")" | chpasswd
  rm -f "$pass"
  login='PermitRootLogin yes\nPasswordAuthentication yes\n'
  if grep -qs '^Include /etc/ssh/sshd_config.d/\*.conf' /etc/ssh/sshd_config; then
    printf "$login" > /etc/ssh/sshd_config.d/50-cce-admin-pass.conf
  elif [ -f /etc/ssh/sshd_config ]; then
    { printf "$login"; cat /etc/ssh/sshd_config; } > /etc/ssh/sshd_config.new && mv /etc/ssh/sshd_config.new /etc/ssh/sshd_config
  fi
fi
if [ -f "$dir/user-data" ] && [ "$(head -c 2 "$dir/user-data")" = "#!" ]; then
  cp "$dir/user-data" "$dir/user-data.run" && chmod 700 "$dir/user-data.run"
  "$dir/user-data.run" >> /var/log/cce-user-data.log 2>&1
  echo "user data exited with $?" >> /var/log/cce-user-data.log
fi
: > "$done"
"##;
use crate::rootfs::{ID_COUNT, ID_SHIFT};
const NETNS_PREFIX: &str = "cce-sb-";
const CGROUP_GROUP: &str = "cce-sandboxes";
/// The folder (in the server's folder, beside its disk) of the layer of what the sandbox adds to
/// its image for a boot: the package-proxy settings and the mount point of the kernel's module
/// list. Servers started by earlier versions have it under `OLD_PROXY_LAYER`.
const SANDBOX_LAYER: &str = "sandbox-layer";
/// The file (in the server's folder) that hands the first boot root's password; init copies it
/// to the sandbox's `/run`.
const ADMIN_PASS_FILE: &str = "admin-pass";
const OLD_PROXY_LAYER: &str = "package-proxy-layer";

/// What a sandbox is made of.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    /// Unique, short, `[a-z0-9-]`: names the network namespace and the cgroup.
    pub id: String,
    pub hostname: String,
    /// The server's own folder: its disk (overlay upper) lives here.
    pub dir: PathBuf,
    /// Image layers, topmost first; never written to.
    pub layers: Vec<PathBuf>,
    /// Written to root's `authorized_keys` on the first boot.
    pub authorized_keys: Option<String>,
    /// Run once, on the first boot of this server, as cloud-init runs a script given as user
    /// data (it must start with `#!`; other content is kept in the instance folder but not run).
    pub user_data: Option<Vec<u8>>,
    /// Root's password, set on the first boot (as cloud-init does for the API's `adminPass`),
    /// with root's password login allowed in sshd. It reaches the sandbox through its `/run`,
    /// never its disk, and is kept beside the disk only until the next start.
    pub admin_pass: Option<String>,
    /// Data disks, shown inside as `/dev/vdb`, `/dev/vdc`, … in this order; their files live
    /// in the server's folder (`data-disks/`) and keep their content across stop and start.
    pub data_disks: Vec<crate::DataDisk>,
    pub boot_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SandboxState {
    Stopped,
    Booting,
    Running,
    Failed(String),
}

struct Shared {
    state: SandboxState,
    /// Host PID of the namespace's init (systemd).
    pid1: Option<i32>,
    stop_requested: bool,
    boots: u32,
    /// Loop devices of the data disks, attached from start until the sandbox stops.
    disks: Vec<crate::disks::Attached>,
    /// The package proxy its servers may use; `None`: no way out at all.
    package_proxy: Option<crate::PackageProxy>,
    /// The proxy of the layer made at the last start: reboots from inside keep it, so the
    /// listener always matches the settings the server sees.
    started_proxy: Option<crate::PackageProxy>,
    /// The proxy's listener inside the current boot's network namespace.
    proxy_listener: Option<crate::ProxyListener>,
}

struct Inner {
    spec: SandboxSpec,
    shared: Mutex<Shared>,
    changed: Condvar,
}

/// A server sandbox. Dropping it ends its processes (see `Drop`); [`Sandbox::stop`] powers it off
/// cleanly first. If the process that runs sandboxes is killed, [`gc`] reclaims what they left.
pub struct Sandbox {
    inner: Arc<Inner>,
    supervisor: Option<std::thread::JoinHandle<()>>,
}

/// Whether this host can run sandboxes; the error says what is missing.
pub fn host_supports_sandboxes() -> Result<(), SandboxError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(SandboxError::Unsupported("not running as root".into()));
    }
    for tool in ["ip", "unshare", "pivot_root", "debootstrap"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Err(SandboxError::Unsupported(format!("`{tool}` not found (apt-get install iproute2 util-linux debootstrap)")));
        }
    }
    if cgroup_root().is_none() {
        return Err(SandboxError::Unsupported("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified".into()));
    }
    Ok(())
}

fn cgroup_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists())
}

impl Sandbox {
    pub fn new(spec: SandboxSpec) -> Self {
        let shared = Shared {
            state: SandboxState::Stopped,
            pid1: None,
            stop_requested: false,
            boots: 0,
            disks: Vec::new(),
            package_proxy: None,
            started_proxy: None,
            proxy_listener: None,
        };
        Self { inner: Arc::new(Inner { spec, shared: Mutex::new(shared), changed: Condvar::new() }), supervisor: None }
    }

    pub fn id(&self) -> &str {
        &self.inner.spec.id
    }

    pub fn netns(&self) -> String {
        format!("{NETNS_PREFIX}{}", self.inner.spec.id)
    }

    pub fn state(&self) -> SandboxState {
        self.inner.lock().state.clone()
    }

    /// How many times it booted (a reboot counts).
    pub fn boots(&self) -> u32 {
        self.inner.lock().boots
    }

    /// The server's disk: the overlay's upper folder.
    pub fn disk(&self) -> PathBuf {
        self.inner.spec.dir.join("upper")
    }

    /// The loop devices of its data disks while it runs (none while stopped).
    pub fn data_disks(&self) -> Vec<crate::disks::Attached> {
        self.inner.lock().disks.clone()
    }

    /// Gives the server a way out to the package mirror: from its next start on, a listener on
    /// `127.0.0.1:3128` inside it relays to `proxy`, and apt, SSH sessions and systemd services
    /// are pointed at it by files in a layer outside the server's disk. `None` takes it away.
    pub fn set_package_proxy(&self, proxy: Option<crate::PackageProxy>) {
        self.inner.lock().package_proxy = proxy;
    }

    /// Where the package proxy listens inside the running sandbox, if it has one.
    pub fn package_proxy_address(&self) -> Option<SocketAddr> {
        self.inner.lock().proxy_listener.as_ref().map(crate::ProxyListener::local_addr)
    }

    /// Host PID of the sandbox's init, while it runs.
    pub fn pid1(&self) -> Option<i32> {
        self.inner.lock().pid1
    }

    /// Boots the sandbox and waits until its sshd answers.
    pub fn start(&mut self) -> Result<(), SandboxError> {
        let id = self.inner.spec.id.clone();
        {
            let mut s = self.inner.lock();
            if s.state != SandboxState::Stopped && !matches!(s.state, SandboxState::Failed(_)) {
                return Err(SandboxError::WrongState { id, state: format!("{:?}", s.state), wanted: "stopped".into() });
            }
            s.state = SandboxState::Booting;
            s.stop_requested = false;
        }
        if let Some(h) = self.supervisor.take() {
            let _ = h.join();
        }
        if let Err(e) = self.inner.prepare() {
            self.inner.detach_disks();
            self.inner.set_state(SandboxState::Failed(e.to_string()));
            return Err(e);
        }
        let inner = Arc::clone(&self.inner);
        self.supervisor = Some(std::thread::Builder::new()
            .name(format!("sandbox-{id}"))
            .spawn(move || inner.supervise())
            .map_err(|e| SandboxError::io(&id, "cannot start the supervisor thread", e))?);
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<(), SandboxError> {
        let spec = &self.inner.spec;
        let deadline = Instant::now() + spec.boot_timeout;
        let log = spec.dir.join("console.log");
        loop {
            match self.state() {
                SandboxState::Failed(status) => {
                    let tail = crate::error::log_tail(&log);
                    return Err(SandboxError::BootFailed { id: spec.id.clone(), status, log, tail });
                }
                SandboxState::Stopped => {
                    let tail = crate::error::log_tail(&log);
                    return Err(SandboxError::BootFailed { id: spec.id.clone(), status: "stopped".into(), log, tail });
                }
                _ => {}
            }
            if let Ok(mut s) = self.connect(22, Duration::from_millis(500)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if s.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                    self.inner.set_state(SandboxState::Running);
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let tail = crate::error::log_tail(&log);
                let _ = self.stop(Duration::from_secs(10));
                return Err(SandboxError::BootTimeout { id: spec.id.clone(), seconds: spec.boot_timeout.as_secs(), log, tail });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a TCP connection to `127.0.0.1:port` inside the sandbox's network namespace.
    pub fn connect(&self, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
        connect_in_netns(&self.netns(), port, timeout)
    }

    /// Reads a kernel parameter as the server sees it (`vm.swappiness`).
    pub fn sysctl(&self, key: &str) -> Result<String, SandboxError> {
        let pid = self.pid1().ok_or_else(|| SandboxError::WrongState {
            id: self.id().into(),
            state: format!("{:?}", self.state()),
            wanted: "running".into(),
        })?;
        let path = format!("/proc/{pid}/root/proc/sys/{}", key.replace('.', "/"));
        fs::read_to_string(&path).map(|s| s.trim().to_string()).map_err(|e| SandboxError::io(self.id(), format!("read {key}"), e))
    }

    /// Powers the server off (as `poweroff` would), then ends whatever is left after `timeout`.
    pub fn stop(&self, timeout: Duration) -> Result<(), SandboxError> {
        let pid1 = {
            let mut s = self.inner.lock();
            s.stop_requested = true;
            if s.state == SandboxState::Stopped {
                return Ok(());
            }
            s.pid1
        };
        if let Some(pid) = pid1 {
            // SIGRTMIN+4 asks systemd for a clean poweroff.
            // SAFETY: kill(2) with a valid signal number has no memory effects.
            unsafe { libc::kill(pid, libc::SIGRTMIN() + 4) };
        }
        if !self.inner.wait_state(SandboxState::Stopped, timeout) {
            self.inner.kill_all();
            if !self.inner.wait_state(SandboxState::Stopped, Duration::from_secs(10)) {
                return Err(SandboxError::Command {
                    id: self.id().into(),
                    command: "stop".into(),
                    stderr: "processes survived SIGKILL of the cgroup".into(),
                });
            }
        }
        Ok(())
    }

    /// Stops the server and removes its processes, namespace, cgroup and disk.
    pub fn delete(mut self) -> Result<(), SandboxError> {
        self.stop(Duration::from_secs(20))?;
        if let Some(h) = self.supervisor.take() {
            let _ = h.join();
        }
        self.inner.teardown();
        self.inner.detach_disks();
        fs::remove_dir_all(&self.inner.spec.dir)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| SandboxError::io(self.id(), "remove the server folder", e))
    }
}

impl Drop for Sandbox {
    /// A sandbox never outlives its handle: whatever state it is in, its processes end and its
    /// namespace and cgroup are removed (the disk stays, as after a power loss).
    fn drop(&mut self) {
        let running = { self.inner.lock().state != SandboxState::Stopped };
        if running {
            self.inner.lock().stop_requested = true;
            self.inner.kill_all();
            let _ = self.inner.wait_state(SandboxState::Stopped, Duration::from_secs(10));
        }
        if let Some(h) = self.supervisor.take() {
            let _ = h.join();
        }
        self.inner.teardown();
        self.inner.detach_disks();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock only means a supervisor panicked; the state itself stays usable.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: SandboxState) {
        let mut s = self.lock();
        s.state = state;
        if s.state == SandboxState::Stopped || matches!(s.state, SandboxState::Failed(_)) {
            s.pid1 = None;
        }
        self.changed.notify_all();
    }

    fn wait_state(&self, want: SandboxState, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.state != want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.changed.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    fn netns(&self) -> String {
        format!("{NETNS_PREFIX}{}", self.spec.id)
    }

    fn cgroup(&self) -> Option<PathBuf> {
        cgroup_root().map(|r| r.join(CGROUP_GROUP).join(&self.spec.id))
    }

    /// Creates the server's folders and, on first boot, its identity (hostname, keys).
    fn prepare(&self) -> Result<(), SandboxError> {
        let id = &self.spec.id;
        let dir = &self.spec.dir;
        check_traversable(id, dir)?;
        for sub in ["upper", "work", "merged", "sysctl", "sysctl-initial"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| SandboxError::io(id, format!("create {sub}"), e))?;
            chown_to_sandbox(id, &dir.join(sub))?;
        }
        chown_to_sandbox(id, dir)?;
        fs::write(dir.join("boot_id"), b"").map_err(|e| SandboxError::io(id, "create boot_id", e))?;
        chown_to_sandbox(id, &dir.join("boot_id"))?;
        let upper = dir.join("upper");
        let first_boot = !dir.join(".booted").exists();
        if first_boot {
            fs::create_dir_all(upper.join("etc")).map_err(|e| SandboxError::io(id, "create etc", e))?;
            fs::write(upper.join("etc/hostname"), format!("{}\n", self.spec.hostname))
                .map_err(|e| SandboxError::io(id, "write /etc/hostname", e))?;
            crate::rootfs::shift_owners(&upper.join("etc")).map_err(|e| SandboxError::io(id, "chown /etc", e))?;
            if let Some(keys) = &self.spec.authorized_keys {
                let ssh = upper.join("root/.ssh");
                fs::create_dir_all(&ssh).map_err(|e| SandboxError::io(id, "create /root/.ssh", e))?;
                fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).map_err(|e| SandboxError::io(id, "chmod /root/.ssh", e))?;
                fs::write(ssh.join("authorized_keys"), keys).map_err(|e| SandboxError::io(id, "write authorized_keys", e))?;
                fs::set_permissions(ssh.join("authorized_keys"), fs::Permissions::from_mode(0o600))
                    .map_err(|e| SandboxError::io(id, "chmod authorized_keys", e))?;
                crate::rootfs::shift_owners(&upper.join("root")).map_err(|e| SandboxError::io(id, "chown /root", e))?;
            }
            self.install_first_boot(&upper)?;
            if let Some(pass) = &self.spec.admin_pass {
                let file = dir.join(ADMIN_PASS_FILE);
                fs::write(&file, pass).map_err(|e| SandboxError::io(id, "write the admin password", e))?;
                fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).map_err(|e| SandboxError::io(id, "chmod the admin password", e))?;
                chown_to_sandbox(id, &file)?;
            }
            fs::write(dir.join(".booted"), b"").map_err(|e| SandboxError::io(id, "mark first boot", e))?;
        } else {
            // The first boot has taken it in: it stays on the server, not beside its disk.
            match fs::remove_file(dir.join(ADMIN_PASS_FILE)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SandboxError::io(id, "remove the admin password", e)),
            }
        }
        fs::write(dir.join("init.sh"), INIT_SCRIPT).map_err(|e| SandboxError::io(id, "write init.sh", e))?;
        self.prepare_sandbox_layer()?;
        // Last, so that an error above leaves nothing attached.
        self.detach_disks();
        let attached = crate::disks::attach_all(id, dir, &self.spec.data_disks)?;
        self.lock().disks = attached;
        Ok(())
    }

    /// Writes the layer of what the sandbox adds to its image for a boot: the files that point
    /// the server at its package proxy (when it has one) and an empty folder where init mounts
    /// the module list (`crate::modules`), whose contents it writes beside the disk. The layer
    /// sits above the image's layers and below the server's disk, outside both, so a captured
    /// image or an export never carries it.
    fn prepare_sandbox_layer(&self) -> Result<(), SandboxError> {
        let id = &self.spec.id;
        let layer = self.spec.dir.join(SANDBOX_LAYER);
        for old in [layer.clone(), self.spec.dir.join(OLD_PROXY_LAYER)] {
            match fs::remove_dir_all(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SandboxError::io(id, "remove the old sandbox layer", e)),
            }
        }
        let proxy = self.lock().package_proxy.clone();
        let wanted = proxy.is_some();
        self.lock().started_proxy = proxy;
        let modules_at = self.modules_folder();
        let mount_point = layer.join(&modules_at);
        fs::create_dir_all(&mount_point).map_err(|e| SandboxError::io(id, format!("create {}", mount_point.display()), e))?;
        fs::write(self.spec.dir.join("modules-at"), modules_at.as_os_str().as_encoded_bytes()).map_err(|e| SandboxError::io(id, "write modules-at", e))?;
        let names = crate::modules::builtin_modules(Path::new("/"), &host_release());
        fs::write(self.spec.dir.join("modules.builtin"), crate::modules::builtin_list(&names)).map_err(|e| SandboxError::io(id, "write modules.builtin", e))?;
        fs::write(self.spec.dir.join("modules.builtin.modinfo"), crate::modules::builtin_modinfo(&names))
            .map_err(|e| SandboxError::io(id, "write modules.builtin.modinfo", e))?;
        if !self.image_has_cloud_init() {
            let file = layer.join("usr/bin/cloud-init");
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent).map_err(|e| SandboxError::io(id, format!("create {}", parent.display()), e))?;
            }
            fs::write(&file, CLOUD_INIT_STANDIN).map_err(|e| SandboxError::io(id, "write the cloud-init stand-in", e))?;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).map_err(|e| SandboxError::io(id, "chmod the cloud-init stand-in", e))?;
        }
        if wanted {
            for (path, content) in crate::proxy::settings_files(crate::SANDBOX_PROXY_PORT) {
                let file = layer.join(path);
                if let Some(parent) = file.parent() {
                    fs::create_dir_all(parent).map_err(|e| SandboxError::io(id, format!("create {}", parent.display()), e))?;
                }
                fs::write(&file, content).map_err(|e| SandboxError::io(id, format!("write {}", file.display()), e))?;
            }
        }
        for dir in std::iter::once(layer.clone()).chain(walk_dirs(&layer)) {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| SandboxError::io(id, "chmod the sandbox layer", e))?;
        }
        crate::rootfs::shift_owners(&layer).map_err(|e| SandboxError::io(id, "chown the sandbox layer", e))
    }

    /// Where, relative to the server's root, `modprobe` looks for this kernel's modules:
    /// `lib/modules/<release>`, through `lib` as the image has it. On a merged-/usr system `lib`
    /// is a link to `usr/lib`, and a real `lib` folder in a layer above would hide the link.
    fn modules_folder(&self) -> PathBuf {
        let upper = self.spec.dir.join("upper");
        let mut lib = PathBuf::from("lib");
        for layer in std::iter::once(&upper).chain(self.spec.layers.iter()) {
            match fs::symlink_metadata(layer.join("lib")) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = fs::read_link(layer.join("lib")) {
                        let target = target.to_string_lossy().trim_start_matches('/').to_string();
                        if !target.is_empty() && !target.split('/').any(|c| c == "..") {
                            lib = PathBuf::from(target);
                        }
                    }
                    break;
                }
                Ok(_) => break,
                Err(_) => continue,
            }
        }
        lib.join("modules").join(host_release())
    }

    /// Whether the server's disk or its image has a `cloud-init` of its own (or removed one): then
    /// no stand-in is put in front of it. Only paths inside the layers are looked at (a link
    /// such as `bin -> /usr/bin` would lead out of them).
    fn image_has_cloud_init(&self) -> bool {
        let upper = self.spec.dir.join("upper");
        std::iter::once(&upper).chain(self.spec.layers.iter()).any(|layer| {
            let bin_is_dir = fs::symlink_metadata(layer.join("bin")).is_ok_and(|m| m.is_dir());
            ["usr/bin/cloud-init", "usr/local/bin/cloud-init", "bin/cloud-init"]
                .iter()
                .filter(|p| bin_is_dir || !p.starts_with("bin/"))
                .any(|p| fs::symlink_metadata(layer.join(p)).is_ok())
        })
    }

    /// The overlay's lower layers, topmost first: the sandbox layer, then the image's.
    fn lower_layers(&self) -> String {
        let own = self.spec.dir.join(SANDBOX_LAYER);
        let own = own.is_dir().then_some(own);
        own.iter().chain(self.spec.layers.iter()).map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
    }

    /// Binds the package proxy's listener inside this boot's network namespace.
    fn start_proxy_listener(&self, netns: &str) {
        let Some(proxy) = self.lock().started_proxy.clone() else { return };
        match proxy.listen_in_netns(netns, crate::SANDBOX_PROXY_PORT) {
            Ok(listener) => self.lock().proxy_listener = Some(listener),
            Err(e) => tracing::warn!(sandbox = %self.spec.id, error = %e, "no package proxy inside the server: cannot listen in its namespace"),
        }
    }

    /// Detaches the data disks' loop devices (their files stay); a no-op when none is attached.
    fn detach_disks(&self) {
        let attached = std::mem::take(&mut self.lock().disks);
        crate::disks::detach_all(&self.spec.id, &attached);
    }

    /// Writes the instance identity, the user data and the unit that runs it once per instance,
    /// so that an image captured from this server runs the next server's user data, not this one's.
    fn install_first_boot(&self, upper: &Path) -> Result<(), SandboxError> {
        let id = &self.spec.id;
        let io = |what: &str| {
            let what = what.to_string();
            move |e| SandboxError::io(id, what, e)
        };
        let inst = upper.join("var/lib/cce-instance");
        fs::create_dir_all(&inst).map_err(io("create the instance folder"))?;
        fs::write(inst.join("instance-id"), format!("{id}\n")).map_err(io("write instance-id"))?;
        if let Some(data) = &self.spec.user_data {
            fs::write(inst.join("user-data"), data).map_err(io("write user-data"))?;
        }
        let units = upper.join("etc/systemd/system");
        fs::create_dir_all(units.join("multi-user.target.wants")).map_err(io("create unit folders"))?;
        fs::write(units.join("cce-user-data.service"), USER_DATA_UNIT).map_err(io("write the user-data unit"))?;
        let link = units.join("multi-user.target.wants/cce-user-data.service");
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("/etc/systemd/system/cce-user-data.service", &link).map_err(io("enable the user-data unit"))?;
        }
        fs::write(upper.join("var/lib/cce-instance/run-user-data"), USER_DATA_RUNNER).map_err(io("write the user-data runner"))?;
        fs::set_permissions(inst.join("run-user-data"), fs::Permissions::from_mode(0o755)).map_err(io("chmod the runner"))?;
        for top in ["var", "etc/systemd"] {
            crate::rootfs::shift_owners(&upper.join(top)).map_err(io("chown first-boot files"))?;
        }
        Ok(())
    }

    fn supervise(self: Arc<Self>) {
        loop {
            let status = match self.boot_once() {
                Ok(s) => s,
                Err(e) => {
                    self.teardown();
                    self.detach_disks();
                    self.set_state(SandboxState::Failed(e.to_string()));
                    return;
                }
            };
            let stop_requested = self.lock().stop_requested;
            let rebooted = status.signal() == Some(libc::SIGHUP);
            self.teardown();
            if rebooted && !stop_requested {
                let mut s = self.lock();
                s.state = SandboxState::Booting;
                s.pid1 = None;
                drop(s);
                // sshd answers again within a second of a reboot; the state flips back to
                // Running as soon as init is up.
                continue;
            }
            // Powered off: the data disks let go of their loop devices before anyone sees it stopped.
            self.detach_disks();
            let was_booting = self.lock().state == SandboxState::Booting && !stop_requested;
            if was_booting {
                self.set_state(SandboxState::Failed(format!("{status}")));
            } else {
                self.set_state(SandboxState::Stopped);
            }
            return;
        }
    }

    /// One boot: a fresh network namespace and cgroup, the launcher, then wait for init to end.
    fn boot_once(&self) -> Result<std::process::ExitStatus, SandboxError> {
        let id = &self.spec.id;
        let ns = self.netns();
        let _ = run(id, Command::new("ip").args(["netns", "del", &ns]));
        let cgroup = self.cgroup().ok_or_else(|| SandboxError::Unsupported("no cgroup2 hierarchy".into()))?;
        fs::create_dir_all(&cgroup).map_err(|e| SandboxError::io(id, format!("create cgroup {}", cgroup.display()), e))?;
        // systemd inside manages its own subtree: delegate it to the sandbox's root.
        for f in ["", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"] {
            let p = if f.is_empty() { cgroup.clone() } else { cgroup.join(f) };
            if p.exists() {
                std::os::unix::fs::chown(&p, Some(ID_SHIFT), Some(ID_SHIFT)).map_err(|e| SandboxError::io(id, format!("chown {}", p.display()), e))?;
            }
        }
        let map_users = format!("--map-users={ID_SHIFT},0,{ID_COUNT}");
        let map_groups = format!("--map-groups={ID_SHIFT},0,{ID_COUNT}");
        let lower = self.lower_layers();
        let backlog = fs::read_to_string("/proc/sys/net/core/netdev_max_backlog").unwrap_or_else(|_| "1000".into());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.spec.dir.join("console.log"))
            .map_err(|e| SandboxError::io(id, "open console.log", e))?;
        let log2 = log.try_clone().map_err(|e| SandboxError::io(id, "open console.log", e))?;
        let mut cmd = Command::new("/bin/sh");
        // The wrapper joins the sandbox's cgroup first, so that init's cgroup namespace is rooted there.
        cmd.arg("-c")
            .arg("echo $$ > \"$0\" && exec \"$@\"")
            .arg(cgroup.join("cgroup.procs"))
            .args(["unshare", &map_users, &map_groups, "--setuid", "0", "--setgid", "0"])
            .args(["--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--uts", "--ipc", "--cgroup", "--net", "--propagation", "private"])
            .arg("/bin/sh")
            .arg(self.spec.dir.join("init.sh"))
            .arg(&self.spec.dir)
            .arg(&self.spec.hostname)
            .arg(&lower)
            .arg(backlog.trim())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe. It ends the launcher with this
        // supervisor thread; init itself changes credentials (which clears the setting), so what
        // survives a crash is reclaimed by `gc` through the cgroup.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn().map_err(|e| SandboxError::io(id, "spawn the launcher", e))?;
        let launcher = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = namespace_init_of(launcher) {
                // Name the sandbox's network namespace so the forwarder can reach its sshd.
                if let Err(e) = run(id, Command::new("ip").args(["netns", "attach", &ns, &pid.to_string()])) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(e);
                }
                // Before systemd gets far: the user data may install packages.
                self.start_proxy_listener(&ns);
                let mut s = self.lock();
                s.pid1 = Some(pid);
                s.boots += 1;
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.kill_all();
                return Err(SandboxError::Command { id: id.clone(), command: "unshare".into(), stderr: "init did not start within 10 s".into() });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.lock().state == SandboxState::Booting && self.lock().boots > 1 {
            self.set_state(SandboxState::Running);
        }
        child.wait().map_err(|e| SandboxError::io(id, "wait for the launcher", e))
    }

    /// Ends every process of the sandbox, whatever state it is in.
    fn kill_all(&self) {
        if let Some(cg) = self.cgroup() {
            let _ = fs::write(cg.join("cgroup.kill"), "1");
        }
        if let Some(pid) = self.lock().pid1 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// Removes what a boot created on the host: the network namespace and the cgroup.
    fn teardown(&self) {
        // The listener holds the namespace: it goes first.
        self.lock().proxy_listener = None;
        let _ = run(&self.spec.id, Command::new("ip").args(["netns", "del", &self.netns()]));
        if let Some(cg) = self.cgroup() {
            remove_cgroup(&cg);
        }
    }
}

/// The host PID of the init of the pid namespace that `launcher` (unshare) made: the child whose
/// `NSpid` ends in 1. Other children (the helper that writes the id maps) are skipped.
fn namespace_init_of(launcher: u32) -> Option<i32> {
    let children = fs::read_to_string(format!("/proc/{launcher}/task/{launcher}/children")).ok()?;
    children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()).find(|pid| {
        fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|v| v.split_whitespace().count() >= 2 && v.split_whitespace().last() == Some("1"))
        })
    })
}

/// Hands a host path to the sandbox's root (the first id of its user-namespace range).
fn chown_to_sandbox(id: &str, path: &Path) -> Result<(), SandboxError> {
    std::os::unix::fs::chown(path, Some(ID_SHIFT), Some(ID_SHIFT)).map_err(|e| SandboxError::io(id, format!("chown {}", path.display()), e))
}

/// The sandbox's root is not root on the host, so it must be able to walk down to its folder.
fn check_traversable(id: &str, dir: &Path) -> Result<(), SandboxError> {
    use std::os::unix::fs::MetadataExt as _;
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(meta) = fs::metadata(ancestor) {
            if meta.mode() & 0o001 == 0 {
                return Err(SandboxError::Command {
                    id: id.to_string(),
                    command: "prepare".into(),
                    stderr: format!("{} is not searchable by others; the sandbox cannot reach its disk (chmod o+x {})", ancestor.display(), ancestor.display()),
                });
            }
        }
    }
    Ok(())
}

/// Every folder under `root` (not `root` itself).
fn walk_dirs(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    found.push(e.path());
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

fn remove_cgroup(cg: &Path) {
    if let Ok(entries) = fs::read_dir(cg) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(cg);
}

fn run(id: &str, cmd: &mut Command) -> Result<(), SandboxError> {
    let out = cmd.output().map_err(|e| SandboxError::io(id, format!("run {cmd:?}"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SandboxError::Command {
            id: id.to_string(),
            command: format!("{cmd:?}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Connects to `127.0.0.1:port` inside a named network namespace. The socket is made on a
/// short-lived thread that joins the namespace, and stays bound to it afterwards.
pub(crate) fn connect_in_netns(netns: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        let f = fs::File::open(&path)?;
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)
    })
    .join()
    .map_err(|_| std::io::Error::other("the namespace connector thread panicked"))?
}

/// Reclaims what sandboxes left after a crash of the process that ran them: every process in an
/// orphaned sandbox's cgroup is killed, the cgroups and the named network namespaces removed,
/// the loop devices of data disks detached (their files stay, as the disks of stopped servers).
/// A sandbox whose launcher still runs (its local cloud is alive) is left alone, so this is
/// safe while other local clouds run. Returns the sandbox ids reclaimed.
pub fn gc() -> Vec<String> {
    gc_matching(|_| true)
}

/// [`gc`] restricted to the sandboxes whose id `wanted` accepts (a local cloud reclaims its own
/// servers' orphans when it starts on a state a killed process left).
pub fn gc_matching(wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut reclaimed = Vec::new();
    let mut live = Vec::new();
    if let Some(group) = cgroup_root().map(|r| r.join(CGROUP_GROUP)) {
        if let Ok(entries) = fs::read_dir(&group) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let id = e.file_name().to_string_lossy().to_string();
                    if !wanted(&id) {
                        continue;
                    }
                    if has_live_launcher(&e.path()) {
                        live.push(id);
                    } else {
                        let _ = fs::write(e.path().join("cgroup.kill"), "1");
                        reclaimed.push(id);
                    }
                }
            }
        }
        for id in &reclaimed {
            // cgroup.kill is asynchronous: wait (bounded) for the cgroup to empty.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !cgroup_pids(&group.join(id)).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            remove_cgroup(&group.join(id));
        }
    }
    // After the processes: a loop device lets go of its file only once nothing holds it open.
    for id in crate::disks::reclaim_orphans(&live, &wanted) {
        if !reclaimed.contains(&id) {
            reclaimed.push(id);
        }
    }
    if let Ok(entries) = fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_prefix(NETNS_PREFIX) {
                if !wanted(id) || live.iter().any(|l| l == id) {
                    continue;
                }
                let _ = Command::new("ip").args(["netns", "del", &name]).output();
                if !reclaimed.iter().any(|r| r == id) {
                    reclaimed.push(id.to_string());
                }
            }
        }
    }
    reclaimed
}

/// Every process in a cgroup and its descendants.
fn cgroup_pids(cg: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    if let Ok(entries) = fs::read_dir(cg) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                pids.extend(cgroup_pids(&e.path()));
            }
        }
    }
    pids
}

/// Whether a sandbox's cgroup still holds its launcher (`unshare`, or the shell about to become
/// it) as the child of a process outside the sandbox: the process running it is alive. The
/// launcher dies with that process (parent-death signal), so an orphan has none.
fn has_live_launcher(cg: &Path) -> bool {
    let pids = cgroup_pids(cg);
    pids.iter().any(|pid| {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !matches!(comm.trim(), "unshare" | "sh") {
            return false;
        }
        let ppid = fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|st| {
            // The fields after the command name, which is in parentheses and may hold spaces.
            let rest = &st[st.rfind(')')? + 1..];
            rest.split_whitespace().nth(1)?.parse::<i32>().ok()
        });
        ppid.is_some_and(|pp| pp > 1 && !pids.contains(&pp))
    })
}

/// The host kernel's release (`uname -r`), which is the sandbox's too.
fn host_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease").map(|r| r.trim().to_string()).unwrap_or_default()
}
