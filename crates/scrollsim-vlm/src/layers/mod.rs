//! The call stack's layers, one job each, composed in [`crate::stack`] (outermost first):
//! [`account`] (ledger tallies) → [`cache`] (record/replay) → [`budget`] (stop new calls at the
//! cap) → concurrency limit (tower) → [`retry`] (backoff, jitter, Retry-After) → [`rate`]
//! (requests and tokens per minute) → timeout (tower) → the HTTP provider.
//!
//! These layers apply no backpressure in `poll_ready`: each call clones the inner service and
//! drives it with `oneshot`, so a cache hit never waits for a concurrency permit.

pub mod account;
pub mod budget;
pub mod cache;
pub mod rate;
pub mod retry;

use std::future::Future;
use std::pin::Pin;

/// The future type of the crate's layers.
pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;
