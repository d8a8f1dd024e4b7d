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

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CountRequest, DateTimeWrapper, Direction, Distance, EdgeConfig,
    EdgeOptimizersConfig, EdgeShard, EdgeVectorParams, FieldCondition, FieldIndexOperations,
    Filter as EdgeFilter, HasIdCondition, HnswIndexConfig, JsonPath, Match, OrderBy as EdgeOrderBy,
    OrderByInterface, Payload, PayloadFieldSchema, PayloadSchemaParams, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, Range, Record,
    ScrollRequest, SearchParams, SearchRequest as EdgeSearch, StartFrom, UpdateOperation,
    VectorInternal, VectorPersisted, VectorStructInternal, VectorStructPersisted,
    WithPayloadInterface, WithVector,
};
use qdrant_edge::{
    CreateIndex, DatetimeIndexParams, FloatIndexParams, IntegerIndexParams, KeywordIndexParams,
    NamedQuery,
};
use scrollsim_core::Video;
use uuid::Uuid;

use crate::config::IndexParams;
use crate::engine::{Cond, Engine, KeyScroll, Prepared};
use crate::schema::{self, field, IndexKind};
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

/// One open collection: its qdrant-edge shards and what we keep beside them.
struct Collection {
    path: PathBuf,
    spec: CollectionSpec,
    /// Points are routed by id (`shard_of`); fixed when the collection is created.
    shards: Vec<EdgeShard>,
    /// Serialises writes, flushes and optimisation (see the module doc).
    write: Mutex<()>,
    /// All payload indexes exist (set by `finish_indexing`, read before every query).
    indexed: AtomicBool,
    /// Parsed videos by point id (see `VideoCache`).
    cache: RwLock<VideoCache>,
    /// Held for the life of the collection: one process per collection.
    _lock: File,
}

/// Parsed videos by point id. Reading a payload back means a JSON parse of ~1 KB per video
/// (three quarters of a search's cost at 50k videos); the cache makes repeat hits a clone.
/// It stays exact because one process owns the collection (the file lock) and every write
/// invalidates what it touches (see `Collection::invalidate`). Bounded: when full it starts over.
struct VideoCache {
    map: HashMap<Uuid, Arc<Video>>,
    /// Bumped by every write, so a read that raced a write does not cache what it read.
    generation: u64,
    capacity: usize,
}

impl VideoCache {
    fn new(capacity: usize) -> Self {
        VideoCache {
            map: HashMap::new(),
            generation: 0,
            capacity,
        }
    }
}

impl Collection {
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        embedded_err(&self.path, e)
    }

    /// The shard a point lives in. Point ids are name-based UUIDs (SHA-1), so their low bits
    /// spread points evenly.
    fn shard_of(&self, id: &Uuid) -> usize {
        (id.as_u128() % self.shards.len() as u128) as usize
    }

    /// Splits items by the shard their id picks (one list per shard, in shard order).
    fn route<T>(&self, items: impl IntoIterator<Item = T>, id: impl Fn(&T) -> Uuid) -> Vec<Vec<T>> {
        let mut out: Vec<Vec<T>> = self.shards.iter().map(|_| Vec::new()).collect();
        for item in items {
            out[self.shard_of(&id(&item))].push(item);
        }
        out
    }

    /// Runs `f` on every shard with its share of the work, each shard on its own thread (the
    /// caller is already on the blocking pool). Shards with no work are skipped.
    fn in_parallel<T: Send>(
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
    fn each_shard(&self, f: impl Fn(&EdgeShard) -> Result<()> + Sync) -> Result<()> {
        let all = self.shards.iter().map(|_| vec![()]).collect();
        self.in_parallel(all, |edge, _| f(edge))
    }

    /// Flushes every shard (in parallel): what was written is durable on return.
    fn flush(&self) -> Result<()> {
        self.each_shard(|edge| {
            edge.flush();
            Ok(())
        })
    }

    /// Runs one scroll on every shard (one after another, as queries do) and returns all their
    /// records; callers merge them in their order.
    fn scroll_each(&self, req: ScrollRequest) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for edge in &self.shards {
            let (records, _next) = edge.scroll(req.clone()).map_err(|e| self.err(e))?;
            out.extend(records);
        }
        Ok(out)
    }

    /// Appends every point of one shard with its content digest, in pages.
    fn digests_in(&self, edge: &EdgeShard, out: &mut Vec<(Uuid, u64)>) -> Result<()> {
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
    fn retrieve(
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
    fn points(&self) -> usize {
        self.shards.iter().map(|e| e.info().points_count).sum()
    }

    /// Forgets cached videos a write changed; call after the write is applied.
    fn invalidate(&self, ids: impl IntoIterator<Item = Uuid>) {
        let mut c = self.cache.write();
        c.generation += 1;
        for id in ids {
            c.map.remove(&id);
        }
    }

    /// Videos for point ids, in order; ids with no point are `None`.
    fn resolve(&self, ids: &[Uuid]) -> Result<Vec<Option<Arc<Video>>>> {
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
        for r in self.retrieve(missing, EdgeEngine::with_video(), WithVector::Bool(false))? {
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
    fn with_videos<T>(&self, hits: Vec<(Uuid, T)>) -> Result<Vec<(Uuid, T, Video)>> {
        let ids: Vec<Uuid> = hits.iter().map(|h| h.0).collect();
        let videos = self.resolve(&ids)?;
        Ok(hits
            .into_iter()
            .zip(videos)
            .filter_map(|((id, t), v)| v.map(|v| (id, t, Video::clone(&v))))
            .collect())
    }

    /// The videos of scrolled points, in order (dropping any deleted meanwhile).
    fn videos_of<'a>(&self, ids: impl Iterator<Item = &'a PointId>) -> Result<Vec<(Uuid, Video)>> {
        let ids = ids
            .map(|id| Ok((uuid_of(self, id)?, ())))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .with_videos(ids)?
            .into_iter()
            .map(|(id, (), v)| (id, v))
            .collect())
    }

    /// Payload indexes a qdrant-edge shard does not have yet.
    fn missing_indexes(edge: &EdgeShard) -> Vec<(String, IndexKind)> {
        let have = edge.info().payload_schema;
        schema::payload_indexes()
            .into_iter()
            .filter(|(key, _)| !have.keys().any(|k| k.to_string() == *key))
            .collect()
    }

    /// Every shard has every payload index.
    fn has_all_indexes(&self) -> bool {
        self.shards
            .iter()
            .all(|e| Self::missing_indexes(e).is_empty())
    }

    /// Creates any missing payload indexes, then builds the HNSW index over what was written
    /// (blocking). Deferring the payload indexes to here keeps them out of bulk upserts;
    /// creating them before the HNSW build lets the graph carry links for the keyword fields
    /// (see `IndexKind::graph_links`): without them a platform filter could strand the graph
    /// search on a few points (seen as one result instead of ten).
    fn finish_indexing(&self) -> Result<()> {
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

/// How a payload index of `kind` is created.
fn index_schema(kind: IndexKind) -> PayloadFieldSchema {
    let graph = Some(kind.graph_links());
    PayloadFieldSchema::FieldParams(match kind {
        IndexKind::Keyword => PayloadSchemaParams::Keyword(KeywordIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Integer => PayloadSchemaParams::Integer(IntegerIndexParams {
            lookup: Some(false),
            range: Some(true),
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Float => PayloadSchemaParams::Float(FloatIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Datetime => PayloadSchemaParams::Datetime(DatetimeIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
    })
}

/// A payload key as an edge JSON path. Our keys are constants (checked by a test).
fn json_path(key: &str) -> JsonPath {
    key.parse()
        .unwrap_or_else(|()| panic!("payload key {key:?} is not a JSON path"))
}

fn embedded_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Embedded {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
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

fn edge_config(p: &IndexParams, spec: &CollectionSpec) -> EdgeConfig {
    let mut b = EdgeConfig::builder()
        .vector(
            VectorName::Text.as_str(),
            EdgeVectorParams::builder(spec.text_dim, Distance::Cosine).build(),
        )
        .hnsw_config(HnswIndexConfig {
            m: p.m,
            ef_construct: p.ef_construct,
            full_scan_threshold: p.full_scan_threshold_kb,
            max_indexing_threads: 0,
            on_disk: Some(false),
            payload_m: None,
            inline_storage: None,
        })
        .optimizers(EdgeOptimizersConfig {
            default_segment_number: Some(p.segments),
            indexing_threshold: Some(p.indexing_threshold_kb),
            max_segment_size: (p.max_segment_size_kb > 0).then_some(p.max_segment_size_kb),
            ..Default::default()
        });
    if let Some(d) = spec.image_dim {
        b = b.vector(
            VectorName::Image.as_str(),
            EdgeVectorParams::builder(d, Distance::Cosine).build(),
        );
    }
    b.build()
}

/// The file that records how many qdrant-edge shards a collection has. Written last when a
/// collection is created, so a creation cut short is recognisable (shard directories, no file).
const SHARDS_FILE: &str = "shards";

fn shard_dir(path: &Path, i: usize) -> PathBuf {
    path.join(format!("shard-{i}"))
}

/// Opens the collection `<root>/<name>`, or creates it with `new_shards` qdrant-edge shards
/// when `create` is given (blocking).
fn load_collection(
    root: &Path,
    params: &IndexParams,
    new_shards: usize,
    cache_capacity: usize,
    name: &str,
    create: Option<&CollectionSpec>,
) -> Result<Option<Collection>> {
    let path = root.join(name);
    // Before shards: one qdrant-edge shard at the collection's root.
    let single = path.join("edge_config.json").exists();
    let shards_file = path.join(SHARDS_FILE);
    let exists = single || shards_file.exists();
    if !exists && create.is_none() {
        return Ok(None);
    }
    std::fs::create_dir_all(&path)
        .map_err(|e| embedded_err(&path, format!("cannot create: {e}")))?;
    let lock = File::create(path.join(".scrollsim.lock"))
        .map_err(|e| embedded_err(&path, format!("cannot create lock file: {e}")))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(embedded_err(
                &path,
                "in use by another process (another scrollsim command?); the embedded store \
                     serves one process at a time: wait for it, or use the server backend",
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(embedded_err(&path, format!("cannot lock: {e}")))
        }
    }
    let shards = if single {
        vec![EdgeShard::load(&path, None).map_err(|e| embedded_err(&path, e))?]
    } else if exists {
        let raw = std::fs::read_to_string(&shards_file)
            .map_err(|e| embedded_err(&shards_file, format!("cannot read: {e}")))?;
        let n: usize = raw.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            embedded_err(
                &shards_file,
                format!("expected a shard count (a whole number, at least 1), found {raw:?}"),
            )
        })?;
        (0..n)
            .map(|i| {
                let dir = shard_dir(&path, i);
                if !dir.join("edge_config.json").exists() {
                    return Err(embedded_err(
                        &dir,
                        format!("missing: the collection has {n} shards (see {SHARDS_FILE})"),
                    ));
                }
                EdgeShard::load(&dir, None).map_err(|e| embedded_err(&dir, e))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let spec = create.expect("checked above");
        // Shard directories without the count are a creation that was cut short: nothing was
        // written to them (writes start after opening), so they are made again.
        for i in 0.. {
            let dir = shard_dir(&path, i);
            if !dir.exists() {
                break;
            }
            std::fs::remove_dir_all(&dir)
                .map_err(|e| embedded_err(&dir, format!("cannot remove: {e}")))?;
        }
        // Payload indexes come later, in `Collection::finish_indexing`: see the module doc.
        let shards = (0..new_shards.max(1))
            .map(|i| {
                let dir = shard_dir(&path, i);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| embedded_err(&dir, format!("cannot create: {e}")))?;
                let edge = EdgeShard::new(&dir, edge_config(params, spec))
                    .map_err(|e| embedded_err(&dir, e))?;
                edge.flush();
                Ok(edge)
            })
            .collect::<Result<Vec<_>>>()?;
        let tmp = path.join(format!("{SHARDS_FILE}.tmp"));
        std::fs::write(&tmp, format!("{}\n", shards.len()))
            .and_then(|()| File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &shards_file))
            .map_err(|e| embedded_err(&shards_file, format!("cannot write: {e}")))?;
        shards
    };
    let spec = {
        let cfg = shards[0].config();
        let dim = |n: VectorName| cfg.vectors.get(n.as_str()).map(|v| v.size);
        CollectionSpec {
            name: name.to_string(),
            text_dim: dim(VectorName::Text).ok_or_else(|| {
                embedded_err(&path, "not a scrollsim collection: no `text` vector")
            })?,
            image_dim: dim(VectorName::Image),
        }
    };
    let coll = Collection {
        path,
        spec,
        shards,
        write: Mutex::new(()),
        indexed: AtomicBool::new(false),
        cache: RwLock::new(VideoCache::new(cache_capacity)),
        _lock: lock,
    };
    coll.indexed.store(coll.has_all_indexes(), Ordering::SeqCst);
    Ok(Some(coll))
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

    fn native(cond: &Cond<'_>) -> Option<EdgeFilter> {
        let f = cond.filter;
        let key = json_path;
        let any = |k: &str, vals: Vec<String>| {
            Condition::Field(FieldCondition::new_match(key(k), Match::from(vals)))
        };
        let mut must = Vec::new();
        if !f.platforms.is_empty() {
            must.push(any(
                field::PLATFORM,
                f.platforms.iter().map(|p| p.as_str().to_string()).collect(),
            ));
        }
        if !f.topics.is_empty() {
            must.push(any(field::TOPIC, f.topics.clone()));
        }
        if !f.labels_any.is_empty() {
            must.push(any(
                field::VALUES,
                f.labels_any.iter().map(|v| v.code().to_string()).collect(),
            ));
        }
        let range = |gte: Option<f64>, lte: Option<f64>, lt: Option<f64>| Range {
            gte: gte.map(OrderedFloat),
            lte: lte.map(OrderedFloat),
            lt: lt.map(OrderedFloat),
            gt: None,
        };
        if let Some((v, x)) = f.min_value_score {
            must.push(Condition::Field(FieldCondition::new_range(
                key(&schema::value_score_key(v)),
                range(Some(x as f64), None, None),
            )));
        }
        if f.posted_from.is_some() || f.posted_to.is_some() {
            let dt = |d: chrono::NaiveDate| {
                DateTimeWrapper(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
            };
            must.push(Condition::Field(FieldCondition::new_datetime_range(
                key(field::POSTED),
                Range {
                    gte: f.posted_from.map(dt),
                    lte: f.posted_to.map(dt),
                    lt: None,
                    gt: None,
                },
            )));
        }
        if let Some(d) = f.max_duration_s {
            must.push(Condition::Field(FieldCondition::new_range(
                key(field::DURATION_S),
                range(None, Some(d as f64), None),
            )));
        }
        if let Some((k, below)) = cond.below {
            must.push(Condition::Field(FieldCondition::new_range(
                key(k),
                range(None, None, Some(below as f64)),
            )));
        }
        let must_not = (!cond.exclude.is_empty()).then(|| {
            vec![Condition::HasId(
                cond.exclude
                    .iter()
                    .map(|u| PointId::Uuid(*u))
                    .collect::<HasIdCondition>(),
            )]
        });
        if must.is_empty() && must_not.is_none() {
            return None;
        }
        Some(EdgeFilter {
            should: None,
            min_should: None,
            must: (!must.is_empty()).then_some(must),
            must_not,
        })
    }

    fn with_video() -> WithPayloadInterface {
        static VIDEO: std::sync::LazyLock<JsonPath> =
            std::sync::LazyLock::new(|| json_path(field::VIDEO));
        WithPayloadInterface::Fields(vec![VIDEO.clone()])
    }
}

/// A prepared point as qdrant-edge takes it.
fn edge_point(p: Prepared) -> PointStructPersisted {
    let mut named = HashMap::with_capacity(2);
    named.insert(
        VectorName::Text.as_str().to_string(),
        VectorPersisted::Dense(p.text),
    );
    if let Some(img) = p.image {
        named.insert(
            VectorName::Image.as_str().to_string(),
            VectorPersisted::Dense(img),
        );
    }
    PointStructPersisted {
        id: PointId::Uuid(p.id),
        vector: VectorStructPersisted::Named(named),
        payload: Some(Payload(p.payload)),
    }
}

fn uuid_of(coll: &Collection, id: &PointId) -> Result<Uuid> {
    match id {
        PointId::Uuid(u) => Ok(*u),
        PointId::NumId(n) => Err(coll.err(format!(
            "point {n} has a numeric id: not written by scrollsim"
        ))),
    }
}

fn video_of(coll: &Collection, id: &PointId, payload: Option<Payload>) -> Result<Video> {
    let v = payload
        .and_then(|mut p| p.0.remove(field::VIDEO))
        .ok_or_else(|| {
            coll.err(format!(
                "point {id} has no `video` payload: not written by scrollsim"
            ))
        })?;
    schema::video_from_json(v)
        .map_err(|e| coll.err(format!("point {id}: stored video does not parse: {e}")))
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

    async fn search(
        &self,
        using: VectorName,
        vector: Vec<f32>,
        cond: &Cond<'_>,
        limit: usize,
        exact: bool,
    ) -> Result<Vec<Scored>> {
        let s = self.ready().await?;
        let req = EdgeSearch {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(vector),
                using: Some(using.as_str().to_string()),
            }),
            filter: Self::native(cond),
            params: Some(SearchParams {
                hnsw_ef: Some(self.params.search_ef(cond.filter.selects(), limit)),
                exact,
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
                filter: Self::native(cond),
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
            filter: Self::native(cond),
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
        let filter = Self::native(cond);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_key_is_a_json_path() {
        for (key, _) in schema::payload_indexes() {
            let _ = json_path(&key);
        }
        let _ = (json_path(field::VIDEO), json_path(field::DIGEST));
    }
}
