//! The `[ingest]` config section and the options of one run.

use std::path::PathBuf;

use scrollsim_core::ValueLabeling;
use scrollsim_embed::ValueScoring;
use scrollsim_media::ExtractOptions;
use serde::{Deserialize, Serialize};

/// `[ingest]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Videos per embedding pass and per upsert (and per journal sync).
    pub batch_size: usize,
    /// Files decoded at once, each on a blocking thread (the machine has 2 cores).
    pub concurrency: usize,
    /// `[ingest.keyframes]`: strategy, sizes, JPEG quality (scrollsim-media's options).
    pub keyframes: ExtractOptions,
    /// `[ingest.labeling]`: how value scores become value labels [R].
    pub labeling: ValueLabeling,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            batch_size: 32,
            concurrency: 2,
            keyframes: ExtractOptions::default(),
            labeling: ValueLabeling::default(),
        }
    }
}

impl IngestConfig {
    /// Checks what serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), crate::IngestError> {
        let bad = |key: &str, detail: String| crate::IngestError::Config {
            key: key.into(),
            detail,
        };
        if self.batch_size == 0 {
            return Err(bad("ingest.batch_size", "must be at least 1".into()));
        }
        if self.concurrency == 0 {
            return Err(bad("ingest.concurrency", "must be at least 1".into()));
        }
        if self.labeling.max_labels == 0 || !(0.0..=1.0).contains(&self.labeling.relative) {
            return Err(bad(
                "ingest.labeling",
                "max_labels must be at least 1 and relative within 0..=1".into(),
            ));
        }
        self.keyframes.validate().map_err(|e| {
            let e = e.within("ingest.keyframes");
            bad(&e.key, e.expected)
        })
    }
}

/// One ingest run.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    pub config: IngestConfig,
    /// How value scores are computed (`[embedder.value_scores]`).
    pub value_scoring: ValueScoring,
    /// The store collection to write.
    pub collection: String,
    /// The resume journal (`<data>/ingest/<collection>.journal.jsonl` from the CLI).
    pub journal: PathBuf,
    /// Ingest at most this many new or changed files, leaving the rest for the next run.
    pub limit: Option<usize>,
}

impl IngestOptions {
    /// The journal path the CLI and the demo use for a collection.
    pub fn journal_path(data_dir: &std::path::Path, collection: &str) -> PathBuf {
        data_dir
            .join("ingest")
            .join(format!("{collection}.journal.jsonl"))
    }
}
