//! The provisioner runner over a real OpenSSH sshd on loopback, timed through the events it
//! reports: `pause_before` holds the next provisioner back, and `start_retry_timeout` carries a
//! script upload over an sshd that is down and comes back later.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_engine::events::{Event, Reporter, Stream};
use cce_engine::provision::{BuildContext, run_provisioners};
use cce_remote::{Auth, SshCommunicator, SshConfig};
use cce_template::schema::ProvisionerKind;
use cce_template::schema::fields::{Deferrable, GoDuration};
use cce_template::schema::provisioners::ShellProvisioner;
use common::{prov, shell_local};

const SSHD: &str = "/usr/sbin/sshd";

/// False (after saying why) when sshd or root is missing; a failure under `CI=true`.
fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !Path::new(SSHD).exists() {
        missing.push("sshd (/usr/sbin/sshd)");
    }
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
        != 0
    {
        missing.push("root (sshd must let the test log in as root)");
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing prerequisites: {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true makes this a failure)");
    }
    eprintln!("skipping: {msg}");
    false
}

/// A real sshd on 127.0.0.1 with its own host key and client key; killed on drop.
struct TestSshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl TestSshd {
    fn start() -> Option<Self> {
        if !prerequisites() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for key in ["host_key", "client_key"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(st.success(), "ssh-keygen failed");
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin yes\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nMaxSessions 50\nMaxStartups 50\n"
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let mut s = TestSshd {
            dir,
            port,
            child: None,
        };
        s.launch();
        Some(s)
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("sshd.log"))
            .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "sshd did not start in 10s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills sshd with every session it runs, like a machine going down.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Each connection's sshd calls setsid, so the tree is walked, not the group.
            let mut pids = vec![child.id() as i32];
            let mut i = 0;
            while i < pids.len() {
                pids.extend(children_of(pids[i]));
                i += 1;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.wait();
        }
    }

    fn config(&self) -> SshConfig {
        let key = std::fs::read_to_string(self.dir.path().join("client_key")).unwrap();
        let mut c = SshConfig::new("127.0.0.1", "root", Auth::private_key(key));
        c.port = self.port;
        c.timeout = Duration::from_secs(20);
        c.attempt_timeout = Duration::from_secs(5);
        c.keepalive_interval = Duration::from_secs(1);
        c
    }
}

/// The processes whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // Fields after the parenthesised command name: state, ppid, ...
                    let rest = stat.rsplit_once(") ")?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

type LineHook = Box<dyn FnMut(&str) + Send>;

/// Records each event with the instant it arrived.
#[derive(Default)]
struct TimedReporter {
    events: Mutex<Vec<(Instant, Event)>>,
    /// Called with every output line, as it arrives.
    on_line: Mutex<Option<LineHook>>,
}

impl Reporter for TimedReporter {
    fn report(&self, event: &Event) -> std::io::Result<()> {
        if let Event::Output { line, .. } = event
            && let Some(f) = self.on_line.lock().unwrap().as_mut()
        {
            f(line);
        }
        self.events
            .lock()
            .unwrap()
            .push((Instant::now(), event.clone()));
        Ok(())
    }
}

impl TimedReporter {
    /// When the first stdout line equal to `text` arrived.
    fn line_at(&self, text: &str) -> Instant {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find_map(|(t, e)| match e {
                Event::Output {
                    stream: Stream::Stdout,
                    line,
                    ..
                } if line == text => Some(*t),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no output line {text:?}"))
    }

    /// When the first step line starting with `prefix` arrived.
    fn step_at(&self, prefix: &str) -> Instant {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find_map(|(t, e)| match e {
                Event::StepStarted { step, .. } if step.starts_with(prefix) => Some(*t),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no step line starting with {prefix:?}"))
    }
}

fn ctx(dir: &Path, reporter: Arc<TimedReporter>, port: u16) -> BuildContext {
    let mut values = BTreeMap::new();
    values.insert("Host".to_string(), "127.0.0.1".to_string());
    values.insert("Port".to_string(), port.to_string());
    BuildContext {
        display_name: "null.a".into(),
        build_name: None,
        source_type: "null".into(),
        source_name: "a".into(),
        run_uuid: "run-1".into(),
        values,
        reporter,
        cwd: dir.to_path_buf(),
    }
}

fn shell(lines: &[&str]) -> ShellProvisioner {
    ShellProvisioner {
        inline: Some(Deferrable::Known(
            lines.iter().map(|s| s.to_string()).collect(),
        )),
        script: None,
        scripts: None,
        environment_vars: None,
        env: None,
        env_var_format: None,
        execute_command: None,
        remote_folder: None,
        remote_file: None,
        remote_path: None,
        inline_shebang: None,
        expect_disconnect: false,
        valid_exit_codes: vec![0],
        skip_clean: false,
        start_retry_timeout: GoDuration(Duration::from_secs(300)),
        pause_after: None,
        use_env_var_file: false,
        binary: false,
    }
}

#[tokio::test]
async fn pause_before_holds_the_next_provisioner_back() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(TimedReporter::default());
    let c = ctx(dir.path(), rec.clone(), sshd.port);
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let first = prov(ProvisionerKind::Shell(shell(&["echo first"])));
    let mut second = prov(ProvisionerKind::Shell(shell(&["echo second"])));
    second.pause_before = Some(GoDuration(Duration::from_secs(2)));
    run_provisioners(&[first, second], None, true, &c, Some(&comm))
        .await
        .unwrap();
    comm.close().await;

    let first_out = rec.line_at("first");
    let paused = rec.step_at("Pausing 2s before the next provisioner...");
    let second_out = rec.line_at("second");
    assert!(first_out <= paused);
    let waited = second_out.duration_since(paused);
    assert!(waited >= Duration::from_secs(2), "paused only {waited:?}");
    assert!(waited < Duration::from_secs(10), "paused {waited:?}");
    assert!(second_out.duration_since(first_out) >= Duration::from_secs(2));
}

#[tokio::test]
async fn start_retry_timeout_outlasts_an_sshd_that_comes_back_late() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let sshd = Arc::new(Mutex::new(sshd));
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(TimedReporter::default());
    let port = sshd.lock().unwrap().port;
    let c = ctx(dir.path(), rec.clone(), port);
    let config = sshd.lock().unwrap().config();
    let comm = SshCommunicator::connect(config).await.unwrap();
    let (down_tx, down_rx) = std::sync::mpsc::channel::<Instant>();
    {
        // The moment the local provisioner says "down", sshd and its sessions die; it comes
        // back 3s later on the same port.
        let sshd = Arc::clone(&sshd);
        let down_tx = Mutex::new(Some(down_tx));
        *rec.on_line.lock().unwrap() = Some(Box::new(move |line: &str| {
            if line == "down"
                && let Some(tx) = down_tx.lock().unwrap().take()
            {
                sshd.lock().unwrap().kill();
                let _ = tx.send(Instant::now());
                let sshd = Arc::clone(&sshd);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(3));
                    sshd.lock().unwrap().launch();
                });
            }
        }));
    }
    let marker = dir.path().join("after-restart");
    let down = prov(ProvisionerKind::ShellLocal(shell_local(&["echo down"])));
    let mut after = shell(&[&format!("touch {}", marker.display()), "echo up"]);
    after.start_retry_timeout = GoDuration(Duration::from_secs(30));
    let after = prov(ProvisionerKind::Shell(after));
    run_provisioners(&[down, after], None, true, &c, Some(&comm))
        .await
        .unwrap();
    comm.close().await;
    let went_down = down_rx.recv_timeout(Duration::from_secs(1)).unwrap();
    let up = rec.line_at("up");
    assert!(
        up.duration_since(went_down) >= Duration::from_secs(3),
        "the script ran while sshd was down"
    );
    assert!(marker.exists());

    // With a budget shorter than the outage the upload gives up with the reason.
    let rec2 = Arc::new(TimedReporter::default());
    let c2 = ctx(dir.path(), rec2.clone(), port);
    let config = sshd.lock().unwrap().config();
    let comm = SshCommunicator::connect(config).await.unwrap();
    sshd.lock().unwrap().kill();
    let mut short = shell(&["echo never"]);
    short.start_retry_timeout = GoDuration(Duration::from_secs(2));
    let started = Instant::now();
    let e = run_provisioners(
        &[prov(ProvisionerKind::Shell(short))],
        None,
        false,
        &c2,
        Some(&comm),
    )
    .await
    .unwrap_err();
    assert!(
        e.message
            .starts_with("error uploading script to /tmp/script_"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pause_after_waits_once_after_every_script() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.sh"), "echo one\n").unwrap();
    std::fs::write(dir.path().join("two.sh"), "echo two\n").unwrap();
    let rec = Arc::new(TimedReporter::default());
    let c = ctx(dir.path(), rec.clone(), sshd.port);
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let mut s = shell(&[]);
    s.inline = None;
    s.scripts = Some(Deferrable::Known(vec!["one.sh".into(), "two.sh".into()]));
    s.pause_after = Some(GoDuration(Duration::from_secs(1)));
    run_provisioners(
        &[prov(ProvisionerKind::Shell(s))],
        None,
        true,
        &c,
        Some(&comm),
    )
    .await
    .unwrap();
    let finished = Instant::now();
    comm.close().await;
    let pauses: Vec<Instant> = rec
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(t, e)| match e {
            Event::StepStarted { step, .. } if step == "Pausing 1s after this provisioner..." => {
                Some(*t)
            }
            _ => None,
        })
        .collect();
    assert_eq!(pauses.len(), 1);
    assert!(
        pauses[0] > rec.line_at("two"),
        "paused before the last script"
    );
    assert!(finished.duration_since(pauses[0]) >= Duration::from_secs(1));
}
