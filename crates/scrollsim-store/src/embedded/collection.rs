//! One open collection: its qdrant-edge shards, routing points to them, running work on every
//! shard, and finishing its indexes.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};
use qdrant_edge::CreateIndex;
use qdrant_edge::{
    EdgeShard, FieldIndexOperations, PointId, Record, ScrollRequest, UpdateOperation,
    WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::cache::VideoCache;
use super::convert::{embedded_err, index_schema, json_path, uuid_of};
use crate::schema::{self, field, IndexKind};
use crate::{CollectionSpec, Result, StoreError};

/// One open collection: its qdrant-edge shards and what we keep beside them.
pub(super) struct Collection {
    pub(super) path: PathBuf,
    pub(super) spec: CollectionSpec,
    /// Points are routed by id (`shard_of`); fixed when the collection is created.
    pub(super) shards: Vec<EdgeShard>,
    /// Serialises writes, flushes and optimisation (see the module doc).
    pub(super) write: Mutex<()>,
    /// All payload indexes exist (set by `finish_indexing`, read before every query).
    pub(super) indexed: AtomicBool,
    /// Parsed videos by point id (see `VideoCache`).
    pub(super) cache: RwLock<VideoCache>,
    /// Held for the life of the collection: one process per collection.
    pub(super) _lock: File,
}

impl Collection {
    pub(super) fn err(&self, e: impl std::fmt::Display) -> StoreError {
        embedded_err(&self.path, e)
    }

    /// The shard a point lives in. Point ids are name-based UUIDs (SHA-1), so their low bits
    /// spread points evenly.
    pub(super) fn shard_of(&self, id: &Uuid) -> usize {
        (id.as_u128() % self.shards.len() as u128) as usize
    }

    /// Splits items by the shard their id picks (one list per shard, in shard order).
    pub(super) fn route<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        id: impl Fn(&T) -> Uuid,
    ) -> Vec<Vec<T>> {
        let mut out: Vec<Vec<T>> = self.shards.iter().map(|_| Vec::new()).collect();
        for item in items {
            out[self.shard_of(&id(&item))].push(item);
        }
        out
    }

    /// Runs `f` on every shard with its share of the work, each shard on its own thread (the
    /// caller is already on the blocking pool). Shards with no work are skipped.
    pub(super) fn in_parallel<T: Send>(
        &self,
        work: Vec<Vec<T>>,
        f: impl Fn(&EdgeShard, Vec<T>) -> Result<()> + Sync,
    ) -> Result<()> {
        let mut jobs: Vec<(&EdgeShard, Vec<T>)> = self
            .shards
            .iter()
            .zip(work)
            .filter(|(_, w)| !w.is_empty())
            .collect();
        if jobs.len() <= 1 {
            return jobs.pop().map_or(Ok(()), |(edge, w)| f(edge, w));
        }
        std::thread::scope(|scope| {
            let f = &f;
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(edge, w)| scope.spawn(move || f(edge, w)))
                .collect();
            // Join every thread before looking at results: an unjoined panicked thread would
            // make the scope itself panic.
            let results: Vec<Result<()>> = handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(self.err("a shard's worker thread panicked")))
                })
                .collect();
            results.into_iter().collect()
        })
    }

    /// Runs `f` on every shard, each on its own thread (see `in_parallel`).
    pub(super) fn each_shard(&self, f: impl Fn(&EdgeShard) -> Result<()> + Sync) -> Result<()> {
        let all = self.shards.iter().map(|_| vec![()]).collect();
        self.in_parallel(all, |edge, _| f(edge))
    }

    /// Flushes every shard (in parallel): what was written is durable on return.
    pub(super) fn flush(&self) -> Result<()> {
        self.each_shard(|edge| {
            edge.flush();
            Ok(())
        })
    }

    /// Runs one scroll on every shard (one after another, as queries do) and returns all their
    /// records; callers merge them in their order.
    pub(super) fn scroll_each(&self, req: ScrollRequest) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for edge in &self.shards {
            let (records, _next) = edge.scroll(req.clone()).map_err(|e| self.err(e))?;
            out.extend(records);
        }
        Ok(out)
    }

    /// Appends every point of one shard with its content digest, in pages.
    pub(super) fn digests_in(&self, edge: &EdgeShard, out: &mut Vec<(Uuid, u64)>) -> Result<()> {
        let mut offset = None;
        loop {
            let (records, next) = edge
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(10_000),
                    filter: None,
                    with_payload: Some(WithPayloadInterface::Fields(vec![json_path(
                        field::DIGEST,
                    )])),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(|e| self.err(e))?;
            for r in records {
                let digest = r
                    .payload
                    .as_ref()
                    .and_then(|p| schema::digest_of(&p.0))
                    .ok_or_else(|| {
                        self.err(format!(
                            "point {} has no digest: not written by scrollsim",
                            r.id
                        ))
                    })?;
                out.push((uuid_of(self, &r.id)?, digest));
            }
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// Points by id, each from its shard (unknown ids left out, order not kept).
    pub(super) fn retrieve(
        &self,
        ids: Vec<Uuid>,
        with_payload: WithPayloadInterface,
        with_vector: WithVector,
    ) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(ids.len());
        for (edge, share) in self.shards.iter().zip(self.route(ids, |u| *u)) {
            if share.is_empty() {
                continue;
            }
            let pids: Vec<PointId> = share.into_iter().map(PointId::Uuid).collect();
            out.extend(
                edge.retrieve(&pids, Some(with_payload.clone()), Some(with_vector.clone()))
                    .map_err(|e| self.err(e))?,
            );
        }
        Ok(out)
    }

    /// Points in the collection.
    pub(super) fn points(&self) -> usize {
        self.shards.iter().map(|e| e.info().points_count).sum()
    }

    /// Payload indexes a qdrant-edge shard does not have yet.
    pub(super) fn missing_indexes(edge: &EdgeShard) -> Vec<(String, IndexKind)> {
        let have = edge.info().payload_schema;
        schema::payload_indexes()
            .into_iter()
            .filter(|(key, _)| !have.keys().any(|k| k.to_string() == *key))
            .collect()
    }

    /// Every shard has every payload index.
    pub(super) fn has_all_indexes(&self) -> bool {
        self.shards
            .iter()
            .all(|e| Self::missing_indexes(e).is_empty())
    }

    /// Creates any missing payload indexes, then builds the HNSW index over what was written
    /// (blocking). Deferring the payload indexes to here keeps them out of bulk upserts;
    /// creating them before the HNSW build lets the graph carry links for the keyword fields
    /// (see `IndexKind::graph_links`): without them a platform filter could strand the graph
    /// search on a few points (seen as one result instead of ten).
    pub(super) fn finish_indexing(&self) -> Result<()> {
        let _w = self.write.lock();
        let started = std::time::Instant::now();
        let changed = std::sync::atomic::AtomicBool::new(false);
        self.each_shard(|edge| {
            let missing = Self::missing_indexes(edge);
            for (key, kind) in &missing {
                edge.update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: json_path(key),
                        field_schema: Some(index_schema(*kind)),
                    }),
                ))
                .map_err(|e| self.err(format!("creating payload index {key}: {e}")))?;
            }
            // Returns at once when no segment is over the indexing threshold.
            let optimized = edge
                .optimize()
                .map_err(|e| self.err(format!("building the index: {e}")))?;
            if optimized || !missing.is_empty() {
                edge.flush();
                changed.store(true, Ordering::Relaxed);
            }
            Ok(())
        })?;
        if changed.into_inner() {
            tracing::info!(
                "embedded store {}: indexed {} points in {:.1} s",
                self.path.display(),
                self.points(),
                started.elapsed().as_secs_f64()
            );
        }
        self.indexed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
