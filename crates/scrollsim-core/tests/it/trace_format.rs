//! The trace format: every event type round-trips through JSON, validates against the
//! published schema, and old or newer traces still read.

use std::path::PathBuf;

use scrollsim_core::*;
use scrollsim_testkit::traces;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/trace-event.schema.json")
}

/// Testkit's header with every optional part filled in: the offline persona model, a preset,
/// parameters and a config.
fn header() -> Header {
    let mut h = traces::header("family__offline__simple__foryou__s1", "persona-model-v1", 7);
    h.run_id = "run-1".into();
    h.judge.kind = JudgeKind::OfflinePersonaModel;
    h.judge.provider = "offline".into();
    h.policy.preset = Some("tiktok-like".into());
    h.policy.params = serde_json::json!({"epsilon": 0.1});
    h.corpus = "videos@3f2a".into();
    h.session_length = 150;
    h.windows = AlignmentWindows::default();
    h.config = serde_json::json!({"store": {"backend": "embedded"}});
    h
}

fn step() -> Step {
    let mut scores = PerValue::<f32>::default();
    scores[Value::Benevolence] = 0.61;
    let hash: ImageHash = "ab".repeat(32).parse().unwrap();
    Step {
        index: 0,
        video: "tt-001".into(),
        platform: Platform::tiktok(),
        topic: Some("family".into()),
        caption: "Grandma's <script>alert(1)</script> recipe".into(),
        values: vec![Value::Benevolence],
        value_scores: scores,
        label: Some(Value::Benevolence),
        retrieved_for: None,
        keyframes: vec![Keyframe {
            hash,
            view: None,
            at_s: Some(1.5),
        }],
        provenance: None,
        slate: vec![SlateEntry {
            video: "tt-001".into(),
            score: 0.83,
            source: Some("recommend".into()),
        }],
        decision: Decision {
            like: true,
            status: ParseStatus::Parsed,
            reason: Some("family time".into()),
            description: None,
            matched_trait: Some(MatchedTrait {
                index: 0,
                text: "I have two kids.".into(),
            }),
            isq: Some(IsqResult {
                items: IsqItems {
                    visual_appeal: 7,
                    curiosity: 6,
                    emotional_engagement: 8,
                    value_expectation: 7,
                    preference_alignment: 1,
                    action_decision: 1,
                },
                s_percent: 80.0,
                threshold: 60.0,
            }),
            score: Some(0.8),
            read: Some(scrollsim_core::AnswerRead::Json),
            raw: vec![RawAnswer {
                question: "isq".into(),
                text: "{...}".into(),
            }],
            usage: CallUsage {
                calls: 1,
                prompt_tokens: 900,
                ..Default::default()
            },
        },
        dwell_s: 12.5,
        exposure: PerValue::from_fn(|v| (v == Value::Benevolence) as u32),
        likes: PerValue::from_fn(|v| (v == Value::Benevolence) as u32),
        at: None,
    }
}

fn end() -> End {
    End {
        steps: 1,
        reason: EndReason::CorpusExhausted,
        likes: 1,
        parse_failures: 0,
        call_errors: 0,
        usage: CallUsage::default(),
        at: None,
    }
}

#[test]
fn published_schema_matches_the_types() {
    let generated = serde_json::to_string_pretty(&trace::json_schema()).unwrap() + "\n";
    let path = schema_path();
    if std::env::var_os("SCROLLSIM_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "{} is out of date with the Rust types; regenerate with \
         `SCROLLSIM_BLESS=1 cargo test -p scrollsim-core --test it trace_format`",
        path.display()
    );
}

#[test]
fn every_event_round_trips_and_validates() {
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&published).unwrap();
    let mut failure = step();
    failure.index = 1;
    failure.decision = Decision {
        like: false,
        status: ParseStatus::ParseFailure {
            detail: "no yes or no".into(),
        },
        raw: vec![RawAnswer {
            question: "like".into(),
            text: "Hmm, hard to say".into(),
        }],
        ..Default::default()
    };
    let events = [
        TraceEvent::Header(header()),
        TraceEvent::Step(step()),
        TraceEvent::Step(failure),
        TraceEvent::End(end()),
    ];
    let mut buf = Vec::new();
    let mut w = TraceWriter::new(&mut buf);
    for ev in &events {
        let json = serde_json::to_value(ev).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{:?} does not validate: {errors:?}",
            json["type"]
        );
        w.write(ev).unwrap();
    }
    let back: Vec<TraceEvent> = TraceReader::new(buf.as_slice())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, events);
    let session = SessionTrace::read(buf.as_slice()).unwrap();
    assert_eq!(session.steps.len(), 2);
    assert_eq!(session.end.unwrap().reason, EndReason::CorpusExhausted);
}

#[test]
fn a_schema_violation_is_caught() {
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&published).unwrap();
    let mut json = serde_json::to_value(TraceEvent::Step(step())).unwrap();
    json["values"] = serde_json::json!(["XX"]);
    assert!(!validator.is_valid(&json));
}

#[test]
fn old_trace_without_optional_fields_still_reads() {
    // A minimal step as an early writer might have produced it: no slate, no topic, no label,
    // no usage, no parse status.
    let mut json = serde_json::to_value(TraceEvent::Step(step())).unwrap();
    let obj = json.as_object_mut().unwrap();
    for k in ["slate", "topic", "label", "caption", "platform", "at"] {
        obj.remove(k);
    }
    let d = obj["decision"].as_object_mut().unwrap();
    for k in [
        "status",
        "usage",
        "raw",
        "isq",
        "reason",
        "matched_trait",
        "score",
    ] {
        d.remove(k);
    }
    let ev: TraceEvent = serde_json::from_value(json).unwrap();
    let TraceEvent::Step(s) = ev else {
        panic!("not a step")
    };
    assert!(s.slate.is_empty());
    assert_eq!(s.decision.status, ParseStatus::Parsed);
    assert_eq!(s.platform, Platform::unknown());

    let mut h = serde_json::to_value(TraceEvent::Header(header())).unwrap();
    for k in ["windows", "align_threshold", "config", "persona"] {
        h.as_object_mut().unwrap().remove(k);
    }
    let TraceEvent::Header(h) = serde_json::from_value(h).unwrap() else {
        panic!()
    };
    assert_eq!(h.windows, AlignmentWindows::default());
    assert!(h.persona.is_none());
}

#[test]
fn newer_fields_and_event_types_are_ignored() {
    let mut json = serde_json::to_value(TraceEvent::Step(step())).unwrap();
    json["emotion_vector"] = serde_json::json!([0.1, 0.2]);
    json["decision"]["confidence_interval"] = serde_json::json!(0.3);
    let mut text = serde_json::to_string(&TraceEvent::Header(header())).unwrap() + "\n";
    text += &(serde_json::to_string(&json).unwrap() + "\n");
    text += "{\"type\":\"checkpoint\",\"state\":{}}\n";
    text += &(serde_json::to_string(&TraceEvent::End(end())).unwrap() + "\n");
    let session = SessionTrace::read(text.as_bytes()).unwrap();
    assert_eq!(session.steps.len(), 1);
    assert!(session.end.is_some());
}

#[test]
fn damaged_traces_report_the_line() {
    let mut text = serde_json::to_string(&TraceEvent::Header(header())).unwrap() + "\n";
    text += "{\"type\":\"step\",\"index\":0,\"video\":\n";
    let err = SessionTrace::read(text.as_bytes()).unwrap_err();
    assert!(err.to_string().starts_with("line 2:"), "{err}");

    let mut text = serde_json::to_string(&TraceEvent::Header(header())).unwrap() + "\n";
    text += &serde_json::to_string(&TraceEvent::Step(step())).unwrap()[..40];
    let err = SessionTrace::read(text.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("line 2: truncated"), "{err}");

    let mut s = step();
    s.index = 3;
    let mut text = serde_json::to_string(&TraceEvent::Header(header())).unwrap() + "\n";
    text += &(serde_json::to_string(&TraceEvent::Step(s)).unwrap() + "\n");
    let err = SessionTrace::read(text.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("step index 3, expected 0"),
        "{err}"
    );
}
