//! `scrollsim inspect`: a run's numbers in the terminal (or CSV, JSON, Markdown). By default
//! the central experiment first (persona x policy alignment change with its interval and the
//! paired difference against random), then the keyword benchmark's P, the comparison with the
//! paper, how the answers were read and the sessions that failed: `summary.json`'s view. With
//! `--by`, the tables of one grouping (like-rate and exposure per value, P and its spread,
//! alignment change, paired differences). Every number comes from the report crate; traces are
//! streamed, so memory does not grow with the number of steps.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::App;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scrollsim_report::{
    aggregate_with_progress, find_traces, AggregateOptions, Format, Grouping, Inspection,
    Published, Summary,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories (`runs/<id>`), directories of runs, or trace files (`.jsonl`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Group by persona, arm, model, strategy, policy or source_platform; combine with commas
    /// (`persona,policy`). source_platform groups steps, the others whole sessions. Without
    /// it: the central experiment first (summary.json's view).
    #[arg(long)]
    pub by: Option<Grouping>,
    /// Only the comparison with the paper's published P (Spearman's rho per model, with its
    /// caveats).
    #[arg(long, conflicts_with = "by")]
    pub paper: bool,
    /// table (terminal), csv (one wide row per group), json (every number) or md.
    #[arg(long, default_value = "table")]
    pub format: Format,
    /// Leave parse failures and call errors out of like-rate denominators (by default they
    /// count as skips, as in the paper).
    #[arg(long)]
    pub exclude_unparsed: bool,
    /// Warn when more than this share of answers was salvaged by the lenient parser (default:
    /// `[report] salvaged_warn`).
    #[arg(long)]
    pub salvaged_warn: Option<f64>,
    /// Threads reading traces (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn threads(args: &Args) -> usize {
    args.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Reads the traces and returns the inspection of one grouping.
fn inspect(args: &Args, by: &Grouping, progress: bool) -> anyhow::Result<Inspection> {
    let traces = find_traces(&args.paths).context("finding traces")?;
    let mut opts = AggregateOptions::new(vec![by.clone()]);
    opts.threads = threads(args);
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

/// What inspect prints, and the traces it left out.
struct Output {
    text: String,
    warnings: Vec<String>,
    skipped: Vec<(PathBuf, String)>,
}

fn render(args: &Args, salvaged_warn: f64) -> anyhow::Result<Output> {
    if let Some(by) = &args.by {
        let i = inspect(args, by, true)?;
        return Ok(Output {
            text: i.render(args.format),
            warnings: Vec::new(),
            skipped: i
                .read
                .skipped
                .iter()
                .map(|p| (p.path.clone(), p.message.clone()))
                .collect(),
        });
    }
    let s = Summary::of_paths(&args.paths, None, threads(args), args.exclude_unparsed)
        .context("reading the traces")?;
    let tables = if args.paper {
        vec![scrollsim_report::paper_table(
            &Published::shipped(),
            &s.paper,
        )]
    } else {
        s.tables(salvaged_warn)
    };
    let text = match args.format {
        Format::Json if args.paper => serde_json::to_string_pretty(&s.paper)? + "\n",
        Format::Json => serde_json::to_string_pretty(&s)? + "\n",
        Format::Table => tables
            .iter()
            .map(|t| t.to_terminal())
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Md => tables
            .iter()
            .map(|t| t.to_markdown())
            .collect::<Vec<_>>()
            .join("\n"),
        // The central table (or the paper's), one row per cell; every row names its judge.
        Format::Csv => tables
            .first()
            .map(|t| t.to_csv_with("judged_by", &s.judge_text()))
            .unwrap_or_default(),
    };
    Ok(Output {
        text,
        warnings: s.warnings(salvaged_warn),
        skipped: s
            .read
            .skipped
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect(),
    })
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let warn = args
        .salvaged_warn
        .unwrap_or(app.settings.report.salvaged_warn);
    anyhow::ensure!(
        (0.0..=1.0).contains(&warn),
        "--salvaged-warn {warn}: expected a fraction between 0 and 1"
    );
    let out = tokio::task::spawn_blocking(move || render(&args, warn)).await??;
    print!("{}", out.text);
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    if out.skipped.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for (path, message) in &out.skipped {
        eprintln!("warning: left out {}: {message}", path.display());
    }
    eprintln!(
        "{} malformed trace(s) were left out of these numbers (see above).",
        out.skipped.len()
    );
    Ok(ExitCode::from(1))
}
