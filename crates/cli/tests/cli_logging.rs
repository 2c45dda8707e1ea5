//! The debug log as `PACKER_LOG`/`PACKER_LOG_PATH` switch it: real cloud calls against an
//! in-process local cloud are logged with their request line, headers, body and status, and no
//! credential (nor a secret registered after logging started) reaches the file in any form; the
//! real binary creates the file the user's `packer.sh` names.

#[path = "../src/logging.rs"]
#[allow(dead_code)]
mod logging;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use cce_cloud::{Client, ClientConfig, EndpointsFile};
use cce_engine::redact::forms_of;
use cce_localcloud::{Config, LocalCloud};

const BIN: &str = env!("CARGO_BIN_EXE_cce-image-builder");
const LATE_SECRET: &str = "img-late-secret-7f3a9c";
const TOKEN: &str = "temporary-security-token-0123456789";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Panics naming the form when any transformed form of `secret` is in `log`.
fn assert_absent(log: &str, what: &str, secret: &str) {
    for form in forms_of(secret) {
        assert!(
            !log.contains(&form),
            "{what} appears in the log in the form {form:?}:\n{log}"
        );
    }
}

// The only test of this file that installs the process-wide subscriber (it can be set once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_calls_are_logged_without_credentials_in_any_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redactor = logging::redactor();
    let guard = logging::setup(
        &env(&[("PACKER_LOG", "1"), ("PACKER_LOG_PATH", "packer_test.log")]),
        dir.path(),
        redactor.clone(),
    )
    .expect("logging starts");
    let log_path = dir.path().join("packer_test.log");
    assert_eq!(guard.path(), Some(log_path.as_path()));
    assert!(guard.enabled());

    let h = LocalCloud::start(Config::new(dir.path().join("state")))
        .await
        .expect("the local cloud starts");
    let file = EndpointsFile::parse(&h.ready_line(), "ready line").expect("ready line parses");
    let mut config = ClientConfig::from_endpoints_file(&file, &HashMap::new()).expect("config");
    // A temporary token travels in its own header, which must be masked too.
    config.credentials.security_token = Some(TOKEN.to_string());
    let client = Client::new(config).expect("client");

    let zones = client.list_availability_zones().await.expect("zones");
    assert!(!zones.is_empty());
    // The cloud generates the private key and returns it in the response body.
    let keypair = client
        .create_keypair("cce-log-test-kp", None)
        .await
        .expect("keypair");
    let private_key = keypair
        .private_key
        .clone()
        .expect("a generated private key");
    // Registered after logging started, then sent in a URL: the shared redactor hides it.
    redactor.add(LATE_SECRET).expect("long enough");
    let missing = client.show_image(LATE_SECRET).await.expect("lookup");
    assert!(missing.is_none());

    let log = std::fs::read_to_string(&log_path).expect("the log file exists");
    assert!(log.contains("cce-image-builder version"), "{log}");
    assert!(
        log.contains("request GET http://127.0.0.1:"),
        "no request line:\n{log}"
    );
    assert!(
        log.contains("response 200 to GET http://127.0.0.1:"),
        "no response status:\n{log}"
    );
    assert!(log.contains("request POST http://127.0.0.1:"), "{log}");
    assert!(
        log.contains(r#""name":"cce-log-test-kp""#),
        "no request body:\n{log}"
    );
    assert!(log.contains("elapsed_ms="), "no elapsed time:\n{log}");
    assert!(
        log.contains("Access=<sensitive>, SignedHeaders="),
        "Authorization is not shown masked:\n{log}"
    );
    assert!(log.contains("X-Security-Token: <sensitive>"), "{log}");
    assert!(
        log.contains("cloudimages?id=<sensitive>"),
        "the late secret is not replaced in the URL:\n{log}"
    );
    assert_absent(&log, "the access key", &h.access_key);
    assert_absent(&log, "the secret key", &h.secret_key);
    assert_absent(&log, "the security token", TOKEN);
    assert_absent(&log, "the generated private key", &private_key);
    assert_absent(&log, "the secret registered after setup", LATE_SECRET);
}

fn template_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("t.pkr.hcl"),
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
    )
    .expect("write template");
    dir
}

fn validate(cwd: &Path, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["validate", "."]).current_dir(cwd);
    cmd.env_remove("PACKER_LOG").env_remove("PACKER_LOG_PATH");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

#[test]
fn the_binary_writes_the_file_packer_sh_names() {
    let dir = template_dir();
    let o = validate(
        dir.path(),
        &[
            ("PACKER_LOG", "1"),
            ("PACKER_LOG_PATH", "packer_20261125165500.log"),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let log = std::fs::read_to_string(dir.path().join("packer_20261125165500.log"))
        .expect("the log file is created in the working directory");
    assert!(log.contains("cce-image-builder version"), "{log}");
}

#[test]
fn the_binary_writes_no_log_when_packer_log_is_off() {
    let dir = template_dir();
    for value in ["0", ""] {
        let o = validate(
            dir.path(),
            &[("PACKER_LOG", value), ("PACKER_LOG_PATH", "off.log")],
        );
        assert!(o.status.success(), "{o:?}");
        assert!(
            !dir.path().join("off.log").exists(),
            "PACKER_LOG={value:?} created a log"
        );
    }
    let o = validate(dir.path(), &[("PACKER_LOG", "1")]);
    assert!(o.status.success(), "{o:?}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("cce-image-builder version"),
        "without PACKER_LOG_PATH the log goes to stderr: {stderr}"
    );
}

#[test]
fn an_unwritable_log_path_is_a_clear_error() {
    let dir = template_dir();
    let o = validate(
        dir.path(),
        &[
            ("PACKER_LOG", "1"),
            ("PACKER_LOG_PATH", "missing/dir/p.log"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("missing/dir/p.log") && stderr.contains("PACKER_LOG_PATH"),
        "{stderr}"
    );
}

#[test]
fn a_build_with_packer_log_keeps_its_secrets_out_of_the_log() {
    let secret = "S3cr3t-Passw0rd-42";
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("t.pkr.hcl"),
        r#"variable "password" {
  type      = string
  sensitive = true
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["echo pw=${var.password}", "echo b64=$(printf %s '${var.password}' | base64)"]
  }
}
"#,
    )
    .expect("write template");
    let o = Command::new(BIN)
        .args(["build", "."])
        .current_dir(dir.path())
        .env("PACKER_LOG", "1")
        .env("PACKER_LOG_PATH", "packer_build.log")
        .env("PKR_VAR_password", secret)
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{o:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("pw=<sensitive>"), "{stdout}");
    let log = std::fs::read_to_string(dir.path().join("packer_build.log"))
        .expect("the build wrote its log");
    assert!(log.contains("cce-image-builder version"), "{log}");
    assert_absent(&log, "the sensitive variable", secret);
    assert_absent(
        &String::from_utf8_lossy(&o.stderr),
        "the sensitive variable",
        secret,
    );
}
