//! The server engine: a Qdrant server or cluster over gRPC (qdrant-client).
//!
//! Every call goes through [`ServerEngine::call`]: one per-call deadline (the client's
//! timeout), one retry loop for transient gRPC failures ([`crate::retry`]), and one mapping of
//! errors to [`StoreError`] that names the server URL. Writes wait for the server to apply
//! them (`wait=true`), so what `upsert` reports is what the server acknowledged.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use qdrant_client::qdrant::payload_index_params::IndexParams as FieldIndexParams;
use qdrant_client::qdrant::{
    point_id::PointIdOptions, read_consistency, start_from, vector_output, vectors_config,
    vectors_output, CollectionStatus, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DatetimeIndexParams, DatetimeRange, DeletePointsBuilder,
    Direction, Distance, FieldType, Filter as QFilter, FloatIndexParams, GetPointsBuilder,
    HnswConfigDiffBuilder, IntegerIndexParams, KeywordIndexParams, OptimizersConfigDiff,
    OptimizersConfigDiffBuilder, OrderByBuilder, PayloadIncludeSelector, PointId, PointStruct,
    PointsIdsList, Query, QueryPointsBuilder, Range, ReadConsistencyType, RetrievedPoint,
    ScrollPointsBuilder, SearchParamsBuilder, UpdateCollectionBuilder, UpdateStatus,
    UpsertPointsBuilder, Value, VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use scrollsim_core::config::Invalid;
use scrollsim_core::Video;
use tonic::Code;
use uuid::Uuid;

use crate::breaker::{Breaker, Outage};
use crate::config::{IndexParams, ReadConsistency, StoreConfig};
use crate::engine::{Cond, Engine, KeyScroll, Nearest, Prepared};
use crate::retry::{retry, RetryPolicy};
use crate::schema::{self, field, IndexKind};
use crate::{CollectionSpec, Result, Scored, StoreError, VectorName};
use scrollsim_core::backoff::Backoff;

/// Oldest server this store is written for: datetime indexes, `order_by` with `start_from`,
/// the query API and the grey collection status.
const MIN_SERVER: (u64, u64) = (1, 12);

/// Engine over one Qdrant server (or cluster entry point).
pub struct ServerEngine {
    client: Qdrant,
    url: String,
    timeout: Duration,
    retry: RetryPolicy,
    shards: u32,
    replication: u32,
    write_consistency_factor: u32,
    /// Sent with every read of points (get, query, scroll, count).
    read: read_consistency::Value,
    params: IndexParams,
    collection: RwLock<Option<String>>,
    /// Shared by every call (so by every session of a run): see [`crate::breaker`].
    breaker: Breaker,
}

/// A failed call, before it is named for the user.
struct CallError(QdrantError);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            // The client's Display includes metadata; the status code and message are enough.
            QdrantError::ResponseError { status }
            | QdrantError::ResourceExhaustedError { status, .. } => {
                write!(f, "{:?}: {}", status.code(), status.message())
            }
            other => write!(f, "{other}"),
        }
    }
}

impl CallError {
    fn code(&self) -> Option<Code> {
        match &self.0 {
            QdrantError::ResponseError { status } => Some(status.code()),
            QdrantError::ResourceExhaustedError { .. } => Some(Code::ResourceExhausted),
            _ => None,
        }
    }

    /// The server's deadline, or ours: tonic reports the client-side timeout as Cancelled with
    /// "Timeout expired".
    fn timed_out(&self) -> bool {
        match &self.0 {
            QdrantError::ResponseError { status } => {
                status.code() == Code::DeadlineExceeded
                    || (status.code() == Code::Cancelled
                        && status.message().contains("Timeout expired"))
            }
            _ => false,
        }
    }

    /// No connection: tonic says Unavailable; qdrant-client's channel pool reports a failed
    /// (re)connect as Internal "Failed to connect to <url>"; a call on the wire when the
    /// connection breaks (the server killed) comes back as Unknown "transport error".
    fn unreachable(&self) -> bool {
        match &self.0 {
            QdrantError::ResponseError { status } => {
                status.code() == Code::Unavailable
                    || (status.code() == Code::Internal
                        && status.message().starts_with("Failed to connect"))
                    || (status.code() == Code::Unknown
                        && status.message().starts_with("transport error"))
            }
            _ => false,
        }
    }

    fn transient(&self) -> bool {
        self.timed_out() || self.unreachable() || self.code() == Some(Code::ResourceExhausted)
    }
}

/// Parses `major.minor[.patch]` leniently (servers report e.g. `1.13.2`, `1.14.0-dev`).
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl ServerEngine {
    /// Connects, checks the server is reachable and recent enough; errors name the URL.
    pub async fn connect(cfg: &StoreConfig) -> Result<Self> {
        let url = cfg.url.clone();
        let api_key = match &cfg.api_key_env {
            None => None,
            Some(var) => Some(std::env::var(var).map_err(|_| {
                StoreError::Config(Invalid::new(
                    "store.api_key_env",
                    format!("names the environment variable {var}, which is not set"),
                ))
            })?),
        };
        if api_key.is_some() && url.starts_with("http://") && !is_local(&url) {
            tracing::warn!("Qdrant server at {url}: sending the API key over plain http");
        }
        let timeout = Duration::from_secs_f64(cfg.timeout_s);
        let client = Qdrant::from_url(&url)
            .api_key(api_key)
            .timeout(timeout)
            .connect_timeout(timeout)
            // We check the version ourselves, as an error rather than a line on stdout.
            .skip_compatibility_check()
            .build()
            .map_err(|e| StoreError::Unreachable {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let engine = ServerEngine {
            client,
            url,
            timeout,
            retry: RetryPolicy {
                retries: cfg.retries,
                backoff: Backoff {
                    base: Duration::from_millis(cfg.retry_base_ms),
                    cap: Duration::from_secs(10),
                },
            },
            shards: cfg.shards,
            replication: cfg.replication,
            write_consistency_factor: cfg.write_consistency_factor,
            read: match cfg.read_consistency {
                ReadConsistency::Replicas(n) => read_consistency::Value::Factor(u64::from(n)),
                ReadConsistency::Majority => {
                    read_consistency::Value::Type(ReadConsistencyType::Majority as i32)
                }
                ReadConsistency::Quorum => {
                    read_consistency::Value::Type(ReadConsistencyType::Quorum as i32)
                }
                ReadConsistency::All => {
                    read_consistency::Value::Type(ReadConsistencyType::All as i32)
                }
            },
            params: cfg.index.clone(),
            collection: RwLock::new(None),
            breaker: Breaker::new(
                cfg.url.clone(),
                Duration::from_secs_f64(cfg.breaker_cooldown_s),
            ),
        };
        let health = engine
            .call("health check", || engine.client.health_check())
            .await?;
        let needed = format!(">= {}.{}, < 2", MIN_SERVER.0, MIN_SERVER.1);
        match major_minor(&health.version) {
            Some((1, minor)) if minor >= MIN_SERVER.1 => {}
            _ => {
                return Err(StoreError::Version {
                    url: engine.url.clone(),
                    server: health.version,
                    needed,
                })
            }
        }
        tracing::debug!("Qdrant server at {} version {}", engine.url, health.version);
        Ok(engine)
    }

    /// One gRPC call with retries; the error names the URL and the operation.
    async fn call<T, Fut>(&self, op: &str, f: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: Future<Output = std::result::Result<T, QdrantError>>,
    {
        self.breaker.admit()?;
        let what = format!("Qdrant server at {}: {op}", self.url);
        let mut f = f;
        // Retries stop as soon as another call has found the server gone.
        let transient = |e: &CallError| e.transient() && !self.breaker.is_open();
        let out = retry(&self.retry, &what, transient, || {
            let fut = f();
            async move { fut.await.map_err(CallError) }
        })
        .await;
        match out {
            Ok(v) => {
                self.breaker.success();
                Ok(v)
            }
            Err(e) => {
                let err = self.error(op, e);
                match &err {
                    // No answer at all: the server is gone, not this request wrong.
                    StoreError::Unreachable { detail, .. } => self.breaker.trip(detail.clone()),
                    StoreError::Timeout { op, seconds, .. } => self
                        .breaker
                        .trip(format!("{op}: no answer within {seconds} s")),
                    // The server answered, so it is there.
                    _ => self.breaker.success(),
                }
                Err(err)
            }
        }
    }

    fn error(&self, op: &str, e: CallError) -> StoreError {
        let url = self.url.clone();
        if e.timed_out() {
            return StoreError::Timeout {
                url,
                op: op.into(),
                seconds: self.timeout.as_secs_f64(),
            };
        }
        if e.unreachable() {
            return StoreError::Unreachable {
                url,
                detail: format!("{op}: {e}"),
            };
        }
        match e.code() {
            Some(Code::NotFound) if e.to_string().contains("ollection") => {
                StoreError::NoCollection(self.collection.read().clone().unwrap_or_default())
            }
            _ => StoreError::Backend(format!("Qdrant server at {url}: {op}: {e}")),
        }
    }

    fn name(&self) -> Result<String> {
        self.collection
            .read()
            .clone()
            .ok_or_else(|| StoreError::NoCollection("<none opened>".into()))
    }

    async fn stored_spec(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let exists = self
            .call("collection exists", || self.client.collection_exists(name))
            .await?;
        if !exists {
            return Ok(None);
        }
        let info = self
            .call("collection info", || self.client.collection_info(name))
            .await?;
        let bad = |why: &str| {
            StoreError::Backend(format!(
                "Qdrant server at {}: collection {name:?} is not a scrollsim collection: {why}",
                self.url
            ))
        };
        let vectors = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        let map = match vectors {
            Some(vectors_config::Config::ParamsMap(m)) => m.map,
            _ => return Err(bad("no named vectors")),
        };
        let dim = |n: VectorName| map.get(n.as_str()).map(|p| p.size as usize);
        Ok(Some(CollectionSpec {
            name: name.to_string(),
            text_dim: dim(VectorName::Text).ok_or_else(|| bad("no `text` vector"))?,
            image_dim: dim(VectorName::Image),
        }))
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<()> {
        let p = &self.params;
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            VectorName::Text.as_str(),
            VectorParamsBuilder::new(spec.text_dim as u64, Distance::Cosine),
        );
        if let Some(d) = spec.image_dim {
            vectors.add_named_vector_params(
                VectorName::Image.as_str(),
                VectorParamsBuilder::new(d as u64, Distance::Cosine),
            );
        }
        let mut optimizers = OptimizersConfigDiffBuilder::default()
            .default_segment_number(p.segments as u64)
            .indexing_threshold(p.indexing_threshold_kb as u64);
        if p.max_segment_size_kb > 0 {
            optimizers = optimizers.max_segment_size(p.max_segment_size_kb as u64);
        }
        let request = CreateCollectionBuilder::new(&spec.name)
            .vectors_config(vectors)
            .shard_number(self.shards)
            .replication_factor(self.replication)
            .write_consistency_factor(self.write_consistency_factor)
            .hnsw_config(
                HnswConfigDiffBuilder::default()
                    .m(p.m as u64)
                    .ef_construct(p.ef_construct as u64)
                    .full_scan_threshold(p.full_scan_threshold_kb as u64),
            )
            .optimizers_config(optimizers)
            .build();
        let created = self
            .call("create collection", || {
                self.client.create_collection(request.clone())
            })
            .await;
        if let Err(e) = created {
            // Another process may have created it meanwhile: fine if it now exists.
            if self.stored_spec(&spec.name).await?.is_none() {
                return Err(e);
            }
        }
        for (key, kind) in schema::payload_indexes() {
            let graph = Some(kind.graph_links());
            let (ft, params) = match kind {
                IndexKind::Keyword => (
                    FieldType::Keyword,
                    FieldIndexParams::KeywordIndexParams(KeywordIndexParams {
                        enable_hnsw: graph,
                        ..Default::default()
                    }),
                ),
                IndexKind::Integer => (
                    FieldType::Integer,
                    FieldIndexParams::IntegerIndexParams(IntegerIndexParams {
                        lookup: Some(false),
                        range: Some(true),
                        enable_hnsw: graph,
                        ..Default::default()
                    }),
                ),
                IndexKind::Float => (
                    FieldType::Float,
                    FieldIndexParams::FloatIndexParams(FloatIndexParams {
                        enable_hnsw: graph,
                        ..Default::default()
                    }),
                ),
                IndexKind::Datetime => (
                    FieldType::Datetime,
                    FieldIndexParams::DatetimeIndexParams(DatetimeIndexParams {
                        enable_hnsw: graph,
                        ..Default::default()
                    }),
                ),
            };
            let req = CreateFieldIndexCollectionBuilder::new(&spec.name, &key, ft)
                .field_index_params(params)
                .wait(true)
                .build();
            self.call(&format!("create payload index {key}"), || {
                self.client.create_field_index(req.clone())
            })
            .await?;
        }
        Ok(())
    }

    fn native(cond: &Cond<'_>) -> Option<QFilter> {
        let f = cond.filter;
        let mut must = Vec::new();
        if !f.platforms.is_empty() {
            must.push(Condition::matches(
                field::PLATFORM,
                f.platforms
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect::<Vec<_>>(),
            ));
        }
        if !f.topics.is_empty() {
            must.push(Condition::matches(field::TOPIC, f.topics.clone()));
        }
        if !f.labels_any.is_empty() {
            must.push(Condition::matches(
                field::VALUES,
                f.labels_any
                    .iter()
                    .map(|v| v.code().to_string())
                    .collect::<Vec<_>>(),
            ));
        }
        if let Some((v, x)) = f.min_value_score {
            must.push(Condition::range(
                schema::value_score_key(v),
                Range {
                    gte: Some(x as f64),
                    ..Default::default()
                },
            ));
        }
        if f.posted_from.is_some() || f.posted_to.is_some() {
            let ts = |d: chrono::NaiveDate| {
                let t: std::time::SystemTime =
                    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().into();
                t.into()
            };
            must.push(Condition::datetime_range(
                field::POSTED,
                DatetimeRange {
                    gte: f.posted_from.map(ts),
                    lte: f.posted_to.map(ts),
                    ..Default::default()
                },
            ));
        }
        if let Some(d) = f.max_duration_s {
            must.push(Condition::range(
                field::DURATION_S,
                Range {
                    lte: Some(d as f64),
                    ..Default::default()
                },
            ));
        }
        if let Some((k, below)) = cond.below {
            must.push(Condition::range(
                k,
                Range {
                    lt: Some(below as f64),
                    ..Default::default()
                },
            ));
        }
        let must_not: Vec<Condition> = if cond.exclude.is_empty() {
            Vec::new()
        } else {
            vec![Condition::has_id(
                cond.exclude.iter().map(|u| PointId::from(u.to_string())),
            )]
        };
        if must.is_empty() && must_not.is_empty() {
            return None;
        }
        Some(QFilter {
            must,
            must_not,
            ..Default::default()
        })
    }

    fn uuid(&self, id: Option<&PointId>) -> Result<Uuid> {
        match id.and_then(|p| p.point_id_options.as_ref()) {
            Some(PointIdOptions::Uuid(s)) => {
                Uuid::parse_str(s).map_err(|e| self.foreign(format!("point id {s}: {e}")))
            }
            other => Err(self.foreign(format!("point id {other:?} is not a UUID"))),
        }
    }

    fn foreign(&self, why: String) -> StoreError {
        StoreError::Backend(format!(
            "Qdrant server at {}: {why}: not written by scrollsim",
            self.url
        ))
    }

    fn video(&self, payload: &mut HashMap<String, Value>) -> Result<Video> {
        let v = payload
            .remove(field::VIDEO)
            .ok_or_else(|| self.foreign("a point has no `video` payload".into()))?;
        schema::video_from_json(serde_json::Value::from(v)).map_err(|e| {
            StoreError::Backend(format!(
                "Qdrant server at {}: stored video does not parse: {e}",
                self.url
            ))
        })
    }

    fn rows(&self, points: Vec<RetrievedPoint>) -> Result<Vec<(Uuid, Video)>> {
        points
            .into_iter()
            .map(|mut p| Ok((self.uuid(p.id.as_ref())?, self.video(&mut p.payload)?)))
            .collect()
    }

    fn with_video() -> PayloadIncludeSelector {
        PayloadIncludeSelector::new(vec![field::VIDEO.to_string()])
    }
}

fn is_local(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.starts_with("localhost") || rest.starts_with("127.") || rest.starts_with("[::1]")
}

#[async_trait]
impl Engine for ServerEngine {
    fn name(&self) -> &'static str {
        "server"
    }

    async fn open(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        let stored = match self.stored_spec(&spec.name).await? {
            Some(s) => s,
            None => {
                self.create(spec).await?;
                self.stored_spec(&spec.name)
                    .await?
                    .ok_or_else(|| StoreError::NoCollection(spec.name.clone()))?
            }
        };
        if stored.text_dim == spec.text_dim && stored.image_dim == spec.image_dim {
            *self.collection.write() = Some(spec.name.clone());
        }
        Ok(stored)
    }

    async fn open_existing(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let spec = self.stored_spec(name).await?;
        if spec.is_some() {
            *self.collection.write() = Some(name.to_string());
        }
        Ok(spec)
    }

    async fn upsert(&self, batch: Vec<Prepared>) -> Result<usize> {
        let name = self.name()?;
        let n = batch.len();
        let points: Vec<PointStruct> = batch
            .into_iter()
            .map(|p| {
                let mut vectors: HashMap<String, Vec<f32>> = HashMap::with_capacity(2);
                vectors.insert(VectorName::Text.as_str().into(), p.text);
                if let Some(img) = p.image {
                    vectors.insert(VectorName::Image.as_str().into(), img);
                }
                PointStruct::new(p.id.to_string(), vectors, Payload::from(p.payload))
            })
            .collect();
        let request = UpsertPointsBuilder::new(&name, points).wait(true).build();
        // Point ids are stable, so a retried upsert rewrites the same points: idempotent.
        let reply = self
            .call("upsert", || self.client.upsert_points(request.clone()))
            .await?;
        match reply.result.map(|r| r.status()) {
            Some(UpdateStatus::Completed) => Ok(n),
            other => Err(StoreError::Backend(format!(
                "Qdrant server at {}: upsert of {n} points into {name:?} was not completed (status {other:?}); \
                 nothing is reported as written",
                self.url
            ))),
        }
    }

    async fn commit(&self) -> Result<()> {
        // Every write already waited for the server (wait=true).
        Ok(())
    }

    async fn videos(&self, ids: &[Uuid]) -> Result<Vec<Video>> {
        let name = self.name()?;
        let pids: Vec<PointId> = ids.iter().map(|u| PointId::from(u.to_string())).collect();
        let req = GetPointsBuilder::new(&name, pids)
            .with_payload(Self::with_video())
            .with_vectors(false)
            .read_consistency(self.read)
            .build();
        let reply = self
            .call("get points", || self.client.get_points(req.clone()))
            .await?;
        let mut by_id: HashMap<Uuid, Video> = self.rows(reply.result)?.into_iter().collect();
        Ok(ids.iter().filter_map(|u| by_id.remove(u)).collect())
    }

    async fn vectors(&self, ids: &[Uuid], using: VectorName) -> Result<Vec<(Uuid, Vec<f32>)>> {
        let name = self.name()?;
        let pids: Vec<PointId> = ids.iter().map(|u| PointId::from(u.to_string())).collect();
        let req = GetPointsBuilder::new(&name, pids)
            .with_payload(false)
            .with_vectors(VectorsSelector::new(vec![using.as_str().to_string()]))
            .read_consistency(self.read)
            .build();
        let reply = self
            .call("get vectors", || self.client.get_points(req.clone()))
            .await?;
        let mut by_id = HashMap::new();
        for p in reply.result {
            let id = self.uuid(p.id.as_ref())?;
            if let Some(vectors_output::VectorsOptions::Vectors(mut named)) =
                p.vectors.and_then(|v| v.vectors_options)
            {
                if let Some(out) = named.vectors.remove(using.as_str()) {
                    if let vector_output::Vector::Dense(d) = out.into_vector() {
                        by_id.insert(id, d.data);
                    }
                }
            }
        }
        Ok(ids
            .iter()
            .filter_map(|u| by_id.remove(u).map(|v| (*u, v)))
            .collect())
    }

    async fn search(&self, q: Nearest<'_>) -> Result<Vec<Scored>> {
        let name = self.name()?;
        let mut req = QueryPointsBuilder::new(&name)
            .query(Query::new_nearest(q.vector.to_vec()))
            .using(q.using.as_str())
            .limit(q.limit as u64)
            .params(
                SearchParamsBuilder::default()
                    .hnsw_ef(self.params.search_ef(q.cond.filter.selects(), q.limit) as u64)
                    .exact(q.exact),
            )
            .with_payload(Self::with_video())
            .read_consistency(self.read);
        if let Some(f) = Self::native(q.cond) {
            req = req.filter(f);
        }
        let req = req.build();
        let reply = self
            .call("query", || self.client.query(req.clone()))
            .await?;
        reply
            .result
            .into_iter()
            .map(|mut p| {
                Ok(Scored {
                    score: p.score,
                    video: self.video(&mut p.payload)?,
                })
            })
            .collect()
    }

    async fn scroll(
        &self,
        cond: &Cond<'_>,
        offset: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>> {
        let name = self.name()?;
        let mut req = ScrollPointsBuilder::new(&name)
            .limit(limit.min(u32::MAX as usize) as u32)
            .with_payload(Self::with_video())
            .with_vectors(false)
            .read_consistency(self.read);
        if let Some(o) = offset {
            req = req.offset(PointId::from(o.to_string()));
        }
        if let Some(f) = Self::native(cond) {
            req = req.filter(f);
        }
        let req = req.build();
        let reply = self
            .call("scroll", || self.client.scroll(req.clone()))
            .await?;
        self.rows(reply.result)
    }

    async fn scroll_key(
        &self,
        cond: &Cond<'_>,
        by: KeyScroll,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>> {
        let name = self.name()?;
        let mut order = OrderByBuilder::new(by.key).direction(if by.descending {
            Direction::Desc
        } else {
            Direction::Asc
        } as i32);
        if let Some(from) = by.from {
            order = order.start_from(start_from::Value::Float(from));
        }
        let mut req = ScrollPointsBuilder::new(&name)
            .limit(limit.min(u32::MAX as usize) as u32)
            .order_by(order)
            .with_payload(Self::with_video())
            .with_vectors(false)
            .read_consistency(self.read);
        if let Some(f) = Self::native(cond) {
            req = req.filter(f);
        }
        let req = req.build();
        let reply = self
            .call("ordered scroll", || self.client.scroll(req.clone()))
            .await?;
        self.rows(reply.result)
    }

    async fn count(&self, cond: &Cond<'_>) -> Result<u64> {
        let name = self.name()?;
        let mut req = CountPointsBuilder::new(&name)
            .exact(true)
            .read_consistency(self.read);
        if let Some(f) = Self::native(cond) {
            req = req.filter(f);
        }
        let req = req.build();
        let reply = self
            .call("count", || self.client.count(req.clone()))
            .await?;
        Ok(reply.result.map(|r| r.count).unwrap_or(0))
    }

    async fn delete(&self, ids: &[Uuid]) -> Result<()> {
        let name = self.name()?;
        let list = PointsIdsList {
            ids: ids.iter().map(|u| PointId::from(u.to_string())).collect(),
        };
        let req = DeletePointsBuilder::new(&name)
            .points(list)
            .wait(true)
            .build();
        let reply = self
            .call("delete", || self.client.delete_points(req.clone()))
            .await?;
        match reply.result.map(|r| r.status()) {
            Some(UpdateStatus::Completed) => Ok(()),
            other => Err(StoreError::Backend(format!(
                "Qdrant server at {}: delete from {name:?} was not completed (status {other:?})",
                self.url
            ))),
        }
    }

    async fn digests(&self) -> Result<Vec<(Uuid, u64)>> {
        let name = self.name()?;
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut req = ScrollPointsBuilder::new(&name)
                .limit(10_000)
                .with_payload(PayloadIncludeSelector::new(vec![field::DIGEST.to_string()]))
                .with_vectors(false)
                .read_consistency(self.read);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let req = req.build();
            let reply = self
                .call("scroll digests", || self.client.scroll(req.clone()))
                .await?;
            for p in reply.result {
                let id = self.uuid(p.id.as_ref())?;
                let payload = serde_json::Map::from(Payload::from(p.payload));
                let digest = schema::digest_of(&payload)
                    .ok_or_else(|| self.foreign(format!("point {id} has no digest")))?;
                out.push((id, digest));
            }
            match reply.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }

    fn outage(&self) -> Option<Outage> {
        self.breaker.outage()
    }

    async fn wait_indexed(&self) -> Result<()> {
        let name = self.name()?;
        let started = std::time::Instant::now();
        loop {
            let info = self
                .call("collection info", || self.client.collection_info(&name))
                .await?;
            let status = info
                .result
                .map(|r| r.status())
                .unwrap_or(CollectionStatus::UnknownCollectionStatus);
            match status {
                CollectionStatus::Green => return Ok(()),
                CollectionStatus::Red => {
                    return Err(StoreError::Backend(format!(
                        "Qdrant server at {}: collection {name:?} is red (optimizer failed); see the server log",
                        self.url
                    )))
                }
                CollectionStatus::Grey => {
                    // Optimisations pending until triggered: an empty optimizer update does it.
                    let req = UpdateCollectionBuilder::new(&name).optimizers_config(OptimizersConfigDiff::default()).build();
                    self.call("trigger optimizers", || self.client.update_collection(req.clone())).await?;
                }
                _ => {}
            }
            tracing::info!(
                "Qdrant server at {}: waiting for {name:?} to finish indexing ({:.0} s)",
                self.url,
                started.elapsed().as_secs_f64()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_broken_mid_call_is_unreachable_and_retried() {
        let status = |code, message: &str| {
            CallError(QdrantError::ResponseError {
                status: tonic::Status::new(code, message),
            })
        };
        // What a Qdrant 1.18.3 server SIGKILLed mid-study left its calls in flight with.
        let broken = status(Code::Unknown, "transport error");
        assert!(broken.unreachable() && broken.transient());
        // Any other Unknown is the server's answer, not a lost connection.
        let answer = status(Code::Unknown, "Service internal error: bad request");
        assert!(!answer.unreachable() && !answer.transient());
    }

    #[test]
    fn versions_parse_leniently() {
        assert_eq!(major_minor("1.13.2"), Some((1, 13)));
        assert_eq!(major_minor("v1.14.0-dev"), Some((1, 14)));
        assert_eq!(major_minor("garbage"), None);
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error_naming_the_url() {
        // Nothing listens on port 9 (discard) on this machine's loopback.
        let cfg = StoreConfig {
            backend: crate::Backend::Server,
            url: "http://127.0.0.1:9".into(),
            retries: 1,
            retry_base_ms: 1,
            timeout_s: 2.0,
            ..Default::default()
        };
        let err = match ServerEngine::connect(&cfg).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected to nothing"),
        };
        assert!(err.contains("http://127.0.0.1:9"), "{err}");
        assert!(err.contains("unreachable"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_api_key_variable_is_named_and_no_key_is_printed() {
        let cfg = StoreConfig {
            backend: crate::Backend::Server,
            api_key_env: Some("SCROLLSIM_TEST_SURELY_UNSET_KEY".into()),
            ..Default::default()
        };
        let err = match ServerEngine::connect(&cfg).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected without a key"),
        };
        assert!(err.contains("SCROLLSIM_TEST_SURELY_UNSET_KEY"), "{err}");
    }
}
