//! The progress bar: files done of files to do, keyframes extracted, files per second. Drawn on
//! stderr, and only when stderr is a terminal.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one ingest run.
#[derive(Debug)]
pub struct IngestProgress {
    bar: ProgressBar,
    frames: AtomicU64,
}

impl IngestProgress {
    /// On stderr; indicatif draws nothing when stderr is not a terminal.
    pub fn stderr() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// Never drawn (tests, embedding in other commands' output).
    pub fn hidden() -> Self {
        Self::with_target(ProgressDrawTarget::hidden())
    }

    fn with_target(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} ingest [{bar:30}] {pos}/{len} files, {msg}, {per_sec} ({elapsed}, eta {eta})",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        IngestProgress {
            bar,
            frames: AtomicU64::new(0),
        }
    }

    pub(crate) fn start(&self, files: usize) {
        self.bar.set_length(files as u64);
    }

    pub(crate) fn advance(&self, files: usize, frames: usize) {
        let total = self.frames.fetch_add(frames as u64, Ordering::Relaxed) + frames as u64;
        self.bar.set_message(format!("{total} frames"));
        self.bar.inc(files as u64);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
