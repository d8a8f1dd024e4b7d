//! A store that goes down mid-run: once it reports an outage (its circuit breaker is open),
//! no new session starts, the sessions in flight stop at their next store call, the run
//! reports the outage once, and `--resume` after the store is back gives traces identical to
//! an uninterrupted run. The store is the real embedded one behind a switch that makes every
//! call fail the way the server backend's open breaker does (the breaker itself is tested
//! against a gRPC endpoint that goes away in scrollsim-store's tests). When `QDRANT_URL` is
//! set, the same run goes against that real server, cut off mid-run behind a proxy.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use scrollsim_core::{CorpusId, RunId, Video, VideoId};
use scrollsim_sim::{execute, Experiment, RunDeps, RunDir, RunProgress, RunReport, Shard, Stop};
use scrollsim_store::breaker::Outage;
use scrollsim_store::{
    CollectionSpec, ContentDigest, CopiedPoint, Filter, Page, RecommendRequest, Result, Scored,
    ScrollRequest, SearchRequest, StoreError, Uuid, VectorName, VideoPoint, VideoStore,
};

const URL: &str = "http://127.0.0.1:1";

/// The embedded store, going down after `fail_after` query calls until `heal`.
struct Flaky {
    inner: Arc<dyn VideoStore>,
    fail_after: AtomicU64,
    calls: AtomicU64,
    /// Calls refused while down.
    refused: AtomicU64,
    down: AtomicBool,
    since: std::sync::Mutex<Option<Instant>>,
}

impl Flaky {
    fn new(inner: Arc<dyn VideoStore>, fail_after: u64) -> Self {
        Flaky {
            inner,
            fail_after: AtomicU64::new(fail_after),
            calls: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            down: AtomicBool::new(false),
            since: std::sync::Mutex::new(None),
        }
    }

    /// Counts a query; fails it once the store is down (or goes down now).
    fn gate(&self) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n >= self.fail_after.load(Ordering::SeqCst) && !self.down.swap(true, Ordering::SeqCst) {
            *self.since.lock().unwrap() = Some(Instant::now());
        }
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Down {
                url: URL.into(),
                detail: "search: Unavailable".into(),
            });
        }
        Ok(())
    }

    fn heal(&self) {
        self.fail_after.store(u64::MAX, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
        *self.since.lock().unwrap() = None;
    }
}

#[async_trait]
impl VideoStore for Flaky {
    fn backend(&self) -> &'static str {
        "server"
    }
    async fn open_collection(&self, spec: &CollectionSpec) -> Result<()> {
        self.inner.open_collection(spec).await
    }
    async fn upsert(&self, points: Vec<VideoPoint>) -> Result<usize> {
        self.inner.upsert(points).await
    }
    async fn upsert_copies(&self, points: Vec<CopiedPoint>) -> Result<usize> {
        self.inner.upsert_copies(points).await
    }
    async fn content_digests(&self) -> Result<Vec<(Uuid, ContentDigest)>> {
        self.inner.content_digests().await
    }
    async fn get(&self, ids: &[VideoId]) -> Result<Vec<Video>> {
        self.gate()?;
        self.inner.get(ids).await
    }
    async fn vectors(
        &self,
        ids: &[VideoId],
        using: VectorName,
    ) -> Result<Vec<(VideoId, Vec<f32>)>> {
        self.gate()?;
        self.inner.vectors(ids, using).await
    }
    async fn search(&self, req: &SearchRequest) -> Result<Vec<Scored>> {
        self.gate()?;
        self.inner.search(req).await
    }
    async fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Scored>> {
        self.gate()?;
        self.inner.recommend(req).await
    }
    async fn sample(&self, n: usize, seed: u64, filter: &Filter) -> Result<Vec<Video>> {
        self.gate()?;
        self.inner.sample(n, seed, filter).await
    }
    async fn scroll(&self, req: &ScrollRequest) -> Result<Page> {
        self.gate()?;
        self.inner.scroll(req).await
    }
    async fn count(&self, filter: &Filter) -> Result<u64> {
        self.gate()?;
        self.inner.count(filter).await
    }
    async fn delete(&self, ids: &[VideoId]) -> Result<()> {
        self.inner.delete(ids).await
    }
    async fn corpus_id(&self) -> Result<CorpusId> {
        self.inner.corpus_id().await
    }
    fn outage(&self) -> Option<Outage> {
        self.down.load(Ordering::SeqCst).then(|| Outage {
            url: URL.into(),
            detail: "search: Unavailable".into(),
            since: self.since.lock().unwrap().unwrap_or_else(Instant::now),
        })
    }
}

/// The study every outage test runs, with its run directories and an uninterrupted run over
/// the store given: what a cut and resumed run is compared with.
struct Study {
    text: String,
    exp: Experiment,
    id: RunId,
    runs: tempfile::TempDir,
    deps: RunDeps,
    clean: RunDir,
    sessions: usize,
}

impl Study {
    async fn run_clean(store: Arc<dyn VideoStore>, data: &Path) -> Study {
        let text = common::study("outage-test", LENGTH, &[1, 2]);
        let exp = common::experiment(&text);
        let id = RunId::new("o");
        let runs = tempfile::tempdir().unwrap();
        let deps = common::deps(store, data, None).await;
        let clean = RunDir::create(&runs.path().join("clean"), &id, &text, &exp).unwrap();
        let full = common::run_all(&clean, &exp, &deps).await.unwrap();
        assert!(full.complete(), "{full:?}");
        Study {
            sessions: full.sessions,
            text,
            exp,
            id,
            runs,
            deps,
            clean,
        }
    }

    fn dir(&self, name: &str) -> RunDir {
        RunDir::create(
            &self.runs.path().join(name),
            &self.id,
            &self.text,
            &self.exp,
        )
        .unwrap()
    }

    /// What every run cut off by an outage must show: the outage reported once, naming the
    /// server, and every session accounted for, those waiting to start never started.
    fn assert_cut(&self, cut: &RunReport, url: &str) {
        let outage = cut.outage.as_ref().expect("the run saw the outage");
        assert!(outage.to_string().contains(url), "{outage}");
        assert!(!cut.complete());
        assert!(
            cut.failures.is_empty(),
            "the outage is reported once, not per session: {:?}",
            cut.failures
        );
        assert!(
            cut.stopped > 0,
            "sessions waiting to start never start: {cut:?}"
        );
        assert_eq!(
            cut.ended + cut.interrupted.len() + cut.stopped,
            cut.sessions,
            "{cut:?}"
        );
    }

    /// Resumes the cut run in `dir` over `deps`: it completes with the clean run's traces.
    /// Returns the report and how many trace lines compared.
    async fn assert_resumes(&self, dir: &RunDir, deps: &RunDeps) -> (RunReport, usize) {
        let resumed = common::run_all(dir, &self.exp, deps).await.unwrap();
        assert!(resumed.complete(), "{resumed:?}");
        let lines = common::assert_same_traces(&self.clean.root, &dir.root);
        (resumed, lines)
    }
}

const LENGTH: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_stops_the_run_at_once_and_resume_completes_it() {
    let (data, store) = common::store_with(common::synthetic(300, 384)).await;
    let study = Study::run_clean(store.clone(), data.path()).await;
    assert_eq!(study.sessions, 24);

    // Down after 150 store calls: a few sessions finished, three in flight, the rest waiting.
    let flaky = Arc::new(Flaky::new(store.clone(), 150));
    let mut deps_flaky = study.deps.clone();
    deps_flaky.store = flaky.clone();
    let b = study.dir("b");
    let cut = common::run_all(&b, &study.exp, &deps_flaky).await.unwrap();
    study.assert_cut(&cut, URL);
    let concurrency = study.exp.concurrency;
    assert!(
        !cut.interrupted.is_empty() && cut.interrupted.len() <= concurrency,
        "only sessions in flight are cut short: {cut:?}"
    );
    // Each session in flight gave up at its first refused call; none started afterwards.
    let refused = flaky.refused.load(Ordering::SeqCst);
    assert!(
        refused as usize <= concurrency,
        "{refused} calls after the outage: sessions kept calling a store known to be down"
    );
    let traces = std::fs::read_dir(b.sessions_dir()).unwrap().count();
    assert_eq!(
        traces,
        cut.ended + cut.interrupted.len(),
        "no trace for a session that never started"
    );

    // The store is back: resume completes with the clean run's traces.
    flaky.heal();
    let (resumed, lines) = study.assert_resumes(&b, &deps_flaky).await;
    assert_eq!(resumed.already_ended, cut.ended);
    println!(
        "outage after 150 calls: {} ended, {} cut short, {} not started; resumed to {lines} identical trace lines",
        cut.ended,
        cut.interrupted.len(),
        cut.stopped
    );
}

/// The run against a real Qdrant server (`QDRANT_URL`) behind a proxy that is cut when the
/// run is under way: the server backend's breaker opens, the run stops with the outage naming
/// the URL, and a new store (as `--resume` in a new process) completes it once the proxy is
/// back, with the traces of an uninterrupted run against the same server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_cut_off_mid_run_stops_it_and_resume_completes_when_qdrant_url_is_set() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        println!("skipped: QDRANT_URL not set (a real Qdrant server to cut off mid-run)");
        return;
    };
    let proxy = scrollsim_testkit::CutProxy::start(&url).await.unwrap();
    let via = proxy.url();
    let name = format!("scrollsim_outage_{}", std::process::id());
    let cfg = scrollsim_store::StoreConfig {
        backend: scrollsim_store::Backend::Server,
        url: via.clone(),
        collection: name.clone(),
        api_key_env: std::env::var("QDRANT_API_KEY")
            .ok()
            .map(|_| "QDRANT_API_KEY".to_string()),
        timeout_s: 2.0,
        retries: 2,
        retry_base_ms: 20,
        // No probe during the cut run: it ends on the outage, as a process would.
        breaker_cooldown_s: 600.0,
        ..Default::default()
    };
    let data = tempfile::tempdir().unwrap();
    let store = scrollsim_store::open_store(&cfg, data.path())
        .await
        .unwrap();
    let points = common::synthetic(300, 384);
    store
        .open_collection(&CollectionSpec {
            name: name.clone(),
            text_dim: 384,
            image_dim: None,
        })
        .await
        .unwrap();
    store.upsert(points).await.unwrap();
    store.wait_indexed().await.unwrap();
    let study = Study::run_clean(store, data.path()).await;

    // Cut when a fifth of the steps are written.
    let progress = RunProgress::new();
    let watch = progress.clone();
    let planned = study.sessions as u64 * u64::from(LENGTH);
    let cutter = tokio::spawn(async move {
        let mut proxy = proxy;
        while watch.snapshot().steps < planned / 5 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        proxy.cut().await;
        proxy
    });
    let b = study.dir("b");
    let cut = execute(
        &b,
        &study.exp,
        Shard::ALL,
        &study.deps,
        Stop::new(),
        progress.clone(),
    )
    .await
    .unwrap();
    let mut proxy = cutter.await.unwrap();
    study.assert_cut(&cut, &via);
    let steps_at_cut = progress.snapshot().steps;

    proxy.restore().await.unwrap();
    let mut deps_back = study.deps.clone();
    deps_back.store = scrollsim_store::open_store(&cfg, data.path())
        .await
        .unwrap();
    let (_, lines) = study.assert_resumes(&b, &deps_back).await;
    println!(
        "real server at {url} cut off after {steps_at_cut} of {planned} steps: {} ended, {} cut short, {} not started; resumed to {lines} identical trace lines",
        cut.ended,
        cut.interrupted.len(),
        cut.stopped
    );
    scrollsim_testkit::drop_server_collection(&url, &name)
        .await
        .unwrap();
}
