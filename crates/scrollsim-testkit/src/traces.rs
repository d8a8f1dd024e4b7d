//! Hand-made traces: a header and steps with every field set to something plain, which a test
//! changes where it is about something (`Header { seed: 2, ..header(..) }`), and a writer that
//! ends a trace the way a session does.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use scrollsim_core::{
    AlignmentWindows, Decision, End, EndReason, Header, JudgeInfo, JudgeKind, ParseStatus,
    PerValue, Persona, Platform, PolicyInfo, Step, TraceEvent, TraceWriter, Value, SCHEMA_VERSION,
    VERSION,
};

/// A family-oriented parent: two traits, Benevolence 0.9 and Tradition 0.6.
pub fn family() -> Persona {
    serde_json::from_value(serde_json::json!({
        "id": "family",
        "name": "Family-oriented parent",
        "traits": ["I have two kids.", "Sunday dinner is sacred."],
        "weights": { "BE": 0.9, "TR": 0.6 }
    }))
    .expect("a persona")
}

/// The header of session `session` of run `hand`: [`family`] judged by VLM `model` (openai,
/// simple, lenient) under the `foryou` policy with no parameters, `seed`, corpus `hand`,
/// 10 steps, windows of the first 4 against steps 6..10, threshold 0.5.
pub fn header(session: &str, model: &str, seed: u64) -> Header {
    Header {
        schema_version: SCHEMA_VERSION,
        scrollsim_version: VERSION.into(),
        run_id: "hand".into(),
        session_id: session.into(),
        created_at: "2026-11-27T10:00:00Z".parse().expect("a time"),
        persona: Some(family()),
        judge: JudgeInfo {
            kind: JudgeKind::Vlm,
            provider: "openai".into(),
            model: model.into(),
            strategy: "simple".into(),
            parser: "lenient".into(),
            prompt_version: None,
            structured: None,
            capability: None,
        },
        policy: PolicyInfo {
            params: serde_json::json!({}),
            ..PolicyInfo::named("foryou".into())
        },
        seed,
        corpus: "hand".into(),
        session_length: 10,
        windows: AlignmentWindows {
            first: 4,
            last_start: 6,
            last: 4,
        },
        align_threshold: 0.5,
        config: serde_json::json!({}),
    }
}

/// Step `index`: video `v<index>` (TikTok, caption `video <index>`) of `value` alone, liked or
/// not (10 s or 1 s of dwell); no keyframes, slate, scores or running counts.
pub fn step(index: u32, value: Value, like: bool) -> Step {
    Step {
        index,
        video: format!("v{index}").into(),
        platform: Platform::tiktok(),
        topic: None,
        caption: format!("video {index}"),
        values: vec![value],
        value_scores: PerValue::default(),
        label: Some(value),
        retrieved_for: None,
        keyframes: vec![],
        provenance: None,
        slate: vec![],
        decision: Decision {
            like,
            ..Default::default()
        },
        dwell_s: if like { 10.0 } else { 1.0 },
        exposure: PerValue::default(),
        likes: PerValue::default(),
        at: None,
    }
}

/// Writes a trace: the header, the steps and, unless `end` is none (a session cut short), an
/// end event whose counts (likes, parse failures, call errors) are the steps'.
pub fn write_trace(path: &Path, header: &Header, steps: &[Step], end: Option<EndReason>) {
    let file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut w = TraceWriter::new(BufWriter::new(file));
    w.write(&TraceEvent::Header(header.clone()))
        .expect("header written");
    for s in steps {
        w.write(&TraceEvent::Step(s.clone())).expect("step written");
    }
    let Some(reason) = end else { return };
    let count = |f: &dyn Fn(&ParseStatus) -> bool| {
        steps.iter().filter(|s| f(&s.decision.status)).count() as u32
    };
    w.write(&TraceEvent::End(End {
        steps: steps.len() as u32,
        reason,
        likes: steps.iter().filter(|s| s.decision.like).count() as u32,
        parse_failures: count(&|s| {
            matches!(
                s,
                ParseStatus::ParseFailure { .. } | ParseStatus::Refused { .. }
            )
        }),
        call_errors: count(&|s| matches!(s, ParseStatus::CallError { .. })),
        usage: Default::default(),
        at: None,
    }))
    .expect("end written");
}
