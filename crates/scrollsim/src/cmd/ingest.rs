//! `scrollsim ingest`: wiring only (config, store, embedders, image store) around
//! `scrollsim_ingest::ingest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_core::config::ValueCatalog;
use scrollsim_ingest::{IngestOptions, IngestProgress, IngestSummary};
use scrollsim_media::{ImageStore, KeyframeStrategy};

use crate::settings::Settings;

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

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut cfg = settings.ingest.clone();
    if let Some(k) = args.keyframes {
        cfg.keyframes.strategy = k;
    }
    if let Some(c) = args.concurrency {
        cfg.concurrency = c;
    }
    let progress = IngestProgress::stderr();
    let work = ingest_sources(
        &args.sources,
        args.meta.as_deref(),
        cfg,
        args.limit,
        settings,
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

/// Opens what ingest needs from the config and ingests `sources` (also used by `demo`).
pub async fn ingest_sources(
    sources: &[PathBuf],
    meta: Option<&Path>,
    config: scrollsim_ingest::IngestConfig,
    limit: Option<usize>,
    settings: &Settings,
    progress: &IngestProgress,
) -> anyhow::Result<IngestSummary> {
    config.validate()?;
    let data = &settings.paths.data;
    let store_cfg = &settings.store;
    let catalog_path = settings.paths.config.join("values.toml");
    let catalog = ValueCatalog::load(&catalog_path)?;
    let embedders = scrollsim_embed::build_embedders(&settings.embedder)
        .await
        .context("loading the embedders ([embedder] in the config)")?;
    let images = ImageStore::open(&data.join("images"))?;
    let store = scrollsim_store::open_store(store_cfg, data)
        .await
        .with_context(|| format!("opening the {} store", store_cfg.backend.as_str()))?;
    let opts = IngestOptions {
        config,
        value_scoring: settings.embedder.value_scores,
        journal: IngestOptions::journal_path(data, &store_cfg.collection),
        collection: store_cfg.collection.clone(),
        limit,
    };
    Ok(scrollsim_ingest::ingest(
        sources,
        meta,
        &opts,
        store.as_ref(),
        &embedders,
        &images,
        &catalog,
        progress,
    )
    .await?)
}
