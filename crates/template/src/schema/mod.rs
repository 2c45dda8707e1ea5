//! Schemas of the blocks we accept (`packer`, `source "huaweicloud-ecs"`, `source "null"`, `build`
//! with its provisioners and post-processors): every field is typed, checked and turned into a
//! [`BuildPlan`]; unknown fields get "did you mean", unsupported ones a clear refusal.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};

pub mod build;
pub mod communicator;
pub mod docs;
pub mod fields;
pub mod files;
pub mod huaweicloud;
pub mod null;
pub mod packer_block;
pub mod post_processors;
pub mod provisioners;

#[cfg(test)]
mod testutil;
#[cfg(test)]
mod tests;

pub use build::{Build, BuildSource};
pub use communicator::{Communicator, KeyPair, SshConfig};
pub use fields::{Deferrable, GoDuration};
pub use huaweicloud::{HuaweiEcsConfig, SecurityGroupRef, SourceImage, apply_env_defaults, check_mode};
pub use null::NullConfig;
pub use packer_block::PackerSettings;
pub use crate::plugins::{RequiredPlugin, check_required_plugins};
pub use post_processors::{PostProcessor, PostProcessorKind};
pub use provisioners::{Provisioner, ProvisionerKind};

/// The source types we build.
pub const SOURCE_TYPES: &[&str] = &["huaweicloud-ecs", "null"];

/// A checked source configuration.
// Built once per template and moved rarely; boxing would only add noise for readers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceConfig {
    #[serde(rename = "huaweicloud-ecs")]
    HuaweiEcs(HuaweiEcsConfig),
    Null(NullConfig),
}

/// A top-level `source "TYPE" "NAME"` block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    pub source_type: String,
    pub name: String,
    /// As written. When a build completes it with a nested `source` block, required fields are
    /// checked on the build's copy ([`BuildSource`]) instead.
    pub config: SourceConfig,
}

/// The typed result of checking a template's blocks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BuildPlan {
    pub packer: PackerSettings,
    pub sources: Vec<Source>,
    pub builds: Vec<Build>,
}

/// A top-level source while planning.
pub(crate) struct TopSource<'b> {
    pub ty: String,
    pub name: String,
    pub block: &'b Block,
    pub config: Option<SourceConfig>,
}

/// Checks one source block of a known type.
pub(crate) fn read_source(
    ty: &str,
    block: &Block,
    what: &str,
    check_required: bool,
    env: &BTreeMap<String, String>,
) -> (Option<SourceConfig>, Diagnostics) {
    match ty {
        "huaweicloud-ecs" => {
            let (c, d) = huaweicloud::read(block, what, check_required, env);
            (Some(SourceConfig::HuaweiEcs(c)), d)
        }
        "null" => {
            let (c, d) = null::read(block, what, check_required);
            (Some(SourceConfig::Null(c)), d)
        }
        _ => (None, Diagnostics::default()),
    }
}

/// Checks the evaluated blocks of a template against their schemas, with no environment: a
/// huaweicloud-ecs source without keys in the template is for the local cloud. Callers that
/// honour the plugin's `HW_*` variables use [`plan_with_env`].
pub fn plan(blocks: &[Block]) -> (Option<BuildPlan>, Diagnostics) {
    plan_with_env(blocks, &BTreeMap::new())
}

/// [`plan`], filling empty huaweicloud-ecs access fields from the plugin's environment
/// variables (`HW_ACCESS_KEY`, `HW_SECRET_KEY`, `HW_REGION_NAME`, ...) before the mode is decided.
/// The plan is `None` when there is any error.
pub fn plan_with_env(blocks: &[Block], env: &BTreeMap<String, String>) -> (Option<BuildPlan>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut plan = BuildPlan::default();
    let mut tops: Vec<TopSource<'_>> = Vec::new();
    let completed: Vec<String> = blocks.iter().filter(|b| b.kind == "build").flat_map(build::nested_refs).collect();

    for b in blocks {
        match b.kind.as_str() {
            "packer" => diags.extend(packer_block::read(b, &mut plan.packer)),
            "source" => {
                let [ty, name] = b.labels.as_slice() else {
                    diags.push(
                        Diagnostic::error("a source block needs two labels, its type and its name")
                            .at(b.kind_span)
                            .help("write source \"huaweicloud-ecs\" \"NAME\" { ... }"),
                    );
                    continue;
                };
                if !SOURCE_TYPES.contains(&ty.as_str()) {
                    let mut d = Diagnostic::error(format!("unknown source type \"{ty}\""))
                        .at(b.kind_span)
                        .detail(format!("cce-image-builder builds: {}", SOURCE_TYPES.join(", ")));
                    if let Some(m) = did_you_mean(ty, SOURCE_TYPES.iter().copied()) {
                        d = d.help(format!("did you mean \"{m}\"?"));
                    }
                    diags.push(d);
                    continue;
                }
                if tops.iter().any(|t| &t.ty == ty && &t.name == name) {
                    diags.push(
                        Diagnostic::error(format!("duplicate source \"{ty}\" \"{name}\""))
                            .at(b.kind_span)
                            .help("give each source of a type its own name"),
                    );
                    continue;
                }
                let what = format!("source \"{ty}\" \"{name}\"");
                let check_required = !completed.contains(&format!("{ty}.{name}"));
                let (config, d) = read_source(ty, b, &what, check_required, env);
                diags.extend(d);
                tops.push(TopSource { ty: ty.clone(), name: name.clone(), block: b, config });
            }
            "build" => {}
            // Declared and evaluated by the loader; nothing to check here.
            "variable" | "variables" | "locals" | "local" => {}
            "data" => diags.push(
                fields::refusal("the data block", "data sources need plugins that are not built in; compute the value in a variable or a local instead")
                    .at(b.kind_span),
            ),
            other => {
                let known = ["packer", "source", "build", "variable", "locals", "local"];
                let mut d = Diagnostic::error(format!("unsupported block type \"{other}\"")).at(b.kind_span);
                if let Some(m) = did_you_mean(other, known) {
                    d = d.help(format!("did you mean \"{m}\"?"));
                }
                diags.push(d);
            }
        }
    }
    for b in blocks.iter().filter(|b| b.kind == "build") {
        let (build, d) = build::read(b, &tops, env);
        diags.extend(d);
        plan.builds.extend(build);
    }
    plan.sources = tops
        .into_iter()
        .filter_map(|t| t.config.map(|config| Source { source_type: t.ty, name: t.name, config }))
        .collect();

    // The same field is read for a top-level source and for each build's copy of it.
    let mut unique: Vec<Diagnostic> = Vec::new();
    for d in diags.0 {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    let diags = Diagnostics(unique);
    if diags.has_errors() { (None, diags) } else { (Some(plan), diags) }
}
