//! The keyword benchmark retrieves by image vectors when an image embedder is configured: the
//! keywords go through CLIP's text tower (the tiny random-weight checkpoint the embed crate's
//! test kit writes) and are matched against the videos' image vectors, as the paper matched
//! keywords to screenshots. Without an image embedder it falls back to text and says so.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use scrollsim_core::{PolicyName, Retrieval, RunId, SessionTrace, Value, VideoId};
use scrollsim_embed::{ClipOptions, Embedder, ImageEmbedderConfig};
use scrollsim_sim::{execute, Defaults, Experiment, RunDeps, RunDir, RunProgress, Shard, Stop};
use scrollsim_store::VideoStore;
use scrollsim_testkit::{write_tiny_clip, TINY_CLIP_DIM};

const TOP_K: usize = 3;

/// Two keywords per value, phrases of the tiny checkpoint's vocabulary (so each embeds to
/// its own vector rather than to `<unk>`).
fn keywords() -> Vec<(Value, String)> {
    let words = ["beach", "party", "cat", "dog", "sunset", "family"];
    let mut phrases = Vec::new();
    for a in words {
        for b in words {
            if a != b {
                phrases.push(format!("{a} {b}"));
            }
        }
    }
    Value::ALL
        .iter()
        .enumerate()
        .flat_map(|(i, v)| {
            [
                (*v, phrases[2 * i].clone()),
                (*v, phrases[2 * i + 1].clone()),
            ]
        })
        .collect()
}

/// A config directory whose values.toml holds [`keywords`].
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from("provenance = \"test keywords\"\n");
    for v in Value::ALL {
        let kws: Vec<String> = keywords()
            .into_iter()
            .filter(|(w, _)| *w == v)
            .map(|(_, k)| format!("{k:?}"))
            .collect();
        toml.push_str(&format!(
            "[values.{}]\ndefinition = \"test\"\nkeywords = [{}]\n",
            v.code(),
            kws.join(", ")
        ));
    }
    std::fs::write(dir.path().join("values.toml"), toml).unwrap();
    std::fs::create_dir_all(dir.path().join("personas")).unwrap();
    dir
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// 60 synthetic videos with random image vectors, unrelated to their text vectors, so a
/// retrieval by text and one by image pick different videos. The store's directory doubles as
/// the run's data directory.
async fn store_with_images() -> (
    tempfile::TempDir,
    Arc<dyn VideoStore>,
    HashMap<VideoId, Vec<f32>>,
) {
    let mut points = common::synthetic(60, 384);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut images = HashMap::new();
    for p in &mut points {
        let v = unit(
            (0..TINY_CLIP_DIM)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect(),
        );
        images.insert(p.video.id.clone(), v.clone());
        p.image = Some(v);
    }
    let (dir, store) = common::store_with(points).await;
    (dir, store, images)
}

async fn tiny_clip(dir: &Path) -> Arc<dyn Embedder> {
    write_tiny_clip(dir).unwrap();
    scrollsim_embed::build_image_embedder(&ImageEmbedderConfig::Clip(ClipOptions {
        path: dir.to_path_buf(),
        batch_size: 8,
    }))
    .await
    .unwrap()
    .expect("a clip embedder")
}

fn experiment(config: &Path, using: &str) -> (String, Experiment) {
    let text = format!(
        "name = \"kw\"\ncontrol = true\nstrategies = [\"plain\"]\npolicies = [\"keyword\"]\nseeds = [1]\n\
         [policy.keyword]\ntop_k = {TOP_K}\nusing = \"{using}\"\ndedup = false\n"
    );
    let policy = common::policy_config();
    let judge = scrollsim_vlm::JudgeConfig::default();
    let d = Defaults {
        config_dir: config,
        policy: &policy,
        judge: &judge,
    };
    let exp = Experiment::parse(&text, Path::new("kw.toml"), &d).unwrap();
    (text, exp)
}

async fn run(
    deps: &RunDeps,
    runs: &Path,
    config: &Path,
    using: &str,
) -> Result<SessionTrace, String> {
    let (text, exp) = experiment(config, using);
    let id = format!("kw-{using}-{}", deps.image_embedder.is_some());
    let dir = RunDir::create(runs, &RunId::new(id), &text, &exp).unwrap();
    let report = execute(
        &dir,
        &exp,
        Shard::ALL,
        deps,
        Stop::new(),
        RunProgress::new(),
    )
    .await
    .map_err(|e| e.to_string())?;
    assert!(report.succeeded(), "{report:?}");
    Ok(common::only_trace(&dir.sessions_dir()))
}

/// The `k` nearest of `vectors` to `q` by cosine (all unit length), by brute force.
fn nearest(q: &[f32], vectors: &HashMap<VideoId, Vec<f32>>, k: usize) -> BTreeSet<VideoId> {
    let mut scored: Vec<(f32, &VideoId)> = vectors
        .iter()
        .map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), id))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_retrieves_by_image_vectors_with_an_image_embedder_and_by_text_without() {
    let ckpt = tempfile::tempdir().unwrap();
    let config = config_dir();
    let (data, store, images) = store_with_images().await;
    let clip = tiny_clip(ckpt.path()).await;
    let mut deps = common::deps(store.clone(), data.path(), None).await;
    deps.image_embedder = Some(clip.clone());
    let runs = data.path().join("runs");

    // "auto" with CLIP and image vectors: by image.
    let t = run(&deps, &runs, config.path(), "auto").await.unwrap();
    assert_eq!(t.header.policy.name, PolicyName::Keyword);
    assert_eq!(t.header.policy.retrieval, Some(Retrieval::Image));
    assert_eq!(t.header.policy.describe(), "keyword(image)");
    let kws = keywords();
    assert_eq!(
        t.steps.len(),
        kws.len() * TOP_K,
        "dedup = false: exactly top_k per keyword"
    );
    let words: Vec<String> = kws.iter().map(|(_, k)| k.clone()).collect();
    let vectors = clip.embed_texts(&words).await.unwrap();
    let mut differs_from_text = 0;
    for ((value, keyword), q) in kws.iter().zip(&vectors) {
        let source = format!("keyword:{keyword}");
        let got: BTreeSet<VideoId> = t
            .steps
            .iter()
            .filter(|s| s.slate[0].source.as_deref() == Some(source.as_str()))
            .map(|s| {
                assert_eq!(s.retrieved_for, Some(*value));
                s.video.clone()
            })
            .collect();
        assert_eq!(
            got,
            nearest(q, &images, TOP_K),
            "{keyword}: the image-vector top {TOP_K}"
        );
        // What a text retrieval would have found for the same keyword (MiniLM on the text
        // vectors) is another set: this run did not retrieve by text.
        let text_vec = deps
            .text_embedder
            .as_ref()
            .unwrap()
            .embed_texts(std::slice::from_ref(keyword))
            .await
            .unwrap()
            .remove(0);
        let texts: HashMap<VideoId, Vec<f32>> = store
            .vectors(
                &images.keys().cloned().collect::<Vec<_>>(),
                scrollsim_store::VectorName::Text,
            )
            .await
            .unwrap()
            .into_iter()
            .collect();
        differs_from_text += (nearest(&text_vec, &texts, TOP_K) != got) as usize;
    }
    assert!(differs_from_text > kws.len() / 2, "{differs_from_text}");

    // "image" without an image embedder is refused, naming what is missing.
    deps.image_embedder = None;
    let err = run(&deps, &runs, config.path(), "image").await.unwrap_err();
    assert!(err.contains("[embedder.image]"), "{err}");
    // "auto" without one falls back to text, and the trace says so.
    let t = run(&deps, &runs, config.path(), "auto").await.unwrap();
    assert_eq!(t.header.policy.retrieval, Some(Retrieval::Text));
    assert_eq!(t.steps.len(), kws.len() * TOP_K);
}
