//! The one secret filter every output of a build goes through: the screen, `--json` events,
//! Packer's machine-readable lines, the debug log and anything copied into an image.
//!
//! Packer's filter replaces only the exact secret bytes, so a password printed base64-encoded,
//! percent-encoded, JSON-escaped or shell-quoted leaks. [`Redactor::add`] registers a secret with
//! all of those transformed forms, and for multi-line secrets (private keys) each long line on its
//! own. Matching is one Aho-Corasick automaton over all forms. Overlapping occurrences of
//! different secrets are merged into one replaced span, so no byte of any occurrence survives
//! (a leftmost-longest pass would leave the tail of the second of two overlapping secrets).
//!
//! A [`Redactor`] is a cheap handle: clones share the registered secrets, so a secret learnt in
//! the middle of a build (a generated password, a temporary key) is hidden by every sink at once.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What every registered form is replaced with, as in Packer.
pub const REPLACEMENT: &str = "<sensitive>";

/// Secrets shorter than this are refused: they would redact ordinary words.
pub const MIN_SECRET_LEN: usize = 4;

/// Lines of a multi-line secret at least this long are also redacted on their own.
pub const MIN_LINE_LEN: usize = 16;

/// Base64 fragments shorter than this are not registered (they would match random text).
const MIN_BASE64_FRAGMENT: usize = 8;

/// Why a secret was not registered: `TooShort` is a warning to show, `Matcher` must stop the build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefused {
    #[error(
        "a sensitive value of {len} characters is too short to be hidden from output (at least {MIN_SECRET_LEN} needed); it will be shown as is"
    )]
    TooShort { len: usize },
    #[error("cannot build the secret matcher ({reason}); refusing to continue without redaction")]
    Matcher { reason: String },
}

/// Path segment encoding: everything except RFC 3986 unreserved characters.
const PATH_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// `application/x-www-form-urlencoded` as Go's `url.QueryEscape` and browsers do (space is `+`).
const FORM_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'*')
    .remove(b' ');

/// The compiled matcher; replaced as a whole when a secret is added.
#[derive(Default)]
struct Matcher {
    automaton: Option<AhoCorasick>,
    forms: Vec<String>,
    max_len: usize,
    has_newline: bool,
}

/// The shared secret filter. Clones share state.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Arc<Matcher>>>,
    secrets: Arc<RwLock<BTreeSet<String>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        f.debug_struct("Redactor")
            .field("forms", &self.snapshot().forms.len())
            .finish()
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret and its transformed forms. Returns how many distinct forms are now
    /// hidden for it, or why it was refused (too short).
    pub fn add(&self, secret: &str) -> Result<usize, SecretRefused> {
        let len = secret.chars().count();
        if len < MIN_SECRET_LEN {
            return Err(SecretRefused::TooShort { len });
        }
        let forms = forms_of(secret);
        let count = forms.len();
        let mut secrets = write_lock(&self.secrets);
        secrets.insert(secret.to_owned());
        let mut all = BTreeSet::new();
        for s in secrets.iter() {
            all.extend(forms_of(s));
        }
        let matcher = match compile(all.into_iter().collect()) {
            Ok(m) => m,
            Err(reason) => {
                secrets.remove(secret);
                return Err(SecretRefused::Matcher { reason });
            }
        };
        *write_lock(&self.inner) = Arc::new(matcher);
        Ok(count)
    }

    /// Every form currently hidden (for tests and diagnostics; holds secrets, never print it).
    pub fn forms(&self) -> Vec<String> {
        self.snapshot().forms.clone()
    }

    /// Whether no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.snapshot().forms.is_empty()
    }

    /// Length in bytes of the longest registered form.
    pub fn max_form_len(&self) -> usize {
        self.snapshot().max_len
    }

    fn snapshot(&self) -> Arc<Matcher> {
        read_lock(&self.inner).clone()
    }

    /// Returns `text` with every registered form replaced by [`REPLACEMENT`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let m = self.snapshot();
        let spans = spans(&m, text.as_bytes());
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in spans {
            // Forms are whole UTF-8 strings, so span ends fall on character boundaries.
            out.push_str(&text[at..s]);
            out.push_str(REPLACEMENT);
            at = e;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// Byte version of [`Redactor::redact`].
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let m = self.snapshot();
        let spans = spans(&m, bytes);
        if spans.is_empty() {
            return Cow::Borrowed(bytes);
        }
        Cow::Owned(replace_spans(bytes, &spans))
    }
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while holding it; the data is a plain value.
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn compile(forms: Vec<String>) -> Result<Matcher, String> {
    let max_len = forms.iter().map(String::len).max().unwrap_or(0);
    let has_newline = forms.iter().any(|f| f.contains('\n'));
    // Standard match kind so overlapping occurrences can all be found.
    let automaton = if forms.is_empty() {
        None
    } else {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&forms)
            .map_err(|e| e.to_string())?;
        Some(ac)
    };
    Ok(Matcher {
        automaton,
        forms,
        max_len,
        has_newline,
    })
}

/// Merged, sorted `[start, end)` spans of every occurrence of every form.
fn spans(m: &Matcher, hay: &[u8]) -> Vec<(usize, usize)> {
    let Some(ac) = &m.automaton else {
        return Vec::new();
    };
    let mut raw: Vec<(usize, usize)> = ac
        .find_overlapping_iter(hay)
        .map(|mt| (mt.start(), mt.end()))
        .collect();
    raw.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(raw.len());
    for (s, e) in raw {
        match merged.last_mut() {
            Some(last) if s < last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

fn replace_spans(bytes: &[u8], spans: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for &(s, e) in spans {
        out.extend_from_slice(&bytes[at..s]);
        out.extend_from_slice(REPLACEMENT.as_bytes());
        at = e;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

/// Every transformed form of one secret (including itself).
pub fn forms_of(secret: &str) -> BTreeSet<String> {
    let mut forms = BTreeSet::new();
    let add_with_encodings = |forms: &mut BTreeSet<String>, s: &str| {
        forms.insert(s.to_owned());
        base64_forms(forms, s.as_bytes());
        let path = utf8_percent_encode(s, PATH_SET).to_string();
        forms.insert(lower_hex_escapes(&path));
        forms.insert(path);
        let all = utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        forms.insert(lower_hex_escapes(&all));
        forms.insert(all);
        let form = utf8_percent_encode(s, FORM_SET)
            .to_string()
            .replace(' ', "+");
        forms.insert(lower_hex_escapes(&form));
        forms.insert(form);
        let json = json_inner(s);
        let slashed = json.replace('/', "\\/");
        forms.insert(json_ascii(&slashed));
        forms.insert(slashed);
        forms.insert(json_ascii(&json));
        forms.insert(json);
        forms.insert(s.replace('\'', "'\\''"));
        forms.insert(s.replace('\'', "'\"'\"'"));
        forms.insert(double_quoted_inner(s));
        forms.insert(backslash_quoted(s));
        // PowerShell: '' inside single quotes, backtick escapes inside double quotes (the leak
        // reported in packer#12918).
        forms.insert(s.replace('\'', "''"));
        forms.insert(powershell_double_quoted_inner(s));
        // Packer's machine-readable escaping and C-style escaping of line breaks.
        forms.insert(s.replace('\r', "\\r").replace('\n', "\\n"));
    };
    add_with_encodings(&mut forms, secret);
    if secret.contains('\n') {
        let crlf = secret.replace("\r\n", "\n").replace('\n', "\r\n");
        forms.insert(crlf);
        for line in secret.lines() {
            let line = line.trim();
            if line.chars().count() >= MIN_LINE_LEN {
                add_with_encodings(&mut forms, line);
            }
        }
    }
    forms.retain(|f| f.chars().count() >= MIN_SECRET_LEN);
    forms
}

/// Base64 forms: whole value in both alphabets with and without padding, and the characters that
/// depend only on the secret when it sits at each of the three byte alignments inside a longer
/// encoded value (which covers `user:secret` in HTTP basic auth and secrets inside encoded files).
fn base64_forms(forms: &mut BTreeSet<String>, bytes: &[u8]) {
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.insert(engine.encode(bytes));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for k in 0..3usize {
            let mut buf = vec![0u8; k];
            buf.extend_from_slice(bytes);
            let enc = engine.encode(&buf);
            let first = (8 * k).div_ceil(6);
            let last = (8 * (k + bytes.len())) / 6;
            if last > first && last - first >= MIN_BASE64_FRAGMENT && last <= enc.len() {
                forms.insert(enc[first..last].to_owned());
            }
        }
    }
}

fn lower_hex_escapes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push('%');
            out.push((b[i + 1] as char).to_ascii_lowercase());
            out.push((b[i + 2] as char).to_ascii_lowercase());
            i += 3;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The secret as it appears between the quotes of a JSON string (serde_json's escaping).
fn json_inner(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// JSON with non-ASCII escaped as `\uXXXX`, as Python's `json.dumps` writes it by default.
fn json_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The secret inside a POSIX shell double-quoted string.
fn double_quoted_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The secret as bash's `printf %q` writes it: a backslash before every special character.
fn backslash_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let plain = c.is_alphanumeric()
            || matches!(c, ',' | '.' | '_' | '+' | ':' | '@' | '%' | '/' | '-' | '=')
            || (i > 0 && matches!(c, '~' | '#'));
        if !plain {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The secret inside a PowerShell double-quoted string.
fn powershell_double_quoted_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '`' | '"' | '$') {
            out.push('`');
        }
        out.push(c);
    }
    out
}

/// A writer that hides registered secrets from everything written through it, including a
/// secret split across two `write` calls: it holds back the last `max_form_len - 1` bytes (or
/// everything after the last newline when no secret contains a line break) until more data shows
/// they are not the start of a secret. `flush` emits everything; dropping flushes best-effort.
pub struct RedactingWriter<W: Write> {
    inner: Option<W>,
    redactor: Redactor,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    pub fn new(inner: W, redactor: Redactor) -> Self {
        Self {
            inner: Some(inner),
            redactor,
            pending: Vec::new(),
        }
    }

    pub fn get_ref(&self) -> &W {
        // `inner` is only None after into_inner consumed self.
        self.inner
            .as_ref()
            .expect("inner writer present until into_inner")
    }

    /// Flushes everything held back and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self
            .inner
            .take()
            .expect("inner writer present until into_inner"))
    }

    /// How many bytes may be emitted now without risking a secret split at the boundary.
    fn safe_len(&self, m: &Matcher, spans: &[(usize, usize)]) -> usize {
        let len = self.pending.len();
        let mut cut = if m.max_len == 0 {
            len
        } else if !m.has_newline {
            // No form crosses a line break: everything through the last newline is complete,
            // and so is anything further left than the longest form.
            let by_len = len.saturating_sub(m.max_len - 1);
            let by_line = self
                .pending
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            by_len.max(by_line)
        } else {
            len.saturating_sub(m.max_len - 1)
        };
        // Never cut inside a match: keep the whole span for the next round.
        for &(s, e) in spans {
            if s < cut && cut < e {
                cut = s;
            }
        }
        cut
    }

    fn emit(&mut self, upto_end: bool) -> io::Result<()> {
        let m = self.redactor.snapshot();
        let spans = spans(&m, &self.pending);
        let cut = if upto_end {
            self.pending.len()
        } else {
            self.safe_len(&m, &spans)
        };
        if cut == 0 {
            return Ok(());
        }
        let head: Vec<(usize, usize)> = spans.iter().copied().filter(|&(_, e)| e <= cut).collect();
        let out = replace_spans(&self.pending[..cut], &head);
        let inner = self
            .inner
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already taken"))?;
        inner.write_all(&out)?;
        self.pending.drain(..cut);
        Ok(())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let before = self.pending.len();
        self.pending.extend_from_slice(buf);
        if let Err(e) = self.emit(false) {
            // Nothing of `buf` counts as written when the inner writer failed.
            self.pending.truncate(before.min(self.pending.len()));
            return Err(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit(true)?;
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            let _ = self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_only_touches_escapes() {
        assert_eq!(lower_hex_escapes("a%2Fb%3D"), "a%2fb%3d");
        assert_eq!(lower_hex_escapes("100%"), "100%");
    }

    #[test]
    fn base64_fragment_at_offset_matches_wrapped_value() {
        let mut forms = BTreeSet::new();
        base64_forms(&mut forms, b"s3cr3t-passw0rd");
        let wrapped = STANDARD.encode(b"admin:s3cr3t-passw0rd");
        assert!(
            forms.iter().any(|f| wrapped.contains(f.as_str())),
            "{wrapped}"
        );
    }
}
