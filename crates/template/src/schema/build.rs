//! The `build` block: which sources it uses (by `source.TYPE.NAME`, or nested `source` blocks
//! that complete a top-level source), then its provisioners and post-processors in order.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fields::{Field, Origin, Reader, Ty, field};
use super::post_processors::{self, PostProcessor};
use super::provisioners::{self, Provisioner};
use super::{SourceConfig, TopSource, read_source};
use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};

pub static BUILD_FIELDS: &[Field] = &[
    field("name", Ty::String, "Name of the build, shown in the output and in `PACKER_BUILD_NAME`.").from(Origin::Packer),
    field("description", Ty::String, "Free text.").from(Origin::Packer),
    field("sources", Ty::StringList, "Sources to build, as `source.TYPE.NAME` (or `TYPE.NAME`, which Packer 1.6 also takes).").from(Origin::Packer),
    field("source", Ty::BlockList, "`source \"source.TYPE.NAME\" { name = ..., more fields }`: use a source, giving it another name and setting fields it leaves unset.").from(Origin::Packer),
    field("provisioner", Ty::BlockList, "Steps run on the machine, in order.").from(Origin::Packer),
    field("error-cleanup-provisioner", Ty::Block, "Runs when a provisioner fails.").from(Origin::Packer),
    field("post-processor", Ty::BlockList, "A post-processor that runs alone.").from(Origin::Packer),
    field("post-processors", Ty::BlockList, "A chain of post-processors, each given the previous one's artifact.").from(Origin::Packer),
    field("hcp_packer_registry", Ty::Block, "").from(Origin::Packer).refused("HCP Packer is not reachable from Cloud.ru; record the image with a manifest post-processor"),
];

/// The one field of a nested source block that is not a field of the source itself.
static NESTED_SOURCE_FIELDS: &[Field] = &[field("name", Ty::String, "")];

/// A source as used by one build: the top-level source with the build's additions merged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildSource {
    pub source_type: String,
    /// The name of the top-level source.
    pub source_name: String,
    /// The name in this build (`name = ...` of a nested block), else `source_name`.
    pub name: String,
    pub config: SourceConfig,
}

impl BuildSource {
    /// `TYPE.NAME`, as `only`/`except` name it.
    pub fn reference(&self) -> String {
        format!("{}.{}", self.source_type, self.name)
    }
}

/// One checked `build` block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sources: Vec<BuildSource>,
    pub provisioners: Vec<Provisioner>,
    pub error_cleanup_provisioner: Option<Provisioner>,
    /// Chains of post-processors; a lone `post-processor` is a chain of one.
    pub post_processors: Vec<Vec<PostProcessor>>,
}

/// Splits `source.TYPE.NAME` (or `TYPE.NAME` when `prefix_optional`) into type and name.
fn split_ref(s: &str, prefix_optional: bool) -> Result<(&str, &str), String> {
    let rest = match s.strip_prefix("source.") {
        Some(r) => r,
        None if prefix_optional => s,
        None => return Err(format!("source reference \"{s}\" must start with \"source.\"")),
    };
    match rest.split_once('.') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() => Ok((t, n)),
        _ => Err(format!("source reference \"{s}\" must have the form source.TYPE.NAME")),
    }
}

/// The labels of nested `source` blocks in a build, as `TYPE.NAME`, for knowing which
/// top-level sources are completed by a build.
pub(crate) fn nested_refs(build: &Block) -> Vec<String> {
    build
        .blocks_of("source")
        .filter_map(|b| b.labels.first())
        .filter_map(|l| split_ref(l, true).ok().map(|(t, n)| format!("{t}.{n}")))
        .collect()
}

/// A copy of `top` with the nested block's fields added; a field set in both is an error, as
/// in Packer.
fn merge(top: &Block, nested: &Block, what: &str) -> (Block, Diagnostics) {
    let mut d = Diagnostics::default();
    let mut merged = top.clone();
    for a in nested.attributes.iter().filter(|a| a.name != "name") {
        if top.attribute(&a.name).is_some() {
            d.push(
                Diagnostic::error(format!("\"{}\" is already set in {what}", a.name))
                    .at(a.name_span)
                    .help("a build's source block can only set fields the top-level source leaves unset"),
            );
        } else {
            merged.attributes.push(a.clone());
        }
    }
    for b in &nested.blocks {
        if top.blocks_of(&b.kind).next().is_some() {
            d.push(
                Diagnostic::error(format!("\"{}\" is already set in {what}", b.kind))
                    .at(b.kind_span)
                    .help("a build's source block can only set fields the top-level source leaves unset"),
            );
        } else {
            merged.blocks.push(b.clone());
        }
    }
    (merged, d)
}

fn find<'a, 'b>(sources: &'a [TopSource<'b>], ty: &str, name: &str) -> Option<&'a TopSource<'b>> {
    sources.iter().find(|s| s.ty == ty && s.name == name)
}

fn unknown_source(sources: &[TopSource<'_>], written: &str, ty: &str, name: &str) -> Diagnostic {
    let d = Diagnostic::error(format!("unknown source \"{written}\""));
    let candidates: Vec<String> = sources.iter().map(|s| format!("source.{}.{}", s.ty, s.name)).collect();
    let wanted = format!("source.{ty}.{name}");
    match did_you_mean(&wanted, candidates.iter().map(String::as_str)) {
        Some(m) => d.help(format!("did you mean \"{m}\"?")),
        None if candidates.is_empty() => d.help("declare it with a top-level source \"TYPE\" \"NAME\" { ... } block"),
        None => d.help(format!("the declared sources are: {}", candidates.join(", "))),
    }
}

/// Reads one `build` block against the top-level sources.
pub(crate) fn read(block: &Block, sources: &[TopSource<'_>], env: &BTreeMap<String, String>) -> (Option<Build>, Diagnostics) {
    let mut r = Reader::new(block, &[BUILD_FIELDS], "build");
    let name = r.string("name");
    let description = r.string("description");
    let mut used: Vec<BuildSource> = Vec::new();
    let mut diags = Diagnostics::default();

    if let Some(list) = r.list("sources") {
        let span = r.attr("sources").map_or(block.kind_span, |a| a.value_span);
        for s in list {
            // Packer 1.6 takes "TYPE.NAME" as well as "source.TYPE.NAME".
            match split_ref(&s, true) {
                Err(e) => diags.push(Diagnostic::error(e).at(span).help("write \"source.TYPE.NAME\"")),
                Ok((ty, n)) => match find(sources, ty, n) {
                    None => diags.push(unknown_source(sources, &s, ty, n).at(span)),
                    Some(src) => {
                        // Read again with every requirement: the top-level reading skips them when
                        // another build completes this source (repeated messages are merged).
                        let what = format!("source \"{ty}\" \"{n}\"");
                        let (config, d) = read_source(ty, src.block, &what, true, env);
                        diags.extend(d);
                        if let Some(config) = config {
                            used.push(BuildSource { source_type: ty.into(), source_name: n.into(), name: n.into(), config });
                        }
                    }
                },
            }
        }
    }
    for nb in block.blocks_of("source") {
        let [label] = nb.labels.as_slice() else {
            diags.push(Diagnostic::error("a source block in a build needs one label, \"source.TYPE.NAME\"").at(nb.kind_span));
            continue;
        };
        let (ty, n) = match split_ref(label, true) {
            Ok(x) => x,
            Err(e) => {
                diags.push(Diagnostic::error(e).at(nb.kind_span));
                continue;
            }
        };
        let Some(src) = find(sources, ty, n) else {
            diags.push(unknown_source(sources, label, ty, n).at(nb.kind_span));
            continue;
        };
        let what = format!("source \"{ty}\" \"{n}\"");
        let (merged, d) = merge(src.block, nb, &what);
        diags.extend(d);
        let mut nr = Reader::new(nb, &[NESTED_SOURCE_FIELDS], "");
        let local_name = nb.attribute("name").and_then(|_| nr.string("name"));
        // Only `name`'s type is checked here; every other field is checked on the merged block.
        diags.0.extend(nr.finish().0.into_iter().filter(|d| !d.summary.starts_with("unsupported argument")));
        let (config, d) = read_source(ty, &merged, &what, true, env);
        diags.extend(d);
        if let Some(config) = config {
            used.push(BuildSource { source_type: ty.into(), source_name: n.into(), name: local_name.unwrap_or_else(|| n.into()), config });
        }
    }
    if !r.has("sources") && block.blocks_of("source").next().is_none() {
        // Packer accepts such a build; it builds nothing, which is worth a warning.
        r.diags.push(
            crate::diag::Diagnostic::warning("build has no sources: it builds nothing")
                .at(block.kind_span)
                .help("add sources = [\"source.TYPE.NAME\"] naming a top-level source"),
        );
    }
    let mut seen = Vec::new();
    for s in &used {
        let reference = s.reference();
        if seen.contains(&reference) {
            r.error_at(block.kind_span, format!("source \"{reference}\" is used twice in this build")).help =
                Some("give one of them another name with name = \"...\" in a nested source block".into());
        }
        seen.push(reference);
    }
    let names: Vec<String> = used.iter().map(|s| s.name.clone()).collect();

    let mut provisioners_out = Vec::new();
    for b in block.blocks_of("provisioner") {
        let (p, d) = provisioners::read(b, &seen, &names);
        diags.extend(d);
        provisioners_out.extend(p);
    }
    let mut error_cleanup = None;
    if let Some(b) = block.blocks_of("error-cleanup-provisioner").next() {
        let (p, d) = provisioners::read(b, &seen, &names);
        diags.extend(d);
        error_cleanup = p;
    }
    let mut chains = Vec::new();
    for b in &block.blocks {
        match b.kind.as_str() {
            "post-processor" => {
                let (pp, d) = post_processors::read(b, &seen);
                diags.extend(d);
                chains.extend(pp.map(|p| vec![p]));
            }
            "post-processors" => {
                let (chain, d) = post_processors::read_chain(b, &seen);
                diags.extend(d);
                if !chain.is_empty() {
                    chains.push(chain);
                }
            }
            _ => {}
        }
    }
    let mut all = r.finish();
    all.extend(diags);
    let build = Build { name, description, sources: used, provisioners: provisioners_out, error_cleanup_provisioner: error_cleanup, post_processors: chains };
    (Some(build), all)
}
