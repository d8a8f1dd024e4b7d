//! What to extract: the keyframe strategy, the two output sizes and the JPEG quality. This is
//! the `[ingest.keyframes]` config section.

use std::fmt;
use std::str::FromStr;

use scrollsim_core::config::Invalid;
use serde::{Deserialize, Serialize};

/// Which frames of a video become keyframes. Written as a string in config and on the command
/// line: `uniform:4`, `scene:0.3`, `iframes`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyframeStrategy {
    /// N frames at evenly spaced times: the centres of N equal slices of the duration. Each is
    /// reached by seeking, never by decoding the whole file.
    Uniform(usize),
    /// The first frame plus every frame whose scene-change score exceeds the threshold (0..1,
    /// FFmpeg's `select=gt(scene,T)` score), the highest-scoring ones when there are more than
    /// `max_frames`.
    Scene(f32),
    /// The video's key (I) frames, evenly thinned to `max_frames`; only those frames are decoded.
    IFrames,
}

impl Default for KeyframeStrategy {
    fn default() -> Self {
        KeyframeStrategy::Uniform(4)
    }
}

impl fmt::Display for KeyframeStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyframeStrategy::Uniform(n) => write!(f, "uniform:{n}"),
            KeyframeStrategy::Scene(t) => write!(f, "scene:{t}"),
            KeyframeStrategy::IFrames => f.write_str("iframes"),
        }
    }
}

/// A strategy string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad keyframe strategy {input:?}: {reason} (expected uniform:N, scene:T or iframes)")]
pub struct BadStrategy {
    pub input: String,
    pub reason: String,
}

impl FromStr for KeyframeStrategy {
    type Err = BadStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| BadStrategy {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let t = s.trim();
        let (name, arg) = match t.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (t, None),
        };
        match (name.to_ascii_lowercase().as_str(), arg) {
            ("uniform", Some(a)) => match a.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(KeyframeStrategy::Uniform(n)),
                _ => Err(bad("N must be a whole number of at least 1")),
            },
            ("uniform", None) => Err(bad("uniform needs a frame count, e.g. uniform:4")),
            ("scene", Some(a)) => match a.parse::<f32>() {
                Ok(x) if x > 0.0 && x < 1.0 => Ok(KeyframeStrategy::Scene(x)),
                _ => Err(bad(
                    "the threshold must be a number between 0 and 1, e.g. scene:0.3",
                )),
            },
            ("scene", None) => Err(bad("scene needs a threshold, e.g. scene:0.3")),
            ("iframes", None) => Ok(KeyframeStrategy::IFrames),
            ("iframes", Some(_)) => Err(bad("iframes takes no argument")),
            _ => Err(bad("unknown strategy")),
        }
    }
}

impl TryFrom<String> for KeyframeStrategy {
    type Error = BadStrategy;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeyframeStrategy> for String {
    fn from(s: KeyframeStrategy) -> String {
        s.to_string()
    }
}

/// An output size in pixels, written `WIDTHxHEIGHT` (`144x256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FrameSize {
    pub width: u32,
    pub height: u32,
}

impl FrameSize {
    pub const fn new(width: u32, height: u32) -> Self {
        FrameSize { width, height }
    }
}

impl fmt::Display for FrameSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A size string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad frame size {input:?}: {reason} (expected WIDTHxHEIGHT with even numbers from 16 to 4096, e.g. 144x256)")]
pub struct BadFrameSize {
    pub input: String,
    pub reason: String,
}

impl FromStr for FrameSize {
    type Err = BadFrameSize;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| BadFrameSize {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (w, h) = s
            .trim()
            .split_once(['x', 'X'])
            .ok_or_else(|| bad("no 'x' between the numbers"))?;
        let dim = |d: &str| {
            d.trim()
                .parse::<u32>()
                .map_err(|_| bad("not a whole number"))
        };
        let (width, height) = (dim(w)?, dim(h)?);
        // JPEG's 4:2:0 chroma and the transpose used for rotation want even sizes.
        for d in [width, height] {
            if !(16..=4096).contains(&d) || d % 2 != 0 {
                return Err(bad("out of range or odd"));
            }
        }
        Ok(FrameSize { width, height })
    }
}

impl TryFrom<String> for FrameSize {
    type Error = BadFrameSize;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<FrameSize> for String {
    fn from(s: FrameSize) -> String {
        s.to_string()
    }
}

/// How keyframes are extracted: the `[ingest.keyframes]` config section.
///
/// Both output sizes are produced from the same decoded frame by cropping to the size's aspect
/// ratio (centred) and then scaling, so nothing is stretched; the default is the paper's 9:16
/// 144x256 for the model and 432x768 for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractOptions {
    /// `uniform:N`, `scene:T` or `iframes`.
    pub strategy: KeyframeStrategy,
    /// What a judge is shown (the paper: 144x256, 9:16).
    pub model_size: FrameSize,
    /// The larger copy for the viewer and reports.
    pub view_size: FrameSize,
    /// At most this many keyframes per video, whatever the strategy.
    pub max_frames: usize,
    /// JPEG quality on the familiar 1..100 scale (libjpeg's), mapped to FFmpeg's MJPEG
    /// quantiser.
    pub jpeg_quality: u8,
    /// Work bound per file: opening, probing, decoding and encoding give up after this many
    /// seconds with [`crate::MediaError::Timeout`] (so a pathological file cannot stall ingest).
    pub timeout_s: f32,
    /// Decoder threads per file (0: FFmpeg picks). Ingest already runs files in parallel, and
    /// short small clips decode fastest on one thread.
    pub decoder_threads: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            strategy: KeyframeStrategy::default(),
            model_size: FrameSize::new(144, 256),
            view_size: FrameSize::new(432, 768),
            max_frames: 8,
            jpeg_quality: 85,
            timeout_s: 120.0,
            decoder_threads: 1,
        }
    }
}

impl ExtractOptions {
    /// Checks what serde cannot: ranges that depend on each other.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.max_frames == 0 {
            return Err(Invalid::new("max_frames", "at least 1"));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(Invalid::new(
                "jpeg_quality",
                format!("1..=100, got {}", self.jpeg_quality),
            ));
        }
        if self.timeout_s.is_nan() || self.timeout_s <= 0.0 {
            return Err(Invalid::new(
                "timeout_s",
                format!("positive, got {}", self.timeout_s),
            ));
        }
        match self.strategy {
            KeyframeStrategy::Uniform(0) => Err(Invalid::new("strategy", "uniform:N needs N >= 1")),
            KeyframeStrategy::Scene(t) if t.is_nan() || t <= 0.0 || t >= 1.0 => Err(Invalid::new(
                "strategy",
                format!("scene threshold between 0 and 1, got {t}"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_round_trips_as_string() {
        for s in [
            "uniform:4",
            "scene:0.3",
            "iframes",
            "uniform:12",
            "scene:0.05",
        ] {
            let k: KeyframeStrategy = s.parse().unwrap();
            assert_eq!(k.to_string(), s);
        }
        assert_eq!(
            "Uniform: 3".parse::<KeyframeStrategy>().unwrap(),
            KeyframeStrategy::Uniform(3)
        );
        for bad in [
            "uniform",
            "uniform:0",
            "uniform:x",
            "scene:1.5",
            "scene",
            "iframes:2",
            "every",
        ] {
            let e = bad.parse::<KeyframeStrategy>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn frame_size_parses() {
        assert_eq!(
            "144x256".parse::<FrameSize>().unwrap(),
            FrameSize::new(144, 256)
        );
        assert_eq!(
            " 432X768 ".parse::<FrameSize>().unwrap(),
            FrameSize::new(432, 768)
        );
        for bad in ["144", "145x256", "0x0", "axb", "144x99999"] {
            assert!(bad.parse::<FrameSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn options_are_a_config_section() {
        let o: ExtractOptions =
            toml::from_str("strategy = \"scene:0.25\"\nmodel_size = \"144x256\"\nmax_frames = 6\n")
                .unwrap();
        assert_eq!(o.strategy, KeyframeStrategy::Scene(0.25));
        assert_eq!(o.max_frames, 6);
        assert_eq!(o.view_size, ExtractOptions::default().view_size);
        let e =
            toml::from_str::<ExtractOptions>("strategy = \"uniform:4\"\nmodle_size = \"1x1\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("modle_size"), "{e}");
        let e = toml::from_str::<ExtractOptions>("strategy = \"frames\"\n").unwrap_err();
        assert!(e.to_string().contains("frames"), "{e}");
        let back: ExtractOptions = toml::from_str(&toml::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
