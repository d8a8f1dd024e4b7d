//! Integration tests of `scrollsim-report`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod ablation_paper;
mod central_numbers;
mod closed_loop;
mod common;
mod inspect_numbers;
mod intervals;
mod replay_compare;
mod report_files;
mod summary_json;
