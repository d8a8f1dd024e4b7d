//! What sessions are grouped by: persona, model, strategy, policy (from each session's
//! header) or platform (from each step), alone or combined (`persona,model`).

use std::fmt;
use std::str::FromStr;

use scrollsim_core::{Header, JudgeKind, Platform};
use serde::{Deserialize, Serialize};

/// One dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Persona,
    Model,
    Strategy,
    Policy,
    /// Grouped per step: a session that mixes platforms contributes to each of them.
    Platform,
}

impl GroupBy {
    pub const ALL: [GroupBy; 5] = [
        GroupBy::Persona,
        GroupBy::Model,
        GroupBy::Strategy,
        GroupBy::Policy,
        GroupBy::Platform,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Persona => "persona",
            GroupBy::Model => "model",
            GroupBy::Strategy => "strategy",
            GroupBy::Policy => "policy",
            GroupBy::Platform => "platform",
        }
    }

    /// The group a session belongs to; None for [`GroupBy::Platform`], which is per step.
    pub fn of_header(self, h: &Header) -> Option<String> {
        Some(match self {
            GroupBy::Persona => h
                .persona
                .as_ref()
                .map_or_else(|| CONTROL.to_string(), |p| p.id.0.clone()),
            GroupBy::Model => model_label(h),
            GroupBy::Strategy => h.judge.strategy.to_string(),
            GroupBy::Policy => match &h.policy.preset {
                Some(preset) => format!("{}/{preset}", h.policy.name),
                None => h.policy.name.clone(),
            },
            GroupBy::Platform => return None,
        })
    }
}

/// The persona group of sessions run without a persona (the control arm).
pub const CONTROL: &str = "(no persona)";

/// How a session's judge is named in tables: the model name, with the offline persona model
/// always labelled as such (it is not a VLM) and the text-only ablation marked.
pub fn model_label(h: &Header) -> String {
    match h.judge.kind {
        JudgeKind::OfflinePersonaModel if h.judge.model.contains("offline persona model") => {
            h.judge.model.clone()
        }
        JudgeKind::OfflinePersonaModel => format!("offline persona model ({})", h.judge.model),
        JudgeKind::Vlm => h.judge.model.clone(),
        JudgeKind::TextOnly => format!("{} (text-only)", h.judge.model),
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown grouping {s:?}: expected persona, model, strategy, policy or platform"
                )
            })
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut dims = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let d: GroupBy = part.parse()?;
            if dims.contains(&d) {
                return Err(format!("grouping {s:?} names {d} twice"));
            }
            dims.push(d);
        }
        if dims.is_empty() {
            return Err(
                "empty grouping: expected persona, model, strategy, policy or platform".into(),
            );
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
