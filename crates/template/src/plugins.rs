//! What a template asks of its runner in `packer { required_version, required_plugins }`, and
//! whether our built-in builder meets it. Nothing is ever downloaded: the huaweicloud plugin is
//! built in, and any other plugin is refused.

use hcl::Value;
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
#[derive(Clone, Debug, PartialEq)]
pub struct PluginRequirement {
    /// The local name (`huaweicloud` in `huaweicloud = { ... }`).
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    pub span: Span,
}

/// The `packer` blocks of a template.
#[derive(Clone, Debug, Default)]
pub struct Requirements {
    pub required_version: Option<(String, Span)>,
    pub plugins: Vec<PluginRequirement>,
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
                                Some(Value::Object(o)) => req.plugins.push(PluginRequirement {
                                    name: a.key.as_str().to_string(),
                                    source: o.get("source").and_then(Value::as_str).map(str::to_string),
                                    version: o.get("version").and_then(Value::as_str).map(str::to_string),
                                    span,
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
}

fn is_huaweicloud(source: &str) -> bool {
    let s = source.trim().trim_end_matches('/').to_ascii_lowercase();
    s == HUAWEICLOUD_SOURCE || s == "huaweicloud/huaweicloud"
}

/// Checks the requirements against what we provide: Packer language 1.7.2 and the huaweicloud
/// plugin at 0.4.0, whose 1.x successors we also stand for.
pub fn check(req: &Requirements) -> (Vec<Satisfied>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut ok = Vec::new();
    if let Some((c, span)) = &req.required_version {
        match Constraint::parse(c) {
            Ok(con) => {
                if let Ok(ours) = Version::parse(PACKER_VERSION) {
                    if !con.admits(&ours) {
                        diags.push(
                            Diagnostic::error(format!("this template requires Packer {c}"))
                                .at(*span)
                                .detail(format!("cce-image-builder implements the template language of Packer {PACKER_VERSION}"))
                                .help(format!("relax required_version so that it admits {PACKER_VERSION}")),
                        );
                    }
                }
            }
            Err(e) => diags.push(Diagnostic::error(e).at(*span)),
        }
    }
    for p in &req.plugins {
        let Some(source) = &p.source else {
            diags.push(
                Diagnostic::error(format!("required plugin \"{}\" has no source", p.name))
                    .at(p.span)
                    .help(format!("add source = \"{HUAWEICLOUD_SOURCE}\"")),
            );
            continue;
        };
        if !is_huaweicloud(source) {
            diags.push(
                Diagnostic::error(format!("plugin \"{source}\" is not available"))
                    .at(p.span)
                    .detail(format!("cce-image-builder downloads no plugins; only {HUAWEICLOUD_SOURCE} is built in"))
                    .help("remove this plugin and the blocks that use it"),
            );
            continue;
        }
        if let Some(v) = &p.version {
            match Constraint::parse(v) {
                Ok(con) => {
                    let ours = Version::parse(HUAWEICLOUD_VERSION).ok();
                    let fits = ours.is_some_and(|o| con.admits(&o)) || con.admits_major(1);
                    if !fits {
                        diags.push(
                            Diagnostic::error(format!("the built-in huaweicloud plugin does not satisfy version \"{v}\""))
                                .at(p.span)
                                .detail(format!("it behaves as version {HUAWEICLOUD_VERSION} and stands in for 1.x"))
                                .help(format!("use a constraint that admits {HUAWEICLOUD_VERSION}, e.g. \">= {HUAWEICLOUD_VERSION}\"")),
                        );
                        continue;
                    }
                }
                Err(e) => {
                    diags.push(Diagnostic::error(e).at(p.span));
                    continue;
                }
            }
        }
        ok.push(Satisfied { name: p.name.clone(), source: HUAWEICLOUD_SOURCE.to_string(), constraint: p.version.clone() });
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
        assert!(d.0[0].summary.contains("does not satisfy version \"= 0.3.0\""), "{d:?}");
        let (_, d) = check(&req_of(&plugin(">= 1.0", "github.com/hashicorp/amazon")).unwrap());
        assert_eq!(d.0[0].summary, "plugin \"github.com/hashicorp/amazon\" is not available");
        let r = req_of("packer {\n  required_version = \">= 1.9.0\"\n}\n").unwrap();
        let (_, d) = check(&r);
        assert_eq!(d.0[0].summary, "this template requires Packer >= 1.9.0");
    }
}
