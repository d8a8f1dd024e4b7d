//! One module per subcommand.

pub mod bench;
pub mod config;
pub mod corpus;
pub mod demo;
pub mod ingest;
pub mod inspect;
pub mod pack;
pub mod probe;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve;
