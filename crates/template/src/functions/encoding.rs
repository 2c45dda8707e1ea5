//! Encoding functions: base64, gzip, CSV, JSON, YAML output, URL query escaping and text
//! encodings. YAML input is in `yaml.rs`.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hcl::Value;

use super::{num, number_to_string, str_arg};

pub(super) fn base64encode(args: &[Value]) -> Result<Value, String> {
    Ok(Value::String(STANDARD.encode(str_arg(args, 0, "str")?)))
}

pub(super) fn base64decode(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    // Go's decoder skips line breaks
    let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let bytes = STANDARD
        .decode(&compact)
        .map_err(|_| format!("failed to decode base64 data '{s}'"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the result of decoding the provided string is not valid UTF-8".to_string())
}

pub(super) fn base64gzip(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(s.as_bytes())
        .map_err(|e| format!("failed to compress data: {e}"))?;
    let bytes = gz.finish().map_err(|e| format!("failed to compress data: {e}"))?;
    Ok(Value::String(STANDARD.encode(bytes)))
}

/// Go's `url.QueryEscape`: unreserved characters stay, space becomes `+`, the rest `%XX`.
pub(super) fn urlencode(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

// ---- JSON ----------------------------------------------------------------------------------------

fn json_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go's encoder escapes HTML-significant characters and the JS line separators
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_to_string(n)),
        Value::String(s) => json_quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_quote(k, out);
                out.push(':');
                json_write(v, out);
            }
            out.push('}');
        }
    }
}

/// Compact JSON with object keys sorted, as cty encodes objects.
pub(crate) fn json_string(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    json_write(v, &mut out);
    Ok(out)
}

pub(super) fn jsonencode(args: &[Value]) -> Result<Value, String> {
    json_string(&args[0]).map(Value::String)
}

fn from_json(v: serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Number(i.into()),
            (_, Some(u), _) => Value::Number(u.into()),
            (_, _, Some(f)) => num(f)?,
            _ => return Err(format!("unsupported number {n}")),
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => {
            Value::Array(a.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(o) => {
            let mut map = hcl::Map::new();
            for (k, v) in o {
                map.insert(k, from_json(v)?);
            }
            map.sort_keys();
            Value::Object(map)
        }
    })
}

pub(super) fn jsondecode(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let v: serde_json::Value = serde_json::from_str(&s).map_err(|e| {
        // the texts of Go's decoder for the two cases templates hit most
        if e.is_eof() {
            "EOF".to_string()
        } else if e.to_string().starts_with("trailing characters") {
            "extraneous data after JSON object".to_string()
        } else {
            format!("invalid json: {e}")
        }
    })?;
    from_json(v)
}

// ---- CSV -----------------------------------------------------------------------------------------

/// Parses CSV the way Go's `encoding/csv` does by default: RFC 4180 quoting, `\r\n` read as
/// `\n`, blank lines skipped, and every record as wide as the first.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.replace("\r\n", "\n");
    let chars: Vec<char> = text.chars().collect();
    let mut records = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let mut width: Option<usize> = None;
    while i < chars.len() {
        if chars[i] == '\n' {
            // blank line
            i += 1;
            line += 1;
            continue;
        }
        let record_line = line;
        let mut line_start = i;
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if chars.get(i) == Some(&'"') {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "parse error on line {line}, column {}: extraneous or missing \" in quoted-field",
                                i - line_start + 1
                            ));
                        }
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            field.push('"');
                            i += 2;
                        }
                        Some('"') => {
                            if !matches!(chars.get(i + 1), None | Some(',') | Some('\n')) {
                                return Err(format!(
                                    "parse error on line {line}, column {}: extraneous or missing \" in quoted-field",
                                    i - line_start + 1
                                ));
                            }
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            // a final newline leaves the position on its line, as Go reports it
                            if *c == '\n' && i + 1 < chars.len() {
                                line += 1;
                                line_start = i + 1;
                            }
                            field.push(*c);
                            i += 1;
                        }
                    }
                }
            } else {
                while let Some(c) = chars.get(i) {
                    match c {
                        ',' | '\n' => break,
                        '"' => {
                            return Err(format!(
                                "parse error on line {line}, column {}: bare \" in non-quoted-field",
                                i - line_start + 1
                            ));
                        }
                        c => field.push(*c),
                    }
                    i += 1;
                }
            }
            fields.push(field);
            match chars.get(i) {
                Some(',') => i += 1,
                Some('\n') => {
                    i += 1;
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        match width {
            None => width = Some(fields.len()),
            Some(w) if w != fields.len() => {
                return Err(format!("record on line {record_line}: wrong number of fields"));
            }
            _ => {}
        }
        records.push(fields);
    }
    Ok(records)
}

/// `csvdecode(str)`: the first line names the columns; every other line becomes an object.
pub(super) fn csvdecode(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let mut records = parse_csv(&s)?.into_iter();
    let names = records.next().ok_or_else(|| "missing header line".to_string())?;
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(format!("duplicate column name {name:?}"));
        }
    }
    let rows = records
        .map(|record| {
            let mut row: hcl::Map<String, Value> = names
                .iter()
                .cloned()
                .zip(record.into_iter().map(Value::String))
                .collect();
            row.sort_keys();
            Value::Object(row)
        })
        .collect();
    Ok(Value::Array(rows))
}

// ---- YAML ----------------------------------------------------------------------------------------

/// A scalar as it follows `key: ` or `- ` on a line indented by `indent`; strings with line
/// breaks become literal blocks (`|-`, `|`, `|+` by their trailing newlines) as go-yaml writes them.
fn yaml_scalar(v: &Value, indent: usize) -> Option<String> {
    match v {
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(number_to_string(n)),
        Value::String(s) if s.contains('\n') && !s.starts_with(' ') => {
            let (body, chomp) = match s.strip_suffix('\n') {
                Some(rest) if rest.ends_with('\n') => (rest, "+"),
                Some(rest) => (rest, ""),
                None => (s.as_str(), "-"),
            };
            let pad = " ".repeat(indent + 2);
            let mut out = format!("|{chomp}");
            for line in body.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
            }
            Some(out)
        }
        Value::String(s) => {
            let mut out = String::new();
            json_quote(s, &mut out);
            Some(out)
        }
        Value::Array(a) if a.is_empty() => Some("[]".to_string()),
        Value::Object(o) if o.is_empty() => Some("{}".to_string()),
        _ => None,
    }
}

/// Block-style YAML as Terraform's `yamlencode` writes it: keys and strings double-quoted, keys
/// sorted, list items at the indentation of their parent key.
fn yaml_block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Array(items) => {
            for item in items {
                match yaml_scalar(item, indent) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        let mut inner = String::new();
                        yaml_block(item, indent + 2, &mut inner);
                        // the first line of the nested block goes right after the dash
                        let trimmed = inner.get(indent + 2..).unwrap_or("");
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                }
            }
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in entries {
                let mut key = String::new();
                json_quote(k, &mut key);
                match yaml_scalar(v, indent) {
                    Some(s) => out.push_str(&format!("{pad}{key}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        let child = if v.is_array() { indent } else { indent + 2 };
                        yaml_block(v, child, out);
                    }
                }
            }
        }
        scalar => {
            if let Some(s) = yaml_scalar(scalar, indent) {
                out.push_str(&format!("{pad}{s}\n"));
            }
        }
    }
}

pub(super) fn yamlencode(args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    match &args[0] {
        // go-yaml ends a document made of one plain scalar with an explicit end marker
        v @ (Value::Null | Value::Bool(_) | Value::Number(_)) => {
            out = format!("{}\n...\n", yaml_scalar(v, 0).unwrap_or_default());
        }
        v => match yaml_scalar(v, 0) {
            Some(s) => out = format!("{s}\n"),
            None => yaml_block(v, 0, &mut out),
        },
    }
    Ok(Value::String(out))
}

// ---- text encodings ------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// big endian with a byte order mark, as Go's IANA "UTF-16"
    Utf16Bom,
    Latin1,
    Ascii,
}

fn text_encoding(name: &str) -> Result<TextEncoding, String> {
    let canon = name.to_ascii_lowercase().replace('_', "-");
    Ok(match canon.as_str() {
        "utf-8" | "utf8" | "csutf8" => TextEncoding::Utf8,
        "utf-16le" | "csutf16le" => TextEncoding::Utf16Le,
        "utf-16be" | "csutf16be" => TextEncoding::Utf16Be,
        "utf-16" | "csutf16" => TextEncoding::Utf16Bom,
        "iso-8859-1" | "iso8859-1" | "latin1" | "l1" | "iso-ir-100" | "cp819" | "csisolatin1" => {
            TextEncoding::Latin1
        }
        "us-ascii" | "ascii" | "iso646-us" | "csascii" => TextEncoding::Ascii,
        _ => {
            return Err(format!(
                "{name:?} is not a supported IANA encoding name or alias (supported: UTF-8, UTF-16, UTF-16LE, UTF-16BE, ISO-8859-1, US-ASCII)"
            ));
        }
    })
}

pub(super) fn textencodebase64(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "string")?;
    let name = str_arg(args, 1, "encoding")?;
    let enc = text_encoding(&name)?;
    let unrepresentable =
        || format!("the given string contains characters that cannot be represented in {name}");
    let bytes: Vec<u8> = match enc {
        TextEncoding::Utf8 => s.into_bytes(),
        TextEncoding::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Utf16Bom => [0xFE, 0xFF]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_be_bytes))
            .collect(),
        TextEncoding::Latin1 | TextEncoding::Ascii => {
            let limit = if matches!(enc, TextEncoding::Latin1) { 0xFF } else { 0x7F };
            s.chars()
                .map(|c| u8::try_from(c as u32).ok().filter(|b| u32::from(*b) <= limit))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(unrepresentable)?
        }
    };
    Ok(Value::String(STANDARD.encode(bytes)))
}

pub(super) fn textdecodebase64(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "source")?;
    let name = str_arg(args, 1, "encoding")?;
    let enc = text_encoding(&name)?;
    let bytes = STANDARD
        .decode(&s)
        .map_err(|_| format!("the given value is has an invalid base64 symbol: {s:?}"))?;
    let invalid = || format!("the given string contains symbols that are not defined for {name}");
    let utf16 = |be: bool, data: &[u8]| -> Result<String, String> {
        if data.len() % 2 != 0 {
            return Err(invalid());
        }
        let units: Vec<u16> = data
            .chunks(2)
            .map(|c| if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16(&units).map_err(|_| invalid())
    };
    let text = match enc {
        TextEncoding::Utf8 => String::from_utf8(bytes).map_err(|_| invalid())?,
        TextEncoding::Utf16Le => utf16(false, &bytes)?,
        TextEncoding::Utf16Be => utf16(true, &bytes)?,
        TextEncoding::Utf16Bom => match bytes.as_slice() {
            [0xFF, 0xFE, rest @ ..] => utf16(false, rest)?,
            [0xFE, 0xFF, rest @ ..] => utf16(true, rest)?,
            rest => utf16(true, rest)?,
        },
        TextEncoding::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
        TextEncoding::Ascii => {
            if bytes.iter().any(|b| *b > 0x7F) {
                return Err(invalid());
            }
            bytes.iter().map(|b| char::from(*b)).collect()
        }
    };
    Ok(Value::String(text))
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub(super) fn urldecode(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map(Value::String)
        .map_err(|_| "the decoded string is not valid UTF-8".to_string())
}

/// Packer's `yaml2json(str)`: one YAML document as compact JSON.
pub(super) fn yaml2json(args: &[Value]) -> Result<Value, String> {
    let decoded = super::yaml::yamldecode(args)?;
    json_string(&decoded).map(Value::String)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;
    use std::io::Read;

    #[test]
    fn base64_family() {
        assert_eq!(call("base64encode", vec![s("Hello World")]), s("SGVsbG8gV29ybGQ="));
        assert!(call_err("base64encode", vec![list(vec![])]).contains("string required"));
        assert_eq!(call("base64decode", vec![s("SGVsbG8gV29ybGQ=")]), s("Hello World"));
        assert_eq!(call_err("base64decode", vec![s("no!")]), "failed to decode base64 data 'no!'");
        assert_eq!(call("base64decode", vec![s("SGVs\nbG8=\r\n")]), s("Hello"));
        assert_eq!(
            call_err("base64decode", vec![s("/w==")]),
            "the result of decoding the provided string is not valid UTF-8"
        );
        let Value::String(gz) = call("base64gzip", vec![s("test")]) else { panic!("string expected") };
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, gz).unwrap();
        assert_eq!(&bytes[..3], &[0x1f, 0x8b, 0x08]);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text, "test");
        assert!(call_err("base64gzip", vec![Value::Null]).contains("null"));
    }

    #[test]
    fn url_encoding() {
        assert_eq!(call("urlencode", vec![s("Hello World!")]), s("Hello+World%21"));
        assert_eq!(call("urlencode", vec![s("a/b?c=d&é")]), s("a%2Fb%3Fc%3Dd%26%C3%A9"));
        assert!(call_err("urlencode", vec![obj(vec![])]).contains("string required"));
        assert_eq!(call("urldecode", vec![s("Hello+World%21%C3%A9")]), s("Hello World!é"));
        assert_eq!(call_err("urldecode", vec![s("a%zz")]), "invalid URL escape \"%zz\"");
    }

    #[test]
    fn json_round_trip() {
        let v = obj(vec![
            ("z", list(vec![n(1.0), n(2.5), Value::Bool(true), Value::Null])),
            ("a", s("<b>&")),
        ]);
        let text = call("jsonencode", vec![v.clone()]);
        assert_eq!(text, s(r#"{"a":"\u003cb\u003e\u0026","z":[1,2.5,true,null]}"#));
        assert_eq!(call("jsondecode", vec![text]), v);
        assert_eq!(call("jsondecode", vec![s("\"x\"")]), s("x"));
        assert_eq!(call_err("jsondecode", vec![s("{")]), "EOF");
        assert_eq!(call_err("jsondecode", vec![s("{} x")]), "extraneous data after JSON object");
        assert!(call_err("jsondecode", vec![s("{x}")]).starts_with("invalid json"));
        assert!(call_err("jsonencode", vec![]).contains("expects 1 argument"));
    }

    #[test]
    fn csv_rows_become_objects() {
        assert_eq!(
            call("csvdecode", vec![s("a,b,c\n1,2,3\n4,5,6\n")]),
            list(vec![
                obj(vec![("a", s("1")), ("b", s("2")), ("c", s("3"))]),
                obj(vec![("a", s("4")), ("b", s("5")), ("c", s("6"))]),
            ])
        );
        assert_eq!(call_err("csvdecode", vec![s("")]), "missing header line");
        assert_eq!(
            call("csvdecode", vec![s("a,b\r\n\r\n1,\"x,\"\"y\"\"\nz\"\r\n")]),
            list(vec![obj(vec![("a", s("1")), ("b", s("x,\"y\"\nz"))])])
        );
        assert_eq!(call_err("csvdecode", vec![s("a,b\n1,2,3\n")]), "record on line 2: wrong number of fields");
        assert_eq!(
            call_err("csvdecode", vec![s("a\nx\"y\n")]),
            "parse error on line 2, column 2: bare \" in non-quoted-field"
        );
        assert_eq!(
            call_err("csvdecode", vec![s("a\n\"x\"y\n")]),
            "parse error on line 2, column 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(call_err("csvdecode", vec![s("a,a\n1,2")]), "duplicate column name \"a\"");
        assert_eq!(
            call_err("csvdecode", vec![s("a\n\"unterminated\n")]),
            "parse error on line 2, column 15: extraneous or missing \" in quoted-field"
        );
    }

    #[test]
    fn yaml_both_ways() {
        let v = obj(vec![
            ("b", s("baz")),
            ("a", list(vec![n(1.0), obj(vec![("k", Value::Bool(true)), ("j", list(vec![]))])])),
            ("m", obj(vec![("x", s("y"))])),
        ]);
        let text = call("yamlencode", vec![v.clone()]);
        assert_eq!(
            text,
            s("\"a\":\n- 1\n- \"j\": []\n  \"k\": true\n\"b\": \"baz\"\n\"m\":\n  \"x\": \"y\"\n")
        );
        assert_eq!(call("yamldecode", vec![text]), v);
        assert_eq!(call("yamlencode", vec![s("multi\nline")]), s("|-\n  multi\n  line\n"));
        let nested = obj(vec![("k", obj(vec![("t", s("a\n\nb\n"))]))]);
        let text = call("yamlencode", vec![nested.clone()]);
        assert_eq!(text, s("\"k\":\n  \"t\": |\n    a\n\n    b\n"));
        assert_eq!(call("yamldecode", vec![text]), nested);
        assert_eq!(call("yamldecode", vec![s("- a\n- 2\n")]), list(vec![s("a"), n(2.0)]));
        assert!(call_err("yamldecode", vec![s("a: [")]).starts_with("on line"));
        assert_eq!(call_err("yamldecode", vec![s("# only a comment\n")]), "on line 1, column 1: missing start of document");
        assert_eq!(call("yamlencode", vec![n(1.5)]), s("1.5\n...\n"));
        assert_eq!(call("yamlencode", vec![list(vec![])]), s("[]\n"));
        assert_eq!(call("yamlencode", vec![s("x")]), s("\"x\"\n"));
        assert!(call_err("yamlencode", vec![]).contains("expects 1"));
        assert_eq!(call("yaml2json", vec![s("b: [1, x]\na: {c: true}\n")]), s(r#"{"a":{"c":true},"b":[1,"x"]}"#));
        assert!(call_err("yaml2json", vec![s("[")]).starts_with("on line"));
    }

    #[test]
    fn text_encodings() {
        assert_eq!(call("textencodebase64", vec![s("Hello World"), s("UTF-16LE")]), s("SABlAGwAbABvACAAVwBvAHIAbABkAA=="));
        assert_eq!(call("textencodebase64", vec![s("é"), s("ISO-8859-1")]), s("6Q=="));
        assert!(call_err("textencodebase64", vec![s("x"), s("klingon")]).contains("not a supported IANA encoding"));
        assert!(call_err("textencodebase64", vec![s("é"), s("US-ASCII")]).contains("cannot be represented"));
        assert_eq!(call("textdecodebase64", vec![s("SABlAGwAbABvACAAVwBvAHIAbABkAA=="), s("UTF-16LE")]), s("Hello World"));
        assert_eq!(call("textdecodebase64", vec![s("6Q=="), s("latin1")]), s("é"));
        assert!(call_err("textdecodebase64", vec![s("6Q=="), s("UTF-8")]).contains("not defined for UTF-8"));
    }
}
