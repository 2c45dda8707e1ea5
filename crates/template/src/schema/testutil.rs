//! Test-only: builds evaluated [`Block`]s from HCL text holding literals, so schema tests do not
//! depend on the loader. `var.NAME` becomes the string `"<var.NAME>"` (not a literal) and any
//! expression mentioning `build.` becomes [`AttrValue::Deferred`].

use hcl::edit::Span as _;
use hcl::eval::Evaluate as _;

use crate::body::{AttrValue, Attribute, Block};
use crate::diag::{FileId, SourceMap, Span};

pub struct Parsed {
    pub sources: SourceMap,
    pub blocks: Vec<Block>,
}

pub fn parse(text: &str) -> Parsed {
    let mut sources = SourceMap::default();
    let file = sources.add("t.pkr.hcl", text.to_string());
    let body = hcl::edit::parser::parse_body(text).expect("test HCL parses");
    let blocks = body.blocks().map(|b| block(text, file, b)).collect();
    Parsed { sources, blocks }
}

fn span(file: FileId, r: Option<std::ops::Range<usize>>) -> Span {
    let r = r.expect("parsed nodes have spans");
    Span { file, start: r.start, end: r.end }
}

fn block(text: &str, file: FileId, b: &hcl::edit::structure::Block) -> Block {
    let attributes = b
        .body
        .attributes()
        .map(|a| {
            let value_span = span(file, a.value.span());
            let raw = &text[value_span.start..value_span.end];
            let (value, literal) = if raw.contains("build.") {
                (AttrValue::Deferred(raw.to_string()), false)
            } else if raw.starts_with("var.") {
                (AttrValue::Known(hcl::Value::String(format!("<{raw}>"))), false)
            } else {
                let expr = hcl::Expression::from(a.value.clone());
                let v = expr.evaluate(&hcl::eval::Context::new()).expect("test values are literals");
                (AttrValue::Known(v), true)
            };
            Attribute { name: a.key.to_string(), name_span: span(file, a.key.span()), value, value_span, literal }
        })
        .collect();
    Block {
        kind: b.ident.to_string(),
        labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
        kind_span: span(file, b.ident.span()),
        span: span(file, b.span()),
        attributes,
        blocks: b.body.blocks().map(|c| block(text, file, c)).collect(),
    }
}

/// `line:col` of a span, for assertions.
pub fn pos(sources: &SourceMap, span: Option<Span>) -> String {
    match span.and_then(|s| sources.position(s)) {
        Some((_, l, c)) => format!("{l}:{c}"),
        None => "-".into(),
    }
}
