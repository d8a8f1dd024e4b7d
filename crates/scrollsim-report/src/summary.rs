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

use scrollsim_core::{AlignmentWindows, EndReason, Value};
use serde::{Deserialize, Serialize};

use crate::ablation::{ablation_rows, ablation_table, AblationRow};
use crate::aggregate::{
    aggregate, AggregateOptions, Aggregation, GroupSummary, ReadStats, SessionRecord,
};
use crate::central::{central_grouping, is_feed, Central};
use crate::error::ReportError;
use crate::group::{is_offline_label, Grouping, CONTROL};
use crate::paper::{self, PaperComparison, Published};
use crate::quality::{quality_rows, quality_table, QualityRow};
use crate::source::find_traces;
use crate::table::{judge_text, pct, Table};

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
    /// Traces read, those with an end event, and those whose end event is an error (they
    /// are finished but not done: every output flags them).
    pub sessions_found: u64,
    pub sessions_finished: u64,
    pub sessions_failed: u64,
    /// Planned sessions without a trace.
    pub missing: Vec<String>,
    /// Judges as labelled in the tables (the offline persona model says so).
    pub judges: Vec<String>,
    pub offline_judge: bool,
    /// Whether parse failures and call errors were left out of like-rate denominators (by
    /// default they count as skips, as in the paper).
    pub exclude_unparsed: bool,
    /// The central experiment: persona x policy alignment change and the paired difference
    /// against random; the control arm's rows.
    pub central: Central,
    /// How the answers were read, per model x strategy.
    pub quality: Vec<QualityRow>,
    /// The control arm's P against the paper's published P, per model in both.
    pub paper: Vec<PaperComparison>,
    /// Image vs text-only decisions of the same model, when the run has both.
    pub ablation: Vec<AblationRow>,
    pub read: ReadStats,
    /// One record per session, sorted by trace path (relative to the run directory).
    pub sessions: Vec<SessionRecord>,
    /// One row per persona x model x strategy x policy cell; only sessions whose two windows
    /// are full count toward its alignment change.
    pub cells: Vec<GroupSummary>,
}

/// The cell grouping of `summary.json`: persona x model x strategy x policy.
pub fn cell_grouping() -> Grouping {
    central_grouping()
}

impl Summary {
    /// Reads every trace of the run directory once and summarises it.
    pub fn of_run(
        run: &Path,
        plan: Option<&RunPlan>,
        threads: usize,
    ) -> Result<Summary, ReportError> {
        let mut s = Summary::of_paths(&[run.to_path_buf()], plan, threads, false)?;
        if s.experiment.is_none() {
            s.experiment = experiment_name(run);
        }
        Ok(s)
    }

    /// Reads every trace under `paths` (run directories, directories of runs, trace files)
    /// once and summarises them. A single run directory is the usual input; paths of sessions
    /// are kept relative to it.
    pub fn of_paths(
        paths: &[PathBuf],
        plan: Option<&RunPlan>,
        threads: usize,
        exclude_unparsed: bool,
    ) -> Result<Summary, ReportError> {
        let traces = match find_traces(paths) {
            Ok(t) => t,
            // A run whose every session failed before its header was written.
            Err(ReportError::NoTraces { .. }) if paths.len() == 1 && paths[0].is_dir() => {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let mut opts = AggregateOptions::new(vec![cell_grouping()]);
        opts.keep_sessions = true;
        opts.threads = threads.max(1);
        let agg = aggregate(&traces, &opts);
        let root = match paths {
            [one] if one.is_dir() => Some(one.as_path()),
            _ => None,
        };
        Summary::from_aggregation(&agg, 0, root, plan, exclude_unparsed)
    }

    /// From an aggregation that kept its sessions and has [`cell_grouping`] at `which`.
    pub fn from_aggregation(
        agg: &Aggregation,
        which: usize,
        root: Option<&Path>,
        plan: Option<&RunPlan>,
        exclude_unparsed: bool,
    ) -> Result<Summary, ReportError> {
        let groups = &agg.groups[which];
        assert_eq!(groups.grouping, cell_grouping(), "the summary's cells");
        let mut sessions = agg.sessions.clone();
        if let Some(root) = root {
            for s in &mut sessions {
                if let Ok(rel) = s.path.strip_prefix(root) {
                    s.path = rel.to_path_buf();
                }
            }
        }
        let judges = agg.read.judges.clone();
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
        let cells = groups.summaries(exclude_unparsed);
        let published = Published::shipped();
        let control: Vec<&GroupSummary> = cells.iter().filter(|c| c.key.0[0] == CONTROL).collect();
        let paper = paper::compare(&published, &control, 1);
        let ablation = ablation_rows(&sessions, root)?;
        Ok(Summary {
            summary_version: SUMMARY_VERSION,
            run_id: root.map_or_else(|| "traces".to_string(), run_name),
            experiment: plan.map(|p| p.experiment.clone()),
            windows,
            sessions_planned: plan.map(|p| p.sessions.len()),
            sessions_found: sessions.len() as u64,
            sessions_finished: sessions.iter().filter(|s| s.end.is_some()).count() as u64,
            sessions_failed: sessions
                .iter()
                .filter(|s| matches!(s.end, Some(EndReason::Error { .. })))
                .count() as u64,
            missing,
            offline_judge: judges.iter().any(|j| is_offline_label(j)),
            judges,
            exclude_unparsed,
            central: Central::of(groups, exclude_unparsed),
            quality: quality_rows(&cells),
            paper,
            ablation,
            read: agg.read.clone(),
            sessions,
            cells,
        })
    }

    /// What judged, for table titles: the judges' labels (the offline persona model's says it
    /// is not a VLM).
    pub fn judge_text(&self) -> String {
        judge_text(&self.judges)
    }

    /// The tables `scrollsim run` prints and `inspect` shows by default, central experiment
    /// first: persona x policy, the control arm, the keyword benchmark's P table, how the
    /// answers were read, and the sessions that ended in error.
    pub fn tables(&self, salvaged_warn: f64) -> Vec<Table> {
        let judge = self.judge_text();
        let mut out = self.central.tables(&judge, &self.windows_text());
        out.extend(self.preference_table());
        // Only when a model of the run is in the paper's table (`inspect --paper` says which
        // models it has otherwise).
        if !self.paper.is_empty() {
            out.push(paper::table(&Published::shipped(), &self.paper));
        }
        if !self.ablation.is_empty() {
            out.push(ablation_table(&self.ablation, &judge));
        }
        if self
            .quality
            .iter()
            .any(|q| q.quality.unrecorded < q.quality.decisions)
        {
            out.push(quality_table(&self.quality, salvaged_warn));
        }
        out.extend(self.failed_table());
        out
    }

    /// Warnings a reader must not miss: answers salvaged past the threshold, sessions that
    /// ended in error, traces left out.
    pub fn warnings(&self, salvaged_warn: f64) -> Vec<String> {
        let mut w: Vec<String> = self
            .quality
            .iter()
            .filter(|q| q.quality.salvaged_over(salvaged_warn))
            .map(|q| {
                format!(
                    "{} / {}: {:.1} % of the answers were salvaged (threshold {:.0} %): the model did not answer in the format asked (free text read by the lenient rule, or the prompt's format copied)",
                    q.model,
                    q.strategy,
                    q.quality.share(q.quality.salvaged).unwrap_or(0.0),
                    100.0 * salvaged_warn
                )
            })
            .collect();
        // Answers that could not be read count as skips unless left out: past the same
        // threshold, a like-rate says more about the parser (or the endpoint) than the model.
        w.extend(
            self.quality
                .iter()
                .filter(|q| q.quality.failed_over(salvaged_warn))
                .map(|q| {
                    let counted = if self.exclude_unparsed {
                        "left out of the like-rates"
                    } else {
                        "counted as skips in every like-rate (inspect or report --exclude-unparsed leaves them out)"
                    };
                    format!(
                        "{} / {}: {:.1} % of the decisions could not be read (parse failures, refusals, call errors, dropped images), {counted}: see the answer-quality table",
                        q.model,
                        q.strategy,
                        q.quality.share(q.quality.failed()).unwrap_or(0.0),
                    )
                }),
        );
        let failed = self.failed_sessions().count();
        if failed > 0 {
            w.push(format!(
                "{failed} session(s) ended in error: they count only with the steps they ran; see the sessions table"
            ));
        }
        if !self.read.skipped.is_empty() {
            w.push(format!(
                "{} malformed trace(s) were left out of every number",
                self.read.skipped.len()
            ));
        }
        w
    }

    /// The sessions that ended in error, with the error.
    pub fn failed_table(&self) -> Option<Table> {
        let rows: Vec<Vec<String>> = self
            .failed_sessions()
            .map(|s| {
                let msg = match &s.end {
                    Some(EndReason::Error { message }) => message.clone(),
                    _ => String::new(),
                };
                vec![s.session_id.clone(), s.steps.to_string(), msg]
            })
            .collect();
        (!rows.is_empty()).then(|| Table {
            id: "failed",
            title: "Sessions that ended in error".into(),
            note: Some(
                "Their steps count (with whatever windows they filled); a resumed run continues                  them."
                    .into(),
            ),
            header: ["session", "steps", "error"].map(String::from).to_vec(),
            rows,
        })
    }

    /// The paper's table for keyword-benchmark cells: P per value, its spread and the images
    /// behind each P. None without keyword sessions.
    pub fn preference_table(&self) -> Option<Table> {
        let interval = |i: Option<&crate::stats::Interval>| {
            i.map_or_else(|| "-".into(), |i| format!("{:.0}-{:.0}", i.lo, i.hi))
        };
        let rows: Vec<Vec<String>> = self
            .cells
            .iter()
            .filter(|c| is_keyword(c))
            .flat_map(|c| {
                let k = &c.key.0;
                let label = format!("{} / {} / {} / {}", k[1], k[2], k[0], k[3]);
                let mut p = vec![label, "P".into()];
                p.extend(c.preference.p.values().iter().map(|x| pct(*x)));
                p.push(pct(c.preference.std));
                p.push(interval(c.p_std_ci95.as_ref()));
                p.push(
                    c.p_std_floor
                        .map_or_else(|| "-".into(), |f| format!("{:.1} ({:.1})", f.mean, f.p95)),
                );
                let mut ci = vec![String::new(), "95 % CI".into()];
                ci.extend(c.p_ci95.values().iter().map(|x| interval(x.as_ref())));
                ci.extend([String::new(), String::new(), String::new()]);
                let mut n = vec![String::new(), "images".into()];
                n.extend(Value::ALL.iter().map(|v| c.p_counts.shown[*v].to_string()));
                n.extend([String::new(), String::new(), String::new()]);
                [p, ci, n]
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        let mut header = vec![
            "model / strategy / persona / policy".to_string(),
            String::new(),
        ];
        header.extend(Value::ALL.iter().map(|v| v.code().to_string()));
        header.extend(["std", "std 95 % CI", "noise floor (p95)"].map(String::from));
        Some(Table {
            id: "preference",
            title: format!(
                "Keyword benchmark: preference score P(value) and spread ({})",
                self.judge_text()
            ),
            note: Some(format!(
                "P = 100 x likes / images retrieved for the value, with its Wilson 95 % interval; \
                 std: population std of the ten P, with a percentile bootstrap 95 % interval \
                 over videos ({} replicates); noise floor: the mean std (95th percentile) a \
                 value-neutral judge liking every video at the same overall rate would show with \
                 these denominators. Only a std above the floor says the model prefers some \
                 values.",
                crate::stats::BOOTSTRAP_REPLICATES
            )),
            header,
            rows,
        })
    }

    /// The demo's conclusion: per persona, each policy's aligned-exposure change minus
    /// random's on the same seeds, with its interval, and how many intervals exclude zero.
    pub fn render_conclusion(&self) -> String {
        let c = &self.central;
        let mut out = format!(
            "Paired difference in persona-aligned exposure change, policy minus {} on the same seeds \
             (points, mean [95 % interval {}], pairs; {}):\n",
            c.baseline,
            crate::stats::PAIRED_INTERVAL,
            self.judge_text()
        );
        let (mut above, mut below, mut total) = (0, 0, 0);
        for r in &c.rows {
            let Some(d) = r.aligned_vs_baseline.as_ref().and_then(|d| d.difference) else {
                continue;
            };
            total += 1;
            if let Some(ci) = d.ci95 {
                above += (ci.lo > 0.0) as usize;
                below += (ci.hi < 0.0) as usize;
            }
            let mut who = vec![r.persona.as_str(), r.policy.as_str()];
            if c.several_models {
                who.push(&r.model);
            }
            if c.several_strategies {
                who.push(&r.strategy);
            }
            out.push_str(&format!(
                "  {:<36} {} ({} pairs)\n",
                who.join(" / "),
                crate::central::estimate(Some(&d)),
                d.n
            ));
        }
        if total == 0 {
            out.push_str(&format!(
                "  no policy shares seeds with {}: nothing to compare\n",
                c.baseline
            ));
        } else {
            out.push_str(&format!(
                "{above} of {total} intervals lie above zero (the feed moved exposure toward the persona \
                 more than {b} did), {below} below it, the rest include zero.\n",
                b = c.baseline
            ));
        }
        out
    }

    /// The alignment windows, in words.
    pub fn windows_text(&self) -> String {
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
    !is_feed(&c.key.0[3])
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
