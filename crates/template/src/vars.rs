//! Input variables: `variable "x" {}` and legacy `variables {}` declarations, and their values
//! from defaults, `PKR_VAR_*`, `*.auto.pkrvars.hcl`, `-var-file` and `-var`, in Packer's order of
//! precedence; each value is checked and converted to the declared type, then validated.

use std::collections::BTreeMap;
use std::ops::Range;

use hcl::Value;
use hcl::edit::Span as _;
use hcl::edit::expr::Expression as Expr;
use hcl::edit::structure::{Block, Body, Structure};

use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};
use crate::eval::{self, Scope};
use crate::load::{ValueSource, Variable};
use crate::types::{self, Type};

/// One `validation {}` block.
#[derive(Clone, Debug)]
pub(crate) struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
    pub file: FileId,
}

/// A declared variable before values are assigned.
#[derive(Clone, Debug)]
pub(crate) struct Decl {
    pub name: String,
    pub ty: Type,
    pub type_expr: String,
    pub default: Option<Value>,
    /// The default is typed straight into the template (not `env()`).
    pub default_literal: bool,
    pub default_span: Option<Span>,
    pub sensitive: bool,
    pub description: Option<String>,
    pub validations: Vec<Validation>,
    pub span: Span,
    /// Its declaration had an error already reported; no "unset" error on top of it.
    pub broken: bool,
}

pub(crate) fn span_of(file: FileId, range: Option<Range<usize>>) -> Span {
    let r = range.unwrap_or(0..0);
    Span { file, start: r.start, end: r.end }
}

const VARIABLE_ATTRS: [&str; 5] = ["type", "default", "description", "sensitive", "nullable"];

fn unsupported(what: &str, name: &str, candidates: &[&str], span: Span) -> Diagnostic {
    let mut d = Diagnostic::error(format!("unsupported {what} \"{name}\"")).at(span);
    d = match did_you_mean(name, candidates.iter().copied()) {
        Some(s) => d.help(format!("did you mean \"{s}\"?")),
        None => d.help(format!("expected one of: {}", candidates.join(", "))),
    };
    d
}

/// Reads a `variable "name" { ... }` block.
pub(crate) fn declare(
    block: &Block,
    file: FileId,
    env: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<Decl> {
    let span = span_of(file, block.span());
    let name = match block.labels.as_slice() {
        [l] => l.as_str().to_string(),
        _ => {
            diags.push(
                Diagnostic::error("a variable block needs exactly one label, its name")
                    .at(span_of(file, block.ident.span()))
                    .help("write variable \"name\" { ... }"),
            );
            return None;
        }
    };
    let mut decl = Decl {
        name,
        ty: Type::Any,
        type_expr: "any".into(),
        default: None,
        default_literal: false,
        default_span: None,
        sensitive: false,
        description: None,
        validations: Vec::new(),
        span,
        broken: false,
    };
    let mut default_expr = None;
    let mut ok = true;
    for s in block.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let vspan = span_of(file, a.value.span());
                match key {
                    "type" => match types::parse_type(&a.value) {
                        Ok(t) => {
                            decl.type_expr = t.to_string();
                            decl.ty = t;
                        }
                        Err(e) => {
                            ok = false;
                            diags.push(
                                Diagnostic::error(format!("invalid type for variable \"{}\": {}", decl.name, e.message))
                                    .at(span_of(file, e.range.or(a.value.span()))),
                            );
                        }
                    },
                    "default" => default_expr = Some(&a.value),
                    "description" => match types::literal_value(&a.value) {
                        Some(Value::String(s)) => decl.description = Some(s),
                        _ => diags.push(Diagnostic::error("description must be a literal string").at(vspan)),
                    },
                    "sensitive" => match types::literal_value(&a.value) {
                        Some(Value::Bool(b)) => decl.sensitive = b,
                        _ => diags.push(Diagnostic::error("sensitive must be true or false").at(vspan)),
                    },
                    "nullable" => {}
                    other => diags.push(unsupported("argument", other, &VARIABLE_ATTRS, span_of(file, a.key.span()))),
                }
            }
            Structure::Block(b) if b.ident.as_str() == "validation" => {
                if let Some(v) = validation(b, file, diags) {
                    decl.validations.push(v);
                }
            }
            Structure::Block(b) => diags.push(unsupported("block", b.ident.as_str(), &["validation"], span_of(file, b.ident.span()))),
        }
    }
    decl.broken = !ok;
    if let Some(expr) = default_expr {
        let place = "in a variable default";
        let scope = Scope { env: Some(env), ..Scope::empty(file, place) };
        let dspan = span_of(file, expr.span());
        decl.default_span = Some(dspan);
        let mut local = Diagnostics::default();
        let value = eval::eval(expr, &scope, &mut local);
        diags.extend(local);
        match value {
            Some(ev) => {
                decl.default_literal = ev.literal;
                let crate::body::AttrValue::Known(v) = ev.value else {
                    // Scope::empty defers nothing, so eval never returns Deferred here.
                    return None;
                };
                if ok {
                    match types::convert(&v, &decl.ty) {
                        Ok(c) => decl.default = Some(c),
                        Err(e) => diags.push(
                            Diagnostic::error(format!("invalid default value for variable \"{}\": {e}", decl.name))
                                .at(dspan)
                                .detail(format!("the variable's type is {}", decl.type_expr)),
                        ),
                    }
                } else {
                    decl.default = Some(v);
                }
            }
            None => decl.broken = true,
        }
    }
    Some(decl)
}

fn validation(b: &Block, file: FileId, diags: &mut Diagnostics) -> Option<Validation> {
    let mut condition = None;
    let mut message = None;
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) if a.key.as_str() == "condition" => condition = Some(a.value.clone()),
            Structure::Attribute(a) if a.key.as_str() == "error_message" => message = Some(a.value.clone()),
            Structure::Attribute(a) => {
                diags.push(unsupported("argument", a.key.as_str(), &["condition", "error_message"], span_of(file, a.key.span())))
            }
            Structure::Block(inner) => diags.push(unsupported("block", inner.ident.as_str(), &[], span_of(file, inner.ident.span()))),
        }
    }
    match (condition, message) {
        (Some(condition), Some(error_message)) => Some(Validation { condition, error_message, file }),
        (c, _) => {
            let missing = if c.is_none() { "condition" } else { "error_message" };
            diags.push(
                Diagnostic::error(format!("a validation block needs \"{missing}\""))
                    .at(span_of(file, b.ident.span()))
                    .help("write validation { condition = ..., error_message = \"...\" }"),
            );
            None
        }
    }
}

/// Reads a legacy `variables { name = default ... }` block.
pub(crate) fn declare_legacy(body: &Body, file: FileId, env: &BTreeMap<String, String>, diags: &mut Diagnostics) -> Vec<Decl> {
    let mut out = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let scope = Scope { env: Some(env), ..Scope::empty(file, "in a variable default") };
                let Some(ev) = eval::eval(&a.value, &scope, diags) else { continue };
                let crate::body::AttrValue::Known(v) = ev.value else { continue };
                out.push(Decl {
                    name: a.key.as_str().to_string(),
                    ty: Type::Any,
                    type_expr: "any".into(),
                    default: Some(v),
                    default_literal: ev.literal,
                    default_span: Some(span_of(file, a.value.span())),
                    sensitive: false,
                    description: None,
                    validations: Vec::new(),
                    span: span_of(file, a.span()),
                    broken: false,
                });
            }
            Structure::Block(b) => diags.push(
                Diagnostic::error("a variables block holds only name = default pairs")
                    .at(span_of(file, b.ident.span()))
                    .help(format!("declare it with variable \"{}\" {{ ... }} instead", b.ident.as_str())),
            ),
        }
    }
    out
}

/// Parses a `-var`/`PKR_VAR_` value as Packer does: text for strings and `any`, the text itself
/// converted for other primitive types, an HCL expression for collections.
pub(crate) fn parse_text_value(text: &str, ty: &Type) -> Result<Value, String> {
    match ty {
        Type::String | Type::Any => Ok(Value::String(text.to_string())),
        Type::Number | Type::Bool => types::convert(&Value::String(text.to_string()), ty),
        _ => {
            let expr = hcl::edit::parser::parse_expr(text).map_err(|e| format!("cannot parse {text:?} as {ty}: {}", e.message()))?;
            let mut d = Diagnostics::default();
            let scope = Scope::empty(FileId(usize::MAX), "in a command-line value");
            let v = eval::eval_value(&expr, &scope, &mut d)
                .ok_or_else(|| d.0.first().map_or_else(|| "invalid value".to_string(), |x| x.summary.clone()))?;
            types::convert(&v, ty)
        }
    }
}

/// Where values come from, for [`assign`].
pub(crate) struct Inputs<'a> {
    pub env: &'a BTreeMap<String, String>,
    /// `(file, body)` of each auto var file, in name order.
    pub auto_files: &'a [(FileId, std::path::PathBuf, Body)],
    /// `(file, body)` of each `-var-file`, in command-line order.
    pub var_files: &'a [(FileId, std::path::PathBuf, Body)],
    pub cli: &'a [(String, String)],
    pub warn_undeclared: bool,
    /// No error for a variable left without a value.
    pub allow_unset: bool,
}

/// Gives every declared variable its final value; reports type mismatches, undeclared names and
/// unset variables.
pub(crate) fn assign(decls: &[Decl], inputs: &Inputs, diags: &mut Diagnostics) -> Vec<Variable> {
    let mut values: Vec<(Option<Value>, ValueSource, Option<Span>)> = decls
        .iter()
        .map(|d| match &d.default {
            Some(v) => (Some(v.clone()), ValueSource::Default, d.default_span),
            None => (None, ValueSource::Unset, None),
        })
        .collect();
    // A value was given but was invalid (and reported): no "unset" error on top of it.
    let mut invalid = vec![false; decls.len()];
    let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    let index = |n: &str| decls.iter().position(|d| d.name == n);

    for (i, d) in decls.iter().enumerate() {
        let key = format!("PKR_VAR_{}", d.name);
        if let Some(text) = inputs.env.get(&key) {
            match parse_text_value(text, &d.ty) {
                Ok(v) => values[i] = (Some(v), ValueSource::Env(key), None),
                Err(e) => invalid[i] = diags_push(diags,
                    Diagnostic::error(format!("invalid value for variable \"{}\" from the environment variable {key}: {e}", d.name))
                        .detail(format!("the variable's type is {}", d.type_expr)),
                ),
            }
        }
    }

    let files = inputs
        .auto_files
        .iter()
        .map(|f| (f, true))
        .chain(inputs.var_files.iter().map(|f| (f, false)));
    for ((file, path, body), auto) in files {
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let Some(i) = index(name) else {
                        if inputs.warn_undeclared {
                            let mut d = Diagnostic::warning(format!("undeclared variable \"{name}\" in a var file"))
                                .at(span_of(*file, a.key.span()))
                                .detail("the value is ignored");
                            d = match did_you_mean(name, names.iter().copied()) {
                                Some(s) => d.help(format!("did you mean \"{s}\"?")),
                                None => d.help(format!("declare it with variable \"{name}\" {{}} or remove it")),
                            };
                            diags.push(d);
                        }
                        continue;
                    };
                    let vspan = span_of(*file, a.value.span());
                    let scope = Scope::empty(*file, "in a var file");
                    let Some(v) = eval::eval_value(&a.value, &scope, diags) else {
                        invalid[i] = true;
                        continue;
                    };
                    match types::convert(&v, &decls[i].ty) {
                        Ok(c) => {
                            let src = if auto { ValueSource::AutoVarFile(path.clone()) } else { ValueSource::VarFile(path.clone()) };
                            values[i] = (Some(c), src, Some(vspan));
                        }
                        Err(e) => invalid[i] = diags_push(diags,
                            Diagnostic::error(format!("invalid value for variable \"{name}\": {e}"))
                                .at(vspan)
                                .detail(format!("the variable's type is {}", decls[i].type_expr)),
                        ),
                    }
                }
                Structure::Block(b) => diags.push(
                    Diagnostic::error("a var file holds only name = value pairs")
                        .at(span_of(*file, b.ident.span())),
                ),
            }
        }
    }

    for (name, text) in inputs.cli {
        let Some(i) = index(name) else {
            let mut d = Diagnostic::error(format!("undeclared variable \"{name}\" given with -var"));
            d = match did_you_mean(name, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean \"{s}\"?")),
                None => d.help(format!("declare it in the template with variable \"{name}\" {{}}")),
            };
            diags.push(d);
            continue;
        };
        match parse_text_value(text, &decls[i].ty) {
            Ok(v) => values[i] = (Some(v), ValueSource::CommandLine, None),
            Err(e) => invalid[i] = diags_push(diags,
                Diagnostic::error(format!("invalid value for variable \"{name}\" given with -var: {e}"))
                    .detail(format!("the variable's type is {}", decls[i].type_expr)),
            ),
        }
    }

    let mut out = Vec::new();
    for ((d, (value, source, vspan)), invalid) in decls.iter().zip(values).zip(invalid) {
        if value.is_none() && source == ValueSource::Unset && !d.broken && !invalid && !inputs.allow_unset {
            diags.push(
                Diagnostic::error(format!("unset variable \"{}\"", d.name))
                    .at(d.span)
                    .detail("it has no default and no value was given")
                    .help(format!(
                        "set it with -var '{0}=...', in a var file (-var-file or *.auto.pkrvars.hcl), or with the environment variable PKR_VAR_{0}",
                        d.name
                    )),
            );
        }
        if d.sensitive {
            let from_file = match &source {
                ValueSource::AutoVarFile(_) | ValueSource::VarFile(_) => true,
                ValueSource::Default => d.default_literal && value.as_ref().is_some_and(|v| !is_empty(v)),
                _ => false,
            };
            if from_file {
                let mut w = Diagnostic::warning(format!("sensitive variable \"{}\" is given a literal value in a file", d.name))
                    .help(format!("pass it with -var or the environment variable PKR_VAR_{} instead of keeping it in a file", d.name));
                if let Some(s) = vspan {
                    w = w.at(s);
                }
                diags.push(w);
            }
        }
        out.push(Variable {
            name: d.name.clone(),
            type_expr: d.type_expr.clone(),
            value,
            source,
            sensitive: d.sensitive,
            description: d.description.clone(),
            span: d.span,
        });
    }
    out
}

/// Reports a diagnostic; returns true to mark the value invalid.
fn diags_push(diags: &mut Diagnostics, d: Diagnostic) -> bool {
    diags.push(d);
    true
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Runs every validation of the variables that have a value, with `var.<name>` only in scope.
pub(crate) fn validate(decls: &[Decl], vars: &[Variable], diags: &mut Diagnostics) {
    for (d, v) in decls.iter().zip(vars) {
        let Some(value) = &v.value else { continue };
        let mut only = hcl::Map::new();
        only.insert(d.name.clone(), value.clone());
        for val in &d.validations {
            let scope = Scope { vars: Some(&only), ..Scope::empty(val.file, "in a validation") };
            let cspan = span_of(val.file, val.condition.span());
            match eval::eval_value(&val.condition, &scope, diags) {
                Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => {
                    let msg = match eval::eval_value(&val.error_message, &scope, diags) {
                        Some(Value::String(s)) => s,
                        Some(other) => other.to_string(),
                        None => continue,
                    };
                    diags.push(
                        Diagnostic::error(format!("invalid value for variable \"{}\": {}", d.name, msg.trim_end_matches('.')))
                            .at(cspan)
                            .detail("this validation condition is false"),
                    );
                }
                Some(other) => diags.push(
                    Diagnostic::error(format!("a validation condition must be true or false, got {other}")).at(cspan),
                ),
                None => {}
            }
        }
    }
}

/// Every leaf of a value as text, for redaction.
pub(crate) fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(b.to_string()),
        Value::Number(n) => out.push(types::number_to_string(n)),
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::String(_) => {}
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
    }
}
