//! Each provider against a local HTTP server that checks the request exactly (path, headers,
//! roles, image parts and their base64 content, model, settings) and answers with
//! recorded-style bodies, including a 429 with Retry-After, a 500, a timeout and a malformed
//! body. Every call ends as a parsed decision after retry or as a recorded error; none is
//! counted as a skip.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use scrollsim_core::ParseStatus;
use scrollsim_vlm::{build_judge, JudgeRequest, ParserKind, StrategyKind};
use serde_json::json;

const KEY_VAR: &str = "SCROLLSIM_WIRE_TEST_KEY";
const KEY: &str = "test-key-wire-9f8e7d6c5b4a";

fn set_key() {
    // Every test in this binary plants the same value, so parallel tests agree.
    std::env::set_var(KEY_VAR, KEY);
}

#[tokio::test]
async fn openai_request_is_exact() {
    set_key();
    let server = MockServer::start(|_, _| {
        Reply::ok(openai_ok("LIKE: Yes\nTRAIT: 1\nWHY: I love festivals."))
    })
    .await;
    let rig = Rig::new(3);
    let cfg = live(
        "openai",
        &server,
        &format!(
            "model = \"gpt-test\"\napi_key_env = \"{KEY_VAR}\"\nsettings = {{ temperature = 0.2, max_tokens = 123, top_p = 0.9, seed = 42, detail = \"low\" }}\nprices = {{ input_per_mtok = 2.5, output_per_mtok = 10.0 }}"
        ),
    );
    let judge = rig.judge(&cfg, StrategyKind::Simple, ParserKind::Lenient);
    let d = decide(&*judge, Some(&persona()), &rig.video("v1"), 7).await;

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = r.json();
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["temperature"], json!(0.2));
    assert_eq!(body["top_p"], json!(0.9));
    assert_eq!(body["seed"], 42);
    assert_eq!(body["max_tokens"], 123);
    assert!(
        body.get("response_format").is_none(),
        "lenient asks for no schema"
    );
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "system");
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(
        system.contains("1. I never miss a music festival.\n2. I have three cats."),
        "{system}"
    );
    assert_eq!(msgs[1]["role"], "user");
    let parts = msgs[1]["content"].as_array().unwrap();
    assert_eq!(parts.len(), 4, "three images then the text");
    for (i, (_, bytes)) in rig.frames.iter().enumerate() {
        assert_eq!(parts[i]["type"], "image_url");
        assert_eq!(
            parts[i]["image_url"]["url"],
            format!("data:image/jpeg;base64,{}", b64(bytes))
        );
        assert_eq!(parts[i]["image_url"]["detail"], "low");
    }
    assert_eq!(parts[3]["type"], "text");
    let text = parts[3]["text"].as_str().unwrap();
    assert!(
        text.contains("3 keyframes") && text.contains("LIKE: Yes or No"),
        "{text}"
    );

    assert!(d.like);
    assert_eq!(d.status, ParseStatus::Parsed);
    assert_eq!(d.matched_trait.as_ref().unwrap().index, 0);
    assert_eq!(d.reason.as_deref(), Some("I love festivals."));
    assert_eq!(d.raw.len(), 1);
    assert_eq!(d.usage.calls, 1);
    assert_eq!(d.usage.cached, 0);
    assert_eq!(
        (d.usage.prompt_tokens, d.usage.completion_tokens),
        (412, 17)
    );
    assert!((d.usage.cost_usd - (412.0 * 2.5 + 17.0 * 10.0) / 1e6).abs() < 1e-12);
    let info = judge.info();
    assert_eq!(
        (
            info.provider.as_str(),
            info.model.as_str(),
            info.strategy.as_str()
        ),
        ("openai", "gpt-test", "simple")
    );
    assert_eq!(info.prompt_version.as_deref(), Some("simple-1"));
    let ledger = rig.env.ledger().snapshot();
    assert_eq!(ledger.models["m"].calls, 1);
    assert_eq!(ledger.models["m"].prompt_tokens, 412);
}

#[tokio::test]
async fn openai_strict_sends_a_json_schema() {
    set_key();
    let server = MockServer::start(|_, _| {
        Reply::ok(openai_ok(
            r#"{"like": "no", "why": "dull", "description": "a grey wall"}"#,
        ))
    })
    .await;
    let rig = Rig::new(1);
    let cfg = live(
        "openai",
        &server,
        "model = \"gpt-test\"\nmax_completion_tokens = true",
    );
    let judge = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Strict);
    let d = decide(&*judge, None, &rig.video("v1"), 1).await;
    let body = server.seen()[0].json();
    assert!(
        server.seen()[0].header("authorization").is_none(),
        "no key configured, none sent"
    );
    assert_eq!(
        body["max_completion_tokens"], 400,
        "reasoning-model cap field"
    );
    assert!(body.get("max_tokens").is_none());
    let rf = &body["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["strict"], true);
    // `required` is a set: its order depends on serde_json's preserve_order feature.
    let mut required: Vec<&str> = rf["json_schema"]["schema"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["description", "like", "why"]);
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "the plain protocol sends no system prompt");
    assert!(msgs[0]["content"][1]["text"]
        .as_str()
        .unwrap()
        .contains("JSON object"));
    assert!(!d.like);
    assert_eq!(d.status, ParseStatus::Parsed);
    assert_eq!(d.description.as_deref(), Some("a grey wall"));
}

#[tokio::test]
async fn anthropic_request_is_exact() {
    set_key();
    let server = MockServer::start(|_, _| {
        Reply::ok(anthropic_ok(
            "VISUAL_APPEAL: 9\nCURIOSITY: 8\nEMOTIONAL_ENGAGEMENT: 7\nVALUE_EXPECTATION: 6\nPREFERENCE_ALIGNMENT: 1\nACTION_DECISION: 1\nTRAIT: 2\nWHY: cats",
        ))
    })
    .await;
    let rig = Rig::new(2);
    let cfg = live(
        "anthropic",
        &server,
        &format!("model = \"claude-test\"\napi_key_env = \"{KEY_VAR}\"\nsettings = {{ temperature = 0.0, max_tokens = 256, seed = 5 }}"),
    );
    let judge = rig.judge(&cfg, StrategyKind::Isq, ParserKind::Lenient);
    let d = decide(&*judge, Some(&persona()), &rig.video("v2"), 3).await;

    let r = &server.seen()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key").as_deref(), Some(KEY));
    assert_eq!(r.header("anthropic-version").as_deref(), Some("2023-06-01"));
    assert!(r.header("authorization").is_none());
    let body = r.json();
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["temperature"], json!(0.0));
    assert!(body.get("seed").is_none(), "Anthropic takes no seed");
    assert!(body["system"]
        .as_str()
        .unwrap()
        .contains("2. I have three cats."));
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["role"], "user");
    let content = msgs[0]["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    for (i, (_, bytes)) in rig.frames.iter().enumerate() {
        assert_eq!(content[i]["type"], "image");
        assert_eq!(
            content[i]["source"],
            json!({"type": "base64", "media_type": "image/jpeg", "data": b64(bytes)})
        );
    }
    assert_eq!(content[2]["type"], "text");
    assert!(content[2]["text"]
        .as_str()
        .unwrap()
        .contains("VISUAL_APPEAL"));

    let isq = d.isq.unwrap();
    assert_eq!(isq.items.visual_appeal, 9);
    assert!((isq.s_percent - 83.333_33).abs() < 1e-3);
    assert!(d.like && d.status.is_parsed());
    assert_eq!(d.matched_trait.unwrap().index, 1);
    assert_eq!(d.usage.prompt_tokens, 512);
}

#[tokio::test]
async fn gemini_request_is_exact() {
    set_key();
    let server = MockServer::start(|_, _| {
        Reply::ok(gemini_ok(r#"{"like": "yes", "trait": "NA", "why": "fun"}"#))
    })
    .await;
    let rig = Rig::new(2);
    let cfg = live(
        "gemini",
        &server,
        &format!("model = \"gemini-test\"\napi_key_env = \"{KEY_VAR}\"\nsettings = {{ temperature = 0.5, max_tokens = 99, top_p = 0.8, seed = 11 }}"),
    );
    let judge = rig.judge(&cfg, StrategyKind::Simple, ParserKind::Strict);
    let d = decide(&*judge, Some(&persona()), &rig.video("v3"), 3).await;

    let r = &server.seen()[0];
    assert_eq!(r.path, "/v1beta/models/gemini-test:generateContent");
    assert_eq!(
        r.query, None,
        "the key travels in a header, never in the URL"
    );
    assert_eq!(r.header("x-goog-api-key").as_deref(), Some(KEY));
    let body = r.json();
    assert!(body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .contains("1. I never miss a music festival."));
    let contents = body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["role"], "user");
    let parts = contents[0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (i, (_, bytes)) in rig.frames.iter().enumerate() {
        assert_eq!(
            parts[i]["inline_data"],
            json!({"mime_type": "image/jpeg", "data": b64(bytes)})
        );
    }
    assert!(parts[2]["text"].as_str().unwrap().contains("JSON object"));
    let g = &body["generationConfig"];
    assert_eq!(g["temperature"], json!(0.5));
    assert_eq!(g["topP"], json!(0.8));
    assert_eq!(g["maxOutputTokens"], 99);
    assert_eq!(g["seed"], 11);
    assert_eq!(g["responseMimeType"], "application/json");
    assert_eq!(g["responseSchema"]["type"], "OBJECT");
    assert_eq!(g["responseSchema"]["properties"]["like"]["type"], "STRING");
    assert!(g["responseSchema"]["properties"].get("trait").is_some());

    assert!(d.like && d.status.is_parsed());
    assert!(d.matched_trait.is_none(), "NA matches no trait");
    assert_eq!(d.usage.prompt_tokens, 1100);
}

/// The failure script each provider is run through, one fresh server per case.
async fn run_case(
    provider: &str,
    script: Vec<Reply>,
    timeout_s: f64,
    max_retries: u32,
) -> (scrollsim_core::Decision, usize, Duration) {
    set_key();
    let ok = ok_for(provider, "LIKE: Yes\nWHY: fine");
    let server = MockServer::start(move |i, _| {
        script
            .get(i)
            .cloned()
            .unwrap_or_else(|| Reply::ok(ok.clone()))
    })
    .await;
    let rig = Rig::new(2);
    let mut cfg = config(
        provider,
        &base_url(provider, &server),
        "record",
        &format!(
            "model = \"x\"\napi_key_env = \"{KEY_VAR}\"\nlimits = {{ timeout_s = {timeout_s} }}"
        ),
    );
    cfg.retry.max_retries = max_retries;
    let judge = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Lenient);
    let started = Instant::now();
    let d = decide(&*judge, None, &rig.video("v"), 1).await;
    (d, server.count(), started.elapsed())
}

#[tokio::test]
async fn every_provider_survives_429_500_timeouts_and_bad_bodies() {
    for provider in ["openai", "anthropic", "gemini"] {
        // 429 with Retry-After: waits at least the asked second, then succeeds.
        let rate_limited = Reply::status(
            429,
            r#"{"error":{"message":"rate limited","type":"rate_limit"}}"#,
        )
        .header("retry-after", "1");
        let (d, n, took) = run_case(provider, vec![rate_limited], 10.0, 3).await;
        assert!(d.like && d.status.is_parsed(), "{provider}: {:?}", d.status);
        assert_eq!(n, 2, "{provider}");
        assert!(
            took >= Duration::from_millis(1000),
            "{provider}: Retry-After not honoured ({took:?})"
        );

        // 500 then success.
        let (d, n, _) = run_case(
            provider,
            vec![Reply::status(500, "internal error")],
            10.0,
            3,
        )
        .await;
        assert!(d.like && d.status.is_parsed(), "{provider}: {:?}", d.status);
        assert_eq!(n, 2);

        // A slow first answer times out; the retry succeeds.
        let slow = Reply::ok(ok_for(provider, "LIKE: Yes")).delayed(Duration::from_secs(3));
        let (d, n, _) = run_case(provider, vec![slow.clone()], 0.3, 3).await;
        assert!(d.like && d.status.is_parsed(), "{provider}: {:?}", d.status);
        assert_eq!(n, 2);

        // Always too slow: a recorded call error after the retries, not a skip.
        let (d, n, _) = run_case(provider, vec![slow.clone(), slow.clone(), slow], 0.3, 2).await;
        assert!(!d.like);
        assert!(
            matches!(&d.status, ParseStatus::CallError { message } if message.contains("no response within")),
            "{provider}: {:?}",
            d.status
        );
        assert_eq!(n, 3, "{provider}: one attempt and two retries");
        assert_eq!(d.usage.calls, 1);

        // 503s until the retries run out.
        let busy = Reply::status(503, r#"{"error":{"message":"overloaded"}}"#);
        let (d, n, _) = run_case(provider, vec![busy.clone(), busy.clone(), busy], 10.0, 2).await;
        assert!(
            matches!(&d.status, ParseStatus::CallError { message } if message.contains("HTTP 503") && message.contains("overloaded")),
            "{provider}: {:?}",
            d.status
        );
        assert_eq!(n, 3);

        // A malformed success body: recorded as a call error, not retried.
        let (d, n, _) = run_case(
            provider,
            vec![Reply::status(200, "{\"choices\": oops")],
            10.0,
            3,
        )
        .await;
        assert!(!d.like);
        assert!(
            matches!(&d.status, ParseStatus::CallError { message } if message.contains("malformed response")),
            "{provider}: {:?}",
            d.status
        );
        assert_eq!(n, 1);

        // A 400 is not retried.
        let (d, n, _) = run_case(
            provider,
            vec![Reply::status(400, r#"{"error":{"message":"bad image"}}"#)],
            10.0,
            3,
        )
        .await;
        assert!(
            matches!(&d.status, ParseStatus::CallError { message } if message.contains("HTTP 400") && message.contains("bad image")),
            "{provider}: {:?}",
            d.status
        );
        assert_eq!(n, 1);

        // An answer the strict reading cannot use keeps the raw text as a parse failure; the
        // lenient rule (the authors') reads "no yes" as a parsed skip, which is its definition.
        let odd = ok_for(provider, "Hmm, hard to say.");
        let (d, _, _) = run_case(provider, vec![Reply::ok(odd)], 10.0, 3).await;
        assert!(
            d.status.is_parsed() && !d.like,
            "{provider}: lenient reads no yes as no"
        );
        assert_eq!(d.raw[0].text, "Hmm, hard to say.");
    }
}

#[tokio::test]
async fn strict_parse_failure_and_refusal_are_recorded_not_skipped() {
    set_key();
    let server = MockServer::start(|i, _| match i {
        0 => Reply::ok(openai_ok("Maybe. It depends.")),
        _ => Reply::ok(json!({
            "choices": [{"message": {"role": "assistant", "content": null, "refusal": "I can't assess this image."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 0}
        })),
    })
    .await;
    let rig = Rig::new(1);
    let cfg = live(
        "openai",
        &server,
        "model = \"x\"\nstructured_output = false",
    );
    let judge = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Strict);
    let v = rig.video("v");
    let d = decide(&*judge, None, &v, 1).await;
    assert!(
        server.seen()[0].json().get("response_format").is_none(),
        "structured_output = false"
    );
    assert!(!d.like);
    assert!(
        matches!(&d.status, ParseStatus::ParseFailure { detail } if detail.contains("maybe")),
        "{:?}",
        d.status
    );
    assert_eq!(d.raw[0].text, "Maybe. It depends.");
    let d = decide(&*judge, None, &v, 1).await;
    assert!(
        matches!(&d.status, ParseStatus::Refused { detail } if detail.contains("can't assess")),
        "{:?}",
        d.status
    );
    assert!(!d.like);
}

#[tokio::test]
async fn text_only_describes_first_then_asks_without_images() {
    set_key();
    let server = MockServer::start(|i, _| match i {
        0 => Reply::ok(openai_ok("A crowd dancing at a night-time music festival.")),
        _ => Reply::ok(openai_ok("LIKE: Yes\nWHY: festivals are fun")),
    })
    .await;
    let rig = Rig::new(2);
    let judge = rig.judge(
        &openai_live(&server, "x"),
        StrategyKind::TextOnly,
        ParserKind::Lenient,
    );
    assert_eq!(judge.info().kind, scrollsim_core::JudgeKind::TextOnly);
    let v = rig.video("v");
    let d = decide(&*judge, None, &v, 1).await;
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let describe = seen[0].json();
    assert_eq!(
        describe["messages"][0]["content"].as_array().unwrap().len(),
        3,
        "two images and the describe question"
    );
    let ask = seen[1].json();
    let content = ask["messages"][0]["content"].as_str().unwrap_or_else(|| {
        panic!("the text-only question is a plain string, not content parts: {ask}")
    });
    assert!(content.contains("A crowd dancing at a night-time music festival."));
    assert!(d.like && d.status.is_parsed());
    assert_eq!(
        d.description.as_deref(),
        Some("A crowd dancing at a night-time music festival.")
    );
    assert_eq!(
        d.raw
            .iter()
            .map(|r| r.question.as_str())
            .collect::<Vec<_>>(),
        ["describe", "text-only"]
    );
    assert_eq!(d.usage.calls, 2);

    // A description in the corpus's metadata is not what the paper's ablation compared: the
    // model still describes the keyframes itself.
    let mut described = v.clone();
    described.description = Some("A quiet library.".into());
    let d = decide(&*judge, None, &described, 2).await;
    assert_eq!(server.count(), 4);
    assert_eq!(d.usage.calls, 2);
    let ask = server.seen()[3].json();
    let content = ask["messages"][0]["content"].as_str().unwrap();
    assert!(!content.contains("A quiet library."), "{content}");
}

#[tokio::test]
async fn image_budget_is_a_clear_error_not_a_drop() {
    set_key();
    let server = MockServer::start(|_, _| Reply::ok(openai_ok("LIKE: Yes"))).await;
    let rig = Rig::new(3);
    let cfg = live(
        "openai",
        &server,
        "model = \"x\"\nimages = { max_images = 2 }",
    );
    let judge = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Lenient);
    let v = rig.video("v9");
    let err = judge
        .decide(&JudgeRequest {
            persona: None,
            video: &v,
            text_vector: None,
            seed: 1,
        })
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, scrollsim_vlm::JudgeError::ImageBudget(_)));
    assert!(
        msg.contains("v9")
            && msg.contains("3 keyframes")
            && msg.contains("judge.models.m.images.max_images"),
        "{msg}"
    );
    assert_eq!(server.count(), 0, "nothing is sent");

    // A keyframe missing from the store is this video's problem: recorded, the session goes on.
    let mut gone = video("v10", &rig.frames[..1]);
    gone.keyframes[0].hash = "0".repeat(64).parse().unwrap();
    let d = decide(&*judge, None, &gone, 1).await;
    assert!(!d.like);
    assert!(
        matches!(&d.status, ParseStatus::CallError { message } if message.contains("keyframes unavailable") && message.contains("v10")),
        "{:?}",
        d.status
    );
    assert_eq!(d.usage.calls, 0);
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn missing_key_is_a_config_error_naming_the_variable() {
    let rig = Rig::new(1);
    let cfg = config(
        "openai",
        "http://127.0.0.1:9/v1",
        "replay-or-live",
        "model = \"x\"\napi_key_env = \"SCROLLSIM_SURELY_UNSET_KEY\"",
    );
    let err = build_judge(
        &cfg,
        &spec(StrategyKind::Plain, ParserKind::Lenient),
        &rig.env,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("SCROLLSIM_SURELY_UNSET_KEY") && err.contains("environment"),
        "{err}"
    );
    // Replaying needs no key.
    let cfg = config(
        "openai",
        "http://127.0.0.1:9/v1",
        "replay-strict",
        "model = \"x\"\napi_key_env = \"SCROLLSIM_SURELY_UNSET_KEY\"",
    );
    assert!(build_judge(
        &cfg,
        &spec(StrategyKind::Plain, ParserKind::Lenient),
        &rig.env
    )
    .is_ok());
}
