//! Anthropic Messages (`POST {base}/v1/messages`): `x-api-key` and `anthropic-version`
//! headers, a top-level `system` prompt, base64 `image` blocks before the text. Anthropic has
//! no seed parameter and no schema switch here: under the strict parser the prompt asks for
//! JSON only and the parser falls back to the first token.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value as Json};

use super::{b64, counts, json_body, sampling, string_at, ApiKey, BodyError, WireFormat};
use crate::chat::{CallError, ChatRequest, ChatResponse, Finish, TokenUsage};
use crate::config::ProviderKind;

/// The API version this format was written against.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    /// `https://api.anthropic.com`.
    pub base_url: String,
    pub model: String,
}

impl WireFormat for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn url(&self, _req: &ChatRequest) -> String {
        format!("{}/v1/messages", self.base_url)
    }

    fn body(&self, req: &ChatRequest) -> Json {
        let mut content: Vec<Json> = req
            .images
            .iter()
            .map(|img| {
                json!({
                    "type": "image",
                    "source": {"type": "base64", "media_type": img.mime, "data": b64(&img.bytes)},
                })
            })
            .collect();
        content.push(json!({"type": "text", "text": req.user}));
        let s = &req.settings;
        let mut body = json!({
            "model": self.model,
            "max_tokens": s.max_tokens,
            "messages": [{"role": "user", "content": content}],
        });
        if let Some(system) = &req.system {
            body["system"] = json!(system);
        }
        for (k, x) in sampling(s, ["temperature", "top_p"]) {
            body[k] = x;
        }
        body
    }

    fn headers(&self, key: Option<&ApiKey>, headers: &mut HeaderMap) -> Result<(), CallError> {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(k) = key {
            headers.insert("x-api-key", k.header("")?);
        }
        Ok(())
    }

    fn parse(&self, body: &[u8]) -> Result<ChatResponse, BodyError> {
        let v = json_body(body)?;
        let blocks = v
            .get("content")
            .and_then(Json::as_array)
            .ok_or(BodyError::Missing("`content` array in the response"))?;
        let text = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Json::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Json::as_str))
            .collect::<Vec<_>>()
            .join("");
        let finish = match v.get("stop_reason").and_then(Json::as_str) {
            Some("refusal") => Finish::Refused {
                detail: "stop_reason refusal".into(),
            },
            Some("max_tokens") => Finish::Length,
            _ => Finish::Stop,
        };
        let n = counts(&v, "usage");
        Ok(ChatResponse {
            text,
            usage: TokenUsage {
                prompt_tokens: n("input_tokens")
                    + n("cache_creation_input_tokens")
                    + n("cache_read_input_tokens"),
                completion_tokens: n("output_tokens"),
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
    fn parses_text_blocks_and_refusal() {
        let w = Anthropic {
            base_url: "http://x".into(),
            model: "c".into(),
        };
        let ok = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"LIKE: No"}],"stop_reason":"end_turn","usage":{"input_tokens":300,"output_tokens":12}}"#;
        let r = w.parse(ok).unwrap();
        assert_eq!(r.text, "LIKE: No");
        assert_eq!(r.usage.prompt_tokens, 300);
        assert_eq!(r.usage.completion_tokens, 12);
        let refused = br#"{"content":[],"stop_reason":"refusal","usage":{"input_tokens":3,"output_tokens":0}}"#;
        assert!(matches!(
            w.parse(refused).unwrap().finish,
            Finish::Refused { .. }
        ));
        assert!(w.parse(br#"{"type":"message"}"#).is_err());
    }
}
