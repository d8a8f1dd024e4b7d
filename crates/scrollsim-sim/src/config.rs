//! The `[policy]` section of the config (and of an experiment file, which overrides it): feed
//! policy parameters, dwell, and the presets of the `foryou` policy, named by mechanism.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use scrollsim_core::{FeedbackSignal, PolicyName};
use scrollsim_store::VectorName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dwell::DwellConfig;

/// `[policy]`: every policy's parameters. Each field has the default written in
/// `config/default.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `[policy.dwell]`: seconds stayed on a like and on a skip.
    pub dwell: DwellConfig,
    pub keyword: KeywordParams,
    pub random: RandomParams,
    pub popular: PopularParams,
    /// `[policy.foryou]`: the parameters of plain `foryou`.
    pub foryou: ForYouParams,
    /// `[policy.presets.<name>]`: named, complete `foryou` parameter sets, named by the
    /// mechanisms they set (`fast-adapting`...), used as `foryou:<name>` in an experiment.
    pub presets: BTreeMap<String, ForYouParams>,
    /// `[policy.aliases]`: other names for presets (`tiktok-like = "fast-adapting"`). Ours,
    /// not the platforms': an experiment naming an alias runs, and is reported as, the preset.
    pub aliases: BTreeMap<String, String>,
}

/// `keyword`: the paper's value-retrieval benchmark [S]. For each value, each of its keywords
/// (config/values.toml) is embedded and its `top_k` nearest videos are retrieved. With 10
/// keywords and top 5 that is 50 videos per value, as in the paper [R].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeywordParams {
    pub top_k: usize,
    /// What keywords are matched against: `text` (keywords embedded by the text embedder,
    /// against the videos' text vectors), `image` (keywords embedded by CLIP's text tower,
    /// against the videos' image vectors, as the paper did), or `auto` (image when an image
    /// embedder is configured and the corpus has image vectors, text otherwise). The run
    /// records which one was used.
    pub using: KeywordRetrieval,
    /// Drop a video retrieved twice for one value (by two of its keywords). Off, each keyword
    /// contributes exactly `top_k` videos where the corpus allows, so every value's
    /// denominator is `top_k` x its keywords, as the paper's 5 x 10 = 50; a video retrieved by
    /// two keywords is then shown (and judged) once per keyword.
    pub dedup: bool,
}

impl Default for KeywordParams {
    fn default() -> Self {
        KeywordParams {
            top_k: 5,
            using: KeywordRetrieval::Auto,
            dedup: false,
        }
    }
}

/// `policy.keyword.using`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeywordRetrieval {
    Auto,
    Text,
    Image,
}

/// `random`: a uniformly random unseen video per step (the store's seeded `sample`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomParams {
    /// Candidates drawn per step (the first is shown; all are recorded in the slate).
    pub slate_size: usize,
}

impl Default for RandomParams {
    fn default() -> Self {
        RandomParams { slate_size: 1 }
    }
}

/// `popular`: the most viewed unseen video per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopularParams {
    pub slate_size: usize,
}

impl Default for PopularParams {
    fn default() -> Self {
        PopularParams { slate_size: 5 }
    }
}

/// `foryou`: a feed that reacts within the session. Each step it asks the store to recommend
/// videos like the positive examples (by default, videos the agent stayed on) and unlike the
/// negative ones, each weighted by its dwell seconds and by recency; a share of steps is
/// served from the most viewed videos instead, and a share explores. It never shows a seen
/// video. All values are ours [R]; presets differ in them. See
/// [`crate::policy::ForYouPolicy`] for the step.
///
/// The mechanisms, and the keys that set each: adaptation speed (`confidence_positives`,
/// `refresh_every`), feedback delay (`feedback_delay`), memory (`half_life_steps`, `history`),
/// exploration (`epsilon`, `temperature`), popularity pull (`popularity_mix`,
/// `popular_candidates`); and what it learns from (`feedback`, `positive_dwell_s`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForYouParams {
    /// What the feed learns from: `dwell` (what the paper's platforms saw: a view is a
    /// positive example when its dwell reaches `positive_dwell_s`), `likes` (the judge's like,
    /// which no platform saw) or `both` (positive when liked or dwelt on).
    pub feedback: FeedbackSignal,
    /// Under `dwell` and `both`: a view is a positive example when the agent stayed at least
    /// this long, a negative one otherwise. Must exceed `dwell.skip_s`, or every swipe would
    /// count as interest.
    pub positive_dwell_s: f32,
    /// Recommendations per request.
    pub slate_size: usize,
    /// Steps between recommendation requests (apps fetch feed pages): a page requested at step
    /// `r` uses the feedback before `r` and serves steps `r..r + refresh_every`. 1 re-ranks
    /// on every swipe.
    pub refresh_every: u32,
    /// Probability of showing a random unseen video whatever the feed knows.
    pub epsilon: f32,
    /// Adaptation speed: with `n` positive examples the feed serves its recommendations with
    /// probability `n / (n + confidence_positives)` and explores otherwise. 0 trusts the first
    /// positive example completely.
    #[serde(alias = "confidence_likes")]
    pub confidence_positives: f32,
    /// Softmax temperature over slate scores; 0 shows the top-scored candidate.
    pub temperature: f32,
    /// Feedback loses half its weight every this many steps: small = fast adaptation.
    pub half_life_steps: f32,
    /// Feedback reaches the recommender only after this many steps (batch-updated platforms).
    pub feedback_delay: u32,
    /// At most this many most recent views are used as examples.
    pub history: usize,
    /// Probability that a step is served from the most viewed unseen videos instead of the
    /// recommender (popularity mixing).
    pub popularity_mix: f32,
    /// Most viewed unseen videos in the slate each step (scored by popularity, ln(1 + views) /
    /// ln(1 + the corpus' largest views)); needed when `popularity_mix` > 0.
    pub popular_candidates: usize,
    /// Use the views that are not positive examples as negative ones.
    pub use_negatives: bool,
    /// An example weighs at least this many seconds.
    pub min_weight_s: f32,
    pub using: VectorName,
}

impl Default for ForYouParams {
    fn default() -> Self {
        ForYouParams {
            feedback: FeedbackSignal::Dwell,
            positive_dwell_s: 2.0,
            slate_size: 20,
            refresh_every: 4,
            epsilon: 0.05,
            confidence_positives: 4.0,
            temperature: 0.05,
            half_life_steps: 30.0,
            feedback_delay: 0,
            history: 50,
            popularity_mix: 0.0,
            popular_candidates: 0,
            use_negatives: true,
            min_weight_s: 1.0,
            using: VectorName::Text,
        }
    }
}

impl ForYouParams {
    /// Checks ranges; the error is (key, what was expected).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, e: String| Err((k.to_string(), e));
        if self.slate_size == 0 {
            return bad("slate_size", "at least 1".into());
        }
        if self.refresh_every == 0 {
            return bad("refresh_every", "at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.epsilon) {
            return bad(
                "epsilon",
                format!("a probability in [0, 1] (got {})", self.epsilon),
            );
        }
        if !(self.confidence_positives.is_finite() && self.confidence_positives >= 0.0) {
            return bad(
                "confidence_positives",
                format!(">= 0 (got {})", self.confidence_positives),
            );
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature", format!(">= 0 (got {})", self.temperature));
        }
        if !(self.half_life_steps.is_finite() && self.half_life_steps > 0.0) {
            return bad(
                "half_life_steps",
                format!("> 0 (got {})", self.half_life_steps),
            );
        }
        if !(0.0..=1.0).contains(&self.popularity_mix) {
            return bad(
                "popularity_mix",
                format!("in [0, 1] (got {})", self.popularity_mix),
            );
        }
        if self.popularity_mix > 0.0 && self.popular_candidates == 0 {
            return bad(
                "popular_candidates",
                format!(
                    "at least 1 when popularity_mix > 0 (got popularity_mix {}: with no popular candidates it would never serve one)",
                    self.popularity_mix
                ),
            );
        }
        if self.history == 0 {
            return bad("history", "at least 1".into());
        }
        if !(self.min_weight_s.is_finite() && self.min_weight_s > 0.0) {
            return bad("min_weight_s", format!("> 0 (got {})", self.min_weight_s));
        }
        if !(self.positive_dwell_s.is_finite() && self.positive_dwell_s >= 0.0) {
            return bad(
                "positive_dwell_s",
                format!("seconds >= 0 (got {})", self.positive_dwell_s),
            );
        }
        Ok(())
    }

    /// Checks the parameters against the dwell they will observe: under a dwell signal a
    /// swipe past (`skip_s`) must not reach the positive threshold.
    fn validate_with(&self, dwell: &DwellConfig) -> Result<(), (String, String)> {
        self.validate()?;
        if self.feedback != FeedbackSignal::Likes && self.positive_dwell_s <= dwell.skip_s {
            return Err((
                "positive_dwell_s".into(),
                format!(
                    "more than dwell.skip_s ({} s) with feedback = \"{}\", or every skipped video counts as a positive example (got {})",
                    dwell.skip_s, self.feedback, self.positive_dwell_s
                ),
            ));
        }
        Ok(())
    }
}

impl PolicyConfig {
    /// Checks every section; the error is (dotted key under `policy`, what was expected).
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.dwell.validate()?;
        if self.keyword.top_k == 0 {
            return Err(("keyword.top_k".into(), "at least 1".into()));
        }
        if self.random.slate_size == 0 {
            return Err(("random.slate_size".into(), "at least 1".into()));
        }
        if self.popular.slate_size == 0 {
            return Err(("popular.slate_size".into(), "at least 1".into()));
        }
        self.foryou
            .validate_with(&self.dwell)
            .map_err(|(k, e)| (format!("foryou.{k}"), e))?;
        for (name, p) in &self.presets {
            p.validate_with(&self.dwell)
                .map_err(|(k, e)| (format!("presets.{name}.{k}"), e))?;
        }
        for (alias, target) in &self.aliases {
            if self.presets.contains_key(alias) {
                return Err((
                    format!("aliases.{alias}"),
                    "a name that is not also a preset".into(),
                ));
            }
            if !self.presets.contains_key(target) {
                return Err((
                    format!("aliases.{alias}"),
                    format!(
                        "a preset in [policy.presets] (known: {}), not {target:?}",
                        self.preset_names()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The preset a name means: itself, or the preset an alias points to.
    pub fn canonical_preset<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map(String::as_str).unwrap_or(name)
    }

    /// The `foryou` parameters of a preset (or alias), or the plain ones.
    pub fn foryou_params(&self, preset: Option<&str>) -> Option<&ForYouParams> {
        match preset {
            None => Some(&self.foryou),
            Some(name) => self.presets.get(self.canonical_preset(name)),
        }
    }

    /// Preset names and aliases, for error messages.
    pub fn preset_names(&self) -> String {
        self.presets
            .keys()
            .cloned()
            .chain(self.aliases.iter().map(|(a, t)| format!("{a} (= {t})")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The kinds of feed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    Keyword,
    Random,
    Popular,
    ForYou,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Keyword,
        PolicyKind::Random,
        PolicyKind::Popular,
        PolicyKind::ForYou,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Keyword => "keyword",
            PolicyKind::Random => "random",
            PolicyKind::Popular => "popular",
            PolicyKind::ForYou => "foryou",
        }
    }

    /// The name traces record.
    pub fn policy_name(self) -> PolicyName {
        match self {
            PolicyKind::Keyword => PolicyName::Keyword,
            PolicyKind::Random => PolicyName::Random,
            PolicyKind::Popular => PolicyName::Popular,
            PolicyKind::ForYou => PolicyName::ForYou,
        }
    }
}

/// A policy as an experiment names it: `keyword`, `random`, `popular`, `foryou` or
/// `foryou:<preset>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicySpec {
    pub kind: PolicyKind,
    pub preset: Option<String>,
}

impl PolicySpec {
    /// The form used in session ids and file names: `foryou-tiktok-like`.
    pub fn label(&self) -> String {
        match &self.preset {
            None => self.kind.name().to_string(),
            Some(p) => format!("{}-{p}", self.kind.name()),
        }
    }
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.preset {
            None => f.write_str(self.kind.name()),
            Some(p) => write!(f, "{}:{p}", self.kind.name()),
        }
    }
}

/// Why a policy name does not parse (`--policy`, an experiment's `policies`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicySpecError {
    #[error("unknown policy {0:?}: expected keyword, random, popular, foryou or foryou:<preset>")]
    Unknown(String),
    #[error("{0:?}: empty preset name after `foryou:`")]
    EmptyPreset(String),
    #[error("{0:?}: only `foryou` takes a preset")]
    PresetNotForYou(String),
}

impl FromStr for PolicySpec {
    type Err = PolicySpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, preset) = match s.split_once(':') {
            Some((n, p)) => (n.trim(), Some(p.trim().to_string())),
            None => (s.trim(), None),
        };
        let kind = PolicyKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| PolicySpecError::Unknown(s.to_string()))?;
        match (&kind, &preset) {
            (PolicyKind::ForYou, Some(p)) if p.is_empty() => {
                Err(PolicySpecError::EmptyPreset(s.to_string()))
            }
            (PolicyKind::ForYou, _) | (_, None) => Ok(PolicySpec { kind, preset }),
            (_, Some(_)) => Err(PolicySpecError::PresetNotForYou(s.to_string())),
        }
    }
}

impl Serialize for PolicySpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_specs_parse() {
        let s: PolicySpec = "foryou:tiktok-like".parse().unwrap();
        assert_eq!(s.kind, PolicyKind::ForYou);
        assert_eq!(s.label(), "foryou-tiktok-like");
        assert_eq!(s.to_string(), "foryou:tiktok-like");
        assert_eq!("random".parse::<PolicySpec>().unwrap().preset, None);
        assert!("random:x".parse::<PolicySpec>().is_err());
        let err = "forU".parse::<PolicySpec>().unwrap_err();
        assert_eq!(err, PolicySpecError::Unknown("forU".into()));
        assert!(err.to_string().contains("unknown policy"), "{err}");
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_ranges() {
        let e = toml::from_str::<PolicyConfig>("[foryou]\nepsilon = 2.0").unwrap();
        assert_eq!(e.validate().unwrap_err().0, "foryou.epsilon");
        let err = toml::from_str::<PolicyConfig>("[foryou]\nepsilonn = 0.1").unwrap_err();
        assert!(err.to_string().contains("epsilonn"), "{err}");
    }
}
