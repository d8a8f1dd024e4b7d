//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod ingest;
pub mod inspect;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve;

use std::process::ExitCode;

/// What a command whose engine has not landed yet says, instead of pretending.
pub fn not_yet(command: &str, issue: u32, what: &str) -> anyhow::Result<ExitCode> {
    eprintln!(
        "scrollsim {command}: not available yet: {what} lands with issue #{issue}. \
         Nothing was done."
    );
    Ok(ExitCode::from(2))
}
