//! Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp, TEI...).
//! The API key comes from the environment variable the config names; it is sent as a bearer
//! token and never logged or shown in errors.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{normalize, EmbedError, Embedder, EmbedderInfo, OpenAiOptions, Result};

/// A secret that never prints.
#[derive(Clone)]
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Embeds texts through an OpenAI-compatible HTTP endpoint, `batch_size` texts per request.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    key: Option<ApiKey>,
    batch_size: usize,
    dim: usize,
    send_dimensions: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// Reads the key from the environment and, when `dim` is not configured, learns it from one
    /// probe request.
    pub async fn connect(o: &OpenAiOptions) -> Result<Self> {
        let cfg_err = |key: &str, detail: String| EmbedError::Config {
            key: key.into(),
            detail,
        };
        if o.batch_size == 0 {
            return Err(cfg_err(
                "embedder.text.batch_size",
                "must be at least 1".into(),
            ));
        }
        if o.timeout_s.is_nan() || o.timeout_s <= 0.0 {
            return Err(cfg_err(
                "embedder.text.timeout_s",
                "must be a positive number of seconds".into(),
            ));
        }
        let key = match &o.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => Some(ApiKey(k.trim().to_string())),
                _ => {
                    return Err(cfg_err(
                        "embedder.text.api_key_env",
                        format!(
                            "environment variable {var} is not set (it should hold the API key)"
                        ),
                    ))
                }
            },
        };
        let url = format!("{}/embeddings", o.base_url.trim_end_matches('/'));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(o.timeout_s))
            .build()
            .map_err(|e| EmbedError::Http {
                url: url.clone(),
                detail: format!("HTTP client: {e}"),
            })?;
        let mut me = OpenAiEmbedder {
            client,
            url,
            model: o.model.clone(),
            key,
            batch_size: o.batch_size,
            dim: o.dim.unwrap_or(0),
            send_dimensions: o.send_dimensions && o.dim.is_some(),
        };
        if me.dim == 0 {
            let probe = me.request(&["dimension probe".to_string()]).await?;
            me.dim = probe[0].len();
        }
        Ok(me)
    }

    async fn request(&self, input: &[String]) -> Result<Vec<Vec<f32>>> {
        let http = |detail: String| EmbedError::Http {
            url: self.url.clone(),
            detail,
        };
        let body = Request {
            model: &self.model,
            input,
            encoding_format: "float",
            dimensions: self.send_dimensions.then_some(self.dim),
        };
        let mut req = self.client.post(&self.url).json(&body);
        if let Some(k) = &self.key {
            req = req.bearer_auth(&k.0);
        }
        let resp = req.send().await.map_err(|e| http(chain(e)))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| http(format!("reading the response: {}", chain(e))))?;
        if !status.is_success() {
            return Err(http(format!("HTTP {status}: {}", excerpt(&text))));
        }
        let parsed: Response = serde_json::from_str(&text)
            .map_err(|e| http(format!("unexpected response ({e}): {}", excerpt(&text))))?;
        let mut out: Vec<Option<Vec<f32>>> = vec![None; input.len()];
        for d in parsed.data {
            let slot = out.get_mut(d.index).ok_or_else(|| {
                http(format!(
                    "response index {} for {} inputs",
                    d.index,
                    input.len()
                ))
            })?;
            *slot = Some(d.embedding);
        }
        out.into_iter()
            .enumerate()
            .map(|(i, v)| {
                let mut v = v.ok_or_else(|| http(format!("no embedding for input {i}")))?;
                if self.dim != 0 && v.len() != self.dim {
                    return Err(EmbedError::Dimension {
                        what: format!("embedding from {}", self.url),
                        expected: self.dim,
                        got: v.len(),
                    });
                }
                normalize(&mut v);
                Ok(v)
            })
            .collect()
    }
}

/// A reqwest error with its causes ("connection refused" is in a source), without the URL
/// (our error already names it).
fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// The start of a response body, for error messages.
fn excerpt(body: &str) -> String {
    let t = body.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo {
            kind: "openai".into(),
            model: self.model.clone(),
            dim: self.dim,
            images: false,
        }
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            out.extend(self.request(chunk).await?);
        }
        Ok(out)
    }
}
