//! Interval estimates: pure functions over numbers, no traces. Everything the report, inspect,
//! summary.json and the viewer print with an interval comes from here.

use scrollsim_core::metrics::mean_ci95;
use serde::{Deserialize, Serialize};

/// A mean with the half-width of its 95 % confidence interval (Student's t across samples,
/// [`mean_ci95`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub mean: f64,
    /// None for a single sample.
    pub ci95: Option<f64>,
    pub n: usize,
}

impl MeanCi {
    /// Samples are sorted first so the result does not depend on reading order.
    pub fn of(xs: &[f64]) -> Option<MeanCi> {
        let mut xs = xs.to_vec();
        xs.sort_by(f64::total_cmp);
        mean_ci95(&xs).map(|(mean, ci95)| MeanCi {
            mean,
            ci95,
            n: xs.len(),
        })
    }
}
