//! `scrollsim run`: an experiment through `scrollsim_sim::execute`, with the store, embedder
//! and judges of the application context and the terminal's progress bar and Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use scrollsim_core::RunId;
use scrollsim_sim::{RunDir, Shard};

use crate::app::App;
use crate::runner;

/// Run an experiment (personas x models x strategies x policies x seeds) into
/// `<paths.runs>/<run-id>/`, or continue one.
///
/// Ctrl-C stops after the steps in flight are written; `--resume` continues every session from
/// its last written step. Running again into an existing run id continues it too.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (TOML; see experiments/ and docs/simulation.md).
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    pub experiment: Option<PathBuf>,
    /// Run id, the directory name under `paths.runs` (default: `<name>-<date>-<time>`). Shards
    /// of one run must share it.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Run only shard I of N (0-based: sessions I, I+N, I+2N...), e.g. `--shard
    /// $JOB_COMPLETION_INDEX/4`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Continue the run in this directory from its traces (with its own resolved.json).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let shard = args.shard.unwrap_or(Shard::ALL);
    let (dir, exp) = match (&args.resume, &args.experiment) {
        (Some(path), _) => RunDir::open(path)?,
        (None, Some(path)) => {
            let mut exp = app.load_experiment(path)?;
            app.check_judges(path, &mut exp).await?;
            let id = args
                .run_id
                .clone()
                .map(RunId::new)
                .unwrap_or_else(|| RunDir::new_id(&exp));
            (app.create_run(path, &id, &exp)?, exp)
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let deps = app.run_deps(&exp, app.open_store().await?).await?;
    let report = runner::execute(&dir, &exp, shard, &deps, args.quiet).await?;
    let summary = runner::write_summary(&dir, &exp).await?;
    runner::print_summary(&summary, app.settings.report.salvaged_warn);
    Ok(runner::finish(&dir, shard, &report))
}
