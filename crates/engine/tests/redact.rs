//! Redaction: every transformed form of a secret is hidden, in whole strings and in streams.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use cce_engine::redact::{REPLACEMENT, RedactingWriter, Redactor, SecretRefused};
use proptest::prelude::*;

const SECRET: &str = "p@ss w/rd'\"$x+?&=ü";

fn redactor_with(secret: &str) -> Redactor {
    let r = Redactor::new();
    r.add(secret).expect("secret long enough");
    r
}

fn assert_hidden(r: &Redactor, form: &str) {
    let text = format!("before {form} after");
    let out = r.redact(&text);
    assert_eq!(
        out,
        format!("before {REPLACEMENT} after"),
        "form {form:?} not hidden"
    );
}

#[test]
fn plain_value_is_hidden() {
    assert_hidden(&redactor_with(SECRET), SECRET);
}

#[test]
fn base64_forms_are_hidden() {
    let r = redactor_with(SECRET);
    for enc in [
        STANDARD.encode(SECRET),
        STANDARD_NO_PAD.encode(SECRET),
        URL_SAFE.encode(SECRET),
        URL_SAFE_NO_PAD.encode(SECRET),
    ] {
        assert_hidden(&r, &enc);
    }
}

#[test]
fn base64_of_basic_auth_wrapper_loses_the_secret_part() {
    let r = redactor_with("Sup3rS3cretPassw0rd");
    for user in ["u", "ab", "admin", "root"] {
        let header = STANDARD.encode(format!("{user}:Sup3rS3cretPassw0rd"));
        let out = r.redact(&header);
        assert!(out.contains(REPLACEMENT), "{user}: {out}");
        // What is left is the user part and at most the few characters that mix user and secret.
        let rest = out.replace(REPLACEMENT, "");
        let user_part = STANDARD
            .encode(format!("{user}:"))
            .trim_end_matches('=')
            .len();
        assert!(rest.len() <= user_part + 4, "{user}: too much left: {rest}");
    }
}

#[test]
fn percent_encoded_forms_are_hidden() {
    let r = redactor_with(SECRET);
    // Path/component style (Go's url.PathEscape-like, upper and lower hex) and form style.
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let path = percent_encoding::utf8_percent_encode(SECRET, PATH).to_string();
    assert_hidden(&r, &path);
    assert_hidden(&r, "p%40ss%20w%2frd%27%22%24x%2b%3f%26%3d%c3%bc");
    let form = "p%40ss+w%2Frd%27%22%24x%2B%3F%26%3D%C3%BC";
    assert_hidden(&r, form);
}

#[test]
fn json_escaped_forms_are_hidden() {
    let r = redactor_with(SECRET);
    let json = serde_json::to_string(SECRET).expect("string serializes");
    assert_hidden(&r, &json[1..json.len() - 1]);
    // Python's json.dumps default: non-ASCII as \u escapes, and the `\/` escape some encoders use.
    assert_hidden(&r, "p@ss w\\/rd'\\\"$x+?&=\\u00fc");
    assert_hidden(&r, "p@ss w/rd'\\\"$x+?&=\\u00fc");
    let full = serde_json::json!({"password": SECRET}).to_string();
    assert_eq!(
        r.redact(&full),
        format!("{{\"password\":\"{REPLACEMENT}\"}}")
    );
}

#[test]
fn shell_quoted_forms_are_hidden() {
    let r = redactor_with(SECRET);
    // 'p@ss w/rd'\''"$x+?&=ü' as a POSIX shell single-quotes it.
    assert_hidden(&r, "p@ss w/rd'\\''\"$x+?&=ü");
    // Inside double quotes: \" \$ escaped.
    assert_hidden(&r, "p@ss w/rd'\\\"\\$x+?&=ü");
    // bash `printf %q` (the exact output of bash 5 for this value).
    assert_hidden(&r, "p@ss\\ w/rd\\'\\\"\\$x+\\?\\&=ü");
    // PowerShell single quotes ('' for ') and double quotes (backtick escapes).
    assert_hidden(&r, "p@ss w/rd''\"$x+?&=ü");
    assert_hidden(&r, "p@ss w/rd'`\"`$x+?&=ü");
    let q = redactor_with("a{b}~#!=secret");
    assert_hidden(&q, "a\\{b\\}~#\\!=secret");
    let cmd = format!("echo '{}'", SECRET.replace('\'', "'\\''"));
    assert_eq!(r.redact(&cmd), format!("echo '{REPLACEMENT}'"));
}

#[test]
fn each_long_line_of_a_private_key_is_hidden() {
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\n\
               b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
               QyNTUxOQAAACDrV7ul3y1Mfy4pZ1qVYvQzVmR3xqT3uGxRJp6X3sLq9wAAAJgAAAAA\n\
               end\n\
               -----END OPENSSH PRIVATE KEY-----\n";
    let r = redactor_with(key);
    let line2 = "QyNTUxOQAAACDrV7ul3y1Mfy4pZ1qVYvQzVmR3xqT3uGxRJp6X3sLq9wAAAJgAAAAA";
    assert_hidden(&r, line2);
    assert_hidden(&r, key);
    // The whole key with CRLF line ends and JSON-escaped.
    assert_hidden(&r, &key.replace('\n', "\r\n"));
    let json = serde_json::to_string(key).expect("string serializes");
    assert_hidden(&r, &json[1..json.len() - 1]);
    // Short lines alone ("end") are not secrets: ordinary text keeps them.
    assert_eq!(r.redact("the end"), "the end");
}

#[test]
fn short_secrets_are_refused_with_a_reason() {
    let r = Redactor::new();
    assert_eq!(r.add("abc"), Err(SecretRefused::TooShort { len: 3 }));
    assert!(r.is_empty());
    let msg = SecretRefused::TooShort { len: 3 }.to_string();
    assert!(msg.contains("too short") && msg.contains('4'), "{msg}");
    assert_eq!(r.redact("abc abc"), "abc abc");
}

#[test]
fn unrelated_text_is_untouched() {
    let r = redactor_with("correct-horse-battery");
    let text = "==> builder: Creating server cce-ib-abc123-srv\n    horse battery correct\n";
    assert!(matches!(r.redact(text), std::borrow::Cow::Borrowed(_)));
    assert_eq!(r.redact(text), text);
}

#[test]
fn overlapping_secrets_are_both_hidden_entirely() {
    let r = Redactor::new();
    r.add("abcdefgh").expect("long enough");
    r.add("efghijkl").expect("long enough");
    assert_eq!(
        r.redact("xx abcdefghijkl yy"),
        format!("xx {REPLACEMENT} yy")
    );
    // One secret inside another.
    r.add("zz-inner-zz").expect("long enough");
    r.add("inner").expect("long enough");
    assert_eq!(
        r.redact("a zz-inner-zz b inner c"),
        format!("a {REPLACEMENT} b {REPLACEMENT} c")
    );
}

#[test]
fn clones_share_secrets_added_later() {
    let r = Redactor::new();
    let sink_copy = r.clone();
    r.add("generated-password-1").expect("long enough");
    assert_eq!(
        sink_copy.redact("pw=generated-password-1"),
        format!("pw={REPLACEMENT}")
    );
}

#[test]
fn debug_output_does_not_show_secrets() {
    let r = redactor_with("hidden-in-debug");
    assert!(!format!("{r:?}").contains("hidden-in-debug"));
}

#[test]
fn streaming_writer_hides_a_secret_split_across_writes() {
    let r = redactor_with("split-secret-value");
    let mut out = Vec::new();
    {
        let mut w = RedactingWriter::new(&mut out, r.clone());
        w.write_all(b"line one\nthe value is split-se")
            .expect("vec write");
        w.write_all(b"cret-va").expect("vec write");
        w.write_all(b"lue and done\n").expect("vec write");
        w.flush().expect("vec flush");
    }
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("line one\nthe value is {REPLACEMENT} and done\n")
    );
}

#[test]
fn streaming_writer_emits_complete_lines_without_waiting() {
    let r = redactor_with("a-rather-long-secret-value-here");
    let mut w = RedactingWriter::new(Vec::new(), r);
    w.write_all(b"short\n").expect("vec write");
    // No form contains a newline, so the complete line is emitted before flush.
    assert_eq!(w.get_ref().as_slice(), b"short\n");
    w.write_all(b"partial a-rather").expect("vec write");
    assert_eq!(w.get_ref().as_slice(), b"short\n");
    let out = w.into_inner().expect("flush");
    assert_eq!(out, b"short\npartial a-rather");
}

#[test]
fn streaming_writer_flushes_tail_on_drop() {
    let r = redactor_with("tail-secret");
    let mut out = Vec::new();
    {
        let mut w = RedactingWriter::new(&mut out, r);
        w.write_all(b"x tail-secret").expect("vec write");
    }
    assert_eq!(out, format!("x {REPLACEMENT}").as_bytes());
}

#[test]
fn streaming_writer_handles_multiline_secret_across_writes() {
    let key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END KEY-----";
    let r = redactor_with(key);
    let mut w = RedactingWriter::new(Vec::new(), r);
    for chunk in key.as_bytes().chunks(5) {
        w.write_all(b"").expect("vec write");
        w.write_all(chunk).expect("vec write");
    }
    w.write_all(b"\n").expect("vec write");
    let out = String::from_utf8(w.into_inner().expect("flush")).expect("utf8");
    assert_eq!(out, format!("{REPLACEMENT}\n"));
}

fn encodings(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).expect("string serializes");
    vec![
        secret.to_owned(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        json[1..json.len() - 1].to_owned(),
        secret.replace('\'', "'\\''"),
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_registered_form_survives(
        secret in "[ -~]{4,24}",
        pieces in proptest::collection::vec("[ -~\n]{0,40}", 1..6),
        which in proptest::collection::vec(0usize..6, 1..6),
        chunk in 1usize..17,
    ) {
        let r = Redactor::new();
        r.add(&secret).expect("at least 4 characters");
        let forms = encodings(&secret);
        let mut text = String::new();
        for (i, p) in pieces.iter().enumerate() {
            text.push_str(p);
            text.push_str(&forms[which[i % which.len()]]);
        }
        let out = r.redact(&text).into_owned();
        // Split at replacements so a secret that happens to be part of "<sensitive>" is not
        // mistaken for a leak.
        let visible = out.replace(REPLACEMENT, "\0");
        for f in r.forms() {
            prop_assert!(!visible.contains(&f), "form {:?} survived in {:?}", f, out);
        }
        // The stream writer, fed in small chunks, gives the same result.
        let mut w = RedactingWriter::new(Vec::new(), r.clone());
        for c in text.as_bytes().chunks(chunk) {
            w.write_all(c).expect("vec write");
        }
        let streamed = String::from_utf8(w.into_inner().expect("flush")).expect("utf8");
        prop_assert_eq!(streamed, out);
    }
}

#[test]
fn values_quoted_by_real_bash_are_hidden() {
    let r = redactor_with(SECRET);
    let r2 = redactor_with("a{b}~#!=secret");
    for (r, value) in [(&r, SECRET), (&r2, "a{b}~#!=secret")] {
        for script in [r#"printf '%q' "$1""#, r#"printf '%s' "${1@Q}""#] {
            let out = std::process::Command::new("bash")
                .args(["-c", script, "_", value])
                .env("LC_ALL", "C.UTF-8")
                .output()
                .expect("bash runs");
            let quoted = String::from_utf8(out.stdout).expect("utf8");
            assert!(!quoted.is_empty() && quoted != value, "{script}: {quoted}");
            let line = format!("run {quoted} now");
            let shown = r.redact(&line);
            // ${1@Q} keeps its outer quotes; nothing of the value itself may remain.
            assert!(shown.contains(REPLACEMENT), "{script} gave {quoted}");
            let rest = shown.replace(REPLACEMENT, "").replace('\'', "");
            assert_eq!(rest, "run  now", "{script} gave {quoted}");
        }
    }
}
