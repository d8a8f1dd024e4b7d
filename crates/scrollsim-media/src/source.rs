//! Opening a media file with FFmpeg and reading decoded frames from its video stream: the one
//! place that talks to the demuxer and the decoder. Every read checks the per-file deadline, so
//! no file can stall the caller.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ff::codec::{self, packet::side_data::Type as PacketSideData};
use ff::format::stream::Disposition;
use ff::util::frame::side_data::Type as FrameSideData;
use ff::{decoder, frame, media, Discard, Packet, Rational, Rescale, Rounding};
use ffmpeg_next as ff;

use crate::orient::Orientation;
use crate::MediaError;

/// `AV_NOPTS_VALUE`: FFmpeg's "no timestamp".
const NO_PTS: i64 = i64::MIN;

/// A media file opened for reading, positioned on its video (or image) stream.
pub(crate) struct Source {
    pub path: PathBuf,
    pub input: ff::format::context::Input,
    pub stream: usize,
    pub time_base: Rational,
    /// The stream's first timestamp: times we report are relative to it.
    pub start_pts: i64,
    pub duration_s: Option<f64>,
    pub fps: Option<f64>,
    /// A still image (png/jpg/webp...) rather than a moving video.
    pub still: bool,
    /// Orientation from the stream (display matrix or `rotate` tag).
    pub orientation: Orientation,
    pub format_name: String,
    started: Instant,
    /// How much work the file cost: video packets read and frames decoded.
    pub work: Work,
    deadline: Instant,
    timeout_s: f32,
}

impl Source {
    /// Opens `path`, giving up after `timeout_s` seconds in total (this call and all reads).
    pub fn open(path: &Path, timeout_s: f32) -> Result<Source, MediaError> {
        crate::init();
        let p = || path.to_path_buf();
        let meta =
            std::fs::metadata(path).map_err(|source| MediaError::Io { path: p(), source })?;
        if meta.is_dir() {
            return Err(MediaError::Unsupported {
                path: p(),
                reason: "is a directory".into(),
            });
        }
        if meta.len() == 0 {
            return Err(MediaError::Empty { path: p() });
        }
        let Some(utf8) = path.to_str() else {
            return Err(MediaError::Unsupported {
                path: p(),
                reason: "the path is not valid UTF-8".into(),
            });
        };
        // `file:` stops FFmpeg reading a name like `http:x.mp4` or `concat:a|b` as a URL, and
        // the whitelist keeps a playlist renamed .mp4 from opening anything but local files.
        let url = format!("file:{utf8}");
        let started = Instant::now();
        let deadline = started + std::time::Duration::from_secs_f32(timeout_s);
        let input = open_input(&url, deadline).map_err(|e| match e {
            ff::Error::Exit => MediaError::Timeout {
                path: p(),
                seconds: timeout_s,
            },
            ff::Error::InvalidData => MediaError::Unrecognized {
                path: p(),
                reason: e.to_string(),
            },
            ff::Error::Eof => MediaError::Truncated {
                path: p(),
                reason: "the data ends before the headers do".into(),
            },
            ff::Error::DemuxerNotFound => MediaError::Unrecognized {
                path: p(),
                reason: e.to_string(),
            },
            ff::Error::PatchWelcome => MediaError::Unsupported {
                path: p(),
                reason: e.to_string(),
            },
            other => MediaError::Unrecognized {
                path: p(),
                reason: other.to_string(),
            },
        })?;

        let format_name = input.format().name().to_string();
        let stream = pick_video_stream(&input).ok_or_else(|| {
            let kinds: Vec<String> = input
                .streams()
                .map(|s| format!("{:?}", s.parameters().medium()).to_lowercase())
                .collect();
            MediaError::NoVideoStream {
                path: p(),
                reason: if kinds.is_empty() {
                    format!("the {format_name} container holds no streams")
                } else {
                    format!(
                        "the {format_name} container holds only: {}",
                        kinds.join(", ")
                    )
                },
            }
        })?;
        let st = input.stream(stream).expect("picked stream exists");
        let time_base = st.time_base();
        if time_base.numerator() <= 0 || time_base.denominator() <= 0 {
            return Err(MediaError::Corrupt {
                path: p(),
                reason: format!("invalid stream time base {time_base}"),
            });
        }
        let start_pts = if st.start_time() == NO_PTS {
            0
        } else {
            st.start_time()
        };
        let still = format_name == "image2" || format_name.ends_with("_pipe");
        let orientation = st
            .side_data()
            .find(|sd| sd.kind() == PacketSideData::DisplayMatrix)
            .and_then(|sd| Orientation::from_display_matrix(sd.data()))
            .or_else(|| {
                st.metadata()
                    .get("rotate")
                    .and_then(Orientation::from_rotate_tag)
            })
            .unwrap_or_default();
        let tb = f64::from(time_base);
        let duration_s = if still {
            None
        } else if st.duration() > 0 {
            Some(st.duration() as f64 * tb)
        } else if input.duration() > 0 {
            Some(input.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE))
        } else {
            None
        };
        let rate = |r: Rational| (r.numerator() > 0 && r.denominator() > 0).then(|| f64::from(r));
        let fps = if still {
            None
        } else {
            rate(st.avg_frame_rate()).or_else(|| rate(st.rate()))
        };
        Ok(Source {
            path: path.to_path_buf(),
            input,
            stream,
            time_base,
            start_pts,
            duration_s,
            fps,
            still,
            orientation,
            format_name,
            started,
            work: Work::default(),
            deadline,
            timeout_s,
        })
    }

    pub fn parameters(&self) -> codec::Parameters {
        self.input
            .stream(self.stream)
            .expect("stream exists")
            .parameters()
    }

    /// Opens a decoder for the stream. `skip` chooses which frames the decoder may drop
    /// without decoding them (`NonKey` for I-frames, `NonRef` for cheap scene scoring).
    pub fn decoder(&self, skip: Discard, threads: usize) -> Result<decoder::Video, MediaError> {
        let params = self.parameters();
        let codec_name = params.id().name();
        let mut ctx = codec::Context::from_parameters(params)
            .map_err(|e| self.decode_err(format!("codec parameters: {e}")))?;
        ctx.set_threading(ff::threading::Config {
            kind: if threads == 1 {
                ff::threading::Type::None
            } else {
                ff::threading::Type::Frame
            },
            count: threads,
            ..Default::default()
        });
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(self.time_base);
        dec.skip_frame(skip);
        dec.video().map_err(|e| match e {
            ff::Error::DecoderNotFound => MediaError::Unsupported {
                path: self.path.clone(),
                reason: format!("no decoder for the {codec_name} codec"),
            },
            e => self.decode_err(format!("cannot open the {codec_name} decoder: {e}")),
        })
    }

    pub fn secs_to_pts(&self, s: f64) -> i64 {
        self.start_pts + (s / f64::from(self.time_base)).round() as i64
    }

    pub fn pts_to_secs(&self, pts: i64) -> f64 {
        (pts - self.start_pts) as f64 * f64::from(self.time_base)
    }

    /// Fails once the per-file time budget is spent.
    pub fn check_deadline(&self) -> Result<(), MediaError> {
        if Instant::now() > self.deadline {
            Err(MediaError::Timeout {
                path: self.path.clone(),
                seconds: self.timeout_s,
            })
        } else {
            Ok(())
        }
    }

    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Reads the next packet of the video stream into `pkt`; `false` at the end of the file.
    pub fn read_video_packet(&mut self, pkt: &mut Packet) -> Result<bool, MediaError> {
        let mut invalid = 0;
        loop {
            self.check_deadline()?;
            match pkt.read(&mut self.input) {
                Ok(()) if pkt.stream() == self.stream => {
                    self.work.packets_read += 1;
                    return Ok(true);
                }
                Ok(()) => continue,
                Err(ff::Error::Eof) => return Ok(false),
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => continue,
                Err(ff::Error::Exit) => {
                    return Err(MediaError::Timeout {
                        path: self.path.clone(),
                        seconds: self.timeout_s,
                    })
                }
                // A demuxer can resync past one bad packet; many in a row is a damaged file.
                Err(ff::Error::InvalidData) if invalid < 16 => invalid += 1,
                Err(e) => {
                    return Err(MediaError::Corrupt {
                        path: self.path.clone(),
                        reason: format!("reading packets: {e}"),
                    })
                }
            }
        }
    }

    /// Starts reading from the first packet again. The file is opened anew rather than sought:
    /// demuxers without an index (MPEG-TS, MPEG-PS) seek by timestamp to any packet, and a
    /// seek to the first timestamp lands on the second packet when decode times run ahead of
    /// presentation times.
    pub fn rewind(&mut self) -> Result<(), MediaError> {
        let url = format!("file:{}", self.path.display());
        self.input = open_input(&url, self.deadline).map_err(|e| match e {
            ff::Error::Exit => MediaError::Timeout {
                path: self.path.clone(),
                seconds: self.timeout_s,
            },
            e => self.decode_err(format!("reopening to read from the start: {e}")),
        })?;
        Ok(())
    }

    /// Seeks so that the next packets start at the last key frame at or before `pts`.
    pub fn seek_before(&mut self, pts: i64) -> bool {
        let ts = pts.rescale_with(self.time_base, ff::rescale::TIME_BASE, Rounding::Up);
        self.input.seek(ts, ..ts).is_ok()
    }

    /// Reads every packet header (no decoding) and returns the key packets' timestamps and the
    /// end time of the last packet: what the I-frame strategy chooses from, and the duration
    /// when the container does not declare one.
    pub fn scan_packets(&mut self) -> Result<PacketScan, MediaError> {
        let mut scan = PacketScan::default();
        let mut pkt = Packet::empty();
        while self.read_video_packet(&mut pkt)? {
            let Some(ts) = pkt.pts().or(pkt.dts()) else {
                continue;
            };
            if pkt.is_corrupt() {
                scan.corrupt += 1;
            }
            if pkt.is_key() && scan.keys.last().is_none_or(|&k| ts > k) {
                scan.keys.push(ts);
            }
            let end = ts + pkt.duration().max(0);
            scan.end_pts = Some(scan.end_pts.map_or(end, |e: i64| e.max(end)));
        }
        Ok(scan)
    }

    /// Fails with [`MediaError::Truncated`] when the stream's data stops well before the
    /// duration the container declares.
    pub fn check_complete(&self, last_end_s: f64) -> Result<(), MediaError> {
        match self.duration_s {
            Some(d) if last_end_s < 0.9 * d - 0.25 => Err(MediaError::Truncated {
                path: self.path.clone(),
                reason: format!(
                    "the video data ends at {last_end_s:.2} s but the container declares {d:.2} s"
                ),
            }),
            _ => Ok(()),
        }
    }

    pub fn decode_err(&self, reason: String) -> MediaError {
        MediaError::Decode {
            path: self.path.clone(),
            reason,
        }
    }
}

/// The demuxing and decoding one extraction did: evidence that a strategy seeks rather than
/// decoding the whole file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Video packets read from the file (including packet-header scans and replays).
    pub packets_read: usize,
    /// Frames the decoder produced.
    pub frames_decoded: usize,
}

/// What [`Source::scan_packets`] found.
#[derive(Debug, Default)]
pub(crate) struct PacketScan {
    pub keys: Vec<i64>,
    pub end_pts: Option<i64>,
    pub corrupt: usize,
}

/// Opens `url` for demuxing; reading gives up once `deadline` has passed.
fn open_input(url: &str, deadline: Instant) -> Result<ff::format::context::Input, ff::Error> {
    let mut opts = ff::Dictionary::new();
    opts.set("protocol_whitelist", "file");
    ff::format::input_with_interrupt_and_dictionary(url, move || Instant::now() > deadline, opts)
}

/// The video stream to use: FFmpeg's pick unless it is cover art, else the first real one.
fn pick_video_stream(input: &ff::format::context::Input) -> Option<usize> {
    let usable = |s: &ff::Stream| {
        s.parameters().medium() == media::Type::Video
            && !s.disposition().contains(Disposition::ATTACHED_PIC)
    };
    input
        .streams()
        .best(media::Type::Video)
        .filter(|s| usable(s))
        .or_else(|| input.streams().find(|s| usable(s)))
        .map(|s| s.index())
}

/// Reads decoded frames from a [`Source`], seeking forward when that saves decoding.
pub(crate) struct FrameReader<'a> {
    pub src: &'a mut Source,
    decoder: decoder::Video,
    /// Decode timestamp of the last packet given to the decoder.
    last_fed: Option<i64>,
    /// After a seek that landed behind `last_fed`: packets up to this one are skipped unread
    /// by the decoder (it already has them), so a useless seek costs demuxing, not decoding.
    resync_after: Option<i64>,
    seeking: bool,
    eof_sent: bool,
    /// Since the decoder was opened or flushed, no key packet has reached it: errors about
    /// missing references are expected then and not a sign of damage.
    awaiting_key: bool,
    /// Whether seeks land on key frames in this file. Demuxers without an index (MPEG-TS,
    /// MPEG-PS) seek by timestamp to any packet, and the decoder then shows nothing until the
    /// next key frame: near the end of a file that skips the rest of the stream. The first
    /// seek that lands between key frames turns seeking off: the reader starts again from the
    /// first packet and decodes forward from then on.
    seeks_land_on_keys: bool,
    /// After starting again: frames up to this timestamp were handed out already.
    replay_until: Option<i64>,
    /// Timestamp of the last frame handed out.
    pub last_ts: Option<i64>,
    frame_step: i64,
    pkt: Packet,
}

impl<'a> FrameReader<'a> {
    pub fn new(
        src: &'a mut Source,
        skip: Discard,
        threads: usize,
    ) -> Result<FrameReader<'a>, MediaError> {
        let decoder = src.decoder(skip, threads)?;
        let frame_step = src
            .fps
            .map(|f| ((1.0 / f) / f64::from(src.time_base)).round() as i64)
            .unwrap_or(1)
            .max(1);
        Ok(FrameReader {
            src,
            decoder,
            last_fed: None,
            resync_after: None,
            seeking: false,
            eof_sent: false,
            awaiting_key: true,
            seeks_land_on_keys: true,
            replay_until: None,
            last_ts: None,
            frame_step,
            pkt: Packet::empty(),
        })
    }

    /// Positions the reader so the next frames are at or shortly before `pts`, if that is ahead
    /// of what has been decoded. Seeking is an optimisation: when it fails, reading continues.
    pub fn seek_forward(&mut self, pts: i64) {
        if !self.seeks_land_on_keys || self.last_ts.is_some_and(|l| l >= pts) {
            return;
        }
        if self.src.seek_before(pts) {
            self.seeking = true;
        }
    }

    /// The next decoded frame with its timestamp, or `None` at the end of the stream.
    pub fn next(&mut self) -> Result<Option<(i64, frame::Video)>, MediaError> {
        let mut frame = frame::Video::empty();
        loop {
            self.src.check_deadline()?;
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    self.src.work.frames_decoded += 1;
                    let ts = frame.timestamp().or(frame.pts()).unwrap_or_else(|| {
                        self.last_ts
                            .map_or(self.src.start_pts, |l| l + self.frame_step)
                    });
                    if let Some(until) = self.replay_until {
                        if ts <= until {
                            continue;
                        }
                        self.replay_until = None;
                    }
                    self.last_ts = Some(ts);
                    return Ok(Some((ts, frame)));
                }
                Err(ff::Error::Eof) => return self.end_of_stream(),
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => {}
                Err(e) => self.decoder_error(None, e)?,
            }
            if self.eof_sent {
                return self.end_of_stream();
            }
            if !self.src.read_video_packet(&mut self.pkt)? {
                // Enter draining mode; the decoder hands out what it still holds.
                let _ = self.decoder.send_eof();
                self.eof_sent = true;
                continue;
            }
            let dts = self.pkt.dts().or(self.pkt.pts());
            if std::mem::take(&mut self.seeking) {
                match (dts, self.last_fed) {
                    (Some(d), Some(last)) if d <= last && !self.eof_sent => {
                        self.resync_after = Some(last)
                    }
                    _ if !self.pkt.is_key() => {
                        tracing::debug!(
                            path = %self.src.path.display(),
                            "a seek landed between key frames: decoding forward from the start"
                        );
                        self.seeks_land_on_keys = false;
                        self.replay_until = self.last_ts.or(self.replay_until);
                        self.src.rewind()?;
                        self.flush();
                        self.eof_sent = false;
                        self.last_fed = None;
                        continue;
                    }
                    _ => {
                        self.flush();
                        self.eof_sent = false;
                    }
                }
            }
            if let Some(r) = self.resync_after {
                match dts {
                    Some(d) if d <= r => continue,
                    Some(_) => self.resync_after = None,
                    None => self.flush(),
                }
            }
            if self.pkt.is_corrupt() {
                // A packet the demuxer could only read in part: the file was cut short here,
                // or damaged.
                let at = self.src.pts_to_secs(dts.unwrap_or(self.src.start_pts));
                self.src.check_complete(at)?;
                return Err(MediaError::Corrupt {
                    path: self.src.path.clone(),
                    reason: format!("the packet at {at:.2} s is damaged"),
                });
            }
            self.last_fed = dts.or(self.last_fed);
            if self.pkt.is_key() {
                self.awaiting_key = false;
            }
            match self.decoder.send_packet(&self.pkt) {
                Ok(()) => {}
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => {}
                Err(e) => self.decoder_error(dts, e)?,
            }
        }
    }

    fn flush(&mut self) {
        self.decoder.flush();
        self.resync_after = None;
        self.awaiting_key = true;
    }

    /// A decoder error is damage (the file is [`MediaError::Corrupt`]) unless the decoder is
    /// still waiting for its first key frame after opening or a seek.
    fn decoder_error(&mut self, dts: Option<i64>, e: ff::Error) -> Result<(), MediaError> {
        let at = dts
            .map(|d| format!(" at {:.2} s", self.src.pts_to_secs(d)))
            .unwrap_or_default();
        if self.awaiting_key {
            tracing::debug!(path = %self.src.path.display(), "decoder error before the first key frame{at}: {e}");
            return Ok(());
        }
        Err(MediaError::Corrupt {
            path: self.src.path.clone(),
            reason: format!("the decoder failed on the packet{at}: {e}"),
        })
    }

    fn end_of_stream(&mut self) -> Result<Option<(i64, frame::Video)>, MediaError> {
        if self.last_ts.is_none() {
            return Err(self
                .src
                .decode_err("the stream holds no decodable frame".into()));
        }
        Ok(None)
    }

    /// Fails if a frame we are about to keep was damaged (the decoder concealed errors in it).
    pub fn check_frame(&self, ts: i64, frame: &frame::Video) -> Result<(), MediaError> {
        if frame.is_corrupt() || frame.has_decode_errors() {
            return Err(MediaError::Corrupt {
                path: self.src.path.clone(),
                reason: format!(
                    "the frame at {:.2} s is damaged (the decoder concealed errors)",
                    self.src.pts_to_secs(ts)
                ),
            });
        }
        Ok(())
    }
}

/// The orientation a decoded frame asks for itself: a per-frame display matrix, or a JPEG's
/// EXIF `Orientation` (FFmpeg's MJPEG decoder exports EXIF tags as frame metadata).
pub(crate) fn frame_orientation(frame: &frame::Video) -> Option<Orientation> {
    frame
        .side_data(FrameSideData::DisplayMatrix)
        .and_then(|sd| Orientation::from_display_matrix(sd.data()))
        .or_else(|| {
            frame
                .metadata()
                .get("Orientation")
                .and_then(Orientation::from_exif)
        })
}
