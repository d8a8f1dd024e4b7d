//! `scrollsim bench judge`: the VLM call stack against a local OpenAI-compatible endpoint that
//! answers after a fixed delay, run in a child process so this process's CPU time (getrusage)
//! is the judge's alone. Prints decisions/s against the concurrency/latency bound
//! (concurrency / delay; target at least 90 % at concurrency 64 with 8 keyframes per request)
//! and CPU time per decision; then the offline persona model's decisions/s.

use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use scrollsim_core::config::load_personas;
use scrollsim_media::ImageStore;
use scrollsim_vlm::bench::{drive, synthetic_keyframes, synthetic_scored, synthetic_videos};
use scrollsim_vlm::{
    build_judge, CacheMode, JudgeConfig, JudgeEnv, JudgeSpec, Limits, ModelConfig, ParserKind,
    ProviderKind, StrategyKind,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::settings::Settings;

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
    cache: String,
    /// Offline persona model decisions to time (0 skips it).
    #[arg(long, default_value_t = 50_000)]
    offline_decisions: usize,
    /// Internal: run only the delayed endpoint and print its address.
    #[arg(long, hide = true)]
    serve_endpoint: bool,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    if args.serve_endpoint {
        return serve_endpoint(Duration::from_millis(args.delay_ms)).await;
    }
    let mode: CacheMode = args.cache.parse().map_err(anyhow::Error::msg)?;
    if !matches!(
        mode,
        CacheMode::Live | CacheMode::ReplayOrLive | CacheMode::Record
    ) {
        bail!(
            "--cache {}: the benchmark makes new calls; use live, record or replay-or-live",
            args.cache
        );
    }
    let work = settings
        .paths
        .data
        .join("bench")
        .join(format!("judge-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = bench(&args, mode, settings, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn bench(
    args: &Args,
    mode: CacheMode,
    settings: &Settings,
    work: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    // The endpoint runs in a child process (this binary) so getrusage below counts only the
    // judge side. An empty config file keeps the child independent of the user's config.
    let child_config = work.join("endpoint.toml");
    std::fs::write(&child_config, "")?;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&child_config)
        .args([
            "bench",
            "judge",
            "--serve-endpoint",
            "--delay-ms",
            &args.delay_ms.to_string(),
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the endpoint process")?;
    let mut lines = BufReader::new(child.stdout.take().context("endpoint stdout")?).lines();
    let addr: SocketAddr = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the endpoint did not start within 30 s")??
        .context("the endpoint exited before printing its address")?
        .trim()
        .parse()
        .context("the endpoint printed no address")?;

    let store = ImageStore::open(&work.join("images"))?;
    let frames = synthetic_keyframes(&store, 64, 144, 256).map_err(anyhow::Error::msg)?;
    let avg_jpeg = frames.iter().map(|(_, n)| *n).sum::<usize>() / frames.len();
    let hashes: Vec<_> = frames.into_iter().map(|(h, _)| h).collect();
    let model = ModelConfig {
        provider: ProviderKind::Openai,
        base_url: Some(format!("http://{addr}/v1")),
        model: "bench-vlm".into(),
        api_key_env: None,
        structured_output: false,
        max_completion_tokens: false,
        settings: Default::default(),
        prices: None,
        limits: Limits {
            concurrency: args.concurrency,
            timeout_s: 60.0,
            ..Default::default()
        },
        images: Default::default(),
    };
    let mut cfg = JudgeConfig {
        default_model: "bench".into(),
        cache: mode,
        ..settings.judge.clone()
    };
    cfg.models = [("bench".to_string(), model)].into();
    cfg.budget = Default::default();
    let env = JudgeEnv::new(
        JudgeEnv::default_cache_path(&work.join("data")),
        settings.judge.prompt_dir(&settings.paths.config),
    )
    .with_images(Arc::new(store));
    let spec = JudgeSpec {
        model: "bench".into(),
        strategy: args.strategy,
        parser: ParserKind::Lenient,
    };
    let judge = build_judge(&cfg, &spec, &env)?;
    let persona = match args.strategy {
        StrategyKind::Simple | StrategyKind::Isq => first_persona(settings)?.map(Arc::new),
        _ => None,
    };

    let n = args.decisions.unwrap_or(args.concurrency * 40);
    let items = synthetic_videos(&hashes, args.concurrency + n, args.keyframes);
    let (warm, measured) = items.split_at(args.concurrency);
    let bound = args.concurrency as f64 / (args.delay_ms as f64 / 1000.0);
    println!(
        "judge benchmark: {} strategy, OpenAI-compatible endpoint at {addr} (separate process) answering after {} ms",
        args.strategy, args.delay_ms
    );
    println!(
        "  {} keyframes per request (144x256 JPEG, {avg_jpeg} bytes on average, ~{} KB of base64 per request), concurrency {}, cache {}",
        args.keyframes,
        avg_jpeg * args.keyframes * 4 / 3 / 1024,
        args.concurrency,
        mode.as_str()
    );
    println!(
        "  warm-up: {} decisions; measuring {n} decisions (about {:.0} s at the bound)...",
        warm.len(),
        n as f64 / bound
    );
    drive(
        judge.clone(),
        Arc::new(warm.to_vec()),
        persona.clone(),
        args.concurrency,
    )
    .await?;
    let r = drive(
        judge,
        Arc::new(measured.to_vec()),
        persona,
        args.concurrency,
    )
    .await?;
    let ledger = env.ledger().snapshot();
    println!(
        "  decisions:          {} in {:.2} s ({} not parsed)",
        r.decisions,
        r.wall.as_secs_f64(),
        r.not_parsed
    );
    println!("  achieved:           {:.1} decisions/s", r.per_second());
    println!(
        "  bound:              {bound:.1} decisions/s (concurrency {} / delay {} ms)",
        args.concurrency, args.delay_ms
    );
    println!(
        "  of the bound:       {:.1} % (target >= 90 %)",
        100.0 * r.per_second() / bound
    );
    println!(
        "  CPU (user+sys):     {:.2} s -> {:.3} ms per decision",
        r.cpu.as_secs_f64(),
        r.cpu_per_decision().as_secs_f64() * 1000.0
    );
    println!(
        "  ledger:             {} live calls, {} cached, {} errors",
        ledger.total.calls, ledger.total.cached, ledger.total.errors
    );
    child.kill().await.ok();

    if args.offline_decisions > 0 {
        offline(args, settings).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The offline persona model with stored text vectors (no embedding per decision).
async fn offline(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    let path = settings.paths.models.join("all-MiniLM-L6-v2");
    let opts = scrollsim_embed::MiniLmOptions {
        path: path.clone(),
        ..Default::default()
    };
    let minilm =
        match tokio::task::spawn_blocking(move || scrollsim_embed::MiniLmEmbedder::load(&opts))
            .await?
        {
            Ok(m) => m,
            Err(e) => {
                println!("offline persona model: skipped ({e})");
                return Ok(());
            }
        };
    let dim = scrollsim_embed::Embedder::info(&minilm).dim;
    let env = JudgeEnv::new(
        settings.paths.data.join("unused.redb"),
        settings.judge.prompt_dir(&settings.paths.config),
    )
    .with_text_embedder(Arc::new(minilm));
    let spec = JudgeSpec {
        model: scrollsim_vlm::OFFLINE_MODEL.into(),
        strategy: args.strategy,
        parser: ParserKind::Lenient,
    };
    let judge = build_judge(&settings.judge, &spec, &env)?;
    let persona =
        first_persona(settings)?.context("no persona with value weights in config/personas")?;
    let items = Arc::new(synthetic_scored(args.offline_decisions, dim));
    let persona = Some(Arc::new(persona));
    // Warm the trait-vector cache (one embedding per persona), then measure.
    drive(
        judge.clone(),
        Arc::new(items[..1].to_vec()),
        persona.clone(),
        1,
    )
    .await?;
    let r = drive(judge, items, persona, args.concurrency).await?;
    println!(
        "offline persona model: {} decisions with stored text vectors in {:.2} s -> {:.0} decisions/s, {:.4} ms CPU per decision ({} likes)",
        r.decisions,
        r.wall.as_secs_f64(),
        r.per_second(),
        r.cpu_per_decision().as_secs_f64() * 1000.0,
        r.likes
    );
    Ok(())
}

fn first_persona(settings: &Settings) -> anyhow::Result<Option<scrollsim_core::Persona>> {
    let dir = settings.paths.config.join("personas");
    let personas =
        load_personas(&dir).with_context(|| format!("loading personas from {}", dir.display()))?;
    Ok(personas.into_iter().find(|p| p.weights.is_some()))
}

/// The child process: an OpenAI-compatible chat completions endpoint that reads each request
/// and answers after a fixed delay.
async fn serve_endpoint(delay: Duration) -> anyhow::Result<ExitCode> {
    use axum::routing::post;
    let answer = serde_json::json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "model": "bench-vlm",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "LIKE: Yes\nTRAIT: NA\nWHY: benchmark answer"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 700, "completion_tokens": 12}
    })
    .to_string();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::body::Bytes| {
            let answer = answer.clone();
            async move {
                // The body has been read in full; a JSON object is all it checks (a 2-core machine
                // shares its CPU between this endpoint and the judge being measured).
                let ok = body.first() == Some(&b'{') && body.last() == Some(&b'}');
                tokio::time::sleep(delay).await;
                let status = if ok {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::BAD_REQUEST
                };
                (status, [("content-type", "application/json")], answer)
            }
        }),
    );
    let app = app.layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}
