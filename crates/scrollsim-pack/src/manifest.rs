//! The manifest: what an archive holds, each member with its SHA-256 and size.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;

/// One member of an archive (a file, relative to the archive's top folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

impl Member {
    pub fn of(path: impl Into<String>, bytes: &[u8]) -> Member {
        Member {
            path: path.into(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        }
    }
}

/// A part of a run an archive may leave out on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Omitted {
    /// The keyframes' larger viewing copies (`pack --no-view-copies`): judges never saw them,
    /// so a rerun needs none, but the viewer and the HTML report fall back to the model-size
    /// keyframes.
    ViewCopies,
}

impl std::fmt::Display for Omitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Omitted::ViewCopies => "the keyframes' viewing copies",
        })
    }
}

/// How much of each kind an archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub sessions: u64,
    pub steps: u64,
    /// Distinct videos shown.
    pub videos: u64,
    /// Distinct keyframe images: those judges were shown and their viewing copies (unless
    /// omitted).
    pub keyframes: u64,
    /// Prompt template files (one per strategy a VLM judged with).
    #[serde(default)]
    pub prompts: u64,
    /// Recorded model calls.
    pub calls: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The scrollsim that packed the run (each trace header names the one that ran it).
    pub scrollsim_version: String,
    pub run_id: String,
    /// The experiment's name (resolved.json).
    pub experiment: String,
    /// SHA-256 of the resolved experiment as packed (shards of one run share it).
    pub experiment_sha256: String,
    /// The corpus every session ran on (trace headers), `<collection>:<points>:<digest>`.
    pub corpus: String,
    /// What this archive leaves out on purpose (empty: nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<Omitted>,
    /// Packs merged into this one, by their run directory's shard content (empty: one pack).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    pub counts: Counts,
    /// Every member but the manifest, sorted by path.
    pub members: Vec<Member>,
}

/// A written archive.
#[derive(Debug)]
pub struct Packed {
    pub path: std::path::PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
}

impl Manifest {
    /// The manifest of a run packed by this scrollsim: nothing omitted or merged, and no
    /// member yet (`ArchiveWriter::finish` lists them).
    pub(crate) fn new(
        run_id: String,
        experiment: String,
        experiment_sha256: String,
        corpus: String,
        counts: Counts,
    ) -> Manifest {
        Manifest {
            format: FORMAT,
            scrollsim_version: scrollsim_core::VERSION.to_string(),
            run_id,
            experiment,
            experiment_sha256,
            corpus,
            omitted: Vec::new(),
            merged_from: Vec::new(),
            counts,
            members: Vec::new(),
        }
    }

    /// The run directory inside the archive (`runs/<run id>`).
    pub fn run_dir(&self) -> String {
        format!("{}/{}", crate::layout::RUNS, self.run_id)
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
