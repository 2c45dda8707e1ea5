//! Differential checks against the real `packer fmt`: every corpus input is re-spaced, or gets
//! newlines and comments inserted inside brackets, at random (deterministic seeds), and each
//! variant must format exactly as Packer 1.6.6 formats it. One `packer fmt` run covers all the
//! variants of a check, so this stays fast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cce_template::fmt::format;
use cce_template::fmt::lexer::{Kind, lex};

const VARIANTS_PER_INPUT: u64 = 4;

fn corpus_inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fmt-corpus");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus folder exists")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".pkr.hcl"))
        .collect();
    inputs.sort();
    inputs
}

/// xorshift64*: enough randomness for re-spacing, and reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Whether spaces may appear between `prev` and `next` without changing what the source says
/// (outside string literals and heredoc bodies, where spaces are content).
fn can_insert(prev: Kind, next: Kind) -> bool {
    let literal = |k| matches!(k, Kind::QuotedLit | Kind::StringLit | Kind::CHeredoc | Kind::CQuote | Kind::Eof);
    let opens_literal = |k| matches!(k, Kind::OQuote | Kind::OHeredoc | Kind::StringLit | Kind::QuotedLit | Kind::TemplateSeqEnd);
    !literal(next) && !opens_literal(prev) && !(prev == Kind::TemplateSeqEnd)
}

fn respace(src: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    // A byte order mark must stay the very first bytes.
    let bom: &[u8] = b"\xef\xbb\xbf";
    let mut out = Vec::with_capacity(src.len() * 2);
    let src = match src.strip_prefix(bom) {
        Some(rest) => {
            out.extend_from_slice(bom);
            rest
        }
        None => src,
    };
    let tokens = lex(src);
    let mut prev = Kind::Newline;
    let mut last_end = 0;
    for t in &tokens {
        // Keep whatever separates the tokens when it is not plain spaces (tabs are kept as is).
        let gap = &src[last_end..t.range.start];
        let spaces = if gap.iter().any(|&b| b != b' ') {
            out.extend_from_slice(gap);
            0
        } else if !gap.is_empty() {
            1 + rng.below(4) as usize
        } else if can_insert(prev, t.kind) && t.kind != Kind::Newline || prev == Kind::Newline {
            rng.below(3) as usize
        } else {
            0
        };
        let spaces = if prev == Kind::Newline && t.kind == Kind::Eof { 0 } else { spaces };
        out.extend(std::iter::repeat_n(b' ', spaces));
        out.extend_from_slice(&src[t.range.clone()]);
        last_end = t.range.end;
        prev = if t.kind == Kind::Comment && src[t.range.clone()].ends_with(b"\n") { Kind::Newline } else { t.kind };
        if matches!(prev, Kind::CHeredoc) {
            prev = Kind::StringLit;
        }
    }
    out
}

/// Whether `packer` is on PATH; under `CI=true` its absence fails the test.
fn packer_available() -> bool {
    if Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "packer is not on PATH (run dev/deps.sh)");
    eprintln!("skipping: packer is not on PATH");
    false
}

#[test]
fn respaced_corpus_formats_like_live_packer() {
    if !packer_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut variants = Vec::new();
    for input in corpus_inputs() {
        let src = std::fs::read(&input).unwrap();
        let stem = input.file_name().unwrap().to_string_lossy().replace(".pkr.hcl", "");
        for seed in 0..VARIANTS_PER_INPUT {
            let variant = respace(&src, seed + 1);
            let name = format!("{stem}.v{seed}.pkr.hcl");
            std::fs::write(dir.path().join(&name), &variant).unwrap();
            variants.push((name, variant));
        }
    }
    let out = Command::new("packer").args(["fmt", "."]).current_dir(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "packer fmt refused a variant: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut mismatches = Vec::new();
    let mut changed = 0;
    for (name, variant) in &variants {
        let by_packer = std::fs::read(dir.path().join(name)).unwrap();
        if &by_packer != variant {
            changed += 1;
        }
        match format(variant) {
            Ok(ours) if ours == by_packer => {}
            Ok(ours) => mismatches.push(format!(
                "{name}:\n--- input\n{}\n--- packer\n{}\n--- ours\n{}",
                String::from_utf8_lossy(variant),
                String::from_utf8_lossy(&by_packer),
                String::from_utf8_lossy(&ours)
            )),
            Err(e) => mismatches.push(format!("{name}: we refused what packer formats: {e}")),
        }
    }
    assert!(mismatches.is_empty(), "{} of {} variants differ:\n{}", mismatches.len(), variants.len(), mismatches.join("\n"));
    // The re-spacing must actually give the formatter work to do.
    assert!(changed * 10 >= variants.len() * 9, "only {changed} of {} variants were not canonical", variants.len());
}


/// Inserts newlines (with random indentation) between tokens inside `( )` and `[ ]`, and
/// trailing comments at the end of some lines: the bracket nesting and comment alignment
/// rules get lines they never see in the corpus itself.
fn rewrap(src: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut open: Vec<Kind> = Vec::new();
    let mut last_end = 0;
    let mut prev = Kind::Newline;
    for t in &lex(src) {
        out.extend_from_slice(&src[last_end..t.range.start]);
        let in_template = open
            .iter()
            .any(|k| matches!(k, Kind::TemplateInterp | Kind::TemplateControl | Kind::OQuote | Kind::OHeredoc));
        let in_brackets = matches!(open.last(), Some(Kind::OBrack | Kind::OParen));
        let at_line_start = matches!(prev, Kind::Newline | Kind::Comment | Kind::CHeredoc);
        if !in_template && in_brackets && !at_line_start && !matches!(t.kind, Kind::Newline | Kind::Comment) && rng.below(4) == 0 {
            out.push(b'\n');
            out.extend(std::iter::repeat_n(b' ', rng.below(6) as usize));
        }
        if !in_template && t.kind == Kind::Newline && prev != Kind::Newline && prev != Kind::CHeredoc && rng.below(6) == 0 {
            let comment: &[u8] = if rng.below(2) == 0 { b" # note" } else { b" // note" };
            out.extend_from_slice(comment);
        }
        out.extend_from_slice(&src[t.range.clone()]);
        last_end = t.range.end;
        match t.kind {
            Kind::OBrack | Kind::OParen | Kind::OBrace | Kind::TemplateInterp | Kind::TemplateControl | Kind::OQuote | Kind::OHeredoc => {
                open.push(t.kind)
            }
            Kind::CBrack | Kind::CParen | Kind::CBrace | Kind::TemplateSeqEnd | Kind::CQuote | Kind::CHeredoc => {
                open.pop();
            }
            _ => {}
        }
        prev = t.kind;
    }
    out
}

#[test]
fn rewrapped_corpus_formats_like_live_packer() {
    if !packer_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut variants = Vec::new();
    for input in corpus_inputs() {
        let src = std::fs::read(&input).unwrap();
        if src.starts_with(b"\xef\xbb\xbf") {
            continue;
        }
        let stem = input.file_name().unwrap().to_string_lossy().replace(".pkr.hcl", "");
        for seed in 0..VARIANTS_PER_INPUT {
            let name = format!("{stem}.w{seed}.pkr.hcl");
            let variant = rewrap(&src, seed + 11);
            std::fs::write(dir.path().join(&name), &variant).unwrap();
            variants.push((name, variant));
        }
    }
    let out = Command::new("packer").args(["fmt", "."]).current_dir(dir.path()).output().unwrap();
    // Packer reports each file it cannot parse and goes on with the others.
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let refused: BTreeSet<&str> = report
        .lines()
        .filter_map(|l| l.strip_prefix("Error: encountered an error while formatting "))
        .map(str::trim)
        .collect();
    let mut mismatches = Vec::new();
    for (name, variant) in &variants {
        let by_packer = std::fs::read(dir.path().join(name)).unwrap();
        if refused.contains(name.as_str()) {
            // The layout rules still agree; only whether to refuse may differ (see docs/fmt.md).
            continue;
        }
        match format(variant) {
            Ok(ours) if ours == by_packer => {}
            Ok(ours) => mismatches.push(format!(
                "{name}:\n--- input\n{}\n--- packer\n{}\n--- ours\n{}",
                String::from_utf8_lossy(variant),
                String::from_utf8_lossy(&by_packer),
                String::from_utf8_lossy(&ours)
            )),
            Err(e) => mismatches.push(format!(
                "{name}: we refused what packer formats: {e}\n{}",
                String::from_utf8_lossy(variant)
            )),
        }
    }
    assert!(mismatches.is_empty(), "{} of {} variants differ:\n{}", mismatches.len(), variants.len(), mismatches.join("\n"));
    eprintln!("{} variants, {} refused by packer", variants.len(), refused.len());
    // Most variants must be valid, or this checks little.
    assert!(refused.len() * 5 < variants.len(), "packer refused {} of {} variants", refused.len(), variants.len());
}
