//! The evaluated shape of a template block, the seam between evaluation and schemas: the
//! evaluator turns HCL syntax into [`Block`]s whose attributes hold values, and the schemas check
//! and type them. Spans point back into the source for every name and value.

use crate::diag::Span;

/// The value of an attribute after evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// Fully known at load time.
    Known(hcl::Value),
    /// Depends on values only known during a build (`build.*`); holds the expression source
    /// with every known part already substituted, to be evaluated again by the engine.
    Deferred(String),
}

/// One `name = expression` attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub name_span: Span,
    pub value: AttrValue,
    pub value_span: Span,
    /// The expression is a plain literal (no reference, no function call), e.g. a key typed
    /// straight into the template instead of coming from a variable.
    pub literal: bool,
}

/// One block, e.g. `source "huaweicloud-ecs" "builder" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    /// The block type keyword.
    pub kind_span: Span,
    /// The whole block.
    pub span: Span,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

impl Block {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }
}
