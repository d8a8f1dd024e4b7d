//! The closed-loop comparison: a run and its re-run with another judge on the same seeds
//! (`replay --judge M --closed-loop`), paired session by session. Each re-run session pairs
//! with the source session of the same persona (or control arm), policy and seed, and of the
//! same strategy when the re-run kept the source's strategies; the paired difference of the
//! alignment change (re-run minus source) is estimated over pairs exactly as the central
//! table's difference against `random` ([`crate::stats::bootstrap_paired`]), so the two
//! comparisons read alike.

use std::collections::BTreeMap;
use std::path::PathBuf;

use scrollsim_core::metrics::{AlignmentChange, AlignmentMeasure, SessionFold};
use scrollsim_core::Header;
use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::group::{model_label, GroupBy};
use crate::source::{find_traces, SessionStream};
use crate::stats::{bootstrap_change, paired_difference, Estimate, MeanCi, WindowCounts};
use crate::table::Table;

/// One session as the pairing needs it: who judged, the pair key and the two alignment changes.
#[derive(Debug, Clone)]
struct Side {
    judge: String,
    strategy: String,
    persona: String,
    policy: String,
    seed: u64,
    aligned: AlignmentChange,
    like_rate: AlignmentChange,
}

impl Side {
    fn read(path: &std::path::Path) -> Result<Side, ReportError> {
        let mut stream = SessionStream::open(path)?;
        let h: Header = stream.header().clone();
        let mut fold = SessionFold::new(&h);
        while let Some(step) = stream.next_step() {
            fold.push(&step?);
        }
        let m = fold.finish();
        Ok(Side {
            judge: format!("{} / {}", model_label(&h), h.judge.strategy),
            strategy: h.judge.strategy.to_string(),
            persona: GroupBy::Persona.of_header(&h).unwrap_or_default(),
            policy: GroupBy::Policy.of_header(&h).unwrap_or_default(),
            seed: h.seed,
            aligned: m.aligned_exposure,
            like_rate: m.like_rate_change,
        })
    }

    fn change(&self, m: AlignmentMeasure) -> &AlignmentChange {
        match m {
            AlignmentMeasure::AlignedExposure => &self.aligned,
            _ => &self.like_rate,
        }
    }
}

/// One measure's paired comparison in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPairs {
    pub measure: AlignmentMeasure,
    /// Pairs where both sessions filled both windows (and the measure is defined): only these
    /// count below.
    pub n: usize,
    /// Pairs left out: a session whose windows are not full, or a measure undefined (aligned
    /// exposure without a persona).
    pub excluded: usize,
    /// Mean alignment change of the source sessions of those pairs, points, with the
    /// hierarchical bootstrap interval.
    pub source: Option<Estimate>,
    /// The same for the re-run sessions.
    pub closed_loop: Option<Estimate>,
    /// Mean of (re-run change - source change) over pairs, points, with the interval over
    /// pairs of [`crate::stats::bootstrap_paired`].
    pub difference: Option<Estimate>,
    /// The same mean with a Student-t 95 % interval across pairs (kept beside the headline
    /// interval, as in the central table's pairs; the two are equal below 8 pairs).
    pub t: Option<MeanCi>,
}

impl RunPairs {
    fn of(measure: AlignmentMeasure, pairs: &[(&Side, &Side)]) -> RunPairs {
        // (re-run, source) where both sessions filled both windows and the measure is defined.
        let full: Vec<(WindowCounts, WindowCounts)> = pairs
            .iter()
            .filter_map(|(s, r)| {
                let (cs, cr) = (s.change(measure), r.change(measure));
                let defined = cs.points.is_some() && cr.points.is_some();
                (cs.complete && cr.complete && defined)
                    .then(|| (WindowCounts::of(cr), WindowCounts::of(cs)))
            })
            .collect();
        let source: Vec<WindowCounts> = full.iter().map(|p| p.1).collect();
        let rerun: Vec<WindowCounts> = full.iter().map(|p| p.0).collect();
        let (difference, t) = paired_difference(&full, measure.name());
        RunPairs {
            measure,
            n: full.len(),
            excluded: pairs.len() - full.len(),
            source: bootstrap_change(&source, measure.name()),
            closed_loop: bootstrap_change(&rerun, measure.name()),
            difference,
            t,
        }
    }
}

/// One cell of the closed-loop comparison: a source judge, the re-run's judge, an arm and a
/// policy, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoopRow {
    /// Model label (the offline persona model's says it is not a VLM) / strategy.
    pub source_judge: String,
    pub closed_loop_judge: String,
    /// Persona id, or [`crate::CONTROL`] for the control arm.
    pub persona: String,
    pub policy: String,
    /// Session pairs found (before windows are checked).
    pub pairs: usize,
    /// The headline measure; undefined for the control arm.
    pub aligned_exposure: RunPairs,
    /// The paper's measure.
    pub like_rate: RunPairs,
}

/// The paired comparison of a run and its closed-loop re-run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoop {
    pub rows: Vec<ClosedLoopRow>,
    /// Whether pairs also match on strategy: true when the re-run ran every strategy of the
    /// source (`--judge M`), false when it ran one strategy of its own (`--judge M:S`), which
    /// then pairs with every source strategy.
    pub same_strategies: bool,
    pub source_sessions: usize,
    pub closed_loop_sessions: usize,
    /// Source sessions with no re-run partner (an interrupted re-run, or arms it dropped).
    pub unpaired_source: usize,
}

/// Reads the traces under `source` and `rerun` (run directories or trace files) and pairs
/// them; see the module's documentation. A malformed trace is an error: a comparison must not
/// silently lose a pair.
pub fn closed_loop(source: &[PathBuf], rerun: &[PathBuf]) -> Result<ClosedLoop, ReportError> {
    let read = |paths: &[PathBuf]| -> Result<Vec<Side>, ReportError> {
        find_traces(paths)?.iter().map(|p| Side::read(p)).collect()
    };
    Ok(pair(&read(source)?, &read(rerun)?))
}

fn pair(source: &[Side], rerun: &[Side]) -> ClosedLoop {
    let strategies: Vec<&str> = rerun.iter().map(|r| r.strategy.as_str()).collect();
    let same_strategies = !rerun.is_empty()
        && source
            .iter()
            .all(|s| strategies.contains(&s.strategy.as_str()));
    let mut by_key: BTreeMap<(&str, &str, u64), Vec<&Side>> = BTreeMap::new();
    for r in rerun {
        by_key
            .entry((r.persona.as_str(), r.policy.as_str(), r.seed))
            .or_default()
            .push(r);
    }
    type CellKey = (String, String, String, String);
    let mut cells: BTreeMap<CellKey, Vec<(&Side, &Side)>> = BTreeMap::new();
    let mut unpaired = 0;
    for s in source {
        let partners: Vec<&Side> = by_key
            .get(&(s.persona.as_str(), s.policy.as_str(), s.seed))
            .into_iter()
            .flatten()
            .copied()
            .filter(|r| !same_strategies || r.strategy == s.strategy)
            .collect();
        unpaired += partners.is_empty() as usize;
        for r in partners {
            cells
                .entry((
                    s.judge.clone(),
                    r.judge.clone(),
                    s.persona.clone(),
                    s.policy.clone(),
                ))
                .or_default()
                .push((s, r));
        }
    }
    ClosedLoop {
        rows: cells
            .into_iter()
            .map(
                |((source_judge, closed_loop_judge, persona, policy), pairs)| {
                    // Sorted by seed so nothing depends on the order traces were found in.
                    let mut pairs = pairs;
                    pairs.sort_by_key(|(s, _)| s.seed);
                    ClosedLoopRow {
                        source_judge,
                        closed_loop_judge,
                        persona,
                        policy,
                        pairs: pairs.len(),
                        aligned_exposure: RunPairs::of(AlignmentMeasure::AlignedExposure, &pairs),
                        like_rate: RunPairs::of(AlignmentMeasure::LikeRate, &pairs),
                    }
                },
            )
            .collect(),
        same_strategies,
        source_sessions: source.len(),
        closed_loop_sessions: rerun.len(),
        unpaired_source: unpaired,
    }
}

impl ClosedLoop {
    /// The paired table, `source` and `rerun` naming the two runs.
    pub fn table(&self, source: &str, rerun: &str) -> Table {
        let cell = |e: Option<&Estimate>| crate::central::estimate(e);
        let diff = |p: &RunPairs| match &p.difference {
            None => "-".to_string(),
            Some(e) => format!("{} ({})", cell(Some(e)), e.n),
        };
        Table {
            id: "closed_loop",
            title: format!(
                "Closed-loop re-run {rerun} against {source}: alignment change, paired by seed"
            ),
            note: Some(format!(
                "Change = last window - first window, points, mean over sessions [hierarchical \
                 bootstrap 95 % interval: sessions, then the videos of each window; {reps} \
                 replicates, seeded by the data]. Each re-run session is paired with the source \
                 session of the same persona, policy and seed{strategy}, the feed reacting to \
                 each judge. diff: mean of (re-run - source) over pairs [95 % interval \
                 {paired}] (pairs). n = pairs where both sessions filled both windows / pairs \
                 found. aligned: share of persona-aligned videos shown (undefined for \
                 the control arm); like-rate: the paper's measure.{unpaired} Anything the \
                 offline persona model judged is not a VLM's behaviour: it checks the \
                 machinery, it is not a finding.",
                reps = crate::stats::BOOTSTRAP_REPLICATES,
                paired = crate::stats::PAIRED_INTERVAL,
                strategy = if self.same_strategies {
                    " and strategy"
                } else {
                    " (every source strategy against the re-run's one)"
                },
                unpaired = if self.unpaired_source > 0 {
                    format!(
                        " {} source session(s) have no re-run partner and are not counted.",
                        self.unpaired_source
                    )
                } else {
                    String::new()
                },
            )),
            header: [
                "source judge",
                "closed-loop judge",
                "persona",
                "policy",
                "n",
                "aligned: source",
                "aligned: closed-loop",
                "aligned diff (pts)",
                "like-rate diff (pts)",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .rows
                .iter()
                .map(|r| {
                    let a = &r.aligned_exposure;
                    vec![
                        r.source_judge.clone(),
                        r.closed_loop_judge.clone(),
                        r.persona.clone(),
                        r.policy.clone(),
                        format!("{}/{}", r.like_rate.n, r.pairs),
                        cell(a.source.as_ref()),
                        cell(a.closed_loop.as_ref()),
                        diff(a),
                        diff(&r.like_rate),
                    ]
                })
                .collect(),
        }
    }
}
