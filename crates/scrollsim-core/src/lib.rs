//! Domain core of scrollsim: Schwartz values, personas, video records, decisions, the trace
//! format and metrics as pure folds over trace events; every other crate speaks these types.
//!
//! Must not: depend on another scrollsim crate, reach the network, a store, FFmpeg or a model,
//! or read the clock inside a metric. Its only IO is reading config files and trace lines.

pub mod backoff;
pub mod config;
pub mod decision;
pub mod ids;
pub mod judge;
pub mod metrics;
pub mod mix;
pub mod persona;
pub mod policy;
pub mod trace;
pub mod value;
pub mod video;

pub use decision::{
    CallUsage, Decision, IsqItems, IsqOutOfRange, IsqResult, IsqScoring, ParseStatus, RawAnswer,
};
pub use ids::{CorpusId, ImageHash, PersonaId, RunId, SessionId, VideoId};
pub use judge::{
    AnswerParser, AnswerRead, Capability, JudgeStrategy, StructuredMode, StructuredOutcome,
    StructuredProbe,
};
pub use persona::{MatchedTrait, Persona};
pub use policy::{FeedbackSignal, PolicyName, Retrieval};
pub use trace::{
    AlignmentWindows, End, EndReason, Header, JudgeInfo, JudgeKind, PolicyInfo, SessionTrace,
    SlateEntry, Step, TraceEvent, TraceReader, TraceWriter, NOT_A_VLM, SCHEMA_VERSION,
};
pub use value::{HigherOrder, PerValue, SparseWeights, Value};
pub use video::{Keyframe, MediaKind, Platform, Provenance, ValueLabeling, Video};

/// The scrollsim version recorded in trace headers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
