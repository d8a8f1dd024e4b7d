//! The capability probe: a handful of short live calls that find out what a model behind an
//! endpoint can do before a study pays for thousands. Does the endpoint accept images, how
//! many per request, does the model actually see them (pictures of one colour each, made on
//! the fly, and a question only a model that sees them can answer), which structured output
//! it honours, how long a call takes, how many prompt tokens an image counts, and what a
//! decision costs at the configured prices. The result is a [`Capability`] record, cached per
//! model and endpoint ([`ProbeCache`]).
//!
//! Probe calls go straight to the provider (no record/replay cache, no budget: they are the
//! check that runs before either matters), one attempt each with the model's timeout.

mod pictures;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use scrollsim_core::{
    Capability, StructuredMode, StructuredOutcome, StructuredProbe, VERSION as SCROLLSIM_VERSION,
};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

pub use pictures::{colour_picture, names_in_order, pictures, COLOURS};

use crate::call::{Call, KeyMaterial, KEY_FORMAT};
use crate::chat::{AnswerSchema, CallError, ChatRequest, ChatResponse, ImagePart};
use crate::config::{GenerationSettings, ModelConfig, ProviderKind};
use crate::provider::{wire_for, ApiKey, HttpProvider};

/// What the probe needs to know about the study (for the image counts it tries and the cost
/// of a decision).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeOptions {
    /// Keyframes one decision sends.
    pub keyframes: u32,
    /// Prompt text tokens of one decision (persona, question, format), estimated.
    pub prompt_tokens: u64,
    /// Completion tokens of one decision, estimated.
    pub completion_tokens: u64,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            keyframes: 4,
            prompt_tokens: 250,
            completion_tokens: 80,
        }
    }
}

/// Why a probe could not produce a record.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The endpoint did not answer a plain text question: nothing else can be learnt.
    #[error("model `{name}` at {endpoint}: the text-only probe call failed: {source}")]
    Unreachable {
        name: String,
        endpoint: String,
        source: CallError,
    },
    /// The model's key is not in the environment.
    #[error("model `{name}`: environment variable {var} is not set (API keys are read from the environment only)")]
    MissingKey { name: String, var: String },
    #[error("probe cache {path}: {detail}")]
    Cache { path: PathBuf, detail: String },
}

/// One probe call's outcome.
struct Reply {
    response: Result<ChatResponse, CallError>,
    latency: Duration,
}

struct Prober {
    name: String,
    model: ModelConfig,
    http: HttpProvider,
    timeout: Duration,
}

impl Prober {
    async fn ask(
        &self,
        user: String,
        images: Vec<ImagePart>,
        schema: Option<AnswerSchema>,
    ) -> Reply {
        // Short, deterministic answers: the probe reads colours and yes/no, nothing more.
        let settings = GenerationSettings {
            temperature: Some(0.0),
            max_tokens: 64,
            top_p: None,
            seed: self.model.settings.seed,
            detail: self.model.settings.detail,
        };
        let material = KeyMaterial {
            format: KEY_FORMAT,
            provider: self.model.provider.as_str().into(),
            model: self.model.model.clone(),
            strategy: "probe".into(),
            prompt_version: "probe".into(),
            question: "probe".into(),
            system: None,
            user: user.clone(),
            images: images.iter().map(|i| i.hash.clone()).collect(),
            settings: settings.clone(),
            schema: schema.clone(),
            seed: 0,
        };
        let request = ChatRequest {
            system: None,
            user,
            images,
            settings,
            schema,
        };
        let call = Call::new(material, request, 0, format!("probe of `{}`", self.name));
        let started = Instant::now();
        let response =
            match tokio::time::timeout(self.timeout, self.http.clone().oneshot(call)).await {
                Ok(r) => r.map(|a| a.response),
                Err(_) => Err(CallError::Timeout(self.timeout)),
            };
        Reply {
            response,
            latency: started.elapsed(),
        }
    }
}

/// The colour question for `n` pictures (asked with and without them, so the difference in
/// prompt tokens is what the pictures count).
fn colour_question(n: usize) -> String {
    let what = if n == 1 {
        "There is 1 picture. It is filled with a single colour. Name its colour".to_string()
    } else {
        format!("There are {n} pictures. Each is filled with a single colour. Name the colour of each picture, in order, as a comma-separated list")
    };
    format!("{what}, using only basic colour names, and nothing else.")
}

/// The start of an answer or error, for the record.
fn gist(r: &Result<ChatResponse, CallError>) -> String {
    let s = match r {
        Ok(a) => format!("answered {:?}", a.text.trim()),
        Err(e) => format!("error: {e}"),
    };
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// The endpoint as recorded: scheme, host and path, without credentials or a query.
pub fn endpoint_label(model: &ModelConfig) -> String {
    let url = model.base_url();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!("{scheme}://{host}{path}")
}

/// Probes `model` (the `[judge.models.<name>]` entry `name`).
pub async fn probe(
    name: &str,
    model: &ModelConfig,
    opts: &ProbeOptions,
) -> Result<Capability, ProbeError> {
    let key = match &model.api_key_env {
        None => None,
        Some(var) => Some(ApiKey::from_env(var).ok_or_else(|| ProbeError::MissingKey {
            name: name.into(),
            var: var.clone(),
        })?),
    };
    let timeout = Duration::from_secs_f64(model.limits.timeout_s);
    let client = HttpProvider::client(timeout.min(Duration::from_secs(30))).map_err(|e| {
        ProbeError::Unreachable {
            name: name.into(),
            endpoint: endpoint_label(model),
            source: CallError::Request(e.to_string()),
        }
    })?;
    let prober = Prober {
        name: name.into(),
        model: model.clone(),
        http: HttpProvider::new(client, wire_for(model), key),
        timeout,
    };
    let mut notes = Vec::new();
    let mut latencies = Vec::new();

    // 1. Text only: the question arrives and is answered; its tokens are the baseline.
    let text = prober.ask(colour_question(1), vec![], None).await;
    let base = match &text.response {
        Ok(r) => r.clone(),
        Err(e) => {
            return Err(ProbeError::Unreachable {
                name: name.into(),
                endpoint: endpoint_label(model),
                source: e.clone(),
            })
        }
    };
    latencies.push(text.latency);
    if base.text.trim().is_empty() {
        notes.push(format!(
            "a text-only question got an empty answer ({} prompt tokens counted): the question may not reach the model",
            base.usage.prompt_tokens
        ));
    }

    // 2. One picture: accepted at all, and what it counts.
    let single = prober.ask(colour_question(1), pictures(1, 0).0, None).await;
    let accepts_images = single.response.is_ok();
    let mut per_image = None;
    let mut one_image_tokens = None;
    let mut sees_detail = String::new();
    let mut max_accepted = 0u32;
    let mut tried = vec![1u32];
    let mut sees = false;
    match &single.response {
        Ok(r) => {
            max_accepted = 1;
            if r.usage.prompt_tokens > 0 && base.usage.prompt_tokens > 0 {
                one_image_tokens = Some(r.usage.prompt_tokens);
                let extra = r.usage.prompt_tokens as f64 - base.usage.prompt_tokens as f64;
                // An image that adds no tokens (or fewer than none: llama-cpp-python's server
                // for a text model drops the image and part of the text) was not measured,
                // and is no threshold to check calls against.
                if extra >= 1.0 {
                    per_image = Some(extra);
                } else {
                    notes.push(format!(
                        "prompt tokens per image not measured: the question counted {} prompt tokens with one image and {} without it, so the server ignored the image",
                        r.usage.prompt_tokens, base.usage.prompt_tokens
                    ));
                }
            } else {
                notes.push("the endpoint reports no prompt-token usage: dropped images cannot be detected per call".into());
            }
        }
        Err(e) => notes.push(format!("a request with one image was refused: {e}")),
    }

    if accepts_images {
        // 3. Three pictures: does the model name their colours, in order?
        let (three, names) = pictures(3, 1);
        let q = colour_question(3);
        let reply = prober.ask(q.clone(), three, None).await;
        tried.push(3);
        sees_detail = format!(
            "asked {q:?} with pictures of {}; {}",
            names.join(", "),
            gist(&reply.response)
        );
        if let Ok(r) = &reply.response {
            sees = names_in_order(&r.text, &names);
            if counted(r, &base, 3, per_image) {
                max_accepted = 3;
            }
        }
        // 4. As many pictures as a decision sends (at least 4): does a request carry and
        // count them all? (Some servers and routers drop extra images without a word.)
        let many = (opts.keyframes.max(4) as usize).min(model.image_budget().max_images);
        if many > 3 {
            let (imgs, _) = pictures(many, 0);
            let reply = prober.ask(colour_question(many), imgs, None).await;
            tried.push(many as u32);
            match &reply.response {
                Ok(r) if counted(r, &base, many, per_image) => max_accepted = many as u32,
                Ok(r) => notes.push(format!(
                    "{many} images were accepted but only {} prompt tokens counted: extra images are dropped",
                    r.usage.prompt_tokens
                )),
                Err(e) => notes.push(format!("a request with {many} images was refused: {e}")),
            }
        }
    }

    // 5. Structured output, by provider.
    let mut structured = Vec::new();
    for mode in [
        StructuredMode::JsonSchema,
        StructuredMode::JsonObject,
        StructuredMode::Grammar,
    ] {
        if !offered(model.provider, mode) {
            structured.push(StructuredProbe {
                mode,
                outcome: StructuredOutcome::NotOffered,
                detail: String::new(),
            });
            continue;
        }
        if !model.structured_output {
            structured.push(StructuredProbe {
                mode,
                outcome: StructuredOutcome::NotOffered,
                detail: "structured_output = false in the model's config".into(),
            });
            continue;
        }
        let schema = AnswerSchema {
            name: "probe_answer".into(),
            schema: json!({
                "type": "object",
                "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
                "required": ["answer"],
                "additionalProperties": false,
            }),
            mode,
        };
        // JSON mode needs the word JSON in the prompt (OpenAI refuses it otherwise); the
        // schema and grammar modes are asked without it, so only an honoured mode gives JSON.
        let question = match mode {
            StructuredMode::JsonObject => {
                "Is a ripe banana yellow? Reply in JSON with the key \"answer\" set to \"yes\" or \"no\"."
            }
            _ => "Is a ripe banana yellow? Answer yes or no.",
        };
        let reply = prober.ask(question.into(), vec![], Some(schema)).await;
        let outcome = match &reply.response {
            Ok(r) => {
                latencies.push(reply.latency);
                if answers_json(&r.text) {
                    StructuredOutcome::Honoured
                } else {
                    StructuredOutcome::Ignored
                }
            }
            Err(CallError::Status { .. }) => StructuredOutcome::Rejected,
            Err(e) => {
                notes.push(format!("{mode} probe failed: {e}"));
                StructuredOutcome::Other
            }
        };
        structured.push(StructuredProbe {
            mode,
            outcome,
            detail: gist(&reply.response),
        });
    }

    latencies.sort();
    let latency_ms = latencies[latencies.len() / 2].as_millis() as u64;
    let tpi = per_image;
    let cost_per_decision_usd = model.prices.map(|p| {
        let images = tpi.unwrap_or(model.image_budget().tokens_per_image as f64);
        p.cost(
            opts.prompt_tokens + (opts.keyframes as f64 * images).round() as u64,
            opts.completion_tokens,
        )
    });
    Ok(Capability {
        name: name.into(),
        provider: model.provider.as_str().into(),
        model: model.model.clone(),
        endpoint: endpoint_label(model),
        probed_at: Utc::now(),
        scrollsim_version: SCROLLSIM_VERSION.into(),
        accepts_images,
        max_images_accepted: if sees || tpi.is_some() {
            max_accepted
        } else {
            0
        },
        image_counts_tried: tried,
        sees_images: sees && accepts_images,
        sees_detail,
        structured,
        latency_ms,
        text_prompt_tokens: base.usage.prompt_tokens,
        prompt_tokens_per_image: per_image,
        one_image_prompt_tokens: one_image_tokens,
        cost_per_decision_usd,
        notes,
    })
}

/// Whether a reply with `n` images counted at least half the probe's tokens per image for
/// each (true when there is nothing to check against).
fn counted(r: &ChatResponse, base: &ChatResponse, n: usize, per_image: Option<f64>) -> bool {
    match per_image {
        Some(t) if t >= 1.0 && r.usage.prompt_tokens > 0 => {
            r.usage.prompt_tokens as f64 >= base.usage.prompt_tokens as f64 + n as f64 * t * 0.5
        }
        _ => true,
    }
}

/// Whether the provider has the mode at all.
fn offered(provider: ProviderKind, mode: StructuredMode) -> bool {
    match provider {
        ProviderKind::Openai => true,
        ProviderKind::Gemini => mode != StructuredMode::Grammar,
        ProviderKind::Anthropic => false,
    }
}

/// The whole answer (code fences aside) is a JSON object whose `answer` is yes or no.
fn answers_json(text: &str) -> bool {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map_or(t, |s| s.trim_end().trim_end_matches("```"))
        .trim();
    matches!(
        serde_json::from_str::<Json>(t),
        Ok(Json::Object(m)) if matches!(m.get("answer").and_then(Json::as_str), Some("yes" | "no"))
    )
}

/// Probe records on disk, one JSON file per model and endpoint:
/// `<data>/cache/probes/<sha256(provider, model, endpoint, options)[..16]>.json`.
#[derive(Debug, Clone)]
pub struct ProbeCache {
    dir: PathBuf,
}

impl ProbeCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ProbeCache { dir: dir.into() }
    }

    /// `<data>/cache/probes`.
    pub fn default_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("cache").join("probes")
    }

    fn path(&self, model: &ModelConfig, opts: &ProbeOptions) -> PathBuf {
        let material = json!([
            model.provider.as_str(),
            model.model,
            model.base_url(),
            model.structured_output,
            opts.keyframes,
            model.image_budget().max_images,
        ]);
        let digest = hex::encode(Sha256::digest(material.to_string().as_bytes()));
        self.dir.join(format!("{}.json", &digest[..16]))
    }

    /// The cached record when it is younger than `max_age`.
    pub fn get(
        &self,
        model: &ModelConfig,
        opts: &ProbeOptions,
        max_age: Duration,
    ) -> Option<Capability> {
        let text = std::fs::read_to_string(self.path(model, opts)).ok()?;
        let c: Capability = serde_json::from_str(&text).ok()?;
        let age = Utc::now()
            .signed_duration_since(c.probed_at)
            .to_std()
            .ok()?;
        (age <= max_age).then_some(c)
    }

    pub fn put(
        &self,
        model: &ModelConfig,
        opts: &ProbeOptions,
        c: &Capability,
    ) -> Result<(), ProbeError> {
        let path = self.path(model, opts);
        let err = |detail: String| ProbeError::Cache {
            path: path.clone(),
            detail,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| err(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(c).map_err(|e| err(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))
    }

    /// The cached record, or a fresh probe (then cached). `fresh` ignores the cache.
    pub async fn get_or_probe(
        &self,
        name: &str,
        model: &ModelConfig,
        opts: &ProbeOptions,
        max_age: Duration,
        fresh: bool,
    ) -> Result<(Capability, bool), ProbeError> {
        if !fresh {
            if let Some(mut c) = self.get(model, opts, max_age) {
                c.name = name.into();
                return Ok((c, true));
            }
        }
        let c = probe(name, model, opts).await?;
        self.put(model, opts, &c)?;
        Ok((c, false))
    }
}

/// The capability record as a table for a terminal.
pub fn render(c: &Capability) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    let mut rows: Vec<(String, String)> = vec![
        (
            "model".into(),
            format!("{} ({}, {})", c.model, c.provider, c.name),
        ),
        ("endpoint".into(), c.endpoint.clone()),
        (
            "probed".into(),
            c.probed_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        ("accepts images".into(), yes_no(c.accepts_images).into()),
        (
            "images per request".into(),
            format!(
                "{} accepted and counted (tried {})",
                c.max_images_accepted,
                c.image_counts_tried
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("sees images".into(), yes_no(c.sees_images).into()),
        ("prompt tokens per image".into(), c.tokens_per_image_text()),
        (
            "text prompt tokens".into(),
            format!("{} (the probe's colour question)", c.text_prompt_tokens),
        ),
    ];
    for s in &c.structured {
        rows.push((
            format!("structured: {}", s.mode),
            format!("{:?}", s.outcome)
                .to_lowercase()
                .replace("notoffered", "not offered"),
        ));
    }
    rows.push(("latency (median)".into(), format!("{} ms", c.latency_ms)));
    rows.push((
        "cost per decision".into(),
        c.cost_per_decision_usd
            .map_or("no prices configured".into(), |x| {
                format!("${x:.5} (one image call at the study's keyframes)")
            }),
    ));
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<width$}  {v}\n"));
    }
    if !c.sees_detail.is_empty() {
        out.push_str(&format!("\nsight test: {}\n", c.sees_detail));
    }
    for n in &c.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_label_drops_credentials_and_query() {
        let mut m: ModelConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://user:pw@127.0.0.1:8088/v1?token=abc\"",
        )
        .unwrap();
        assert_eq!(endpoint_label(&m), "http://127.0.0.1:8088/v1");
        m.base_url = None;
        assert_eq!(endpoint_label(&m), "https://api.openai.com/v1");
    }

    #[test]
    fn json_answers_are_recognised_whole_only() {
        assert!(answers_json("{\"answer\": \"yes\"}"));
        assert!(answers_json("```json\n{\"answer\":\"no\"}\n```"));
        assert!(!answers_json("Yes, a ripe banana is yellow."));
        assert!(!answers_json("{\"answer\": \"maybe\"}"));
    }
}
