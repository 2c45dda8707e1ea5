//! `console` through the binary: piped expressions print the last result as `packer console`
//! prints it (compared with the real Packer where it is installed; under `CI=true` it must be),
//! an error stops with exit 1 and its position, a sensitive variable shows as `<sensitive>`, and
//! on a terminal every line gets its answer and an error does not end the session.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{BIN, both, project, text};

const TEMPLATE: &str = r#"
variable "region" {
  default = "ru-moscow-1"
}
variable "sizes" {
  default = [40, 50.5]
}
variable "secret_key" {
  default   = "very-secret-console-value"
  sensitive = true
}
locals {
  name = "node-${var.region}"
  tags = { b = "x", a = 1, nested = ["q\"uote", true, null] }
}
"#;

/// The expressions whose printed form is compared with Packer's.
const EXPRESSIONS: &[&str] = &[
    "var.region",
    "upper(local.name)",
    "local.tags",
    "var.sizes",
    "[]",
    "{}",
    "1 + 2",
    "7 / 2",
    "\"a\\nb\"",
    "[\"a\\nb\", \"t\\tc\"]",
    "null",
    "length(local.tags)",
    "jsonencode({x = 1})",
    "split(\",\", \"a,b\")",
    "cidrsubnet(\"10.0.0.0/16\", 8, 2)",
];

fn console(bin: &str, dir: &Path, input: &str, args: &[&str]) -> Output {
    let mut child = Command::new(bin)
        .arg("console")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("it ends")
}

fn packer_available() -> bool {
    match Command::new("packer").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "packer is required under CI=true but is not installed"
            );
            eprintln!("skipping the comparison: packer is not installed");
            false
        }
    }
}

#[test]
fn piped_lines_print_the_last_result_as_packer_does() {
    let d = project(TEMPLATE);
    let o = console(
        BIN,
        d.path(),
        "var.region\nupper(local.name)\n",
        &["t.pkr.hcl"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert_eq!(text(&o.stdout), "NODE-RU-MOSCOW-1\n");
    let o = console(
        BIN,
        d.path(),
        "local.tags\n",
        &["-var", "region=x", "t.pkr.hcl"],
    );
    assert_eq!(
        text(&o.stdout),
        "{\n  \"a\" = 1\n  \"b\" = \"x\"\n  \"nested\" = [\n    \"q\\\"uote\",\n    true,\n    null,\n  ]\n}\n"
    );
    let o = console(
        BIN,
        d.path(),
        "local.name\n",
        &["-var", "region=ru-moscow-2", "t.pkr.hcl"],
    );
    assert_eq!(text(&o.stdout), "node-ru-moscow-2\n");
    // Without a template only functions are in scope.
    let o = console(BIN, d.path(), "max(1, 5, 3)\n", &[]);
    assert_eq!(text(&o.stdout), "5\n", "{}", both(&o));
    if !packer_available() {
        return;
    }
    for expr in EXPRESSIONS {
        let input = format!("{expr}\n");
        let packer = console("packer", d.path(), &input, &["t.pkr.hcl"]);
        let ours = console(BIN, d.path(), &input, &["t.pkr.hcl"]);
        assert_eq!(
            packer.status.code(),
            Some(0),
            "packer on {expr}: {}",
            both(&packer)
        );
        assert_eq!(
            text(&ours.stdout),
            text(&packer.stdout),
            "{expr}: {}",
            both(&ours)
        );
    }
}

#[test]
fn errors_stop_with_their_position_and_secrets_stay_hidden() {
    let d = project(TEMPLATE);
    let o = console(BIN, d.path(), "1 + 1\nlocal.nope\n2\n", &["t.pkr.hcl"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(
        err.contains("local.nope") && err.contains("<console-input>:1:1"),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
    let o = console(BIN, d.path(), "var.secret_key\n", &["t.pkr.hcl"]);
    assert_eq!(text(&o.stdout), "<sensitive>\n");
    let o = console(
        BIN,
        d.path(),
        "\"key: ${var.secret_key}\"\n",
        &["t.pkr.hcl"],
    );
    assert!(
        !text(&o.stdout).contains("very-secret"),
        "{}",
        text(&o.stdout)
    );
    let o = console(BIN, d.path(), "1\n", &["-config-type=json", "t.pkr.hcl"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
}

#[test]
fn on_a_terminal_every_line_is_answered_and_an_error_does_not_end_it() {
    let d = project(TEMPLATE);
    // `script` gives the console a terminal; the lines come from the pipe into it.
    let cmd = format!("{BIN} console t.pkr.hcl");
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(d.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"var.region\nnope(\n1+1\nexit\n")
        .expect("write");
    let o = child.wait_with_output().expect("it ends");
    let out = text(&o.stdout).replace('\r', "");
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("> ru-moscow-1\n"), "{out}");
    assert!(out.contains("invalid expression"), "{out}");
    assert!(out.contains("> 2\n"), "{out}");
}
