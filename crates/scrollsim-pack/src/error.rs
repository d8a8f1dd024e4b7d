use std::path::PathBuf;

/// Why a run could not be packed, verified or restored.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The run directory is not one `scrollsim run` wrote, or a trace in it does not read.
    #[error("{path}: {detail}")]
    Run { path: PathBuf, detail: String },
    /// Something the run used is missing from the packing machine's data directory.
    #[error("{0}")]
    Missing(String),
    /// A member would carry something of the packing machine (a secret, an absolute path).
    #[error("refusing to pack: {member} contains {what}; nothing was written")]
    Leak { member: String, what: String },
    /// The archive does not match its manifest, or is not an archive at all.
    #[error("{path}: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// Packs that cannot be merged into one run.
    #[error("{0}")]
    Mismatch(String),
    #[error("store: {0}")]
    Store(#[from] scrollsim_store::StoreError),
    #[error("call cache: {0}")]
    Calls(String),
    #[error("keyframes: {0}")]
    Images(#[from] scrollsim_media::MediaError),
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackError {
    let path = path.into();
    move |source| PackError::Io { path, source }
}
