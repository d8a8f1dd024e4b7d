//! `scrollsim bench store`: synthetic clustered videos, upsert rate, index build time,
//! search/recommend latency with a session-sized exclude list, recall@10 of the index against
//! exact search, disk size and peak memory. Figures, never assertions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrollsim_core::{Platform, Value, VideoId};
use scrollsim_store::{
    Backend, CollectionSpec, Example, Filter, RecommendRequest, Result, SearchRequest, StoreConfig,
    VectorName, VideoPoint, VideoStore,
};
use scrollsim_testkit::ClusteredCorpus;

use crate::timings::Timings;

/// Hits an exact search of limit `k` fetches beyond `k` (`Store::exact_nearest` asks for
/// `k + 16`; the first page is all it needs unless ties run past it).
pub const EXACT_MARGIN: usize = 16;

/// What to generate and measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub n: usize,
    pub text_dim: usize,
    pub image_dim: usize,
    /// Topic clusters the vectors are drawn around (realistic neighbourhoods).
    pub clusters: usize,
    /// Timed calls per latency figure.
    pub queries: usize,
    /// Queries whose top-10 is compared with exact search.
    pub recall_queries: usize,
    /// Seen videos excluded in every timed call, as a session would.
    pub exclude: usize,
    /// Videos per `upsert` call (as ingest would send them).
    pub upsert_chunk: usize,
    pub seed: u64,
    pub collection: String,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            n: 50_000,
            text_dim: 384,
            image_dim: 512,
            clusters: 200,
            queries: 2_000,
            recall_queries: 200,
            exclude: 100,
            upsert_chunk: 2_000,
            seed: 7,
            collection: "bench_store".into(),
        }
    }
}

/// Everything the benchmark measured.
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub backend: String,
    pub n: usize,
    pub text_dim: usize,
    pub image_dim: usize,
    pub upsert_secs: f64,
    pub index_secs: f64,
    pub search: Timings,
    pub search_filtered: Timings,
    pub recommend: Timings,
    pub recommend_filtered: Timings,
    /// Exact (scanning) search, filtered as above: what `store.index.exact` and an under-filled
    /// indexed search pay.
    pub search_exact: Timings,
    pub get: Timings,
    /// A get of as many videos as an exact search fetches beyond its limit to settle ties
    /// ([`EXACT_MARGIN`]): an upper bound on what fetching their payloads costs it.
    pub get_margin: Timings,
    pub sample: Timings,
    /// A no-op round trip through the blocking pool, to weigh running edge calls there.
    pub spawn_blocking: Timings,
    pub recall_at_10: f64,
    pub recall_at_10_filtered: f64,
    pub filtered_share: f64,
    pub disk_bytes: Option<u64>,
    pub wal_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        writeln!(
            f,
            "store benchmark: backend {}, {} videos, text {}-d + image {}-d vectors (cosine)",
            self.backend, self.n, self.text_dim, self.image_dim
        )?;
        writeln!(
            f,
            "  upsert          {:>10.0} points/s  ({} points in {:.2} s, durable on return)",
            self.n as f64 / self.upsert_secs,
            self.n,
            self.upsert_secs
        )?;
        writeln!(
            f,
            "  index build     {:>10.2} s (HNSW over both vectors)",
            self.index_secs
        )?;
        writeln!(
            f,
            "  search top-10, exclude 100 seen            {}",
            self.search
        )?;
        writeln!(
            f,
            "  search top-10, exclude 100 + filter ({:.0}%)  {}",
            self.filtered_share * 100.0,
            self.search_filtered
        )?;
        writeln!(
            f,
            "  recommend 5+/3-, exclude 100 seen          {}",
            self.recommend
        )?;
        writeln!(
            f,
            "  recommend 5+/3-, exclude 100 + filter      {}",
            self.recommend_filtered
        )?;
        writeln!(
            f,
            "  search top-10 exact, exclude 100 + filter  {}",
            self.search_exact
        )?;
        writeln!(
            f,
            "  get 1 video                                {}",
            self.get
        )?;
        writeln!(
            f,
            "  get {EXACT_MARGIN} videos (exact search's tie margin)  {}",
            self.get_margin
        )?;
        if self.search_exact.n > 0 {
            writeln!(
                f,
                "  (the margin's payloads: at most {:.1} % of an exact search, means of this run)",
                100.0 * self.get_margin.mean.as_secs_f64()
                    / self.search_exact.mean.as_secs_f64().max(1e-12)
            )?;
        }
        writeln!(
            f,
            "  sample 10, exclude 100 seen                {}",
            self.sample
        )?;
        writeln!(
            f,
            "  (spawn_blocking no-op round trip           {})",
            self.spawn_blocking
        )?;
        writeln!(
            f,
            "  recall@10 indexed vs exact: {:.4} unfiltered, {:.4} filtered",
            self.recall_at_10, self.recall_at_10_filtered
        )?;
        match (self.disk_bytes, self.wal_bytes) {
            (Some(d), Some(w)) => writeln!(
                f,
                "  on disk         {:>10.1} MiB ({:.1} MiB of it write-ahead log)",
                mib(d),
                mib(w)
            )?,
            _ => writeln!(
                f,
                "  on disk         n/a (server backend: see the server's storage)"
            )?,
        }
        match self.peak_rss_bytes {
            Some(b) => writeln!(
                f,
                "  peak memory     {:>10.1} MiB (VmHWM of this process)",
                mib(b)
            ),
            None => writeln!(f, "  peak memory     n/a (no /proc/self/status)"),
        }
    }
}

/// Total size of the files under `dir`, and of those under any `wal` directory.
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    fn walk(p: &Path, in_wal: bool, total: &mut u64, wal: &mut u64) {
        let Ok(entries) = std::fs::read_dir(p) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(md) = e.metadata() else { continue };
            let path = e.path();
            if md.is_dir() {
                let w = in_wal || path.file_name().is_some_and(|n| n == "wal");
                walk(&path, w, total, wal);
            } else {
                // Allocated blocks, not apparent length: mmap files are often sparse.
                let bytes = allocated(&md);
                *total += bytes;
                if in_wal {
                    *wal += bytes;
                }
            }
        }
    }
    let (mut total, mut wal) = (0, 0);
    walk(dir, false, &mut total, &mut wal);
    (total, wal)
}

#[cfg(unix)]
fn allocated(md: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    md.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(md: &std::fs::Metadata) -> u64 {
    md.len()
}

/// Runs the benchmark against `store` (a fresh collection `opts.collection` is created or
/// must not exist with other dimensions). `data_dir` is where an embedded store lives, for the
/// disk figure.
pub async fn run(
    store: &dyn VideoStore,
    data_dir: Option<&Path>,
    opts: BenchOptions,
) -> Result<BenchReport> {
    let synth = ClusteredCorpus::new(opts.seed, opts.clusters, opts.text_dim, opts.image_dim);
    let spec = CollectionSpec {
        name: opts.collection.clone(),
        text_dim: opts.text_dim,
        image_dim: Some(opts.image_dim),
    };
    store.open_collection(&spec).await?;
    let mut report = BenchReport {
        backend: store.backend().into(),
        n: opts.n,
        text_dim: opts.text_dim,
        image_dim: opts.image_dim,
        ..Default::default()
    };

    // Upsert, in ingest-sized calls; vectors are generated outside the timed region.
    let bar = ProgressBar::new(opts.n as u64).with_style(
        ProgressStyle::with_template("upsert {bar:40} {pos}/{len} {per_sec} eta {eta}")
            .expect("template"),
    );
    let mut upsert = Duration::ZERO;
    let mut i = 0;
    while i < opts.n {
        let end = (i + opts.upsert_chunk).min(opts.n);
        let chunk: Vec<VideoPoint> = (i..end).map(|j| synth.point(j)).collect();
        let t = Instant::now();
        let written = store.upsert(chunk).await?;
        upsert += t.elapsed();
        debug_assert_eq!(written, end - i);
        bar.inc((end - i) as u64);
        i = end;
    }
    bar.finish_and_clear();
    report.upsert_secs = upsert.as_secs_f64();

    eprintln!("building the index ...");
    let t = Instant::now();
    store.wait_indexed().await?;
    report.index_secs = t.elapsed().as_secs_f64();

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1));
    let seen = |rng: &mut ChaCha8Rng| -> Vec<VideoId> {
        (0..opts.exclude)
            .map(|_| ClusteredCorpus::id(rng.random_range(0..opts.n)))
            .collect()
    };
    let filter_for = |rng: &mut ChaCha8Rng, exclude: Vec<VideoId>, filtered: bool| {
        if filtered {
            // One platform and one value label: about 39% x 20% of the corpus.
            Filter {
                platforms: vec![Platform::tiktok()],
                labels_any: vec![Value::ALL[rng.random_range(0..10)]],
                exclude,
                ..Default::default()
            }
        } else {
            Filter::excluding(exclude)
        }
    };
    let share = {
        let f = Filter {
            platforms: vec![Platform::tiktok()],
            labels_any: vec![Value::Universalism],
            ..Default::default()
        };
        store.count(&f).await? as f64 / opts.n.max(1) as f64
    };
    report.filtered_share = share;

    // Timings: search with and without a payload filter, and exact with one.
    for (filtered, exact) in [(false, false), (true, false), (true, true)] {
        let mut times = Vec::with_capacity(opts.queries);
        for _ in 0..opts.queries {
            let exclude = seen(&mut rng);
            let req = SearchRequest {
                using: VectorName::Text,
                vector: synth.query(&mut rng, VectorName::Text),
                filter: filter_for(&mut rng, exclude, filtered),
                limit: 10,
                exact,
            };
            let t = Instant::now();
            let hits = store.search(&req).await?;
            times.push(t.elapsed());
            std::hint::black_box(hits);
        }
        let l = Timings::of(times);
        match (filtered, exact) {
            (_, true) => report.search_exact = l,
            (true, false) => report.search_filtered = l,
            (false, false) => report.search = l,
        }
    }

    // Recommend, with and without a payload filter.
    for filtered in [false, true] {
        let mut times = Vec::with_capacity(opts.queries);
        for _ in 0..opts.queries {
            let exclude = seen(&mut rng);
            let ex = |id: &VideoId, w: f32| Example {
                id: id.clone(),
                weight: w,
            };
            let positive: Vec<Example> = exclude[..5]
                .iter()
                .map(|id| ex(id, rng.random_range(1.0..15.0)))
                .collect();
            let negative: Vec<Example> = exclude[5..8].iter().map(|id| ex(id, 1.0)).collect();
            let req = RecommendRequest {
                using: VectorName::Text,
                positive,
                negative,
                filter: filter_for(&mut rng, exclude, filtered),
                limit: 10,
            };
            let t = Instant::now();
            let hits = store.recommend(&req).await?;
            times.push(t.elapsed());
            std::hint::black_box(hits);
        }
        let l = Timings::of(times);
        if filtered {
            report.recommend_filtered = l
        } else {
            report.recommend = l
        }
    }

    for (n, out) in [(1, &mut report.get), (EXACT_MARGIN, &mut report.get_margin)] {
        let mut times = Vec::with_capacity(opts.queries);
        for _ in 0..opts.queries {
            let ids: Vec<VideoId> = (0..n)
                .map(|_| ClusteredCorpus::id(rng.random_range(0..opts.n)))
                .collect();
            let t = Instant::now();
            std::hint::black_box(store.get(&ids).await?);
            times.push(t.elapsed());
        }
        *out = Timings::of(times);
    }

    let mut times = Vec::with_capacity(opts.queries);
    for q in 0..opts.queries {
        let f = Filter::excluding(seen(&mut rng));
        let t = Instant::now();
        std::hint::black_box(store.sample(10, q as u64, &f).await?);
        times.push(t.elapsed());
    }
    report.sample = Timings::of(times);

    let mut times = Vec::with_capacity(opts.queries);
    for _ in 0..opts.queries {
        let t = Instant::now();
        let _ = tokio::task::spawn_blocking(|| std::hint::black_box(1)).await;
        times.push(t.elapsed());
    }
    report.spawn_blocking = Timings::of(times);

    // Recall@10 of the index against exact search, both vectors, with and without a filter.
    for filtered in [false, true] {
        let mut hit = 0usize;
        let mut total = 0usize;
        for q in 0..opts.recall_queries {
            let using = if q % 2 == 0 {
                VectorName::Text
            } else {
                VectorName::Image
            };
            let vector = synth.query(&mut rng, using);
            let exclude = seen(&mut rng);
            let filter = filter_for(&mut rng, exclude, filtered);
            let mut req = SearchRequest {
                using,
                vector,
                filter,
                limit: 10,
                exact: true,
            };
            let exact: Vec<VideoId> = store
                .search(&req)
                .await?
                .into_iter()
                .map(|s| s.video.id)
                .collect();
            req.exact = false;
            let approx: Vec<VideoId> = store
                .search(&req)
                .await?
                .into_iter()
                .map(|s| s.video.id)
                .collect();
            hit += approx.iter().filter(|id| exact.contains(id)).count();
            total += exact.len();
        }
        let recall = if total == 0 {
            1.0
        } else {
            hit as f64 / total as f64
        };
        if filtered {
            report.recall_at_10_filtered = recall
        } else {
            report.recall_at_10 = recall
        }
    }

    if let Some(dir) = data_dir {
        let (disk, wal) = disk_usage(&dir.join("qdrant").join(&opts.collection));
        report.disk_bytes = Some(disk);
        report.wal_bytes = Some(wal);
    }
    report.peak_rss_bytes = crate::sys::peak_rss_bytes();
    Ok(report)
}

/// Where the benchmark store goes and what happens to it afterwards.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The store's configuration: backend, URL, index settings (the collection is replaced by
    /// the benchmark's own).
    pub config: StoreConfig,
    /// Embedded: the directory the store is written to; `None` for a fresh directory under
    /// `scratch_parent`, removed afterwards unless `keep`.
    pub dir: Option<PathBuf>,
    pub scratch_parent: PathBuf,
    /// Keep the benchmark store (embedded directory or server collection).
    pub keep: bool,
}

/// Opens the benchmark store as `placement` says, runs [`run`] and cleans up.
pub async fn bench(placement: Placement, opts: BenchOptions) -> crate::Result<BenchReport> {
    let mut cfg = placement.config;
    cfg.collection = opts.collection.clone();
    let embedded = cfg.backend == Backend::Embedded;
    let (dir, temporary) = match placement.dir {
        Some(d) => (d, false),
        None => (
            placement
                .scratch_parent
                .join(format!("bench-store-{}", std::process::id())),
            !placement.keep,
        ),
    };
    let existing = dir.join("qdrant").join(&cfg.collection);
    if embedded && existing.exists() {
        return Err(crate::BenchError::Setup(format!(
            "{} already holds a benchmark store: remove it or pass another --dir",
            existing.display()
        )));
    }
    let store = scrollsim_store::open_store(&cfg, &dir).await?;
    let report = run(store.as_ref(), embedded.then_some(dir.as_path()), opts).await;
    drop(store);
    if temporary && embedded {
        std::fs::remove_dir_all(&dir).map_err(|source| crate::BenchError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(report?)
}
