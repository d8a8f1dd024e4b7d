//! Integration tests of `scrollsim-embed`, one module per area, linked into one binary so the
//! crate and its dependencies are linked once for all of them.

mod clip;
mod minilm;
mod openai;
mod value_scorer;
