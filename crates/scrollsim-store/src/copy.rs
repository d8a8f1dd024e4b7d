//! A collection copied from one store to another (an ingested embedded store to a server or a
//! cluster) with its videos and vectors as stored: ingest once, embed once, serve anywhere.
//! Point ids derive from video ids, so a copy that stopped half way is finished by running it
//! again, and copying into a collection that holds some of the videos replaces them. Each point
//! keeps the content digest its source recorded, so a complete copy into an empty collection
//! has the source's corpus id (and a run recorded on one resumes on the other).

use std::collections::HashMap;

use crate::{
    schema, CollectionSpec, CopiedPoint, Result, ScrollRequest, StoreError, VectorName, VideoPoint,
    VideoStore,
};

/// What a copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub videos: u64,
    pub text_dim: usize,
    pub image_dim: Option<usize>,
}

/// Copies every video of `from` (its open collection) into the collection `to_collection` of
/// `to`, `page` videos at a time, creating it with the source's vector dimensions when missing;
/// waits until `to` has indexed them. `progress` gets the number of videos copied so far.
pub async fn copy_collection(
    from: &dyn VideoStore,
    to: &dyn VideoStore,
    to_collection: &str,
    page: usize,
    progress: impl Fn(u64),
) -> Result<Copied> {
    // Read once: the digests are what the corpus id is made of, and a copy must not recompute
    // them from the vectors it reads back (an engine may have renormalised those on write).
    let mut digests: HashMap<_, _> = from.content_digests().await?.into_iter().collect();
    let mut offset = None;
    let mut image_vectors = true;
    let mut done = Copied {
        videos: 0,
        text_dim: 0,
        image_dim: None,
    };
    loop {
        let got = from
            .scroll(&ScrollRequest {
                offset: offset.take(),
                limit: page.max(1),
                ..Default::default()
            })
            .await?;
        if got.videos.is_empty() {
            break;
        }
        let ids: Vec<_> = got.videos.iter().map(|v| v.id.clone()).collect();
        let mut text: HashMap<_, _> = from
            .vectors(&ids, VectorName::Text)
            .await?
            .into_iter()
            .collect();
        let mut image = HashMap::new();
        if image_vectors {
            match from.vectors(&ids, VectorName::Image).await {
                Ok(found) => image.extend(found),
                // The collection has no image vectors (no image embedder at ingest).
                Err(StoreError::InvalidRequest(_)) if done.videos == 0 => image_vectors = false,
                Err(e) => return Err(e),
            }
        }
        let points = got
            .videos
            .into_iter()
            .map(|video| {
                let text = text.remove(&video.id).ok_or_else(|| {
                    StoreError::InvalidRequest(format!(
                        "copy: video {} has no text vector in the source store",
                        video.id
                    ))
                })?;
                let digest = digests
                    .remove(&schema::point_id(&video.id))
                    .ok_or_else(|| {
                        StoreError::InvalidRequest(format!(
                            "copy: video {} has no content digest in the source store \
                         (was it written while the copy ran?)",
                            video.id
                        ))
                    })?;
                let image = image.remove(&video.id);
                Ok(CopiedPoint {
                    point: VideoPoint { video, text, image },
                    digest,
                })
            })
            .collect::<Result<Vec<CopiedPoint>>>()?;
        if done.videos == 0 {
            done.text_dim = points[0].point.text.len();
            done.image_dim = points
                .iter()
                .find_map(|p| p.point.image.as_ref().map(Vec::len));
            to.open_collection(&CollectionSpec {
                name: to_collection.to_string(),
                text_dim: done.text_dim,
                image_dim: done.image_dim,
            })
            .await?;
        }
        done.videos += to.upsert_copies(points).await? as u64;
        progress(done.videos);
        match got.next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    if done.videos > 0 {
        to.wait_indexed().await?;
    }
    Ok(done)
}
