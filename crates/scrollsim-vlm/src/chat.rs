//! The provider-neutral call that flows through the call stack: a rendered prompt with its
//! images ([`ChatRequest`]), the answer ([`ChatResponse`]), and why a call failed
//! ([`CallError`]). Providers translate these to and from their wire formats.

use std::sync::Arc;
use std::time::Duration;

use scrollsim_core::{ImageHash, StructuredMode};
use serde::{Deserialize, Serialize};

use crate::config::GenerationSettings;
use crate::ledger::BudgetRefusal;

/// One image sent with a request. The bytes travel to the provider; only the hash enters cache
/// keys and traces.
#[derive(Clone)]
pub struct ImagePart {
    pub hash: ImageHash,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: &'static str,
    pub bytes: Arc<[u8]>,
}

impl std::fmt::Debug for ImagePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ImagePart({}, {}, {} bytes)",
            self.hash,
            self.mime,
            self.bytes.len()
        )
    }
}

/// Structured output requested from providers that support it (OpenAI `response_format`,
/// Gemini `responseSchema`, llama.cpp's `grammar`): a name, a JSON Schema (object, required
/// fields, no extras) and the mode it is asked for in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerSchema {
    pub name: String,
    pub schema: serde_json::Value,
    /// Absent from cache keys when `json_schema`, the mode every recording made before modes
    /// existed used, so those recordings still replay.
    #[serde(default = "json_schema_mode", skip_serializing_if = "is_json_schema")]
    pub mode: StructuredMode,
}

fn json_schema_mode() -> StructuredMode {
    StructuredMode::JsonSchema
}

fn is_json_schema(m: &StructuredMode) -> bool {
    *m == StructuredMode::JsonSchema
}

/// A rendered prompt: an optional system prompt, then one user turn of text and images (the
/// images first, in keyframe order, then the text).
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub user: String,
    pub images: Vec<ImagePart>,
    pub settings: GenerationSettings,
    /// `Some` when the strict parser wants JSON and the endpoint honours a structured-output
    /// mode (found by the probe, or the provider's schema mode when unprobed).
    pub schema: Option<AnswerSchema>,
}

impl ChatRequest {
    /// Rough prompt token count for rate limits and budget reservations: text / 4 plus a fixed
    /// estimate per image.
    pub fn estimated_prompt_tokens(&self, tokens_per_image: u32) -> u64 {
        let chars = self.system.as_deref().map_or(0, str::len) + self.user.len();
        (chars as u64).div_ceil(4) + self.images.len() as u64 * tokens_per_image as u64
    }
}

/// Token counts as the provider reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why generation stopped, as far as the decision cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finish {
    /// Normal end (or a reason the decision does not care about).
    Stop,
    /// The completion hit `max_tokens`.
    Length,
    /// The provider says the model declined or the content was blocked.
    Refused { detail: String },
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer text (empty when the provider returned none).
    pub text: String,
    pub usage: TokenUsage,
    pub finish: Finish,
    /// The model version the provider reports, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// What comes back out of the call stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub response: ChatResponse,
    /// Read from the record/replay cache, not called.
    pub cached: bool,
    /// Wall time of the live call including retries (zero for cache hits).
    pub latency: Duration,
    /// Attempts made (zero for cache hits).
    pub attempts: u32,
}

/// Why a call produced no answer. Most become a decision with `ParseStatus::CallError`;
/// [`CallError::CacheMiss`] and [`CallError::Budget`] stop the session instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The provider answered with an error status.
    #[error("HTTP {status} from {provider}: {detail}")]
    Status {
        provider: String,
        status: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// Could not connect or the connection broke.
    #[error("connection to {provider} failed: {detail}")]
    Connect { provider: String, detail: String },
    /// A success status whose body is not the provider's response format.
    #[error("malformed response from {provider}: {detail}")]
    Malformed { provider: String, detail: String },
    /// The request could not be built (a local problem, not retried).
    #[error("request could not be built: {0}")]
    Request(String),
    /// A failure recorded in an earlier run, read back in replay (worded exactly as
    /// recorded, so a replayed decision is identical; `usage.cached` tells it was replayed).
    #[error("{0}")]
    Recorded(String),
    #[error("replay-strict: no recorded answer for cache key {key} ({what})")]
    CacheMiss { key: String, what: String },
    #[error("budget exhausted: {0}")]
    Budget(BudgetRefusal),
    /// The record/replay cache itself failed.
    #[error("call cache: {0}")]
    Cache(String),
    /// Retry-After asked for a longer wait than `max_retry_after_s`.
    #[error("{source} (Retry-After {after:?} exceeds the configured maximum wait)")]
    WaitTooLong {
        after: Duration,
        source: Box<CallError>,
    },
}

impl CallError {
    /// Whether another attempt may succeed: 429, 500, 502, 503, 504, 529 (Anthropic
    /// overloaded), timeouts and connection errors. 400/401/403/404/422 and malformed bodies
    /// are not retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Status { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504 | 529),
            CallError::Timeout(_) | CallError::Connect { .. } => true,
            _ => false,
        }
    }

    /// The server's Retry-After, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this failure belongs in the record/replay cache: an outcome of the provider,
    /// not of our own bookkeeping.
    pub fn is_recordable(&self) -> bool {
        !matches!(
            self,
            CallError::CacheMiss { .. }
                | CallError::Budget(_)
                | CallError::Cache(_)
                | CallError::Recorded(_)
        )
    }
}
