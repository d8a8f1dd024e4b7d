//! An unpacked archive as a data directory: what `replay --rerun` needs in place of the
//! corpus, the store, the call cache and the image store of the machine that ran it.

use std::io::BufRead;
use std::path::Path;

use base64::Engine;
use scrollsim_media::ImageStore;
use scrollsim_store::{Backend, CollectionSpec, StoreConfig, VideoPoint};
use scrollsim_vlm::recordings::CallCache;
use scrollsim_vlm::JudgeEnv;

use crate::error::io;
use crate::layout;
use crate::write::{CallLine, VideoLine};
use crate::{Opened, PackError};

/// The restored data directory's store settings.
#[derive(Debug, Clone)]
pub struct Restored {
    /// An embedded store over the data directory holding the shown videos.
    pub store: StoreConfig,
    pub videos: usize,
    pub calls: usize,
    pub keyframes: usize,
    /// The run's text embedder as recorded (trait vectors only), when the archive holds it.
    pub text_embedder: Option<std::sync::Arc<crate::PackedEmbedder>>,
}

pub(crate) fn f32s(b64: &str, what: &str) -> Result<Vec<f32>, PackError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| PackError::Mismatch(format!("{}: {what}: {e}", layout::VIDEOS)))?;
    if bytes.len() % 4 != 0 {
        return Err(PackError::Mismatch(format!(
            "{}: {what}: not a whole number of f32",
            layout::VIDEOS
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The non-empty lines of a member, streamed.
fn lines(path: &Path) -> Result<impl Iterator<Item = Result<String, PackError>>, PackError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    let path = path.to_path_buf();
    Ok(std::io::BufReader::new(f)
        .lines()
        .map(move |l| l.map_err(io(&path)))
        .filter(|l| !l.as_ref().is_ok_and(|l| l.trim().is_empty())))
}

/// Videos upserted at a time while restoring.
const BATCH: usize = 512;

/// Fills the empty data directory `data` from an opened archive: the keyframes into its image
/// store, the recorded calls into its call cache, the shown videos (payloads and vectors) into
/// an embedded store whose collection is named as the run's corpus was. `base` gives the store
/// settings other than backend, collection and shards.
pub async fn restore_data_dir(
    packed: &Opened,
    data: &Path,
    base: &StoreConfig,
) -> Result<Restored, PackError> {
    let folder = &packed.folder;
    let images = ImageStore::open(&ImageStore::default_path(data))?;
    let packed_images = ImageStore::open(&folder.join(layout::KEYFRAMES))?;
    let mut keyframes = 0;
    for m in &packed.manifest.members {
        let Some(name) = m.path.strip_prefix(&format!("{}/", layout::KEYFRAMES)) else {
            continue;
        };
        let hash = name
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".jpg"))
            .and_then(|h| scrollsim_core::ImageHash::try_from(h.to_string()).ok())
            .ok_or_else(|| PackError::Mismatch(format!("{}: not a keyframe name", m.path)))?;
        images.put(&packed_images.get(&hash)?)?;
        keyframes += 1;
    }

    let calls_path = JudgeEnv::default_cache_path(data);
    let mut calls = 0;
    {
        let cache = CallCache::open(&calls_path).map_err(|e| PackError::Calls(e.to_string()))?;
        for (i, l) in lines(&folder.join(layout::CALLS))?.enumerate() {
            let c: CallLine = serde_json::from_str(&l?).map_err(|e| {
                PackError::Mismatch(format!("{} line {}: {e}", layout::CALLS, i + 1))
            })?;
            cache
                .put(&c.key, &c.recording)
                .await
                .map_err(|e| PackError::Calls(e.to_string()))?;
            calls += 1;
        }
    }

    let collection = packed
        .manifest
        .corpus
        .split(':')
        .next()
        .unwrap_or("videos")
        .to_string();
    let store = StoreConfig {
        backend: Backend::Embedded,
        collection: collection.clone(),
        shards: 1,
        ..base.clone()
    };
    let mut videos = 0;
    let mut opened: Option<std::sync::Arc<dyn scrollsim_store::VideoStore>> = None;
    let mut points = Vec::with_capacity(BATCH);
    let mut all = lines(&folder.join(layout::VIDEOS))?.enumerate().peekable();
    while let Some((i, l)) = all.next() {
        let v: VideoLine = serde_json::from_str(&l?)
            .map_err(|e| PackError::Mismatch(format!("{} line {}: {e}", layout::VIDEOS, i + 1)))?;
        points.push(VideoPoint {
            text: f32s(&v.text_f32le, "text vector")?,
            image: v
                .image_f32le
                .as_deref()
                .map(|b| f32s(b, "image vector"))
                .transpose()?,
            video: v.video,
        });
        if points.len() < BATCH && all.peek().is_some() {
            continue;
        }
        let s = match &opened {
            Some(s) => s.clone(),
            None => {
                let first = &points[0];
                let spec = CollectionSpec {
                    name: collection.clone(),
                    text_dim: first.text.len(),
                    image_dim: first.image.as_ref().map(Vec::len),
                };
                let s = scrollsim_store::open_store(&store, data).await?;
                s.open_collection(&spec).await?;
                opened.insert(s).clone()
            }
        };
        videos += points.len();
        s.upsert(std::mem::take(&mut points)).await?;
    }
    if let Some(s) = &opened {
        s.wait_indexed().await?;
    }
    let recorded = folder.join(layout::EMBEDDINGS);
    let text_embedder = if recorded.is_file() {
        let bytes = std::fs::read(&recorded).map_err(io(&recorded))?;
        let e = serde_json::from_slice(&bytes)
            .map_err(|e| PackError::Mismatch(format!("{}: {e}", layout::EMBEDDINGS)))?;
        Some(crate::PackedEmbedder::new(&e)?)
    } else {
        None
    };
    Ok(Restored {
        text_embedder,
        store,
        videos,
        calls,
        keyframes,
    })
}
