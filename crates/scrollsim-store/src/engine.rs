//! The seam between the store's semantics (`store.rs`, written once) and an engine's calls
//! (`embedded/`, `server.rs`). An engine only translates: conditions to its filter type,
//! requests to its calls, errors to [`StoreError`]. Everything both backends must agree on
//! (recommend vectors, sampling, ordered paging, corpus ids) lives above this line.

use async_trait::async_trait;
use scrollsim_core::Video;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::{CollectionSpec, Filter, Result, Scored, VectorName};

/// A point ready to write: id, vectors and payload (see `schema::payload`).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: Uuid,
    pub text: Vec<f32>,
    pub image: Option<Vec<f32>>,
    pub payload: Map<String, Json>,
}

/// What a query must match: the caller's filter, the point ids it must not return (the
/// filter's `exclude` plus any the store adds), and optionally `key < below` on an integer key.
#[derive(Debug, Clone)]
pub struct Cond<'a> {
    pub filter: &'a Filter,
    pub exclude: Vec<Uuid>,
    pub below: Option<(&'static str, u64)>,
}

/// A nearest-neighbour query: cosine similarity on one named vector, best first.
#[derive(Debug, Clone, Copy)]
pub struct Nearest<'a> {
    pub using: VectorName,
    pub vector: &'a [f32],
    pub cond: &'a Cond<'a>,
    pub limit: usize,
    /// Scan every matching point instead of walking the index.
    pub exact: bool,
}

/// An ordered scroll over a numeric payload key.
#[derive(Debug, Clone, Copy)]
pub struct KeyScroll {
    pub key: &'static str,
    pub descending: bool,
    /// Start at this key value, inclusive.
    pub from: Option<f64>,
}

/// One engine's primitive operations on the open collection.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// `embedded` or `server`.
    fn name(&self) -> &'static str;

    /// Opens the collection named in `spec` if it exists, else creates it with its payload
    /// indexes. Returns the spec as stored (the caller compares dimensions).
    async fn open(&self, spec: &CollectionSpec) -> Result<CollectionSpec>;

    /// Opens the named collection if it exists, returning its stored spec.
    async fn open_existing(&self, name: &str) -> Result<Option<CollectionSpec>>;

    /// Writes one batch; returns how many points the engine acknowledged as written.
    async fn upsert(&self, batch: Vec<Prepared>) -> Result<usize>;

    /// Makes everything written so far durable.
    async fn commit(&self) -> Result<()>;

    /// Videos by point id, in the order asked; unknown ids left out.
    async fn videos(&self, ids: &[Uuid]) -> Result<Vec<Video>>;

    /// Stored (normalised) vectors by point id; unknown ids or points without that vector
    /// left out.
    async fn vectors(&self, ids: &[Uuid], using: VectorName) -> Result<Vec<(Uuid, Vec<f32>)>>;

    /// Nearest neighbours by cosine similarity, best first.
    async fn search(&self, q: Nearest<'_>) -> Result<Vec<Scored>>;

    /// Up to `limit` points in point-id order from `offset` (inclusive).
    async fn scroll(
        &self,
        cond: &Cond<'_>,
        offset: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>>;

    /// Up to `limit` points ordered by a numeric key.
    async fn scroll_key(
        &self,
        cond: &Cond<'_>,
        by: KeyScroll,
        limit: usize,
    ) -> Result<Vec<(Uuid, Video)>>;

    /// Exact count of matching points.
    async fn count(&self, cond: &Cond<'_>) -> Result<u64>;

    /// Deletes points (unknown ids are ignored) durably.
    async fn delete(&self, ids: &[Uuid]) -> Result<()>;

    /// Every point id with its content digest (for the corpus id).
    async fn digests(&self) -> Result<Vec<(Uuid, u64)>>;

    /// Builds the vector indexes for what was written and returns when done.
    async fn wait_indexed(&self) -> Result<()>;

    /// The engine's server is known to be down (see [`crate::breaker`]).
    fn outage(&self) -> Option<crate::breaker::Outage> {
        None
    }
}
