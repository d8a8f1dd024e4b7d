//! Feed policies against the real embedded store (qdrant-edge) on a synthetic corpus whose
//! videos cluster by value, driven by a scripted agent that likes one value only.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;

use scrollsim_core::{Decision, Value, VideoId};
use scrollsim_sim::policy::KeywordQuery;
use scrollsim_sim::{
    build_policy, FeedPolicy, Pick, PolicyContext, PolicyMemo, PolicySpec, SessionState,
};
use scrollsim_store::VideoStore;
use scrollsim_testkit::SyntheticCorpus;

/// Runs a policy for up to `steps` steps with an agent that likes videos labelled `liked`,
/// staying 10 s on a like and 1 s on a skip. Stops early when the policy has nothing left.
async fn drive(
    policy: &dyn FeedPolicy,
    steps: usize,
    seed: u64,
    liked: Value,
) -> (Vec<Pick>, bool) {
    let mut state = SessionState::new();
    let mut memo = PolicyMemo::default();
    let mut picks = Vec::new();
    for _ in 0..steps {
        let mut cx = PolicyContext {
            state: &state,
            seed,
            memo: &mut memo,
        };
        let Some(p) = policy.next(&mut cx).await.unwrap() else {
            return (picks, true);
        };
        let like = p.video.label == Some(liked);
        let d = Decision {
            like,
            ..Default::default()
        };
        state.advance(
            &p.video.id,
            &p.video.values,
            &d,
            if like { 10.0 } else { 1.0 },
        );
        picks.push(p);
    }
    (picks, false)
}

fn policy(spec: &str, store: &Arc<dyn VideoStore>) -> Arc<dyn FeedPolicy> {
    let spec: PolicySpec = spec.parse().unwrap();
    build_policy(&spec, &common::policy_config(), store.clone(), None).unwrap()
}

/// No video twice, every slate entry unseen when it was considered, the shown video in the
/// slate.
fn check_slates(picks: &[Pick]) {
    let mut seen: HashSet<VideoId> = HashSet::new();
    for (i, p) in picks.iter().enumerate() {
        assert!(!p.slate.is_empty(), "step {i}: empty slate");
        assert!(
            p.slate.iter().any(|e| e.video == p.video.id),
            "step {i}: shown video not in its slate"
        );
        for e in &p.slate {
            assert!(
                !seen.contains(&e.video),
                "step {i}: slate holds already seen {}",
                e.video
            );
            assert!(e.source.is_some(), "step {i}: slate entry without a source");
        }
        assert!(
            seen.insert(p.video.id.clone()),
            "step {i}: {} shown twice",
            p.video.id
        );
    }
}

fn share(picks: &[Pick], range: std::ops::Range<usize>, v: Value) -> f64 {
    let n = range.len();
    picks[range]
        .iter()
        .filter(|p| p.video.label == Some(v))
        .count() as f64
        / n as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_never_repeats_is_seeded_and_ends_when_the_corpus_is_exhausted() {
    let (_d, store) = common::store_with(common::synthetic(60, 16)).await;
    let random = policy("random", &store);
    let (picks, exhausted) = drive(random.as_ref(), 100, 7, Value::Benevolence).await;
    assert_eq!(picks.len(), 60, "every video once");
    assert!(exhausted, "the 61st step finds nothing unseen");
    check_slates(&picks);
    assert!(picks
        .iter()
        .all(|p| p.slate[0].source.as_deref() == Some("random")));
    let again = drive(random.as_ref(), 20, 7, Value::Benevolence).await.0;
    let other = drive(random.as_ref(), 20, 8, Value::Benevolence).await.0;
    let ids = |ps: &[Pick]| ps.iter().map(|p| p.video.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&picks[..20]), "same seed, same feed");
    assert_ne!(ids(&other), ids(&picks[..20]), "another seed, another feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popular_follows_views_and_excludes_seen_videos() {
    let (_d, store) = common::store_with(common::synthetic(40, 16)).await;
    let popular = policy("popular", &store);
    let (picks, exhausted) = drive(popular.as_ref(), 50, 1, Value::Power).await;
    assert_eq!(picks.len(), 40);
    assert!(exhausted);
    check_slates(&picks);
    let views: Vec<u64> = picks.iter().map(|p| p.video.views.unwrap()).collect();
    assert!(
        views.windows(2).all(|w| w[0] >= w[1]),
        "views descending: {views:?}"
    );
    for p in &picks {
        assert_eq!(
            p.slate[0].score,
            p.video.views.unwrap() as f32,
            "slate scores are views"
        );
        assert!(p.slate.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foryou_never_repeats_records_scored_slates_and_exhausts_cleanly() {
    let (_d, store) = common::store_with(common::synthetic(80, 16)).await;
    let foryou = policy("foryou", &store);
    let (picks, exhausted) = drive(foryou.as_ref(), 200, 3, Value::Hedonism).await;
    assert_eq!(picks.len(), 80, "every video once, then nothing");
    assert!(exhausted);
    check_slates(&picks);
    let sources: HashSet<&str> = picks
        .iter()
        .flat_map(|p| p.slate.iter().filter_map(|e| e.source.as_deref()))
        .collect();
    assert!(sources.contains("recommend"), "{sources:?}");
    assert!(
        sources.contains("explore"),
        "cold start and epsilon explore: {sources:?}"
    );
    for p in &picks {
        // Recommended candidates come best first.
        let scored: Vec<f32> = p
            .slate
            .iter()
            .filter(|e| e.source.as_deref() == Some("recommend"))
            .map(|e| e.score)
            .collect();
        assert!(
            scored.windows(2).all(|w| w[0] >= w[1]),
            "slate not sorted: {:?}",
            p.slate
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foryou_moves_the_feed_toward_what_the_agent_likes_and_random_does_not() {
    let (_d, store) = common::store_with(common::synthetic(300, 32)).await;
    let mut fy = 0.0;
    let mut rnd = 0.0;
    for seed in 1..=3 {
        let a = drive(
            policy("foryou:tiktok-like", &store).as_ref(),
            60,
            seed,
            Value::Benevolence,
        )
        .await
        .0;
        let b = drive(
            policy("random", &store).as_ref(),
            60,
            seed,
            Value::Benevolence,
        )
        .await
        .0;
        fy += share(&a, 20..60, Value::Benevolence) / 3.0;
        rnd += share(&b, 20..60, Value::Benevolence) / 3.0;
    }
    println!(
        "share of liked-value videos in steps 20-59: foryou:tiktok-like {fy:.2}, random {rnd:.2}"
    );
    // 30 of the 300 videos carry the liked value, so at most ~0.7 is reachable here.
    assert!(
        fy > 0.3,
        "foryou should show the liked value often by then: {fy:.2}"
    );
    assert!(fy > 3.0 * rnd, "foryou {fy:.2} vs random {rnd:.2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_differ_in_adaptation_and_popularity() {
    let (_d, store) = common::store_with(common::synthetic(300, 32)).await;
    let cfg = common::policy_config();
    assert_ne!(cfg.presets["tiktok-like"], cfg.presets["youtube-like"]);
    let mut tiktok_share = 0.0;
    let mut youtube_share = 0.0;
    for seed in 1..=3 {
        let t = drive(
            policy("foryou:tiktok-like", &store).as_ref(),
            40,
            seed,
            Value::Tradition,
        )
        .await
        .0;
        let y = drive(
            policy("foryou:youtube-like", &store).as_ref(),
            40,
            seed,
            Value::Tradition,
        )
        .await
        .0;
        check_slates(&t);
        check_slates(&y);
        let has = |p: &Pick, s: &str| p.slate.iter().any(|e| e.source.as_deref() == Some(s));
        assert!(
            t.iter().all(|p| !has(p, "popular")),
            "tiktok-like mixes in no popular videos"
        );
        assert!(
            y.iter().all(|p| has(p, "popular")),
            "youtube-like mixes popular videos into every slate"
        );
        let served_popular = y.iter().filter(|p| {
            p.slate
                .iter()
                .any(|e| e.video == p.video.id && e.source.as_deref() == Some("popular"))
        });
        assert!(
            served_popular.count() >= 5,
            "about a third of youtube-like steps are popular ones"
        );
        // youtube-like hears of feedback only after 10 steps: no recommendation before step 11.
        assert!(y[..11].iter().all(|p| !has(p, "recommend")));
        let first_like = t
            .iter()
            .position(|p| p.video.label == Some(Value::Tradition))
            .unwrap();
        // The first page requested after the like recommends.
        let every = cfg.presets["tiktok-like"].refresh_every as usize;
        let next_request = (first_like + 1).next_multiple_of(every);
        assert!(
            has(&t[next_request], "recommend"),
            "tiktok-like recommends from the first page after a like"
        );
        tiktok_share += share(&t, 10..40, Value::Tradition) / 3.0;
        youtube_share += share(&y, 10..40, Value::Tradition) / 3.0;
    }
    println!("liked-value share in steps 10-39: tiktok-like {tiktok_share:.2}, youtube-like {youtube_share:.2}");
    assert!(
        tiktok_share > youtube_share + 0.15,
        "tiktok-like adapts faster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_retrieves_top_k_per_keyword_deduplicated_within_each_value() {
    let corpus = SyntheticCorpus {
        videos: 200,
        dim: 32,
        noise: 0.6,
        seed: 11,
    };
    let dirs = corpus.directions();
    let (_d, store) = common::store_with(corpus.points()).await;
    // Three "keywords" per value: its direction, and two nudged toward its neighbours, so
    // their top 5 overlap and deduplication matters.
    let mut queries = Vec::new();
    for v in Value::ALL {
        let next = Value::ALL[(v.index() + 1) % 10];
        let prev = Value::ALL[(v.index() + 9) % 10];
        for (k, other, w) in [
            ("core", v, 0.0f32),
            ("next", next, 0.2),
            ("prev", prev, 0.2),
        ] {
            let vector = dirs[v]
                .iter()
                .zip(&dirs[other])
                .map(|(a, b)| a + w * b)
                .collect();
            queries.push(KeywordQuery {
                value: v,
                keyword: format!("{}-{k}", v.code()),
                vector,
            });
        }
    }
    let spec: PolicySpec = "keyword".parse().unwrap();
    let kw = build_policy(
        &spec,
        &common::policy_config(),
        store.clone(),
        Some(Arc::new(queries)),
    )
    .unwrap();
    let len = kw.planned_length().await.unwrap().unwrap() as usize;
    let mut state = SessionState::new();
    let mut memo = PolicyMemo::default();
    let mut picks = Vec::new();
    while let Some(p) = kw
        .next(&mut PolicyContext {
            state: &state,
            seed: 1,
            memo: &mut memo,
        })
        .await
        .unwrap()
    {
        state.advance(&p.video.id, &p.video.values, &Decision::default(), 1.0);
        picks.push(p);
    }
    assert_eq!(picks.len(), len);
    assert!(
        len > 10 * 5 && len < 10 * 15,
        "5 to 15 unique per value: {len}"
    );
    for v in Value::ALL {
        let mine: Vec<&Pick> = picks
            .iter()
            .filter(|p| p.retrieved_for == Some(v))
            .collect();
        let ids: HashSet<&VideoId> = mine.iter().map(|p| &p.video.id).collect();
        assert_eq!(ids.len(), mine.len(), "{v}: a video twice within the value");
        assert!(mine.len() >= 5, "{v}: at least one keyword's top 5");
        let on_label = mine.iter().filter(|p| p.video.label == Some(v)).count();
        assert!(
            on_label * 2 > mine.len(),
            "{v}: mostly its own videos ({on_label}/{})",
            mine.len()
        );
        for p in &mine {
            let src = p.slate[0].source.as_deref().unwrap();
            assert!(src.starts_with(&format!("keyword:{}-", v.code())), "{src}");
            assert!(p.slate.len() <= 5 && p.slate.iter().any(|e| e.video == p.video.id));
        }
    }
    // The plan is in circumplex order, value by value.
    let order: Vec<Value> = picks.iter().map(|p| p.retrieved_for.unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]));
}
