//! `scrollsim bench sim`: simulated steps per second through the real session loop (policy,
//! store, offline persona model, dwell, state update, trace written and flushed per step), on
//! the fixture corpus and on 50,000 synthetic videos (384-d vectors clustered by value, with
//! value scores) upserted into a temporary embedded store. Target: >= 2,000 steps/s at 50,000
//! videos on a 2-core machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use scrollsim_core::RunId;
use scrollsim_sim::{Defaults, Experiment, RunDeps, RunDir, RunProgress, Shard, Stop};
use scrollsim_store::{CollectionSpec, Filter, StoreConfig, VideoStore};
use scrollsim_testkit::SyntheticCorpus;

use crate::{BenchError, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct SimBench {
    /// Synthetic videos.
    pub videos: usize,
    /// Steps per session on the synthetic corpus (the fixture corpus caps it at its size).
    pub length: u32,
    /// Seeds per persona x policy cell (every persona and the control arm).
    pub seeds: u32,
    /// Sessions at once.
    pub concurrency: usize,
    /// Policies to measure, one at a time (`foryou`, `foryou:slow-delayed-popular`, `random`...).
    pub policies: Vec<String>,
    /// The store settings of the synthetic corpus's store.
    pub store: StoreConfig,
    /// Where the synthetic store and the runs go (a fresh directory inside, removed after).
    pub scratch_parent: PathBuf,
}

/// Measures each policy on the fixture corpus (when `fixtures` is given) and on the synthetic
/// corpus. `deps` makes a run's dependencies (judges, text embedder) around a store.
pub async fn run(
    b: &SimBench,
    defaults: &Defaults<'_>,
    fixtures: Option<Arc<dyn VideoStore>>,
    deps: &(dyn Fn(Arc<dyn VideoStore>) -> RunDeps + Sync),
) -> Result<()> {
    std::fs::create_dir_all(&b.scratch_parent).map_err(|source| BenchError::Io {
        path: b.scratch_parent.clone(),
        source,
    })?;
    let scratch = tempfile::Builder::new()
        .prefix("bench-sim-")
        .tempdir_in(&b.scratch_parent)
        .map_err(|source| BenchError::Io {
            path: b.scratch_parent.clone(),
            source,
        })?;
    println!("scrollsim bench sim: offline persona model, embedded store, traces written and flushed per step");
    println!(
        "{:<22} {:<22} {:>9} {:>8} {:>9} {:>10}",
        "corpus", "policy", "sessions", "steps", "seconds", "steps/s"
    );

    if let Some(store) = fixtures {
        let n = store.count(&Filter::default()).await? as u32;
        let length = b.length.min(n.saturating_sub(5)).max(1);
        let runs = scratch.path().join("fixtures");
        measure(b, defaults, deps, store, "fixtures", length, &runs).await?;
    }

    let data = scratch.path().join("synthetic");
    let store = scrollsim_store::open_store(&b.store, &data).await?;
    let corpus = SyntheticCorpus {
        videos: b.videos,
        dim: 384,
        noise: 0.6,
        seed: 1,
    };
    store
        .open_collection(&CollectionSpec {
            name: b.store.collection.clone(),
            text_dim: 384,
            image_dim: None,
        })
        .await?;
    let t = Instant::now();
    store.upsert(corpus.points()).await?;
    store.wait_indexed().await?;
    eprintln!(
        "({} synthetic videos upserted and indexed in {:.1} s)",
        b.videos,
        t.elapsed().as_secs_f64()
    );
    let label = format!("synthetic {}", b.videos);
    measure(
        b,
        defaults,
        deps,
        store,
        &label,
        b.length,
        &data.join("runs"),
    )
    .await
}

/// Runs every persona plus control x `seeds` for each policy in turn and prints steps/s.
async fn measure(
    b: &SimBench,
    defaults: &Defaults<'_>,
    deps: &(dyn Fn(Arc<dyn VideoStore>) -> RunDeps + Sync),
    store: Arc<dyn VideoStore>,
    corpus: &str,
    length: u32,
    runs: &Path,
) -> Result<()> {
    for policy in &b.policies {
        let w = (length / 3).max(1);
        let text = format!(
            "name = \"bench\"\npersonas = \"all\"\ncontrol = true\nmodels = [\"offline\"]\n\
             policies = [\"{policy}\"]\nseeds = {{ from = 1, count = {} }}\nsession_length = {length}\n\
             windows = {{ first = {w}, last_start = {}, last = {w} }}\nconcurrency = {}\n",
            b.seeds,
            length - w,
            b.concurrency
        );
        let exp = Experiment::parse(&text, Path::new("<bench sim>"), defaults)?;
        let id = RunId::new(policy.replace(':', "-"));
        let dir = RunDir::create(runs, &id, &text, &exp)?;
        let deps = deps(store.clone());
        let progress = RunProgress::new();
        let t = Instant::now();
        let report =
            scrollsim_sim::execute(&dir, &exp, Shard::ALL, &deps, Stop::new(), progress.clone())
                .await?;
        let secs = t.elapsed().as_secs_f64();
        if !report.failures.is_empty() {
            return Err(BenchError::Setup(format!(
                "sessions failed: {:?}",
                report.failures
            )));
        }
        let steps = progress.snapshot().steps;
        println!(
            "{corpus:<22} {policy:<22} {:>9} {steps:>8} {secs:>9.2} {:>10.0}",
            report.sessions,
            steps as f64 / secs
        );
    }
    Ok(())
}
