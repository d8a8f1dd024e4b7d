//! The benchmark harnesses behind `scrollsim bench`: each builds its workload (synthetic
//! corpora, keyframes, traces, a delayed model endpoint), measures one part of scrollsim
//! through its public API and prints figures with the conditions they were taken under.
//!
//! What this crate must not do: assert a speed (figures are read, never tested), or be a
//! dependency of any library crate (only the `scrollsim` binary calls it). CPU time and memory
//! are measured in one place ([`sys`]), timing summaries in one other ([`timings`]).

pub mod ingest;
pub mod inspect;
pub mod judge;
pub mod reference;
pub mod sim;
pub mod store;
pub mod sys;
pub mod timings;

use std::path::PathBuf;

/// Why a benchmark could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The benchmark's own set-up: bad options, a workload that cannot be made, an endpoint
    /// that does not start, sessions that failed.
    #[error("{0}")]
    Setup(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] scrollsim_core::config::ConfigError),
    #[error(transparent)]
    Store(#[from] scrollsim_store::StoreError),
    #[error(transparent)]
    Media(#[from] scrollsim_media::MediaError),
    #[error(transparent)]
    Embed(#[from] scrollsim_embed::EmbedError),
    #[error(transparent)]
    Ingest(#[from] scrollsim_ingest::IngestError),
    #[error(transparent)]
    Judge(#[from] scrollsim_vlm::JudgeError),
    #[error(transparent)]
    Run(#[from] scrollsim_sim::RunError),
    #[error(transparent)]
    Report(#[from] scrollsim_report::ReportError),
    #[error(transparent)]
    Trace(#[from] scrollsim_core::trace::TraceError),
    #[error("a benchmark task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
