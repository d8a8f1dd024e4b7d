//! Integration tests of `scrollsim-vlm`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod common;
mod compose;
mod findings;
mod limits;
mod no_key_leak;
mod offline_fixtures;
mod real_server;
mod replay;
mod wire;
