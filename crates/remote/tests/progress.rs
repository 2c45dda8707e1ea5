//! Upload progress through a real sshd: the observer hears the content bytes sent, several
//! times during a large upload, never going back, and last with the total on disk; for a tar
//! stream of a tree (framing left out), over SFTP, and for bytes from memory.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use cce_remote::{Communicator, ProgressObserver, SshCommunicator, TransferMethod};
use common::{
    ClientConfig, TestSshd, assert_same_tree, assert_same_tree_but_link_times, make_tree,
};

type Calls = Arc<Mutex<Vec<(u64, Option<u64>)>>>;

fn recorder() -> (ProgressObserver, Calls) {
    let calls: Calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    (
        Arc::new(move |done, total| c.lock().unwrap().push((done, total))),
        calls,
    )
}

/// Checks the calls: the total known from the first one on, done never decreasing, and the
/// last call saying everything (`expected` bytes) went out.
fn assert_progress(calls: &Calls, expected: u64, at_least: usize) {
    let calls = calls.lock().unwrap().clone();
    assert!(
        calls.len() >= at_least,
        "expected at least {at_least} progress calls, got {calls:?}"
    );
    assert!(calls.iter().all(|&(_, t)| t == Some(expected)), "{calls:?}");
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went back: {calls:?}"
    );
    assert_eq!(calls[0].0, 0, "{calls:?}");
    assert_eq!(*calls.last().unwrap(), (expected, Some(expected)));
}

/// How many calls an upload that took `elapsed` must have made: the start and the end, plus a
/// report while sending once it lasted well over the 100 ms between reports (a fast link may not).
fn calls_expected_after(elapsed: std::time::Duration) -> usize {
    if elapsed > std::time::Duration::from_millis(300) { 3 } else { 2 }
}

/// Sum of the sizes of the regular files under `root` (symlinks not followed).
fn content_bytes(root: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let entry = entry.unwrap();
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            total += content_bytes(&entry.path());
        } else if ft.is_file() {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}

/// A 192 MiB file with random islands, made quickly, large enough for a few reports.
fn big_file(path: &Path) -> u64 {
    let script = format!(
        "truncate -s 192M {f} && for i in $(seq 0 11); do \
         dd if=/dev/urandom of={f} bs=1M count=1 seek=$((i*16)) conv=notrunc status=none || exit 1; done",
        f = path.display()
    );
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap()
            .success()
    );
    std::fs::metadata(path).unwrap().len()
}

#[tokio::test]
async fn tar_upload_of_a_large_file_reports_progress() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let src = sshd.path("big.bin");
    let size = big_file(&src);
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let (observer, calls) = recorder();
    let dest = sshd.path("out/big.copy");
    let started = std::time::Instant::now();
    let stats = comm
        .upload_with_progress(&src, dest.to_str().unwrap(), Some(observer))
        .await
        .unwrap();
    // The stream carries the tar framing too; progress counts only the file's bytes.
    assert!(stats.bytes > size);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);
    // Start, at least one report while sending (reports come every 100 ms), and the end.
    assert_progress(&calls, size, calls_expected_after(started.elapsed()));
    eprintln!("{} progress calls for 192 MiB", calls.lock().unwrap().len());
    std::fs::remove_file(&src).unwrap();
    std::fs::remove_file(&dest).unwrap();
}

#[tokio::test]
async fn tar_upload_of_a_tree_counts_file_contents() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let src = sshd.path("src");
    make_tree(&src, 10, 50);
    let expected = content_bytes(&src);
    assert!(expected > 0);
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let (observer, calls) = recorder();
    let dest = sshd.path("dest");
    comm.upload_with_progress(&src, dest.to_str().unwrap(), Some(observer))
        .await
        .unwrap();
    // Counting the contents must not change what arrives.
    assert_same_tree(&src, &dest);
    assert_progress(&calls, expected, 2);
}

#[tokio::test]
async fn sftp_upload_reports_progress() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let mut cfg = sshd.config();
    cfg.transfer = TransferMethod::Sftp;
    let comm = SshCommunicator::connect(cfg).await.unwrap();

    let src = sshd.path("src");
    make_tree(&src, 4, 20);
    let (observer, calls) = recorder();
    let dest = sshd.path("sftp-dest");
    comm.upload_with_progress(&src, dest.to_str().unwrap(), Some(observer))
        .await
        .unwrap();
    assert_same_tree_but_link_times(&src, &dest);
    assert_progress(&calls, content_bytes(&src), 2);

    let file = sshd.path("big.bin");
    let size = big_file(&file);
    let (observer, calls) = recorder();
    let copy = sshd.path("big.copy");
    let started = std::time::Instant::now();
    comm.upload_with_progress(&file, copy.to_str().unwrap(), Some(observer))
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
    assert_progress(&calls, size, calls_expected_after(started.elapsed()));
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&copy).unwrap();
}

#[tokio::test]
async fn bytes_upload_reports_its_length() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let (observer, calls) = recorder();
    let remote = sshd.path("mem/blob");
    comm.upload_bytes_with_progress(&data, remote.to_str().unwrap(), 0o640, Some(observer))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&remote).unwrap(), data);
    assert_progress(&calls, data.len() as u64, 2);
}

#[tokio::test]
async fn missing_source_fails_without_progress() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let (observer, calls) = recorder();
    let err = comm
        .upload_with_progress(
            &sshd.path("no-such-dir"),
            sshd.path("x").to_str().unwrap(),
            Some(observer),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    assert!(calls.lock().unwrap().is_empty());
}
