//! Transfers through a real sshd: a 10,000-file tree and a 1 GiB file as one tar stream,
//! SFTP upload, in-memory uploads, downloads, and a remote failure reported with its cause.

mod common;

use std::process::Command;
use std::time::Instant;

use cce_remote::{Communicator, Error, SshCommunicator, TransferMethod};
use common::{
    ClientConfig, TestSshd, assert_same_tree, assert_same_tree_but_link_times, make_tree,
};

fn sha256(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn tree_of_10000_files_as_one_tar_stream() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let src = sshd.path("src");
    make_tree(&src, 100, 100);
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let dest = sshd.path("dest/nested");
    let started = Instant::now();
    let stats = comm.upload(&src, dest.to_str().unwrap()).await.unwrap();
    eprintln!(
        "10,000 files: {} bytes of tar in {:?}",
        stats.bytes,
        started.elapsed()
    );
    assert!(stats.bytes > 10_000 * 512);
    assert_same_tree(&src, &dest);
}

#[tokio::test]
async fn one_gib_file_byte_for_byte() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let src = sshd.path("big.bin");
    let started = Instant::now();
    // Sparse with random islands: 1 MiB of random data every 16 MiB, so any lost, repeated or
    // misplaced chunk changes the hash, yet the file is made in well under a second.
    let script = format!(
        "truncate -s 1G {f} && for i in $(seq 0 63); do \
         dd if=/dev/urandom of={f} bs=1M count=1 seek=$((i*16+i%7)) conv=notrunc status=none || exit 1; done",
        f = src.display()
    );
    let ok = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(ok.success());
    eprintln!("generated 1 GiB in {:?}", started.elapsed());
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let dest = sshd.path("out/big.copy");
    let started = Instant::now();
    let stats = comm.upload(&src, dest.to_str().unwrap()).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "uploaded 1 GiB in {took:?} ({:.0} MiB/s)",
        1024.0 / took.as_secs_f64()
    );
    assert!(stats.bytes >= 1 << 30);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 1 << 30);
    assert_eq!(sha256(&src), sha256(&dest));
    std::fs::remove_file(&src).unwrap();
    std::fs::remove_file(&dest).unwrap();
}

#[tokio::test]
async fn sftp_upload_of_a_tree_and_a_file() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let src = sshd.path("src");
    make_tree(&src, 5, 20);
    let mut cfg = sshd.config();
    cfg.transfer = TransferMethod::Sftp;
    let comm = SshCommunicator::connect(cfg).await.unwrap();
    let dest = sshd.path("sftp-dest");
    comm.upload(&src, dest.to_str().unwrap()).await.unwrap();
    // SFTP sets modes and mtimes explicitly; only symlink times cannot be set over SFTP.
    assert_same_tree_but_link_times(&src, &dest);

    let file = src.join("d001/f003.txt");
    let into = format!("{}/", sshd.path("sftp-file-dir").display());
    std::fs::create_dir_all(sshd.path("sftp-file-dir")).unwrap();
    comm.upload(&file, &into).await.unwrap();
    assert_eq!(
        std::fs::read(sshd.path("sftp-file-dir/f003.txt")).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let back = sshd.path("sftp-back.txt");
    comm.download(&format!("{into}f003.txt"), &back)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&file).unwrap());
    let err = comm
        .download(dest.to_str().unwrap(), &sshd.path("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("use the tar method"), "{err}");
}

#[tokio::test]
async fn bytes_file_and_directory_round_trip() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    let remote = sshd.path("etc/app/config.json");
    comm.upload_bytes(b"{\"a\":1}\n", remote.to_str().unwrap(), 0o600)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&remote).unwrap(), b"{\"a\":1}\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&remote).unwrap().mode() & 0o7777, 0o600);

    // Download a file and a tree.
    let local_file = sshd.path("down/config.json");
    let stats = comm
        .download(remote.to_str().unwrap(), &local_file)
        .await
        .unwrap();
    assert_eq!(stats.bytes, 8);
    assert_eq!(std::fs::read(&local_file).unwrap(), b"{\"a\":1}\n");

    let tree = sshd.path("remote-tree");
    make_tree(&tree, 3, 10);
    let local_tree = sshd.path("down/tree");
    comm.download(tree.to_str().unwrap(), &local_tree)
        .await
        .unwrap();
    assert_same_tree(&tree, &local_tree);

    let err = comm
        .download(sshd.path("nope").to_str().unwrap(), &sshd.path("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
}

#[tokio::test]
async fn remote_tar_failure_names_the_cause() {
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let comm = SshCommunicator::connect(sshd.config()).await.unwrap();
    // A regular file where the destination directory should be.
    let blocker = sshd.path("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let src = sshd.path("small");
    make_tree(&src, 1, 3);
    let dest = format!("{}/sub", blocker.display());
    let err = comm.upload(&src, &dest).await.unwrap_err();
    assert!(matches!(err, Error::Transfer { .. }), "{err}");
    assert!(err.to_string().contains("Not a directory"), "{err}");
    // The session survives a failed transfer.
    assert!(
        comm.exec("true", &[], Default::default())
            .await
            .unwrap()
            .success()
    );
}
