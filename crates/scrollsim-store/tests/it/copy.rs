//! A collection copied between stores keeps every video and vector as stored, runs again
//! without duplicating, and leaves out the image vector when the source has none.

use std::sync::Mutex;

use scrollsim_core::VideoId;
use scrollsim_store::{
    copy_collection, open_store, Backend, Copied, Filter, SearchRequest, StoreConfig, VectorName,
    VideoPoint,
};
use scrollsim_testkit::{store_with, ClusteredCorpus};

fn embedded(collection: &str) -> StoreConfig {
    StoreConfig {
        backend: Backend::Embedded,
        collection: collection.into(),
        ..Default::default()
    }
}

async fn check_copy(points: Vec<VideoPoint>, image_dim: Option<usize>) {
    let n = points.len();
    let ids: Vec<VideoId> = points.iter().map(|p| p.video.id.clone()).collect();
    let (_src_dir, from) = store_with(points).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = open_store(&embedded("copy"), dir.path()).await.unwrap();
    let seen = Mutex::new(Vec::new());
    let copied = copy_collection(&*from, &*to, "copy", 128, |k| seen.lock().unwrap().push(k))
        .await
        .unwrap();
    assert_eq!(
        copied,
        Copied {
            videos: n as u64,
            text_dim: 24,
            image_dim
        }
    );
    assert_eq!(*seen.lock().unwrap(), [128, 256, 300]);
    assert_eq!(to.count(&Filter::default()).await.unwrap(), n as u64);
    // The corpus id is the source's but for the collection's name (`<name>:<points>:<digest>`).
    let tail = |id: scrollsim_core::CorpusId| id.as_str().split_once(':').unwrap().1.to_string();
    assert_eq!(
        tail(from.corpus_id().await.unwrap()),
        tail(to.corpus_id().await.unwrap())
    );
    assert_eq!(from.get(&ids).await.unwrap(), to.get(&ids).await.unwrap());
    let mut usings = vec![VectorName::Text];
    if image_dim.is_some() {
        usings.push(VectorName::Image);
    } else {
        assert!(
            to.vectors(&ids, VectorName::Image).await.is_err(),
            "no image vectors made up"
        );
    }
    for using in usings {
        let sorted = |mut v: Vec<(VideoId, Vec<f32>)>| {
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        let a = sorted(from.vectors(&ids, using).await.unwrap());
        let b = sorted(to.vectors(&ids, using).await.unwrap());
        assert_eq!(a.len(), n);
        for ((ia, va), (ib, vb)) in a.iter().zip(&b) {
            assert_eq!(ia, ib);
            let far = va
                .iter()
                .zip(vb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(far < 1e-6, "{ia} {using:?} vector moved by {far}");
        }
        // So the copy answers queries as the source does.
        let req = SearchRequest {
            using,
            vector: a[7].1.clone(),
            filter: Filter::default(),
            limit: 10,
            exact: true,
        };
        let hits = |r: Vec<scrollsim_store::Scored>| -> Vec<VideoId> {
            r.into_iter().map(|s| s.video.id).collect()
        };
        assert_eq!(
            hits(from.search(&req).await.unwrap()),
            hits(to.search(&req).await.unwrap())
        );
    }
    // Again: the same points are replaced, not added.
    copy_collection(&*from, &*to, "copy", 1000, |_| {})
        .await
        .unwrap();
    assert_eq!(to.count(&Filter::default()).await.unwrap(), n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_holds_the_same_videos_and_vectors() {
    let corpus = ClusteredCorpus::new(5, 6, 24, 16);
    check_copy((0..300).map(|i| corpus.point(i)).collect(), Some(16)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_a_text_only_collection_has_no_image_vectors() {
    let corpus = ClusteredCorpus::new(6, 6, 24, 16);
    let points = (0..300)
        .map(|i| VideoPoint {
            image: None,
            ..corpus.point(i)
        })
        .collect();
    check_copy(points, None).await;
}
