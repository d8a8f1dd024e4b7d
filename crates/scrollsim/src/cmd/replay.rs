//! `scrollsim replay`: re-derives every metric of each session from its trace alone and checks
//! the trace against itself; `--rerun` re-executes the sessions from the recorded calls and
//! checks every decision; `--judge` replays the same feed against another model or strategy
//! (open-loop), and `--judge ... --closed-loop` re-runs the experiment with it (the feed reacting
//! to the new judge) and reports the paired comparison.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_core::metrics::{AlignmentChange, PreferenceProfile};
use scrollsim_core::Value;
use scrollsim_report::{check_trace, find_traces, pct, Format, SessionCheck, Table};

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory (`runs/<id>`) or trace files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Re-execute the sessions from the recorded calls (cache mode replay-strict: no network)
    /// and check that every decision matches.
    #[arg(long, conflicts_with = "judge")]
    pub rerun: bool,
    /// Replay the same feed (the same videos in the same order) against another judge,
    /// `MODEL[:STRATEGY]`, into a new run directory: open-loop, labelled `fixed(<policy>)`.
    #[arg(long, value_name = "MODEL[:STRATEGY]")]
    pub judge: Option<String>,
    /// With `--judge`: re-run the experiment with the new judge on the same seeds instead, the
    /// recorded policies reacting to its decisions (closed-loop), and print each session's
    /// alignment change paired with the source session's.
    #[arg(long, requires = "judge")]
    pub closed_loop: bool,
    /// No progress bar (`--closed-loop`).
    #[arg(long, short)]
    pub quiet: bool,
    /// Where re-executed sessions go: for `--judge` the new run (default
    /// `<runs>/<run>-vs-<model>-<strategy>`, `<run>-closed-loop-<model>-<strategy>` with
    /// `--closed-loop`), for `--rerun` a directory to keep them in (default: a temporary one,
    /// removed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: Format,
    /// The prompt templates a rerun renders its prompts from instead of the configured ones
    /// (an archive's own, set when replaying one).
    #[arg(skip)]
    pub prompts: Option<PathBuf>,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    if args.closed_loop {
        return closed::run(args, app).await;
    }
    if args.rerun || args.judge.is_some() {
        return rerun::run(args, app).await;
    }
    let paths = args.paths.clone();
    let checks = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<SessionCheck>> {
        let traces = find_traces(&paths).context("finding traces")?;
        traces
            .iter()
            .map(|t| check_trace(t).map_err(anyhow::Error::from))
            .collect()
    })
    .await??;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&json(&checks))?),
        _ => {
            for t in tables(&checks) {
                println!("{}", t.to_terminal());
            }
        }
    }
    let diverged: Vec<&SessionCheck> = checks
        .iter()
        .filter(|c| c.first_divergence.is_some())
        .collect();
    if diverged.is_empty() {
        println!(
            "{} sessions re-derived from their traces; every trace agrees with itself.",
            checks.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for c in &diverged {
        eprintln!(
            "DIVERGENCE ({} field(s) in all): {}",
            c.divergences,
            c.first_divergence.as_ref().expect("filtered")
        );
    }
    Ok(ExitCode::from(1))
}

fn points(c: &AlignmentChange) -> String {
    c.points.map_or_else(
        || "-".into(),
        |p| format!("{p:+.1}{}", if c.complete { "" } else { "*" }),
    )
}

fn tables(checks: &[SessionCheck]) -> Vec<Table> {
    let overview = Table {
        id: "replay",
        title: "Sessions re-derived from their traces".into(),
        note: Some(
            "Changes in points between the first and last window (* windows not full). P over \
             retrieved_for on keyword sessions, over labels otherwise; std: population std of P."
                .into(),
        ),
        header: [
            "session",
            "steps",
            "end",
            "likes",
            "like %",
            "parse fail",
            "call err",
            "P std",
            "aligned exp.",
            "like-rate",
            "trait match",
            "check",
        ]
        .map(String::from)
        .to_vec(),
        rows: checks
            .iter()
            .map(|c| {
                let m = &c.metrics;
                let t = &m.by_label;
                vec![
                    c.header.session_id.0.clone(),
                    m.steps.to_string(),
                    if c.finished {
                        "yes".into()
                    } else {
                        "unfinished".into()
                    },
                    t.likes.to_string(),
                    pct(t.overall_like_rate().map(|r| 100.0 * r)),
                    t.parse_failures.to_string(),
                    t.call_errors.to_string(),
                    pct(profile(c).std),
                    points(&m.aligned_exposure),
                    points(&m.like_rate_change),
                    points(&m.trait_match_change),
                    match &c.first_divergence {
                        None => "ok".into(),
                        Some(d) => format!(
                            "DIVERGES at {}: {}",
                            d.step
                                .map_or_else(|| "end".to_string(), |s| format!("step {s}")),
                            d.field
                        ),
                    },
                ]
            })
            .collect(),
    };
    let mut header = vec!["session".to_string(), "over".to_string()];
    header.extend(Value::ALL.iter().map(|v| v.code().to_string()));
    let p = Table {
        id: "replay_p",
        title: "P per value by session".into(),
        note: None,
        header,
        rows: checks
            .iter()
            .map(|c| {
                let mut r = vec![c.header.session_id.0.clone(), over(c).into()];
                r.extend(profile(c).p.values().iter().map(|x| pct(*x)));
                r
            })
            .collect(),
    };
    vec![overview, p]
}

fn keyword(c: &SessionCheck) -> bool {
    c.metrics.by_retrieval.shown.values().iter().sum::<u64>() > 0
}

fn over(c: &SessionCheck) -> &'static str {
    if keyword(c) {
        "retrieved_for"
    } else {
        "labels"
    }
}

fn profile(c: &SessionCheck) -> PreferenceProfile {
    PreferenceProfile::from_tally(if keyword(c) {
        &c.metrics.by_retrieval
    } else {
        &c.metrics.by_label
    })
}

fn json(checks: &[SessionCheck]) -> serde_json::Value {
    serde_json::Value::Array(
        checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "path": c.path,
                    "session": c.header.session_id,
                    "finished": c.finished,
                    "metrics": c.metrics,
                    "preference": profile(c),
                    "p_over": over(c),
                    "first_divergence": c.first_divergence,
                    "divergences": c.divergences,
                })
            })
            .collect(),
    )
}

mod closed;
mod rerun;
