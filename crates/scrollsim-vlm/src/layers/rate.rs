//! Requests-per-minute and tokens-per-minute limits (governor), shared by every session using
//! the model. Each attempt waits for one request cell and for its estimated tokens. Requests
//! burst at most one second's worth, so an RPM limit is a steady rate; tokens may burst up to
//! the whole minute's allowance, so every call is charged its full estimate.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
use tower::ServiceExt;

use super::{Answering, AroundCall, Next};
use crate::call::Call;
use crate::chat::CallError;

#[derive(Clone)]
pub struct RateLimit {
    requests: Option<Arc<DefaultDirectRateLimiter>>,
    tokens: Option<(Arc<DefaultDirectRateLimiter>, NonZeroU32)>,
}

impl RateLimit {
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Self {
        let nz = |x: u32| NonZeroU32::new(x).unwrap_or(NonZeroU32::MIN);
        RateLimit {
            requests: rpm.map(|r| {
                Arc::new(RateLimiter::direct(
                    Quota::per_minute(nz(r)).allow_burst(nz(r.div_ceil(60))),
                ))
            }),
            tokens: tpm.map(|t| {
                (
                    Arc::new(RateLimiter::direct(Quota::per_minute(nz(t)))),
                    nz(t),
                )
            }),
        }
    }
}

impl AroundCall for RateLimit {
    fn around(self, call: Call, next: Next) -> Answering {
        let cfg = self;
        Box::pin(async move {
            let jitter = Jitter::up_to(Duration::from_millis(20));
            if let Some(r) = &cfg.requests {
                r.until_ready_with_jitter(jitter).await;
            }
            if let Some((t, burst)) = &cfg.tokens {
                // A call estimated above the whole minute's allowance is charged the allowance.
                let n = u32::try_from(call.est_total_tokens())
                    .unwrap_or(u32::MAX)
                    .clamp(1, burst.get());
                let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
                t.until_n_ready_with_jitter(n, jitter)
                    .await
                    .map_err(|e| CallError::Request(e.to_string()))?;
            }
            next.oneshot(call).await
        })
    }
}
