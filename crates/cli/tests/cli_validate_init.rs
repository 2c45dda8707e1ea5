//! `init` through the real binary: the built-in plugin satisfies compatible constraints, unknown
//! plugins and impossible versions are refused, nothing is downloaded.

use std::process::{Command, Output};

fn init(tpl: &str) -> (Output, String, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.pkr.hcl"), tpl).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cce-image-builder"))
        .env_clear()
        .current_dir(d.path())
        .args(["init", "."])
        .output()
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

fn plugins(version: &str, source: &str) -> String {
    format!(
        "packer {{\n  required_version = \">= 1.7.2\"\n  required_plugins {{\n    huaweicloud = {{\n      version = \"{version}\"\n      source  = \"{source}\"\n    }}\n  }}\n}}\nvariable \"not_needed_by_init\" {{}}\n"
    )
}

#[test]
fn builtin_plugin_satisfies_compatible_constraints() {
    // The line named is the one the constraint admits: 0.4.0, else the 1.x line.
    for (c, line) in [("= 0.4.0", "version 0.4.0"), (">= 0.4.0", "version 0.4.0"), ("~> 1.0", "plugin line 1.x"), (">= 1.0.0", "plugin line 1.x")] {
        let (o, out, err) = init(&plugins(c, "github.com/huaweicloud/huaweicloud"));
        assert_eq!(o.status.code(), Some(0), "{c}: {err}");
        assert!(out.contains(&format!("huaweicloud (github.com/huaweicloud/huaweicloud): built in, {line} satisfies \"{c}\"")), "{out}");
        assert!(out.contains("Nothing to download"), "{out}");
    }
}

#[test]
fn unknown_plugins_and_versions_are_refused() {
    let (o, _, err) = init(&plugins(">= 1.0.0", "github.com/hashicorp/amazon"));
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("plugin \"huaweicloud\" (github.com/hashicorp/amazon) is not built into cce-image-builder"), "{err}");
    assert!(err.contains("t.pkr.hcl:4:5"), "{err}");
    let (o, _, err) = init(&plugins("< 0.4.0", "github.com/huaweicloud/huaweicloud"));
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("version constraint \"< 0.4.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x"), "{err}");
    let (o, _, err) = init("packer {\n  required_version = \"~> 1.9\"\n}\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("this template requires Packer ~> 1.9"), "{err}");
}

#[test]
fn no_requirements_is_fine() {
    let (o, out, _) = init("variable \"x\" { default = 1 }\n");
    assert_eq!(o.status.code(), Some(0));
    assert!(out.contains("No plugins requirement found"), "{out}");
}
