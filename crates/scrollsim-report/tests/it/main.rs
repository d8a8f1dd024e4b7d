//! Integration tests of `scrollsim-report`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod common;
mod inspect_numbers;
mod replay_compare;
mod report_files;
mod summary_json;
