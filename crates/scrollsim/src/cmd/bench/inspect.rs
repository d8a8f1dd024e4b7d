use std::path::PathBuf;

use scrollsim_bench::inspect::InspectBench;

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Steps in the synthetic run.
    #[arg(long, default_value_t = 1_000_000)]
    steps: u64,
    /// Sessions the steps are spread over.
    #[arg(long, default_value_t = 1_000)]
    sessions: u64,
    /// Where to write the run (default: a temporary directory under the data directory,
    /// removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the synthetic run.
    #[arg(long)]
    keep: bool,
    /// Reader threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<()> {
    let bench = InspectBench {
        steps: args.steps,
        sessions: args.sessions,
        dir: args.dir,
        scratch_parent: app.data().root().to_path_buf(),
        keep: args.keep,
        threads: args.threads,
    };
    tokio::task::spawn_blocking(move || scrollsim_bench::inspect::run(&bench)).await??;
    Ok(())
}
