//! What a run did, printed at the end: ingested, skipped (unchanged, ignored, left for later),
//! failed with reasons.

use std::fmt;
use std::path::PathBuf;

use scrollsim_core::VideoId;

use crate::sources::Passed;

/// A file that was ingested.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    pub id: VideoId,
    pub path: PathBuf,
    pub frames: usize,
}

/// A file that could not be ingested.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub path: PathBuf,
    /// A short category: `corrupt`, `truncated`, `empty`, `unrecognized`, `metadata`, ...
    pub kind: String,
    /// The full reason (it names the file).
    pub reason: String,
}

/// The outcome of one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    pub ingested: Vec<Ingested>,
    /// Files already in the store with the same bytes and settings (per the journal).
    pub unchanged: usize,
    /// Files in walked directories that are not media.
    pub ignored: Vec<Passed>,
    pub failed: Vec<Failure>,
    /// New or changed files left for a later run by `limit`.
    pub deferred: usize,
    /// Metadata rows that matched no file (`file:line: name`).
    pub unmatched_metadata: Vec<String>,
    /// The metadata files that were read.
    pub metadata_files: Vec<PathBuf>,
    /// Keyframes extracted this run.
    pub frames: usize,
    pub elapsed_s: f64,
    /// Points in the collection after the run.
    pub store_count: u64,
}

impl IngestSummary {
    /// True when none of the sources is in the store: nothing ingested now or before.
    pub fn nothing_available(&self) -> bool {
        self.ingested.is_empty() && self.unchanged == 0
    }
}

impl fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = if self.elapsed_s > 0.0 {
            self.ingested.len() as f64 / self.elapsed_s
        } else {
            0.0
        };
        writeln!(
            f,
            "ingested {} file(s) ({} keyframes) in {:.1} s ({rate:.2} files/s); skipped {} unchanged, {} ignored{}; failed {}",
            self.ingested.len(),
            self.frames,
            self.elapsed_s,
            self.unchanged,
            self.ignored.len(),
            if self.deferred > 0 { format!(", {} left for the next run (--limit)", self.deferred) } else { String::new() },
            self.failed.len(),
        )?;
        for m in &self.metadata_files {
            writeln!(f, "  metadata: {}", m.display())?;
        }
        for x in &self.failed {
            writeln!(f, "  failed [{}] {}", x.kind, x.reason)?;
        }
        for x in self.ignored.iter().take(10) {
            writeln!(f, "  ignored {}: {}", x.path.display(), x.reason)?;
        }
        if self.ignored.len() > 10 {
            writeln!(f, "  ... and {} more ignored", self.ignored.len() - 10)?;
        }
        for m in self.unmatched_metadata.iter().take(10) {
            writeln!(f, "  metadata row matches no file: {m}")?;
        }
        if self.unmatched_metadata.len() > 10 {
            writeln!(
                f,
                "  ... and {} more unmatched metadata rows",
                self.unmatched_metadata.len() - 10
            )?;
        }
        write!(f, "store now holds {} video(s)", self.store_count)
    }
}
