//! Ingest end to end on real parts: the fixture clips through ffmpeg-next, the real
//! all-MiniLM-L6-v2, and the embedded Qdrant store (qdrant-edge) in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use scrollsim_core::config::ValueCatalog;
use scrollsim_core::{MediaKind, Platform, Value};
use scrollsim_embed::{Embedder, Embedders, MiniLmEmbedder, MiniLmOptions};
use scrollsim_ingest::{ingest, IngestConfig, IngestOptions, IngestProgress, IngestSummary};
use scrollsim_media::ImageStore;
use scrollsim_store::{open_store, Filter, SearchRequest, StoreConfig, VectorName, VideoStore};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    root().join("fixtures")
}

fn minilm() -> Arc<dyn Embedder> {
    static M: OnceLock<Arc<MiniLmEmbedder>> = OnceLock::new();
    M.get_or_init(|| {
        Arc::new(
            MiniLmEmbedder::load(&MiniLmOptions {
                path: root().join("models/all-MiniLM-L6-v2"),
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{e}")),
        )
    })
    .clone()
}

/// A data directory with an embedded store, an image store and the journal. Fields drop in
/// order: the store is closed (and flushed) before its temporary directory goes.
struct Env {
    store: Arc<dyn VideoStore>,
    images: ImageStore,
    catalog: ValueCatalog,
    embedders: Embedders,
    data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut env = Env::at(dir.path().join("data")).await;
        env._dir = Some(dir);
        env
    }

    /// At a data directory the caller owns (it outlives this store).
    async fn at(data: PathBuf) -> Env {
        let store = open_store(&StoreConfig::default(), &data).await.unwrap();
        Env {
            images: ImageStore::open(&data.join("images")).unwrap(),
            store,
            catalog: ValueCatalog::load(&root().join("config/values.toml")).unwrap(),
            embedders: Embedders {
                text: minilm(),
                image: None,
            },
            data,
            _dir: None,
        }
    }

    fn opts(&self, limit: Option<usize>) -> IngestOptions {
        IngestOptions {
            config: IngestConfig {
                batch_size: 8,
                ..Default::default()
            },
            value_scoring: Default::default(),
            collection: "videos".into(),
            journal: IngestOptions::journal_path(&self.data, "videos"),
            limit,
        }
    }

    async fn run(
        &self,
        sources: &[PathBuf],
        meta: Option<&Path>,
        limit: Option<usize>,
    ) -> IngestSummary {
        ingest(
            sources,
            meta,
            &self.opts(limit),
            self.store.as_ref(),
            &self.embedders,
            &self.images,
            &self.catalog,
            &IngestProgress::hidden(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn count(&self) -> u64 {
        self.store.count(&Filter::default()).await.unwrap()
    }
}

/// The fixture corpus's metadata rows (file, label).
fn fixture_rows() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures().join("metadata.jsonl"))
        .expect("fixtures/metadata.jsonl (the fixture corpus) must exist");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Copies the first `n` fixture clips (videos only) into `dir`, without metadata.
fn copy_clips(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for row in fixture_rows() {
        let file = row["file"].as_str().unwrap();
        let src = fixtures().join(file);
        let video = matches!(
            scrollsim_ingest::sources::media_kind(&src),
            Ok(MediaKind::Video)
        );
        if !video || out.len() == n {
            continue;
        }
        let dst = dir.join(src.file_name().unwrap());
        std::fs::copy(&src, &dst).unwrap();
        out.push(dst);
    }
    assert_eq!(out.len(), n, "the fixture corpus has at least {n} videos");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_corpus_ingests_searches_and_reingests_nothing() {
    let env = Env::new().await;
    let rows = fixture_rows();
    assert!(rows.len() >= 40, "fixture corpus has {} rows", rows.len());

    let first = env.run(&[fixtures()], None, None).await;
    assert!(first.failed.is_empty(), "{first}");
    assert_eq!(first.ingested.len(), rows.len(), "{first}");
    assert!(first.unmatched_metadata.is_empty(), "{first}");
    assert_eq!(
        first.metadata_files,
        vec![fixtures().join("metadata.jsonl")]
    );
    assert_eq!(env.count().await, rows.len() as u64);
    assert!(first.frames >= rows.len());

    // Records carry the metadata, keyframes in the image store, scores and labels.
    let id = rows[0]["id"].as_str().unwrap();
    let v = env.store.get(&[id.into()]).await.unwrap().remove(0);
    assert_eq!(v.caption, rows[0]["caption"].as_str().unwrap());
    assert_eq!(
        v.platform,
        Platform::new(rows[0]["platform"].as_str().unwrap())
    );
    assert!(!v.keyframes.is_empty() && v.keyframes.iter().all(|k| env.images.contains(&k.hash)));
    assert!(!v.values.is_empty() && v.values[0] == v.value_scores.argmax());
    assert!(v.label.is_some());

    // Search: the query embedded with the same MiniLM finds Hedonism clips first.
    let q = minilm()
        .embed_texts(&["beach party vacation".to_string()])
        .await
        .unwrap()
        .remove(0);
    let hits = env
        .store
        .search(&SearchRequest {
            using: VectorName::Text,
            vector: q,
            filter: Filter::default(),
            limit: 5,
            exact: true,
        })
        .await
        .unwrap();
    let labels: Vec<(String, Option<Value>, Vec<Value>)> = hits
        .iter()
        .map(|h| {
            (
                h.video.id.to_string(),
                h.video.label,
                h.video.values.clone(),
            )
        })
        .collect();
    assert_eq!(hits[0].video.label, Some(Value::Hedonism), "{labels:?}");
    assert!(
        hits[0].video.values.contains(&Value::Hedonism),
        "{labels:?}"
    );
    let he = hits
        .iter()
        .filter(|h| h.video.label == Some(Value::Hedonism))
        .count();
    assert!(he >= 3, "Hedonism clips in the top 5: {labels:?}");

    // Labels agree with the curators' ground truth for most clips.
    let all = env
        .store
        .get(
            &rows
                .iter()
                .map(|r| r["id"].as_str().unwrap().into())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let agree = all
        .iter()
        .filter(|v| v.label.is_some_and(|l| v.values.contains(&l)))
        .count();
    assert!(
        agree * 10 >= all.len() * 6,
        "labels match ground truth for {agree} of {}",
        all.len()
    );

    // A second ingest adds nothing: everything is unchanged.
    let second = env.run(&[fixtures()], None, None).await;
    assert!(second.ingested.is_empty(), "{second}");
    assert_eq!(second.unchanged, rows.len(), "{second}");
    assert!(!second.nothing_available());
    assert_eq!(env.count().await, rows.len() as u64);
    assert!(
        second
            .to_string()
            .contains(&format!("skipped {} unchanged", rows.len())),
        "{second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_fake_and_empty_files_are_reported_and_skipped() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let clips = copy_clips(dir.path(), 3);
    // A damaged copy: the first 40 % of a real clip.
    let bytes = std::fs::read(&clips[0]).unwrap();
    std::fs::write(
        dir.path().join("damaged.mp4"),
        &bytes[..bytes.len() * 2 / 5],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notes.mp4"),
        "this is a text file, not a video\n".repeat(20),
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.webm"), b"").unwrap();
    std::fs::write(dir.path().join("readme.txt"), "not media").unwrap();

    let s = env.run(&[dir.path().to_path_buf()], None, None).await;
    assert_eq!(s.ingested.len(), 3, "{s}");
    // A damaged container, and files named as media whose content is not (text, nothing):
    // each fails, naming the file. A text file with no media name is passed over, with why.
    assert_eq!(s.failed.len(), 3, "{s}");
    for name in ["damaged.mp4", "notes.mp4", "empty.webm"] {
        let f = s
            .failed
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not reported: {s}"));
        assert!(
            f.reason.contains(name),
            "the reason names the file: {}",
            f.reason
        );
    }
    assert_eq!(
        s.failed
            .iter()
            .find(|f| f.path.ends_with("empty.webm"))
            .unwrap()
            .kind,
        "empty"
    );
    assert_eq!(s.ignored.len(), 1, "{s}");
    assert!(
        s.ignored[0].path.ends_with("readme.txt") && s.ignored[0].reason.starts_with("not media"),
        "{s}"
    );
    assert_eq!(env.count().await, 3);
    let text = s.to_string();
    assert!(
        text.contains("failed 3") && text.contains("notes.mp4"),
        "{text}"
    );

    // No metadata: id from the file stem, platform unknown, duration probed, no text labels.
    let stem = clips[1].file_stem().unwrap().to_str().unwrap();
    let v = env.store.get(&[stem.into()]).await.unwrap().remove(0);
    assert_eq!(v.platform, Platform::unknown());
    assert_eq!(v.kind, MediaKind::Video);
    assert!(v.duration_s.is_some_and(|d| d > 1.0), "{:?}", v.duration_s);
    assert!(v.caption.is_empty() && v.values.is_empty());
    assert_eq!(
        v.source.as_deref(),
        Some(clips[1].file_name().unwrap().to_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_of_any_name_ingest_by_content() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scrollsim_testkit::test_containers(d, 2);
    let s = env.run(&[d.to_path_buf()], None, None).await;
    assert!(s.failed.is_empty() && s.ignored.is_empty(), "{s}");
    assert_eq!(s.ingested.len(), 6, "{s}");
    for id in ["a", "b", "c", "d", "e", "f"] {
        let v = env.store.get(&[id.into()]).await.unwrap();
        assert_eq!(v.len(), 1, "{id} is in the store");
        assert_eq!(v[0].kind, MediaKind::Video);
        assert!(
            v[0].duration_s.is_some_and(|x| (x - 2.0).abs() < 0.3),
            "{id}: duration {:?}",
            v[0].duration_s
        );
        assert!(!v[0].keyframes.is_empty(), "{id} has keyframes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_ingest_resumes_and_metadata_changes_reingest() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let clips = copy_clips(&media, 5);
    // A screenshot, and CSV metadata for two clips (one row's caption will change later).
    let shot = media.join("screenshot.png");
    image::RgbImage::from_fn(90, 160, |x, y| image::Rgb([(x * 2) as u8, y as u8, 128]))
        .save(&shot)
        .unwrap();
    let name = |i: usize| clips[i].file_name().unwrap().to_str().unwrap().to_string();
    let csv = media.join("metadata.csv");
    let write_meta = |caption: &str| {
        std::fs::write(
            &csv,
            format!(
                "file,id,platform,caption,hashtags,label\n{},beach-1,tiktok,\"{caption}\",#beach #party,HE\nscreenshot.png,shot-1,instagram,Family dinner with grandma,family,BE\n",
                name(0)
            ),
        )
        .unwrap()
    };
    write_meta("Sunset beach party with cocktails");

    let data = dir.path().join("data");
    let env = Env::at(data.clone()).await;
    let src = [media.clone()];
    // The first run stops after 2 files (as if interrupted).
    let s1 = env.run(&src, None, Some(2)).await;
    assert_eq!((s1.ingested.len(), s1.deferred), (2, 4), "{s1}");
    assert_eq!(env.count().await, 2);
    // The next run does the other 4 and nothing twice.
    let s2 = env.run(&src, None, None).await;
    assert_eq!((s2.ingested.len(), s2.unchanged), (4, 2), "{s2}");
    let first_ids: Vec<_> = s1.ingested.iter().map(|i| i.id.clone()).collect();
    assert!(
        s2.ingested.iter().all(|i| !first_ids.contains(&i.id)),
        "nothing ingested twice"
    );
    assert_eq!(env.count().await, 6);

    let v = env
        .store
        .get(&["beach-1".into(), "shot-1".into()])
        .await
        .unwrap();
    assert_eq!(v[0].platform, Platform::tiktok());
    assert_eq!(v[0].hashtags, vec!["beach", "party"]);
    assert_eq!(v[0].values[0], Value::Hedonism, "{:?}", v[0].value_scores);
    assert_eq!(v[1].kind, MediaKind::Image);
    assert_eq!(v[1].keyframes.len(), 1);
    assert_eq!(v[1].duration_s, None);

    // Changing one caption re-ingests exactly that file.
    write_meta("Graduation day, hard work pays off");
    let s3 = env.run(&src, None, None).await;
    assert_eq!((s3.ingested.len(), s3.unchanged), (1, 5), "{s3}");
    let v = env.store.get(&["beach-1".into()]).await.unwrap().remove(0);
    assert_eq!(v.caption, "Graduation day, hard work pays off");
    assert_eq!(v.values[0], Value::Achievement);

    // A touched file with the same bytes is still unchanged (content hash).
    let f = std::fs::File::options()
        .write(true)
        .open(&clips[3])
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let s4 = env.run(&src, None, None).await;
    assert_eq!((s4.ingested.len(), s4.unchanged), (0, 6), "{s4}");

    // A new store with the old journal: entries for missing videos are dropped and re-done.
    drop(env);
    std::fs::remove_dir_all(data.join("qdrant")).unwrap();
    let env = Env::at(data).await;
    let s5 = env.run(&src, None, None).await;
    assert_eq!(s5.ingested.len(), 6, "{s5}");
    assert_eq!(env.count().await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metadata_stops_before_anything_is_written() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let clips = copy_clips(dir.path(), 1);
    let meta = dir.path().join("meta.jsonl");
    let name = clips[0].file_name().unwrap().to_str().unwrap();
    std::fs::write(&meta, format!("{{\"file\":\"{name}\",\"label\":\"HE\"}}\n{{\"file\":\"{name}\",\"views\":\"lots\"}}\n")).unwrap();
    let err = ingest(
        &[dir.path().to_path_buf()],
        Some(&meta),
        &env.opts(None),
        env.store.as_ref(),
        &env.embedders,
        &env.images,
        &env.catalog,
        &IngestProgress::hidden(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("{}:2: invalid type", meta.display())),
        "{err}"
    );
    assert!(!IngestOptions::journal_path(&env.data, "videos").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_image_vectors_are_the_mean_of_keyframe_vectors_and_searchable() {
    use scrollsim_embed::{cosine, mean_vector, ClipEmbedder, ClipOptions};
    // No real CLIP weights are reachable: the tiny random-weight checkpoint runs the same path.
    let ckpt = tempfile::tempdir().unwrap();
    scrollsim_testkit::write_tiny_clip(ckpt.path()).unwrap();
    let clip: Arc<dyn Embedder> = Arc::new(
        ClipEmbedder::load(&ClipOptions {
            path: ckpt.path().into(),
            batch_size: 8,
        })
        .unwrap(),
    );
    let mut env = Env::new().await;
    env.embedders.image = Some(clip.clone());

    let dir = tempfile::tempdir().unwrap();
    let clips = copy_clips(dir.path(), 3);
    let s = env.run(&[dir.path().to_path_buf()], None, None).await;
    assert_eq!(s.ingested.len(), 3, "{s}");

    let id: scrollsim_core::VideoId = clips[0].file_stem().unwrap().to_str().unwrap().into();
    let v = env
        .store
        .get(std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);
    let stored = env
        .store
        .vectors(std::slice::from_ref(&id), VectorName::Image)
        .await
        .unwrap()
        .remove(0)
        .1;
    // The video's image vector: the normalised mean of its view keyframes' CLIP vectors.
    let views: Vec<Vec<u8>> = v
        .keyframes
        .iter()
        .map(|k| env.images.get(k.view.as_ref().unwrap()).unwrap())
        .collect();
    let want = mean_vector(&clip.embed_images(&views).await.unwrap())
        .unwrap()
        .unwrap();
    assert!(
        cosine(&stored, &want) > 0.9999,
        "stored image vector differs"
    );
    let hits = env
        .store
        .search(&SearchRequest {
            using: VectorName::Image,
            vector: want,
            filter: Filter::default(),
            limit: 1,
            exact: true,
        })
        .await
        .unwrap();
    assert_eq!(hits[0].video.id, id);
    // Without text, the scores come from the image side alone, so the video still has labels.
    assert!(v.caption.is_empty());
    assert!(
        v.value_scores.values().iter().any(|x| *x != 0.0) && !v.values.is_empty(),
        "{v:?}"
    );
}
