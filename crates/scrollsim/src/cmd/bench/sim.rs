//! `scrollsim bench sim`: simulated steps per second through the real session loop (policy,
//! store, offline persona model, dwell, state update, trace written and flushed per step), on
//! the fixture corpus and on 50,000 synthetic videos (384-d vectors clustered by value, with
//! value scores) upserted into a temporary embedded store. Target: >= 2,000 steps/s at 50,000
//! videos on a 2-core machine.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use scrollsim_core::RunId;
use scrollsim_sim::synthetic::SyntheticCorpus;
use scrollsim_sim::{Defaults, Experiment, RunDir, RunProgress, Shard, Stop};
use scrollsim_store::{CollectionSpec, Filter, VideoStore};

use crate::settings::Settings;

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
        default_value = "foryou,foryou:youtube-like,random,popular"
    )]
    policies: Vec<String>,
    /// Skip the fixture corpus (which `scrollsim demo` ingests on first use).
    #[arg(long)]
    no_fixtures: bool,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::Builder::new()
        .prefix("bench-sim-")
        .tempdir_in(prepare(&settings.paths.data)?)
        .context("creating a scratch directory under the data directory")?;
    println!("scrollsim bench sim: offline persona model, embedded store, traces written and flushed per step");
    println!(
        "{:<22} {:<22} {:>9} {:>8} {:>9} {:>10}",
        "corpus", "policy", "sessions", "steps", "seconds", "steps/s"
    );

    if !args.no_fixtures {
        let store = super::super::demo::fixture_store(settings, true).await?;
        let n = store.count(&Filter::default()).await? as u32;
        let length = args.length.min(n.saturating_sub(5)).max(1);
        measure(
            &args,
            settings,
            store,
            "fixtures",
            length,
            &scratch.path().join("fixtures"),
        )
        .await?;
    }

    let data = scratch.path().join("synthetic");
    let store_cfg = crate::cmd::run::store_config(settings)?;
    let store = scrollsim_store::open_store(&store_cfg, &data).await?;
    let corpus = SyntheticCorpus {
        videos: args.videos,
        dim: 384,
        noise: 0.6,
        seed: 1,
    };
    store
        .open_collection(&CollectionSpec {
            name: store_cfg.collection.clone(),
            text_dim: 384,
            image_dim: None,
        })
        .await?;
    let t = Instant::now();
    store.upsert(corpus.points()).await?;
    store.wait_indexed().await?;
    eprintln!(
        "({} synthetic videos upserted and indexed in {:.1} s)",
        args.videos,
        t.elapsed().as_secs_f64()
    );
    let label = format!("synthetic {}", args.videos);
    measure(
        &args,
        settings,
        store,
        &label,
        args.length,
        &data.join("runs"),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn prepare(data: &Path) -> anyhow::Result<&Path> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    Ok(data)
}

/// Runs every persona plus control x `seeds` for each policy in turn and prints steps/s.
async fn measure(
    args: &Args,
    settings: &Settings,
    store: Arc<dyn VideoStore>,
    corpus: &str,
    length: u32,
    runs: &Path,
) -> anyhow::Result<()> {
    for policy in &args.policies {
        let w = (length / 3).max(1);
        let text = format!(
            "name = \"bench\"\npersonas = \"all\"\ncontrol = true\nmodels = [\"offline\"]\n\
             policies = [\"{policy}\"]\nseeds = {{ from = 1, count = {} }}\nsession_length = {length}\n\
             windows = {{ first = {w}, last_start = {}, last = {w} }}\nconcurrency = {}\n",
            args.seeds,
            length - w,
            args.concurrency
        );
        let defaults = Defaults {
            config_dir: &settings.paths.config,
            policy: &settings.policy,
            judge: &settings.judge,
        };
        let exp = Experiment::parse(&text, Path::new("<bench sim>"), &defaults)?;
        let id = RunId::new(policy.replace(':', "-"));
        let dir = RunDir::create(runs, &id, &text, &exp)?;
        let deps = crate::cmd::run::deps_for(settings, &exp, store.clone()).await?;
        let progress = RunProgress::new();
        let t = Instant::now();
        let report =
            scrollsim_sim::execute(&dir, &exp, Shard::ALL, &deps, Stop::new(), progress.clone())
                .await?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.failures.is_empty(),
            "sessions failed: {:?}",
            report.failures
        );
        let steps = progress.snapshot().steps;
        println!(
            "{corpus:<22} {policy:<22} {:>9} {steps:>8} {secs:>9.2} {:>10.0}",
            report.sessions,
            steps as f64 / secs
        );
    }
    Ok(())
}
