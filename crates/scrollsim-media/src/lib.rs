//! Media for scrollsim: keyframe extraction with ffmpeg-next (uniform, scene-change and
//! I-frame strategies), cropping and scaling to the paper's 9:16 model size plus a larger view
//! copy, JPEG encoding, probing, the content-addressed image store, and the fonts pictures
//! drawn as SVG are rasterised with. See docs/media.md.
//!
//! Must not: know about models, stores, sessions or traces; FFmpeg types never cross its API.

#[cfg(feature = "bench")]
pub mod bench;
mod cli;
mod error;
mod extract;
mod fonts;
mod options;
mod orient;
mod render;
mod sniff;
mod source;
mod store;

pub use cli::ffmpeg_command;
pub use error::MediaError;
pub use extract::{
    extract_keyframes, extract_keyframes_with_work, probe, store_frames, uniform_targets,
    ExtractedFrame, Probe,
};
pub use fonts::{fonts, SANS};
pub use options::{BadFrameSize, BadStrategy, ExtractOptions, FrameSize, KeyframeStrategy};
pub use orient::Orientation;
pub use scrollsim_core::ImageHash;
pub use sniff::{sniff, Sniffed};
pub use source::Work;
pub use store::ImageStore;

/// Initialises FFmpeg once per process. FFmpeg's own log is silenced (every failure comes back
/// as a [`MediaError`] naming the file); with `RUST_LOG` at debug it prints warnings again.
pub(crate) fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg_next::init();
        let level = if tracing::enabled!(tracing::Level::DEBUG) {
            ffmpeg_next::log::Level::Warning
        } else {
            ffmpeg_next::log::Level::Quiet
        };
        ffmpeg_next::log::set_level(level);
    });
}
