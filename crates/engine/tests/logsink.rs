//! The debug log: Packer's switches, and secrets never reaching the file in any form.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use cce_engine::logsink::{self, LogTarget, RedactingMakeWriter};
use cce_engine::redact::Redactor;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn packer_log_switches_like_packer() {
    let now = time::macros::datetime!(2026-11-25 16:55:07 UTC);
    let cwd = Path::new("/work/dir");
    assert_eq!(logsink::log_target(&env(&[]), cwd, now), LogTarget::Off);
    assert_eq!(
        logsink::log_target(&env(&[("PACKER_LOG", "")]), cwd, now),
        LogTarget::Off
    );
    assert_eq!(
        logsink::log_target(&env(&[("PACKER_LOG", "0")]), cwd, now),
        LogTarget::Off
    );
    assert_eq!(
        logsink::log_target(
            &env(&[("PACKER_LOG", "0"), ("PACKER_LOG_PATH", "x.log")]),
            cwd,
            now
        ),
        LogTarget::Off
    );
    assert_eq!(
        logsink::log_target(&env(&[("PACKER_LOG", "1")]), cwd, now),
        LogTarget::Stderr
    );
    assert_eq!(
        logsink::log_target(
            &env(&[("PACKER_LOG", "true"), ("PACKER_LOG_PATH", "")]),
            cwd,
            now
        ),
        LogTarget::Stderr
    );
    assert_eq!(
        logsink::log_target(
            &env(&[("PACKER_LOG", "1"), ("PACKER_LOG_PATH", "b.log")]),
            cwd,
            now
        ),
        LogTarget::File("/work/dir/b.log".into())
    );
    assert_eq!(
        logsink::log_target(
            &env(&[("PACKER_LOG", "1"), ("PACKER_LOG_PATH", "/abs/b.log")]),
            cwd,
            now
        ),
        LogTarget::File("/abs/b.log".into())
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8 tempdir");
    assert_eq!(
        logsink::log_target(
            &env(&[("PACKER_LOG", "1"), ("PACKER_LOG_PATH", d)]),
            cwd,
            now
        ),
        LogTarget::File(dir.path().join("packer_20261125165507.log"))
    );
}

#[test]
fn secrets_logged_in_any_form_never_reach_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = env(&[("PACKER_LOG", "1"), ("PACKER_LOG_PATH", "debug.log")]);
    let target = logsink::log_target(&e, dir.path(), time::OffsetDateTime::now_utc());
    let path = match &target {
        LogTarget::File(p) => p.clone(),
        other => panic!("expected a file target, got {other:?}"),
    };
    let secret = "AK-Sk/S3cr3t+Value=\"quoted\"";
    let redactor = Redactor::new();
    redactor.add(secret).expect("long enough");
    let writer = RedactingMakeWriter::for_target(&target, redactor.clone())
        .expect("open log")
        .expect("logging is on");
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let json = serde_json::json!({ "sk": secret }).to_string();
    tracing::subscriber::with_default(logsink::debug_subscriber(writer), || {
        tracing::debug!(sk = %secret, "signing request");
        tracing::info!("authorization header {}", b64);
        tracing::debug!(body = %json, "request body");
        tracing::warn!(?secret, "debug formatting escapes quotes");
        tracing::trace!("trace is below the debug level and not written");
    });
    let text = std::fs::read_to_string(&path).expect("log file written");
    assert!(text.contains("signing request"), "{text}");
    assert!(text.contains("request body"), "{text}");
    assert!(text.contains("DEBUG"), "{text}");
    assert!(!text.contains("trace is below"), "{text}");
    assert_eq!(text.matches("<sensitive>").count(), 4, "{text}");
    for leaked in [
        secret,
        b64.as_str(),
        "S3cr3t+Value",
        "S3cr3t%2BValue",
        "\\\"quoted\\\"",
    ] {
        assert!(!text.contains(leaked), "{leaked:?} in log:\n{text}");
    }
    // Packer's PACKER_LOG_PATH is truncated on each run.
    let again = RedactingMakeWriter::for_target(&target, redactor)
        .expect("open")
        .expect("on");
    drop(again);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o077, 0, "log readable by others: {mode:o}");
}

#[test]
fn unopenable_log_path_is_a_clear_error() {
    let target = LogTarget::File("/nonexistent-dir/for/sure/x.log".into());
    let err = match RedactingMakeWriter::for_target(&target, Redactor::new()) {
        Err(e) => e,
        Ok(_) => panic!("opening must fail"),
    };
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent-dir/for/sure/x.log") && msg.contains("PACKER_LOG_PATH"),
        "{msg}"
    );
}
