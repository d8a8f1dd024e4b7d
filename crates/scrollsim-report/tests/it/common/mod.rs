//! Hand-made traces shared by the report tests.
#![allow(dead_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use scrollsim_core::*;

use Value::*;

pub fn persona() -> Persona {
    toml::from_str(
        r#"id = "family"
           name = "Family-oriented parent"
           traits = ["I have two kids.", "Sunday dinner is sacred."]
           weights = { BE = 0.9, TR = 0.6, PO = -0.3 }"#,
    )
    .unwrap()
}

pub fn header(session: &str, model: &str, seed: u64, policy: &str) -> Header {
    Header {
        schema_version: SCHEMA_VERSION,
        scrollsim_version: VERSION.into(),
        run_id: "hand".into(),
        session_id: session.into(),
        created_at: "2026-11-27T10:00:00Z".parse().unwrap(),
        persona: Some(persona()),
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
            preset: None,
            params: serde_json::json!({}),
            ..PolicyInfo::named(policy.into())
        },
        seed,
        corpus: "hand".into(),
        session_length: 10,
        // First 4 steps against steps 6..10.
        windows: AlignmentWindows {
            first: 4,
            last_start: 6,
            last: 4,
        },
        align_threshold: 0.5,
        config: serde_json::json!({}),
    }
}

pub fn step(index: u32, value: Value, like: bool) -> Step {
    let aligned = matches!(value, Benevolence | Tradition);
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
            matched_trait: (like && aligned).then(|| MatchedTrait {
                index: 0,
                text: "I have two kids.".into(),
            }),
            ..Default::default()
        },
        dwell_s: if like { 10.0 } else { 1.0 },
        exposure: PerValue::default(),
        likes: PerValue::default(),
        at: None,
    }
}

pub fn write_trace(path: &Path, h: Header, steps: &[Step], finished: bool) {
    write_trace_ending(path, h, steps, finished.then_some(EndReason::Completed));
}

/// A trace whose end event says `reason` (none: an unfinished session).
pub fn write_trace_ending(path: &Path, h: Header, steps: &[Step], reason: Option<EndReason>) {
    let mut w = TraceWriter::new(BufWriter::new(File::create(path).unwrap()));
    w.write(&TraceEvent::Header(h)).unwrap();
    for s in steps {
        w.write(&TraceEvent::Step(s.clone())).unwrap();
    }
    if let Some(reason) = reason {
        let likes = steps.iter().filter(|s| s.decision.like).count() as u32;
        w.write(&TraceEvent::End(End {
            steps: steps.len() as u32,
            reason,
            likes,
            parse_failures: 0,
            call_errors: 0,
            usage: Default::default(),
            at: None,
        }))
        .unwrap();
    }
}

pub const XSS_CAPTION: &str = "Grandma's <script>alert(1)</script> recipe";
pub const XSS_REASON: &str = "<img src=x onerror=alert(2)> family & food";
pub const KEYFRAME: &str = "abababababababababababababababababababababababababababababababab";

pub const VALUES: [Value; 10] = [
    Power,
    Power,
    Benevolence,
    Power,
    Hedonism,
    Benevolence,
    Benevolence,
    Benevolence,
    Tradition,
    Power,
];
pub const LIKES: [[u8; 10]; 3] = [
    [0, 0, 1, 0, 1, 1, 1, 1, 1, 0],
    [0, 1, 1, 0, 0, 1, 1, 0, 1, 0],
    [1, 0, 0, 0, 0, 1, 1, 1, 1, 1],
];

/// Three seeds of one cell (family, model m1, simple, foryou), plus one keyword session of
/// model m2, in a run directory.
pub fn hand_run(dir: &Path) -> PathBuf {
    let run = dir.join("hand");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (k, likes) in LIKES.iter().enumerate() {
        let seed = k as u64 + 1;
        let mut steps: Vec<Step> = VALUES
            .iter()
            .zip(likes)
            .enumerate()
            .map(|(i, (v, l))| step(i as u32, *v, *l == 1))
            .collect();
        if seed == 2 {
            // A malformed answer: recorded raw, counted as a parse failure, not a like.
            steps[3].decision.status = ParseStatus::ParseFailure {
                detail: "maybe?".into(),
            };
            steps[3].decision.raw = vec![RawAnswer {
                question: "like".into(),
                text: "maybe?".into(),
            }];
        }
        if seed == 1 {
            // Text from a video and a model that must never become markup.
            steps[2].caption = XSS_CAPTION.into();
            steps[2].decision.reason = Some(XSS_REASON.into());
            steps[2].keyframes = vec![Keyframe {
                hash: KEYFRAME.parse().unwrap(),
                view: None,
                at_s: Some(0.5),
            }];
        }
        if seed == 3 {
            steps[4].decision.status = ParseStatus::CallError {
                message: "HTTP 503 after 3 retries".into(),
            };
        }
        let name = format!("family__m1__simple__foryou__s{seed}");
        write_trace(
            &run.join(format!("sessions/{name}.jsonl")),
            header(&name, "m1", seed, "foryou"),
            &steps,
            true,
        );
    }
    // Keyword session: five images retrieved for SD (4 liked), five for UN (2 liked); labels
    // say PO on purpose, P must follow retrieval. Half on YouTube, half on Instagram.
    let likes = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0];
    let steps: Vec<Step> = (0..10)
        .map(|i| {
            let mut s = step(i, Power, likes[i as usize] == 1);
            s.retrieved_for = Some(if i < 5 { SelfDirection } else { Universalism });
            s.platform = if i < 5 {
                Platform::youtube()
            } else {
                Platform::instagram()
            };
            s
        })
        .collect();
    write_trace(
        &run.join("sessions/kw.jsonl"),
        header("kw", "m2", 9, "keyword"),
        &steps,
        false,
    );
    run
}
