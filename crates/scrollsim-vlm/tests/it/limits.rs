//! Concurrency and rate limits hold across every judge built from one environment.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use scrollsim_vlm::{ParserKind, StrategyKind};

/// `n` videos, each showing the rig's keyframes.
fn videos(rig: &Rig, n: usize) -> Vec<scrollsim_core::Video> {
    (0..n).map(|i| rig.video(&format!("v{i}"))).collect()
}

async fn run_parallel(
    judges: Vec<Arc<dyn scrollsim_vlm::Judge>>,
    videos: Vec<scrollsim_core::Video>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, v) in videos.into_iter().enumerate() {
        let judge = judges[i % judges.len()].clone();
        tasks.spawn(async move {
            let d = decide(&*judge, None, &v, i as u64).await;
            assert!(d.status.is_parsed(), "{:?}", d.status);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_shared_by_judges_of_one_model() {
    let server = MockServer::start(|_, _| {
        Reply::ok(openai_ok("LIKE: Yes")).delayed(Duration::from_millis(150))
    })
    .await;
    let rig = Rig::new(1);
    let cfg = live(
        "openai",
        &server,
        "model = \"x\"\nlimits = { concurrency = 3 }",
    );
    // Two judges (two strategies) of the same model share one limit.
    let a = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Lenient);
    let b = rig.judge(&cfg, StrategyKind::Simple, ParserKind::Lenient);
    run_parallel(vec![a, b], videos(&rig, 12)).await;
    assert_eq!(server.count(), 12);
    assert_eq!(
        server.max_in_flight(),
        3,
        "at most (and, with 12 waiting, exactly) 3 in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_minute_paces_calls() {
    let server = MockServer::start(|_, _| Reply::ok(openai_ok("LIKE: Yes"))).await;
    let rig = Rig::new(1);
    // 600 per minute: a burst of 10, then one every 100 ms.
    let cfg = live(
        "openai",
        &server,
        "model = \"x\"\nlimits = { rpm = 600, concurrency = 64 }",
    );
    let judge = rig.judge(&cfg, StrategyKind::Plain, ParserKind::Lenient);
    let videos = videos(&rig, 20);
    let started = Instant::now();
    run_parallel(vec![judge], videos).await;
    let took = started.elapsed();
    assert_eq!(server.count(), 20);
    // 10 beyond the burst at 100 ms each: at least ~1 s (a lower bound, not a speed target).
    assert!(
        took >= Duration::from_millis(900),
        "20 calls at 600 rpm took only {took:?}"
    );
}
