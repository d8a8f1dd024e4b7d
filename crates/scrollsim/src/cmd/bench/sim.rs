use std::sync::Arc;

use scrollsim_bench::sim::SimBench;

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic videos.
    #[arg(long, default_value_t = 50_000)]
    videos: usize,
    /// Steps per session on the synthetic corpus (the fixture corpus caps it at its size).
    #[arg(long, default_value_t = 200)]
    length: u32,
    /// Seeds per persona x policy cell (8 arms: every persona and the control arm).
    #[arg(long, default_value_t = 8)]
    seeds: u32,
    /// Sessions at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Policies to measure, one at a time.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "foryou,foryou:slow-delayed-popular,random,popular"
    )]
    policies: Vec<String>,
    /// Skip the fixture corpus (which `scrollsim demo` ingests on first use).
    #[arg(long)]
    no_fixtures: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<()> {
    let fixtures = if args.no_fixtures {
        None
    } else {
        Some(app.fixture_store(true).await?)
    };
    let bench = SimBench {
        videos: args.videos,
        length: args.length,
        seeds: args.seeds,
        concurrency: args.concurrency,
        policies: args.policies,
        store: app.settings.store.clone(),
        scratch_parent: app.data().root().to_path_buf(),
    };
    // One text embedder and keyframe store for every measured run; each run its own judges.
    let text = app.text_embedder().await?;
    let images = Arc::new(app.image_store(None)?);
    let judge = &app.settings.judge;
    let deps = |store| scrollsim_sim::RunDeps {
        store,
        judges: app.judge_env(judge, images.clone(), text.clone()),
        text_embedder: Some(text.clone()),
        image_embedder: None,
    };
    Ok(scrollsim_bench::sim::run(&bench, &app.defaults(), fixtures, &deps).await?)
}
