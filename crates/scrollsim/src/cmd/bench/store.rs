//! `scrollsim bench store`.

use std::process::ExitCode;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _settings: &Settings) -> anyhow::Result<ExitCode> {
    crate::cmd::not_yet("bench store", 3, "the store benchmark")
}
