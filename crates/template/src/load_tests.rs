//! Tests of loading: files, values and their precedence, types, validations, locals, blocks,
//! and the position of every error.

use super::*;
use crate::body::AttrValue;
use std::fs;

const TEMPLATE: &str = r#"packer {
  required_plugins {
    huaweicloud = {
      version = ">= 0.4.0"
      source  = "github.com/huaweicloud/huaweicloud"
    }
  }
}

variable "region" {
  type    = string
  default = "ru-moscow-1"
}

variable "disk_size" {
  type        = number
  default     = 40
  description = "system disk size, GiB"
  validation {
    condition     = var.disk_size >= 40
    error_message = "The disk must be at least 40 GiB."
  }
}

variable "secret_key" {
  type      = string
  sensitive = true
  default   = env("HW_SECRET_KEY")
}

locals {
  image_name = "cce-${local.stamp}"
  stamp      = upper(var.region)
}

source "huaweicloud-ecs" "builder" {
  region        = var.region
  image_name    = local.image_name
  ssh_username  = "root"
  volume_size   = var.disk_size
  secret_key    = var.secret_key
}

build {
  sources = ["source.huaweicloud-ecs.builder"]

  provisioner "shell" {
    inline = ["echo ${build.ID} on ${source.name}", "echo ${var.region}"]
  }
  provisioner "file" {
    source      = "files/"
    destination = "/tmp"
  }
}
"#;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Self {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = d.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        Dir(d)
    }

    fn opts(&self) -> LoadOptions {
        LoadOptions { path: self.0.path().to_path_buf(), cwd: self.0.path().to_path_buf(), ..Default::default() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn errors(r: Result<Loaded, LoadError>) -> LoadError {
    match r {
        Ok(l) => panic!("expected errors, loaded {:?}", l.variables),
        Err(e) => e,
    }
}

/// `(summary, line, column)` of every error.
fn located(e: &LoadError) -> Vec<(String, usize, usize)> {
    e.diagnostics
        .errors()
        .map(|d| {
            let (l, c) = d.span.and_then(|s| e.sources.position(s)).map_or((0, 0), |(_, l, c)| (l, c));
            (d.summary.clone(), l, c)
        })
        .collect()
}

fn has(e: &LoadError, summary: &str, line: usize, col: usize) {
    let all = located(e);
    assert!(
        all.iter().any(|(s, l, c)| s.contains(summary) && *l == line && *c == col),
        "no error {summary:?} at {line}:{col} in {all:#?}"
    );
}

fn var<'a>(l: &'a Loaded, name: &str) -> &'a Variable {
    l.variables.iter().find(|v| v.name == name).unwrap()
}

fn with_key() -> BTreeMap<String, String> {
    BTreeMap::from([("HW_SECRET_KEY".to_string(), "s3cr3t".to_string())])
}

#[test]
fn loads_a_folder_into_values_and_blocks() {
    let d = Dir::new(&[("t.pkr.hcl", TEMPLATE)]);
    let l = load(&LoadOptions { env: with_key(), ..d.opts() }).unwrap_or_else(|e| panic!("{}", e.diagnostics.render(&e.sources)));
    assert_eq!(var(&l, "region").value, Some(Value::from("ru-moscow-1")));
    assert_eq!(var(&l, "disk_size").type_expr, "number");
    assert_eq!(var(&l, "secret_key").value, Some(Value::from("s3cr3t")));
    assert_eq!(l.sensitive_values, ["s3cr3t"]);
    // Locals refer to each other in any order.
    assert_eq!(l.locals[0].value, Some(Value::from("cce-RU-MOSCOW-1")));

    let kinds: Vec<&str> = l.blocks.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(kinds, ["packer", "source", "build"]);
    let src = &l.blocks[1];
    assert_eq!(src.labels, ["huaweicloud-ecs", "builder"]);
    let img = src.attribute("image_name").unwrap();
    assert_eq!(img.value, AttrValue::Known(Value::from("cce-RU-MOSCOW-1")));
    assert!(!img.literal);
    assert!(src.attribute("ssh_username").unwrap().literal);
    assert_eq!(l.sources.position(img.name_span).map(|(_, l, c)| (l, c)), Some((38, 3)));

    let build = &l.blocks[2];
    let provs: Vec<&str> = build.blocks_of("provisioner").map(|b| b.labels[0].as_str()).collect();
    assert_eq!(provs, ["shell", "file"]);
    let shell = build.blocks_of("provisioner").next().unwrap();
    assert_eq!(
        shell.attribute("inline").unwrap().value,
        AttrValue::Deferred("[\"echo ${build.ID} on builder\", \"echo ru-moscow-1\"]".into())
    );
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn value_precedence_follows_packer() {
    let tpl = r#"
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "e" { default = "default" }
"#;
    let d = Dir::new(&[
        ("t.pkr.hcl", tpl),
        ("x.auto.pkrvars.hcl", "b = \"auto\"\nc = \"auto\"\nd = \"auto\"\ne = \"auto\"\n"),
        ("one.pkrvars.hcl", "c = \"file1\"\nd = \"file1\"\ne = \"file1\"\n"),
        ("two.pkrvars.hcl", "d = \"file2\"\n"),
    ]);
    let env = BTreeMap::from([
        ("PKR_VAR_a".to_string(), "env".to_string()),
        ("PKR_VAR_b".to_string(), "env".to_string()),
    ]);
    let opts = LoadOptions {
        env,
        var_files: vec![d.path("one.pkrvars.hcl"), d.path("two.pkrvars.hcl")],
        vars: vec![("e".into(), "cli1".into()), ("e".into(), "cli2".into())],
        ..d.opts()
    };
    let l = load(&opts).unwrap();
    let got: Vec<(String, Value, ValueSource)> =
        l.variables.iter().map(|v| (v.name.clone(), v.value.clone().unwrap(), v.source.clone())).collect();
    assert_eq!(
        got,
        [
            ("a".into(), Value::from("env"), ValueSource::Env("PKR_VAR_a".into())),
            ("b".into(), Value::from("auto"), ValueSource::AutoVarFile(d.path("x.auto.pkrvars.hcl"))),
            ("c".into(), Value::from("file1"), ValueSource::VarFile(d.path("one.pkrvars.hcl"))),
            ("d".into(), Value::from("file2"), ValueSource::VarFile(d.path("two.pkrvars.hcl"))),
            ("e".into(), Value::from("cli2"), ValueSource::CommandLine),
        ]
    );
}

#[test]
fn command_line_values_are_parsed_for_their_type() {
    let tpl = r#"
variable "l" { type = list(string) }
variable "n" { type = number }
variable "b" { type = bool }
variable "m" { type = map(number) }
variable "s" { type = string }
"#;
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let vars = [("l", "[\"a\", 1]"), ("n", "5"), ("b", "true"), ("m", "{x = \"2\"}"), ("s", "[not parsed]")];
    let opts = LoadOptions { vars: vars.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(), ..d.opts() };
    let l = load(&opts).unwrap();
    assert_eq!(var(&l, "l").value, Some(hcl::value!(["a", "1"])));
    assert_eq!(var(&l, "n").value, Some(Value::from(5)));
    assert_eq!(var(&l, "b").value, Some(Value::Bool(true)));
    assert_eq!(var(&l, "m").value, Some(hcl::value!({ x = 2 })));
    assert_eq!(var(&l, "s").value, Some(Value::from("[not parsed]")));

    let bad = LoadOptions { vars: vec![("n".into(), "five".into())], ..opts.clone() };
    let e = errors(load(&bad));
    let msg = &e.diagnostics.errors().next().unwrap();
    assert!(msg.summary.contains("variable \"n\" given with -var"), "{msg:?}");
    assert!(msg.summary.contains("a number is required"), "{msg:?}");
    assert_eq!(msg.detail.as_deref(), Some("the variable's type is number"));

    let bad_env = LoadOptions { env: BTreeMap::from([("PKR_VAR_b".into(), "maybe".into())]), ..opts };
    let e = errors(load(&bad_env));
    assert!(e.diagnostics.errors().any(|d| d.summary.contains("environment variable PKR_VAR_b")));
}

#[test]
fn var_file_values_are_converted_and_mismatches_located() {
    let d = Dir::new(&[
        ("t.pkr.hcl", "variable \"n\" { type = number }\nvariable \"l\" { type = list(number) }\n"),
        ("v.pkrvars.hcl", "n = \"7\"\nl = [1, \"x\"]\n"),
    ]);
    let e = errors(load(&LoadOptions { var_files: vec![d.path("v.pkrvars.hcl")], ..d.opts() }));
    has(&e, "invalid value for variable \"l\": element 1: a number is required", 2, 5);
    assert_eq!(located(&e).len(), 1, "{:?}", located(&e));
}

#[test]
fn undeclared_values_error_on_the_command_line_and_warn_in_files() {
    let d = Dir::new(&[("t.pkr.hcl", "variable \"region\" { default = \"a\" }\n"), ("v.auto.pkrvars.hcl", "regin = \"b\"\n")]);
    let l = load(&d.opts()).unwrap();
    let w = &l.warnings.0[0];
    assert_eq!(w.summary, "undeclared variable \"regin\" in a var file");
    assert_eq!(w.help.as_deref(), Some("did you mean \"region\"?"));
    let quiet = load(&LoadOptions { no_warn_undeclared_var: true, ..d.opts() }).unwrap();
    assert!(quiet.warnings.is_empty());

    let e = errors(load(&LoadOptions { vars: vec![("regon".into(), "x".into())], ..d.opts() }));
    let err = e.diagnostics.errors().next().unwrap();
    assert_eq!(err.summary, "undeclared variable \"regon\" given with -var");
    assert_eq!(err.help.as_deref(), Some("did you mean \"region\"?"));
}

#[test]
fn unset_variable_says_how_to_set_it() {
    let d = Dir::new(&[("t.pkr.hcl", "\nvariable \"access_key\" {\n  type = string\n}\n")]);
    let e = errors(load(&d.opts()));
    has(&e, "unset variable \"access_key\"", 2, 1);
    let help = e.diagnostics.0[0].help.clone().unwrap();
    assert!(help.contains("-var 'access_key=...'") && help.contains("PKR_VAR_access_key"), "{help}");
    // Given in the environment it is fine.
    let env = BTreeMap::from([("PKR_VAR_access_key".to_string(), "AK".to_string())]);
    assert!(load(&LoadOptions { env, ..d.opts() }).is_ok());
}

#[test]
fn unset_variables_can_be_left_unknown_for_inspection() {
    let tpl = "variable \"x\" {}\nlocals {\n  a = \"a-${var.x}\"\n  b = upper(local.a)\n  c = 1\n}\nsource \"null\" \"n\" {\n  y = local.b\n  z = local.c\n}\n";
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let l = load(&LoadOptions { allow_unset_variables: true, ..d.opts() }).unwrap();
    assert_eq!(var(&l, "x").source, ValueSource::Unset);
    let values: Vec<_> = l.locals.iter().map(|l| l.value.clone()).collect();
    assert_eq!(values, [None, None, Some(Value::from(1))]);
    let names: Vec<_> = l.blocks[0].attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["z"]);
    // Without the option it is one error, not one per dependent.
    let e = errors(load(&d.opts()));
    assert_eq!(located(&e).len(), 1, "{:?}", located(&e));
}

#[test]
fn an_invalid_value_does_not_cascade() {
    let d = Dir::new(&[("t.pkr.hcl", "variable \"n\" {\n  type = number\n}\nlocals {\n  m = var.n * 2\n}\n")]);
    let e = errors(load(&LoadOptions { vars: vec![("n".into(), "x".into())], ..d.opts() }));
    assert_eq!(located(&e).len(), 1, "{:?}", located(&e));
}

#[test]
fn failing_validation_reports_its_message_at_the_condition() {
    let d = Dir::new(&[("t.pkr.hcl", TEMPLATE)]);
    let e = errors(load(&LoadOptions { env: with_key(), vars: vec![("disk_size".into(), "20".into())], ..d.opts() }));
    has(&e, "invalid value for variable \"disk_size\": The disk must be at least 40 GiB", 20, 21);
    assert_eq!(located(&e).len(), 1);
}

#[test]
fn duplicates_are_errors() {
    let d = Dir::new(&[
        ("a.pkr.hcl", "variable \"x\" { default = 1 }\nlocals { y = 1 }\n"),
        ("b.pkr.hcl", "variable \"x\" { default = 2 }\nlocals { y = 2 }\n"),
    ]);
    let e = errors(load(&d.opts()));
    has(&e, "duplicate variable \"x\"", 1, 1);
    has(&e, "duplicate local \"y\"", 2, 10);
    assert!(e.diagnostics.0[0].detail.as_deref().unwrap().contains("a.pkr.hcl:1:1"));
    // The parser itself refuses an argument set twice in one block.
    let d = Dir::new(&[("c.pkr.hcl", "source \"null\" \"n\" {\n  a = 1\n  a = 2\n}\n")]);
    has(&errors(load(&d.opts())), "duplicate argument", 3, 3);
}

#[test]
fn syntax_errors_of_every_file_are_collected_with_positions() {
    let d = Dir::new(&[
        ("a.pkr.hcl", "source \"null\" \"a\" {\n  inline = [\"a\" \"b\"]\n}\n"),
        ("b.pkr.hcl", "variable \"x\" {\n  default = 1 +\n}\n"),
        ("c.pkr.hcl", "locals { ok = 1 }\n"),
    ]);
    let e = errors(load(&d.opts()));
    let all = located(&e);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|(s, _, _)| s.starts_with("invalid HCL syntax")));
    assert_eq!((all[0].1, all[0].2), (2, 17));
    assert_eq!(all[1].1, 2);
    let rendered = e.diagnostics.render(&e.sources);
    assert!(rendered.contains("a.pkr.hcl:2:17"), "{rendered}");
}

#[test]
fn byte_order_marks_and_crlf_are_read() {
    let d = Dir::new(&[
        ("t.pkr.hcl", "\u{feff}variable \"a\" {\r\n  default = \"x\"\r\n}\r\nlocals {\r\n  b = var.c\r\n}\r\n"),
        ("v.auto.pkrvars.hcl", "\u{feff}a = \"y\"\n"),
    ]);
    let e = errors(load(&d.opts()));
    has(&e, "undefined variable \"var.c\"", 5, 7);
    assert_eq!(located(&e).len(), 1);
}

#[test]
fn syntax_only_stops_after_parsing() {
    let d = Dir::new(&[("t.pkr.hcl", "source \"null\" \"a\" { x = var.nope }\n")]);
    assert!(load(&LoadOptions { syntax_only: true, ..d.opts() }).is_ok());
    assert!(load(&d.opts()).is_err());
}

#[test]
fn undefined_references_are_located_with_suggestions() {
    let tpl = "variable \"region\" { default = \"r\" }\nlocals { a = 1 }\nsource \"null\" \"n\" {\n  x = var.regoin\n  y = local.b\n  z = lowr(\"A\")\n  w = env(\"HOME\")\n}\n";
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let e = errors(load(&d.opts()));
    has(&e, "undefined variable \"var.regoin\"", 4, 7);
    has(&e, "undefined local value \"local.b\"", 5, 7);
    has(&e, "undefined function \"lowr\"", 6, 7);
    has(&e, "env() is only allowed in variable defaults", 7, 7);
    let helps: Vec<_> = e.diagnostics.0.iter().filter_map(|d| d.help.clone()).collect();
    assert!(helps.contains(&"did you mean \"var.region\"?".to_string()), "{helps:?}");
    assert!(helps.contains(&"did you mean \"lower\"?".to_string()), "{helps:?}");
}

#[test]
fn local_cycles_are_reported() {
    let d = Dir::new(&[("t.pkr.hcl", "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n  d = 1\n  e = local.a\n}\n")]);
    let e = errors(load(&d.opts()));
    has(&e, "local \"a\" depends on itself", 2, 3);
    has(&e, "local \"b\" depends on itself", 3, 3);
    has(&e, "local \"c\" depends on itself", 4, 3);
    assert_eq!(located(&e).len(), 3, "{:?}", located(&e));
    let detail = e.diagnostics.0[0].detail.clone().unwrap();
    assert_eq!(detail, "cycle: local.a -> local.b -> local.c -> local.a");
}

#[test]
fn local_blocks_and_sensitive_locals() {
    let d = Dir::new(&[(
        "t.pkr.hcl",
        "local \"token\" {\n  expression = \"t-${local.n}\"\n  sensitive = true\n}\nlocals { n = 3 }\n",
    )]);
    let l = load(&d.opts()).unwrap();
    assert_eq!(l.locals[0].value, Some(Value::from("t-3")));
    assert!(l.locals[0].sensitive);
    assert_eq!(l.sensitive_values, ["t-3"]);
}

#[test]
fn unknown_data_and_broken_dynamic_blocks_are_refused() {
    let tpl = "biuld {\n}\ndata \"amazon-ami\" \"x\" {}\nsource \"null\" \"n\" {\n  dynamic \"tag\" {\n    for_eash = []\n  }\n}\n";
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let e = errors(load(&d.opts()));
    has(&e, "unsupported block type \"biuld\"", 1, 1);
    has(&e, "data sources are not supported", 3, 1);
    has(&e, "unsupported argument \"for_eash\" in a dynamic block", 6, 5);
    has(&e, "a dynamic block needs for_each and exactly one content block", 5, 3);
    assert_eq!(e.diagnostics.0[0].help.as_deref(), Some("did you mean \"build\"?"));
}

#[test]
fn dynamic_blocks_are_expanded() {
    let tpl = r#"variable "disks" {
  default = { data = 100, logs = 20 }
}
source "huaweicloud-ecs" "b" {
  dynamic "data_disks" {
    for_each = var.disks
    iterator = d
    content {
      volume_size = d.value
      name        = "disk-${d.key}"
    }
  }
}
build {
  sources = ["source.huaweicloud-ecs.b"]
  dynamic "provisioner" {
    for_each = ["a", "b"]
    labels   = ["shell"]
    content {
      inline = ["echo ${provisioner.value} ${provisioner.key} ${build.ID}"]
    }
  }
}
"#;
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let l = load(&d.opts()).unwrap_or_else(|e| panic!("{}", e.diagnostics.render(&e.sources)));
    let disks: Vec<_> = l.blocks[0].blocks_of("data_disks").collect();
    assert_eq!(disks.len(), 2);
    assert_eq!(disks[0].attribute("name").unwrap().value, AttrValue::Known(Value::from("disk-data")));
    assert_eq!(disks[1].attribute("volume_size").unwrap().value, AttrValue::Known(Value::from(20)));
    let provs: Vec<_> = l.blocks[1].blocks_of("provisioner").collect();
    assert_eq!(provs.len(), 2);
    assert_eq!(provs[1].labels, ["shell"]);
    assert_eq!(provs[1].attribute("inline").unwrap().value, AttrValue::Deferred("[\"echo b 1 ${build.ID}\"]".into()));
    // The iterator exists only inside its content.
    let bad = tpl.replace("name        = \"disk-${d.key}\"", "name = \"x\"\n    }\n  }\n  other = d.key\n  dynamic \"x\" {\n    for_each = []\n    content {");
    let e = errors(load(&Dir::new(&[("t.pkr.hcl", &bad)]).opts()));
    assert!(located(&e).iter().any(|(s, _, _)| s.starts_with("unknown variable \"d\"")), "{:?}", located(&e));
}

#[test]
fn sensitive_variable_with_a_literal_in_a_file_warns() {
    let d = Dir::new(&[
        ("t.pkr.hcl", "variable \"sk\" {\n  sensitive = true\n  default = \"plain\"\n}\nvariable \"ak\" {\n  sensitive = true\n}\n"),
        ("k.auto.pkrvars.hcl", "ak = \"AKXX\"\n"),
    ]);
    let l = load(&d.opts()).unwrap();
    let w: Vec<_> = l.warnings.0.iter().map(|w| w.summary.as_str()).collect();
    assert_eq!(
        w,
        [
            "sensitive variable \"sk\" is given a literal value in a file",
            "sensitive variable \"ak\" is given a literal value in a file"
        ]
    );
    let mut values = l.sensitive_values.clone();
    values.sort();
    assert_eq!(values, ["AKXX", "plain"]);
    // From -var or the environment there is no warning.
    let l = load(&LoadOptions {
        vars: vec![("sk".into(), "x".into())],
        env: BTreeMap::from([("PKR_VAR_ak".into(), "y".into())]),
        ..d.opts()
    });
    // The auto var file still wins over PKR_VAR_ak, so one warning stays.
    assert_eq!(l.unwrap().warnings.0.len(), 1);
}

#[test]
fn a_single_file_loads_the_auto_var_files_of_its_folder() {
    let d = Dir::new(&[
        ("one.pkr.hcl", "variable \"x\" {}\n"),
        ("two.pkr.hcl", "this is not hcl"),
        ("v.auto.pkrvars.hcl", "x = \"from auto\"\n"),
    ]);
    let l = load(&LoadOptions { path: d.path("one.pkr.hcl"), ..d.opts() }).unwrap();
    assert_eq!(var(&l, "x").value, Some(Value::from("from auto")));
    assert_eq!(l.sources.files().count(), 2);
}

#[test]
fn missing_paths_and_empty_folders_are_explained() {
    let d = Dir::new(&[("readme.txt", "x")]);
    let e = errors(load(&d.opts()));
    assert!(e.diagnostics.0[0].summary.starts_with("no *.pkr.hcl files in"));
    let e = errors(load(&LoadOptions { path: d.path("nope.pkr.hcl"), ..d.opts() }));
    assert!(e.diagnostics.0[0].summary.starts_with("cannot read"));
    let d = Dir::new(&[("t.pkr.hcl", "")]);
    let e = errors(load(&LoadOptions { var_files: vec![d.path("none.pkrvars.hcl")], ..d.opts() }));
    assert!(e.diagnostics.0.iter().any(|d| d.summary.starts_with("cannot read var file")));
}

#[test]
fn several_sources_leave_source_name_for_build_time() {
    let tpl = "source \"null\" \"a\" {}\nsource \"null\" \"b\" {}\nbuild {\n  sources = [\"source.null.a\", \"source.null.b\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo ${source.name}\"]\n  }\n}\n";
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let l = load(&d.opts()).unwrap();
    let p = l.blocks[2].blocks_of("provisioner").next().unwrap();
    assert_eq!(p.attribute("inline").unwrap().value, AttrValue::Deferred("[\"echo ${source.name}\"]".into()));
}

#[test]
fn type_and_default_problems_are_located() {
    let tpl = "variable \"a\" {\n  type = strng\n}\nvariable \"b\" {\n  type    = number\n  default = \"x\"\n}\nvariable \"c\" {\n  tpye = string\n}\n";
    let d = Dir::new(&[("t.pkr.hcl", tpl)]);
    let e = errors(load(&d.opts()));
    has(&e, "invalid type for variable \"a\": unknown type \"strng\"", 2, 10);
    has(&e, "invalid default value for variable \"b\": a number is required", 6, 13);
    has(&e, "unsupported argument \"tpye\"", 9, 3);
    // The broken declaration of "a" does not also say it is unset.
    assert!(!located(&e).iter().any(|(s, _, _)| s.contains("unset variable \"a\"")), "{:?}", located(&e));
}

#[test]
fn legacy_variables_block_and_json_var_files() {
    let d = Dir::new(&[
        ("t.pkr.hcl", "variables {\n  region = \"a\"\n  size = 1\n}\n"),
        ("v.pkrvars.json", "{\"size\": 3}"),
    ]);
    let l = load(&LoadOptions { var_files: vec![d.path("v.pkrvars.json")], ..d.opts() }).unwrap();
    assert_eq!(var(&l, "region").value, Some(Value::from("a")));
    assert_eq!(var(&l, "size").value, Some(Value::from(3)));
}

#[test]
fn path_and_packer_references() {
    let d = Dir::new(&[("t.pkr.hcl", "locals {\n  r = path.root\n  v = packer.version\n  c = path.cwd\n}\n")]);
    let l = load(&d.opts()).unwrap();
    assert_eq!(l.locals[0].value, Some(Value::from(d.0.path().to_string_lossy().into_owned())));
    assert_eq!(l.locals[1].value, Some(Value::from(crate::eval::PACKER_VERSION)));
    // path.root keeps the folder as the user wrote it; files are read relative to cwd.
    let l = load(&LoadOptions { path: PathBuf::from("."), ..d.opts() }).unwrap();
    assert_eq!(l.locals[0].value, Some(Value::from(".")));
    assert_eq!(l.locals[2].value, Some(Value::from(d.0.path().to_string_lossy().into_owned())));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn load_text(text: &str) {
        let d = Dir::new(&[("t.pkr.hcl", text)]);
        let _ = load(&LoadOptions { vars: vec![("x".into(), "[1".into())], ..d.opts() });
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            load_text(&text);
        }

        #[test]
        fn command_line_values_never_panic(value in "\\PC{0,40}", pick in 0usize..6) {
            let types = ["string", "number", "bool", "list(number)", "map(object({a = optional(number, 1)}))", "tuple([string, bool])"];
            let d = Dir::new(&[("t.pkr.hcl", &format!("variable \"x\" {{\n  type = {}\n}}\n", types[pick]))]);
            let env = BTreeMap::from([("PKR_VAR_x".to_string(), value.clone())]);
            let _ = load(&LoadOptions { env, ..d.opts() });
            let _ = load(&LoadOptions { vars: vec![("x".into(), value)], ..d.opts() });
        }

        #[test]
        fn mutated_templates_never_panic(cut in 0usize..1500, len in 0usize..40, insert in "[\\{\\}\\[\\]\"$%=. a-z0-9()\\n]{0,8}") {
            let mut t = TEMPLATE.to_string();
            let start = cut.min(t.len());
            let end = (start + len).min(t.len());
            if t.is_char_boundary(start) && t.is_char_boundary(end) {
                t.replace_range(start..end, &insert);
            }
            load_text(&t);
        }
    }
}
