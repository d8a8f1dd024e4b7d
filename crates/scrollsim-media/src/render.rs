//! From a decoded frame to the two JPEGs: crop to the output's aspect ratio (centred), scale,
//! turn upright, convert to full-range YUV 4:2:0 and encode with FFmpeg's MJPEG encoder.
//!
//! Crop, scale and turn run in one FFmpeg filter graph per input shape, so any pixel format
//! FFmpeg decodes (10-bit, yuvj, RGB, paletted, gray...) goes through swscale to the same
//! output. The turn happens after scaling, on the small picture, not on the full frame.
//! FFmpeg's MJPEG encoder was measured faster than the `image` crate's JPEG encoder (see
//! docs/media.md), so the frame never leaves FFmpeg's buffers.

use std::path::{Path, PathBuf};

use ff::format::Pixel;
use ff::{codec, encoder, filter, frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::options::FrameSize;
use crate::orient::Orientation;
use crate::MediaError;

/// The filter chain that turns a `w`x`h` frame with sample aspect ratio `sar` into an upright
/// `size` picture: crop the largest centred region of `size`'s aspect ratio (in display
/// terms, after the turn), scale it, turn it, and convert to full-range YUV 4:2:0 for JPEG.
/// Its command-line equivalent ([`crate::ffmpeg_command`]) runs this same chain.
pub fn filter_chain(
    w: u32,
    h: u32,
    sar: Rational,
    orientation: Orientation,
    size: FrameSize,
) -> String {
    let s = if sar.numerator() > 0 && sar.denominator() > 0 {
        f64::from(sar)
    } else {
        1.0
    };
    // Before the turn the target is transposed when the turn swaps the axes.
    let (tw, th) = if orientation.swaps_axes() {
        (size.height, size.width)
    } else {
        (size.width, size.height)
    };
    let target = f64::from(tw) / f64::from(th);
    let shown = f64::from(w) * s / f64::from(h);
    let (cw, ch) = if shown > target {
        (((f64::from(h) * target / s).round() as u32).clamp(1, w), h)
    } else {
        (w, ((f64::from(w) * s / target).round() as u32).clamp(1, h))
    };
    let mut chain = Vec::new();
    if (cw, ch) != (w, h) {
        chain.push(format!("crop={cw}:{ch}:{}:{}", (w - cw) / 2, (h - ch) / 2));
    }
    chain.push(format!("scale={tw}:{th}"));
    if orientation != Orientation::Identity {
        chain.push(orientation.filters().to_string());
    }
    chain.push("setsar=1".into());
    chain.push("format=yuvj420p".into());
    chain.join(",")
}

/// FFmpeg's MJPEG quantiser scale for a libjpeg-style quality (1..100). libjpeg scales the
/// standard tables by S% (S = 5000/q below 50, 200-2q above); MJPEG's scale q multiplies the
/// same tables by q/8, so q = 0.08 S, rounded to the integer FFmpeg uses (1..31).
pub fn mjpeg_qscale(quality: u8) -> u32 {
    let q = f64::from(quality.clamp(1, 100));
    let s = if q < 50.0 {
        5000.0 / q
    } else {
        200.0 - 2.0 * q
    };
    ((0.08 * s).round() as u32).clamp(1, 31)
}

/// One opened MJPEG encoder for one output size.
pub(crate) struct Jpeg {
    enc: encoder::video::Encoder,
    pts: i64,
}

impl Jpeg {
    pub(crate) fn new(size: FrameSize, quality: u8) -> Result<Jpeg, ff::Error> {
        let codec = encoder::find(codec::Id::MJPEG).ok_or(ff::Error::EncoderNotFound)?;
        let mut ctx = codec::Context::new_with_codec(codec).encoder().video()?;
        ctx.set_width(size.width);
        ctx.set_height(size.height);
        ctx.set_format(Pixel::YUVJ420P);
        ctx.set_time_base(Rational::new(1, 25));
        // A fixed quantiser: QSCALE bypasses rate control, qmin = qmax pins the scale.
        let q = mjpeg_qscale(quality) as i32;
        ctx.set_qmin(q);
        ctx.set_qmax(q);
        ctx.set_flags(codec::Flags::QSCALE);
        Ok(Jpeg {
            enc: ctx.open_as(codec)?,
            pts: 0,
        })
    }

    pub(crate) fn encode(&mut self, frame: &mut frame::Video) -> Result<Vec<u8>, ff::Error> {
        frame.set_pts(Some(self.pts));
        self.pts += 1;
        self.enc.send_frame(frame)?;
        let mut pkt = Packet::empty();
        self.enc.receive_packet(&mut pkt)?;
        Ok(pkt.data().map(<[u8]>::to_vec).unwrap_or_default())
    }
}

/// The input shape a filter graph was built for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    width: u32,
    height: u32,
    format: Pixel,
    sar: (i32, i32),
    orientation: Orientation,
}

/// Renders decoded frames of one file into model and view JPEGs.
pub(crate) struct Renderer {
    path: PathBuf,
    model_size: FrameSize,
    view_size: FrameSize,
    graph: Option<(Shape, filter::Graph)>,
    model: Jpeg,
    view: Jpeg,
}

impl Renderer {
    pub fn new(
        path: &Path,
        model_size: FrameSize,
        view_size: FrameSize,
        quality: u8,
    ) -> Result<Renderer, MediaError> {
        let enc = |size| {
            Jpeg::new(size, quality)
                .map_err(|e| encode_err(path, format!("opening the MJPEG encoder: {e}")))
        };
        Ok(Renderer {
            path: path.to_path_buf(),
            model_size,
            view_size,
            graph: None,
            model: enc(model_size)?,
            view: enc(view_size)?,
        })
    }

    /// The model and view JPEGs of `frame`, turned by `orientation`.
    pub fn render(
        &mut self,
        frame: &frame::Video,
        orientation: Orientation,
    ) -> Result<(Vec<u8>, Vec<u8>), MediaError> {
        let sar = frame.aspect_ratio();
        let shape = Shape {
            width: frame.width(),
            height: frame.height(),
            format: frame.format(),
            sar: (sar.numerator(), sar.denominator()),
            orientation,
        };
        if self.graph.as_ref().is_none_or(|(s, _)| *s != shape) {
            let g = self
                .build(shape)
                .map_err(|e| encode_err(&self.path, format!("building the scale graph: {e}")))?;
            self.graph = Some((shape, g));
        }
        let (_, graph) = self.graph.as_mut().expect("built above");
        let err = |what: &str, e: ff::Error| encode_err(&self.path, format!("{what}: {e}"));
        graph
            .get("in")
            .expect("source exists")
            .source()
            .add(frame)
            .map_err(|e| err("scaling", e))?;
        let mut m = frame::Video::empty();
        let mut v = frame::Video::empty();
        graph
            .get("model")
            .expect("sink exists")
            .sink()
            .frame(&mut m)
            .map_err(|e| err("scaling", e))?;
        graph
            .get("view")
            .expect("sink exists")
            .sink()
            .frame(&mut v)
            .map_err(|e| err("scaling", e))?;
        let model = self
            .model
            .encode(&mut m)
            .map_err(|e| err("JPEG encoding", e))?;
        let view = self
            .view
            .encode(&mut v)
            .map_err(|e| err("JPEG encoding", e))?;
        if model.is_empty() || view.is_empty() {
            return Err(encode_err(
                &self.path,
                "the JPEG encoder returned no data".into(),
            ));
        }
        Ok((model, view))
    }

    fn build(&self, shape: Shape) -> Result<filter::Graph, ff::Error> {
        let pix = shape
            .format
            .descriptor()
            .ok_or(ff::Error::InvalidData)?
            .name();
        let sar = if shape.sar.0 > 0 && shape.sar.1 > 0 {
            shape.sar
        } else {
            (1, 1)
        };
        let mut g = filter::Graph::new();
        let args = format!(
            "video_size={}x{}:pix_fmt={pix}:time_base=1/25:pixel_aspect={}/{}",
            shape.width, shape.height, sar.0, sar.1
        );
        g.add(
            &filter::find("buffer").ok_or(ff::Error::FilterNotFound)?,
            "in",
            &args,
        )?;
        let sink = filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
        g.add(&sink, "model", "")?;
        g.add(&sink, "view", "")?;
        let sar = Rational::new(sar.0, sar.1);
        let chain = |size| filter_chain(shape.width, shape.height, sar, shape.orientation, size);
        let spec = format!(
            "[in]split=2[a][b];[a]{}[model];[b]{}[view]",
            chain(self.model_size),
            chain(self.view_size)
        );
        g.output("in", 0)?
            .input("model", 0)?
            .input("view", 0)?
            .parse(&spec)?;
        g.validate()?;
        Ok(g)
    }
}

fn encode_err(path: &Path, reason: String) -> MediaError {
    MediaError::Encode {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_crops_centred_to_the_target_aspect() {
        let size = FrameSize::new(144, 256);
        let one = Rational::new(1, 1);
        // Landscape 16:9 -> keep the middle 9:16 column.
        assert_eq!(
            filter_chain(1920, 1080, one, Orientation::Identity, size),
            "crop=608:1080:656:0,scale=144:256,setsar=1,format=yuvj420p"
        );
        // Already 9:16: no crop.
        assert_eq!(
            filter_chain(180, 320, one, Orientation::Identity, size),
            "scale=144:256,setsar=1,format=yuvj420p"
        );
        // A portrait phone video stored landscape: crop to 16:9 before the turn, scale to
        // 256x144, then turn clockwise -> 144x256 upright.
        assert_eq!(
            filter_chain(1920, 1080, one, Orientation::Rotate90, size),
            "scale=256:144,transpose=clock,setsar=1,format=yuvj420p"
        );
        // Anamorphic pixels (SAR 2:1) make 960x1080 look 16:9 wide.
        assert_eq!(
            filter_chain(960, 1080, Rational::new(2, 1), Orientation::Identity, size),
            "crop=304:1080:328:0,scale=144:256,setsar=1,format=yuvj420p"
        );
    }

    #[test]
    fn quality_maps_to_mjpeg_scale() {
        assert_eq!(mjpeg_qscale(50), 8);
        assert_eq!(mjpeg_qscale(75), 4);
        assert_eq!(mjpeg_qscale(85), 2);
        assert_eq!(mjpeg_qscale(100), 1);
        assert_eq!(mjpeg_qscale(1), 31);
    }
}
