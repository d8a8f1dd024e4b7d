//! `scrollsim demo`: the main job in one command. On the embedded store under the data
//! directory it ingests the fixture corpus if the collection is missing or empty, runs the
//! persona study in `experiments/demo.toml` with the offline persona model (or the configured
//! VLM when a key or local endpoint is present), and prints a per-persona, per-value table and
//! where the traces and the report are.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_core::RunId;
use scrollsim_report::Summary;
use scrollsim_sim::{PolicyKind, RunDir, Shard};
use scrollsim_store::Filter;

use crate::app::App;
use crate::runner;

/// Ingest the fixtures if needed, run a persona study, print the table.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use the offline persona model even when a VLM is configured.
    #[arg(long)]
    pub offline: bool,
    /// Run id (default: `demo-<date>-<time>`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let store = app.fixture_store(args.quiet).await?;
    let videos = store.count(&Filter::default()).await?;

    // The study, with a real VLM when one is configured.
    let experiment = &app.settings.demo.experiment;
    let mut exp = app.load_experiment(experiment)?;
    let judge_note = match exp.judge.configured_vlm().filter(|_| !args.offline) {
        Some(name) => {
            exp.models = vec![name.to_string()];
            format!("judge: {name} (a VLM: its key or local endpoint is configured; --offline uses the offline persona model)")
        }
        None => "judge: the offline persona model (a seeded user model over MiniLM similarity and the persona's value weights; NOT a VLM). Configure [judge.models.*] with a key or local endpoint to use a VLM.".to_string(),
    };
    app.check_judges(experiment, &mut exp).await?;
    let id = args
        .run_id
        .clone()
        .map(RunId::new)
        .unwrap_or_else(|| RunDir::new_id(&exp));
    let dir = app.create_run(experiment, &id, &exp)?;
    let deps = app.run_deps(&exp, store).await?;
    let w = exp.windows;
    println!("{judge_note}");
    println!(
        "corpus: {videos} videos; {} sessions of {} steps ({} arms x {} x {} seeds). A session never \
         repeats a video, so windows are sized for this corpus: alignment change compares the first \
         {} videos with the {} from step {} (the paper uses 50 vs 50 after ~100, which needs a corpus \
         of hundreds).",
        exp.sessions().len(),
        exp.session_length,
        exp.personas.len() + exp.control as usize,
        exp.policies.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" and "),
        exp.seeds.len(),
        w.first,
        w.last,
        w.last_start,
    );

    let report = runner::execute(&dir, &exp, Shard::ALL, &deps, args.quiet).await?;
    let summary = runner::write_summary(&dir, &exp).await?;
    println!();
    runner::print_summary(&summary, app.settings.report.salvaged_warn);
    print!("{}", comparison(&summary, &exp));
    let code = runner::finish(&dir, Shard::ALL, &report);
    println!("traces: {}", dir.sessions_dir().display());
    match html_report(&dir, app).await {
        Ok(page) => println!("report: {} (tables and charts beside it)", page.display()),
        Err(e) => {
            eprintln!("warning: the HTML report could not be written: {e:#}");
            println!("report: scrollsim report {} --html", dir.root.display());
        }
    }
    Ok(code)
}

/// The report crate's tables, charts and HTML page for the run, with keyframe examples.
async fn html_report(dir: &RunDir, app: &App) -> anyhow::Result<PathBuf> {
    let run = dir.root.clone();
    let store = app.image_store(None)?;
    tokio::task::spawn_blocking(move || {
        let opts = scrollsim_report::ReportOptions {
            html: true,
            ..Default::default()
        };
        let paths = scrollsim_report::write_report(&run, Some(&store), &opts)?;
        paths.html.context("the report wrote no HTML page")
    })
    .await?
}

/// The demo's conclusion: the paired differences against random with their intervals, and
/// what they test.
fn comparison(s: &Summary, exp: &scrollsim_sim::Experiment) -> String {
    let reacting: Vec<String> = exp
        .policies
        .iter()
        .filter(|p| p.kind == PolicyKind::ForYou)
        .map(|p| p.label())
        .collect();
    format!(
        "{}The question: does a feed that reacts ({}) move exposure toward each persona's values \
         more than random does on the same seeds? An interval above zero says it did in this run.\n",
        s.render_conclusion(),
        reacting.join(", ")
    )
}
