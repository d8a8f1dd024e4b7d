//! Pictures of known content made on the fly for the probe: each a square of one colour, so a
//! model that sees them can name them and a model that does not can only guess.

use std::sync::Arc;

use image::{ImageFormat, Rgb, RgbImage};
use scrollsim_core::ImageHash;
use sha2::{Digest, Sha256};

use crate::chat::ImagePart;

/// Colours a small vision model names reliably, far apart from each other.
pub const COLOURS: [(&str, [u8; 3]); 6] = [
    ("red", [220, 30, 30]),
    ("blue", [30, 60, 220]),
    ("yellow", [245, 220, 30]),
    ("green", [30, 170, 60]),
    ("black", [10, 10, 10]),
    ("white", [250, 250, 250]),
];

/// A PNG filled with one colour.
pub fn colour_picture(rgb: [u8; 3]) -> ImagePart {
    let img = RgbImage::from_pixel(128, 128, Rgb(rgb));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    let hash: ImageHash = hex::encode(Sha256::digest(&bytes))
        .parse()
        .expect("a SHA-256 hex digest is an image hash");
    ImagePart {
        hash,
        mime: "image/png",
        bytes: Arc::from(bytes),
    }
}

/// `n` pictures, the colours in a fixed order starting at `offset` (so the one-picture call
/// and the several-picture call do not share an answer), with their names.
pub fn pictures(n: usize, offset: usize) -> (Vec<ImagePart>, Vec<&'static str>) {
    (0..n)
        .map(|i| {
            let (name, rgb) = COLOURS[(i + offset) % COLOURS.len()];
            (colour_picture(rgb), name)
        })
        .unzip()
}

/// Whether `answer` names `expected` in order (each name found after the previous one).
pub fn names_in_order(answer: &str, expected: &[&str]) -> bool {
    let answer = answer.to_lowercase();
    let mut from = 0;
    for name in expected {
        match answer[from..].find(name) {
            Some(i) => from += i + name.len(),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_distinct_pngs_and_answers_are_checked_in_order() {
        let (imgs, names) = pictures(3, 1);
        assert_eq!(names, ["blue", "yellow", "green"]);
        assert!(imgs[0].bytes.starts_with(b"\x89PNG"));
        assert_ne!(imgs[0].hash, imgs[1].hash);
        assert!(names_in_order("Blue, yellow, green.", &names));
        assert!(names_in_order("1. dark blue 2. yellow 3. green", &names));
        assert!(!names_in_order("yellow, blue, green", &names));
        assert!(!names_in_order("I cannot see any pictures.", &names));
    }
}
