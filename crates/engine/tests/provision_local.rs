//! The provisioner runner through its public API with real local processes: `shell-local`
//! output as events through the redactor, `timeout` killing the process group, `max_retries`,
//! `only`/`except`, `override`, the error-cleanup provisioner and deferred `build.*` values.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cce_engine::events::{Event, RecordingReporter, Stream};
use cce_engine::provision::{BuildContext, run_one, run_provisioners};
use cce_engine::redact::Redactor;
use cce_template::schema::ProvisionerKind;
use cce_template::schema::fields::{Deferrable, GoDuration};
use cce_template::schema::provisioners::Breakpoint;
use common::{prov, recorded_context, shell_local};

fn ctx(dir: &std::path::Path, redactor: &Redactor) -> (BuildContext, Arc<RecordingReporter>) {
    let values = BTreeMap::from([("Host".to_string(), "10.0.0.7".to_string())]);
    recorded_context(dir, redactor, values)
}

fn stdout_lines(rec: &RecordingReporter) -> Vec<String> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Output {
                stream: Stream::Stdout,
                line,
                ..
            } => Some(line),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn output_is_streamed_as_redacted_events_with_packer_env_and_build_values() {
    let d = tempfile::tempdir().unwrap();
    let redactor = Redactor::new();
    redactor.add("very-secret-token-42").unwrap();
    let (c, rec) = ctx(d.path(), &redactor);
    let mut s = shell_local(&[
        "echo $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $X",
        "echo very-secret-token-42",
    ]);
    s.environment_vars = Some(Deferrable::Deferred("[\"X=${build.Host}\"]".into()));
    run_one(&prov(ProvisionerKind::ShellLocal(s)), &c, None)
        .await
        .unwrap();
    let lines = stdout_lines(&rec);
    assert_eq!(lines[0], "a null 10.0.0.7");
    assert!(!lines[1].contains("very-secret-token-42"), "{lines:?}");
}

#[tokio::test]
async fn a_timeout_kills_the_local_process_group() {
    let d = tempfile::tempdir().unwrap();
    let (c, _rec) = ctx(d.path(), &Redactor::new());
    let pid_file = d.path().join("pid");
    let mut p = prov(ProvisionerKind::ShellLocal(shell_local(&[
        &format!("sleep 60 & echo $! > {}", pid_file.display()),
        "wait",
    ])));
    p.timeout = Some(GoDuration(Duration::from_secs(1)));
    let started = Instant::now();
    let e = run_one(&p, &c, None).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(e.message.contains("timed out after 1s"), "{e}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Gone, or a zombie waiting for init to reap it.
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the background sleep survived: {stat}"
    );
}

#[tokio::test]
async fn retries_only_except_override_and_cleanup() {
    let d = tempfile::tempdir().unwrap();
    let (c, rec) = ctx(d.path(), &Redactor::new());
    // Fails twice, then succeeds on the third run.
    let mut p = prov(ProvisionerKind::ShellLocal(shell_local(&[
        "echo x >> runs",
        "test $(wc -l < runs) -ge 3",
    ])));
    p.max_retries = 2;
    run_one(&p, &c, None).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("runs"))
            .unwrap()
            .lines()
            .count(),
        3
    );

    let mut skipped = prov(ProvisionerKind::ShellLocal(shell_local(&["touch skipped"])));
    skipped.except = vec!["null.a".into()];
    run_one(&skipped, &c, None).await.unwrap();
    skipped.except.clear();
    skipped.only = vec!["null.other".into()];
    run_one(&skipped, &c, None).await.unwrap();
    assert!(!d.path().join("skipped").exists());

    let mut o = prov(ProvisionerKind::ShellLocal(shell_local(&["touch plain"])));
    o.overrides.insert(
        "a".into(),
        serde_json::json!({ "inline": ["touch overridden"] }),
    );
    run_one(&o, &c, None).await.unwrap();
    assert!(d.path().join("overridden").exists() && !d.path().join("plain").exists());

    let failing = prov(ProvisionerKind::ShellLocal(shell_local(&["exit 4"])));
    let after = prov(ProvisionerKind::ShellLocal(shell_local(&["touch after"])));
    let cleanup = prov(ProvisionerKind::ShellLocal(shell_local(&["touch cleaned"])));
    let e = run_provisioners(&[failing, after], Some(&cleanup), true, &c, None)
        .await
        .unwrap_err();
    assert!(e.message.contains("exit status: 4"), "{e}");
    assert!(d.path().join("cleaned").exists() && !d.path().join("after").exists());

    // A failing cleanup provisioner is folded into the error, in Packer's words.
    let failing = prov(ProvisionerKind::ShellLocal(shell_local(&["exit 4"])));
    let bad_cleanup = prov(ProvisionerKind::ShellLocal(shell_local(&["exit 6"])));
    let e = run_provisioners(&[failing], Some(&bad_cleanup), true, &c, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Cleanup failed: Script exited with non-zero exit status: 6.Allowed exit codes are: [0]. \
         Original Provisioning error: Script exited with non-zero exit status: 4.Allowed exit codes are: [0]"
    );
    // Without -on-error=cleanup neither the cleanup nor its announcement runs.
    let said = |rec: &RecordingReporter| {
        rec.events()
            .iter()
            .filter(|e| matches!(e, Event::StepStarted { step, .. } if step.starts_with("Provisioning step had errors")))
            .count()
    };
    let before = said(&rec);
    let failing = prov(ProvisionerKind::ShellLocal(shell_local(&["exit 4"])));
    std::fs::remove_file(d.path().join("cleaned")).unwrap();
    run_provisioners(&[failing], Some(&cleanup), false, &c, None)
        .await
        .unwrap_err();
    assert_eq!(said(&rec), before);
    assert!(!d.path().join("cleaned").exists());

    let bp = prov(ProvisionerKind::Breakpoint(Breakpoint {
        note: Some(Deferrable::Known("n".into())),
        disable: true,
    }));
    run_one(&bp, &c, None).await.unwrap();
    assert!(rec.events().iter().any(
        |e| matches!(e, Event::StepStarted { step, .. } if step.contains("disabled; continuing"))
    ));
}

#[tokio::test]
async fn remote_provisioners_need_a_connection() {
    let d = tempfile::tempdir().unwrap();
    let (c, _rec) = ctx(d.path(), &Redactor::new());
    let p = prov(ProvisionerKind::File(
        cce_template::schema::provisioners::FileProvisioner {
            source: None,
            sources: None,
            content: Some(Deferrable::Known("x".into())),
            destination: Some(Deferrable::Known("/tmp/x".into())),
            direction: cce_template::schema::provisioners::Direction::Upload,
            generated: false,
        },
    ));
    let e = run_one(&p, &c, None).await.unwrap_err();
    assert!(e.message.contains("communicator = \"none\""), "{e}");
}

#[tokio::test]
async fn tempfile_extension_is_taken_with_or_without_its_dot() {
    let d = tempfile::tempdir().unwrap();
    let (c, rec) = ctx(d.path(), &Redactor::new());
    for ext in ["sh", ".sh"] {
        let mut s = shell_local(&["echo $0"]);
        s.tempfile_extension = Some(ext.into());
        run_one(&prov(ProvisionerKind::ShellLocal(s)), &c, None)
            .await
            .unwrap();
    }
    let lines = stdout_lines(&rec);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        let name = l.rsplit('/').next().unwrap_or_default();
        assert!(
            name.starts_with("packer-shell") && name.ends_with(".sh") && !name.ends_with("..sh"),
            "{l}"
        );
    }
}
