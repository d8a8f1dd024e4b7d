//! The store contract, checked the same way against both backends: always against the
//! embedded engine, and against a real Qdrant server when `QDRANT_URL` is set (e.g.
//! `QDRANT_URL=http://localhost:6334 cargo test -p scrollsim-store --test it conformance`; an API
//! key is read from `QDRANT_API_KEY` when set). Against a cluster, `QDRANT_TEST_SHARDS` and
//! `QDRANT_TEST_REPLICATION` set the test collection's shards and copies (e.g. 3 and 2), and
//! `QDRANT_TEST_READ_CONSISTENCY` its reads (`1`, `majority`, `quorum`, `all`).
//!
//! The corpus is small and hand-made: 4-d text and 3-d image vectors in clusters whose
//! neighbours can be reasoned about, with payloads covering every filter kind. Expected
//! results come from a brute-force reference computed here (cosine over the same vectors,
//! filters as plain predicates), so a check fails if the store ranks, filters, pages or
//! samples differently from what the contract says.

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use scrollsim_core::{CorpusId, PerValue, Platform, Value, Video, VideoId};
use scrollsim_store::{
    copy_collection, open_store, recommend_vector, Backend, CollectionSpec, ContentDigest, Example,
    Filter, OrderBy, RecommendRequest, ScrollRequest, SearchRequest, StoreConfig, StoreError, Uuid,
    VectorName, VideoPoint, VideoStore,
};

const TEXT_DIM: usize = 4;
const IMAGE_DIM: usize = 3;

fn spec(name: &str) -> CollectionSpec {
    CollectionSpec {
        name: name.into(),
        text_dim: TEXT_DIM,
        image_dim: Some(IMAGE_DIM),
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// One corpus row: id, text vector, image vector, platform, topic, labels, top score,
/// posted, duration, views.
#[allow(clippy::type_complexity)]
const ROWS: &[(
    &str,
    [f32; 4],
    [f32; 3],
    &str,
    &str,
    &[Value],
    f32,
    &str,
    f32,
    Option<u64>,
)] = &[
    // Cluster A: around text e0.
    (
        "a1",
        [1.0, 0.05, 0.0, 0.0],
        [1.0, 0.0, 0.1],
        "tiktok",
        "family",
        &[Value::Benevolence],
        0.8,
        "2024-07-01",
        15.0,
        Some(1000),
    ),
    (
        "a2",
        [1.0, 0.15, 0.0, 0.0],
        [1.0, 0.1, 0.0],
        "youtube",
        "family",
        &[Value::Benevolence, Value::Universalism],
        0.6,
        "2024-07-15",
        45.0,
        Some(5000),
    ),
    (
        "a3",
        [1.0, 0.30, 0.05, 0.0],
        [0.9, 0.2, 0.0],
        "instagram",
        "health",
        &[Value::Universalism],
        0.7,
        "2024-08-01",
        90.0,
        Some(5000),
    ),
    (
        "a4",
        [1.0, 0.45, 0.0, 0.1],
        [0.8, 0.3, 0.1],
        "tiktok",
        "health",
        &[Value::Security],
        0.3,
        "2024-08-20",
        120.0,
        Some(20),
    ),
    // Cluster B: around text e1.
    (
        "b1",
        [0.05, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.1],
        "tiktok",
        "hobbies",
        &[Value::Hedonism],
        0.9,
        "2024-09-01",
        10.0,
        Some(90000),
    ),
    (
        "b2",
        [0.20, 1.0, 0.1, 0.0],
        [0.1, 1.0, 0.0],
        "youtube",
        "hobbies",
        &[Value::Hedonism, Value::Stimulation],
        0.5,
        "2024-09-10",
        30.0,
        None,
    ),
    (
        "b3",
        [0.35, 1.0, 0.0, 0.05],
        [0.2, 0.9, 0.1],
        "instagram",
        "technology",
        &[Value::Achievement],
        0.4,
        "2024-09-20",
        60.0,
        Some(300),
    ),
    // Cluster C: around text e2.
    (
        "c1",
        [0.0, 0.0, 1.0, 0.05],
        [0.0, 0.1, 1.0],
        "tiktok",
        "society",
        &[Value::Power],
        0.85,
        "2024-10-01",
        20.0,
        Some(700),
    ),
    (
        "c2",
        [0.1, 0.0, 1.0, 0.20],
        [0.1, 0.0, 0.9],
        "youtube",
        "society",
        &[Value::Tradition],
        0.65,
        "2024-10-05",
        200.0,
        Some(700),
    ),
    // Cluster D: around text e3, one without a post date or duration.
    (
        "d1",
        [0.0, 0.05, 0.1, 1.0],
        [0.5, 0.5, 0.5],
        "tiktok",
        "lifestyle",
        &[Value::SelfDirection],
        0.75,
        "2024-10-10",
        25.0,
        Some(40),
    ),
    (
        "d2",
        [0.0, 0.1, 0.0, 1.0],
        [0.4, 0.6, 0.5],
        "instagram",
        "lifestyle",
        &[Value::Conformity],
        0.55,
        "",
        -1.0,
        Some(40),
    ),
    // Between A and B.
    (
        "m1",
        [1.0, 1.0, 0.0, 0.0],
        [0.7, 0.7, 0.0],
        "youtube",
        "technology",
        &[Value::Achievement, Value::Power],
        0.6,
        "2024-07-20",
        50.0,
        Some(12000),
    ),
];

fn corpus() -> Vec<VideoPoint> {
    ROWS.iter()
        .map(
            |(id, text, image, platform, topic, values, top, posted, duration, views)| {
                let mut scores = PerValue::<f32>::default();
                for (i, v) in values.iter().enumerate() {
                    scores[*v] = top - 0.1 * i as f32;
                }
                let video = Video {
                    platform: Platform::new(platform),
                    url: Some(format!("https://example.org/{id}")),
                    posted: (!posted.is_empty()).then(|| date(posted)),
                    caption: format!("caption of {id}"),
                    hashtags: vec![topic.to_string()],
                    topic: Some(topic.to_string()),
                    duration_s: (*duration >= 0.0).then_some(*duration),
                    views: *views,
                    value_scores: scores,
                    values: values.to_vec(),
                    ..Video::new(VideoId::new(*id))
                };
                VideoPoint {
                    video,
                    text: text.to_vec(),
                    image: Some(image.to_vec()),
                }
            },
        )
        .collect()
}

fn ids(videos: impl IntoIterator<Item = Video>) -> Vec<String> {
    videos.into_iter().map(|v| v.id.0).collect()
}

fn vid(s: &str) -> VideoId {
    VideoId::new(s)
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    normalized(a)
        .iter()
        .zip(normalized(b))
        .map(|(x, y)| x * y)
        .sum()
}

/// The filter as a plain predicate over the video: the reference the store must agree with.
fn matches(f: &Filter, v: &Video) -> bool {
    (f.platforms.is_empty() || f.platforms.contains(&v.platform))
        && (f.topics.is_empty() || v.topic.as_ref().is_some_and(|t| f.topics.contains(t)))
        && (f.labels_any.is_empty() || v.values.iter().any(|x| f.labels_any.contains(x)))
        && f.min_value_score
            .is_none_or(|(val, x)| v.value_scores[val] >= x)
        && f.posted_from
            .is_none_or(|d| v.posted.is_some_and(|p| p >= d))
        && f.posted_to.is_none_or(|d| v.posted.is_some_and(|p| p <= d))
        && f.max_duration_s
            .is_none_or(|d| v.duration_s.is_some_and(|x| x <= d))
        && !f.exclude.contains(&v.id)
}

/// Brute-force top-k ids by cosine over `points` that match `f`.
fn reference_top(
    points: &[VideoPoint],
    using: VectorName,
    q: &[f32],
    f: &Filter,
    k: usize,
) -> Vec<String> {
    let mut scored: Vec<(f32, String)> = points
        .iter()
        .filter(|p| matches(f, &p.video))
        .map(|p| {
            let v = match using {
                VectorName::Text => &p.text,
                VectorName::Image => p.image.as_ref().unwrap(),
            };
            (cosine(v, q), p.video.id.0.clone())
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|s| s.1).collect()
}

/// Every filter kind alone, a combination, and the empty filter.
fn filters() -> Vec<(&'static str, Filter)> {
    vec![
        ("none", Filter::default()),
        (
            "platform",
            Filter {
                platforms: vec![Platform::tiktok()],
                ..Default::default()
            },
        ),
        (
            "platforms",
            Filter {
                platforms: vec![Platform::youtube(), Platform::instagram()],
                ..Default::default()
            },
        ),
        (
            "topic",
            Filter {
                topics: vec!["family".into(), "society".into()],
                ..Default::default()
            },
        ),
        (
            "labels_any",
            Filter {
                labels_any: vec![Value::Universalism, Value::Power],
                ..Default::default()
            },
        ),
        (
            "min_value_score",
            Filter {
                min_value_score: Some((Value::Benevolence, 0.6)),
                ..Default::default()
            },
        ),
        (
            "posted_from",
            Filter {
                posted_from: Some(date("2024-09-10")),
                ..Default::default()
            },
        ),
        (
            "posted_to",
            Filter {
                posted_to: Some(date("2024-07-15")),
                ..Default::default()
            },
        ),
        (
            "posted_range",
            Filter {
                posted_from: Some(date("2024-08-01")),
                posted_to: Some(date("2024-10-01")),
                ..Default::default()
            },
        ),
        (
            "max_duration_s",
            Filter {
                max_duration_s: Some(30.0),
                ..Default::default()
            },
        ),
        (
            "exclude",
            Filter::excluding([vid("a1"), vid("b1"), vid("c1")]),
        ),
        (
            "combined",
            Filter {
                platforms: vec![Platform::tiktok(), Platform::youtube()],
                max_duration_s: Some(100.0),
                exclude: vec![vid("a2")],
                ..Default::default()
            },
        ),
    ]
}

/// The contract. `open` returns a fresh handle on the same backend and data (the previous
/// handle is dropped first: an embedded store serves one handle at a time); `copy_to` opens
/// another store of the same backend, for the collection named `{name}_copy`.
async fn conformance<F, Fut, G, GFut>(open: F, copy_to: G, name: &str)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn VideoStore>>,
    G: Fn() -> GFut,
    GFut: Future<Output = Arc<dyn VideoStore>>,
{
    let points = corpus();
    let store = open().await;
    let backend = store.backend();
    let s: &dyn VideoStore = store.as_ref();

    // Before a collection exists, operations say so.
    if s.count(&Filter::default()).await.is_ok() {
        // A leftover collection of this name would make the rest meaningless.
        panic!("[{backend}] collection {name:?} already exists: use a fresh one");
    }

    s.open_collection(&spec(name)).await.unwrap();
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        0,
        "[{backend}] new collection is empty"
    );
    let empty_id = s.corpus_id().await.unwrap();

    // Upsert in several batches (the store splits by its batch size; we also split calls).
    let (first, second) = points.split_at(5);
    assert_eq!(s.upsert(first.to_vec()).await.unwrap(), 5);
    assert_eq!(s.upsert(second.to_vec()).await.unwrap(), points.len() - 5);
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64
    );
    let full_id = s.corpus_id().await.unwrap();
    assert_ne!(full_id, empty_id, "[{backend}] corpus id changes on upsert");
    assert_eq!(
        s.corpus_id().await.unwrap(),
        full_id,
        "[{backend}] corpus id is stable without writes"
    );
    assert!(
        full_id
            .as_str()
            .starts_with(&format!("{name}:{}:", points.len())),
        "{full_id}"
    );

    check_get_and_vectors(s, &points).await;
    check_search(s, &points).await;
    check_filters(s, &points).await;
    check_recommend(s, &points).await;
    check_sample(s, &points).await;
    check_scroll(s, &points).await;
    check_bad_input(s).await;

    // Persistence: close and reopen gives the same results.
    let probe = text_search(
        vec![0.7, 0.7, 0.1, 0.0],
        Filter::excluding([vid("m1")]),
        5,
        false,
    );
    let before = s.search(&probe).await.unwrap();
    drop(store);
    let store = open().await;
    let s: &dyn VideoStore = store.as_ref();
    // Reopening needs no dimensions: the configured collection is opened as it was.
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64,
        "[{backend}] count after reopen"
    );
    let after = s.search(&probe).await.unwrap();
    assert_eq!(
        ids(before.iter().map(|h| h.video.clone())),
        ids(after.iter().map(|h| h.video.clone()))
    );
    for (b, a) in before.iter().zip(&after) {
        assert!((b.score - a.score).abs() < 1e-5);
        assert_eq!(b.video, a.video, "[{backend}] payload survives reopen");
    }
    assert_eq!(
        s.corpus_id().await.unwrap(),
        full_id,
        "[{backend}] corpus id survives reopen"
    );
    // open_collection on the existing collection with the same dims opens it.
    s.open_collection(&spec(name)).await.unwrap();
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64
    );

    // Dimension mismatch is an error, and leaves the store on the good collection.
    for wrong in [
        CollectionSpec {
            text_dim: TEXT_DIM + 1,
            ..spec(name)
        },
        CollectionSpec {
            image_dim: Some(IMAGE_DIM + 2),
            ..spec(name)
        },
        CollectionSpec {
            image_dim: None,
            ..spec(name)
        },
    ] {
        match s.open_collection(&wrong).await {
            Err(StoreError::DimensionMismatch {
                collection,
                existing,
                wanted,
                ..
            }) => {
                assert_eq!(collection, name);
                assert_ne!(existing, wanted);
            }
            other => panic!("[{backend}] expected DimensionMismatch for {wrong:?}, got {other:?}"),
        }
    }
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64
    );

    // Idempotent re-upsert: same ids replace, never duplicate; the payload is updated.
    let mut changed = points[0].clone();
    changed.video.caption = "a new caption".into();
    changed.video.views = Some(77);
    assert_eq!(
        s.upsert(vec![changed.clone(), points[1].clone()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64,
        "[{backend}] no duplicates"
    );
    let got = s.get(&[vid("a1")]).await.unwrap();
    assert_eq!(
        got,
        vec![changed.video.clone()],
        "[{backend}] payload replaced"
    );
    let views_filter_id = s.corpus_id().await.unwrap();
    assert_ne!(
        views_filter_id, full_id,
        "[{backend}] corpus id changes when content changes"
    );
    // The flat copies were replaced too: ordering by views sees 77, not 1000.
    let page = s
        .scroll(&request(
            &Filter::default(),
            Some(OrderBy::ViewsDesc),
            None,
            100,
        ))
        .await
        .unwrap();
    let pos_a1 = page.videos.iter().position(|v| v.id == vid("a1")).unwrap();
    assert!(page.videos[pos_a1 + 1..]
        .iter()
        .all(|v| v.views.unwrap_or(0) <= 77 || v.views.is_none()));

    // Delete.
    s.delete(&[vid("b1"), vid("c2"), vid("never-there")])
        .await
        .unwrap();
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        points.len() as u64 - 2
    );
    assert_eq!(
        ids(s.get(&[vid("b1"), vid("a2"), vid("c2")]).await.unwrap()),
        vec!["a2"]
    );
    let hits = s
        .search(&text_search(
            vec![0.0, 1.0, 0.0, 0.0],
            Filter::default(),
            20,
            true,
        ))
        .await
        .unwrap();
    assert!(
        hits.iter()
            .all(|h| h.video.id != vid("b1") && h.video.id != vid("c2")),
        "[{backend}] deleted stay gone"
    );
    let after_delete: CorpusId = s.corpus_id().await.unwrap();
    assert_ne!(
        after_delete, views_filter_id,
        "[{backend}] corpus id changes on delete"
    );
    assert!(after_delete
        .as_str()
        .starts_with(&format!("{name}:{}:", points.len() - 2)));
    check_ties(s).await;
    check_copy_keeps_corpus_id(s, &*copy_to().await, &format!("{name}_copy")).await;
}

/// A copy has its source's content digests, hence its corpus id (a run recorded on one store
/// resumes on the other), also when the engine stored other vectors than it was given: Qdrant
/// renormalises a cosine vector whose squared length is off 1 by more than 1e-6, and the copy
/// reads back the renormalised one.
async fn check_copy_keeps_corpus_id(s: &dyn VideoStore, to: &dyn VideoStore, to_name: &str) {
    let backend = s.backend();
    // Just outside the engine's tolerance: unit vectors scaled by 1 + 1e-6 (squared length
    // about 1 + 2e-6), the kind of error an embedder's f32 normalisation leaves now and then.
    let near_unit =
        |v: &[f32]| -> Vec<f32> { normalized(v).iter().map(|x| x * (1.0 + 1e-6)).collect() };
    let mut near = corpus()[0].clone();
    near.video.id = vid("near-unit");
    near.text = near_unit(&[0.3, -0.2, 0.9, 0.1]);
    near.image = Some(near_unit(&[0.5, 0.5, -0.7]));
    for v in [&near.text, near.image.as_ref().unwrap()] {
        let off = (v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs();
        assert!(off > 1e-6 && off < 5e-6, "squared length off 1 by {off}");
    }
    s.upsert(vec![near.clone()]).await.unwrap();
    let stored = s
        .vectors(&[vid("near-unit")], VectorName::Text)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .1;
    // The premise: what is stored is not what was given, so a digest of it would differ.
    assert_ne!(
        stored.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        near.text.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        "[{backend}] the engine stores a vector off unit length by 2e-6 as given: \
         this check no longer tests what it says"
    );

    let copied = copy_collection(s, to, to_name, 3, |_| {}).await.unwrap();
    let n = s.count(&Filter::default()).await.unwrap();
    assert_eq!(copied.videos, n);
    let sorted = |mut d: Vec<(Uuid, ContentDigest)>| {
        d.sort_by_key(|(id, _)| *id);
        d
    };
    assert_eq!(
        sorted(to.content_digests().await.unwrap()),
        sorted(s.content_digests().await.unwrap()),
        "[{backend}] a copy keeps every point's content digest"
    );
    let (from_id, to_id) = (s.corpus_id().await.unwrap(), to.corpus_id().await.unwrap());
    // `<collection>:<points>:<digest>`: all but the collection's name.
    let tail = |id: &CorpusId| id.as_str().split_once(':').unwrap().1.to_string();
    assert!(
        to_id.as_str().starts_with(&format!("{to_name}:")),
        "{to_id}"
    );
    assert_eq!(
        tail(&to_id),
        tail(&from_id),
        "[{backend}] a copy has its source's corpus id"
    );
    // And serves the same vectors.
    let copy = to
        .vectors(&[vid("near-unit")], VectorName::Text)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .1;
    assert!(stored.iter().zip(&copy).all(|(a, b)| (a - b).abs() < 1e-6));
}

/// Videos that score exactly alike come back in point-id order, and a run of them cut by the
/// limit is cut at the same place on every engine and shard layout (a cluster answers ties
/// in varying order; traces must not depend on it).
async fn check_ties(s: &dyn VideoStore) {
    let backend = s.backend();
    let mut tied: Vec<VideoPoint> = corpus().into_iter().take(1).collect();
    let template = tied.pop().unwrap();
    let tied: Vec<VideoPoint> = (0..40)
        .map(|i| {
            let mut p = template.clone();
            p.video.id = vid(&format!("tie{i:02}"));
            p.video.topic = Some("tie".into());
            p.video.hashtags = vec!["tie".into()];
            p.text = vec![0.0, 0.0, 0.0, 1.0];
            p
        })
        .collect();
    s.upsert(tied.clone()).await.unwrap();
    let mut want: Vec<VideoId> = tied.iter().map(|p| p.video.id.clone()).collect();
    want.sort_by_key(scrollsim_store::point_id);
    let only_ties = Filter {
        topics: vec!["tie".into()],
        ..Default::default()
    };
    for (limit, exclude) in [(3, 0), (7, 2), (40, 0)] {
        let filter = Filter {
            exclude: want[..exclude].to_vec(),
            ..only_ties.clone()
        };
        let hits = s
            .search(&text_search(vec![0.0, 0.0, 0.0, 1.0], filter, limit, true))
            .await
            .unwrap();
        assert_eq!(
            hits.into_iter().map(|h| h.video.id).collect::<Vec<_>>(),
            want[exclude..exclude + limit.min(40 - exclude)].to_vec(),
            "[{backend}] {limit} of 40 equal scores (first {exclude} excluded) in point-id order"
        );
    }
}

async fn check_get_and_vectors(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    // In the order asked, unknown ids left out, payload exactly as written.
    let got = s.get(&[vid("c1"), vid("nope"), vid("a1")]).await.unwrap();
    assert_eq!(
        got,
        vec![points[7].video.clone(), points[0].video.clone()],
        "[{backend}] get"
    );
    // Stored vectors are the written ones, normalised (cosine).
    let vs = s
        .vectors(&[vid("m1"), vid("nope"), vid("b2")], VectorName::Text)
        .await
        .unwrap();
    assert_eq!(
        vs.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        vec!["m1", "b2"]
    );
    for (id, v) in &vs {
        let want = normalized(&points.iter().find(|p| &p.video.id == id).unwrap().text);
        assert!(
            v.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5),
            "[{backend}] vector of {id}"
        );
    }
    let img = s.vectors(&[vid("d1")], VectorName::Image).await.unwrap();
    assert_eq!(img.len(), 1);
    assert_eq!(img[0].1.len(), IMAGE_DIM);
}

async fn check_search(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    let queries: [(VectorName, Vec<f32>); 5] = [
        (VectorName::Text, vec![1.0, 0.0, 0.0, 0.0]),
        (VectorName::Text, vec![0.0, 1.0, 0.0, 0.0]),
        (VectorName::Text, vec![0.6, 0.6, 0.2, 0.1]),
        (VectorName::Image, vec![0.0, 0.0, 1.0]),
        (VectorName::Image, vec![0.5, 0.5, 0.4]),
    ];
    for (using, q) in &queries {
        for exact in [true, false] {
            let hits = s
                .search(&SearchRequest {
                    using: *using,
                    vector: q.clone(),
                    filter: Filter::default(),
                    limit: 4,
                    exact,
                })
                .await
                .unwrap();
            let want = reference_top(points, *using, q, &Filter::default(), 4);
            assert_eq!(
                ids(hits.iter().map(|h| h.video.clone())),
                want,
                "[{backend}] search {using:?} {q:?}"
            );
            // Scores are cosine similarities, best first.
            for h in &hits {
                let p = points.iter().find(|p| p.video.id == h.video.id).unwrap();
                let v = if *using == VectorName::Text {
                    &p.text
                } else {
                    p.image.as_ref().unwrap()
                };
                assert!(
                    (h.score - cosine(v, q)).abs() < 1e-4,
                    "[{backend}] score of {}",
                    h.video.id
                );
            }
        }
    }
    // By construction: e0's nearest are cluster A in order of angle.
    let hits = s
        .search(&text_search(
            vec![1.0, 0.0, 0.0, 0.0],
            Filter::default(),
            3,
            false,
        ))
        .await
        .unwrap();
    assert_eq!(
        ids(hits.into_iter().map(|h| h.video)),
        vec!["a1", "a2", "a3"]
    );
}

async fn check_filters(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    for (what, f) in filters() {
        let want_count = points.iter().filter(|p| matches(&f, &p.video)).count() as u64;
        assert!(
            what == "none" || want_count < points.len() as u64,
            "filter {what} must select"
        );
        assert_eq!(
            s.count(&f).await.unwrap(),
            want_count,
            "[{backend}] count with filter {what}"
        );
        for q in [vec![1.0, 0.2, 0.0, 0.0], vec![0.0, 0.3, 1.0, 0.4]] {
            let hits = s
                .search(&text_search(q.clone(), f.clone(), 5, false))
                .await
                .unwrap();
            let want = reference_top(points, VectorName::Text, &q, &f, 5);
            assert_eq!(
                ids(hits.into_iter().map(|h| h.video)),
                want,
                "[{backend}] search with filter {what}"
            );
        }
        let page = s.scroll(&request(&f, None, None, 100)).await.unwrap();
        let mut got = ids(page.videos);
        got.sort();
        let mut want: Vec<String> = points
            .iter()
            .filter(|p| matches(&f, &p.video))
            .map(|p| p.video.id.0.clone())
            .collect();
        want.sort();
        assert_eq!(got, want, "[{backend}] scroll with filter {what}");
    }
}

async fn check_recommend(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    let ex = |id: &str, weight: f32| Example {
        id: vid(id),
        weight,
    };
    let vec_of = |id: &str| {
        points
            .iter()
            .find(|p| p.video.id.as_str() == id)
            .unwrap()
            .text
            .clone()
    };

    // Same ranking as the documented query vector searched by brute force; the examples and
    // the seen ids are never returned.
    let seen = vec![vid("a2"), vid("a3")];
    let req = RecommendRequest {
        using: VectorName::Text,
        positive: vec![ex("a1", 10.0), ex("m1", 2.0)],
        negative: vec![ex("c1", 1.0)],
        filter: Filter::excluding(seen.clone()),
        limit: 5,
    };
    let hits = s.recommend(&req).await.unwrap();
    let (a1, m1, c1) = (
        normalized(&vec_of("a1")),
        normalized(&vec_of("m1")),
        normalized(&vec_of("c1")),
    );
    let q = recommend_vector(&[(&a1, 10.0), (&m1, 2.0)], &[(&c1, 1.0)]).unwrap();
    let mut excluded = Filter::excluding(seen.clone());
    excluded.exclude.extend([vid("a1"), vid("m1"), vid("c1")]);
    let want = reference_top(points, VectorName::Text, &q, &excluded, 5);
    let got = ids(hits.iter().map(|h| h.video.clone()));
    assert_eq!(got, want, "[{backend}] recommend ranking");
    assert!(
        got.iter()
            .all(|id| !["a1", "m1", "c1", "a2", "a3"].contains(&id.as_str())),
        "[{backend}] {got:?}"
    );
    assert_eq!(
        got[0], "a4",
        "[{backend}] nearest unseen to a heavily weighted a1 is a4"
    );

    // Negatives push away: m1 sits between A and B; skipping a B video moves B down.
    let pos_only = RecommendRequest {
        using: VectorName::Text,
        positive: vec![ex("m1", 1.0)],
        negative: vec![],
        filter: Filter::default(),
        limit: 10,
    };
    let with_neg = RecommendRequest {
        negative: vec![ex("b1", 1.0)],
        ..pos_only.clone()
    };
    let rank = |hits: &[scrollsim_store::Scored], id: &str| {
        hits.iter().position(|h| h.video.id.as_str() == id)
    };
    let a = s.recommend(&pos_only).await.unwrap();
    let b = s.recommend(&with_neg).await.unwrap();
    let score = |hits: &[scrollsim_store::Scored], id: &str| {
        hits.iter()
            .find(|h| h.video.id.as_str() == id)
            .unwrap()
            .score
    };
    assert!(
        rank(&b, "b2") > rank(&a, "b2"),
        "[{backend}] b2 ranks lower after skipping b1"
    );
    assert!(score(&b, "b2") < score(&a, "b2"));
    assert!(
        score(&b, "a1") > score(&a, "a1"),
        "[{backend}] A rises when B is skipped"
    );
    assert!(
        rank(&b, "b1").is_none(),
        "[{backend}] the negative example itself is not returned"
    );

    // A filter applies to recommendations too.
    let filtered = RecommendRequest {
        filter: Filter {
            platforms: vec![Platform::tiktok()],
            ..Default::default()
        },
        ..pos_only.clone()
    };
    let hits = s.recommend(&filtered).await.unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.video.platform == Platform::tiktok()));

    // Unknown examples and missing positives are errors, not silent empties.
    let unknown = RecommendRequest {
        positive: vec![ex("ghost", 1.0)],
        ..pos_only.clone()
    };
    assert!(
        matches!(s.recommend(&unknown).await, Err(StoreError::InvalidRequest(m)) if m.contains("ghost"))
    );
    let no_pos = RecommendRequest {
        positive: vec![],
        negative: vec![ex("a1", 1.0)],
        ..pos_only
    };
    assert!(matches!(
        s.recommend(&no_pos).await,
        Err(StoreError::InvalidRequest(_))
    ));
}

async fn check_sample(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    let all = Filter::default();
    let a = ids(s.sample(5, 42, &all).await.unwrap());
    let b = ids(s.sample(5, 42, &all).await.unwrap());
    assert_eq!(a.len(), 5);
    assert_eq!(a, b, "[{backend}] same seed, same sample");
    assert_eq!(
        a.iter().collect::<HashSet<_>>().len(),
        5,
        "[{backend}] distinct"
    );
    let mut distinct_samples = HashSet::new();
    for seed in 0..20 {
        distinct_samples.insert(ids(s.sample(3, seed, &all).await.unwrap()));
    }
    assert!(
        distinct_samples.len() > 5,
        "[{backend}] seeds vary the sample: {distinct_samples:?}"
    );
    // Asking for more than there is returns everything matching, each once (wrap-around).
    for seed in [0, 1, 99, u64::MAX] {
        let every = ids(s.sample(100, seed, &all).await.unwrap());
        assert_eq!(every.len(), points.len(), "[{backend}] seed {seed}");
        assert_eq!(every.iter().collect::<HashSet<_>>().len(), points.len());
    }
    // Filters and exclusions hold.
    for (what, f) in filters() {
        let got = s.sample(100, 7, &f).await.unwrap();
        let want = points.iter().filter(|p| matches(&f, &p.video)).count();
        assert_eq!(got.len(), want, "[{backend}] sample with filter {what}");
        assert!(got.iter().all(|v| matches(&f, v)));
        let few = s.sample(2, 7, &f).await.unwrap();
        assert!(few.len() == want.min(2) && few.iter().all(|v| matches(&f, v)));
    }
    assert!(s.sample(0, 1, &all).await.unwrap().is_empty());
}

/// A search over the text vectors, the suite's usual query.
fn text_search(vector: Vec<f32>, filter: Filter, limit: usize, exact: bool) -> SearchRequest {
    SearchRequest {
        using: VectorName::Text,
        vector,
        filter,
        limit,
        exact,
    }
}

/// A scroll of `limit` videos matching `filter`, in `order`, from `offset`.
fn request(
    filter: &Filter,
    order: Option<OrderBy>,
    offset: Option<VideoId>,
    limit: usize,
) -> ScrollRequest {
    ScrollRequest {
        filter: filter.clone(),
        order,
        offset,
        limit,
    }
}

async fn check_scroll(s: &dyn VideoStore, points: &[VideoPoint]) {
    let backend = s.backend();
    // Paging by id: every video exactly once, in pages of the asked size.
    for order in [None, Some(OrderBy::ViewsDesc), Some(OrderBy::PostedDesc)] {
        let mut seen = Vec::new();
        let mut offset = None;
        let mut pages = 0;
        loop {
            let page = s
                .scroll(&request(&Filter::default(), order, offset.take(), 5))
                .await
                .unwrap();
            assert!(page.videos.len() <= 5);
            seen.extend(page.videos);
            pages += 1;
            match page.next {
                Some(n) => offset = Some(n),
                None => break,
            }
            assert!(pages < 10, "[{backend}] scroll does not end");
        }
        assert_eq!(
            pages,
            3,
            "[{backend}] 12 videos in pages of 5, {order:?}: {:?}",
            ids(seen.clone())
        );
        let seen_ids = ids(seen.clone());
        assert_eq!(
            seen_ids.iter().collect::<HashSet<_>>().len(),
            points.len(),
            "[{backend}] {order:?}: {seen_ids:?}"
        );
        // The same order as one big page: paging neither skips nor repeats, even across ties
        // (a2/a3 share 5000 views, c2/c1 700, d1/d2 40).
        let whole = ids(s
            .scroll(&request(&Filter::default(), order, None, 100))
            .await
            .unwrap()
            .videos);
        assert_eq!(
            seen_ids, whole,
            "[{backend}] paged order equals one page, {order:?}"
        );
        match order {
            Some(OrderBy::ViewsDesc) => {
                let views: Vec<i64> = seen
                    .iter()
                    .map(|v| v.views.map(|x| x as i64).unwrap_or(-1))
                    .collect();
                assert!(
                    views.windows(2).all(|w| w[0] >= w[1]),
                    "[{backend}] views desc: {views:?}"
                );
                assert_eq!(seen_ids[0], "b1");
                assert_eq!(
                    seen_ids.last().unwrap(),
                    "b2",
                    "[{backend}] no views sorts last"
                );
            }
            Some(OrderBy::PostedDesc) => {
                let posted: Vec<Option<NaiveDate>> = seen.iter().map(|v| v.posted).collect();
                assert!(
                    posted.windows(2).all(|w| w[0] >= w[1]),
                    "[{backend}] posted desc: {posted:?}"
                );
                assert_eq!(seen_ids[0], "d1");
                assert_eq!(
                    seen_ids.last().unwrap(),
                    "d2",
                    "[{backend}] no post date sorts last"
                );
            }
            None => {}
        }
    }
    // An ordered scroll with a filter and an offset in the middle of a tie.
    let f = Filter {
        platforms: vec![Platform::youtube(), Platform::instagram()],
        ..Default::default()
    };
    let whole = ids(s
        .scroll(&request(&f, Some(OrderBy::ViewsDesc), None, 100))
        .await
        .unwrap()
        .videos);
    let mid = VideoId::new(whole[2].clone());
    let rest = ids(s
        .scroll(&request(&f, Some(OrderBy::ViewsDesc), Some(mid), 100))
        .await
        .unwrap()
        .videos);
    assert_eq!(
        rest,
        whole[2..].to_vec(),
        "[{backend}] ordered offset is inclusive and exact"
    );
    assert!(matches!(
        s.scroll(&request(
            &f,
            Some(OrderBy::ViewsDesc),
            Some(vid("ghost")),
            3
        ))
        .await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert!(s
        .scroll(&request(&f, None, None, 0))
        .await
        .unwrap()
        .videos
        .is_empty());
}

async fn check_bad_input(s: &dyn VideoStore) {
    let backend = s.backend();
    let before = s.count(&Filter::default()).await.unwrap();
    let mut bad = corpus()[0].clone();
    bad.video.id = vid("bad");
    bad.text = vec![1.0, 0.0];
    let mut good = corpus()[1].clone();
    good.video.id = vid("fresh");
    match s.upsert(vec![good, bad.clone()]).await {
        Err(StoreError::BadVector {
            id, expected, got, ..
        }) => {
            assert_eq!((id.as_str(), expected, got), ("bad", TEXT_DIM, 2));
        }
        other => panic!("[{backend}] expected BadVector, got {other:?}"),
    }
    bad.text = vec![0.0; TEXT_DIM];
    assert!(matches!(
        s.upsert(vec![bad]).await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert_eq!(
        s.count(&Filter::default()).await.unwrap(),
        before,
        "[{backend}] nothing half-written"
    );
    let q = SearchRequest {
        using: VectorName::Image,
        vector: vec![1.0; TEXT_DIM],
        filter: Filter::default(),
        limit: 3,
        exact: false,
    };
    assert!(matches!(
        s.search(&q).await,
        Err(StoreError::BadVector { .. })
    ));
}

fn embedded_config(collection: &str) -> StoreConfig {
    StoreConfig {
        backend: Backend::Embedded,
        collection: collection.into(),
        upsert_batch: 4,
        ..Default::default()
    }
}

async fn open_embedded(cfg: &StoreConfig, dir: &Path) -> Arc<dyn VideoStore> {
    open_store(cfg, dir).await.unwrap()
}

/// The contract on an embedded collection opened with `cfg`, copied into a one-shard
/// `<collection>_copy` (the copy's layout need not be the source's). Returns the data
/// directory the collection lives in, for checks of its layout.
async fn embedded_conforms(cfg: &StoreConfig) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy_cfg = embedded_config(&format!("{}_copy", cfg.collection));
    conformance(
        || open_embedded(cfg, dir.path()),
        || open_embedded(&copy_cfg, copy_dir.path()),
        &cfg.collection,
    )
    .await;
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_conforms() {
    let dir = embedded_conforms(&embedded_config("conformance")).await;
    // Data lives where the docs say.
    let root = dir.path().join("qdrant/conformance");
    assert!(root.join("shard-0/edge_config.json").exists());
    assert_eq!(std::fs::read_to_string(root.join("shards")).unwrap(), "1\n");
}

/// The same contract when the collection is split into qdrant-edge shards: every query asks
/// each shard and merges (ranking, id order, key order, counts, sampling, paging).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_conforms_with_three_shards() {
    let cfg = StoreConfig {
        shards: 3,
        ..embedded_config("sharded")
    };
    let dir = embedded_conforms(&cfg).await;
    let root = dir.path().join("qdrant/sharded");
    assert_eq!(std::fs::read_to_string(root.join("shards")).unwrap(), "3\n");
    for i in 0..3 {
        assert!(root.join(format!("shard-{i}/edge_config.json")).exists());
    }
    // The count is the collection's: a config asking for another count opens it as it is.
    let n = {
        let s = open_embedded(&cfg, dir.path()).await;
        s.count(&Filter::default()).await.unwrap()
    };
    assert!(n > 0);
    let other = StoreConfig { shards: 1, ..cfg };
    let s = open_embedded(&other, dir.path()).await;
    assert_eq!(s.count(&Filter::default()).await.unwrap(), n);
    assert_eq!(std::fs::read_to_string(root.join("shards")).unwrap(), "3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_backend_conforms_when_qdrant_url_is_set() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        println!("skipped: QDRANT_URL not set (set it to a Qdrant gRPC URL, e.g. http://localhost:6334, to run the suite against a server)");
        eprintln!("skipped: QDRANT_URL not set");
        return;
    };
    let name = format!(
        "scrollsim_conformance_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    // The collection's layout on a cluster, read as the config file would read it.
    let setting = |var: &str, key: &str| match std::env::var(var) {
        Ok(v) if v.parse::<u32>().is_ok() => format!("{key} = {v}\n"),
        Ok(v) => format!("{key} = {v:?}\n"),
        Err(_) => String::new(),
    };
    let layout = [
        setting("QDRANT_TEST_SHARDS", "shards"),
        setting("QDRANT_TEST_REPLICATION", "replication"),
        setting("QDRANT_TEST_READ_CONSISTENCY", "read_consistency"),
    ]
    .concat();
    let cfg: StoreConfig =
        toml::from_str(&layout).unwrap_or_else(|e| panic!("QDRANT_TEST_* settings: {e}"));
    let cfg = StoreConfig {
        backend: Backend::Server,
        url: url.clone(),
        api_key_env: std::env::var("QDRANT_API_KEY")
            .ok()
            .map(|_| "QDRANT_API_KEY".to_string()),
        collection: name.clone(),
        upsert_batch: 4,
        ..cfg
    };
    println!(
        "server conformance at {url}: shards {}, replication {}, read consistency {}",
        cfg.shards, cfg.replication, cfg.read_consistency
    );
    let unused = tempfile::tempdir().unwrap();
    let copy_name = format!("{name}_copy");
    let copy_cfg = StoreConfig {
        collection: copy_name.clone(),
        ..cfg.clone()
    };
    conformance(
        || async { open_store(&cfg, unused.path()).await.unwrap() },
        || async { open_store(&copy_cfg, unused.path()).await.unwrap() },
        &name,
    )
    .await;
    // Leave the user's server as we found it.
    for collection in [&name, &copy_name] {
        scrollsim_testkit::drop_server_collection(&url, collection)
            .await
            .unwrap();
    }
}
