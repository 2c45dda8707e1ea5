//! The cloud room: AK/SK request signing, endpoints, typed calls to IAM, ECS, IMS, VPC and EIP,
//! retries with jittered backoff, rate limits and the one job waiter. It knows nothing of templates.
pub mod api;
pub mod client;
pub mod cloud;
pub mod endpoints;
pub mod error;
pub mod models;
pub mod ratelimit;
pub mod retry;
pub mod signer;
pub mod wait;

pub use client::{Client, ClientConfig};
pub use cloud::{Cloud, Waits, connect};
pub use endpoints::{Endpoints, EndpointsFile, Service, TransportOptions};
pub use error::{ApiError, CloudError};
pub use ratelimit::{RateLimit, RateLimiter};
pub use retry::{Backoff, TokioTimer, Timer, VirtualTimer};
pub use wait::{Probe, WaitPolicy};
