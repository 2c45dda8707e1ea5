//! Version constraints as Packer writes them in `required_version` and `required_plugins`
//! (`= 0.4.0`, `>= 0.4.0, < 2.0`, `~> 1.2`, `!= 1.0.1`), checked against versions we provide.

use std::cmp::Ordering;
use std::fmt;

/// A version: numeric segments, compared segment by segment (missing ones are 0), and an optional
/// pre-release tag that sorts before the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub segments: Vec<u64>,
    pub pre: Option<String>,
}

impl Version {
    /// `1`, `1.2`, `v1.2.3`, `1.2.3-rc1`, `1.2.3+build` (the build part is dropped).
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (t, None),
        };
        let core = core.split('+').next().unwrap_or(core);
        let not_a_version = || format!("\"{}\" is not a version", text.trim());
        if core.is_empty() {
            return Err(not_a_version());
        }
        let segments = core.split('.').map(|s| s.parse::<u64>().map_err(|_| not_a_version())).collect::<Result<Vec<_>, _>>()?;
        if segments.len() > 3 {
            return Err(format!("{}: it has more than three numbers", not_a_version()));
        }
        Ok(Version { segments, pre })
    }

    fn seg(&self, i: usize) -> u64 {
        self.segments.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        for i in 0..3 {
            match self.seg(i).cmp(&other.seg(i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.segments.iter().map(u64::to_string).collect();
        f.write_str(&s.join("."))?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
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

/// One `op version` part of a constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    op: Op,
    version: Version,
}

/// A comma-separated list of conditions, all of which must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    parts: Vec<Part>,
    text: String,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Constraint {
    /// Parses a constraint such as `">= 0.4.0, < 2.0"`; the error names the part that is wrong.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let mut parts = Vec::new();
        for raw in text.split(',') {
            let p = raw.trim();
            if p.is_empty() {
                return Err(format!("empty condition in \"{}\"", text.trim()));
            }
            let ops = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ];
            let (op, rest) = ops
                .iter()
                .find_map(|(s, op)| p.strip_prefix(s).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, p));
            let version = Version::parse(rest)?;
            parts.push(Part { op, version });
        }
        Ok(Constraint { parts, text: text.trim().to_string() })
    }

    /// Whether `v` meets every condition.
    pub fn admits(&self, v: &Version) -> bool {
        self.parts.iter().all(|p| match p.op {
            Op::Eq => v == &p.version || v.cmp(&p.version) == Ordering::Equal,
            Op::Ne => v.cmp(&p.version) != Ordering::Equal,
            Op::Gt => v > &p.version,
            Op::Ge => v >= &p.version,
            Op::Lt => v < &p.version,
            Op::Le => v <= &p.version,
            Op::Pessimistic => {
                // `~> 1.2` allows 1.x from 1.2 on; `~> 1.2.3` allows 1.2.x from 1.2.3 on.
                if v < &p.version {
                    return false;
                }
                let n = p.version.segments.len().max(2);
                (0..n - 1).all(|i| v.seg(i) == p.version.seg(i))
            }
        })
    }

    /// Whether some version with the given major number meets the constraint: tried on the
    /// bounds the constraint names and next to them, which is where an interval starts or ends.
    pub fn admits_major(&self, major: u64) -> bool {
        let mut candidates = vec![
            Version { segments: vec![major, 0, 0], pre: None },
            Version { segments: vec![major, u64::from(u32::MAX), 0], pre: None },
        ];
        for p in &self.parts {
            let v = &p.version;
            if v.seg(0) == major {
                for (a, b, c) in [(0, 0, 0), (0, 0, 1), (0, 1, 0)] {
                    candidates.push(Version { segments: vec![v.seg(0).saturating_add(a), v.seg(1).saturating_add(b), v.seg(2).saturating_add(c)], pre: None });
                }
                if v.seg(2) > 0 {
                    candidates.push(Version { segments: vec![v.seg(0), v.seg(1), v.seg(2) - 1], pre: None });
                }
            }
        }
        candidates.iter().any(|c| c.seg(0) == major && self.admits(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraint::parse(c).unwrap().admits(&Version::parse(v).unwrap())
    }

    #[test]
    fn operators() {
        assert!(ok("= 0.4.0", "0.4.0"));
        assert!(ok("0.4.0", "v0.4.0"));
        assert!(!ok("= 0.4.0", "0.4.1"));
        assert!(ok("!= 1.0.1", "1.0.0"));
        assert!(!ok("!= 1.0.1", "1.0.1"));
        assert!(ok(">= 0.4.0", "0.4.0"));
        assert!(ok("> 0.3", "0.4.0"));
        assert!(!ok("> 0.4.0", "0.4.0"));
        assert!(ok("< 1.0.0", "0.4.0"));
        assert!(ok("<= 0.4", "0.4.0"));
        assert!(ok(">= 0.4.0, < 1.0.0", "0.4.0"));
        assert!(!ok(">= 0.4.0, < 0.4.1, != 0.4.0", "0.4.0"));
        assert!(!ok(">= 1.0.0-rc1", "1.0.0-beta"));
        assert!(ok(">= 1.0.0-rc1", "1.0.0"));
    }

    #[test]
    fn pessimistic() {
        assert!(ok("~> 1.2", "1.9.0"));
        assert!(!ok("~> 1.2", "2.0.0"));
        assert!(!ok("~> 1.2", "1.1.9"));
        assert!(ok("~> 1.2.3", "1.2.9"));
        assert!(!ok("~> 1.2.3", "1.3.0"));
        assert!(ok("~> 0.4", "0.4.0"));
        assert!(ok("~> 1", "1.5.0"));
        assert!(!ok("~> 1", "2.0.0"));
    }

    #[test]
    fn majors() {
        let c = |s: &str| Constraint::parse(s).unwrap();
        assert!(c(">= 1.2.0").admits_major(1));
        assert!(c("> 1.2.0, < 1.2.2").admits_major(1));
        assert!(!c("> 1.2.0, < 1.2.1").admits_major(1));
        assert!(!c(">= 2.0").admits_major(1));
        assert!(c("~> 1.5").admits_major(1));
        assert!(!c("< 1.0.0").admits_major(1));
        assert!(c("> 1.1.0, < 1.1.5").admits_major(1));
        assert!(c("!= 0.4.0").admits_major(1));
        assert!(c("~> 1.0.4").admits_major(1));
        assert!(!c("~> 0.4").admits_major(1));
    }

    #[test]
    fn bad_constraints() {
        assert_eq!(Constraint::parse(">= x").unwrap_err(), "\"x\" is not a version");
        assert_eq!(Constraint::parse(">= banana").unwrap_err(), "\"banana\" is not a version");
        assert_eq!(Constraint::parse("newest").unwrap_err(), "\"newest\" is not a version");
        assert_eq!(Constraint::parse(">= 1,").unwrap_err(), "empty condition in \">= 1,\"");
        assert_eq!(Constraint::parse("1.2.3.4").unwrap_err(), "\"1.2.3.4\" is not a version: it has more than three numbers");
    }
}
