//! `inspect` through the real binary: values with where they came from, masking, builds in order.

mod common;

use common::{run_clean as run, text};

const TPL: &str = r#"variable "region" {
  default = "ru-moscow-1"
}
variable "secret_key" {
  type      = string
  sensitive = true
}
locals {
  image = "cce-${var.region}"
  auth  = "Basic ${var.secret_key}"
}
source "huaweicloud-ecs" "builder" {
  region = var.region
}
build {
  name    = "node"
  sources = ["source.huaweicloud-ecs.builder"]
  provisioner "shell" {
    name   = "prepare"
    inline = ["echo ${build.ID}"]
  }
  provisioner "file" {
    source      = "a"
    destination = "/b"
  }
  post-processor "manifest" {}
}
"#;

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.pkr.hcl"), TPL).unwrap();
    d
}

/// `ARGS` in `dir` with `env`: it succeeds; its stdout.
fn inspect_ok(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = run(dir, args, env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    text(&o.stdout)
}

/// `inspect --json turbo-node.pkr.hcl` in `dir` with `env`: it succeeds and shows neither key.
fn inspect_json(dir: &std::path::Path, env: &[(&str, &str)]) -> (String, serde_json::Value) {
    let out = inspect_ok(dir, &["inspect", "--json", "turbo-node.pkr.hcl"], env);
    assert!(
        !out.contains("AKEXAMPLE") && !out.contains("SKEXAMPLE"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (out, v)
}

#[test]
fn text_shows_values_sources_and_steps_in_order() {
    let d = setup();
    let out = inspect_ok(
        d.path(),
        &["inspect", "-var", "region=kz-1", "."],
        &[("PKR_VAR_secret_key", "TOPSECRET")],
    );
    assert!(out.starts_with("Packer Inspect: HCL2 mode\n"), "{out}");
    assert!(out.contains("var.region: \"kz-1\" [-var]"), "{out}");
    assert!(
        out.contains("var.secret_key: \"<sensitive>\" [environment PKR_VAR_secret_key]"),
        "{out}"
    );
    assert!(!out.contains("TOPSECRET"), "{out}");
    assert!(out.contains("local.image: \"cce-kz-1\""), "{out}");
    // A local built from a secret is masked too.
    assert!(out.contains("local.auth: \"<sensitive>\""), "{out}");
    assert!(out.contains("  huaweicloud-ecs.builder\n"), "{out}");
    let prep = out.find("shell.prepare").expect("shell provisioner listed");
    let file = out.find("      file\n").expect("file provisioner listed");
    assert!(prep < file, "{out}");
    assert!(out.contains("  > node:"), "{out}");
    assert!(out.contains("manifest"), "{out}");
}

#[test]
fn json_form() {
    let d = setup();
    let v: serde_json::Value = serde_json::from_str(&inspect_ok(
        d.path(),
        &["inspect", "--json", "."],
        &[("PKR_VAR_secret_key", "TOPSECRET")],
    ))
    .unwrap();
    assert_eq!(v["variables"][0]["value"], "ru-moscow-1");
    assert_eq!(v["variables"][0]["source"], "default");
    assert_eq!(v["variables"][1]["value"], "<sensitive>");
    assert_eq!(v["sources"][0], "huaweicloud-ecs.builder");
    assert_eq!(v["builds"][0]["name"], "node");
    assert_eq!(v["builds"][0]["provisioners"][0]["type"], "shell");
    assert_eq!(v["builds"][0]["provisioners"][1]["type"], "file");
    assert_eq!(v["builds"][0]["post_processors"][0][0]["type"], "manifest");
}

#[test]
fn json_carries_the_typed_plan_when_the_template_is_valid() {
    let d = tempfile::tempdir().unwrap();
    let valid = TURBO_NODE.replace("echo foo", "echo ${var.secret_key}").replace(
        "ssh_username      = \"root\"",
        "ssh_username      = \"root\"\n  image_name        = \"cce-node\"\n  source_image      = \"img-1\"",
    );
    std::fs::write(d.path().join("turbo-node.pkr.hcl"), &valid).unwrap();
    let env = [
        ("REGION_NAME", "ru-moscow-1"),
        ("IAM_ACCESS_KEY", "AKEXAMPLE"),
        ("IAM_SECRET_KEY", "SKEXAMPLE"),
    ];
    let (out, v) = inspect_json(d.path(), &env);
    let plan = &v["plan"];
    assert_eq!(
        plan["packer"]["required_plugins"][0]["version"], "= 0.4.0",
        "{out}"
    );
    let ecs = &plan["builds"][0]["sources"][0]["config"]["huaweicloud-ecs"];
    assert_eq!(ecs["access_key"], "<sensitive>", "{out}");
    assert_eq!(ecs["secret_key"], "<sensitive>", "{out}");
    assert_eq!(ecs["region"], "ru-moscow-1", "{out}");
    assert_eq!(ecs["flavor"], "s7n.large.2", "{out}");
    let provisioners = &plan["builds"][0]["provisioners"];
    assert_eq!(
        provisioners[1]["kind"]["scripts"]["known"][1], "user-scripts/step2.sh",
        "{out}"
    );
    // A secret inside a provisioner's command is masked as well.
    assert_eq!(
        provisioners[2]["kind"]["inline"]["known"][0], "<sensitive>",
        "{out}"
    );

    // A template with errors still inspects, without a plan.
    std::fs::write(
        d.path().join("turbo-node.pkr.hcl"),
        valid.replace("  image_name        = \"cce-node\"\n", ""),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&inspect_ok(
        d.path(),
        &["inspect", "--json", "turbo-node.pkr.hcl"],
        &env,
    ))
    .unwrap();
    assert!(v.get("plan").is_none(), "{v}");
    assert_eq!(v["builds"][0]["provisioners"][0]["type"], "file");
}

#[test]
fn unset_variables_show_as_unknown_like_packer() {
    let d = setup();
    let out = inspect_ok(d.path(), &["inspect", "."], &[]);
    assert!(
        out.contains("var.secret_key: \"<sensitive>\" [unset]"),
        "{out}"
    );
}

#[test]
fn load_errors_exit_1() {
    let d = setup();
    let o = run(d.path(), &["inspect", "-var", "nope=1", "."], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("undeclared variable \"nope\" given with -var")
    );
}

/// The shape of the kit's turbo-node.pkr.hcl: credentials and ids come from the environment
/// through env() defaults, optional ones through PKR_VAR_*.
const TURBO_NODE: &str = r#"packer {
  required_plugins {
    huaweicloud = {
      version = "= 0.4.0"
      source  = "github.com/huaweicloud/huaweicloud"
    }
  }
}

variable "region" {
  type    = string
  default = env("REGION_NAME")
}
variable "access_key" {
  type      = string
  default   = env("IAM_ACCESS_KEY")
  sensitive = true
}
variable "secret_key" {
  type      = string
  default   = env("IAM_SECRET_KEY")
  sensitive = true
}
variable "ecs_az" {
  type    = string
  default = ""
}
variable "ecs_flavor" {
  type    = string
  default = "s7n.large.2"
}

source "huaweicloud-ecs" "builder" {
  region            = var.region
  access_key        = var.access_key
  secret_key        = var.secret_key
  availability_zone = var.ecs_az
  flavor            = var.ecs_flavor
  ssh_username      = "root"
}

build {
  sources = ["source.huaweicloud-ecs.builder"]
  provisioner "file" {
    source      = "user-packages/"
    destination = "/tmp/user-packages"
  }
  provisioner "shell" {
    scripts = ["user-scripts/step1.sh", "user-scripts/step2.sh"]
  }
  provisioner "shell" {
    inline = ["echo foo"]
  }
}
"#;

#[test]
fn turbo_node_values_come_from_the_environment() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("turbo-node.pkr.hcl"), TURBO_NODE).unwrap();
    let env = [
        ("REGION_NAME", "ru-moscow-1"),
        ("IAM_ACCESS_KEY", "AKEXAMPLE"),
        ("IAM_SECRET_KEY", "SKEXAMPLE"),
        ("PKR_VAR_ecs_az", "ru-moscow-1b"),
    ];
    let (_, v) = inspect_json(d.path(), &env);
    let by_name = |n: &str| {
        v["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("region")["value"], "ru-moscow-1");
    assert_eq!(by_name("access_key")["value"], "<sensitive>");
    assert_eq!(by_name("ecs_az")["value"], "ru-moscow-1b");
    assert_eq!(by_name("ecs_az")["source"], "environment PKR_VAR_ecs_az");
    assert_eq!(by_name("ecs_flavor")["source"], "default");
    let provs: Vec<&str> = v["builds"][0]["provisioners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(provs, ["file", "shell", "shell"]);

    let o = run(d.path(), &["init", "turbo-node.pkr.hcl"], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("satisfies \"= 0.4.0\""));
}
