//! What traces record about a judge beyond its decisions: the prompting strategy and parser by
//! name, how each answer was read, and the capability record of the model's endpoint (what a
//! probe found it can see and answer).
//!
//! The names are open enums: a trace written by a newer scrollsim, with a strategy or parser
//! this version does not know, still reads (as `Other`).

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements the string form (Display, FromStr-like `from`, serde, schema) of an open enum.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A name this version does not know (written by a newer scrollsim).
            Other(String),
        }

        impl $name {
            /// Every known name, in order.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from(s.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from(Cow::<str>::deserialize(d)?.as_ref()))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": concat!("One of: ", $($text, " ",)+ "(newer versions may write others)."),
                    "type": "string",
                })
            }
        }
    };
}

open_enum! {
    /// The prompting strategy of a session.
    JudgeStrategy {
        /// Three questions about the keyframes, no persona.
        Plain => "plain",
        /// The persona system prompt and the yes/no question.
        Simple => "simple",
        /// The persona rates the questionnaire items.
        Isq => "isq",
        /// The plain question answered from the model's own description of the keyframes.
        TextOnly => "text-only",
    }
}

open_enum! {
    /// How the answers of a session were turned into decisions.
    AnswerParser {
        /// The authors' rule: a like when the answer contains "yes" anywhere.
        Lenient => "lenient",
        /// JSON (structured output where the endpoint honours it) or a first word of yes/no.
        Strict => "strict",
        /// No answer to parse (the offline persona model decides without text).
        NotApplicable => "none",
    }
}

/// How one decision was read from the model's answer: the share of each per model and
/// strategy says whether a like-rate measures the model or the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerRead {
    /// In the requested labelled format (`LIKE: yes`), or a bare yes/no as its first word.
    Exact,
    /// A JSON object with the requested fields (structured output, or JSON in the text).
    Json,
    /// Only the lenient rule found a decision: "yes" somewhere in text that was not in the
    /// requested format (a ramble), or its absence read as a skip.
    Salvaged,
    /// No decision could be read (a parse failure or refusal).
    Failed,
    /// A kind this version does not know (written by a newer scrollsim).
    #[serde(other)]
    Other,
}

impl AnswerRead {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerRead::Exact => "exact",
            AnswerRead::Json => "json",
            AnswerRead::Salvaged => "salvaged",
            AnswerRead::Failed => "failed",
            AnswerRead::Other => "other",
        }
    }
}

impl fmt::Display for AnswerRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A way to ask an endpoint for structured output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StructuredMode {
    /// OpenAI `response_format: {type: json_schema}`, Gemini `responseSchema`.
    JsonSchema,
    /// OpenAI `response_format: {type: json_object}` (JSON mode, no schema).
    JsonObject,
    /// A GBNF grammar (llama.cpp's `grammar` field).
    Grammar,
    #[serde(other)]
    Other,
}

impl StructuredMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StructuredMode::JsonSchema => "json_schema",
            StructuredMode::JsonObject => "json_object",
            StructuredMode::Grammar => "grammar",
            StructuredMode::Other => "other",
        }
    }
}

impl fmt::Display for StructuredMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a probe found for one structured-output mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutcome {
    /// Accepted, and the answer was JSON with the requested fields.
    Honoured,
    /// Accepted, but the answer did not follow it.
    Ignored,
    /// The endpoint refused the request (an HTTP error).
    Rejected,
    /// This provider has no such mode; not tried.
    NotOffered,
    #[serde(other)]
    Other,
}

/// One structured-output mode as probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StructuredProbe {
    pub mode: StructuredMode,
    pub outcome: StructuredOutcome,
    /// What came back (the start of the answer or the error).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The capability record of one model behind one endpoint, as `scrollsim probe` found it:
/// whether it accepts and actually sees images, which structured output it honours, what a
/// call costs. Written to resolved.json and to every trace header of a live study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Capability {
    /// The `[judge.models.<name>]` name.
    pub name: String,
    pub provider: String,
    pub model: String,
    /// The endpoint root (no key; keys never leave the environment).
    pub endpoint: String,
    pub probed_at: DateTime<Utc>,
    pub scrollsim_version: String,
    /// A request with one image got an answer (not an HTTP error).
    pub accepts_images: bool,
    /// The most images per request that were accepted, of the counts tried (0: none).
    pub max_images_accepted: u32,
    /// The image counts tried, ascending.
    #[serde(default)]
    pub image_counts_tried: Vec<u32>,
    /// The model named what the pictures show (made on the fly, one colour per picture),
    /// which only a model that sees them can do.
    pub sees_images: bool,
    /// The question, the expected answer and the answer given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sees_detail: String,
    #[serde(default)]
    pub structured: Vec<StructuredProbe>,
    /// Median wall time of a short text-only call, in milliseconds.
    pub latency_ms: u64,
    /// Prompt tokens the endpoint counted for the text-only probe question.
    pub text_prompt_tokens: u64,
    /// Extra prompt tokens per image, from the one-image call against the text-only call
    /// (None when it could not be measured: images refused, no usage reported, or the image
    /// added no tokens). Each live call is checked against it; read it through
    /// [`Capability::tokens_per_image`], which also discards an unusable value that an older
    /// version recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_per_image: Option<f64>,
    /// Prompt tokens the endpoint counted for the probe question with one image (None when
    /// images were refused or no usage was reported): against `text_prompt_tokens`, it shows
    /// what happened to the image when no per-image figure could be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_image_prompt_tokens: Option<u64>,
    /// Estimated cost of one decision with the configured prices and the study's keyframes
    /// (None when the model has no prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_decision_usd: Option<f64>,
    /// Anything else found (server quirks, warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Capability {
    /// The measured prompt tokens per image, when there is one to check calls against: at
    /// least one token (an image that added none, or fewer tokens than the question alone,
    /// was not measured: the endpoint ignored it).
    pub fn tokens_per_image(&self) -> Option<f64> {
        self.prompt_tokens_per_image.filter(|t| *t >= 1.0)
    }

    /// The per-image figure for a person: the number, or why there is none.
    pub fn tokens_per_image_text(&self) -> String {
        if let Some(t) = self.tokens_per_image() {
            return format!("{t:.0}");
        }
        match self.one_image_prompt_tokens {
            _ if !self.accepts_images => "not measured: the endpoint refused images".into(),
            Some(with) => format!(
                "not measured: the server ignored the image ({with} prompt tokens with one image, {} without)",
                self.text_prompt_tokens
            ),
            None if self.prompt_tokens_per_image.is_some() => {
                "not measured: the server ignored the image".into()
            }
            None => "not measured: the endpoint reports no prompt-token usage".into(),
        }
    }

    /// The structured-output mode to use by default: the first honoured, in order of
    /// preference (schema, then grammar, then plain JSON mode).
    pub fn best_structured(&self) -> Option<StructuredMode> {
        [
            StructuredMode::JsonSchema,
            StructuredMode::Grammar,
            StructuredMode::JsonObject,
        ]
        .into_iter()
        .find(|m| {
            self.structured
                .iter()
                .any(|p| p.mode == *m && p.outcome == StructuredOutcome::Honoured)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_round_trip_and_keep_unknown_names() {
        for s in JudgeStrategy::KNOWN {
            let v: JudgeStrategy = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert!(!matches!(v, JudgeStrategy::Other(_)), "{s}");
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
        }
        let newer: JudgeStrategy = serde_json::from_str("\"chain-of-thought\"").unwrap();
        assert_eq!(newer, JudgeStrategy::Other("chain-of-thought".into()));
        assert_eq!(
            serde_json::to_string(&newer).unwrap(),
            "\"chain-of-thought\""
        );
        assert_eq!(AnswerParser::from("none"), AnswerParser::NotApplicable);
        let read: AnswerRead = serde_json::from_str("\"mind_read\"").unwrap();
        assert_eq!(read, AnswerRead::Other);
    }
}
