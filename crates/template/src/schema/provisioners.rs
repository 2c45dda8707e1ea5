//! Provisioners (`file`, `shell`, `shell-local`, `breakpoint`) with Packer's meta-arguments and
//! Packer's own validation rules. String fields may depend on build values (`build.*`) and are
//! kept as [`Deferrable`] for the engine to finish.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fields::{Deferrable, Field, GoDuration, Origin, Reader, Req, Ty, field};
use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};

/// Meta-arguments every provisioner block takes.
pub static PROVISIONER_META_FIELDS: &[Field] = &[
    field("name", Ty::String, "Name shown in the output.").from(Origin::Packer),
    field("pause_before", Ty::Duration, "Wait this long before running.").from(Origin::Packer),
    field("max_retries", Ty::Number, "Run again up to this many times when it fails.").def("0").from(Origin::Packer),
    field("timeout", Ty::Duration, "Fail when it runs longer than this.").from(Origin::Packer),
    field("only", Ty::StringList, "Run only for these sources (`TYPE.NAME`).").from(Origin::Packer),
    field("except", Ty::StringList, "Run for every source but these (`TYPE.NAME`).").from(Origin::Packer),
    field("override", Ty::AnyMap, "Per source name (`NAME`, as in Packer), fields that replace this block's fields.").from(Origin::Packer),
];

pub static FILE_FIELDS: &[Field] = &[
    field("source", Ty::String, "Local path to upload (remote path to download).").from(Origin::Packer),
    field("sources", Ty::StringList, "Several paths; added to `source`.").from(Origin::Packer),
    field("content", Ty::String, "Text to upload instead of a file.").from(Origin::Packer),
    field("destination", Ty::String, "Remote path to upload to (local path to download to).").req(Req::Yes).from(Origin::Packer),
    field("direction", Ty::String, "`upload` or `download`.").def("upload").from(Origin::Packer),
    field("generated", Ty::Bool, "The source is made during the build, so it is not checked before.").def("false").from(Origin::Packer),
];

pub static SHELL_FIELDS: &[Field] = &[
    field("inline", Ty::StringList, "Commands run as one script.").from(Origin::Packer),
    field("script", Ty::String, "Local script to upload and run.").from(Origin::Packer),
    field("scripts", Ty::StringList, "Local scripts to upload and run in order.").from(Origin::Packer),
    field("environment_vars", Ty::StringList, "`KEY=VALUE` pairs for the scripts.").from(Origin::Packer),
    field("env", Ty::StringMap, "Environment for the scripts, as a map.").from(Origin::Packer),
    field("env_var_format", Ty::String, "How one variable is written before the command.").def("`%s='%s' `").from(Origin::Packer),
    field("execute_command", Ty::String, "How a script is run.").def("`chmod +x {{.Path}}; {{.Vars}} {{.Path}}`").from(Origin::Packer),
    field("remote_folder", Ty::String, "Remote folder scripts are uploaded to.").def("/tmp").from(Origin::Packer),
    field("remote_file", Ty::String, "Remote file name of the script.").def("script_<random>.sh").from(Origin::Packer),
    field("remote_path", Ty::String, "Full remote path of the script.").def("`remote_folder/remote_file`").from(Origin::Packer),
    field("inline_shebang", Ty::String, "Shebang of the inline script.").def("/bin/sh -e").from(Origin::Packer),
    field("expect_disconnect", Ty::Bool, "A lost connection is not a failure (e.g. a reboot).").def("false").from(Origin::Packer),
    field("valid_exit_codes", Ty::StringList, "Exit codes that mean success.").def("[0]").from(Origin::Packer),
    field("skip_clean", Ty::Bool, "Leave the uploaded script on the machine.").def("false").from(Origin::Packer),
    field("start_retry_timeout", Ty::Duration, "How long to retry starting the script after a disconnect.").def("5m").from(Origin::Packer),
    field("pause_after", Ty::Duration, "Wait this long after the script ends.").from(Origin::Packer),
    field("use_env_var_file", Ty::Bool, "Pass the variables through a sourced file instead of the command line.").def("false").from(Origin::Packer),
    field("binary", Ty::Bool, "Upload the script without converting line endings.").def("false").from(Origin::Packer),
];

pub static SHELL_LOCAL_FIELDS: &[Field] = &[
    field("command", Ty::String, "One command to run locally.").from(Origin::Packer),
    field("inline", Ty::StringList, "Commands run locally as one script.").from(Origin::Packer),
    field("script", Ty::String, "Local script to run.").from(Origin::Packer),
    field("scripts", Ty::StringList, "Local scripts to run in order.").from(Origin::Packer),
    field("environment_vars", Ty::StringList, "`KEY=VALUE` pairs for the scripts.").from(Origin::Packer),
    field("env", Ty::StringMap, "Environment for the scripts, as a map.").from(Origin::Packer),
    field("env_var_format", Ty::String, "How one variable is written before the command.").from(Origin::Packer),
    field("execute_command", Ty::StringList, "Argument vector that runs a script.").def("`[\"/bin/sh\", \"-c\", \"{{.Vars}} {{.Script}}\"]`").from(Origin::Packer),
    field("inline_shebang", Ty::String, "Shebang of the inline script.").def("/bin/sh -e").from(Origin::Packer),
    field("only_on", Ty::StringList, "Run only on these operating systems (`linux`, `darwin`, ...).").from(Origin::Packer),
    field("valid_exit_codes", Ty::StringList, "Exit codes that mean success.").def("[0]").from(Origin::Packer),
    field("use_linux_pathing", Ty::Bool, "Windows Subsystem for Linux paths; `true` fails on Linux in Packer and is refused here.").def("false").from(Origin::Packer),
    field("tempfile_extension", Ty::String, "Extension of the temporary script file.").from(Origin::Packer),
];

pub static BREAKPOINT_FIELDS: &[Field] = &[
    field("note", Ty::String, "Text shown while paused.").from(Origin::Packer),
    field("disable", Ty::Bool, "Do not pause.").def("false").from(Origin::Packer),
];

/// The provisioner types we run, with their field tables.
pub static PROVISIONER_TYPES: &[(&str, &[Field])] =
    &[("file", FILE_FIELDS), ("shell", SHELL_FIELDS), ("shell-local", SHELL_LOCAL_FIELDS), ("breakpoint", BREAKPOINT_FIELDS)];

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Upload,
    Download,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileProvisioner {
    pub source: Option<Deferrable<String>>,
    pub sources: Option<Deferrable<Vec<String>>>,
    pub content: Option<Deferrable<String>>,
    pub destination: Option<Deferrable<String>>,
    pub direction: Direction,
    pub generated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShellProvisioner {
    pub inline: Option<Deferrable<Vec<String>>>,
    pub script: Option<Deferrable<String>>,
    pub scripts: Option<Deferrable<Vec<String>>>,
    pub environment_vars: Option<Deferrable<Vec<String>>>,
    pub env: Option<Deferrable<BTreeMap<String, String>>>,
    pub env_var_format: Option<Deferrable<String>>,
    pub execute_command: Option<Deferrable<String>>,
    pub remote_folder: Option<Deferrable<String>>,
    pub remote_file: Option<Deferrable<String>>,
    pub remote_path: Option<Deferrable<String>>,
    pub inline_shebang: Option<Deferrable<String>>,
    pub expect_disconnect: bool,
    pub valid_exit_codes: Vec<i64>,
    pub skip_clean: bool,
    pub start_retry_timeout: GoDuration,
    pub pause_after: Option<GoDuration>,
    pub use_env_var_file: bool,
    pub binary: bool,
}

/// `shell-local`, as a provisioner or a post-processor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShellLocal {
    pub command: Option<Deferrable<String>>,
    pub inline: Option<Deferrable<Vec<String>>>,
    pub script: Option<Deferrable<String>>,
    pub scripts: Option<Deferrable<Vec<String>>>,
    pub environment_vars: Option<Deferrable<Vec<String>>>,
    pub env: Option<Deferrable<BTreeMap<String, String>>>,
    pub env_var_format: Option<Deferrable<String>>,
    pub execute_command: Option<Deferrable<Vec<String>>>,
    pub inline_shebang: Option<Deferrable<String>>,
    pub only_on: Vec<String>,
    pub valid_exit_codes: Vec<i64>,
    pub use_linux_pathing: bool,
    pub tempfile_extension: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakpoint {
    pub note: Option<Deferrable<String>>,
    pub disable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ProvisionerKind {
    File(FileProvisioner),
    Shell(ShellProvisioner),
    ShellLocal(ShellLocal),
    Breakpoint(Breakpoint),
}

/// One provisioner with its meta-arguments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Provisioner {
    pub kind: ProvisionerKind,
    pub name: Option<String>,
    pub pause_before: Option<GoDuration>,
    pub max_retries: u32,
    pub timeout: Option<GoDuration>,
    pub only: Vec<String>,
    pub except: Vec<String>,
    /// Per source name, the fields that replace this block's fields for that source.
    #[serde(rename = "override")]
    pub overrides: BTreeMap<String, serde_json::Value>,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// Checks `only`/`except` against the build's sources and that at most one is set (Packer's
/// rule); `refs` are the accepted `TYPE.NAME` strings.
pub(crate) fn read_only_except(r: &mut Reader<'_>, refs: &[String]) -> (Vec<String>, Vec<String>) {
    if r.has("only") && r.has("except") {
        let span = r.span("except");
        r.error_at(span, "only one of \"only\" or \"except\" may be set").help = Some("keep only or except, not both".into());
    }
    let mut get = |name: &str| {
        let list = r.list(name).unwrap_or_default();
        for item in &list {
            if !refs.iter().any(|s| s == item) {
                let span = r.attr(name).map_or(r.block.kind_span, |a| a.value_span);
                let mut d = Diagnostic::error(format!("\"{name}\" names \"{item}\", which is not a source of this build")).at(span);
                d = match did_you_mean(item, refs.iter().map(String::as_str)) {
                    Some(m) => d.help(format!("did you mean \"{m}\"?")),
                    None => d.help(format!("the sources of this build are: {}", refs.join(", "))),
                };
                r.diags.push(d);
            }
        }
        list
    };
    let only = get("only");
    let except = get("except");
    (only, except)
}

pub(crate) fn exit_codes(r: &mut Reader<'_>) -> Vec<i64> {
    let Some(list) = r.list("valid_exit_codes") else { return vec![0] };
    let parsed: Result<Vec<i64>, _> = list.iter().map(|c| c.parse::<i64>()).collect();
    match parsed {
        Ok(codes) => codes,
        Err(_) => {
            let span = r.attr("valid_exit_codes").map_or(r.block.kind_span, |a| a.value_span);
            r.error_at(span, "\"valid_exit_codes\" must be a list of whole numbers");
            vec![0]
        }
    }
}

fn env_vars(r: &mut Reader<'_>) -> Option<Deferrable<Vec<String>>> {
    let vars = r.text_list("environment_vars");
    if let Some(Deferrable::Known(list)) = &vars {
        for v in list {
            if v.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                let span = r.attr("environment_vars").map_or(r.block.kind_span, |a| a.value_span);
                r.error_at(span, format!("environment variable not in format 'key=value': \"{v}\""));
            }
        }
    }
    vars
}

/// The operating systems Packer's `only_on` accepts.
const ONLY_ON_SYSTEMS: &[&str] = &["darwin", "freebsd", "linux", "openbsd", "solaris", "windows"];

pub(crate) fn read_shell_local(r: &mut Reader<'_>) -> ShellLocal {
    let has = |n: &str| r.has(n);
    let (command, inline, script, scripts) = (has("command"), has("inline"), has("script"), has("scripts"));
    let what = r.what.clone();
    if command && (inline || script || scripts) {
        let span = r.span("command");
        r.error_at(span, format!("\"command\", \"inline\", \"script\" and \"scripts\" cannot be used together in {what}"));
    }
    if script && scripts {
        let span = r.span("scripts");
        r.error_at(span, "only one of \"script\" or \"scripts\" can be set");
    }
    if inline && (script || scripts) {
        let span = r.span("inline");
        r.error_at(span, "set either a script file (script, scripts) or an inline script (inline), not both");
    }
    if !(command || inline || script || scripts) {
        r.error_at(r.block.kind_span, format!("one of \"command\", \"inline\", \"script\" or \"scripts\" must be set in {what}"));
    }
    let only_on = r.list("only_on").unwrap_or_default();
    for os in &only_on {
        if !ONLY_ON_SYSTEMS.contains(&os.as_str()) {
            let span = r.span("only_on");
            r.error_at(span, format!("invalid OS specified in only_on: \"{os}\"")).help =
                Some(format!("supported OS names: {}", ONLY_ON_SYSTEMS.join(", ")));
        }
    }
    let use_linux_pathing = r.bool("use_linux_pathing").unwrap_or(false);
    if use_linux_pathing {
        // Packer turns `C:/...` paths into `/mnt/c/...` for the Windows Subsystem for Linux;
        // on Linux every path fails that conversion, and inline commands are refused.
        let span = r.span("use_linux_pathing");
        r.error_at(span, "\"use_linux_pathing\" is for the Windows Subsystem for Linux and fails on Linux, as in Packer").help =
            Some("remove use_linux_pathing: scripts already run with Linux paths here".into());
    }
    ShellLocal {
        command: r.text("command"),
        inline: r.text_list("inline"),
        script: r.text("script"),
        scripts: r.text_list("scripts"),
        environment_vars: env_vars(r),
        env: r.text_map("env"),
        env_var_format: r.text("env_var_format"),
        execute_command: r.text_list("execute_command"),
        inline_shebang: r.text("inline_shebang"),
        only_on,
        valid_exit_codes: exit_codes(r),
        use_linux_pathing,
        tempfile_extension: r.string("tempfile_extension"),
    }
}

fn read_file(r: &mut Reader<'_>) -> FileProvisioner {
    let direction = match r.one_of("direction", &["upload", "download"]).as_deref() {
        Some("download") => Direction::Download,
        _ => Direction::Upload,
    };
    let (source, sources, content) = (r.text("source"), r.text_list("sources"), r.text("content"));
    let no_sources = source.is_none() && match &sources {
        None => true,
        Some(Deferrable::Known(v)) => v.is_empty(),
        Some(Deferrable::Deferred(_)) => false,
    };
    if no_sources && content.is_none() {
        r.error_at(r.block.kind_span, "source must be specified in provisioner \"file\"").help =
            Some("set source (or sources) to the file to copy, or content to the text to write".into());
    }
    if !no_sources && content.is_some() {
        let span = r.span("content");
        r.error_at(span, "cannot specify both source and content in provisioner \"file\"");
    }
    let destination = r.text("destination");
    if destination.is_none() {
        r.error_at(r.block.kind_span, "destination must be specified in provisioner \"file\"");
    }
    FileProvisioner { source, sources, content, destination, direction, generated: r.bool("generated").unwrap_or(false) }
}

fn read_shell(r: &mut Reader<'_>) -> ShellProvisioner {
    let (inline, script, scripts) = (r.has("inline"), r.has("script"), r.has("scripts"));
    if script && scripts {
        let span = r.span("scripts");
        r.error_at(span, "only one of \"script\" or \"scripts\" can be set in provisioner \"shell\"");
    }
    if !(inline || script || scripts) {
        r.error_at(r.block.kind_span, "either a script file or an inline script must be specified in provisioner \"shell\"").help =
            Some("set exactly one of inline, script or scripts".into());
    } else if inline && (script || scripts) {
        let span = r.span("inline");
        r.error_at(span, "only a script file or an inline script can be specified, not both").help =
            Some("keep inline, or script/scripts; use two provisioners for both".into());
    }
    ShellProvisioner {
        inline: r.text_list("inline"),
        script: r.text("script"),
        scripts: r.text_list("scripts"),
        environment_vars: env_vars(r),
        env: r.text_map("env"),
        env_var_format: r.text("env_var_format"),
        execute_command: r.text("execute_command"),
        remote_folder: r.text("remote_folder"),
        remote_file: r.text("remote_file"),
        remote_path: r.text("remote_path"),
        inline_shebang: r.text("inline_shebang"),
        expect_disconnect: r.bool("expect_disconnect").unwrap_or(false),
        valid_exit_codes: exit_codes(r),
        skip_clean: r.bool("skip_clean").unwrap_or(false),
        start_retry_timeout: r.duration("start_retry_timeout").unwrap_or(GoDuration::secs(300)),
        pause_after: r.duration("pause_after"),
        use_env_var_file: r.bool("use_env_var_file").unwrap_or(false),
        binary: r.bool("binary").unwrap_or(false),
    }
}

/// Reads a `provisioner "TYPE"` (or `error-cleanup-provisioner`) block. `refs` are the
/// `TYPE.NAME` of the build's sources, `names` their plain names.
pub(crate) fn read(block: &Block, refs: &[String], names: &[String]) -> (Option<Provisioner>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let Some(ty) = block_type(block, "provisioner", PROVISIONER_TYPES.iter().map(|(n, _)| *n), &mut diags) else {
        return (None, diags);
    };
    let Some((_, fields)) = PROVISIONER_TYPES.iter().find(|(n, _)| *n == ty) else { return (None, diags) };
    let what = format!("{} \"{ty}\"", block.kind);
    let mut r = Reader::new(block, &[PROVISIONER_META_FIELDS, fields], what).allow_deferred();
    let kind = match ty {
        "file" => ProvisionerKind::File(read_file(&mut r)),
        "shell" => ProvisionerKind::Shell(read_shell(&mut r)),
        "shell-local" => ProvisionerKind::ShellLocal(read_shell_local(&mut r)),
        _ => ProvisionerKind::Breakpoint(Breakpoint { note: r.text("note"), disable: r.bool("disable").unwrap_or(false) }),
    };
    let (only, except) = read_only_except(&mut r, refs);
    let overrides = read_overrides(&mut r, fields, refs, names);
    let p = Provisioner {
        kind,
        name: r.string("name"),
        pause_before: r.duration("pause_before"),
        max_retries: r.int("max_retries", 0, 1000).map_or(0, |n| n as u32),
        timeout: r.duration("timeout"),
        only,
        except,
        overrides,
        span: Some(block.kind_span),
    };
    diags.extend(r.finish());
    (Some(p), diags)
}

fn read_overrides(r: &mut Reader<'_>, fields: &[Field], refs: &[String], names: &[String]) -> BTreeMap<String, serde_json::Value> {
    let Some((attr, map)) = r.object("override") else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        if !names.contains(key) {
            // Packer keys overrides by the source's name only; "TYPE.NAME" keys never match.
            let by_ref = refs.iter().position(|r| r == key).and_then(|i| names.get(i));
            let mut d = Diagnostic::error(format!("\"override\" names \"{key}\", which is not a source name of this build")).at(attr.value_span);
            d = match (by_ref, did_you_mean(key, names.iter().map(String::as_str))) {
                (Some(n), _) => d.help(format!("override is keyed by the source name alone: write \"{n}\"")),
                (None, Some(m)) => d.help(format!("did you mean \"{m}\"?")),
                (None, None) => d.help(format!("the source names of this build are: {}", names.join(", "))),
            };
            r.diags.push(d);
        }
        let hcl::Value::Object(inner) = value else {
            r.error_at(attr.value_span, format!("override \"{key}\" must be a map of fields"));
            continue;
        };
        for k in inner.keys() {
            if !fields.iter().any(|f| f.name == k) {
                let mut d = Diagnostic::error(format!("override \"{key}\" sets \"{k}\", which is not a field of {}", r.what)).at(attr.value_span);
                if let Some(m) = did_you_mean(k, fields.iter().map(|f| f.name)) {
                    d = d.help(format!("did you mean \"{m}\"?"));
                }
                r.diags.push(d);
            }
        }
        match serde_json::to_value(value) {
            Ok(v) => {
                out.insert(key.clone(), v);
            }
            Err(e) => {
                r.error_at(attr.value_span, format!("override \"{key}\" cannot be represented: {e}"));
            }
        }
    }
    out
}

/// The one label of a provisioner or post-processor block, checked against the known types.
pub(crate) fn block_type<'a>(
    block: &'a Block,
    what: &str,
    known: impl Iterator<Item = &'static str> + Clone,
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    let [ty] = block.labels.as_slice() else {
        diags.push(
            Diagnostic::error(format!("{} block needs exactly one label, the {what} type", block.kind))
                .at(block.kind_span)
                .help(format!("write {} \"shell\" {{ ... }}", block.kind)),
        );
        return None;
    };
    if known.clone().any(|k| k == ty) {
        return Some(ty.as_str());
    }
    let list = known.clone().collect::<Vec<_>>().join(", ");
    let mut d = Diagnostic::error(format!("unknown {what} type \"{ty}\"")).at(block.kind_span).detail(format!("cce-image-builder runs: {list}"));
    if let Some(m) = did_you_mean(ty, known) {
        d = d.help(format!("did you mean \"{m}\"?"));
    }
    diags.push(d);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::testutil::{parse, pos};

    /// Reads the first block of `text` as a provisioner of a build with source `null.a`.
    fn read_one(text: &str) -> (Option<Provisioner>, Vec<String>) {
        let p = parse(text);
        let (prov, diags) = read(&p.blocks[0], &["null.a".into()], &["a".into()]);
        let lines = diags.0.iter().map(|d| format!("{} {}", pos(&p.sources, d.span), d.summary)).collect();
        (prov, lines)
    }

    #[test]
    fn shell_local_only_on_names_known_systems() {
        let (p, d) = read_one("provisioner \"shell-local\" {\n  inline = [\"true\"]\n  only_on = [\"linux\", \"windows\"]\n}\n");
        assert!(d.is_empty(), "{d:?}");
        let Some(ProvisionerKind::ShellLocal(s)) = p.map(|p| p.kind) else { panic!("not shell-local") };
        assert_eq!(s.only_on, ["linux", "windows"]);
        let (_, d) = read_one("provisioner \"shell-local\" {\n  inline = [\"true\"]\n  only_on = [\"Linux\"]\n}\n");
        assert_eq!(d, ["3:3 invalid OS specified in only_on: \"Linux\""]);
    }

    #[test]
    fn use_linux_pathing_is_refused_only_when_on() {
        let (_, d) = read_one("provisioner \"shell-local\" {\n  inline = [\"true\"]\n  use_linux_pathing = false\n}\n");
        assert!(d.is_empty(), "{d:?}");
        let (_, d) = read_one("provisioner \"shell-local\" {\n  script = \"x.sh\"\n  use_linux_pathing = true\n}\n");
        assert_eq!(d, ["3:3 \"use_linux_pathing\" is for the Windows Subsystem for Linux and fails on Linux, as in Packer"]);
    }
}
