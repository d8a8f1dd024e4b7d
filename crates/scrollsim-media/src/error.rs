//! Errors: every variant names the file it is about and says, in words, what is wrong with it,
//! so an ingest summary can list "path: reason" and move on.

use std::path::{Path, PathBuf};

/// Why a media file (or an image-store file) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be read (missing, permissions, a directory...).
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but holds no bytes.
    #[error("{path}: zero-length file")]
    Empty { path: PathBuf },
    /// FFmpeg does not recognise the bytes as any container or image format.
    #[error("{path}: not a video or image file FFmpeg recognises ({reason})")]
    Unrecognized { path: PathBuf, reason: String },
    /// The container is recognised but the file cannot be used (no decoder for its codec, a
    /// non-UTF-8 path...).
    #[error("{path}: unsupported: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// The file opens but carries no video or image stream (audio only, cover art only...).
    #[error("{path}: no video stream ({reason})")]
    NoVideoStream { path: PathBuf, reason: String },
    /// The data ends before the container says it should.
    #[error("{path}: truncated: {reason}")]
    Truncated { path: PathBuf, reason: String },
    /// The bytes are damaged: the demuxer or decoder reported errors, or a frame we would keep
    /// had to be concealed.
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The decoder failed for another reason.
    #[error("{path}: decode error: {reason}")]
    Decode { path: PathBuf, reason: String },
    /// Scaling or JPEG encoding failed.
    #[error("{path}: cannot encode keyframes: {reason}")]
    Encode { path: PathBuf, reason: String },
    /// The per-file work bound (`ExtractOptions::timeout_s`) ran out.
    #[error("{path}: gave up after {seconds:.1} s (the per-file time limit)")]
    Timeout { path: PathBuf, seconds: f32 },
    /// Extraction options that cannot work (zero frames, zero size...).
    #[error("{path}: invalid keyframe options: {reason}")]
    InvalidOptions { path: PathBuf, reason: String },
    /// A file in the image store does not hold the bytes its name promises (a torn write or
    /// tampering), or bytes offered to the store are not a JPEG.
    #[error("{path}: image store: {reason}")]
    Store { path: PathBuf, reason: String },
    /// A bug in scrollsim or FFmpeg's bindings that would otherwise have crashed the run.
    #[error("{path}: internal error while processing: {reason}")]
    Internal { path: PathBuf, reason: String },
}

impl MediaError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            MediaError::Io { path, .. }
            | MediaError::Empty { path }
            | MediaError::Unrecognized { path, .. }
            | MediaError::Unsupported { path, .. }
            | MediaError::NoVideoStream { path, .. }
            | MediaError::Truncated { path, .. }
            | MediaError::Corrupt { path, .. }
            | MediaError::Decode { path, .. }
            | MediaError::Encode { path, .. }
            | MediaError::Timeout { path, .. }
            | MediaError::InvalidOptions { path, .. }
            | MediaError::Store { path, .. }
            | MediaError::Internal { path, .. } => path,
        }
    }

    /// A short stable category for summaries ("3 truncated, 1 unrecognized").
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::Io { .. } => "unreadable",
            MediaError::Empty { .. } => "empty",
            MediaError::Unrecognized { .. } => "unrecognized",
            MediaError::Unsupported { .. } => "unsupported",
            MediaError::NoVideoStream { .. } => "no-video-stream",
            MediaError::Truncated { .. } => "truncated",
            MediaError::Corrupt { .. } => "corrupt",
            MediaError::Decode { .. } => "decode-error",
            MediaError::Encode { .. } => "encode-error",
            MediaError::Timeout { .. } => "timeout",
            MediaError::InvalidOptions { .. } => "invalid-options",
            MediaError::Store { .. } => "store",
            MediaError::Internal { .. } => "internal",
        }
    }
}
