//! The embedded local cloud: an emulator of the ECS, IMS, VPC, EIP and IAM APIs that checks
//! signatures like the real gateway, keeps its state on disk and runs servers as sandboxes.
//! The real-cloud path never needs it.
