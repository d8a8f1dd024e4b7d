//! Providers: each speaks one real wire format ([`WireFormat`]); [`HttpProvider`] sends it over
//! reqwest and is the innermost service of the call stack. Keys live in [`ApiKey`], which never
//! prints, serializes or reaches an error message.

mod anthropic;
mod gemini;
mod openai;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

pub use anthropic::Anthropic;
pub use gemini::Gemini;
pub use openai::OpenAi;

use crate::call::Call;
use crate::chat::{Answer, CallError, ChatRequest, ChatResponse};
use crate::config::{GenerationSettings, ModelConfig, ProviderKind};

/// An API key read from the environment. Its `Debug` says `[redacted]`; it has no `Display`
/// and no `Serialize`, so it cannot reach a trace, a log line or the cache by accident.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Reads the key from the named environment variable; `None` when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .map(|k| ApiKey(k.into()))
    }

    /// A header value marked sensitive (reqwest and hyper then never print it).
    fn header(&self, prefix: &str) -> Result<HeaderValue, CallError> {
        let mut v = HeaderValue::from_str(&format!("{prefix}{}", self.0)).map_err(|_| {
            CallError::Request("the API key contains characters not allowed in a header".into())
        })?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// Removes the key (and any long run of it) from text that came back from a server.
    fn redact(&self, text: &str) -> String {
        redact_secrets(text, Some(&self.0))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Removes `key` and anything that looks like a provider key or a masked key (`sk-...`,
/// `AIza...`, `****`) from text bound for an error message.
pub(crate) fn redact_secrets(text: &str, key: Option<&str>) -> String {
    let mut out = match key {
        Some(k) if k.len() >= 4 => text.replace(k, "[redacted]"),
        _ => text.to_string(),
    };
    let looks_secret = |w: &str| {
        let w = w
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '*');
        w.starts_with("sk-")
            || w.starts_with("AIza")
            || w.contains("***")
            || w.starts_with("Bearer")
    };
    if out.split_whitespace().any(looks_secret) {
        out = out
            .split_inclusive(char::is_whitespace)
            .map(|w| {
                if looks_secret(w.trim_end()) {
                    "[redacted] "
                } else {
                    w
                }
            })
            .collect::<String>()
            .trim_end()
            .to_string();
    }
    out
}

/// One provider's request and response format. Pure: no IO, so each is tested on its own.
pub trait WireFormat: Send + Sync {
    fn kind(&self) -> ProviderKind;
    /// Endpoint URL for this request.
    fn url(&self, req: &ChatRequest) -> String;
    /// The JSON body.
    fn body(&self, req: &ChatRequest) -> serde_json::Value;
    /// Adds the key header(s) and any fixed headers (such as `anthropic-version`).
    fn headers(&self, key: Option<&ApiKey>, headers: &mut HeaderMap) -> Result<(), CallError>;
    /// Reads a success body.
    fn parse(&self, body: &[u8]) -> Result<ChatResponse, BodyError>;
}

/// Why a success body could not be read (a [`CallError::Malformed`], with the body's start).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// A part every answer of this format has is not there.
    #[error("no {0}")]
    Missing(&'static str),
    /// The answer's text is of a JSON type no server sends for it.
    #[error("`{field}` is neither text nor null: {value}")]
    NotText {
        field: &'static str,
        value: serde_json::Value,
    },
}

/// The wire format for a configured model.
pub fn wire_for(model: &ModelConfig) -> Arc<dyn WireFormat> {
    let base = model.base_url().to_string();
    match model.provider {
        ProviderKind::Openai => Arc::new(OpenAi {
            base_url: base,
            model: model.model.clone(),
            max_completion_tokens: model.max_completion_tokens,
        }),
        ProviderKind::Anthropic => Arc::new(Anthropic {
            base_url: base,
            model: model.model.clone(),
        }),
        ProviderKind::Gemini => Arc::new(Gemini {
            base_url: base,
            model: model.model.clone(),
        }),
    }
}

/// Sends calls over HTTP: the innermost service of the stack. One attempt per call; retries,
/// timeouts and limits are layers around it.
#[derive(Clone)]
pub struct HttpProvider {
    client: reqwest::Client,
    wire: Arc<dyn WireFormat>,
    key: Option<ApiKey>,
}

/// The HTTP client could not be built (TLS roots, resolver): nothing can be called.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[source] pub reqwest::Error);

impl HttpProvider {
    pub fn new(client: reqwest::Client, wire: Arc<dyn WireFormat>, key: Option<ApiKey>) -> Self {
        HttpProvider { client, wire, key }
    }

    /// A client tuned for many concurrent calls to one host.
    pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, ClientError> {
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("scrollsim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)
    }

    async fn send(self, call: Call) -> Result<Answer, CallError> {
        let provider = self.wire.kind().as_str().to_string();
        let redact = |s: &str| match &self.key {
            Some(k) => k.redact(s),
            None => redact_secrets(s, None),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.wire.headers(self.key.as_ref(), &mut headers)?;
        let body = serde_json::to_vec(&self.wire.body(&call.request))
            .map_err(|e| CallError::Request(format!("cannot serialize the request body: {e}")))?;
        let url = self.wire.url(&call.request);
        let started = Instant::now();
        tracing::debug!(provider = %provider, cache_key = %call.key, bytes = body.len(), "provider call");
        let resp = self
            .client
            .post(&url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let detail = redact(&without_url(&e));
                if e.is_timeout() {
                    CallError::Timeout(started.elapsed())
                } else {
                    CallError::Connect {
                        provider: provider.clone(),
                        detail,
                    }
                }
            })?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| CallError::Connect {
            provider: provider.clone(),
            detail: format!("reading the response body: {}", redact(&without_url(&e))),
        })?;
        tracing::debug!(provider = %provider, cache_key = %call.key, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "provider answered");
        if !status.is_success() {
            return Err(CallError::Status {
                provider,
                status: status.as_u16(),
                retry_after,
                detail: redact(&error_detail(&bytes)),
            });
        }
        let response = self
            .wire
            .parse(&bytes)
            .map_err(|detail| CallError::Malformed {
                provider: provider.clone(),
                detail: redact(&format!("{detail}; body starts: {}", snippet(&bytes, 200))),
            })?;
        Ok(Answer {
            response,
            cached: false,
            latency: started.elapsed(),
            attempts: 1,
        })
    }
}

impl tower::Service<Call> for HttpProvider {
    type Response = Answer;
    type Error = CallError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, CallError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> Self::Future {
        Box::pin(self.clone().send(call))
    }
}

/// A reqwest error without its URL (the URL can carry a query a user put there).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<endpoint>");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The server's requested wait: `retry-after-ms` (OpenAI-style), else `Retry-After` in seconds
/// or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(HeaderName::from_bytes(name.as_bytes()).ok()?)?
            .to_str()
            .ok()
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = get("retry-after")?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The provider's error message (`{"error": {"message": ...}}` in all three APIs), else the
/// start of the body.
fn error_detail(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let err = v
            .get("error")
            .or_else(|| v.as_array().and_then(|a| a.first()?.get("error")));
        if let Some(e) = err {
            let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
            let kind = e
                .get("type")
                .or_else(|| e.get("status"))
                .and_then(|t| t.as_str())
                .unwrap_or("");
            if !msg.is_empty() {
                return if kind.is_empty() {
                    msg.to_string()
                } else {
                    format!("{kind}: {msg}")
                };
            }
        }
    }
    snippet(body, 300)
}

fn snippet(body: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None if s.is_empty() => "(empty body)".to_string(),
        None => s.to_string(),
    }
}

/// An f32 setting as the decimal the user wrote (0.2, not 0.20000000298023224).
pub(crate) fn f32_json(x: f32) -> serde_json::Value {
    x.to_string()
        .parse::<f64>()
        .map_or(serde_json::Value::Null, serde_json::Value::from)
}

/// A GBNF grammar (llama.cpp) for the flat answer schemas of [`crate::parse::answer_schema`]:
/// an object with the required properties in order, each a string (or one of a string enum)
/// or an integer. Whitespace between tokens is bounded so a model cannot loop on it.
pub(crate) fn gbnf(schema: &serde_json::Value) -> String {
    let quote = |s: &str| {
        format!(
            "\"\\\"{}\\\"\"",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    let props = schema.get("properties").and_then(|p| p.as_object());
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|k| k.as_str()).collect())
        .unwrap_or_default();
    let mut root = vec!["\"{\" ws".to_string()];
    for (i, key) in required.iter().enumerate() {
        if i > 0 {
            root.push("\",\" ws".into());
        }
        let prop = props.and_then(|p| p.get(*key));
        let value = match prop.and_then(|p| p.get("enum")).and_then(|e| e.as_array()) {
            Some(options) => format!(
                "({})",
                options
                    .iter()
                    .filter_map(|o| o.as_str())
                    .map(quote)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            None if prop.and_then(|p| p.get("type")).and_then(|t| t.as_str())
                == Some("integer") =>
            {
                "int".into()
            }
            None => "str".into(),
        };
        root.push(format!("{} ws \":\" ws {value} ws", quote(key)));
    }
    root.push("\"}\"".into());
    format!(
        "root ::= {}\nstr ::= \"\\\"\" ( [^\"\\\\\\x00-\\x1f] | \"\\\\\" [\"\\\\/bfnrt] )* \"\\\"\"\nint ::= \"-\"? [0-9] [0-9]?\nws ::= ([ \\t\\n] [ \\t\\n]?)?\n",
        root.join(" ")
    )
}

/// A success body as JSON.
pub(crate) fn json_body(body: &[u8]) -> Result<serde_json::Value, BodyError> {
    Ok(serde_json::from_slice(body)?)
}

/// The token counts in a response's `section` by name, 0 where the provider leaves one out.
pub(crate) fn counts<'a>(v: &'a serde_json::Value, section: &str) -> impl Fn(&str) -> u64 + 'a {
    let usage = v.get(section);
    move |k| {
        usage
            .and_then(|u| u.get(k))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// A string field of a response.
pub(crate) fn string_at(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

/// The sampling settings a request sets, under the wire format's names for temperature and
/// top-p.
pub(crate) fn sampling<'k>(
    s: &GenerationSettings,
    [temperature, top_p]: [&'k str; 2],
) -> Vec<(&'k str, serde_json::Value)> {
    [(temperature, s.temperature), (top_p, s.top_p)]
        .into_iter()
        .filter_map(|(k, x)| Some((k, f32_json(x?))))
        .collect()
}

/// Base64 of image bytes (standard alphabet, padded), as all three providers expect.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn error_detail_reads_all_three_shapes() {
        let openai = br#"{"error":{"message":"Rate limit reached","type":"requests","code":null}}"#;
        assert_eq!(error_detail(openai), "requests: Rate limit reached");
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_detail(anthropic), "overloaded_error: Overloaded");
        let gemini = br#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(
            error_detail(gemini),
            "RESOURCE_EXHAUSTED: Resource exhausted"
        );
        assert_eq!(
            error_detail(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_detail(b""), "(empty body)");
    }

    #[test]
    fn secrets_are_redacted() {
        let key = "sk-test-0123456789abcdef";
        let msg = format!("Incorrect API key provided: {key}. Also sk-proj-abc****wxyz here.");
        let r = redact_secrets(&msg, Some(key));
        assert!(
            !r.contains("0123456789abcdef") && !r.contains("wxyz"),
            "{r}"
        );
        assert!(r.contains("Incorrect API key provided"), "{r}");
        assert_eq!(format!("{:?}", ApiKey(key.into())), "ApiKey([redacted])");
    }
}
