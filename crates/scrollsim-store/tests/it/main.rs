//! Integration tests of `scrollsim-store`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod breaker;
mod conformance;
mod copy;
mod embedded;
mod server_errors;
