//! Packer's HCL2 function library (`hcl2template/functions.go`), reimplemented over `hcl::Value`
//! with Terraform/cty semantics: one file per family, one table here naming every function with
//! its arity. `try` and `can` need the expression tree and live in the evaluator; `env` reads the
//! injected environment map rather than the process globals, so it is a separate entry point.
//!
//! Sets have no type of their own in `hcl::Value`: a set is an array without duplicates, and set
//! results of primitive values come out sorted (strings lexically, numbers ascending) as cty
//! iterates them.

use std::collections::BTreeMap;

use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};

mod collection;
mod conversion;
mod datetime;
mod encoding;
mod filesystem;
mod hash;
mod ipnet;
mod numeric;
#[cfg(test)]
mod parity;
#[cfg(test)]
mod robustness;
mod string;
mod yaml;

/// One function of the library: its name, how many arguments it takes and its implementation.
#[derive(Debug)]
pub struct Function {
    pub name: &'static str,
    pub min_args: usize,
    /// `None` means variadic.
    pub max_args: Option<usize>,
    /// Checks the arity itself, so calling it with any slice is safe.
    pub call: fn(&[Value]) -> Result<Value, String>,
}

macro_rules! table {
    ($( $name:literal => $min:literal, $max:expr, $f:path; )*) => {
        static ALL: &[Function] = &[ $(
            Function {
                name: $name,
                min_args: $min,
                max_args: $max,
                call: {
                    fn checked(args: &[Value]) -> Result<Value, String> {
                        check_arity($name, $min, $max, args)?;
                        $f(args)
                    }
                    checked
                },
            },
        )* ];

        /// Registers every function (except `env`) with the hcl-rs evaluator. Arity and types are
        /// checked by the functions themselves, so every parameter is declared as `any`.
        pub fn declare_all(ctx: &mut Context<'_>) {
            $(
                ctx.declare_func(
                    $name,
                    FuncDef::builder()
                        .variadic_param(ParamType::Any)
                        .build(|args: FuncArgs| invoke($name, &args)),
                );
            )*
        }
    };
}

// The implementations index `args` below `min_args` directly: the generated wrapper has
// checked the count before calling them.
table! {
    // string
    "chomp" => 1, Some(1), string::chomp;
    "endswith" => 2, Some(2), string::endswith;
    "format" => 1, None, string::format;
    "formatlist" => 1, None, string::formatlist;
    "indent" => 2, Some(2), string::indent;
    "join" => 2, None, string::join;
    "lower" => 1, Some(1), string::lower;
    "regex" => 2, Some(2), string::regex;
    "regex_replace" => 3, Some(3), string::regex_replace;
    "regexall" => 2, Some(2), string::regexall;
    "replace" => 3, Some(3), string::replace;
    "split" => 2, Some(2), string::split;
    "startswith" => 2, Some(2), string::startswith;
    "strcontains" => 2, Some(2), string::strcontains;
    "strrev" => 1, Some(1), string::strrev;
    "substr" => 3, Some(3), string::substr;
    "title" => 1, Some(1), string::title;
    "trim" => 2, Some(2), string::trim;
    "trimprefix" => 2, Some(2), string::trimprefix;
    "trimspace" => 1, Some(1), string::trimspace;
    "trimsuffix" => 2, Some(2), string::trimsuffix;
    "upper" => 1, Some(1), string::upper;
    // collection
    "alltrue" => 1, Some(1), collection::alltrue;
    "anytrue" => 1, Some(1), collection::anytrue;
    "chunklist" => 2, Some(2), collection::chunklist;
    "coalesce" => 1, None, collection::coalesce;
    "coalescelist" => 1, None, collection::coalescelist;
    "compact" => 1, Some(1), collection::compact;
    "concat" => 0, None, collection::concat;
    "contains" => 2, Some(2), collection::contains;
    "distinct" => 1, Some(1), collection::distinct;
    "element" => 2, Some(2), collection::element;
    "flatten" => 1, Some(1), collection::flatten;
    "index" => 2, Some(2), collection::index;
    "keys" => 1, Some(1), collection::keys;
    "length" => 1, Some(1), collection::length;
    "lookup" => 3, Some(3), collection::lookup;
    "matchkeys" => 3, Some(3), collection::matchkeys;
    "merge" => 0, None, collection::merge;
    "range" => 1, Some(3), collection::range;
    "reverse" => 1, Some(1), collection::reverse;
    "setintersection" => 1, None, collection::setintersection;
    "setproduct" => 1, None, collection::setproduct;
    "setsubtract" => 2, Some(2), collection::setsubtract;
    "setunion" => 1, None, collection::setunion;
    "slice" => 3, Some(3), collection::slice;
    "sort" => 1, Some(1), collection::sort;
    "sum" => 1, Some(1), collection::sum;
    "transpose" => 1, Some(1), collection::transpose;
    "values" => 1, Some(1), collection::values;
    "zipmap" => 2, Some(2), collection::zipmap;
    // numeric
    "abs" => 1, Some(1), numeric::abs;
    "ceil" => 1, Some(1), numeric::ceil;
    "floor" => 1, Some(1), numeric::floor;
    "log" => 2, Some(2), numeric::log;
    "max" => 0, None, numeric::max;
    "min" => 0, None, numeric::min;
    "parseint" => 2, Some(2), numeric::parseint;
    "pow" => 2, Some(2), numeric::pow;
    "signum" => 1, Some(1), numeric::signum;
    // encoding
    "base64decode" => 1, Some(1), encoding::base64decode;
    "base64encode" => 1, Some(1), encoding::base64encode;
    "base64gzip" => 1, Some(1), encoding::base64gzip;
    "csvdecode" => 1, Some(1), encoding::csvdecode;
    "jsondecode" => 1, Some(1), encoding::jsondecode;
    "jsonencode" => 1, Some(1), encoding::jsonencode;
    "textdecodebase64" => 2, Some(2), encoding::textdecodebase64;
    "textencodebase64" => 2, Some(2), encoding::textencodebase64;
    "urldecode" => 1, Some(1), encoding::urldecode;
    "urlencode" => 1, Some(1), encoding::urlencode;
    "yamldecode" => 1, Some(1), yaml::yamldecode;
    "yamlencode" => 1, Some(1), encoding::yamlencode;
    "yaml2json" => 1, Some(1), encoding::yaml2json;
    // filesystem
    "abspath" => 1, Some(1), filesystem::abspath;
    "basename" => 1, Some(1), filesystem::basename;
    "dirname" => 1, Some(1), filesystem::dirname;
    "file" => 1, Some(1), filesystem::file;
    "filebase64" => 1, Some(1), filesystem::filebase64;
    "fileexists" => 1, Some(1), filesystem::fileexists;
    "fileset" => 2, Some(2), filesystem::fileset;
    "pathexpand" => 1, Some(1), filesystem::pathexpand;
    "templatefile" => 2, Some(2), filesystem::templatefile;
    // hash and crypto
    "bcrypt" => 1, Some(2), hash::bcrypt;
    "md5" => 1, Some(1), hash::md5;
    "rsadecrypt" => 2, Some(2), hash::rsadecrypt;
    "sha1" => 1, Some(1), hash::sha1;
    "sha256" => 1, Some(1), hash::sha256;
    "sha512" => 1, Some(1), hash::sha512;
    "uuidv4" => 0, Some(0), hash::uuidv4;
    "uuid" => 0, Some(0), hash::uuidv4;
    "uuidv5" => 2, Some(2), hash::uuidv5;
    // date and time
    "formatdate" => 2, Some(2), datetime::formatdate;
    "legacy_isotime" => 0, Some(1), datetime::legacy_isotime;
    "legacy_strftime" => 1, Some(1), datetime::legacy_strftime;
    "timeadd" => 2, Some(2), datetime::timeadd;
    "timecmp" => 2, Some(2), datetime::timecmp;
    "timestamp" => 0, Some(0), datetime::timestamp;
    "rfc3339_parse" => 1, Some(1), datetime::rfc3339_parse;
    "unix_timestamp_parse" => 1, Some(1), datetime::unix_timestamp_parse;
    // type conversion
    "tobool" => 1, Some(1), conversion::tobool;
    "tolist" => 1, Some(1), conversion::tolist;
    "tomap" => 1, Some(1), conversion::tomap;
    "tonumber" => 1, Some(1), conversion::tonumber;
    "toset" => 1, Some(1), conversion::toset;
    "tostring" => 1, Some(1), conversion::tostring;
    // ip networks
    "cidrcontains" => 2, Some(2), ipnet::cidrcontains;
    "cidrhost" => 2, Some(2), ipnet::cidrhost;
    "cidrnetmask" => 1, Some(1), ipnet::cidrnetmask;
    "cidrsubnet" => 3, Some(3), ipnet::cidrsubnet;
    "cidrsubnets" => 1, None, ipnet::cidrsubnets;
}

/// Every function of the library, sorted by family as in the table above.
pub fn all() -> &'static [Function] {
    ALL
}

/// The function named `name`, if the library has it.
pub fn lookup(name: &str) -> Option<&'static Function> {
    ALL.iter().find(|f| f.name == name)
}

/// `env(name)`: the value of `name` in the injected environment, or an empty string when it is
/// not set (as Packer does).
pub fn env(env: &BTreeMap<String, String>, args: &[Value]) -> Result<Value, String> {
    check_arity("env", 1, Some(1), args)?;
    let name = str_arg(args, 0, "key")?;
    Ok(Value::String(env.get(&name).cloned().unwrap_or_default()))
}

fn invoke(name: &str, args: &[Value]) -> Result<Value, String> {
    match lookup(name) {
        Some(f) => (f.call)(args),
        None => Err(format!("there is no function named {name:?}")),
    }
}

fn check_arity(name: &str, min: usize, max: Option<usize>, args: &[Value]) -> Result<(), String> {
    let n = args.len();
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    match max {
        Some(max) if min == max && n != min => Err(format!(
            "function {name:?} expects {min} argument{}, got {n}",
            plural(min)
        )),
        Some(max) if n < min || n > max => Err(format!(
            "function {name:?} expects {min} to {max} arguments, got {n}"
        )),
        None if n < min => Err(format!(
            "function {name:?} expects at least {min} argument{}, got {n}",
            plural(min)
        )),
        _ => Ok(()),
    }
}

// ---- shared argument helpers -------------------------------------------------------------------

/// The cty-like type name of a value, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "tuple",
        Value::Object(_) => "object",
    }
}

fn arg<'a>(args: &'a [Value], i: usize, param: &str) -> Result<&'a Value, String> {
    args.get(i)
        .ok_or_else(|| format!("missing value for {param:?} parameter"))
}

/// A number as cty prints it (`big.Float.Text('f', -1)`): plain decimal notation with the
/// fewest digits that read back to the same value, so `1e300` is a 1 and 300 zeros.
pub(crate) fn number_to_string(n: &hcl::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    // as_f64 is always Some for hcl numbers; fall back to hcl's own rendering otherwise
    n.as_f64().map_or_else(|| n.to_string(), plain_decimal)
}

/// Shortest round-trip digits of `f`, written without an exponent.
pub(crate) fn plain_decimal(f: f64) -> String {
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // the decimal point sits after `point` digits
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    if f < 0.0 { format!("-{body}") } else { body }
}

/// Converts a primitive to a string the way cty's automatic conversion does.
pub(crate) fn value_to_str(v: &Value, param: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(number_to_string(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(format!(
            "invalid value for {param:?} parameter: argument must not be null"
        )),
        other => Err(format!(
            "invalid value for {param:?} parameter: string required, got {}",
            type_name(other)
        )),
    }
}

pub(crate) fn str_arg(args: &[Value], i: usize, param: &str) -> Result<String, String> {
    value_to_str(arg(args, i, param)?, param)
}

pub(crate) fn value_to_f64(v: &Value, param: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("invalid value for {param:?} parameter: number required")),
        // cty converts decimal text exactly as written, without trimming
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("invalid value for {param:?} parameter: a number is required")),
        Value::Null => Err(format!(
            "invalid value for {param:?} parameter: argument must not be null"
        )),
        other => Err(format!(
            "invalid value for {param:?} parameter: number required, got {}",
            type_name(other)
        )),
    }
}

pub(crate) fn num_arg(args: &[Value], i: usize, param: &str) -> Result<f64, String> {
    value_to_f64(arg(args, i, param)?, param)
}

/// A whole number; the error carries no parameter name, as cty's conversion inside a function
/// body reports it.
pub(crate) fn value_to_int(v: &Value, param: &str) -> Result<i64, String> {
    let f = value_to_f64(v, param)?;
    if f.fract() != 0.0 || f < i64::MIN as f64 || f > i64::MAX as f64 {
        return Err(
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807"
                .to_string(),
        );
    }
    Ok(f as i64)
}

pub(crate) fn int_arg(args: &[Value], i: usize, param: &str) -> Result<i64, String> {
    value_to_int(arg(args, i, param)?, param)
}

pub(crate) fn value_to_bool(v: &Value, param: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        Value::Null => Err(format!(
            "invalid value for {param:?} parameter: argument must not be null"
        )),
        other => Err(format!(
            "invalid value for {param:?} parameter: bool required, got {}",
            type_name(other)
        )),
    }
}

pub(crate) fn list_arg<'a>(args: &'a [Value], i: usize, param: &str) -> Result<&'a [Value], String> {
    match arg(args, i, param)? {
        Value::Array(a) => Ok(a),
        Value::Null => Err(format!(
            "invalid value for {param:?} parameter: argument must not be null"
        )),
        other => Err(format!(
            "invalid value for {param:?} parameter: list of any single type required, got {}",
            type_name(other)
        )),
    }
}

pub(crate) fn obj_arg<'a>(
    args: &'a [Value],
    i: usize,
    param: &str,
) -> Result<&'a hcl::Map<String, Value>, String> {
    match arg(args, i, param)? {
        Value::Object(o) => Ok(o),
        Value::Null => Err(format!(
            "invalid value for {param:?} parameter: argument must not be null"
        )),
        other => Err(format!(
            "invalid value for {param:?} parameter: map of any single type required, got {}",
            type_name(other)
        )),
    }
}

/// A number value; fails on NaN and infinities, which cty cannot hold either.
pub(crate) fn num(f: f64) -> Result<Value, String> {
    hcl::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".to_string())
}

pub(crate) fn int(i: i64) -> Value {
    Value::Number(hcl::Number::from(i))
}

/// Orders values the way cty iterates a set of primitives: bools false first, numbers
/// ascending, strings lexically; other kinds keep a stable order after those.
pub(crate) fn set_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Bool(_) => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Makes a set out of values: duplicates dropped, primitives sorted.
pub(crate) fn make_set(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort_by(set_order);
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the unit tests of every family; the coverage test looks for `call("name"` and
    //! `call_err("name"` in the sources to know which functions are tested.
    use hcl::Value;

    pub(crate) fn call(name: &str, args: Vec<Value>) -> Value {
        let f = super::lookup(name).unwrap_or_else(|| panic!("no function {name}"));
        (f.call)(&args).unwrap_or_else(|e| panic!("{name} failed: {e}"))
    }

    pub(crate) fn call_err(name: &str, args: Vec<Value>) -> String {
        let f = super::lookup(name).unwrap_or_else(|| panic!("no function {name}"));
        match (f.call)(&args) {
            Ok(v) => panic!("{name} should have failed, returned {v:?}"),
            Err(e) => e,
        }
    }

    pub(crate) fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    pub(crate) fn n(v: f64) -> Value {
        super::num(v).expect("finite test number")
    }

    pub(crate) fn list(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    pub(crate) fn strs(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|i| s(i)).collect())
    }

    pub(crate) fn obj(items: Vec<(&str, Value)>) -> Value {
        Value::Object(items.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn arity_is_checked_before_the_call() {
        assert_eq!(
            call_err("upper", vec![]),
            "function \"upper\" expects 1 argument, got 0"
        );
        assert_eq!(
            call_err("bcrypt", vec![]),
            "function \"bcrypt\" expects 1 to 2 arguments, got 0"
        );
        assert_eq!(
            call_err("join", vec![s(",")]),
            "function \"join\" expects at least 2 arguments, got 1"
        );
    }

    #[test]
    fn numbers_print_in_plain_shortest_decimal() {
        assert_eq!(plain_decimal(1e300), format!("1{}", "0".repeat(300)));
        assert_eq!(plain_decimal(1.5e-10), "0.00000000015");
        assert_eq!(plain_decimal(-2.5), "-2.5");
        assert_eq!(plain_decimal(123.456), "123.456");
        assert_eq!(plain_decimal(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(number_to_string(&hcl::Number::from(-7)), "-7");
    }

    #[test]
    fn env_reads_the_injected_map_only() {
        let mut map = BTreeMap::new();
        map.insert("CCE_TEST_VAR".to_string(), "yes".to_string());
        assert_eq!(env(&map, &[s("CCE_TEST_VAR")]), Ok(s("yes")));
        // PATH is set in the process but not in the injected map
        assert_eq!(env(&map, &[s("PATH")]), Ok(s("")));
        assert!(env(&map, &[]).is_err());
        assert!(env(&map, &[Value::Null]).is_err());
    }

    #[test]
    fn declared_functions_evaluate_through_hcl() {
        let mut ctx = Context::new();
        declare_all(&mut ctx);
        let v: Value = hcl::eval::from_str(
            "a = upper(\"x\")\nb = join(\"-\", [\"a\", \"b\"])\nc = length([1, 2, 3])\nd = max([1, 5, 3]...)\n",
            &ctx,
        )
        .expect("evaluates");
        assert_eq!(v, obj(vec![("a", s("X")), ("b", s("a-b")), ("c", n(3.0)), ("d", n(5.0))]));
        let err = hcl::eval::from_str::<Value>("a = upper()\n", &ctx).unwrap_err();
        assert!(err.to_string().contains("expects 1 argument"), "{err}");
    }

    /// The evaluator's own functions: listed in the docs and the README like the library's, but
    /// tested in `eval.rs`.
    const EVALUATOR: &[&str] = &["try", "can", "env"];
    /// Refused by design: only the error case exists.
    const REFUSED: &[&str] = &["rsadecrypt"];

    /// `name -> family` from the table of docs/functions.md (`| `name` | family | signature | note |`).
    fn docs_list(docs: &str) -> BTreeMap<String, String> {
        let mut listed = BTreeMap::new();
        for line in docs.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() >= 5 && cells[1].len() > 2 && cells[1].starts_with('`') && cells[1].ends_with('`') {
                listed.insert(cells[1].trim_matches('`').to_string(), cells[2].to_string());
            }
        }
        listed
    }

    /// `name -> family` from the README lines `- family: `a`, `b`` between the function markers.
    fn readme_list(readme: &str) -> Result<BTreeMap<String, String>, String> {
        let (_, rest) = readme.split_once("<!-- functions:start -->").ok_or("README.md has no <!-- functions:start --> marker")?;
        let (list, _) = rest.split_once("<!-- functions:end -->").ok_or("README.md has no <!-- functions:end --> marker")?;
        let mut listed = BTreeMap::new();
        for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (family, names) = line
                .strip_prefix("- ")
                .and_then(|l| l.split_once(':'))
                .ok_or_else(|| format!("README.md function list: expected \"- family: `name`, ...\", got {line:?}"))?;
            for name in names.split(',').map(str::trim) {
                let bare = name.strip_prefix('`').and_then(|n| n.strip_suffix('`'));
                let bare = bare.filter(|n| !n.is_empty()).ok_or_else(|| format!("README.md function list: {name:?} is not a `name`"))?;
                if listed.insert(bare.to_string(), family.trim().to_string()).is_some() {
                    return Err(format!("README.md lists {bare} twice"));
                }
            }
        }
        Ok(listed)
    }

    /// Every difference between the README list, the docs table, the implemented functions and
    /// their tests. `library_tests` is the source of the function modules, `eval_tests` the
    /// evaluator's tests.
    fn coverage_problems(readme: &str, docs: &str, have: &BTreeSet<String>, library_tests: &str, eval_tests: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let readme = match readme_list(readme) {
            Ok(r) => r,
            Err(e) => return vec![e],
        };
        let docs = docs_list(docs);
        let mut supported = have.clone();
        supported.extend(EVALUATOR.iter().map(|n| n.to_string()));
        for name in &supported {
            if !readme.contains_key(name) {
                problems.push(format!("{name} is supported but missing from the README list"));
            }
            match docs.get(name) {
                None => problems.push(format!("{name} is supported but missing from docs/functions.md")),
                Some(f) if EVALUATOR.contains(&name.as_str()) != (f == "evaluator") => {
                    problems.push(format!("docs/functions.md gives {name} the family {f}, but only try, can and env are evaluator"))
                }
                Some(f) if readme.get(name).is_some_and(|r| r != f) => {
                    problems.push(format!("README lists {name} under {}, docs/functions.md under {f}", readme[name]))
                }
                Some(_) => {}
            }
            let tested = if EVALUATOR.contains(&name.as_str()) {
                eval_tests.contains(&format!("\"{name}("))
            } else {
                REFUSED.contains(&name.as_str()) || library_tests.contains(&format!("call(\"{name}\""))
            };
            if !tested {
                problems.push(format!("{name} has no test of its typical case"));
            }
            if !EVALUATOR.contains(&name.as_str()) && !library_tests.contains(&format!("call_err(\"{name}\"")) {
                problems.push(format!("{name} has no test of an error case"));
            }
        }
        for name in readme.keys().filter(|n| !supported.contains(*n)) {
            problems.push(format!("the README lists {name}, which is not implemented"));
        }
        for name in docs.keys().filter(|n| !supported.contains(*n)) {
            problems.push(format!("docs/functions.md lists {name}, which is not implemented"));
        }
        problems
    }

    /// The README list and the docs table name exactly the supported functions, and every
    /// function has a test of its typical case (`call("name"`) and of an error case
    /// (`call_err("name"`); the evaluator's functions are called in the evaluator's tests.
    #[test]
    fn readme_docs_and_tests_cover_every_function() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let readme = read(root.join("../../README.md"));
        let docs = read(root.join("../../docs/functions.md"));
        let mut library_tests = String::new();
        for entry in std::fs::read_dir(root.join("src/functions")).expect("functions dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                library_tests.push_str(&read(path));
            }
        }
        let eval = read(root.join("src/eval.rs"));
        let eval_tests = eval.split_once("mod tests {").map_or("", |(_, t)| t);
        let have: BTreeSet<String> = all().iter().map(|f| f.name.to_string()).collect();
        let problems = coverage_problems(&readme, &docs, &have, &library_tests, eval_tests);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn coverage_check_finds_missing_extra_and_untested_functions() {
        let docs = "| Function | Family | Signature | Note |\n|---|---|---|---|\n\
                    | `try` | evaluator | try(x...) | |\n| `can` | evaluator | can(x) | |\n| `env` | evaluator | env(n) | |\n\
                    | `upper` | string | upper(s) | |\n| `lower` | string | lower(s) | |\n";
        let have: BTreeSet<String> = ["upper", "lower"].iter().map(|s| s.to_string()).collect();
        let library = "call(\"upper\" call_err(\"upper\" call(\"lower\" call_err(\"lower\"";
        let eval = "known(\"try(1)\") known(\"can(1)\") run(\"env(1)\")";
        let readme = |list: &str| format!("# x\n<!-- functions:start -->\n{list}<!-- functions:end -->\n");
        let full = readme("- evaluator: `try`, `can`, `env`\n- string: `upper`, `lower`\n");
        assert_eq!(coverage_problems(&full, docs, &have, library, eval), Vec::<String>::new());
        assert_eq!(
            coverage_problems(&readme("- evaluator: `try`, `can`, `env`\n- string: `upper`, `shout`\n"), docs, &have, library, eval),
            ["lower is supported but missing from the README list", "the README lists shout, which is not implemented"]
        );
        assert_eq!(
            coverage_problems(&readme("- evaluator: `try`, `can`, `env`\n- numeric: `upper`, `lower`\n"), docs, &have, library, eval),
            ["README lists lower under numeric, docs/functions.md under string", "README lists upper under numeric, docs/functions.md under string"]
        );
        assert_eq!(
            coverage_problems(&full, docs, &have, "call(\"upper\" call_err(\"upper\" call_err(\"lower\"", "known(\"try(1)\") run(\"env(1)\")"),
            ["can has no test of its typical case", "lower has no test of its typical case"]
        );
        assert_eq!(coverage_problems("no list", docs, &have, library, eval), ["README.md has no <!-- functions:start --> marker"]);
        assert_eq!(
            coverage_problems(&readme("- string: `upper`, upper\n"), docs, &have, library, eval),
            ["README.md function list: \"upper\" is not a `name`"]
        );
    }
}
