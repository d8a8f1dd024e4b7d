//! Google Gemini generateContent (`POST {base}/v1beta/models/{model}:generateContent`): the key
//! in the `x-goog-api-key` header (never in the URL), `systemInstruction`, `inline_data` image
//! parts, `generationConfig`; structured output is `responseMimeType` + `responseSchema` (the
//! OpenAPI subset: upper-case types, no `additionalProperties`).

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value as Json};

use scrollsim_core::StructuredMode;

use super::{b64, counts, json_body, sampling, string_at, ApiKey, BodyError, WireFormat};
use crate::chat::{CallError, ChatRequest, ChatResponse, Finish, TokenUsage};
use crate::config::ProviderKind;

pub struct Gemini {
    /// `https://generativelanguage.googleapis.com`.
    pub base_url: String,
    pub model: String,
}

impl WireFormat for Gemini {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    fn url(&self, _req: &ChatRequest) -> String {
        let model = self.model.trim_start_matches("models/");
        format!("{}/v1beta/models/{model}:generateContent", self.base_url)
    }

    fn body(&self, req: &ChatRequest) -> Json {
        let mut parts: Vec<Json> = req
            .images
            .iter()
            .map(|img| json!({"inline_data": {"mime_type": img.mime, "data": b64(&img.bytes)}}))
            .collect();
        parts.push(json!({"text": req.user}));
        let s = &req.settings;
        let mut gen = Map::new();
        gen.insert("maxOutputTokens".into(), json!(s.max_tokens));
        for (k, x) in sampling(s, ["temperature", "topP"]) {
            gen.insert(k.into(), x);
        }
        if let Some(seed) = s.seed {
            // Gemini's seed is an int32.
            gen.insert("seed".into(), json!(seed as i64 as i32));
        }
        if let Some(schema) = &req.schema {
            // JSON mode without a schema is the mime type alone; Gemini has no grammars.
            if matches!(
                schema.mode,
                StructuredMode::JsonSchema | StructuredMode::JsonObject
            ) {
                gen.insert("responseMimeType".into(), json!("application/json"));
            }
            if schema.mode == StructuredMode::JsonSchema {
                gen.insert("responseSchema".into(), openapi_schema(&schema.schema));
            }
        }
        let mut body = json!({
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": gen,
        });
        if let Some(system) = &req.system {
            body["systemInstruction"] = json!({"parts": [{"text": system}]});
        }
        body
    }

    fn headers(&self, key: Option<&ApiKey>, headers: &mut HeaderMap) -> Result<(), CallError> {
        if let Some(k) = key {
            headers.insert("x-goog-api-key", k.header("")?);
        }
        Ok(())
    }

    fn parse(&self, body: &[u8]) -> Result<ChatResponse, BodyError> {
        let v = json_body(body)?;
        let n = counts(&v, "usageMetadata");
        let usage = TokenUsage {
            prompt_tokens: n("promptTokenCount"),
            // Thinking tokens are billed as output.
            completion_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
        };
        let model = string_at(&v, "modelVersion");
        let candidate = v.get("candidates").and_then(|c| c.get(0));
        let Some(candidate) = candidate else {
            if let Some(reason) = v
                .pointer("/promptFeedback/blockReason")
                .and_then(Json::as_str)
            {
                let detail = format!("prompt blocked: {reason}");
                return Ok(ChatResponse {
                    text: String::new(),
                    usage,
                    finish: Finish::Refused { detail },
                    model,
                });
            }
            return Err(BodyError::Missing(
                "`candidates[0]` and no `promptFeedback.blockReason` in the response",
            ));
        };
        let text = candidate
            .pointer("/content/parts")
            .and_then(Json::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter(|p| p.get("thought").and_then(Json::as_bool) != Some(true))
                    .filter_map(|p| p.get("text").and_then(Json::as_str))
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default();
        let finish = match candidate
            .get("finishReason")
            .and_then(Json::as_str)
            .unwrap_or("STOP")
        {
            "MAX_TOKENS" => Finish::Length,
            r @ ("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII"
            | "IMAGE_SAFETY") => Finish::Refused {
                detail: format!("finishReason {r}"),
            },
            _ => Finish::Stop,
        };
        Ok(ChatResponse {
            text,
            usage,
            finish,
            model,
        })
    }
}

/// JSON Schema to Gemini's OpenAPI subset: upper-case `type`, no `additionalProperties`.
fn openapi_schema(schema: &Json) -> Json {
    match schema {
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match k.as_str() {
                    "additionalProperties" | "$schema" | "title" => {}
                    "type" => {
                        out.insert(
                            k.clone(),
                            json!(v.as_str().unwrap_or("string").to_uppercase()),
                        );
                    }
                    _ => {
                        out.insert(k.clone(), openapi_schema(v));
                    }
                }
            }
            Json::Object(out)
        }
        Json::Array(a) => Json::Array(a.iter().map(openapi_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_candidates_blocks_and_thoughts() {
        let w = Gemini {
            base_url: "http://x".into(),
            model: "gemini-2.0-flash".into(),
        };
        let ok = br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"plan","thought":true},{"text":"LIKE: Yes"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":600,"candidatesTokenCount":5,"thoughtsTokenCount":20},"modelVersion":"gemini-2.0-flash-001"}"#;
        let r = w.parse(ok).unwrap();
        assert_eq!(r.text, "LIKE: Yes");
        assert_eq!(r.usage.completion_tokens, 25);
        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":600}}"#;
        assert!(matches!(
            w.parse(blocked).unwrap().finish,
            Finish::Refused { .. }
        ));
        let safety = br#"{"candidates":[{"finishReason":"SAFETY"}]}"#;
        assert!(matches!(
            w.parse(safety).unwrap().finish,
            Finish::Refused { .. }
        ));
        assert!(w.parse(br#"{}"#).is_err());
    }

    #[test]
    fn schema_becomes_openapi_subset() {
        let s = json!({"type": "object", "additionalProperties": false, "required": ["like"],
                       "properties": {"like": {"type": "string", "enum": ["yes", "no"]}}});
        let g = openapi_schema(&s);
        assert_eq!(g["type"], "OBJECT");
        assert_eq!(g["properties"]["like"]["type"], "STRING");
        assert!(g.get("additionalProperties").is_none());
    }
}
