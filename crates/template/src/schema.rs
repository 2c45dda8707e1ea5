//! Schemas of the blocks we accept (`packer`, `source "huaweicloud-ecs"`, `source "null"`, `build`
//! with its provisioners and post-processors): every field is typed, checked and turned into a
//! [`BuildPlan`]; unknown fields get "did you mean", unsupported ones a clear refusal.

use crate::body::Block;
use crate::diag::{Diagnostic, Diagnostics};

/// The typed result of checking a template's blocks.
#[derive(Clone, Debug, Default)]
pub struct BuildPlan {}

/// Checks the evaluated blocks of a template against their schemas.
pub fn plan(blocks: &[Block]) -> (Option<BuildPlan>, Diagnostics) {
    let mut d = Diagnostics::default();
    if !blocks.is_empty() {
        d.push(Diagnostic::error("block schemas are not built yet"));
    }
    (None, d)
}
