//! Retries failed attempts with exponential backoff and jitter, honouring the server's
//! Retry-After (429, 503 and any other retryable status that sends one). Retried: 429, 500,
//! 502, 503, 504, 529, timeouts, connection errors. Not retried: other 4xx, malformed bodies.
//! Built on `tower::retry` and the shared [`Backoff`], so this module is only the policy.

use std::time::Duration;

use scrollsim_core::backoff::Backoff;
use tower::retry::Policy;

use super::BoxFut;
use crate::call::Call;
use crate::chat::{Answer, CallError};
use crate::config::RetryConfig;

/// Per-call retry state (tower clones the policy for each call).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    cfg: RetryConfig,
    attempt: u32,
}

impl RetryPolicy {
    pub fn new(cfg: RetryConfig) -> Self {
        RetryPolicy { cfg, attempt: 0 }
    }

    fn backoff(&self) -> Duration {
        Backoff {
            base: Duration::from_millis(self.cfg.base_delay_ms),
            cap: Duration::from_millis(self.cfg.max_delay_ms),
        }
        .delay(self.attempt, &mut rand::rng())
    }
}

impl Policy<Call, Answer, CallError> for RetryPolicy {
    type Future = BoxFut<()>;

    fn retry(
        &mut self,
        call: &mut Call,
        result: &mut Result<Answer, CallError>,
    ) -> Option<Self::Future> {
        let err = match result {
            Ok(answer) => {
                answer.attempts = self.attempt + 1;
                return None;
            }
            Err(e) => e,
        };
        if !err.is_retryable() || self.attempt >= self.cfg.max_retries {
            if err.is_retryable() {
                tracing::warn!(cache_key = %call.key, attempts = self.attempt + 1, error = %err, "giving up after retries");
            }
            return None;
        }
        let backoff = self.backoff();
        let wait = match err.retry_after() {
            Some(after) if after > Duration::from_secs(self.cfg.max_retry_after_s) => {
                let source = Box::new(err.clone());
                *result = Err(CallError::WaitTooLong { after, source });
                return None;
            }
            Some(after) => after.max(backoff),
            None => backoff,
        };
        self.attempt += 1;
        tracing::info!(cache_key = %call.key, attempt = self.attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
        Some(Box::pin(tokio::time::sleep(wait)))
    }

    fn clone_request(&mut self, call: &Call) -> Option<Call> {
        Some(call.clone())
    }
}
