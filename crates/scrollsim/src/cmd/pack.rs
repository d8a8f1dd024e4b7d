//! `scrollsim pack`, `verify` and `unpack`: a run as one archive (scrollsim-pack), and the
//! reading commands' way into an archive or its unpacked folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use scrollsim_pack::{Guard, Opened, PackOptions, PackSources};
use scrollsim_vlm::recordings::CallCache;

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory (`runs/<id>`).
    pub run: PathBuf,
    /// The archive to write (default: `<run>.tar.zst` beside the run directory).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Leave out the keyframes' larger viewing copies (most of a typical archive). The archive
    /// still verifies and reruns (judges saw only the model-size keyframes); the viewer and the
    /// HTML report show the model-size keyframes, and the manifest says the copies are omitted.
    #[arg(long)]
    pub no_view_copies: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// An archive (`.tar.zst`) or its unpacked folder.
    pub archive: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// The archive (`.tar.zst`).
    pub archive: PathBuf,
    /// Where to unpack it (into `<dir>/<run id>/`).
    #[arg(long, default_value = ".")]
    pub into: PathBuf,
}

/// What must not enter an archive: the values of environment variables that hold secrets (by
/// name, and every variable the config names as holding a key) and this machine's absolute
/// paths (working directory, data and runs directories, the run itself, home).
fn guard(app: &App, run: &Path) -> Guard {
    let s = &app.settings;
    let mut named: Vec<String> = s
        .judge
        .models
        .values()
        .filter_map(|m| m.api_key_env.clone())
        .collect();
    named.extend(s.store.api_key_env.clone());
    let secretish = |name: &str| {
        let n = name.to_ascii_uppercase();
        ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
            .iter()
            .any(|w| n.contains(w))
    };
    let mut g = Guard::new();
    for (name, value) in std::env::vars() {
        if secretish(&name) || named.contains(&name) {
            g = g.secret(format!("the value of ${name}"), &value);
        }
    }
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if let Ok(cwd) = std::env::current_dir() {
        g = g.path("the working directory's absolute path", &cwd);
    }
    g = g
        .path("the data directory's absolute path", &abs(&s.paths.data))
        .path("the runs directory's absolute path", &abs(&s.paths.runs))
        .path("the run directory's absolute path", &abs(run));
    if let Some(home) = std::env::var_os("HOME") {
        g = g.path("the home directory", Path::new(&home));
    }
    g
}

pub async fn pack(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let run = args.run.clone();
    let out = args.out.clone().unwrap_or_else(|| {
        let name = run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        run.with_file_name(format!("{name}.{}", scrollsim_pack::layout::EXTENSION))
    });
    let started = Instant::now();
    let store = app.open_store().await?;
    let images = app.image_store(None)?;
    let calls_path = app.data().call_cache();
    let calls = CallCache::open(&calls_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The templates the run's judges were prompted from: the run's own [judge] prompts when
    // it set one, else this configuration's. (A run directory that does not read is refused by
    // the pack itself, naming what is wrong.)
    let config_dir = &app.settings.paths.config;
    let prompts = scrollsim_sim::RunDir::open(&run).map_or_else(
        |_| app.settings.judge.prompt_dir(config_dir),
        |(_, exp)| exp.judge.prompt_dir(config_dir),
    );
    // Needed only when the offline persona model judged a persona (pack says so then).
    let embedder = app.text_embedder().await;
    if let Err(e) = &embedder {
        tracing::info!("packing without the text embedder: {e:#}");
    }
    let sources = PackSources {
        store: store.as_ref(),
        images: &images,
        calls: &calls,
        prompts: &prompts,
        text_embedder: embedder.as_deref().ok(),
    };
    let opts = PackOptions {
        omit_view_copies: args.no_view_copies,
    };
    let packed = scrollsim_pack::pack(&run, &out, sources, &guard(app, &run), &opts)
        .await
        .with_context(|| format!("packing {}", run.display()))?;
    let m = &packed.manifest;
    let traces: u64 = m
        .members
        .iter()
        .filter(|x| x.path.ends_with(".jsonl") && x.path.contains("/sessions/"))
        .map(|x| x.bytes)
        .sum();
    let keyframes: u64 = m
        .members
        .iter()
        .filter(|x| x.path.starts_with(scrollsim_pack::layout::KEYFRAMES))
        .map(|x| x.bytes)
        .sum();
    println!(
        "packed {} into {} ({} bytes; traces {} bytes, keyframes {} bytes) in {:.1} s",
        run.display(),
        packed.path.display(),
        packed.bytes,
        traces,
        keyframes,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {} session(s), {} steps, {} videos shown, {} keyframes, {} recorded call(s), {} prompt template(s); corpus {}",
        m.counts.sessions,
        m.counts.steps,
        m.counts.videos,
        m.counts.keyframes,
        m.counts.calls,
        m.counts.prompts,
        m.corpus
    );
    for o in &m.omitted {
        println!("  omitted on purpose: {o}");
    }
    println!("check it with: scrollsim verify {}", packed.path.display());
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match scrollsim_pack::verify(&args.archive) {
        Ok(m) => {
            println!(
                "{}: ok: {} members match the manifest (run {}, experiment {}, corpus {}, packed by scrollsim {})",
                args.archive.display(),
                m.members.len(),
                m.run_id,
                m.experiment,
                m.corpus,
                m.scrollsim_version
            );
            for o in &m.omitted {
                println!("  omitted on purpose when packed: {o}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: FAILED: {e}", args.archive.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn unpack(args: UnpackArgs) -> anyhow::Result<ExitCode> {
    let (folder, m) = scrollsim_pack::unpack(&args.archive, &args.into)
        .with_context(|| format!("unpacking {}", args.archive.display()))?;
    println!(
        "unpacked run {} ({} members, verified) into {}",
        m.run_id,
        m.members.len(),
        folder.display()
    );
    println!(
        "  run directory: {}",
        folder
            .join(scrollsim_pack::layout::RUNS)
            .join(&m.run_id)
            .display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Replaces every archive or unpacked folder in `paths` by the run directory inside it; the
/// returned values keep temporary folders alive.
pub fn open_packed(paths: &mut [PathBuf]) -> anyhow::Result<Vec<Opened>> {
    let mut held = Vec::new();
    for p in paths.iter_mut() {
        if scrollsim_pack::is_packed(p) {
            let o = scrollsim_pack::open(p).with_context(|| format!("opening {}", p.display()))?;
            *p = o.run_dir();
            held.push(o);
        }
    }
    Ok(held)
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The packs of the shards (archives or unpacked folders), two or more.
    #[arg(required = true, num_args = 2..)]
    pub packs: Vec<PathBuf>,
    /// The archive of the whole run.
    #[arg(long, short)]
    pub out: PathBuf,
}

/// Rewrites `summary.json` over every trace in `run_dir`, as `scrollsim run` writes it.
fn summarize(run_dir: &Path) -> anyhow::Result<()> {
    let (dir, exp) = scrollsim_sim::RunDir::open(run_dir)?;
    scrollsim_report::write_summary(&dir.root, Some(&crate::runner::plan(&exp)))?;
    Ok(())
}

pub fn merge(args: MergeArgs, app: &App) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    let packed = scrollsim_pack::merge(&args.packs, out, summarize, &guard(app, out))
        .context("merging shard packs")?;
    let m = &packed.manifest;
    println!(
        "merged {} packs of run {} into {} ({} bytes): {} session(s), {} steps, {} videos, {} recorded call(s)",
        m.merged_from.len(),
        m.run_id,
        packed.path.display(),
        packed.bytes,
        m.counts.sessions,
        m.counts.steps,
        m.counts.videos,
        m.counts.calls
    );
    Ok(ExitCode::SUCCESS)
}
