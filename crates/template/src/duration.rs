//! Go's `time.ParseDuration` grammar (`1m30s`, `300ms`, `1.5h`, `0`), shared by the duration
//! fields of the schemas and by the `timeadd` function, which word their errors differently.

/// Why a duration text is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// No number where one must start; holds the text from there on.
    NotANumber(String),
    /// A number with no unit after it; holds the number.
    MissingUnit(String),
    /// A unit that is none of `ns us µs ms s m h`.
    UnknownUnit(String),
}

/// Nanoseconds in an unsigned duration text (no sign): number+unit pairs, or a bare `0`.
pub fn unsigned_nanos(text: &str) -> Result<f64, DurationError> {
    if text == "0" {
        return Ok(0.0);
    }
    if text.is_empty() {
        return Err(DurationError::NotANumber(String::new()));
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(DurationError::NotANumber(rest.to_string()));
        }
        let value: f64 = num.parse().map_err(|_| DurationError::NotANumber(rest.to_string()))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(DurationError::MissingUnit(num.to_string())),
            other => return Err(DurationError::UnknownUnit(other.to_string())),
        };
        total += value * nanos_per;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_number_unit_pairs() {
        assert_eq!(unsigned_nanos("1m30s"), Ok(90e9));
        assert_eq!(unsigned_nanos("1.5h"), Ok(5400e9));
        assert_eq!(unsigned_nanos("10µs"), Ok(10e3));
        assert_eq!(unsigned_nanos("0"), Ok(0.0));
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(unsigned_nanos(""), Err(DurationError::NotANumber(String::new())));
        assert_eq!(unsigned_nanos("1s.."), Err(DurationError::NotANumber("..".into())));
        assert_eq!(unsigned_nanos("1..2s"), Err(DurationError::NotANumber("1..2s".into())));
        assert_eq!(unsigned_nanos("1h30"), Err(DurationError::MissingUnit("30".into())));
        assert_eq!(unsigned_nanos("1d"), Err(DurationError::UnknownUnit("d".into())));
        assert_eq!(unsigned_nanos("1h-1m"), Err(DurationError::UnknownUnit("h-".into())));
    }
}
