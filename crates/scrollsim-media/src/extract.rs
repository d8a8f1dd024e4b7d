//! Keyframe extraction: which frames each strategy decodes, and the public entry points.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use ff::{filter, frame, Discard};
use ffmpeg_next as ff;
use scrollsim_core::Keyframe;

use crate::options::{ExtractOptions, KeyframeStrategy};
use crate::orient::Orientation;
use crate::render::Renderer;
use crate::source::{frame_orientation, FrameReader, Source, Work};
use crate::{ImageStore, MediaError};

/// What FFmpeg says about a file without decoding more than it must.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Seconds (None for still images and streams that do not say).
    pub duration_s: Option<f32>,
    /// Stored width and height, before `rotation` is applied.
    pub width: u32,
    pub height: u32,
    /// Clockwise degrees (0, 90, 180, 270) the picture must turn to be upright.
    pub rotation: i32,
    /// FFmpeg's codec name (`h264`, `vp9`, `png`...).
    pub codec: String,
    /// FFmpeg's pixel format name (`yuv420p`, `yuv420p10le`, `pal8`...).
    pub pix_fmt: String,
    pub fps: Option<f32>,
    /// False for still images (png, jpg, webp screenshots).
    pub is_video: bool,
    /// The turn includes a mirror (rare: some cameras' front lenses).
    pub mirrored: bool,
    /// FFmpeg's container name (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, `png_pipe`...).
    pub container: String,
}

impl Probe {
    /// Width and height as displayed (after the turn).
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation % 180 == 0 {
            (self.width, self.height)
        } else {
            (self.height, self.width)
        }
    }
}

/// One extracted keyframe: the model-size and view-size JPEGs of the same decoded frame.
#[derive(Clone, PartialEq)]
pub struct ExtractedFrame {
    /// Seconds into the video (None for still images).
    pub at_s: Option<f32>,
    pub model_jpeg: Vec<u8>,
    pub view_jpeg: Vec<u8>,
}

impl std::fmt::Debug for ExtractedFrame {
    /// Sizes, not bytes: a failed assertion should not print two JPEGs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractedFrame")
            .field("at_s", &self.at_s)
            .field(
                "model_jpeg",
                &format_args!("<{} bytes>", self.model_jpeg.len()),
            )
            .field(
                "view_jpeg",
                &format_args!("<{} bytes>", self.view_jpeg.len()),
            )
            .finish()
    }
}

/// Probes a video or image file: container, codec, size, turn, duration, frame rate.
pub fn probe(path: &Path) -> Result<Probe, MediaError> {
    guard(path, || {
        let src = Source::open(path, ExtractOptions::default().timeout_s)?;
        let dec = src.decoder(Discard::Default, 1)?;
        let pix_fmt = dec
            .format()
            .descriptor()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(Probe {
            duration_s: src.duration_s.map(|d| d as f32),
            width: dec.width(),
            height: dec.height(),
            rotation: src.orientation.rotation_degrees(),
            codec: src.parameters().id().name().to_string(),
            pix_fmt,
            fps: src.fps.map(|f| f as f32),
            is_video: !src.still,
            mirrored: src.orientation.is_mirrored(),
            container: src.format_name.clone(),
        })
    })
}

/// Extracts keyframes from a video or a still image (png/jpg/webp screenshots give one frame).
///
/// Synchronous and CPU-bound: async callers use `spawn_blocking`. The work per file is bounded
/// by `opts.timeout_s`; a damaged, truncated, empty or unsupported file is a [`MediaError`]
/// naming it, never a panic.
pub fn extract_keyframes(
    path: &Path,
    opts: &ExtractOptions,
) -> Result<Vec<ExtractedFrame>, MediaError> {
    extract_keyframes_with_work(path, opts).map(|(frames, _)| frames)
}

/// [`extract_keyframes`], also returning how many packets it read and frames it decoded.
pub fn extract_keyframes_with_work(
    path: &Path,
    opts: &ExtractOptions,
) -> Result<(Vec<ExtractedFrame>, Work), MediaError> {
    guard(path, || {
        opts.validate().map_err(|e| MediaError::InvalidOptions {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut src = Source::open(path, opts.timeout_s)?;
        let picked = pick_frames(&mut src, opts)?;
        let mut renderer = Renderer::new(path, opts.model_size, opts.view_size, opts.jpeg_quality)?;
        let mut out = Vec::with_capacity(picked.len());
        for p in picked {
            src.check_deadline()?;
            // The stream's turn wins; a frame's own (EXIF, per-frame matrix) fills in.
            let orientation = if src.orientation != Orientation::Identity {
                src.orientation
            } else {
                frame_orientation(&p.frame).unwrap_or_default()
            };
            let (model_jpeg, view_jpeg) = renderer.render(&p.frame, orientation)?;
            let at_s = (!src.still).then(|| src.pts_to_secs(p.ts).max(0.0) as f32);
            out.push(ExtractedFrame {
                at_s,
                model_jpeg,
                view_jpeg,
            });
        }
        tracing::debug!(path = %path.display(), frames = out.len(), secs = src.elapsed_s(), "keyframes extracted");
        Ok((out, src.work))
    })
}

/// Stores each frame's two JPEGs and returns the keyframe records (hashes, times) in order.
pub fn store_frames(
    store: &ImageStore,
    frames: &[ExtractedFrame],
) -> Result<Vec<Keyframe>, MediaError> {
    frames
        .iter()
        .map(|f| {
            Ok(Keyframe {
                hash: store.put(&f.model_jpeg)?,
                view: Some(store.put(&f.view_jpeg)?),
                at_s: f.at_s,
            })
        })
        .collect()
}

/// A decoded frame chosen to become a keyframe.
pub(crate) struct Picked {
    pub ts: i64,
    pub frame: frame::Video,
}

/// The decoded frames a strategy keeps, in time order (before cropping and encoding). Shared
/// by [`extract_keyframes`] and the benchmark, which times the same work.
pub(crate) fn pick_frames(
    src: &mut Source,
    opts: &ExtractOptions,
) -> Result<Vec<Picked>, MediaError> {
    let threads = opts.decoder_threads;
    if src.still {
        let mut r = FrameReader::new(src, Discard::Default, threads)?;
        let Some((ts, frame)) = r.next()? else {
            return Err(r
                .src
                .decode_err("the image holds no decodable frame".into()));
        };
        r.check_frame(ts, &frame)?;
        return Ok(vec![Picked { ts, frame }]);
    }
    match opts.strategy {
        KeyframeStrategy::Uniform(n) => uniform(src, n.min(opts.max_frames), threads),
        KeyframeStrategy::Scene(t) => scene(src, f64::from(t), opts.max_frames, threads),
        KeyframeStrategy::IFrames => iframes(src, opts.max_frames, threads),
    }
}

/// The times `uniform:n` aims at: the centres of `n` equal slices of `duration` seconds.
pub fn uniform_targets(duration: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| duration * (i as f64 + 0.5) / n as f64)
        .collect()
}

/// `n` frames at the centres of `n` equal slices of the duration, each reached by seeking (to
/// the key frame before it, then decoding forward to it).
fn uniform(src: &mut Source, n: usize, threads: usize) -> Result<Vec<Picked>, MediaError> {
    let duration = match src.duration_s {
        Some(d) if d > 0.0 => d,
        // No declared duration: read packet headers (not frames) to find the end.
        _ => {
            let scan = src.scan_packets()?;
            src.rewind()?;
            scan.end_pts.map(|e| src.pts_to_secs(e)).unwrap_or(0.0)
        }
    };
    let targets: Vec<i64> = uniform_targets(duration, n)
        .into_iter()
        .map(|t| src.secs_to_pts(t))
        .collect();
    let mut r = FrameReader::new(src, Discard::Default, threads)?;
    let mut picked: Vec<Picked> = Vec::with_capacity(n);
    let mut previous: Option<(i64, frame::Video)> = None;
    'targets: for &target in &targets {
        r.seek_forward(target);
        loop {
            match r.next()? {
                Some((ts, frame)) if ts >= target => {
                    if picked.last().is_none_or(|p| ts > p.ts) {
                        r.check_frame(ts, &frame)?;
                        picked.push(Picked { ts, frame });
                    }
                    continue 'targets;
                }
                Some(earlier) => previous = Some(earlier),
                None => {
                    // The stream ended before this target: fine if it is just shorter than
                    // declared by a little (take its last frame), truncated otherwise.
                    let last = previous.take();
                    let end_s = r.last_ts.map_or(0.0, |ts| r.src.pts_to_secs(ts));
                    r.src.check_complete(end_s)?;
                    if let Some((ts, frame)) =
                        last.filter(|(ts, _)| picked.last().is_none_or(|p| *ts > p.ts))
                    {
                        r.check_frame(ts, &frame)?;
                        picked.push(Picked { ts, frame });
                    }
                    break 'targets;
                }
            }
        }
    }
    Ok(picked)
}

/// The video's key frames, thinned evenly (first and last kept) to `max`. Packet headers are
/// read first to find the key frames; then only the chosen ones are decoded, by seeking.
fn iframes(src: &mut Source, max: usize, threads: usize) -> Result<Vec<Picked>, MediaError> {
    let scan = src.scan_packets()?;
    if let Some(end) = scan.end_pts {
        src.check_complete(src.pts_to_secs(end))?;
    }
    let chosen = spread(&scan.keys, max);
    // The reader seeks to each chosen key frame from the start.
    src.rewind()?;
    let mut r = FrameReader::new(src, Discard::NonKey, threads)?;
    let mut picked = Vec::with_capacity(chosen.len());
    for &key in &chosen {
        r.seek_forward(key);
        while let Some((ts, frame)) = r.next()? {
            if ts >= key {
                if picked.last().is_none_or(|p: &Picked| ts > p.ts) {
                    r.check_frame(ts, &frame)?;
                    picked.push(Picked { ts, frame });
                }
                break;
            }
        }
    }
    if picked.is_empty() {
        // No key flags in the container (some raw streams): the first decodable frame.
        drop(r);
        src.rewind()?;
        let mut r = FrameReader::new(src, Discard::Default, threads)?;
        if let Some((ts, frame)) = r.next()? {
            r.check_frame(ts, &frame)?;
            picked.push(Picked { ts, frame });
        }
    }
    Ok(picked)
}

/// `max` items spread evenly over `items`, first and last included; all of them if they fit.
fn spread(items: &[i64], max: usize) -> Vec<i64> {
    if items.len() <= max {
        return items.to_vec();
    }
    if max == 1 {
        return vec![items[0]];
    }
    let last = items.len() - 1;
    let mut out: Vec<i64> = (0..max)
        .map(|i| items[(i * last + (max - 1) / 2) / (max - 1)])
        .collect();
    out.dedup();
    out
}

/// The first frame, plus frames whose scene-change score is above `threshold`, the
/// `max - 1` highest when there are more. Scores are FFmpeg's own (the `select` filter's
/// `scene` variable, 0..1), computed between consecutive *reference* frames: the decoder
/// skips non-reference frames (most B-frames), which nearly halves decoding, and a cut still
/// shows up on the next reference frame because encoders place I or P frames at cuts.
fn scene(
    src: &mut Source,
    threshold: f64,
    max: usize,
    threads: usize,
) -> Result<Vec<Picked>, MediaError> {
    let mut r = FrameReader::new(src, Discard::NonReference, threads)?;
    let mut scorer: Option<((u32, u32, ff::format::Pixel), filter::Graph)> = None;
    let mut first: Option<Picked> = None;
    // (score, frame), at most max - 1 of them.
    let mut cuts: Vec<(f64, Picked)> = Vec::new();
    let mut last_ts = None;
    while let Some((ts, frame)) = r.next()? {
        last_ts = Some(ts);
        let key = (frame.width(), frame.height(), frame.format());
        if scorer.as_ref().is_none_or(|(k, _)| *k != key) {
            let g = scene_graph(&frame)
                .map_err(|e| r.src.decode_err(format!("building the scene filter: {e}")))?;
            scorer = Some((key, g));
        }
        let (_, g) = scorer.as_mut().expect("built above");
        // The filter takes the frame's reference and hands the same picture back, tagged.
        let (scored, frame) =
            score(g, &frame).map_err(|e| r.src.decode_err(format!("scene scoring: {e}")))?;
        if first.is_none() {
            r.check_frame(ts, &frame)?;
            first = Some(Picked { ts, frame });
            continue;
        }
        if scored <= threshold || max < 2 {
            continue;
        }
        if cuts.len() < max - 1 {
            cuts.push((scored, Picked { ts, frame }));
        } else if let Some(weakest) = cuts
            .iter_mut()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|w| scored > w.0)
        {
            *weakest = (scored, Picked { ts, frame });
        }
    }
    if let Some(ts) = last_ts {
        r.src.check_complete(r.src.pts_to_secs(ts))?;
    }
    for (_, p) in &cuts {
        r.check_frame(p.ts, &p.frame)?;
    }
    let mut picked: Vec<Picked> = first
        .into_iter()
        .chain(cuts.into_iter().map(|(_, p)| p))
        .collect();
    picked.sort_by_key(|p| p.ts);
    Ok(picked)
}

/// `buffer -> select=scene -> buffersink`: passes every frame and tags it with
/// `lavfi.scene_score`.
fn scene_graph(frame: &frame::Video) -> Result<filter::Graph, ff::Error> {
    let pix = frame
        .format()
        .descriptor()
        .ok_or(ff::Error::InvalidData)?
        .name();
    let mut g = filter::Graph::new();
    let args = format!(
        "video_size={}x{}:pix_fmt={pix}:time_base=1/25:pixel_aspect=1/1",
        frame.width(),
        frame.height()
    );
    g.add(
        &filter::find("buffer").ok_or(ff::Error::FilterNotFound)?,
        "in",
        &args,
    )?;
    g.add(
        &filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?,
        "out",
        "",
    )?;
    g.output("in", 0)?
        .input("out", 0)?
        .parse("select='gte(scene,0)'")?;
    g.validate()?;
    Ok(g)
}

fn score(g: &mut filter::Graph, frame: &frame::Video) -> Result<(f64, frame::Video), ff::Error> {
    g.get("in").expect("source exists").source().add(frame)?;
    let mut out = frame::Video::empty();
    g.get("out").expect("sink exists").sink().frame(&mut out)?;
    let score = out
        .metadata()
        .get("lavfi.scene_score")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    Ok((score, out))
}

/// Runs `f`, turning a panic inside FFmpeg's bindings into an error naming the file, so one bad
/// file cannot take down an ingest run.
fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T, MediaError>) -> Result<T, MediaError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Err(MediaError::Internal {
            path: path.to_path_buf(),
            reason,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_keeps_ends_and_thins_evenly() {
        let items: Vec<i64> = (0..10).collect();
        assert_eq!(spread(&items, 20), items);
        assert_eq!(spread(&items, 1), vec![0]);
        assert_eq!(spread(&items, 2), vec![0, 9]);
        assert_eq!(spread(&items, 4), vec![0, 3, 6, 9]);
        assert_eq!(spread(&items, 3), vec![0, 5, 9]);
    }
}
