//! Filesystem functions. Relative paths are relative to the process's working directory, as in
//! Packer; `templatefile` renders a file with hcl-rs template evaluation.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hcl::Value;
use regex::Regex;

use super::{make_set, obj_arg, str_arg};

/// Go's `path.Clean`: lexical normalization of a slash-separated path.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

pub(super) fn abspath(args: &[Value]) -> Result<Value, String> {
    let p = str_arg(args, 0, "path")?;
    if p.starts_with('/') {
        return Ok(Value::String(clean(&p)));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| format!("cannot read the working directory: {e}"))?;
    Ok(Value::String(clean(&format!("{}/{p}", cwd.display()))))
}

/// Go's `filepath.Base`.
pub(super) fn basename(args: &[Value]) -> Result<Value, String> {
    let p = str_arg(args, 0, "path")?;
    if p.is_empty() {
        return Ok(Value::String(".".to_string()));
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::String("/".to_string()));
    }
    Ok(Value::String(trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()))
}

/// Go's `filepath.Dir`.
pub(super) fn dirname(args: &[Value]) -> Result<Value, String> {
    let p = str_arg(args, 0, "path")?;
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    Ok(Value::String(clean(dir)))
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    let p = expand_home(path)?;
    std::fs::read(&p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no file exists at {path}"),
        _ => format!("failed to read {path:?}: {e}"),
    })
}

pub(super) fn file(args: &[Value]) -> Result<Value, String> {
    let path = str_arg(args, 0, "path")?;
    String::from_utf8(read(&path)?).map(Value::String).map_err(|_| {
        format!("contents of {path} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead")
    })
}

pub(super) fn filebase64(args: &[Value]) -> Result<Value, String> {
    let path = str_arg(args, 0, "path")?;
    Ok(Value::String(STANDARD.encode(read(&path)?)))
}

pub(super) fn fileexists(args: &[Value]) -> Result<Value, String> {
    let path = str_arg(args, 0, "path")?;
    match std::fs::metadata(expand_home(&path)?) {
        Ok(m) if m.is_file() => Ok(Value::Bool(true)),
        Ok(m) => Err(format!("{path} is not a regular file, but {:?}", go_mode(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(format!("failed to stat {path:?}: {e}")),
    }
}

/// Go's `FileMode.String()` for what `stat` reports: type letters then `rwx` triplets.
fn go_mode(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let ft = meta.file_type();
    let mut out = String::new();
    if ft.is_dir() {
        out.push('d');
    }
    if ft.is_block_device() {
        out.push('D');
    }
    if ft.is_char_device() {
        out.push_str("Dc");
    }
    if ft.is_fifo() {
        out.push('p');
    }
    if ft.is_socket() {
        out.push('S');
    }
    if out.is_empty() {
        out.push('-');
    }
    let mode = meta.permissions().mode();
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        out.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    out
}

fn expand_home(path: &str) -> Result<PathBuf, String> {
    if path == "~" || path.starts_with("~/") {
        let home = std::env::var("HOME")
            .map_err(|_| "cannot expand ~: the HOME environment variable is not set".to_string())?;
        return Ok(PathBuf::from(format!("{home}{}", &path[1..])));
    }
    Ok(PathBuf::from(path))
}

/// `pathexpand(path)`: a leading `~` becomes the user's home directory.
pub(super) fn pathexpand(args: &[Value]) -> Result<Value, String> {
    let path = str_arg(args, 0, "path")?;
    if path.starts_with('~') && path != "~" && !path.starts_with("~/") {
        return Err("cannot expand user-specific home dir".to_string());
    }
    Ok(Value::String(expand_home(&path)?.to_string_lossy().into_owned()))
}

/// Turns a doublestar glob (`*`, `**`, `?`, `[class]`, `{a,b}`) into an anchored regex.
fn glob_regex(pattern: &str) -> Result<Regex, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut i = 0;
    let mut braces = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                let at_start = i == 0 || chars[i - 1] == '/';
                if at_start && chars.get(i + 2) == Some(&'/') {
                    re.push_str("(?:.*/)?");
                    i += 3;
                    continue;
                }
                re.push_str(".*");
                i += 2;
                continue;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| format!("failed to glob pattern {pattern:?}: unclosed ["))?;
                let mut class: String = chars[i + 1..i + 1 + end].iter().collect();
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                re.push('[');
                re.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                re.push(']');
                i += end + 2;
                continue;
            }
            '{' => {
                braces += 1;
                re.push_str("(?:");
            }
            '}' if braces > 0 => {
                braces -= 1;
                re.push(')');
            }
            ',' if braces > 0 => re.push('|'),
            '\\' if i + 1 < chars.len() => {
                re.push_str(&regex::escape(&chars[i + 1].to_string()));
                i += 2;
                continue;
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    if braces > 0 {
        return Err(format!("failed to glob pattern {pattern:?}: unclosed {{"));
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("failed to glob pattern {pattern:?}: {e}"))
}

fn walk(root: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), String> {
    let dir = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("failed to read directory {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("failed to read directory {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let meta = std::fs::metadata(entry.path())
            .map_err(|e| format!("failed to stat {}: {e}", entry.path().display()))?;
        if meta.is_dir() {
            walk(root, &child, out)?;
        } else if meta.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

/// `fileset(path, pattern)`: the files (not directories) under `path` matching `pattern`,
/// relative to `path`, sorted.
pub(super) fn fileset(args: &[Value]) -> Result<Value, String> {
    let root = str_arg(args, 0, "path")?;
    let pattern = str_arg(args, 1, "pattern")?;
    let re = glob_regex(&clean(&pattern))?;
    let mut files = Vec::new();
    walk(&expand_home(&root)?, "", &mut files)?;
    Ok(Value::Array(make_set(
        files.into_iter().filter(|f| re.is_match(f)).map(Value::String),
    )))
}

fn no_recursion(_: hcl::eval::FuncArgs) -> Result<Value, String> {
    Err("cannot recursively call templatefile from inside templatefile call".to_string())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// `templatefile(path, vars)`: renders the file as an HCL template with `vars` as its top-level
/// variables and every function but `templatefile` itself available.
pub(super) fn templatefile(args: &[Value]) -> Result<Value, String> {
    let path = str_arg(args, 0, "path")?;
    let vars = obj_arg(args, 1, "vars")?;
    let text = String::from_utf8(read(&path)?)
        .map_err(|_| format!("contents of {path:?} are not valid UTF-8"))?;
    let template: hcl::Template = text
        .parse()
        .map_err(|e| format!("failed to parse template {path:?}: {e}"))?;
    let mut ctx = hcl::eval::Context::new();
    super::declare_all(&mut ctx);
    ctx.declare_func(
        "templatefile",
        hcl::eval::FuncDef::builder()
            .variadic_param(hcl::eval::ParamType::Any)
            .build(no_recursion),
    );
    for (name, value) in vars {
        if !is_identifier(name) {
            return Err(format!(
                "invalid template variable name {name:?}: must start with a letter, followed by zero or more letters, digits, and underscores"
            ));
        }
        ctx.declare_var(name.as_str(), value.clone());
    }
    use hcl::eval::Evaluate;
    template
        .evaluate(&ctx)
        .map(Value::String)
        .map_err(|e| format!("failed to render template {path:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary directory")
    }

    fn path_str(p: &std::path::Path) -> Value {
        s(&p.to_string_lossy())
    }

    #[test]
    fn path_names() {
        assert_eq!(call("basename", vec![s("foo/bar/baz.txt")]), s("baz.txt"));
        assert_eq!(call("basename", vec![s("/a/b/")]), s("b"));
        assert_eq!(call("basename", vec![s("/")]), s("/"));
        assert!(call_err("basename", vec![list(vec![])]).contains("\"path\""));
        assert_eq!(call("dirname", vec![s("foo/bar/baz.txt")]), s("foo/bar"));
        assert_eq!(call("dirname", vec![s("baz.txt")]), s("."));
        assert_eq!(call("dirname", vec![s("/baz")]), s("/"));
        assert!(call_err("dirname", vec![Value::Null]).contains("null"));
        assert_eq!(call("abspath", vec![s("/a/./b/../c")]), s("/a/c"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(call("abspath", vec![s("x/y")]), s(&format!("{}/x/y", cwd.display())));
        assert!(call_err("abspath", vec![obj(vec![])]).contains("string required"));
    }

    #[test]
    fn pathexpand_uses_home() {
        let home = std::env::var("HOME").expect("HOME is set for tests");
        assert_eq!(call("pathexpand", vec![s("~/.ssh/id_rsa")]), s(&format!("{home}/.ssh/id_rsa")));
        assert_eq!(call("pathexpand", vec![s("/etc/x")]), s("/etc/x"));
        assert_eq!(call_err("pathexpand", vec![s("~other/x")]), "cannot expand user-specific home dir");
    }

    #[test]
    fn reading_files() {
        let dir = tmp();
        let hello = dir.path().join("hello.txt");
        std::fs::write(&hello, "Hello World").unwrap();
        let binary = dir.path().join("bin");
        std::fs::write(&binary, [0xff, 0x00]).unwrap();
        assert_eq!(call("file", vec![path_str(&hello)]), s("Hello World"));
        assert!(call_err("file", vec![path_str(&binary)]).contains("not valid UTF-8"));
        let missing = dir.path().join("missing");
        assert_eq!(
            call_err("file", vec![path_str(&missing)]),
            format!("no file exists at {}", missing.to_string_lossy())
        );
        assert_eq!(call("filebase64", vec![path_str(&binary)]), s("/wA="));
        assert!(call_err("filebase64", vec![path_str(&missing)]).starts_with("no file exists"));
        assert_eq!(call("fileexists", vec![path_str(&hello)]), Value::Bool(true));
        assert_eq!(call("fileexists", vec![path_str(&missing)]), Value::Bool(false));
        std::fs::create_dir(dir.path().join("d")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("d"), std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(
            call_err("fileexists", vec![path_str(&dir.path().join("d"))]),
            format!("{}/d is not a regular file, but \"drwxr-x---\"", dir.path().display())
        );
    }

    #[test]
    fn fileset_globs() {
        let dir = tmp();
        for f in ["a.txt", "b.txt", "c.md", "sub/d.txt", "sub/deep/e.txt"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let root = path_str(dir.path());
        assert_eq!(call("fileset", vec![root.clone(), s("*.txt")]), strs(&["a.txt", "b.txt"]));
        assert_eq!(
            call("fileset", vec![root.clone(), s("**/*.txt")]),
            strs(&["a.txt", "b.txt", "sub/d.txt", "sub/deep/e.txt"])
        );
        assert_eq!(call("fileset", vec![root.clone(), s("{a,c}.*")]), strs(&["a.txt", "c.md"]));
        assert_eq!(call("fileset", vec![root.clone(), s("sub/*")]), strs(&["sub/d.txt"]));
        assert_eq!(call("fileset", vec![root.clone(), s("[ab].txt")]), strs(&["a.txt", "b.txt"]));
        assert!(call_err("fileset", vec![root, s("[ab.txt")]).starts_with("failed to glob pattern"));
    }

    #[test]
    fn templatefile_renders_with_vars_and_functions() {
        let dir = tmp();
        let tpl = dir.path().join("t.tpl");
        std::fs::write(
            &tpl,
            "hello ${upper(name)}\n%{ for ip in addrs ~}\nserver ${ip}\n%{ endfor ~}\n",
        )
        .unwrap();
        let vars = obj(vec![("name", s("world")), ("addrs", strs(&["10.0.0.1", "10.0.0.2"]))]);
        assert_eq!(
            call("templatefile", vec![path_str(&tpl), vars]),
            s("hello WORLD\nserver 10.0.0.1\nserver 10.0.0.2\n")
        );
        let rec = dir.path().join("rec.tpl");
        std::fs::write(&rec, "${templatefile(\"x\", {})}").unwrap();
        assert!(
            call_err("templatefile", vec![path_str(&rec), obj(vec![])])
                .contains("cannot recursively call templatefile")
        );
        assert!(call_err("templatefile", vec![path_str(&tpl), s("x")]).contains("\"vars\""));
        assert!(
            call_err("templatefile", vec![path_str(&tpl), obj(vec![("1x", s("y"))])])
                .contains("invalid template variable name")
        );
    }
}
