//! `scrollsim ingest`: flags over `[ingest]`, then the application context's ingest (store,
//! embedders, image store) with a progress bar and Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use scrollsim_ingest::IngestProgress;
use scrollsim_media::KeyframeStrategy;

use crate::app::App;

/// Ingest videos and screenshots: keyframes, embeddings, value scores, upsert.
///
/// Re-running skips what is already stored and resumes an interrupted run (the journal lives
/// under the data directory). A damaged or unsupported file is reported and skipped.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directories to walk, media files (mp4 webm mov mkv mpg; png jpg webp), or list files
    /// with one path per line.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// Metadata file (JSONL or CSV). Default: metadata.jsonl or metadata.csv at the top of a
    /// source directory. Per-file `<name>.json` sidecars apply either way.
    #[arg(long)]
    pub meta: Option<PathBuf>,
    /// Exit non-zero when any file failed (default: only when nothing could be ingested).
    #[arg(long)]
    pub strict: bool,
    /// Keyframe strategy: uniform:N, scene:T or iframes (overrides [ingest.keyframes]).
    #[arg(long)]
    pub keyframes: Option<KeyframeStrategy>,
    /// Ingest at most N new or changed files now; the next run continues with the rest.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Files decoded at once (overrides [ingest].concurrency).
    #[arg(long)]
    pub concurrency: Option<usize>,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let mut cfg = app.settings.ingest.clone();
    if let Some(k) = args.keyframes {
        cfg.keyframes.strategy = k;
    }
    if let Some(c) = args.concurrency {
        cfg.concurrency = c;
    }
    let progress = IngestProgress::stderr();
    let work = app.ingest(
        &args.sources,
        args.meta.as_deref(),
        cfg,
        args.limit,
        &progress,
    );
    let summary = tokio::select! {
        r = work => r?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: every finished batch is stored and journaled; run the same command again to resume");
            return Ok(ExitCode::from(130));
        }
    };
    println!("{summary}");
    if summary.nothing_available() {
        eprintln!("error: nothing was ingested");
        return Ok(ExitCode::FAILURE);
    }
    if args.strict && !summary.failed.is_empty() {
        eprintln!("error: {} file(s) failed (--strict)", summary.failed.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
