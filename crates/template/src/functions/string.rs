//! String functions: case, trimming, splitting, regular expressions and cty's `format` verbs.

use hcl::Value;
use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::{int_arg, str_arg, type_name, value_to_str};

fn string_fn(args: &[Value], f: impl Fn(&str) -> String) -> Result<Value, String> {
    Ok(Value::String(f(&str_arg(args, 0, "str")?)))
}

pub(super) fn chomp(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| s.trim_end_matches(['\r', '\n']).to_string())
}

/// Go's per-rune `unicode.ToUpper`: a letter whose upper case is several letters (`ß`) stays.
pub(crate) fn upper_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's per-rune `unicode.ToLower`: `İ` lowers to a plain `i`, as its simple mapping says.
fn lower_char(c: char) -> char {
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        (Some(l), Some(_)) if c == '\u{130}' => l,
        _ => c,
    }
}

pub(super) fn lower(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| s.chars().map(lower_char).collect())
}

pub(super) fn upper(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| s.chars().map(upper_char).collect())
}

/// Reverses grapheme clusters, so combining marks stay on their letters (as cty does).
pub(super) fn strrev(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| s.graphemes(true).rev().collect())
}

pub(super) fn trimspace(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| s.trim().to_string())
}

/// Go's `strings.Title`: the first letter of every word upper-cased, words separated by
/// anything that is not a letter, digit or underscore.
pub(super) fn title(args: &[Value]) -> Result<Value, String> {
    string_fn(args, |s| {
        let mut out = String::with_capacity(s.len());
        let mut prev_sep = true;
        for c in s.chars() {
            if prev_sep {
                out.push(upper_char(c));
            } else {
                out.push(c);
            }
            prev_sep = !(c.is_alphanumeric() || c == '_');
        }
        out
    })
}

pub(super) fn endswith(args: &[Value]) -> Result<Value, String> {
    let (s, suffix) = (str_arg(args, 0, "str")?, str_arg(args, 1, "suffix")?);
    Ok(Value::Bool(s.ends_with(&suffix)))
}

pub(super) fn startswith(args: &[Value]) -> Result<Value, String> {
    let (s, prefix) = (str_arg(args, 0, "str")?, str_arg(args, 1, "prefix")?);
    Ok(Value::Bool(s.starts_with(&prefix)))
}

pub(super) fn strcontains(args: &[Value]) -> Result<Value, String> {
    let (s, sub) = (str_arg(args, 0, "str")?, str_arg(args, 1, "substr")?);
    Ok(Value::Bool(s.contains(&sub)))
}

pub(super) fn trim(args: &[Value]) -> Result<Value, String> {
    let (s, cutset) = (str_arg(args, 0, "str")?, str_arg(args, 1, "cutset")?);
    Ok(Value::String(s.trim_matches(|c| cutset.contains(c)).to_string()))
}

pub(super) fn trimprefix(args: &[Value]) -> Result<Value, String> {
    let (s, prefix) = (str_arg(args, 0, "str")?, str_arg(args, 1, "prefix")?);
    Ok(Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string()))
}

pub(super) fn trimsuffix(args: &[Value]) -> Result<Value, String> {
    let (s, suffix) = (str_arg(args, 0, "str")?, str_arg(args, 1, "suffix")?);
    Ok(Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string()))
}

/// `indent(spaces, str)`: every line but the first gets `spaces` spaces in front.
pub(super) fn indent(args: &[Value]) -> Result<Value, String> {
    let spaces = int_arg(args, 0, "spaces")?;
    if spaces < 0 {
        return Err("invalid value for \"spaces\" parameter: must not be negative".to_string());
    }
    if spaces > MAX_PAD as i64 {
        return Err(format!("invalid value for \"spaces\" parameter: {spaces} spaces is too large"));
    }
    let s = str_arg(args, 1, "str")?;
    let pad = " ".repeat(spaces as usize);
    Ok(Value::String(s.replace('\n', &format!("\n{pad}"))))
}

/// `join(separator, lists...)`.
pub(super) fn join(args: &[Value]) -> Result<Value, String> {
    let sep = str_arg(args, 0, "separator")?;
    let mut parts = Vec::new();
    for list in &args[1..] {
        let Value::Array(items) = list else {
            return Err(format!(
                "invalid value for \"lists\" parameter: list of string required, got {}",
                type_name(list)
            ));
        };
        for (ei, item) in items.iter().enumerate() {
            if item.is_null() {
                return Err(format!(
                    "invalid value for \"lists\" parameter: element {ei} is null; cannot concatenate null values"
                ));
            }
            parts.push(value_to_str(item, "lists")?);
        }
    }
    Ok(Value::String(parts.join(&sep)))
}

/// `split(separator, str)`; an empty separator splits into characters, like Go.
pub(super) fn split(args: &[Value]) -> Result<Value, String> {
    let (sep, s) = (str_arg(args, 0, "separator")?, str_arg(args, 1, "str")?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(|p| Value::String(p.to_string())).collect()
    };
    Ok(Value::Array(parts))
}

/// `substr(str, offset, length)`: offsets count grapheme clusters; a negative offset counts
/// from the end; a length of -1 takes the rest.
pub(super) fn substr(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let mut offset = int_arg(args, 1, "offset")?;
    let length = int_arg(args, 2, "length")?;
    let chars: Vec<&str> = s.graphemes(true).collect();
    let total = chars.len() as i64;
    if offset < 0 {
        offset += total;
        if offset < 0 {
            offset = 0;
        }
    }
    if offset >= total {
        return Ok(Value::String(String::new()));
    }
    let end = if length < 0 { total } else { (offset + length).min(total) };
    Ok(Value::String(chars[offset as usize..end as usize].concat()))
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression pattern: {e}"))
}

/// What one match yields: the whole match, the list of unnamed captures, or an object of named
/// ones (mixing both is refused, as in Terraform).
fn match_value(re: &Regex, caps: &regex::Captures<'_>) -> Result<Value, String> {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Ok(Value::String(caps.get(0).map_or("", |m| m.as_str()).to_string()));
    }
    let named = names.iter().filter(|n| n.is_some()).count();
    let cap_value = |i: usize| {
        caps.get(i).map_or(Value::Null, |m| Value::String(m.as_str().to_string()))
    };
    if named == 0 {
        Ok(Value::Array((1..=names.len()).map(cap_value).collect()))
    } else if named == names.len() {
        let mut obj = hcl::Map::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(name) = name {
                obj.insert((*name).to_string(), cap_value(i + 1));
            }
        }
        obj.sort_keys();
        Ok(Value::Object(obj))
    } else {
        Err("invalid regular expression pattern: can't mix both named and unnamed capture groups"
            .to_string())
    }
}

pub(super) fn regex(args: &[Value]) -> Result<Value, String> {
    let (pattern, s) = (str_arg(args, 0, "pattern")?, str_arg(args, 1, "string")?);
    let re = compile(&pattern)?;
    let caps = re
        .captures(&s)
        .ok_or_else(|| "pattern did not match any part of the given string".to_string())?;
    match_value(&re, &caps)
}

pub(super) fn regexall(args: &[Value]) -> Result<Value, String> {
    let (pattern, s) = (str_arg(args, 0, "pattern")?, str_arg(args, 1, "string")?);
    let re = compile(&pattern)?;
    let matches = re
        .captures_iter(&s)
        .map(|caps| match_value(&re, &caps))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(matches))
}

/// Packer's `regex_replace(string, pattern, replacement)`: `$1`/`${name}` expand captures.
pub(super) fn regex_replace(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let re = compile(&str_arg(args, 1, "substr")?)?;
    let rep = str_arg(args, 2, "replace")?;
    Ok(Value::String(re.replace_all(&s, rep.as_str()).into_owned()))
}

/// `replace(string, substring, replacement)`; a substring wrapped in slashes is a regex.
pub(super) fn replace(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let sub = str_arg(args, 1, "substr")?;
    let rep = str_arg(args, 2, "replace")?;
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = compile(&sub[1..sub.len() - 1])?;
        return Ok(Value::String(re.replace_all(&s, rep.as_str()).into_owned()));
    }
    Ok(Value::String(s.replace(&sub, &rep)))
}

// ---- format -------------------------------------------------------------------------------------

/// The largest width, precision or indentation honoured; beyond it a typo would allocate
/// gigabytes before anything could be reported.
const MAX_PAD: usize = 1_000_000;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub(super) fn format(args: &[Value]) -> Result<Value, String> {
    let fmt = str_arg(args, 0, "format")?;
    format_with(&fmt, &args[1..]).map(Value::String)
}

fn format_with(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut max_used = 0usize;
    let bytes: Vec<(usize, char)> = fmt.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (start, c) = bytes[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while i < bytes.len() {
            match bytes[i].1 {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        let read_num = |i: &mut usize| -> Option<usize> {
            let mut v: Option<usize> = None;
            while *i < bytes.len() && bytes[*i].1.is_ascii_digit() {
                let d = bytes[*i].1 as usize - '0' as usize;
                v = Some(v.unwrap_or(0).saturating_mul(10).saturating_add(d));
                *i += 1;
            }
            v
        };
        if i < bytes.len() && bytes[i].1 == '[' {
            i += 1;
            let num_start = i;
            let idx = read_num(&mut i);
            if i >= bytes.len() || bytes[i].1 != ']' || idx.is_none_or(|n| n == 0) {
                // cty points at the zero of [0], else at whatever broke the index
                let bad = if idx == Some(0) { num_start } else { i };
                let at = bytes.get(bad).map_or(fmt.len(), |b| b.0);
                let c = bytes.get(bad).map_or(' ', |b| b.1);
                return Err(format!("unrecognized format character '{c}' at offset {at}"));
            }
            i += 1;
            next_arg = idx.unwrap_or(1) - 1;
        }
        spec.width = read_num(&mut i);
        if i < bytes.len() && bytes[i].1 == '.' {
            i += 1;
            spec.precision = Some(read_num(&mut i).unwrap_or(0));
        }
        if spec.width.is_some_and(|w| w > MAX_PAD) || spec.precision.is_some_and(|p| p > MAX_PAD) {
            return Err(format!("width or precision too large at offset {start}"));
        }
        let Some(&(verb_at, verb)) = bytes.get(i) else {
            return Err(format!("invalid format string starting at offset {}", fmt.len()));
        };
        i += 1;
        if verb == '%' {
            // only a bare %% is an escaped percent sign
            if verb_at != start + 1 {
                return Err(format!("unrecognized format character '%' at offset {verb_at}"));
            }
            out.push('%');
            continue;
        }
        if !"vtsqdboxXeEfgG".contains(verb) {
            return Err(format!(
                "unsupported format verb {verb:?} in {:?} at offset {start}",
                &fmt[start..verb_at + verb.len_utf8()]
            ));
        }
        let Some(value) = args.get(next_arg) else {
            return Err(format!(
                "not enough arguments for {:?} at {start}: need index {} but have {} total",
                &fmt[start..verb_at + verb.len_utf8()],
                next_arg + 1,
                args.len()
            ));
        };
        next_arg += 1;
        max_used = max_used.max(next_arg);
        let body = format_one(verb, &spec, value)
            .map_err(|e| format!("unsupported value for \"%{verb}\" at {start}: {e}"))?;
        out.push_str(&pad(body, &spec, matches!(verb, 'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G')));
    }
    if max_used < args.len() {
        return Err(format!(
            "invalid value for \"args\" parameter: too many arguments; only {max_used} used by format string"
        ));
    }
    Ok(out)
}

fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
            _ => (String::new(), body),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn format_one(verb: char, spec: &Spec, value: &Value) -> Result<String, String> {
    match verb {
        'v' if spec.sharp => super::encoding::json_string(value),
        'v' => match value {
            Value::Null => Ok("null".to_string()),
            // cty prints numbers for %v as Go's shortest %g
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                let sign = if f < 0.0 { "-" } else { "" };
                Ok(format!("{sign}{}", go_g(f.abs(), None)))
            }
            Value::Array(_) | Value::Object(_) => super::encoding::json_string(value),
            other => value_to_str(other, "value"),
        },
        't' => match value {
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(s) if s == "true" || s == "false" => Ok(s.clone()),
            _ => Err("bool required".to_string()),
        },
        's' => {
            let s = value_to_str(value, "value").map_err(|_| "string required".to_string())?;
            Ok(match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            })
        }
        'q' => {
            let s = value_to_str(value, "value").map_err(|_| "string required".to_string())?;
            super::encoding::json_string(&Value::String(s))
        }
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let f = super::value_to_f64(value, "value").map_err(|_| "number required".to_string())?;
            let sign = if f < 0.0 {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            let a = f.abs();
            let digits = match verb {
                'd' if a.fract() == 0.0 && a > u64::MAX as f64 => super::plain_decimal(a),
                'd' | 'b' | 'o' | 'x' | 'X' => {
                    if a.fract() != 0.0 || a > u64::MAX as f64 {
                        return Err("an integer is required".to_string());
                    }
                    let u = a as u64;
                    match verb {
                        'd' => u.to_string(),
                        'b' => format!("{u:b}"),
                        'o' if spec.sharp => format!("0{u:o}"),
                        'o' => format!("{u:o}"),
                        'x' if spec.sharp => format!("0x{u:x}"),
                        'x' => format!("{u:x}"),
                        _ if spec.sharp => format!("0X{u:X}"),
                        _ => format!("{u:X}"),
                    }
                }
                'f' => format!("{a:.*}", spec.precision.unwrap_or(6)),
                'e' | 'E' => {
                    let s = go_exp(a, Some(spec.precision.unwrap_or(6)));
                    if verb == 'E' { s.to_uppercase() } else { s }
                }
                _ => {
                    let s = go_g(a, spec.precision);
                    if verb == 'G' { s.to_uppercase() } else { s }
                }
            };
            Ok(format!("{sign}{digits}"))
        }
        // format_with only passes the verbs above
        other => Err(format!("unsupported format verb {other:?}")),
    }
}

/// Go's `%e`: mantissa, `e`, sign and at least two exponent digits.
fn go_exp(a: f64, precision: Option<usize>) -> String {
    let s = match precision {
        Some(p) => format!("{a:.p$e}"),
        None => format!("{a:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

/// Go's `%g`: exponent form when the exponent is < -4 or >= the precision, where the shortest
/// form (no precision given) decides with 6, as Go and `big.Float` do.
fn go_g(a: f64, precision: Option<usize>) -> String {
    if a == 0.0 {
        return "0".to_string();
    }
    let exp = a.abs().log10().floor() as i32;
    match precision {
        None => {
            if !(-4..6).contains(&exp) {
                go_exp(a, None)
            } else {
                a.to_string()
            }
        }
        Some(p) => {
            let p = p.max(1);
            if exp < -4 || exp >= p as i32 {
                go_exp(a, Some(p - 1))
            } else {
                let decimals = (p as i32 - 1 - exp).max(0) as usize;
                let s = format!("{a:.decimals$}");
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                }
            }
        }
    }
}

/// `formatlist(format, args...)`: list arguments are walked in step; other arguments repeat.
pub(super) fn formatlist(args: &[Value]) -> Result<Value, String> {
    let fmt = str_arg(args, 0, "format")?;
    let rest = &args[1..];
    let mut len: Option<(usize, usize)> = None;
    for (i, a) in rest.iter().enumerate() {
        if let Value::Array(items) = a {
            match len {
                None => len = Some((items.len(), i + 1)),
                Some((l, at)) if l != items.len() => {
                    return Err(format!(
                        "invalid value for \"args\" parameter: argument {} has length {}, which is inconsistent with argument {at} of length {l}",
                        i + 1,
                        items.len()
                    ));
                }
                _ => {}
            }
        }
    }
    let n = len.map_or(1, |(l, _)| l);
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let row_args: Vec<Value> = rest
            .iter()
            .map(|a| match a {
                Value::Array(items) => items[row].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(Value::String(
            format_with(&fmt, &row_args).map_err(|e| format!("error on format iteration {row}: {e}"))?,
        ));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    #[test]
    fn case_and_trim() {
        assert_eq!(call("upper", vec![s("héllo")]), s("HÉLLO"));
        assert_eq!(call("lower", vec![s("HeLLo")]), s("hello"));
        assert_eq!(call("upper", vec![n(5.0)]), s("5"));
        assert_eq!(call("upper", vec![s("straße")]), s("STRAßE"));
        assert_eq!(call("lower", vec![s("İ")]), s("i"));
        assert_eq!(call_err("upper", vec![strs(&["a"])]), "invalid value for \"str\" parameter: string required, got tuple");
        assert_eq!(call_err("lower", vec![Value::Null]), "invalid value for \"str\" parameter: argument must not be null");
        assert_eq!(call("title", vec![s("hello world-wide web o'neil")]), s("Hello World-Wide Web O'Neil"));
        assert!(call_err("title", vec![obj(vec![])]).contains("string required"));
        assert_eq!(call("chomp", vec![s("hello\r\n\n")]), s("hello"));
        assert_eq!(call("chomp", vec![s("a\nb")]), s("a\nb"));
        assert!(call_err("chomp", vec![Value::Null]).contains("must not be null"));
        assert_eq!(call("strrev", vec![s("héllo")]), s("olléh"));
        // e + combining acute accent stays one cluster
        assert_eq!(call("strrev", vec![s("cafe\u{301}!")]), s("!e\u{301}fac"));
        assert!(call_err("strrev", vec![list(vec![])]).contains("string required"));
        assert_eq!(call("trimspace", vec![s(" \t hello\n ")]), s("hello"));
        assert!(call_err("trimspace", vec![Value::Null]).contains("null"));
        assert_eq!(call("trim", vec![s("?!hello?!"), s("!?")]), s("hello"));
        assert!(call_err("trim", vec![s("x"), list(vec![])]).contains("\"cutset\""));
        assert_eq!(call("trimprefix", vec![s("helloworld"), s("hello")]), s("world"));
        assert_eq!(call("trimprefix", vec![s("helloworld"), s("cat")]), s("helloworld"));
        assert!(call_err("trimprefix", vec![Value::Null, s("a")]).contains("\"str\""));
        assert_eq!(call("trimsuffix", vec![s("helloworld"), s("world")]), s("hello"));
        assert!(call_err("trimsuffix", vec![s("a"), Value::Null]).contains("\"suffix\""));
    }

    #[test]
    fn predicates() {
        assert_eq!(call("startswith", vec![s("hello world"), s("hello")]), Value::Bool(true));
        assert_eq!(call("startswith", vec![s("hello world"), s("world")]), Value::Bool(false));
        assert!(call_err("startswith", vec![s("a")]).contains("expects 2"));
        assert_eq!(call("endswith", vec![s("hello world"), s("world")]), Value::Bool(true));
        assert!(call_err("endswith", vec![Value::Null, s("a")]).contains("null"));
        assert_eq!(call("strcontains", vec![s("hello world"), s("o w")]), Value::Bool(true));
        assert_eq!(call("strcontains", vec![s("hello world"), s("x")]), Value::Bool(false));
        assert!(call_err("strcontains", vec![s("a"), obj(vec![])]).contains("\"substr\""));
    }

    #[test]
    fn indent_join_split() {
        assert_eq!(call("indent", vec![n(2.0), s("a\nb\nc")]), s("a\n  b\n  c"));
        assert!(call_err("indent", vec![n(-1.0), s("a")]).contains("must not be negative"));
        assert!(call_err("indent", vec![n(1.5), s("a")]).contains("whole number"));
        assert_eq!(call("join", vec![s(", "), strs(&["a", "b"]), strs(&["c"])]), s("a, b, c"));
        assert_eq!(call("join", vec![s("-"), list(vec![])]), s(""));
        assert_eq!(
            call_err("join", vec![s("-"), list(vec![s("a"), Value::Null])]),
            "invalid value for \"lists\" parameter: element 1 is null; cannot concatenate null values"
        );
        assert_eq!(call("split", vec![s(","), s("a,b,,c")]), strs(&["a", "b", "", "c"]));
        assert_eq!(call("split", vec![s(","), s("")]), strs(&[""]));
        assert_eq!(call("split", vec![s(""), s("ab")]), strs(&["a", "b"]));
        assert!(call_err("split", vec![s(","), list(vec![])]).contains("\"str\""));
    }

    #[test]
    fn substr_offsets() {
        assert_eq!(call("substr", vec![s("hello world"), n(1.0), n(4.0)]), s("ello"));
        assert_eq!(call("substr", vec![s("hello world"), n(-5.0), n(-1.0)]), s("world"));
        assert_eq!(call("substr", vec![s("héllo"), n(1.0), n(100.0)]), s("éllo"));
        assert_eq!(call("substr", vec![s("cafe\u{301}s"), n(3.0), n(1.0)]), s("e\u{301}"));
        assert_eq!(call("substr", vec![s("hello"), n(10.0), n(2.0)]), s(""));
        assert!(call_err("substr", vec![s("hello"), n(0.5), n(1.0)]).contains("whole number"));
    }

    #[test]
    fn regexes() {
        assert_eq!(call("regex", vec![s("[a-z]+"), s("53453453.345345aaabbbccc23454")]), s("aaabbbccc"));
        assert_eq!(
            call("regex", vec![s("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)"), s("2019-02-01")]),
            strs(&["2019", "02", "01"])
        );
        assert_eq!(
            call("regex", vec![s("^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?"), s("https://x.org/a")]),
            obj(vec![("authority", s("x.org")), ("scheme", s("https"))])
        );
        assert_eq!(
            call_err("regex", vec![s("[a-z]+"), s("123")]),
            "pattern did not match any part of the given string"
        );
        assert!(call_err("regex", vec![s("(?P<a>x)(y)"), s("xy")]).contains("can't mix"));
        assert!(call_err("regex", vec![s("("), s("x")]).starts_with("invalid regular expression pattern"));
        assert_eq!(call("regexall", vec![s("[a-z]+"), s("1234abcd5678efgh9")]), strs(&["abcd", "efgh"]));
        assert_eq!(call("regexall", vec![s("[a-z]+"), s("123")]), list(vec![]));
        assert!(call_err("regexall", vec![s("[a-"), s("x")]).starts_with("invalid regular expression"));
        assert_eq!(
            call("regex_replace", vec![s("hello world"), s("(\\w+) (\\w+)"), s("$2 $1")]),
            s("world hello")
        );
        assert!(call_err("regex_replace", vec![s("x"), s("(")  , s("y")]).starts_with("invalid regular"));
        assert_eq!(call("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]), s("1 - 2 - 3"));
        assert_eq!(call("replace", vec![s("hello world"), s("/w.*d/"), s("everybody")]), s("hello everybody"));
        assert!(call_err("replace", vec![s("x"), s("/(/"), s("y")]).starts_with("invalid regular"));
    }

    #[test]
    fn format_verbs() {
        assert_eq!(call("format", vec![s("Hello, %s!"), s("Ander")]), s("Hello, Ander!"));
        assert_eq!(call("format", vec![s("There are %d lights"), n(4.0)]), s("There are 4 lights"));
        assert_eq!(call("format", vec![s("%5.2f|%-4d|%04d"), n(1.23456), n(7.0), n(-7.0)]), s(" 1.23|7   |-007"));
        assert_eq!(call("format", vec![s("%q %t %v"), s("a\"b"), Value::Bool(true), n(1.5)]), s("\"a\\\"b\" true 1.5"));
        assert_eq!(call("format", vec![s("%#v %v"), s("x"), strs(&["a"])]), s("\"x\" [\"a\"]"));
        assert_eq!(call("format", vec![s("%x %X %o %b %e"), n(255.0), n(255.0), n(8.0), n(5.0), n(1234.5678)]), s("ff FF 10 101 1.234568e+03"));
        assert_eq!(call("format", vec![s("%[2]s %[1]s"), s("a"), s("b")]), s("b a"));
        assert_eq!(call("format", vec![s("%.3s%%"), s("abcdef")]), s("abc%"));
        assert_eq!(call("format", vec![s("%g %g"), n(0.5), n(1e21)]), s("0.5 1e+21"));
        assert_eq!(call("format", vec![s("%v|%s|%v"), n(1234567.0), n(1234567.0), n(-0.00001)]), s("1.234567e+06|1234567|-1e-05"));
        assert_eq!(
            call_err("format", vec![s("%d"), s("hello")]),
            "unsupported value for \"%d\" at 0: number required"
        );
        assert_eq!(
            call_err("format", vec![s("%s %s"), s("a")]),
            "not enough arguments for \"%s\" at 3: need index 2 but have 1 total"
        );
        assert_eq!(call_err("format", vec![s("%5%")]), "unrecognized format character '%' at offset 2");
        assert_eq!(call_err("format", vec![s("%z"), n(1.0)]), "unsupported format verb 'z' in \"%z\" at offset 0");
        assert_eq!(call_err("format", vec![s("%"), n(1.0)]), "invalid format string starting at offset 1");
        assert_eq!(call_err("format", vec![s("%[0]s"), s("a")]), "unrecognized format character '0' at offset 2");
        assert_eq!(
            call_err("format", vec![s("%[3]s"), s("a")]),
            "not enough arguments for \"%[3]s\" at 0: need index 3 but have 1 total"
        );
        assert_eq!(
            call_err("format", vec![s("%s"), s("a"), s("b")]),
            "invalid value for \"args\" parameter: too many arguments; only 1 used by format string"
        );
    }

    #[test]
    fn formatlist_walks_lists_in_step() {
        assert_eq!(
            call("formatlist", vec![s("Hello, %s!"), strs(&["Valentina", "Ander"])]),
            strs(&["Hello, Valentina!", "Hello, Ander!"])
        );
        assert_eq!(
            call("formatlist", vec![s("%s, %s!"), s("Salutations"), strs(&["A", "B"])]),
            strs(&["Salutations, A!", "Salutations, B!"])
        );
        assert_eq!(
            call_err("formatlist", vec![s("%s%s"), strs(&["a"]), strs(&["b", "c"])]),
            "invalid value for \"args\" parameter: argument 2 has length 2, which is inconsistent with argument 1 of length 1"
        );
    }
}
