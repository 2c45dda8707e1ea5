//! Date and time functions. `timestamp`, `legacy_isotime` and `legacy_strftime` all read one
//! instant taken the first time any of them runs, so a build sees a single "now", as Packer's
//! init time.

use std::sync::OnceLock;

use hcl::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::str_arg;

static NOW: OnceLock<OffsetDateTime> = OnceLock::new();

fn now() -> OffsetDateTime {
    *NOW.get_or_init(|| {
        let t = OffsetDateTime::now_utc();
        // whole seconds, as Terraform's timestamp() shows them
        t.replace_nanosecond(0).unwrap_or(t)
    })
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    // the time crate also takes `t`, `z` and a space; cty and Go insist on `T` and `Z`
    if s.as_bytes().get(10) != Some(&b'T') {
        return Err("not a valid RFC3339 timestamp: missing required time introducer 'T'".to_string());
    }
    if s.ends_with('z') {
        return Err(format!("not a valid RFC3339 timestamp: {s:?}: the zone must be Z or an offset"));
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("not a valid RFC3339 timestamp: {s:?}: {e}"))
}

fn offset_text(off: UtcOffset, colon: bool, z_for_utc: bool) -> String {
    if z_for_utc && off.is_utc() {
        return "Z".to_string();
    }
    let secs = off.whole_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, (secs.abs() % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Go's `time.RFC3339` layout: seconds precision, `Z` for UTC.
fn rfc3339(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        offset_text(t.offset(), true, true)
    )
}

pub(super) fn timestamp(_args: &[Value]) -> Result<Value, String> {
    Ok(Value::String(rfc3339(now())))
}

fn hour12(h: u8) -> u8 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

/// `formatdate(spec, timestamp)` with Terraform's format letters and `'literal'` quoting.
pub(super) fn formatdate(args: &[Value]) -> Result<Value, String> {
    let spec = str_arg(args, 0, "format")?;
    let t = parse_rfc3339(&str_arg(args, 1, "time")?)
        .map_err(|e| format!("invalid value for \"time\" parameter: {e}"))?;
    formatdate_spec(&spec, t).map_err(|e| format!("invalid value for \"format\" parameter: {e}"))
}

fn formatdate_spec(spec: &str, t: OffsetDateTime) -> Result<Value, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // quoted literal; '' inside or outside quotes is one quote
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated literal '".to_string()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        out.push(*ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let tok: String = chars[i..j].iter().collect();
        i = j;
        let month = t.month();
        let bad = |what: &str| format!("invalid date format verb {tok:?}: {what}");
        let piece = match tok.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year().rem_euclid(100)),
            "MMMM" => month.to_string(),
            "MMM" => month.to_string()[..3].to_string(),
            "MM" => format!("{:02}", u8::from(month)),
            "M" => u8::from(month).to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => t.weekday().to_string(),
            "EEE" => t.weekday().to_string()[..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{:02}", hour12(t.hour())),
            "H" => hour12(t.hour()).to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => offset_text(t.offset(), true, false),
            "ZZZZ" => offset_text(t.offset(), false, false),
            "ZZZ" if t.offset().is_utc() => "UTC".to_string(),
            "ZZZ" => offset_text(t.offset(), false, false),
            "Z" => offset_text(t.offset(), true, true),
            _ => match c {
                'Y' => return Err(bad("year must either be \"YY\" or \"YYYY\"")),
                'M' => return Err(bad("month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"")),
                'D' => return Err(bad("day of month must either be \"D\" or \"DD\"")),
                'E' => return Err(bad("day of week must either be \"EEE\" or \"EEEE\"")),
                'h' | 'H' => return Err(bad("hour must either be one or two letters")),
                'A' | 'a' => return Err(bad("am/pm must be \"AA\" or \"aa\"")),
                'm' => return Err(bad("minute must either be \"m\" or \"mm\"")),
                's' => return Err(bad("second must either be \"s\" or \"ss\"")),
                'Z' => return Err(bad("timezone must be Z, ZZZZ, or ZZZZZ")),
                _ => return Err(format!("invalid date format verb {tok:?}")),
            },
        };
        out.push_str(&piece);
    }
    Ok(Value::String(out))
}

/// Go's `time.ParseDuration`: an optional sign then number+unit pairs (`ns us µs ms s m h`),
/// with Go's error wording.
fn parse_go_duration(s: &str) -> Result<Duration, String> {
    use crate::duration::{DurationError, unsigned_nanos};
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let nanos = unsigned_nanos(rest).map_err(|e| match e {
        DurationError::NotANumber(_) => format!("time: invalid duration {s:?}"),
        DurationError::MissingUnit(_) => format!("time: missing unit in duration {s:?}"),
        DurationError::UnknownUnit(unit) => format!("time: unknown unit {unit:?} in duration {s:?}"),
    })?;
    let nanos = if neg { -nanos } else { nanos };
    // Saturates on overflow, where Go reports an invalid duration; no template gets near 292 years.
    Ok(Duration::nanoseconds(nanos as i64))
}

pub(super) fn timeadd(args: &[Value]) -> Result<Value, String> {
    let t = parse_rfc3339(&str_arg(args, 0, "timestamp")?)?;
    let d = parse_go_duration(&str_arg(args, 1, "duration")?)?;
    let sum = t
        .checked_add(d)
        .ok_or_else(|| "the resulting time is out of range".to_string())?;
    Ok(Value::String(rfc3339(sum)))
}

/// `timecmp(a, b)`: -1, 0 or 1 as timestamp `a` is before, equal to or after `b`.
pub(super) fn timecmp(args: &[Value]) -> Result<Value, String> {
    let a = parse_rfc3339(&str_arg(args, 0, "timestamp_a")?)?;
    let b = parse_rfc3339(&str_arg(args, 1, "timestamp_b")?)?;
    Ok(super::int(match a.cmp(&b) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }))
}

/// The parts of a time both parse functions return, named as Packer names them.
fn time_parts(t: OffsetDateTime) -> hcl::Map<String, Value> {
    let (iso_year, iso_week, _) = t.to_iso_week_date();
    let int = |i: i64| Value::Number(i.into());
    let mut parts = hcl::Map::new();
    parts.insert("year".to_string(), int(i64::from(t.year())));
    parts.insert("year_day".to_string(), int(i64::from(t.ordinal())));
    parts.insert("day".to_string(), int(i64::from(t.day())));
    parts.insert("month".to_string(), int(i64::from(u8::from(t.month()))));
    parts.insert("month_name".to_string(), Value::String(t.month().to_string()));
    parts.insert("weekday".to_string(), int(i64::from(t.weekday().number_days_from_sunday())));
    parts.insert("weekday_name".to_string(), Value::String(t.weekday().to_string()));
    parts.insert("hour".to_string(), int(i64::from(t.hour())));
    parts.insert("minute".to_string(), int(i64::from(t.minute())));
    parts.insert("second".to_string(), int(i64::from(t.second())));
    parts.insert("iso_year".to_string(), int(i64::from(iso_year)));
    parts.insert("iso_week".to_string(), int(i64::from(iso_week)));
    parts
}

/// `rfc3339_parse(timestamp)`: the parts of an RFC 3339 time (in its own offset) and its Unix
/// seconds. As in Packer, a space may stand for the `T` and fractional seconds are optional.
pub(super) fn rfc3339_parse(args: &[Value]) -> Result<Value, String> {
    let ts = str_arg(args, 0, "timestamp")?;
    let normalized = match ts.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &ts[..10], &ts[11..]),
        _ => ts.clone(),
    };
    let t = parse_rfc3339(&normalized).map_err(|_| {
        format!("invalid value for \"timestamp\" parameter: {ts:?} is not a valid RFC3339 timestamp")
    })?;
    let mut parts = time_parts(t);
    parts.insert("unix".to_string(), Value::Number(t.unix_timestamp().into()));
    parts.sort_keys();
    Ok(Value::Object(parts))
}

/// `unix_timestamp_parse(seconds)`: the parts of a Unix time in UTC and its RFC 3339 form.
pub(super) fn unix_timestamp_parse(args: &[Value]) -> Result<Value, String> {
    let secs = super::int_arg(args, 0, "unix_timestamp").map_err(|e| {
        format!("invalid value for \"unix_timestamp\" parameter: unix_timestamp must be a whole number of seconds representable as a 64-bit integer: {e}")
    })?;
    let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| {
        format!("invalid value for \"unix_timestamp\" parameter: {secs} is outside the years -9999 to 9999")
    })?;
    let mut parts = time_parts(t);
    parts.insert("rfc3339".to_string(), Value::String(rfc3339(t)));
    parts.sort_keys();
    Ok(Value::Object(parts))
}

/// Formats with a Go reference-time layout (`2006-01-02T15:04:05Z07:00`).
pub(crate) fn go_layout(t: OffsetDateTime, layout: &str) -> String {
    // longest tokens first, as Go's nextStdChunk matches them
    const TOKENS: &[&str] = &[
        "January", "Monday", "Z07:00:00", "-07:00:00", "Z07:00", "-07:00", "Z0700", "-0700",
        "2006", ".000000000", ".999999999", ".000000", ".999999", ".000", ".999", "Jan", "Mon",
        "MST", "002", "Z07", "-07", "_2", "01", "02", "03", "04", "05", "06", "15", "PM", "pm",
        "1", "2", "3", "4", "5",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(after) = rest.strip_prefix(tok) {
                let off = t.offset();
                let frac = |digits: usize, trim: bool| {
                    let s = format!("{:09}", t.nanosecond());
                    let s = &s[..digits];
                    let s = if trim { s.trim_end_matches('0') } else { s };
                    if s.is_empty() { String::new() } else { format!(".{s}") }
                };
                let piece = match *tok {
                    "January" => t.month().to_string(),
                    "Monday" => t.weekday().to_string(),
                    "Jan" => t.month().to_string()[..3].to_string(),
                    "Mon" => t.weekday().to_string()[..3].to_string(),
                    "MST" if off.is_utc() => "UTC".to_string(),
                    "MST" => offset_text(off, false, false),
                    "Z07:00:00" | "Z07:00" => offset_text(off, true, true),
                    "-07:00:00" | "-07:00" => offset_text(off, true, false),
                    "Z0700" => offset_text(off, false, true),
                    "-0700" => offset_text(off, false, false),
                    "Z07" if off.is_utc() => "Z".to_string(),
                    "Z07" | "-07" => offset_text(off, false, false)[..3].to_string(),
                    "2006" => format!("{:04}", t.year()),
                    "06" => format!("{:02}", t.year().rem_euclid(100)),
                    "01" => format!("{:02}", u8::from(t.month())),
                    "1" => u8::from(t.month()).to_string(),
                    "002" => format!("{:03}", t.ordinal()),
                    "02" => format!("{:02}", t.day()),
                    "_2" => format!("{:>2}", t.day()),
                    "2" => t.day().to_string(),
                    "15" => format!("{:02}", t.hour()),
                    "03" => format!("{:02}", hour12(t.hour())),
                    "3" => hour12(t.hour()).to_string(),
                    "04" => format!("{:02}", t.minute()),
                    "4" => t.minute().to_string(),
                    "05" => format!("{:02}", t.second()),
                    "5" => t.second().to_string(),
                    "PM" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
                    "pm" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
                    ".000000000" => frac(9, false),
                    ".999999999" => frac(9, true),
                    ".000000" => frac(6, false),
                    ".999999" => frac(6, true),
                    ".000" => frac(3, false),
                    ".999" => frac(3, true),
                    other => other.to_string(),
                };
                out.push_str(&piece);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Packer's `legacy_isotime([layout])`: the build's start time in UTC with a Go layout; without
/// a layout, RFC 3339.
pub(super) fn legacy_isotime(args: &[Value]) -> Result<Value, String> {
    if args.is_empty() {
        return Ok(Value::String(rfc3339(now())));
    }
    let layout = str_arg(args, 0, "format")?;
    Ok(Value::String(go_layout(now(), &layout)))
}

/// The `strftime` of `github.com/jehiah/go-strftime`, which Packer's `legacy_strftime` uses:
/// `%a %A %b %B %d %H %I %m %M %p %S %y %Y %z %Z %%`; any other conversion and a lone final `%`
/// are copied as they are.
pub(crate) fn strftime(t: OffsetDateTime, fmt: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push('%');
            break;
        };
        let layout = match verb {
            'B' => "January",
            'b' => "Jan",
            'm' => "01",
            'A' => "Monday",
            'a' => "Mon",
            'd' => "02",
            'H' => "15",
            'I' => "03",
            'M' => "04",
            'S' => "05",
            'Y' => "2006",
            'y' => "06",
            'p' => "PM",
            'Z' => "MST",
            'z' => "-0700",
            '%' => {
                out.push('%');
                continue;
            }
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        out.push_str(&go_layout(t, layout));
    }
    out
}

/// Packer's `legacy_strftime(format)`: the build's start time in UTC with C strftime verbs.
pub(super) fn legacy_strftime(args: &[Value]) -> Result<Value, String> {
    let fmt = str_arg(args, 0, "format")?;
    Ok(Value::String(strftime(now(), &fmt)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn timestamp_is_fixed_rfc3339() {
        let a = call("timestamp", vec![]);
        let Value::String(text) = &a else { panic!("string") };
        assert!(parse_rfc3339(text).is_ok(), "{text}");
        assert!(text.ends_with('Z'));
        assert_eq!(call("timestamp", vec![]), a);
        assert!(call_err("timestamp", vec![s("x")]).contains("expects 0 arguments"));
    }

    #[test]
    fn formatdate_letters_and_literals() {
        let ts = s("2018-01-02T23:12:01Z");
        assert_eq!(call("formatdate", vec![s("DD MMM YYYY hh:mm ZZZ"), ts.clone()]), s("02 Jan 2018 23:12 UTC"));
        assert_eq!(call("formatdate", vec![s("EEEE, DD-MMM-YY hh:mm:ss ZZZ"), ts.clone()]), s("Tuesday, 02-Jan-18 23:12:01 UTC"));
        assert_eq!(call("formatdate", vec![s("EEE, DD MMM YYYY hh:mm:ss ZZZ"), s("2018-01-02T23:12:01-08:00")]), s("Tue, 02 Jan 2018 23:12:01 -0800"));
        assert_eq!(call("formatdate", vec![s("MMM D, YYYY"), ts.clone()]), s("Jan 2, 2018"));
        assert_eq!(call("formatdate", vec![s("H:mmaa"), ts.clone()]), s("11:12pm"));
        assert_eq!(call("formatdate", vec![s("h 'o''clock' Z ZZZZZ"), s("2018-01-02T08:12:01+05:30")]), s("8 o'clock +05:30 +05:30"));
        assert_eq!(call("formatdate", vec![s("M/D/YYYY"), ts.clone()]), s("1/2/2018"));
        assert_eq!(
            call_err("formatdate", vec![s("YYY"), ts.clone()]),
            "invalid value for \"format\" parameter: invalid date format verb \"YYY\": year must either be \"YY\" or \"YYYY\""
        );
        assert_eq!(
            call_err("formatdate", vec![s("x"), ts.clone()]),
            "invalid value for \"format\" parameter: invalid date format verb \"x\""
        );
        assert_eq!(
            call_err("formatdate", vec![s("YYYY"), s("2018-01-02")]),
            "invalid value for \"time\" parameter: not a valid RFC3339 timestamp: missing required time introducer 'T'"
        );
        assert_eq!(
            call_err("formatdate", vec![s("YYYY"), s("2018-01-02 23:12:01Z")]),
            "invalid value for \"time\" parameter: not a valid RFC3339 timestamp: missing required time introducer 'T'"
        );
        assert!(call_err("formatdate", vec![s("YYYY"), s("2018-01-02T23:12:01z")]).contains("not a valid RFC3339"));
    }

    #[test]
    fn timeadd_durations() {
        assert_eq!(call("timeadd", vec![s("2017-11-22T00:00:00Z"), s("10m")]), s("2017-11-22T00:10:00Z"));
        assert_eq!(call("timeadd", vec![s("2017-11-22T00:00:00Z"), s("-1h30m")]), s("2017-11-21T22:30:00Z"));
        assert_eq!(call("timeadd", vec![s("2017-11-22T00:00:00+03:00"), s("1.5h")]), s("2017-11-22T01:30:00+03:00"));
        assert_eq!(call_err("timeadd", vec![s("2017-11-22T00:00:00Z"), s("1d")]), "time: unknown unit \"d\" in duration \"1d\"");
        assert!(call_err("timeadd", vec![s("2017-11-22T00:00:00Z"), s("10")]).contains("missing unit"));
    }

    #[test]
    fn timecmp_orders_instants() {
        assert_eq!(call("timecmp", vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T01:00:00+01:00")]), n(0.0));
        assert_eq!(call("timecmp", vec![s("2017-11-22T00:00:00Z"), s("2017-11-22T00:00:01Z")]), n(-1.0));
        assert_eq!(call("timecmp", vec![s("2018-01-01T00:00:00Z"), s("2017-11-22T00:00:01Z")]), n(1.0));
        assert!(call_err("timecmp", vec![s("yesterday"), s("2017-11-22T00:00:01Z")]).starts_with("not a valid RFC3339"));
    }

    #[test]
    fn parse_functions_return_parts() {
        let parts = |v: Value| match v {
            Value::Object(o) => o,
            other => panic!("object expected, got {other:?}"),
        };
        let p = parts(call("rfc3339_parse", vec![s("2024-06-01T15:04:05Z")]));
        assert_eq!(p["year"], n(2024.0));
        assert_eq!(p["year_day"], n(153.0));
        assert_eq!(p["month_name"], s("June"));
        assert_eq!(p["weekday"], n(6.0));
        assert_eq!(p["weekday_name"], s("Saturday"));
        assert_eq!(p["unix"], n(1717254245.0));
        assert_eq!(p["iso_week"], n(22.0));
        assert_eq!(p.len(), 13);
        // own offset kept; space separator and fractions accepted
        let p = parts(call("rfc3339_parse", vec![s("2024-01-01 01:30:00.25+03:00")]));
        assert_eq!(p["hour"], n(1.0));
        assert_eq!(p["unix"], n(1704061800.0));
        assert_eq!(p["iso_year"], n(2024.0));
        assert_eq!(
            call_err("rfc3339_parse", vec![s("2024-06-01")]),
            "invalid value for \"timestamp\" parameter: \"2024-06-01\" is not a valid RFC3339 timestamp"
        );
        let p = parts(call("unix_timestamp_parse", vec![n(1717254245.0)]));
        assert_eq!(p["rfc3339"], s("2024-06-01T15:04:05Z"));
        assert_eq!(p["day"], n(1.0));
        assert_eq!(p["second"], n(5.0));
        assert_eq!(p.len(), 13);
        let p = parts(call("unix_timestamp_parse", vec![n(0.0)]));
        assert_eq!((p["iso_year"].clone(), p["iso_week"].clone()), (n(1970.0), n(1.0)));
        assert!(call_err("unix_timestamp_parse", vec![n(1.5)]).contains("whole number of seconds"));
    }

    #[test]
    fn go_layouts() {
        let t = parse_rfc3339("2006-01-02T15:04:05.123Z").unwrap();
        assert_eq!(go_layout(t, "2006-01-02T15:04:05Z07:00"), "2006-01-02T15:04:05Z");
        assert_eq!(go_layout(t, "Mon Jan _2 03:04:05PM MST 2006 .000"), "Mon Jan  2 03:04:05PM UTC 2006 .123");
        assert_eq!(go_layout(t, "20060102150405"), "20060102150405");
        let Value::String(iso) = call("legacy_isotime", vec![s("2006-01-02")]) else { panic!("string") };
        let Value::String(now) = call("timestamp", vec![]) else { panic!("string") };
        assert_eq!(iso, now[..10]);
        assert_eq!(call("legacy_isotime", vec![]), call("timestamp", vec![]));
        assert!(call_err("legacy_isotime", vec![list(vec![])]).contains("string required"));
    }

    #[test]
    fn strftime_verbs() {
        let t = parse_rfc3339("2006-01-02T15:04:05Z").unwrap();
        assert_eq!(
            strftime(t, "%Y-%m-%d %H:%M:%S %a %A %b %B %I%p %y %Z %z %%"),
            "2006-01-02 15:04:05 Mon Monday Jan January 03PM 06 UTC +0000 %"
        );
        // conversions go-strftime does not know stay as written
        assert_eq!(strftime(t, "%j %e %Q 100%"), "%j %e %Q 100%");
        let Value::String(y) = call("legacy_strftime", vec![s("%Y")]) else { panic!("string") };
        let Value::String(now) = call("timestamp", vec![]) else { panic!("string") };
        assert_eq!(y, now[..4]);
        assert!(call_err("legacy_strftime", vec![list(vec![])]).contains("string required"));
    }
}
