//! The `ffmpeg` command line equivalent to [`extract_keyframes`]: the reference a test checks
//! the in-process path against picture for picture, and the one `scrollsim bench ingest`
//! times it against.

use std::path::Path;
use std::process::Command;

use ff::Discard;
use ffmpeg_next as ff;

use crate::options::{ExtractOptions, KeyframeStrategy};
use crate::render::{filter_chain, mjpeg_qscale};
use crate::source::Source;
use crate::{uniform_targets, MediaError};

#[cfg(doc)]
use crate::extract_keyframes;

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
