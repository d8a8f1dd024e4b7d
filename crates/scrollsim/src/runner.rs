//! Running a shard of an experiment in the terminal: a progress bar on stderr, Ctrl-C that
//! stops after the steps in flight, and the closing lines that say where the run is and how to
//! continue it. `run` and `demo` both run experiments through here.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scrollsim_report::{RunPlan, Summary, SUMMARY_FILE};
use scrollsim_sim::{Experiment, RunDeps, RunDir, RunProgress, RunReport, Shard, Stop};

/// Runs a shard with a progress bar on stderr; Ctrl-C stops after the steps in flight (a
/// second Ctrl-C exits at once).
pub async fn execute(
    dir: &RunDir,
    exp: &Experiment,
    shard: Shard,
    deps: &RunDeps,
    quiet: bool,
) -> anyhow::Result<RunReport> {
    let stop = Stop::new();
    let progress = RunProgress::new();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} steps | {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                update_bar(&bar, &progress);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let signals = {
        let stop = stop.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.request();
                // Printed even when the bar is hidden (stderr not a terminal).
                bar.suspend(|| {
                    eprintln!(
                        "interrupted: finishing the steps in flight (Ctrl-C again to quit at once)"
                    )
                });
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let result = scrollsim_sim::execute(dir, exp, shard, deps, stop, progress.clone()).await;
    ticker.abort();
    signals.abort();
    update_bar(&bar, &progress);
    bar.finish();
    Ok(result?)
}

fn update_bar(bar: &ProgressBar, progress: &RunProgress) {
    let s = progress.snapshot();
    bar.set_length(s.steps_planned.max(s.steps));
    bar.set_position(s.steps);
    let rate = s.steps_run as f64 / bar.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!(
        "{rate:.0} steps/s | sessions {}/{} | likes {} | calls {} | ${:.4}",
        s.sessions_done, s.sessions_total, s.likes, s.calls, s.cost_usd
    ));
}

/// The sessions an experiment plans, as the summary counts them.
pub fn plan(exp: &Experiment) -> RunPlan {
    RunPlan {
        experiment: exp.name.clone(),
        sessions: exp.sessions().iter().map(|p| p.id.to_string()).collect(),
    }
}

/// Writes `summary.json` over every trace in the run directory (the report crate computes it,
/// with the sessions the experiment planned) and returns it.
pub async fn write_summary(dir: &RunDir, exp: &Experiment) -> anyhow::Result<Summary> {
    let plan = plan(exp);
    let root = dir.root.clone();
    tokio::task::spawn_blocking(move || scrollsim_report::write_summary(&root, Some(&plan)))
        .await?
        .with_context(|| format!("writing {}", dir.root.join(SUMMARY_FILE).display()))
}

/// The summary's tables, central experiment first, and its warnings (on stderr): what `run`
/// and `demo` print after a run.
pub fn print_summary(summary: &Summary, salvaged_warn: f64) {
    for t in summary.tables(salvaged_warn) {
        println!("{}", t.to_terminal());
    }
    for w in summary.warnings(salvaged_warn) {
        eprintln!("warning: {w}");
    }
}

/// Prints where the run is and how to continue it; the exit code says whether it is complete.
pub fn finish(dir: &RunDir, shard: Shard, report: &RunReport) -> ExitCode {
    let shard_flag = if shard == Shard::ALL {
        String::new()
    } else {
        format!(" --shard {shard}")
    };
    println!("run directory: {}", dir.root.display());
    for (id, e) in &report.failures {
        eprintln!("session {id} stopped: {e}");
    }
    for (id, e) in &report.errored {
        eprintln!("session {id} FAILED: {e}");
    }
    if let Some(outage) = &report.outage {
        // One message for the whole run, however many sessions the outage touched.
        eprintln!(
            "{outage}: stopped the run; {} session(s) cut short (traces kept up to their last \
             complete step), {} not started",
            report.interrupted.len(),
            report.stopped
        );
    }
    if report.succeeded() {
        println!(
            "{} session(s) complete ({} now, {} earlier); summary: {}",
            report.sessions,
            report.ended,
            report.already_ended,
            dir.root.join(SUMMARY_FILE).display()
        );
        return ExitCode::SUCCESS;
    }
    if report.complete() {
        // Every session has its end event, but some ended in error: failed, not done.
        eprintln!(
            "{} of {} session(s) FAILED (ended in error; not counted as done); {} complete. \
             Fix the cause, then continue them with: scrollsim run --resume {}{shard_flag}",
            report.errored.len(),
            report.sessions,
            report.sessions - report.errored.len(),
            dir.root.display()
        );
        return ExitCode::FAILURE;
    }
    eprintln!(
        "{} of {} session(s) unfinished; continue with: scrollsim run --resume {}{shard_flag}",
        report.sessions - report.ended - report.already_ended,
        report.sessions,
        dir.root.display()
    );
    if report.failures.is_empty() && report.errored.is_empty() && report.outage.is_none() {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    }
}
