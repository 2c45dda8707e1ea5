//! Login through a real `ssh-agent` holding the key (alone in its binary: it sets
//! `SSH_AUTH_SOCK` for the whole process before any thread starts).

mod common;

use std::process::Command;

use cce_remote::{Auth, Communicator, ExecOptions, ExitStatus, SshCommunicator};
use common::{ClientConfig, TestSshd};

#[test]
fn agent_identity_logs_in() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let have_agent = Command::new("ssh-agent").arg("-h").output().is_ok();
    if !have_agent {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "ssh-agent missing under CI=true"
        );
        eprintln!("skipping: ssh-agent missing");
        return;
    }
    let sock = sshd.path("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // ssh-add reads the key from a file; the file lives in the test's temp dir only.
    let key_file = sshd.path("agent_key");
    std::fs::write(&key_file, &sshd.client_key).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let added = Command::new("ssh-add")
        .arg(&key_file)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "ssh-add: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    // SAFETY: this binary has one test and no runtime yet; the only other thread is the
    // harness, which just waits for this one, so nothing reads the environment concurrently.
    unsafe { std::env::set_var("SSH_AUTH_SOCK", &sock) };

    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let mut cfg = sshd.config();
        cfg.auth = Auth::Agent;
        let comm = SshCommunicator::connect(cfg).await.unwrap();
        comm.exec("true", &[], ExecOptions::default())
            .await
            .unwrap()
    });
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(status, ExitStatus::Code(0));
}
