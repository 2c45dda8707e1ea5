//! The layout passes of `hclwrite`'s formatter (the version Packer 1.6.6 ships), applied to a
//! token stream: split into lines with `lead`/`assign`/`comment` cells, indent by bracket
//! nesting, space tokens within a cell, then align `=` and trailing comments across consecutive
//! lines. Only the spaces before tokens change; the bytes of every token are kept as they are.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use super::lexer::{Kind, Token};

/// One source line split in up to three cells of token indices.
#[derive(Clone, Debug, Default)]
struct Line {
    lead: Range<usize>,
    assign: Option<Range<usize>>,
    comment: Option<Range<usize>>,
}

/// Rewrites the spaces of `tokens` in place and renders them over `src`.
pub fn format_tokens(src: &[u8], tokens: &mut [Token]) -> Vec<u8> {
    let lines = lines_for_format(src, tokens);
    format_indent(&lines, tokens);
    format_spaces(&lines, src, tokens);
    format_cells(&lines, src, tokens);
    let mut out = Vec::with_capacity(src.len() + src.len() / 8);
    for t in tokens.iter() {
        out.extend(std::iter::repeat_n(b' ', t.spaces_before));
        out.extend_from_slice(&src[t.range.clone()]);
    }
    out
}

fn is_newline(src: &[u8], t: &Token) -> bool {
    match t.kind {
        Kind::Newline => true,
        // `#` and `//` comments swallow the newline that ends them.
        Kind::Comment => src[t.range.clone()].last() == Some(&b'\n'),
        _ => false,
    }
}

fn bracket_change(t: &Token) -> i64 {
    match t.kind {
        Kind::OBrace | Kind::OBrack | Kind::OParen | Kind::TemplateControl | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

fn lines_for_format(src: &[u8], tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut line_start = 0;
    let mut ended = false;
    for (i, t) in tokens.iter().enumerate() {
        if t.kind == Kind::Eof {
            lines.push(Line { lead: line_start..i, ..Line::default() });
            ended = true;
            break;
        }
        if is_newline(src, t) {
            lines.push(Line { lead: line_start..i + 1, ..Line::default() });
            line_start = i + 1;
        }
    }
    if !ended && line_start < tokens.len() {
        lines.push(Line { lead: line_start..tokens.len(), ..Line::default() });
    }

    for line in &mut lines {
        if line.lead.is_empty() {
            continue;
        }
        if line.lead.len() > 1 && tokens[line.lead.end - 1].kind == Kind::Comment {
            line.comment = Some(line.lead.end - 1..line.lead.end);
            line.lead.end -= 1;
        }
        for i in line.lead.clone() {
            if i > line.lead.start && tokens[i].kind == Kind::Equal {
                // Only a whole expression on the right moves to the `assign` cell; an
                // unbalanced bracket means a multi-line value starts here.
                let net: i64 = tokens[i..line.lead.end].iter().map(bracket_change).sum();
                if net == 0 {
                    line.assign = Some(i..line.lead.end);
                    line.lead.end = i;
                }
                break;
            }
        }
    }
    lines
}

fn format_indent(lines: &[Line], tokens: &mut [Token]) {
    let mut indents: Vec<i64> = Vec::with_capacity(10);
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if tokens[first].kind == Kind::Newline {
            tokens[first].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for t in &tokens[line.lead.clone()] {
            net += bracket_change(t);
            if t.kind == Kind::OHeredoc {
                break;
            }
        }
        if let Some(assign) = &line.assign {
            net += tokens[assign.clone()].iter().map(bracket_change).sum::<i64>();
        }
        if net > 0 {
            tokens[first].spaces_before = 2 * indents.len();
            indents.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = indents.last_mut() else { break };
                if closed > *top {
                    closed -= *top;
                    indents.pop();
                } else if closed < *top {
                    *top -= closed;
                    closed = 0;
                } else {
                    indents.pop();
                    closed = 0;
                }
            }
            tokens[first].spaces_before = 2 * indents.len();
        }
    }
}

fn space_cell(cell: Range<usize>, src: &[u8], tokens: &mut [Token]) {
    for i in cell.clone() {
        if i + 1 >= cell.end {
            // The token after the last one is the placeholder: nothing to set.
            continue;
        }
        let before = if i > cell.start { Some(i - 1) } else { None };
        let space = space_after_token(src, tokens, i, before, i + 1);
        tokens[i + 1].spaces_before = usize::from(space);
    }
}

fn format_spaces(lines: &[Line], src: &[u8], tokens: &mut [Token]) {
    for line in lines {
        space_cell(line.lead.clone(), src, tokens);
        if let Some(assign) = &line.assign {
            tokens[assign.start].spaces_before = 1;
            space_cell(assign.clone(), src, tokens);
        }
    }
}

/// Display width of a cell as `hclwrite` counts it: spaces plus grapheme clusters (by the
/// pre-15.1 Unicode rules, hence the pinned `unicode-segmentation`).
fn columns(src: &[u8], tokens: &[Token], cell: Option<&Range<usize>>) -> usize {
    let Some(cell) = cell else { return 0 };
    tokens[cell.clone()]
        .iter()
        .map(|t| {
            let text = String::from_utf8_lossy(&src[t.range.clone()]);
            t.spaces_before + text.graphemes(true).count()
        })
        .sum()
}

fn format_cells(lines: &[Line], src: &[u8], tokens: &mut [Token]) {
    // Assignments first: moving `=` moves the trailing comment too.
    let mut chain_start: Option<usize> = None;
    let mut max_columns = 0;
    let close_assign = |from: usize, to: usize, max: usize, tokens: &mut [Token]| {
        for line in &lines[from..to] {
            let cols = columns(src, tokens, Some(&line.lead));
            if let Some(assign) = &line.assign {
                tokens[assign.start].spaces_before = max - cols + 1;
            }
        }
    };
    for (i, line) in lines.iter().enumerate() {
        if line.assign.is_none() {
            if let Some(start) = chain_start.take() {
                close_assign(start, i, max_columns, tokens);
                max_columns = 0;
            }
        } else {
            chain_start.get_or_insert(i);
            max_columns = max_columns.max(columns(src, tokens, Some(&line.lead)));
        }
    }
    if let Some(start) = chain_start.take() {
        close_assign(start, lines.len(), max_columns, tokens);
    }

    let mut max_columns = 0;
    let width = |line: &Line, tokens: &[Token]| {
        columns(src, tokens, Some(&line.lead)) + columns(src, tokens, line.assign.as_ref())
    };
    let close_comment = |from: usize, to: usize, max: usize, tokens: &mut [Token]| {
        for line in &lines[from..to] {
            let cols = width(line, tokens);
            if let Some(comment) = &line.comment {
                tokens[comment.start].spaces_before = max - cols + 1;
            }
        }
    };
    for (i, line) in lines.iter().enumerate() {
        if line.comment.is_none() {
            if let Some(start) = chain_start.take() {
                close_comment(start, i, max_columns, tokens);
                max_columns = 0;
            }
        } else {
            chain_start.get_or_insert(i);
            max_columns = max_columns.max(width(line, tokens));
        }
    }
    if let Some(start) = chain_start.take() {
        close_comment(start, lines.len(), max_columns, tokens);
    }
}

/// Whether the token at `subject` gets a space after it, given its neighbours in the cell.
fn space_after_token(src: &[u8], tokens: &[Token], subject: usize, before: Option<usize>, after: usize) -> bool {
    let s = &tokens[subject];
    let a = &tokens[after];
    let before_kind = before.map_or(Kind::Nil, |b| tokens[b].kind);
    let (sk, ak) = (s.kind, a.kind);
    if ak == Kind::Newline || ak == Kind::Nil {
        return false;
    }
    if sk == Kind::Ident && ak == Kind::OParen {
        return false;
    }
    if sk == Kind::Dot || ak == Kind::Dot {
        return false;
    }
    if ak == Kind::Comma || ak == Kind::Ellipsis {
        return false;
    }
    if sk == Kind::Comma {
        return true;
    }
    if matches!(sk, Kind::QuotedLit | Kind::StringLit | Kind::OQuote | Kind::OHeredoc)
        || matches!(ak, Kind::QuotedLit | Kind::StringLit | Kind::CQuote | Kind::CHeredoc)
    {
        return false;
    }
    if sk == Kind::Ident && &src[s.range.clone()] == b"in" && before_kind == Kind::Ident {
        // `[for x in [foo]: x]`: keep `in` apart from a tuple that follows it.
        return true;
    }
    if ak == Kind::OBrack && (sk == Kind::Ident || sk == Kind::NumberLit || bracket_change(s) < 0) {
        return false;
    }
    if sk == Kind::Minus {
        // Negation hugs its operand; subtraction is spaced. A minus after something that cannot
        // end an expression is a negation.
        return !matches!(
            before_kind,
            Kind::Nil
                | Kind::OParen
                | Kind::OBrace
                | Kind::OBrack
                | Kind::Equal
                | Kind::Colon
                | Kind::Comma
                | Kind::Question
                | Kind::Plus
                | Kind::Star
                | Kind::Slash
                | Kind::Percent
                | Kind::Minus
                | Kind::EqualOp
                | Kind::NotEqual
                | Kind::GreaterThan
                | Kind::GreaterThanEq
                | Kind::LessThan
                | Kind::LessThanEq
                | Kind::And
                | Kind::Or
                | Kind::Bang
        );
    }
    if sk == Kind::OBrace || ak == Kind::CBrace {
        // Braces are spaced on both sides, except an empty pair `{}`.
        return !(sk == Kind::OBrace && ak == Kind::CBrace);
    }
    if matches!(sk, Kind::TemplateInterp | Kind::TemplateControl) && ak == Kind::OBrace {
        return true;
    }
    if sk == Kind::CBrace && ak == Kind::TemplateSeqEnd {
        return true;
    }
    if sk == Kind::TemplateSeqEnd && matches!(ak, Kind::TemplateInterp | Kind::TemplateControl) {
        return false;
    }
    if bracket_change(s) > 0 {
        return false;
    }
    if bracket_change(a) < 0 {
        return false;
    }
    true
}
