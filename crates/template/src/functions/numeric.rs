//! Numeric functions. Numbers are `f64` inside hcl values; integral results come back as
//! integers.

use hcl::Value;

use super::{int, num, num_arg, str_arg, value_to_f64, value_to_int};

pub(super) fn abs(args: &[Value]) -> Result<Value, String> {
    num(num_arg(args, 0, "num")?.abs())
}

pub(super) fn ceil(args: &[Value]) -> Result<Value, String> {
    num(num_arg(args, 0, "num")?.ceil())
}

pub(super) fn floor(args: &[Value]) -> Result<Value, String> {
    num(num_arg(args, 0, "num")?.floor())
}

pub(super) fn signum(args: &[Value]) -> Result<Value, String> {
    let x = num_arg(args, 0, "num")?;
    Ok(int(if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }))
}

pub(super) fn log(args: &[Value]) -> Result<Value, String> {
    let x = num_arg(args, 0, "num")?;
    let base = num_arg(args, 1, "base")?;
    num(x.ln() / base.ln())
}

pub(super) fn pow(args: &[Value]) -> Result<Value, String> {
    num(num_arg(args, 0, "num")?.powf(num_arg(args, 1, "power")?))
}

/// Folds the numbers of `max`/`min`; cty refuses an empty call in the body, not by arity.
fn fold(args: &[Value], pick: fn(f64, f64) -> f64) -> Result<Value, String> {
    if args.is_empty() {
        return Err("must pass at least one number".to_string());
    }
    let mut acc: Option<f64> = None;
    for v in args {
        let x = value_to_f64(v, "numbers")?;
        acc = Some(acc.map_or(x, |a| pick(a, x)));
    }
    num(acc.unwrap_or(0.0))
}

pub(super) fn max(args: &[Value]) -> Result<Value, String> {
    fold(args, f64::max)
}

pub(super) fn min(args: &[Value]) -> Result<Value, String> {
    fold(args, f64::min)
}

/// `parseint(string, base)` for bases 2 to 62 (digits, then lower, then upper case letters).
pub(super) fn parseint(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "number")?;
    let base = value_to_int(&args[1], "base")?;
    if !(2..=62).contains(&base) {
        return Err("invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive".to_string());
    }
    let fail = || format!("invalid value for \"number\" parameter: cannot parse {s:?} as a base {base} integer");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() {
        return Err(fail());
    }
    let mut acc: i128 = 0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as i128 - '0' as i128,
            'a'..='z' if base <= 36 => c as i128 - 'a' as i128 + 10,
            'A'..='Z' if base <= 36 => c as i128 - 'A' as i128 + 10,
            'a'..='z' => c as i128 - 'a' as i128 + 10,
            'A'..='Z' => c as i128 - 'A' as i128 + 36,
            _ => return Err(fail()),
        };
        if d >= base as i128 {
            return Err(fail());
        }
        acc = acc.checked_mul(base as i128).and_then(|a| a.checked_add(d)).ok_or_else(fail)?;
    }
    let v = if neg { -acc } else { acc };
    i64::try_from(v).map(int).or_else(|_| num(v as f64))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn rounding_and_sign() {
        assert_eq!(call("abs", vec![n(-12.4)]), n(12.4));
        assert!(call_err("abs", vec![s("x")]).contains("a number is required"));
        assert_eq!(call("ceil", vec![n(5.1)]), n(6.0));
        assert!(call_err("ceil", vec![strs(&[])]).contains("number required"));
        assert_eq!(call("floor", vec![n(-4.9)]), n(-5.0));
        assert_eq!(call("floor", vec![s("4.5")]), n(4.0));
        assert!(call_err("floor", vec![hcl::Value::Null]).contains("null"));
        assert_eq!(call("signum", vec![n(-13.0)]), n(-1.0));
        assert_eq!(call("signum", vec![n(0.0)]), n(0.0));
        assert!(call_err("signum", vec![s("")]).contains("number"));
    }

    #[test]
    fn powers_and_logs() {
        assert_eq!(call("log", vec![n(16.0), n(2.0)]), n(4.0));
        assert_eq!(call_err("log", vec![n(0.0), n(2.0)]), "the result is not a finite number");
        assert_eq!(call("pow", vec![n(3.0), n(2.0)]), n(9.0));
        assert_eq!(call("pow", vec![n(4.0), n(0.5)]), n(2.0));
        assert!(call_err("pow", vec![n(3.0), s("x")]).contains("\"power\""));
    }

    #[test]
    fn extremes() {
        assert_eq!(call("max", vec![n(12.0), n(54.0), n(3.0)]), n(54.0));
        assert!(call_err("max", vec![n(1.0), s("a")]).contains("number"));
        assert_eq!(call("min", vec![n(12.0), n(54.0), n(3.0)]), n(3.0));
        assert_eq!(call_err("min", vec![]), "must pass at least one number");
    }

    #[test]
    fn parse_integers() {
        assert_eq!(call("parseint", vec![s("100"), n(10.0)]), n(100.0));
        assert_eq!(call("parseint", vec![s("FF"), n(16.0)]), n(255.0));
        assert_eq!(call("parseint", vec![s("-10"), n(16.0)]), n(-16.0));
        assert_eq!(call("parseint", vec![s("1011111011101111"), n(2.0)]), n(48879.0));
        assert_eq!(call("parseint", vec![s("aA"), n(62.0)]), n(656.0));
        assert_eq!(
            call_err("parseint", vec![s("12"), n(2.0)]),
            "invalid value for \"number\" parameter: cannot parse \"12\" as a base 2 integer"
        );
        assert_eq!(
            call_err("parseint", vec![s("1"), n(63.0)]),
            "invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive"
        );
    }
}
