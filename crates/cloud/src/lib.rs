//! The cloud room: AK/SK request signing, endpoints, typed calls to IAM, ECS, IMS, VPC and EIP,
//! retries with jittered backoff, rate limits and the one job waiter. It knows nothing of templates.
pub mod signer;
