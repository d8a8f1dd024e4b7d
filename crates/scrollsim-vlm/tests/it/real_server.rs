//! The judge stack against a real OpenAI-compatible server: llama-cpp-python's, serving Gemma
//! 3 270M (a text model), as `scripts/llama-server` installs and starts it. `./scripts/test`
//! starts it and sets `SCROLLSIM_LLAMA_URL`; by hand, start the server and run with
//! `SCROLLSIM_LLAMA_URL=http://127.0.0.1:8088/v1`. Without the variable these tests return at
//! once and say so on the terminal (not in captured output, which a passing test hides). The
//! results of the last run are in docs/judges.md.

use crate::common;

use common::*;
use scrollsim_core::{AnswerRead, StructuredOutcome};
use scrollsim_vlm::probe::{probe, render};
use scrollsim_vlm::{
    check_study, DescriptionSource, JudgeConfig, ParserKind, ProbeCache, ProbeOptions, StrategyKind,
};
use tokio::sync::{Mutex, MutexGuard};

/// The server answers one call at a time: the tests take turns, so a call's timeout covers
/// that call's work and not other tests' calls queued before it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The real server's `[judge]` config and this test's turn at the server, or None after
/// saying, past the test harness's capture, that `test` did not run: a skipped real-server
/// test must not read as a passed one.
async fn real_server(test: &str) -> Option<(JudgeConfig, MutexGuard<'static, ()>)> {
    match std::env::var("SCROLLSIM_LLAMA_URL") {
        Ok(u) if !u.trim().is_empty() => {
            let turn = ONE_AT_A_TIME.lock().await;
            Some((cfg(u.trim().trim_end_matches('/')), turn))
        }
        _ => {
            use std::io::Write;
            // Straight to the process's stderr: `eprintln!` is captured, and a passing
            // test's captured output is never shown.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: SCROLLSIM_LLAMA_URL is not set, so nothing was checked against a real server (start one with scripts/llama-server, then SCROLLSIM_LLAMA_URL=http://127.0.0.1:8088/v1 cargo test --workspace --all-targets -- real_server)"
            );
            None
        }
    }
}

/// The probe's record of the server's model.
async fn probed(cfg: &JudgeConfig) -> scrollsim_core::Capability {
    probe("m", &cfg.models["m"], &ProbeOptions::default())
        .await
        .unwrap()
}

fn cfg(url: &str) -> JudgeConfig {
    let mut c = config(
        "openai",
        url,
        "live",
        "model = \"gemma-3-270m\"\nsettings = { temperature = 0.0, max_tokens = 80 }\nlimits = { timeout_s = 300, concurrency = 1 }",
    );
    c.text_only_description = DescriptionSource::Metadata;
    c
}

#[tokio::test]
async fn real_server_text_only_answers_arrive_whole() {
    let Some((cfg, _turn)) = real_server("real_server_text_only_answers_arrive_whole").await else {
        return;
    };
    let rig = Rig::new(2);
    let judge = rig.judge(&cfg, StrategyKind::TextOnly, ParserKind::Lenient);
    let mut v = rig.video("v1");
    v.description = Some("A crowd dancing at a night-time music festival.".into());
    let d = decide(&*judge, None, &v, 1).await;
    eprintln!(
        "text-only: {} prompt tokens, read {:?}, answer {:?}",
        d.usage.prompt_tokens,
        d.read,
        d.raw.last().map(|r| r.text.as_str())
    );
    let answer = &d.raw.last().unwrap().text;
    assert!(!answer.trim().is_empty(), "{d:?}");
    assert!(
        d.usage.prompt_tokens > 40,
        "the whole question was counted: {:?}",
        d.usage
    );
    assert!(d.read.is_some());
}

#[tokio::test]
async fn real_server_probe_finds_no_images_and_refuses_image_strategies() {
    let Some((cfg, _turn)) =
        real_server("real_server_probe_finds_no_images_and_refuses_image_strategies").await
    else {
        return;
    };
    let c = probed(&cfg).await;
    eprintln!("{}", render(&c));
    assert!(
        !c.sees_images,
        "a text model cannot name the colours: {c:?}"
    );
    assert!(
        c.text_prompt_tokens > 20,
        "the question arrived: {}",
        c.text_prompt_tokens
    );
    assert_eq!(c.structured.len(), 3, "every mode is tried or marked");

    let models = vec!["m".to_string()];
    let strategies = vec![StrategyKind::Simple, StrategyKind::Plain];
    let plan = study_plan(&models, &strategies, false, true);
    let dir = tempfile::tempdir().unwrap();
    let cache = ProbeCache::new(dir.path());
    let err = check_study(&cfg, &plan, &prompt_dir(), Some(&cache))
        .await
        .unwrap_err();
    eprintln!("{err}");
    assert_eq!(
        err.0.iter().filter(|p| p.key == "strategies").count(),
        2,
        "{err}"
    );
}

#[tokio::test]
async fn real_server_structured_output_works_or_its_absence_is_recorded() {
    let Some((cfg, _turn)) =
        real_server("real_server_structured_output_works_or_its_absence_is_recorded").await
    else {
        return;
    };
    let c = probed(&cfg).await;
    let best = c.best_structured();
    for s in &c.structured {
        assert_ne!(s.outcome, StructuredOutcome::Other, "{s:?}");
    }
    let mut rig = Rig::new(2);
    rig.env = rig.env.clone().with_capabilities([("m".into(), c)]);
    let judge = rig.judge(&cfg, StrategyKind::TextOnly, ParserKind::Auto);
    let info = judge.info();
    assert_eq!(info.structured, best, "the trace says which mode was used");
    let mut v = rig.video("v1");
    v.description = Some("A cat sleeping on a sofa.".into());
    let d = decide(&*judge, None, &v, 1).await;
    eprintln!(
        "auto parser -> {} with {:?}: read {:?}, answer {:?}",
        info.parser,
        info.structured,
        d.read,
        d.raw.last().map(|r| r.text.as_str())
    );
    match best {
        Some(_) => {
            // The honoured mode holds the answer to the schema's shape...
            let answer = &d.raw.last().unwrap().text;
            let json: serde_json::Value = serde_json::from_str(answer.trim())
                .unwrap_or_else(|e| panic!("not the JSON the mode asks for ({e}): {d:?}"));
            assert!(matches!(json["like"].as_str(), Some("yes" | "no")), "{d:?}");
            // ...what the model puts in it is its own: Gemma 3 270M copies the format's
            // placeholder as its reason, which is read as salvaged and the reason dropped,
            // never as a clean answer.
            match d.read {
                Some(AnswerRead::Json) => {}
                Some(AnswerRead::Salvaged) => assert!(d.reason.is_none(), "{d:?}"),
                _ => panic!("JSON in the honoured mode is read as json or salvaged: {d:?}"),
            }
        }
        None => assert_eq!(info.parser.as_str(), "lenient"),
    }
}
