//! Streaming aggregation of many traces into groups, in memory independent of run length:
//! every step goes through the core folds ([`SessionFold`], [`Rolling`]) and is dropped; a
//! group keeps only tallies and a few numbers per session (for intervals across seeds and the
//! paired comparisons between arms that share seeds).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use scrollsim_core::metrics::{
    AlignmentChange, AlignmentMeasure, Attribution, PreferenceProfile, Rolling, SessionFold,
    SessionMetrics, ValueTally,
};
use scrollsim_core::{AlignmentWindows, EndReason, Header, PerValue, Platform, Value};
use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::group::{model_label, GroupBy, GroupKey, Grouping};
use crate::quality::AnswerQuality;
use crate::source::SessionStream;
use crate::stats::{
    bootstrap_change, bootstrap_std, paired_difference, std_noise_floor, wilson95, Estimate,
    Interval, MeanCi, NoiseFloor, WindowCounts,
};
use crate::trajectory::{TrajectoryAcc, TrajectorySample};

/// The policy every other policy is compared with, on the same seeds.
pub const BASELINE_POLICY: &str = "random";

/// What to aggregate.
#[derive(Debug, Clone)]
pub struct AggregateOptions {
    /// Each grouping gets its own set of groups from the same single pass.
    pub groupings: Vec<Grouping>,
    /// Rolling window (steps) for trajectories; None skips them.
    pub trajectory_window: Option<usize>,
    /// Keep one [`SessionRecord`] per session (for session lists).
    pub keep_sessions: bool,
    /// Worker threads reading traces in parallel (at least 1).
    pub threads: usize,
}

impl AggregateOptions {
    pub fn new(groupings: Vec<Grouping>) -> Self {
        AggregateOptions {
            groupings,
            trajectory_window: None,
            keep_sessions: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// A trace that was left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

/// What was read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadStats {
    pub traces: u64,
    pub steps: u64,
    /// Traces without an end event (running or interrupted sessions); their steps count.
    pub unfinished: u64,
    /// Sessions whose end event says they stopped on an error; their steps count, and every
    /// output flags them.
    pub failed: u64,
    /// Truncated last lines left out (the step in flight when a writer stopped).
    pub truncated_lines: u64,
    /// Traces left out entirely because a line is malformed.
    pub skipped: Vec<Problem>,
    /// The judges of the sessions read, as labelled in tables (sorted).
    pub judges: Vec<String>,
}

/// One session, as listed in reports and the viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub path: PathBuf,
    pub run_id: String,
    pub session_id: String,
    pub persona: Option<String>,
    pub model: String,
    pub strategy: String,
    pub policy: String,
    pub seed: u64,
    pub steps: u32,
    pub likes: u64,
    pub parse_failures: u64,
    pub call_errors: u64,
    /// None for an unfinished session.
    pub end: Option<EndReason>,
    /// Like-rate change between the windows, in points (None when a window is empty).
    pub like_rate_change: Option<f64>,
    /// The session's alignment windows and persona threshold, from its header.
    pub windows: AlignmentWindows,
    pub align_threshold: f32,
}

/// Everything a group keeps: merged tallies and one entry per session.
#[derive(Debug, Clone)]
pub struct GroupAcc {
    pub sessions: u64,
    pub seeds: BTreeSet<u64>,
    pub by_label: ValueTally,
    pub by_retrieval: ValueTally,
    pub by_ground_truth: ValueTally,
    /// Retrieval tallies of keyword sessions and label tallies of the others: what P uses.
    pub p_tally: ValueTally,
    pub keyword_sessions: u64,
    /// Sessions that ended on an error.
    pub failed: u64,
    /// How the decisions were read.
    pub quality: AnswerQuality,
    /// One alignment change per session, per measure (in [`AlignmentMeasure::ALL`] order).
    pub alignment: [Vec<SessionChange>; 3],
    /// One steering gap per session with a persona (see [`steering_gap`]).
    pub steering: Vec<f64>,
    pub trajectory: TrajectoryAcc,
    /// What the sessions' feeds learned from (`PolicyInfo::signal`: `feedback: dwell`...).
    pub signals: BTreeSet<String>,
}

impl Default for GroupAcc {
    fn default() -> Self {
        GroupAcc {
            sessions: 0,
            seeds: BTreeSet::new(),
            by_label: ValueTally::new(Attribution::Labels),
            by_retrieval: ValueTally::new(Attribution::Retrieval),
            by_ground_truth: ValueTally::new(Attribution::GroundTruth),
            p_tally: ValueTally::new(Attribution::Retrieval),
            keyword_sessions: 0,
            failed: 0,
            quality: AnswerQuality::default(),
            alignment: Default::default(),
            steering: Vec::new(),
            trajectory: TrajectoryAcc::default(),
            signals: BTreeSet::new(),
        }
    }
}

/// One session's alignment change, with what pairs it with its sibling in another arm.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionChange {
    pub session: String,
    /// Persona, model, strategy and seed: sessions of two policies with the same pair key ran
    /// on the same seed and are compared pairwise.
    pub pair: String,
    pub change: AlignmentChange,
}

impl SessionChange {
    fn counts(&self) -> WindowCounts {
        WindowCounts::of(&self.change)
    }
}

/// What identifies a session across policies: everything but the policy.
fn pair_key(h: &Header) -> String {
    format!(
        "{}|{}|{}|{}",
        GroupBy::Persona.of_header(h).unwrap_or_default(),
        model_label(h),
        h.judge.strategy,
        h.seed
    )
}

impl GroupAcc {
    fn add_session(
        &mut self,
        h: &Header,
        end: Option<&EndReason>,
        m: &SessionMetrics,
        quality: &AnswerQuality,
        aligned: &[Value],
    ) {
        self.sessions += 1;
        self.seeds.insert(h.seed);
        self.signals.extend(h.policy.signal());
        self.failed += matches!(end, Some(EndReason::Error { .. })) as u64;
        self.quality.merge(quality);
        self.by_label.merge(&m.by_label);
        self.by_retrieval.merge(&m.by_retrieval);
        self.by_ground_truth.merge(&m.by_ground_truth);
        // A keyword run's P groups by the value each image was retrieved for [S]; other
        // policies have no retrieval value, so their P groups by the videos' labels.
        if m.by_retrieval.shown.values().iter().sum::<u64>() > 0 {
            self.keyword_sessions += 1;
            self.p_tally.merge(&m.by_retrieval);
        } else {
            self.p_tally.merge(&m.by_label);
        }
        let changes = [m.aligned_exposure, m.like_rate_change, m.trait_match_change];
        let pair = pair_key(h);
        for (list, change) in self.alignment.iter_mut().zip(changes) {
            list.push(SessionChange {
                session: h.session_id.0.clone(),
                pair: pair.clone(),
                change,
            });
        }
        if let Some(g) = steering_gap(&m.by_label, aligned) {
            self.steering.push(g);
        }
    }

    fn merge(&mut self, o: GroupAcc) {
        self.sessions += o.sessions;
        self.seeds.extend(o.seeds);
        self.by_label.merge(&o.by_label);
        self.by_retrieval.merge(&o.by_retrieval);
        self.by_ground_truth.merge(&o.by_ground_truth);
        self.p_tally.merge(&o.p_tally);
        self.keyword_sessions += o.keyword_sessions;
        self.failed += o.failed;
        self.quality.merge(&o.quality);
        for (a, b) in self.alignment.iter_mut().zip(o.alignment) {
            a.extend(b);
        }
        self.steering.extend(o.steering);
        self.trajectory.merge(&o.trajectory);
        self.signals.extend(o.signals);
    }

    /// The group's row in every table. `exclude_unparsed` drops parse failures and call
    /// errors from like-rate denominators (the paper counts them as "no").
    pub fn summary(&self, key: &GroupKey, exclude_unparsed: bool) -> GroupSummary {
        let labels = self.by_label.clone().excluding_unparsed(exclude_unparsed);
        let p_tally = self.p_tally.clone().excluding_unparsed(exclude_unparsed);
        let p_attribution = match (self.keyword_sessions, self.sessions) {
            (0, _) => PAttribution::Labels,
            (k, n) if k == n => PAttribution::RetrievedFor,
            _ => PAttribution::Mixed,
        };
        let denominators: PerValue<u64> = PerValue::from_fn(|v| {
            p_tally.shown[v]
                - if exclude_unparsed {
                    p_tally.unparsed[v]
                } else {
                    0
                }
        });
        let p_ci95 = PerValue::from_fn(|v| wilson95(p_tally.liked[v], denominators[v]));
        let counts: Vec<(u64, u64)> = Value::ALL
            .iter()
            .map(|v| (p_tally.liked[*v], denominators[*v]))
            .collect();
        // Seeded by the counts themselves (stats::Seeded): identical data, identical interval.
        let std_boot = bootstrap_std(&counts, "p-std");
        let (liked, shown) = counts.iter().fold((0, 0), |(a, b), (k, n)| (a + k, b + n));
        let p_std_floor = (shown > 0)
            .then(|| {
                let dens: Vec<u64> = counts.iter().map(|(_, n)| *n).collect();
                std_noise_floor(&dens, liked as f64 / shown as f64, "p-floor")
            })
            .flatten();
        GroupSummary {
            key: key.clone(),
            sessions: self.sessions,
            failed_sessions: self.failed,
            seeds: self.seeds.len() as u64,
            steps: labels.steps,
            likes: labels.likes,
            like_rate_overall: labels.overall_like_rate().map(|r| 100.0 * r),
            like_rate: labels.like_rate().map(|_, r| r.map(|r| 100.0 * r)),
            exposure_share: labels.exposure_share().map(|_, s| 100.0 * s),
            preference: PreferenceProfile::from_tally(&p_tally),
            p_ci95,
            p_std_ci95: std_boot.and_then(|(_, ci)| ci),
            p_std_floor,
            p_attribution,
            alignment: AlignmentMeasure::ALL
                .iter()
                .zip(&self.alignment)
                .map(|(m, list)| AlignmentSummary::of(*m, list))
                .collect(),
            steering: MeanCi::of(&self.steering),
            parse_failures: labels.parse_failures,
            call_errors: labels.call_errors,
            quality: self.quality,
            counts: labels,
            p_counts: p_tally,
            signal: (!self.signals.is_empty())
                .then(|| self.signals.iter().cloned().collect::<Vec<_>>().join("; ")),
        }
    }
}

/// Like-rate on videos labelled with one of the persona's own values minus like-rate on the
/// other videos, in points, from a session's label tally: how far the persona steers the
/// judge. None without persona values or when either side was never shown. A video with two
/// labels counts on each side it touches.
pub fn steering_gap(t: &ValueTally, aligned: &[Value]) -> Option<f64> {
    if aligned.is_empty() {
        return None;
    }
    let (mut a, mut o) = ((0u64, 0u64), (0u64, 0u64));
    for v in Value::ALL {
        let side = if aligned.contains(&v) { &mut a } else { &mut o };
        side.0 += t.liked[v];
        side.1 += t.shown[v];
    }
    (a.1 > 0 && o.1 > 0).then(|| 100.0 * (a.0 as f64 / a.1 as f64 - o.0 as f64 / o.1 as f64))
}

/// What P(model, value) was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PAttribution {
    /// Keyword runs: the value each image was retrieved for (the paper's table).
    RetrievedFor,
    /// Other policies: the videos' value labels.
    Labels,
    /// Keyword and other sessions together.
    Mixed,
}

impl PAttribution {
    pub fn name(self) -> &'static str {
        match self {
            PAttribution::RetrievedFor => "retrieved_for",
            PAttribution::Labels => "labels",
            PAttribution::Mixed => "mixed",
        }
    }
}

/// Alignment change of a group for one measure, across its sessions (seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignmentSummary {
    pub measure: AlignmentMeasure,
    /// Sessions in the group.
    pub sessions: usize,
    /// Sessions whose two windows were full: only these count below.
    pub complete: usize,
    /// Measure over the first window, percent.
    pub first: Option<MeanCi>,
    pub last: Option<MeanCi>,
    /// last - first, in points, mean ± Student-t 95 % across sessions.
    pub points: Option<MeanCi>,
    /// last - first, in points, with the hierarchical bootstrap interval (sessions, then the
    /// videos of their windows; see [`bootstrap_change`]): the headline interval. Computed for
    /// aligned exposure and like-rate.
    pub bootstrap: Option<Estimate>,
    /// The paper's % change; sessions whose first window is 0 have none.
    pub percent: Option<MeanCi>,
}

/// Whether a measure carries the bootstrap interval (the two headline measures).
fn bootstrapped(m: AlignmentMeasure) -> bool {
    matches!(
        m,
        AlignmentMeasure::AlignedExposure | AlignmentMeasure::LikeRate
    )
}

/// The complete sessions of a list, sorted by session id (reading order must not matter).
fn complete(list: &[SessionChange]) -> Vec<&SessionChange> {
    let mut full: Vec<&SessionChange> = list.iter().filter(|c| c.change.complete).collect();
    full.sort_by(|a, b| a.session.cmp(&b.session));
    full
}

impl AlignmentSummary {
    /// Sessions shorter than their windows are left out: a half-empty last window would
    /// compare different spans of the session.
    fn of(measure: AlignmentMeasure, list: &[SessionChange]) -> Self {
        let full = complete(list);
        let col = |f: fn(&AlignmentChange) -> Option<f64>| {
            MeanCi::of(&full.iter().filter_map(|c| f(&c.change)).collect::<Vec<_>>())
        };
        let defined: Vec<&SessionChange> = full
            .iter()
            .copied()
            .filter(|c| c.change.points.is_some())
            .collect();
        let bootstrap = bootstrapped(measure)
            .then(|| {
                let counts: Vec<WindowCounts> = defined.iter().map(|c| c.counts()).collect();
                bootstrap_change(&counts, measure.name())
            })
            .flatten();
        AlignmentSummary {
            measure,
            sessions: list.len(),
            complete: full.len(),
            first: col(|c| c.first),
            last: col(|c| c.last),
            points: col(|c| c.points),
            bootstrap,
            percent: col(|c| c.percent),
        }
    }
}

/// A policy's alignment change minus the baseline's, session by session on the same seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    pub measure: AlignmentMeasure,
    /// The policy compared with the baseline.
    pub policy: String,
    pub baseline: String,
    /// Mean of (policy's change - baseline's change) over pairs, points, with the
    /// interval over pairs of [`crate::stats::bootstrap_paired`]; `n` pairs.
    pub difference: Option<Estimate>,
    /// The same mean with a Student-t 95 % interval across pairs.
    pub t: Option<MeanCi>,
}

/// Pairs two groups' sessions on their pair keys (both windows full on both sides) and
/// estimates the mean difference of one measure.
fn paired(
    measure: AlignmentMeasure,
    arm: &GroupAcc,
    base: &GroupAcc,
    policy: &str,
    baseline: &str,
) -> PairedDifference {
    let i = AlignmentMeasure::ALL
        .iter()
        .position(|m| *m == measure)
        .expect("a measure of ALL");
    let base_by: BTreeMap<&str, &SessionChange> = complete(&base.alignment[i])
        .into_iter()
        .filter(|c| c.change.points.is_some())
        .map(|c| (c.pair.as_str(), c))
        .collect();
    let mut pairs: Vec<(&SessionChange, &SessionChange)> = complete(&arm.alignment[i])
        .into_iter()
        .filter(|c| c.change.points.is_some())
        .filter_map(|a| base_by.get(a.pair.as_str()).map(|b| (a, *b)))
        .collect();
    pairs.sort_by(|x, y| x.0.pair.cmp(&y.0.pair));
    let counts: Vec<(WindowCounts, WindowCounts)> = pairs
        .iter()
        .map(|(a, b)| (a.counts(), b.counts()))
        .collect();
    let (difference, t) = paired_difference(&counts, measure.name());
    PairedDifference {
        measure,
        policy: policy.to_string(),
        baseline: baseline.to_string(),
        difference,
        t,
    }
}

/// One group's numbers. Rates are percentages (0-100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub key: GroupKey,
    pub sessions: u64,
    /// Sessions that ended on an error (counted in `sessions` too, never passed as done).
    pub failed_sessions: u64,
    /// Distinct seeds among the sessions.
    pub seeds: u64,
    pub steps: u64,
    pub likes: u64,
    pub like_rate_overall: Option<f64>,
    /// Like-rate per value over videos labelled with it.
    pub like_rate: PerValue<Option<f64>>,
    /// Share of steps showing each value (multi-label videos count for each label).
    pub exposure_share: PerValue<f64>,
    /// The paper's P(model, value) and its population std.
    pub preference: PreferenceProfile,
    /// Wilson 95 % interval of each P (percent).
    pub p_ci95: PerValue<Option<Interval>>,
    /// Percentile bootstrap 95 % interval of the std, resampling each value's videos.
    pub p_std_ci95: Option<Interval>,
    /// The std a value-neutral judge would show with the same denominators and this group's
    /// overall like-rate (see [`std_noise_floor`]).
    pub p_std_floor: Option<NoiseFloor>,
    pub p_attribution: PAttribution,
    /// One entry per [`AlignmentMeasure`].
    pub alignment: Vec<AlignmentSummary>,
    /// Persona steering gap in points (see [`steering_gap`]), across sessions.
    pub steering: Option<MeanCi>,
    /// Parse failures and refusals.
    pub parse_failures: u64,
    pub call_errors: u64,
    /// How the decisions were read.
    pub quality: AnswerQuality,
    /// The label tally behind the rates (counts per value).
    pub counts: ValueTally,
    /// The tally behind P (`shown` per value: the images each P is over).
    pub p_counts: ValueTally,
    /// What the group's feeds learned from (`feedback: dwell`; a replay's `open-loop, recorded
    /// with ...`); several joined by `; ` when sessions differ; absent for feeds that learn
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

impl GroupSummary {
    pub fn alignment(&self, m: AlignmentMeasure) -> &AlignmentSummary {
        self.alignment
            .iter()
            .find(|a| a.measure == m)
            .expect("one summary per measure")
    }
}

/// The groups of one grouping.
#[derive(Debug, Clone)]
pub struct Groups {
    pub grouping: Grouping,
    pub groups: BTreeMap<GroupKey, GroupAcc>,
}

impl Groups {
    pub fn summaries(&self, exclude_unparsed: bool) -> Vec<GroupSummary> {
        self.groups
            .iter()
            .map(|(k, g)| g.summary(k, exclude_unparsed))
            .collect()
    }

    /// For a grouping with a policy dimension: each group whose policy is not the baseline,
    /// compared with the group that differs from it only in having the baseline policy, on
    /// the sessions both ran with the same persona, model, strategy and seed. One entry per
    /// (group, measure); groups without a baseline sibling are left out.
    pub fn paired_differences(&self, baseline: &str) -> Vec<(GroupKey, PairedDifference)> {
        let Some(pi) = self
            .grouping
            .dims()
            .iter()
            .position(|d| *d == GroupBy::Policy)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, acc) in &self.groups {
            let policy = &key.0[pi];
            if policy == baseline {
                continue;
            }
            let mut bkey = key.clone();
            bkey.0[pi] = baseline.to_string();
            let Some(base) = self.groups.get(&bkey) else {
                continue;
            };
            for m in [
                AlignmentMeasure::AlignedExposure,
                AlignmentMeasure::LikeRate,
            ] {
                out.push((key.clone(), paired(m, acc, base, policy, baseline)));
            }
        }
        out
    }

    /// Trajectories per group (empty unless the aggregation kept them).
    pub fn trajectories(&self) -> Vec<(GroupKey, Vec<TrajectorySample>)> {
        self.groups
            .iter()
            .filter(|(_, g)| !g.trajectory.is_empty())
            .map(|(k, g)| (k.clone(), g.trajectory.samples()))
            .collect()
    }
}

/// The result of reading a set of traces.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// One entry per requested grouping, in the order given.
    pub groups: Vec<Groups>,
    /// Sorted by path; empty unless `keep_sessions`.
    pub sessions: Vec<SessionRecord>,
    pub read: ReadStats,
}

impl Aggregation {
    fn empty(opts: &AggregateOptions) -> Self {
        Aggregation {
            groups: opts
                .groupings
                .iter()
                .map(|g| Groups {
                    grouping: g.clone(),
                    groups: BTreeMap::new(),
                })
                .collect(),
            sessions: Vec::new(),
            read: ReadStats::default(),
        }
    }

    fn merge(&mut self, o: Aggregation) {
        for (a, b) in self.groups.iter_mut().zip(o.groups) {
            for (k, g) in b.groups {
                a.groups.entry(k).or_default().merge(g);
            }
        }
        self.sessions.extend(o.sessions);
        self.read.traces += o.read.traces;
        self.read.steps += o.read.steps;
        self.read.unfinished += o.read.unfinished;
        self.read.failed += o.read.failed;
        self.read.truncated_lines += o.read.truncated_lines;
        self.read.skipped.extend(o.read.skipped);
        for j in o.read.judges {
            if !self.read.judges.contains(&j) {
                self.read.judges.push(j);
            }
        }
    }

    /// Reads one trace and adds it. A malformed trace is left out whole (none of its steps
    /// count) and listed in `read.skipped`.
    pub fn add_trace(&mut self, path: &Path, opts: &AggregateOptions) {
        match read_session(path, opts) {
            Ok(s) => self.absorb(path, s, opts),
            Err(e) => self.read.skipped.push(Problem {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    fn absorb(&mut self, path: &Path, s: SessionRead, opts: &AggregateOptions) {
        let h = &s.header;
        self.read.traces += 1;
        self.read.steps += s.whole.steps as u64;
        self.read.unfinished += s.end.is_none() as u64;
        self.read.failed += matches!(s.end, Some(EndReason::Error { .. })) as u64;
        self.read.truncated_lines += s.truncated as u64;
        let judge = model_label(h);
        if !self.read.judges.contains(&judge) {
            self.read.judges.push(judge);
        }
        let aligned = aligned_values(h);
        for groups in &mut self.groups {
            if groups.grouping.per_step() {
                for (platform, m, q) in &s.per_platform {
                    let key = groups.grouping.key(h, platform);
                    groups.groups.entry(key).or_default().add_session(
                        h,
                        s.end.as_ref(),
                        m,
                        q,
                        &aligned,
                    );
                }
            } else {
                let key = groups.grouping.key(h, &Platform::unknown());
                let g = groups.groups.entry(key).or_default();
                g.add_session(h, s.end.as_ref(), &s.whole, &s.quality, &aligned);
                if let Some(t) = &s.trajectory {
                    g.trajectory.merge(t);
                }
            }
        }
        if opts.keep_sessions {
            let t = &s.whole.by_label;
            self.sessions.push(SessionRecord {
                path: path.to_path_buf(),
                run_id: h.run_id.0.clone(),
                session_id: h.session_id.0.clone(),
                persona: h.persona.as_ref().map(|p| p.id.0.clone()),
                model: model_label(h),
                strategy: h.judge.strategy.to_string(),
                policy: GroupBy::Policy.of_header(h).unwrap_or_default(),
                seed: h.seed,
                steps: s.whole.steps,
                likes: t.likes,
                parse_failures: t.parse_failures,
                call_errors: t.call_errors,
                end: s.end.clone(),
                like_rate_change: s.whole.like_rate_change.points,
                windows: h.windows,
                align_threshold: h.align_threshold,
            });
        }
    }
}

/// The persona's own values (none for the control arm), as the core folds define them.
pub fn aligned_values(h: &Header) -> Vec<Value> {
    h.persona
        .as_ref()
        .map(|p| p.aligned_values(h.align_threshold))
        .unwrap_or_default()
}

/// One session after its single pass.
struct SessionRead {
    header: Header,
    whole: SessionMetrics,
    /// Per platform, with steps renumbered within the platform so the alignment windows mean
    /// "the first n videos seen on that platform". Empty unless a grouping is per step.
    per_platform: Vec<(Platform, SessionMetrics, AnswerQuality)>,
    trajectory: Option<TrajectoryAcc>,
    quality: AnswerQuality,
    end: Option<EndReason>,
    truncated: bool,
}

fn read_session(path: &Path, opts: &AggregateOptions) -> Result<SessionRead, ReportError> {
    let mut stream = SessionStream::open(path)?;
    let header = stream.header().clone();
    let per_step = opts.groupings.iter().any(Grouping::per_step);
    let mut whole = SessionFold::new(&header);
    let mut platforms: Vec<(Platform, SessionFold, u32, AnswerQuality)> = Vec::new();
    let mut rolling = opts
        .trajectory_window
        .map(|w| Rolling::new(w, aligned_values(&header)));
    let mut trajectory = opts.trajectory_window.map(|_| TrajectoryAcc::default());
    let mut quality = AnswerQuality::default();
    while let Some(step) = stream.next_step() {
        let mut step = step?;
        whole.push(&step);
        quality.push(&step);
        if let (Some(r), Some(t)) = (&mut rolling, &mut trajectory) {
            t.push(&r.push(&step));
        }
        if per_step {
            let i = match platforms.iter().position(|(p, ..)| *p == step.platform) {
                Some(i) => i,
                None => {
                    platforms.push((
                        step.platform.clone(),
                        SessionFold::new(&header),
                        0,
                        AnswerQuality::default(),
                    ));
                    platforms.len() - 1
                }
            };
            let (_, fold, n, q) = &mut platforms[i];
            step.index = *n;
            *n += 1;
            fold.push(&step);
            q.push(&step);
        }
    }
    Ok(SessionRead {
        whole: whole.finish(),
        per_platform: platforms
            .into_iter()
            .map(|(p, f, _, q)| (p, f.finish(), q))
            .collect(),
        trajectory,
        quality,
        end: stream.end().map(|e| e.reason.clone()),
        truncated: stream.truncated_line().is_some(),
        header,
    })
}

/// Reads every trace once, on `opts.threads` threads, and aggregates them.
pub fn aggregate(traces: &[PathBuf], opts: &AggregateOptions) -> Aggregation {
    aggregate_with_progress(traces, opts, &|| {})
}

/// [`aggregate`], calling `tick` after each trace (for a progress bar).
pub fn aggregate_with_progress(
    traces: &[PathBuf],
    opts: &AggregateOptions,
    tick: &(dyn Fn() + Sync),
) -> Aggregation {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let threads = opts.threads.clamp(1, traces.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut agg = Aggregation::empty(opts);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = traces.get(i) else { break };
                    agg.add_trace(path, opts);
                    tick();
                }
                results.lock().expect("no worker panicked").push(agg);
            });
        }
    });
    let mut total = Aggregation::empty(opts);
    for part in results.into_inner().expect("no worker panicked") {
        total.merge(part);
    }
    total.sessions.sort_by(|a, b| a.path.cmp(&b.path));
    total.read.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    total.read.judges.sort();
    total
}
