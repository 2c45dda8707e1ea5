//! `cce-image-builder localcloud gc` after a local cloud is killed with SIGKILL while a sandbox
//! server with a data disk runs: what it left (the server's processes and namespaces, its cgroup,
//! its named network namespace, its loop device) is all reclaimed, and a sandbox of another local
//! cloud that is still alive is left running. That second cloud is then killed too and served
//! again on its state without gc: the new process reclaims its own orphans, and the server
//! starts again with its data disk's content. Needs root, sshd-capable sandboxes and `losetup`;
//! under `CI=true` a missing prerequisite fails the test.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cce_cloud::models::{ImageQuery, NicSpec, RootVolume, ServerCreate};
use cce_cloud::{Client, ClientConfig, Cloud, EndpointsFile, Findable, WaitPolicy};

use common::BIN;

/// Sandboxes, the OpenSSH client and `losetup`.
fn prerequisites() -> bool {
    if !common::sandboxes_ok() {
        return false;
    }
    let mut missing = Vec::new();
    if Command::new("ssh").arg("-V").output().is_err() {
        missing.push("the OpenSSH client `ssh`");
    }
    if Command::new("losetup").arg("--version").output().is_err() {
        missing.push("`losetup`");
    }
    common::require(&missing)
}

/// A `localcloud serve` child; dropped (a failed test), it is stopped with SIGTERM, then killed.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A `localcloud serve` child with sandbox servers, and its ready line; its stderr goes to
/// `<state>.log`.
fn serve(state: &Path) -> (Served, String) {
    let log = std::fs::File::create(state.with_extension("log")).unwrap();
    let child = Command::new(BIN)
        .args(["localcloud", "serve", "--servers", "sandbox", "--profile", "instant", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the binary starts");
    let mut child = Served(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) if !line.trim().is_empty() => (child, line),
        _ => panic!("no ready line from `localcloud serve` within 60 s"),
    }
}

/// Creates a server with one 10 GB data volume through the project's own client; its id and
/// fixed IP, and the private key to reach it.
async fn create_server(ready: &str, dir: &Path, name: &str) -> (String, String, PathBuf) {
    let file = EndpointsFile::parse(ready, "ready line").unwrap();
    let client = Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).unwrap()).unwrap();
    let kp = client.create_keypair(&format!("kp-{name}"), None).await.unwrap();
    let key = dir.join(format!("id-{name}"));
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key).unwrap();
        f.write_all(kp.private_key.unwrap().as_bytes()).unwrap();
    }
    let none = BTreeMap::new();
    let vpc = client.find_by_name(Findable::Vpc, "vpc-default", &none).await.unwrap().remove(0);
    let subnet = client.find_by_name(Findable::Subnet, "subnet-default", &none).await.unwrap().remove(0);
    let query = ImageQuery {
        image_type: Some("gold".into()),
        name: Some("Debian 12 (local sandbox rootfs)".into()),
        ..ImageQuery::default()
    };
    let image = client.list_images(&query).await.unwrap().remove(0).id;
    let mut extra = serde_json::Map::new();
    extra.insert("data_volumes".into(), serde_json::json!([{"volumetype": "SSD", "size": 10}]));
    let spec = ServerCreate {
        name: name.into(),
        image_ref: image,
        flavor_ref: "s7n.large.2".into(),
        vpcid: vpc,
        nics: vec![NicSpec { subnet_id: subnet, ip_address: None }],
        availability_zone: Some("ru-moscow-1a".into()),
        root_volume: RootVolume { volumetype: "SSD".into(), size: Some(40) },
        key_name: Some(kp.name.clone()),
        extra,
        ..ServerCreate::default()
    };
    let server = client.create_server(&spec, &WaitPolicy::with_timeout(Duration::from_secs(180))).await.unwrap();
    let ip = server.fixed_ip().expect("the server has a fixed ip").to_string();
    (server.id, ip, key)
}

fn ssh(key: &Path, ip: &str, cmd: &str) -> (i32, String) {
    let out = Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
        .arg(format!("root@{ip}"))
        .arg(cmd)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr))
}

fn cgroup_dir(id: &str) -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|r| Path::new(r).join("cce-sandboxes").join(id))
        .find(|p| p.exists())
}

fn cgroup_pids(cg: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for e in std::fs::read_dir(cg).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            pids.extend(cgroup_pids(&e.path()));
        }
    }
    pids
}

/// Processes of the host in any of `namespaces` (`net:[…]`, `mnt:[…]`, …).
fn processes_in(namespaces: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for ns in ["net", "mnt", "pid", "uts", "ipc", "cgroup"] {
            if let Ok(link) = std::fs::read_link(e.path().join("ns").join(ns)) {
                let link = link.display().to_string();
                if namespaces.contains(&link) {
                    found.push(format!("{name} in {link}"));
                }
            }
        }
    }
    found
}

/// The host pids of a running sandbox and the namespaces (other than the host's) they are in.
fn sandbox_processes(id: &str) -> (Vec<i32>, Vec<String>) {
    let cg = cgroup_dir(id).expect("the sandbox has a cgroup");
    let pids = cgroup_pids(&cg);
    assert!(!pids.is_empty());
    let mut namespaces = Vec::new();
    for pid in &pids {
        for ns in ["net", "mnt", "pid", "uts", "ipc", "cgroup"] {
            if let Ok(l) = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")) {
                let l = l.display().to_string();
                let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).map(|h| h.display().to_string()).unwrap_or_default();
                if l != host && !namespaces.contains(&l) {
                    namespaces.push(l);
                }
            }
        }
    }
    assert!(namespaces.iter().any(|n| n.starts_with("net:")) && namespaces.iter().any(|n| n.starts_with("mnt:")), "{namespaces:?}");
    (pids, namespaces)
}

fn loops_under(dir: &Path) -> Vec<String> {
    let prefix = std::fs::canonicalize(dir).unwrap().display().to_string();
    cce_sandbox::disks::attached_loop_devices()
        .into_iter()
        .filter(|(_, b)| b.starts_with(&prefix))
        .map(|(d, b)| format!("{} {b}", d.display()))
        .collect()
}

#[test]
fn gc_reclaims_what_a_killed_local_cloud_left_and_spares_a_live_one() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let killed_state = tmp.path().join("killed");
    let (mut killed, ready) = serve(&killed_state);
    let (id, ip, key) = rt.block_on(create_server(&ready, tmp.path(), "doomed"));
    let (code, out) = ssh(&key, &ip, "mkfs.ext4 -q -F /dev/vdb && echo formatted");
    assert_eq!((code, out.as_str()), (0, "formatted"));

    let alive_state = tmp.path().join("alive");
    let (mut alive, alive_ready) = serve(&alive_state);
    let (alive_id, alive_ip, alive_key) = rt.block_on(create_server(&alive_ready, tmp.path(), "survivor"));

    // What the doomed server holds on the host.
    let (pids, namespaces) = sandbox_processes(&id);
    let netns = PathBuf::from(format!("/run/netns/cce-sb-{id}"));
    assert!(netns.exists());
    assert_eq!(loops_under(&killed_state).len(), 1, "{:?}", loops_under(&killed_state));

    killed.0.kill().unwrap(); // SIGKILL: no shutdown runs.
    killed.0.wait().unwrap();
    // The sandbox outlives its local cloud: that is what gc is for.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!processes_in(&namespaces).is_empty(), "nothing outlived the killed local cloud; the test proves nothing");
    assert_eq!(loops_under(&killed_state).len(), 1);
    // The forwarder died with the process.
    assert!(std::net::TcpStream::connect_timeout(&format!("{ip}:22").parse().unwrap(), Duration::from_secs(2)).is_err());

    let out = Command::new(BIN).args(["localcloud", "gc"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "gc failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l == format!("reclaimed sandbox {id}")), "{stdout}");
    assert!(!stdout.contains(&alive_id), "gc reclaimed the live local cloud's sandbox: {stdout}");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_in(&namespaces);
        let cgroup_left = cgroup_dir(&id).is_some();
        let loops = loops_under(&killed_state);
        if left.is_empty() && !cgroup_left && !netns.exists() && loops.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left after gc: processes {left:?}, cgroup {cgroup_left}, netns {}, loops {loops:?}",
            netns.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in &pids {
        let ours = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| namespaces.contains(&l.display().to_string()));
        assert!(!ours, "process {pid} of the sandbox survived gc");
    }
    let node = killed_state.join("servers").join(&id).join("data-disks/vdb");
    assert!(!node.exists(), "the disk's node {} is left", node.display());
    let mounts = std::fs::read_to_string("/proc/1/mountinfo").unwrap();
    assert!(!mounts.contains(&killed_state.display().to_string()), "a mount of the killed cloud is on the host");
    // The disk itself is kept, as a stopped server's.
    assert!(killed_state.join("servers").join(&id).join("data-disks/cce-data-vdb.img").exists());

    // The other local cloud's server runs on.
    let (code, out) = ssh(&alive_key, &alive_ip, "test -b /dev/vdb && echo up");
    assert_eq!((code, out.as_str()), (0, "up"), "the live local cloud's server did not survive gc");
    assert_eq!(loops_under(&alive_state).len(), 1);

    // Killed in turn and served again on its state without gc: the new local cloud reclaims its
    // own orphans, the server is SHUTOFF and starts with its data disk as it was.
    let (code, out) = ssh(&alive_key, &alive_ip, "mkfs.ext4 -q -F -L kept /dev/vdb && echo formatted");
    assert_eq!((code, out.as_str()), (0, "formatted"));
    let (_, alive_namespaces) = sandbox_processes(&alive_id);
    alive.0.kill().unwrap();
    alive.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!processes_in(&alive_namespaces).is_empty(), "nothing outlived the second kill");
    let (restarted, ready) = serve(&alive_state);
    // The kill is asynchronous: the last processes may take a moment to be gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_in(&alive_namespaces).is_empty() {
        assert!(Instant::now() < deadline, "a restart left the orphans: {:?}", processes_in(&alive_namespaces));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cgroup_dir(&alive_id).is_none(), "a restart left the orphan's cgroup");
    assert!(loops_under(&alive_state).is_empty(), "{:?}", loops_under(&alive_state));
    let file = EndpointsFile::parse(&ready, "ready line").unwrap();
    let client = Client::new(ClientConfig::from_endpoints_file(&file, &HashMap::new()).unwrap()).unwrap();
    rt.block_on(async {
        assert_eq!(client.show_server(&alive_id).await.unwrap().status, "SHUTOFF");
        client.start_servers(&[alive_id.as_str()]).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let st = client.show_server(&alive_id).await.unwrap().status;
            if st == "ACTIVE" {
                break;
            }
            assert!(st != "ERROR" && Instant::now() < deadline, "the restarted server is {st}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let (code, out) = ssh(&alive_key, &alive_ip, "blkid -s LABEL -o value /dev/vdb");
    assert_eq!((code, out.as_str()), (0, "kept"), "the data disk lost its filesystem");
    let mut restarted = restarted;
    let _ = Command::new("kill").args(["-TERM", &restarted.0.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while restarted.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the local cloud did not stop within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(loops_under(&alive_state).is_empty(), "shutdown left loop devices: {:?}", loops_under(&alive_state));
    assert!(cgroup_dir(&alive_id).is_none());
}
