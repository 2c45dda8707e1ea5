//! The cloud room: AK/SK request signing, endpoints, typed calls to IAM, ECS, IMS, VPC and EIP,
//! retries with jittered backoff, rate limits and the one job waiter. It knows nothing of templates.
//!
//! - [`endpoints`]: `https://{service}.{region}.hc.sbercloud.ru` by default, a domain derived from
//!   `auth_url`, or every service overridden by the local cloud's endpoints file
//!   (`CCE_ENDPOINTS_FILE`); proxy, CA bundle and `insecure` in [`TransportOptions`].
//! - [`Client`] (from [`ClientConfig`]): signs every request with [`signer::sign`], retries
//!   idempotent calls on 429/5xx/transport faults, never re-sends a create (it looks the resource
//!   up by name after an ambiguous failure), and shares one [`RateLimiter`] among its clones.
//! - Typed calls are methods of [`Client`] (see [`api`]) over the shapes in [`models`].
//! - [`Client::wait_job`] and [`Client::wait_until`] ([`wait`]) are the only waiters.
//! - [`Cloud`] is what the engine uses; [`connect`] builds a client and resolves the project.
//! - [`VirtualTimer`] runs every wait and backoff in virtual time for tests.
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
pub use cloud::{Cloud, Findable, Waits, connect};
pub use endpoints::{Endpoints, EndpointsFile, Service, TransportOptions};
pub use error::{ApiError, CloudError};
pub use ratelimit::{RateLimit, RateLimiter};
pub use retry::{Backoff, TokioTimer, Timer, VirtualTimer};
pub use wait::{PercentObserver, Probe, WaitPolicy, job_percent};
