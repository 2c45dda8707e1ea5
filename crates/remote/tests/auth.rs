//! Login with several methods against a real sshd: each is tried in turn until one is
//! accepted, and when none is, the error names what each one got.

mod common;

use cce_remote::{Auth, Communicator, ExecOptions, ExitStatus, SshCommunicator};
use common::{ClientConfig, TestSshd};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey};

fn stranger_key() -> String {
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .unwrap()
        .to_openssh(LineEnding::LF)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_first_accepted_method_logs_in() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.auth = Auth::Any(vec![
        Auth::private_key(stranger_key()),
        Auth::Any(vec![Auth::Password("not-the-password".into())]),
        Auth::private_key(sshd.client_key.clone()),
    ]);
    assert_eq!(
        cfg.auth.private_key_text().map(str::len),
        Some(stranger_key().len())
    );
    let comm = SshCommunicator::connect(cfg).await.unwrap();
    let status = comm
        .exec("true", &[], ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Code(0));
    comm.close().await;
    let log = sshd.log();
    // The stranger key was refused and the right one accepted on the same connection: the
    // methods were tried within one session, not by reconnecting.
    let port_of = |prefix: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().nth(2).map(str::to_string))
            .unwrap_or_else(|| panic!("no line {prefix:?} in {log}"))
    };
    assert_eq!(
        port_of("Failed publickey for root from "),
        port_of("Accepted publickey for root from ")
    );
}

#[tokio::test]
async fn when_every_method_is_refused_the_error_says_so() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.handshake_attempts = 1;
    cfg.auth = Auth::Any(vec![
        Auth::private_key(stranger_key()),
        Auth::Password("not-the-password".into()),
    ]);
    let err = SshCommunicator::connect(cfg)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(
            "authentication as root was rejected (private key rejected; password rejected)"
        ),
        "{err}"
    );
    // A key that cannot be parsed is a configuration error before any attempt.
    let mut cfg = sshd.config();
    cfg.auth = Auth::Any(vec![Auth::Agent, Auth::private_key("not a key")]);
    let err = SshCommunicator::connect(cfg)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot parse the private key"), "{err}");
}
