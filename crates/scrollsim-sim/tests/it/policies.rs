//! Feed policies against the real embedded store (qdrant-edge) on a synthetic corpus whose
//! videos cluster by value, driven by a scripted agent that likes one value only.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;

use scrollsim_core::{Decision, FeedbackSignal, PolicyName, Retrieval, Value, VideoId};
use scrollsim_sim::policy::{KeywordQuery, KeywordSet};
use scrollsim_sim::{
    build_policy, DwellConfig, FeedPolicy, Pick, PolicyConfig, PolicyContext, PolicyMemo,
    PolicySpec, SessionState,
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
    drive_with(policy, steps, seed, |p| {
        let like = p.video.label == Some(liked);
        (like, if like { 10.0 } else { 1.0 })
    })
    .await
}

/// Each policy of `specs` driven for `steps` on one seed by the same agent (likes `liked`):
/// their picks.
async fn drive_each<const N: usize>(
    specs: [&str; N],
    store: &Arc<dyn VideoStore>,
    steps: usize,
    seed: u64,
    liked: Value,
) -> [Vec<Pick>; N] {
    let mut out = Vec::with_capacity(N);
    for spec in specs {
        out.push(
            drive(policy(spec, store).as_ref(), steps, seed, liked)
                .await
                .0,
        );
    }
    out.try_into()
        .unwrap_or_else(|_| unreachable!("one per spec"))
}

/// Runs a policy with an agent that answers each pick with (like, dwell seconds).
async fn drive_with(
    policy: &dyn FeedPolicy,
    steps: usize,
    seed: u64,
    agent: impl Fn(&Pick) -> (bool, f32),
) -> (Vec<Pick>, bool) {
    let mut state = SessionState::new();
    let mut memo = PolicyMemo::default();
    let mut picks = Vec::new();
    for _ in 0..steps {
        let mut cx = PolicyContext::new(&state, seed, &mut memo);
        let Some(p) = policy.next(&mut cx).await.unwrap() else {
            return (picks, true);
        };
        let (like, dwell) = agent(&p);
        let d = Decision {
            like,
            ..Default::default()
        };
        state.advance(&p.video.id, &p.video.values, &d, dwell);
        picks.push(p);
    }
    (picks, false)
}

fn policy(spec: &str, store: &Arc<dyn VideoStore>) -> Arc<dyn FeedPolicy> {
    policy_with(spec, store, common::policy_config())
}

fn policy_with(spec: &str, store: &Arc<dyn VideoStore>, cfg: PolicyConfig) -> Arc<dyn FeedPolicy> {
    let spec: PolicySpec = spec.parse().unwrap();
    cfg.validate().unwrap();
    build_policy(&spec, &cfg, store.clone(), None).unwrap()
}

fn ids(picks: &[Pick]) -> Vec<VideoId> {
    picks.iter().map(|p| p.video.id.clone()).collect()
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
async fn foryou_recommends_near_what_the_agent_stayed_on() {
    // The recommender's plumbing, not a finding: with the default parameters, recommendations
    // come from the region of the corpus the agent dwelt on. A feed that ignored feedback, or
    // read it backwards, would stay at random's share.
    let (_d, store) = common::store_with(common::synthetic(300, 32)).await;
    let mut fy = 0.0;
    let mut rnd = 0.0;
    for seed in 1..=3 {
        let [a, b] = drive_each(["foryou", "random"], &store, 60, seed, Value::Benevolence).await;
        fy += share(&a, 20..60, Value::Benevolence) / 3.0;
        rnd += share(&b, 20..60, Value::Benevolence) / 3.0;
    }
    println!("share of dwelt-on-value videos in steps 20-59: foryou {fy:.2}, random {rnd:.2}");
    assert!(fy > 2.0 * rnd, "foryou {fy:.2} vs random {rnd:.2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dwell_feedback_the_feed_never_reads_likes() {
    let (_d, store) = common::store_with(common::synthetic(200, 32)).await;
    // The agent stays on one value's videos; its likes are then set two opposite ways, so
    // only the like differs between the runs: the same dwell sequence, likes flipped.
    let dwell = |p: &Pick| {
        if p.video.label == Some(Value::Security) {
            8.0
        } else {
            1.0
        }
    };
    let run = |cfg: PolicyConfig, seed: u64| {
        let store = store.clone();
        async move {
            let fy = policy_with("foryou", &store, cfg);
            let honest = drive_with(fy.as_ref(), 50, seed, |p| (dwell(p) > 1.0, dwell(p))).await;
            let flipped = drive_with(fy.as_ref(), 50, seed, |p| (dwell(p) <= 1.0, dwell(p))).await;
            (honest.0, flipped.0)
        }
    };
    let mut dwell_cfg = common::policy_config();
    assert_eq!(
        dwell_cfg.foryou.feedback,
        FeedbackSignal::Dwell,
        "the default"
    );
    dwell_cfg.foryou.epsilon = 0.0;
    let mut likes_cfg = dwell_cfg.clone();
    likes_cfg.foryou.feedback = FeedbackSignal::Likes;
    for seed in 1..=3 {
        let (a, b) = run(dwell_cfg.clone(), seed).await;
        assert_eq!(
            ids(&a),
            ids(&b),
            "seed {seed}: flipping likes changed a dwell feed"
        );
        assert_eq!(
            a.iter().map(|p| &p.slate).collect::<Vec<_>>(),
            b.iter().map(|p| &p.slate).collect::<Vec<_>>(),
            "seed {seed}: flipping likes changed a slate"
        );
        // The control: a feed that does read likes sees the flip (so the check above can fail).
        let (c, d) = run(likes_cfg.clone(), seed).await;
        assert_ne!(
            ids(&c),
            ids(&d),
            "seed {seed}: a likes feed must react to the flip"
        );
    }
    let info = policy_with("foryou", &store, dwell_cfg).info();
    assert_eq!(info.feedback, Some(FeedbackSignal::Dwell));
    assert_eq!(info.describe(), "foryou (feedback: dwell)");
}

/// What docs/simulation.md says of the three signals under the dwell model: with the defaults
/// (a skip stays `skip_s` = 1 s, below `positive_dwell_s` = 2 s) `both` adds nothing to
/// `likes`, so the two serve the same feed; with every like staying long (`stay_min_s` =
/// `stay_max_s` = 29, the paper's early logs) `dwell` coincides with them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_and_both_coincide_under_the_default_dwell_model() {
    let (_d, store) = common::store_with(common::synthetic(200, 32)).await;
    let run = |feedback: FeedbackSignal, dwell: DwellConfig, seed: u64| {
        let store = store.clone();
        async move {
            let mut cfg = common::policy_config();
            cfg.foryou.feedback = feedback;
            let fy = policy_with("foryou", &store, cfg);
            let step = std::cell::Cell::new(0u32);
            let (picks, _) = drive_with(fy.as_ref(), 60, seed, |p| {
                let like = p.video.label == Some(Value::Security);
                let i = step.replace(step.get() + 1);
                (like, dwell.dwell(like, seed, i))
            })
            .await;
            picks
        }
    };
    let slates = |p: &[Pick]| p.iter().map(|p| p.slate.clone()).collect::<Vec<_>>();
    let default = DwellConfig::default();
    assert!(default.skip_s < common::policy_config().foryou.positive_dwell_s);
    let long = DwellConfig {
        stay_min_s: 29.0,
        stay_max_s: 29.0,
        ..default
    };
    for seed in 1..=3 {
        let likes = run(FeedbackSignal::Likes, default, seed).await;
        let both = run(FeedbackSignal::Both, default, seed).await;
        assert_eq!(ids(&likes), ids(&both), "seed {seed}");
        assert_eq!(slates(&likes), slates(&both), "seed {seed}");
        let d = run(FeedbackSignal::Dwell, long, seed).await;
        let l = run(FeedbackSignal::Likes, long, seed).await;
        assert_eq!(slates(&d), slates(&l), "seed {seed}: long stays");
    }
    // The control: a skip that lingers past the threshold makes `both` differ from `likes`
    // (so the equalities above can fail).
    let lingering = DwellConfig {
        skip_s: 3.0,
        ..default
    };
    let mut differ = 0;
    for seed in 1..=3 {
        let likes = run(FeedbackSignal::Likes, lingering, seed).await;
        let both = run(FeedbackSignal::Both, lingering, seed).await;
        differ += (slates(&likes) != slates(&both)) as usize;
    }
    assert!(differ > 0, "lingering skips must change a `both` feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dwell_feed_learns_only_from_views_that_reach_the_threshold() {
    let (_d, store) = common::store_with(common::synthetic(200, 32)).await;
    let mut cfg = common::policy_config();
    cfg.foryou.epsilon = 0.0;
    cfg.foryou.confidence_positives = 0.0;
    cfg.foryou.refresh_every = 1;
    let threshold = cfg.foryou.positive_dwell_s;
    let has_recommend = |p: &Pick| {
        p.slate
            .iter()
            .any(|e| e.source.as_deref() == Some("recommend"))
    };
    // Every stay just short of the threshold: nothing is a positive example, nothing recommended.
    let short = policy_with("foryou", &store, cfg.clone());
    let (picks, _) = drive_with(short.as_ref(), 30, 2, |_| (true, threshold - 0.1)).await;
    assert!(
        picks.iter().all(|p| !has_recommend(p)),
        "liked but short views are not positives"
    );
    // One stay at the threshold: recommendations from the next step on.
    let (picks, _) = drive_with(short.as_ref(), 30, 2, |p| {
        let long = p.video.label == Some(Value::Achievement);
        (false, if long { threshold } else { 1.0 })
    })
    .await;
    let first = picks
        .iter()
        .position(|p| p.video.label == Some(Value::Achievement))
        .expect("random exploration reaches every value in 30 steps of 200 videos");
    assert!(picks[..=first].iter().all(|p| !has_recommend(p)));
    assert!(
        picks[first + 1..].iter().all(has_recommend),
        "skipped but dwelt on is a positive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_set_the_mechanisms_they_name() {
    // What each preset's parameters do to the feed's structure; deliberately nothing about
    // which preset pulls exposure toward the agent more: that is for experiments to measure
    // (experiments/mechanism-sweep.toml), not for tests to assume.
    let (_d, store) = common::store_with(common::synthetic(300, 32)).await;
    let cfg = common::policy_config();
    assert_eq!(cfg.canonical_preset("tiktok-like"), "fast-adapting");
    assert_eq!(
        cfg.foryou_params(Some("youtube-like")),
        cfg.foryou_params(Some("slow-delayed-popular"))
    );
    let fast = &cfg.presets["fast-adapting"];
    let slow = &cfg.presets["slow-delayed-popular"];
    for seed in 1..=3 {
        let specs = ["foryou:fast-adapting", "foryou:slow-delayed-popular"];
        let [t, y] = drive_each(specs, &store, 40, seed, Value::Tradition).await;
        check_slates(&t);
        check_slates(&y);
        let has = |p: &Pick, s: &str| p.slate.iter().any(|e| e.source.as_deref() == Some(s));
        // Popularity pull: candidates in the slate only where popular_candidates > 0.
        assert_eq!(fast.popular_candidates, 0);
        assert!(t.iter().all(|p| !has(p, "popular")));
        assert!(slow.popular_candidates > 0 && slow.popularity_mix > 0.0);
        assert!(y.iter().all(|p| has(p, "popular")));
        let served_popular = y.iter().filter(|p| {
            p.slate
                .iter()
                .any(|e| e.video == p.video.id && e.source.as_deref() == Some("popular"))
        });
        assert!(
            served_popular.count() >= 5,
            "a share popularity_mix of steps"
        );
        // Feedback delay: feedback reaches the recommender only `feedback_delay` steps late.
        let delay = slow.feedback_delay as usize;
        assert!(delay > 0);
        assert!(y[..=delay].iter().all(|p| !has(p, "recommend")));
        // Adaptation: without delay the first page requested after a positive recommends.
        let first_like = t
            .iter()
            .position(|p| p.video.label == Some(Value::Tradition))
            .unwrap();
        let next_request = (first_like + 1).next_multiple_of(fast.refresh_every as usize);
        assert!(has(&t[next_request], "recommend"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_delay_holds_back_exactly_that_many_steps() {
    let (_d, store) = common::store_with(common::synthetic(200, 32)).await;
    for delay in [0u32, 3, 7] {
        let mut cfg = common::policy_config();
        cfg.foryou.epsilon = 0.0;
        cfg.foryou.confidence_positives = 0.0;
        cfg.foryou.refresh_every = 1;
        cfg.foryou.feedback_delay = delay;
        let fy = policy_with("foryou", &store, cfg);
        // A long stay at step 0 only; every later view is a skip.
        let mut state = SessionState::new();
        let mut memo = PolicyMemo::default();
        let mut first_recommend = None;
        for step in 0..15u32 {
            let p = fy
                .next(&mut PolicyContext::new(&state, 5, &mut memo))
                .await
                .unwrap()
                .unwrap();
            if first_recommend.is_none()
                && p.slate
                    .iter()
                    .any(|e| e.source.as_deref() == Some("recommend"))
            {
                first_recommend = Some(step);
            }
            let dwell = if step == 0 { 10.0 } else { 1.0 };
            state.advance(&p.video.id, &p.video.values, &Decision::default(), dwell);
        }
        assert_eq!(first_recommend, Some(delay + 1), "feedback_delay = {delay}");
    }
}

/// Three "keywords" per value: its direction, and two nudged toward its neighbours, so their
/// top 5 overlap and deduplication matters.
fn overlapping_keywords(corpus: &SyntheticCorpus) -> Vec<KeywordQuery> {
    let dirs = corpus.directions();
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
    queries
}

/// Every pick of a keyword policy, in order.
async fn keyword_plan(
    store: &Arc<dyn VideoStore>,
    queries: Vec<KeywordQuery>,
    dedup: bool,
) -> (Arc<dyn FeedPolicy>, Vec<Pick>) {
    let mut cfg = common::policy_config();
    cfg.keyword.dedup = dedup;
    let kw = build_policy(
        &"keyword".parse().unwrap(),
        &cfg,
        store.clone(),
        Some(KeywordSet {
            retrieval: Retrieval::Text,
            queries: Arc::new(queries),
        }),
    )
    .unwrap();
    let len = kw.planned_length().await.unwrap().unwrap() as usize;
    let mut state = SessionState::new();
    let mut memo = PolicyMemo::default();
    let mut picks = Vec::new();
    while let Some(p) = kw
        .next(&mut PolicyContext::new(&state, 1, &mut memo))
        .await
        .unwrap()
    {
        state.advance(&p.video.id, &p.video.values, &Decision::default(), 1.0);
        picks.push(p);
    }
    assert_eq!(picks.len(), len);
    (kw, picks)
}

/// The keyword tests' corpus: 200 videos in ten value clusters, in a store.
async fn keyword_corpus() -> (tempfile::TempDir, Arc<dyn VideoStore>, SyntheticCorpus) {
    let corpus = SyntheticCorpus {
        videos: 200,
        dim: 32,
        noise: 0.6,
        seed: 11,
    };
    let (dir, store) = common::store_with(corpus.points()).await;
    (dir, store, corpus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_retrieves_top_k_per_keyword_deduplicated_within_each_value() {
    let (_d, store, corpus) = keyword_corpus().await;
    let (kw, picks) = keyword_plan(&store, overlapping_keywords(&corpus), true).await;
    let len = picks.len();
    assert!(
        len > 10 * 5 && len < 10 * 15,
        "5 to 15 unique per value: {len}"
    );
    let info = kw.info();
    assert_eq!(info.name, PolicyName::Keyword);
    assert_eq!(info.retrieval, Some(Retrieval::Text));
    assert_eq!(info.describe(), "keyword(text)");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_without_dedup_gives_exactly_top_k_per_keyword() {
    let (_d, store, corpus) = keyword_corpus().await;
    let queries = overlapping_keywords(&corpus);
    let top_k = common::policy_config().keyword.top_k;
    let (_, picks) = keyword_plan(&store, queries.clone(), false).await;
    assert_eq!(picks.len(), queries.len() * top_k);
    let mut repeated = 0;
    for v in Value::ALL {
        let mine: Vec<&Pick> = picks
            .iter()
            .filter(|p| p.retrieved_for == Some(v))
            .collect();
        let keywords = queries.iter().filter(|q| q.value == v).count();
        assert_eq!(
            mine.len(),
            keywords * top_k,
            "{v}: the paper's fixed denominator"
        );
        for q in queries.iter().filter(|q| q.value == v) {
            let src = format!("keyword:{}", q.keyword);
            let by_this = mine
                .iter()
                .filter(|p| p.slate[0].source.as_deref() == Some(src.as_str()))
                .count();
            assert_eq!(by_this, top_k, "{src}");
        }
        let unique: HashSet<&VideoId> = mine.iter().map(|p| &p.video.id).collect();
        repeated += mine.len() - unique.len();
    }
    assert!(
        repeated > 0,
        "the keywords overlap, so some video comes twice"
    );
    // Where the corpus is smaller than top_k, a keyword gives what there is.
    let small = SyntheticCorpus {
        videos: 3,
        ..corpus
    };
    let (_d2, tiny) = common::store_with(small.points()).await;
    let (_, picks) = keyword_plan(&tiny, overlapping_keywords(&small), false).await;
    assert_eq!(picks.len(), 30 * 3, "30 keywords x the 3 videos there are");
}
