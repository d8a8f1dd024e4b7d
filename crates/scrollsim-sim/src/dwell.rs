//! How long the agent stays on a video: the only signal the paper's platforms got [A].

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::seed::{self, Purpose};

/// Dwell in seconds: a stay drawn uniformly from `[like_min_s, like_max_s]` after a like, a
/// short scroll of `skip_s` otherwise (skips, parse failures and call errors alike).
///
/// Defaults follow the paper's collection bot [A]: stay a random 0-15 s on "yes", press Down and
/// wait 1 s. Its early logs stayed 30 s: set `like_min_s = like_max_s = 30`. Draws are seeded
/// per (session seed, step), so dwell never depends on what ran before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DwellConfig {
    pub like_min_s: f32,
    pub like_max_s: f32,
    pub skip_s: f32,
}

impl Default for DwellConfig {
    fn default() -> Self {
        DwellConfig {
            like_min_s: 0.0,
            like_max_s: 15.0,
            skip_s: 1.0,
        }
    }
}

impl DwellConfig {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let ok = |x: f32| x.is_finite() && x >= 0.0;
        if !ok(self.like_min_s) || !ok(self.like_max_s) || self.like_min_s > self.like_max_s {
            return Err((
                "dwell.like_min_s/like_max_s".into(),
                format!(
                    "0 <= like_min_s <= like_max_s (got {} and {})",
                    self.like_min_s, self.like_max_s
                ),
            ));
        }
        if !ok(self.skip_s) {
            return Err((
                "dwell.skip_s".into(),
                format!("seconds >= 0 (got {})", self.skip_s),
            ));
        }
        Ok(())
    }

    /// Seconds the agent stays on the video shown at `step`.
    pub fn dwell(&self, like: bool, seed: u64, step: u32) -> f32 {
        if !like {
            return self.skip_s;
        }
        if self.like_max_s <= self.like_min_s {
            return self.like_min_s;
        }
        let u: f32 = seed::rng(seed, step, Purpose::Dwell).random();
        // Rounded to 0.1 s: a browser bot sleeps in such steps, and traces stay readable.
        ((self.like_min_s + u * (self.like_max_s - self.like_min_s)) * 10.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwell_is_seeded_and_in_range() {
        let d = DwellConfig::default();
        assert_eq!(d.dwell(false, 1, 0), 1.0);
        let xs: Vec<f32> = (0..200).map(|s| d.dwell(true, 9, s)).collect();
        assert!(xs.iter().all(|x| (0.0..=15.0).contains(x)));
        assert!(xs.iter().any(|x| *x > 7.5) && xs.iter().any(|x| *x < 7.5));
        assert_eq!(
            xs,
            (0..200).map(|s| d.dwell(true, 9, s)).collect::<Vec<_>>()
        );
        let fixed = DwellConfig {
            like_min_s: 30.0,
            like_max_s: 30.0,
            skip_s: 1.0,
        };
        assert_eq!(fixed.dwell(true, 1, 5), 30.0);
        assert!(DwellConfig {
            like_min_s: 5.0,
            like_max_s: 1.0,
            skip_s: 1.0
        }
        .validate()
        .is_err());
    }
}
