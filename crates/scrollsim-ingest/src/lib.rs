//! Ingest: walk videos and screenshots, read metadata, extract keyframes (scrollsim-media),
//! store them by hash, embed text and images, score the ten values, upsert into the
//! [`VideoStore`] in batches, and journal what is done so a re-run skips it and an interrupted
//! run resumes. See docs/ingest.md.
//!
//! Must not: run sessions or judge, or write to Qdrant except through [`VideoStore`].
//!
//! Failure policy: a problem with one file (damaged, truncated, empty, unsupported, bad
//! sidecar) fails that file, which is reported and skipped; a problem with the machinery
//! (embedder, store, journal) stops the run with an error, and the next run resumes after the
//! last batch that was stored.

mod config;
pub mod journal;
pub mod metadata;
mod pipeline;
mod progress;
pub mod sources;
mod summary;
pub mod synth;

use std::path::PathBuf;

pub use config::{IngestConfig, IngestOptions};
pub use pipeline::ingest;
pub use progress::IngestProgress;
pub use summary::{Failure, IngestSummary, Ingested};

/// Why an ingest run stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {detail}")]
    Source { path: PathBuf, detail: String },
    #[error("metadata:\n{0}")]
    Metadata(#[from] metadata::MetaError),
    #[error("config `{key}`: {detail}")]
    Config { key: String, detail: String },
    #[error("embedding: {0}")]
    Embed(#[from] scrollsim_embed::EmbedError),
    #[error("store: {0}")]
    Store(#[from] scrollsim_store::StoreError),
    #[error("ingest journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("internal: {0}")]
    Internal(String),
}
