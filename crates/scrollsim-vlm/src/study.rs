//! A study checked as a whole before its first call: every model configured and its key in
//! the environment, every strategy's prompt file loadable and able to serve the arms it is
//! crossed with (persona or control), every live model probed (cached) and able to serve its
//! strategies. Problems name the experiment key to change; nothing is spent until all pass.
//! Warnings (such as arms that are identical by construction) are for the caller to print.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use scrollsim_core::Capability;

use crate::build::{blind_reason, strategy_needs_images};
use crate::config::{CacheMode, JudgeConfig, StrategyKind, OFFLINE_MODEL};
use crate::probe::{ProbeCache, ProbeOptions};
use crate::prompts::PromptTemplate;
use crate::provider::ApiKey;

/// What a study asks of its judges: models x strategies, crossed with personas and/or the
/// control arm.
#[derive(Debug, Clone)]
pub struct StudyPlan<'a> {
    pub models: &'a [String],
    pub strategies: &'a [StrategyKind],
    /// Any persona arm.
    pub personas: bool,
    /// The no-persona control arm.
    pub control: bool,
    /// For the probe: keyframes per decision and so on.
    pub probe: ProbeOptions,
}

/// One thing that must change before the study can run, by the experiment key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyProblem {
    /// `models`, `strategies`, `personas`, `judge`...
    pub key: String,
    pub message: String,
}

/// Every problem found, not just the first.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.0.iter().map(|p| format!("{}: {}", p.key, p.message)).collect::<Vec<_>>().join("\n"))]
pub struct StudyErrors(pub Vec<StudyProblem>);

/// A study that may run.
#[derive(Debug, Clone, Default)]
pub struct StudyReady {
    /// Probe records by model name (live models only).
    pub capabilities: BTreeMap<String, Capability>,
    /// Printed before the run starts.
    pub warnings: Vec<String>,
    /// Per model: probed now, or read from the probe cache.
    pub probed: Vec<(String, bool)>,
}

/// Checks a study. `probes` is where probe records are cached; None skips probing (as does
/// `judge.probe.before_run = false` and the `replay-strict` cache mode, which makes no call).
pub async fn check_study(
    cfg: &JudgeConfig,
    plan: &StudyPlan<'_>,
    prompt_dir: &Path,
    probes: Option<&ProbeCache>,
) -> Result<StudyReady, StudyErrors> {
    let mut problems = Vec::new();
    let mut ready = StudyReady::default();
    macro_rules! problem {
        ($key:expr, $message:expr $(,)?) => {
            problems.push(StudyProblem {
                key: $key.into(),
                message: $message,
            })
        };
    }
    if let Err(e) = cfg.validate() {
        problem!(e.key, e.expected);
    }
    if plan.models.is_empty() {
        problem!("models", "no model to run".into());
    }
    if plan.strategies.is_empty() {
        problem!("strategies", "no strategy to run".into());
    }
    for s in plan.strategies {
        match PromptTemplate::load(prompt_dir, *s) {
            Err(e) => problem!("strategies", format!("strategy {s}: {e}")),
            Ok(t) => {
                if plan.personas && !t.takes_persona() {
                    problem!(
                        "strategies",
                        format!(
                            "strategy {s} takes no persona ({} has no `system` prompt: it is a no-persona protocol); run it in an experiment with control = true and no personas, or use simple or isq with personas",
                            t.path.display()
                        ),
                    );
                }
                if plan.control && !t.takes_control() {
                    problem!(
                        "strategies",
                        format!(
                            "strategy {s} needs a persona ({} has no `system_control` for the control arm); set control = false or add it",
                            t.path.display()
                        ),
                    );
                }
            }
        }
    }
    let live: Vec<&String> = plan
        .models
        .iter()
        .filter(|m| m.as_str() != OFFLINE_MODEL)
        .collect();
    if plan.models.iter().any(|m| m == OFFLINE_MODEL) && plan.strategies.len() > 1 {
        ready.warnings.push(format!(
            "the offline persona model (not a VLM) ignores the prompting strategy: its arms {} are identical by construction, and any difference between them is noise",
            plan.strategies
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut probe_these = Vec::new();
    for name in live {
        let model = match cfg.model(name) {
            Ok(m) => m,
            Err(e) => {
                problem!("models", e.to_string());
                continue;
            }
        };
        if let Some(var) = &model.api_key_env {
            if cfg.cache != CacheMode::ReplayStrict && ApiKey::from_env(var).is_none() {
                problem!(
                    "models",
                    format!(
                        "model `{name}`: environment variable {var} is not set (API keys are read from the environment only); set it, or use judge.cache = \"replay-strict\" to replay recorded calls"
                    ),
                );
                continue;
            }
        }
        probe_these.push((name.clone(), model.clone()));
    }
    let probing = probes.filter(|_| cfg.probe.before_run && cfg.cache != CacheMode::ReplayStrict);
    if let (Some(cache), true) = (probing, problems.is_empty()) {
        let max_age = Duration::from_secs_f64(cfg.probe.max_age_h.max(0.0) * 3600.0);
        for (name, model) in probe_these {
            match cache
                .get_or_probe(&name, &model, &plan.probe, max_age, false)
                .await
            {
                Err(e) => problem!("models", format!("probe: {e}")),
                Ok((c, cached)) => {
                    for s in plan.strategies {
                        if strategy_needs_images(*s, cfg.text_only_description) && !c.sees_images {
                            problem!(
                                "strategies",
                                format!("model `{name}` with strategy {s}: {}", blind_reason(&c)),
                            );
                        }
                    }
                    if c.max_images_accepted > 0 && c.max_images_accepted < plan.probe.keyframes {
                        problem!(
                            "models",
                            format!(
                                "model `{name}`: the endpoint counts at most {} images per request but a decision sends {}; lower the keyframes sent or set judge.models.{name}.images.max_images",
                                c.max_images_accepted, plan.probe.keyframes
                            ),
                        );
                    }
                    ready.probed.push((name.clone(), !cached));
                    ready.capabilities.insert(name, c);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(ready)
    } else {
        Err(StudyErrors(problems))
    }
}
