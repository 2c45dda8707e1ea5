//! `fmt`: rewrites HCL native syntax into the canonical layout, byte for byte what
//! `packer fmt` 1.6.6 produces (it calls `hclwrite.Format`). The work is done on tokens, not on
//! a syntax tree, so comments, heredocs and blank-line groups come out as they went in; only the
//! spaces between tokens and at the start of lines change. Like Packer, a file that does not
//! parse is refused rather than formatted.

pub mod format;
pub mod lexer;

use lexer::Kind;

/// Why a source could not be formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The source is not valid HCL native syntax; line and column are 1-based, the column counts
    /// characters.
    #[error("{line}:{column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
}

/// Formats `src` after checking that it parses; the result is what `packer fmt` writes.
pub fn format(src: &[u8]) -> Result<Vec<u8>, FormatError> {
    check_syntax(src)?;
    Ok(format_unchecked(src))
}

/// Applies the layout rules without checking the syntax first (the equivalent of
/// `hclwrite.Format`); on broken input the result is unspecified but no bytes are lost.
pub fn format_unchecked(src: &[u8]) -> Vec<u8> {
    // The scanner skips a leading byte order mark; the formatter then drops it.
    let body = src.strip_prefix(b"\xef\xbb\xbf").unwrap_or(src);
    let mut tokens = lexer::lex(body);
    format::format_tokens(body, &mut tokens)
}

/// Whether a `closer` token ends what `opener` started.
fn closes(opener: Kind, closer: Kind) -> bool {
    matches!(
        (opener, closer),
        (Kind::OQuote, Kind::CQuote)
            | (Kind::OHeredoc, Kind::CHeredoc)
            | (Kind::OParen, Kind::CParen)
            | (Kind::OBrack, Kind::CBrack)
            | (Kind::OBrace, Kind::CBrace)
            | (Kind::TemplateInterp | Kind::TemplateControl, Kind::TemplateSeqEnd)
    )
}

/// HCL ignores newlines inside `( … )`, `[ … ]` and `${ … }`, where the `hcl-edit` parser
/// still refuses some (before `.attr`, after a unary `-`, inside a `for` header). For the
/// syntax check only, those newlines, and the comments there, become spaces of the same byte
/// length, so offsets are unchanged; the newline that ends a heredoc stays.
fn blank_ignored_newlines(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut open: Vec<Kind> = Vec::new();
    let mut prev = Kind::Nil;
    for t in lexer::lex(text.as_bytes()) {
        let inside = matches!(open.last(), Some(Kind::OParen | Kind::OBrack | Kind::TemplateInterp | Kind::TemplateControl));
        let blank = match t.kind {
            Kind::Newline => prev != Kind::CHeredoc,
            Kind::Comment => true,
            _ => false,
        };
        if inside && blank {
            for b in &mut bytes[t.range.clone()] {
                *b = b' ';
            }
        }
        match t.kind {
            Kind::OParen | Kind::OBrack | Kind::OBrace | Kind::TemplateInterp | Kind::TemplateControl | Kind::OQuote | Kind::OHeredoc => {
                open.push(t.kind)
            }
            Kind::CParen | Kind::CBrack | Kind::CBrace | Kind::TemplateSeqEnd | Kind::CQuote | Kind::CHeredoc => {
                open.pop();
            }
            _ => {}
        }
        prev = t.kind;
    }
    // Only ASCII newlines and whole comments were replaced by ASCII spaces: when a comment holds
    // multi-byte characters they all become spaces, so the result stays UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// 1-based line and character column of byte `offset` in `src`.
fn position(src: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

fn syntax_error(src: &[u8], offset: usize, message: impl Into<String>) -> FormatError {
    let (line, column) = position(src, offset);
    FormatError::Syntax { line, column, message: message.into() }
}

/// Rejects what `hclsyntax` would reject: bytes that start no token, then anything the HCL
/// parser refuses.
pub fn check_syntax(src: &[u8]) -> Result<(), FormatError> {
    let body = src.strip_prefix(b"\xef\xbb\xbf").unwrap_or(src);
    let bom = src.len() - body.len();
    let mut open_quote = 0;
    // Brackets, quotes and heredocs still open, innermost last: (kind, offset, end).
    let mut open: Vec<(Kind, usize, usize)> = Vec::new();
    for t in lexer::lex(body) {
        let at = bom + t.range.start;
        match t.kind {
            Kind::OQuote
            | Kind::OHeredoc
            | Kind::OParen
            | Kind::OBrack
            | Kind::OBrace
            | Kind::TemplateInterp
            | Kind::TemplateControl => {
                if t.kind == Kind::OQuote {
                    open_quote = at;
                }
                open.push((t.kind, at, bom + t.range.end));
            }
            Kind::CQuote | Kind::CHeredoc | Kind::CParen | Kind::CBrack | Kind::CBrace | Kind::TemplateSeqEnd => {
                let closer = String::from_utf8_lossy(&body[t.range.clone()]).trim().to_string();
                match open.pop() {
                    Some((opener, _, _)) if closes(opener, t.kind) => {}
                    Some((_, o_at, o_end)) => {
                        let (line, column) = position(src, o_at);
                        let opener = String::from_utf8_lossy(&src[o_at..o_end]).trim().to_string();
                        let message = format!("unexpected `{closer}`: `{opener}` at {line}:{column} is still open");
                        return Err(syntax_error(src, at, message));
                    }
                    None => return Err(syntax_error(src, at, format!("unexpected `{closer}`: nothing is open here"))),
                }
            }
            Kind::Eof => {
                if let Some((kind, at, end)) = open.pop() {
                    let opener = String::from_utf8_lossy(&src[at..end]).trim().to_string();
                    let message = match kind {
                        Kind::OQuote => "unterminated string: close the quote".to_string(),
                        Kind::OHeredoc => {
                            let marker = opener.trim_start_matches("<<").trim_start_matches('-');
                            format!("unterminated heredoc: end it with a line holding only {marker}, followed by a newline")
                        }
                        _ => format!("`{opener}` is never closed"),
                    };
                    return Err(syntax_error(src, at, message));
                }
            }
            Kind::BadUtf8 => return Err(syntax_error(src, at, "invalid UTF-8 byte; save the file as UTF-8")),
            Kind::QuotedNewline => {
                return Err(syntax_error(src, open_quote, "unterminated string: close the quote before the end of the line, or use a heredoc"));
            }
            Kind::Invalid => {
                let text = String::from_utf8_lossy(&body[t.range.clone()]);
                let message = if text.starts_with("/*") {
                    "unterminated comment: close it with */".to_string()
                } else {
                    let c = text.chars().next().unwrap_or(' ');
                    format!("invalid character {c:?}; remove it or put it inside a string")
                };
                return Err(syntax_error(src, at, message));
            }
            Kind::Stray => {
                let text = String::from_utf8_lossy(&body[t.range.clone()]);
                return Err(syntax_error(src, at, format!("invalid character {text:?}; remove it or put it inside a string")));
            }
            _ => {}
        }
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(syntax_error(src, bom, "invalid UTF-8; save the file as UTF-8"));
    };
    let relaxed = blank_ignored_newlines(text);
    if let Err(e) = hcl::edit::parser::parse_body(&relaxed) {
        // The rewrite keeps every byte offset, so the offset maps back onto the original text.
        let offset = e.location().offset().min(relaxed.len());
        return Err(syntax_error(src, bom + offset, e.message()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters that drive every branch of the tokenizer and of the layout rules.
    const ALPHABET: &[&str] = &[
        " ", "  ", "\t", "\n", "\r\n", "\r", "a", "in", "x-y", "1", "1.5e3", ".", ",", "=", "==", "=>", "!", "-",
        "+", "*", "/", "%", "?", ":", "(", ")", "[", "]", "{", "}", "~}", "\"", "${", "%{", "$${", "\\", "#c\n",
        "// c\n", "/*", "*/", "<<EOT\n", "<<-EOT\n", "EOT\n", "  EOT\n", "...", "&&", "||", "é", "日", "\u{feff}",
        "\u{301}", "&", "'",
    ];

    fn random_source(seed: u64) -> String {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move |n: u64| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        };
        let len = next(80);
        (0..len).map(|_| ALPHABET[next(ALPHABET.len() as u64) as usize]).collect()
    }

    fn without_blanks(b: &[u8]) -> Vec<u8> {
        b.iter().copied().filter(|&c| c != b' ' && c != b'\t').collect()
    }

    #[test]
    fn arbitrary_input_never_panics_and_loses_only_blanks() {
        for seed in 0..5000 {
            let src = random_source(seed);
            let body = src.strip_prefix('\u{feff}').unwrap_or(&src);
            let out = format_unchecked(src.as_bytes());
            assert_eq!(without_blanks(&out), without_blanks(body.as_bytes()), "seed {seed}: {src:?}");
            // The checked path either formats or reports a position inside the input.
            match format(src.as_bytes()) {
                Ok(checked) => assert_eq!(checked, out, "seed {seed}"),
                Err(FormatError::Syntax { line, column, .. }) => {
                    assert!(line >= 1 && column >= 1, "seed {seed}: {line}:{column}");
                    assert!(line <= src.split('\n').count(), "seed {seed}: line {line} past the end");
                }
            }
        }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position(b"ab\ncd", 4), (2, 2));
        assert_eq!(position("ж\nжx".as_bytes(), 5), (2, 2));
        assert_eq!(position(b"", 0), (1, 1));
    }
}
