//! What sessions are grouped by: persona, arm (persona or control), model, strategy, policy
//! (from each session's header) or the source platform of the videos shown (from each step),
//! alone or combined (`persona,model`).

use std::fmt;
use std::str::FromStr;

use scrollsim_core::{Header, JudgeKind, Platform, NOT_A_VLM};
use serde::{Deserialize, Serialize};

/// One dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Persona,
    /// `persona` or `control`: keeps the no-persona arm apart without listing every persona.
    Arm,
    Model,
    Strategy,
    Policy,
    /// The platform a video shown was collected from (a corpus label, not the feed that
    /// served it: every scrollsim policy serves videos of every platform). Grouped per step: a
    /// session that mixes platforms contributes to each of them.
    #[serde(rename = "source_platform", alias = "platform")]
    Platform,
}

impl GroupBy {
    pub const ALL: [GroupBy; 6] = [
        GroupBy::Persona,
        GroupBy::Arm,
        GroupBy::Model,
        GroupBy::Strategy,
        GroupBy::Policy,
        GroupBy::Platform,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Persona => "persona",
            GroupBy::Arm => "arm",
            GroupBy::Model => "model",
            GroupBy::Strategy => "strategy",
            GroupBy::Policy => "policy",
            GroupBy::Platform => "source_platform",
        }
    }

    /// The group a session belongs to; None for [`GroupBy::Platform`], which is per step.
    pub fn of_header(self, h: &Header) -> Option<String> {
        Some(match self {
            GroupBy::Persona => h
                .persona
                .as_ref()
                .map_or_else(|| CONTROL.to_string(), |p| p.id.0.clone()),
            GroupBy::Arm => if h.persona.is_some() {
                "persona"
            } else {
                "control"
            }
            .to_string(),
            GroupBy::Model => model_label(h),
            GroupBy::Strategy => h.judge.strategy.to_string(),
            GroupBy::Policy => h.policy.label(),
            GroupBy::Platform => return None,
        })
    }
}

const EXPECTED: &str = "persona, arm, model, strategy, policy or source_platform (platform)";

/// The persona group of sessions run without a persona (the control arm).
pub const CONTROL: &str = "(no persona)";

/// How a session's judge is named in tables: the model name, with the offline persona model
/// always labelled as such and as not a VLM (`offline persona model v1 (not a VLM)`; its text
/// embedder is in the header), and the text-only ablation marked.
pub fn model_label(h: &Header) -> String {
    match h.judge.kind {
        JudgeKind::OfflinePersonaModel => {
            let m = h.judge.model.as_str();
            let base = if m.starts_with("offline persona model") {
                m.split(" (").next().unwrap_or(m).to_string()
            } else {
                format!("offline persona model {m}")
            };
            if base.contains(NOT_A_VLM) {
                base
            } else {
                format!("{base} ({NOT_A_VLM})")
            }
        }
        JudgeKind::Vlm => h.judge.model.clone(),
        JudgeKind::TextOnly => format!("{} (text-only)", h.judge.model),
    }
}

/// Whether a model label (from [`model_label`]) names the offline persona model.
pub fn is_offline_label(label: &str) -> bool {
    label.starts_with("offline persona model")
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a grouping (`--by`) does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    #[error("unknown grouping {0:?}: expected {EXPECTED}")]
    Unknown(String),
    #[error("grouping {given:?} names {dim} twice")]
    Twice { given: String, dim: GroupBy },
    #[error("empty grouping: expected {EXPECTED}")]
    Empty,
}

impl FromStr for GroupBy {
    type Err = GroupingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL
            .into_iter()
            .find(|g| {
                let s = s.trim();
                g.name().eq_ignore_ascii_case(s)
                    || (*g == GroupBy::Platform && s.eq_ignore_ascii_case("platform"))
            })
            .ok_or_else(|| GroupingError::Unknown(s.to_string()))
    }
}

/// One or more dimensions, e.g. `persona,model`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grouping(Vec<GroupBy>);

impl Grouping {
    pub fn new(dims: Vec<GroupBy>) -> Self {
        assert!(!dims.is_empty(), "a grouping needs at least one dimension");
        Grouping(dims)
    }

    pub fn one(dim: GroupBy) -> Self {
        Grouping(vec![dim])
    }

    pub fn dims(&self) -> &[GroupBy] {
        &self.0
    }

    /// Whether steps of one session may fall in different groups.
    pub fn per_step(&self) -> bool {
        self.0.contains(&GroupBy::Platform)
    }

    /// The key of a session's steps on `platform`.
    pub fn key(&self, h: &Header, platform: &Platform) -> GroupKey {
        GroupKey(
            self.0
                .iter()
                .map(|d| {
                    d.of_header(h)
                        .unwrap_or_else(|| platform.as_str().to_string())
                })
                .collect(),
        )
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|d| d.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Grouping {
    type Err = GroupingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut dims = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let d: GroupBy = part.parse()?;
            if dims.contains(&d) {
                return Err(GroupingError::Twice {
                    given: s.to_string(),
                    dim: d,
                });
            }
            dims.push(d);
        }
        if dims.is_empty() {
            return Err(GroupingError::Empty);
        }
        Ok(Grouping(dims))
    }
}

/// A group's identity: one label per dimension of its [`Grouping`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupKey(pub Vec<String>);

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" | "))
    }
}
