//! Compares our evaluation of variables and locals with the real `packer` on the same templates:
//! the values `packer inspect` prints must be the ones `cce-image-builder inspect --json` gives,
//! and `packer validate` and `cce-image-builder validate` must agree on which inputs are invalid.
//! The templates hold only variables and locals, which every Packer since 1.6 evaluates alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn packer_available() -> bool {
    match Command::new("packer").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "packer is required under CI=true but is not installed");
            eprintln!("skipping: packer is not installed");
            false
        }
    }
}

fn run(bin: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin);
    c.env_clear().current_dir(dir).args(args);
    // packer needs a home for its config; nothing else of the environment leaks in.
    c.env("HOME", dir).env("PACKER_CHECKPOINT_DISABLE", "1").env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the command runs")
}

fn ours(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run(env!("CARGO_BIN_EXE_cce-image-builder"), dir, args, env)
}

/// Undoes the Go quoting of `packer inspect` values (`"a\n"`).
fn unquote(s: &str) -> String {
    let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `local.NAME` → value from `packer inspect` text.
fn packer_locals(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("local."))
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), unquote(v)))
        .collect()
}

/// `local.NAME` → value from our JSON, scalars as text.
fn our_locals(out: &[u8]) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(out).expect("inspect --json prints JSON");
    v["locals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let text = match &l["value"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (l["name"].as_str().unwrap_or_default().to_string(), text)
        })
        .collect()
}

const TEMPLATE: &str = r#"variable "n" {
  type    = number
  default = 5
  validation {
    condition     = var.n > 3
    error_message = "The n must be more than 3."
  }
}
variable "l" {
  type    = list(string)
  default = ["a", "b"]
}
variable "objs" {
  type    = list(object({ name = string, size = number }))
  default = [{ name = "sys", size = 40 }, { name = "data", size = "100" }]
}
variable "m" {
  type    = map(string)
  default = { k = 1 }
}
variable "flag" {
  type    = bool
  default = "true"
}
variable "set_s" {
  type    = set(string)
  default = ["b", "a", "c", "a"]
}
variable "set_n" {
  type    = set(number)
  default = [10, 2]
}
variable "from_files" {
  type    = string
  default = "default"
}
locals {
  a = "x-${var.n + 1}"
  b = join(",", [for s in var.l : upper(s)])
  c = try(local.nope, "fallback")
  d = "${"5" + 1}"
  e = "${can(var.l[5])}"
  f = join(",", var.objs[*].name)
  g = "${var.objs[1].size * 2}"
  h = var.m["k"]
  i = "%{ for x in var.l }${x};%{ endfor }"
  j = "${5 / 2}"
  k = "${10 % 3}"
  l = "${!false && var.flag}"
  o = var.n > 3 ? "big" : "small"
  p = <<-EOT
    hello
      ${var.l[0]}
    EOT
  q = "${var.n == "5"}"
  s = "${local.a}/${var.from_files}"
  t = join(",", [for k, v in { b = 2, a = 1 } : "${k}=${v}"])
  u = join(",", var.set_s)
  v = "%{ for n in var.set_n }${n};%{ endfor }"
}
"#;

fn template_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.pkr.hcl"), TEMPLATE).unwrap();
    std::fs::write(d.path().join("x.auto.pkrvars.hcl"), "from_files = \"auto\"\n").unwrap();
    std::fs::write(d.path().join("v.pkrvars.hcl"), "from_files = \"var-file\"\nn = \"9\"\n").unwrap();
    std::fs::write(d.path().join("undeclared.pkrvars.hcl"), "not_declared = 1\n").unwrap();
    std::fs::write(d.path().join("bad-type.pkrvars.hcl"), "l = \"not a list\"\n").unwrap();
    d
}

fn compare(args: &[&str], env: &[(&str, &str)]) {
    let d = template_dir();
    let mut pk_args = vec!["inspect"];
    pk_args.extend(args);
    pk_args.push(".");
    let pk = run("packer", d.path(), &pk_args, env);
    assert!(pk.status.success(), "packer inspect failed: {}", String::from_utf8_lossy(&pk.stderr));
    let mut our_args = vec!["inspect", "--json"];
    our_args.extend(args);
    our_args.push(".");
    let us = ours(d.path(), &our_args, env);
    assert!(us.status.success(), "our inspect failed: {}", String::from_utf8_lossy(&us.stderr));
    let theirs = packer_locals(&String::from_utf8_lossy(&pk.stdout));
    assert_eq!(theirs.len(), 19, "packer printed {theirs:?}");
    assert_eq!(our_locals(&us.stdout), theirs, "args {args:?} env {env:?}");
}

#[test]
fn locals_evaluate_as_in_packer() {
    if !packer_available() {
        return;
    }
    compare(&[], &[]);
}

#[test]
fn values_and_their_precedence_match_packer() {
    if !packer_available() {
        return;
    }
    compare(&["-var", "l=[\"z\", 1]", "-var", "flag=false"], &[("PKR_VAR_n", "7")]);
    compare(&["-var-file", "v.pkrvars.hcl"], &[("PKR_VAR_n", "7"), ("PKR_VAR_from_files", "env")]);
    compare(&["-var-file", "v.pkrvars.hcl", "-var", "n=4", "-var", "from_files=cli"], &[]);
    compare(&[], &[("PKR_VAR_l", "[\"q\", \"r\"]"), ("PKR_VAR_flag", "false"), ("PKR_VAR_objs", "[{name = \"o\", size = 1}, {name = \"p\", size = \"7\"}]")]);
}

/// Arguments, environment, and the exit code both must give.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], i32);

#[test]
fn both_refuse_the_same_inputs() {
    if !packer_available() {
        return;
    }
    let cases: &[Case] = &[
        (&["-var", "n=abc"], &[], 1),
        (&["-var", "undeclared=1"], &[], 1),
        (&["-var", "n=2"], &[], 1),
        (&["-var", "flag=maybe"], &[], 1),
        (&["-var", "l={a = 1}"], &[], 1),
        (&[], &[("PKR_VAR_n", "x")], 1),
        (&[], &[], 0),
        (&["-var", "n=4"], &[("PKR_VAR_n", "1")], 0),
        (&["-var-file", "v.pkrvars.hcl"], &[], 0),
        (&["-var-file", "undeclared.pkrvars.hcl"], &[], 0),
        (&["-var-file", "bad-type.pkrvars.hcl"], &[], 1),
        (&["-var", "objs=[{name = \"x\"}]"], &[], 1),
    ];
    for (args, env, code) in cases {
        let d = template_dir();
        let mut a = vec!["validate"];
        a.extend(*args);
        a.push(".");
        let pk = run("packer", d.path(), &a, env);
        let us = ours(d.path(), &a, env);
        assert_eq!(pk.status.code(), Some(*code), "{args:?} {env:?}: packer said {}", String::from_utf8_lossy(&pk.stderr));
        assert_eq!(
            us.status.code(),
            pk.status.code(),
            "{args:?} {env:?}: packer said {}, we said {}",
            String::from_utf8_lossy(&pk.stderr),
            String::from_utf8_lossy(&us.stderr)
        );
    }
}

const BUILDS: &str = r#"source "null" "a" {
  communicator = "none"
}
source "null" "b" {
  communicator = "none"
}
build {
  sources = ["source.null.a", "source.null.b"]
  provisioner "shell-local" {
    name   = "first"
    inline = ["echo ${build.ID}"]
  }
  provisioner "shell-local" {
    inline = ["echo 2"]
  }
  post-processor "manifest" {}
  post-processors {
    post-processor "checksum" {
      checksum_types = ["md5"]
    }
    post-processor "shell-local" {
      inline = ["echo done"]
    }
  }
}
build {
  name = "second"
  source "source.null.a" {
    name = "renamed"
  }
}
"#;

#[test]
fn builds_are_listed_as_packer_lists_them() {
    if !packer_available() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.pkr.hcl"), BUILDS).unwrap();
    let section = |o: &Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.find("> builds:").map(|i| text[i..].to_string()).unwrap_or(text)
    };
    let pk = run("packer", d.path(), &["inspect", "."], &[]);
    assert!(pk.status.success(), "{}", String::from_utf8_lossy(&pk.stderr));
    let us = ours(d.path(), &["inspect", "."], &[]);
    assert!(us.status.success(), "{}", String::from_utf8_lossy(&us.stderr));
    assert!(section(&pk).contains("shell-local.first"), "{}", section(&pk));
    assert_eq!(section(&us), section(&pk));
}

#[test]
fn both_refuse_the_same_templates() {
    if !packer_available() {
        return;
    }
    let cases: &[(&str, i32)] = &[
        ("locals {\n  x = env(\"HOME\")\n}\n", 1),
        ("locals {\n  x = var.nope\n}\n", 1),
        ("variable \"a\" {\n  default = \"x\"\n}\nvariable \"a\" {\n  default = \"y\"\n}\n", 1),
        ("locals {\n  x = uper(\"a\")\n}\n", 1),
        ("sourse \"null\" \"a\" {}\n", 1),
        ("variable \"n\" {\n  type    = number\n  default = \"x\"\n}\n", 1),
        ("variable \"n\" {\n  type = number\n}\n", 1),
        ("variable \"n\" {\n  default = 1\n  validation {\n    condition     = var.n > 1\n    error_message = \"The n must be more than 1.\"\n  }\n}\n", 1),
        ("variable \"t\" {\n  type = strng\n}\n", 1),
        ("locals {\n  x = [1 2]\n}\n", 1),
        ("variable \"n\" {\n  type    = number\n  default = \"5\"\n}\nlocals {\n  x = try(local.y, var.n + 1)\n  y = can(var.m)\n}\n", 0),
        ("variable \"k\" {\n  default = env(\"HOME\")\n}\n", 0),
    ];
    for (tpl, code) in cases {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("t.pkr.hcl"), tpl).unwrap();
        let pk = run("packer", d.path(), &["validate", "."], &[]);
        assert_eq!(pk.status.code(), Some(*code), "{tpl}: packer said {}", String::from_utf8_lossy(&pk.stderr));
        let us = ours(d.path(), &["validate", "."], &[]);
        assert_eq!(us.status.code(), Some(*code), "{tpl}: we said {}", String::from_utf8_lossy(&us.stderr));
    }
}
