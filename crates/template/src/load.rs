//! Loading a template: a file or a folder of `*.pkr.hcl` and `*.auto.pkrvars.hcl`, values from
//! `-var`, `-var-file`, `PKR_VAR_*` and auto var files with Packer's precedence, variables checked
//! against their types and validations, locals, and every top-level block evaluated into a
//! [`Block`] tree. The process environment is injected, never read from globals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::Value;
use hcl::edit::Span as _;
use hcl::edit::expr::Expression as Expr;
use hcl::edit::structure::{Block as EBlock, Body, Structure};

use crate::body::{Attribute, Block};
use crate::diag::{Diagnostic, Diagnostics, FileId, SourceMap, Span, did_you_mean};
use crate::eval::{self, Scope};
use crate::vars::{self, Decl, span_of};

/// What to load and with which inputs.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// A `.pkr.hcl` file or a folder holding them.
    pub path: PathBuf,
    /// `-var name=value`, in command-line order.
    pub vars: Vec<(String, String)>,
    /// `-var-file path`, in command-line order.
    pub var_files: Vec<PathBuf>,
    /// The process environment (for `PKR_VAR_*` and `env()`), injected so tests never touch globals.
    pub env: BTreeMap<String, String>,
    /// The working directory, for `path.cwd` and relative paths.
    pub cwd: PathBuf,
    /// Only check syntax: no evaluation.
    pub syntax_only: bool,
    /// Do not warn about values in var files for variables the template does not declare.
    pub no_warn_undeclared_var: bool,
    /// Leave variables without a value unknown instead of failing, as `packer inspect` does;
    /// locals and attributes that depend on them are left out.
    pub allow_unset_variables: bool,
}

/// Where a variable's final value came from, lowest precedence first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSource {
    Default,
    Env(String),
    AutoVarFile(PathBuf),
    VarFile(PathBuf),
    CommandLine,
    /// Declared without a default and never set.
    Unset,
}

/// A declared input variable with its final value.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    /// The type constraint in canonical form (`string`, `list(string)`, `object({a = number})`);
    /// `any` when absent.
    pub type_expr: String,
    pub value: Option<hcl::Value>,
    pub source: ValueSource,
    pub sensitive: bool,
    pub description: Option<String>,
    pub span: Span,
}

/// A `locals`/`local` value.
#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub name: String,
    pub value: Option<hcl::Value>,
    pub sensitive: bool,
    pub span: Span,
}

/// A loaded, evaluated template.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    /// The `packer`, `source` and `build` blocks, evaluated, in file order.
    pub blocks: Vec<Block>,
    /// Every sensitive value (of sensitive variables and locals), for redaction.
    pub sensitive_values: Vec<String>,
    /// Warnings found while loading (errors make `load` return `Err`).
    pub warnings: Diagnostics,
    /// `path.root` and `path.cwd`.
    pub path: hcl::Map<String, hcl::Value>,
}

/// Loading failed; the diagnostics hold every error found (and the warnings), with the sources to
/// render them.
#[derive(Clone, Debug)]
pub struct LoadError {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
}

const TOP_LEVEL: [&str; 8] = ["packer", "variable", "variables", "locals", "local", "source", "build", "data"];

/// Loads and evaluates a template: every error of the run is collected, not only the first.
pub fn load(opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let mut l = Loader { opts, sources: SourceMap::default(), diags: Diagnostics::default(), unknown: BTreeSet::new() };
    let loaded = l.run();
    if l.diags.has_errors() {
        return Err(LoadError { sources: l.sources, diagnostics: l.diags });
    }
    let mut loaded = loaded.unwrap_or_default();
    loaded.sources = l.sources;
    loaded.warnings = l.diags;
    Ok(loaded)
}

struct Loader<'o> {
    opts: &'o LoadOptions,
    sources: SourceMap,
    diags: Diagnostics,
    /// `var.x` and `local.y` without a value (unset, or failed with an error already reported):
    /// what depends on them is skipped instead of failing again.
    unknown: BTreeSet<String>,
}

/// The files of a template: `(shown path, path to read)`.
struct Files {
    templates: Vec<(PathBuf, PathBuf)>,
    auto_var_files: Vec<(PathBuf, PathBuf)>,
    /// The template folder as the user wrote it, for `path.root`.
    root: PathBuf,
}

fn has_suffix(p: &Path, suffix: &str) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix))
}

impl Loader<'_> {
    fn depends_on_unknown(&self, expr: &Expr) -> bool {
        ["var", "local"]
            .iter()
            .any(|root| eval::references(expr, root).iter().any(|n| self.unknown.contains(&format!("{root}.{n}"))))
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_relative() && !self.opts.cwd.as_os_str().is_empty() { self.opts.cwd.join(p) } else { p.to_path_buf() }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn collect_files(&mut self) -> Option<Files> {
        let given = &self.opts.path;
        let real = self.resolve(given);
        let meta = match std::fs::metadata(&real) {
            Ok(m) => m,
            Err(e) => {
                self.error(
                    Diagnostic::error(format!("cannot read {}: {e}", given.display()))
                        .help("give a .pkr.hcl file or a folder holding .pkr.hcl files"),
                );
                return None;
            }
        };
        let (dir_shown, dir_real, mut templates) = if meta.is_dir() {
            (given.clone(), real.clone(), Vec::new())
        } else {
            if has_suffix(given, ".json") {
                self.error(
                    Diagnostic::error(format!("{} is a legacy JSON template, which is not supported", given.display()))
                        .help("convert it with `packer hcl2_upgrade` and use the .pkr.hcl file"),
                );
                return None;
            }
            let parent = |p: &Path| p.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (parent(given), parent(&real), vec![(given.clone(), real.clone())])
        };
        let mut auto = Vec::new();
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir_real) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| PathBuf::from(e.file_name()))).collect(),
            Err(e) => {
                self.error(Diagnostic::error(format!("cannot list {}: {e}", dir_shown.display())));
                return None;
            }
        };
        names.sort();
        for n in names {
            let shown = if dir_shown == Path::new(".") { n.clone() } else { dir_shown.join(&n) };
            let real = dir_real.join(&n);
            if !real.is_file() {
                continue;
            }
            if has_suffix(&n, ".auto.pkrvars.hcl") {
                auto.push((shown, real));
            } else if meta.is_dir() && has_suffix(&n, ".pkr.hcl") {
                templates.push((shown, real));
            } else if meta.is_dir() && has_suffix(&n, ".pkr.json") {
                self.error(
                    Diagnostic::error(format!("{} is a JSON template, which is not supported", shown.display()))
                        .help("write the template in HCL (.pkr.hcl)"),
                );
            }
        }
        if templates.is_empty() {
            self.error(
                Diagnostic::error(format!("no *.pkr.hcl files in {}", given.display()))
                    .help("give a .pkr.hcl file or a folder holding .pkr.hcl files"),
            );
            return None;
        }
        Some(Files { templates, auto_var_files: auto, root: dir_shown })
    }

    fn parse(&mut self, shown: &Path, real: &Path) -> Option<(FileId, Body)> {
        let text = match std::fs::read(real) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    self.error(Diagnostic::error(format!("{} is not UTF-8 text", shown.display())));
                    return None;
                }
            },
            Err(e) => {
                self.error(Diagnostic::error(format!("cannot read {}: {e}", shown.display())));
                return None;
            }
        };
        self.parse_text(shown, text)
    }

    fn parse_text(&mut self, shown: &Path, text: String) -> Option<(FileId, Body)> {
        // Editors on Windows write a byte order mark; Packer reads such files, so do we.
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
        let parsed = hcl::edit::parser::parse_body(&text);
        let len = text.len();
        let file = self.sources.add(shown, text);
        match parsed {
            Ok(body) => Some((file, body)),
            Err(e) => {
                let start = e.location().offset().min(len);
                let end = (start + 1).min(len).max(start);
                let message = e.message();
                let d = if message.contains("redefined attribute") {
                    Diagnostic::error("duplicate argument: an argument can be set only once in a block")
                } else {
                    Diagnostic::error(format!("invalid HCL syntax: {message}"))
                };
                self.error(d.at(Span { file, start, end }));
                None
            }
        }
    }

    fn run(&mut self) -> Option<Loaded> {
        let files = self.collect_files()?;
        let templates: Vec<(FileId, Body)> = files.templates.iter().filter_map(|(s, r)| self.parse(s, r)).collect();
        let auto: Vec<(FileId, PathBuf, Body)> = files
            .auto_var_files
            .iter()
            .filter_map(|(s, r)| self.parse(s, r).map(|(f, b)| (f, s.clone(), b)))
            .collect();
        let var_files: Vec<(FileId, PathBuf, Body)> = self
            .opts
            .var_files
            .iter()
            .filter_map(|p| self.parse_var_file(p).map(|(f, b)| (f, p.clone(), b)))
            .collect();
        if self.diags.has_errors() || self.opts.syntax_only {
            return Some(Loaded::default());
        }

        // Sort the top-level structures by kind.
        let mut decls: Vec<Decl> = Vec::new();
        let mut local_decls: Vec<LocalDecl> = Vec::new();
        let mut blocks: Vec<(FileId, &EBlock)> = Vec::new();
        for (file, body) in &templates {
            for s in body.iter() {
                match s {
                    Structure::Attribute(a) => self.error(
                        Diagnostic::error(format!("unexpected attribute \"{}\" at the top level", a.key.as_str()))
                            .at(span_of(*file, a.key.span()))
                            .help("attributes belong inside a block: put it in locals { } or a variable's default"),
                    ),
                    Structure::Block(b) => match b.ident.as_str() {
                        "variable" => {
                            if let Some(d) = vars::declare(b, *file, &self.opts.env, &mut self.diags) {
                                self.push_decl(&mut decls, d);
                            }
                        }
                        "variables" => {
                            for d in vars::declare_legacy(&b.body, *file, &self.opts.env, &mut self.diags) {
                                self.push_decl(&mut decls, d);
                            }
                        }
                        "locals" => self.read_locals(b, *file, &mut local_decls),
                        "local" => self.read_local(b, *file, &mut local_decls),
                        "packer" | "source" | "build" => blocks.push((*file, b)),
                        "data" => self.error(
                            Diagnostic::error("data sources are not supported")
                                .at(span_of(*file, b.ident.span()))
                                .help("compute the value with a variable or a local instead"),
                        ),
                        other => {
                            let mut d = Diagnostic::error(format!("unsupported block type \"{other}\""))
                                .at(span_of(*file, b.ident.span()));
                            d = match did_you_mean(other, TOP_LEVEL) {
                                Some(s) => d.help(format!("did you mean \"{s}\"?")),
                                None => d.help(format!("blocks at the top level are: {}", TOP_LEVEL.join(", "))),
                            };
                            self.error(d);
                        }
                    },
                }
            }
        }

        let inputs = vars::Inputs {
            env: &self.opts.env,
            auto_files: &auto,
            var_files: &var_files,
            cli: &self.opts.vars,
            warn_undeclared: !self.opts.no_warn_undeclared_var,
            allow_unset: self.opts.allow_unset_variables,
        };
        let variables = vars::assign(&decls, &inputs, &mut self.diags);
        vars::validate(&decls, &variables, &mut self.diags);

        let mut sensitive_values = Vec::new();
        let mut var_map = hcl::Map::new();
        for v in &variables {
            if let Some(val) = &v.value {
                var_map.insert(v.name.clone(), val.clone());
                if v.sensitive {
                    vars::leaves(val, &mut sensitive_values);
                }
            } else {
                // Unset or invalid: declared, so references to it must not say "undefined".
                var_map.insert(v.name.clone(), Value::Null);
                self.unknown.insert(format!("var.{}", v.name));
            }
        }
        let mut path_map = hcl::Map::new();
        path_map.insert("root".to_string(), Value::String(files.root.to_string_lossy().into_owned()));
        path_map.insert("cwd".to_string(), Value::String(self.opts.cwd.to_string_lossy().into_owned()));

        let (locals, local_map) = self.eval_locals(&local_decls, &var_map, &path_map);
        for (l, d) in locals.iter().zip(&local_decls) {
            if d.sensitive {
                if let Some(v) = &l.value {
                    vars::leaves(v, &mut sensitive_values);
                }
            }
        }

        let mut out_blocks = Vec::new();
        for (file, b) in blocks {
            let base = Scope {
                file,
                vars: Some(&var_map),
                locals: Some(&local_map),
                path: Some(&path_map),
                source: None,
                defer: &[],
                env: None,
                place: "in this block",
                extra: None,
            };
            match b.ident.as_str() {
                "packer" => {
                    let scope = Scope { vars: None, locals: None, place: "in the packer block", ..base };
                    out_blocks.push(self.convert_block(b, &scope));
                }
                "source" => {
                    if b.labels.len() != 2 {
                        self.error(
                            Diagnostic::error("a source block needs two labels: its type and its name")
                                .at(span_of(file, b.ident.span()))
                                .help("write source \"huaweicloud-ecs\" \"name\" { ... }"),
                        );
                        continue;
                    }
                    let scope = Scope { place: "in a source block", ..base };
                    out_blocks.push(self.convert_block(b, &scope));
                }
                _ => {
                    let srcs = self.build_sources(b, &base);
                    let single = match srcs.as_slice() {
                        [one] => one.strip_prefix("source.").unwrap_or(one).split_once('.').map(|(t, n)| {
                            let mut m = hcl::Map::new();
                            m.insert("type".to_string(), Value::String(t.to_string()));
                            m.insert("name".to_string(), Value::String(n.to_string()));
                            m
                        }),
                        _ => None,
                    };
                    let defer: &[&str] = if single.is_some() { &["build"] } else { &["build", "source"] };
                    let scope = Scope { source: single.as_ref(), defer, place: "in a build block", ..base };
                    out_blocks.push(self.convert_block(b, &scope));
                }
            }
        }

        Some(Loaded {
            sources: SourceMap::default(),
            variables,
            locals,
            blocks: out_blocks,
            sensitive_values,
            warnings: Diagnostics::default(),
            path: path_map,
        })
    }

    fn parse_var_file(&mut self, p: &Path) -> Option<(FileId, Body)> {
        let real = self.resolve(p);
        if has_suffix(p, ".json") {
            let text = match std::fs::read_to_string(&real) {
                Ok(t) => t,
                Err(e) => {
                    self.error(Diagnostic::error(format!("cannot read var file {}: {e}", p.display())));
                    return None;
                }
            };
            // A JSON var file is an object of name: value; it is turned into HCL text, which is
            // what positions in messages about it refer to.
            return match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text) {
                Ok(obj) => {
                    let mut src = String::new();
                    for (k, v) in obj {
                        let value: Value = hcl::to_value(&v).unwrap_or(Value::Null);
                        src.push_str(&format!("{k} = {}\n", hcl::Expression::from(value)));
                    }
                    self.parse_text(p, src)
                }
                Err(e) => {
                    self.error(Diagnostic::error(format!("invalid JSON var file {}: {e}", p.display())));
                    None
                }
            };
        }
        if !real.is_file() {
            self.error(
                Diagnostic::error(format!("cannot read var file {}: no such file", p.display()))
                    .help("check the path given to -var-file"),
            );
            return None;
        }
        self.parse(p, &real)
    }

    fn push_decl(&mut self, decls: &mut Vec<Decl>, d: Decl) {
        if let Some(first) = decls.iter().find(|x| x.name == d.name) {
            let at = self.sources.position(first.span).map(|(p, l, c)| format!("{}:{l}:{c}", p.display())).unwrap_or_default();
            self.error(
                Diagnostic::error(format!("duplicate variable \"{}\"", d.name))
                    .at(d.span)
                    .detail(format!("it is already declared at {at}"))
                    .help("remove one of the declarations"),
            );
            return;
        }
        decls.push(d);
    }

    fn push_local(&mut self, locals: &mut Vec<LocalDecl>, l: LocalDecl) {
        if let Some(first) = locals.iter().find(|x| x.name == l.name) {
            let at = self.sources.position(first.span).map(|(p, l, c)| format!("{}:{l}:{c}", p.display())).unwrap_or_default();
            self.error(
                Diagnostic::error(format!("duplicate local \"{}\"", l.name))
                    .at(l.span)
                    .detail(format!("it is already defined at {at}")),
            );
            return;
        }
        locals.push(l);
    }

    fn read_locals(&mut self, b: &EBlock, file: FileId, out: &mut Vec<LocalDecl>) {
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let l = LocalDecl {
                        name: a.key.as_str().to_string(),
                        expr: a.value.clone(),
                        sensitive: false,
                        span: span_of(file, a.span()),
                        file,
                    };
                    self.push_local(out, l);
                }
                Structure::Block(inner) => self.error(
                    Diagnostic::error("a locals block holds only name = expression pairs")
                        .at(span_of(file, inner.ident.span())),
                ),
            }
        }
    }

    fn read_local(&mut self, b: &EBlock, file: FileId, out: &mut Vec<LocalDecl>) {
        let [label] = b.labels.as_slice() else {
            self.error(
                Diagnostic::error("a local block needs exactly one label, its name")
                    .at(span_of(file, b.ident.span()))
                    .help("write local \"name\" { expression = ... }"),
            );
            return;
        };
        let mut expr = None;
        let mut sensitive = false;
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) if a.key.as_str() == "expression" => expr = Some(a.value.clone()),
                Structure::Attribute(a) if a.key.as_str() == "sensitive" => match crate::types::literal_value(&a.value) {
                    Some(Value::Bool(v)) => sensitive = v,
                    _ => self.error(Diagnostic::error("sensitive must be true or false").at(span_of(file, a.value.span()))),
                },
                Structure::Attribute(a) => {
                    let mut d = Diagnostic::error(format!("unsupported argument \"{}\"", a.key.as_str())).at(span_of(file, a.key.span()));
                    if let Some(s) = did_you_mean(a.key.as_str(), ["expression", "sensitive"]) {
                        d = d.help(format!("did you mean \"{s}\"?"));
                    }
                    self.error(d);
                }
                Structure::Block(inner) => self.error(
                    Diagnostic::error(format!("unsupported block \"{}\" in a local block", inner.ident.as_str()))
                        .at(span_of(file, inner.ident.span())),
                ),
            }
        }
        let Some(expr) = expr else {
            self.error(
                Diagnostic::error(format!("local \"{}\" needs an expression", label.as_str()))
                    .at(span_of(file, b.ident.span()))
                    .help("add expression = ..."),
            );
            return;
        };
        let l = LocalDecl { name: label.as_str().to_string(), expr, sensitive, span: span_of(file, b.span()), file };
        self.push_local(out, l);
    }

    /// Evaluates locals in dependency order; a cycle is reported once per local on it.
    fn eval_locals(
        &mut self,
        decls: &[LocalDecl],
        var_map: &hcl::Map<String, Value>,
        path_map: &hcl::Map<String, Value>,
    ) -> (Vec<Local>, hcl::Map<String, Value>) {
        let names: BTreeSet<&str> = decls.iter().map(|d| d.name.as_str()).collect();
        let deps: Vec<Vec<usize>> = decls
            .iter()
            .map(|d| {
                let mut v: Vec<usize> = eval::references(&d.expr, "local")
                    .iter()
                    .filter(|n| names.contains(n.as_str()))
                    .filter_map(|n| decls.iter().position(|x| &x.name == n))
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        // Kahn's algorithm, keeping declaration order among the ready ones.
        let mut done = vec![false; decls.len()];
        let mut order = Vec::new();
        loop {
            let ready: Vec<usize> = (0..decls.len()).filter(|&i| !done[i] && deps[i].iter().all(|&d| done[d])).collect();
            if ready.is_empty() {
                break;
            }
            for i in ready {
                done[i] = true;
                order.push(i);
            }
        }
        for i in 0..decls.len() {
            if done[i] {
                continue;
            }
            if let Some(cycle) = find_cycle(i, &deps) {
                let path: Vec<String> = cycle.iter().map(|&j| format!("local.{}", decls[j].name)).collect();
                self.error(
                    Diagnostic::error(format!("local \"{}\" depends on itself", decls[i].name))
                        .at(decls[i].span)
                        .detail(format!("cycle: {} -> local.{}", path.join(" -> "), decls[i].name))
                        .help("break the cycle: one of these locals must not refer back to the others"),
                );
            }
        }
        let mut map = hcl::Map::new();
        for i in order {
            let d = &decls[i];
            if !deps[i].iter().all(|&j| map.contains_key(&decls[j].name)) || self.depends_on_unknown(&d.expr) {
                self.unknown.insert(format!("local.{}", d.name));
                continue; // a dependency has no value, and why was reported
            }
            let scope = Scope {
                file: d.file,
                vars: Some(var_map),
                locals: Some(&map),
                path: Some(path_map),
                source: None,
                defer: &[],
                env: None,
                place: "in a local value",
                extra: None,
            };
            match eval::eval_value(&d.expr, &scope, &mut self.diags) {
                Some(v) => {
                    map.insert(d.name.clone(), v);
                }
                None => {
                    self.unknown.insert(format!("local.{}", d.name));
                }
            }
        }
        let locals = decls
            .iter()
            .map(|d| Local { name: d.name.clone(), value: map.get(&d.name).cloned(), sensitive: d.sensitive, span: d.span })
            .collect();
        (locals, map)
    }

    /// The `type.name` of each source a build block uses (its `sources` list and `source` blocks).
    fn build_sources(&mut self, b: &EBlock, scope: &Scope) -> Vec<String> {
        let mut out = Vec::new();
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) if a.key.as_str() == "sources" => {
                    let mut quiet = Diagnostics::default();
                    if let Some(Value::Array(items)) = eval::eval_value(&a.value, scope, &mut quiet) {
                        out.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)));
                    }
                }
                Structure::Block(inner) if inner.ident.as_str() == "source" => {
                    if let Some(l) = inner.labels.first() {
                        out.push(l.as_str().to_string());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Expands `dynamic "kind" { for_each, iterator, labels, content {} }` into one `kind` block
    /// per element, with the iterator (`kind.key`, `kind.value`) in scope of its content.
    fn expand_dynamic(&mut self, d: &EBlock, scope: &Scope) -> Vec<Block> {
        let file = scope.file;
        let at = span_of(file, d.ident.span());
        let [kind] = d.labels.as_slice() else {
            self.error(
                Diagnostic::error("a dynamic block needs exactly one label: the type of the blocks it makes")
                    .at(at)
                    .help("write dynamic \"tag\" { for_each = ..., content { ... } }"),
            );
            return Vec::new();
        };
        let kind = kind.as_str().to_string();
        let mut for_each = None;
        let mut iterator = kind.clone();
        let mut labels = None;
        let mut content = Vec::new();
        for s in d.body.iter() {
            match s {
                Structure::Attribute(a) => match a.key.as_str() {
                    "for_each" => for_each = Some(&a.value),
                    "labels" => labels = Some(&a.value),
                    "iterator" => match &a.value {
                        Expr::Variable(v) => iterator = v.as_str().to_string(),
                        other => self.error(
                            Diagnostic::error("iterator must be a plain name, e.g. iterator = t")
                                .at(span_of(file, other.span())),
                        ),
                    },
                    other => {
                        let mut diag = Diagnostic::error(format!("unsupported argument \"{other}\" in a dynamic block"))
                            .at(span_of(file, a.key.span()));
                        if let Some(s) = did_you_mean(other, ["for_each", "iterator", "labels"]) {
                            diag = diag.help(format!("did you mean \"{s}\"?"));
                        }
                        self.error(diag);
                    }
                },
                Structure::Block(b) if b.ident.as_str() == "content" => content.push(b),
                Structure::Block(b) => self.error(
                    Diagnostic::error(format!("unsupported block \"{}\" in a dynamic block", b.ident.as_str()))
                        .at(span_of(file, b.ident.span()))
                        .help("a dynamic block holds for_each, iterator, labels and one content block"),
                ),
            }
        }
        let (Some(for_each), [content]) = (for_each, content.as_slice()) else {
            self.error(
                Diagnostic::error("a dynamic block needs for_each and exactly one content block")
                    .at(at)
                    .help("write dynamic \"tag\" { for_each = ..., content { ... } }"),
            );
            return Vec::new();
        };
        if self.depends_on_unknown(for_each) {
            return Vec::new();
        }
        let items: Vec<(Value, Value)> = match eval::eval_value(for_each, scope, &mut self.diags) {
            Some(Value::Array(a)) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i as u64), v)).collect(),
            Some(Value::Object(o)) => o.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Some(Value::Null) => Vec::new(),
            Some(other) => {
                self.error(
                    Diagnostic::error(format!("for_each of a dynamic block must be a list, a set or a map, got {other}"))
                        .at(span_of(file, for_each.span())),
                );
                return Vec::new();
            }
            None => return Vec::new(),
        };
        let mut out = Vec::new();
        for (key, value) in items {
            let mut extra = scope.extra.cloned().unwrap_or_default();
            let mut it = hcl::Map::new();
            it.insert("key".to_string(), key);
            it.insert("value".to_string(), value);
            extra.insert(iterator.clone(), Value::Object(it));
            let inner = Scope { extra: Some(&extra), ..scope.clone() };
            let block_labels = match labels.map(|l| eval::eval_value(l, &inner, &mut self.diags)) {
                None => Vec::new(),
                Some(Some(Value::Array(ls))) => ls.iter().map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_string)).collect(),
                Some(Some(_)) => {
                    self.error(Diagnostic::error("labels of a dynamic block must be a list of strings").at(at));
                    return out;
                }
                Some(None) => return out,
            };
            let mut made = self.convert_block(content, &inner);
            made.kind = kind.clone();
            made.labels = block_labels;
            made.kind_span = at;
            made.span = span_of(file, d.span());
            out.push(made);
        }
        out
    }

    fn convert_block(&mut self, b: &EBlock, scope: &Scope) -> Block {
        let file = scope.file;
        let mut block = Block {
            kind: b.ident.as_str().to_string(),
            labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
            kind_span: span_of(file, b.ident.span()),
            span: span_of(file, b.span()),
            attributes: Vec::new(),
            blocks: Vec::new(),
        };
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str().to_string();
                    let name_span = span_of(file, a.key.span());
                    if let Some(first) = block.attributes.iter().find(|x| x.name == name) {
                        let at = self.sources.position(first.name_span).map(|(_, l, c)| format!("line {l}, column {c}")).unwrap_or_default();
                        self.error(
                            Diagnostic::error(format!("duplicate argument \"{name}\""))
                                .at(name_span)
                                .detail(format!("it is already set at {at}")),
                        );
                        continue;
                    }
                    if self.depends_on_unknown(&a.value) {
                        continue;
                    }
                    if let Some(ev) = eval::eval(&a.value, scope, &mut self.diags) {
                        block.attributes.push(Attribute {
                            name,
                            name_span,
                            value: ev.value,
                            value_span: span_of(file, a.value.span()),
                            literal: ev.literal,
                        });
                    }
                }
                Structure::Block(inner) if inner.ident.as_str() == "dynamic" => {
                    let expanded = self.expand_dynamic(inner, scope);
                    block.blocks.extend(expanded);
                }
                Structure::Block(inner) => {
                    let converted = self.convert_block(inner, scope);
                    block.blocks.push(converted);
                }
            }
        }
        block
    }
}

/// A `locals`/`local` definition before evaluation.
struct LocalDecl {
    name: String,
    expr: Expr,
    sensitive: bool,
    span: Span,
    file: FileId,
}

/// A path of dependencies from `start` back to itself, if there is one.
fn find_cycle(start: usize, deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    fn dfs(node: usize, start: usize, deps: &[Vec<usize>], seen: &mut Vec<bool>, path: &mut Vec<usize>) -> bool {
        path.push(node);
        for &next in &deps[node] {
            if next == start {
                return true;
            }
            if !seen[next] {
                seen[next] = true;
                if dfs(next, start, deps, seen, path) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut seen = vec![false; deps.len()];
    let mut path = Vec::new();
    dfs(start, start, deps, &mut seen, &mut path).then_some(path)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
