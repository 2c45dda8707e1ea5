//! The `fmt` subcommand: rewrites `*.pkr.hcl` and `*.pkrvars.hcl` files in the canonical layout
//! of `packer fmt` 1.6.6, prints the names of the files that changed, and optionally shows a
//! unified diff or only checks. Reads standard input when the path is `-` (or when no path is
//! given and standard input is not a terminal) and writes the result to standard output.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use cce_template::fmt as hclfmt;

/// Exit code when `-check` finds a file that is not in canonical layout.
const CHECK_FAILED: u8 = 3;

/// Flags of `fmt`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only check that the input is formatted: print the names of the files that would change,
    /// exit 3 if any would; write nothing.
    #[arg(long)]
    pub check: bool,

    /// Print a unified diff of the changes.
    #[arg(long)]
    pub diff: bool,

    /// Also format the templates in subdirectories.
    #[arg(long)]
    pub recursive: bool,

    /// Write the result back to the files (`-write=false` only reports). Like Go's boolean
    /// flags, a value must follow `=`: `-write false` is `-write` and a path named `false`.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set)]
    pub write: bool,

    /// Files or folders to format; `-` reads standard input. Folders take the `*.pkr.hcl` and
    /// `*.pkrvars.hcl` files they contain.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
}

/// What happened to the inputs, to pick the exit code.
#[derive(Default)]
struct Outcome {
    changed: usize,
    failed: usize,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut paths = args.paths.clone();
    if paths.is_empty() {
        if std::io::stdin().is_terminal() {
            eprintln!("error: no template given: pass a file or folder (`.` for this one), or `-` to read standard input");
            return Ok(crate::exit::USAGE);
        }
        paths.push("-".into());
    }
    let mut out = Outcome::default();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for path in &paths {
        if path == "-" {
            format_stdin(&args, &mut out, &mut stdout)?;
            continue;
        }
        let p = Path::new(path);
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                out.failed += 1;
                continue;
            }
        };
        if meta.is_dir() {
            format_dir(&args, p, &mut out, &mut stdout)?;
        } else if is_template(path) {
            format_file(&args, p, &mut out, &mut stdout)?;
        } else {
            eprintln!("error: {path} is not a template: `fmt` takes *.pkr.hcl and *.pkrvars.hcl files (JSON templates are left alone)");
            out.failed += 1;
        }
    }
    stdout.flush().context("writing to standard output")?;
    Ok(if out.failed > 0 {
        crate::exit::FAILED
    } else if args.check && out.changed > 0 {
        CHECK_FAILED
    } else {
        crate::exit::OK
    })
}

fn is_template(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl")
}

/// Hidden folders (`.git`, `.terraform`) are not descended into by `-recursive`. Hidden
/// templates in a folder are formatted, as Packer 1.6.6 does.
fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Joins like Go's `filepath.Join`, so that names print as Packer prints them (`a/b`, not `./a/b`).
fn join(dir: &Path, name: &str) -> PathBuf {
    let mut joined = PathBuf::new();
    for c in dir.components() {
        if c != std::path::Component::CurDir {
            joined.push(c);
        }
    }
    joined.push(name);
    joined
}

fn format_dir(args: &Args, dir: &Path, out: &mut Outcome, stdout: &mut impl Write) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot read folder {}: {e}", dir.display());
            out.failed += 1;
            return Ok(());
        }
    };
    let mut names: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        // Follow symlinks like `os.Stat` does, so a linked folder counts as a folder.
        let is_dir = std::fs::metadata(entry.path()).map(|m| m.is_dir()).unwrap_or(false);
        names.push((name, is_dir));
    }
    names.sort();
    for (name, is_dir) in names {
        let path = join(dir, &name);
        if is_dir {
            if args.recursive && !is_hidden(&name) {
                format_dir(args, &path, out, stdout)?;
            }
        } else if is_template(&name) {
            format_file(args, &path, out, stdout)?;
        }
    }
    Ok(())
}

fn format_file(args: &Args, path: &Path, out: &mut Outcome, stdout: &mut impl Write) -> anyhow::Result<()> {
    let src = match std::fs::read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            out.failed += 1;
            return Ok(());
        }
    };
    let formatted = match hclfmt::format(&src) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}:{e}; fix the syntax and run fmt again", path.display());
            out.failed += 1;
            return Ok(());
        }
    };
    if formatted == src {
        return Ok(());
    }
    out.changed += 1;
    writeln!(stdout, "{}", path.display()).context("writing to standard output")?;
    if args.write && !args.check {
        std::fs::write(path, &formatted).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.diff {
        let diff = unified_diff(&src, &formatted, &path.display().to_string())?;
        stdout.write_all(&diff).context("writing to standard output")?;
    }
    Ok(())
}

fn format_stdin(args: &Args, out: &mut Outcome, stdout: &mut impl Write) -> anyhow::Result<()> {
    let mut src = Vec::new();
    std::io::stdin().read_to_end(&mut src).context("reading standard input")?;
    let formatted = match hclfmt::format(&src) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: <stdin>:{e}; fix the syntax and run fmt again");
            out.failed += 1;
            return Ok(());
        }
    };
    if formatted != src {
        out.changed += 1;
    }
    if !args.check {
        stdout.write_all(&formatted).context("writing to standard output")?;
    }
    Ok(())
}

/// The unified diff Packer prints: `diff -u` with `old/PATH` and `new/PATH` labels.
fn unified_diff(old: &[u8], new: &[u8], path: &str) -> anyhow::Result<Vec<u8>> {
    let dir = ScratchDir::new().context("creating a scratch folder for the diff")?;
    let (a, b) = (dir.0.join("old"), dir.0.join("new"));
    std::fs::write(&a, old).context("writing the diff input")?;
    std::fs::write(&b, new).context("writing the diff input")?;
    let output = Command::new("diff")
        .arg(format!("--label=old/{path}"))
        .arg(format!("--label=new/{path}"))
        .arg("-u")
        .arg(&a)
        .arg(&b)
        .output()
        .context("running `diff` (install diffutils to use -diff)")?;
    // `diff` exits 1 when the inputs differ, which is the expected case here.
    if output.status.code() == Some(2) || output.stdout.is_empty() {
        anyhow::bail!("diff failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

/// A private folder under the system temporary folder, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last_err = None;
        for attempt in 0..16u32 {
            let dir = base.join(format!("cce-fmt-{}-{nanos}-{attempt}", std::process::id()));
            // `create_dir` fails when the folder exists, so the folder is ours alone.
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free scratch folder name")))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
