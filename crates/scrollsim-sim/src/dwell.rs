//! How long the agent stays on a video: the only signal the paper's platforms got [A].

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::seed::{self, Purpose};

/// Dwell in seconds. Every video gets `skip_s` (the paper's bot pressed Down and waited 1 s
/// on whatever came next), and a liked video adds a stay drawn uniformly from
/// `[stay_min_s, stay_max_s]` (its collection bot stayed a random 0-15 s on "yes") [A].
///
/// The stay adds to `skip_s` rather than replacing it, so a liked video never stays shorter
/// than a skipped one: what the bot did (the 1 s wait comes with every video), and what a
/// dwell-reading feed needs (with the stay replacing the wait, a like drawn at 0.6 s would
/// look weaker than a skip). Its early logs stayed 30 s: set `stay_min_s = stay_max_s = 29`.
/// Draws are seeded per (session seed, step), so dwell never depends on what ran before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DwellConfig {
    /// Seconds on every video (all a skip, a parse failure or a call error stays).
    pub skip_s: f32,
    /// A like stays `skip_s` plus a draw from `[stay_min_s, stay_max_s]` seconds.
    pub stay_min_s: f32,
    pub stay_max_s: f32,
    /// Runs resolved before the stay was added to `skip_s` drew a like's whole dwell from
    /// `[like_min_s, like_max_s]`; read back so such runs resume and re-run exactly as they
    /// began. Not for new experiments (a like could then stay shorter than a skip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like_min_s: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like_max_s: Option<f32>,
}

impl Default for DwellConfig {
    fn default() -> Self {
        DwellConfig {
            skip_s: 1.0,
            stay_min_s: 0.0,
            stay_max_s: 15.0,
            like_min_s: None,
            like_max_s: None,
        }
    }
}

impl DwellConfig {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let ok = |x: f32| x.is_finite() && x >= 0.0;
        if !ok(self.stay_min_s) || !ok(self.stay_max_s) || self.stay_min_s > self.stay_max_s {
            return Err((
                "dwell.stay_min_s/stay_max_s".into(),
                format!(
                    "0 <= stay_min_s <= stay_max_s (got {} and {})",
                    self.stay_min_s, self.stay_max_s
                ),
            ));
        }
        if self.like_min_s.is_some() != self.like_max_s.is_some() {
            return Err((
                "dwell.like_min_s/like_max_s".into(),
                "both or neither (they are read only from runs made before stay_min_s/stay_max_s)"
                    .into(),
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
        let (base, lo, hi) = match (self.like_min_s, self.like_max_s) {
            (Some(lo), Some(hi)) => (0.0, lo, hi),
            _ => (self.skip_s, self.stay_min_s, self.stay_max_s),
        };
        let stay = if hi <= lo {
            lo
        } else {
            let u: f32 = seed::rng(seed, step, Purpose::Dwell).random();
            lo + u * (hi - lo)
        };
        // Rounded to 0.1 s: a browser bot sleeps in such steps, and traces stay readable.
        ((base + stay) * 10.0).round() / 10.0
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
        assert!(xs.iter().all(|x| (1.0..=16.0).contains(x)), "{xs:?}");
        assert!(xs.iter().any(|x| *x > 8.5) && xs.iter().any(|x| *x < 8.5));
        assert_eq!(
            xs,
            (0..200).map(|s| d.dwell(true, 9, s)).collect::<Vec<_>>()
        );
        let fixed = DwellConfig {
            skip_s: 1.0,
            stay_min_s: 29.0,
            stay_max_s: 29.0,
            ..Default::default()
        };
        assert_eq!(fixed.dwell(true, 1, 5), 30.0);
        assert!(DwellConfig {
            skip_s: 1.0,
            stay_min_s: 5.0,
            stay_max_s: 1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn runs_resolved_with_the_old_keys_draw_as_they_did() {
        let old: DwellConfig =
            serde_json::from_str(r#"{"like_min_s": 0.0, "like_max_s": 15.0, "skip_s": 1.0}"#)
                .unwrap();
        old.validate().unwrap();
        let xs: Vec<f32> = (0..300).map(|s| old.dwell(true, 9, s)).collect();
        assert!(xs.iter().all(|x| (0.0..=15.0).contains(x)));
        assert!(
            xs.iter().any(|x| *x < 1.0),
            "the old rule: a like may stay < 1 s"
        );
        assert!(serde_json::to_string(&DwellConfig::default())
            .map(|j| !j.contains("like_"))
            .unwrap());
    }

    #[test]
    fn a_like_never_stays_shorter_than_a_skip() {
        for d in [
            DwellConfig::default(),
            DwellConfig {
                skip_s: 3.0,
                stay_min_s: 0.0,
                stay_max_s: 0.5,
                ..Default::default()
            },
        ] {
            let skip = d.dwell(false, 4, 0);
            for seed in 0..20 {
                for step in 0..200 {
                    assert!(d.dwell(true, seed, step) >= skip, "{d:?}");
                }
            }
        }
    }
}
