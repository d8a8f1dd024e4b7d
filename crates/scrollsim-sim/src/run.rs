//! A run on disk, and executing it.
//!
//! ```text
//! runs/<run-id>/experiment.toml             the experiment file as given
//! runs/<run-id>/resolved.json               the resolved experiment (no secrets)
//! runs/<run-id>/sessions/<session-id>.jsonl one trace per session
//! runs/<run-id>/summary.json                written by the caller through scrollsim-report
//! ```
//!
//! Running into an existing directory continues it (the same as `--resume`) when its
//! `resolved.json` matches, and refuses otherwise; that is what lets shards share a directory
//! and lets a retried array task pick up where it stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use scrollsim_core::config::ConfigError;
use scrollsim_core::{EndReason, Header, RunId, SessionId, SCHEMA_VERSION, VERSION};
use scrollsim_core::{Retrieval, Value};
use scrollsim_embed::Embedder;
use scrollsim_store::{StoreError, VectorName, VideoStore};
use scrollsim_vlm::config::JudgeSpec;
use scrollsim_vlm::{build_judge, Judge, JudgeEnv};
use tokio::sync::Semaphore;

use crate::config::{KeywordRetrieval, PolicySpec};
use crate::experiment::{Experiment, SessionPlan, Shard};
use crate::policy::{build_policy, FeedPolicy, KeywordQuery, KeywordSet, PolicyError};
use crate::progress::{RunProgress, Stop};
use crate::session::{run_session, Outcome, Session, SessionEnv, SessionError};

/// What a run uses besides its experiment.
#[derive(Clone)]
pub struct RunDeps {
    pub store: Arc<dyn VideoStore>,
    /// Judges are built from it (one per model x strategy x parser), so each model's limits,
    /// the budget and the ledger hold across the run's sessions.
    pub judges: JudgeEnv,
    /// The store's text embedder: the keyword benchmark embeds its keywords with it when it
    /// retrieves by text.
    pub text_embedder: Option<Arc<dyn Embedder>>,
    /// The store's image embedder (CLIP), when one is configured: the keyword benchmark
    /// embeds its keywords with its text tower to retrieve by image vectors.
    pub image_embedder: Option<Arc<dyn Embedder>>,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}: not a run directory ({detail})")]
    NotARun { path: PathBuf, detail: String },
    #[error("{path} exists and was resolved differently (`{field}` differs): choose another --run-id, or resume it with `scrollsim run --resume {dir}`")]
    Mismatch {
        path: PathBuf,
        field: String,
        dir: String,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("policy {policy}: {source}")]
    Policy { policy: String, source: PolicyError },
    #[error("judge {model}/{strategy}: {detail}")]
    Judge {
        model: String,
        strategy: String,
        detail: String,
    },
    #[error("keyword benchmark: {0}")]
    Keywords(String),
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: RunId,
    pub root: PathBuf,
}

impl RunDir {
    pub const EXPERIMENT: &'static str = "experiment.toml";
    pub const RESOLVED: &'static str = "resolved.json";
    pub const SESSIONS: &'static str = "sessions";

    /// A fresh run id: `<experiment name>-<UTC date>-<time>`.
    pub fn new_id(exp: &Experiment) -> RunId {
        RunId::new(format!(
            "{}-{}",
            exp.name,
            Utc::now().format("%Y%m%d-%H%M%S")
        ))
    }

    /// Creates `runs/<id>/` for an experiment, or opens it when it holds the same resolved
    /// experiment (continuing it).
    pub fn create(
        runs: &Path,
        id: &RunId,
        experiment_text: &str,
        exp: &Experiment,
    ) -> Result<RunDir, RunError> {
        let root = runs.join(id.as_str());
        let dir = RunDir {
            id: id.clone(),
            root,
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(dir.sessions_dir()).map_err(io(&dir.sessions_dir()))?;
        let resolved = dir.root.join(Self::RESOLVED);
        let json = serde_json::to_string_pretty(exp).expect("experiment serializes");
        match std::fs::read_to_string(&resolved) {
            Ok(existing) => {
                let old: serde_json::Value =
                    serde_json::from_str(&existing).map_err(|e| RunError::NotARun {
                        path: resolved.clone(),
                        detail: e.to_string(),
                    })?;
                let mut new: serde_json::Value = serde_json::from_str(&json).expect("just written");
                // A fresh probe of the same endpoint is not a different experiment.
                let mut old = old;
                for v in [&mut old, &mut new] {
                    if let Some(m) = v.as_object_mut() {
                        m.remove("capabilities");
                    }
                }
                if let Some(field) = first_difference(&old, &new) {
                    return Err(RunError::Mismatch {
                        path: dir.root.clone(),
                        field,
                        dir: dir.root.display().to_string(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&dir.root.join(Self::EXPERIMENT), experiment_text.as_bytes())?;
                write_atomic(&resolved, json.as_bytes())?;
            }
            Err(source) => {
                return Err(RunError::Io {
                    path: resolved,
                    source,
                })
            }
        }
        Ok(dir)
    }

    /// Opens an existing run for `--resume`: its id is the directory name, its experiment the
    /// `resolved.json` inside.
    pub fn open(path: &Path) -> Result<(RunDir, Experiment), RunError> {
        let resolved = path.join(Self::RESOLVED);
        let text = std::fs::read_to_string(&resolved).map_err(|e| RunError::NotARun {
            path: path.to_path_buf(),
            detail: format!("cannot read {}: {e}", resolved.display()),
        })?;
        let exp: Experiment = serde_json::from_str(&text).map_err(|e| RunError::NotARun {
            path: resolved.clone(),
            detail: e.to_string(),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| RunError::NotARun {
                path: path.to_path_buf(),
                detail: "no directory name".into(),
            })?;
        Ok((
            RunDir {
                id: RunId::new(name),
                root: path.to_path_buf(),
            },
            exp,
        ))
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.root.join(Self::SESSIONS)
    }

    pub fn trace_path(&self, id: &SessionId) -> PathBuf {
        self.sessions_dir().join(format!("{id}.jsonl"))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let io = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The dotted path of the first difference between two JSON documents.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q).map(|d| {
                        if d.is_empty() {
                            k.clone()
                        } else {
                            format!("{k}.{d}")
                        }
                    }),
                    _ => Some(k.clone()),
                })
        }
        _ if a == b => None,
        _ => Some(String::new()),
    }
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    pub run_id: RunId,
    /// Sessions this shard owns.
    pub sessions: usize,
    pub ended: usize,
    pub already_ended: usize,
    pub stopped: usize,
    /// Sessions that could not run or continue (their trace has no end event).
    pub failures: Vec<(SessionId, String)>,
    /// Sessions whose trace ended in error (`EndReason::Error`): failed, never counted as
    /// done; `--resume` continues them once the cause is fixed.
    pub errored: Vec<(SessionId, String)>,
    /// The store went down during the run (its circuit breaker opened): no session started
    /// after that (they count as `stopped`); the ones it cut short are in `interrupted`.
    pub outage: Option<scrollsim_store::breaker::Outage>,
    /// Sessions a store outage cut short (their traces end at their last complete step).
    pub interrupted: Vec<SessionId>,
}

impl RunReport {
    /// Whether every owned session has its end event (some may have ended in error).
    pub fn complete(&self) -> bool {
        self.failures.is_empty()
            && self.outage.is_none()
            && self.interrupted.is_empty()
            && self.stopped == 0
            && self.ended + self.already_ended == self.sessions
    }

    /// Whether every owned session ended and none of them in error.
    pub fn succeeded(&self) -> bool {
        self.complete() && self.errored.is_empty()
    }
}

/// Runs (or continues) the sessions of `shard`, at most `exp.concurrency` at once. It writes
/// traces only: the numbers (`summary.json` among them) are the report crate's.
pub async fn execute(
    dir: &RunDir,
    exp: &Experiment,
    shard: Shard,
    deps: &RunDeps,
    stop: Stop,
    progress: Arc<RunProgress>,
) -> Result<RunReport, RunError> {
    let all = exp.sessions();
    let mine = shard.select(&all);
    let corpus = deps.store.corpus_id().await?;

    let keywords = if exp.uses_keyword() {
        Some(keyword_set(exp, deps).await?)
    } else {
        None
    };
    let mut policies: HashMap<PolicySpec, Arc<dyn FeedPolicy>> = HashMap::new();
    for spec in &exp.policies {
        let p = build_policy(spec, &exp.policy, deps.store.clone(), keywords.clone()).map_err(
            |source| RunError::Policy {
                policy: spec.to_string(),
                source,
            },
        )?;
        policies.insert(spec.clone(), p);
    }
    let mut judges: HashMap<JudgeSpec, Arc<dyn Judge>> = HashMap::new();
    for plan in &mine {
        if !judges.contains_key(&plan.judge) {
            let j = build_judge(&exp.judge, &plan.judge, &deps.judges).map_err(|e| {
                RunError::Judge {
                    model: plan.judge.model.clone(),
                    strategy: plan.judge.strategy.to_string(),
                    detail: e.to_string(),
                }
            })?;
            judges.insert(plan.judge.clone(), j);
        }
    }

    let mut sessions = Vec::with_capacity(mine.len());
    let mut planned_steps = 0u64;
    for plan in &mine {
        let policy = policies[&plan.policy].clone();
        let judge = judges[&plan.judge].clone();
        let length = match policy.planned_length().await {
            Ok(Some(n)) => n,
            Ok(None) => exp.session_length,
            Err(source) => {
                return Err(RunError::Policy {
                    policy: plan.policy.to_string(),
                    source,
                })
            }
        };
        planned_steps += length as u64;
        let header = header_for(
            dir,
            exp,
            plan,
            &corpus,
            length,
            policy.as_ref(),
            judge.as_ref(),
        );
        sessions.push(Session {
            header,
            policy,
            judge,
            path: dir.trace_path(&plan.id),
        });
    }
    progress.plan(sessions.len() as u64, planned_steps);

    let env = SessionEnv {
        store: deps.store.clone(),
        dwell: exp.policy.dwell,
        frames_per_video: exp.frames_per_video,
        stop: stop.clone(),
        progress: progress.clone(),
    };
    let limit = Arc::new(Semaphore::new(exp.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for s in sessions {
        let env = env.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore never closes");
            let id = s.header.session_id.clone();
            // A store known to be down starts no session: the run stops with one message.
            if env.stop.requested() || env.store.outage().is_some() {
                return (id, Ok(Outcome::Stopped { steps: 0 }));
            }
            let r = run_session(&env, &s).await;
            env.progress.session_done();
            (id, r)
        });
    }
    let (mut ended, mut already_ended, mut stopped) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut errored = Vec::new();
    let mut interrupted = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (id, result) = joined.expect("session task panicked");
        let reason = match &result {
            Ok(Outcome::Ended { reason, .. }) => {
                ended += 1;
                Some(reason)
            }
            Ok(Outcome::AlreadyEnded { reason, .. }) => {
                already_ended += 1;
                Some(reason)
            }
            Ok(Outcome::Stopped { .. }) => {
                stopped += 1;
                None
            }
            Err(
                SessionError::Store { .. }
                | SessionError::Policy {
                    source: PolicyError::Store(_),
                    ..
                },
            ) if deps.store.outage().is_some() => {
                interrupted.push(id.clone());
                None
            }
            Err(e) => {
                tracing::error!(session = %id, "{e}");
                failures.push((id.clone(), e.to_string()));
                None
            }
        };
        if let Some(EndReason::Error { message }) = reason {
            tracing::error!(session = %id, "ended in error: {message}");
            errored.push((id, message.clone()));
        }
    }
    failures.sort();
    errored.sort();
    interrupted.sort();
    Ok(RunReport {
        run_id: dir.id.clone(),
        sessions: mine.len(),
        ended,
        already_ended,
        stopped,
        failures,
        errored,
        outage: deps.store.outage(),
        interrupted,
    })
}

fn header_for(
    dir: &RunDir,
    exp: &Experiment,
    plan: &SessionPlan,
    corpus: &scrollsim_core::CorpusId,
    length: u32,
    policy: &dyn FeedPolicy,
    judge: &dyn Judge,
) -> Header {
    let mut header = Header {
        schema_version: SCHEMA_VERSION,
        scrollsim_version: VERSION.to_string(),
        run_id: dir.id.clone(),
        session_id: plan.id.clone(),
        created_at: Utc::now(),
        persona: plan.persona.clone(),
        judge: judge.info(),
        policy: policy.info(),
        seed: plan.seed,
        corpus: corpus.clone(),
        session_length: length,
        windows: exp.windows,
        align_threshold: exp.align_threshold,
        config: serde_json::json!({
            "experiment": exp.name,
            "judge_spec": plan.judge,
            "judge": exp.judge,
            "dwell": exp.policy.dwell,
        }),
    };
    if let Some(n) = exp.frames_per_video {
        header.config["frames_per_video"] = n.into();
    }
    if let Some(of) = &exp.closed_loop_of {
        header.config["closed_loop_of"] =
            serde_json::to_value(of).expect("closed_loop_of serializes");
    }
    header
}

/// Embeds every value keyword for the retrieval the experiment asks for: by image vectors
/// (CLIP's text tower) when `using = "image"`, or `"auto"` with an image embedder and a corpus
/// that has image vectors; by text vectors otherwise. The choice is recorded in every keyword
/// trace's policy (`retrieval`), and a fall-back to text is logged.
async fn keyword_set(exp: &Experiment, deps: &RunDeps) -> Result<KeywordSet, RunError> {
    let images = match &deps.image_embedder {
        Some(_) => has_image_vectors(deps.store.as_ref()).await?,
        None => false,
    };
    let retrieval = match (exp.policy.keyword.using, images) {
        (KeywordRetrieval::Text, _) => Retrieval::Text,
        (KeywordRetrieval::Image | KeywordRetrieval::Auto, true) => Retrieval::Image,
        (KeywordRetrieval::Image, false) => {
            return Err(RunError::Keywords(format!(
                "`policy.keyword.using = \"image\"` needs {}; set `using = \"text\"` or \"auto\" to retrieve by caption text instead",
                if deps.image_embedder.is_none() {
                    "an image embedder ([embedder.image] kind = \"clip\")"
                } else {
                    "a corpus ingested with an image embedder (this collection has no image vectors)"
                }
            )))
        }
        (KeywordRetrieval::Auto, false) => {
            tracing::warn!(
                "keyword benchmark: retrieving by text vectors, not image vectors as the paper did ({}); every trace records `retrieval: text` and every table labels the policy keyword(text)",
                if deps.image_embedder.is_none() {
                    "no image embedder is configured"
                } else {
                    "the corpus has no image vectors"
                }
            );
            Retrieval::Text
        }
    };
    let embedder = match retrieval {
        Retrieval::Text => deps.text_embedder.as_ref(),
        Retrieval::Image => deps.image_embedder.as_ref(),
    }
    .ok_or_else(|| {
        RunError::Keywords("no text embedder was given to embed the value keywords".into())
    })?;
    let (values, words): (Vec<Value>, Vec<String>) = exp
        .values
        .values
        .iter()
        .flat_map(|(v, spec)| {
            spec.keywords
                .iter()
                .map(|k| k.trim())
                .filter(|k| !k.is_empty())
                .map(move |k| (v, k.to_string()))
        })
        .unzip();
    let vectors = embedder
        .embed_texts(&words)
        .await
        .map_err(|e| RunError::Keywords(format!("embedding the value keywords: {e}")))?;
    let queries = values
        .into_iter()
        .zip(words)
        .zip(vectors)
        .map(|((value, keyword), vector)| KeywordQuery {
            value,
            keyword,
            vector,
        })
        .collect();
    Ok(KeywordSet {
        retrieval,
        queries: Arc::new(queries),
    })
}

/// Whether the corpus holds image vectors (the store refuses an image-vector request on a
/// collection made without an image embedder).
async fn has_image_vectors(store: &dyn VideoStore) -> Result<bool, RunError> {
    match store.vectors(&[], VectorName::Image).await {
        Ok(_) => Ok(true),
        Err(StoreError::InvalidRequest(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
