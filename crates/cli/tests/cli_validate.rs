//! `validate` through the real binary: exit codes, Packer-like output and positioned errors.

mod common;

use common::{run_clean as run, text};

fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (n, t) in files {
        std::fs::write(d.path().join(n), t).unwrap();
    }
    d
}

const VARS_ONLY: &str = "variable \"region\" {\n  type = string\n}\nvariable \"size\" {\n  type = number\n  default = 40\n}\nlocals {\n  name = \"cce-${var.region}\"\n}\n";

#[test]
fn a_valid_template_without_blocks_is_valid() {
    let d = dir(&[("t.pkr.hcl", VARS_ONLY)]);
    let o = run(
        d.path(),
        &["validate", "-var", "region=ru-moscow-1", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "The configuration is valid.\n");
    // The same value from the environment.
    let o = run(d.path(), &["validate", "."], &[("PKR_VAR_region", "x")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn errors_are_rendered_with_positions_and_exit_1() {
    let d = dir(&[("t.pkr.hcl", VARS_ONLY)]);
    let o = run(
        d.path(),
        &["validate", "-var", "size=big", "t.pkr.hcl"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    // Both problems of the run, not only the first.
    assert!(err.contains("error: unset variable \"region\""), "{err}");
    assert!(err.contains("--> t.pkr.hcl:1:1"), "{err}");
    assert!(err.contains("PKR_VAR_region"), "{err}");
    assert!(
        err.contains("invalid value for variable \"size\" given with -var: a number is required"),
        "{err}"
    );
    assert!(text(&o.stdout).is_empty());
}

#[test]
fn undefined_reference_points_at_its_column() {
    let d = dir(&[(
        "t.pkr.hcl",
        "variable \"region\" { default = \"r\" }\nlocals {\n  name = \"cce-${var.regoin}\"\n}\n",
    )]);
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(" --> t.pkr.hcl:3:17"), "{err}");
    assert!(err.contains("did you mean \"var.region\"?"), "{err}");
}

#[test]
fn syntax_only_checks_syntax_and_nothing_else() {
    let d = dir(&[(
        "t.pkr.hcl",
        "source \"null\" \"a\" {\n  x = var.undeclared\n}\n",
    )]);
    let o = run(d.path(), &["validate", "-syntax-only", "."], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "Syntax-only check passed. Everything looks okay.\n"
    );
    let d = dir(&[("t.pkr.hcl", "source \"null\" \"a\" {\n  x = [1 2]\n}\n")]);
    let o = run(d.path(), &["validate", "-syntax-only", "."], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(" --> t.pkr.hcl:2:10"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_usage_exits_2() {
    let d = dir(&[("t.pkr.hcl", VARS_ONLY)]);
    let o = run(d.path(), &["validate", "-var", "novalue", "."], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected NAME=VALUE"));
    let o = run(d.path(), &["validate"], &[]);
    assert_eq!(o.status.code(), Some(2));
    // As in Packer, -only and -except exclude each other.
    let o = run(
        d.path(),
        &["validate", "-only", "a.b", "-except", "c.d", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("only one of -only or -except"));
}

#[test]
fn undeclared_var_file_values_warn_unless_silenced() {
    let d = dir(&[
        ("t.pkr.hcl", VARS_ONLY),
        ("v.pkrvars.hcl", "region = \"r\"\nregio = \"x\"\n"),
    ]);
    let o = run(
        d.path(),
        &["validate", "-var-file", "v.pkrvars.hcl", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("warning: undeclared variable \"regio\" in a var file"),
        "{}",
        text(&o.stderr)
    );
    let o = run(
        d.path(),
        &[
            "validate",
            "-no-warn-undeclared-var",
            "-var-file=v.pkrvars.hcl",
            ".",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stderr).is_empty(), "{}", text(&o.stderr));
}

#[test]
fn build_takes_packers_undeclared_var_and_plugin_flags() {
    let d = dir(&[
        (
            "t.pkr.hcl",
            "variable \"region\" {}\nsource \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n}\n",
        ),
        ("v.pkrvars.hcl", "region = \"r\"\nregio = \"x\"\n"),
    ]);
    let warning = "warning: undeclared variable \"regio\" in a var file";
    let o = run(
        d.path(),
        &["build", "-warn-on-undeclared-var", "-ignore-prerelease-plugins", "-var-file", "v.pkrvars.hcl", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(warning), "{}", text(&o.stderr));
    let o = run(d.path(), &["build", "-no-warn-undeclared-var", "-var-file=v.pkrvars.hcl", "."], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("undeclared"), "{}", text(&o.stderr));
    let o = run(
        d.path(),
        &["validate", "-ignore-prerelease-plugins", "-var-file=v.pkrvars.hcl", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = run(
        d.path(),
        &["build", "-warn-on-undeclared-var", "-no-warn-undeclared-var", "."],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    // A flag of no version we know is named whole, not by its first letter.
    let o = run(d.path(), &["build", "-use-sequential-evaluation", "."], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("unknown flag -use-sequential-evaluation"), "{}", text(&o.stderr));
}

#[test]
fn sensitive_literal_warns() {
    let d = dir(&[(
        "t.pkr.hcl",
        "variable \"sk\" {\n  sensitive = true\n  default = \"plain-secret\"\n}\n",
    )]);
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(0));
    let err = text(&o.stderr);
    assert!(
        err.contains("warning: sensitive variable \"sk\" is given a literal value in a file"),
        "{err}"
    );
    assert!(err.contains("t.pkr.hcl:3:13"), "{err}");
}

#[test]
fn a_full_template_is_valid() {
    let tpl = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo ${build.ID} ${source.name}\"]\n  }\n}\n";
    let d = dir(&[("t.pkr.hcl", tpl)]);
    let o = run(d.path(), &["validate", "-only", "null.a", "."], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "The configuration is valid.\n");
}

#[test]
fn a_source_without_keys_says_it_builds_on_the_local_cloud() {
    let tpl = "source \"huaweicloud-ecs\" \"builder\" {\n  image_name   = \"node\"\n  ssh_username = \"root\"\n}\nbuild {\n  sources = [\"source.huaweicloud-ecs.builder\"]\n}\n";
    let d = dir(&[("t.pkr.hcl", tpl)]);
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("huaweicloud-ecs.builder: access_key and secret_key are empty: this source builds on the embedded local cloud"), "{out}");
    // The same template with one key only names the other.
    let tpl = tpl.replace(
        "image_name",
        "access_key = \"AKEXAMPLE00000001\"\n  image_name",
    );
    let d = dir(&[("t.pkr.hcl", &tpl)]);
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("secret_key"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn files_a_template_names_must_exist() {
    let tpl = "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.a\"]\n  provisioner \"shell-local\" {\n    script = \"s.sh\"\n  }\n  provisioner \"file\" {\n    source      = \"pkg/\"\n    destination = \"/tmp/pkg\"\n  }\n}\n";
    let d = dir(&[("t.pkr.hcl", tpl)]);
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("bad script \"s.sh\": no such file"), "{err}");
    assert!(err.contains("bad source \"pkg/\": no such file"), "{err}");
    assert!(err.contains("t.pkr.hcl:6:3"), "{err}");
    std::fs::write(d.path().join("s.sh"), "#!/bin/sh\n").unwrap();
    std::fs::create_dir(d.path().join("pkg")).unwrap();
    let o = run(d.path(), &["validate", "."], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}
