//! The one backoff rule behind every retry in scrollsim: the judge call stack's retry layer
//! (`scrollsim-vlm`, on `tower::retry`) and the store's gRPC retry loop (`scrollsim-store`)
//! drive their retries differently but wait the same way.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with "equal jitter".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale before the first retry; doubles with every retry.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
}

impl Backoff {
    /// The wait before retry `attempt` (0-based): with `e = min(cap, base * 2^attempt)`,
    /// uniform in `[e/2, e]`. Half fixed so every retry really backs off; half random so
    /// retries from many concurrent sessions spread out instead of arriving together.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        let half = exp / 2;
        half + half.mul_f64(rng.random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut rng = rand::rng();
        for attempt in 0..40 {
            let exp = (100u64 << attempt.min(20)).min(1000);
            for _ in 0..50 {
                let d = b.delay(attempt, &mut rng).as_millis() as u64;
                assert!(
                    d >= exp / 2 && d <= exp,
                    "attempt {attempt}: {d} ms not in [{}, {exp}]",
                    exp / 2
                );
            }
        }
    }
}
