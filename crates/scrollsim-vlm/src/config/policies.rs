//! `[judge.budget]`, `[judge.retry]`, `[judge.offline]` and `[judge.probe]`.

use scrollsim_core::config::Invalid;
use serde::{Deserialize, Serialize};

/// `[judge.budget]`: a cap on what new live calls may spend, over all models. Cache hits are
/// free and never refused.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Stop new calls once the estimated cost would pass this many US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd: Option<f64>,
    /// Stop new calls once prompt + completion tokens would pass this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

/// `[judge.retry]`: exponential backoff with jitter (`scrollsim_core::backoff`); Retry-After
/// wins when longer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt (0 disables retrying).
    #[serde(default = "d_retries")]
    pub max_retries: u32,
    /// Backoff before retry n (0-based) is uniform in [e/2, e], e = min(max, base x 2^n).
    #[serde(default = "d_base_ms")]
    pub base_delay_ms: u64,
    #[serde(default = "d_max_ms")]
    pub max_delay_ms: u64,
    /// A Retry-After longer than this ends the call as an error instead of waiting.
    #[serde(default = "d_max_after")]
    pub max_retry_after_s: u64,
}

fn d_retries() -> u32 {
    5
}
fn d_base_ms() -> u64 {
    500
}
fn d_max_ms() -> u64 {
    30_000
}
fn d_max_after() -> u64 {
    300
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: d_retries(),
            base_delay_ms: d_base_ms(),
            max_delay_ms: d_max_ms(),
            max_retry_after_s: d_max_after(),
        }
    }
}

impl RetryConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.base_delay_ms > self.max_delay_ms {
            return Err(Invalid::new(
                "base_delay_ms",
                "must not exceed max_delay_ms",
            ));
        }
        Ok(())
    }
}

/// `[judge.offline]`: the offline persona model,
/// `p(like) = sigmoid(a x value_relevance + b x trait_similarity + c)` (see docs/judges.md).
/// The defaults are ours [R].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineParams {
    /// Weight of value relevance (persona weights x standardised value scores).
    #[serde(default = "d_a")]
    pub a: f32,
    /// Weight of the best trait similarity (cosine, MiniLM).
    #[serde(default = "d_b")]
    pub b: f32,
    /// Bias.
    #[serde(default = "d_c")]
    pub c: f32,
    /// A trait counts as matched when its cosine similarity to the video is at least this.
    #[serde(default = "d_trait_threshold")]
    pub trait_threshold: f32,
    /// The control arm (no persona): like probability of the neutral model.
    #[serde(default = "d_neutral")]
    pub neutral_like_prob: f32,
}

fn d_a() -> f32 {
    2.0
}
fn d_b() -> f32 {
    2.0
}
fn d_c() -> f32 {
    -0.6
}
fn d_trait_threshold() -> f32 {
    0.35
}
fn d_neutral() -> f32 {
    0.5
}

impl Default for OfflineParams {
    fn default() -> Self {
        OfflineParams {
            a: d_a(),
            b: d_b(),
            c: d_c(),
            trait_threshold: d_trait_threshold(),
            neutral_like_prob: d_neutral(),
        }
    }
}

impl OfflineParams {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for (k, x) in [
            ("a", self.a),
            ("b", self.b),
            ("c", self.c),
            ("trait_threshold", self.trait_threshold),
        ] {
            if !x.is_finite() {
                return Err(Invalid::new(k, "must be a finite number"));
            }
        }
        if !(0.0..=1.0).contains(&self.neutral_like_prob) {
            return Err(Invalid::new("neutral_like_prob", "must lie in [0, 1]"));
        }
        Ok(())
    }
}

/// `[judge.probe]`: whether a live study probes its models first, and how long a probe's
/// record is reused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Probe every model of a study before its first call (cached per model and endpoint).
    #[serde(default = "yes")]
    pub before_run: bool,
    /// A cached probe older than this many hours is run again.
    #[serde(default = "d_probe_max_age")]
    pub max_age_h: f64,
}

fn d_probe_max_age() -> f64 {
    24.0
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            before_run: true,
            max_age_h: d_probe_max_age(),
        }
    }
}

pub(super) fn yes() -> bool {
    true
}
