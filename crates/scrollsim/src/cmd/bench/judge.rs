use std::time::Duration;

use anyhow::Context;
use scrollsim_bench::judge::JudgeBench;
use scrollsim_vlm::{CacheMode, StrategyKind};

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Decisions in flight at once (also the model's concurrency limit).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The endpoint's fixed answer delay in milliseconds.
    #[arg(long, default_value_t = 250)]
    delay_ms: u64,
    /// Keyframes per request (144x256 JPEGs, the paper's model size).
    #[arg(long, default_value_t = 8)]
    keyframes: usize,
    /// Measured decisions (default: 40 rounds of `concurrency`).
    #[arg(long)]
    decisions: Option<usize>,
    /// Prompt strategy of the VLM run.
    #[arg(long, default_value = "simple")]
    strategy: StrategyKind,
    /// Cache mode: `replay-or-live` (the default for real runs: every answer is recorded in a
    /// fresh cache) or `live` (no cache).
    #[arg(long, default_value = "replay-or-live")]
    cache: CacheMode,
    /// Offline persona model decisions to time (0 skips it).
    #[arg(long, default_value_t = 50_000)]
    offline_decisions: usize,
    /// Internal: run only the delayed endpoint and print its address.
    #[arg(long, hide = true)]
    serve_endpoint: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<()> {
    let delay = Duration::from_millis(args.delay_ms);
    if args.serve_endpoint {
        return Ok(scrollsim_bench::judge::serve_endpoint(delay).await?);
    }
    let s = &app.settings;
    // The endpoint is this binary in another process, with an empty config file so it does not
    // depend on the user's.
    let endpoint_config = tempfile::NamedTempFile::new().context("an empty config file")?;
    let mut endpoint = tokio::process::Command::new(std::env::current_exe()?);
    endpoint.arg("--config").arg(endpoint_config.path()).args([
        "bench",
        "judge",
        "--serve-endpoint",
        "--delay-ms",
        &args.delay_ms.to_string(),
    ]);
    let bench = JudgeBench {
        concurrency: args.concurrency,
        delay_ms: args.delay_ms,
        keyframes: args.keyframes,
        decisions: args.decisions,
        strategy: args.strategy,
        cache: args.cache,
        offline_decisions: args.offline_decisions,
        judge: s.judge.clone(),
        prompt_dir: s.judge.prompt_dir(&s.paths.config),
        minilm: s.paths.models.join("all-MiniLM-L6-v2"),
        personas: s.paths.config.join("personas"),
        work: app
            .data()
            .root()
            .join("bench")
            .join(format!("judge-{}", std::process::id())),
    };
    Ok(scrollsim_bench::judge::run(&bench, endpoint).await?)
}
