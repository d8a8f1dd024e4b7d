//! OpenAI-compatible chat completions (`POST {base}/chat/completions`): OpenAI, vLLM, Ollama,
//! llama.cpp server, OpenRouter. Images are `image_url` parts carrying data URLs with a
//! `detail`; structured output is `response_format: {type: json_schema}`.

use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde_json::{json, Value as Json};

use scrollsim_core::StructuredMode;

use super::{b64, counts, gbnf, json_body, sampling, string_at, ApiKey, BodyError, WireFormat};
use crate::chat::{CallError, ChatRequest, ChatResponse, Finish, TokenUsage};
use crate::config::ProviderKind;

pub struct OpenAi {
    /// Including the version segment: `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    /// Send the cap as `max_completion_tokens` (reasoning models) instead of `max_tokens`.
    pub max_completion_tokens: bool,
}

impl WireFormat for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    fn url(&self, _req: &ChatRequest) -> String {
        format!("{}/chat/completions", self.base_url)
    }

    fn body(&self, req: &ChatRequest) -> Json {
        let mut messages = Vec::new();
        if let Some(system) = &req.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        // Content parts only when there are images: some servers (llama-cpp-python's, for a
        // text model's chat template) read only the image parts of an array and drop a lone
        // text part, so a text-only question must travel as a plain string.
        let content = if req.images.is_empty() {
            json!(req.user)
        } else {
            let mut parts: Vec<Json> = req
                .images
                .iter()
                .map(|img| {
                    json!({
                        "type": "image_url",
                        "image_url": {
                            "url": format!("data:{};base64,{}", img.mime, b64(&img.bytes)),
                            "detail": req.settings.detail.as_str(),
                        }
                    })
                })
                .collect();
            parts.push(json!({"type": "text", "text": req.user}));
            Json::Array(parts)
        };
        messages.push(json!({"role": "user", "content": content}));
        let s = &req.settings;
        let mut body = json!({
            "model": self.model,
            "messages": messages,
        });
        let cap = if self.max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[cap] = json!(s.max_tokens);
        for (k, x) in sampling(s, ["temperature", "top_p"]) {
            body[k] = x;
        }
        if let Some(seed) = s.seed {
            body["seed"] = json!(seed);
        }
        if let Some(schema) = &req.schema {
            match schema.mode {
                StructuredMode::JsonSchema => {
                    body["response_format"] = json!({
                        "type": "json_schema",
                        "json_schema": {"name": schema.name, "strict": true, "schema": schema.schema},
                    });
                }
                StructuredMode::JsonObject => {
                    body["response_format"] = json!({"type": "json_object"});
                }
                // llama.cpp's server (and llama-cpp-python's) extension.
                StructuredMode::Grammar => body["grammar"] = json!(gbnf(&schema.schema)),
                StructuredMode::Other => {}
            }
        }
        body
    }

    fn headers(&self, key: Option<&ApiKey>, headers: &mut HeaderMap) -> Result<(), CallError> {
        if let Some(k) = key {
            headers.insert(AUTHORIZATION, k.header("Bearer ")?);
        }
        Ok(())
    }

    fn parse(&self, body: &[u8]) -> Result<ChatResponse, BodyError> {
        let v = json_body(body)?;
        let choice = v
            .get("choices")
            .and_then(|c| c.get(0))
            .ok_or(BodyError::Missing("`choices[0]` in the response"))?;
        let message = choice
            .get("message")
            .ok_or(BodyError::Missing("`choices[0].message`"))?;
        let text = match message.get("content") {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            // Some servers return content as a list of text parts.
            Some(Json::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Json::as_str))
                .collect::<Vec<_>>()
                .join(""),
            Some(other) => {
                return Err(BodyError::NotText {
                    field: "message.content",
                    value: other.clone(),
                })
            }
        };
        let finish_reason = choice
            .get("finish_reason")
            .and_then(Json::as_str)
            .unwrap_or("stop");
        let finish = match (message.get("refusal").and_then(Json::as_str), finish_reason) {
            (Some(r), _) if !r.is_empty() => Finish::Refused {
                detail: r.to_string(),
            },
            (_, "content_filter") => Finish::Refused {
                detail: "finish_reason content_filter".into(),
            },
            (_, "length") => Finish::Length,
            _ => Finish::Stop,
        };
        let n = counts(&v, "usage");
        Ok(ChatResponse {
            text,
            usage: TokenUsage {
                prompt_tokens: n("prompt_tokens"),
                completion_tokens: n("completion_tokens"),
            },
            finish,
            model: string_at(&v, "model"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_refusal_and_usage() {
        let w = OpenAi {
            base_url: "http://x/v1".into(),
            model: "m".into(),
            max_completion_tokens: false,
        };
        let ok = br#"{"model":"gpt-4o-2024","choices":[{"message":{"role":"assistant","content":"LIKE: Yes"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":9}}"#;
        let r = w.parse(ok).unwrap();
        assert_eq!(r.text, "LIKE: Yes");
        assert_eq!(
            r.usage,
            TokenUsage {
                prompt_tokens: 120,
                completion_tokens: 9
            }
        );
        assert_eq!(r.model.as_deref(), Some("gpt-4o-2024"));
        let refused = br#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#;
        assert!(matches!(
            w.parse(refused).unwrap().finish,
            Finish::Refused { .. }
        ));
        let e = w.parse(br#"{"choices":[]}"#).unwrap_err();
        assert!(matches!(e, BodyError::Missing(_)), "{e}");
        assert!(e.to_string().contains("choices[0]"), "{e}");
        let e = w.parse(b"{not json").unwrap_err();
        assert!(matches!(e, BodyError::NotJson(_)), "{e}");
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
