//! Every function, given arbitrary values of arbitrary arity, returns a value or an error and
//! never panics or runs away. Functions that touch the filesystem or burn CPU by design (bcrypt
//! with a random cost) are left out; their inputs are covered by their own tests.

use hcl::Value;
use proptest::prelude::*;

const SKIPPED: &[&str] = &["bcrypt", "file", "filebase64", "fileexists", "fileset", "templatefile"];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1_000_000i64..1_000_000).prop_map(|i| Value::Number(i.into())),
        prop_oneof![Just(-1.5f64), Just(0.25), Just(1e21), Just(-1e300), Just(3.0e-9)]
            .prop_map(|f| Value::Number(hcl::Number::from_f64(f).unwrap_or_else(|| 0.into()))),
        // strings that mean something to some function: formats, patterns, cidrs, times
        prop_oneof![
            Just(""), Just("a,b"), Just("%s %d %v %[2]q %-5.2f %"), Just("10.0.0.0/8"), Just("fd00::/64"),
            Just("2024-01-01T00:00:00Z"), Just("1h30m"), Just("(a)(?P<n>b)"), Just("[x-"), Just("/a/"),
            Just("YYYY-MM-DD 'x"), Just("é\u{301}"), Just("a: [1, {b: c}]"), Just("{\"a\":[1]}"),
            Just("U0hB"), Just("UTF-16LE"), Just("dns"), Just("**/*"), Just("~/x"), Just("FF"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
        "[a-z0-9 ,%./\\-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_function_panics(args in prop::collection::vec(value(), 0..5)) {
        for f in super::all() {
            if SKIPPED.contains(&f.name) {
                continue;
            }
            // a result or an error are both fine; a panic fails the test
            let _ = (f.call)(&args);
        }
    }
}

#[test]
fn huge_sizes_are_refused_not_allocated() {
    use super::testing::*;
    assert!(call_err("indent", vec![n(1e12), s("a\nb")]).contains("too large"));
    assert!(call_err("format", vec![s("%999999999999s"), s("a")]).contains("too large"));
    assert!(call_err("format", vec![s("%.999999999999f"), n(1.0)]).contains("too large"));
    let big: Vec<Value> = (0..200).map(|i| n(f64::from(i))).collect();
    assert!(
        call_err("setproduct", vec![list(big.clone()), list(big.clone()), list(big.clone())])
            .contains("too large")
    );
}
