//! Type constraints of input variables (`string`, `list(string)`, `object({a = number})`, ...):
//! parsed from the HCL syntax tree, never evaluated, and used to check and convert values the way
//! Packer (through cty) does: `"5"` becomes `5` for a `number`, `true` becomes `"true"` for a
//! `string`, collection elements are converted one by one.

use std::fmt;

use hcl::Value;
use hcl::edit::Span as _;
use hcl::edit::expr::{Expression, ObjectKey};

/// A type constraint.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    Object(Vec<ObjectAttr>),
}

/// One attribute of an `object({...})` type.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectAttr {
    pub name: String,
    pub ty: Type,
    /// Declared with `optional(T)` or `optional(T, default)`.
    pub optional: bool,
    /// The default of `optional(T, default)`.
    pub default: Option<Value>,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, a) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if a.optional {
                        write!(f, "{} = optional({})", a.name, a.ty)?;
                    } else {
                        write!(f, "{} = {}", a.name, a.ty)?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

/// A type constraint that could not be parsed: what is wrong and the byte range of the culprit.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
}

fn type_err(message: impl Into<String>, expr: &Expression) -> TypeError {
    TypeError { message: message.into(), range: expr.span() }
}

const PRIMITIVES: [&str; 4] = ["string", "number", "bool", "any"];
const CONSTRUCTORS: [&str; 5] = ["list", "set", "map", "tuple", "object"];

/// Parses a type constraint from its syntax tree.
pub fn parse_type(expr: &Expression) -> Result<Type, TypeError> {
    parse_type_inner(expr, false).map(|(t, _, _)| t)
}

/// Parses a type; when `in_object` is true, `optional(T[, default])` is accepted and reported.
fn parse_type_inner(expr: &Expression, in_object: bool) -> Result<(Type, bool, Option<Value>), TypeError> {
    match expr {
        Expression::Variable(v) => {
            let t = match v.as_str() {
                "string" => Type::String,
                "number" => Type::Number,
                "bool" => Type::Bool,
                "any" => Type::Any,
                other => {
                    let mut msg = format!("unknown type \"{other}\"");
                    if let Some(s) = crate::diag::did_you_mean(other, PRIMITIVES.into_iter().chain(CONSTRUCTORS)) {
                        msg.push_str(&format!(" (did you mean \"{s}\"?)"));
                    }
                    return Err(type_err(msg, expr));
                }
            };
            Ok((t, false, None))
        }
        Expression::Parenthesis(p) => parse_type_inner(p.inner(), in_object),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one = |what: &str| -> Result<&Expression, TypeError> {
                if args.len() == 1 {
                    Ok(args[0])
                } else {
                    Err(type_err(format!("{what}(...) takes exactly one argument, got {}", args.len()), expr))
                }
            };
            match name {
                "list" => Ok((Type::List(Box::new(parse_type(one("list")?)?)), false, None)),
                "set" => Ok((Type::Set(Box::new(parse_type(one("set")?)?)), false, None)),
                "map" => Ok((Type::Map(Box::new(parse_type(one("map")?)?)), false, None)),
                "tuple" => match one("tuple")? {
                    Expression::Array(items) => {
                        let ts = items.iter().map(parse_type).collect::<Result<Vec<_>, _>>()?;
                        Ok((Type::Tuple(ts), false, None))
                    }
                    other => Err(type_err("tuple(...) takes a list of types, e.g. tuple([string, number])", other)),
                },
                "object" => match one("object")? {
                    Expression::Object(obj) => {
                        let mut attrs = Vec::new();
                        for (key, value) in obj.iter() {
                            let key_name = match key {
                                ObjectKey::Ident(i) => i.as_str().to_string(),
                                ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                                ObjectKey::Expression(e) => {
                                    return Err(type_err("object attribute names must be plain names", e));
                                }
                            };
                            let (ty, optional, default) = parse_type_inner(value.expr(), true)?;
                            attrs.push(ObjectAttr { name: key_name, ty, optional, default });
                        }
                        Ok((Type::Object(attrs), false, None))
                    }
                    other => Err(type_err("object(...) takes an object of types, e.g. object({name = string})", other)),
                },
                "optional" if in_object => {
                    if args.is_empty() || args.len() > 2 {
                        return Err(type_err("optional(...) takes a type and an optional default", expr));
                    }
                    let ty = parse_type(args[0])?;
                    let default = match args.get(1) {
                        None => None,
                        Some(d) => {
                            let raw = literal_value(d).ok_or_else(|| type_err("the default of optional(...) must be a literal value", d))?;
                            Some(convert(&raw, &ty).map_err(|m| type_err(format!("invalid default: {m}"), d))?)
                        }
                    };
                    Ok((ty, true, default))
                }
                "optional" => Err(type_err("optional(...) is only allowed for attributes of object(...)", expr)),
                other => {
                    let mut msg = format!("unknown type constructor \"{other}\"");
                    if let Some(s) = crate::diag::did_you_mean(other, CONSTRUCTORS) {
                        msg.push_str(&format!(" (did you mean \"{s}\"?)"));
                    }
                    Err(type_err(msg, expr))
                }
            }
        }
        // `type = "string"` is an old spelling Terraform 0.11 accepted; Packer refuses it too.
        Expression::String(s) => Err(type_err(
            format!("a type constraint is a keyword, not a string: write {} without quotes", s.as_str()),
            expr,
        )),
        _ => Err(type_err("invalid type constraint: expected string, number, bool, any, list(T), set(T), map(T), tuple([...]) or object({...})", expr)),
    }
}

/// The value of a constant expression (no references), if it evaluates; arithmetic and
/// functions go through the checked evaluator.
pub(crate) fn literal_value(expr: &Expression) -> Option<Value> {
    let mut quiet = crate::diag::Diagnostics::default();
    let scope = crate::eval::Scope::empty(crate::diag::FileId(usize::MAX), "in a constant");
    crate::eval::eval_value(expr, &scope, &mut quiet)
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list/tuple",
        Value::Object(_) => "object/map",
    }
}

/// Formats a number as cty does when converting it to a string: integers without a fraction.
pub fn number_to_string(n: &hcl::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

/// Checks a value against a type and converts it like cty; the error says what was expected and
/// where inside the value (`element 2`, `attribute "name"`) the mismatch is.
pub fn convert(value: &Value, ty: &Type) -> Result<Value, String> {
    let mut v = convert_inner(value, ty)?;
    sort_objects(&mut v);
    Ok(v)
}

/// Puts the attributes of every object in key order, as cty keeps them, so that iterating an
/// object (`for k, v in ...`) visits keys in the order Packer does.
pub fn sort_objects(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(sort_objects),
        Value::Object(map) => {
            map.values_mut().for_each(sort_objects);
            map.sort_keys();
        }
        _ => {}
    }
}

fn convert_inner(value: &Value, ty: &Type) -> Result<Value, String> {
    if matches!(value, Value::Null) {
        return Ok(Value::Null);
    }
    match ty {
        Type::Any => Ok(value.clone()),
        Type::String => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(number_to_string(n))),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(format!("a string is required, got a {}", describe(other))),
        },
        Type::Number => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => parse_number(s)
                .map(Value::Number)
                .ok_or_else(|| format!("a number is required, got the string {s:?}")),
            other => Err(format!("a number is required, got a {}", describe(other))),
        },
        Type::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s == "true" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" => Ok(Value::Bool(false)),
            Value::String(s) => Err(format!("a bool is required, got the string {s:?}")),
            other => Err(format!("a bool is required, got a {}", describe(other))),
        },
        Type::List(elem) | Type::Set(elem) => match value {
            Value::Array(items) => {
                let mut out: Vec<Value> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let v = convert_inner(item, elem).map_err(|e| format!("element {i}: {e}"))?;
                    if matches!(ty, Type::Set(_)) && out.contains(&v) {
                        continue;
                    }
                    out.push(v);
                }
                if matches!(ty, Type::Set(_)) {
                    sort_set(&mut out);
                }
                Ok(Value::Array(out))
            }
            other => Err(format!("a {} is required, got a {}", kind_name(ty), describe(other))),
        },
        Type::Map(elem) => match value {
            Value::Object(map) => {
                let mut out = hcl::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), convert_inner(v, elem).map_err(|e| format!("element {k:?}: {e}"))?);
                }
                Ok(Value::Object(out))
            }
            other => Err(format!("a map is required, got a {}", describe(other))),
        },
        Type::Tuple(types) => match value {
            Value::Array(items) if items.len() == types.len() => items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (v, t))| convert_inner(v, t).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Array(items) => Err(format!("a tuple of {} elements is required, got {}", types.len(), items.len())),
            other => Err(format!("a tuple is required, got a {}", describe(other))),
        },
        Type::Object(attrs) => match value {
            Value::Object(map) => {
                let mut out = hcl::Map::new();
                for a in attrs {
                    match map.get(&a.name) {
                        Some(v) => {
                            let mut c = convert_inner(v, &a.ty).map_err(|e| format!("attribute {:?}: {e}", a.name))?;
                            if matches!(c, Value::Null) {
                                c = a.default.clone().unwrap_or(Value::Null);
                            }
                            out.insert(a.name.clone(), c);
                        }
                        None if a.optional => {
                            out.insert(a.name.clone(), a.default.clone().unwrap_or(Value::Null));
                        }
                        None => return Err(format!("attribute {:?} is required", a.name)),
                    }
                }
                Ok(Value::Object(out))
            }
            other => Err(format!("an object is required, got a {}", describe(other))),
        },
    }
}

/// cty iterates a set of strings in lexical order and a set of numbers in ascending order.
fn sort_set(items: &mut [Value]) {
    if items.iter().all(|v| matches!(v, Value::String(_))) {
        items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    } else if items.iter().all(|v| matches!(v, Value::Number(_))) {
        items.sort_by(|a, b| {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        });
    }
}

fn kind_name(ty: &Type) -> &'static str {
    match ty {
        Type::Set(_) => "set",
        _ => "list",
    }
}

/// Parses a decimal number the way cty accepts it from a string.
pub fn parse_number(s: &str) -> Option<hcl::Number> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(hcl::Number::from(i));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => hcl::Number::from_f64(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> Type {
        let e = hcl::edit::parser::parse_expr(src).unwrap();
        parse_type(&e).unwrap()
    }

    fn ty_err(src: &str) -> String {
        let e = hcl::edit::parser::parse_expr(src).unwrap();
        parse_type(&e).unwrap_err().message
    }

    fn val(src: &str) -> Value {
        literal_value(&hcl::edit::parser::parse_expr(src).unwrap()).unwrap()
    }

    #[test]
    fn parses_every_constraint() {
        assert_eq!(ty("string"), Type::String);
        assert_eq!(ty("list(string)"), Type::List(Box::new(Type::String)));
        assert_eq!(ty("map(list(number))").to_string(), "map(list(number))");
        assert_eq!(ty("set(bool)").to_string(), "set(bool)");
        assert_eq!(ty("tuple([string, number])").to_string(), "tuple([string, number])");
        assert_eq!(
            ty("object({name = string, size = optional(number, 40)})").to_string(),
            "object({name = string, size = optional(number)})"
        );
        assert_eq!(ty("any"), Type::Any);
    }

    #[test]
    fn bad_constraints_are_explained() {
        assert!(ty_err("strng").contains("did you mean \"string\""), "{}", ty_err("strng"));
        assert!(ty_err("lst(string)").contains("did you mean \"list\""));
        assert!(ty_err("\"string\"").contains("without quotes"));
        assert!(ty_err("optional(string)").contains("only allowed"));
        assert!(ty_err("list(string, number)").contains("exactly one"));
    }

    #[test]
    fn conversion_matrix() {
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            ("number", "\"5\"", Ok("5")),
            ("number", "\"5.5\"", Ok("5.5")),
            ("number", "\"x\"", Err("a number is required")),
            ("number", "true", Err("a number is required")),
            ("string", "5", Ok("\"5\"")),
            ("string", "true", Ok("\"true\"")),
            ("string", "[1]", Err("a string is required")),
            ("bool", "\"true\"", Ok("true")),
            ("bool", "\"false\"", Ok("false")),
            ("bool", "\"yes\"", Err("a bool is required")),
            ("bool", "1", Err("a bool is required")),
            ("list(number)", "[\"1\", 2]", Ok("[1,2]")),
            ("list(number)", "[1, \"b\"]", Err("element 1: a number is required")),
            ("set(string)", "[\"a\", \"a\", 1]", Ok("[\"1\",\"a\"]")),
            ("set(number)", "[10, 2, \"2\"]", Ok("[2,10]")),
            ("map(string)", "{a = 1, b = true}", Ok("{\"a\":\"1\",\"b\":\"true\"}")),
            ("map(string)", "[1]", Err("a map is required")),
            ("tuple([string, number])", "[1, \"2\"]", Ok("[\"1\",2]")),
            ("tuple([string])", "[1, 2]", Err("a tuple of 1 elements")),
            ("object({a = number, b = optional(string, \"d\")})", "{a = \"3\", c = 1}", Ok("{\"a\":3,\"b\":\"d\"}")),
            ("object({b = number, a = string})", "{b = 1, a = \"x\"}", Ok("{\"a\":\"x\",\"b\":1}")),
            ("map(number)", "{z = 1, a = 2}", Ok("{\"a\":2,\"z\":1}")),
            ("object({a = number})", "{b = 1}", Err("attribute \"a\" is required")),
            ("any", "{x = [1]}", Ok("{\"x\":[1]}")),
            ("string", "null", Ok("null")),
        ];
        for (t, v, want) in cases {
            let got = convert(&val(v), &ty(t));
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(serde_json::to_string(&g).unwrap(), *w, "{t} <- {v}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{t} <- {v}: {g}"),
                (w, g) => panic!("{t} <- {v}: wanted {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn numbers_format_like_cty() {
        assert_eq!(number_to_string(&hcl::Number::from(5)), "5");
        assert_eq!(number_to_string(&hcl::Number::from_f64(5.0).unwrap()), "5");
        assert_eq!(number_to_string(&hcl::Number::from_f64(2.5).unwrap()), "2.5");
        assert_eq!(parse_number(" 7 "), Some(hcl::Number::from(7)));
        assert_eq!(parse_number("abc"), None);
    }
}
