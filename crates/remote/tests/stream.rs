//! 100 MB of command output streamed through a real sshd with bounded memory (alone in its
//! own test binary so the peak RSS measured is this test's).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cce_remote::{Communicator, ExecOptions, ExitStatus, OutputSink, SshCommunicator};
use common::{ClientConfig, TestSshd};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn hundred_megabytes_of_output_with_bounded_memory() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let before = peak_rss_kib();

    // stdout through a callback, stderr through a bounded channel read slowly at first.
    let out_bytes = Arc::new(AtomicU64::new(0));
    let counter = out_bytes.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let reader = tokio::spawn(async move {
        let mut total = 0u64;
        let mut chunks = 0u64;
        while let Some(chunk) = rx.recv().await {
            if chunks < 20 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            chunks += 1;
            total += chunk.len() as u64;
        }
        total
    });
    let started = Instant::now();
    let status = comm
        .exec(
            "head -c 100000000 /dev/zero; head -c 10000000 /dev/zero >&2",
            &[],
            ExecOptions {
                stdout: OutputSink::Callback(Box::new(move |d| {
                    counter.fetch_add(d.len() as u64, Ordering::Relaxed);
                })),
                stderr: OutputSink::Channel(tx),
                timeout: Some(Duration::from_secs(120)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(out_bytes.load(Ordering::Relaxed), 100_000_000);
    assert_eq!(reader.await.unwrap(), 10_000_000);
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("110 MB streamed in {took:?}; peak RSS grew by {grown_mib} MiB");
    assert!(
        grown_mib < 40,
        "peak RSS grew by {grown_mib} MiB while streaming 110 MB"
    );
}
