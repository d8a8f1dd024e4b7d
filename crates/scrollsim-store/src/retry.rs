//! Retrying transient failures with exponential backoff and jitter: the one retry loop of the
//! store (the server backend wraps every gRPC call in it).

use std::future::Future;

use scrollsim_core::backoff::Backoff;

/// How often to retry, and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub retries: u32,
    pub backoff: Backoff,
}

/// Runs `op` until it succeeds, fails with an error `transient` rejects, or the retries are
/// used up; returns the last error then. `what` names the call in the log line of each retry.
pub async fn retry<T, E, Fut>(
    policy: &RetryPolicy,
    what: &str,
    transient: impl Fn(&E) -> bool,
    mut op: impl FnMut() -> Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < policy.retries && transient(&e) => {
                let wait = policy.backoff.delay(attempt, &mut rand::rng());
                tracing::warn!(
                    "{what}: transient failure (attempt {} of {}), retrying in {wait:?}: {e}",
                    attempt + 1,
                    policy.retries + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use std::time::Duration;

    use super::*;

    const FAST: RetryPolicy = RetryPolicy {
        retries: 3,
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        },
    };

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum E {
        Flaky,
        Fatal,
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    /// Retries (flaky errors only) a call that fails its first `failures` times with `err`,
    /// then answers 7: what comes out and how many calls were made.
    async fn attempts(failures: u32, err: E) -> (Result<u32, E>, u32) {
        let calls = AtomicU32::new(0);
        let out = retry(
            &FAST,
            "t",
            |e| *e == E::Flaky,
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < failures {
                    Err(err)
                } else {
                    Ok(7)
                }
            },
        )
        .await;
        (out, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        assert_eq!(attempts(2, E::Flaky).await, (Ok(7), 3));
    }

    #[tokio::test]
    async fn gives_up_after_the_budget_and_never_retries_fatal_errors() {
        assert_eq!(
            attempts(u32::MAX, E::Flaky).await,
            (Err(E::Flaky), 4),
            "1 attempt + 3 retries"
        );
        assert_eq!(attempts(u32::MAX, E::Fatal).await, (Err(E::Fatal), 1));
    }
}
