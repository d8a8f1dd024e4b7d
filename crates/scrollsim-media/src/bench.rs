//! The JPEG encoder comparison behind the choice of FFmpeg's MJPEG encoder, for
//! `scrollsim bench ingest` (the `bench` feature). It needs the encoder this crate keeps
//! private; everything else the benchmark measures goes through the public API.

use std::path::Path;
use std::time::Instant;

use ffmpeg_next as ff;

use crate::options::{ExtractOptions, KeyframeStrategy};
use crate::render::Jpeg;
use crate::{extract_keyframes, MediaError};

/// JPEG encoding of one picture, FFmpeg's MJPEG encoder against the `image` crate's encoder:
/// mean time per picture over `reps` runs and the bytes each produced.
#[derive(Debug, Clone, Copy)]
pub struct EncoderComparison {
    pub width: u32,
    pub height: u32,
    pub mjpeg_ms: f64,
    pub mjpeg_bytes: usize,
    pub image_crate_ms: f64,
    pub image_crate_bytes: usize,
}

/// Encodes `frame_of` (a video file's first frame, scaled to `size`) `reps` times with each
/// encoder. The MJPEG side includes the RGB to YUV conversion, which the real pipeline does
/// not need (its filter graph emits YUV), so the comparison favours the `image` crate.
pub fn compare_jpeg_encoders(
    frame_of: &Path,
    size: crate::FrameSize,
    quality: u8,
    reps: usize,
) -> Result<EncoderComparison, MediaError> {
    use image::codecs::jpeg::JpegEncoder;
    let err = |reason: String| MediaError::Encode {
        path: frame_of.to_path_buf(),
        reason,
    };
    // An RGB picture of the right size: the first frame, through the same chain.
    let opts = ExtractOptions {
        strategy: KeyframeStrategy::Uniform(1),
        model_size: size,
        view_size: size,
        jpeg_quality: 95,
        ..ExtractOptions::default()
    };
    let frames = extract_keyframes(frame_of, &opts)?;
    let first = frames.first().ok_or_else(|| err("no frame".into()))?;
    let rgb = image::load_from_memory(&first.view_jpeg)
        .map_err(|e| err(e.to_string()))?
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    let reps = reps.max(1);

    let t = Instant::now();
    let mut image_bytes = 0;
    for _ in 0..reps {
        let mut buf = Vec::new();
        JpegEncoder::new_with_quality(&mut buf, quality)
            .encode_image(&rgb)
            .map_err(|e| err(e.to_string()))?;
        image_bytes = buf.len();
    }
    let image_ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;

    crate::init();
    let mut jpeg = Jpeg::new(size, quality).map_err(|e| err(e.to_string()))?;
    let mut sws = ff::software::scaling::Context::get(
        ff::format::Pixel::RGB24,
        w,
        h,
        ff::format::Pixel::YUVJ420P,
        w,
        h,
        ff::software::scaling::Flags::BICUBIC,
    )
    .map_err(|e| err(e.to_string()))?;
    let mut src = ff::frame::Video::new(ff::format::Pixel::RGB24, w, h);
    let stride = src.stride(0);
    for (row, line) in rgb.as_raw().chunks_exact(w as usize * 3).enumerate() {
        src.data_mut(0)[row * stride..row * stride + line.len()].copy_from_slice(line);
    }
    let t = Instant::now();
    let mut mjpeg_bytes = 0;
    for _ in 0..reps {
        let mut yuv = ff::frame::Video::empty();
        sws.run(&src, &mut yuv).map_err(|e| err(e.to_string()))?;
        mjpeg_bytes = jpeg.encode(&mut yuv).map_err(|e| err(e.to_string()))?.len();
    }
    let mjpeg_ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
    Ok(EncoderComparison {
        width: w,
        height: h,
        mjpeg_ms,
        mjpeg_bytes,
        image_crate_ms: image_ms,
        image_crate_bytes: image_bytes,
    })
}
