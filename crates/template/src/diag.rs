//! Diagnostics that people can act on: every problem carries where it is (file, line, column),
//! what is wrong and, where we know it, how to fix it. Rendering shows the source line with a
//! caret under the problem, like rustc.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId(pub usize);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

/// One loaded source file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { path: path.into(), text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else { return "" };
        let end = self.line_starts.get(line).map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }
}

/// Every source file of one template, so that spans can be turned into positions.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: impl Into<PathBuf>, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() - 1)
    }

    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }

    /// `path:line:column` of the start of a span.
    pub fn position(&self, span: Span) -> Option<(&Path, usize, usize)> {
        let f = self.file(span.file)?;
        let (l, c) = f.line_col(span.start);
        Some((f.path.as_path(), l, c))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// What is wrong, lowercase, no trailing period.
    pub summary: String,
    /// More about it, when useful.
    pub detail: Option<String>,
    /// Where it is.
    pub span: Option<Span>,
    /// How to fix it ("did you mean ...", "set the variable with -var ...").
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>) -> Self {
        Self { severity: Severity::Error, summary: summary.into(), detail: None, span: None, help: None }
    }

    pub fn warning(summary: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(summary) }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic with its file position and the source line under a caret.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.summary);
        if let Some(span) = self.span {
            if let Some(file) = sources.file(span.file) {
                let (line, col) = file.line_col(span.start);
                let (end_line, end_col) = file.line_col(span.end.max(span.start));
                let text = file.line_text(line);
                let width = line.to_string().len();
                let carets = if end_line == line && end_col > col { end_col - col } else { 1 };
                let _ = writeln!(out, "{:width$}--> {}:{line}:{col}", "", file.path.display());
                let _ = writeln!(out, "{:width$} |", "");
                let _ = writeln!(out, "{line} | {text}");
                let pad: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                let _ = writeln!(out, "{:width$} | {pad}{}", "", "^".repeat(carets));
            }
        }
        if let Some(d) = &self.detail {
            let _ = writeln!(out, "  = {d}");
        }
        if let Some(h) = &self.help {
            let _ = writeln!(out, "  = help: {h}");
        }
        out
    }
}

/// A list of diagnostics, errors and warnings mixed, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn render(&self, sources: &SourceMap) -> String {
        self.0.iter().map(|d| d.render(sources)).collect::<Vec<_>>().join("\n")
    }
}

/// The closest candidate to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(name, c);
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_line_and_caret() {
        let mut sm = SourceMap::default();
        let f = sm.add("t.pkr.hcl", "source \"null\" \"a\" {\n  comunicator = \"none\"\n}\n".into());
        let start = sm.file(f).unwrap().text.find("comunicator").unwrap();
        let d = Diagnostic::error("unsupported argument \"comunicator\"")
            .at(Span { file: f, start, end: start + 11 })
            .help("did you mean \"communicator\"?");
        let r = d.render(&sm);
        assert!(r.contains("--> t.pkr.hcl:2:3"), "{r}");
        assert!(r.contains("2 |   comunicator = \"none\""), "{r}");
        assert!(r.contains("  |   ^^^^^^^^^^^"), "{r}");
        assert!(r.contains("did you mean \"communicator\"?"), "{r}");
    }

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("x", "ab\nпривет x\n".into());
        let off = f.text.find('x').unwrap();
        assert_eq!(f.line_col(off), (2, 8));
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(10_000), (3, 1));
    }

    #[test]
    fn suggests_close_names_only() {
        let c = ["communicator", "ssh_username", "ssh_timeout"];
        assert_eq!(did_you_mean("comunicator", c), Some("communicator"));
        assert_eq!(did_you_mean("ssh_timeut", c), Some("ssh_timeout"));
        assert_eq!(did_you_mean("zzz", c), None);
    }
}
