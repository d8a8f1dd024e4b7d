//! The embedded engine: qdrant-edge (the Qdrant engine in-process). A collection lives under
//! `<data>/qdrant/<collection>` as `store.shards` qdrant-edge shards (`shard-0`, `shard-1`, ...;
//! their count in the file `shards`, fixed at creation). A point lives in the shard its id
//! picks ([`Collection::shard_of`]); writes, flushes and index builds run on every shard at once,
//! one thread each; queries ask every shard and merge (by score, id or key). A collection
//! written before shards existed (`edge_config.json` at its root) opens as one shard.
//!
//! One shard is the default: two build the HNSW index about 1.4-1.8x faster on 2 cores, but
//! upsert slower (12.5k against 17k points/s at 50,000 videos) and queries pay a second graph
//! walk. The write path is CPU-bound in qdrant-edge itself: about 40 % of its `update` is encoding
//! the write-ahead log record (every float, one CBOR call each), which 0.7.2 never replays.
//!
//! Quirks of qdrant-edge 0.7.2 handled here:
//! - No background optimizer: HNSW indexes are built by `EdgeShard::optimize`, which we run in
//!   `wait_indexed`, when opening a collection with an unindexed backlog, and before the first
//!   query after writes that were never indexed.
//! - Payload indexes on the appendable segment cost ~250k instructions per upserted point
//!   (16 numeric indexes kept in gridstore, point by point): two thirds of the upsert. A new
//!   collection therefore starts without them; `Collection::finish_indexing` creates them and
//!   then builds the HNSW index, once per immutable segment (so the graph carries links for
//!   keyword filters). Writes to a collection that has them (incremental ingest) keep them
//!   current point by point.
//! - No WAL replay on load: durability comes from flushing segments, done after every write.
//! - `EdgeShard::flush` panics if it meets a concurrent writer (`try_lock`), so writes,
//!   flushes and optimisation are serialised by our own mutex (per collection; each shard's
//!   share runs on its own thread under it).
//! - Nothing stops two processes opening the same collection: we hold an OS file lock.
//!
//! Reads run inline on the calling task: they are short and CPU-bound, and moving them to the
//! blocking pool costs more than they take (measured in `scrollsim bench store`). Writes and
//! index builds run on the blocking pool.
//!
//! Layout: the engine and its queries (this file), one open collection and its shards
//! (`collection`), the cache of parsed videos (`cache`), the collection's files on disk
//! (`layout`), and conversions to and from qdrant-edge's types (`convert`).

mod cache;
mod collection;
mod convert;
mod layout;

use collection::Collection;
use convert::{edge_point, embedded_err, json_path, uuid_of};
use layout::load_collection;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use qdrant_edge::NamedQuery;
use qdrant_edge::{
    CountRequest, Direction, OrderBy as EdgeOrderBy, OrderByInterface, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, ScrollRequest,
    SearchParams, SearchRequest as EdgeSearch, StartFrom, UpdateOperation, VectorInternal,
    VectorStructInternal, WithPayloadInterface, WithVector,
};
use scrollsim_core::Video;
use uuid::Uuid;

use crate::config::IndexParams;
use crate::engine::{Cond, Engine, KeyScroll, Nearest, Prepared};
use crate::{CollectionSpec, Result, Scored, StoreError, VectorName};

/// Engine over qdrant-edge shards under one root directory.
pub struct EdgeEngine {
    root: PathBuf,
    params: IndexParams,
    /// qdrant-edge shards per new collection (`store.shards`).
    shards: usize,
    cache_capacity: usize,
    current: RwLock<Option<Arc<Collection>>>,
}

impl EdgeEngine {
    pub fn new(
        root: PathBuf,
        params: IndexParams,
        shards: usize,
        cache_capacity: usize,
    ) -> Result<Self> {
        std::fs::create_dir_all(&root)
            .map_err(|e| embedded_err(&root, format!("cannot create: {e}")))?;
        Ok(EdgeEngine {
            root,
            params,
            shards,
            cache_capacity,
            current: RwLock::new(None),
        })
    }

    fn collection(&self) -> Result<Arc<Collection>> {
        self.current
            .read()
            .clone()
            .ok_or_else(|| StoreError::NoCollection("<none opened>".into()))
    }
}

impl EdgeEngine {
    /// The collection, with its indexes complete: queries call this first. After the first
    /// time it is one atomic load.
    async fn ready(&self) -> Result<Arc<Collection>> {
        let coll = self.collection()?;
        if !coll.indexed.load(Ordering::Relaxed) {
            self.wait_indexed().await?;
        }
        Ok(coll)
    }

    /// Runs `f` with the collection on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Collection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let coll = self.collection()?;
        let path = coll.path.clone();
        tokio::task::spawn_blocking(move || f(&coll))
            .await
            .map_err(|e| embedded_err(&path, format!("worker failed: {e}")))?
    }

    async fn install(
        &self,
        name: String,
        create: Option<CollectionSpec>,
    ) -> Result<Option<CollectionSpec>> {
        if let Some(cur) = self.current.read().as_ref() {
            if cur.spec.name == name {
                return Ok(Some(cur.spec.clone()));
            }
        }
        // Close the current collection first: it flushes on drop, and its lock must be released
        // should the same directory be reopened.
        self.current.write().take();
        let (root, params, shards, capacity, want) = (
            self.root.clone(),
            self.params.clone(),
            self.shards,
            self.cache_capacity,
            create.clone(),
        );
        let loaded = tokio::task::spawn_blocking(move || {
            load_collection(&root, &params, shards, capacity, &name, want.as_ref())
        })
        .await
        .map_err(|e| embedded_err(&self.root, format!("worker failed: {e}")))??;
        let Some(coll) = loaded else { return Ok(None) };
        let spec = coll.spec.clone();
        let compatible = create
            .as_ref()
            .is_none_or(|c| c.text_dim == spec.text_dim && c.image_dim == spec.image_dim);
        if compatible {
            let has_points = coll.points() > 0;
            *self.current.write() = Some(Arc::new(coll));
            if has_points {
                // An unindexed backlog (ingest ended without `wait_indexed`) is indexed now,
                // once. An empty collection stays unindexed so a bulk load is cheap.
                self.wait_indexed().await?;
            }
        }
        Ok(Some(spec))
    }
}

#[async_trait]
impl Engine for EdgeEngine {
    fn name(&self) -> &'static str {
        "embedded"
    }

    async fn open(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        Ok(self
            .install(spec.name.clone(), Some(spec.clone()))
            .await?
            .expect("created when missing"))
    }

    async fn open_existing(&self, name: &str) -> Result<Option<CollectionSpec>> {
        self.install(name.to_string(), None).await
    }

    async fn upsert(&self, batch: Vec<Prepared>) -> Result<usize> {
        self.blocking(move |s| {
            let n = batch.len();
            let ids: Vec<Uuid> = batch.iter().map(|p| p.id).collect();
            let points: Vec<Vec<PointStructPersisted>> = s
                .route(batch, |p| p.id)
                .into_iter()
                .map(|share| share.into_iter().map(edge_point).collect())
                .collect();
            let _w = s.write.lock();
            s.in_parallel(points, |edge, points| {
                edge.update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(|e| s.err(e))
            })?;
            s.invalidate(ids);
            Ok(n)
        })
        .await
    }

    async fn commit(&self) -> Result<()> {
        self.blocking(|s| {
            let _w = s.write.lock();
            s.flush()
        })
        .await
    }

    async fn videos(&self, ids: &[Uuid]) -> Result<Vec<Video>> {
        let s = self.collection()?;
        Ok(s.resolve(ids)?
            .into_iter()
            .flatten()
            .map(|v| Video::clone(&v))
            .collect())
    }

    async fn vectors(&self, ids: &[Uuid], using: VectorName) -> Result<Vec<(Uuid, Vec<f32>)>> {
        let s = self.collection()?;
        let mut found = HashMap::with_capacity(ids.len());
        let records = s.retrieve(
            ids.to_vec(),
            WithPayloadInterface::Bool(false),
            WithVector::Selector(vec![using.as_str().to_string()]),
        )?;
        for r in records {
            let id = uuid_of(&s, &r.id)?;
            if let Some(VectorStructInternal::Named(mut named)) = r.vector {
                if let Some(VectorInternal::Dense(v)) = named.remove(using.as_str()) {
                    found.insert(id, v);
                }
            }
        }
        // In the order asked, as the engine contract says.
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id).map(|v| (*id, v)))
            .collect())
    }

    async fn search(&self, q: Nearest<'_>) -> Result<Vec<Scored>> {
        let s = self.ready().await?;
        let limit = q.limit;
        let req = EdgeSearch {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(q.vector.to_vec()),
                using: Some(q.using.as_str().to_string()),
            }),
            filter: convert::native(q.cond),
            params: Some(SearchParams {
                hnsw_ef: Some(self.params.search_ef(q.cond.filter.selects(), limit)),
                exact: q.exact,
                ..Default::default()
            }),
            limit,
            offset: 0,
            with_payload: None,
            with_vector: None,
            score_threshold: None,
        };
        let mut hits = Vec::with_capacity(limit * s.shards.len());
        for edge in &s.shards {
            for h in edge.search(req.clone()).map_err(|e| s.err(e))? {
                hits.push((uuid_of(&s, &h.id)?, h.score));
            }
        }
        // Best first across shards; equal scores in id order, so the merge is deterministic.
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(limit);
        Ok(s.with_videos(hits)?
            .into_iter()
            .map(|(_, score, video)| Scored { score, video })
            .collect())
    }

    async fn scroll(
        &self,
        cond: &Cond<'_>,
        offset: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>> {
        let s = self.ready().await?;
        let mut ids: Vec<PointId> = s
            .scroll_each(ScrollRequest {
                offset: offset.map(PointId::Uuid),
                limit: Some(limit),
                filter: convert::native(cond),
                with_payload: Some(WithPayloadInterface::Bool(false)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            })?
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Each shard returned its first `limit` from the offset; the first `limit` of all of
        // them are among those.
        ids.sort();
        ids.truncate(limit);
        s.videos_of(ids.iter())
    }

    async fn scroll_key(
        &self,
        cond: &Cond<'_>,
        by: KeyScroll,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>> {
        let s = self.ready().await?;
        let records = s.scroll_each(ScrollRequest {
            offset: None,
            limit: Some(limit),
            filter: convert::native(cond),
            with_payload: Some(WithPayloadInterface::Bool(false)),
            with_vector: WithVector::Bool(false),
            order_by: Some(OrderByInterface::Struct(EdgeOrderBy {
                key: json_path(by.key),
                direction: Some(if by.descending {
                    Direction::Desc
                } else {
                    Direction::Asc
                }),
                start_from: by.from.map(StartFrom::Float),
            })),
        })?;
        let mut rows = records
            .into_iter()
            .map(|r| {
                let key = r.order_value.ok_or_else(|| {
                    s.err(format!(
                        "ordered scroll by {} returned no key value",
                        by.key
                    ))
                })?;
                Ok((key, r.id))
            })
            .collect::<Result<Vec<_>>>()?;
        // Merge the shards' runs by key (ties in id order); each holds its first `limit`.
        rows.sort_by(|a, b| {
            let by_key = if by.descending {
                b.0.cmp(&a.0)
            } else {
                a.0.cmp(&b.0)
            };
            by_key.then(a.1.cmp(&b.1))
        });
        rows.truncate(limit);
        s.videos_of(rows.iter().map(|r| &r.1))
    }

    async fn count(&self, cond: &Cond<'_>) -> Result<u64> {
        let s = self.ready().await?;
        let filter = convert::native(cond);
        let mut n = 0;
        for edge in &s.shards {
            n += edge
                .count(CountRequest {
                    filter: filter.clone(),
                    exact: true,
                })
                .map_err(|e| s.err(e))?;
        }
        Ok(n as u64)
    }

    async fn delete(&self, ids: &[Uuid]) -> Result<()> {
        let uuids = ids.to_vec();
        self.blocking(move |s| {
            let _w = s.write.lock();
            let routed = s.route(uuids.iter().copied(), |u| *u);
            s.in_parallel(routed, |edge, ids| {
                let ids = ids.into_iter().map(PointId::Uuid).collect();
                edge.update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(|e| s.err(e))?;
                edge.flush();
                Ok(())
            })?;
            s.invalidate(uuids);
            Ok(())
        })
        .await
    }

    async fn digests(&self) -> Result<Vec<(Uuid, u64)>> {
        self.blocking(|s| {
            let mut out = Vec::new();
            for edge in &s.shards {
                s.digests_in(edge, &mut out)?;
            }
            Ok(out)
        })
        .await
    }

    async fn wait_indexed(&self) -> Result<()> {
        self.blocking(|s| s.finish_indexing()).await
    }
}
