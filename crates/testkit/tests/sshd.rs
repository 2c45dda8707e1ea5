//! The test sshd through the real OpenSSH client: its key logs in as root, it comes back on
//! the same port after a kill, and dropping it kills sshd with the sessions it runs.

use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

use cce_testkit::{TestSshd, children_of};

/// `ssh` to `sshd` as root with the fixture's key file, running `cmd`.
fn ssh(sshd: &TestSshd, cmd: &str) -> Command {
    let mut c = Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
    ])
    .args([
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-i",
    ])
    .arg(sshd.key_file())
    .args(["-p", &sshd.port.to_string()])
    .arg(format!("root@{}", sshd.addr))
    .arg(cmd)
    .stdin(Stdio::null());
    c
}

fn output(sshd: &TestSshd, cmd: &str) -> Output {
    ssh(sshd, cmd).output().expect("ssh runs")
}

#[test]
fn key_logs_in_and_restart_keeps_the_port() {
    let Some(mut sshd) = TestSshd::start() else {
        return;
    };
    let key = std::fs::read_to_string(sshd.key_file()).expect("key file");
    assert_eq!(key, sshd.client_key, "the key text is the key file");
    let o = output(&sshd, "echo logged-in-as-$(id -u)");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "logged-in-as-0",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    sshd.kill_all();
    assert!(
        TcpStream::connect((sshd.addr.as_str(), sshd.port)).is_err(),
        "the port is closed after kill_all"
    );
    sshd.restart();
    assert!(output(&sshd, "true").status.success(), "{}", sshd.log());
    assert!(sshd.log().contains("Accepted publickey for root"));
}

#[test]
fn drop_kills_sshd_and_its_sessions() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut session = ssh(&sshd, "echo started; exec sleep 300")
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh runs");
    let mut first = [0u8; 8];
    std::io::Read::read_exact(session.stdout.as_mut().expect("piped"), &mut first)
        .expect("the session starts");
    let sshd_pid = std::fs::read_to_string(sshd.path("sshd.pid"))
        .expect("pid file")
        .trim()
        .parse::<u32>()
        .expect("a pid");
    let mut below = vec![sshd_pid];
    let mut i = 0;
    while i < below.len() {
        below.extend(children_of(below[i]));
        i += 1;
    }
    assert!(below.len() >= 2, "the session runs below sshd: {below:?}");
    let (addr, port) = (sshd.addr.clone(), sshd.port);
    drop(sshd);
    for pid in &below {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z "),
            "process {pid} outlived the fixture: {state}"
        );
    }
    assert!(TcpStream::connect((addr.as_str(), port)).is_err());
    let _ = session.wait();
}
