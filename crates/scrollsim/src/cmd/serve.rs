//! `scrollsim serve`: the web viewer (crates/scrollsim-viewer) on the configured runs
//! directory and keyframe store, until Ctrl-C; or, with `--export`, the same pages as static
//! files.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use scrollsim_viewer::Viewer;

use crate::app::App;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The runs directory (default: `paths.runs` from the config).
    pub runs: Option<PathBuf>,
    /// Address to listen on. The default serves this machine only; use 0.0.0.0 deliberately.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The keyframe image store (default: `<paths.data>/images`).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Rolling window of the trajectories, in steps.
    #[arg(long, default_value_t = 25)]
    pub window: usize,
    /// Write the viewer as static files into this (new or empty) directory instead of
    /// serving: pages, keyframes and run files that open from disk or any static host.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let images = app.existing_image_store(args.images.as_deref())?;
    if images.is_none() {
        eprintln!(
            "scrollsim serve: no image store at {}: keyframes will not show",
            app.images_path(args.images.as_deref()).display()
        );
    }
    let viewer = Viewer {
        runs: args.runs.unwrap_or_else(|| app.settings.paths.runs.clone()),
        images,
        window: args.window,
        salvaged_warn: app.settings.report.salvaged_warn,
    };
    if let Some(out) = &args.export {
        let n = viewer
            .export(out)
            .await
            .with_context(|| format!("exporting the viewer to {}", out.display()))?;
        println!(
            "scrollsim serve: {n} files written to {}; open {} in a browser",
            out.display(),
            out.join("index.html").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let root = viewer.runs_root()?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    println!("scrollsim serve: http://{addr}/ (runs: {})", root.display());
    std::io::stdout().flush()?;
    viewer
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
