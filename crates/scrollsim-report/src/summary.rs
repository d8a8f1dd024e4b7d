//! `summary.json`: a run's sessions and its cells (persona x model x strategy x policy, over
//! seeds), computed by the same aggregation as `inspect` and the report, so the three agree by
//! construction; and the tables `scrollsim run` and `scrollsim demo` print from it.
//!
//! The report crate does not depend on the simulation (which would pull the store, the judges
//! and their model runtimes into every report and viewer build). What only the simulation
//! knows, the sessions an experiment planned, is handed over as a [`RunPlan`] by the caller
//! that expanded the experiment (the binary); without one, the summary says what the traces
//! and `resolved.json` say, and `sessions_planned` is unknown.

use std::path::{Path, PathBuf};

use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::{AlignmentWindows, EndReason, Value};
use serde::{Deserialize, Serialize};

use crate::aggregate::{aggregate, AggregateOptions, GroupSummary, ReadStats, SessionRecord};
use crate::error::ReportError;
use crate::group::{GroupBy, Grouping, CONTROL};
use crate::source::find_traces;
use crate::table::{mean_ci, pct, Table};

/// The summary's file name inside a run directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// Version of the `summary.json` layout (docs/reports.md), bumped when a field changes meaning
/// or goes.
pub const SUMMARY_VERSION: u32 = 2;

/// What an experiment planned: its name and the ids of its sessions (the simulation's
/// expansion of personas x models x strategies x policies x seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub experiment: String,
    pub sessions: Vec<String>,
}

/// The whole of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub summary_version: u32,
    /// The run directory's name.
    pub run_id: String,
    /// The experiment's name (from the plan, else `resolved.json`).
    pub experiment: Option<String>,
    /// Alignment windows of the sessions (one entry unless traces of several designs were
    /// mixed).
    pub windows: Vec<AlignmentWindows>,
    /// Sessions the experiment planned (None when no plan was given).
    pub sessions_planned: Option<usize>,
    /// Traces read, and those with an end event.
    pub sessions_found: u64,
    pub sessions_finished: u64,
    /// Planned sessions without a trace.
    pub missing: Vec<String>,
    /// Judges as labelled in the tables (the offline persona model says so).
    pub judges: Vec<String>,
    pub offline_judge: bool,
    pub read: ReadStats,
    /// One record per session, sorted by trace path (relative to the run directory).
    pub sessions: Vec<SessionRecord>,
    /// One row per persona x model x strategy x policy cell; only sessions whose two windows
    /// are full count toward its alignment change.
    pub cells: Vec<GroupSummary>,
}

/// The cell grouping of `summary.json`.
pub fn cell_grouping() -> Grouping {
    Grouping::new(vec![
        GroupBy::Persona,
        GroupBy::Model,
        GroupBy::Strategy,
        GroupBy::Policy,
    ])
}

impl Summary {
    /// Reads every trace of the run directory once and summarises it.
    pub fn of_run(
        run: &Path,
        plan: Option<&RunPlan>,
        threads: usize,
    ) -> Result<Summary, ReportError> {
        let traces = match find_traces(&[run.to_path_buf()]) {
            Ok(t) => t,
            // A run whose every session failed before its header was written.
            Err(ReportError::NoTraces { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut opts = AggregateOptions::new(vec![cell_grouping()]);
        opts.keep_sessions = true;
        opts.threads = threads.max(1);
        let agg = aggregate(&traces, &opts);
        let mut sessions = agg.sessions.clone();
        for s in &mut sessions {
            if let Ok(rel) = s.path.strip_prefix(run) {
                s.path = rel.to_path_buf();
            }
        }
        let mut judges: Vec<String> = sessions.iter().map(|s| s.model.clone()).collect();
        judges.sort();
        judges.dedup();
        let mut windows: Vec<AlignmentWindows> = Vec::new();
        for s in &sessions {
            if !windows.contains(&s.windows) {
                windows.push(s.windows);
            }
        }
        let found: Vec<&str> = sessions.iter().map(|s| s.session_id.as_str()).collect();
        let missing = plan
            .map(|p| {
                p.sessions
                    .iter()
                    .filter(|id| !found.contains(&id.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let experiment = plan
            .map(|p| p.experiment.clone())
            .or_else(|| experiment_name(run));
        Ok(Summary {
            summary_version: SUMMARY_VERSION,
            run_id: run_name(run),
            experiment,
            windows,
            sessions_planned: plan.map(|p| p.sessions.len()),
            sessions_found: sessions.len() as u64,
            sessions_finished: sessions.iter().filter(|s| s.end.is_some()).count() as u64,
            missing,
            offline_judge: judges.iter().any(|j| is_offline_label(j)),
            judges,
            read: agg.read.clone(),
            sessions,
            cells: agg.groups[0].summaries(false),
        })
    }

    /// Cells of the central persona study (every policy but the keyword benchmark).
    fn study_cells(&self) -> impl Iterator<Item = &GroupSummary> {
        self.cells.iter().filter(|c| !is_keyword(c))
    }

    /// One row per cell: sessions, steps, like-rate, aligned exposure first -> last window
    /// (points, mean ± 95 % CI across seeds, complete windows only) and the values shown most.
    /// What `scrollsim run` prints.
    pub fn cells_table(&self) -> Table {
        let w = self.windows_text();
        Table {
            id: "cells",
            title: format!("Cells (persona x model x strategy x policy), {w}"),
            note: Some(
                "aligned: share of videos labelled with one of the persona's values, first window \
                 -> last window, change in points (mean ± 95 % CI across seeds; n = sessions \
                 whose two windows are full / sessions)."
                    .into(),
            ),
            header: [
                "persona",
                "policy",
                "model",
                "strategy",
                "n",
                "steps",
                "like %",
                "aligned first",
                "aligned last",
                "change (pts)",
                "most shown",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .study_cells()
                .map(|c| {
                    let k = &c.key.0;
                    let a = c.alignment(AlignmentMeasure::AlignedExposure);
                    let control = k[0] == CONTROL;
                    let dash = || "-".to_string();
                    vec![
                        k[0].clone(),
                        k[3].clone(),
                        k[1].clone(),
                        k[2].clone(),
                        format!("{}/{}", a.complete, a.sessions),
                        c.steps.to_string(),
                        pct(c.like_rate_overall),
                        if control {
                            dash()
                        } else {
                            pct(a.first.map(|m| m.mean))
                        },
                        if control {
                            dash()
                        } else {
                            pct(a.last.map(|m| m.mean))
                        },
                        if control {
                            dash()
                        } else {
                            mean_ci(a.points.as_ref())
                        },
                        most_shown(c),
                    ]
                })
                .collect(),
        }
    }

    /// The paper's table for keyword-benchmark cells: P per value, its spread and the images
    /// behind each P. None without keyword sessions.
    pub fn preference_table(&self) -> Option<Table> {
        let rows: Vec<Vec<String>> = self
            .cells
            .iter()
            .filter(|c| is_keyword(c))
            .flat_map(|c| {
                let k = &c.key.0;
                let label = format!("{} / {} / {}", k[1], k[2], k[0]);
                let mut p = vec![label, "P".into()];
                p.extend(c.preference.p.values().iter().map(|x| pct(*x)));
                p.push(pct(c.preference.std));
                let mut n = vec![String::new(), "images".into()];
                n.extend(Value::ALL.iter().map(|v| c.p_counts.shown[*v].to_string()));
                n.push(String::new());
                [p, n]
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        let mut header = vec!["model / strategy / persona".to_string(), String::new()];
        header.extend(Value::ALL.iter().map(|v| v.code().to_string()));
        header.push("std".into());
        Some(Table {
            id: "preference",
            title: "Keyword benchmark: preference score P(value) and spread".into(),
            note: Some(
                "P = 100 x likes / images retrieved for the value; std: population std of the ten \
                 P."
                .into(),
            ),
            header,
            rows,
        })
    }

    /// Per cell: the persona's values, aligned exposure, then exposure and like-rate per value.
    /// What `scrollsim demo` prints.
    pub fn render_cells(&self) -> String {
        let mut out = String::new();
        let codes: Vec<String> = Value::ALL
            .iter()
            .map(|v| format!("{:>5}", v.code()))
            .collect();
        for c in self.study_cells() {
            let k = &c.key.0;
            out.push_str(&format!(
                "{} | {} | {} / {} | {} session(s), {} steps, like-rate {} %\n",
                k[0],
                k[3],
                k[1],
                k[2],
                c.sessions,
                c.steps,
                pct(c.like_rate_overall),
            ));
            if k[0] != CONTROL {
                let a = c.alignment(AlignmentMeasure::AlignedExposure);
                out.push_str(&format!(
                    "    aligned exposure: first window {} %, last window {} %, change {} pts (n = {}/{} complete)\n",
                    pct(a.first.map(|m| m.mean)),
                    pct(a.last.map(|m| m.mean)),
                    mean_ci(a.points.as_ref()),
                    a.complete,
                    a.sessions,
                ));
            }
            out.push_str(&format!(
                "    {:<12}{}   (by video label)\n",
                "",
                codes.join("")
            ));
            let exp: Vec<String> = Value::ALL
                .iter()
                .map(|v| format!("{:>5.0}", c.exposure_share[*v]))
                .collect();
            out.push_str(&format!("    {:<12}{}\n", "exposure %", exp.join("")));
            let lr: Vec<String> = Value::ALL
                .iter()
                .map(|v| {
                    format!(
                        "{:>5}",
                        c.like_rate[*v].map_or_else(|| "-".into(), |r| format!("{r:.0}"))
                    )
                })
                .collect();
            out.push_str(&format!("    {:<12}{}\n", "like-rate %", lr.join("")));
        }
        out
    }

    /// One line per persona: aligned-exposure change under each policy (what the demo
    /// concludes with).
    pub fn render_comparison(&self) -> String {
        let mut out =
            String::from("aligned exposure, first window -> last window (mean over seeds):\n");
        let mut personas: Vec<&str> = self
            .study_cells()
            .map(|c| c.key.0[0].as_str())
            .filter(|p| *p != CONTROL)
            .collect();
        personas.dedup();
        for p in personas {
            let parts: Vec<String> = self
                .study_cells()
                .filter(|c| c.key.0[0] == p)
                .map(|c| {
                    let a = c.alignment(AlignmentMeasure::AlignedExposure);
                    let f = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{x:.0} %"));
                    format!(
                        "{}: {} -> {} ({} pts)",
                        c.key.0[3],
                        f(a.first.map(|m| m.mean)),
                        f(a.last.map(|m| m.mean)),
                        mean_ci(a.points.as_ref())
                    )
                })
                .collect();
            out.push_str(&format!("  {p:<14}{}\n", parts.join("   ")));
        }
        out
    }

    fn windows_text(&self) -> String {
        match self.windows.as_slice() {
            [w] => format!(
                "windows: first {} steps vs {} from step {}",
                w.first, w.last, w.last_start
            ),
            [] => "no sessions".into(),
            _ => "several window designs mixed".into(),
        }
    }

    /// Sessions that ended on an error.
    pub fn failed_sessions(&self) -> impl Iterator<Item = &SessionRecord> {
        self.sessions
            .iter()
            .filter(|s| matches!(s.end, Some(EndReason::Error { .. })))
    }
}

/// Computes `summary.json` for a run directory and writes it there (atomically: readers never
/// see half a file).
pub fn write_summary(run: &Path, plan: Option<&RunPlan>) -> Result<Summary, ReportError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let summary = Summary::of_run(run, plan, threads)?;
    let path = run.join(SUMMARY_FILE);
    let json = serde_json::to_vec_pretty(&summary).expect("summary serializes");
    let tmp: PathBuf = run.join(format!(".{SUMMARY_FILE}.tmp.{}", std::process::id()));
    std::fs::write(&tmp, json).map_err(ReportError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(ReportError::io(&path))?;
    Ok(summary)
}

fn is_keyword(c: &GroupSummary) -> bool {
    c.key.0[3] == "keyword"
}

fn is_offline_label(label: &str) -> bool {
    label.starts_with("offline persona model")
}

fn most_shown(c: &GroupSummary) -> String {
    let mut top: Vec<(Value, f64)> = Value::ALL
        .iter()
        .map(|v| (*v, c.exposure_share[*v]))
        .collect();
    top.sort_by(|x, y| y.1.total_cmp(&x.1));
    top.iter()
        .take(3)
        .map(|(v, s)| format!("{} {s:.0}%", v.code()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_name(run: &Path) -> String {
    run.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run.display().to_string())
}

/// The experiment's `name` from `resolved.json`, read as plain JSON (its layout is the
/// simulation's; only this field is read).
fn experiment_name(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("resolved.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("name")?.as_str().map(str::to_string)
}
