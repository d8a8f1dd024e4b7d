//! The feed policy of a session as a trace records it: which policy, which preset, what it
//! learns from, and (for a replayed feed) which policy produced the feed.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which policy served a session. Serialized as its name (`foryou`...); a name written by a
/// newer or another tool reads as [`PolicyName::Other`] rather than failing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyName {
    /// The paper's value-retrieval benchmark: top k per value keyword.
    Keyword,
    /// A uniformly random unseen video per step.
    Random,
    /// The most viewed unseen video per step.
    Popular,
    /// A feed that reacts to the agent within the session.
    ForYou,
    /// A recorded feed replayed as it was (counterfactual replay): open-loop, it does not react
    /// to the judge now deciding.
    Fixed,
    Other(String),
}

impl PolicyName {
    pub fn as_str(&self) -> &str {
        match self {
            PolicyName::Keyword => "keyword",
            PolicyName::Random => "random",
            PolicyName::Popular => "popular",
            PolicyName::ForYou => "foryou",
            PolicyName::Fixed => "fixed",
            PolicyName::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> PolicyName {
        match s {
            "keyword" => PolicyName::Keyword,
            "random" => PolicyName::Random,
            "popular" => PolicyName::Popular,
            "foryou" => PolicyName::ForYou,
            "fixed" => PolicyName::Fixed,
            other => PolicyName::Other(other.to_string()),
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for PolicyName {
    fn from(s: &str) -> Self {
        PolicyName::parse(s)
    }
}

impl Serialize for PolicyName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PolicyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PolicyName::parse(&Cow::<str>::deserialize(d)?))
    }
}

impl JsonSchema for PolicyName {
    fn schema_name() -> Cow<'static, str> {
        "PolicyName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The feed policy: keyword, random, popular, foryou, fixed (a replayed feed), or another tool's name.",
            "type": "string",
        })
    }
}

/// What a reacting feed learns from. The paper's platforms saw only how long the agent stayed
/// on each video (its agent never pressed like), so `dwell` is the faithful setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackSignal {
    /// A view is a positive example when its dwell reaches a threshold, weighted by dwell.
    Dwell,
    /// The judge's like or skip (a signal the paper's platforms never had).
    Likes,
    /// A view is positive when liked or when its dwell reaches the threshold.
    Both,
}

impl FeedbackSignal {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSignal::Dwell => "dwell",
            FeedbackSignal::Likes => "likes",
            FeedbackSignal::Both => "both",
        }
    }
}

impl fmt::Display for FeedbackSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the keyword benchmark matched its keywords against: the videos' text vectors (keywords
/// embedded by the text embedder) or their image vectors (keywords embedded by CLIP's text
/// tower, as the paper did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Retrieval {
    Text,
    Image,
}

impl Retrieval {
    pub fn as_str(self) -> &'static str {
        match self {
            Retrieval::Text => "text",
            Retrieval::Image => "image",
        }
    }
}

impl fmt::Display for Retrieval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The feed policy of a session, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyInfo {
    pub name: PolicyName,
    /// The `foryou` preset, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// What a reacting feed learned from (`foryou`); absent for feeds that do not react.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackSignal>,
    /// What the keyword benchmark retrieved by (`keyword`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<Retrieval>,
    /// For `fixed`: the policy that produced the recorded feed being replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replays: Option<Box<PolicyInfo>>,
    /// The policy's resolved parameters.
    #[serde(default)]
    pub params: serde_json::Value,
}

impl PolicyInfo {
    /// A policy with no preset, signal or parameters.
    pub fn named(name: PolicyName) -> Self {
        PolicyInfo {
            name,
            preset: None,
            feedback: None,
            retrieval: None,
            replays: None,
            params: serde_json::Value::Null,
        }
    }

    /// The policy as an experiment names it, `foryou:<preset>`; the keyword benchmark with
    /// what it retrieved by, `keyword(text)` or `keyword(image)` (text and image retrieval are
    /// different benchmarks and must never pool into one row); a replayed feed as
    /// `fixed(<recorded policy>)`. What tables group sessions by.
    pub fn label(&self) -> String {
        match (&self.name, &self.replays) {
            (PolicyName::Fixed, Some(r)) => format!("fixed({})", r.label()),
            (name, _) => {
                let base = match &self.preset {
                    Some(p) => format!("{name}:{p}"),
                    None => name.to_string(),
                };
                match self.retrieval {
                    Some(r) => format!("{base}({r})"),
                    None => base,
                }
            }
        }
    }

    /// What the feed learned from, for every output that shows the policy: `feedback: dwell`,
    /// `open-loop, recorded with feedback: dwell` (the keyword benchmark's retrieval is in its
    /// [`Self::label`]).
    pub fn signal(&self) -> Option<String> {
        let own = self.feedback.map(|f| format!("feedback: {f}"));
        if self.name == PolicyName::Fixed {
            let inner = self.replays.as_ref().and_then(|r| r.signal());
            return Some(match inner {
                Some(s) => format!("open-loop, recorded with {s}"),
                None => "open-loop".into(),
            });
        }
        own
    }

    /// [`Self::label`] with [`Self::signal`]: `foryou:fast-adapting (feedback: dwell)`.
    pub fn describe(&self) -> String {
        match self.signal() {
            Some(s) => format!("{} ({s})", self.label()),
            None => self.label(),
        }
    }

    /// Whether the feed reacted to the judge deciding (false for a replayed, fixed feed and for
    /// feeds that ignore feedback).
    pub fn closed_loop(&self) -> bool {
        self.name != PolicyName::Fixed && self.feedback.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_old_and_unknown_policies() {
        let info: PolicyInfo =
            serde_json::from_str(r#"{"name":"foryou","preset":"tiktok-like","params":{}}"#)
                .unwrap();
        assert_eq!(info.name, PolicyName::ForYou);
        assert_eq!(info.label(), "foryou:tiktok-like");
        assert_eq!(info.describe(), "foryou:tiktok-like");
        let other: PolicyInfo = serde_json::from_str(r#"{"name":"bandit"}"#).unwrap();
        assert_eq!(other.name, PolicyName::Other("bandit".into()));
        assert_eq!(
            serde_json::to_value(&other).unwrap()["name"],
            serde_json::json!("bandit")
        );
    }

    #[test]
    fn a_replayed_feed_is_labelled_fixed_and_open_loop() {
        let mut recorded = PolicyInfo::named(PolicyName::ForYou);
        recorded.preset = Some("fast-adapting".into());
        recorded.feedback = Some(FeedbackSignal::Dwell);
        assert!(recorded.closed_loop());
        assert_eq!(
            recorded.describe(),
            "foryou:fast-adapting (feedback: dwell)"
        );
        let mut fixed = PolicyInfo::named(PolicyName::Fixed);
        fixed.replays = Some(Box::new(recorded));
        assert!(!fixed.closed_loop());
        assert_eq!(fixed.label(), "fixed(foryou:fast-adapting)");
        assert_eq!(
            fixed.describe(),
            "fixed(foryou:fast-adapting) (open-loop, recorded with feedback: dwell)"
        );
        let back: PolicyInfo =
            serde_json::from_value(serde_json::to_value(&fixed).unwrap()).unwrap();
        assert_eq!(back, fixed);
    }

    #[test]
    fn the_keyword_benchmark_is_labelled_by_what_it_retrieved_by() {
        let mut text = PolicyInfo::named(PolicyName::Keyword);
        // A trace written before retrieval was recorded.
        assert_eq!(text.label(), "keyword");
        text.retrieval = Some(Retrieval::Text);
        let mut image = text.clone();
        image.retrieval = Some(Retrieval::Image);
        assert_eq!(text.label(), "keyword(text)");
        assert_eq!(image.describe(), "keyword(image)");
        let mut fixed = PolicyInfo::named(PolicyName::Fixed);
        fixed.replays = Some(Box::new(image));
        assert_eq!(fixed.label(), "fixed(keyword(image))");
        assert_eq!(fixed.describe(), "fixed(keyword(image)) (open-loop)");
    }
}
