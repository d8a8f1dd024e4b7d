//! `scrollsim report`: the paper's tables and charts for a run (CSV, Markdown, SVG, PNG, the
//! authors' CSV columns per session) and, with `--html`, one self-contained HTML page, under
//! `runs/<id>/report/` unless `--out` says otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_report::{write_report, KeyframeSource, ReportOptions};

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run directory (`runs/<id>`), or a trace file with `--out`.
    pub run: PathBuf,
    /// Also write the self-contained HTML page (report/index.html).
    #[arg(long)]
    pub html: bool,
    /// Output directory (default: `<run>/report`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keyframe image store for the HTML page's examples (default: `<paths.data>/images`).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Rolling window of the trajectories, in steps.
    #[arg(long, default_value_t = 25)]
    pub window: usize,
    /// Leave parse failures and call errors out of like-rate denominators.
    #[arg(long)]
    pub exclude_unparsed: bool,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let store = app.existing_image_store(args.images.as_deref())?;
    let paths = tokio::task::spawn_blocking(move || {
        let opts = ReportOptions {
            html: args.html,
            out: args.out.clone(),
            window: args.window.max(1),
            exclude_unparsed: args.exclude_unparsed,
            ..Default::default()
        };
        let images = store.as_ref().map(|s| s as &dyn KeyframeSource);
        write_report(&args.run, images, &opts)
            .with_context(|| format!("reporting {}", args.run.display()))
    })
    .await??;
    println!("report written to {}", paths.dir.display());
    if let Some(h) = &paths.html {
        println!("  HTML page: {}", h.display());
    }
    println!(
        "  tables:    {} files (CSV and Markdown), all in {}",
        paths.tables.len(),
        paths.markdown.display()
    );
    println!("  charts:    {} files (SVG and PNG)", paths.charts.len());
    println!(
        "  authors' CSV columns: {} sessions in {}",
        paths.authors.len(),
        paths.dir.join("authors").display()
    );
    for p in &paths.read.skipped {
        eprintln!("warning: left out {}: {}", p.path.display(), p.message);
    }
    Ok(if paths.read.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
