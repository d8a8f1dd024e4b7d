//! `[judge.models.<name>]`: one model behind one provider, with its endpoint, generation
//! settings, prices, limits and image budget.

use std::fmt;

use scrollsim_core::config::Invalid;
use serde::{Deserialize, Serialize};

use super::policies::yes;

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

    /// The structured-output mode used when a model was not probed: the schema mode where
    /// the provider has one.
    pub fn schema_mode(self) -> Option<scrollsim_core::StructuredMode> {
        match self {
            ProviderKind::Openai | ProviderKind::Gemini => {
                Some(scrollsim_core::StructuredMode::JsonSchema)
            }
            ProviderKind::Anthropic => None,
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

    /// Checks what serde cannot; keys are relative to the model's table.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let bad = |key: &str, expected: String| Err(Invalid::new(key, expected));
        if self.model.trim().is_empty() {
            return bad("model", "must name the provider's model id".into());
        }
        let url = self.base_url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return bad(
                "base_url",
                format!("`{url}` must start with http:// or https://"),
            );
        }
        if let Some(env) = &self.api_key_env {
            if env.trim().is_empty() || env.contains('=') || env.starts_with("sk-") {
                return bad(
                    "api_key_env",
                    format!(
                        "must be the NAME of an environment variable (such as OPENAI_API_KEY), never the key itself (got {} characters)",
                        env.len()
                    ),
                );
            }
        }
        if self.max_completion_tokens && self.provider != ProviderKind::Openai {
            return bad(
                "max_completion_tokens",
                "applies to provider \"openai\" only".into(),
            );
        }
        if self.limits.concurrency == 0 {
            return bad("limits.concurrency", "must be at least 1".into());
        }
        if !(self.limits.timeout_s.is_finite() && self.limits.timeout_s > 0.0) {
            return bad("limits.timeout_s", "must be > 0".into());
        }
        if self.limits.rpm == Some(0) || self.limits.tpm == Some(0) {
            return bad("limits", "rpm and tpm must be at least 1 when set".into());
        }
        if self.settings.max_tokens == 0 {
            return bad("settings.max_tokens", "must be at least 1".into());
        }
        if self.image_budget().max_images == 0 {
            return bad("images.max_images", "must be at least 1".into());
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
