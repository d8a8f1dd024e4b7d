//! `scrollsim bench ingest`: figures for the ingest path, one section each. Keyframe
//! extraction in-process against the `ffmpeg` command line extracting the same frames (and the
//! JPEG encoder comparison behind the choice of FFmpeg's MJPEG encoder); text embeddings per
//! second by batch size; the whole pipeline's videos per second. Measured and printed, never
//! asserted.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use scrollsim_core::config::ValueCatalog;
use scrollsim_core::Video;
use scrollsim_embed::{
    build_embedders, EmbedError, EmbedderConfig, Embedders, MiniLmEmbedder, MiniLmOptions,
    TextEmbedderConfig,
};
use scrollsim_ingest::metadata::MetaRecord;
use scrollsim_ingest::{IngestConfig, IngestError, IngestOptions, IngestProgress, IngestSummary};
use scrollsim_media::{
    extract_keyframes, ffmpeg_command, ExtractOptions, ExtractedFrame, ImageStore, KeyframeStrategy,
};
use scrollsim_store::{open_store, StoreConfig};

use crate::timings::{ms, Timings};
use crate::{BenchError, Result};

/// What to measure, and on what.
#[derive(Debug, Clone)]
pub struct IngestBench {
    /// Videos and screenshots whose keyframe extraction is timed.
    pub media_dir: PathBuf,
    pub strategies: Vec<KeyframeStrategy>,
    /// Time at most this many files.
    pub limit: Option<usize>,
    /// The `ffmpeg` command line to compare against.
    pub ffmpeg: PathBuf,
    /// Pictures each JPEG encoder encodes in the encoder comparison.
    pub jpeg_reps: usize,
    pub skip_keyframes: bool,
    /// Text embeddings: batch sizes to time, and how many texts per batch size.
    pub embed_batch_sizes: Vec<usize>,
    pub embed_texts: usize,
    /// Text embeddings: the Python whose torch and sentence-transformers time the same texts
    /// (see [`crate::reference`]), and the batch size of that comparison.
    pub reference_python: PathBuf,
    pub reference_batch_size: usize,
    /// Whole pipeline: decode concurrencies to time.
    pub pipeline_concurrency: Vec<usize>,
    /// The corpus the pipeline ingests whole; its `metadata.jsonl` gives the texts embedded.
    pub corpus: PathBuf,
    /// Where each pipeline run writes its fresh store.
    pub scratch: PathBuf,
    /// Ingest settings; their keyframe options are the ones timed.
    pub ingest: IngestConfig,
    pub embedder: EmbedderConfig,
    pub catalog: ValueCatalog,
}

/// Runs every section and prints its figures.
pub async fn run(b: &IngestBench) -> Result<()> {
    println!(
        "scrollsim bench ingest ({} cores)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if !b.skip_keyframes {
        keyframe_section(b).await?;
    }
    embedding_section(b).await?;
    pipeline_section(b).await?;
    Ok(())
}

/// Media files under `dir`, as ingest would find them, sorted.
fn media_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let found = scrollsim_ingest::sources::discover(&[dir.to_path_buf()])?;
    Ok(found.files.into_iter().map(|f| f.path).collect())
}

/// Keyframe extraction per video, in-process against the ffmpeg command line, per strategy;
/// then the JPEG encoder comparison.
async fn keyframe_section(b: &IngestBench) -> Result<()> {
    let opts = &b.ingest.keyframes;
    let mut files = media_files(&b.media_dir)?;
    if let Some(n) = b.limit {
        files.truncate(n);
    }
    if files.is_empty() {
        return Err(BenchError::Setup(format!(
            "no videos or screenshots in {}",
            b.media_dir.display()
        )));
    }
    println!("## Keyframe extraction (scrollsim-media)\n");
    println!(
        "{} files in {}; model {} + view {}, JPEG quality {}, {} decoder thread(s), max {} frames.",
        files.len(),
        b.media_dir.display(),
        opts.model_size,
        opts.view_size,
        opts.jpeg_quality,
        opts.decoder_threads,
        opts.max_frames
    );
    println!(
        "In-process: scrollsim_media::extract_keyframes (decode, crop, scale, turn, JPEG-encode both sizes).\n\
         CLI: one `{}` process per video extracting the same frames at the same sizes (uniform: one\n\
         seeking input per target time; iframes: -skip_frame nokey; scene: -skip_frame noref + select).\n",
        b.ffmpeg.display()
    );
    let scratch = tempfile::Builder::new()
        .prefix("scrollsim-bench-keyframes-")
        .tempdir()
        .map_err(|source| BenchError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let bar = ProgressBar::new((files.len() * b.strategies.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} files x strategies  {per_sec}  eta {eta}",
        )
        .expect("static template"),
    );
    let (strategies, ffmpeg, base) = (b.strategies.clone(), b.ffmpeg.clone(), opts.clone());
    let (pb, dir) = (bar.clone(), scratch.path().to_path_buf());
    let sample = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .cloned();
    let rows = tokio::task::spawn_blocking(move || {
        bench_keyframes(&files, &strategies, &base, &ffmpeg, &dir, |done, _| {
            pb.set_position(done as u64)
        })
    })
    .await?;
    bar.finish_and_clear();
    print_rows(&rows);

    if let Some(first) = sample {
        println!(
            "\nJPEG encoder, one picture encoded {} times (RGB input; MJPEG includes RGB->YUV):",
            b.jpeg_reps
        );
        println!(
            "{:<10} {:>22} {:>22}",
            "size", "FFmpeg MJPEG ms (bytes)", "image crate ms (bytes)"
        );
        for size in [opts.model_size, opts.view_size] {
            let (q, reps, f) = (opts.jpeg_quality, b.jpeg_reps, first.clone());
            let c = tokio::task::spawn_blocking(move || {
                scrollsim_media::bench::compare_jpeg_encoders(&f, size, q, reps)
            })
            .await??;
            println!(
                "{:<10} {:>14.3} ({:>6}) {:>14.3} ({:>6})",
                format!("{}x{}", c.width, c.height),
                c.mjpeg_ms,
                c.mjpeg_bytes,
                c.image_crate_ms,
                c.image_crate_bytes
            );
        }
    }
    Ok(())
}

/// One strategy's figures over a set of files.
#[derive(Debug, Clone)]
pub struct StrategyRow {
    pub strategy: KeyframeStrategy,
    /// Per video: `extract_keyframes` (open, decode, crop/scale, JPEG-encode both sizes).
    pub in_process: Timings,
    /// Per video: spawning `ffmpeg` for the same frames and sizes and waiting for its JPEGs.
    pub cli: Timings,
    pub frames_in_process: usize,
    pub frames_cli: usize,
    /// Videos where the two sides kept a different number of frames.
    pub count_mismatches: usize,
    /// Files either side could not process, with the reason.
    pub failures: Vec<(PathBuf, String)>,
}

impl StrategyRow {
    /// In-process time over CLI time (below 1.0: in-process is faster).
    pub fn ratio(&self) -> f64 {
        if self.cli.mean > Duration::ZERO {
            self.in_process.mean.as_secs_f64() / self.cli.mean.as_secs_f64()
        } else {
            f64::NAN
        }
    }
}

fn print_rows(rows: &[StrategyRow]) {
    println!(
        "{:<11} {:>6} {:>28} {:>28} {:>6} {:>13} {:>8} {:>6}",
        "strategy",
        "videos",
        "in-process ms/video",
        "ffmpeg CLI ms/video",
        "ratio",
        "frames in/cli",
        "differ",
        "failed"
    );
    println!(
        "{:<11} {:>6} {:>28} {:>28}",
        "", "", "mean (median, p95)", "mean (median, p95)"
    );
    let fmt = |t: &Timings| format!("{:.1} ({:.1}, {:.1})", ms(t.mean), ms(t.p50), ms(t.p95));
    for r in rows {
        println!(
            "{:<11} {:>6} {:>28} {:>28} {:>6.2} {:>13} {:>8} {:>6}",
            r.strategy.to_string(),
            r.in_process.n,
            fmt(&r.in_process),
            fmt(&r.cli),
            r.ratio(),
            format!("{}/{}", r.frames_in_process, r.frames_cli),
            r.count_mismatches,
            r.failures.len()
        );
    }
    for r in rows {
        for (path, why) in &r.failures {
            println!("  {} failed on {}: {why}", r.strategy, path.display());
        }
    }
    println!(
        "ratio = in-process / CLI mean time per video (target <= 1.0); differ = videos where the two\n\
         sides kept a different number of frames (scene: the CLI keeps the first cuts, scrollsim the\n\
         strongest, when there are more than max_frames)."
    );
}

/// Times every strategy on every file, in-process and with the `ffmpeg` command line (one
/// process per video). `progress` is called after each file with (done, total).
pub fn bench_keyframes(
    files: &[PathBuf],
    strategies: &[KeyframeStrategy],
    base: &ExtractOptions,
    ffmpeg: &Path,
    scratch: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Vec<StrategyRow> {
    let total = files.len() * strategies.len();
    let mut done = 0;
    strategies
        .iter()
        .map(|&strategy| {
            let opts = ExtractOptions {
                strategy,
                ..base.clone()
            };
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let (mut frames_in, mut frames_cli, mut count_mismatches) = (0, 0, 0);
            let mut failures = Vec::new();
            // One untimed run warms the page cache and FFmpeg's lazy tables for both sides.
            if let Some(f) = files.first() {
                if let Ok(frames) = extract_keyframes(f, &opts) {
                    let _ = run_cli(ffmpeg, f, &opts, &times(&frames), scratch);
                }
            }
            for f in files {
                let t = Instant::now();
                let got = extract_keyframes(f, &opts);
                let elapsed = t.elapsed();
                match got {
                    Ok(frames) => {
                        ours.push(elapsed);
                        frames_in += frames.len();
                        match run_cli(ffmpeg, f, &opts, &times(&frames), scratch) {
                            Ok((d, n)) => {
                                theirs.push(d);
                                frames_cli += n;
                                count_mismatches += usize::from(n != frames.len());
                            }
                            Err(e) => failures.push((f.clone(), format!("ffmpeg CLI: {e}"))),
                        }
                    }
                    Err(e) => failures.push((f.clone(), e.to_string())),
                }
                done += 1;
                progress(done, total);
            }
            StrategyRow {
                strategy,
                in_process: Timings::of(ours),
                cli: Timings::of(theirs),
                frames_in_process: frames_in,
                frames_cli,
                count_mismatches,
                failures,
            }
        })
        .collect()
}

fn times(frames: &[ExtractedFrame]) -> Vec<f32> {
    frames.iter().filter_map(|f| f.at_s).collect()
}

/// Runs the `ffmpeg` command for `path` in a fresh directory under `scratch`; returns the wall
/// time and the number of model-size JPEGs it wrote.
fn run_cli(
    ffmpeg: &Path,
    path: &Path,
    opts: &ExtractOptions,
    key_times: &[f32],
    scratch: &Path,
) -> Result<(Duration, usize)> {
    let dir = scratch.join("cli");
    let io = |source| BenchError::Io {
        path: dir.clone(),
        source,
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut cmd = ffmpeg_command(ffmpeg, path, opts, key_times, &dir)?;
    let t = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let elapsed = t.elapsed();
    let out = out.map_err(|source| BenchError::Io {
        path: ffmpeg.to_path_buf(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("failed").trim();
        return Err(BenchError::Setup(last.to_string()));
    }
    let n = std::fs::read_dir(&dir)
        .map_err(io)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("m_"))
        })
        .count();
    Ok((elapsed, n))
}

/// The texts ingest would embed for the corpus's metadata (caption, hashtags, description).
fn corpus_texts(corpus: &Path) -> Result<Vec<String>> {
    let meta = corpus.join("metadata.jsonl");
    let rows = scrollsim_ingest::metadata::load(&meta).map_err(IngestError::from)?;
    if rows.is_empty() {
        return Err(BenchError::Setup(format!(
            "no metadata rows in {}",
            meta.display()
        )));
    }
    Ok(rows.iter().map(|r| embedding_text(&r.record)).collect())
}

/// The text ingest embeds for a metadata record (`Video::embedding_text`).
fn embedding_text(m: &MetaRecord) -> String {
    Video {
        caption: m.caption.clone().unwrap_or_default(),
        hashtags: m.hashtags.clone(),
        description: m.description.clone(),
        ..Video::new(m.id.clone().unwrap_or_else(|| "x".into()))
    }
    .embedding_text()
}

/// Texts embedded per second at one batch size.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRate {
    pub batch_size: usize,
    pub texts: usize,
    pub seconds: f64,
}

impl EmbedRate {
    pub fn per_second(&self) -> f64 {
        self.texts as f64 / self.seconds
    }
}

/// Embeds `texts` once per batch size (after one warm-up pass) on the calling thread.
pub fn text_embedding_rates(
    model: &MiniLmEmbedder,
    texts: &[String],
    batch_sizes: &[usize],
) -> std::result::Result<Vec<EmbedRate>, EmbedError> {
    model.embed_blocking(&texts[..texts.len().min(8)])?;
    batch_sizes
        .iter()
        .map(|&b| {
            let m = model.with_batch_size(b);
            let t = Instant::now();
            m.embed_blocking(texts)?;
            Ok(EmbedRate {
                batch_size: b,
                texts: texts.len(),
                seconds: t.elapsed().as_secs_f64(),
            })
        })
        .collect()
}

/// Text embeddings per second with all-MiniLM-L6-v2 at several batch sizes.
async fn embedding_section(b: &IngestBench) -> Result<()> {
    let opts = match &b.embedder.text {
        TextEmbedderConfig::Minilm(o) => o.clone(),
        _ => MiniLmOptions::default(),
    };
    let base = corpus_texts(&b.corpus)?;
    let texts: Vec<String> = base
        .iter()
        .cycle()
        .take(b.embed_texts.max(1))
        .cloned()
        .collect();
    let mean_chars = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len() as f64;
    let sizes = b.embed_batch_sizes.clone();
    let model_path = opts.path.clone();
    let (ref_opts, ref_texts) = (opts.clone(), texts.clone());
    let (rates, runtime) = tokio::task::spawn_blocking(move || -> Result<_> {
        let model = MiniLmEmbedder::load(&opts)?;
        let rates = text_embedding_rates(&model, &texts, &sizes)?;
        Ok((rates, model.runtime().to_string()))
    })
    .await??;
    println!(
        "\n## Text embeddings (all-MiniLM-L6-v2, {})\n",
        model_path.display()
    );
    println!(
        "{} texts (the corpus's captions + hashtags + descriptions, repeated; mean {:.0} characters),\n\
         at most one batch per forward pass, every core used; runs on {runtime}.",
        b.embed_texts, mean_chars
    );
    println!("{:>10} {:>12} {:>12}", "batch size", "texts/s", "ms/text");
    for r in &rates {
        println!(
            "{:>10} {:>12.1} {:>12.2}",
            r.batch_size,
            r.per_second(),
            1000.0 * r.seconds / r.texts as f64
        );
    }
    crate::reference::section(
        &b.reference_python,
        &ref_opts,
        b.reference_batch_size,
        &ref_texts,
    )
    .await
}

/// The whole pipeline on the corpus: keyframes, image store, embeddings, value scores, upsert
/// into a fresh embedded store, per decode concurrency.
async fn pipeline_section(b: &IngestBench) -> Result<()> {
    let embedders = build_embedders(&b.embedder).await?;
    let sources = [b.corpus.clone()];
    println!(
        "\n## Whole pipeline (scrollsim ingest on {})\n",
        b.corpus.display()
    );
    println!(
        "Fresh embedded store each run; keyframes {}; text embedder {} ({}), image embedder {}; batch {}.",
        b.ingest.keyframes.strategy,
        embedders.text.info().kind,
        embedders.text.info().model,
        embedders.image.as_ref().map_or("none".to_string(), |e| e.info().kind),
        b.ingest.batch_size
    );
    println!(
        "{:>11} {:>7} {:>7} {:>9} {:>10} {:>10}",
        "concurrency", "videos", "frames", "seconds", "videos/s", "failed"
    );
    for &c in &b.pipeline_concurrency {
        let scratch = b
            .scratch
            .join(format!("bench-pipeline-{}-{c}", std::process::id()));
        let config = IngestConfig {
            concurrency: c.max(1),
            ..b.ingest.clone()
        };
        let s = pipeline_run(&sources, &scratch, config, &embedders, &b.catalog).await;
        let _ = std::fs::remove_dir_all(&scratch);
        let s = s?;
        println!(
            "{:>11} {:>7} {:>7} {:>9.2} {:>10.2} {:>10}",
            c,
            s.ingested.len(),
            s.frames,
            s.elapsed_s,
            s.ingested.len() as f64 / s.elapsed_s,
            s.failed.len()
        );
    }
    println!("videos/s counts every stage, from walking the folder to the index being ready.");
    Ok(())
}

/// One full ingest of `sources` into a fresh embedded store under `scratch` (removed first).
async fn pipeline_run(
    sources: &[PathBuf],
    scratch: &Path,
    config: IngestConfig,
    embedders: &Embedders,
    catalog: &ValueCatalog,
) -> std::result::Result<IngestSummary, IngestError> {
    let _ = std::fs::remove_dir_all(scratch);
    let store = open_store(&StoreConfig::default(), scratch).await?;
    let images = ImageStore::open(&scratch.join("images")).map_err(|e| IngestError::Source {
        path: scratch.join("images"),
        detail: e.to_string(),
    })?;
    let opts = IngestOptions {
        config,
        value_scoring: Default::default(),
        collection: "bench".into(),
        journal: IngestOptions::journal_path(scratch, "bench"),
        limit: None,
    };
    scrollsim_ingest::ingest(
        sources,
        None,
        &opts,
        store.as_ref(),
        embedders,
        &images,
        catalog,
        &IngestProgress::hidden(),
    )
    .await
}
