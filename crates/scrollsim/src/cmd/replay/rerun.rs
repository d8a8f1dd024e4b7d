//! `replay --rerun` and `replay --judge`: sessions re-executed through the simulation's one
//! session loop ([`scrollsim_sim::run_session`]) over their recorded feed
//! ([`FixedFeedPolicy`]: the same videos in the same order, with the recorded slates).
//!
//! `--rerun` rebuilds each session's own judge with the call cache in replay-strict mode (a
//! call without a recording is an error, nothing goes to the network) and compares the new
//! trace with the recorded one step by step, reporting the first divergence. `--judge` builds
//! another judge (`MODEL[:STRATEGY]`) and writes the counterfactual sessions into a new run
//! directory that inspect, report and serve read like any run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use scrollsim_core::{EndReason, Header, RunId};
use scrollsim_report::{find_traces, SessionStream};
use scrollsim_report::{first_divergence, Divergence};
use scrollsim_sim::policy::{FeedItem, FixedFeedPolicy};
use scrollsim_sim::{
    run_session, FeedPolicy, Outcome, RunDir, RunProgress, Session, SessionEnv, Stop,
};
use scrollsim_vlm::build_judge;
use scrollsim_vlm::config::{CacheMode, JudgeSpec, StrategyKind};

use super::Args;
use crate::app::App;

/// The run directory holding these paths (a run, or traces in its `sessions/`).
pub(super) fn run_root(paths: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in paths {
        let root = if p.is_dir() {
            p.clone()
        } else {
            p.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        if !root.join(RunDir::RESOLVED).is_file() {
            bail!(
                "{}: re-executing needs the run directory's {} (the experiment the sessions came from); \
                 pass a run directory made by `scrollsim run`, or traces inside its sessions/",
                p.display(),
                RunDir::RESOLVED
            );
        }
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    match roots.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "--rerun and --judge take sessions of one run at a time (got {})",
            roots.len()
        ),
    }
}

/// A trace's header and its feed, streamed.
fn read_feed(trace: &Path) -> anyhow::Result<(Header, Vec<FeedItem>)> {
    let mut s = SessionStream::open(trace)?;
    let header = s.header().clone();
    let mut feed = Vec::new();
    while let Some(step) = s.next_step() {
        let step = step?;
        feed.push(FeedItem {
            video: step.video,
            slate: step.slate,
            retrieved_for: step.retrieved_for,
        });
    }
    Ok((header, feed))
}

/// The judge spec the session was run with, as `scrollsim run` records it in the header.
fn recorded_spec(h: &Header, trace: &Path) -> anyhow::Result<JudgeSpec> {
    let v = h.config.get("judge_spec").cloned().with_context(|| {
        format!(
            "{}: line 1: the header's config has no judge_spec (not written by `scrollsim run`)",
            trace.display()
        )
    })?;
    serde_json::from_value(v)
        .with_context(|| format!("{}: line 1: config.judge_spec", trace.display()))
}

/// `--judge MODEL[:STRATEGY]`: the model, and the strategy when one is given.
pub(super) fn judge_arg(arg: &str) -> anyhow::Result<(&str, Option<StrategyKind>)> {
    let (model, strategy) = match arg.split_once(':') {
        Some((m, s)) => (
            m,
            Some(s.parse::<StrategyKind>().map_err(anyhow::Error::msg)?),
        ),
        None => (arg, None),
    };
    if model.trim().is_empty() {
        bail!("--judge {arg:?}: expected MODEL[:STRATEGY], e.g. offline:isq or gpt-4o");
    }
    Ok((model.trim(), strategy))
}

/// `MODEL[:STRATEGY]`; the strategy and parser default to the recorded ones.
fn counterfactual_spec(arg: &str, recorded: &JudgeSpec) -> anyhow::Result<JudgeSpec> {
    let (model, strategy) = judge_arg(arg)?;
    Ok(JudgeSpec {
        model: model.to_string(),
        strategy: strategy.unwrap_or(recorded.strategy),
        parser: recorded.parser,
    })
}

fn end_reason(o: &Outcome) -> Option<&EndReason> {
    match o {
        Outcome::Ended { reason, .. } => Some(reason),
        _ => None,
    }
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let root = run_root(&args.paths)?;
    let (source, mut exp) = RunDir::open(&root)?;
    let traces = find_traces(&args.paths)?;
    let rerun = args.rerun;
    if rerun {
        // Exact replay is reading the recorded answers back; a miss is an error, never a call.
        exp.judge.cache = CacheMode::ReplayStrict;
        if let Some(p) = &args.prompts {
            exp.judge.prompts = Some(p.clone());
        }
    }
    let deps = app.run_deps(&exp, app.open_store().await?).await?;

    // Where the re-executed traces go: a scratch directory for --rerun (kept with --out), a
    // new run for --judge.
    let scratch;
    let out: PathBuf = match (&args.out, rerun, &args.judge) {
        (Some(o), _, _) => o.clone(),
        (None, true, _) => {
            scratch = tempfile::Builder::new().prefix("rerun-").tempdir()?;
            scratch.path().to_path_buf()
        }
        (None, false, Some(j)) => app.settings.paths.runs.join(format!(
            "{}-vs-{}",
            source.id,
            scrollsim_core::ids::file_slug(&j.replace(':', "-"))
        )),
        (None, false, None) => unreachable!("called for --rerun or --judge"),
    };
    let sessions_dir = out.join(RunDir::SESSIONS);
    std::fs::create_dir_all(&sessions_dir)
        .with_context(|| format!("creating {}", sessions_dir.display()))?;
    let new_run = RunId::new(
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );

    let env = SessionEnv {
        store: deps.store.clone(),
        dwell: exp.policy.dwell,
        frames_per_video: exp.frames_per_video,
        stop: Stop::new(),
        progress: RunProgress::new(),
    };
    let bar = ProgressBar::new(traces.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{spinner} re-executing sessions {pos}/{len} [{elapsed}] {wide_bar}",
    )?);
    let mut divergences: Vec<Divergence> = Vec::new();
    let mut spec_used = None;
    for trace in &traces {
        let (recorded, feed) = read_feed(trace)?;
        let spec_recorded = recorded_spec(&recorded, trace)?;
        let spec = match &args.judge {
            Some(j) => counterfactual_spec(j, &spec_recorded)?,
            None => spec_recorded,
        };
        let judge = build_judge(&exp.judge, &spec, &deps.judges)
            .map_err(|e| anyhow::anyhow!("judge {}/{}: {e}", spec.model, spec.strategy))?;
        let policy = Arc::new(FixedFeedPolicy::new(
            recorded.policy.clone(),
            feed,
            deps.store.clone(),
        ));
        let mut header = recorded.clone();
        if !rerun {
            header.run_id = new_run.clone();
            header.created_at = chrono::Utc::now();
            header.judge = judge.info();
            // Open-loop: the recorded feed, whatever the new judge does; never reported as
            // the policy that recorded it.
            header.policy = policy.info();
            if let Some(cfg) = header.config.as_object_mut() {
                cfg.insert("judge_spec".into(), serde_json::to_value(&spec)?);
                cfg.insert("counterfactual_of".into(), serde_json::json!({
                    "run": source.id, "session": recorded.session_id, "judge_spec": recorded_spec(&recorded, trace)?,
                }));
            }
        }
        let name = trace.file_name().context("a trace file name")?;
        let path = sessions_dir.join(name);
        // A fresh re-execution each time (an old one would otherwise be resumed).
        let _ = std::fs::remove_file(&path);
        let session = Session {
            header,
            policy,
            judge,
            path: path.clone(),
        };
        let outcome = run_session(&env, &session)
            .await
            .with_context(|| format!("re-executing {}", trace.display()))?;
        if rerun {
            if let Some(mut d) = first_divergence(trace, &path)? {
                if let Some(EndReason::Error { message }) = end_reason(&outcome) {
                    d.derived = format!("{} ({message})", d.derived);
                }
                divergences.push(d);
            }
        }
        spec_used = Some(spec);
        bar.inc(1);
    }
    bar.finish_and_clear();

    if rerun {
        if divergences.is_empty() {
            println!(
                "{} session(s) re-executed from their recorded calls (replay-strict, no network): every step matches the trace.",
                traces.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for d in &divergences {
            println!("FIRST DIVERGENCE: {d}");
        }
        println!(
            "{} of {} session(s) diverge from their traces (first divergence of each above).",
            divergences.len(),
            traces.len()
        );
        return Ok(ExitCode::from(1));
    }
    let provenance = serde_json::json!({
        "counterfactual_of": source.root,
        "run": source.id,
        "judge": spec_used,
        "cache": exp.judge.cache,
        "sessions": traces.len(),
        "note": "the same feed (videos, order and slates) as the source run, judged by another model or strategy",
    });
    std::fs::write(
        out.join("replay.json"),
        serde_json::to_vec_pretty(&provenance)?,
    )?;
    println!(
        "{} session(s) replayed against {} into {} (same videos in the same order as {}).",
        traces.len(),
        args.judge.as_deref().unwrap_or_default(),
        out.display(),
        source.id
    );
    println!(
        "compare: scrollsim inspect {} {} --by model",
        root.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
