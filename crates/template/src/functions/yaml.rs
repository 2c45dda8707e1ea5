//! YAML decoding as Packer's `yamldecode` does it (go-cty-yaml): YAML 1.1 resolution of plain
//! scalars (`yes`/`on` are true, `~` is null, `2001-12-14` is a timestamp string), quoted scalars
//! always strings, decimal numbers only unless tagged `!!int`, anchors and aliases, one document.

use std::collections::HashMap;

use hcl::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{num, str_arg};

const STR: &str = "!!str";
const BINARY: &str = "!!binary";
const BOOL: &str = "!!bool";
const INT: &str = "!!int";
const FLOAT: &str = "!!float";
const NULL: &str = "!!null";
const TIMESTAMP: &str = "!!timestamp";

#[derive(Default)]
struct Events(Vec<(Event, Marker)>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.0.push((ev, mark));
    }
}

fn at(mark: &Marker, what: impl std::fmt::Display) -> String {
    format!("on line {}, column {}: {what}", mark.line(), mark.col() + 1)
}

/// The long form of a core tag, as go-cty-yaml names it in errors.
fn long_tag(tag: &str) -> String {
    match tag.strip_prefix("!!") {
        Some(rest) => format!("tag:yaml.org,2002:{rest}"),
        None => tag.to_string(),
    }
}

/// The short form (`!!str`) of a tag, or the tag as written for non-core ones.
fn short_tag(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!!" | "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        handle => format!("{handle}{}", tag.suffix),
    }
}

pub(super) fn yamldecode(args: &[Value]) -> Result<Value, String> {
    let src = str_arg(args, 0, "src")?;
    let mut events = Events::default();
    Parser::new_from_str(&src)
        .load(&mut events, true)
        .map_err(|e| at(e.marker(), e.info()))?;
    let mut decoder = Decoder { events: &events.0, pos: 0, anchors: HashMap::new() };
    decoder.expect_start()
}

struct Decoder<'e> {
    events: &'e [(Event, Marker)],
    pos: usize,
    anchors: HashMap<usize, Value>,
}

impl Decoder<'_> {
    fn next(&mut self) -> Option<&(Event, Marker)> {
        let item = self.events.get(self.pos);
        self.pos += 1;
        item
    }

    fn end_of_document(&self) -> String {
        match self.events.last() {
            Some((_, mark)) => at(mark, "unexpected end of document"),
            None => "on line 1, column 1: unexpected end of document".to_string(),
        }
    }

    /// Stream start, one document, stream end.
    fn expect_start(&mut self) -> Result<Value, String> {
        let first_doc = self
            .events
            .iter()
            .position(|(e, _)| matches!(e, Event::DocumentStart));
        let Some(doc) = first_doc else {
            return Err("on line 1, column 1: missing start of document".to_string());
        };
        self.pos = doc + 1;
        let value = self.node()?;
        // after the document only its end and the stream end may follow
        while let Some((ev, mark)) = self.next() {
            match ev {
                Event::DocumentEnd | Event::StreamEnd => {}
                _ => return Err(at(mark, "unexpected extra content after value")),
            }
        }
        Ok(value)
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
    }

    fn node(&mut self) -> Result<Value, String> {
        let Some((ev, mark)) = self.next().cloned() else {
            return Err(self.end_of_document());
        };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.as_ref().map(short_tag);
                // go-cty-yaml reports scalar problems without a position
                let value = resolve(&text, style, tag.as_deref())?;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    if matches!(self.events.get(self.pos), Some((Event::SequenceEnd, _))) {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.node()?);
                }
                let value = Value::Array(items);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = hcl::Map::new();
                loop {
                    if matches!(self.events.get(self.pos), Some((Event::MappingEnd, _))) {
                        self.pos += 1;
                        break;
                    }
                    let key = match self.node()? {
                        Value::String(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => super::number_to_string(&n),
                        Value::Null => return Err("mapping key cannot be null".to_string()),
                        _ => return Err("only strings are allowed as mapping keys".to_string()),
                    };
                    let value = self.node()?;
                    map.insert(key, value);
                }
                map.sort_keys();
                let value = Value::Object(map);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(id) => self
                .anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| at(&mark, "unknown anchor referenced")),
            _ => Err(at(&mark, "unexpected content")),
        }
    }
}

/// A plain scalar's core-schema meaning, as go-cty-yaml's resolve table has it.
fn special(src: &str) -> Option<Result<Value, String>> {
    Some(Ok(match src {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" => {
            return Some(Err("floating point infinity is not supported".to_string()));
        }
        ".nan" | ".NaN" | ".NAN" => {
            return Some(Err("floating point NaN is not supported".to_string()));
        }
        _ => return None,
    }))
}

/// cty's decimal number syntax: optional sign, digits with an optional fraction, or a leading
/// `.`, and an optional exponent.
fn decimal(src: &str) -> Option<Value> {
    let body = src.strip_prefix(['+', '-']).unwrap_or(src);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || digits_ok(int))
                && (frac.is_empty() || digits_ok(frac))
                && !(int.is_empty() && frac.is_empty())
        }
        None => digits_ok(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits_ok(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    src.parse::<f64>().ok().and_then(|f| num(f).ok())
}

/// Go's `strconv.ParseInt(s, 0, 64)` prefixes (`0x`, `0o`, `0b`, a leading `0` for octal).
fn prefixed_int(plain: &str) -> Option<Value> {
    let (neg, body) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.strip_prefix('+').unwrap_or(plain)),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    if let Ok(i) = i64::try_from(v) {
        return Some(Value::Number(i.into()));
    }
    u64::try_from(v).ok().map(|u| Value::Number(u.into()))
}

/// The YAML timestamp forms go-cty-yaml accepts, as an RFC 3339 string (seconds precision).
fn timestamp(src: &str) -> Option<String> {
    let re = regex::Regex::new(
        r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$",
    )
    .ok()?;
    let caps = re.captures(src)?;
    let field = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u8>().ok());
    let year: i32 = caps.get(1)?.as_str().parse().ok()?;
    let month = time::Month::try_from(field(2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, field(3)?).ok()?;
    let (h, m, s, zone) = match (field(4), field(8)) {
        (Some(h), _) => (h, field(5)?, field(6)?, caps.get(7).map_or("Z", |z| z.as_str())),
        (None, Some(h)) => (h, field(9)?, field(10)?, "Z"),
        (None, None) => (0, 0, 0, "Z"),
    };
    let clock = time::Time::from_hms(h, m, s).ok()?;
    // Go prints a zero offset as Z
    let zone = if zone == "+00:00" || zone == "-00:00" { "Z" } else { zone };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second()
    ))
}

fn resolve(src: &str, style: TScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    let tag = match (tag, style) {
        (Some(t), _) => t,
        (None, TScalarStyle::Plain) => "",
        // quoted and block scalars are strings
        (None, _) => STR,
    };
    if ![
        "", STR, BINARY, BOOL, INT, FLOAT, NULL, TIMESTAMP,
    ]
    .contains(&tag)
    {
        return Err(format!("unsupported tag {tag:?}"));
    }
    let hint = src.bytes().next();
    let resolvable = match hint {
        None => true,
        Some(b) => b"+-0123456789yYnNtTfFoO~.".contains(&b),
    };
    let mut tag = tag;
    if resolvable && tag != STR && tag != BINARY {
        if let Some(v) = special(src) {
            return v;
        }
        match hint {
            Some(b'.') => {
                if let Some(v) = decimal(src) {
                    return Ok(v);
                }
            }
            Some(b'+' | b'-' | b'0'..=b'9') => {
                if tag.is_empty() || tag == TIMESTAMP {
                    if let Some(t) = timestamp(src) {
                        return Ok(Value::String(t));
                    }
                }
                let plain = src.replace('_', "");
                if let Some(v) = decimal(&plain) {
                    return Ok(v);
                }
                if plain.starts_with("0b") || plain.starts_with("-0b") {
                    tag = INT;
                }
            }
            _ => {}
        }
    }
    match tag {
        STR => Ok(Value::String(src.to_string())),
        BINARY => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(src.split_whitespace().collect::<String>())
                .map(|_| Value::String(src.to_string()))
                .map_err(|_| format!("cannot parse {src:?} as {}: not valid base64", long_tag(tag)))
        }
        BOOL => match special(src) {
            Some(Ok(v @ Value::Bool(_))) => Ok(v),
            _ => Err(format!("cannot parse {src:?} as {}", long_tag(tag))),
        },
        INT | FLOAT => {
            let plain = src.replace('_', "");
            decimal(&plain)
                .or_else(|| prefixed_int(&plain))
                .ok_or_else(|| format!("cannot parse {src:?} as {}", long_tag(tag)))
        }
        TIMESTAMP => timestamp(src)
            .map(Value::String)
            .ok_or_else(|| format!("cannot parse {src:?} as {}", long_tag(tag))),
        NULL => Ok(Value::Null),
        _ => Ok(Value::String(src.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(
            call("yamldecode", vec![s("a: yes\nb: 'yes'\nc: ~\nd: 0x10\ne: 1_000\nf: .5\ng: 010\nh: off\n")]),
            obj(vec![
                ("a", Value::Bool(true)),
                ("b", s("yes")),
                ("c", Value::Null),
                ("d", s("0x10")),
                ("e", n(1000.0)),
                ("f", n(0.5)),
                ("g", n(10.0)),
                ("h", Value::Bool(false)),
            ])
        );
        assert_eq!(call("yamldecode", vec![s("on: 1")]), obj(vec![("true", n(1.0))]));
        assert_eq!(call("yamldecode", vec![s("!!int 0x10")]), n(16.0));
        assert_eq!(call("yamldecode", vec![s("!!int 0b101")]), n(5.0));
        assert_eq!(call("yamldecode", vec![s("!!str 123")]), s("123"));
        assert_eq!(call("yamldecode", vec![s("2001-12-14")]), s("2001-12-14T00:00:00Z"));
        assert_eq!(call("yamldecode", vec![s("2001-12-14t21:59:43.10+05:00")]), s("2001-12-14T21:59:43+05:00"));
        assert_eq!(call("yamldecode", vec![s("\"2001-12-14\"")]), s("2001-12-14"));
        assert_eq!(call_err("yamldecode", vec![s(".nan")]), "floating point NaN is not supported");
        assert_eq!(
            call_err("yamldecode", vec![s("!!bool maybe")]),
            "cannot parse \"maybe\" as tag:yaml.org,2002:bool"
        );
        assert_eq!(call_err("yamldecode", vec![s("!custom x")]), "unsupported tag \"!custom\"");
        assert_eq!(call_err("yamldecode", vec![s("~: a")]), "mapping key cannot be null");
        assert_eq!(call_err("yamldecode", vec![s("? [1]\n: x\n")]), "only strings are allowed as mapping keys");
    }

    #[test]
    fn yaml_structure() {
        assert_eq!(
            call("yamldecode", vec![s("base: &b {x: 1}\nother: *b\nlist:\n  - |\n    text\n  - [1, two]\n")]),
            obj(vec![
                ("base", obj(vec![("x", n(1.0))])),
                ("other", obj(vec![("x", n(1.0))])),
                ("list", list(vec![s("text\n"), list(vec![n(1.0), s("two")])])),
            ])
        );
        assert_eq!(call("yamldecode", vec![s("---\n- a\n...\n")]), strs(&["a"]));
        assert_eq!(
            call_err("yamldecode", vec![s("a: b\n---\nc: d\n")]),
            "on line 2, column 1: unexpected extra content after value"
        );
        assert_eq!(call_err("yamldecode", vec![s("")]), "on line 1, column 1: missing start of document");
        assert!(call_err("yamldecode", vec![s("a: [1, 2")]).starts_with("on line "));
    }
}
