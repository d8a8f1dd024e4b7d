//! Display orientation: how a stored picture must be turned to come out upright, from the
//! stream's display matrix, an old-style `rotate` tag, or a JPEG's EXIF orientation.

/// One of the eight right-angle turns and mirrors of a picture (the dihedral group D4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orientation {
    #[default]
    Identity,
    /// Turn 90 degrees clockwise (a portrait phone video stored landscape).
    Rotate90,
    Rotate180,
    /// Turn 90 degrees counter-clockwise.
    Rotate270,
    /// Mirror left-right.
    FlipH,
    /// Mirror top-bottom.
    FlipV,
    /// Mirror across the main diagonal (FFmpeg's `transpose=cclock_flip`).
    Transpose,
    /// Mirror across the anti-diagonal (FFmpeg's `transpose=clock_flip`).
    AntiTranspose,
}

impl Orientation {
    /// From an `AV_PKT_DATA_DISPLAYMATRIX` side-data blob (nine native-endian `i32`s). The
    /// decision mirrors the `ffmpeg` command line's autorotation, so in-process frames come out
    /// the way `ffmpeg -i` shows them. Angles that are not right angles are ignored.
    pub fn from_display_matrix(bytes: &[u8]) -> Option<Orientation> {
        if bytes.len() < 36 {
            return None;
        }
        let m: Vec<i32> = bytes[..36]
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let fp = |x: i32| f64::from(x) / 65536.0;
        let (s0, s1) = (fp(m[0]).hypot(fp(m[3])), fp(m[1]).hypot(fp(m[4])));
        if s0 == 0.0 || s1 == 0.0 {
            return None;
        }
        // av_display_rotation_get() is counter-clockwise; the CLI negates and wraps to [0, 360).
        let ccw = -(fp(m[1]) / s1).atan2(fp(m[0]) / s0).to_degrees();
        let mut theta = -ccw.round();
        theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
        let near = |a: f64| (theta - a).abs() < 1.0;
        Some(if near(90.0) {
            if m[3] > 0 {
                Orientation::Transpose
            } else {
                Orientation::Rotate90
            }
        } else if near(180.0) {
            match (m[0] < 0, m[4] < 0) {
                (true, true) => Orientation::Rotate180,
                (true, false) => Orientation::FlipH,
                (false, true) => Orientation::FlipV,
                (false, false) => Orientation::Identity,
            }
        } else if near(270.0) {
            if m[3] < 0 {
                Orientation::AntiTranspose
            } else {
                Orientation::Rotate270
            }
        } else if near(0.0) || near(360.0) {
            if m[4] < 0 {
                Orientation::FlipV
            } else {
                Orientation::Identity
            }
        } else {
            return None;
        })
    }

    /// From a `rotate` metadata tag: degrees clockwise.
    pub fn from_rotate_tag(tag: &str) -> Option<Orientation> {
        let deg = tag.trim().parse::<f64>().ok()?;
        match (deg.round() as i64).rem_euclid(360) {
            0 => Some(Orientation::Identity),
            90 => Some(Orientation::Rotate90),
            180 => Some(Orientation::Rotate180),
            270 => Some(Orientation::Rotate270),
            _ => None,
        }
    }

    /// From a JPEG's EXIF `Orientation` value (1 to 8).
    pub fn from_exif(value: &str) -> Option<Orientation> {
        Some(match value.trim() {
            "1" => Orientation::Identity,
            "2" => Orientation::FlipH,
            "3" => Orientation::Rotate180,
            "4" => Orientation::FlipV,
            "5" => Orientation::Transpose,
            "6" => Orientation::Rotate90,
            "7" => Orientation::AntiTranspose,
            "8" => Orientation::Rotate270,
            _ => return None,
        })
    }

    /// Whether width and height trade places.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Orientation::Rotate90
                | Orientation::Rotate270
                | Orientation::Transpose
                | Orientation::AntiTranspose
        )
    }

    /// The clockwise turn in degrees (0, 90, 180 or 270), ignoring any mirror.
    pub fn rotation_degrees(self) -> i32 {
        match self {
            Orientation::Identity | Orientation::FlipH => 0,
            Orientation::Rotate90 | Orientation::AntiTranspose => 90,
            Orientation::Rotate180 | Orientation::FlipV => 180,
            Orientation::Rotate270 | Orientation::Transpose => 270,
        }
    }

    /// Whether the turn includes a mirror.
    pub fn is_mirrored(self) -> bool {
        matches!(
            self,
            Orientation::FlipH
                | Orientation::FlipV
                | Orientation::Transpose
                | Orientation::AntiTranspose
        )
    }

    /// The FFmpeg filters that apply it (empty for identity).
    pub fn filters(self) -> &'static str {
        match self {
            Orientation::Identity => "",
            Orientation::Rotate90 => "transpose=clock",
            Orientation::Rotate180 => "hflip,vflip",
            Orientation::Rotate270 => "transpose=cclock",
            Orientation::FlipH => "hflip",
            Orientation::FlipV => "vflip",
            Orientation::Transpose => "transpose=cclock_flip",
            Orientation::AntiTranspose => "transpose=clock_flip",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// av_display_rotation_set(): a clockwise rotation by `angle` degrees.
    fn rotation_set(angle: f64) -> Vec<u8> {
        let r = -angle.to_radians();
        let fp = |x: f64| (x * 65536.0).round() as i32;
        let m = [
            fp(r.cos()),
            fp(-r.sin()),
            0,
            fp(r.sin()),
            fp(r.cos()),
            0,
            0,
            0,
            1 << 30,
        ];
        m.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn display_matrix_matches_the_cli() {
        // A matrix for a clockwise turn by `a` is undone by turning counter-clockwise by `a`:
        // that is what ffprobe reports as "rotation=-a" and the CLI fixes with transpose.
        assert_eq!(
            Orientation::from_display_matrix(&rotation_set(0.0)),
            Some(Orientation::Identity)
        );
        assert_eq!(
            Orientation::from_display_matrix(&rotation_set(90.0)),
            Some(Orientation::Rotate90)
        );
        assert_eq!(
            Orientation::from_display_matrix(&rotation_set(-90.0)),
            Some(Orientation::Rotate270)
        );
        assert_eq!(
            Orientation::from_display_matrix(&rotation_set(180.0)),
            Some(Orientation::Rotate180)
        );
        assert_eq!(Orientation::from_display_matrix(&rotation_set(33.0)), None);
        assert_eq!(Orientation::from_display_matrix(&[0; 8]), None);
        // A horizontal mirror: [-1 0; 0 1].
        let mirror: Vec<u8> = [-65536i32, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(
            Orientation::from_display_matrix(&mirror),
            Some(Orientation::FlipH)
        );
    }

    #[test]
    fn tags_and_exif() {
        assert_eq!(
            Orientation::from_rotate_tag("90"),
            Some(Orientation::Rotate90)
        );
        assert_eq!(
            Orientation::from_rotate_tag("-90"),
            Some(Orientation::Rotate270)
        );
        assert_eq!(Orientation::from_rotate_tag("x"), None);
        assert_eq!(Orientation::from_exif("6"), Some(Orientation::Rotate90));
        assert_eq!(Orientation::from_exif("9"), None);
        assert!(Orientation::Rotate90.swaps_axes() && !Orientation::Rotate180.swaps_axes());
        assert_eq!(Orientation::Transpose.rotation_degrees(), 270);
    }
}
