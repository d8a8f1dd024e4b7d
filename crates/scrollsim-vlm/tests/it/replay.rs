//! Record/replay: a recorded run replays with zero network calls and identical decisions;
//! replay-strict fails with a clear message on a miss; replay-or-live never pays twice; the
//! budget stops new calls but never recorded ones.

use crate::common;

use common::*;
use scrollsim_core::{Decision, ImageHash, ParseStatus, Video};
use scrollsim_vlm::{
    build_judge, Judge, JudgeConfig, JudgeError, JudgeRequest, JudgeSpec, ParserKind, StrategyKind,
};

fn simple() -> JudgeSpec {
    spec(StrategyKind::Simple, ParserKind::Lenient)
}

/// Answers differ from request to request (so identical replays mean the right recording came
/// back); a request carrying the `poison` image always fails with a 500.
fn script(poison: String) -> impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static {
    move |i, seen| {
        let body = String::from_utf8_lossy(&seen.body).to_string();
        if body.contains(&poison) {
            return Reply::status(500, r#"{"error":{"message":"upstream exploded"}}"#);
        }
        let like = (body.len() + i).is_multiple_of(2);
        Reply::ok(openai_ok(&format!(
            "LIKE: {}\nTRAIT: {}\nWHY: answer number {i}",
            if like { "Yes" } else { "No" },
            if like { "1" } else { "NA" },
        )))
    }
}

/// Five videos over four keyframes; v3 alone shows frame 3 (the poisoned one).
fn videos(frames: &[(ImageHash, Vec<u8>)]) -> Vec<Video> {
    let pick = |ix: &[usize]| ix.iter().map(|i| frames[*i].clone()).collect::<Vec<_>>();
    vec![
        video("v0", &pick(&[0])),
        video("v1", &pick(&[1])),
        video("v2", &pick(&[0, 1])),
        video("v3", &pick(&[3])),
        video("v4", &pick(&[2, 0])),
    ]
}

async fn run_all(
    judge: &dyn Judge,
    videos: &[Video],
    seed: u64,
) -> Result<Vec<Decision>, JudgeError> {
    let p = persona();
    let mut out = Vec::new();
    for v in videos {
        out.push(
            judge
                .decide(&JudgeRequest {
                    persona: Some(&p),
                    video: v,
                    text_vector: None,
                    seed,
                })
                .await?,
        );
    }
    Ok(out)
}

type Essence = (
    bool,
    ParseStatus,
    Option<String>,
    Option<usize>,
    Vec<String>,
    Vec<String>,
);

/// The decision minus what legitimately differs between a live call and a replay (latency,
/// cost, the cached counter).
fn essence(d: &Decision) -> Essence {
    (
        d.like,
        d.status.clone(),
        d.reason.clone(),
        d.matched_trait.as_ref().map(|t| t.index),
        d.raw.iter().map(|r| r.text.clone()).collect(),
        d.usage.cache_keys.clone(),
    )
}

fn cfg(url: &str, mode: &str) -> JudgeConfig {
    config("openai", &format!("{url}/v1"), mode, "model = \"gpt-test\"")
}

#[tokio::test]
async fn recorded_run_replays_without_network_and_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (store, frames) = keyframes(dir.path(), 4);
    let server = MockServer::start(script(b64(&frames[3].1))).await;
    let vids = videos(&frames);

    let recorded = {
        let env = env(dir.path(), store.clone());
        let judge = build_judge(&cfg(&server.url, "record"), &simple(), &env).unwrap();
        run_all(judge.as_ref(), &vids, 11).await.unwrap()
    };
    let live_requests = server.count();
    assert_eq!(
        live_requests,
        4 + 4,
        "four answers, and v3's attempt plus three retries"
    );
    assert!(
        recorded.iter().any(|d| d.like) && recorded.iter().any(|d| !d.like && d.status.is_parsed())
    );
    assert!(
        matches!(&recorded[3].status, ParseStatus::CallError { message } if message.contains("upstream exploded"))
    );

    // A new environment (as a new process would have) replaying strictly.
    let env = env(dir.path(), store);
    let judge = build_judge(&cfg(&server.url, "replay-strict"), &simple(), &env).unwrap();
    let replayed = run_all(judge.as_ref(), &vids, 11).await.unwrap();
    assert_eq!(server.count(), live_requests, "replay made network calls");
    for (a, b) in recorded.iter().zip(&replayed) {
        assert_eq!(essence(a), essence(b));
        assert_eq!(b.usage.cached, b.usage.calls);
        assert_eq!(b.usage.cost_usd, 0.0);
    }
    let snap = env.ledger().snapshot();
    assert_eq!((snap.total.calls, snap.total.cached), (0, 5));
    println!(
        "recorded {} decisions with {live_requests} requests; replayed them with 0",
        recorded.len()
    );
}

#[tokio::test]
async fn replay_strict_miss_names_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let (store, frames) = keyframes(dir.path(), 4);
    let server = MockServer::start(script(String::from("<never in a request>"))).await;
    let judge = build_judge(
        &cfg(&server.url, "replay-strict"),
        &simple(),
        &env(dir.path(), store),
    )
    .unwrap();
    let vids = videos(&frames);
    let err = run_all(judge.as_ref(), &vids, 1).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, JudgeError::CacheMiss { .. }));
    assert!(
        msg.starts_with("replay-strict: no recorded answer for cache key "),
        "{msg}"
    );
    assert!(
        msg.contains("video v0") && msg.contains("model `m`") && msg.contains("persona partygoer"),
        "{msg}"
    );
    assert!(
        msg.contains("replay-or-live"),
        "the message says how to proceed: {msg}"
    );
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn replay_or_live_never_pays_twice_and_seeds_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let (store, frames) = keyframes(dir.path(), 4);
    let server = MockServer::start(script(b64(&frames[3].1))).await;
    let vids = videos(&frames);
    let env = env(dir.path(), store);
    let judge = build_judge(&cfg(&server.url, "replay-or-live"), &simple(), &env).unwrap();
    let first = run_all(judge.as_ref(), &vids, 5).await.unwrap();
    let after_first = server.count();
    let second = run_all(judge.as_ref(), &vids, 5).await.unwrap();
    // Only v3's recorded failure is tried again (a failure is not a paid answer).
    assert_eq!(server.count() - after_first, 4);
    for i in [0, 1, 2, 4] {
        assert_eq!(essence(&first[i]), essence(&second[i]));
        assert_eq!(second[i].usage.cached, 1);
    }
    // Another seed is another sample: new calls.
    let before = server.count();
    run_all(judge.as_ref(), &vids[..1], 6).await.unwrap();
    assert_eq!(server.count(), before + 1);
}

#[tokio::test]
async fn budget_stops_new_calls_but_serves_recorded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (store, frames) = keyframes(dir.path(), 4);
    let server = MockServer::start(script(String::from("<never in a request>"))).await;
    let vids = videos(&frames);
    let mut c = config(
        "openai",
        &format!("{}/v1", server.url),
        "replay-or-live",
        "model = \"gpt-test\"\nsettings = { max_tokens = 100 }\nprices = { input_per_mtok = 1.0, output_per_mtok = 1.0 }",
    );
    // Each answer reports 429 tokens; room for two calls and the third's reservation fails.
    c.budget.max_tokens = Some(1100);
    let env = env(dir.path(), store);
    let judge = build_judge(&c, &simple(), &env).unwrap();
    let p = persona();
    let decide = |v: &Video| {
        let judge = judge.clone();
        let p = p.clone();
        let v = v.clone();
        async move {
            judge
                .decide(&JudgeRequest {
                    persona: Some(&p),
                    video: &v,
                    text_vector: None,
                    seed: 1,
                })
                .await
        }
    };
    let first = decide(&vids[0]).await.unwrap();
    decide(&vids[1]).await.unwrap();
    let err = decide(&vids[2]).await.unwrap_err();
    assert!(matches!(err, JudgeError::BudgetExhausted(_)), "{err}");
    assert!(err.to_string().contains("judge.budget.max_tokens"), "{err}");
    assert_eq!(server.count(), 2, "the refused call never left");
    // A recorded answer is still served, for free.
    let again = decide(&vids[0]).await.unwrap();
    assert_eq!(essence(&again), essence(&first));
    assert_eq!(again.usage.cached, 1);
    assert_eq!(server.count(), 2);
    let snap = env.ledger().snapshot();
    assert!(snap.budget_exhausted);
    assert_eq!(snap.total.tokens(), 2 * 429);
    assert_eq!(snap.total.cached, 1);
}
