//! The central experiment: does a feed that reacts pull exposure toward a persona's values?
//! Per persona x policy (x model, x strategy where a run has more than one), the change in the
//! share of persona-aligned videos shown between the first and the last window, with its 95 %
//! interval, and the paired difference against the `random` feed on the same seeds; the
//! like-rate change (the paper's measure) beside it; the control arm (no persona) in its own
//! rows. Every output opens with this.

use scrollsim_core::metrics::AlignmentMeasure;
use serde::{Deserialize, Serialize};

use crate::aggregate::{AlignmentSummary, Groups, PairedDifference, BASELINE_POLICY};
use crate::group::{GroupBy, CONTROL};
use crate::stats::Estimate;
use crate::table::Table;

/// One persona x model x strategy x policy cell of the central experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentralRow {
    pub persona: String,
    pub model: String,
    pub strategy: String,
    pub policy: String,
    pub sessions: u64,
    /// Sessions that ended on an error.
    pub failed_sessions: u64,
    /// Share of persona-aligned videos shown, first window vs last window (percent; change in
    /// points). Undefined for the control arm.
    pub aligned_exposure: AlignmentSummary,
    /// Like-rate, first window vs last window (the paper's measure).
    pub like_rate: AlignmentSummary,
    /// This policy's aligned-exposure change minus the baseline's on the same seeds.
    pub aligned_vs_baseline: Option<PairedDifference>,
    pub like_rate_vs_baseline: Option<PairedDifference>,
    /// What the feed learned from (`feedback: dwell`...; see [`crate::GroupSummary::signal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// The central experiment's rows, as every output shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Central {
    /// The policy every other is compared with.
    pub baseline: String,
    /// Whether the run has more than one model (or strategy): then rows name it.
    pub several_models: bool,
    pub several_strategies: bool,
    /// Persona arms, by persona, model, strategy, policy.
    pub rows: Vec<CentralRow>,
    /// The control arm (no persona), by model, strategy, policy.
    pub control: Vec<CentralRow>,
}

/// The grouping the central experiment is computed over (summary.json's cells).
pub fn central_grouping() -> crate::group::Grouping {
    crate::group::Grouping::new(vec![
        GroupBy::Persona,
        GroupBy::Model,
        GroupBy::Strategy,
        GroupBy::Policy,
    ])
}

/// Whether a policy label is a feed (the keyword benchmark, `keyword(text)`, `keyword(image)`
/// or `keyword` in traces older than the retrieval field, retrieves a fixed plan and is the
/// paper's preference table, not part of this experiment; nor is its replay,
/// `fixed(keyword(...))`).
pub fn is_feed(policy: &str) -> bool {
    let played = policy
        .strip_prefix("fixed(")
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or(policy);
    !(played == "keyword" || played.starts_with("keyword("))
}

impl Central {
    /// From the groups of [`central_grouping`].
    pub fn of(groups: &Groups, exclude_unparsed: bool) -> Central {
        debug_assert_eq!(groups.grouping, central_grouping());
        let paired = groups.paired_differences(BASELINE_POLICY);
        let mut c = Central {
            baseline: BASELINE_POLICY.into(),
            ..Default::default()
        };
        let (mut models, mut strategies) = (Vec::new(), Vec::new());
        for (key, acc) in &groups.groups {
            let [persona, model, strategy, policy] = &key.0[..] else {
                continue;
            };
            if !is_feed(policy) {
                continue;
            }
            let g = acc.summary(key, exclude_unparsed);
            let vs = |m: AlignmentMeasure| {
                paired
                    .iter()
                    .find(|(k, d)| k == key && d.measure == m)
                    .map(|(_, d)| d.clone())
            };
            let row = CentralRow {
                persona: persona.clone(),
                model: model.clone(),
                strategy: strategy.clone(),
                policy: policy.clone(),
                sessions: g.sessions,
                failed_sessions: g.failed_sessions,
                aligned_exposure: g.alignment(AlignmentMeasure::AlignedExposure).clone(),
                like_rate: g.alignment(AlignmentMeasure::LikeRate).clone(),
                aligned_vs_baseline: vs(AlignmentMeasure::AlignedExposure),
                like_rate_vs_baseline: vs(AlignmentMeasure::LikeRate),
                signal: g.signal.clone(),
            };
            if !models.contains(model) {
                models.push(model.clone());
            }
            if !strategies.contains(strategy) {
                strategies.push(strategy.clone());
            }
            if persona == CONTROL {
                c.control.push(row);
            } else {
                c.rows.push(row);
            }
        }
        c.several_models = models.len() > 1;
        c.several_strategies = strategies.len() > 1;
        c
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.control.is_empty()
    }

    fn keyed(&self, r: &CentralRow, persona: bool) -> Vec<String> {
        let mut k = Vec::new();
        if persona {
            k.push(r.persona.clone());
        }
        k.push(r.policy.clone());
        k.push(learns_from(r));
        if self.several_models {
            k.push(r.model.clone());
        }
        if self.several_strategies {
            k.push(r.strategy.clone());
        }
        k
    }

    fn key_header(&self, persona: bool) -> Vec<String> {
        let mut h = Vec::new();
        if persona {
            h.push("persona".to_string());
        }
        h.push("policy".into());
        h.push("learns from".into());
        if self.several_models {
            h.push("model".into());
        }
        if self.several_strategies {
            h.push("strategy".into());
        }
        h
    }

    /// The central table (persona arms) and the control arm's table; `judge` names what
    /// judged (the offline persona model says it is not a VLM).
    pub fn tables(&self, judge: &str, windows: &str) -> Vec<Table> {
        let mut out = Vec::new();
        let vs_head = format!("vs {} (pts)", self.baseline);
        if !self.rows.is_empty() {
            let mut header = self.key_header(true);
            header.extend(
                [
                    "n",
                    "aligned first %",
                    "aligned last %",
                    "aligned change (pts)",
                    &vs_head,
                    "like-rate change (pts)",
                    &format!("like-rate vs {}", self.baseline),
                ]
                .map(String::from),
            );
            out.push(Table {
                id: "central",
                title: format!(
                    "Central experiment: persona-aligned exposure by persona x policy ({judge})"
                ),
                note: Some(format!(
                    "{windows}. aligned: share of videos shown labelled with one of the persona's \
                     own values; change = last window - first window, points, mean over seeds \
                     [hierarchical bootstrap 95 % interval: sessions, then the videos of each \
                     window; {} replicates, seeded]. vs {b}: the policy's change minus {b}'s on \
                     the same persona, model, strategy and seed, mean over those pairs [95 % \
                     interval {paired}] (pairs). like-rate: the paper's measure. learns from: \
                     what the feed took as positive examples (dwell: a view stayed on past the \
                     threshold, what a platform sees; likes: the judge's like, which no platform \
                     saw). n = sessions whose two windows are full / sessions{}.",
                    crate::stats::BOOTSTRAP_REPLICATES,
                    failed_note(&self.rows),
                    paired = crate::stats::PAIRED_INTERVAL,
                    b = self.baseline,
                )),
                header,
                rows: self
                    .rows
                    .iter()
                    .map(|r| {
                        let mut row = self.keyed(r, true);
                        let a = &r.aligned_exposure;
                        row.extend([
                            n_cell(r),
                            pct_mean(a.first.map(|m| m.mean)),
                            pct_mean(a.last.map(|m| m.mean)),
                            estimate(a.bootstrap.as_ref()),
                            paired_cell(r.aligned_vs_baseline.as_ref()),
                            estimate(r.like_rate.bootstrap.as_ref()),
                            paired_cell(r.like_rate_vs_baseline.as_ref()),
                        ]);
                        row
                    })
                    .collect(),
            });
        }
        if !self.control.is_empty() {
            let mut header = self.key_header(false);
            header.extend(
                [
                    "n",
                    "like-rate first %",
                    "like-rate last %",
                    "like-rate change (pts)",
                    &vs_head,
                ]
                .map(String::from),
            );
            out.push(Table {
                id: "control",
                title: format!("Control arm (no persona): like-rate by policy ({judge})"),
                note: Some(format!(
                    "{windows}. Without a persona there are no persona-aligned videos; the \
                     like-rate change shows what the feed does to the model's own likes. \
                     Intervals as in the central table{}.",
                    failed_note(&self.control)
                )),
                header,
                rows: self
                    .control
                    .iter()
                    .map(|r| {
                        let mut row = self.keyed(r, false);
                        let l = &r.like_rate;
                        row.extend([
                            format!("{}/{}", l.complete, r.sessions),
                            pct_mean(l.first.map(|m| m.mean)),
                            pct_mean(l.last.map(|m| m.mean)),
                            estimate(l.bootstrap.as_ref()),
                            paired_cell(r.like_rate_vs_baseline.as_ref()),
                        ]);
                        row
                    })
                    .collect(),
            });
        }
        out
    }
}

/// The feed's signal without its prefix (`dwell`, `likes`; a replay's whole phrase); `-` for a
/// feed that learns nothing (random, popular).
fn learns_from(r: &CentralRow) -> String {
    match &r.signal {
        None => "-".into(),
        Some(s) => s.strip_prefix("feedback: ").unwrap_or(s).to_string(),
    }
}

fn failed_note(rows: &[CentralRow]) -> String {
    let failed: u64 = rows.iter().map(|r| r.failed_sessions).sum();
    if failed == 0 {
        String::new()
    } else {
        format!("; {failed} session(s) ENDED IN ERROR are marked with '!' and count only with the windows they filled")
    }
}

fn n_cell(r: &CentralRow) -> String {
    let a = &r.aligned_exposure;
    let mark = if r.failed_sessions > 0 { " !" } else { "" };
    format!("{}/{}{mark}", a.complete, r.sessions)
}

fn pct_mean(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.1}"))
}

/// `+12.3 [+4.5, +20.1]`, `+12.3` without an interval, '-' when undefined.
pub fn estimate(e: Option<&Estimate>) -> String {
    match e {
        None => "-".into(),
        Some(Estimate {
            value,
            ci95: Some(ci),
            ..
        }) => format!("{} [{}, {}]", signed(*value), signed(ci.lo), signed(ci.hi)),
        Some(Estimate { value, .. }) => signed(*value),
    }
}

/// `+1.2`, and `+0.0` for anything that rounds to zero (never `-0.0`).
fn signed(x: f64) -> String {
    let s = format!("{x:+.1}");
    if s == "-0.0" {
        "+0.0".into()
    } else {
        s
    }
}

/// An estimate and its number of pairs: `+8.0 [+1.2, +14.9] (8)`.
fn paired_cell(d: Option<&PairedDifference>) -> String {
    match d.and_then(|d| d.difference.as_ref()) {
        None => "-".into(),
        Some(e) => format!("{} ({})", estimate(Some(e)), e.n),
    }
}
