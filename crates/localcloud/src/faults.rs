//! Fault injection: rules that make chosen API operations fail the way the real cloud does
//! (5xx, throttling, failed jobs, servers in ERROR, slowness, dropped connections, broken JSON).
//! Rules come from a JSON file at start and from the `/_admin/faults` endpoint; this module only
//! decides which rule fires for a call, the HTTP layer and the operations apply it.

use std::collections::HashMap;

/// What a fault does.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer with this HTTP status (5xx) and a gateway error body; the operation does not run.
    Status { status: u16 },
    /// Answer 429 with the gateway's `APIGW.0308` body; the operation does not run.
    Throttle,
    /// The operation runs, its job ends in FAIL with this reason.
    JobFail {
        #[serde(default = "default_fail_reason")]
        fail_reason: String,
    },
    /// The operation runs, the server it creates ends in ERROR and its job fails.
    ServerError,
    /// Wait this long, then run the operation normally.
    Slow { delay_ms: u64 },
    /// The operation runs, then the connection is dropped before the body is sent.
    Drop,
    /// The operation runs, the response body is cut in half.
    Truncate,
    /// The operation runs, the response body is not JSON.
    Malformed,
}

fn default_fail_reason() -> String {
    "injected failure".to_string()
}

/// One rule: which calls it hits and what it does.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct FaultRule {
    /// Operation name as the SDK calls it (`CreatePostPaidServers`), optionally prefixed by the
    /// service (`ims:ShowJob`); `*` hits every operation.
    pub op: String,
    /// Only the n-th call of the operation (1-based, counted since start; for `*`, the n-th call
    /// of any operation), else every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    /// How many times the rule fires before it is spent; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// The shape of a rule before the check for unknown fields, which serde cannot do through
/// `flatten`.
#[derive(serde::Deserialize)]
struct RawRule {
    op: String,
    #[serde(default)]
    nth: Option<u64>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(flatten)]
    kind: FaultKind,
}

const RULE_FIELDS: &[&str] = &[
    "op",
    "nth",
    "times",
    "kind",
    "status",
    "fail_reason",
    "delay_ms",
];

impl TryFrom<serde_json::Value> for FaultRule {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, Self::Error> {
        if let Some(map) = v.as_object() {
            if let Some(k) = map.keys().find(|k| !RULE_FIELDS.contains(&k.as_str())) {
                return Err(format!(
                    "unknown field `{k}` in a fault rule, expected one of {}",
                    RULE_FIELDS.join(", ")
                ));
            }
        }
        let raw: RawRule = serde_json::from_value(v).map_err(|e| e.to_string())?;
        if let FaultKind::Status { status } = raw.kind {
            if !(400..=599).contains(&status) {
                return Err(format!(
                    "fault status {status} is not an error status: use 400-599"
                ));
            }
        }
        Ok(FaultRule {
            op: raw.op,
            nth: raw.nth,
            times: raw.times,
            kind: raw.kind,
        })
    }
}

/// The file format of `--faults` and the body of `POST /_admin/faults`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSet {
    pub faults: Vec<FaultRule>,
}

/// Reads a fault file (JSON `{"faults":[...]}`), naming the file and position on error.
pub fn load_file(path: &std::path::Path) -> Result<Vec<FaultRule>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read fault file {}: {e}", path.display()))?;
    serde_json::from_str::<FaultSet>(&text)
        .map(|s| s.faults)
        .map_err(|e| {
            format!(
                "{}:{}:{}: invalid fault file: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })
}

/// Armed rules and the call counters they are matched against.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    calls: HashMap<String, u64>,
    /// Calls of every operation, which `nth` counts for the `*` rule.
    all_calls: u64,
}

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Faults {
        Faults {
            rules,
            calls: HashMap::new(),
            all_calls: 0,
        }
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    pub fn add(&mut self, rules: Vec<FaultRule>) {
        self.rules.extend(rules);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Counts a call of `service:op` and returns the fault that hits it, if any.
    pub fn on_call(&mut self, service: &str, op: &str) -> Option<FaultKind> {
        let qualified = format!("{service}:{op}");
        let count = self.calls.entry(qualified.clone()).or_insert(0);
        *count += 1;
        let n = *count;
        self.all_calls += 1;
        let all = self.all_calls;
        let idx = self.rules.iter().position(|r| {
            let seen = if r.op == "*" { all } else { n };
            (r.op == "*" || r.op == op || r.op == qualified)
                && r.nth.is_none_or(|want| want == seen)
                && r.times.is_none_or(|t| t > 0)
        })?;
        let rule = &mut self.rules[idx];
        if let Some(t) = rule.times.as_mut() {
            *t -= 1;
        }
        let kind = rule.kind.clone();
        if rule.times == Some(0) {
            self.rules.remove(idx);
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_call_and_times() {
        let set: FaultSet = serde_json::from_str(
            r#"{"faults":[{"op":"CreateImage","nth":2,"kind":"job_fail","fail_reason":"disk busy"},
                           {"op":"ecs:ShowJob","times":1,"kind":"status","status":503}]}"#,
        )
        .unwrap();
        let mut f = Faults::new(set.faults);
        assert_eq!(f.on_call("ims", "CreateImage"), None);
        assert_eq!(
            f.on_call("ims", "CreateImage"),
            Some(FaultKind::JobFail {
                fail_reason: "disk busy".into()
            })
        );
        assert_eq!(f.on_call("ims", "CreateImage"), None);
        assert_eq!(
            f.on_call("ims", "ShowJob"),
            None,
            "qualified op must not hit another service"
        );
        assert_eq!(
            f.on_call("ecs", "ShowJob"),
            Some(FaultKind::Status { status: 503 })
        );
        assert_eq!(f.on_call("ecs", "ShowJob"), None, "a spent rule is removed");
        assert_eq!(f.rules().len(), 1);
    }

    #[test]
    fn star_counts_every_operation() {
        let mut f = Faults::new(vec![FaultRule {
            op: "*".into(),
            nth: Some(3),
            times: None,
            kind: FaultKind::Throttle,
        }]);
        assert_eq!(f.on_call("ecs", "ListFlavors"), None);
        assert_eq!(f.on_call("ims", "ListImages"), None);
        assert_eq!(f.on_call("vpc", "ShowVpc"), Some(FaultKind::Throttle));
        assert_eq!(f.on_call("vpc", "ShowVpc"), None);
    }

    #[test]
    fn unknown_kind_or_field_is_refused() {
        assert!(
            serde_json::from_str::<FaultSet>(r#"{"faults":[{"op":"X","kind":"explode"}]}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<FaultSet>(
                r#"{"faults":[{"op":"X","kind":"throttle","colour":1}]}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<FaultSet>(
                r#"{"faults":[{"op":"X","kind":"status","status":200}]}"#
            )
            .is_err()
        );
    }
}
