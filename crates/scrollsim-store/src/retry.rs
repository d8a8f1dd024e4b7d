//! Retrying transient failures with exponential backoff and jitter: the one retry loop of the
//! store (the server backend wraps every gRPC call in it).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Retries after the first attempt (0: never retry).
    pub retries: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
}

impl Backoff {
    /// "Equal jitter": half the exponential delay is fixed, half is random, so retries from
    /// many sessions spread out yet still back off.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        let half = exp / 2;
        half + half.mul_f64(rng.random::<f64>())
    }
}

/// Runs `op` until it succeeds, fails with an error `transient` rejects, or the retries are
/// used up; returns the last error then. `what` names the call in the log line of each retry.
pub async fn retry<T, E, Fut>(
    policy: &Backoff,
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
                let wait = policy.delay(attempt, &mut rand::rng());
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

    use super::*;

    const FAST: Backoff = Backoff {
        retries: 3,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(4),
    };

    #[derive(Debug, PartialEq)]
    enum E {
        Flaky,
        Fatal,
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let out = retry(
            &FAST,
            "t",
            |e| *e == E::Flaky,
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(E::Flaky)
                } else {
                    Ok(7)
                }
            },
        )
        .await;
        assert_eq!(out, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_budget_and_never_retries_fatal_errors() {
        let calls = AtomicU32::new(0);
        let out: Result<(), E> = retry(
            &FAST,
            "t",
            |e| *e == E::Flaky,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(E::Flaky)
            },
        )
        .await;
        assert_eq!(out, Err(E::Flaky));
        assert_eq!(calls.load(Ordering::SeqCst), 4, "1 attempt + 3 retries");

        calls.store(0, Ordering::SeqCst);
        let out: Result<(), E> = retry(
            &FAST,
            "t",
            |e| *e == E::Flaky,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(E::Fatal)
            },
        )
        .await;
        assert_eq!(out, Err(E::Fatal));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        let p = Backoff {
            retries: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut rng = rand::rng();
        for attempt in 0..10 {
            let exp = (100u64 << attempt).min(1000);
            for _ in 0..50 {
                let d = p.delay(attempt, &mut rng).as_millis() as u64;
                assert!(
                    d >= exp / 2 && d <= exp,
                    "attempt {attempt}: {d} ms not in [{}, {exp}]",
                    exp / 2
                );
            }
        }
    }
}
