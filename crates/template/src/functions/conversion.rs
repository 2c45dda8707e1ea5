//! Type conversion functions. `convert(value, type)` is not provided: its second argument is a
//! type expression, which `hcl::Value` cannot carry.

use hcl::Value;

use super::{make_set, number_to_string, type_name};

pub(super) fn tostring(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(Value::String(s.clone())),
        Value::Number(n) => Ok(Value::String(number_to_string(n))),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        other => Err(format!("cannot convert {} to string", type_name(other))),
    }
}

pub(super) fn tonumber(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(hcl::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| {
                format!("cannot convert {s:?} to number; given string must be a decimal representation of a number")
            }),
        other => Err(format!("cannot convert {} to number", type_name(other))),
    }
}

pub(super) fn tobool(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) if s == "true" => Ok(Value::Bool(true)),
        Value::String(s) if s == "false" => Ok(Value::Bool(false)),
        Value::String(s) => Err(format!(
            "cannot convert {s:?} to bool; only the strings \"true\" or \"false\" are allowed"
        )),
        other => Err(format!("cannot convert {} to bool", type_name(other))),
    }
}

/// Brings collection elements to one type as cty does: mixed primitives become strings, nulls
/// stay null, structural values must all be of the same kind.
pub(super) fn unify(items: Vec<Value>) -> Result<Vec<Value>, String> {
    let kinds: Vec<&'static str> = items
        .iter()
        .filter(|v| !v.is_null())
        .map(type_name)
        .collect();
    let Some(first) = kinds.first() else { return Ok(items) };
    if kinds.iter().all(|k| k == first) {
        return Ok(items);
    }
    let all_primitive = kinds.iter().all(|k| matches!(*k, "string" | "number" | "bool"));
    if !all_primitive {
        return Err("all elements must have the same type".to_string());
    }
    Ok(items
        .into_iter()
        .map(|v| match v {
            Value::Number(n) => Value::String(number_to_string(&n)),
            Value::Bool(b) => Value::String(b.to_string()),
            other => other,
        })
        .collect())
}

fn collection_items(v: &Value, target: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        other => Err(format!("cannot convert {} to {target}", type_name(other))),
    }
}

pub(super) fn tolist(args: &[Value]) -> Result<Value, String> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    unify(collection_items(&args[0], "list")?)
        .map(Value::Array)
        .map_err(|e| format!("cannot convert to list: {e}"))
}

pub(super) fn toset(args: &[Value]) -> Result<Value, String> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    let items = unify(collection_items(&args[0], "set")?)
        .map_err(|e| format!("cannot convert to set: {e}"))?;
    Ok(Value::Array(make_set(items)))
}

pub(super) fn tomap(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let values = unify(o.values().cloned().collect())
                .map_err(|e| format!("cannot convert to map: {e}"))?;
            let mut map: hcl::Map<String, Value> = keys.into_iter().zip(values).collect();
            map.sort_keys();
            Ok(Value::Object(map))
        }
        other => Err(format!("cannot convert {} to map", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    #[test]
    fn primitives() {
        assert_eq!(call("tostring", vec![n(1.5)]), s("1.5"));
        assert_eq!(call("tostring", vec![Value::Bool(true)]), s("true"));
        assert_eq!(call("tostring", vec![Value::Null]), Value::Null);
        assert_eq!(call_err("tostring", vec![strs(&["a"])]), "cannot convert tuple to string");
        assert_eq!(call("tonumber", vec![s("42")]), n(42.0));
        assert_eq!(call("tonumber", vec![s("-1.25")]), n(-1.25));
        assert_eq!(
            call_err("tonumber", vec![s("no")]),
            "cannot convert \"no\" to number; given string must be a decimal representation of a number"
        );
        assert_eq!(call("tobool", vec![s("true")]), Value::Bool(true));
        assert_eq!(call("tobool", vec![Value::Bool(false)]), Value::Bool(false));
        assert_eq!(
            call_err("tobool", vec![s("yes")]),
            "cannot convert \"yes\" to bool; only the strings \"true\" or \"false\" are allowed"
        );
    }

    #[test]
    fn collections() {
        assert_eq!(call("tolist", vec![list(vec![s("a"), n(1.0), Value::Bool(true)])]), strs(&["a", "1", "true"]));
        assert_eq!(call("tolist", vec![list(vec![n(2.0), n(1.0)])]), list(vec![n(2.0), n(1.0)]));
        assert_eq!(
            call_err("tolist", vec![list(vec![s("a"), obj(vec![])])]),
            "cannot convert to list: all elements must have the same type"
        );
        assert_eq!(call("toset", vec![strs(&["c", "a", "c"])]), strs(&["a", "c"]));
        assert_eq!(call_err("toset", vec![s("a")]), "cannot convert string to set");
        assert_eq!(
            call("tomap", vec![obj(vec![("b", n(1.0)), ("a", s("x"))])]),
            obj(vec![("a", s("x")), ("b", s("1"))])
        );
        assert_eq!(call_err("tomap", vec![strs(&["a"])]), "cannot convert tuple to map");
    }
}
