//! A tokenizer for HCL native syntax that yields the same token stream as the scanner of
//! `hclsyntax` (the one `hclwrite.Format` runs on): token kinds, token boundaries that matter to
//! the layout rules, and the number of spaces that separated each token from the previous one.
//! Quoted strings, `${…}` interpolations, `%{…}` directives, heredocs and all three comment forms
//! are recognised; literal text inside templates may be split into fewer pieces than upstream,
//! which the layout rules cannot observe (adjacent literal pieces never get spaces between them).

use std::ops::Range;

/// The kind of a token, mirroring `hclsyntax.TokenType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    Star,
    Slash,
    Plus,
    Minus,
    Percent,
    Equal,
    EqualOp,
    NotEqual,
    LessThan,
    LessThanEq,
    GreaterThan,
    GreaterThanEq,
    And,
    Or,
    Bang,
    Dot,
    Comma,
    DoubleColon,
    Ellipsis,
    FatArrow,
    Question,
    Colon,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    QuotedLit,
    StringLit,
    NumberLit,
    Ident,
    Comment,
    Newline,
    Eof,
    /// `&`, `|`, `~`, `^`, `;`, `` ` ``, `'`: scanned as tokens, rejected by the parser.
    Stray,
    /// A newline inside a quoted string (an unterminated string).
    QuotedNewline,
    /// A character that starts no token.
    Invalid,
    /// Bytes that are not UTF-8.
    BadUtf8,
    /// Placeholder used before the first or after the last token of a line.
    Nil,
}

/// One token: its kind, where its bytes are in the source, and how many spaces preceded it.
#[derive(Clone, Debug)]
pub struct Token {
    pub kind: Kind,
    pub range: Range<usize>,
    pub spaces_before: usize,
}

enum Mode {
    Main,
    Quoted,
    Heredoc { marker: Vec<u8>, start_of_line: bool },
}

/// Splits `src` into tokens; the last token is always [`Kind::Eof`]. Scanning never fails:
/// problems come out as [`Kind::Invalid`], [`Kind::BadUtf8`] or [`Kind::QuotedNewline`] tokens.
pub fn lex(src: &[u8]) -> Vec<Token> {
    Lexer { src, pos: 0, tokens: Vec::new(), last_end: 0, modes: vec![Mode::Main], braces: 0, ret_braces: Vec::new() }
        .run()
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    last_end: usize,
    modes: Vec<Mode>,
    braces: i64,
    ret_braces: Vec<i64>,
}

impl Lexer<'_> {
    fn run(mut self) -> Vec<Token> {
        while self.pos < self.src.len() {
            // The mode stack never empties: `Main` is at the bottom and only nested modes pop.
            match self.modes.last() {
                Some(Mode::Quoted) => self.quoted(),
                Some(Mode::Heredoc { .. }) => self.heredoc(),
                _ => self.main(),
            }
        }
        let end = self.src.len();
        self.emit(Kind::Eof, end, end);
        self.tokens
    }

    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        let spaces_before = start.saturating_sub(self.last_end);
        self.tokens.push(Token { kind, range: start..end, spaces_before });
        self.last_end = end;
        self.pos = end;
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.src[self.pos..].starts_with(s)
    }

    /// The UTF-8 character at `i` and its length, or `None` past the end or on bytes that are
    /// not UTF-8.
    fn char_at(&self, i: usize) -> Option<(char, usize)> {
        let b = *self.src.get(i)?;
        let len = match b {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return None,
        };
        let bytes = self.src.get(i..i + len)?;
        let s = std::str::from_utf8(bytes).ok()?;
        s.chars().next().map(|c| (c, len))
    }

    fn ident_len(&self, i: usize) -> usize {
        let Some((c, len)) = self.char_at(i) else { return 0 };
        if !(c == '_' || unicode_ident::is_xid_start(c)) {
            return 0;
        }
        let mut j = i + len;
        while j < self.src.len() {
            match self.char_at(j) {
                Some((c, l)) if c == '-' || unicode_ident::is_xid_continue(c) => j += l,
                _ => break,
            }
        }
        j - i
    }

    fn newline_len(&self, i: usize) -> usize {
        match (self.at(i), self.at(i + 1)) {
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            _ => 0,
        }
    }

    fn invalid_char(&mut self) {
        let start = self.pos;
        match self.char_at(start) {
            Some((_, len)) => self.emit(Kind::Invalid, start, start + len),
            None => self.emit(Kind::BadUtf8, start, start + 1),
        }
    }

    fn open_template_sequence(&mut self, kind: Kind) {
        let start = self.pos;
        let mut end = start + 2;
        if self.at(end) == Some(b'~') {
            end += 1;
        }
        self.emit(kind, start, end);
        self.braces += 1;
        self.ret_braces.push(self.braces);
        if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
            *start_of_line = false;
        }
        self.modes.push(Mode::Main);
    }

    fn close_brace(&mut self, len: usize, always_seq_end: bool) {
        let start = self.pos;
        if self.ret_braces.last() == Some(&self.braces) {
            self.emit(Kind::TemplateSeqEnd, start, start + len);
            self.braces -= 1;
            self.ret_braces.pop();
            self.modes.pop();
        } else {
            let kind = if always_seq_end { Kind::TemplateSeqEnd } else { Kind::CBrace };
            self.emit(kind, start, start + len);
            self.braces -= 1;
        }
    }

    fn main(&mut self) {
        let start = self.pos;
        let b = self.src[start];
        match b {
            b' ' | b'\t' => {
                let mut j = start;
                while matches!(self.at(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                self.pos = j;
            }
            b'0'..=b'9' => self.number(),
            b'#' => self.line_comment(),
            b'/' if self.at(start + 1) == Some(b'/') => self.line_comment(),
            b'/' if self.at(start + 1) == Some(b'*') => {
                match self.src[start + 2..].windows(2).position(|w| w == b"*/") {
                    Some(p) => self.emit(Kind::Comment, start, start + 2 + p + 2),
                    // An unterminated block comment leaves the scanner outside a final state.
                    None => self.emit(Kind::Invalid, start, self.src.len()),
                }
            }
            b'\n' => self.emit(Kind::Newline, start, start + 1),
            b'\r' if self.at(start + 1) == Some(b'\n') => self.emit(Kind::Newline, start, start + 2),
            b'"' => {
                self.emit(Kind::OQuote, start, start + 1);
                self.modes.push(Mode::Quoted);
            }
            b'<' if self.starts_with(b"<<") && self.heredoc_opener().is_some() => {
                if let Some((end, marker)) = self.heredoc_opener() {
                    self.emit(Kind::OHeredoc, start, end);
                    self.modes.push(Mode::Heredoc { marker, start_of_line: true });
                }
            }
            b'{' => {
                self.emit(Kind::OBrace, start, start + 1);
                self.braces += 1;
            }
            b'}' => self.close_brace(1, false),
            b'~' if self.at(start + 1) == Some(b'}') => self.close_brace(2, true),
            _ => {
                if let Some((kind, len)) = self.operator() {
                    self.emit(kind, start, start + len);
                } else {
                    let len = self.ident_len(start);
                    if len > 0 {
                        self.emit(Kind::Ident, start, start + len);
                    } else {
                        self.invalid_char();
                    }
                }
            }
        }
    }

    fn operator(&self) -> Option<(Kind, usize)> {
        const TWO: [(&[u8], Kind); 9] = [
            (b"==", Kind::EqualOp),
            (b"!=", Kind::NotEqual),
            (b">=", Kind::GreaterThanEq),
            (b"<=", Kind::LessThanEq),
            (b"&&", Kind::And),
            (b"||", Kind::Or),
            (b"::", Kind::DoubleColon),
            (b"=>", Kind::FatArrow),
            (b"...", Kind::Ellipsis),
        ];
        for (text, kind) in TWO {
            if self.starts_with(text) {
                return Some((kind, text.len()));
            }
        }
        let kind = match self.src[self.pos] {
            b'[' => Kind::OBrack,
            b']' => Kind::CBrack,
            b'(' => Kind::OParen,
            b')' => Kind::CParen,
            b'.' => Kind::Dot,
            b',' => Kind::Comma,
            b'*' => Kind::Star,
            b'/' => Kind::Slash,
            b'%' => Kind::Percent,
            b'+' => Kind::Plus,
            b'-' => Kind::Minus,
            b'=' => Kind::Equal,
            b'<' => Kind::LessThan,
            b'>' => Kind::GreaterThan,
            b'!' => Kind::Bang,
            b'?' => Kind::Question,
            b':' => Kind::Colon,
            b'&' | b'|' | b'~' | b'^' | b';' | b'`' | b'\'' => Kind::Stray,
            _ => return None,
        };
        Some((kind, 1))
    }

    /// `digit ( "" | (C - '.') | C* (C - '.') )` with `C = digit | '.' | [eE] [+-]? digit`:
    /// the longest run of continuation elements that does not end in a dot.
    fn number(&mut self) {
        let start = self.pos;
        let mut j = start + 1;
        let mut last_good = j;
        loop {
            match self.at(j) {
                Some(b'0'..=b'9') => {
                    j += 1;
                    last_good = j;
                }
                Some(b'.') => j += 1,
                Some(b'e' | b'E') => {
                    let mut k = j + 1;
                    if matches!(self.at(k), Some(b'+' | b'-')) {
                        k += 1;
                    }
                    if matches!(self.at(k), Some(b'0'..=b'9')) {
                        j = k + 1;
                        last_good = j;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        self.emit(Kind::NumberLit, start, last_good);
    }

    fn line_comment(&mut self) {
        let start = self.pos;
        let end = match self.src[start..].iter().position(|&c| c == b'\n') {
            Some(p) => start + p + 1,
            None => self.src.len(),
        };
        self.emit(Kind::Comment, start, end);
    }

    /// `<<` `-`? Ident Newline: returns the end of the opener and the closing marker.
    fn heredoc_opener(&self) -> Option<(usize, Vec<u8>)> {
        let mut i = self.pos + 2;
        if self.at(i) == Some(b'-') {
            i += 1;
        }
        let len = self.ident_len(i);
        if len == 0 {
            return None;
        }
        let marker = self.src[i..i + len].to_vec();
        let nl = self.newline_len(i + len);
        if nl == 0 {
            return None;
        }
        Some((i + len + nl, marker))
    }

    /// Length of an escaped sequence start `$${`/`%%{` (with an optional `~`), or of a lone
    /// `$`/`%` that does not open a sequence.
    fn template_escape_len(&self, i: usize) -> usize {
        let sigil = self.src[i];
        if self.at(i + 1) == Some(sigil) && self.at(i + 2) == Some(b'{') {
            if self.at(i + 3) == Some(b'~') { 4 } else { 3 }
        } else {
            1
        }
    }

    fn quoted(&mut self) {
        let start = self.pos;
        let b = self.src[start];
        match b {
            b'$' | b'%' if self.at(start + 1) == Some(b'{') => {
                let kind = if b == b'$' { Kind::TemplateInterp } else { Kind::TemplateControl };
                self.open_template_sequence(kind);
            }
            b'"' => {
                self.emit(Kind::CQuote, start, start + 1);
                self.modes.pop();
            }
            b'\r' | b'\n' => {
                let mut j = start;
                while matches!(self.at(j), Some(b'\r' | b'\n')) {
                    j += 1;
                }
                self.emit(Kind::QuotedNewline, start, j);
            }
            _ => {
                let mut j = start;
                while j < self.src.len() {
                    match self.src[j] {
                        b'"' | b'\r' | b'\n' => break,
                        b'$' | b'%' if self.at(j + 1) == Some(b'{') => break,
                        b'$' | b'%' => j += self.template_escape_len(j),
                        b'\\' => match self.char_at(j + 1) {
                            Some((c, l)) if c != '\r' && c != '\n' => j += 1 + l,
                            _ => break,
                        },
                        _ => match self.char_at(j) {
                            Some((_, l)) => j += l,
                            None => break,
                        },
                    }
                }
                if j > start {
                    self.emit(Kind::QuotedLit, start, j);
                } else if b == b'\\' {
                    self.emit(Kind::Invalid, start, start + 1);
                } else {
                    self.invalid_char();
                }
            }
        }
    }

    fn heredoc(&mut self) {
        let start = self.pos;
        let b = self.src[start];
        if (b == b'$' || b == b'%') && self.at(start + 1) == Some(b'{') {
            let kind = if b == b'$' { Kind::TemplateInterp } else { Kind::TemplateControl };
            self.open_template_sequence(kind);
            return;
        }
        // One literal piece: a lone sigil or escape, or a run of plain characters.
        let mut j = start;
        if b == b'$' || b == b'%' {
            j += self.template_escape_len(j);
        } else {
            while j < self.src.len() {
                match self.src[j] {
                    b'$' | b'%' | b'\r' | b'\n' => break,
                    _ => match self.char_at(j) {
                        Some((_, l)) => j += l,
                        None => break,
                    },
                }
            }
        }
        let nl = self.newline_len(j);
        if nl == 0 {
            if j == start {
                // A lone `\r` or bytes that are not UTF-8.
                match self.char_at(start) {
                    Some(_) => self.emit(Kind::Invalid, start, self.src.len()),
                    None => self.emit(Kind::BadUtf8, start, start + 1),
                }
                return;
            }
            if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
                *start_of_line = false;
            }
            self.emit(Kind::StringLit, start, j);
            return;
        }
        let is_marker = match self.modes.last() {
            Some(Mode::Heredoc { marker, start_of_line: true }) => {
                trim_space(&self.src[start..j]) == marker.as_slice()
            }
            _ => false,
        };
        if is_marker {
            self.emit(Kind::CHeredoc, start, j);
            self.emit(Kind::Newline, j, j + nl);
            self.modes.pop();
        } else {
            if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
                *start_of_line = true;
            }
            self.emit(Kind::StringLit, start, j + nl);
        }
    }
}

/// Trims what Go's `bytes.TrimSpace` trims (ASCII and Unicode white space).
fn trim_space(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().as_bytes(),
        Err(_) => b.trim_ascii(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src.as_bytes())
            .into_iter()
            .map(|t| (t.kind, src[t.range].to_string()))
            .collect()
    }

    #[test]
    fn numbers_never_end_in_a_dot() {
        let k = kinds("1.5 2. 3e+4 5e x.0.y");
        let texts: Vec<_> = k.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(texts, ["1.5", "2", ".", "3e+4", "5", "e", "x", ".", "0", ".", "y", ""]);
    }

    #[test]
    fn line_comments_keep_their_newline() {
        let k = kinds("a # c\n/* b\n */ // d\r\n");
        assert_eq!(k[1], (Kind::Comment, "# c\n".into()));
        assert_eq!(k[2], (Kind::Comment, "/* b\n */".into()));
        assert_eq!(k[3], (Kind::Comment, "// d\r\n".into()));
    }

    #[test]
    fn quoted_templates_nest() {
        let k = kinds(r#""a${f("}")}$${x}%{~ if b ~}c""#);
        let got: Vec<_> = k.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            got,
            [
                Kind::OQuote,
                Kind::QuotedLit,
                Kind::TemplateInterp,
                Kind::Ident,
                Kind::OParen,
                Kind::OQuote,
                Kind::QuotedLit,
                Kind::CQuote,
                Kind::CParen,
                Kind::TemplateSeqEnd,
                Kind::QuotedLit,
                Kind::TemplateControl,
                Kind::Ident,
                Kind::Ident,
                Kind::TemplateSeqEnd,
                Kind::QuotedLit,
                Kind::CQuote,
                Kind::Eof
            ]
        );
        assert_eq!(k[10].1, "$${x}");
    }

    #[test]
    fn heredoc_ends_at_its_marker_line_only() {
        let k = kinds("a = <<-EOT\n  x EOT\n  ${y}\n  EOT\nb = 1\n");
        assert_eq!(k[2], (Kind::OHeredoc, "<<-EOT\n".into()));
        assert_eq!(k[3], (Kind::StringLit, "  x EOT\n".into()));
        assert_eq!(k[4], (Kind::StringLit, "  ".into()));
        assert_eq!(k[8], (Kind::StringLit, "\n".into()));
        assert_eq!(k[9], (Kind::CHeredoc, "  EOT".into()));
        assert_eq!(k[10], (Kind::Newline, "\n".into()));
        assert_eq!(k[11], (Kind::Ident, "b".into()));
    }

    #[test]
    fn spaces_before_count_the_gap() {
        let t = lex(b"a  =\t 1");
        let gaps: Vec<_> = t.iter().map(|t| t.spaces_before).collect();
        assert_eq!(gaps, [0, 2, 2, 0]);
    }

    #[test]
    fn identifiers_take_dashes_and_unicode() {
        let k = kinds("имя-x_1 = 2");
        assert_eq!(k[0], (Kind::Ident, "имя-x_1".into()));
    }
}
