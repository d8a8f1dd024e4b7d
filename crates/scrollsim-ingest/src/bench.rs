//! Figures for `scrollsim bench ingest`: text embeddings per second by batch size, and the whole
//! pipeline's videos per second. Measured, printed by the CLI, never asserted in tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use scrollsim_core::config::ValueCatalog;
use scrollsim_core::{PerValue, Video};
use scrollsim_embed::{EmbedError, Embedders, MiniLmEmbedder};
use scrollsim_media::ImageStore;
use scrollsim_store::{open_store, StoreConfig};

use crate::metadata::MetaRecord;
use crate::{IngestConfig, IngestError, IngestOptions, IngestProgress, IngestSummary};

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

/// The text ingest embeds for a metadata record (`Video::embedding_text`).
pub fn embedding_text(m: &MetaRecord) -> String {
    Video {
        id: m.id.clone().unwrap_or_else(|| "x".into()),
        platform: Default::default(),
        kind: Default::default(),
        url: None,
        posted: None,
        caption: m.caption.clone().unwrap_or_default(),
        hashtags: m.hashtags.clone(),
        topic: None,
        description: m.description.clone(),
        duration_s: None,
        views: None,
        keyframes: Vec::new(),
        value_scores: PerValue::default(),
        values: Vec::new(),
        label: None,
        source: None,
    }
    .embedding_text()
}

/// Embeds `texts` once per batch size (after one warm-up pass) on the calling thread.
pub fn text_embedding_rates(
    model: &MiniLmEmbedder,
    texts: &[String],
    batch_sizes: &[usize],
) -> Result<Vec<EmbedRate>, EmbedError> {
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

/// One full ingest of `sources` into a fresh embedded store under `scratch` (removed first).
pub async fn pipeline_run(
    sources: &[PathBuf],
    scratch: &Path,
    config: IngestConfig,
    embedders: &Embedders,
    catalog: &ValueCatalog,
) -> Result<IngestSummary, IngestError> {
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
    crate::ingest(
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
