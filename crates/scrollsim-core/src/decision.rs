//! What a judge decided about one video, with everything needed to audit it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::judge::AnswerRead;
use crate::persona::MatchedTrait;

/// Whether a decision was read from the model's answer, and if not, why not. A parse failure
/// or call error is never a silent skip: metrics count each separately.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseStatus {
    /// The parser read a like or a skip from the answer.
    #[default]
    Parsed,
    /// An answer arrived but the parser could not read a decision from it (kept raw).
    ParseFailure { detail: String },
    /// The model declined to judge the content.
    Refused { detail: String },
    /// No answer: the call failed after its retries, timed out, or hit the budget.
    CallError { message: String },
    /// The endpoint answered, but its usage shows it did not count the images sent (fewer
    /// prompt tokens than the probe measured for them): the model never saw them, so the
    /// answer is not a decision about the video.
    ImagesDropped {
        /// Prompt tokens the response reported.
        prompt_tokens: u64,
        /// The least the probe says a prompt with these images counts.
        expected_min: u64,
        images: u32,
    },
}

impl ParseStatus {
    pub fn is_parsed(&self) -> bool {
        matches!(self, ParseStatus::Parsed)
    }

    /// No usable answer came back: the call failed, or its images never reached the model.
    /// (A parse failure or refusal is an answer that could not be read; counted apart.)
    pub fn is_call_failure(&self) -> bool {
        matches!(
            self,
            ParseStatus::CallError { .. } | ParseStatus::ImagesDropped { .. }
        )
    }
}

/// The six items of the ISQ questionnaire [S]: four 0-10 ratings and two 0/1 choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IsqItems {
    pub visual_appeal: u8,
    pub curiosity: u8,
    pub emotional_engagement: u8,
    pub value_expectation: u8,
    pub preference_alignment: u8,
    pub action_decision: u8,
}

impl IsqItems {
    /// The items' names, in [`IsqItems::as_array`] order (also the JSON keys parsers read).
    pub const NAMES: [&'static str; 6] = [
        "visual_appeal",
        "curiosity",
        "emotional_engagement",
        "value_expectation",
        "preference_alignment",
        "action_decision",
    ];

    pub fn as_array(&self) -> [u8; 6] {
        [
            self.visual_appeal,
            self.curiosity,
            self.emotional_engagement,
            self.value_expectation,
            self.preference_alignment,
            self.action_decision,
        ]
    }

    /// Checks the ranges: the four ratings 0..=10, the two choices 0 or 1.
    pub fn validate(&self) -> Result<(), IsqOutOfRange> {
        for (i, x) in self.as_array().iter().enumerate() {
            let max = if i < 4 { 10 } else { 1 };
            if *x > max {
                return Err(IsqOutOfRange {
                    item: Self::NAMES[i],
                    value: *x,
                    max,
                });
            }
        }
        Ok(())
    }
}

/// An ISQ item outside its range (a parse failure's detail in the trace, so the wording is
/// part of the trace format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ISQ item {item} = {value} is out of range 0..={max}")]
pub struct IsqOutOfRange {
    pub item: &'static str,
    pub value: u8,
    pub max: u8,
}

/// How ISQ items become a stay decision: S% = sum(weight_i x item_i) / scale x 100, stay when
/// S% >= threshold. The defaults are the paper's formula [S]: weights 1,1,1,1,10,10, scale 60,
/// threshold 60; all are config values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsqScoring {
    pub weights: [f32; 6],
    pub scale: f32,
    pub threshold: f32,
}

impl Default for IsqScoring {
    fn default() -> Self {
        IsqScoring {
            weights: [1.0, 1.0, 1.0, 1.0, 10.0, 10.0],
            scale: 60.0,
            threshold: 60.0,
        }
    }
}

impl IsqScoring {
    /// S% for these items.
    pub fn s_percent(&self, items: &IsqItems) -> f32 {
        let sum: f32 = items
            .as_array()
            .iter()
            .zip(self.weights)
            .map(|(x, w)| *x as f32 * w)
            .sum();
        sum / self.scale * 100.0
    }

    pub fn stays(&self, items: &IsqItems) -> bool {
        self.s_percent(items) >= self.threshold
    }
}

/// ISQ items with the score and threshold that turned them into a decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IsqResult {
    pub items: IsqItems,
    pub s_percent: f32,
    pub threshold: f32,
}

/// One raw answer as the model gave it, by question id (`like`, `why`, `describe`, `isq`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RawAnswer {
    pub question: String,
    pub text: String,
}

/// Cost and provenance of the calls behind one decision.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CallUsage {
    /// Calls made or read back for this decision.
    #[serde(default)]
    pub calls: u32,
    /// Of which answered from the record/replay cache.
    #[serde(default)]
    pub cached: u32,
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    /// Estimated cost from the configured prices (0 when unknown or offline).
    #[serde(default)]
    pub cost_usd: f64,
    /// Wall time of the live calls (0 for cache hits).
    #[serde(default)]
    pub latency_ms: u64,
    /// Cache keys of the calls, so `replay --rerun` can find them.
    #[serde(default)]
    pub cache_keys: Vec<String>,
}

impl CallUsage {
    pub fn add(&mut self, other: &CallUsage) {
        self.calls += other.calls;
        self.cached += other.cached;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_usd += other.cost_usd;
        self.latency_ms += other.latency_ms;
        self.cache_keys.extend(other.cache_keys.iter().cloned());
    }
}

/// A judge's decision on one video.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// The action the agent takes: true only for a parsed like. On a parse failure or call
    /// error the agent scrolls on, and `status` says why.
    pub like: bool,
    #[serde(default)]
    pub status: ParseStatus,
    /// The model's stated reason (question 2 of the plain protocol), or the offline model's
    /// scores in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The model's description of the keyframes: question 3 of the plain protocol, or, in the
    /// text-only ablation, its answer to the describe call that the decision was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The persona trait the video matched, or none (the paper's NA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_trait: Option<MatchedTrait>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isq: Option<IsqResult>,
    /// A judge's confidence or like probability when it has one (the offline model does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// How the decision was read from the answer (None when no answer was read: the offline
    /// model, a failed call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<AnswerRead>,
    #[serde(default)]
    pub raw: Vec<RawAnswer>,
    #[serde(default)]
    pub usage: CallUsage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isq_formula_matches_paper() {
        let s = IsqScoring::default();
        let items = IsqItems {
            visual_appeal: 6,
            curiosity: 6,
            emotional_engagement: 6,
            value_expectation: 6,
            preference_alignment: 1,
            action_decision: 0,
        };
        // (6+6+6+6+10+0)/60*100 = 56.67: below the default 60.
        assert!((s.s_percent(&items) - 56.666_67).abs() < 1e-3);
        assert!(!s.stays(&items));
        let more = IsqItems {
            action_decision: 1,
            ..items
        };
        // (24+20)/60*100 = 73.3
        assert!(s.stays(&more));
        assert!(IsqItems {
            curiosity: 11,
            ..items
        }
        .validate()
        .is_err());
        assert!(IsqItems {
            action_decision: 2,
            ..items
        }
        .validate()
        .is_err());
    }

    #[test]
    fn status_serializes_tagged() {
        let s = ParseStatus::ParseFailure {
            detail: "no yes/no".into(),
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"kind": "parse_failure", "detail": "no yes/no"})
        );
    }
}
