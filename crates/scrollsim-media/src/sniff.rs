//! Deciding whether a file is media by its bytes, not its name: FFmpeg's format probe over the
//! start of the file, with no file name given, so `clip.avi`, `clip.ts`, `clip.3gp` or a file
//! with no extension at all are taken when their content is a container FFmpeg demuxes, and a
//! text file named `.mp4` is not. Cheap (one read of the first 256 KB, no decoding): ingest
//! runs it on every file it finds; opening the file (`probe`) then checks for a video stream.

// FFmpeg's format probe has no safe binding in ffmpeg-next: two FFI calls, each with its SAFETY note.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io::Read;
use std::path::Path;

use ffmpeg_next::ffi;
use scrollsim_core::MediaKind;

use crate::MediaError;

/// Bytes read for the probe: MPEG-TS needs several 188-byte packets, MP4 may put other boxes
/// before `moov`; FFmpeg's own probe reads up to 1 MB in steps, and 256 KB covers the formats
/// a scraper writes.
const PROBE_BYTES: usize = 256 * 1024;

/// FFmpeg's `AVPROBE_SCORE_RETRY`: below it, its own probe reads more before deciding.
const SURE: std::ffi::c_int = ffi::AVPROBE_SCORE_MAX / 4;

/// Demuxers that recognise plain text (subtitles, playlists, ANSI art): they say nothing about
/// whether a file is a video, so a match on them alone is not media.
const TEXT_FORMATS: &[&str] = &[
    "tty",
    "srt",
    "webvtt",
    "ass",
    "mpl2",
    "microdvd",
    "subviewer",
    "subviewer1",
    "jacosub",
    "sami",
    "realtext",
    "stl",
    "pjs",
    "vplayer",
    "lrc",
    "mpsub",
    "aqtitle",
    "hls",
    "concat",
    "ffmetadata",
    "dash",
    "sup",
    "scc",
];

/// What the content says a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// A still image (`*_pipe` image demuxers) or something with frames over time.
    pub kind: MediaKind,
    /// FFmpeg's name for the format (`avi`, `mpegts`, `png_pipe`, ...).
    pub format: String,
}

/// Probes the start of `path` for a container or image format FFmpeg can demux.
pub fn sniff(path: &Path) -> Result<Sniffed, MediaError> {
    crate::init();
    let p = || path.to_path_buf();
    let mut file =
        std::fs::File::open(path).map_err(|source| MediaError::Io { path: p(), source })?;
    let mut buf = Vec::with_capacity(PROBE_BYTES + ffi::AVPROBE_PADDING_SIZE as usize);
    let mut best = None;
    // As FFmpeg's own probe does: a small window first, larger ones until a format is sure.
    for window in [2048, 32 * 1024, PROBE_BYTES] {
        let want = window - buf.len();
        (&mut file)
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|source| MediaError::Io { path: p(), source })?;
        if buf.is_empty() {
            return Err(MediaError::Empty { path: p() });
        }
        let (fmt, score) = probe_buffer(&mut buf);
        let at_end = buf.len() < window;
        if !fmt.is_null() && score > 0 {
            best = Some(fmt);
            if score > SURE || at_end {
                break;
            }
        }
        if at_end {
            break;
        }
    }
    let Some(fmt) = best else {
        return Err(MediaError::Unrecognized {
            path: p(),
            reason: "its content matches no container or image format".into(),
        });
    };
    // SAFETY: a non-null AVInputFormat has a static NUL-terminated name.
    let format = unsafe { CStr::from_ptr((*fmt).name) }
        .to_string_lossy()
        .into_owned();
    if format.split(',').any(|f| TEXT_FORMATS.contains(&f)) {
        return Err(MediaError::Unrecognized {
            path: p(),
            reason: format!("its content reads as text ({format}), not video"),
        });
    }
    let kind = if format.ends_with("_pipe") || format == "image2" {
        MediaKind::Image
    } else {
        MediaKind::Video
    };
    Ok(Sniffed { kind, format })
}

/// FFmpeg's probe over `buf` (padded and unpadded again here): the best format and its score.
fn probe_buffer(buf: &mut Vec<u8>) -> (*const ffi::AVInputFormat, std::ffi::c_int) {
    let len = buf.len();
    // FFmpeg reads past the end of the buffer by up to the padding; it must be zeros.
    buf.resize(len + ffi::AVPROBE_PADDING_SIZE as usize, 0);
    let pd = ffi::AVProbeData {
        // No name: the decision is the content's alone.
        filename: c"".as_ptr(),
        buf: buf.as_mut_ptr(),
        buf_size: len as std::ffi::c_int,
        mime_type: std::ptr::null(),
    };
    let mut score: std::ffi::c_int = 0;
    // SAFETY: `pd` points at `len` bytes plus the zeroed padding FFmpeg requires, and at a
    // NUL-terminated empty name; both outlive the call. The returned format is static.
    let fmt = unsafe { ffi::av_probe_input_format3(&pd, 1, &mut score) };
    buf.truncate(len);
    (fmt, score)
}
