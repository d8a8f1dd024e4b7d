//! Integration tests of `scrollsim-sim`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod common;
mod experiments;
mod fixture_corpus;
mod keyword_image;
mod outage;
mod policies;
mod resume;
