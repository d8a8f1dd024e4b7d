//! Building judges: [`JudgeEnv`] holds what judges share (image store, text embedder, the call
//! cache, one call stack per model, prompt templates, trait vectors, the ledger);
//! [`build_judge`] turns a config and a spec into a judge.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use scrollsim_embed::Embedder;

use scrollsim_core::Capability;

use crate::config::{
    CacheMode, DescriptionSource, JudgeConfig, JudgeSpec, ModelConfig, StrategyKind, OFFLINE_MODEL,
};
use crate::images::ImageSource;
use crate::ledger::Ledger;
use crate::offline::{OfflineJudge, TraitCache};
use crate::prompts::PromptTemplate;
use crate::provider::ApiKey;
use crate::recordings::CallCache;
use crate::stack::{build_stack, CallService, StackConfig};
use crate::vlm::{VlmJudge, VlmParts};
use crate::{Judge, JudgeError};

#[derive(Default)]
struct Shared {
    cache: Mutex<Option<Arc<CallCache>>>,
    stacks: Mutex<HashMap<String, CallService>>,
    templates: Mutex<HashMap<StrategyKind, Arc<PromptTemplate>>>,
    traits: Arc<TraitCache>,
}

/// What judges share within one process. Cheap to clone; clones share everything, so build
/// every judge of a run from one environment: then a model's concurrency and rate limits, the
/// budget and the ledger hold across all its sessions.
#[derive(Clone)]
pub struct JudgeEnv {
    images: Option<Arc<dyn ImageSource>>,
    text_embedder: Option<Arc<dyn Embedder>>,
    cache_path: PathBuf,
    prompt_dir: PathBuf,
    ledger: Ledger,
    shared: Arc<Shared>,
    /// Probe records by model name: judges check calls against them and refuse strategies
    /// the endpoint cannot serve.
    capabilities: Arc<HashMap<String, Arc<Capability>>>,
}

/// Whether a strategy sends keyframes: all do, except text-only deciding from the corpus's
/// descriptions.
pub fn strategy_needs_images(strategy: StrategyKind, descriptions: DescriptionSource) -> bool {
    !(strategy == StrategyKind::TextOnly && descriptions == DescriptionSource::Metadata)
}

/// Why a probed endpoint cannot serve a strategy that needs images, in the probe's words.
pub fn blind_reason(c: &Capability) -> String {
    let found = if !c.accepts_images {
        "the endpoint refused a request with an image".to_string()
    } else {
        format!(
            "the endpoint accepts images but the model does not see them ({}{})",
            c.tokens_per_image()
                .map(|t| format!("{t:.0} prompt tokens per image; "))
                .unwrap_or_default(),
            if c.sees_detail.is_empty() {
                "it could not name the pictures' colours"
            } else {
                c.sees_detail.as_str()
            }
        )
    };
    format!(
        "refused before any paid call: the probe of {} at {} found that {found}. Use a vision model, or the text-only strategy with judge.text_only_description = \"metadata\"",
        c.model, c.endpoint
    )
}

impl std::fmt::Debug for JudgeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JudgeEnv")
            .field("cache_path", &self.cache_path)
            .field("prompt_dir", &self.prompt_dir)
            .field("images", &self.images.is_some())
            .field("text_embedder", &self.text_embedder.is_some())
            .finish()
    }
}

impl JudgeEnv {
    /// `cache_path` is the record/replay database (see [`JudgeEnv::default_cache_path`]),
    /// opened when the first VLM judge that uses it is built. `prompt_dir` holds the
    /// `<strategy>.toml` templates ([`JudgeConfig::prompt_dir`]).
    pub fn new(cache_path: impl Into<PathBuf>, prompt_dir: impl Into<PathBuf>) -> Self {
        JudgeEnv {
            images: None,
            text_embedder: None,
            cache_path: cache_path.into(),
            prompt_dir: prompt_dir.into(),
            ledger: Ledger::new(),
            shared: Arc::default(),
            capabilities: Arc::default(),
        }
    }

    /// `<data>/cache/calls.redb`.
    pub fn default_cache_path(data_dir: &Path) -> PathBuf {
        data_dir.join("cache").join("calls.redb")
    }

    /// The keyframe store VLM judges read images from.
    pub fn with_images(mut self, images: Arc<dyn ImageSource>) -> Self {
        self.images = Some(images);
        self
    }

    /// The MiniLM text embedder (the offline persona model needs it).
    pub fn with_text_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.text_embedder = Some(embedder);
        self
    }

    /// The probe records of the study's models (by `[judge.models.<name>]` name).
    pub fn with_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = (String, Capability)>,
    ) -> Self {
        self.capabilities = Arc::new(
            capabilities
                .into_iter()
                .map(|(k, c)| (k, Arc::new(c)))
                .collect(),
        );
        self
    }

    /// Uses an existing ledger (by default each environment has its own).
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = ledger;
        self
    }

    /// The shared ledger: calls, cache hits, tokens and cost so far, per model.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    /// The open call cache, opening it on first use.
    fn call_cache(&self) -> Result<Arc<CallCache>, JudgeError> {
        let mut slot = self.shared.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = Arc::new(CallCache::open(&self.cache_path)?);
        *slot = Some(c.clone());
        Ok(c)
    }

    fn template(&self, strategy: StrategyKind) -> Result<Arc<PromptTemplate>, JudgeError> {
        let mut map = self
            .shared
            .templates
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(t) = map.get(&strategy) {
            return Ok(t.clone());
        }
        let t = Arc::new(PromptTemplate::load(&self.prompt_dir, strategy)?);
        map.insert(strategy, t.clone());
        Ok(t)
    }

    /// The model's call stack, built once per model and configuration.
    fn stack(
        &self,
        cfg: &JudgeConfig,
        name: &str,
        model: &ModelConfig,
    ) -> Result<CallService, JudgeError> {
        let id = serde_json::to_string(&(name, model, cfg.cache, cfg.budget, cfg.retry))
            .map_err(|e| JudgeError::Other(e.to_string()))?;
        let mut stacks = self.shared.stacks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stacks.get(&id) {
            return Ok(s.clone());
        }
        let key = match &model.api_key_env {
            None => None,
            Some(var) => match ApiKey::from_env(var) {
                Some(k) => Some(k),
                // Replaying needs no key: nothing goes to the provider.
                None if cfg.cache == CacheMode::ReplayStrict => None,
                None => {
                    return Err(JudgeError::Config(format!(
                        "judge model `{name}`: environment variable {var} is not set (API keys are read from the environment only); set it, or use cache = \"replay-strict\" to replay recorded calls"
                    )))
                }
            },
        };
        let cache = match cfg.cache {
            CacheMode::Live => None,
            _ => Some(self.call_cache()?),
        };
        let stack = build_stack(StackConfig {
            name,
            model,
            key,
            cache,
            mode: cfg.cache,
            budget: cfg.budget,
            retry: cfg.retry,
            ledger: self.ledger.clone(),
        })?;
        stacks.insert(id, stack.clone());
        Ok(stack)
    }
}

/// Builds the judge a spec names: the offline persona model for `offline`, else the named
/// `[judge.models.*]` entry with the spec's strategy and parser. Checks the config, loads the
/// prompt template and reads the model's key from the environment (a missing key is an error
/// unless the cache mode is replay-strict).
pub fn build_judge(
    cfg: &JudgeConfig,
    spec: &JudgeSpec,
    env: &JudgeEnv,
) -> Result<Arc<dyn Judge>, JudgeError> {
    cfg.validate()?;
    if spec.model == OFFLINE_MODEL {
        let embedder = env.text_embedder.clone().ok_or_else(|| {
            JudgeError::Config(
                "the offline persona model needs the MiniLM text embedder (models/all-MiniLM-L6-v2; see [embedder])"
                    .into(),
            )
        })?;
        return Ok(Arc::new(OfflineJudge::new(
            cfg.offline,
            embedder,
            env.shared.traits.clone(),
            spec.strategy,
        )));
    }
    let model = cfg.model(&spec.model)?;
    if env.images.is_none() {
        return Err(JudgeError::Config(format!(
            "judge model `{}` sends keyframes but the judge environment has no image store",
            spec.model
        )));
    }
    let capability = env.capabilities.get(&spec.model).cloned();
    if let Some(c) = &capability {
        if strategy_needs_images(spec.strategy, cfg.text_only_description) && !c.sees_images {
            return Err(JudgeError::Capability(format!(
                "judge model `{}` with strategy {}: {}",
                spec.model,
                spec.strategy,
                blind_reason(c)
            )));
        }
    }
    let template = env.template(spec.strategy)?;
    let stack = env.stack(cfg, &spec.model, model)?;
    Ok(Arc::new(VlmJudge::new(VlmParts {
        name: spec.model.clone(),
        model: Arc::new(model.clone()),
        strategy: spec.strategy,
        parser: spec.parser,
        template,
        stack,
        images: env.images.clone(),
        isq: cfg.isq,
        descriptions: cfg.text_only_description,
        capability,
    })))
}
