//! The build engine: runs the steps of a source with a crash-safe ledger of created resources,
//! the provisioners with Packer's semantics, and cleanup. It parses no HCL and signs no requests.
