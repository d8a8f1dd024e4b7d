//! Parsed videos by point id, and reading videos through that cache.

use std::collections::HashMap;
use std::sync::Arc;

use qdrant_edge::{PointId, WithVector};
use scrollsim_core::Video;
use uuid::Uuid;

use super::collection::Collection;
use super::convert::{uuid_of, video_of};
use crate::Result;

/// Parsed videos by point id. Reading a payload back means a JSON parse of ~1 KB per video
/// (three quarters of a search's cost at 50k videos); the cache makes repeat hits a clone.
/// It stays exact because one process owns the collection (the file lock) and every write
/// invalidates what it touches (see `Collection::invalidate`). Bounded: when full it starts over.
pub(super) struct VideoCache {
    pub(super) map: HashMap<Uuid, Arc<Video>>,
    /// Bumped by every write, so a read that raced a write does not cache what it read.
    pub(super) generation: u64,
    pub(super) capacity: usize,
}

impl VideoCache {
    pub(super) fn new(capacity: usize) -> Self {
        VideoCache {
            map: HashMap::new(),
            generation: 0,
            capacity,
        }
    }
}

impl Collection {
    /// Forgets cached videos a write changed; call after the write is applied.
    pub(super) fn invalidate(&self, ids: impl IntoIterator<Item = Uuid>) {
        let mut c = self.cache.write();
        c.generation += 1;
        for id in ids {
            c.map.remove(&id);
        }
    }

    /// Videos for point ids, in order; ids with no point are `None`.
    pub(super) fn resolve(&self, ids: &[Uuid]) -> Result<Vec<Option<Arc<Video>>>> {
        let (mut out, generation) = {
            let c = self.cache.read();
            (
                ids.iter()
                    .map(|id| c.map.get(id).cloned())
                    .collect::<Vec<_>>(),
                c.generation,
            )
        };
        let missing: Vec<Uuid> = ids
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let mut fetched = HashMap::with_capacity(missing.len());
        for r in self.retrieve(
            missing,
            super::convert::with_video(),
            WithVector::Bool(false),
        )? {
            fetched.insert(
                uuid_of(self, &r.id)?,
                Arc::new(video_of(self, &r.id, r.payload)?),
            );
        }
        for (id, slot) in ids.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                *slot = fetched.get(id).cloned();
            }
        }
        let mut c = self.cache.write();
        if c.generation == generation && c.capacity > 0 {
            if c.map.len() + fetched.len() > c.capacity {
                c.map.clear();
            }
            c.map.extend(fetched);
        }
        Ok(out)
    }

    /// Pairs engine hits with their videos, dropping any deleted meanwhile.
    pub(super) fn with_videos<T>(&self, hits: Vec<(Uuid, T)>) -> Result<Vec<(Uuid, T, Video)>> {
        let ids: Vec<Uuid> = hits.iter().map(|h| h.0).collect();
        let videos = self.resolve(&ids)?;
        Ok(hits
            .into_iter()
            .zip(videos)
            .filter_map(|((id, t), v)| v.map(|v| (id, t, Video::clone(&v))))
            .collect())
    }

    /// The videos of scrolled points, in order (dropping any deleted meanwhile).
    pub(super) fn videos_of<'a>(
        &self,
        ids: impl Iterator<Item = &'a PointId>,
    ) -> Result<Vec<(Uuid, Video)>> {
        let ids = ids
            .map(|id| Ok((uuid_of(self, id)?, ())))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .with_videos(ids)?
            .into_iter()
            .map(|(id, (), v)| (id, v))
            .collect())
    }
}
