//! What a template asks of its runner in `packer { required_version, required_plugins }`, and
//! whether our built-in builder meets it. Nothing is ever downloaded: the huaweicloud plugin is
//! built in, and any other plugin is refused.

use hcl::Value;
use serde::Serialize;
use hcl::edit::Span as _;
use hcl::edit::structure::Structure;

use crate::diag::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::eval::{self, PACKER_VERSION, Scope};
use crate::load::{LoadError, LoadOptions, load};
use crate::vars::span_of;
use crate::version::{Constraint, Version};

/// The source address of the plugin we build in.
pub const HUAWEICLOUD_SOURCE: &str = "github.com/huaweicloud/huaweicloud";
/// The plugin version whose behaviour we follow.
pub const HUAWEICLOUD_VERSION: &str = "0.4.0";

/// One entry of `required_plugins`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequiredPlugin {
    /// The local name (`huaweicloud` in `huaweicloud = { ... }`).
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    /// Where the entry is written, for diagnostics.
    #[serde(skip)]
    pub span: Option<Span>,
}

/// The `packer` blocks of a template.
#[derive(Clone, Debug, Default)]
pub struct Requirements {
    pub required_version: Option<(String, Span)>,
    pub plugins: Vec<RequiredPlugin>,
}

/// Reads the `packer` blocks of a template without evaluating anything else, so that `init`
/// works before variables are set.
pub fn requirements(opts: &LoadOptions) -> Result<(SourceMap, Requirements), LoadError> {
    let loaded = load(&LoadOptions { syntax_only: true, ..opts.clone() })?;
    let sources = loaded.sources;
    let mut diags = Diagnostics::default();
    let mut req = Requirements::default();
    for (file, f) in sources.files() {
        if f.path.to_string_lossy().ends_with(".pkrvars.hcl") {
            continue;
        }
        let Ok(body) = hcl::edit::parser::parse_body(&f.text) else { continue };
        for s in body.iter() {
            let Structure::Block(b) = s else { continue };
            if b.ident.as_str() != "packer" {
                continue;
            }
            let scope = Scope::empty(file, "in the packer block");
            for inner in b.body.iter() {
                match inner {
                    Structure::Attribute(a) if a.key.as_str() == "required_version" => {
                        match eval::eval_value(&a.value, &scope, &mut diags) {
                            Some(Value::String(v)) => req.required_version = Some((v, span_of(file, a.value.span()))),
                            Some(_) => diags.push(Diagnostic::error("required_version must be a string").at(span_of(file, a.value.span()))),
                            None => {}
                        }
                    }
                    Structure::Block(rp) if rp.ident.as_str() == "required_plugins" => {
                        for p in rp.body.iter() {
                            let Structure::Attribute(a) = p else { continue };
                            let span = span_of(file, a.span());
                            match eval::eval_value(&a.value, &scope, &mut diags) {
                                Some(Value::Object(o)) => req.plugins.push(RequiredPlugin {
                                    name: a.key.as_str().to_string(),
                                    source: o.get("source").and_then(Value::as_str).map(str::to_string),
                                    version: o.get("version").and_then(Value::as_str).map(str::to_string),
                                    span: Some(span),
                                }),
                                Some(_) => diags.push(
                                    Diagnostic::error(format!("required plugin \"{}\" must be an object", a.key.as_str()))
                                        .at(span)
                                        .help("write name = { source = \"...\", version = \"...\" }"),
                                ),
                                None => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if diags.has_errors() {
        return Err(LoadError { sources, diagnostics: diags });
    }
    Ok((sources, req))
}

/// One satisfied requirement, for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Satisfied {
    pub name: String,
    pub source: String,
    pub constraint: Option<String>,
    /// The plugin line that meets the constraint: `0.4.0`, or `1.x` when it admits only that.
    pub line: String,
}

/// The built-in plugin line a constraint admits: 0.4.0 first, else 1.x.
fn admitted_line(version: Option<&str>) -> String {
    let admits_04 = version
        .and_then(|v| Constraint::parse(v).ok())
        .is_none_or(|c| Version::parse(HUAWEICLOUD_VERSION).is_ok_and(|v| c.admits(&v)));
    if admits_04 { HUAWEICLOUD_VERSION.to_string() } else { "1.x".to_string() }
}

fn is_huaweicloud(source: &str) -> bool {
    let s = source.trim().trim_end_matches('/').to_ascii_lowercase();
    s == HUAWEICLOUD_SOURCE || s == "huaweicloud/huaweicloud"
}

/// Whether a plugin version constraint admits the built-in plugin: it behaves as
/// [`HUAWEICLOUD_VERSION`] and stands in for the 1.x line.
fn admits_builtin(c: &Constraint) -> bool {
    Version::parse(HUAWEICLOUD_VERSION).is_ok_and(|v| c.admits(&v)) || c.admits_major(1)
}

/// Why one `required_plugins` entry cannot be met, or `None` when the built-in plugin meets it.
fn check_plugin(p: &RequiredPlugin) -> Option<Diagnostic> {
    let at = |x: Diagnostic| match p.span {
        Some(s) => x.at(s),
        None => x,
    };
    let Some(source) = &p.source else {
        return Some(at(Diagnostic::error(format!("required plugin \"{}\" has no source", p.name))
            .help(format!("write {} = {{ source = \"{HUAWEICLOUD_SOURCE}\", version = \">= {HUAWEICLOUD_VERSION}\" }}", p.name))));
    };
    if !is_huaweicloud(source) {
        return Some(at(Diagnostic::error(format!("plugin \"{}\" ({source}) is not built into cce-image-builder", p.name))
            .detail(format!("cce-image-builder downloads no plugins; only {HUAWEICLOUD_SOURCE} is built in"))
            .help("remove it from required_plugins and the blocks that use it")));
    }
    let version = p.version.as_ref()?;
    match Constraint::parse(version) {
        Err(why) => Some(at(Diagnostic::error(format!("invalid version constraint \"{version}\" for plugin \"{}\": {why}", p.name))
            .help(format!("write a constraint such as \">= {HUAWEICLOUD_VERSION}\"")))),
        Ok(c) if !admits_builtin(&c) => Some(at(Diagnostic::error(format!(
            "version constraint \"{version}\" of plugin \"{}\" admits neither {HUAWEICLOUD_VERSION} nor 1.x",
            p.name
        ))
        .detail(format!("cce-image-builder implements the huaweicloud-ecs builder of plugin lines {HUAWEICLOUD_VERSION} and 1.x"))
        .help(format!("use \">= {HUAWEICLOUD_VERSION}\"")))),
        Ok(_) => None,
    }
}

/// Checks that every required plugin is built in: only huaweicloud from
/// [`HUAWEICLOUD_SOURCE`], with a version constraint admitting 0.4.0 or 1.x.
pub fn check_required_plugins(plugins: &[RequiredPlugin]) -> Diagnostics {
    let mut d = Diagnostics::default();
    for p in plugins {
        if let Some(x) = check_plugin(p) {
            d.push(x);
        }
    }
    d
}

/// Checks the requirements against what we provide: Packer language 1.7.2 and the huaweicloud
/// plugin at 0.4.0, whose 1.x successors we also stand for.
pub fn check(req: &Requirements) -> (Vec<Satisfied>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut ok = Vec::new();
    if let Some((c, span)) = &req.required_version {
        match Constraint::parse(c) {
            Ok(con) => {
                if let Ok(ours) = Version::parse(PACKER_VERSION)
                    && !con.admits(&ours)
                {
                    diags.push(
                        Diagnostic::error(format!("this template requires Packer {c}"))
                            .at(*span)
                            .detail(format!("cce-image-builder implements the template language of Packer {PACKER_VERSION}"))
                            .help(format!("relax required_version so that it admits {PACKER_VERSION}")),
                    );
                }
            }
            Err(why) => diags.push(
                Diagnostic::error(format!("invalid required_version \"{c}\": {why}"))
                    .at(*span)
                    .help("write a constraint such as \">= 1.7.0\""),
            ),
        }
    }
    for p in &req.plugins {
        match check_plugin(p) {
            Some(d) => diags.push(d),
            None => ok.push(Satisfied {
                name: p.name.clone(),
                source: HUAWEICLOUD_SOURCE.to_string(),
                constraint: p.version.clone(),
                line: admitted_line(p.version.as_deref()),
            }),
        }
    }
    (ok, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req_of(text: &str) -> Result<Requirements, LoadError> {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("t.pkr.hcl"), text).unwrap();
        requirements(&LoadOptions { path: d.path().to_path_buf(), ..Default::default() }).map(|(_, r)| r)
    }

    fn plugin(version: &str, source: &str) -> String {
        format!(
            "packer {{\n  required_version = \">= 1.7.2\"\n  required_plugins {{\n    huaweicloud = {{\n      version = \"{version}\"\n      source = \"{source}\"\n    }}\n  }}\n}}\nvariable \"unset\" {{}}\n"
        )
    }

    #[test]
    fn reads_requirements_without_evaluating_variables() {
        let r = req_of(&plugin(">= 0.4.0", HUAWEICLOUD_SOURCE)).unwrap();
        assert_eq!(r.required_version.as_ref().map(|x| x.0.as_str()), Some(">= 1.7.2"));
        assert_eq!(r.plugins.len(), 1);
        assert_eq!(r.plugins[0].version.as_deref(), Some(">= 0.4.0"));
    }

    #[test]
    fn accepts_constraints_that_admit_the_builtin() {
        for c in ["= 0.4.0", ">= 0.4.0", "~> 0.4", ">= 1.0.0", "~> 1.1", ">= 0.3, < 2"] {
            let (ok, d) = check(&req_of(&plugin(c, HUAWEICLOUD_SOURCE)).unwrap());
            assert!(d.is_empty() && ok.len() == 1, "{c}: {d:?}");
        }
    }

    #[test]
    fn refuses_what_we_cannot_provide() {
        let (_, d) = check(&req_of(&plugin("= 0.3.0", HUAWEICLOUD_SOURCE)).unwrap());
        assert_eq!(d.0[0].summary, "version constraint \"= 0.3.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x");
        let (_, d) = check(&req_of(&plugin(">= 1.0", "github.com/hashicorp/amazon")).unwrap());
        assert_eq!(d.0[0].summary, "plugin \"huaweicloud\" (github.com/hashicorp/amazon) is not built into cce-image-builder");
        let r = req_of("packer {\n  required_version = \">= 1.9.0\"\n}\n").unwrap();
        let (_, d) = check(&r);
        assert_eq!(d.0[0].summary, "this template requires Packer >= 1.9.0");
    }

    #[test]
    fn invalid_required_version_is_named() {
        let (_, d) = check(&req_of("packer {\n  required_version = \"newest\"\n}\n").unwrap());
        assert_eq!(d.0[0].summary, "invalid required_version \"newest\": \"newest\" is not a version");
    }

    fn entry(source: &str, version: &str) -> RequiredPlugin {
        RequiredPlugin { name: "huaweicloud".into(), source: Some(source.into()), version: Some(version.into()), span: None }
    }

    fn summaries(d: Diagnostics) -> Vec<String> {
        d.0.into_iter().map(|d| d.summary).collect()
    }

    #[test]
    fn builtin_plugin_constraints() {
        for ok in ["= 0.4.0", ">= 0.4.0", "0.4.0", "~> 1.2", ">= 1.0.0, < 2.0.0", "v1.2.2", "> 1.1.0, < 1.1.5", "!= 0.4.0", "~> 1.0.4"] {
            assert!(summaries(check_required_plugins(&[entry(HUAWEICLOUD_SOURCE, ok)])).is_empty(), "{ok}");
        }
        assert!(summaries(check_required_plugins(&[entry("huaweicloud/huaweicloud/", ">= 0.4.0")])).is_empty());
        assert_eq!(
            summaries(check_required_plugins(&[entry(HUAWEICLOUD_SOURCE, "< 0.4.0")])),
            ["version constraint \"< 0.4.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x"]
        );
        assert_eq!(
            summaries(check_required_plugins(&[entry(HUAWEICLOUD_SOURCE, ">= 2.0")])),
            ["version constraint \">= 2.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x"]
        );
        assert_eq!(
            summaries(check_required_plugins(&[entry(HUAWEICLOUD_SOURCE, ">= banana")])),
            ["invalid version constraint \">= banana\" for plugin \"huaweicloud\": \"banana\" is not a version"]
        );
    }

    #[test]
    fn other_plugins_are_refused() {
        let p = RequiredPlugin { name: "amazon".into(), source: Some("github.com/hashicorp/amazon".into()), version: None, span: None };
        assert_eq!(
            summaries(check_required_plugins(&[p])),
            ["plugin \"amazon\" (github.com/hashicorp/amazon) is not built into cce-image-builder"]
        );
        let p = RequiredPlugin { name: "x".into(), source: None, version: None, span: None };
        assert_eq!(summaries(check_required_plugins(&[p])), ["required plugin \"x\" has no source"]);
    }
}
