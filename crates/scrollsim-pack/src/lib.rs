//! A run as one portable artifact. [`pack`] writes a run directory and what replaying it needs
//! into one `tar` archive compressed with zstd: the run's files (traces, experiment, resolved
//! experiment, summary), the payload and vectors of every video the run showed (not the corpus),
//! the recorded model calls whose cache keys the traces name (and only those), and the keyframes
//! the judge saw (with their larger viewing copies unless left out), each named by its SHA-256,
//! and the prompt templates the model judges used. A [`Manifest`] lists every member with its
//! SHA-256 and size; [`verify`] checks an archive or its unpacked folder against it. Members
//! are streamed into and out of the archive: neither packing nor reading holds it in memory.
//!
//! [`restore_data_dir`] turns an unpacked archive into a data directory (an embedded store
//! holding the shown videos, a call cache holding the recorded calls, the keyframes), so
//! `replay --rerun` re-executes the sessions with no corpus, no store, no keys and no network:
//! the feed comes from the recorded slates ([`scrollsim_core::Step::slate`]) and the shown
//! videos' payloads and vectors, the answers from the recorded calls.
//!
//! [`merge`] joins the packs of a sharded run (one per machine) into one archive of the whole
//! run, refusing packs of different experiments or corpora.
//!
//! Nothing of the packing machine enters an archive: [`Guard`] refuses to pack when a member
//! contains a secret's value or one of the machine's absolute paths, and tar headers carry no
//! owner, time or mode of the files.
//!
//! Must not: run a session, call a model or reach the network; it reads what a run wrote and
//! the data directory beside it.

mod archive;
mod embeddings;
mod error;
mod guard;
mod manifest;
mod merge;
mod read;
mod restore;
mod write;

pub use embeddings::PackedEmbedder;
pub use error::PackError;
pub use guard::Guard;
pub use manifest::{Counts, Manifest, Member, Omitted, Packed, FORMAT};
pub use merge::merge;
pub use read::{is_packed, open, unpack, verify, Opened};
pub use restore::{restore_data_dir, Restored};
pub use write::{pack, PackOptions, PackSources};

/// Members of an archive, relative to its top folder.
pub mod layout {
    /// The manifest (written last; not listed in itself).
    pub const MANIFEST: &str = "manifest.json";
    /// The run directory: `runs/<run id>/` with its files as `scrollsim run` wrote them.
    pub const RUNS: &str = "runs";
    /// One JSON line per shown video: the payload and its vectors (little-endian f32, base64).
    pub const VIDEOS: &str = "videos.jsonl";
    /// One JSON line per recorded call: `{"key", "recording"}`, sorted by key.
    pub const CALLS: &str = "calls.jsonl";
    /// `keyframes/<first two hex digits>/<sha256>.jpg`: the model-size keyframes judges were
    /// shown and their larger viewing copies (what the viewer and the HTML report show), laid
    /// out as an image store (`--images <folder>/keyframes` reads them).
    pub const KEYFRAMES: &str = "keyframes";
    /// `prompts/<strategy>.toml`: the prompt templates the run's model judges used (a rerun
    /// renders its prompts from these, not from the replaying machine's).
    pub const PROMPTS: &str = "prompts";
    /// The text embedder the run used (its name and dimension) and the vectors it made of the
    /// offline persona model's trait lists: a rerun needs no embedder weights.
    pub const EMBEDDINGS: &str = "embeddings.json";
    /// The archive's file name extension.
    pub const EXTENSION: &str = "tar.zst";
}
