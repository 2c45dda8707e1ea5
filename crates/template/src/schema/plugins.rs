//! `required_plugins` and version constraints (HashiCorp go-version syntax): the only plugin
//! built in is huaweicloud, and a constraint is satisfied when it admits 0.4.0 or a 1.x.

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics, Span};

/// The plugin source that is built into cce-image-builder.
pub const HUAWEICLOUD_SOURCE: &str = "github.com/huaweicloud/huaweicloud";

/// One entry of `required_plugins`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequiredPlugin {
    pub name: String,
    pub source: Option<String>,
    pub version: Option<String>,
    #[serde(skip)]
    pub span: Option<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// `1`, `1.2`, `v1.2.3`, `1.2.3-rc1` (pre-release and build parts are dropped).
    pub fn parse(s: &str) -> Option<(Version, usize)> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut n = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            n[i] = p.parse().ok()?;
        }
        Some((Version(n[0], n[1], n[2]), parts.len()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Pessimistic,
}

/// A parsed constraint such as `">= 0.4.0, < 2.0"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint(Vec<(Op, Version, usize)>);

impl Constraint {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let (op, rest) = [("~>", Op::Pessimistic), (">=", Op::Ge), ("<=", Op::Le), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt), ("=", Op::Eq)]
                .iter()
                .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, part));
            let (v, parts) = Version::parse(rest).ok_or_else(|| format!("\"{}\" is not a version", rest.trim()))?;
            out.push((op, v, parts));
        }
        Ok(Constraint(out))
    }

    pub fn admits(&self, v: Version) -> bool {
        self.0.iter().all(|&(op, c, parts)| match op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            // ~> 1.2 means >= 1.2, < 2.0; ~> 1.2.3 means >= 1.2.3, < 1.3.0.
            Op::Pessimistic => {
                v >= c
                    && match parts {
                        1 | 2 => v.0 == c.0,
                        _ => v.0 == c.0 && v.1 == c.1,
                    }
            }
        })
    }

    /// Whether it admits 0.4.0 or any 1.x version.
    pub fn admits_builtin(&self) -> bool {
        let mut candidates = vec![Version(0, 4, 0), Version(1, 0, 0), Version(1, u64::MAX / 2, 0)];
        for &(_, c, _) in &self.0 {
            if c.0 == 1 {
                candidates.extend([c, Version(1, c.1, c.2 + 1), Version(1, c.1 + 1, 0)]);
                if c.2 > 0 {
                    candidates.push(Version(1, c.1, c.2 - 1));
                }
            }
        }
        candidates.into_iter().any(|v| self.admits(v))
    }
}

/// Checks that every required plugin is built in: only huaweicloud from
/// [`HUAWEICLOUD_SOURCE`], with a version constraint admitting 0.4.0 or 1.x.
pub fn check_required_plugins(plugins: &[RequiredPlugin]) -> Diagnostics {
    let mut d = Diagnostics::default();
    for p in plugins {
        let at = |x: Diagnostic| match p.span {
            Some(s) => x.at(s),
            None => x,
        };
        let Some(source) = &p.source else {
            d.push(at(Diagnostic::error(format!("required plugin \"{}\" has no source", p.name))
                .help(format!("write {} = {{ source = \"{HUAWEICLOUD_SOURCE}\", version = \">= 0.4.0\" }}", p.name))));
            continue;
        };
        if !source.trim().eq_ignore_ascii_case(HUAWEICLOUD_SOURCE) {
            d.push(at(Diagnostic::error(format!("plugin \"{}\" ({source}) is not built into cce-image-builder", p.name))
                .detail(format!("only {HUAWEICLOUD_SOURCE} is built in, and no other plugin can be installed"))
                .help("remove it from required_plugins and the blocks that use it")));
            continue;
        }
        let Some(version) = &p.version else { continue };
        match Constraint::parse(version) {
            Err(why) => d.push(at(Diagnostic::error(format!("invalid version constraint \"{version}\" for plugin \"{}\": {why}", p.name))
                .help("write a constraint such as \">= 0.4.0\""))),
            Ok(c) if !c.admits_builtin() => d.push(at(Diagnostic::error(format!(
                "version constraint \"{version}\" of plugin \"{}\" admits neither 0.4.0 nor 1.x",
                p.name
            ))
            .detail("cce-image-builder implements the huaweicloud-ecs builder of plugin lines 0.4.0 and 1.x")
            .help("use \">= 0.4.0\""))),
            Ok(_) => {}
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(source: &str, version: &str) -> RequiredPlugin {
        RequiredPlugin { name: "huaweicloud".into(), source: Some(source.into()), version: Some(version.into()), span: None }
    }

    fn summaries(d: Diagnostics) -> Vec<String> {
        d.0.into_iter().map(|d| d.summary).collect()
    }

    #[test]
    fn builtin_plugin_constraints() {
        for ok in ["= 0.4.0", ">= 0.4.0", "0.4.0", "~> 1.2", ">= 1.0.0, < 2.0.0", "v1.2.2", "> 1.1.0, < 1.1.5", "!= 0.4.0", "~> 1.0.4"] {
            assert!(summaries(check_required_plugins(&[plugin(HUAWEICLOUD_SOURCE, ok)])).is_empty(), "{ok}");
        }
        assert_eq!(
            summaries(check_required_plugins(&[plugin(HUAWEICLOUD_SOURCE, "< 0.4.0")])),
            ["version constraint \"< 0.4.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x"]
        );
        assert_eq!(
            summaries(check_required_plugins(&[plugin(HUAWEICLOUD_SOURCE, ">= 2.0")])),
            ["version constraint \">= 2.0\" of plugin \"huaweicloud\" admits neither 0.4.0 nor 1.x"]
        );
        assert_eq!(
            summaries(check_required_plugins(&[plugin(HUAWEICLOUD_SOURCE, ">= banana")])),
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

    #[test]
    fn pessimistic_operator() {
        let c = Constraint::parse("~> 1.2").unwrap();
        assert!(c.admits(Version(1, 9, 0)) && !c.admits(Version(2, 0, 0)) && !c.admits(Version(1, 1, 9)));
        let c = Constraint::parse("~> 1.2.3").unwrap();
        assert!(c.admits(Version(1, 2, 9)) && !c.admits(Version(1, 3, 0)));
    }
}
