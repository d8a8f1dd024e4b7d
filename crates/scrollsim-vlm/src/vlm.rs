//! The VLM judge: renders the strategy's prompt, loads the keyframes, sends the call through
//! the model's call stack and parses the answer. A call that fails after its retries becomes
//! a decision with `ParseStatus::CallError` (recorded, counted, never a skip); an answer whose
//! usage shows the images were not counted becomes `ParseStatus::ImagesDropped`; a replay
//! miss, an exhausted budget or an image budget violation stops the session with a
//! `JudgeError`.
//!
//! Text-only (the paper's VLM-vs-LLM ablation): the model first describes the keyframes (an
//! image call), then decides from its own description (a text-only call); both answers are in
//! `raw` and the description is the decision's `description`. With
//! `judge.text_only_description = "metadata"` it decides from the corpus's description instead
//! (no image call; not the paper's ablation).

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{
    CallUsage, Capability, Decision, IsqScoring, JudgeInfo, JudgeKind, ParseStatus, RawAnswer,
    StructuredMode,
};
use tower::ServiceExt;

use crate::call::{Call, KeyMaterial, KEY_FORMAT};
use crate::chat::{Answer, CallError, ChatRequest, ImagePart};
use crate::config::{DescriptionSource, ModelConfig, ParserKind, StrategyKind};
use crate::images::{load_keyframes, ImageSource, LoadError};
use crate::parse::{answer_schema, parse, AnswerFormat};
use crate::prompts::{PromptContext, PromptTemplate};
use crate::stack::CallService;
use crate::{Judge, JudgeError, JudgeRequest};

/// A judge backed by a real model behind an HTTP provider.
pub struct VlmJudge {
    /// The `[judge.models.<name>]` name.
    name: String,
    model: Arc<ModelConfig>,
    strategy: StrategyKind,
    /// The parser in effect (never `Auto`: resolved at construction).
    parser: ParserKind,
    /// The structured-output mode requests ask for under the strict parser.
    structured: Option<StructuredMode>,
    template: Arc<PromptTemplate>,
    stack: CallService,
    images: Option<Arc<dyn ImageSource>>,
    isq: IsqScoring,
    descriptions: DescriptionSource,
    /// What the probe found; its tokens per image check every call that sends images.
    capability: Option<Arc<Capability>>,
}

/// What a [`VlmJudge`] is built from besides its stack.
pub(crate) struct VlmParts {
    pub name: String,
    pub model: Arc<ModelConfig>,
    pub strategy: StrategyKind,
    pub parser: ParserKind,
    pub template: Arc<PromptTemplate>,
    pub stack: CallService,
    pub images: Option<Arc<dyn ImageSource>>,
    pub isq: IsqScoring,
    pub descriptions: DescriptionSource,
    pub capability: Option<Arc<Capability>>,
}

/// The structured-output mode a model's requests use: none when the model turns it off;
/// the probe's best honoured mode when it was probed; the provider's schema mode otherwise
/// (Anthropic has none).
pub(crate) fn structured_mode(
    model: &ModelConfig,
    capability: Option<&Capability>,
) -> Option<StructuredMode> {
    if !model.structured_output {
        return None;
    }
    match capability {
        Some(c) => c.best_structured(),
        None => model.provider.schema_mode(),
    }
}

/// `auto` becomes strict where the probe found a structured-output mode, lenient elsewhere.
pub(crate) fn effective_parser(
    parser: ParserKind,
    model: &ModelConfig,
    capability: Option<&Capability>,
) -> ParserKind {
    match parser {
        ParserKind::Auto
            if capability.is_some() && structured_mode(model, capability).is_some() =>
        {
            ParserKind::Strict
        }
        ParserKind::Auto => ParserKind::Lenient,
        p => p,
    }
}

impl VlmJudge {
    pub(crate) fn new(p: VlmParts) -> Self {
        let parser = effective_parser(p.parser, &p.model, p.capability.as_deref());
        let structured = structured_mode(&p.model, p.capability.as_deref());
        VlmJudge {
            name: p.name,
            model: p.model,
            strategy: p.strategy,
            parser,
            structured,
            template: p.template,
            stack: p.stack,
            images: p.images,
            isq: p.isq,
            descriptions: p.descriptions,
            capability: p.capability,
        }
    }

    /// An answer to a call that sent `images` whose usage shows the images were not counted:
    /// fewer prompt tokens than half the probe's tokens per image for each, plus the text at
    /// a generous 8 characters a token. None when nothing can be checked (no images, no probe,
    /// no usage reported).
    fn images_dropped(&self, call: &Call, prompt_tokens: u64) -> Option<ParseStatus> {
        let n = call.request.images.len() as u64;
        let per_image = self.capability.as_ref()?.tokens_per_image()?;
        if n == 0 || prompt_tokens == 0 {
            return None;
        }
        let text = call.request.system.as_deref().map_or(0, str::len) + call.request.user.len();
        let expected_min = (text as u64) / 8 + (n as f64 * per_image * 0.5).ceil() as u64;
        (prompt_tokens < expected_min).then_some(ParseStatus::ImagesDropped {
            prompt_tokens,
            expected_min,
            images: n as u32,
        })
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
        let mode = self
            .structured
            .filter(|_| self.parser == ParserKind::Strict)?;
        let mut schema = answer_schema(self.strategy, with_trait);
        schema.mode = mode;
        Some(schema)
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
            strategy: self.strategy.into(),
            parser: self.parser.into(),
            prompt_version: Some(self.template.version.clone()),
            structured: self
                .structured
                .filter(|_| self.parser == ParserKind::Strict),
            capability: self.capability.as_deref().cloned(),
        }
    }

    async fn decide(&self, req: &JudgeRequest<'_>) -> Result<Decision, JudgeError> {
        let mut usage = CallUsage::default();
        let mut raw = Vec::new();
        let (images, description) = if self.strategy == StrategyKind::TextOnly {
            match self.descriptions {
                DescriptionSource::Metadata => {
                    let stored = req
                        .video
                        .description
                        .as_deref()
                        .map(str::trim)
                        .filter(|d| !d.is_empty());
                    match stored {
                        Some(d) => (Vec::new(), Some(d.to_string())),
                        None => {
                            let m = format!(
                                "video {} has no description in the corpus (judge.text_only_description = \"metadata\"), no call made",
                                req.video.id
                            );
                            return Ok(unavailable(m, raw, usage));
                        }
                    }
                }
                DescriptionSource::Model => match self.describe(req, &mut usage, &mut raw).await? {
                    Ok(d) => (Vec::new(), Some(d)),
                    Err(decision) => return Ok(*decision),
                },
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
        let checked = call.clone();
        let answer = match self.send(call, &mut usage).await? {
            Ok(a) => a,
            Err(e) => return Ok(call_error(&e, raw, usage, description)),
        };
        raw.push(RawAnswer {
            question: self.strategy.as_str().to_string(),
            text: answer.response.text.clone(),
        });
        if let Some(status) = self.images_dropped(&checked, answer.response.usage.prompt_tokens) {
            return Ok(Decision {
                status,
                raw,
                usage,
                description,
                ..Default::default()
            });
        }
        let format = AnswerFormat::new(self.template.format(self.parser, req.persona.is_some()));
        let parsed = parse(
            self.strategy,
            self.parser,
            &answer.response,
            req.persona,
            &self.isq,
            Some(&format),
        );
        Ok(Decision {
            like: parsed.like,
            status: parsed.status,
            reason: parsed.reason,
            description: description.or(parsed.description),
            matched_trait: parsed.matched_trait,
            isq: parsed.isq,
            score: parsed.isq.map(|r| r.s_percent / 100.0),
            read: parsed.read,
            raw,
            usage,
        })
    }
}

impl VlmJudge {
    /// The text-only ablation's first call: the model describes the keyframes. `Err` carries
    /// the decision to record when no description came back.
    async fn describe(
        &self,
        req: &JudgeRequest<'_>,
        usage: &mut CallUsage,
        raw: &mut Vec<RawAnswer>,
    ) -> Result<Result<String, Box<Decision>>, JudgeError> {
        let frames = match self.keyframes(req)? {
            Ok(f) => f,
            Err(m) => return Ok(Err(Box::new(unavailable(m, raw.clone(), usage.clone())))),
        };
        let n = frames.len();
        let user = self.template.render_describe(req.video, n).ok_or_else(|| {
            JudgeError::Config(format!(
                "{}: no [describe] section",
                self.template.path.display()
            ))
        })?;
        let call = self.call(req, "describe", None, user, frames, None);
        let checked = call.clone();
        let a = match self.send(call, usage).await? {
            Ok(a) => a,
            Err(e) => {
                return Ok(Err(Box::new(call_error(
                    &e,
                    raw.clone(),
                    usage.clone(),
                    None,
                ))))
            }
        };
        raw.push(RawAnswer {
            question: "describe".into(),
            text: a.response.text.clone(),
        });
        if let Some(status) = self.images_dropped(&checked, a.response.usage.prompt_tokens) {
            return Ok(Err(Box::new(Decision {
                status,
                raw: raw.clone(),
                usage: usage.clone(),
                ..Default::default()
            })));
        }
        let text = a.response.text.trim();
        if text.is_empty() {
            let e = CallError::Malformed {
                provider: self.model.provider.to_string(),
                detail: "the describe call returned an empty description".into(),
            };
            return Ok(Err(Box::new(call_error(
                &e,
                raw.clone(),
                usage.clone(),
                None,
            ))));
        }
        Ok(Ok(text.to_string()))
    }
}
