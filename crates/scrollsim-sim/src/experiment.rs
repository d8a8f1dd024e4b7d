//! Experiments as TOML: personas x models x strategies x policies x seeds, resolved against the
//! config into the exact list of sessions a run executes, and the deterministic slice of that
//! list a shard runs.
//!
//! ```toml
//! name = "persona-study"
//! personas = ["family", "activist"]   # or "all" (every config/personas/*.toml)
//! control = true                      # add a no-persona arm
//! models = ["offline"]                # [judge.models.<name>] entries, or "offline"
//! strategies = ["simple", "isq"]
//! policies = ["foryou:tiktok-like", "foryou:youtube-like", "random"]
//! seeds = [1, 2, 3]                   # or { from = 1, count = 3 }
//! session_length = 150
//! windows = { first = 50, last_start = 100, last = 50 }
//! align_threshold = 0.5
//! concurrency = 8
//! frames_per_video = 1                # keyframes shown per video (default: all)
//! [policy.foryou]                     # overrides of the config's [policy] ...
//! epsilon = 0.05
//! [judge]                             # ... and [judge] sections
//! cache = "replay-strict"
//! [[sweep]]                           # one foryou mechanism varied from a base:
//! base = "foryou:fast-adapting"       # (default "foryou")
//! param = "feedback_delay"            # any [policy.foryou] key
//! values = [0, 5, 10, 20]             # one policy arm per value
//! ```
//!
//! A sweep expands into ordinary policies: each value becomes a preset named
//! `<base preset>+<param>=<value>` (`<param>=<value>` on plain `foryou`), added to
//! `policy.presets` and appended to `policies` as `foryou:<name>`, so it runs, resumes, shards
//! and reports like any policy, and every value is an arm on the same seeds as `random`.

use std::collections::BTreeMap;
use std::path::Path;

use scrollsim_core::config::{load_persona, parse_toml, ConfigError, ValueCatalog};
use scrollsim_core::{AlignmentWindows, Capability, Persona, PersonaId, RunId, SessionId};
use scrollsim_vlm::config::{
    JudgeConfig, JudgeSpec, ParserKind, StrategyKind, UnknownModel, OFFLINE_MODEL,
};
use serde::{Deserialize, Serialize};

use crate::config::{PolicyConfig, PolicyKind, PolicySpec};

/// The experiment file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    personas: PersonaList,
    #[serde(default)]
    control: bool,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    strategies: Vec<StrategyKind>,
    parser: Option<ParserKind>,
    policies: Vec<PolicySpec>,
    seeds: Seeds,
    session_length: Option<u32>,
    windows: Option<AlignmentWindows>,
    align_threshold: Option<f32>,
    concurrency: Option<usize>,
    frames_per_video: Option<usize>,
    #[serde(default)]
    policy: toml::Table,
    #[serde(default)]
    judge: toml::Table,
    #[serde(default)]
    sweep: Vec<SweepFile>,
}

/// One `[[sweep]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    base: Option<PolicySpec>,
    param: String,
    values: Vec<toml::Value>,
}

/// A `foryou` parameter varied from a base preset: the arms of a measured curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The policy every point starts from (`foryou` or `foryou:<preset>`).
    pub base: PolicySpec,
    /// The `[policy.foryou]` key varied.
    pub param: String,
    /// Each point: the value, and the policy (generated preset) that runs it.
    pub points: Vec<SweepPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub value: serde_json::Value,
    pub policy: PolicySpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
enum PersonaList {
    #[default]
    None,
    /// `"all"`.
    Keyword(String),
    Ids(Vec<PersonaId>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seeds {
    List(Vec<u64>),
    Range { from: u64, count: u32 },
}

/// What an experiment falls back on: the config's `[policy]` and `[judge]`, and where personas
/// and value keywords live.
pub struct Defaults<'a> {
    /// `paths.config`: `values.toml` and `personas/`.
    pub config_dir: &'a Path,
    pub policy: &'a PolicyConfig,
    pub judge: &'a JudgeConfig,
}

/// An experiment resolved against the config: everything a run needs, written to
/// `resolved.json` so that `--resume` continues with exactly this, whatever the config files
/// say by then. It holds no secrets (models name their key's environment variable only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub personas: Vec<Persona>,
    pub control: bool,
    pub models: Vec<String>,
    pub strategies: Vec<StrategyKind>,
    pub parser: ParserKind,
    pub policies: Vec<PolicySpec>,
    pub seeds: Vec<u64>,
    /// Steps per session (the keyword benchmark runs its retrieval plan instead).
    pub session_length: u32,
    pub windows: AlignmentWindows,
    pub align_threshold: f32,
    /// Sessions run at once (each model's own call limits apply underneath).
    pub concurrency: usize,
    /// Show the judge at most this many of each video's keyframes, evenly spaced (1: the
    /// middle one, as the paper showed one screenshot per video). None: every keyframe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_per_video: Option<usize>,
    pub policy: PolicyConfig,
    pub judge: JudgeConfig,
    /// The value keywords (the keyword benchmark retrieves by them).
    pub values: ValueCatalog,
    /// What the probe found each live model's endpoint can do, by model name (filled in
    /// before the run starts; empty for offline or replay-only studies).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<String, Capability>,
    /// The `[[sweep]]`s, already expanded into `policies` and `policy.presets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<Sweep>,
    /// For a closed-loop re-run ([`Experiment::rejudged`]): the run it re-runs with another
    /// judge. Every trace header carries it (`config.closed_loop_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_loop_of: Option<ClosedLoopOf>,
}

/// The source of a closed-loop re-run: the same sessions (arm, strategy, policy, seed) with
/// another judge, the feed reacting to it. Distinct from an open-loop replay, whose feed is
/// the recorded one (`fixed(<policy>)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoopOf {
    /// The source run's id.
    pub run: RunId,
    /// The source run's models (each new session pairs with one session of each).
    pub models: Vec<String>,
    /// The source run's strategies.
    pub strategies: Vec<StrategyKind>,
}

/// One session of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPlan {
    pub id: SessionId,
    /// None for the control arm.
    pub persona: Option<Persona>,
    pub judge: JudgeSpec,
    pub policy: PolicySpec,
    pub seed: u64,
}

impl Experiment {
    /// Reads and resolves an experiment file. Every error names the file and the key.
    pub fn load(path: &Path, defaults: &Defaults<'_>) -> Result<Experiment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, defaults)
    }

    /// Resolves experiment text read from `origin` (named in errors).
    pub fn parse(text: &str, origin: &Path, d: &Defaults<'_>) -> Result<Experiment, ConfigError> {
        let f: ExperimentFile = parse_toml(text, origin)?;
        let invalid = |key: &str, expected: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            key: key.to_string(),
            expected,
        };

        let mut policy: PolicyConfig = merged(d.policy, &f.policy)
            .map_err(|e| invalid("policy", format!("{e} (merged over the config's [policy])")))?;
        policy
            .validate()
            .map_err(|(k, e)| invalid(&format!("policy.{k}"), e))?;
        let judge: JudgeConfig = merged(d.judge, &f.judge)
            .map_err(|e| invalid("judge", format!("{e} (merged over the config's [judge])")))?;
        judge.validate().map_err(|e| invalid(&e.key, e.expected))?;

        let personas_dir = d.config_dir.join("personas");
        let personas = match f.personas {
            PersonaList::None => Vec::new(),
            PersonaList::Keyword(k) if k == "all" => {
                scrollsim_core::config::load_personas(&personas_dir)?
            }
            PersonaList::Keyword(k) => {
                return Err(invalid(
                    "personas",
                    format!("a list of persona ids or \"all\", not {k:?}"),
                ))
            }
            PersonaList::Ids(ids) => {
                let mut out: Vec<Persona> = Vec::new();
                for (i, id) in ids.iter().enumerate() {
                    let file = personas_dir.join(format!("{id}.toml"));
                    if !file.is_file() {
                        return Err(invalid(
                            &format!("personas[{i}]"),
                            format!(
                                "a persona in {} ({} does not exist)",
                                personas_dir.display(),
                                file.display()
                            ),
                        ));
                    }
                    let p = load_persona(&file)?;
                    if out.iter().any(|q| q.id == p.id) {
                        return Err(invalid(
                            &format!("personas[{i}]"),
                            format!("{id:?} listed twice"),
                        ));
                    }
                    out.push(p);
                }
                out
            }
        };
        if personas.is_empty() && !f.control {
            return Err(invalid(
                "personas",
                "at least one persona, or `control = true`".into(),
            ));
        }

        let models = if f.models.is_empty() {
            vec![judge.default_model.clone()]
        } else {
            f.models
        };
        for (i, m) in models.iter().enumerate() {
            if m != OFFLINE_MODEL {
                judge
                    .model(m)
                    .map_err(|e| invalid(&format!("models[{i}]"), e.to_string()))?;
            }
            if models[..i].contains(m) {
                return Err(invalid(
                    &format!("models[{i}]"),
                    format!("{m:?} listed twice"),
                ));
            }
        }
        let strategies = if f.strategies.is_empty() {
            vec![judge.default_strategy]
        } else {
            f.strategies
        };
        if f.policies.is_empty() && f.sweep.is_empty() {
            return Err(invalid("policies", "at least one policy".into()));
        }
        let mut policies = Vec::with_capacity(f.policies.len());
        for (i, p) in f.policies.iter().enumerate() {
            if policy.foryou_params(p.preset.as_deref()).is_none() {
                return Err(invalid(
                    &format!("policies[{i}]"),
                    format!(
                        "a preset defined in [policy.presets] (known: {}), not {:?}",
                        policy.preset_names(),
                        p.preset.as_deref().unwrap_or_default()
                    ),
                ));
            }
            // An alias runs, and is recorded as, the preset it names.
            let p = PolicySpec {
                kind: p.kind,
                preset: p
                    .preset
                    .as_deref()
                    .map(|n| policy.canonical_preset(n).to_string()),
            };
            if policies.contains(&p) {
                return Err(invalid(
                    &format!("policies[{i}]"),
                    format!("\"{p}\" listed twice"),
                ));
            }
            policies.push(p);
        }
        let mut sweeps = Vec::with_capacity(f.sweep.len());
        for (i, sw) in f.sweep.iter().enumerate() {
            let sweep = expand_sweep(sw, &mut policy)
                .map_err(|(k, e)| invalid(&format!("sweep[{i}]{k}"), e))?;
            for pt in &sweep.points {
                if policies.contains(&pt.policy) {
                    return Err(invalid(
                        &format!("sweep[{i}]"),
                        format!("\"{}\" also comes from another sweep or policy", pt.policy),
                    ));
                }
                policies.push(pt.policy.clone());
            }
            sweeps.push(sweep);
        }
        let seeds = match f.seeds {
            Seeds::List(s) => s,
            Seeds::Range { from, count } => (0..count as u64).map(|i| from + i).collect(),
        };
        if seeds.is_empty() {
            return Err(invalid("seeds", "at least one seed".into()));
        }
        let only_keyword = policies.iter().all(|p| p.kind == PolicyKind::Keyword);
        let session_length = match (f.session_length, only_keyword) {
            (Some(0), _) => return Err(invalid("session_length", "at least 1".into())),
            (Some(n), _) => n,
            // The keyword benchmark's length is its retrieval plan.
            (None, true) => 0,
            (None, false) => {
                return Err(invalid(
                    "session_length",
                    "steps per session (required)".into(),
                ))
            }
        };
        let windows = f.windows.unwrap_or_default();
        if windows.first == 0 || windows.last == 0 {
            return Err(invalid(
                "windows",
                "first and last windows of at least one step".into(),
            ));
        }
        if !only_keyword && windows.needs() > session_length {
            return Err(invalid(
                "windows",
                format!(
                    "windows that fit the session: the last window ends at step {} but session_length is {session_length}",
                    windows.last_start + windows.last
                ),
            ));
        }
        let align_threshold = f.align_threshold.unwrap_or(0.5);
        if !(align_threshold.is_finite() && align_threshold > 0.0 && align_threshold <= 1.0) {
            return Err(invalid(
                "align_threshold",
                format!("in (0, 1] (got {align_threshold})"),
            ));
        }
        let concurrency = f.concurrency.unwrap_or(4);
        if concurrency == 0 {
            return Err(invalid("concurrency", "at least 1".into()));
        }
        if f.frames_per_video == Some(0) {
            return Err(invalid(
                "frames_per_video",
                "at least 1 (leave it out to show every keyframe)".into(),
            ));
        }
        let values = ValueCatalog::load(&d.config_dir.join("values.toml"))?;
        let name = f.name.unwrap_or_else(|| {
            origin
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into())
        });
        Ok(Experiment {
            name,
            description: f.description,
            personas,
            control: f.control,
            models,
            strategies,
            parser: f.parser.unwrap_or(judge.default_parser),
            policies,
            seeds,
            session_length,
            windows,
            align_threshold,
            concurrency,
            frames_per_video: f.frames_per_video,
            policy,
            judge,
            values,
            capabilities: BTreeMap::new(),
            sweeps,
            closed_loop_of: None,
        })
    }

    /// Every session, in a fixed order: arm (control first, then personas as listed) x model
    /// x strategy x policy x seed.
    pub fn sessions(&self) -> Vec<SessionPlan> {
        let arms: Vec<Option<&Persona>> = self
            .control
            .then_some(None)
            .into_iter()
            .chain(self.personas.iter().map(Some))
            .collect();
        let mut out = Vec::new();
        for persona in arms {
            for model in &self.models {
                for strategy in &self.strategies {
                    for policy in &self.policies {
                        for seed in &self.seeds {
                            let judge = JudgeSpec {
                                model: model.clone(),
                                strategy: *strategy,
                                parser: self.parser,
                            };
                            out.push(SessionPlan {
                                id: session_id(persona, &judge, policy, *seed),
                                persona: persona.cloned(),
                                judge,
                                policy: policy.clone(),
                                seed: *seed,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// The same experiment judged by another model (and, if given, strategy): the closed-loop
    /// counterpart of a counterfactual replay. Personas, policies, seeds, windows and the
    /// resolved `[policy]` stay, so every session pairs with one of the original's on (arm,
    /// strategy, policy, seed), and the feed now reacts to the new judge. The error says what
    /// is wrong with the model name.
    pub fn rejudged(
        &self,
        source: &RunId,
        model: &str,
        strategy: Option<StrategyKind>,
    ) -> Result<Experiment, UnknownModel> {
        if model != OFFLINE_MODEL {
            self.judge.model(model)?;
        }
        let mut exp = self.clone();
        exp.name = format!("{}-closed-loop-{}", self.name, file_safe(model));
        exp.models = vec![model.to_string()];
        if let Some(s) = strategy {
            exp.strategies = vec![s];
        }
        // The probe findings were for the source's models; the new judge is probed anew.
        exp.capabilities.clear();
        exp.closed_loop_of = Some(ClosedLoopOf {
            run: source.clone(),
            models: self.models.clone(),
            strategies: self.strategies.clone(),
        });
        Ok(exp)
    }

    /// Whether any session uses the keyword benchmark (which needs embedded keywords).
    pub fn uses_keyword(&self) -> bool {
        self.policies.iter().any(|p| p.kind == PolicyKind::Keyword)
    }
}

/// `<persona|control>__<model>__<strategy>__<policy>__s<seed>`, safe as a file name.
pub fn session_id(
    persona: Option<&Persona>,
    judge: &JudgeSpec,
    policy: &PolicySpec,
    seed: u64,
) -> SessionId {
    let arm = persona.map(|p| p.id.as_str()).unwrap_or("control");
    SessionId::new(format!(
        "{}__{}__{}__{}__s{seed}",
        file_safe(arm),
        file_safe(&judge.model),
        judge.strategy,
        file_safe(&policy.label()),
    ))
}

/// Letters, digits, `.`, `-` and `_` kept; anything else (`/`, `:`, spaces) becomes `-`.
fn file_safe(s: &str) -> String {
    scrollsim_core::ids::file_safe(s, '-')
}

/// Expands one `[[sweep]]` into presets added to `policy`. Errors are (key suffix, expected).
fn expand_sweep(sw: &SweepFile, policy: &mut PolicyConfig) -> Result<Sweep, (String, String)> {
    let base = match &sw.base {
        None => PolicySpec {
            kind: PolicyKind::ForYou,
            preset: None,
        },
        Some(b) if b.kind == PolicyKind::ForYou => PolicySpec {
            kind: PolicyKind::ForYou,
            preset: b
                .preset
                .as_deref()
                .map(|n| policy.canonical_preset(n).to_string()),
        },
        Some(b) => {
            return Err((
                ".base".into(),
                format!(
                "`foryou` or `foryou:<preset>` (only foryou has mechanisms to vary), not \"{b}\""
            ),
            ))
        }
    };
    let base_params = policy
        .foryou_params(base.preset.as_deref())
        .cloned()
        .ok_or_else(|| {
            (
                ".base".into(),
                format!(
                    "a preset in [policy.presets] (known: {})",
                    policy.preset_names()
                ),
            )
        })?;
    if sw.values.is_empty() {
        return Err((".values".into(), "at least one value".into()));
    }
    let mut points = Vec::with_capacity(sw.values.len());
    for (j, value) in sw.values.iter().enumerate() {
        let key = || format!(".values[{j}]");
        let mut one = toml::Table::new();
        one.insert(sw.param.clone(), value.clone());
        let params: crate::config::ForYouParams = merged(&base_params, &one).map_err(|e| {
            if e.is_unknown_field() {
                (".param".into(), format!("a [policy.foryou] key ({e})"))
            } else {
                (key(), e.to_string())
            }
        })?;
        let mut check = policy.clone();
        check.foryou = params.clone();
        check
            .validate()
            .map_err(|(k, e)| (key(), format!("{e} ({k})")))?;
        let shown = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = match &base.preset {
            Some(p) => format!("{p}+{}={shown}", sw.param),
            None => format!("{}={shown}", sw.param),
        };
        match policy.presets.get(&name) {
            Some(existing) if *existing != params => {
                return Err((
                    key(),
                    format!("a preset name not already used differently ({name:?})"),
                ))
            }
            _ => {
                policy.presets.insert(name.clone(), params);
            }
        }
        points.push(SweepPoint {
            value: serde_json::to_value(value).map_err(|e| (key(), e.to_string()))?,
            policy: PolicySpec {
                kind: PolicyKind::ForYou,
                preset: Some(name),
            },
        });
    }
    Ok(Sweep {
        base,
        param: sw.param.clone(),
        points,
    })
}

/// Why a table merged over its defaults does not read as their type.
#[derive(Debug, thiserror::Error)]
enum MergeError {
    /// The defaults themselves do not serialise to TOML (a bug, not the user's file).
    #[error("{0}")]
    Defaults(#[from] toml::ser::Error),
    #[error("{}", .0.to_string().trim_end())]
    Merged(#[from] toml::de::Error),
}

impl MergeError {
    /// Whether the override names a key the type does not have.
    fn is_unknown_field(&self) -> bool {
        matches!(self, MergeError::Merged(e) if e.message().starts_with("unknown field"))
    }
}

/// `base` with `overrides` merged in, table by table (an override replaces scalars and
/// arrays, and merges into tables).
fn merged<T: Serialize + serde::de::DeserializeOwned>(
    base: &T,
    overrides: &toml::Table,
) -> Result<T, MergeError> {
    let mut value = toml::Value::try_from(base)?;
    merge_into(&mut value, overrides);
    Ok(value.try_into()?)
}

fn merge_into(base: &mut toml::Value, overrides: &toml::Table) {
    let Some(table) = base.as_table_mut() else {
        *base = toml::Value::Table(overrides.clone());
        return;
    };
    for (k, v) in overrides {
        match (table.get_mut(k), v) {
            (Some(existing @ toml::Value::Table(_)), toml::Value::Table(o)) => {
                merge_into(existing, o)
            }
            _ => {
                table.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A deterministic slice of a session list: sessions `i, i + n, i + 2n...` (0-based `i`), so
/// shards get similar mixes of personas and policies. Give every shard of a run the same
/// experiment and `--run-id`; `i/n` matches Kubernetes indexed jobs
/// (`$JOB_COMPLETION_INDEX/n`) and Slurm arrays started with `--array=0-(n-1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn select<T: Clone>(&self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .skip(self.index as usize)
            .step_by(self.count as usize)
            .cloned()
            .collect()
    }
}

/// A `--shard` that is not `i/n` with `0 <= i < n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard {0:?}: expected i/n with 0 <= i < n, such as 0/4")]
pub struct BadShard(pub String);

impl std::str::FromStr for Shard {
    type Err = BadShard;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}
