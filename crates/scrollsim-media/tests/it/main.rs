//! Integration tests of `scrollsim-media`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod extract;
mod fixtures;
mod store;
