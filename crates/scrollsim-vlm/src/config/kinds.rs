//! The closed sets a config names: prompting strategy, parser, cache mode, and where the
//! text-only strategy's description comes from. Traces record the first two as the open
//! enums of `scrollsim_core::judge`.

use std::fmt;
use std::str::FromStr;

use scrollsim_core::config::UnknownName;
use serde::{Deserialize, Serialize};

/// The paper's prompting strategies (docs/protocol.md, docs/judges.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Three questions about the image, no persona: like yes/no, why, describe.
    Plain,
    /// The persona system prompt and the yes/no question; which trait matched, or NA.
    #[default]
    Simple,
    /// The persona rates six questionnaire items; S% against a threshold decides.
    Isq,
    /// The plain question answered from a description of the keyframes, without the images.
    TextOnly,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 4] = [
        StrategyKind::Plain,
        StrategyKind::Simple,
        StrategyKind::Isq,
        StrategyKind::TextOnly,
    ];

    /// The name used in config, traces and prompt file names.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Plain => "plain",
            StrategyKind::Simple => "simple",
            StrategyKind::Isq => "isq",
            StrategyKind::TextOnly => "text-only",
        }
    }
}

impl From<StrategyKind> for scrollsim_core::JudgeStrategy {
    fn from(k: StrategyKind) -> Self {
        scrollsim_core::JudgeStrategy::from(k.as_str())
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StrategyKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StrategyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| UnknownName::new("strategy", s, "plain, simple, isq or text-only"))
    }
}

/// How an answer becomes a decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ParserKind {
    /// Strict with structured output where the probe found the endpoint honours a mode
    /// (json_schema, grammar or json_object); lenient where it found none or did not probe.
    /// The trace records which one a session used.
    #[default]
    Auto,
    /// The authors' rule: a like when the answer contains "yes" anywhere (case-insensitive).
    /// The paper-faithful choice.
    Lenient,
    /// Structured JSON output where the provider supports it, the first token otherwise.
    Strict,
}

impl ParserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParserKind::Auto => "auto",
            ParserKind::Lenient => "lenient",
            ParserKind::Strict => "strict",
        }
    }
}

impl From<ParserKind> for scrollsim_core::AnswerParser {
    fn from(k: ParserKind) -> Self {
        scrollsim_core::AnswerParser::from(k.as_str())
    }
}

impl fmt::Display for ParserKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ParserKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(ParserKind::Auto),
            "lenient" => Ok(ParserKind::Lenient),
            "strict" => Ok(ParserKind::Strict),
            _ => Err(UnknownName::new("parser", s, "auto, lenient or strict")),
        }
    }
}

/// How the record/replay cache of model calls is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// No cache: every call goes to the provider and nothing is recorded.
    Live,
    /// Every call goes to the provider; every answer (and every call that failed after its
    /// retries) is recorded, replacing an older recording under the same key.
    Record,
    /// Only recorded answers; a call with no recording is an error (`JudgeError::CacheMiss`).
    ReplayStrict,
    /// Recorded answers when present; otherwise the provider, and the answer is recorded. A
    /// recorded failure is retried live. Never pays twice for the same call.
    #[default]
    ReplayOrLive,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Live => "live",
            CacheMode::Record => "record",
            CacheMode::ReplayStrict => "replay-strict",
            CacheMode::ReplayOrLive => "replay-or-live",
        }
    }
}

impl FromStr for CacheMode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            CacheMode::Live,
            CacheMode::Record,
            CacheMode::ReplayStrict,
            CacheMode::ReplayOrLive,
        ]
        .into_iter()
        .find(|m| m.as_str() == s.trim())
        .ok_or_else(|| {
            UnknownName::new(
                "cache mode",
                s,
                "live, record, replay-strict or replay-or-live",
            )
        })
    }
}

/// Where the text-only strategy's description comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DescriptionSource {
    /// The same model describes the keyframes first (an image call), then decides from its
    /// own description: the paper's VLM-vs-LLM ablation.
    #[default]
    Model,
    /// The video's `description` from the corpus (no image call; not the paper's ablation).
    Metadata,
}
