//! What the CLI tests share: running the binary, reading its output, a work folder with a
//! template, the prerequisite check that fails under `CI=true`, a real sshd on loopback, and
//! the embedded local cloud's state folder and inventory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");

/// The binary with `args`, in `dir`, without the caller's SSH agent and with no stdin.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary with `args` in `dir` to its end.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("the binary runs")
}

/// Runs the binary with `args` in `dir` and the variables `env` to its end.
pub fn run_env<V: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[&str], env: &[(&str, V)]) -> Output {
    let mut cmd = command(dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// `build ARGS` in `dir`.
pub fn build(dir: &Path, args: &[&str]) -> Output {
    build_env::<&str>(dir, args, &[])
}

/// `build ARGS` in `dir` with the variables `env`.
pub fn build_env<V: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[&str],
    env: &[(&str, V)],
) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    run_env(dir, &all, env)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout then stderr of a run.
pub fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// A work directory with `t.pkr.hcl` holding `template`.
pub fn project(template: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(d.path().join("t.pkr.hcl"), template).expect("the template is written");
    d
}

pub fn p(d: &tempfile::TempDir, name: &str) -> PathBuf {
    d.path().join(name)
}

/// The prerequisite check and the test sshd, shared with the other crates' tests (not every test file uses each).
#[allow(unused_imports)]
pub use cce_testkit::{TestSshd, is_root, require, ssh_keygen};

/// True when this host can run the local cloud's sandbox servers; else says why and returns
/// false, or fails the test under `CI=true`.
pub fn sandboxes_ok() -> bool {
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => true,
        Err(e) => require(&[&format!(
            "local-cloud sandboxes (the embedded local cloud runs its servers as sandboxes): {e}"
        )]),
    }
}

/// A temporary folder under /var/tmp that others can search: sandbox users must reach the
/// local cloud's disks, which a folder under root's home or a 0700 temporary folder hides.
pub fn searchable_dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/var/tmp")
        .expect("a temporary folder under /var/tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("the folder is made searchable");
    dir
}

/// A signed client of a running local cloud.
pub fn local_client(handle: &cce_localcloud::LocalCloudHandle) -> cce_cloud::Client {
    let file = cce_cloud::EndpointsFile::parse(&handle.ready_line(), "ready line")
        .expect("the local cloud's ready line parses");
    let config =
        cce_cloud::ClientConfig::from_endpoints_file(&file, &std::collections::HashMap::new())
            .expect("the ready line makes a client configuration");
    cce_cloud::Client::new(config).expect("a client of the local cloud")
}

/// Everything the local cloud on `state` holds that a build could have made, as sorted lines
/// (servers with their status, key pairs, EIPs, VPCs, subnets, private images with their
/// status). Starts a record-only cloud on the state for the look.
pub fn inventory(state: &Path) -> Vec<String> {
    use cce_cloud::models::{ImageQuery, ServerQuery};
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let handle = cce_localcloud::LocalCloud::start(cce_localcloud::Config::new(state))
            .await
            .expect("the local cloud starts on the state folder");
        let client = local_client(&handle);
        let mut out = Vec::new();
        for s in client
            .list_servers(&ServerQuery::default())
            .await
            .expect("servers list")
            .servers
        {
            out.push(format!("server {} {}", s.name, s.status));
        }
        for k in client.list_keypairs().await.expect("key pairs list") {
            out.push(format!("keypair {}", k.name));
        }
        for e in client.list_eips().await.expect("EIPs list") {
            out.push(format!("eip {}", e.id));
        }
        for v in client.list_vpcs().await.expect("VPCs list") {
            out.push(format!("vpc {}", v.id));
        }
        for s in client.list_subnets(None).await.expect("subnets list") {
            out.push(format!("subnet {}", s.id));
        }
        let q = ImageQuery {
            image_type: Some("private".into()),
            ..Default::default()
        };
        for i in client.list_images(&q).await.expect("images list") {
            out.push(format!("image {} {}", i.id, i.status));
        }
        handle.shutdown().await;
        out.sort();
        out
    })
}

/// A `source "null"` block reaching a [`TestSshd`] as root.
pub trait NullSource {
    /// A `source "null" "NAME"` block reaching this sshd as root with its key.
    fn source(&self, name: &str) -> String;

    /// A `source "null" "NAME"` block reaching this sshd as root, authenticated by `auth`
    /// (lines of the block).
    fn source_with(&self, name: &str, auth: &str) -> String;
}

impl NullSource for TestSshd {
    fn source(&self, name: &str) -> String {
        self.source_with(
            name,
            &format!("ssh_private_key_file = \"{}\"", self.key_file().display()),
        )
    }

    fn source_with(&self, name: &str, auth: &str) -> String {
        format!(
            "source \"null\" \"{name}\" {{\n  ssh_host = \"{}\"\n  ssh_port = {}\n  ssh_username = \"root\"\n  {auth}\n  ssh_timeout = \"20s\"\n}}\n",
            self.addr, self.port,
        )
    }
}

/// Runs `build` with `args` on `template` in a new work folder and asserts its exit code
/// (showing all it printed when it differs): the folder, the run, and stdout then stderr.
pub fn built(template: &str, args: &[&str], code: i32) -> (tempfile::TempDir, Output, String) {
    let d = project(template);
    let r = build(d.path(), args);
    let all = both(&r);
    assert_eq!(r.status.code(), Some(code), "{all}");
    (d, r, all)
}

/// The text of a file the test expects to exist.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The peer the output is compared with.
pub const PACKER: &str = "/usr/bin/packer";

/// True when packer is installed; else says so and returns false, or fails under `CI=true`.
pub fn packer_ok() -> bool {
    Path::new(PACKER).exists() || require(&["packer (/usr/bin/packer)"])
}

/// `packer build -color=false ARGS` in `dir`, asserting its exit code.
pub fn packer_build(dir: &Path, args: &[&str], code: i32) -> Output {
    let o = Command::new(PACKER)
        .current_dir(dir)
        .args(["build", "-color=false"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("packer runs");
    assert_eq!(o.status.code(), Some(code), "packer: {}", both(&o));
    o
}

/// `build ARGS` in `dir`, asserting its exit code.
pub fn build_code(dir: &Path, args: &[&str], code: i32) -> Output {
    let o = build(dir, args);
    assert_eq!(o.status.code(), Some(code), "{}", both(&o));
    o
}

/// A folder for builds on the embedded local cloud: the template `t.pkr.hcl`, the cloud's
/// state in `localcloud` and the journals under `xdg`, in a folder sandboxes can search.
pub struct LocalWorld {
    pub dir: tempfile::TempDir,
}

impl LocalWorld {
    pub fn new(prefix: &str, template: &str) -> LocalWorld {
        let dir = searchable_dir(prefix);
        std::fs::write(dir.path().join("t.pkr.hcl"), template).expect("the template is written");
        LocalWorld { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The embedded local cloud's state folder.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("localcloud")
    }

    /// `XDG_STATE_HOME`, where the journals go.
    pub fn xdg(&self) -> PathBuf {
        self.dir.path().join("xdg")
    }

    /// `program` in this folder on this world's cloud and journals, without the caller's
    /// credentials, debug log or endpoints file.
    pub fn program(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("CCE_LOCALCLOUD_STATE", self.state())
            .env("XDG_STATE_HOME", self.xdg())
            .env_remove("HW_ACCESS_KEY")
            .env_remove("HW_SECRET_KEY")
            .env_remove("PACKER_LOG")
            .env_remove("CCE_ENDPOINTS_FILE");
        c
    }

    /// The binary with `args`, like [`LocalWorld::program`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.program(BIN);
        c.args(args);
        c
    }

    /// The builds' journal folders.
    pub fn journals(&self) -> Vec<PathBuf> {
        let dir = self.xdg().join("cce-image-builder/builds");
        std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// What the cloud holds: see [`inventory`].
    pub fn inventory(&self) -> Vec<String> {
        inventory(&self.state())
    }
}

/// Runs the binary with `args` in `dir` to its end with only the variables `env`, so the
/// caller's credentials, state folders or endpoints file cannot leak in.
pub fn run_clean(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_clear().current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}
