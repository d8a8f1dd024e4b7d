//! What only the embedded backend has to get right: the HNSW index it builds itself (search
//! through the index agrees with exact search, filters and exclusions hold under it, it
//! survives reopening), one process per store, and operations before a collection exists.

use std::collections::HashSet;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrollsim_core::{Platform, Video, VideoId};
use scrollsim_store::{
    open_store, Backend, CollectionSpec, Filter, IndexParams, SearchRequest, StoreConfig,
    StoreError, VectorName, VideoPoint,
};

const DIM: usize = 32;

fn point(i: usize, rng: &mut ChaCha8Rng, centres: &[Vec<f32>]) -> VideoPoint {
    let c = &centres[i % centres.len()];
    let text: Vec<f32> = c.iter().map(|x| x + rng.random_range(-0.3..0.3)).collect();
    let video = Video {
        platform: if i.is_multiple_of(3) {
            Platform::tiktok()
        } else {
            Platform::youtube()
        },
        views: Some(i as u64),
        ..Video::new(VideoId::new(format!("v{i}")))
    };
    VideoPoint {
        video,
        text,
        image: None,
    }
}

fn config(shards: u32) -> StoreConfig {
    StoreConfig {
        backend: Backend::Embedded,
        collection: "indexed".into(),
        shards,
        // Small thresholds so 3,000 points of 32-d get a real HNSW index and filtered queries
        // use it instead of scanning.
        index: IndexParams {
            indexing_threshold_kb: 64,
            full_scan_threshold_kb: 16,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_search_agrees_with_exact_search_and_survives_reopen() {
    indexed_search_agrees_with_exact_search(1).await;
}

/// Two shards: each builds its own graph, and a query merges their best hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_search_over_two_shards_agrees_with_exact_search_and_survives_reopen() {
    indexed_search_agrees_with_exact_search(2).await;
}

async fn indexed_search_agrees_with_exact_search(shards: u32) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(shards);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let points: Vec<VideoPoint> = (0..3000).map(|i| point(i, &mut rng, &centres)).collect();

    let store = open_store(&cfg, dir.path()).await.unwrap();
    store
        .open_collection(&CollectionSpec {
            name: "indexed".into(),
            text_dim: DIM,
            image_dim: None,
        })
        .await
        .unwrap();
    assert_eq!(store.upsert(points.clone()).await.unwrap(), 3000);
    store.wait_indexed().await.unwrap();
    for i in 0..shards {
        let files = segment_files(
            &dir.path()
                .join(format!("qdrant/indexed/shard-{i}/segments")),
        );
        assert!(
            files.iter().any(|f| f.contains("graph")),
            "shard {i}: an HNSW graph was built: {files:?}"
        );
    }

    let exclude: Vec<VideoId> = (0..200)
        .map(|i| VideoId::new(format!("v{}", i * 7)))
        .collect();
    let excluded: HashSet<&VideoId> = exclude.iter().collect();
    let mut hit = 0;
    let mut total = 0;
    let mut results = Vec::new();
    for q in 0..40 {
        let vector: Vec<f32> = centres[q % 20]
            .iter()
            .map(|x| x + rng.random_range(-0.2..0.2))
            .collect();
        let filter = if q % 2 == 0 {
            Filter::excluding(exclude.clone())
        } else {
            Filter {
                platforms: vec![Platform::tiktok()],
                exclude: exclude.clone(),
                ..Default::default()
            }
        };
        let mut req = SearchRequest {
            using: VectorName::Text,
            vector,
            filter,
            limit: 10,
            exact: true,
        };
        let exact = store.search(&req).await.unwrap();
        req.exact = false;
        let approx = store.search(&req).await.unwrap();
        assert_eq!(
            approx.len(),
            10,
            "q {q} exact {:?} approx {:?}",
            exact
                .iter()
                .map(|h| (h.video.id.to_string(), h.score))
                .collect::<Vec<_>>(),
            approx
                .iter()
                .map(|h| (h.video.id.to_string(), h.score))
                .collect::<Vec<_>>()
        );
        for h in &approx {
            assert!(
                !excluded.contains(&h.video.id),
                "excluded {} returned",
                h.video.id
            );
            if q % 2 == 1 {
                assert_eq!(h.video.platform, Platform::tiktok());
            }
        }
        let exact_ids: HashSet<_> = exact.iter().map(|h| h.video.id.clone()).collect();
        hit += approx
            .iter()
            .filter(|h| exact_ids.contains(&h.video.id))
            .count();
        total += exact.len();
        results.push((req, approx));
    }
    let recall = hit as f64 / total as f64;
    assert!(
        recall >= 0.9,
        "recall@10 of the index against exact search is {recall}"
    );

    drop(store);
    let store = open_store(&cfg, dir.path()).await.unwrap();
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 3000);
    for (req, before) in &results {
        let after = store.search(req).await.unwrap();
        let ids = |h: &[scrollsim_store::Scored]| {
            h.iter().map(|x| x.video.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(before),
            ids(&after),
            "same results after reopening the indexed store"
        );
    }
}

#[tokio::test]
async fn one_process_at_a_time_and_nothing_before_a_collection() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        collection: "locked".into(),
        ..Default::default()
    };
    let store = open_store(&cfg, dir.path()).await.unwrap();
    // No collection yet: operations say so instead of returning empty results.
    assert!(matches!(
        store.count(&Filter::default()).await,
        Err(StoreError::NoCollection(_))
    ));
    assert!(matches!(
        store.corpus_id().await,
        Err(StoreError::NoCollection(_))
    ));
    store
        .open_collection(&CollectionSpec {
            name: "locked".into(),
            text_dim: 4,
            image_dim: None,
        })
        .await
        .unwrap();

    // A second handle on the same directory (as another process would be) is refused.
    match open_store(&cfg, dir.path()).await {
        Err(e @ StoreError::Embedded { .. }) => assert!(e.to_string().contains("in use"), "{e}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("two handles on one embedded store"),
    }
    drop(store);
    let again = open_store(&cfg, dir.path()).await.unwrap();
    assert_eq!(again.count(&Filter::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn bad_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        collection: "../outside".into(),
        ..Default::default()
    };
    match open_store(&cfg, dir.path()).await {
        Err(StoreError::Config(e)) => assert_eq!(e.key, "store.collection", "{e}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a collection outside the data directory"),
    }
}

/// A collection written before shards existed (one qdrant-edge shard at the collection's root)
/// still opens; a creation cut short (shard directories but no `shards` count) is made again;
/// a damaged count is an error naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_layout_opens_and_an_interrupted_creation_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let centres: Vec<Vec<f32>> = (0..4)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let points: Vec<VideoPoint> = (0..50).map(|i| point(i, &mut rng, &centres)).collect();
    let spec = |name: &str| CollectionSpec {
        name: name.into(),
        text_dim: DIM,
        image_dim: None,
    };
    let cfg = |name: &str, shards: u32| StoreConfig {
        collection: name.into(),
        shards,
        ..Default::default()
    };
    let query = SearchRequest {
        using: VectorName::Text,
        vector: centres[0].clone(),
        filter: Filter::default(),
        limit: 10,
        exact: true,
    };

    let before = {
        let store = open_store(&cfg("old", 1), dir.path()).await.unwrap();
        store.open_collection(&spec("old")).await.unwrap();
        store.upsert(points).await.unwrap();
        store.search(&query).await.unwrap()
    };
    // Rewrite it as the earlier layout: the shard's files at the collection's root.
    let root = dir.path().join("qdrant/old");
    for e in std::fs::read_dir(root.join("shard-0")).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), root.join(e.file_name())).unwrap();
    }
    std::fs::remove_dir(root.join("shard-0")).unwrap();
    std::fs::remove_file(root.join("shards")).unwrap();
    {
        let store = open_store(&cfg("old", 2), dir.path()).await.unwrap();
        assert_eq!(store.count(&Filter::default()).await.unwrap(), 50);
        let after = store.search(&query).await.unwrap();
        let ids = |h: &[scrollsim_store::Scored]| {
            h.iter().map(|x| x.video.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&before), ids(&after));
        assert!(!root.join("shards").exists(), "left in its layout");
    }

    // Shard directories without the count: a creation that was cut short.
    let new = dir.path().join("qdrant/new");
    std::fs::create_dir_all(new.join("shard-0/segments/stray")).unwrap();
    {
        let store = open_store(&cfg("new", 2), dir.path()).await.unwrap();
        assert!(matches!(
            store.count(&Filter::default()).await,
            Err(StoreError::NoCollection(_))
        ));
        store.open_collection(&spec("new")).await.unwrap();
        assert_eq!(store.count(&Filter::default()).await.unwrap(), 0);
        assert!(!new.join("shard-0/segments/stray").exists());
        assert_eq!(std::fs::read_to_string(new.join("shards")).unwrap(), "2\n");
    }

    std::fs::write(new.join("shards"), "two\n").unwrap();
    match open_store(&cfg("new", 2), dir.path()).await {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("qdrant/new/shards") && msg.contains("shard count"),
                "{msg}"
            );
        }
        Ok(_) => panic!("a damaged shard count was accepted"),
    }
}
