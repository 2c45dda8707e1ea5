//! Behaviour tests of the schemas, through HCL text turned into blocks.
