//! `scrollsim bench`: flags and settings into the harnesses of `scrollsim_bench`, which
//! measure and print (figures only, never timed assertions in tests).

use std::process::ExitCode;

use crate::app::App;

mod ingest;
mod inspect;
mod judge;
mod sim;
mod store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Store: upsert rate, search/recommend latency, recall@10, disk and memory at 50,000 videos.
    Store(store::Args),
    /// Ingest: keyframe extraction per strategy against the ffmpeg CLI, embeddings/s, videos/s.
    Ingest(ingest::Args),
    /// Judge: decisions/s against a local endpoint with a fixed delay, CPU time per decision.
    Judge(judge::Args),
    /// Simulation: steps/s with the offline judge on the fixtures and on 50,000 synthetic videos.
    Sim(sim::Args),
    /// Inspect: time and peak memory to inspect a synthetic run of 1,000,000 steps.
    Inspect(inspect::Args),
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Store(a) => store::run(a, app).await?,
        What::Ingest(a) => ingest::run(a, app).await?,
        What::Judge(a) => judge::run(a, app).await?,
        What::Sim(a) => sim::run(a, app).await?,
        What::Inspect(a) => inspect::run(a, app).await?,
    }
    Ok(ExitCode::SUCCESS)
}
