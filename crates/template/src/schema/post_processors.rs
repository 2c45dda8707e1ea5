//! Post-processors (`manifest`, `checksum`, `shell-local`), alone (`post-processor`) or in
//! chains (`post-processors { post-processor ... }`), with `name`, `keep_input_artifact` and
//! `only`/`except`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fields::{Deferrable, Field, Origin, Reader, Ty, field};
use super::provisioners::{SHELL_LOCAL_FIELDS, ShellLocal, block_type, read_only_except, read_shell_local};
use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics, Span};

pub static POST_PROCESSOR_META_FIELDS: &[Field] = &[
    field("name", Ty::String, "Name shown in the output.").from(Origin::Packer),
    field("keep_input_artifact", Ty::Bool, "Keep the artifact this post-processor received.").from(Origin::Packer),
    field("only", Ty::StringList, "Run only for these sources (`TYPE.NAME`).").from(Origin::Packer),
    field("except", Ty::StringList, "Run for every source but these (`TYPE.NAME`).").from(Origin::Packer),
];

pub static MANIFEST_FIELDS: &[Field] = &[
    field("output", Ty::String, "Path of the manifest file.").def("packer-manifest.json").from(Origin::Packer),
    field("strip_path", Ty::Bool, "Write only file names, not paths.").def("false").from(Origin::Packer),
    field("strip_time", Ty::Bool, "Leave `build_time` out.").def("false").from(Origin::Packer),
    field("custom_data", Ty::StringMap, "Extra values written under `custom_data`.").from(Origin::Packer),
];

pub static CHECKSUM_FIELDS: &[Field] = &[
    field("checksum_types", Ty::StringList, "`md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`.").def("[\"md5\"]").from(Origin::Packer),
    field("output", Ty::String, "Path of the checksum file.").def("packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum").from(Origin::Packer),
];

pub static POST_PROCESSOR_TYPES: &[(&str, &[Field])] =
    &[("manifest", MANIFEST_FIELDS), ("checksum", CHECKSUM_FIELDS), ("shell-local", SHELL_LOCAL_FIELDS)];

const CHECKSUM_TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manifest {
    pub output: Deferrable<String>,
    pub strip_path: bool,
    pub strip_time: bool,
    pub custom_data: Option<Deferrable<BTreeMap<String, String>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checksum {
    pub checksum_types: Vec<String>,
    pub output: Option<Deferrable<String>>,
}

// Built once per template and moved rarely; boxing would only add noise for readers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PostProcessorKind {
    Manifest(Manifest),
    Checksum(Checksum),
    ShellLocal(ShellLocal),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostProcessor {
    pub kind: PostProcessorKind,
    pub name: Option<String>,
    pub keep_input_artifact: Option<bool>,
    pub only: Vec<String>,
    pub except: Vec<String>,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// Reads one `post-processor "TYPE"` block.
pub(crate) fn read(block: &Block, refs: &[String]) -> (Option<PostProcessor>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let Some(ty) = block_type(block, "post-processor", POST_PROCESSOR_TYPES.iter().map(|(n, _)| *n), &mut diags) else {
        return (None, diags);
    };
    let Some((_, fields)) = POST_PROCESSOR_TYPES.iter().find(|(n, _)| *n == ty) else { return (None, diags) };
    let mut r = Reader::new(block, &[POST_PROCESSOR_META_FIELDS, fields], format!("post-processor \"{ty}\"")).allow_deferred();
    let kind = match ty {
        "manifest" => PostProcessorKind::Manifest(Manifest {
            output: r.text("output").unwrap_or_else(|| Deferrable::Known("packer-manifest.json".into())),
            strip_path: r.bool("strip_path").unwrap_or(false),
            strip_time: r.bool("strip_time").unwrap_or(false),
            custom_data: r.text_map("custom_data"),
        }),
        "checksum" => {
            let types = r.list("checksum_types").unwrap_or_else(|| vec!["md5".into()]);
            for t in &types {
                if !CHECKSUM_TYPES.contains(&t.as_str()) {
                    let span = r.attr("checksum_types").map_or(block.kind_span, |a| a.value_span);
                    r.diags.push(
                        Diagnostic::error(format!("unsupported checksum type \"{t}\""))
                            .at(span)
                            .help(format!("use one of {}", CHECKSUM_TYPES.join(", "))),
                    );
                }
            }
            PostProcessorKind::Checksum(Checksum { checksum_types: types, output: r.text("output") })
        }
        _ => PostProcessorKind::ShellLocal(read_shell_local(&mut r)),
    };
    let (only, except) = read_only_except(&mut r, refs);
    let pp = PostProcessor {
        kind,
        name: r.string("name"),
        keep_input_artifact: r.bool("keep_input_artifact"),
        only,
        except,
        span: Some(block.kind_span),
    };
    diags.extend(r.finish());
    (Some(pp), diags)
}

pub static CHAIN_FIELDS: &[Field] = &[field("post-processor", Ty::BlockList, "One step of the chain.").from(Origin::Packer)];

/// Reads a `post-processors { ... }` chain.
pub(crate) fn read_chain(block: &Block, refs: &[String]) -> (Vec<PostProcessor>, Diagnostics) {
    let r = Reader::new(block, &[CHAIN_FIELDS], "post-processors");
    let mut diags = r.finish();
    let mut chain = Vec::new();
    for b in block.blocks_of("post-processor") {
        let (pp, d) = read(b, refs);
        diags.extend(d);
        chain.extend(pp);
    }
    if block.blocks_of("post-processor").next().is_none() {
        diags.push(Diagnostic::warning("empty \"post-processors\" block").at(block.kind_span));
    }
    (chain, diags)
}
