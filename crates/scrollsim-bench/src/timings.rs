//! A set of timings summarised once for every benchmark: count, mean, median, p95, p99, total.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub n: usize,
    pub mean: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub total: Duration,
}

impl Timings {
    /// Nearest-rank quantiles of `samples` (empty: all zero).
    pub fn of(mut samples: Vec<Duration>) -> Timings {
        if samples.is_empty() {
            return Timings::default();
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        let total: Duration = samples.iter().sum();
        Timings {
            n: samples.len(),
            mean: total / samples.len() as u32,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            total,
        }
    }
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `p50 x ms  p99 y ms  mean z ms`: the latency line of the store benchmark.
impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:7.3} ms  p99 {:7.3} ms  mean {:7.3} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.mean)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let t = Timings::of((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(t.n, 100);
        assert_eq!(t.p50, Duration::from_millis(51));
        assert_eq!(t.p95, Duration::from_millis(95));
        assert_eq!(t.p99, Duration::from_millis(99));
        assert_eq!(t.total, Duration::from_millis(5050));
        assert_eq!(t.mean, Duration::from_micros(50_500));
        assert_eq!(Timings::of(Vec::new()), Timings::default());
    }
}
