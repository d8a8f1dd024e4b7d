//! Judges: given a persona (or none), a video's keyframes and text, and a prompting strategy,
//! decide like or skip. Real VLMs through HTTP providers (OpenAI-compatible, Anthropic,
//! Gemini), the offline persona model, and the call stack around providers as layers:
//! record/replay cache, retries, rate and concurrency limits, timeouts, budget, accounting.
//!
//! Construction goes through [`build_judge`] with a [`JudgeConfig`] (the `[judge]` config
//! section), a [`JudgeSpec`] (model, strategy, parser) and a [`JudgeEnv`] (image store, text
//! embedder, cache path, prompt directory, shared ledger). See docs/judges.md.
//!
//! Must not: choose videos, write traces or keep session state (the simulation does), or read
//! an API key from anywhere but the environment variable its config names.

mod build;
pub mod call;
pub mod chat;
pub mod config;
pub mod images;
pub mod layers;
pub mod ledger;
pub mod offline;
pub mod parse;
pub mod probe;
pub mod prompts;
pub mod provider;
pub mod recordings;
pub mod stack;
pub mod study;
mod vlm;

use async_trait::async_trait;
use scrollsim_core::{Decision, JudgeInfo, Persona, Video};

pub use build::{blind_reason, build_judge, strategy_needs_images, JudgeEnv};
pub use config::{
    BudgetConfig, CacheMode, DescriptionSource, GenerationSettings, ImageDetail, JudgeConfig,
    JudgeSpec, Limits, ModelConfig, OfflineParams, ParserKind, Prices, ProbeConfig, ProviderKind,
    RetryConfig, StrategyKind, UnknownModel, OFFLINE_MODEL,
};
pub use images::ImageSource;
pub use ledger::{BudgetRefusal, Ledger, LedgerSnapshot, ModelTally};
pub use offline::OfflineJudge;
pub use probe::{ProbeCache, ProbeError, ProbeOptions};
pub use study::{check_study, StudyErrors, StudyPlan, StudyProblem, StudyReady};
pub use vlm::VlmJudge;

/// One judgement to make.
#[derive(Debug, Clone)]
pub struct JudgeRequest<'a> {
    /// None for the control arm (no persona).
    pub persona: Option<&'a Persona>,
    /// The video, with its keyframe hashes (bytes are read from the image store by judges
    /// that send images).
    pub video: &'a Video,
    /// The video's stored text vector, when the caller has it: the offline model uses it
    /// instead of embedding the text again.
    pub text_vector: Option<&'a [f32]>,
    /// Session seed; judges that draw randomness derive it from (seed, video id) so a decision
    /// does not depend on what came before it. VLM judges put it in the cache key, so
    /// replicate seeds are independent samples.
    pub seed: u64,
}

/// Why a judge could not produce a decision at all. A call that fails after its retries is not
/// this: it comes back as a [`Decision`] with `ParseStatus::CallError`, recorded and counted
/// (so does a video whose keyframes are missing from the image store). These errors stop the
/// session.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("budget exhausted: {0}")]
    BudgetExhausted(ledger::BudgetRefusal),
    #[error("replay-strict: no recorded answer for cache key {key} ({what}); run with cache mode replay-or-live or record to call the model")]
    CacheMiss { key: String, what: String },
    #[error("configuration: {0}")]
    Config(String),
    /// A `[judge]` setting is not allowed; names the key.
    #[error("configuration: {0}")]
    Invalid(#[from] scrollsim_core::config::Invalid),
    #[error("configuration: {0}")]
    UnknownModel(#[from] config::UnknownModel),
    #[error("configuration: {0}")]
    Template(#[from] prompts::TemplateError),
    #[error(transparent)]
    Cache(#[from] recordings::CacheError),
    #[error(transparent)]
    Client(#[from] provider::ClientError),
    /// The probe found the endpoint cannot serve the strategy (it does not see images).
    #[error("{0}")]
    Capability(String),
    /// The keyframes would exceed the model's image limits (count, size or request bytes).
    #[error("image budget: {0}")]
    ImageBudget(String),
    #[error("{0}")]
    Other(String),
}

/// Decides like or skip for one video.
#[async_trait]
pub trait Judge: Send + Sync {
    /// What this judge is, as recorded in trace headers.
    fn info(&self) -> JudgeInfo;

    async fn decide(&self, req: &JudgeRequest<'_>) -> Result<Decision, JudgeError>;
}
