//! The embedded engine: qdrant-edge (the Qdrant engine in-process), one shard per collection
//! under `<data>/qdrant/<collection>`.
//!
//! Quirks of qdrant-edge 0.7.2 handled here:
//! - No background optimizer: HNSW indexes are built by `EdgeShard::optimize`, which we run in
//!   `wait_indexed`, when opening a shard with an unindexed backlog, and before the first
//!   query after writes that were never indexed.
//! - Payload indexes on the appendable segment cost ~250k instructions per upserted point
//!   (16 numeric indexes kept in gridstore, point by point): two thirds of the upsert. A new
//!   collection therefore starts without them; `Shard::finish_indexing` builds the HNSW index
//!   first and then the payload indexes, once per immutable segment. Writes to a collection
//!   that has them (incremental ingest) keep them current point by point.
//! - No WAL replay on load: durability comes from flushing segments, done after every write.
//! - `EdgeShard::flush` panics if it meets a concurrent writer (`try_lock`), so writes,
//!   flushes and optimisation are serialised by our own mutex.
//! - Nothing stops two processes opening the same shard: we hold an OS file lock.
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
    PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, Range, ScrollRequest,
    SearchParams, SearchRequest as EdgeSearch, StartFrom, UpdateOperation, VectorInternal,
    VectorPersisted, VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
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
    cache_capacity: usize,
    current: RwLock<Option<Arc<Shard>>>,
}

/// One open shard and what we keep beside it.
struct Shard {
    path: PathBuf,
    spec: CollectionSpec,
    edge: EdgeShard,
    /// Serialises writes, flushes and optimisation (see the module doc).
    write: Mutex<()>,
    /// All payload indexes exist (set by `finish_indexing`, read before every query).
    indexed: AtomicBool,
    /// Parsed videos by point id (see `VideoCache`).
    cache: RwLock<VideoCache>,
    /// Held for the life of the shard: one process per shard.
    _lock: File,
}

/// Parsed videos by point id. Reading a payload back means a JSON parse of ~1 KB per video
/// (three quarters of a search's cost at 50k videos); the cache makes repeat hits a clone.
/// It stays exact because one process owns the shard (the file lock) and every write
/// invalidates what it touches (see `Shard::invalidate`). Bounded: when full it starts over.
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

impl Shard {
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        embedded_err(&self.path, e)
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
        let missing: Vec<PointId> = ids
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| PointId::Uuid(*id))
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let records = self
            .edge
            .retrieve(
                &missing,
                Some(EdgeEngine::with_video()),
                Some(WithVector::Bool(false)),
            )
            .map_err(|e| self.err(e))?;
        let mut fetched = HashMap::with_capacity(records.len());
        for r in records {
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

    /// Payload indexes the shard does not have yet.
    fn missing_indexes(&self) -> Vec<(String, IndexKind)> {
        let have = self.edge.info().payload_schema;
        schema::payload_indexes()
            .into_iter()
            .filter(|(key, _)| !have.keys().any(|k| k.to_string() == *key))
            .collect()
    }

    /// Creates any missing payload indexes, then builds the HNSW index over what was written
    /// (blocking). Deferring the payload indexes to here keeps them out of bulk upserts;
    /// creating them before the HNSW build lets the graph carry links for the keyword fields
    /// (see `IndexKind::graph_links`): without them a platform filter could strand the graph
    /// search on a few points (seen as one result instead of ten).
    fn finish_indexing(&self) -> Result<()> {
        let _w = self.write.lock();
        let started = std::time::Instant::now();
        let missing = self.missing_indexes();
        for (key, kind) in &missing {
            let graph = Some(kind.graph_links());
            let field_schema = PayloadFieldSchema::FieldParams(match kind {
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
            });
            self.edge
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: json_path(key),
                        field_schema: Some(field_schema),
                    }),
                ))
                .map_err(|e| self.err(format!("creating payload index {key}: {e}")))?;
        }
        // Returns at once when no segment is over the indexing threshold.
        let optimized = self
            .edge
            .optimize()
            .map_err(|e| self.err(format!("building the index: {e}")))?;
        if optimized || !missing.is_empty() {
            self.edge.flush();
            tracing::info!(
                "embedded store {}: indexed {} points in {:.1} s",
                self.path.display(),
                self.edge.info().points_count,
                started.elapsed().as_secs_f64()
            );
        }
        self.indexed.store(true, Ordering::SeqCst);
        Ok(())
    }
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
    pub fn new(root: PathBuf, params: IndexParams, cache_capacity: usize) -> Result<Self> {
        std::fs::create_dir_all(&root)
            .map_err(|e| embedded_err(&root, format!("cannot create: {e}")))?;
        Ok(EdgeEngine {
            root,
            params,
            cache_capacity,
            current: RwLock::new(None),
        })
    }

    fn shard(&self) -> Result<Arc<Shard>> {
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

/// Opens the shard `<root>/<name>`, or creates it when `create` is given (blocking).
fn load_shard(
    root: &Path,
    params: &IndexParams,
    cache_capacity: usize,
    name: &str,
    create: Option<&CollectionSpec>,
) -> Result<Option<Shard>> {
    let path = root.join(name);
    let exists = path.join("edge_config.json").exists();
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
    let edge = if exists {
        EdgeShard::load(&path, None).map_err(|e| embedded_err(&path, e))?
    } else {
        let spec = create.expect("checked above");
        // Payload indexes come later, in `Shard::finish_indexing`: see the module doc.
        let edge =
            EdgeShard::new(&path, edge_config(params, spec)).map_err(|e| embedded_err(&path, e))?;
        edge.flush();
        edge
    };
    let spec = {
        let cfg = edge.config();
        let dim = |n: VectorName| cfg.vectors.get(n.as_str()).map(|v| v.size);
        CollectionSpec {
            name: name.to_string(),
            text_dim: dim(VectorName::Text).ok_or_else(|| {
                embedded_err(&path, "not a scrollsim collection: no `text` vector")
            })?,
            image_dim: dim(VectorName::Image),
        }
    };
    let shard = Shard {
        path,
        spec,
        edge,
        write: Mutex::new(()),
        indexed: AtomicBool::new(false),
        cache: RwLock::new(VideoCache::new(cache_capacity)),
        _lock: lock,
    };
    shard
        .indexed
        .store(shard.missing_indexes().is_empty(), Ordering::SeqCst);
    Ok(Some(shard))
}

impl EdgeEngine {
    /// The shard, with its indexes complete: queries call this first. After the first time it
    /// is one atomic load.
    async fn ready(&self) -> Result<Arc<Shard>> {
        let shard = self.shard()?;
        if !shard.indexed.load(Ordering::Relaxed) {
            self.wait_indexed().await?;
        }
        Ok(shard)
    }

    /// Runs `f` with the shard on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Shard) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shard = self.shard()?;
        let path = shard.path.clone();
        tokio::task::spawn_blocking(move || f(&shard))
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
        // Close the current shard first: it flushes on drop, and its lock must be released
        // should the same directory be reopened.
        self.current.write().take();
        let (root, params, capacity, want) = (
            self.root.clone(),
            self.params.clone(),
            self.cache_capacity,
            create.clone(),
        );
        let loaded = tokio::task::spawn_blocking(move || {
            load_shard(&root, &params, capacity, &name, want.as_ref())
        })
        .await
        .map_err(|e| embedded_err(&self.root, format!("worker failed: {e}")))??;
        let Some(shard) = loaded else { return Ok(None) };
        let spec = shard.spec.clone();
        let compatible = create
            .as_ref()
            .is_none_or(|c| c.text_dim == spec.text_dim && c.image_dim == spec.image_dim);
        if compatible {
            let has_points = shard.edge.info().points_count > 0;
            *self.current.write() = Some(Arc::new(shard));
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

fn uuid_of(shard: &Shard, id: &PointId) -> Result<Uuid> {
    match id {
        PointId::Uuid(u) => Ok(*u),
        PointId::NumId(n) => Err(shard.err(format!(
            "point {n} has a numeric id: not written by scrollsim"
        ))),
    }
}

fn video_of(shard: &Shard, id: &PointId, payload: Option<Payload>) -> Result<Video> {
    let v = payload
        .and_then(|mut p| p.0.remove(field::VIDEO))
        .ok_or_else(|| {
            shard.err(format!(
                "point {id} has no `video` payload: not written by scrollsim"
            ))
        })?;
    schema::video_from_json(v)
        .map_err(|e| shard.err(format!("point {id}: stored video does not parse: {e}")))
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
            let points: Vec<PointStructPersisted> = batch
                .into_iter()
                .map(|p| {
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
                })
                .collect();
            let _w = s.write.lock();
            s.edge
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(|e| s.err(e))?;
            s.invalidate(ids);
            Ok(n)
        })
        .await
    }

    async fn commit(&self) -> Result<()> {
        self.blocking(|s| {
            let _w = s.write.lock();
            s.edge.flush();
            Ok(())
        })
        .await
    }

    async fn videos(&self, ids: &[Uuid]) -> Result<Vec<Video>> {
        let s = self.shard()?;
        Ok(s.resolve(ids)?
            .into_iter()
            .flatten()
            .map(|v| Video::clone(&v))
            .collect())
    }

    async fn vectors(&self, ids: &[Uuid], using: VectorName) -> Result<Vec<(Uuid, Vec<f32>)>> {
        let s = self.shard()?;
        let pids: Vec<PointId> = ids.iter().map(|u| PointId::Uuid(*u)).collect();
        let records = s
            .edge
            .retrieve(
                &pids,
                Some(WithPayloadInterface::Bool(false)),
                Some(WithVector::Selector(vec![using.as_str().to_string()])),
            )
            .map_err(|e| s.err(e))?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let id = uuid_of(&s, &r.id)?;
            if let Some(VectorStructInternal::Named(mut named)) = r.vector {
                if let Some(VectorInternal::Dense(v)) = named.remove(using.as_str()) {
                    out.push((id, v));
                }
            }
        }
        Ok(out)
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
        let hits = s.edge.search(req).map_err(|e| s.err(e))?;
        let hits = hits
            .into_iter()
            .map(|h| Ok((uuid_of(&s, &h.id)?, h.score)))
            .collect::<Result<Vec<_>>>()?;
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
        let (records, _next) = s
            .edge
            .scroll(ScrollRequest {
                offset: offset.map(PointId::Uuid),
                limit: Some(limit),
                filter: Self::native(cond),
                with_payload: Some(WithPayloadInterface::Bool(false)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            })
            .map_err(|e| s.err(e))?;
        s.videos_of(records.iter().map(|r| &r.id))
    }

    async fn scroll_key(
        &self,
        cond: &Cond<'_>,
        by: KeyScroll,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>> {
        let s = self.ready().await?;
        let (records, _) = s
            .edge
            .scroll(ScrollRequest {
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
            })
            .map_err(|e| s.err(e))?;
        s.videos_of(records.iter().map(|r| &r.id))
    }

    async fn count(&self, cond: &Cond<'_>) -> Result<u64> {
        let s = self.ready().await?;
        let n = s
            .edge
            .count(CountRequest {
                filter: Self::native(cond),
                exact: true,
            })
            .map_err(|e| s.err(e))?;
        Ok(n as u64)
    }

    async fn delete(&self, ids: &[Uuid]) -> Result<()> {
        let uuids = ids.to_vec();
        let ids: Vec<PointId> = ids.iter().map(|u| PointId::Uuid(*u)).collect();
        self.blocking(move |s| {
            let _w = s.write.lock();
            s.edge
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(|e| s.err(e))?;
            s.invalidate(uuids);
            s.edge.flush();
            Ok(())
        })
        .await
    }

    async fn digests(&self) -> Result<Vec<(Uuid, u64)>> {
        self.blocking(|s| {
            let mut out = Vec::new();
            let mut offset = None;
            loop {
                let (records, next) = s
                    .edge
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
                    .map_err(|e| s.err(e))?;
                for r in records {
                    let digest = r
                        .payload
                        .as_ref()
                        .and_then(|p| schema::digest_of(&p.0))
                        .ok_or_else(|| {
                            s.err(format!(
                                "point {} has no digest: not written by scrollsim",
                                r.id
                            ))
                        })?;
                    out.push((uuid_of(s, &r.id)?, digest));
                }
                match next {
                    Some(n) => offset = Some(n),
                    None => return Ok(out),
                }
            }
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
