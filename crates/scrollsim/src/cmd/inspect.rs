//! `scrollsim inspect`: tables of like-rate and exposure per value, P and its spread, alignment
//! change with confidence intervals across seeds, parse failures and call errors, grouped by
//! persona, model, strategy, policy or platform. Traces are streamed: memory does not grow
//! with the number of steps.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scrollsim_report::{
    aggregate_with_progress, find_traces, AggregateOptions, Format, Grouping, Inspection,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories (`runs/<id>`), directories of runs, or trace files (`.jsonl`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Group by persona, model, strategy, policy or platform; combine with commas
    /// (`persona,model`). Platform groups steps, the others whole sessions.
    #[arg(long, default_value = "persona")]
    pub by: Grouping,
    /// table (terminal), csv (one wide row per group), json (every number) or md.
    #[arg(long, default_value = "table")]
    pub format: Format,
    /// Leave parse failures and call errors out of like-rate denominators (by default they
    /// count as skips, as in the paper).
    #[arg(long)]
    pub exclude_unparsed: bool,
    /// Threads reading traces (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Reads the traces and returns the inspection.
fn inspect(args: &Args, progress: bool) -> anyhow::Result<Inspection> {
    let traces = find_traces(&args.paths).context("finding traces")?;
    let mut opts = AggregateOptions::new(vec![args.by.clone()]);
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    let bar = if progress {
        ProgressBar::new(traces.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} reading traces {pos}/{len} [{elapsed}] {wide_bar}")
            .expect("static template"),
    );
    let agg = aggregate_with_progress(&traces, &opts, &|| bar.inc(1));
    bar.finish_and_clear();
    Ok(Inspection::from_aggregation(&agg, 0, args.exclude_unparsed))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inspection = tokio::task::spawn_blocking(move || {
        let i = inspect(&args, true)?;
        Ok::<_, anyhow::Error>((i, args.format))
    })
    .await??;
    let (inspection, format) = inspection;
    print!("{}", inspection.render(format));
    if inspection.read.skipped.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for p in &inspection.read.skipped {
        eprintln!("warning: left out {}: {}", p.path.display(), p.message);
    }
    eprintln!(
        "{} malformed trace(s) were left out of these numbers (see above).",
        inspection.read.skipped.len()
    );
    Ok(ExitCode::from(1))
}
