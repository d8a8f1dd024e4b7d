//! `scrollsim ingest`.

use std::process::ExitCode;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _settings: &Settings) -> anyhow::Result<ExitCode> {
    super::not_yet("ingest", 4, "ingest (keyframes with ffmpeg-next, embeddings, upsert)")
}
