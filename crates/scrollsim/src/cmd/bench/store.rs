use std::path::PathBuf;

use scrollsim_bench::store::{BenchOptions, Placement};
use scrollsim_store::Backend;

use crate::app::App;

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

pub async fn run(args: Args, app: &App) -> anyhow::Result<()> {
    let mut config = app.settings.store.clone();
    if let Some(b) = args.backend {
        config.backend = match b {
            BackendArg::Embedded => Backend::Embedded,
            BackendArg::Server => Backend::Server,
        };
    }
    let placement = Placement {
        config,
        dir: args.dir,
        scratch_parent: app.data().root().to_path_buf(),
        keep: args.keep,
    };
    let opts = BenchOptions {
        n: args.n,
        queries: args.queries,
        ..Default::default()
    };
    print!("{}", scrollsim_bench::store::bench(placement, opts).await?);
    Ok(())
}
