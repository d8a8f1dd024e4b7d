//! No API key reaches a log line, a decision (what traces record) or the call cache: a planted
//! key is sent to the server (so the test means something) and then searched for everywhere
//! else, including when the server echoes it back in an error.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use scrollsim_core::ParseStatus;
use scrollsim_vlm::{build_judge, ParserKind, StrategyKind};

const KEY_VAR: &str = "SCROLLSIM_LEAK_TEST_KEY";
const KEY: &str = "sk-planted-LEAKCHECK-0123456789abcdefXYZ";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_key_never_leaves_the_request_headers() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();
    std::env::set_var(KEY_VAR, KEY);

    // A server that echoes the key in its errors, as some providers do on a 401.
    let server = MockServer::start(|i, seen| {
        let got = seen
            .header("authorization")
            .or_else(|| seen.header("x-api-key"))
            .or_else(|| seen.header("x-goog-api-key"));
        let echoed = got.unwrap_or_default();
        match i % 4 {
            0 => Reply::status(
                429,
                &format!(r#"{{"error":{{"message":"slow down, {echoed}"}}}}"#),
            )
            .header("retry-after", "0"),
            1 => Reply::ok(ok_for("openai", "LIKE: Yes\nWHY: fine")),
            2 => Reply::status(
                401,
                &format!(r#"{{"error":{{"message":"Incorrect API key provided: {echoed}"}}}}"#),
            ),
            _ => Reply::status(200, &format!("not json {echoed}")),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (store, frames) = keyframes(dir.path(), 2);
    let mut decisions = Vec::new();
    let mut infos = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        let cfg = config(
            provider,
            &base_url(provider, &server),
            "record",
            &format!("model = \"x\"\napi_key_env = \"{KEY_VAR}\""),
        );
        let env = env(&dir.path().join(provider), store.clone());
        let judge =
            build_judge(&cfg, &spec(StrategyKind::Simple, ParserKind::Lenient), &env).unwrap();
        infos.push(serde_json::to_string(&judge.info()).unwrap());
        infos.push(format!("{env:?}"));
        let p = persona();
        for s in 0..3 {
            let v = video(&format!("{provider}{s}"), &frames);
            let d = decide(&*judge, Some(&p), &v, s).await;
            decisions.push(d);
        }
    }
    // The key did reach the server.
    assert!(server
        .seen()
        .iter()
        .any(|s| s.header("authorization").as_deref() == Some(&format!("Bearer {KEY}"))));
    assert!(server
        .seen()
        .iter()
        .any(|s| s.header("x-api-key").as_deref() == Some(KEY)));
    assert!(server
        .seen()
        .iter()
        .any(|s| s.header("x-goog-api-key").as_deref() == Some(KEY)));
    // The errors that echoed it were recorded, redacted.
    let errors: Vec<&str> = decisions
        .iter()
        .filter_map(|d| match &d.status {
            ParseStatus::CallError { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("Incorrect API key provided")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|m| m.contains("malformed")), "{errors:?}");

    let needles = [KEY, "LEAKCHECK", "0123456789abcdefXYZ"];
    let traces = serde_json::to_string(&decisions).unwrap() + &infos.join("\n");
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log_text.contains("retrying"),
        "logging was captured: {log_text}"
    );
    let mut cache_bytes = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        cache_bytes
            .extend(std::fs::read(dir.path().join(provider).join("cache/calls.redb")).unwrap());
    }
    assert!(
        cache_bytes.windows(7).any(|w| w == b"LIKE: Y"),
        "the cache holds the recorded answers"
    );
    for n in needles {
        assert!(
            !traces.contains(n),
            "key fragment {n:?} in a decision: {traces}"
        );
        assert!(!log_text.contains(n), "key fragment {n:?} in the logs");
        assert!(
            !cache_bytes.windows(n.len()).any(|w| w == n.as_bytes()),
            "key fragment {n:?} in the cache"
        );
    }
    println!(
        "searched {} decisions, {} bytes of logs and {} bytes of cache: no key",
        decisions.len(),
        log_text.len(),
        cache_bytes.len()
    );
}
