//! `scrollsim corpus synth`: a synthetic corpus of real size (still screenshots with captions
//! and metadata from the value keywords) to ingest and run studies on at scale.

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
    /// the value keywords (synthetic labels: the value each item was written from).
    Synth(SynthArgs),
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
    let Command::Synth(a) = args.command;
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
    println!(
        "wrote {} screenshots ({:.1} MiB) and {} in {:.1} s; ingest with: scrollsim ingest {}",
        s.items,
        s.bytes as f64 / (1024.0 * 1024.0),
        s.metadata.display(),
        s.seconds,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
