//! `scrollsim`: the command line. Wiring only: each subcommand parses its flags and calls into
//! the library crates through the application context ([`app::App`]: settings, data
//! directory, store, ingest, experiments, a run's dependencies); no subcommand calls another.

mod app;
mod cmd;
mod runner;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Agent-driven short-video browsing simulator for studying what vision-language models value.
///
/// A persona scrolls a feed served from a Qdrant store; for each video a VLM (or the offline
/// persona model) decides like or skip; every step is traced, and traces become
/// value-preference tables and charts over Schwartz's ten values.
#[derive(Debug, Parser)]
#[command(name = "scrollsim", version, about, long_about)]
struct Cli {
    /// Config file (TOML), layered over config/default.toml; may be given several times, later
    /// files override earlier ones key by key. `scrollsim config show` prints the result.
    #[arg(long, short, global = true, env = "SCROLLSIM_CONFIG", action = clap::ArgAction::Append)]
    config: Vec<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest videos and screenshots: keyframes, embeddings, value scores, upsert into the store.
    Ingest(cmd::ingest::Args),
    /// Make corpora: `corpus synth` writes a synthetic corpus of real size.
    Corpus(cmd::corpus::Args),
    /// Run an experiment: personas x models x strategies x policies x seeds.
    Run(cmd::run::Args),
    /// Re-derive metrics from traces, re-run from recorded calls, or replay a feed against
    /// another judge.
    Replay(cmd::replay::Args),
    /// Tables of like-rate, exposure, P and alignment change, grouped by persona, model...
    Inspect(cmd::inspect::Args),
    /// The paper's tables and charts for a run: CSV, Markdown, SVG, PNG and one HTML page.
    Report(cmd::report::Args),
    /// Browse runs, sessions, keyframes and decisions in a local web viewer.
    Serve(cmd::serve::Args),
    /// Benchmarks that print figures: store, ingest, judge, sim, inspect.
    Bench(cmd::bench::Args),
    /// The main job: ingest the fixture corpus if needed, run a persona study, print the table.
    Demo(cmd::demo::Args),
    /// What a configured model's endpoint can do: images accepted and seen, structured
    /// output, latency, tokens per image, cost per decision.
    Probe(cmd::probe::Args),
    /// Pack a run into one archive (tar + zstd): traces, experiment, summary, the shown videos,
    /// the run's recorded calls and keyframes, with a SHA-256 manifest.
    Pack(cmd::pack::Args),
    /// Check an archive (or its unpacked folder) against its manifest.
    Verify(cmd::pack::VerifyArgs),
    /// Merge the packs of a sharded run (`run --shard i/n` on several machines) into one.
    Merge(cmd::pack::MergeArgs),
    /// Verify and unpack an archive into a folder that every reading command accepts.
    Unpack(cmd::pack::UnpackArgs),
    /// The resolved configuration (`config show`): every value and the file that set it.
    Config(cmd::config::Args),
    /// Print the JSON Schema of one trace line (as published in schema/).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Schema = cli.command {
        println!(
            "{}",
            serde_json::to_string_pretty(&scrollsim_core::trace::json_schema())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let app = app::App::load(&cli.config)?;
    match cli.command {
        Command::Pack(a) => cmd::pack::pack(a, &app).await,
        Command::Verify(a) => cmd::pack::verify(a),
        Command::Merge(a) => cmd::pack::merge(a, &app),
        Command::Unpack(a) => cmd::pack::unpack(a),
        Command::Ingest(a) => cmd::ingest::run(a, &app).await,
        Command::Corpus(a) => cmd::corpus::run(a, &app).await,
        Command::Run(a) => cmd::run::run(a, &app).await,
        Command::Replay(mut a) => {
            // An archive (or unpacked folder) replays from what it holds: its shown videos,
            // recorded calls and keyframes restored into a scratch data directory.
            let held = cmd::pack::open_packed(&mut a.paths)?;
            match held.first() {
                Some(p) if a.rerun || a.judge.is_some() => {
                    let scratch = tempfile::Builder::new()
                        .prefix("scrollsim-data-")
                        .tempdir()?;
                    let restored = app.restore_packed(p, scratch.path()).await?;
                    // A rerun prompts from the templates the run used, as packed.
                    if a.rerun {
                        a.prompts = p.prompts();
                    }
                    cmd::replay::run(a, &restored).await
                }
                _ => cmd::replay::run(a, &app).await,
            }
        }
        Command::Inspect(mut a) => {
            let _held = cmd::pack::open_packed(&mut a.paths)?;
            cmd::inspect::run(a, &app).await
        }
        Command::Report(mut a) => {
            let mut one = [a.run.clone()];
            let held = cmd::pack::open_packed(&mut one)?;
            if let Some(p) = held.first() {
                // The report goes beside the archive, not into its (verified) folder.
                a.out
                    .get_or_insert_with(|| format!("{}-report", p.manifest.run_id).into());
                a.images
                    .get_or_insert_with(|| p.folder.join(scrollsim_pack::layout::KEYFRAMES));
                a.run = one[0].clone();
            }
            cmd::report::run(a, &app).await
        }
        Command::Serve(mut a) => {
            let mut held = Vec::new();
            if let Some(r) = a.runs.as_mut() {
                held = cmd::pack::open_packed(std::slice::from_mut(r))?;
            }
            if let (Some(p), Some(r)) = (held.first(), a.runs.as_mut()) {
                *r = p.folder.join(scrollsim_pack::layout::RUNS);
                a.images
                    .get_or_insert_with(|| p.folder.join(scrollsim_pack::layout::KEYFRAMES));
            }
            cmd::serve::run(a, &app).await
        }
        Command::Bench(a) => cmd::bench::run(a, &app).await,
        Command::Demo(a) => cmd::demo::run(a, &app).await,
        Command::Probe(a) => cmd::probe::run(a, &app).await,
        Command::Config(a) => cmd::config::run(a, &app),
        Command::Schema => unreachable!("handled above"),
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    // qdrant-edge warns about process-wide flags a library user cannot set; its real errors
    // still show. RUST_LOG replaces all of this.
    let default = match verbose {
        0 => "warn,qdrant_edge=error",
        1 => "info,qdrant_edge=error",
        2 => "debug,qdrant_edge=warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
