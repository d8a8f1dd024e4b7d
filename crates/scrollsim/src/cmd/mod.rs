//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod ingest;
pub mod inspect;
pub mod probe;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve;
