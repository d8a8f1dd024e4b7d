//! Keyframe bytes for requests, and the per-model image budget: too many images, an image too
//! large, or a request too big for the provider is a clear error naming the video, the limit
//! and the config key, never a silent drop.

use std::io::Cursor;
use std::sync::Arc;

use scrollsim_core::{ImageHash, Video};

use crate::chat::ImagePart;
use crate::config::ImageBudget;

/// Where keyframe JPEGs are read from by hash (the media crate's content-addressed store).
pub trait ImageSource: Send + Sync {
    fn load(&self, hash: &ImageHash) -> Result<Vec<u8>, LoadImageError>;
}

/// Why a keyframe could not be read from its source.
pub type LoadImageError = Box<dyn std::error::Error + Send + Sync>;

impl ImageSource for scrollsim_media::ImageStore {
    fn load(&self, hash: &ImageHash) -> Result<Vec<u8>, LoadImageError> {
        Ok(self.get(hash)?)
    }
}

/// An image budget violation, worded for the researcher who has to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ImageBudgetError(pub String);

/// Loads a video's keyframes (model-size JPEGs, in order) and checks them against the budget.
/// `model` names the `[judge.models.<name>]` entry for messages.
pub fn load_keyframes(
    source: &dyn ImageSource,
    video: &Video,
    budget: &ImageBudget,
    model: &str,
) -> Result<Vec<ImagePart>, LoadError> {
    let n = video.keyframes.len();
    if n == 0 {
        return Err(LoadError::Missing(format!(
            "video {} has no keyframes: a VLM judge needs at least one (re-ingest it, or use the text-only strategy)",
            video.id
        )));
    }
    if n > budget.max_images {
        return Err(LoadError::Budget(ImageBudgetError(format!(
            "video {} has {n} keyframes but model `{model}` allows at most {} images per request: lower the keyframes per video at ingest or raise judge.models.{model}.images.max_images if the provider allows it",
            video.id, budget.max_images
        ))));
    }
    let side_limit = match budget.max_side_px_many {
        Some(many) if n > budget.many_threshold => Some(many),
        _ => budget.max_side_px,
    };
    let mut parts = Vec::with_capacity(n);
    let mut encoded = 0usize;
    for (i, kf) in video.keyframes.iter().enumerate() {
        let bytes = source.load(&kf.hash).map_err(|e| {
            LoadError::Missing(format!(
                "video {} keyframe {i} ({}): {e}",
                video.id, kf.hash
            ))
        })?;
        let mime = sniff_mime(&bytes).ok_or_else(|| {
            LoadError::Missing(format!(
                "video {} keyframe {i} ({}) is not a JPEG, PNG or WebP image",
                video.id, kf.hash
            ))
        })?;
        if let Some(limit) = side_limit {
            let (w, h) = dimensions(&bytes).map_err(|e| {
                LoadError::Missing(format!(
                    "video {} keyframe {i} ({}): cannot read the image size: {e}",
                    video.id, kf.hash
                ))
            })?;
            if w.max(h) > limit {
                return Err(LoadError::Budget(ImageBudgetError(format!(
                    "video {} keyframe {i} is {w}x{h} px but model `{model}` allows at most {limit} px a side with {n} images per request: store smaller model-size keyframes or set judge.models.{model}.images.max_side_px",
                    video.id
                ))));
            }
        }
        encoded += bytes.len().div_ceil(3) * 4;
        parts.push(ImagePart {
            hash: kf.hash.clone(),
            mime,
            bytes: Arc::from(bytes),
        });
    }
    if encoded > budget.max_request_bytes {
        return Err(LoadError::Budget(ImageBudgetError(format!(
            "video {}: {n} keyframes are {encoded} bytes as base64 but model `{model}` allows {} bytes per request: use fewer or smaller keyframes or set judge.models.{model}.images.max_request_bytes",
            video.id, budget.max_request_bytes
        ))));
    }
    Ok(parts)
}

/// Why keyframes could not be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Budget(ImageBudgetError),
    /// Missing, unreadable or not an image.
    #[error("{0}")]
    Missing(String),
}

fn sniff_mime(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Width and height from the image header (no full decode).
fn dimensions(bytes: &[u8]) -> Result<(u32, u32), image::ImageError> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()?
        .into_dimensions()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Mem(HashMap<ImageHash, Vec<u8>>);
    impl ImageSource for Mem {
        fn load(&self, h: &ImageHash) -> Result<Vec<u8>, LoadImageError> {
            self.0
                .get(h)
                .cloned()
                .ok_or_else(|| "not in the store".into())
        }
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn video(hashes: &[ImageHash]) -> Video {
        serde_json::from_value(serde_json::json!({
            "id": "v1",
            "value_scores": scrollsim_core::PerValue::<f32>::default(),
            "keyframes": hashes.iter().map(|h| serde_json::json!({"hash": h})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn hash(i: u8) -> ImageHash {
        format!("{:064x}", i).parse().unwrap()
    }

    #[test]
    fn budget_errors_name_the_limit() {
        let store = Mem((0..3).map(|i| (hash(i), jpeg(144, 256))).collect());
        let hs: Vec<_> = (0..3).map(hash).collect();
        let mut b = crate::config::ProviderKind::Anthropic.default_images();
        let parts = load_keyframes(&store, &video(&hs), &b, "claude").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].mime, "image/jpeg");
        b.max_images = 2;
        let e = load_keyframes(&store, &video(&hs), &b, "claude")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("3 keyframes") && e.contains("judge.models.claude.images.max_images"),
            "{e}"
        );
        b.max_images = 10;
        b.max_side_px = Some(200);
        let e = load_keyframes(&store, &video(&hs), &b, "claude")
            .unwrap_err()
            .to_string();
        assert!(e.contains("144x256") && e.contains("200 px"), "{e}");
        b.max_side_px = None;
        b.max_request_bytes = 100;
        let e = load_keyframes(&store, &video(&hs), &b, "claude").unwrap_err();
        assert!(matches!(e, LoadError::Budget(_)));
        let e = load_keyframes(&store, &video(&[hash(9)]), &b, "claude").unwrap_err();
        assert!(matches!(e, LoadError::Missing(m) if m.contains("not in the store")));
    }
}
