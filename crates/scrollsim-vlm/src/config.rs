//! The `[judge]` section of the config: named models with their provider, endpoint, settings,
//! prices, limits and image budget; the default model, cache mode, budget, retry policy, the
//! offline model's parameters and ISQ scoring. Keys are never written here: a model names the
//! environment variable that holds its key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use scrollsim_core::IsqScoring;
use serde::{Deserialize, Serialize};

/// The model name that selects the offline persona model instead of a `[judge.models.*]` entry.
pub const OFFLINE_MODEL: &str = "offline";

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
    pub fn validate(&self) -> Result<(), String> {
        if self.models.contains_key(OFFLINE_MODEL) {
            return Err(format!(
                "judge.models.{OFFLINE_MODEL}: the name `{OFFLINE_MODEL}` is reserved for the offline persona model"
            ));
        }
        if self.default_model != OFFLINE_MODEL && !self.models.contains_key(&self.default_model) {
            return Err(format!(
                "judge.default_model: `{}` is neither `{OFFLINE_MODEL}` nor a [judge.models.*] entry (known: {})",
                self.default_model,
                self.model_names()
            ));
        }
        for (name, m) in &self.models {
            m.validate()
                .map_err(|e| format!("judge.models.{name}.{e}"))?;
            if self.budget.max_usd.is_some() && m.prices.is_none() {
                return Err(format!(
                    "judge.models.{name}.prices: judge.budget.max_usd is set, so every model needs prices (input_per_mtok, output_per_mtok)"
                ));
            }
        }
        self.offline
            .validate()
            .map_err(|e| format!("judge.offline.{e}"))?;
        self.retry
            .validate()
            .map_err(|e| format!("judge.retry.{e}"))?;
        let scale_ok = self.isq.scale.is_finite() && self.isq.scale > 0.0;
        if !scale_ok || !self.isq.threshold.is_finite() {
            return Err("judge.isq: scale must be > 0 and threshold finite".into());
        }
        Ok(())
    }

    /// The model a spec names, or an error listing the known names.
    pub fn model(&self, name: &str) -> Result<&ModelConfig, String> {
        self.models.get(name).ok_or_else(|| {
            format!(
                "judge model `{name}` is not configured: add [judge.models.{name}] or use `{OFFLINE_MODEL}` (known: {})",
                self.model_names()
            )
        })
    }

    fn model_names(&self) -> String {
        if self.models.is_empty() {
            "none".into()
        } else {
            self.models.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// The real VLM to use when a command would otherwise fall back to the offline model: the
    /// default model when it is usable, else the first usable model by name. Usable means its
    /// key's environment variable is set and non-empty, or it needs no key and its endpoint is
    /// local (localhost, 127.0.0.1, [::1]). Reachability is not probed.
    pub fn configured_vlm(&self) -> Option<&str> {
        let usable =
            |m: &ModelConfig| m.key_available() || (m.api_key_env.is_none() && m.is_local());
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

/// Which judge, strategy and parser a session uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSpec {
    /// `offline` or a `[judge.models.<name>]` name.
    pub model: String,
    pub strategy: StrategyKind,
    pub parser: ParserKind,
}

/// The paper's prompting strategies (docs/protocol.md, docs/judges.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Three questions about the image, no persona: like yes/no, why, describe.
    Plain,
    /// The persona system prompt and the yes/no question; which trait matched, or NA.
    #[default]
    Simple,
    /// The persona rates six questionnaire items; S% against a threshold decides.
    Isq,
    /// The plain question answered from a description of the keyframes, without the images.
    TextOnly,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 4] = [
        StrategyKind::Plain,
        StrategyKind::Simple,
        StrategyKind::Isq,
        StrategyKind::TextOnly,
    ];

    /// The name used in config, traces and prompt file names.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Plain => "plain",
            StrategyKind::Simple => "simple",
            StrategyKind::Isq => "isq",
            StrategyKind::TextOnly => "text-only",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StrategyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StrategyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown strategy `{s}`: expected plain, simple, isq or text-only")
            })
    }
}

/// How an answer becomes a decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ParserKind {
    /// The authors' rule: a like when the answer contains "yes" anywhere (case-insensitive).
    #[default]
    Lenient,
    /// Structured JSON output where the provider supports it, the first token otherwise.
    Strict,
}

impl ParserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParserKind::Lenient => "lenient",
            ParserKind::Strict => "strict",
        }
    }
}

impl fmt::Display for ParserKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ParserKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "lenient" => Ok(ParserKind::Lenient),
            "strict" => Ok(ParserKind::Strict),
            _ => Err(format!("unknown parser `{s}`: expected lenient or strict")),
        }
    }
}

/// How the record/replay cache of model calls is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// No cache: every call goes to the provider and nothing is recorded.
    Live,
    /// Every call goes to the provider; every answer (and every call that failed after its
    /// retries) is recorded, replacing an older recording under the same key.
    Record,
    /// Only recorded answers; a call with no recording is an error (`JudgeError::CacheMiss`).
    ReplayStrict,
    /// Recorded answers when present; otherwise the provider, and the answer is recorded. A
    /// recorded failure is retried live. Never pays twice for the same call.
    #[default]
    ReplayOrLive,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Live => "live",
            CacheMode::Record => "record",
            CacheMode::ReplayStrict => "replay-strict",
            CacheMode::ReplayOrLive => "replay-or-live",
        }
    }
}

impl FromStr for CacheMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            CacheMode::Live,
            CacheMode::Record,
            CacheMode::ReplayStrict,
            CacheMode::ReplayOrLive,
        ]
        .into_iter()
        .find(|m| m.as_str() == s.trim())
        .ok_or_else(|| {
            format!(
                "unknown cache mode `{s}`: expected live, record, replay-strict or replay-or-live"
            )
        })
    }
}

/// `[judge.budget]`: a cap on what new live calls may spend, over all models. Cache hits are
/// free and never refused.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Stop new calls once the estimated cost would pass this many US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd: Option<f64>,
    /// Stop new calls once prompt + completion tokens would pass this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

/// `[judge.retry]`: exponential backoff with jitter (`scrollsim_core::backoff`); Retry-After
/// wins when longer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt (0 disables retrying).
    #[serde(default = "d_retries")]
    pub max_retries: u32,
    /// Backoff before retry n (0-based) is uniform in [e/2, e], e = min(max, base x 2^n).
    #[serde(default = "d_base_ms")]
    pub base_delay_ms: u64,
    #[serde(default = "d_max_ms")]
    pub max_delay_ms: u64,
    /// A Retry-After longer than this ends the call as an error instead of waiting.
    #[serde(default = "d_max_after")]
    pub max_retry_after_s: u64,
}

fn d_retries() -> u32 {
    5
}
fn d_base_ms() -> u64 {
    500
}
fn d_max_ms() -> u64 {
    30_000
}
fn d_max_after() -> u64 {
    300
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: d_retries(),
            base_delay_ms: d_base_ms(),
            max_delay_ms: d_max_ms(),
            max_retry_after_s: d_max_after(),
        }
    }
}

impl RetryConfig {
    fn validate(&self) -> Result<(), String> {
        if self.base_delay_ms > self.max_delay_ms {
            return Err("base_delay_ms: must not exceed max_delay_ms".into());
        }
        Ok(())
    }
}

/// `[judge.offline]`: the offline persona model,
/// `p(like) = sigmoid(a x value_relevance + b x trait_similarity + c)` (see docs/judges.md).
/// The defaults are ours [R].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineParams {
    /// Weight of value relevance (persona weights x standardised value scores).
    #[serde(default = "d_a")]
    pub a: f32,
    /// Weight of the best trait similarity (cosine, MiniLM).
    #[serde(default = "d_b")]
    pub b: f32,
    /// Bias.
    #[serde(default = "d_c")]
    pub c: f32,
    /// A trait counts as matched when its cosine similarity to the video is at least this.
    #[serde(default = "d_trait_threshold")]
    pub trait_threshold: f32,
    /// The control arm (no persona): like probability of the neutral model.
    #[serde(default = "d_neutral")]
    pub neutral_like_prob: f32,
}

fn d_a() -> f32 {
    2.0
}
fn d_b() -> f32 {
    2.0
}
fn d_c() -> f32 {
    -0.6
}
fn d_trait_threshold() -> f32 {
    0.35
}
fn d_neutral() -> f32 {
    0.5
}

impl Default for OfflineParams {
    fn default() -> Self {
        OfflineParams {
            a: d_a(),
            b: d_b(),
            c: d_c(),
            trait_threshold: d_trait_threshold(),
            neutral_like_prob: d_neutral(),
        }
    }
}

impl OfflineParams {
    fn validate(&self) -> Result<(), String> {
        for (k, x) in [
            ("a", self.a),
            ("b", self.b),
            ("c", self.c),
            ("trait_threshold", self.trait_threshold),
        ] {
            if !x.is_finite() {
                return Err(format!("{k}: must be a finite number"));
            }
        }
        if !(0.0..=1.0).contains(&self.neutral_like_prob) {
            return Err("neutral_like_prob: must lie in [0, 1]".into());
        }
        Ok(())
    }
}

/// The wire format a model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions: OpenAI, vLLM, Ollama, llama.cpp server, OpenRouter.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
        }
    }

    /// The public endpoint used when `base_url` is not set.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Openai => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    /// The provider's documented per-request image limits, used where `[images]` does not
    /// override them. OpenAI: 500 images, 50 MB payload. Anthropic: 100 images, 8000 px a side
    /// (2000 px when more than 20 images), 32 MB request. Gemini: 3000 images, 20 MB inline
    /// request. OpenAI-compatible servers often allow fewer (vLLM's `--limit-mm-per-prompt`):
    /// set `max_images` for them.
    pub fn default_images(self) -> ImageBudget {
        match self {
            ProviderKind::Openai => ImageBudget {
                max_images: 500,
                max_side_px: None,
                max_side_px_many: None,
                many_threshold: 0,
                max_request_bytes: 50_000_000,
                tokens_per_image: 85,
            },
            ProviderKind::Anthropic => ImageBudget {
                max_images: 100,
                max_side_px: Some(8000),
                max_side_px_many: Some(2000),
                many_threshold: 20,
                max_request_bytes: 32_000_000,
                tokens_per_image: 100,
            },
            ProviderKind::Gemini => ImageBudget {
                max_images: 3000,
                max_side_px: None,
                max_side_px_many: None,
                many_threshold: 0,
                max_request_bytes: 20_000_000,
                tokens_per_image: 258,
            },
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[judge.models.<name>]`: one model behind one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: ProviderKind,
    /// Endpoint root; the provider's public API when unset. OpenAI-compatible servers include
    /// the `/v1` (`http://localhost:8000/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The model id the provider expects (`gpt-4o`, `claude-sonnet-4-5`, `gemini-2.0-flash`).
    pub model: String,
    /// Name of the environment variable holding the API key. Unset: no key is sent (local
    /// servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Ask for JSON matching a schema under the strict parser (OpenAI `response_format`,
    /// Gemini `responseSchema`). Anthropic has no such switch: its strict prompt asks for JSON.
    /// Turn off for OpenAI-compatible servers that reject `response_format`.
    #[serde(default = "yes")]
    pub structured_output: bool,
    /// OpenAI only: send the completion cap as `max_completion_tokens` instead of `max_tokens`
    /// (OpenAI's reasoning models, such as o3 or gpt-5, reject `max_tokens`).
    #[serde(default)]
    pub max_completion_tokens: bool,
    #[serde(default)]
    pub settings: GenerationSettings,
    /// Prices per million tokens, for cost accounting and the USD budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    #[serde(default)]
    pub limits: Limits,
    /// Overrides of the provider's image limits.
    #[serde(default)]
    pub images: ImageBudgetOverride,
}

fn yes() -> bool {
    true
}

impl ModelConfig {
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.provider.default_base_url())
            .trim_end_matches('/')
    }

    /// Whether the endpoint is on this machine.
    pub fn is_local(&self) -> bool {
        let url = self.base_url();
        let host = url.split("://").nth(1).unwrap_or(url);
        let host = host.split('/').next().unwrap_or("");
        let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
        let bare = if host.starts_with('[') {
            host.split(']').next().unwrap_or("").trim_start_matches('[')
        } else {
            host.split(':').next().unwrap_or("")
        };
        matches!(bare, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0") || bare.starts_with("127.")
    }

    /// Whether the key's environment variable is set and non-empty.
    pub fn key_available(&self) -> bool {
        self.api_key_env
            .as_deref()
            .is_some_and(|v| std::env::var(v).is_ok_and(|k| !k.trim().is_empty()))
    }

    /// The effective image budget: provider defaults with this model's overrides.
    pub fn image_budget(&self) -> ImageBudget {
        let mut b = self.provider.default_images();
        let o = &self.images;
        if let Some(x) = o.max_images {
            b.max_images = x;
        }
        if let Some(x) = o.max_side_px {
            b.max_side_px = Some(x);
            b.max_side_px_many = None;
        }
        if let Some(x) = o.max_request_bytes {
            b.max_request_bytes = x;
        }
        if let Some(x) = o.tokens_per_image {
            b.tokens_per_image = x;
        }
        b
    }

    fn validate(&self) -> Result<(), String> {
        if self.model.trim().is_empty() {
            return Err("model: must name the provider's model id".into());
        }
        let url = self.base_url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "base_url: `{url}` must start with http:// or https://"
            ));
        }
        if let Some(env) = &self.api_key_env {
            if env.trim().is_empty() || env.contains('=') || env.starts_with("sk-") {
                return Err(format!(
                    "api_key_env: must be the NAME of an environment variable (such as OPENAI_API_KEY), never the key itself (got {} characters)",
                    env.len()
                ));
            }
        }
        if self.max_completion_tokens && self.provider != ProviderKind::Openai {
            return Err("max_completion_tokens: applies to provider \"openai\" only".into());
        }
        if self.limits.concurrency == 0 {
            return Err("limits.concurrency: must be at least 1".into());
        }
        if !(self.limits.timeout_s.is_finite() && self.limits.timeout_s > 0.0) {
            return Err("limits.timeout_s: must be > 0".into());
        }
        if self.limits.rpm == Some(0) || self.limits.tpm == Some(0) {
            return Err("limits: rpm and tpm must be at least 1 when set".into());
        }
        if self.settings.max_tokens == 0 {
            return Err("settings.max_tokens: must be at least 1".into());
        }
        if self.image_budget().max_images == 0 {
            return Err("images.max_images: must be at least 1".into());
        }
        Ok(())
    }
}

/// Generation settings sent with every request (`None`: the provider's default, not sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Completion token cap (required by Anthropic, so always sent).
    #[serde(default = "d_max_tokens")]
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Sampling seed where the provider takes one (OpenAI-compatible, Gemini; not Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// OpenAI image detail. `low` suits the paper's 144x256 keyframes.
    #[serde(default)]
    pub detail: ImageDetail,
}

fn d_max_tokens() -> u32 {
    400
}

impl Default for GenerationSettings {
    fn default() -> Self {
        GenerationSettings {
            temperature: None,
            max_tokens: d_max_tokens(),
            top_p: None,
            seed: None,
            detail: ImageDetail::default(),
        }
    }
}

/// OpenAI's `image_url.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageDetail {
    #[default]
    Low,
    High,
    Auto,
}

impl ImageDetail {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageDetail::Low => "low",
            ImageDetail::High => "high",
            ImageDetail::Auto => "auto",
        }
    }
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Prices {
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_per_mtok
            + completion_tokens as f64 * self.output_per_mtok)
            / 1e6
    }
}

/// `[judge.models.<name>.limits]`: shared by every session that uses the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute (attempts, retries included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per minute, charged with each attempt's estimated tokens (prompt text / 4 +
    /// images x tokens_per_image + max_tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Calls in flight at once (a retrying call keeps its slot while it waits).
    #[serde(default = "d_concurrency")]
    pub concurrency: usize,
    /// Per-attempt timeout in seconds.
    #[serde(default = "d_timeout")]
    pub timeout_s: f64,
}

fn d_concurrency() -> usize {
    8
}
fn d_timeout() -> f64 {
    60.0
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rpm: None,
            tpm: None,
            concurrency: d_concurrency(),
            timeout_s: d_timeout(),
        }
    }
}

/// `[judge.models.<name>.images]`: overrides of the provider's image limits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageBudgetOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_images: Option<usize>,
    /// Longest allowed side in pixels (replaces both provider side limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_side_px: Option<u32>,
    /// Largest request body (images as base64) in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<usize>,
    /// Token estimate per image, for tokens-per-minute limits and the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_image: Option<u32>,
}

/// The effective image limits of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBudget {
    pub max_images: usize,
    pub max_side_px: Option<u32>,
    /// A tighter side limit that applies when a request carries more than `many_threshold`
    /// images (Anthropic).
    pub max_side_px_many: Option<u32>,
    pub many_threshold: usize,
    pub max_request_bytes: usize,
    pub tokens_per_image: u32,
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
        assert!(c.validate().unwrap_err().contains("judge.default_model"));
        let c = cfg("[models.m]\nprovider = \"openai\"\nmodel = \"x\"\napi_key_env = \"sk-abc\"");
        let e = c.validate().unwrap_err();
        assert!(
            e.contains("judge.models.m.api_key_env") && !e.contains("sk-abc"),
            "{e}"
        );
        let c = cfg("[budget]\nmax_usd = 5.0\n[models.m]\nprovider = \"gemini\"\nmodel = \"g\"");
        assert!(c.validate().unwrap_err().contains("judge.models.m.prices"));
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
