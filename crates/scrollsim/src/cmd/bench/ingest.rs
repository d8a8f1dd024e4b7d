//! `scrollsim bench ingest`: figures for the ingest path, one section each. Keyframe
//! extraction (scrollsim-media) comes first; text embeddings per second and the whole
//! pipeline's videos per second follow as their own sections.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scrollsim_media::bench::{bench_keyframes, compare_jpeg_encoders, media_files, StrategyRow};
use scrollsim_media::{ExtractOptions, KeyframeStrategy};

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder of videos and screenshots to time (default: the fixture corpus, <fixtures>/media).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keyframe strategies to time, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "uniform:4,scene:0.3,iframes"
    )]
    strategies: Vec<KeyframeStrategy>,
    /// Time at most this many files.
    #[arg(long)]
    limit: Option<usize>,
    /// The ffmpeg command line to compare against.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: PathBuf,
    /// Pictures each JPEG encoder encodes in the encoder comparison.
    #[arg(long, default_value_t = 200)]
    jpeg_reps: usize,
    /// Text embeddings: batch sizes to time (all-MiniLM-L6-v2).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    embed_batch_sizes: Vec<usize>,
    /// Text embeddings: how many texts to embed per batch size (the fixture texts, repeated).
    #[arg(long, default_value_t = 512)]
    embed_texts: usize,
    /// Whole pipeline: decode concurrencies to time (files decoded at once).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pipeline_concurrency: Vec<usize>,
    /// Skip the keyframe section (only embeddings and the pipeline).
    #[arg(long)]
    skip_keyframes: bool,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let opts = settings.ingest.keyframes.clone();
    println!(
        "scrollsim bench ingest ({} cores)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if !args.skip_keyframes {
        keyframe_section(&args, settings, &opts).await?;
    }
    embedding_section(&args, settings).await?;
    pipeline_section(&args, settings).await?;
    Ok(ExitCode::SUCCESS)
}

/// Keyframe extraction per video, in-process against the ffmpeg command line, per strategy;
/// then the JPEG encoder comparison behind the choice of FFmpeg's MJPEG encoder.
async fn keyframe_section(
    args: &Args,
    settings: &Settings,
    opts: &ExtractOptions,
) -> anyhow::Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| settings.paths.fixtures.join("media"));
    let mut files = media_files(&dir).with_context(|| format!("listing {}", dir.display()))?;
    if let Some(n) = args.limit {
        files.truncate(n);
    }
    anyhow::ensure!(
        !files.is_empty(),
        "no videos or screenshots in {}",
        dir.display()
    );
    println!("## Keyframe extraction (scrollsim-media)\n");
    println!(
        "{} files in {}; model {} + view {}, JPEG quality {}, {} decoder thread(s), max {} frames.",
        files.len(),
        dir.display(),
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
        args.ffmpeg.display()
    );
    let scratch =
        std::env::temp_dir().join(format!("scrollsim-bench-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let bar = ProgressBar::new((files.len() * args.strategies.len()) as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} files x strategies  {per_sec}  eta {eta}",
    )?);
    let (strategies, ffmpeg, base) = (args.strategies.clone(), args.ffmpeg.clone(), opts.clone());
    let (pb, scratch2) = (bar.clone(), scratch.clone());
    let rows = tokio::task::spawn_blocking(move || {
        bench_keyframes(&files, &strategies, &base, &ffmpeg, &scratch2, |done, _| {
            pb.set_position(done as u64)
        })
    })
    .await?;
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch);
    print_rows(&rows);

    let sample = args
        .dir
        .clone()
        .unwrap_or_else(|| settings.paths.fixtures.join("media"));
    if let Some(first) = media_files(&sample)?
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
    {
        println!(
            "\nJPEG encoder, one picture encoded {} times (RGB input; MJPEG includes RGB->YUV):",
            args.jpeg_reps
        );
        println!(
            "{:<10} {:>22} {:>22}",
            "size", "FFmpeg MJPEG ms (bytes)", "image crate ms (bytes)"
        );
        for size in [opts.model_size, opts.view_size] {
            let (q, reps, f) = (opts.jpeg_quality, args.jpeg_reps, first.clone());
            let c = tokio::task::spawn_blocking(move || compare_jpeg_encoders(&f, size, q, reps))
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
    for r in rows {
        let fmt = |s: &scrollsim_media::bench::Stats| {
            format!("{:.1} ({:.1}, {:.1})", s.mean_ms, s.median_ms, s.p95_ms)
        };
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

/// The texts ingest would embed for the fixture corpus (caption, hashtags, description).
fn fixture_texts(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let meta = settings.paths.fixtures.join("metadata.jsonl");
    let rows = scrollsim_ingest::metadata::load(&meta)?;
    anyhow::ensure!(!rows.is_empty(), "no metadata rows in {}", meta.display());
    Ok(rows
        .iter()
        .map(|r| scrollsim_ingest::bench::embedding_text(&r.record))
        .collect())
}

/// Text embeddings per second with all-MiniLM-L6-v2 at several batch sizes.
async fn embedding_section(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    use scrollsim_embed::{MiniLmEmbedder, MiniLmOptions, TextEmbedderConfig};
    let opts = match &settings.embedder.text {
        TextEmbedderConfig::Minilm(o) => o.clone(),
        _ => MiniLmOptions::default(),
    };
    let base = fixture_texts(settings)?;
    let texts: Vec<String> = base
        .iter()
        .cycle()
        .take(args.embed_texts.max(1))
        .cloned()
        .collect();
    let mean_chars = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len() as f64;
    let sizes = args.embed_batch_sizes.clone();
    let model_path = opts.path.clone();
    let rates = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let model = MiniLmEmbedder::load(&opts)?;
        Ok(scrollsim_ingest::bench::text_embedding_rates(
            &model, &texts, &sizes,
        )?)
    })
    .await??;
    println!(
        "\n## Text embeddings (all-MiniLM-L6-v2 with candle, {})\n",
        model_path.display()
    );
    println!(
        "{} texts (the fixture captions + hashtags + descriptions, repeated; mean {:.0} characters),\n\
         one forward pass per batch, texts batched by length, on the calling thread.",
        args.embed_texts, mean_chars
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
    Ok(())
}

/// The whole pipeline on the fixture corpus: keyframes, image store, embeddings, value scores,
/// upsert into a fresh embedded store, per decode concurrency.
async fn pipeline_section(args: &Args, settings: &Settings) -> anyhow::Result<()> {
    let catalog =
        scrollsim_core::config::ValueCatalog::load(&settings.paths.config.join("values.toml"))?;
    let embedders = scrollsim_embed::build_embedders(&settings.embedder).await?;
    let sources = [settings.paths.fixtures.clone()];
    println!(
        "\n## Whole pipeline (scrollsim ingest on {})\n",
        settings.paths.fixtures.display()
    );
    println!(
        "Fresh embedded store each run; keyframes {}; text embedder {} ({}), image embedder {}; batch {}.",
        settings.ingest.keyframes.strategy,
        embedders.text.info().kind,
        embedders.text.info().model,
        embedders.image.as_ref().map_or("none".to_string(), |e| e.info().kind),
        settings.ingest.batch_size
    );
    println!(
        "{:>11} {:>7} {:>7} {:>9} {:>10} {:>10}",
        "concurrency", "videos", "frames", "seconds", "videos/s", "failed"
    );
    for &c in &args.pipeline_concurrency {
        let scratch = std::env::temp_dir().join(format!(
            "scrollsim-bench-pipeline-{}-{c}",
            std::process::id()
        ));
        let config = scrollsim_ingest::IngestConfig {
            concurrency: c.max(1),
            ..settings.ingest.clone()
        };
        let s =
            scrollsim_ingest::bench::pipeline_run(&sources, &scratch, config, &embedders, &catalog)
                .await?;
        let _ = std::fs::remove_dir_all(&scratch);
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
