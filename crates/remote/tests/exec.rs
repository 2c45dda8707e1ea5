//! Commands through a real sshd: exit codes, streamed output, env, timeouts that kill the remote
//! process group, lost connections, reboots with reconnect, and connect failures that give up.

mod common;

use std::time::{Duration, Instant};

use cce_remote::{Auth, Communicator, Error, ExecOptions, ExitStatus, SshCommunicator};
use common::{ClientConfig, TestSshd, collector, exec_stdout, process_running};

#[tokio::test]
async fn script_writes_files_and_reports_exit_codes() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let fp = comm.host_key_fingerprint().await.unwrap();
    assert!(fp.starts_with("SHA256:"), "fingerprint {fp}");

    let out_dir = sshd.path("written");
    let (stdout, out) = collector();
    let (stderr, err) = collector();
    let env = vec![("NAME".to_string(), "it's me".to_string())];
    let script = format!(
        "mkdir -p {d} && echo \"$NAME\" > {d}/a.txt && echo to-stderr >&2 && echo done",
        d = out_dir.display()
    );
    let status = comm
        .exec(
            &script,
            &env,
            ExecOptions {
                stdout,
                stderr,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("a.txt")).unwrap(),
        "it's me\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.lock().unwrap()), "done\n");
    assert_eq!(String::from_utf8_lossy(&err.lock().unwrap()), "to-stderr\n");

    let status = comm
        .exec("exit 3", &[], ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Code(3));
    assert!(!status.success());

    let status = comm
        .exec("kill -USR1 $$", &[], ExecOptions::default())
        .await
        .unwrap();
    assert!(
        !status.success(),
        "a command killed by a signal is a failure: {status:?}"
    );
    comm.close().await;
}

#[tokio::test]
async fn timeout_kills_the_remote_process_group() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    // A child in the background and one in the foreground: both must die.
    let cmd = "sleep 6131 & sleep 6132; echo never";
    let started = Instant::now();
    let err = comm
        .exec(cmd, &[], timing_out_after(Duration::from_secs(1)))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::CommandTimeout { .. }), "{err}");
    assert!(err.to_string().contains("killed"), "{err}");
    assert!(elapsed < Duration::from_secs(5), "timeout took {elapsed:?}");
    assert!(!process_running("sleep 6131"), "background sleep survived");
    assert!(!process_running("sleep 6132"), "foreground sleep survived");
    // The session is still usable afterwards.
    assert_eq!(
        comm.exec("true", &[], ExecOptions::default())
            .await
            .unwrap(),
        ExitStatus::Code(0)
    );
}

#[tokio::test]
async fn lost_connection_without_expect_disconnect_is_a_clear_error() {
    let Some(mut sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let killer = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        sshd.kill_all();
    };
    let run = comm.exec("sleep 6141", &[], timing_out_after(Duration::from_secs(20)));
    let (result, ()) = tokio::join!(run, killer);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(err.to_string().contains("expect_disconnect"), "{err}");
}

#[tokio::test]
async fn reboot_with_expect_disconnect_then_reconnect() {
    let Some(mut sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let before = comm.host_key_fingerprint().await;
    let reboot = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        sshd.kill_all();
        // The host is "down" for a while; reconnect must keep trying.
        tokio::time::sleep(Duration::from_secs(2)).await;
        sshd.restart();
    };
    let run = comm.exec(
        "echo rebooting; sleep 6151",
        &[],
        ExecOptions {
            expect_disconnect: true,
            timeout: Some(Duration::from_secs(20)),
            ..Default::default()
        },
    );
    let reconnect = async {
        let status = run.await.unwrap();
        assert_eq!(status, ExitStatus::Disconnected);
        let started = Instant::now();
        comm.reconnect(Duration::from_secs(30)).await.unwrap();
        started.elapsed()
    };
    let (waited, ()) = tokio::join!(reconnect, reboot);
    assert!(
        waited >= Duration::from_millis(500),
        "reconnected before the host came back: {waited:?}"
    );
    let (status, out) = exec_stdout(&comm, "echo back").await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(out, b"back\n");
    assert_eq!(comm.host_key_fingerprint().await, before);
}

#[tokio::test]
async fn rejected_key_stops_after_handshake_attempts() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.auth = unknown_key();
    cfg.handshake_attempts = 2;
    let started = Instant::now();
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    assert!(
        matches!(err, Error::HandshakeAttempts { attempts: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rejected"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Options that give up on a command after `timeout`.
fn timing_out_after(timeout: Duration) -> ExecOptions {
    ExecOptions {
        timeout: Some(timeout),
        ..Default::default()
    }
}

/// A fresh private key no server knows.
fn unknown_key() -> Auth {
    let key =
        russh::keys::PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519).unwrap();
    Auth::private_key(
        key.to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .unwrap()
            .to_string(),
    )
}

/// A config for root on 127.0.0.1:`port` with a key no server knows.
fn loopback_config(port: u16) -> cce_remote::SshConfig {
    let mut cfg = cce_remote::SshConfig::new("127.0.0.1", "root", unknown_key());
    cfg.port = port;
    cfg
}

#[tokio::test]
async fn connect_timeout_fires_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = loopback_config(port);
    cfg.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn bad_private_key_is_a_config_error() {
    let cfg = cce_remote::SshConfig::new("127.0.0.1", "root", Auth::private_key("not a key"));
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("ssh_private_key"), "{err}");
}

#[tokio::test]
async fn silent_server_counts_as_failed_handshakes() {
    // Accepts TCP but never speaks SSH: every attempt stalls and must be cut off.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut cfg = loopback_config(port);
    cfg.timeout = Duration::from_secs(60);
    cfg.attempt_timeout = Duration::from_secs(1);
    cfg.handshake_attempts = 2;
    let started = Instant::now();
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    let elapsed = started.elapsed();
    hold.abort();
    assert!(
        matches!(err, Error::HandshakeAttempts { attempts: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no progress"), "{err}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[tokio::test]
async fn pty_commands_run_on_a_terminal_and_still_time_out() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.pty = true;
    let comm: Box<dyn Communicator> = Box::new(SshCommunicator::connect(cfg).await.unwrap());
    let (status, out) = exec_stdout(&*comm, "tty").await;
    assert_eq!(status, ExitStatus::Code(0));
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.starts_with("/dev/pts/"), "tty printed {text:?}");
    let err = comm
        .exec("sleep 6161", &[], timing_out_after(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CommandTimeout { .. }), "{err}");
    assert!(!process_running("sleep 6161"), "sleep survived under a pty");
}

#[tokio::test]
async fn pinned_host_key_is_enforced() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let real = comm.host_key_fingerprint().await.unwrap();
    comm.close().await;

    let mut cfg = sshd.config();
    cfg.expected_host_key = Some(real.clone());
    SshCommunicator::connect(cfg).await.unwrap();

    let mut cfg = sshd.config();
    cfg.expected_host_key = Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    cfg.handshake_attempts = 1;
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(err.to_string().contains(&real), "{err}");
}

#[tokio::test]
async fn frozen_host_is_detected_by_keepalives() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.keepalive_interval = Duration::from_secs(1);
    let comm = SshCommunicator::connect(cfg).await.unwrap();
    let freeze = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sshd.freeze();
    };
    // No command timeout: only the keepalives can notice that nothing answers any more.
    let run = comm.exec("sleep 6171", &[], ExecOptions::default());
    let started = Instant::now();
    let (result, ()) = tokio::join!(run, freeze);
    let elapsed = started.elapsed();
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(
        elapsed < Duration::from_secs(10),
        "hang detected only after {elapsed:?}"
    );
}

/// When `ssh_timeout` cuts the last attempt short, the error reported is the one before it (what
/// the server really did), not "no progress" of an attempt that had no time.
#[tokio::test]
async fn an_attempt_cut_by_the_budget_does_not_hide_the_real_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The first connection gets a banner that is no SSH; later ones are held silent.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            if i == 0 {
                use std::io::Write as _;
                let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            } else {
                held.push(conn);
            }
        }
    });
    let mut cfg = loopback_config(port);
    // Room for the first attempt on a loaded machine; the second is always cut short.
    cfg.timeout = Duration::from_secs(3);
    cfg.attempt_timeout = Duration::from_secs(30);
    cfg.handshake_attempts = 100;
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{text}");
    assert!(!text.contains("no progress") && !text.contains("attempt cut"), "{text}");
}
