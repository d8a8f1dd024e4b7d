//! `scrollsim run`: wiring around `scrollsim_sim::execute` (store, embedder, judges, progress
//! bar, Ctrl-C), shared with `scrollsim demo`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scrollsim_core::RunId;
use scrollsim_sim::{Defaults, Experiment, RunDeps, RunDir, RunProgress, RunReport, Shard, Stop};
use scrollsim_store::{Filter, StoreConfig, VideoStore};
use scrollsim_vlm::JudgeEnv;

use crate::settings::Settings;

/// Run an experiment (personas x models x strategies x policies x seeds) into
/// `<paths.runs>/<run-id>/`, or continue one.
///
/// Ctrl-C stops after the steps in flight are written; `--resume` continues every session from
/// its last written step. Running again into an existing run id continues it too.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (TOML; see experiments/ and docs/simulation.md).
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    pub experiment: Option<PathBuf>,
    /// Run id, the directory name under `paths.runs` (default: `<name>-<date>-<time>`). Shards
    /// of one run must share it.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Run only shard I of N (0-based: sessions I, I+N, I+2N...), e.g. `--shard
    /// $JOB_COMPLETION_INDEX/4`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Continue the run in this directory from its traces (with its own resolved.json).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let shard = args.shard.unwrap_or(Shard::ALL);
    let (dir, exp) = match (&args.resume, &args.experiment) {
        (Some(path), _) => RunDir::open(path)?,
        (None, Some(path)) => {
            let exp = load_experiment(path, settings)?;
            let id = args
                .run_id
                .clone()
                .map(RunId::new)
                .unwrap_or_else(|| RunDir::new_id(&exp));
            (create_run(path, &id, &exp, settings)?, exp)
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let deps = open_deps(settings, &exp).await?;
    let report = execute(&dir, &exp, shard, &deps, args.quiet).await?;
    print!("{}", report.summary.render_compact());
    print!("{}", report.summary.render_preference());
    Ok(finish(&dir, shard, &report))
}

/// Reads an experiment file against the config's defaults.
pub fn load_experiment(path: &Path, settings: &Settings) -> anyhow::Result<Experiment> {
    let defaults = Defaults {
        config_dir: &settings.paths.config,
        policy: &settings.policy,
        judge: &settings.judge,
    };
    Ok(Experiment::load(path, &defaults)?)
}

/// Creates (or reopens, when identical) `<paths.runs>/<id>/`.
pub fn create_run(
    path: &Path,
    id: &RunId,
    exp: &Experiment,
    settings: &Settings,
) -> anyhow::Result<RunDir> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(RunDir::create(&settings.paths.runs, id, &text, exp)?)
}

/// The `[store]` section, typed. (Works whether `Settings::store` is the typed section or
/// still a table, while the store's config lands.)
#[allow(clippy::useless_conversion)]
pub fn store_config(settings: &Settings) -> anyhow::Result<StoreConfig> {
    let cfg: StoreConfig = settings
        .store
        .clone()
        .try_into()
        .context("config [store]")?;
    Ok(cfg)
}

/// Opens the store and builds what judges need: the text embedder (the offline persona model
/// and the keyword benchmark use it), the keyframe store and the call cache.
pub async fn open_deps(settings: &Settings, exp: &Experiment) -> anyhow::Result<RunDeps> {
    let store_cfg = store_config(settings)?;
    let store = scrollsim_store::open_store(&store_cfg, &settings.paths.data)
        .await
        .with_context(|| format!("opening the {} store", store_cfg.backend.as_str()))?;
    deps_for(settings, exp, store).await
}

/// [`open_deps`] with a store already open.
pub async fn deps_for(
    settings: &Settings,
    exp: &Experiment,
    store: Arc<dyn VideoStore>,
) -> anyhow::Result<RunDeps> {
    let data = &settings.paths.data;
    let text = scrollsim_embed::build_text_embedder(&settings.embedder.text)
        .await
        .context("loading the text embedder ([embedder.text])")?;
    let images = scrollsim_media::ImageStore::open(&data.join("images"))?;
    let judges = JudgeEnv::new(
        JudgeEnv::default_cache_path(data),
        exp.judge.prompt_dir(&settings.paths.config),
    )
    .with_text_embedder(text.clone())
    .with_images(Arc::new(images));
    let videos = store
        .count(&Filter::default())
        .await
        .context("counting the corpus")?;
    let needs = exp.session_length as u64;
    if exp
        .policies
        .iter()
        .any(|p| p.kind != scrollsim_sim::PolicyKind::Keyword)
        && videos < needs
    {
        eprintln!(
            "warning: the corpus holds {videos} videos but sessions are {needs} steps long and never \
             repeat a video: sessions will end early (corpus_exhausted)"
        );
    }
    Ok(RunDeps {
        store,
        judges,
        text_embedder: Some(text),
    })
}

/// Runs a shard with a progress bar on stderr; Ctrl-C stops after the steps in flight (a
/// second Ctrl-C exits at once).
pub async fn execute(
    dir: &RunDir,
    exp: &Experiment,
    shard: Shard,
    deps: &RunDeps,
    quiet: bool,
) -> anyhow::Result<RunReport> {
    let stop = Stop::new();
    let progress = RunProgress::new();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} steps | {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                update_bar(&bar, &progress);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let signals = {
        let stop = stop.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.request();
                // Printed even when the bar is hidden (stderr not a terminal).
                bar.suspend(|| {
                    eprintln!(
                        "interrupted: finishing the steps in flight (Ctrl-C again to quit at once)"
                    )
                });
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let result = scrollsim_sim::execute(dir, exp, shard, deps, stop, progress.clone()).await;
    ticker.abort();
    signals.abort();
    update_bar(&bar, &progress);
    bar.finish();
    Ok(result?)
}

fn update_bar(bar: &ProgressBar, progress: &RunProgress) {
    let s = progress.snapshot();
    bar.set_length(s.steps_planned.max(s.steps));
    bar.set_position(s.steps);
    let rate = s.steps_run as f64 / bar.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!(
        "{rate:.0} steps/s | sessions {}/{} | likes {} | calls {} | ${:.4}",
        s.sessions_done, s.sessions_total, s.likes, s.calls, s.cost_usd
    ));
}

/// Prints where the run is and how to continue it; the exit code says whether it is complete.
pub fn finish(dir: &RunDir, shard: Shard, report: &RunReport) -> ExitCode {
    let shard_flag = if shard == Shard::ALL {
        String::new()
    } else {
        format!(" --shard {shard}")
    };
    println!("run directory: {}", dir.root.display());
    for (id, e) in &report.failures {
        eprintln!("session {id} stopped: {e}");
    }
    if report.complete() {
        println!(
            "{} session(s) complete ({} now, {} earlier); summary: {}",
            report.sessions,
            report.ended,
            report.already_ended,
            dir.summary_path().display()
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} of {} session(s) unfinished; continue with: scrollsim run --resume {}{shard_flag}",
        report.sessions - report.ended - report.already_ended,
        report.sessions,
        dir.root.display()
    );
    if report.failures.is_empty() {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    }
}
