//! `scrollsim bench judge`: the VLM call stack against a local OpenAI-compatible endpoint that
//! answers after a fixed delay, run in a child process so this process's CPU time is the
//! judge's alone. Prints decisions/s against the concurrency/latency bound (concurrency /
//! delay; target at least 90 % at concurrency 64 with 8 keyframes per request) and CPU time per
//! decision; then the offline persona model's decisions/s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use scrollsim_core::config::load_personas;
use scrollsim_core::{ImageHash, Keyframe, ParseStatus, PerValue, Persona, Video};
use scrollsim_media::ImageStore;
use scrollsim_vlm::{
    build_judge, CacheMode, Judge, JudgeConfig, JudgeEnv, JudgeError, JudgeRequest, JudgeSpec,
    Limits, ModelConfig, ParserKind, ProviderKind, StrategyKind,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

use crate::{BenchError, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct JudgeBench {
    /// Decisions in flight at once (also the model's concurrency limit).
    pub concurrency: usize,
    /// The endpoint's fixed answer delay.
    pub delay_ms: u64,
    /// Keyframes per request (144x256 JPEGs, the paper's model size).
    pub keyframes: usize,
    /// Measured decisions (default: 40 rounds of `concurrency`).
    pub decisions: Option<usize>,
    pub strategy: StrategyKind,
    /// `live`, `record` or `replay-or-live`: the benchmark makes new calls.
    pub cache: CacheMode,
    /// Offline persona model decisions to time (0 skips it).
    pub offline_decisions: usize,
    /// The `[judge]` section the benchmark's model is added to.
    pub judge: JudgeConfig,
    pub prompt_dir: PathBuf,
    /// all-MiniLM-L6-v2, for the offline persona model.
    pub minilm: PathBuf,
    /// `config/personas`: the first persona with value weights is the one judged for.
    pub personas: PathBuf,
    /// A scratch directory (keyframes, call cache), removed afterwards.
    pub work: PathBuf,
}

/// Runs the benchmark against the endpoint that `endpoint` starts (a process printing its
/// address on its first line of stdout, such as one running [`serve_endpoint`]).
pub async fn run(b: &JudgeBench, endpoint: tokio::process::Command) -> Result<()> {
    if !matches!(
        b.cache,
        CacheMode::Live | CacheMode::ReplayOrLive | CacheMode::Record
    ) {
        return Err(BenchError::Setup(format!(
            "--cache {}: the benchmark makes new calls; use live, record or replay-or-live",
            b.cache.as_str()
        )));
    }
    std::fs::create_dir_all(&b.work).map_err(|source| BenchError::Io {
        path: b.work.clone(),
        source,
    })?;
    let result = against_endpoint(b, endpoint).await;
    let _ = std::fs::remove_dir_all(&b.work);
    result?;
    if b.offline_decisions > 0 {
        offline(b).await?;
    }
    Ok(())
}

/// The VLM side: the call stack against the endpoint, in this process.
async fn against_endpoint(b: &JudgeBench, mut endpoint: tokio::process::Command) -> Result<()> {
    // The endpoint runs in another process so getrusage below counts only the judge side.
    let setup = |what: &str| BenchError::Setup(format!("the endpoint process: {what}"));
    let mut child = endpoint
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| setup(&format!("cannot start: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| setup("no stdout"))?;
    let first = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .map_err(|_| setup("did not start within 30 s"))?
    .map_err(|e| setup(&e.to_string()))?
    .ok_or_else(|| setup("exited before printing its address"))?;
    let addr: SocketAddr = first
        .trim()
        .parse()
        .map_err(|_| setup(&format!("printed {first:?}, not an address")))?;
    let (work, mode) = (&b.work, b.cache);

    let store = ImageStore::open(&work.join("images"))?;
    let frames = synthetic_keyframes(&store, 64, 144, 256)?;
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
            concurrency: b.concurrency,
            timeout_s: 60.0,
            ..Default::default()
        },
        images: Default::default(),
    };
    let mut cfg = JudgeConfig {
        default_model: "bench".into(),
        cache: mode,
        ..b.judge.clone()
    };
    cfg.models = [("bench".to_string(), model)].into();
    cfg.budget = Default::default();
    let env = JudgeEnv::new(
        JudgeEnv::default_cache_path(&work.join("data")),
        b.prompt_dir.clone(),
    )
    .with_images(Arc::new(store));
    let spec = JudgeSpec {
        model: "bench".into(),
        strategy: b.strategy,
        parser: ParserKind::Lenient,
    };
    let judge = build_judge(&cfg, &spec, &env)?;
    let persona = match b.strategy {
        StrategyKind::Simple | StrategyKind::Isq => first_persona(b)?.map(Arc::new),
        _ => None,
    };

    let n = b.decisions.unwrap_or(b.concurrency * 40);
    let items = synthetic_videos(&hashes, b.concurrency + n, b.keyframes);
    let (warm, measured) = items.split_at(b.concurrency);
    let bound = b.concurrency as f64 / (b.delay_ms as f64 / 1000.0);
    println!(
        "judge benchmark: {} strategy, OpenAI-compatible endpoint at {addr} (separate process) answering after {} ms",
        b.strategy, b.delay_ms
    );
    println!(
        "  {} keyframes per request (144x256 JPEG, {avg_jpeg} bytes on average, ~{} KB of base64 per request), concurrency {}, cache {}",
        b.keyframes,
        avg_jpeg * b.keyframes * 4 / 3 / 1024,
        b.concurrency,
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
        b.concurrency,
    )
    .await?;
    let r = drive(judge, Arc::new(measured.to_vec()), persona, b.concurrency).await?;
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
        b.concurrency, b.delay_ms
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
    Ok(())
}

/// The offline persona model with stored text vectors (no embedding per decision).
async fn offline(b: &JudgeBench) -> Result<()> {
    let path = b.minilm.clone();
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
        // Never opened: the offline model makes no calls to record.
        b.work.join("unused.redb"),
        b.prompt_dir.clone(),
    )
    .with_text_embedder(Arc::new(minilm));
    let spec = JudgeSpec {
        model: scrollsim_vlm::OFFLINE_MODEL.into(),
        strategy: b.strategy,
        parser: ParserKind::Lenient,
    };
    let judge = build_judge(&b.judge, &spec, &env)?;
    let persona = first_persona(b)?.ok_or_else(|| {
        BenchError::Setup(format!(
            "no persona with value weights in {}",
            b.personas.display()
        ))
    })?;
    let items = Arc::new(synthetic_scored(b.offline_decisions, dim));
    let persona = Some(Arc::new(persona));
    // Warm the trait-vector cache (one embedding per persona), then measure.
    drive(
        judge.clone(),
        Arc::new(items[..1].to_vec()),
        persona.clone(),
        1,
    )
    .await?;
    let r = drive(judge, items, persona, b.concurrency).await?;
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

fn first_persona(b: &JudgeBench) -> Result<Option<Persona>> {
    let personas = load_personas(&b.personas)?;
    Ok(personas.into_iter().find(|p| p.weights.is_some()))
}

/// The endpoint process: an OpenAI-compatible chat completions endpoint that reads each request
/// and answers after a fixed delay.
pub async fn serve_endpoint(delay: Duration) -> Result<()> {
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
    let io = |source| BenchError::Io {
        path: "127.0.0.1:0".into(),
        source,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io)?;
    println!("{}", listener.local_addr().map_err(io)?);
    axum::serve(listener, app).await.map_err(io)?;
    Ok(())
}

/// One video to judge, with its text vector when the caller has one, and the seed of the
/// request (distinct seeds make distinct cache keys).
#[derive(Debug, Clone)]
pub struct BenchItem {
    pub video: Video,
    pub text_vector: Option<Vec<f32>>,
    pub seed: u64,
}

/// `n` distinct gradient JPEGs with light noise, `w`x`h` at quality 85 (at 144x256 about the
/// size of real keyframes), in the store; returns their hashes and byte sizes.
pub fn synthetic_keyframes(
    store: &ImageStore,
    n: usize,
    w: u32,
    h: u32,
) -> Result<Vec<(ImageHash, usize)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5c011);
    (0..n)
        .map(|i| {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let n: u8 = rng.random_range(0..10);
                image::Rgb([
                    ((x * 255 / w) as u8)
                        .wrapping_add(n)
                        .wrapping_add((i as u8).wrapping_mul(31)),
                    ((y * 255 / h) as u8).wrapping_add(n),
                    (i as u8).wrapping_mul(53).wrapping_add(n),
                ])
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
                .encode_image(&img)
                .map_err(|e| BenchError::Setup(format!("encoding a synthetic keyframe: {e}")))?;
            let hash = store.put(&jpeg)?;
            Ok((hash, jpeg.len()))
        })
        .collect()
}

/// `n` videos of `per_video` keyframes each, cycling through `frames`, each with its own seed.
pub fn synthetic_videos(frames: &[ImageHash], n: usize, per_video: usize) -> Vec<BenchItem> {
    (0..n)
        .map(|i| {
            let keyframes = (0..per_video)
                .map(|j| Keyframe {
                    hash: frames[(i * per_video + j) % frames.len()].clone(),
                    view: None,
                    at_s: Some(j as f32),
                })
                .collect();
            BenchItem {
                video: video(format!("bench-{i:06}"), keyframes, PerValue::default()),
                text_vector: None,
                seed: i as u64,
            }
        })
        .collect()
}

/// `n` videos with random value scores and random unit text vectors of dimension `dim`, for
/// the offline persona model.
pub fn synthetic_scored(n: usize, dim: usize) -> Vec<BenchItem> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0ff1);
    (0..n)
        .map(|i| {
            let scores = PerValue::from_fn(|_| rng.random_range(0.1f32..0.6));
            let mut x: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            scrollsim_embed::normalize(&mut x);
            BenchItem {
                video: video(format!("offline-{i:06}"), Vec::new(), scores),
                text_vector: Some(x),
                seed: 1,
            }
        })
        .collect()
}

fn video(id: String, keyframes: Vec<Keyframe>, value_scores: PerValue<f32>) -> Video {
    // Through serde so fields the core adds later take their defaults.
    let mut v: Video =
        serde_json::from_value(serde_json::json!({ "id": id, "value_scores": value_scores }))
            .expect("a minimal video deserializes");
    v.keyframes = keyframes;
    v
}

/// What a run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriveReport {
    pub decisions: u64,
    pub likes: u64,
    /// Decisions whose status is not `Parsed` (call errors, parse failures, refusals).
    pub not_parsed: u64,
    pub wall: Duration,
    /// User + system CPU time of this process during the run.
    pub cpu: Duration,
}

impl DriveReport {
    pub fn per_second(&self) -> f64 {
        self.decisions as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn cpu_per_decision(&self) -> Duration {
        self.cpu
            .checked_div(self.decisions.max(1) as u32)
            .unwrap_or_default()
    }
}

/// Judges every item once, at most `concurrency` at a time, each decision on its own task.
/// A `JudgeError` (budget, replay miss, configuration) stops the run.
pub async fn drive(
    judge: Arc<dyn Judge>,
    items: Arc<Vec<BenchItem>>,
    persona: Option<Arc<Persona>>,
    concurrency: usize,
) -> std::result::Result<DriveReport, JudgeError> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let cpu0 = crate::sys::cpu_time();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..items.len() {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| JudgeError::Other(e.to_string()))?;
        let (judge, items, persona) = (judge.clone(), items.clone(), persona.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let item = &items[i];
            let req = JudgeRequest {
                persona: persona.as_deref(),
                video: &item.video,
                text_vector: item.text_vector.as_deref(),
                seed: item.seed,
            };
            judge.decide(&req).await
        });
    }
    let mut report = DriveReport {
        decisions: 0,
        likes: 0,
        not_parsed: 0,
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let d = done.map_err(|e| JudgeError::Other(format!("a decision task failed: {e}")))??;
        report.decisions += 1;
        report.likes += d.like as u64;
        report.not_parsed += !matches!(d.status, ParseStatus::Parsed) as u64;
    }
    report.wall = started.elapsed();
    report.cpu = crate::sys::cpu_time().saturating_sub(cpu0);
    Ok(report)
}
