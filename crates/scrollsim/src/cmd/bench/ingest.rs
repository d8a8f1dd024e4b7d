//! `scrollsim bench ingest`.

use std::process::ExitCode;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _settings: &Settings) -> anyhow::Result<ExitCode> {
    crate::cmd::not_yet("bench ingest", 4, "the ingest benchmark")
}
