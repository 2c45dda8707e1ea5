//! The template room: loads Packer HCL2 templates (`*.pkr.hcl`, `*.auto.pkrvars.hcl`), evaluates
//! variables, locals and functions, checks every block against its schema and produces a typed
//! build plan. It never touches the network or a cloud.

pub mod body;
pub mod console;
pub mod diag;
pub mod duration;
pub mod fmt;
pub mod functions;
pub mod load;
pub mod schema;
pub mod types;
pub mod eval;
pub mod vars;
pub mod version;
pub mod plugins;
