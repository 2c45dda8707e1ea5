//! A jump host: two real sshd instances, the target on another loopback address, reached
//! through a `direct-tcpip` channel opened on the bastion.

mod common;

use cce_remote::{Auth, Bastion, ExitStatus, SshCommunicator};
use common::{ClientConfig, TestSshd, exec_stdout};

#[tokio::test]
async fn command_runs_on_the_target_through_the_bastion() {
    let Some(bastion) = TestSshd::start_with("127.0.0.1", "LogLevel DEBUG1") else {
        return;
    };
    let Some(target) = TestSshd::start_with("127.0.0.2", "") else {
        return;
    };
    let mut cfg = target.config();
    cfg.bastion = Some(Bastion {
        host: bastion.addr.clone(),
        port: bastion.port,
        username: "root".into(),
        auth: Auth::private_key(bastion.client_key.clone()),
    });
    let comm = SshCommunicator::connect(cfg).await.unwrap();
    let (status, out) = exec_stdout(&comm, "echo via-bastion").await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(out, b"via-bastion\n");
    comm.close().await;

    // The bastion opened the forward to the target, and the target saw a login.
    let blog = bastion.log();
    let wanted = format!("target 127.0.0.2 port {}", target.port);
    assert!(
        blog.lines()
            .any(|l| l.contains("direct_tcpip") && l.contains(&wanted)),
        "bastion log has no forward to {wanted}:\n{blog}"
    );
    assert!(
        target.log().contains("Accepted publickey for root"),
        "{}",
        target.log()
    );
}

#[tokio::test]
async fn bastion_refusing_forwarding_is_reported() {
    let Some(bastion) = TestSshd::start_with("127.0.0.1", "AllowTcpForwarding no") else {
        return;
    };
    let Some(target) = TestSshd::start_with("127.0.0.2", "") else {
        return;
    };
    let mut cfg = target.config();
    cfg.timeout = std::time::Duration::from_secs(3);
    cfg.bastion = Some(Bastion {
        host: bastion.addr.clone(),
        port: bastion.port,
        username: "root".into(),
        auth: Auth::private_key(bastion.client_key.clone()),
    });
    let err = SshCommunicator::connect(cfg).await.err().unwrap();
    let text = err.to_string();
    assert!(text.contains("could not open a tunnel"), "{text}");
    assert!(
        !target.log().contains("Accepted publickey"),
        "target was reached directly"
    );
}
