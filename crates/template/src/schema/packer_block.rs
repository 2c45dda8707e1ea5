//! The `packer` block: `required_version` (checked for syntax) and `required_plugins`.

use serde::Serialize;

use super::fields::{Field, Origin, Reader, Ty, field};
use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plugins::{HUAWEICLOUD_SOURCE, RequiredPlugin, check_required_plugins};
use crate::version::Constraint;

pub static PACKER_FIELDS: &[Field] = &[
    field("required_version", Ty::String, "Packer version constraint; checked for syntax only, as cce-image-builder reads the HCL2 templates of Packer 1.6 and later.").from(Origin::Packer),
    field("required_plugins", Ty::Block, "`NAME = { source, version }`; only `github.com/huaweicloud/huaweicloud` is built in.").from(Origin::Packer),
];

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PackerSettings {
    pub required_version: Option<String>,
    pub required_plugins: Vec<RequiredPlugin>,
}

/// Reads a `packer` block into `out` (several `packer` blocks add up, as across files).
pub(crate) fn read(block: &Block, out: &mut PackerSettings) -> Diagnostics {
    let mut r = Reader::new(block, &[PACKER_FIELDS], "the packer block");
    if let Some(v) = r.string("required_version") {
        if let Err(why) = Constraint::parse(&v) {
            let span = r.attr("required_version").map_or(block.kind_span, |a| a.value_span);
            r.error_at(span, format!("invalid required_version \"{v}\": {why}")).help = Some("write a constraint such as \">= 1.7.0\"".into());
        }
        out.required_version = Some(v);
    }
    let mut diags = r.finish();
    for rp in block.blocks_of("required_plugins") {
        let mut plugins = Vec::new();
        for a in &rp.attributes {
            let crate::body::AttrValue::Known(hcl::Value::Object(m)) = &a.value else {
                diags.push(
                    Diagnostic::error(format!("required plugin \"{}\" must be an object", a.name))
                        .at(a.value_span)
                        .help(format!("write {} = {{ source = \"{HUAWEICLOUD_SOURCE}\", version = \">= 0.4.0\" }}", a.name)),
                );
                continue;
            };
            let get = |k: &str| match m.get(k) {
                Some(hcl::Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            for k in m.keys().filter(|k| !["source", "version"].contains(&k.as_str())) {
                diags.push(Diagnostic::error(format!("unsupported argument \"{k}\" in required plugin \"{}\"", a.name)).at(a.value_span).help("a required plugin has only source and version"));
            }
            plugins.push(RequiredPlugin { name: a.name.clone(), source: get("source"), version: get("version"), span: Some(a.value_span) });
        }
        for b in &rp.blocks {
            diags.push(Diagnostic::error(format!("unsupported block type \"{}\" in required_plugins", b.kind)).at(b.kind_span));
        }
        diags.extend(check_required_plugins(&plugins));
        out.required_plugins.extend(plugins);
    }
    diags
}
