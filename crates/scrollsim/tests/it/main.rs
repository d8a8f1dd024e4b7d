//! Integration tests of `scrollsim`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod cli_tables;
mod common;
mod config_layers;
mod corpus_copy;
mod ingest_cli;
mod pack_archive;
mod pack_merge;
mod replay_rerun;
mod run_resume;
mod same_numbers;
mod viewer_browser;
