//! Field tables and the reader that checks one block against them. A table row is the single
//! place where a field's name, type, default, origin and meaning live: "did you mean", refusals
//! and the generated documentation all read it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::body::{AttrValue, Attribute, Block};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::duration::DurationError;

/// The type of a field as written in a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    String,
    Bool,
    Number,
    /// A Go duration string such as `"1m30s"`.
    Duration,
    StringList,
    StringMap,
    /// A map whose values may be anything (e.g. `override`).
    AnyMap,
    /// A nested block that may appear at most once.
    Block,
    /// A nested block that may repeat.
    BlockList,
}

impl Ty {
    pub fn describe(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::Bool => "bool",
            Ty::Number => "number",
            Ty::Duration => "duration",
            Ty::StringList => "list(string)",
            Ty::StringMap => "map(string)",
            Ty::AnyMap => "map(any)",
            Ty::Block => "block",
            Ty::BlockList => "blocks",
        }
    }

    fn is_block(self) -> bool {
        matches!(self, Ty::Block | Ty::BlockList)
    }
}

/// Whether a field must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Req {
    No,
    Yes,
    /// Required when building in the cloud (credentials set), optional for the local cloud.
    Cloud,
}

/// Which line of the huaweicloud plugin (or which part of Packer) a field comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Both plugin lines, v0.4.0 and v1.x.
    Both,
    /// Plugin v0.4.0 only (removed in v1.0.0).
    V04,
    /// Plugin v1.x only.
    V1,
    /// The Packer plugin SDK communicator.
    Sdk,
    /// Packer core.
    Packer,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Both => "v0.4.0, v1.x",
            Origin::V04 => "v0.4.0",
            Origin::V1 => "v1.x",
            Origin::Sdk => "communicator",
            Origin::Packer => "packer",
        }
    }
}

/// Whether we act on a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Setting it is an error; the text says why and what to use instead.
    Refused(&'static str),
}

/// One row of a schema table.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub req: Req,
    /// The default as documentation text; empty when there is none.
    pub default: &'static str,
    pub origin: Origin,
    pub support: Support,
    /// What it means and, for plugin fields, how it maps onto our behaviour.
    pub doc: &'static str,
}

/// A field row with no default, optional, from both plugin lines, supported.
pub const fn field(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, req: Req::No, default: "", origin: Origin::Both, support: Support::Yes, doc }
}

impl Field {
    pub const fn req(self, req: Req) -> Field {
        Field { req, ..self }
    }
    pub const fn def(self, default: &'static str) -> Field {
        Field { default, ..self }
    }
    pub const fn from(self, origin: Origin) -> Field {
        Field { origin, ..self }
    }
    pub const fn refused(self, why: &'static str) -> Field {
        Field { support: Support::Refused(why), ..self }
    }
}

/// A value that may only be known during the build (it refers to `build.*`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deferrable<T> {
    Known(T),
    /// The expression source, to be evaluated by the engine once build values exist.
    Deferred(String),
}

impl<T> Deferrable<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Deferrable::Known(v) => Some(v),
            Deferrable::Deferred(_) => None,
        }
    }
}

/// A duration parsed with Go's `time.ParseDuration` rules; prints the way Go prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub const fn secs(s: u64) -> Self {
        GoDuration(Duration::from_secs(s))
    }

    /// Parses `"1m30s"`, `"300ms"`, `"1.5h"`, `"0"`; negative durations are refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s.starts_with('-') {
            return Err("durations cannot be negative".into());
        }
        let total = crate::duration::unsigned_nanos(s).map_err(|e| match e {
            DurationError::NotANumber(at) => format!("expected a number at \"{at}\""),
            DurationError::MissingUnit(num) => format!("missing unit after \"{num}\""),
            DurationError::UnknownUnit(unit) => format!("unknown unit \"{unit}\""),
        })?;
        if total > u64::MAX as f64 {
            return Err("duration is too long".into());
        }
        Ok(GoDuration(Duration::from_nanos(total.round() as u64)))
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `"1h2m3s"`, `"5m0s"`, `"300ms"`, `"0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        let frac = |v: u128, div: u128| -> String {
            let whole = v / div;
            let rem = v % div;
            if rem == 0 {
                whole.to_string()
            } else {
                // `div` is a power of ten of at least 1000, so its digits minus one is the width.
                let width = div.to_string().len() - 1;
                let s = format!("{whole}.{rem:0width$}");
                s.trim_end_matches('0').to_string()
            }
        };
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", frac(nanos, 1_000));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", frac(nanos, 1_000_000));
        }
        let h = nanos / 3_600_000_000_000;
        let m = (nanos / 60_000_000_000) % 60;
        let s = nanos % 60_000_000_000;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        write!(f, "{}s", frac(s, 1_000_000_000))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serializes a secret as `"<sensitive>"` (or `""` when empty) so that a printed plan never
/// shows it.
pub fn redact<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if v.is_empty() { "" } else { "<sensitive>" })
}

/// [`redact`] for optional secrets.
pub fn redact_opt<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => redact(v, s),
        None => s.serialize_none(),
    }
}

fn describe_value(v: &hcl::Value) -> String {
    match v {
        hcl::Value::Null => "null".into(),
        hcl::Value::Bool(b) => format!("bool {b}"),
        hcl::Value::Number(n) => format!("number {n}"),
        hcl::Value::String(s) => format!("string \"{s}\""),
        hcl::Value::Array(_) => "a list".into(),
        hcl::Value::Object(_) => "an object".into(),
    }
}

/// A scalar as a string, the way cty converts numbers and bools to strings.
fn scalar_string(v: &hcl::Value) -> Option<String> {
    match v {
        hcl::Value::String(s) => Some(s.clone()),
        hcl::Value::Number(n) => Some(n.to_string()),
        hcl::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts a value to a list of strings, or says what it is.
pub fn string_list(v: &hcl::Value) -> Result<Vec<String>, String> {
    match v {
        hcl::Value::Array(items) => items
            .iter()
            .map(|i| scalar_string(i).ok_or_else(|| format!("an element is {}", describe_value(i))))
            .collect(),
        other => Err(format!("got {}", describe_value(other))),
    }
}

/// Converts a value to a map of strings, or says what it is.
pub fn string_map(v: &hcl::Value) -> Result<BTreeMap<String, String>, String> {
    match v {
        hcl::Value::Object(m) => m
            .iter()
            .map(|(k, i)| {
                scalar_string(i).map(|s| (k.clone(), s)).ok_or_else(|| format!("\"{k}\" is {}", describe_value(i)))
            })
            .collect(),
        other => Err(format!("got {}", describe_value(other))),
    }
}

/// Reads one block against a set of field tables: reports unknown, misplaced and refused
/// fields when created, then hands out typed values, reporting type errors at the value.
pub struct Reader<'b> {
    pub block: &'b Block,
    tables: Vec<&'static [Field]>,
    /// Where the block is, for messages (`source "null" "a"`).
    pub what: String,
    pub diags: Diagnostics,
    /// Whether `build.*` values are acceptable (provisioners and post-processors).
    allow_deferred: bool,
}

impl<'b> Reader<'b> {
    pub fn new(block: &'b Block, tables: &[&'static [Field]], what: impl Into<String>) -> Self {
        let mut r = Reader {
            block,
            tables: tables.to_vec(),
            what: what.into(),
            diags: Diagnostics::default(),
            allow_deferred: false,
        };
        r.check_names();
        r
    }

    pub fn allow_deferred(mut self) -> Self {
        self.allow_deferred = true;
        self
    }

    pub fn lookup(&self, name: &str) -> Option<&'static Field> {
        self.tables.iter().flat_map(|t| t.iter()).find(|f| f.name == name)
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tables.iter().flat_map(|t| t.iter()).map(|f| f.name)
    }

    fn check_names(&mut self) {
        let block = self.block;
        for a in &block.attributes {
            match self.lookup(&a.name) {
                None => {
                    let mut d = Diagnostic::error(format!("unsupported argument \"{}\" in {}", a.name, self.what))
                        .at(a.name_span);
                    if let Some(s) = did_you_mean(&a.name, self.names()) {
                        d = d.help(format!("did you mean \"{s}\"?"));
                    }
                    self.diags.push(d);
                }
                Some(f) if f.ty.is_block() => self.diags.push(
                    Diagnostic::error(format!("\"{}\" is a block, not an argument", a.name))
                        .at(a.name_span)
                        .help(format!("write it as a block: {} {{ ... }}", a.name)),
                ),
                Some(f) => self.refuse_if_refused(f, a.name_span),
            }
        }
        for b in &block.blocks {
            match self.lookup(&b.kind) {
                None => {
                    let mut d = Diagnostic::error(format!("unsupported block type \"{}\" in {}", b.kind, self.what))
                        .at(b.kind_span);
                    if let Some(s) = did_you_mean(&b.kind, self.names()) {
                        d = d.help(format!("did you mean \"{s}\"?"));
                    }
                    self.diags.push(d);
                }
                Some(f) if !f.ty.is_block() => self.diags.push(
                    Diagnostic::error(format!("\"{}\" is an argument, not a block", b.kind))
                        .at(b.kind_span)
                        .help(format!("write it as an argument: {} = ...", b.kind)),
                ),
                Some(f) => {
                    self.refuse_if_refused(f, b.kind_span);
                    if f.ty == Ty::Block && block.blocks_of(&b.kind).next().is_some_and(|first| !std::ptr::eq(first, b)) {
                        self.diags.push(
                            Diagnostic::error(format!("duplicate \"{}\" block in {}", b.kind, self.what))
                                .at(b.kind_span)
                                .help("only one such block is allowed; merge them"),
                        );
                    }
                }
            }
        }
    }

    fn refuse_if_refused(&mut self, f: &Field, span: Span) {
        if let Support::Refused(why) = f.support {
            self.diags.push(refusal(f.name, why).at(span));
        }
    }

    /// Whether an attribute or block of this name is present with a non-null value.
    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some() || self.block.blocks_of(name).next().is_some()
    }

    /// The attribute, unless absent, null or refused (refusals are already reported).
    pub fn attr(&self, name: &str) -> Option<&'b Attribute> {
        let a = self.block.attribute(name)?;
        if matches!(a.value, AttrValue::Known(hcl::Value::Null)) {
            return None;
        }
        match self.lookup(name) {
            Some(f) if f.support == Support::Yes && !f.ty.is_block() => Some(a),
            _ => None,
        }
    }

    /// The span of an attribute's name, else of the block keyword.
    pub fn span(&self, name: &str) -> Span {
        self.block.attribute(name).map_or(self.block.kind_span, |a| a.name_span)
    }

    pub fn error_at(&mut self, span: Span, summary: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(summary).at(span));
        // Just pushed, so the list is not empty.
        let last = self.diags.0.len() - 1;
        &mut self.diags.0[last]
    }

    fn type_error(&mut self, a: &Attribute, want: &str, got: String) {
        self.diags.push(Diagnostic::error(format!("\"{}\" must be {want}, {got}", a.name)).at(a.value_span));
    }

    /// The known value, or a reported error when it depends on build values.
    fn known(&mut self, a: &'b Attribute) -> Option<&'b hcl::Value> {
        match &a.value {
            AttrValue::Known(v) => Some(v),
            AttrValue::Deferred(_) => {
                let why = if self.allow_deferred {
                    "this field must be known before the build starts"
                } else {
                    "sources are configured before the build starts"
                };
                self.diags.push(
                    Diagnostic::error(format!("\"{}\" cannot depend on build values", a.name))
                        .at(a.value_span)
                        .detail(why),
                );
                None
            }
        }
    }

    /// A string; `""` counts as unset, as in the Go plugin.
    pub fn string(&mut self, name: &str) -> Option<String> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        match scalar_string(v) {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
            None => {
                self.type_error(a, "a string", format!("got {}", describe_value(v)));
                None
            }
        }
    }

    /// A string that may depend on build values.
    pub fn text(&mut self, name: &str) -> Option<Deferrable<String>> {
        let a = self.attr(name)?;
        if let (true, AttrValue::Deferred(e)) = (self.allow_deferred, &a.value) {
            return Some(Deferrable::Deferred(e.clone()));
        }
        self.string(name).map(Deferrable::Known)
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        match v {
            hcl::Value::Bool(b) => Some(*b),
            hcl::Value::String(s) if s == "true" => Some(true),
            hcl::Value::String(s) if s == "false" => Some(false),
            other => {
                self.type_error(a, "a bool (true or false)", format!("got {}", describe_value(other)));
                None
            }
        }
    }

    /// A whole number between `min` and `max`.
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        let n = match v {
            hcl::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            hcl::Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.type_error(a, &format!("between {min} and {max}"), format!("got {n}"));
                None
            }
            None => {
                self.type_error(a, "a whole number", format!("got {}", describe_value(v)));
                None
            }
        }
    }

    pub fn duration(&mut self, name: &str) -> Option<GoDuration> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        let Some(s) = scalar_string(v) else {
            self.type_error(a, "a duration string such as \"5m\"", format!("got {}", describe_value(v)));
            return None;
        };
        match GoDuration::parse(&s) {
            Ok(d) => Some(d),
            Err(why) => {
                self.diags.push(
                    Diagnostic::error(format!("invalid duration \"{s}\" for \"{name}\": {why}"))
                        .at(a.value_span)
                        .help("write a Go duration such as \"1m30s\", \"300ms\" or \"2h\""),
                );
                None
            }
        }
    }

    pub fn list(&mut self, name: &str) -> Option<Vec<String>> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        match string_list(v) {
            Ok(l) => Some(l),
            Err(got) => {
                self.type_error(a, "a list of strings", got);
                None
            }
        }
    }

    /// A list of strings that may depend on build values.
    pub fn text_list(&mut self, name: &str) -> Option<Deferrable<Vec<String>>> {
        let a = self.attr(name)?;
        if let (true, AttrValue::Deferred(e)) = (self.allow_deferred, &a.value) {
            return Some(Deferrable::Deferred(e.clone()));
        }
        self.list(name).map(Deferrable::Known)
    }

    pub fn map(&mut self, name: &str) -> Option<BTreeMap<String, String>> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        match string_map(v) {
            Ok(m) => Some(m),
            Err(got) => {
                self.type_error(a, "a map of strings", got);
                None
            }
        }
    }

    /// A map of strings that may depend on build values.
    pub fn text_map(&mut self, name: &str) -> Option<Deferrable<BTreeMap<String, String>>> {
        let a = self.attr(name)?;
        if let (true, AttrValue::Deferred(e)) = (self.allow_deferred, &a.value) {
            return Some(Deferrable::Deferred(e.clone()));
        }
        self.map(name).map(Deferrable::Known)
    }

    /// An object whose values may be anything.
    pub fn object(&mut self, name: &str) -> Option<(&'b Attribute, &'b hcl::Map<String, hcl::Value>)> {
        let a = self.attr(name)?;
        let v = self.known(a)?;
        match v {
            hcl::Value::Object(m) => Some((a, m)),
            other => {
                self.type_error(a, "a map", format!("got {}", describe_value(other)));
                None
            }
        }
    }

    /// A string that must be one of `allowed`.
    pub fn one_of(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(name)?;
        if allowed.contains(&s.as_str()) {
            return Some(s);
        }
        let span = self.attr(name).map_or(self.block.kind_span, |a| a.value_span);
        let list = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
        let mut d = Diagnostic::error(format!("\"{name}\" must be one of {list}, got \"{s}\"")).at(span);
        let same_case = allowed.iter().copied().find(|a| a.eq_ignore_ascii_case(&s));
        if let Some(m) = same_case.or_else(|| did_you_mean(&s, allowed.iter().copied())) {
            d = d.help(format!("did you mean \"{m}\"?"));
        }
        self.diags.push(d);
        None
    }

    /// Reports a missing required field at the block keyword.
    pub fn require<T>(&mut self, name: &str, v: &Option<T>, help: &str) {
        if v.is_none() {
            let mut d = Diagnostic::error(format!("\"{name}\" must be set in {}", self.what)).at(self.block.kind_span);
            if !help.is_empty() {
                d = d.help(help.to_string());
            }
            self.diags.push(d);
        }
    }

    /// Reports that at most one of `names` may be set; returns how many are.
    pub fn at_most_one(&mut self, names: &[&str]) -> usize {
        let set: Vec<&str> = names.iter().copied().filter(|n| self.has(n)).collect();
        if set.len() > 1 {
            let span = self.span(set[1]);
            let list = set.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" and ");
            self.diags.push(
                Diagnostic::error(format!("only one of {list} can be set in {}", self.what))
                    .at(span)
                    .help(format!("keep one of {} and remove the other", set.join(", "))),
            );
        }
        set.len()
    }

    pub fn finish(self) -> Diagnostics {
        self.diags
    }
}

/// The error for a field we refuse.
pub fn refusal(name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(format!("\"{name}\" is not supported by cce-image-builder: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let p = |s: &str| GoDuration::parse(s).map(|d| d.0);
        assert_eq!(p("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(p("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(p("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(p("2h45m"), Ok(Duration::from_secs(9900)));
        assert_eq!(p("0"), Ok(Duration::ZERO));
        assert_eq!(p("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(p("300"), Err("missing unit after \"300\"".into()));
        assert_eq!(p("5x"), Err("unknown unit \"x\"".into()));
        assert_eq!(p("-1s"), Err("durations cannot be negative".into()));
        assert_eq!(p(""), Err("empty duration".into()));
        assert_eq!(p("m"), Err("expected a number at \"m\"".into()));
        assert_eq!(p("1..2s"), Err("expected a number at \"1..2s\"".into()));
    }

    #[test]
    fn prints_durations_like_go() {
        let f = |s: &str| GoDuration::parse(s).map(|d| d.to_string()).unwrap_or_default();
        assert_eq!(f("5m"), "5m0s");
        assert_eq!(f("1m30s"), "1m30s");
        assert_eq!(f("30m"), "30m0s");
        assert_eq!(f("2h"), "2h0m0s");
        assert_eq!(f("300ms"), "300ms");
        assert_eq!(f("1.5s"), "1.5s");
        assert_eq!(f("0"), "0s");
        assert_eq!(f("10us"), "10µs");
    }
}
