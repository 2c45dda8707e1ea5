//! Helpers of the engine tests: for those that drive an in-process local cloud, a signed client
//! built from its ready line (as the command line builds one) and the check that this host can
//! run sandbox servers; for the journal tests, a build header; for the provisioner tests, a
//! provisioner block, a build context and the client config of the test sshd.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use cce_cloud::{Client, ClientConfig, EndpointsFile};
use cce_engine::events::RecordingReporter;
use cce_engine::ledger::{BuildHeader, CloudKind, CloudTarget};
use cce_engine::provision::BuildContext;
use cce_engine::redact::Redactor;
use cce_localcloud::LocalCloudHandle;
use cce_remote::{Auth, SshConfig};
use cce_template::load::{LoadOptions, load};
use cce_template::schema::BuildPlan;
use cce_template::schema::fields::Deferrable;
use cce_template::schema::provisioners::ShellLocal;
use cce_template::schema::{Provisioner, ProvisionerKind};
use cce_testkit::TestSshd;

/// The build plan of `template`, written as `build.pkr.hcl` into `dir` and loaded from there.
pub fn plan(dir: &Path, template: &str) -> BuildPlan {
    let path = dir.join("build.pkr.hcl");
    std::fs::write(&path, template).expect("template written");
    let opts = LoadOptions {
        path: path.clone(),
        cwd: dir.to_path_buf(),
        ..Default::default()
    };
    let loaded = load(&opts)
        .unwrap_or_else(|e| panic!("template loads: {}", e.diagnostics.render(&e.sources)));
    let (plan, diags) = cce_template::schema::plan_with_env(&loaded.blocks, &BTreeMap::new());
    assert!(!diags.has_errors(), "{}", diags.render(&loaded.sources));
    plan.expect("a plan")
}

/// The client configuration of the local cloud's ready line.
pub fn client_config(h: &LocalCloudHandle) -> ClientConfig {
    let file = EndpointsFile::parse(&h.ready_line(), "ready line")
        .expect("the ready line is an endpoints file");
    ClientConfig::from_endpoints_file(&file, &HashMap::new()).expect("config")
}

/// A signed client of the local cloud.
pub fn client(h: &LocalCloudHandle) -> Client {
    Client::new(client_config(h)).expect("client")
}

/// Whether this host can run sandbox servers. Under `CI=true` it must: the test fails;
/// otherwise the test is skipped with a message.
pub fn sandbox_prerequisites() -> bool {
    match cce_sandbox::host_supports_sandboxes() {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and local-cloud sandboxes cannot run: {e}")
        }
        Err(e) => {
            eprintln!("skipping: {e}");
            false
        }
    }
}

/// The header of a build of `turbo-node.pkr.hcl` by this process on the local cloud in
/// ru-moscow-1, whose state is `local_state_dir`.
pub fn local_header(local_state_dir: Option<&str>) -> BuildHeader {
    BuildHeader {
        build_id: String::new(),
        template: "turbo-node.pkr.hcl".into(),
        cloud: CloudTarget {
            kind: CloudKind::Local,
            region: "ru-moscow-1".into(),
            endpoints_file: None,
            local_state_dir: local_state_dir.map(Into::into),
        },
        pid: std::process::id(),
    }
}

/// A `shell-local` running `lines`, every other field at its default.
pub fn shell_local(lines: &[&str]) -> ShellLocal {
    ShellLocal {
        command: None,
        inline: Some(Deferrable::Known(
            lines.iter().map(|s| s.to_string()).collect(),
        )),
        script: None,
        scripts: None,
        environment_vars: None,
        env: None,
        env_var_format: None,
        execute_command: None,
        inline_shebang: None,
        only_on: Vec::new(),
        valid_exit_codes: vec![0],
        use_linux_pathing: false,
        tempfile_extension: None,
    }
}

/// A provisioner block of `kind` with no name, pause, retry, timeout, filter or override.
pub fn prov(kind: ProvisionerKind) -> Provisioner {
    Provisioner {
        kind,
        name: None,
        pause_before: None,
        max_retries: 0,
        timeout: None,
        only: Vec::new(),
        except: Vec::new(),
        overrides: BTreeMap::new(),
        span: None,
    }
}

/// The context of build `b.null.a` in `dir` with these build `values`, reporting to a recorder.
pub fn recorded_context(
    dir: &Path,
    redactor: &Redactor,
    values: BTreeMap<String, String>,
) -> (BuildContext, Arc<RecordingReporter>) {
    let rec = Arc::new(RecordingReporter::new(redactor.clone()));
    let c = BuildContext {
        display_name: "b.null.a".into(),
        build_name: Some("b".into()),
        source_type: "null".into(),
        source_name: "a".into(),
        run_uuid: "run-1".into(),
        values,
        reporter: rec.clone(),
        cwd: dir.to_path_buf(),
    };
    (c, rec)
}

/// A client config for root on `sshd` with its key and short timeouts suited to tests.
pub fn ssh_config(sshd: &TestSshd) -> SshConfig {
    let mut c = SshConfig::new(
        sshd.addr.clone(),
        "root",
        Auth::private_key(sshd.client_key.clone()),
    );
    c.port = sshd.port;
    c.timeout = std::time::Duration::from_secs(20);
    c.attempt_timeout = std::time::Duration::from_secs(5);
    c.keepalive_interval = std::time::Duration::from_secs(1);
    c
}
