//! Shared test setup: real embedded stores (qdrant-edge in a temp directory), the repo's
//! config, and the MiniLM model the offline persona model needs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use scrollsim_sim::PolicyConfig;
use scrollsim_store::{open_store, StoreConfig, VideoPoint, VideoStore};
use scrollsim_testkit::SyntheticCorpus;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `[policy]` of the repo's config/default.toml (so the shipped presets are what is tested).
pub fn policy_config() -> PolicyConfig {
    let text = std::fs::read_to_string(repo().join("config/default.toml")).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let policy = table
        .remove("policy")
        .expect("config/default.toml has a [policy] section");
    let cfg: PolicyConfig = policy.try_into().unwrap();
    cfg.validate().unwrap();
    cfg
}

/// A fresh embedded store holding `points`.
pub async fn store_with(points: Vec<VideoPoint>) -> (tempfile::TempDir, Arc<dyn VideoStore>) {
    scrollsim_testkit::store_with(points).await.unwrap()
}

/// A synthetic corpus clustered by value (see `scrollsim_testkit::SyntheticCorpus`).
pub fn synthetic(videos: usize, dim: usize) -> Vec<VideoPoint> {
    SyntheticCorpus {
        videos,
        dim,
        noise: 0.6,
        seed: 11,
    }
    .points()
}

/// The MiniLM text embedder from the repo's models/ (fetched by scripts/setup.sh).
pub async fn minilm() -> Arc<dyn scrollsim_embed::Embedder> {
    let opts = scrollsim_embed::MiniLmOptions {
        path: repo().join("models/all-MiniLM-L6-v2"),
        ..Default::default()
    };
    scrollsim_embed::build_text_embedder(&scrollsim_embed::TextEmbedderConfig::Minilm(opts))
        .await
        .expect("MiniLM at models/all-MiniLM-L6-v2 (run scripts/setup.sh)")
}

/// Run dependencies over `store`: the offline persona model (and any configured VLM) built from
/// a judge environment with MiniLM and, when given, a keyframe store.
pub async fn deps(
    store: Arc<dyn VideoStore>,
    data: &Path,
    images: Option<scrollsim_media::ImageStore>,
) -> scrollsim_sim::RunDeps {
    let text = minilm().await;
    let mut judges = scrollsim_vlm::JudgeEnv::new(
        scrollsim_vlm::JudgeEnv::default_cache_path(data),
        repo().join("config/prompts"),
    )
    .with_text_embedder(text.clone());
    if let Some(i) = images {
        judges = judges.with_images(Arc::new(i));
    }
    scrollsim_sim::RunDeps {
        store,
        judges,
        text_embedder: Some(text),
        image_embedder: None,
    }
}

/// Run dependencies over a copy of the ingested fixture corpus ([`fixture_data`]), keyframes
/// included; the data directory lives as long as the returned guard.
pub async fn fixture_deps() -> (tempfile::TempDir, scrollsim_sim::RunDeps) {
    let data = fixture_data();
    let store = open(data.path()).await;
    let images = scrollsim_media::ImageStore::open(&data.path().join("images")).unwrap();
    let deps = deps(store, data.path(), Some(images)).await;
    (data, deps)
}

/// Every session of `exp` into `dir`, not stopped, progress unobserved.
pub async fn run_all(
    dir: &scrollsim_sim::RunDir,
    exp: &scrollsim_sim::Experiment,
    deps: &scrollsim_sim::RunDeps,
) -> Result<scrollsim_sim::RunReport, scrollsim_sim::RunError> {
    use scrollsim_sim::{execute, RunProgress, Shard, Stop};
    execute(dir, exp, Shard::ALL, deps, Stop::new(), RunProgress::new()).await
}

/// A study of three personas and the control arm over the three feed policies, judged by the
/// offline persona model, `length` steps a session (windows: the first and last quarter).
pub fn study(name: &str, length: u32, seeds: &[u64]) -> String {
    let q = length / 4;
    format!(
        r#"
name = "{name}"
personas = ["family", "partygoer", "careful"]
control = true
models = ["offline"]
strategies = ["simple"]
policies = ["foryou:tiktok-like", "random", "popular"]
seeds = {seeds:?}
session_length = {length}
windows = {{ first = {q}, last_start = {last_start}, last = {q} }}
concurrency = 3
"#,
        last_start = length - q
    )
}

/// An experiment from TOML text, resolved against the repo's config.
pub fn experiment(text: &str) -> scrollsim_sim::Experiment {
    let policy = policy_config();
    let judge = scrollsim_vlm::JudgeConfig::default();
    let config_dir = repo().join("config");
    let d = scrollsim_sim::Defaults {
        config_dir: &config_dir,
        policy: &policy,
        judge: &judge,
    };
    scrollsim_sim::Experiment::parse(text, Path::new("test-experiment.toml"), &d).unwrap()
}

/// Asserts that two run directories hold the same traces, line for line, except the header's
/// `created_at` (the only wall-clock time a trace records).
pub fn assert_same_traces(a: &Path, b: &Path) -> usize {
    let list = |d: &Path| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d.join("sessions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    assert_eq!(
        la.iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>(),
        lb.iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>(),
        "the same sessions"
    );
    let mut lines = 0;
    for (pa, pb) in la.iter().zip(&lb) {
        let ta = std::fs::read_to_string(pa).unwrap();
        let tb = std::fs::read_to_string(pb).unwrap();
        let (ha, ra) = ta.split_once('\n').unwrap();
        let (hb, rb) = tb.split_once('\n').unwrap();
        let strip = |h: &str| {
            let mut v: serde_json::Value = serde_json::from_str(h).unwrap();
            v.as_object_mut().unwrap().remove("created_at");
            v
        };
        assert_eq!(strip(ha), strip(hb), "{}: headers differ", pb.display());
        assert!(ra == rb, "{}: steps or end differ", pb.display());
        assert!(
            ra.contains("\"type\":\"end\""),
            "{}: unfinished",
            pb.display()
        );
        lines += ra.lines().count() + 1;
    }
    lines
}

/// The fixture corpus (fixtures/, ~100 clips) ingested once per test binary with the ingest
/// library (real keyframes with ffmpeg-next, MiniLM embeddings, the embedded store); each
/// caller gets its own copy of the data directory, so stores are never shared.
pub fn fixture_data() -> tempfile::TempDir {
    static PREPARED: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let src = PREPARED.get_or_init(|| {
        // Its own thread and runtime: the store is closed before anyone copies the files.
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let dir = tempfile::tempdir().unwrap();
                ingest_fixtures(dir.path()).await;
                dir
            })
        })
        .join()
        .unwrap()
    });
    let copy = tempfile::tempdir().unwrap();
    copy_dir(src.path(), copy.path());
    copy
}

async fn ingest_fixtures(data: &Path) {
    let cfg = StoreConfig::default();
    let store = open_store(&cfg, data).await.unwrap();
    let text = minilm().await;
    let embedders = scrollsim_embed::Embedders { text, image: None };
    let images = scrollsim_media::ImageStore::open(&data.join("images")).unwrap();
    let catalog =
        scrollsim_core::config::ValueCatalog::load(&repo().join("config/values.toml")).unwrap();
    let opts = scrollsim_ingest::IngestOptions {
        config: scrollsim_ingest::IngestConfig::default(),
        value_scoring: Default::default(),
        collection: cfg.collection.clone(),
        journal: scrollsim_ingest::IngestOptions::journal_path(data, &cfg.collection),
        limit: None,
    };
    let fixtures = repo().join("fixtures");
    let summary = scrollsim_ingest::ingest(
        std::slice::from_ref(&fixtures),
        Some(&fixtures.join("metadata.jsonl")),
        &opts,
        store.as_ref(),
        &embedders,
        &images,
        &catalog,
        &scrollsim_ingest::IngestProgress::hidden(),
    )
    .await
    .unwrap();
    assert!(
        summary.failed.is_empty(),
        "fixtures failed to ingest: {:?}",
        summary.failed
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Opens the embedded store in a data directory.
pub async fn open(data: &Path) -> Arc<dyn VideoStore> {
    open_store(&StoreConfig::default(), data).await.unwrap()
}

/// The one session trace under a one-session run's `sessions/` directory.
pub fn only_trace(sessions: &Path) -> scrollsim_core::SessionTrace {
    let paths: Vec<PathBuf> = std::fs::read_dir(sessions)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    let file = std::fs::File::open(&paths[0]).unwrap();
    scrollsim_core::SessionTrace::read(std::io::BufReader::new(file)).unwrap()
}
