//! Hand-made traces shared by the report tests (on testkit's [`traces`]).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use scrollsim_core::*;
use scrollsim_testkit::traces;

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

/// [`traces::header`] of [`persona`] under `policy`.
pub fn header(session: &str, model: &str, seed: u64, policy: &str) -> Header {
    let mut h = traces::header(session, model, seed);
    h.persona = Some(persona());
    h.policy.name = policy.into();
    h
}

/// [`traces::step`], where a liked video of the persona's own values names the trait it matched.
pub fn step(index: u32, value: Value, like: bool) -> Step {
    let mut s = traces::step(index, value, like);
    if like && matches!(value, Benevolence | Tradition) {
        s.decision.matched_trait = Some(MatchedTrait {
            index: 0,
            text: "I have two kids.".into(),
        });
    }
    s
}

pub fn write_trace(path: &Path, h: Header, steps: &[Step], finished: bool) {
    write_trace_ending(path, h, steps, finished.then_some(EndReason::Completed));
}

/// A trace whose end event says `reason` (none: an unfinished session).
pub fn write_trace_ending(path: &Path, h: Header, steps: &[Step], reason: Option<EndReason>) {
    traces::write_trace(path, &h, steps, reason);
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
