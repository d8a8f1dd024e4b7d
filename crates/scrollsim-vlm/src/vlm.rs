//! The VLM judge: renders the strategy's prompt, loads the keyframes, sends the call through
//! the model's call stack and parses the answer. A call that fails after its retries becomes
//! a decision with `ParseStatus::CallError` (recorded, counted, never a skip); a replay miss,
//! an exhausted budget or an image budget violation stops the session with a `JudgeError`.

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{
    CallUsage, Decision, IsqScoring, JudgeInfo, JudgeKind, ParseStatus, RawAnswer,
};
use tower::ServiceExt;

use crate::call::{Call, KeyMaterial, KEY_FORMAT};
use crate::chat::{Answer, CallError, ChatRequest, ImagePart};
use crate::config::{ModelConfig, ParserKind, StrategyKind};
use crate::images::{load_keyframes, ImageSource, LoadError};
use crate::parse::{answer_schema, parse};
use crate::prompts::{PromptContext, PromptTemplate};
use crate::stack::CallService;
use crate::{Judge, JudgeError, JudgeRequest};

/// A judge backed by a real model behind an HTTP provider.
pub struct VlmJudge {
    /// The `[judge.models.<name>]` name.
    name: String,
    model: Arc<ModelConfig>,
    strategy: StrategyKind,
    parser: ParserKind,
    template: Arc<PromptTemplate>,
    stack: CallService,
    images: Option<Arc<dyn ImageSource>>,
    isq: IsqScoring,
}

impl VlmJudge {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        model: Arc<ModelConfig>,
        strategy: StrategyKind,
        parser: ParserKind,
        template: Arc<PromptTemplate>,
        stack: CallService,
        images: Option<Arc<dyn ImageSource>>,
        isq: IsqScoring,
    ) -> Self {
        VlmJudge {
            name,
            model,
            strategy,
            parser,
            template,
            stack,
            images,
            isq,
        }
    }

    /// The keyframes to send. A budget violation stops the session (the configuration must
    /// change); a missing or unreadable keyframe is this video's problem only (`Ok(Err(..))`),
    /// recorded as a call that could not be made.
    fn keyframes(
        &self,
        req: &JudgeRequest<'_>,
    ) -> Result<Result<Vec<ImagePart>, String>, JudgeError> {
        let source = self.images.as_deref().ok_or_else(|| {
            JudgeError::Config(format!(
                "judge model `{}` sends keyframes but no image store was given to the judge environment",
                self.name
            ))
        })?;
        match load_keyframes(source, req.video, &self.model.image_budget(), &self.name) {
            Ok(frames) => Ok(Ok(frames)),
            Err(LoadError::Budget(b)) => Err(JudgeError::ImageBudget(b.0)),
            Err(LoadError::Missing(m)) => {
                Ok(Err(format!("keyframes unavailable, no call made: {m}")))
            }
        }
    }

    /// Builds one call. `question` is `answer` or `describe`.
    fn call(
        &self,
        req: &JudgeRequest<'_>,
        question: &str,
        system: Option<String>,
        user: String,
        images: Vec<ImagePart>,
        schema: Option<crate::chat::AnswerSchema>,
    ) -> Call {
        let material = KeyMaterial {
            format: KEY_FORMAT,
            provider: self.model.provider.as_str().to_string(),
            model: self.model.model.clone(),
            strategy: self.strategy.as_str().to_string(),
            prompt_version: self.template.version.clone(),
            question: question.to_string(),
            system: system.clone(),
            user: user.clone(),
            images: images.iter().map(|i| i.hash.clone()).collect(),
            settings: self.model.settings.clone(),
            schema: schema.clone(),
            seed: req.seed,
        };
        let request = ChatRequest {
            system,
            user,
            images,
            settings: self.model.settings.clone(),
            schema,
        };
        let persona = req
            .persona
            .map_or("none (control)".to_string(), |p| p.id.to_string());
        let what = format!(
            "model `{}`, strategy {}, persona {persona}, video {}, question {question}, seed {}",
            self.name, self.strategy, req.video.id, req.seed
        );
        Call::new(
            material,
            request,
            self.model.image_budget().tokens_per_image,
            what,
        )
    }

    /// Sends a call; session-stopping failures become `Err`, the rest `Ok(Err(..))`.
    async fn send(
        &self,
        call: Call,
        usage: &mut CallUsage,
    ) -> Result<Result<Answer, CallError>, JudgeError> {
        usage.cache_keys.push(call.key.clone());
        let result = self.stack.clone().oneshot(call).await;
        usage.calls += 1;
        match &result {
            Ok(a) => {
                let u = a.response.usage;
                usage.prompt_tokens += u.prompt_tokens;
                usage.completion_tokens += u.completion_tokens;
                if a.cached {
                    usage.cached += 1;
                } else {
                    usage.cost_usd += self
                        .model
                        .prices
                        .map_or(0.0, |p| p.cost(u.prompt_tokens, u.completion_tokens));
                    usage.latency_ms += a.latency.as_millis() as u64;
                }
            }
            Err(CallError::CacheMiss { key, what }) => {
                return Err(JudgeError::CacheMiss {
                    key: key.clone(),
                    what: what.clone(),
                });
            }
            Err(CallError::Budget(m)) => return Err(JudgeError::BudgetExhausted(m.clone())),
            Err(CallError::Cache(m)) => return Err(JudgeError::Other(format!("call cache: {m}"))),
            Err(CallError::Recorded(_)) => usage.cached += 1,
            Err(_) => {}
        }
        Ok(result)
    }

    fn schema(&self, with_trait: bool) -> Option<crate::chat::AnswerSchema> {
        (self.parser == ParserKind::Strict && self.model.structured_output)
            .then(|| answer_schema(self.strategy, with_trait))
    }
}

/// A decision for a call that could not be made (its input is missing).
fn unavailable(message: String, raw: Vec<RawAnswer>, usage: CallUsage) -> Decision {
    Decision {
        like: false,
        status: ParseStatus::CallError { message },
        raw,
        usage,
        ..Default::default()
    }
}

/// A decision for a call that produced no answer.
fn call_error(
    e: &CallError,
    raw: Vec<RawAnswer>,
    usage: CallUsage,
    description: Option<String>,
) -> Decision {
    Decision {
        like: false,
        status: ParseStatus::CallError {
            message: e.to_string(),
        },
        raw,
        usage,
        description,
        ..Default::default()
    }
}

#[async_trait]
impl Judge for VlmJudge {
    fn info(&self) -> JudgeInfo {
        JudgeInfo {
            kind: if self.strategy == StrategyKind::TextOnly {
                JudgeKind::TextOnly
            } else {
                JudgeKind::Vlm
            },
            provider: self.model.provider.as_str().to_string(),
            model: self.model.model.clone(),
            strategy: self.strategy.as_str().to_string(),
            parser: self.parser.as_str().to_string(),
            prompt_version: Some(self.template.version.clone()),
        }
    }

    async fn decide(&self, req: &JudgeRequest<'_>) -> Result<Decision, JudgeError> {
        let mut usage = CallUsage::default();
        let mut raw = Vec::new();
        let (images, description) = if self.strategy == StrategyKind::TextOnly {
            let stored = req
                .video
                .description
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty());
            match stored {
                Some(d) => (Vec::new(), Some(d.to_string())),
                None => {
                    // No description to ask about: the same model describes the keyframes first.
                    let frames = match self.keyframes(req)? {
                        Ok(f) => f,
                        Err(m) => return Ok(unavailable(m, raw, usage)),
                    };
                    let n = frames.len();
                    let user = self.template.render_describe(req.video, n).ok_or_else(|| {
                        JudgeError::Config(format!(
                            "{}: no [describe] section",
                            self.template.path.display()
                        ))
                    })?;
                    let call = self.call(req, "describe", None, user, frames, None);
                    match self.send(call, &mut usage).await? {
                        Ok(a) if !a.response.text.trim().is_empty() => {
                            raw.push(RawAnswer {
                                question: "describe".into(),
                                text: a.response.text.clone(),
                            });
                            (Vec::new(), Some(a.response.text.trim().to_string()))
                        }
                        Ok(a) => {
                            raw.push(RawAnswer {
                                question: "describe".into(),
                                text: a.response.text.clone(),
                            });
                            let e = CallError::Malformed {
                                provider: self.model.provider.to_string(),
                                detail: "the describe call returned an empty description".into(),
                            };
                            return Ok(call_error(&e, raw, usage, None));
                        }
                        Err(e) => return Ok(call_error(&e, raw, usage, None)),
                    }
                }
            }
        } else {
            match self.keyframes(req)? {
                Ok(f) => (f, None),
                Err(m) => return Ok(unavailable(m, raw, usage)),
            }
        };
        let ctx = PromptContext {
            persona: req.persona,
            video: req.video,
            n_images: if images.is_empty() {
                req.video.keyframes.len()
            } else {
                images.len()
            },
            description: description.as_deref(),
            parser: self.parser,
        };
        let rendered = self
            .template
            .render(&ctx)
            .map_err(|e| JudgeError::Config(e.to_string()))?;
        let call = self.call(
            req,
            "answer",
            rendered.system,
            rendered.user,
            images,
            self.schema(req.persona.is_some()),
        );
        let answer = match self.send(call, &mut usage).await? {
            Ok(a) => a,
            Err(e) => return Ok(call_error(&e, raw, usage, description)),
        };
        raw.push(RawAnswer {
            question: self.strategy.as_str().to_string(),
            text: answer.response.text.clone(),
        });
        let parsed = parse(
            self.strategy,
            self.parser,
            &answer.response,
            req.persona,
            &self.isq,
        );
        Ok(Decision {
            like: parsed.like,
            status: parsed.status,
            reason: parsed.reason,
            description: description.or(parsed.description),
            matched_trait: parsed.matched_trait,
            isq: parsed.isq,
            score: parsed.isq.map(|r| r.s_percent / 100.0),
            raw,
            usage,
        })
    }
}
