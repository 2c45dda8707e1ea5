//! Driver for `bench/ssh.sh`: uploads a path or runs a command N times over one session, so the
//! benchmark can time this crate against `ssh`, `scp` and Packer.
//!
//! Usage: `ssh_bench HOST PORT USER KEY_FILE upload LOCAL REMOTE [tar|sftp]`
//!        `ssh_bench HOST PORT USER KEY_FILE exec N COMMAND`

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use cce_remote::{Auth, Communicator, ExecOptions, SshCommunicator, SshConfig, TransferMethod};

const USAGE: &str =
    "usage: ssh_bench HOST PORT USER KEY_FILE (upload LOCAL REMOTE [tar|sftp] | exec N COMMAND)";

async fn run(args: &[String]) -> Result<(), String> {
    let [host, port, user, key_file, op, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    let key = std::fs::read_to_string(key_file).map_err(|e| format!("{key_file}: {e}"))?;
    let mut cfg = SshConfig::new(host.as_str(), user.as_str(), Auth::private_key(key));
    cfg.port = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number"))?;
    cfg.timeout = Duration::from_secs(30);
    match (op.as_str(), rest) {
        ("upload", [local, remote, method @ ..]) => {
            if method.first().map(String::as_str) == Some("sftp") {
                cfg.transfer = TransferMethod::Sftp;
            }
            let comm = SshCommunicator::connect(cfg)
                .await
                .map_err(|e| e.to_string())?;
            let stats = comm
                .upload(Path::new(local), remote)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("uploaded {} bytes", stats.bytes);
            comm.close().await;
        }
        ("exec", [n, command]) => {
            let n: u32 = n
                .parse()
                .map_err(|_| format!("count {n:?} is not a number"))?;
            let comm = SshCommunicator::connect(cfg)
                .await
                .map_err(|e| e.to_string())?;
            for i in 0..n {
                let status = comm
                    .exec(command, &[], ExecOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                if !status.success() {
                    return Err(format!("run {i}: {status}"));
                }
            }
            comm.close().await;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssh_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
