//! Collection functions over lists, sets (arrays without duplicates) and maps (objects).

use hcl::Value;

use super::{
    int, int_arg, list_arg, make_set, num, obj_arg, str_arg, type_name, value_to_bool,
    value_to_f64, value_to_str,
};

fn bool_list(args: &[Value]) -> Result<Vec<bool>, String> {
    list_arg(args, 0, "list")?
        .iter()
        .map(|v| match v {
            Value::Null => Ok(false),
            other => value_to_bool(other, "list"),
        })
        .collect()
}

pub(super) fn alltrue(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(bool_list(args)?.into_iter().all(|b| b)))
}

pub(super) fn anytrue(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(bool_list(args)?.into_iter().any(|b| b)))
}

/// `chunklist(list, size)`: a size of 0 yields the whole list as one chunk, as in Terraform.
pub(super) fn chunklist(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    let size = int_arg(args, 1, "size")?;
    if size < 0 {
        return Err("the size argument must be positive".to_string());
    }
    if list.is_empty() {
        return Ok(Value::Array(vec![]));
    }
    if size == 0 {
        return Ok(Value::Array(vec![Value::Array(list.to_vec())]));
    }
    Ok(Value::Array(
        list.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect(),
    ))
}

/// `coalesce(values...)`: mixed primitives are first brought to strings, as cty unifies them.
pub(super) fn coalesce(args: &[Value]) -> Result<Value, String> {
    let args = super::conversion::unify(args.to_vec())?;
    args.into_iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
}

pub(super) fn coalescelist(args: &[Value]) -> Result<Value, String> {
    if args.iter().any(|v| !v.is_array()) {
        return Err("coalescelist arguments must be lists or tuples".to_string());
    }
    args.iter()
        .find(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        .cloned()
        .ok_or_else(|| "no non-null arguments".to_string())
}

pub(super) fn compact(args: &[Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    for v in list_arg(args, 0, "list")? {
        if v.is_null() {
            continue;
        }
        let s = value_to_str(v, "list")?;
        if !s.is_empty() {
            out.push(Value::String(s));
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn concat(args: &[Value]) -> Result<Value, String> {
    if args.is_empty() {
        return Err("at least one argument is required".to_string());
    }
    let mut out = Vec::new();
    for (i, v) in args.iter().enumerate() {
        match v {
            Value::Array(a) => out.extend(a.iter().cloned()),
            other => {
                return Err(format!(
                    "all arguments must be lists or tuples; got {} for argument {i}",
                    type_name(other)
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn contains(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    if args[1].is_null() {
        return Err("invalid value for \"value\" parameter: argument must not be null".to_string());
    }
    Ok(Value::Bool(list.contains(&args[1])))
}

/// `distinct(list)`: first occurrences in order, after cty's conversion of mixed primitives to
/// strings (so `1` and `"1"` are the same element).
pub(super) fn distinct(args: &[Value]) -> Result<Value, String> {
    let items = super::conversion::unify(list_arg(args, 0, "list")?.to_vec())?;
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

/// `element(list, index)`: the index wraps around the list's length.
pub(super) fn element(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    let index = int_arg(args, 1, "index")?;
    if list.is_empty() {
        return Err("cannot use element function with an empty list".to_string());
    }
    if index < 0 {
        return Err("cannot use element function with a negative index".to_string());
    }
    Ok(list[(index as usize) % list.len()].clone())
}

fn flatten_into(out: &mut Vec<Value>, items: &[Value]) {
    for v in items {
        match v {
            Value::Array(inner) => flatten_into(out, inner),
            other => out.push(other.clone()),
        }
    }
}

pub(super) fn flatten(args: &[Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(&mut out, list_arg(args, 0, "list")?);
    Ok(Value::Array(out))
}

pub(super) fn index(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    if list.is_empty() {
        return Err("cannot search an empty list".to_string());
    }
    list.iter()
        .position(|v| *v == args[1])
        .map(|i| int(i as i64))
        .ok_or_else(|| "item not found".to_string())
}

fn sorted_entries(map: &hcl::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

pub(super) fn keys(args: &[Value]) -> Result<Value, String> {
    let map = obj_arg(args, 0, "inputMap")?;
    Ok(Value::Array(
        sorted_entries(map).into_iter().map(|(k, _)| Value::String(k.clone())).collect(),
    ))
}

pub(super) fn values(args: &[Value]) -> Result<Value, String> {
    let map = obj_arg(args, 0, "mapping")?;
    Ok(Value::Array(sorted_entries(map).into_iter().map(|(_, v)| v.clone()).collect()))
}

/// `length(value)`: grapheme clusters of a string, elements of a list, entries of a map.
pub(super) fn length(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::String(s) => Ok(int(
            unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true).count() as i64,
        )),
        Value::Array(a) => Ok(int(a.len() as i64)),
        Value::Object(o) => Ok(int(o.len() as i64)),
        Value::Null => Err("invalid value for \"value\" parameter: argument must not be null".to_string()),
        _ => Err("argument must be a string, a collection type, or a structural type".to_string()),
    }
}

pub(super) fn lookup(args: &[Value]) -> Result<Value, String> {
    let map = obj_arg(args, 0, "inputMap")?;
    let key = str_arg(args, 1, "key")?;
    Ok(map.get(&key).unwrap_or(&args[2]).clone())
}

/// `merge(maps...)`: later keys win; null arguments are skipped.
pub(super) fn merge(args: &[Value]) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for v in args {
        match v {
            Value::Null => {}
            Value::Object(o) => {
                for (k, v) in o {
                    out.insert(k.clone(), v.clone());
                }
            }
            other => {
                return Err(format!(
                    "arguments must be maps or objects, got {:?}",
                    type_name(other)
                ));
            }
        }
    }
    out.sort_keys();
    Ok(Value::Object(out))
}

/// `range(limit)`, `range(start, limit)`, `range(start, limit, step)`.
pub(super) fn range(args: &[Value]) -> Result<Value, String> {
    let (start, end, step_given) = match args.len() {
        1 => (0.0, value_to_f64(&args[0], "params")?, None),
        2 => (value_to_f64(&args[0], "params")?, value_to_f64(&args[1], "params")?, None),
        _ => (
            value_to_f64(&args[0], "params")?,
            value_to_f64(&args[1], "params")?,
            Some(value_to_f64(&args[2], "params")?),
        ),
    };
    let step = step_given.unwrap_or(if end < start { -1.0 } else { 1.0 });
    if step == 0.0 {
        return Err("invalid value for \"params\" parameter: step must not be zero".to_string());
    }
    if start < end && step < 0.0 {
        return Err("invalid value for \"params\" parameter: end must be less than start when step is negative".to_string());
    }
    if start > end && step > 0.0 {
        return Err("invalid value for \"params\" parameter: end must be greater than start when step is positive".to_string());
    }
    let mut out = Vec::new();
    let mut i = 0u32;
    loop {
        let v = start + step * f64::from(i);
        if (step > 0.0 && v >= end) || (step < 0.0 && v <= end) {
            break;
        }
        if out.len() >= 1024 {
            return Err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step".to_string());
        }
        out.push(num(v)?);
        i += 1;
    }
    Ok(Value::Array(out))
}

pub(super) fn reverse(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Array(list_arg(args, 0, "list")?.iter().rev().cloned().collect()))
}

fn sets(args: &[Value]) -> Result<Vec<&[Value]>, String> {
    (0..args.len()).map(|i| list_arg(args, i, "sets")).collect()
}

pub(super) fn setintersection(args: &[Value]) -> Result<Value, String> {
    let sets = sets(args)?;
    let first = sets[0];
    Ok(Value::Array(make_set(
        first.iter().filter(|v| sets[1..].iter().all(|s| s.contains(v))).cloned(),
    )))
}

pub(super) fn setunion(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Array(make_set(sets(args)?.into_iter().flatten().cloned())))
}

/// `setproduct(sets...)`: every combination, as a list of lists.
pub(super) fn setproduct(args: &[Value]) -> Result<Value, String> {
    let sets = sets(args)?;
    if sets.len() < 2 {
        return Err("at least two arguments are required".to_string());
    }
    let total = sets.iter().try_fold(1usize, |acc, s| acc.checked_mul(s.len()));
    if total.is_none_or(|t| t > 1_000_000) {
        return Err("the product of the given sets is too large (more than 1000000 elements)".to_string());
    }
    let mut acc: Vec<Vec<Value>> = vec![vec![]];
    for set in sets {
        let mut next = Vec::with_capacity(acc.len() * set.len());
        for prefix in &acc {
            for v in set {
                let mut row = prefix.clone();
                row.push(v.clone());
                next.push(row);
            }
        }
        acc = next;
    }
    Ok(Value::Array(acc.into_iter().map(Value::Array).collect()))
}

pub(super) fn slice(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    let start = int_arg(args, 1, "start_index")?;
    let end = int_arg(args, 2, "end_index")?;
    if start < 0 {
        return Err("invalid value for \"start_index\" parameter: start index must not be less than zero".to_string());
    }
    if end > list.len() as i64 {
        return Err("invalid value for \"end_index\" parameter: end index must not be greater than the length of the list".to_string());
    }
    if start > end {
        return Err("invalid value for \"start_index\" parameter: start index must not be greater than end index".to_string());
    }
    Ok(Value::Array(list[start as usize..end as usize].to_vec()))
}

pub(super) fn sort(args: &[Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    for (i, v) in list_arg(args, 0, "list")?.iter().enumerate() {
        if v.is_null() {
            return Err(format!("given list element {i} is null; a null string cannot be sorted"));
        }
        out.push(value_to_str(v, "list")?);
    }
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::String).collect()))
}

pub(super) fn sum(args: &[Value]) -> Result<Value, String> {
    let list = list_arg(args, 0, "list")?;
    if list.is_empty() {
        return Err("cannot sum an empty list".to_string());
    }
    let mut total = 0.0;
    for v in list {
        if v.is_null() {
            return Err("argument must be list, set, or tuple of number values".to_string());
        }
        total += value_to_f64(v, "list")?;
    }
    num(total)
}

pub(super) fn zipmap(args: &[Value]) -> Result<Value, String> {
    let keys = list_arg(args, 0, "keys")?;
    let values = list_arg(args, 1, "values")?;
    if keys.len() != values.len() {
        return Err(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            values.len()
        ));
    }
    let mut out = hcl::Map::new();
    for (k, v) in keys.iter().zip(values) {
        out.insert(value_to_str(k, "keys")?, v.clone());
    }
    out.sort_keys();
    Ok(Value::Object(out))
}

pub(super) fn setsubtract(args: &[Value]) -> Result<Value, String> {
    let a = list_arg(args, 0, "a")?;
    let b = list_arg(args, 1, "b")?;
    Ok(Value::Array(make_set(a.iter().filter(|v| !b.contains(v)).cloned())))
}

/// `matchkeys(values, keys, searchset)`: the values whose key at the same index is searched for.
pub(super) fn matchkeys(args: &[Value]) -> Result<Value, String> {
    let values = list_arg(args, 0, "values")?;
    let keys = list_arg(args, 1, "keys")?;
    let search = list_arg(args, 2, "searchset")?;
    if values.len() != keys.len() {
        return Err("length of keys and values should be equal".to_string());
    }
    Ok(Value::Array(
        values
            .iter()
            .zip(keys)
            .filter(|(_, k)| search.contains(k))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

/// `transpose(map of lists of strings)`: swaps keys and values.
pub(super) fn transpose(args: &[Value]) -> Result<Value, String> {
    let map = obj_arg(args, 0, "values")?;
    let mut out: hcl::Map<String, Value> = hcl::Map::new();
    for (k, v) in sorted_entries(map) {
        let Value::Array(items) = v else {
            return Err(format!(
                "invalid value for \"values\" parameter: map of list of string required, got {} for key {k:?}",
                type_name(v)
            ));
        };
        for item in items {
            let name = value_to_str(item, "values")?;
            let entry = out.entry(name).or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = entry {
                list.push(Value::String(k.clone()));
            }
        }
    }
    out.sort_keys();
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    const T: Value = Value::Bool(true);
    const F: Value = Value::Bool(false);

    #[test]
    fn truth() {
        assert_eq!(call("alltrue", vec![list(vec![T, s("true")])]), T);
        assert_eq!(call("alltrue", vec![list(vec![])]), T);
        assert_eq!(call("alltrue", vec![list(vec![T, F])]), F);
        assert!(call_err("alltrue", vec![strs(&["x"])]).contains("bool required"));
        assert_eq!(call("anytrue", vec![list(vec![F, T])]), T);
        assert_eq!(call("anytrue", vec![list(vec![])]), F);
        assert!(call_err("anytrue", vec![s("x")]).contains("list of any single type required"));
    }

    #[test]
    fn chunk_coalesce_compact_concat() {
        assert_eq!(
            call("chunklist", vec![strs(&["a", "b", "c"]), n(2.0)]),
            list(vec![strs(&["a", "b"]), strs(&["c"])])
        );
        assert_eq!(call("chunklist", vec![strs(&["a"]), n(0.0)]), list(vec![strs(&["a"])]));
        assert_eq!(call_err("chunklist", vec![strs(&["a"]), n(-1.0)]), "the size argument must be positive");
        assert_eq!(call("coalesce", vec![Value::Null, s(""), s("b"), s("c")]), s("b"));
        assert_eq!(call("coalesce", vec![n(1.0), n(2.0)]), n(1.0));
        assert_eq!(call_err("coalesce", vec![Value::Null, s("")]), "no non-null, non-empty-string arguments");
        assert_eq!(call("coalescelist", vec![list(vec![]), strs(&["c", "d"])]), strs(&["c", "d"]));
        assert_eq!(call_err("coalescelist", vec![list(vec![]), list(vec![])]), "no non-null arguments");
        assert_eq!(
            call_err("coalescelist", vec![Value::Null, strs(&["a"])]),
            "coalescelist arguments must be lists or tuples"
        );
        assert_eq!(call("coalesce", vec![n(1.0), s("a")]), s("1"));
        assert_eq!(call("compact", vec![list(vec![s("a"), s(""), Value::Null, s("c")])]), strs(&["a", "c"]));
        assert!(call_err("compact", vec![list(vec![list(vec![])])]).contains("string required"));
        assert_eq!(call("concat", vec![strs(&["a"]), strs(&["b", "c"])]), strs(&["a", "b", "c"]));
        assert_eq!(
            call_err("concat", vec![strs(&["a"]), s("b")]),
            "all arguments must be lists or tuples; got string for argument 1"
        );
    }

    #[test]
    fn search_and_pick() {
        assert_eq!(call("contains", vec![strs(&["a", "b"]), s("b")]), T);
        assert_eq!(call("contains", vec![strs(&["a", "b"]), s("c")]), F);
        assert!(call_err("contains", vec![s("ab"), s("a")]).contains("\"list\""));
        assert_eq!(
            call_err("contains", vec![strs(&["a"]), Value::Null]),
            "invalid value for \"value\" parameter: argument must not be null"
        );
        assert_eq!(call("distinct", vec![strs(&["b", "a", "b", "c", "a"])]), strs(&["b", "a", "c"]));
        assert_eq!(call("distinct", vec![list(vec![n(1.0), n(2.0), n(1.0), s("1")])]), strs(&["1", "2"]));
        assert!(call_err("distinct", vec![Value::Null]).contains("must not be null"));
        assert_eq!(call("element", vec![strs(&["a", "b", "c"]), n(1.0)]), s("b"));
        assert_eq!(call("element", vec![strs(&["a", "b", "c"]), n(3.0)]), s("a"));
        assert_eq!(call_err("element", vec![list(vec![]), n(0.0)]), "cannot use element function with an empty list");
        assert_eq!(call_err("element", vec![strs(&["a"]), n(-1.0)]), "cannot use element function with a negative index");
        assert_eq!(
            call("flatten", vec![list(vec![strs(&["a", "b"]), list(vec![]), list(vec![s("c"), list(vec![s("d")])])])]),
            strs(&["a", "b", "c", "d"])
        );
        assert!(call_err("flatten", vec![s("a")]).contains("list"));
        assert_eq!(call("index", vec![strs(&["a", "b", "c"]), s("b")]), n(1.0));
        assert_eq!(call_err("index", vec![strs(&["a"]), s("z")]), "item not found");
        assert_eq!(call_err("index", vec![list(vec![]), s("z")]), "cannot search an empty list");
    }

    #[test]
    fn maps() {
        let m = obj(vec![("b", n(2.0)), ("a", n(1.0))]);
        assert_eq!(call("keys", vec![m.clone()]), strs(&["a", "b"]));
        assert!(call_err("keys", vec![strs(&["a"])]).contains("map of any single type required"));
        assert_eq!(call("values", vec![m.clone()]), list(vec![n(1.0), n(2.0)]));
        assert!(call_err("values", vec![s("x")]).contains("\"mapping\""));
        assert_eq!(call("lookup", vec![m.clone(), s("a"), s("dflt")]), n(1.0));
        assert_eq!(call("lookup", vec![m.clone(), s("z"), s("dflt")]), s("dflt"));
        // cty's lookup, as Packer uses it, requires the default
        assert_eq!(call_err("lookup", vec![m.clone(), s("z")]), "function \"lookup\" expects 3 arguments, got 2");
        assert!(call_err("lookup", vec![s("x"), s("z"), s("d")]).contains("map of any single type required"));
        assert_eq!(
            call("merge", vec![obj(vec![("a", n(1.0)), ("c", n(3.0))]), Value::Null, obj(vec![("a", n(9.0))])]),
            obj(vec![("a", n(9.0)), ("c", n(3.0))])
        );
        assert_eq!(call("merge", vec![]), obj(vec![]));
        assert_eq!(call_err("merge", vec![s("x")]), "arguments must be maps or objects, got \"string\"");
        assert_eq!(
            call("zipmap", vec![strs(&["b", "a"]), list(vec![n(1.0), n(2.0)])]),
            obj(vec![("a", n(2.0)), ("b", n(1.0))])
        );
        assert_eq!(
            call_err("zipmap", vec![strs(&["a"]), list(vec![])]),
            "number of keys (1) does not match number of values (0)"
        );
    }

    #[test]
    fn matchkeys_and_transpose() {
        assert_eq!(
            call("matchkeys", vec![strs(&["i-1", "i-2", "i-3"]), strs(&["a", "b", "a"]), strs(&["a"])]),
            strs(&["i-1", "i-3"])
        );
        assert_eq!(
            call_err("matchkeys", vec![strs(&["x"]), strs(&[]), strs(&[])]),
            "length of keys and values should be equal"
        );
        assert_eq!(
            call("transpose", vec![obj(vec![("b", strs(&["2", "3"])), ("a", strs(&["1", "2"]))])]),
            obj(vec![("1", strs(&["a"])), ("2", strs(&["a", "b"])), ("3", strs(&["b"]))])
        );
        assert!(call_err("transpose", vec![obj(vec![("a", s("x"))])]).contains("map of list of string required"));
    }

    #[test]
    fn length_of_each_kind() {
        assert_eq!(call("length", vec![s("héllo")]), n(5.0));
        assert_eq!(call("length", vec![s("cafe\u{301}")]), n(4.0));
        assert_eq!(call("length", vec![strs(&["a", "b"])]), n(2.0));
        assert_eq!(call("length", vec![obj(vec![("a", T)])]), n(1.0));
        assert_eq!(call_err("length", vec![Value::Null]), "invalid value for \"value\" parameter: argument must not be null");
        assert_eq!(call_err("length", vec![n(3.0)]), "argument must be a string, a collection type, or a structural type");
    }

    #[test]
    fn ranges() {
        assert_eq!(call("range", vec![n(3.0)]), list(vec![n(0.0), n(1.0), n(2.0)]));
        assert_eq!(call("range", vec![n(1.0), n(4.0)]), list(vec![n(1.0), n(2.0), n(3.0)]));
        assert_eq!(call("range", vec![n(4.0), n(1.0)]), list(vec![n(4.0), n(3.0), n(2.0)]));
        assert_eq!(call("range", vec![n(0.0), n(1.0), n(0.25)]), list(vec![n(0.0), n(0.25), n(0.5), n(0.75)]));
        assert_eq!(call("range", vec![n(0.0)]), list(vec![]));
        assert_eq!(call_err("range", vec![n(1.0), n(4.0), n(0.0)]), "invalid value for \"params\" parameter: step must not be zero");
        assert_eq!(
            call_err("range", vec![n(1.0), n(4.0), n(-1.0)]),
            "invalid value for \"params\" parameter: end must be less than start when step is negative"
        );
        assert!(call_err("range", vec![n(2000.0)]).starts_with("more than 1024 values"));
    }

    #[test]
    fn sets() {
        assert_eq!(call("setunion", vec![strs(&["b", "a"]), strs(&["c", "a"])]), strs(&["a", "b", "c"]));
        assert!(call_err("setunion", vec![s("a")]).contains("\"sets\""));
        assert_eq!(call("setintersection", vec![strs(&["a", "b", "c"]), strs(&["c", "b", "d"])]), strs(&["b", "c"]));
        assert!(call_err("setintersection", vec![strs(&["a"]), n(1.0)]).contains("\"sets\""));
        assert_eq!(
            call("setproduct", vec![strs(&["a", "b"]), strs(&["1", "2"])]),
            list(vec![strs(&["a", "1"]), strs(&["a", "2"]), strs(&["b", "1"]), strs(&["b", "2"])])
        );
        assert_eq!(call_err("setproduct", vec![strs(&["a"])]), "at least two arguments are required");
        assert_eq!(call("setsubtract", vec![strs(&["a", "b", "c"]), strs(&["a", "c"])]), strs(&["b"]));
        assert!(call_err("setsubtract", vec![strs(&["a"]), s("a")]).contains("\"b\""));
    }

    #[test]
    fn slice_reverse_sort_sum() {
        assert_eq!(call("slice", vec![strs(&["a", "b", "c", "d"]), n(1.0), n(3.0)]), strs(&["b", "c"]));
        assert!(call_err("slice", vec![strs(&["a"]), n(0.0), n(2.0)]).contains("greater than the length"));
        assert!(call_err("slice", vec![strs(&["a", "b"]), n(2.0), n(1.0)]).contains("start index must not be greater than end index"));
        assert!(call_err("slice", vec![strs(&["a"]), n(-1.0), n(1.0)]).contains("less than zero"));
        assert_eq!(call("reverse", vec![strs(&["a", "b"])]), strs(&["b", "a"]));
        assert!(call_err("reverse", vec![n(1.0)]).contains("list"));
        assert_eq!(call("sort", vec![strs(&["e", "d", "a", "x"])]), strs(&["a", "d", "e", "x"]));
        assert_eq!(call("sort", vec![list(vec![n(10.0), n(9.0)])]), strs(&["10", "9"]));
        assert_eq!(
            call_err("sort", vec![list(vec![s("a"), Value::Null])]),
            "given list element 1 is null; a null string cannot be sorted"
        );
        assert_eq!(call("sum", vec![list(vec![n(10.0), n(13.0), n(6.5)])]), n(29.5));
        assert_eq!(call_err("sum", vec![list(vec![])]), "cannot sum an empty list");
    }
}
