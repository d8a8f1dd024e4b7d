//! `summary.json`: per-session metrics and per-cell tables (persona x model x strategy x
//! policy, over seeds), computed from the traces on disk with the core's metric folds, so a
//! summary of merged shards equals the summary of one unsharded run.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use scrollsim_core::metrics::{
    mean_ci95, AlignmentChange, PreferenceProfile, SessionFold, SessionMetrics, ValueTally,
};
use scrollsim_core::trace::TraceError;
use scrollsim_core::{
    AlignmentWindows, EndReason, PerValue, RunId, SessionId, TraceEvent, TraceReader, Value,
};
use serde::{Deserialize, Serialize};

use crate::experiment::{Experiment, SessionPlan};

/// The whole of `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: RunId,
    pub experiment: String,
    pub windows: AlignmentWindows,
    pub align_threshold: f32,
    /// Sessions in the experiment, traces found, and traces with an end event.
    pub sessions_planned: usize,
    pub sessions_found: usize,
    pub sessions_finished: usize,
    /// Judges as labelled in the traces (the offline persona model says so).
    pub judges: Vec<String>,
    pub sessions: Vec<SessionSummary>,
    pub cells: Vec<CellSummary>,
    /// The paper's table for keyword-benchmark sessions: P(model, value) and its spread.
    pub preference: Vec<PreferenceRow>,
}

/// One session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSummary {
    pub session: SessionId,
    /// `control` for the no-persona arm.
    pub persona: String,
    pub model: String,
    pub strategy: String,
    pub policy: String,
    pub seed: u64,
    /// None while the session is unfinished.
    pub end: Option<EndReason>,
    pub metrics: SessionMetrics,
}

/// Per-value counts of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueCell {
    pub shown: u64,
    pub liked: u64,
    /// liked / shown.
    pub like_rate: Option<f64>,
    /// shown / steps (multi-label videos count toward each label).
    pub exposure_share: f64,
}

/// Mean over seeds of an alignment change, with a 95 % interval of the points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct ChangeStats {
    pub sessions: usize,
    pub first: Option<f64>,
    pub last: Option<f64>,
    pub points: Option<f64>,
    pub points_ci95: Option<f64>,
}

impl ChangeStats {
    fn of(changes: &[AlignmentChange]) -> Self {
        let mean = |xs: Vec<f64>| mean_ci95(&xs);
        let first = mean(changes.iter().filter_map(|c| c.first).collect()).map(|m| m.0);
        let last = mean(changes.iter().filter_map(|c| c.last).collect()).map(|m| m.0);
        let points = mean(changes.iter().filter_map(|c| c.points).collect());
        ChangeStats {
            sessions: changes.len(),
            first,
            last,
            points: points.map(|p| p.0),
            points_ci95: points.and_then(|p| p.1),
        }
    }
}

/// A persona x model x strategy x policy cell, over its seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellSummary {
    pub persona: String,
    pub model: String,
    pub strategy: String,
    pub policy: String,
    pub sessions: usize,
    pub steps: u64,
    pub like_rate: Option<f64>,
    /// The persona's own values (weight >= align_threshold).
    pub aligned_values: Vec<Value>,
    pub values: PerValue<ValueCell>,
    /// Share of persona-aligned videos shown, first window vs last window (percent).
    pub aligned_exposure: ChangeStats,
    /// Like-rate, first window vs last window (the paper's measure, percent).
    pub like_rate_change: ChangeStats,
}

/// One row of the paper's table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreferenceRow {
    pub model: String,
    pub strategy: String,
    pub persona: String,
    /// Images retrieved per value (the denominators).
    pub images: PerValue<u64>,
    pub profile: PreferenceProfile,
}

/// A trace that could not be summarised.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct SummaryError {
    pub path: String,
    pub source: TraceError,
}

/// Sessions of one cell, by position in the session list.
struct Cell {
    key: (String, String, String, String),
    members: Vec<usize>,
    aligned: Vec<Value>,
}

struct Read {
    end: Option<EndReason>,
    metrics: SessionMetrics,
    aligned: Vec<Value>,
    judge_label: String,
}

/// Streams one trace through the core's folds. A partial last line (a crash mid-write) ends
/// the reading; the session counts as unfinished.
fn read_trace(path: &Path, align_threshold: f32) -> Result<Option<Read>, SummaryError> {
    let err = |source| SummaryError {
        path: path.display().to_string(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(err(TraceError::Io { line: 0, source })),
    };
    let mut reader = TraceReader::new(BufReader::new(file));
    let header = match reader.next() {
        Some(Ok(TraceEvent::Header(h))) => h,
        Some(Err(TraceError::Truncated { .. })) | None => return Ok(None),
        Some(Err(e)) => return Err(err(e)),
        Some(Ok(_)) => return Ok(None),
    };
    let aligned = header
        .persona
        .as_ref()
        .map(|p| p.aligned_values(align_threshold))
        .unwrap_or_default();
    let mut fold = SessionFold::new(&header);
    let mut end = None;
    for ev in reader {
        match ev {
            Ok(TraceEvent::Step(s)) => fold.push(&s),
            Ok(TraceEvent::End(e)) => end = Some(e.reason),
            Ok(_) => {}
            Err(TraceError::Truncated { .. }) => break,
            Err(e) => return Err(err(e)),
        }
    }
    Ok(Some(Read {
        end,
        metrics: fold.finish(),
        aligned,
        judge_label: header.judge.label(),
    }))
}

/// Summarises the traces of `plans` found in `sessions_dir`.
pub fn summarize(
    run_id: &RunId,
    exp: &Experiment,
    plans: &[SessionPlan],
    sessions_dir: &Path,
) -> Result<Summary, SummaryError> {
    let mut sessions = Vec::new();
    let mut judges: Vec<String> = Vec::new();
    let mut aligned = Vec::new();
    for plan in plans {
        let path = sessions_dir.join(format!("{}.jsonl", plan.id));
        if let Some(r) = read_trace(&path, exp.align_threshold)? {
            if !judges.contains(&r.judge_label) {
                judges.push(r.judge_label.clone());
            }
            sessions.push(SessionSummary {
                session: plan.id.clone(),
                persona: plan
                    .persona
                    .as_ref()
                    .map(|p| p.id.to_string())
                    .unwrap_or_else(|| "control".into()),
                model: plan.judge.model.clone(),
                strategy: plan.judge.strategy.to_string(),
                policy: plan.policy.label(),
                seed: plan.seed,
                end: r.end.clone(),
                metrics: r.metrics.clone(),
            });
            aligned.push(r.aligned);
        }
    }
    // Cells in the experiment's order; each lists its sessions.
    let mut groups: Vec<Cell> = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let key = (
            s.persona.clone(),
            s.model.clone(),
            s.strategy.clone(),
            s.policy.clone(),
        );
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.members.push(i),
            None => groups.push(Cell {
                key,
                members: vec![i],
                aligned: aligned[i].clone(),
            }),
        }
    }
    let cells: Vec<CellSummary> = groups
        .into_iter()
        .map(|g| {
            let members: Vec<&SessionSummary> = g.members.iter().map(|i| &sessions[*i]).collect();
            let (persona, model, strategy, policy) = g.key;
            let mut tally = ValueTally::new(scrollsim_core::metrics::Attribution::Labels);
            for m in &members {
                tally.merge(&m.metrics.by_label);
            }
            let rates = tally.like_rate();
            let shares = tally.exposure_share();
            let values = PerValue::from_fn(|v| ValueCell {
                shown: tally.shown[v],
                liked: tally.liked[v],
                like_rate: rates[v],
                exposure_share: shares[v],
            });
            let ae: Vec<AlignmentChange> =
                members.iter().map(|m| m.metrics.aligned_exposure).collect();
            let lr: Vec<AlignmentChange> =
                members.iter().map(|m| m.metrics.like_rate_change).collect();
            CellSummary {
                persona,
                model,
                strategy,
                policy,
                sessions: members.len(),
                steps: tally.steps,
                like_rate: tally.overall_like_rate(),
                aligned_values: g.aligned,
                values,
                aligned_exposure: ChangeStats::of(&ae),
                like_rate_change: ChangeStats::of(&lr),
            }
        })
        .collect();

    let mut pref: Vec<((String, String, String), ValueTally)> = Vec::new();
    for s in sessions.iter().filter(|s| s.policy == "keyword") {
        let key = (s.model.clone(), s.strategy.clone(), s.persona.clone());
        match pref.iter_mut().find(|(k, _)| *k == key) {
            Some((_, t)) => t.merge(&s.metrics.by_retrieval),
            None => pref.push((key, s.metrics.by_retrieval.clone())),
        }
    }
    let preference = pref
        .into_iter()
        .map(|((model, strategy, persona), t)| PreferenceRow {
            model,
            strategy,
            persona,
            images: t.shown,
            profile: PreferenceProfile::from_tally(&t),
        })
        .collect();

    Ok(Summary {
        run_id: run_id.clone(),
        experiment: exp.name.clone(),
        windows: exp.windows,
        align_threshold: exp.align_threshold,
        sessions_planned: plans.len(),
        sessions_found: sessions.len(),
        sessions_finished: sessions.iter().filter(|s| s.end.is_some()).count(),
        judges,
        sessions,
        cells,
        preference,
    })
}

fn pct(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())
}

impl Summary {
    /// One line per cell: sessions, steps, like-rate, aligned exposure first -> last window,
    /// and the values shown most. What `scrollsim run` prints.
    pub fn render_compact(&self) -> String {
        let mut out = String::new();
        let w = self.windows;
        let _ = writeln!(
            out,
            "{:<14} {:<22} {:<18} {:>4} {:>6} {:>6}  {:<28} most shown",
            "persona",
            "policy",
            "model/strategy",
            "n",
            "steps",
            "like%",
            format!("aligned {} -> {}@{} (pts)", w.first, w.last, w.last_start),
        );
        for c in &self.cells {
            let a = &c.aligned_exposure;
            let aligned = if c.persona == "control" {
                "-".to_string()
            } else {
                format!(
                    "{} -> {} ({})",
                    pct(a.first),
                    pct(a.last),
                    a.points
                        .map(|p| format!("{p:+.1}"))
                        .unwrap_or_else(|| "-".into())
                )
            };
            let mut top: Vec<(Value, f64)> = Value::ALL
                .iter()
                .map(|v| (*v, c.values[*v].exposure_share))
                .collect();
            top.sort_by(|x, y| y.1.total_cmp(&x.1));
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(v, s)| format!("{} {:.0}%", v.code(), 100.0 * s))
                .collect();
            let _ = writeln!(
                out,
                "{:<14} {:<22} {:<18} {:>4} {:>6} {:>6}  {:<28} {}",
                c.persona,
                c.policy,
                format!("{}/{}", c.model, c.strategy),
                c.sessions,
                c.steps,
                pct(c.like_rate.map(|r| 100.0 * r)),
                aligned,
                top.join(" "),
            );
        }
        out
    }

    /// The per-cell table: alignment change, then like-rate and exposure per value.
    pub fn render_cells(&self) -> String {
        let mut out = String::new();
        let w = self.windows;
        let codes: Vec<String> = Value::ALL
            .iter()
            .map(|v| format!("{:>5}", v.code()))
            .collect();
        for c in &self.cells {
            let _ = writeln!(
                out,
                "{} | {} | {}/{} | {} session(s), {} steps, like-rate {} %",
                c.persona,
                c.policy,
                c.model,
                c.strategy,
                c.sessions,
                c.steps,
                pct(c.like_rate.map(|r| 100.0 * r)),
            );
            if c.persona != "control" {
                let a = &c.aligned_exposure;
                let ci = a
                    .points_ci95
                    .map(|x| format!(" ± {x:.1}"))
                    .unwrap_or_default();
                let vals: Vec<&str> = c.aligned_values.iter().map(|v| v.code()).collect();
                let _ = writeln!(
                    out,
                    "    aligned exposure ({}): first {} = {} %, last {} from step {} = {} %, change {} pts{ci}",
                    vals.join(" "),
                    w.first,
                    pct(a.first),
                    w.last,
                    w.last_start,
                    pct(a.last),
                    a.points.map(|p| format!("{p:+.1}")).unwrap_or_else(|| "-".into()),
                );
            }
            let _ = writeln!(out, "    {:<12}{}   (by video label)", "", codes.join(""));
            let exp: Vec<String> = Value::ALL
                .iter()
                .map(|v| format!("{:>5.0}", 100.0 * c.values[*v].exposure_share))
                .collect();
            let _ = writeln!(out, "    {:<12}{}", "exposure %", exp.join(""));
            let lr: Vec<String> = Value::ALL
                .iter()
                .map(|v| {
                    format!(
                        "{:>5}",
                        c.values[*v]
                            .like_rate
                            .map(|r| format!("{:.0}", 100.0 * r))
                            .unwrap_or("-".into())
                    )
                })
                .collect();
            let _ = writeln!(out, "    {:<12}{}", "like-rate %", lr.join(""));
        }
        out
    }

    /// The paper's table: P(model, value) per value and the population std per row.
    pub fn render_preference(&self) -> String {
        if self.preference.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        let codes: Vec<String> = Value::ALL
            .iter()
            .map(|v| format!("{:>6}", v.code()))
            .collect();
        let _ = writeln!(
            out,
            "{:<32}{}{:>7}",
            "model/strategy/persona",
            codes.join(""),
            "std"
        );
        for r in &self.preference {
            let ps: Vec<String> = Value::ALL
                .iter()
                .map(|v| {
                    format!(
                        "{:>6}",
                        r.profile.p[*v]
                            .map(|p| format!("{p:.0}"))
                            .unwrap_or("-".into())
                    )
                })
                .collect();
            let label = format!("{}/{}/{}", r.model, r.strategy, r.persona);
            let _ = writeln!(out, "{label:<32}{}{:>7}", ps.join(""), pct(r.profile.std));
            let n: Vec<String> = Value::ALL
                .iter()
                .map(|v| format!("{:>6}", r.images[*v]))
                .collect();
            let _ = writeln!(out, "{:<32}{}", "  images", n.join(""));
        }
        out
    }
}
