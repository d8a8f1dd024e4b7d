//! Kits for tests and benchmarks: synthetic corpora whose structure is known (videos clustered
//! by value or by topic), a fresh embedded store holding a corpus, a tiny random-weight CLIP
//! checkpoint, test media made with ffmpeg, a proxy that cuts a client off from a real server,
//! experiment texts tested at more than one layer, and hand-made traces ([`traces`]).
//!
//! A library crate takes this crate as a dev-dependency only: nothing here belongs in a
//! library's own code, and nothing here is evidence of a finding (the corpora are made to have
//! the structure a test needs; the tiny CLIP's vectors mean nothing).

mod clip;
mod media;
mod proxy;
mod store;
mod studies;
mod synthetic;
pub mod traces;

pub use clip::{write_tiny_clip, TINY_CLIP_DIM};
pub use media::{test_containers, test_media};
pub use proxy::{drop_server_collection, CutProxy};
pub use store::store_with;
pub use studies::ONE_IMAGE_STUDY;
pub use synthetic::{ClusteredCorpus, SyntheticCorpus};
