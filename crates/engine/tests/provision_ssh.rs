//! The provisioner runner over a real OpenSSH sshd on loopback, timed through the events it
//! reports: `pause_before` holds the next provisioner back, and `start_retry_timeout` carries a
//! script upload over an sshd that is down and comes back later.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_engine::events::{Event, Reporter, Stream};
use cce_engine::provision::{BuildContext, run_provisioners};
use cce_remote::SshCommunicator;
use cce_template::schema::ProvisionerKind;
use cce_template::schema::fields::{Deferrable, GoDuration};
use cce_template::schema::provisioners::ShellProvisioner;
use cce_testkit::TestSshd;
use common::{prov, shell_local, ssh_config};

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
    let comm = SshCommunicator::connect(ssh_config(&sshd)).await.unwrap();
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
    let config = ssh_config(&sshd.lock().unwrap());
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
                sshd.lock().unwrap().kill_all();
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
    let config = ssh_config(&sshd.lock().unwrap());
    let comm = SshCommunicator::connect(config).await.unwrap();
    sshd.lock().unwrap().kill_all();
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
    let comm = SshCommunicator::connect(ssh_config(&sshd)).await.unwrap();
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
