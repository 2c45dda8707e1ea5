//! Post-processors through their public entry point with real files and processes: the
//! manifest's `strip_path`, `keep_input_artifact = false` (kept anyway, as in Packer, with a
//! warning), and the shell-local post-processor's `BUILD (shell-local)` lines and one-string
//! `execute_command`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use cce_engine::events::{Event, RecordingReporter, Stream};
use cce_engine::postprocess::{ArtifactInfo, post_process};
use cce_engine::provision::BuildContext;
use cce_engine::redact::Redactor;
use cce_template::schema::Build;
use cce_template::schema::fields::Deferrable;
use cce_template::schema::post_processors::{Manifest, PostProcessor, PostProcessorKind};
use cce_template::schema::provisioners::ShellLocal;

fn ctx(dir: &std::path::Path) -> (BuildContext, Arc<RecordingReporter>) {
    common::recorded_context(dir, &Redactor::new(), BTreeMap::new())
}

fn pp(kind: PostProcessorKind, keep: Option<bool>) -> PostProcessor {
    PostProcessor {
        kind,
        name: None,
        keep_input_artifact: keep,
        only: Vec::new(),
        except: Vec::new(),
        span: None,
    }
}

fn build(chain: Vec<PostProcessor>) -> Build {
    Build {
        name: Some("b".into()),
        description: None,
        sources: Vec::new(),
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: vec![chain],
    }
}

fn manifest(output: &str, strip_path: bool) -> PostProcessorKind {
    PostProcessorKind::Manifest(Manifest {
        output: Deferrable::Known(output.into()),
        strip_path,
        strip_time: true,
        custom_data: None,
    })
}

#[tokio::test]
async fn manifest_strip_path_writes_file_names_alone() {
    let d = tempfile::tempdir().unwrap();
    let disk = d.path().join("out/disk.qcow2");
    std::fs::create_dir_all(disk.parent().unwrap()).unwrap();
    std::fs::write(&disk, b"12345").unwrap();
    let artifact = ArtifactInfo {
        builder_id: "fnoeding.null".into(),
        id: "Null".into(),
        files: vec![disk.clone()],
    };
    let (c, _rec) = ctx(d.path());
    let b = build(vec![
        pp(manifest("full.json", false), None),
        pp(manifest("stripped.json", true), None),
    ]);
    post_process(&b, &artifact, &c).await.unwrap();
    let read = |n: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.path().join(n)).unwrap()).unwrap()
    };
    let full = read("full.json");
    assert_eq!(
        full["builds"][0]["files"],
        serde_json::json!([{"name": disk.display().to_string(), "size": 5}])
    );
    let stripped = read("stripped.json");
    assert_eq!(
        stripped["builds"][0]["files"],
        serde_json::json!([{"name": "disk.qcow2", "size": 5}])
    );
    assert!(stripped["builds"][0].get("build_time").is_none());
}

#[tokio::test]
async fn keep_input_artifact_false_is_ignored_with_a_warning_and_shell_local_is_prefixed() {
    let d = tempfile::tempdir().unwrap();
    let (c, rec) = ctx(d.path());
    let shell = ShellLocal {
        command: None,
        inline: Some(Deferrable::Known(vec![
            "echo pp-out $PACKER_BUILD_NAME".into(),
        ])),
        script: None,
        scripts: None,
        environment_vars: None,
        env: None,
        env_var_format: None,
        // The old one-string form: Packer runs it through `sh -c`.
        execute_command: Some(Deferrable::Known(vec![
            "{{.Vars}} /bin/sh {{.Script}} > one-string.txt".into(),
        ])),
        inline_shebang: None,
        only_on: Vec::new(),
        valid_exit_codes: vec![0],
        use_linux_pathing: false,
        tempfile_extension: None,
    };
    let b = build(vec![
        pp(PostProcessorKind::ShellLocal(shell), Some(false)),
        pp(manifest("m.json", false), Some(true)),
    ]);
    let artifact = ArtifactInfo {
        builder_id: "fnoeding.null".into(),
        id: "Null".into(),
        files: Vec::new(),
    };
    post_process(&b, &artifact, &c).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("one-string.txt")).unwrap(),
        "pp-out a\n"
    );
    let events = rec.events();
    let warnings: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        [
            "the shell-local post-processor keeps its input artifact; keep_input_artifact = false is ignored, as in Packer"
        ]
    );
    // The manifest still records the artifact the shell-local step received.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(m["builds"][0]["artifact_id"], "Null");
    // Lines of the shell-local step carry Packer's `BUILD (TYPE)` prefix; the rest do not.
    let steps: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { build, step } => Some((build.clone(), step.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps[0],
        (
            "b.null.a".into(),
            "Running post-processor:  (type shell-local)".into()
        )
    );
    assert_eq!(steps[1].0, "b.null.a (shell-local)");
    assert!(
        steps[1].1.starts_with("Running local shell script: "),
        "{steps:?}"
    );
    assert_eq!(
        steps[2],
        (
            "b.null.a".into(),
            "Running post-processor:  (type manifest)".into()
        )
    );
    assert!(!events.iter().any(|e| matches!(
        e,
        Event::Output {
            stream: Stream::Stdout,
            ..
        }
    )));
}
