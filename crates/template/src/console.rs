//! `console`: one HCL expression at a time, evaluated where a template's `locals` are (its
//! variables, its locals, `path.*`, every function), and shown as `packer console` shows it.

use hcl::Value;

use crate::body::AttrValue;
use crate::diag::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::eval::{Scope, eval};
use crate::load::Loaded;

/// What an expression may refer to: the loaded template's values, or nothing but functions.
#[derive(Clone, Debug, Default)]
pub struct ConsoleScope {
    vars: hcl::Map<String, Value>,
    locals: hcl::Map<String, Value>,
    path: hcl::Map<String, Value>,
}

impl ConsoleScope {
    /// The values of `loaded`: its variables (unset ones are null) and locals, and `path.*`.
    pub fn of(loaded: &Loaded) -> Self {
        let vars = loaded
            .variables
            .iter()
            .map(|v| (v.name.clone(), v.value.clone().unwrap_or(Value::Null)))
            .collect();
        let locals = loaded
            .locals
            .iter()
            .map(|l| (l.name.clone(), l.value.clone().unwrap_or(Value::Null)))
            .collect();
        ConsoleScope {
            vars,
            locals,
            path: loaded.path.clone(),
        }
    }

    /// Evaluates one line; `sources` receives it (as `<console-input>`) for the diagnostics.
    pub fn eval_line(&self, line: &str, sources: &mut SourceMap) -> Result<String, Diagnostics> {
        let file = sources.add("<console-input>", line.to_string());
        let mut diags = Diagnostics::default();
        let expr = match hcl::edit::parser::parse_expr(line) {
            Ok(e) => e,
            Err(e) => {
                let start = e.location().offset().min(line.len());
                let span = Span {
                    file,
                    start,
                    end: (start + 1).min(line.len()).max(start),
                };
                diags.push(
                    Diagnostic::error(format!("invalid expression: {}", e.message())).at(span),
                );
                return Err(diags);
            }
        };
        let scope = Scope {
            vars: Some(&self.vars),
            locals: Some(&self.locals),
            path: Some(&self.path),
            ..Scope::empty(file, "in the console")
        };
        match eval(&expr, &scope, &mut diags) {
            Some(evaluated) if !diags.has_errors() => Ok(match evaluated.value {
                AttrValue::Known(v) => format_result(&v),
                AttrValue::Deferred(_) => "<unknown>".to_string(),
            }),
            _ => Err(diags),
        }
    }
}

/// A value as `packer console` prints it: a string bare at the top and quoted inside, lists and
/// maps one element a line, indented by two, map keys in order.
pub fn format_result(v: &Value) -> String {
    format_nested(v, false)
}

fn format_nested(v: &Value, nested: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_number(n),
        Value::String(s) if nested => quote(s),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut out = String::from("[");
            if !items.is_empty() {
                out.push('\n');
            }
            for item in items {
                out.push_str(&indent(&format_nested(item, true)));
                out.push_str(",\n");
            }
            out.push(']');
            out
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = String::from("{");
            if !map.is_empty() {
                out.push('\n');
            }
            for k in keys {
                let line = format!("{} = {}", quote(k), format_nested(&map[k.as_str()], true));
                out.push_str(&indent(&line));
                out.push('\n');
            }
            out.push('}');
            out
        }
    }
}

/// Whole numbers as integers, others as Go's `%g` writes them (shortest form).
fn format_number(n: &hcl::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    let plain = f.to_string();
    let exp = f.abs().log10().floor();
    if !(-4.0..21.0).contains(&exp) {
        // Go's %g switches to an exponent: 1e+21, 1e-05.
        let s = format!("{f:e}");
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            return format!("{m}e{sign}{digits:0>2}");
        }
    }
    plain
}

/// Go's `%q` of a string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every line of `text` indented by two spaces.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(line: &str) -> Result<String, String> {
        let mut sources = SourceMap::default();
        ConsoleScope::default()
            .eval_line(line, &mut sources)
            .map_err(|d| d.render(&sources))
    }

    #[test]
    fn values_print_as_packer_console_prints_them() {
        assert_eq!(eval("upper(\"bar\")").unwrap(), "BAR");
        assert_eq!(eval("1 + 2").unwrap(), "3");
        assert_eq!(eval("7 / 2").unwrap(), "3.5");
        assert_eq!(eval("true").unwrap(), "true");
        assert_eq!(eval("null").unwrap(), "null");
        assert_eq!(eval("[1, \"2\"]").unwrap(), "[\n  1,\n  \"2\",\n]");
        assert_eq!(eval("[]").unwrap(), "[]");
        assert_eq!(
            eval("{b = \"x\", a = 1}").unwrap(),
            "{\n  \"a\" = 1\n  \"b\" = \"x\"\n}"
        );
        assert_eq!(eval("{a = [1]}").unwrap(), "{\n  \"a\" = [\n    1,\n  ]\n}");
        assert_eq!(eval("\"a\\nb\"").unwrap(), "a\nb");
        assert_eq!(eval("[\"a\\nb\"]").unwrap(), "[\n  \"a\\nb\",\n]");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(eval("nope(").unwrap_err().contains("invalid expression"));
        assert!(
            eval("var.x").unwrap_err().contains("var.x"),
            "{}",
            eval("var.x").unwrap_err()
        );
        assert!(eval("no_such_function(1)").is_err());
    }
}
