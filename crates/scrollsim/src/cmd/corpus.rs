//! `scrollsim corpus synth`: a synthetic corpus of real size (still screenshots with captions
//! and metadata from the value keywords) to ingest and run studies on at scale.
//! `scrollsim corpus copy`: the ingested collection into another store (a server or cluster),
//! vectors as stored, so a corpus is embedded once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write N screenshots (9:16 JPEG) and metadata.jsonl in the fixture corpus's style, from
    /// the value keywords (synthetic labels: the value each item was written from). Run it
    /// again to finish an interrupted run: whole pictures are kept, the rest are made.
    Synth(SynthArgs),
    /// Copy the configured store's collection into the store a config file's `[store]` table
    /// describes (e.g. an embedded store into a Qdrant cluster): videos and vectors as
    /// stored, no re-embedding. Run it again to finish a copy that stopped.
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
struct CopyArgs {
    /// A TOML file whose `[store]` table is the destination, read as in a config file (keys
    /// it leaves out take their defaults; the environment's overrides do not apply to it).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Videos per page read and written.
    #[arg(long, default_value_t = 512)]
    page: usize,
}

#[derive(Debug, clap::Args)]
struct SynthArgs {
    /// How many items.
    #[arg(long, default_value_t = 50_000)]
    n: usize,
    /// Output folder (metadata.jsonl and media/); ingest it with `scrollsim ingest <out>`.
    #[arg(long, default_value = "data/corpora/synth")]
    out: PathBuf,
    /// The same seed writes the same corpus.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Synth(a) => synth(a, app).await,
        Command::Copy(a) => copy(a, app).await,
    }
}

/// The destination `[store]` of `corpus copy --to`.
#[derive(serde::Deserialize)]
struct Destination {
    store: scrollsim_store::StoreConfig,
}

async fn copy(a: CopyArgs, app: &App) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&a.to).with_context(|| format!("reading {}", a.to.display()))?;
    let to_cfg = toml::from_str::<Destination>(&text)
        .with_context(|| format!("{}: a [store] table", a.to.display()))?
        .store;
    to_cfg
        .validate()
        .with_context(|| format!("{}: [store]", a.to.display()))?;
    let from = app.open_store().await?;
    let from_id = from
        .corpus_id()
        .await
        .context("reading the source collection")?;
    let total = from
        .count(&scrollsim_store::Filter::default())
        .await
        .context("counting the source collection")?;
    let to = scrollsim_store::open_store(&to_cfg, &app.settings.paths.data)
        .await
        .with_context(|| {
            format!(
                "opening the {} store of {}",
                to_cfg.backend.as_str(),
                a.to.display()
            )
        })?;
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} videos  {per_sec}  eta {eta}",
    )?);
    let started = std::time::Instant::now();
    let copied = scrollsim_store::copy_collection(&*from, &*to, &to_cfg.collection, a.page, |n| {
        bar.set_position(n)
    })
    .await
    .with_context(|| format!("copying {from_id} into {}", a.to.display()))?;
    bar.finish_and_clear();
    let to_id = to
        .corpus_id()
        .await
        .context("reading the copy's corpus id")?;
    println!(
        "copied {} videos ({}-d text, {} image vectors) in {:.1} s (indexed on return)\n  from {} store: {from_id}\n  to   {} store: {to_id}",
        copied.videos,
        copied.text_dim,
        copied
            .image_dim
            .map_or_else(|| "no".to_string(), |d| format!("{d}-d")),
        started.elapsed().as_secs_f64(),
        app.settings.store.backend.as_str(),
        to_cfg.backend.as_str(),
    );
    if to_id != from_id {
        // A run recorded on one store refuses to resume on a store with another corpus id, so
        // say now why they differ rather than at that resume.
        let held = to
            .count(&scrollsim_store::Filter::default())
            .await
            .context("counting the copy")?;
        let mut why = Vec::new();
        if to_cfg.collection != app.settings.store.collection {
            why.push(format!(
                "the collections are named differently ({} and {}; a corpus id names its \
                 collection)",
                app.settings.store.collection, to_cfg.collection
            ));
        }
        if held != total {
            why.push(format!(
                "{} holds {held} videos against the source's {total} (a collection copied into \
                 keeps the videos it held before)",
                to_cfg.collection
            ));
        }
        if why.is_empty() {
            why.push("the source changed while it was copied".to_string());
        }
        eprintln!(
            "note: the copy's corpus id differs from the source's: {}. A run recorded on one of \
             the two stores will not resume on the other; for the same id, copy into an empty \
             collection of the source's name.",
            why.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn synth(a: SynthArgs, app: &App) -> anyhow::Result<ExitCode> {
    let catalog = app.catalog()?;
    let mut opts = scrollsim_ingest::synth::SynthOptions::new(a.n, a.out.clone());
    opts.seed = a.seed;
    let bar = ProgressBar::new(a.n as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} items  {per_sec}  eta {eta}",
    )?);
    let pb = bar.clone();
    let s = tokio::task::spawn_blocking(move || {
        scrollsim_ingest::synth::synth(&catalog, &opts, |n| pb.set_position(n as u64))
    })
    .await?
    .with_context(|| format!("writing the corpus to {}", a.out.display()))?;
    bar.finish_and_clear();
    let kept = match s.kept {
        0 => String::new(),
        k => format!(" ({k} kept from an earlier run)"),
    };
    println!(
        "wrote {} screenshots{kept} ({:.1} MiB) and {} in {:.1} s; ingest with: scrollsim ingest {}",
        s.items,
        s.bytes as f64 / (1024.0 * 1024.0),
        s.metadata.display(),
        s.seconds,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
