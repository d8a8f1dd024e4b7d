//! The `[judge]` section of the config: named models with their provider, endpoint, settings,
//! prices, limits and image budget; the default model, cache mode, budget, retry policy, the
//! offline model's parameters and ISQ scoring. Keys are never written here: a model names the
//! environment variable that holds its key.

//!
//! One file per concern: [`kinds`] (strategy, parser, cache mode, description source),
//! [`model`] (a model: provider, endpoint, settings, prices, limits, image budget) and
//! [`policies`] (budget, retry, the offline model's parameters, the probe).

mod kinds;
mod model;
mod policies;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scrollsim_core::config::Invalid;
use scrollsim_core::IsqScoring;
use serde::{Deserialize, Serialize};

pub use kinds::{CacheMode, DescriptionSource, ParserKind, StrategyKind};
pub use model::{
    GenerationSettings, ImageBudget, ImageBudgetOverride, ImageDetail, Limits, ModelConfig, Prices,
    ProviderKind,
};
pub use policies::{BudgetConfig, OfflineParams, ProbeConfig, RetryConfig};

/// The model name that selects the offline persona model instead of a `[judge.models.*]` entry.
pub const OFFLINE_MODEL: &str = "offline";

/// The `[judge.models.*]` name of the model the environment configures ([`JudgeConfig::apply_env`]).
pub const ENV_MODEL_NAME: &str = "local";
/// Environment variables that configure the `local` model (docker-compose's `vlm` profile).
pub const ENV_URL: &str = "SCROLLSIM_VLM_URL";
pub const ENV_MODEL: &str = "SCROLLSIM_VLM_MODEL";
pub const ENV_KEY_ENV: &str = "SCROLLSIM_VLM_KEY_ENV";

/// `[judge]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// `offline` (the offline persona model) or the name of a `[judge.models.<name>]` entry.
    #[serde(default = "default_model")]
    pub default_model: String,
    #[serde(default)]
    pub default_strategy: StrategyKind,
    #[serde(default)]
    pub default_parser: ParserKind,
    /// Directory of the prompt template files (`<strategy>.toml`). Unset: `<paths.config>/prompts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<PathBuf>,
    /// How the record/replay cache is used.
    #[serde(default)]
    pub cache: CacheMode,
    #[serde(default)]
    pub budget: BudgetConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub offline: OfflineParams,
    /// ISQ items to a decision: S% = sum(w_i x item_i) / scale x 100, stay when S% >= threshold.
    #[serde(default)]
    pub isq: IsqScoring,
    /// Where the text-only strategy's description comes from: the model describing the
    /// keyframes (the paper's ablation) or the corpus's metadata.
    #[serde(default)]
    pub text_only_description: DescriptionSource,
    /// `[judge.probe]`: the capability probe before a live study.
    #[serde(default)]
    pub probe: ProbeConfig,
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
}

fn default_model() -> String {
    OFFLINE_MODEL.to_string()
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            default_model: default_model(),
            default_strategy: StrategyKind::default(),
            default_parser: ParserKind::default(),
            prompts: None,
            cache: CacheMode::default(),
            budget: BudgetConfig::default(),
            retry: RetryConfig::default(),
            offline: OfflineParams::default(),
            isq: IsqScoring::default(),
            text_only_description: DescriptionSource::default(),
            probe: ProbeConfig::default(),
            models: BTreeMap::new(),
        }
    }
}

impl JudgeConfig {
    /// The prompt directory: `prompts` when set, else `<config_dir>/prompts`.
    pub fn prompt_dir(&self, config_dir: &Path) -> PathBuf {
        self.prompts
            .clone()
            .unwrap_or_else(|| config_dir.join("prompts"))
    }

    /// The spec a session gets when it names nothing: the default model, strategy and parser.
    pub fn default_spec(&self) -> JudgeSpec {
        JudgeSpec {
            model: self.default_model.clone(),
            strategy: self.default_strategy,
            parser: self.default_parser,
        }
    }

    /// Checks what serde cannot; errors name the key (`judge.models.gpt-4o.limits.concurrency`).
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.models.contains_key(OFFLINE_MODEL) {
            return Err(Invalid::new(
                format!("judge.models.{OFFLINE_MODEL}"),
                format!("the name `{OFFLINE_MODEL}` is reserved for the offline persona model"),
            ));
        }
        if self.default_model != OFFLINE_MODEL && !self.models.contains_key(&self.default_model) {
            return Err(Invalid::new(
                "judge.default_model",
                format!(
                    "`{}` is neither `{OFFLINE_MODEL}` nor a [judge.models.*] entry (known: {})",
                    self.default_model,
                    self.model_names()
                ),
            ));
        }
        for (name, m) in &self.models {
            let section = format!("judge.models.{name}");
            m.validate().map_err(|e| e.within(&section))?;
            if self.budget.max_usd.is_some() && m.prices.is_none() {
                return Err(Invalid::new(
                    format!("{section}.prices"),
                    "judge.budget.max_usd is set, so every model needs prices (input_per_mtok, output_per_mtok)",
                ));
            }
        }
        self.offline
            .validate()
            .map_err(|e| e.within("judge.offline"))?;
        self.retry.validate().map_err(|e| e.within("judge.retry"))?;
        let scale_ok = self.isq.scale.is_finite() && self.isq.scale > 0.0;
        if !scale_ok || !self.isq.threshold.is_finite() {
            return Err(Invalid::new(
                "judge.isq",
                "scale must be > 0 and threshold finite",
            ));
        }
        Ok(())
    }

    /// The model a spec names, or an error listing the known names.
    pub fn model(&self, name: &str) -> Result<&ModelConfig, UnknownModel> {
        self.models.get(name).ok_or_else(|| UnknownModel {
            name: name.to_string(),
            known: self.model_names(),
        })
    }

    fn model_names(&self) -> String {
        if self.models.is_empty() {
            "none".into()
        } else {
            self.models.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// Adds the model named by the environment, as docker-compose's `vlm` profile sets it:
    /// `SCROLLSIM_VLM_URL` (an OpenAI-compatible endpoint with its `/v1`) and
    /// `SCROLLSIM_VLM_MODEL` (the model id the server serves) become `[judge.models.local]`
    /// (replacing its endpoint and model when the file has one), with the key from the
    /// variable `SCROLLSIM_VLM_KEY_ENV` names, if any. Unset or empty: nothing changes.
    pub fn apply_env(&mut self) -> Result<(), Invalid> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let Some(url) = var(ENV_URL) else {
            return Ok(());
        };
        let model = var(ENV_MODEL).ok_or_else(|| {
            Invalid::new(
                format!("environment variable {ENV_MODEL}"),
                format!("must name the model the server at {ENV_URL} serves ({ENV_URL} is set)"),
            )
        })?;
        let entry = self
            .models
            .entry(ENV_MODEL_NAME.to_string())
            .or_insert_with(|| ModelConfig {
                provider: ProviderKind::Openai,
                base_url: None,
                model: String::new(),
                api_key_env: None,
                structured_output: true,
                max_completion_tokens: false,
                settings: GenerationSettings::default(),
                prices: None,
                limits: Limits::default(),
                images: ImageBudgetOverride::default(),
            });
        entry.base_url = Some(url.trim().to_string());
        entry.model = model.trim().to_string();
        if let Some(k) = var(ENV_KEY_ENV) {
            entry.api_key_env = Some(k);
        }
        Ok(())
    }

    /// The real VLM to use when a command would otherwise fall back to the offline model: the
    /// default model when it is usable, else the first usable model by name. Usable means its
    /// key's environment variable is set and non-empty, or it needs no key (a server of one's
    /// own, on this machine or beside it, as docker-compose's `vlm` service is). Reachability
    /// is not checked here: the probe before the study does that.
    pub fn configured_vlm(&self) -> Option<&str> {
        let usable = |m: &ModelConfig| m.key_available() || m.api_key_env.is_none();
        if let Some(m) = self.models.get(&self.default_model) {
            if usable(m) {
                return Some(self.default_model.as_str());
            }
        }
        self.models
            .iter()
            .find(|(_, m)| usable(m))
            .map(|(n, _)| n.as_str())
    }
}

/// A judge spec names a model the config does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "judge model `{name}` is not configured: add [judge.models.{name}] or use `{offline}` (known: {known})",
    offline = OFFLINE_MODEL
)]
pub struct UnknownModel {
    pub name: String,
    /// The configured names, comma-separated (`none` when there are none).
    pub known: String,
}

/// Which judge, strategy and parser a session uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSpec {
    /// `offline` or a `[judge.models.<name>]` name.
    pub model: String,
    pub strategy: StrategyKind,
    pub parser: ParserKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> JudgeConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn shipped_default_config_section_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        let all: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let judge: JudgeConfig = all["judge"].clone().try_into().unwrap();
        judge.validate().unwrap();
        assert_eq!(judge.default_model, OFFLINE_MODEL);
        assert_eq!(
            judge.offline,
            OfflineParams::default(),
            "config and code defaults agree"
        );
        assert_eq!(judge.retry, RetryConfig::default());
        assert_eq!(judge.isq, IsqScoring::default());
        assert_eq!(
            judge.prompt_dir(Path::new("config")),
            Path::new("config/prompts")
        );
    }

    #[test]
    fn defaults_are_offline_and_valid() {
        let c = cfg("");
        assert_eq!(c.default_model, OFFLINE_MODEL);
        assert_eq!(c.cache, CacheMode::ReplayOrLive);
        assert!(c.validate().is_ok());
        assert_eq!(c.configured_vlm(), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = toml::from_str::<JudgeConfig>("cache = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cache"), "{err}");
        let err = toml::from_str::<JudgeConfig>(
            "[models.m]\nprovider = \"openai\"\nmodel = \"x\"\ncolour = 1",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("colour"), "{err}");
        let c = cfg("default_model = \"nope\"");
        assert_eq!(c.validate().unwrap_err().key, "judge.default_model");
        let c = cfg("[models.m]\nprovider = \"openai\"\nmodel = \"x\"\napi_key_env = \"sk-abc\"");
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "judge.models.m.api_key_env");
        assert!(!e.to_string().contains("sk-abc"), "{e}");
        let c = cfg("[budget]\nmax_usd = 5.0\n[models.m]\nprovider = \"gemini\"\nmodel = \"g\"");
        assert_eq!(c.validate().unwrap_err().key, "judge.models.m.prices");
    }

    #[test]
    fn local_endpoints_count_as_configured() {
        let c = cfg(
            "[models.remote]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\napi_key_env = \"SCROLLSIM_TEST_UNSET_KEY_VAR\"\n\
             [models.local]\nprovider = \"openai\"\nmodel = \"qwen\"\nbase_url = \"http://127.0.0.1:8000/v1\"",
        );
        assert!(c.validate().is_ok());
        assert_eq!(c.configured_vlm(), Some("local"));
        assert!(c.models["local"].is_local());
        assert!(!c.models["remote"].is_local());
        let v6 = ModelConfig {
            base_url: Some("http://[::1]:11434/v1".into()),
            ..c.models["local"].clone()
        };
        assert!(v6.is_local());
    }

    #[test]
    fn image_budget_overrides_provider_defaults() {
        let c = cfg("[models.m]\nprovider = \"anthropic\"\nmodel = \"c\"\n[models.m.images]\nmax_images = 8");
        let b = c.models["m"].image_budget();
        assert_eq!(b.max_images, 8);
        assert_eq!(b.max_side_px, Some(8000));
        assert_eq!(b.max_request_bytes, 32_000_000);
    }
}
