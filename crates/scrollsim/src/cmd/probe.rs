//! `scrollsim probe <model>`: what a configured model's endpoint can do, as a table: images
//! accepted, how many, actually seen, structured output, latency, tokens per image, cost per
//! decision. The record is cached (the one a live study reuses); `--fresh` probes again.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use scrollsim_vlm::probe::render;
use scrollsim_vlm::{ProbeCache, ProbeOptions, OFFLINE_MODEL};

use crate::app::App;

/// Probe a `[judge.models.<name>]` entry with a handful of short live calls.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `[judge.models.<name>]` name.
    pub model: String,
    /// Keyframes one decision sends (for the image-count check and the cost per decision).
    #[arg(long, default_value_t = 4)]
    pub keyframes: u32,
    /// Probe again even when a cached record is younger than judge.probe.max_age_h.
    #[arg(long)]
    pub fresh: bool,
    /// Print the record as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let settings = &app.settings;
    if args.model == OFFLINE_MODEL {
        anyhow::bail!(
            "`offline` is the offline persona model (not a VLM): there is no endpoint to probe"
        );
    }
    let model = settings
        .judge
        .model(&args.model)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--config {}", settings.paths.config.display()))?;
    let opts = ProbeOptions {
        keyframes: args.keyframes,
        ..ProbeOptions::default()
    };
    let cache = ProbeCache::new(ProbeCache::default_dir(app.data().root()));
    let max_age = Duration::from_secs_f64(settings.judge.probe.max_age_h.max(0.0) * 3600.0);
    let (c, cached) = cache
        .get_or_probe(&args.model, model, &opts, max_age, args.fresh)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        if cached {
            println!("(cached probe; --fresh to probe again)");
        }
        print!("{}", render(&c));
    }
    Ok(ExitCode::SUCCESS)
}
