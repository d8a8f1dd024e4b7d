//! Benchmark code behind `scrollsim bench ingest`: keyframe extraction in-process against the
//! `ffmpeg` command line extracting the same frames, and the JPEG encoder comparison. Figures
//! only; nothing here asserts a speed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ff::Discard;
use ffmpeg_next as ff;

use crate::options::{ExtractOptions, KeyframeStrategy};
use crate::render::{filter_chain, mjpeg_qscale, Jpeg};
use crate::source::Source;
use crate::{extract_keyframes, uniform_targets, MediaError};

/// Summary of a set of timings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub total_s: f64,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        let total: f64 = ms.iter().sum();
        Stats {
            n: ms.len(),
            mean_ms: total / ms.len() as f64,
            median_ms: at(0.5),
            p95_ms: at(0.95),
            total_s: total / 1e3,
        }
    }
}

/// One strategy's figures over a set of files.
#[derive(Debug, Clone)]
pub struct StrategyRow {
    pub strategy: KeyframeStrategy,
    /// Per video: `extract_keyframes` (open, decode, crop/scale, JPEG-encode both sizes).
    pub in_process: Stats,
    /// Per video: spawning `ffmpeg` for the same frames and sizes and waiting for its JPEGs.
    pub cli: Stats,
    pub frames_in_process: usize,
    pub frames_cli: usize,
    /// Videos where the two sides kept a different number of frames.
    pub count_mismatches: usize,
    /// Files either side could not process, with the reason.
    pub failures: Vec<(PathBuf, String)>,
}

impl StrategyRow {
    /// In-process time over CLI time (below 1.0: in-process is faster).
    pub fn ratio(&self) -> f64 {
        if self.cli.mean_ms > 0.0 {
            self.in_process.mean_ms / self.cli.mean_ms
        } else {
            f64::NAN
        }
    }
}

/// Media files under `dir` (videos and screenshots), sorted.
pub fn media_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    const EXT: [&str; 10] = [
        "mp4", "webm", "mov", "mkv", "mpg", "mpeg", "png", "jpg", "jpeg", "webp",
    ];
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if p.is_file() && ext.is_some_and(|e| EXT.contains(&e.as_str())) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Times every strategy on every file, in-process and with the `ffmpeg` command line (one
/// process per video). `progress` is called after each file with (done, total).
pub fn bench_keyframes(
    files: &[PathBuf],
    strategies: &[KeyframeStrategy],
    base: &ExtractOptions,
    ffmpeg: &Path,
    scratch: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Vec<StrategyRow> {
    let total = files.len() * strategies.len();
    let mut done = 0;
    strategies
        .iter()
        .map(|&strategy| {
            let opts = ExtractOptions {
                strategy,
                ..base.clone()
            };
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let (mut frames_in, mut frames_cli, mut count_mismatches) = (0, 0, 0);
            let mut failures = Vec::new();
            // One untimed run warms the page cache and FFmpeg's lazy tables for both sides.
            if let Some(f) = files.first() {
                if let Ok(frames) = extract_keyframes(f, &opts) {
                    let _ = run_cli(ffmpeg, f, &opts, &times(&frames), scratch);
                }
            }
            for f in files {
                let t = Instant::now();
                let got = extract_keyframes(f, &opts);
                let elapsed = t.elapsed();
                match got {
                    Ok(frames) => {
                        ours.push(elapsed);
                        frames_in += frames.len();
                        match run_cli(ffmpeg, f, &opts, &times(&frames), scratch) {
                            Ok((d, n)) => {
                                theirs.push(d);
                                frames_cli += n;
                                count_mismatches += usize::from(n != frames.len());
                            }
                            Err(e) => failures.push((f.clone(), format!("ffmpeg CLI: {e}"))),
                        }
                    }
                    Err(e) => failures.push((f.clone(), e.to_string())),
                }
                done += 1;
                progress(done, total);
            }
            StrategyRow {
                strategy,
                in_process: Stats::of(&ours),
                cli: Stats::of(&theirs),
                frames_in_process: frames_in,
                frames_cli,
                count_mismatches,
                failures,
            }
        })
        .collect()
}

fn times(frames: &[crate::ExtractedFrame]) -> Vec<f32> {
    frames.iter().filter_map(|f| f.at_s).collect()
}

/// Runs the `ffmpeg` command for `path` in a fresh directory under `scratch`; returns the wall
/// time and the number of model-size JPEGs it wrote.
fn run_cli(
    ffmpeg: &Path,
    path: &Path,
    opts: &ExtractOptions,
    key_times: &[f32],
    scratch: &Path,
) -> Result<(Duration, usize), String> {
    let dir = scratch.join("cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cmd = ffmpeg_command(ffmpeg, path, opts, key_times, &dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let elapsed = t.elapsed();
    let out = out.map_err(|e| format!("cannot run {}: {e}", ffmpeg.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(stderr.lines().last().unwrap_or("failed").trim().to_string());
    }
    let n = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("m_"))
        })
        .count();
    Ok((elapsed, n))
}

/// The `ffmpeg` command line that extracts the frames [`extract_keyframes`] would, at the same
/// sizes and JPEG quantiser, through the same crop/scale/turn filter chain, writing
/// `m_NN.jpg` (model size) and `v_NN.jpg` (view size) into `out_dir`:
///
/// - `uniform:N`: one accurately seeking input (`-ss t -i file`) per target time, one frame each;
/// - `iframes`: `-skip_frame nokey`, selecting the key frames at `key_times` (seconds from the
///   stream start: the ones [`extract_keyframes`] chose; some decoders, VP9's among them,
///   ignore `skip_frame`, so the `select` filter also drops non-key frames);
/// - `scene:T`: `-skip_frame noref` and `select='eq(n,0)+gt(scene,T)'`, up to `max_frames`;
/// - still images: the one frame.
pub fn ffmpeg_command(
    ffmpeg: &Path,
    path: &Path,
    opts: &ExtractOptions,
    key_times: &[f32],
    out_dir: &Path,
) -> Result<Command, MediaError> {
    let src = Source::open(path, opts.timeout_s)?;
    let dec = src.decoder(Discard::Default, 1)?;
    let (w, h, sar) = (dec.width(), dec.height(), dec.aspect_ratio());
    let chain = |size| filter_chain(w, h, sar, src.orientation, size);
    let (m, v) = (chain(opts.model_size), chain(opts.view_size));
    let q = mjpeg_qscale(opts.jpeg_quality).to_string();
    let file = path.to_string_lossy().into_owned();
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]);
    let out = |name: &str| out_dir.join(name).to_string_lossy().into_owned();
    let outputs = |cmd: &mut Command, i: usize, frames: usize| {
        cmd.args([
            "-map",
            &format!("[m{i}]"),
            "-fps_mode",
            "passthrough",
            "-frames:v",
            &frames.to_string(),
        ]);
        cmd.args(["-q:v", &q, &out(&format!("m_{i:02}_%02d.jpg"))]);
        cmd.args([
            "-map",
            &format!("[v{i}]"),
            "-fps_mode",
            "passthrough",
            "-frames:v",
            &frames.to_string(),
        ]);
        cmd.args(["-q:v", &q, &out(&format!("v_{i:02}_%02d.jpg"))]);
    };
    let split = |i: usize, pre: &str| {
        format!("[{i}:v]{pre}split=2[a{i}][b{i}];[a{i}]{m}[m{i}];[b{i}]{v}[v{i}]")
    };
    let max = opts.max_frames;
    match opts.strategy {
        _ if src.still => {
            cmd.args([
                "-noautorotate",
                "-i",
                &file,
                "-filter_complex",
                &split(0, ""),
            ]);
            outputs(&mut cmd, 0, 1);
        }
        KeyframeStrategy::Uniform(n) => {
            let d = src.duration_s.unwrap_or(0.0);
            let targets = uniform_targets(d, n.min(max));
            for t in &targets {
                cmd.args(["-ss", &format!("{t:.6}"), "-noautorotate", "-i", &file]);
            }
            let graph: Vec<String> = (0..targets.len()).map(|i| split(i, "")).collect();
            cmd.args(["-filter_complex", &graph.join(";")]);
            for i in 0..targets.len() {
                outputs(&mut cmd, i, 1);
            }
        }
        KeyframeStrategy::IFrames => {
            // With -copyts the filter's `t` is the frame's own timestamp; ours count from the
            // stream's first timestamp.
            let start = src.start_pts as f64 * f64::from(src.time_base);
            let at: Vec<String> = key_times
                .iter()
                .map(|t| format!("lt(abs(t-{:.4})\\,0.005)", f64::from(*t) + start))
                .collect();
            let select = format!("select='eq(key\\,1)*({})',", at.join("+"));
            cmd.args([
                "-copyts",
                "-skip_frame",
                "nokey",
                "-noautorotate",
                "-i",
                &file,
            ]);
            cmd.args(["-filter_complex", &split(0, &select)]);
            outputs(&mut cmd, 0, key_times.len());
        }
        KeyframeStrategy::Scene(t) => {
            cmd.args(["-skip_frame", "noref", "-noautorotate", "-i", &file]);
            cmd.args([
                "-filter_complex",
                &split(0, &format!("select='eq(n\\,0)+gt(scene\\,{t})',")),
            ]);
            outputs(&mut cmd, 0, max);
        }
    }
    Ok(cmd)
}

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
