//! The `inspect` subcommand: shows a template's variables with their final values and where each
//! came from (sensitive ones masked), its locals, sources and builds with their provisioners and
//! post-processors in order, as Packer-like text or as JSON. The JSON form also carries the
//! typed build plan under `plan` when the template is valid, with every secret masked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use cce_template::body::{AttrValue, Block};
use cce_template::load::{LoadOptions, Loaded, ValueSource};
use serde_json::{Value as Json, json};

use super::validate::{VarArgs, load_or_exit};
use crate::exit;

const MASK: &str = "<sensitive>";

/// Flags of `inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Print JSON instead of text.
    #[arg(long = "json")]
    pub json: bool,
    /// A .pkr.hcl file or a folder holding them.
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let opts = match args.vars.options_or_exit(args.path.clone()) {
        // As packer inspect: a variable without a value is shown as unknown, not an error.
        Ok(o) => LoadOptions { allow_unset_variables: true, ..o },
        Err(code) => return Ok(code),
    };
    let loaded = match load_or_exit(&opts) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    if args.json {
        let mut out = to_json(&loaded);
        if let (Some(plan), Json::Object(o)) = (plan_json(&loaded, &opts.env), &mut out) {
            o.insert("plan".into(), plan);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", to_text(&loaded));
    }
    Ok(exit::OK)
}

fn source_text(s: &ValueSource) -> String {
    match s {
        ValueSource::Default => "default".into(),
        ValueSource::Env(k) => format!("environment {k}"),
        ValueSource::AutoVarFile(p) => format!("auto var file {}", p.display()),
        ValueSource::VarFile(p) => format!("var file {}", p.display()),
        ValueSource::CommandLine => "-var".into(),
        ValueSource::Unset => "unset".into(),
    }
}

/// One build, summarised.
struct BuildSummary {
    name: String,
    sources: Vec<String>,
    provisioners: Vec<(String, Option<String>)>,
    /// Each chain of post-processors.
    post_processors: Vec<Vec<(String, Option<String>)>>,
}

fn string_attr(b: &Block, name: &str) -> Option<String> {
    match b.attribute(name).map(|a| &a.value) {
        Some(AttrValue::Known(v)) => v.as_str().map(str::to_string),
        _ => None,
    }
}

fn step(b: &Block) -> (String, Option<String>) {
    (b.labels.first().cloned().unwrap_or_default(), string_attr(b, "name"))
}

fn summarise(loaded: &Loaded) -> Vec<BuildSummary> {
    let mut out = Vec::new();
    for (i, b) in loaded.blocks.iter().filter(|b| b.kind == "build").enumerate() {
        let mut sources = Vec::new();
        if let Some(AttrValue::Known(v)) = b.attribute("sources").map(|a| &a.value) {
            if let Some(items) = v.as_array() {
                sources.extend(items.iter().filter_map(|s| s.as_str()).map(|s| s.strip_prefix("source.").unwrap_or(s).to_string()));
            }
        }
        let mut provisioners = Vec::new();
        let mut post_processors = Vec::new();
        for inner in &b.blocks {
            match inner.kind.as_str() {
                "source" => {
                    if let Some(l) = inner.labels.first() {
                        sources.push(l.strip_prefix("source.").unwrap_or(l).to_string());
                    }
                }
                "provisioner" => provisioners.push(step(inner)),
                "post-processor" => post_processors.push(vec![step(inner)]),
                "post-processors" => post_processors.push(inner.blocks_of("post-processor").map(step).collect()),
                _ => {}
            }
        }
        let name = string_attr(b, "name").unwrap_or_else(|| format!("<unnamed build {i}>"));
        out.push(BuildSummary { name, sources, provisioners, post_processors });
    }
    out
}

/// `type` or `type.name`, as packer inspect names a step.
fn step_text((kind, name): &(String, Option<String>)) -> String {
    match name {
        Some(n) => format!("{kind}.{n}"),
        None => kind.clone(),
    }
}

/// Whether a value shows a secret: a sensitive value (of three characters or more, so that `1`
/// or `on` do not hide everything) inside any of its strings.
fn shows_secret(value: &impl serde::Serialize, secrets: &[String]) -> bool {
    fn walk(v: &Json, secrets: &[String]) -> bool {
        match v {
            Json::String(s) => secrets.iter().any(|x| x.chars().count() >= 3 && s.contains(x.as_str())),
            Json::Array(a) => a.iter().any(|x| walk(x, secrets)),
            Json::Object(o) => o.values().any(|x| walk(x, secrets)),
            _ => false,
        }
    }
    serde_json::to_value(value).is_ok_and(|v| walk(&v, secrets))
}

/// Packer-like text.
pub fn to_text(loaded: &Loaded) -> String {
    let mut o = String::from("Packer Inspect: HCL2 mode\n\n> input-variables:\n\n");
    for v in &loaded.variables {
        let value = match (&v.value, v.sensitive) {
            (_, true) => format!("\"{MASK}\""),
            (Some(val), false) => val.to_string(),
            (None, false) => "<unknown>".into(),
        };
        let _ = writeln!(o, "var.{}: {value} [{}]", v.name, source_text(&v.source));
    }
    o.push_str("\n> local-variables:\n\n");
    for l in &loaded.locals {
        let hidden = l.sensitive || l.value.as_ref().is_some_and(|v| shows_secret(v, &loaded.sensitive_values));
        let value = match (&l.value, hidden) {
            (_, true) => format!("\"{MASK}\""),
            (Some(val), false) => val.to_string(),
            (None, false) => "<unknown>".into(),
        };
        let _ = writeln!(o, "local.{}: {value}", l.name);
    }
    o.push_str("\n> sources:\n\n");
    for b in loaded.blocks.iter().filter(|b| b.kind == "source") {
        let _ = writeln!(o, "  {}", b.labels.join("."));
    }
    // The builds section is laid out exactly as packer inspect lays it out.
    o.push_str("\n> builds:\n\n");
    for b in summarise(loaded) {
        let _ = writeln!(o, "  > {}:\n\n    sources:\n", b.name);
        for s in &b.sources {
            let _ = writeln!(o, "      {s}\n");
        }
        o.push_str("    provisioners:\n\n");
        if b.provisioners.is_empty() {
            o.push_str("      <no provisioner>\n");
        }
        for p in &b.provisioners {
            let _ = writeln!(o, "      {}", step_text(p));
        }
        o.push_str("\n    post-processors:\n\n");
        if b.post_processors.is_empty() {
            o.push_str("      <no post-processor>\n\n");
        }
        for (i, chain) in b.post_processors.iter().enumerate() {
            let _ = writeln!(o, "      {i}:");
            for step in chain {
                let _ = writeln!(o, "        {}", step_text(step));
            }
            o.push('\n');
        }
    }
    o
}

/// The typed build plan as JSON, or `None` when the template has errors (`validate` shows them).
/// Credentials are redacted by the plan itself; any other string that shows a sensitive
/// variable's value (a provisioner's inline command, say) is masked here.
pub fn plan_json(loaded: &Loaded, env: &BTreeMap<String, String>) -> Option<Json> {
    let (plan, diags) = cce_template::schema::plan_with_env(&loaded.blocks, env);
    if diags.has_errors() {
        return None;
    }
    let mut v = serde_json::to_value(plan?).ok()?;
    mask_secrets(&mut v, &loaded.sensitive_values);
    Some(v)
}

/// Replaces every string that shows a secret (as [`shows_secret`] judges) by the mask.
fn mask_secrets(v: &mut Json, secrets: &[String]) {
    match v {
        Json::String(s) if shows_secret(s, secrets) => *s = MASK.into(),
        Json::Array(a) => a.iter_mut().for_each(|x| mask_secrets(x, secrets)),
        Json::Object(o) => o.values_mut().for_each(|x| mask_secrets(x, secrets)),
        _ => {}
    }
}

fn json_value(value: Option<&impl serde::Serialize>, sensitive: bool) -> Json {
    if sensitive {
        return Json::String(MASK.into());
    }
    value.and_then(|x| serde_json::to_value(x).ok()).unwrap_or(Json::Null)
}

/// The same as JSON.
pub fn to_json(loaded: &Loaded) -> Json {
    let variables: Vec<Json> = loaded
        .variables
        .iter()
        .map(|v| {
            json!({
                "name": v.name,
                "type": v.type_expr,
                "value": json_value(v.value.as_ref(), v.sensitive),
                "source": source_text(&v.source),
                "sensitive": v.sensitive,
                "description": v.description,
            })
        })
        .collect();
    let locals: Vec<Json> = loaded
        .locals
        .iter()
        .map(|l| {
            let hidden = l.sensitive || l.value.as_ref().is_some_and(|v| shows_secret(v, &loaded.sensitive_values));
            json!({ "name": l.name, "value": json_value(l.value.as_ref(), hidden), "sensitive": hidden })
        })
        .collect();
    let sources: Vec<String> = loaded.blocks.iter().filter(|b| b.kind == "source").map(|b| b.labels.join(".")).collect();
    let step_json = |(kind, name): &(String, Option<String>)| json!({ "type": kind, "name": name });
    let builds: Vec<Json> = summarise(loaded)
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "sources": b.sources,
                "provisioners": b.provisioners.iter().map(step_json).collect::<Vec<_>>(),
                "post_processors": b.post_processors.iter().map(|c| c.iter().map(step_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "variables": variables, "locals": locals, "sources": sources, "builds": builds })
}
