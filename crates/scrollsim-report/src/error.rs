//! What can go wrong turning traces into reports; every error names the file (and line).

use std::path::PathBuf;

use scrollsim_core::trace::SessionError;

/// A report could not read its input or write its output.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A trace is malformed: `source` names the line.
    #[error("{}: {source}", path.display())]
    Trace { path: PathBuf, source: SessionError },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: no traces found (expected a .jsonl trace, a run directory with sessions/, or a \
         directory of runs)",
        path.display()
    )]
    NoTraces { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error("chart {name}: {source}")]
    Chart {
        name: String,
        source: crate::chart::ChartError,
    },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }
}
