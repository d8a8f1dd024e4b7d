//! `scrollsim bench store`: wiring for `scrollsim_store::bench` (the measuring lives there).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_store::bench::{self, BenchOptions};
use scrollsim_store::{Backend, StoreConfig};

use crate::settings::Settings;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Embedded,
    Server,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic videos (384-d text and 512-d image vectors, clustered).
    #[arg(long, default_value_t = 50_000)]
    n: usize,
    /// Backend to measure; default: the configured one ([store] backend).
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Timed calls per latency figure.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Embedded: where the benchmark store is written; default: a fresh directory under
    /// <paths.data>, removed afterwards unless --keep.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the benchmark store (embedded directory or server collection `bench_store`).
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut cfg: StoreConfig = settings.store.clone();
    if let Some(b) = args.backend {
        cfg.backend = match b {
            BackendArg::Embedded => Backend::Embedded,
            BackendArg::Server => Backend::Server,
        };
    }
    let opts = BenchOptions {
        n: args.n,
        queries: args.queries,
        ..Default::default()
    };
    cfg.collection = opts.collection.clone();
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            settings
                .paths
                .data
                .join(format!("bench-store-{}", std::process::id())),
            !args.keep,
        ),
    };
    if cfg.backend == Backend::Embedded && dir.join("qdrant").join(&cfg.collection).exists() {
        anyhow::bail!(
            "{} already holds a benchmark store: remove it or pass another --dir",
            dir.join("qdrant").join(&cfg.collection).display()
        );
    }
    let store = scrollsim_store::open_store(&cfg, &dir)
        .await
        .with_context(|| format!("opening the {} store", cfg.backend.as_str()))?;
    let disk_dir = (cfg.backend == Backend::Embedded).then_some(dir.as_path());
    let report = bench::run(store.as_ref(), disk_dir, opts).await;
    drop(store);
    if temporary && cfg.backend == Backend::Embedded {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    print!("{}", report.context("store benchmark")?);
    Ok(ExitCode::SUCCESS)
}
