//! Metrics as pure folds over trace steps. Each fold takes steps one at a time, so a run of a
//! million steps is measured in constant memory, and folds of the same kind merge, so sessions
//! aggregate by persona, model or policy.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::decision::ParseStatus;
use crate::trace::{AlignmentWindows, Header, Step};
use crate::value::{PerValue, Value};

/// Which values a step counts toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The video's value labels (a video with two labels counts toward both).
    Labels,
    /// The value the keyword policy retrieved the video for: the paper's P(model, value).
    Retrieval,
    /// The curator's ground-truth label, where the corpus has one.
    GroundTruth,
}

impl Attribution {
    fn values(self, step: &Step) -> &[Value] {
        match self {
            Attribution::Labels => &step.values,
            Attribution::Retrieval => step.retrieved_for.as_slice(),
            Attribution::GroundTruth => step.label.as_slice(),
        }
    }
}

/// Counts per value: shown, liked, unparsed. The paper counts an API error or refusal as "no"
/// [A]; `exclude_unparsed` instead drops parse failures and call errors from denominators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueTally {
    pub attribution: Attribution,
    pub exclude_unparsed: bool,
    /// Steps pushed (whatever their values).
    pub steps: u64,
    pub likes: u64,
    pub parse_failures: u64,
    pub call_errors: u64,
    pub shown: PerValue<u64>,
    pub liked: PerValue<u64>,
    /// Parse failures, refusals and call errors per value.
    pub unparsed: PerValue<u64>,
}

impl ValueTally {
    pub fn new(attribution: Attribution) -> Self {
        ValueTally {
            attribution,
            exclude_unparsed: false,
            steps: 0,
            likes: 0,
            parse_failures: 0,
            call_errors: 0,
            shown: PerValue::default(),
            liked: PerValue::default(),
            unparsed: PerValue::default(),
        }
    }

    pub fn excluding_unparsed(mut self, yes: bool) -> Self {
        self.exclude_unparsed = yes;
        self
    }

    pub fn push(&mut self, step: &Step) {
        self.steps += 1;
        let d = &step.decision;
        self.likes += d.like as u64;
        let unparsed = !d.status.is_parsed();
        match d.status {
            ParseStatus::Parsed => {}
            ParseStatus::CallError { .. } | ParseStatus::ImagesDropped { .. } => {
                self.call_errors += 1
            }
            ParseStatus::ParseFailure { .. } | ParseStatus::Refused { .. } => {
                self.parse_failures += 1
            }
        }
        for v in self.attribution.values(step) {
            self.shown[*v] += 1;
            self.liked[*v] += d.like as u64;
            self.unparsed[*v] += unparsed as u64;
        }
    }

    pub fn merge(&mut self, other: &ValueTally) {
        self.steps += other.steps;
        self.likes += other.likes;
        self.parse_failures += other.parse_failures;
        self.call_errors += other.call_errors;
        for v in Value::ALL {
            self.shown[v] += other.shown[v];
            self.liked[v] += other.liked[v];
            self.unparsed[v] += other.unparsed[v];
        }
    }

    fn denominator(&self, v: Value) -> u64 {
        if self.exclude_unparsed {
            self.shown[v] - self.unparsed[v]
        } else {
            self.shown[v]
        }
    }

    /// Likes / shown per value, as a fraction; None where nothing was shown.
    pub fn like_rate(&self) -> PerValue<Option<f64>> {
        PerValue::from_fn(|v| {
            let n = self.denominator(v);
            (n > 0).then(|| self.liked[v] as f64 / n as f64)
        })
    }

    /// The paper's preference score P(model, value) = 100 x likes / images for that value.
    /// Use with [`Attribution::Retrieval`] on a keyword run to reproduce the paper's table.
    pub fn preference_scores(&self) -> PerValue<Option<f64>> {
        self.like_rate().map(|_, r| r.map(|r| 100.0 * r))
    }

    /// Share of steps that showed each value, as a fraction of all steps. Shares of multi-label
    /// videos overlap, so they may sum above 1.
    pub fn exposure_share(&self) -> PerValue<f64> {
        PerValue::from_fn(|v| {
            if self.steps == 0 {
                0.0
            } else {
                self.shown[v] as f64 / self.steps as f64
            }
        })
    }

    pub fn overall_like_rate(&self) -> Option<f64> {
        let n = if self.exclude_unparsed {
            self.steps - self.parse_failures - self.call_errors
        } else {
            self.steps
        };
        (n > 0).then(|| self.likes as f64 / n as f64)
    }
}

/// Population standard deviation (divide by n) [R: the paper does not say which]. None for
/// an empty slice.
pub fn population_std(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    Some((xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

/// A model's row in the paper's main table: P per value and their spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceProfile {
    pub p: PerValue<Option<f64>>,
    /// Population std over the values that have a score.
    pub std: Option<f64>,
    /// Values without a score (nothing retrieved for them); std is over the other ones.
    pub missing: Vec<Value>,
}

impl PreferenceProfile {
    pub fn from_tally(t: &ValueTally) -> Self {
        let p = t.preference_scores();
        let present: Vec<f64> = p.values().iter().flatten().copied().collect();
        let missing = p
            .iter()
            .filter(|(_, x)| x.is_none())
            .map(|(v, _)| v)
            .collect();
        PreferenceProfile {
            std: population_std(&present),
            p,
            missing,
        }
    }
}

/// What a window of steps is measured by for alignment change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignmentMeasure {
    /// Share of videos shown whose labels include one of the persona's values: does the feed
    /// move toward the persona?
    AlignedExposure,
    /// Like-rate in the window (the paper's measure).
    LikeRate,
    /// Share of videos where the judge named a matched trait (the paper's alternative).
    TraitMatchRate,
}

impl AlignmentMeasure {
    pub const ALL: [AlignmentMeasure; 3] = [
        AlignmentMeasure::AlignedExposure,
        AlignmentMeasure::LikeRate,
        AlignmentMeasure::TraitMatchRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlignmentMeasure::AlignedExposure => "aligned_exposure",
            AlignmentMeasure::LikeRate => "like_rate",
            AlignmentMeasure::TraitMatchRate => "trait_match_rate",
        }
    }

    /// Whether the step counts as a hit; None when the measure is undefined (aligned exposure
    /// without a persona).
    fn hit(self, step: &Step, aligned: &[Value]) -> Option<bool> {
        match self {
            AlignmentMeasure::AlignedExposure => {
                (!aligned.is_empty()).then(|| step.values.iter().any(|v| aligned.contains(v)))
            }
            AlignmentMeasure::LikeRate => Some(step.decision.like),
            AlignmentMeasure::TraitMatchRate => Some(step.decision.matched_trait.is_some()),
        }
    }
}

/// Change of a measure between the first and the last window of a session, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlignmentChange {
    /// Measure over the first window, 0..100; None if the window is empty or undefined.
    pub first: Option<f64>,
    pub last: Option<f64>,
    /// last - first, in percentage points.
    pub points: Option<f64>,
    /// (last - first) / first x 100, the paper's "% change"; None when first is 0.
    pub percent: Option<f64>,
    pub first_n: u32,
    pub last_n: u32,
    /// Both windows were full.
    pub complete: bool,
}

/// Fold for [`AlignmentChange`] over one session's steps.
#[derive(Debug, Clone)]
pub struct AlignmentFold {
    windows: AlignmentWindows,
    measure: AlignmentMeasure,
    aligned: Vec<Value>,
    first: (u32, u32),
    last: (u32, u32),
    defined: bool,
}

impl AlignmentFold {
    /// `aligned` are the persona's own values (see [`crate::Persona::aligned_values`]).
    pub fn new(windows: AlignmentWindows, measure: AlignmentMeasure, aligned: Vec<Value>) -> Self {
        AlignmentFold {
            windows,
            measure,
            aligned,
            first: (0, 0),
            last: (0, 0),
            defined: true,
        }
    }

    pub fn push(&mut self, step: &Step) {
        let i = step.index;
        let w = self.windows;
        let in_first = i < w.first;
        let in_last = i >= w.last_start && i < w.last_start + w.last;
        if !(in_first || in_last) {
            return;
        }
        let Some(hit) = self.measure.hit(step, &self.aligned) else {
            self.defined = false;
            return;
        };
        for (yes, slot) in [(in_first, &mut self.first), (in_last, &mut self.last)] {
            if yes {
                slot.0 += hit as u32;
                slot.1 += 1;
            }
        }
    }

    pub fn finish(&self) -> AlignmentChange {
        let pct = |(h, n): (u32, u32)| (self.defined && n > 0).then(|| 100.0 * h as f64 / n as f64);
        let first = pct(self.first);
        let last = pct(self.last);
        let points = first.zip(last).map(|(a, b)| b - a);
        let percent = first
            .zip(last)
            .and_then(|(a, b)| (a > 0.0).then(|| (b - a) / a * 100.0));
        AlignmentChange {
            first,
            last,
            points,
            percent,
            first_n: self.first.1,
            last_n: self.last.1,
            complete: self.first.1 == self.windows.first && self.last.1 == self.windows.last,
        }
    }
}

/// One point of a value-preference trajectory: rolling rates over the last `window` steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    pub step: u32,
    /// Like-rate per value over the window (None where the window showed none of it).
    pub like_rate: PerValue<Option<f64>>,
    /// Exposure share per value over the window.
    pub exposure_share: PerValue<f64>,
    /// Share of the window that was persona-aligned (None without a persona).
    pub aligned_share: Option<f64>,
}

/// Rolling window fold producing a [`TrajectoryPoint`] per step.
#[derive(Debug, Clone)]
pub struct Rolling {
    window: usize,
    aligned: Vec<Value>,
    buf: VecDeque<(Vec<Value>, bool, bool)>,
    shown: PerValue<u32>,
    liked: PerValue<u32>,
    aligned_hits: u32,
}

impl Rolling {
    pub fn new(window: usize, aligned: Vec<Value>) -> Self {
        Rolling {
            window: window.max(1),
            aligned,
            buf: VecDeque::new(),
            shown: PerValue::default(),
            liked: PerValue::default(),
            aligned_hits: 0,
        }
    }

    pub fn push(&mut self, step: &Step) -> TrajectoryPoint {
        let like = step.decision.like;
        let hit = step.values.iter().any(|v| self.aligned.contains(v));
        self.add(&step.values, like, hit, 1);
        self.buf.push_back((step.values.clone(), like, hit));
        if self.buf.len() > self.window {
            let (vals, l, h) = self.buf.pop_front().expect("non-empty");
            self.add(&vals, l, h, -1);
        }
        let n = self.buf.len() as f64;
        TrajectoryPoint {
            step: step.index,
            like_rate: PerValue::from_fn(|v| {
                (self.shown[v] > 0).then(|| self.liked[v] as f64 / self.shown[v] as f64)
            }),
            exposure_share: PerValue::from_fn(|v| self.shown[v] as f64 / n),
            aligned_share: (!self.aligned.is_empty()).then(|| self.aligned_hits as f64 / n),
        }
    }

    fn add(&mut self, values: &[Value], like: bool, hit: bool, sign: i32) {
        let apply = |x: &mut u32, on: bool| {
            if on {
                *x = x.wrapping_add_signed(sign);
            }
        };
        for v in values {
            apply(&mut self.shown[*v], true);
            apply(&mut self.liked[*v], like);
        }
        apply(&mut self.aligned_hits, hit);
    }
}

/// All per-session metrics, computed in one pass over the steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionMetrics {
    pub steps: u32,
    pub by_label: ValueTally,
    pub by_retrieval: ValueTally,
    pub by_ground_truth: ValueTally,
    pub aligned_exposure: AlignmentChange,
    pub like_rate_change: AlignmentChange,
    pub trait_match_change: AlignmentChange,
}

/// The fold behind [`SessionMetrics`].
#[derive(Debug, Clone)]
pub struct SessionFold {
    steps: u32,
    by_label: ValueTally,
    by_retrieval: ValueTally,
    by_ground_truth: ValueTally,
    alignment: [AlignmentFold; 3],
}

impl SessionFold {
    pub fn new(header: &Header) -> Self {
        let aligned = header
            .persona
            .as_ref()
            .map(|p| p.aligned_values(header.align_threshold))
            .unwrap_or_default();
        SessionFold {
            steps: 0,
            by_label: ValueTally::new(Attribution::Labels),
            by_retrieval: ValueTally::new(Attribution::Retrieval),
            by_ground_truth: ValueTally::new(Attribution::GroundTruth),
            alignment: AlignmentMeasure::ALL
                .map(|m| AlignmentFold::new(header.windows, m, aligned.clone())),
        }
    }

    pub fn push(&mut self, step: &Step) {
        self.steps += 1;
        self.by_label.push(step);
        self.by_retrieval.push(step);
        self.by_ground_truth.push(step);
        for a in &mut self.alignment {
            a.push(step);
        }
    }

    pub fn finish(self) -> SessionMetrics {
        let [a, l, t] = self.alignment.map(|a| a.finish());
        SessionMetrics {
            steps: self.steps,
            by_label: self.by_label,
            by_retrieval: self.by_retrieval,
            by_ground_truth: self.by_ground_truth,
            aligned_exposure: a,
            like_rate_change: l,
            trait_match_change: t,
        }
    }
}

/// Mean and the half-width of a 95 % confidence interval (Student's t) of a sample, e.g. the
/// alignment change of one cell across seeds. Half-width is None for fewer than two samples.
pub fn mean_ci95(xs: &[f64]) -> Option<(f64, Option<f64>)> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Some((mean, None));
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, Some(t975(n - 1) * (var / n as f64).sqrt())))
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom (`df` >= 1): the published
/// three-decimal table for df = 1..30, the Cornish-Fisher expansion beyond (within 1e-3 there;
/// the normal's 1.96 alone would understate it by 4 % at df = 31).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if let Some(t) = T.get(df.max(1) - 1) {
        return *t;
    }
    let (z, v) = (1.959_963_984_540_054_f64, df as f64);
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
}
