//! Integration tests of `scrollsim-core`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod metrics;
mod trace_format;
