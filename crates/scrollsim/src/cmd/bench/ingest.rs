use std::path::PathBuf;

use scrollsim_bench::ingest::IngestBench;
use scrollsim_media::KeyframeStrategy;

use crate::app::App;

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
    /// Text embeddings: the Python whose torch and sentence-transformers time the same texts
    /// as the reference (skipped, with a note, when they are not installed there).
    #[arg(long, env = "SCROLLSIM_REFERENCE_PYTHON", default_value = "python3")]
    reference_python: PathBuf,
    /// Text embeddings: batch size of the side-by-side comparison with the PyTorch reference.
    #[arg(long, default_value_t = 32)]
    reference_batch_size: usize,
    /// Whole pipeline: decode concurrencies to time (files decoded at once).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pipeline_concurrency: Vec<usize>,
    /// Skip the keyframe section (only embeddings and the pipeline).
    #[arg(long)]
    skip_keyframes: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<()> {
    let s = &app.settings;
    let bench = IngestBench {
        media_dir: args.dir.unwrap_or_else(|| s.paths.fixtures.join("media")),
        strategies: args.strategies,
        limit: args.limit,
        ffmpeg: args.ffmpeg,
        jpeg_reps: args.jpeg_reps,
        skip_keyframes: args.skip_keyframes,
        embed_batch_sizes: args.embed_batch_sizes,
        embed_texts: args.embed_texts,
        reference_python: args.reference_python,
        reference_batch_size: args.reference_batch_size,
        pipeline_concurrency: args.pipeline_concurrency,
        corpus: s.paths.fixtures.clone(),
        scratch: std::env::temp_dir(),
        ingest: s.ingest.clone(),
        embedder: s.embedder.clone(),
        catalog: app.catalog()?,
    };
    Ok(scrollsim_bench::ingest::run(&bench).await?)
}
