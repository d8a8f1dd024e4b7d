//! The four things a real OpenAI-compatible server (llama-cpp-python serving a small text
//! GGUF) showed scrollsim recording that did not happen, each against a local server that
//! behaves as that one did: a one-part content array never reaches the model (an empty answer
//! from 9 prompt tokens), images are dropped without a word (the prompt tokens do not grow),
//! and the answer rambles around yes and no. The real server itself is in `real_server`.

use std::sync::Arc;

use crate::common;

use common::*;
use scrollsim_core::{AnswerRead, ParseStatus};
use scrollsim_vlm::probe::probe;
use scrollsim_vlm::{
    build_judge, check_study, Judge, ParserKind, ProbeCache, ProbeOptions, StrategyKind,
};
use serde_json::{json, Value};

/// The last user message's text and image count, as the server would read it: from a string,
/// or from an array of parts, where (like llama-cpp-python's chat handler for a text model) a
/// lone text part is lost.
fn read_user(body: &Value) -> (String, usize) {
    let content = &body["messages"].as_array().unwrap().last().unwrap()["content"];
    match content {
        Value::String(s) => (s.clone(), 0),
        Value::Array(parts) => {
            let images = parts.iter().filter(|p| p["type"] == "image_url").count();
            let text = if images == 0 {
                String::new()
            } else {
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            (text, images)
        }
        _ => (String::new(), 0),
    }
}

/// A text model behind an OpenAI-compatible server: counts only text (9 tokens of template
/// when the text was lost), cannot see images, ignores structured output, and rambles.
async fn text_model_server() -> MockServer {
    MockServer::start(|_, seen| {
        let body = seen.json();
        let (text, _images) = read_user(&body);
        let system = body["messages"][0]["content"]
            .as_str()
            .filter(|_| body["messages"][0]["role"] == "system")
            .unwrap_or("");
        if text.is_empty() {
            return openai_reply("", 9);
        }
        let tokens = 9 + (text.len() + system.len()) as u64 / 4;
        let answer = if text.contains("colour") {
            "The picture is red."
        } else if text.contains("banana") {
            "Yes, a ripe banana is yellow."
        } else {
            "I think it is better to explain rather than just say \"yes\" or \"no\": the video shows people."
        };
        openai_reply(answer, tokens)
    })
    .await
}

/// The text-only decision on a video with `description`, made from that description (the
/// lenient parser, no persona) by the server's model.
async fn decide_from_description(
    rig: &Rig,
    server: &MockServer,
    description: &str,
) -> scrollsim_core::Decision {
    let mut cfg = openai_live(server, "gemma");
    cfg.text_only_description = scrollsim_vlm::DescriptionSource::Metadata;
    let judge = rig.judge(&cfg, StrategyKind::TextOnly, ParserKind::Lenient);
    let mut v = rig.video("v1");
    v.description = Some(description.into());
    decide(&*judge, None, &v, 1).await
}

/// Finding 1: a text-only question carried as a one-part content array never reached the
/// model; it must travel as a plain string and be answered.
#[tokio::test]
async fn text_only_question_arrives_whole_as_a_plain_string() {
    let server = text_model_server().await;
    let rig = Rig::new(2);
    let d = decide_from_description(&rig, &server, "A crowd dancing at a festival.").await;
    let sent = server.seen()[0].json();
    let content = &sent["messages"].as_array().unwrap().last().unwrap()["content"];
    assert!(
        content
            .as_str()
            .is_some_and(|s| s.contains("A crowd dancing at a festival.")),
        "text-only content must be a plain string: {content}"
    );
    assert!(
        !d.raw.last().unwrap().text.is_empty(),
        "the answer arrived: {d:?}"
    );
    assert!(d.usage.prompt_tokens > 30, "{:?}", d.usage);
}

/// Finding 2: an endpoint that drops images is found out by the probe, and a strategy that
/// needs images is refused before any study call.
#[tokio::test]
async fn probe_finds_no_images_and_an_image_strategy_is_refused_before_any_call() {
    let server = text_model_server().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = openai_live(&server, "gemma");
    let c = probe("m", &cfg.models["m"], &ProbeOptions::default())
        .await
        .unwrap();
    assert!(c.accepts_images, "the server answers requests with images");
    assert!(!c.sees_images, "{c:?}");
    assert_eq!(c.tokens_per_image(), None, "images add no tokens: {c:?}");
    assert!(
        scrollsim_vlm::probe::render(&c).contains("not measured: the server ignored the image"),
        "{}",
        scrollsim_vlm::probe::render(&c)
    );
    let probe_calls = server.count();

    let models = vec!["m".to_string()];
    let strategies = vec![StrategyKind::Simple];
    let plan = study_plan(&models, &strategies, true, true);
    let cache = ProbeCache::new(dir.path().join("probes"));
    let err = check_study(&cfg, &plan, &prompt_dir(), Some(&cache))
        .await
        .unwrap_err();
    let problem = err.0.iter().find(|p| p.key == "strategies").unwrap();
    assert!(
        problem.message.contains("does not see them") && problem.message.contains("simple"),
        "{problem:?}"
    );
    assert_eq!(
        server.count(),
        2 * probe_calls,
        "only the probe called the server"
    );

    // build_judge refuses too, given the record.
    let env = env(dir.path(), keyframes(dir.path(), 1).0).with_capabilities([("m".into(), c)]);
    let spec = spec(StrategyKind::Simple, ParserKind::Lenient);
    assert!(matches!(
        build_judge(&cfg, &spec, &env),
        Err(scrollsim_vlm::JudgeError::Capability(_))
    ));
}

/// The real server counted fewer prompt tokens with an image than without (it drops the
/// image and the text part beside it): the probe printed "-30" tokens per image. An
/// unmeasurable figure is reported as such, and is never a threshold for calls.
#[tokio::test]
async fn tokens_per_image_below_zero_are_not_measured() {
    // 39 prompt tokens for the question alone, 9 whenever an image is attached.
    let server = MockServer::start(|_, seen| {
        let (_, images) = read_user(&seen.json());
        openai_reply("I cannot say.", if images > 0 { 9 } else { 39 })
    })
    .await;
    let cfg = openai_live(&server, "gemma");
    let c = probe("m", &cfg.models["m"], &ProbeOptions::default())
        .await
        .unwrap();
    assert_eq!(c.prompt_tokens_per_image, None, "{c:?}");
    assert_eq!(c.one_image_prompt_tokens, Some(9));
    let table = scrollsim_vlm::probe::render(&c);
    let row = table
        .lines()
        .find(|l| l.starts_with("prompt tokens per image"))
        .unwrap();
    assert!(
        row.contains("not measured: the server ignored the image (9 prompt tokens with one image, 39 without)"),
        "{table}"
    );
    assert!(!table.contains("-30"), "{table}");
    assert!(c.notes.iter().any(|n| n.contains("not measured")), "{c:?}");

    // A record written before this fix (a negative figure) is read as not measured.
    let mut old = c.clone();
    old.prompt_tokens_per_image = Some(-30.0);
    old.one_image_prompt_tokens = None;
    assert_eq!(old.tokens_per_image(), None);
    assert!(old.tokens_per_image_text().starts_with("not measured"));
}

/// Finding 2, per call: an answer whose prompt tokens show the images were not counted is an
/// `images_dropped` failure, never a decision.
#[tokio::test]
async fn an_answer_without_its_images_counted_is_images_dropped() {
    let server = text_model_server().await;
    let mut rig = Rig::new(4);
    let cfg = openai_live(&server, "gemma");
    // A record that says images count 85 tokens each (as a probe of a VLM would find); the
    // server then drops them.
    let c: scrollsim_core::Capability = serde_json::from_value(json!({
        "name": "m", "provider": "openai", "model": "gemma", "endpoint": server.url,
        "probed_at": "2025-01-01T00:00:00Z", "scrollsim_version": "test",
        "accepts_images": true, "max_images_accepted": 4, "sees_images": true,
        "latency_ms": 10, "text_prompt_tokens": 30, "prompt_tokens_per_image": 85.0
    }))
    .unwrap();
    rig.env = rig.env.clone().with_capabilities([("m".into(), c)]);
    let judge = rig.judge(&cfg, StrategyKind::Simple, ParserKind::Lenient);
    let d = decide(&*judge, Some(&persona()), &rig.video("v1"), 1).await;
    assert!(
        matches!(d.status, ParseStatus::ImagesDropped { images: 4, .. }),
        "{:?}",
        d.status
    );
    assert!(!d.like && d.read.is_none());
    assert!(d.status.is_call_failure());
}

/// A rig of two keyframes and the simple, lenient judge of model `m` on `server`.
fn simple_lenient(server: &MockServer) -> (Rig, Arc<dyn Judge>) {
    let rig = Rig::new(2);
    let judge = rig.judge(
        &openai_live(server, "m"),
        StrategyKind::Simple,
        ParserKind::Lenient,
    );
    (rig, judge)
}

/// Finding 3: a ramble the lenient rule reads as a like is recorded as salvaged, not as a
/// clean answer; one that only talks about saying yes or no is no answer at all.
#[tokio::test]
async fn a_rambling_answer_is_recorded_as_salvaged() {
    let server = MockServer::start(|i, _| {
        openai_reply(
            if i == 0 {
                "Hmm, the crowd looks fun and I guess yes, though festivals are loud."
            } else {
                "Instead of a one-word answer, rather than just say \"yes\" or \"no\", I would describe it."
            },
            500,
        )
    })
    .await;
    let (rig, judge) = simple_lenient(&server);
    let d = decide(&*judge, None, &rig.video("v1"), 1).await;
    assert!(
        d.like,
        "the authors' rule still reads a like (paper-faithful)"
    );
    assert_eq!(d.read, Some(AnswerRead::Salvaged));
    let d = decide(&*judge, None, &rig.video("v0"), 1).await;
    assert!(
        !d.like && matches!(d.status, ParseStatus::ParseFailure { .. }),
        "\"yes\" or \"no\" offered as a choice is not a yes: {d:?}"
    );
    assert_eq!(d.read, Some(AnswerRead::Failed));

    let clean = MockServer::start(|_, _| openai_reply("LIKE: No\nWHY: not for me", 500)).await;
    let (rig, judge) = simple_lenient(&clean);
    let d = decide(&*judge, None, &rig.video("v2"), 1).await;
    assert_eq!((d.like, d.read), (false, Some(AnswerRead::Exact)));
}

/// What the real server answered to the text-only question (session 6): the answer format
/// copied around a ramble, read until then as an exact like.
#[tokio::test]
async fn an_answer_that_copies_the_format_is_a_failure_not_a_like() {
    let server = MockServer::start(|_, _| {
        openai_reply(
            "I am a cat. I like to play with yarn on the sofa.\n\nAnswer in exactly this form:\nLIKE: Yes or No\nWHY: one or two sentences\nI am a cat.",
            79,
        )
    })
    .await;
    let rig = Rig::new(1);
    let d = decide_from_description(
        &rig,
        &server,
        "A cat playing with a ball of yarn on a sofa.",
    )
    .await;
    assert!(!d.like, "{d:?}");
    assert_eq!(d.read, Some(AnswerRead::Failed));
    assert!(
        matches!(d.status, ParseStatus::ParseFailure { ref detail } if detail.contains("answer format")),
        "{:?}",
        d.status
    );
    assert!(
        d.raw[0].text.contains("LIKE: Yes or No"),
        "the answer is kept"
    );
}

/// Finding 4: text-only crossed with a persona is refused before any call, naming the key.
#[tokio::test]
async fn text_only_with_a_persona_is_refused_before_any_call() {
    let server = text_model_server().await;
    let cfg = openai_live(&server, "gemma");
    let models = vec!["m".to_string(), "offline".to_string()];
    let strategies = vec![StrategyKind::Simple, StrategyKind::TextOnly];
    let plan = study_plan(&models, &strategies, true, true);
    let dir = tempfile::tempdir().unwrap();
    let cache = ProbeCache::new(dir.path().join("probes"));
    let err = check_study(&cfg, &plan, &prompt_dir(), Some(&cache))
        .await
        .unwrap_err();
    assert!(
        err.0.iter().any(|p| p.key == "strategies"
            && p.message.contains("text-only")
            && p.message.contains("takes no persona")),
        "{err}"
    );
    assert_eq!(server.count(), 0, "nothing was called");
}

/// Issue 11 item 6: the offline model crossed with several strategies is warned about.
#[tokio::test]
async fn offline_model_with_several_strategies_warns_identical_arms() {
    let cfg = scrollsim_vlm::JudgeConfig::default();
    let models = vec!["offline".to_string()];
    let strategies = vec![StrategyKind::Simple, StrategyKind::Isq];
    let plan = study_plan(&models, &strategies, true, false);
    let ready = check_study(&cfg, &plan, &prompt_dir(), None).await.unwrap();
    assert!(
        ready
            .warnings
            .iter()
            .any(|w| w.contains("not a VLM") && w.contains("identical by construction")),
        "{:?}",
        ready.warnings
    );
}
