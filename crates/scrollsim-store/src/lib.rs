//! `VideoStore`: where the agent loop gets every video it sees. Two backends behave the same:
//! embedded Qdrant (qdrant-edge, in-process, on disk; the default) and a Qdrant server or
//! cluster (qdrant-client over gRPC). One conformance suite runs against both.
//!
//! Must not: embed, judge, or know about sessions and traces; nothing else in scrollsim talks
//! to Qdrant (qdrant-edge and qdrant-client types stay inside this crate).
//!
//! Layout: the contract (this file), the config (`config`), the point layout shared by both
//! backends (`schema`), the semantics written once over an engine seam (`store`, `engine`),
//! the two engines (`embedded`, `server`), the retry loop (`retry`), the circuit breaker
//! (`breaker`) and a collection copied between stores (`copy`).

pub mod breaker;
pub mod config;
mod copy;
mod embedded;
mod engine;
pub mod retry;
pub mod schema;
mod server;
mod store;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use scrollsim_core::{CorpusId, Platform, Value, Video, VideoId};
use serde::{Deserialize, Serialize};

/// The named vectors a point carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorName {
    /// From caption, hashtags and description (text embedder).
    Text,
    /// Normalised mean of the keyframes' image vectors (image embedder), when configured.
    Image,
}

impl VectorName {
    pub fn as_str(self) -> &'static str {
        match self {
            VectorName::Text => "text",
            VectorName::Image => "image",
        }
    }
}

/// What a collection holds: its name and vector dimensions (cosine distance throughout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSpec {
    pub name: String,
    pub text_dim: usize,
    /// None when no image embedder is configured.
    pub image_dim: Option<usize>,
}

/// A video with its vectors, ready to upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoPoint {
    pub video: Video,
    pub text: Vec<f32>,
    pub image: Option<Vec<f32>>,
}

/// The content digest a store recorded for a point when it was written: xxh3 of the video's
/// JSON and of its vectors as the writer gave them. The corpus id is made of these. An engine
/// may store a vector other than the one given (Qdrant renormalises a cosine vector whose
/// squared length is off 1 by more than 1e-6), so the digest cannot be recomputed from the
/// vectors read back: a copy carries it instead (see [`VideoStore::upsert_copies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentDigest(pub u64);

/// A point copied from another store, with the content digest that store recorded for it.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedPoint {
    pub point: VideoPoint,
    pub digest: ContentDigest,
}

/// Conditions on payload fields; all given conditions must hold. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub platforms: Vec<Platform>,
    pub topics: Vec<String>,
    /// The video carries at least one of these value labels.
    pub labels_any: Vec<Value>,
    /// `value_scores[v] >= x`.
    pub min_value_score: Option<(Value, f32)>,
    pub posted_from: Option<NaiveDate>,
    pub posted_to: Option<NaiveDate>,
    pub max_duration_s: Option<f32>,
    /// Never return these (a session's seen videos).
    pub exclude: Vec<VideoId>,
}

impl Filter {
    /// Whether the filter selects by payload (anything beyond excluding seen ids), which
    /// thins the graph an indexed search walks.
    pub fn selects(&self) -> bool {
        let Filter {
            platforms,
            topics,
            labels_any,
            min_value_score,
            posted_from,
            posted_to,
            max_duration_s,
            exclude: _,
        } = self;
        !platforms.is_empty()
            || !topics.is_empty()
            || !labels_any.is_empty()
            || min_value_score.is_some()
            || posted_from.is_some()
            || posted_to.is_some()
            || max_duration_s.is_some()
    }

    pub fn excluding(ids: impl IntoIterator<Item = VideoId>) -> Self {
        Filter {
            exclude: ids.into_iter().collect(),
            ..Default::default()
        }
    }
}

/// A video and its similarity score under a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub video: Video,
    pub score: f32,
}

/// Nearest neighbours of a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub using: VectorName,
    pub vector: Vec<f32>,
    pub filter: Filter,
    pub limit: usize,
    /// Exact (brute-force) search instead of the HNSW index: for recall checks.
    pub exact: bool,
}

/// An example for [`RecommendRequest`], weighted (e.g. by dwell seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: VideoId,
    pub weight: f32,
}

/// Videos like the positive examples and unlike the negative ones. The query vector is
/// `normalize(mean_w(positive) + negative_weight * (mean_w(positive) - mean_w(negative)))`
/// with `negative_weight = 1` (Qdrant's average-vector strategy, with weights; without
/// negatives it is `normalize(mean_w(positive))`), computed from the examples' stored vectors
/// (see [`recommend_vector`]), so both backends rank identically. Examples of weight 0 have no
/// influence; at least one positive needs a weight above 0. The examples themselves are never
/// returned. A policy wanting another mix computes its vector from [`VideoStore::vectors`] and
/// calls [`VideoStore::search`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendRequest {
    pub using: VectorName,
    pub positive: Vec<Example>,
    pub negative: Vec<Example>,
    pub filter: Filter,
    pub limit: usize,
}

/// Payload fields scroll can order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    ViewsDesc,
    PostedDesc,
}

/// Up to `limit` videos matching the filter, in `order` (point-id order when none), from the
/// `offset` a previous [`Page`] returned as `next` (the first page when none).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScrollRequest {
    pub filter: Filter,
    pub order: Option<OrderBy>,
    pub offset: Option<VideoId>,
    pub limit: usize,
}

/// One page of a scroll.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub videos: Vec<Video>,
    /// Pass back as `offset` for the next page; None at the end.
    pub next: Option<VideoId>,
}

/// Why a store operation failed. Every variant names where.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Qdrant server at {url} is unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("Qdrant server at {url} timed out after {seconds} s during {op}")]
    Timeout {
        url: String,
        op: String,
        seconds: f64,
    },
    /// The circuit breaker is open: an earlier call found the server gone, so this one was
    /// not sent (see [`breaker`]).
    #[error("Qdrant server at {url} is down ({detail}); not calling it until it answers again")]
    Down { url: String, detail: String },
    #[error("Qdrant server at {url} reports version {server}; scrollsim needs {needed}")]
    Version {
        url: String,
        server: String,
        needed: String,
    },
    #[error("collection {collection:?} exists with {vector} vectors of dimension {existing}, but the embedder gives {wanted}: use another collection name or delete it")]
    DimensionMismatch {
        collection: String,
        vector: String,
        existing: usize,
        wanted: usize,
    },
    #[error("collection {0:?} does not exist: run `scrollsim ingest` first")]
    NoCollection(String),
    #[error("vector of dimension {got} for {vector} vectors of dimension {expected} (video {id})")]
    BadVector {
        id: String,
        vector: String,
        expected: usize,
        got: usize,
    },
    #[error("{0}")]
    Backend(String),
    #[error("embedded store at {path}: {detail}")]
    Embedded { path: String, detail: String },
    /// The request itself cannot be served (e.g. a recommend without positive examples).
    #[error("{0}")]
    InvalidRequest(String),
    /// The `[store]` config is unusable; names the key.
    #[error("config: {0}")]
    Config(#[from] scrollsim_core::config::Invalid),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The store contract. Implementations must behave identically (the conformance suite in
/// `tests/` checks it against both backends).
#[async_trait]
pub trait VideoStore: Send + Sync {
    /// `embedded` or `server`.
    fn backend(&self) -> &'static str;

    /// Creates the collection with payload indexes, or opens it; an existing collection with
    /// other dimensions is [`StoreError::DimensionMismatch`].
    async fn open_collection(&self, spec: &CollectionSpec) -> Result<()>;

    /// Upserts in batches. Point ids derive from the video id, so re-ingesting a video replaces
    /// it rather than duplicating it. Returns only once the points are durably written.
    async fn upsert(&self, points: Vec<VideoPoint>) -> Result<usize>;

    /// Upserts points copied from another store (see [`copy_collection`]) like
    /// [`VideoStore::upsert`], except that each keeps the content digest its source recorded
    /// rather than one computed from its vectors, so the copy has the source's corpus id.
    async fn upsert_copies(&self, points: Vec<CopiedPoint>) -> Result<usize>;

    /// Every point's content digest, by point id (see [`point_id`]), as recorded when it was
    /// written.
    async fn content_digests(&self) -> Result<Vec<(Uuid, ContentDigest)>>;

    /// Videos by id, in the order asked; unknown ids are left out.
    async fn get(&self, ids: &[VideoId]) -> Result<Vec<Video>>;

    /// Stored vectors by id (unknown ids left out).
    async fn vectors(&self, ids: &[VideoId], using: VectorName)
        -> Result<Vec<(VideoId, Vec<f32>)>>;

    async fn search(&self, req: &SearchRequest) -> Result<Vec<Scored>>;

    async fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Scored>>;

    /// `n` distinct videos matching the filter, chosen pseudo-randomly: the same seed on the
    /// same corpus gives the same videos.
    async fn sample(&self, n: usize, seed: u64, filter: &Filter) -> Result<Vec<Video>>;

    async fn scroll(&self, req: &ScrollRequest) -> Result<Page>;

    async fn count(&self, filter: &Filter) -> Result<u64>;

    async fn delete(&self, ids: &[VideoId]) -> Result<()>;

    /// Identifies the corpus (collection, point count and a digest of the ids), recorded in
    /// every trace header. Formatted `<collection>:<points>:<12 hex digits>`; the digest covers
    /// each point's id and content (video JSON and vectors), so re-ingesting changed videos
    /// changes it. Cached until this store writes (writes by another process are not seen).
    async fn corpus_id(&self) -> Result<CorpusId>;

    /// Returns once the vector index covers everything written, so searches run at full
    /// speed. Ingest calls it at the end. Embedded: builds the HNSW index in-process (the
    /// engine has no background optimizer; opening a store with an unindexed backlog does it
    /// too). Server: waits until the collection reports green.
    async fn wait_indexed(&self) -> Result<()> {
        Ok(())
    }

    /// Whether the store is known to be down (its circuit breaker is open): callers about to
    /// start new work (a session) start none. Always `None` for the embedded store.
    fn outage(&self) -> Option<breaker::Outage> {
        None
    }
}

pub use config::{Backend, IndexParams, ReadConsistency, StoreConfig};
pub use copy::{copy_collection, Copied};
pub use schema::point_id;
pub use store::recommend_vector;
/// Point ids ([`point_id`]), for callers that key by them.
pub use uuid::Uuid;

/// Opens the configured store. Embedded data lives under `<data_dir>/qdrant/<collection>`.
/// If the configured collection exists it is opened, so callers that only read need not know
/// its dimensions; `open_collection` creates it or checks them. `cfg` is used as given: the
/// environment overrides are applied where the config file is read (see
/// [`config::deserialize_with_env`]).
pub async fn open_store(cfg: &StoreConfig, data_dir: &Path) -> Result<Arc<dyn VideoStore>> {
    cfg.validate()?;
    Ok(match cfg.backend {
        Backend::Embedded => {
            let engine = embedded::EdgeEngine::new(
                data_dir.join("qdrant"),
                cfg.index.clone(),
                cfg.shards as usize,
                cfg.cache_videos,
            )?;
            let store = store::Store::new(engine, cfg.upsert_batch, cfg.index.exact);
            store.open_if_exists(&cfg.collection).await?;
            Arc::new(store)
        }
        Backend::Server => {
            let engine = server::ServerEngine::connect(cfg).await?;
            let store = store::Store::new(engine, cfg.upsert_batch, cfg.index.exact);
            store.open_if_exists(&cfg.collection).await?;
            Arc::new(store)
        }
    })
}
