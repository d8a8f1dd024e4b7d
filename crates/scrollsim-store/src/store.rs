//! The store's semantics, written once over an [`Engine`]: validation, batching, recommend,
//! sampling, paging and the corpus id. Both backends therefore behave the same by
//! construction, and the conformance suite checks the engines underneath.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use scrollsim_core::{CorpusId, Video, VideoId};
use uuid::Uuid;

use crate::engine::{Cond, Engine, KeyScroll, Nearest, Prepared};
use crate::schema::{self, field};
use crate::{
    CollectionSpec, ContentDigest, CopiedPoint, Filter, OrderBy, Page, RecommendRequest, Result,
    Scored, ScrollRequest, SearchRequest, StoreError, VectorName, VideoPoint, VideoStore,
};

/// A [`VideoStore`] over one engine.
pub struct Store<E: Engine> {
    engine: E,
    upsert_batch: usize,
    /// `store.index.exact`: every vector query scans, none walks the graph.
    exact: bool,
    spec: RwLock<Option<CollectionSpec>>,
    /// Bumped by every write; the cached corpus id is valid for one generation.
    writes: AtomicU64,
    corpus: Mutex<Option<(u64, CorpusId)>>,
    ids: RwLock<HashMap<VideoId, Uuid>>,
}

/// Entries of the video id -> point id cache before it starts over (~100 bytes each).
const ID_CACHE: usize = 1_000_000;

impl<E: Engine> Store<E> {
    pub fn new(engine: E, upsert_batch: usize, exact: bool) -> Self {
        Store {
            engine,
            upsert_batch: upsert_batch.max(1),
            exact,
            spec: RwLock::new(None),
            writes: AtomicU64::new(0),
            corpus: Mutex::new(None),
            ids: RwLock::new(HashMap::new()),
        }
    }

    /// Opens `name` if it exists (so a store over an ingested corpus works without knowing its
    /// dimensions); otherwise leaves the store closed until `open_collection`.
    pub async fn open_if_exists(&self, name: &str) -> Result<bool> {
        match self.engine.open_existing(name).await? {
            Some(spec) => {
                *self.spec.write() = Some(spec);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn spec(&self) -> Result<CollectionSpec> {
        self.spec
            .read()
            .clone()
            .ok_or_else(|| StoreError::NoCollection("<none opened>".into()))
    }

    fn dim(spec: &CollectionSpec, using: VectorName) -> Result<usize> {
        match using {
            VectorName::Text => Ok(spec.text_dim),
            VectorName::Image => spec.image_dim.ok_or_else(|| {
                StoreError::InvalidRequest(format!(
                    "collection {:?} has no image vectors (no image embedder was configured at ingest)",
                    spec.name
                ))
            }),
        }
    }

    /// Point ids of video ids, through a cache: UUID v5 is a SHA-1 per id, and a session's
    /// exclude list of 200 ids would pay it on every query (a tenth of a search).
    fn point_ids<'a>(&self, ids: impl IntoIterator<Item = &'a VideoId>) -> Vec<Uuid> {
        let mut fresh = Vec::new();
        let out = {
            let known = self.ids.read();
            ids.into_iter()
                .map(|id| match known.get(id) {
                    Some(u) => *u,
                    None => {
                        let u = schema::point_id(id);
                        fresh.push((id.clone(), u));
                        u
                    }
                })
                .collect()
        };
        if !fresh.is_empty() {
            let mut known = self.ids.write();
            if known.len() + fresh.len() > ID_CACHE {
                known.clear();
            }
            known.extend(fresh);
        }
        out
    }

    fn cond<'a>(&self, filter: &'a Filter, extra: impl IntoIterator<Item = Uuid>) -> Cond<'a> {
        let mut exclude: Vec<Uuid> = self.point_ids(&filter.exclude);
        exclude.extend(extra);
        Cond {
            filter,
            exclude,
            below: None,
        }
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Nearest neighbours, with a guarantee the index alone does not give: an indexed search
    /// never returns fewer hits than an exact one. A payload filter or a long exclude list can
    /// cut the HNSW graph into pieces the search cannot cross (seen with qdrant-edge: one hit
    /// where ten matched, in one build out of several), so an under-filled indexed result is
    /// repeated exactly. When few videos match, that exact pass is cheap (payload indexes).
    async fn nearest(&self, q: Nearest<'_>) -> Result<Vec<Scored>> {
        if q.exact || self.exact {
            return self.exact_nearest(q).await;
        }
        let hits = self.engine.search(q).await?;
        if hits.len() >= q.limit {
            return Ok(hits);
        }
        tracing::debug!(
            "indexed search returned {} of {} hits; repeating it exactly",
            hits.len(),
            q.limit
        );
        self.exact_nearest(q).await
    }

    /// An exact search whose answer is the same on every engine and cluster layout: best
    /// first, equal scores in point-id order (see [`complete_ties`]).
    async fn exact_nearest(&self, q: Nearest<'_>) -> Result<Vec<Scored>> {
        let engine = &self.engine;
        let query = move |fetch: usize| async move {
            let hits = engine
                .search(Nearest {
                    limit: fetch,
                    exact: true,
                    ..q
                })
                .await?;
            Ok::<_, StoreError>(
                hits.into_iter()
                    .map(|h| (f64::from(h.score), schema::point_id(&h.video.id), h))
                    .collect(),
            )
        };
        complete_ties(q.limit, query, |_, _| true).await
    }

    /// Rejects a point the collection cannot hold, naming the video.
    fn validate(spec: &CollectionSpec, p: &VideoPoint) -> Result<()> {
        let check = |v: &[f32], name: VectorName, expected: usize| {
            if v.len() != expected {
                return Err(StoreError::BadVector {
                    id: p.video.id.to_string(),
                    vector: name.as_str().into(),
                    expected,
                    got: v.len(),
                });
            }
            if !v.iter().all(|x| x.is_finite()) || v.iter().all(|x| *x == 0.0) {
                return Err(StoreError::InvalidRequest(format!(
                    "video {}: {} vector is zero or not finite, so it has no direction",
                    p.video.id,
                    name.as_str()
                )));
            }
            Ok(())
        };
        check(&p.text, VectorName::Text, spec.text_dim)?;
        if let Some(img) = &p.image {
            match spec.image_dim {
                Some(d) => check(img, VectorName::Image, d)?,
                None => {
                    return Err(StoreError::BadVector {
                        id: p.video.id.to_string(),
                        vector: "image".into(),
                        expected: 0,
                        got: img.len(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Id and payload for validated points, each with the content digest to record (`None`:
    /// computed from its content).
    fn prepare(points: Vec<(VideoPoint, Option<ContentDigest>)>) -> Result<Vec<Prepared>> {
        points
            .into_iter()
            .map(|(p, digest)| {
                let id = schema::point_id(&p.video.id);
                let payload = schema::payload(
                    &p.video,
                    &id,
                    &p.text,
                    p.image.as_deref(),
                    digest.map(|d| d.0),
                )
                .map_err(|e| StoreError::Backend(format!("video {}: payload: {e}", p.video.id)))?;
                Ok(Prepared {
                    id,
                    text: p.text,
                    image: p.image,
                    payload,
                })
            })
            .collect()
    }

    /// Validates every point, then writes them in batches.
    async fn write(&self, points: Vec<(VideoPoint, Option<ContentDigest>)>) -> Result<usize> {
        let spec = self.spec()?;
        // Validate everything before writing anything: a bad point fails the call up front.
        for (p, _) in &points {
            Self::validate(&spec, p)?;
        }
        let mut rest = points.into_iter();
        let mut take_batch = || -> Result<Option<Vec<Prepared>>> {
            let batch: Vec<_> = rest.by_ref().take(self.upsert_batch).collect();
            if batch.is_empty() {
                Ok(None)
            } else {
                Self::prepare(batch).map(Some)
            }
        };
        let mut written = 0;
        let mut next = take_batch()?;
        while let Some(batch) = next.take() {
            self.wrote();
            // Build the next batch's payloads while the engine writes this one (2 cores).
            let (n, following) = tokio::join!(self.engine.upsert(batch), async { take_batch() });
            written += n?;
            next = following?;
        }
        self.engine.commit().await?;
        self.wrote();
        Ok(written)
    }

    /// One page of an ordered scroll. The engine orders by a float key that is unique up to
    /// rare ties; here the page is cut in the total order (key desc, point id asc), so paging
    /// neither skips nor repeats a video even across ties. `offset` is the first video of the
    /// page (inclusive), as handed out in `Page::next`.
    async fn page_by_key(
        &self,
        filter: &Filter,
        order: OrderBy,
        offset: Option<&VideoId>,
        limit: usize,
    ) -> Result<Page> {
        let cond = self.cond(filter, []);
        let cursor = match offset {
            None => None,
            Some(id) => {
                let uuid = schema::point_id(id);
                let v = self.engine.videos(&[uuid]).await?.pop().ok_or_else(|| {
                    StoreError::InvalidRequest(format!("scroll offset: no video {id} in the store"))
                })?;
                Some((schema::order_key(order, &v, &uuid), uuid))
            }
        };
        let engine = &self.engine;
        let cond = &cond;
        let query = move |fetch: usize| async move {
            let by = KeyScroll {
                key: schema::order_field(order),
                descending: true,
                from: cursor.map(|c| c.0),
            };
            let rows = engine.scroll_key(cond, by, fetch).await?;
            Ok::<_, StoreError>(
                rows.into_iter()
                    .map(|(id, v)| (schema::order_key(order, &v, &id), id, v))
                    .collect(),
            )
        };
        // From the cursor on; the engine's `from` is inclusive of the whole run at its key.
        let from_cursor = move |k: f64, id: &Uuid| {
            cursor.is_none_or(|(ck, cid)| k < ck || (k == ck && *id >= cid))
        };
        // One more than the page, to know where the next one starts.
        let mut videos = complete_ties(limit + 1, query, from_cursor).await?;
        let next = videos.get(limit).map(|v| v.id.clone());
        videos.truncate(limit);
        Ok(Page { videos, next })
    }
}

/// The first `need` rows in the total order (key descending, point id ascending), or all
/// there are, from a query an engine may cut anywhere inside a run of equal keys (a cluster's
/// shards answer ties in varying order). Rows keyed above the lowest key returned are
/// certainly complete; while fewer than `need` are, the query is asked again for four times
/// as many rows. `keep` drops rows before they count (a page's cursor).
async fn complete_ties<T, Fut>(
    need: usize,
    query: impl Fn(usize) -> Fut,
    keep: impl Fn(f64, &Uuid) -> bool,
) -> Result<Vec<T>>
where
    Fut: Future<Output = Result<Vec<(f64, Uuid, T)>>>,
{
    let mut fetch = need + 16;
    loop {
        let mut rows = query(fetch).await?;
        let exhausted = rows.len() < fetch;
        let min = rows.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        rows.retain(|r| keep(r.0, &r.1));
        let complete = if exhausted {
            rows.len()
        } else {
            rows.iter().filter(|r| r.0 > min).count()
        };
        if exhausted || complete >= need {
            rows.truncate(complete.min(need));
            return Ok(rows.into_iter().map(|r| r.2).collect());
        }
        fetch *= 4;
    }
}

/// The recommend query vector (see [`RecommendRequest`]):
/// `normalize(p + (p - n))` with `p`, `n` the weighted means of the positive and negative
/// vectors, or `normalize(p)` without negatives: Qdrant's average-vector strategy with weights.
/// Examples of weight 0 have no influence. Public so a policy can inspect or reuse it.
pub fn recommend_vector(
    positive: &[(&[f32], f32)],
    negative: &[(&[f32], f32)],
) -> Result<Vec<f32>> {
    fn weighted_mean(xs: &[(&[f32], f32)]) -> Result<Option<Vec<f32>>> {
        let mut total = 0.0f64;
        let mut acc: Vec<f64> = Vec::new();
        for (v, w) in xs {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(StoreError::InvalidRequest(format!(
                    "recommend: example weight {w} is not a finite number >= 0"
                )));
            }
            if *w == 0.0 {
                continue;
            }
            if acc.is_empty() {
                acc = vec![0.0; v.len()];
            }
            for (a, x) in acc.iter_mut().zip(v.iter()) {
                *a += *w as f64 * *x as f64;
            }
            total += *w as f64;
        }
        Ok((total > 0.0).then(|| acc.iter().map(|a| (a / total) as f32).collect()))
    }
    let p = weighted_mean(positive)?.ok_or_else(|| {
        StoreError::InvalidRequest(
            "recommend needs at least one positive example with a weight above 0".into(),
        )
    })?;
    let q: Vec<f32> = match weighted_mean(negative)? {
        Some(n) => p.iter().zip(n.iter()).map(|(p, n)| p + (p - n)).collect(),
        None => p,
    };
    let norm = q
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt();
    if norm.is_nan() || norm <= 1e-12 {
        return Err(StoreError::InvalidRequest(
            "recommend: the examples cancel out (query vector is zero)".into(),
        ));
    }
    Ok(q.iter().map(|x| (*x as f64 / norm) as f32).collect())
}

#[async_trait]
impl<E: Engine> VideoStore for Store<E> {
    fn backend(&self) -> &'static str {
        self.engine.name()
    }

    async fn open_collection(&self, spec: &CollectionSpec) -> Result<()> {
        let stored = self.engine.open(spec).await?;
        let mismatch =
            |vector: &str, existing: usize, wanted: usize| StoreError::DimensionMismatch {
                collection: spec.name.clone(),
                vector: vector.into(),
                existing,
                wanted,
            };
        if stored.text_dim != spec.text_dim {
            return Err(mismatch("text", stored.text_dim, spec.text_dim));
        }
        if stored.image_dim != spec.image_dim {
            return Err(mismatch(
                "image",
                stored.image_dim.unwrap_or(0),
                spec.image_dim.unwrap_or(0),
            ));
        }
        *self.spec.write() = Some(stored);
        self.wrote();
        Ok(())
    }

    async fn upsert(&self, points: Vec<VideoPoint>) -> Result<usize> {
        self.write(points.into_iter().map(|p| (p, None)).collect())
            .await
    }

    async fn upsert_copies(&self, points: Vec<CopiedPoint>) -> Result<usize> {
        self.write(
            points
                .into_iter()
                .map(|c| (c.point, Some(c.digest)))
                .collect(),
        )
        .await
    }

    async fn get(&self, ids: &[VideoId]) -> Result<Vec<Video>> {
        let uuids: Vec<Uuid> = self.point_ids(ids);
        self.engine.videos(&uuids).await
    }

    async fn vectors(
        &self,
        ids: &[VideoId],
        using: VectorName,
    ) -> Result<Vec<(VideoId, Vec<f32>)>> {
        Self::dim(&self.spec()?, using)?;
        let uuids: Vec<Uuid> = self.point_ids(ids);
        let by_uuid: HashMap<Uuid, &VideoId> = uuids.iter().copied().zip(ids).collect();
        let found = self.engine.vectors(&uuids, using).await?;
        Ok(found
            .into_iter()
            .filter_map(|(u, v)| by_uuid.get(&u).map(|id| ((*id).clone(), v)))
            .collect())
    }

    async fn search(&self, req: &SearchRequest) -> Result<Vec<Scored>> {
        let dim = Self::dim(&self.spec()?, req.using)?;
        if req.vector.len() != dim {
            return Err(StoreError::BadVector {
                id: "<search query>".into(),
                vector: req.using.as_str().into(),
                expected: dim,
                got: req.vector.len(),
            });
        }
        if req.limit == 0 {
            return Ok(Vec::new());
        }
        let cond = self.cond(&req.filter, []);
        self.nearest(Nearest {
            using: req.using,
            vector: &req.vector,
            cond: &cond,
            limit: req.limit,
            exact: req.exact,
        })
        .await
    }

    async fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Scored>> {
        Self::dim(&self.spec()?, req.using)?;
        let ids: Vec<VideoId> = req
            .positive
            .iter()
            .chain(&req.negative)
            .map(|e| e.id.clone())
            .collect();
        let found: HashMap<VideoId, Vec<f32>> =
            self.vectors(&ids, req.using).await?.into_iter().collect();
        let lookup = |ex: &[crate::Example]| -> Result<Vec<(&[f32], f32)>> {
            ex.iter()
                .map(|e| {
                    found
                        .get(&e.id)
                        .map(|v| (v.as_slice(), e.weight))
                        .ok_or_else(|| {
                            StoreError::InvalidRequest(format!(
                            "recommend: example video {} is not in the store or has no {} vector",
                            e.id,
                            req.using.as_str()
                        ))
                        })
                })
                .collect()
        };
        let query = recommend_vector(&lookup(&req.positive)?, &lookup(&req.negative)?)?;
        if req.limit == 0 {
            return Ok(Vec::new());
        }
        // Like Qdrant's recommend, never return the examples themselves.
        let cond = self.cond(&req.filter, self.point_ids(&ids));
        self.nearest(Nearest {
            using: req.using,
            vector: &query,
            cond: &cond,
            limit: req.limit,
            exact: false,
        })
        .await
    }

    async fn sample(&self, n: usize, seed: u64, filter: &Filter) -> Result<Vec<Video>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let start = schema::sample_start(seed);
        let mut cond = self.cond(filter, []);
        let by = |from: Option<u64>| KeyScroll {
            key: field::SAMPLE_KEY,
            descending: false,
            from: from.map(|f| f as f64),
        };
        let mut out: Vec<Video> = self
            .engine
            .scroll_key(&cond, by(Some(start)), n)
            .await?
            .into_iter()
            .map(|r| r.1)
            .collect();
        if out.len() < n {
            // Wrap around: the keys below the start, which the first pass cannot have returned.
            cond.below = Some((field::SAMPLE_KEY, start));
            let rest = self
                .engine
                .scroll_key(&cond, by(None), n - out.len())
                .await?;
            out.extend(rest.into_iter().map(|r| r.1));
        }
        Ok(out)
    }

    async fn scroll(&self, req: &ScrollRequest) -> Result<Page> {
        let (limit, offset) = (req.limit, req.offset.as_ref());
        if limit == 0 {
            return Ok(Page::default());
        }
        if let Some(order) = req.order {
            return self.page_by_key(&req.filter, order, offset, limit).await;
        }
        let cond = self.cond(&req.filter, []);
        let mut rows = self
            .engine
            .scroll(&cond, offset.map(schema::point_id), limit + 1)
            .await?;
        let next = if rows.len() > limit {
            rows.pop().map(|r| r.1.id)
        } else {
            None
        };
        Ok(Page {
            videos: rows.into_iter().map(|r| r.1).collect(),
            next,
        })
    }

    async fn count(&self, filter: &Filter) -> Result<u64> {
        self.engine.count(&self.cond(filter, [])).await
    }

    async fn delete(&self, ids: &[VideoId]) -> Result<()> {
        let uuids: Vec<Uuid> = self.point_ids(ids);
        self.wrote();
        let out = self.engine.delete(&uuids).await;
        self.wrote();
        out
    }

    async fn content_digests(&self) -> Result<Vec<(Uuid, ContentDigest)>> {
        self.spec()?;
        Ok(self
            .engine
            .digests()
            .await?
            .into_iter()
            .map(|(id, d)| (id, ContentDigest(d)))
            .collect())
    }

    async fn corpus_id(&self) -> Result<CorpusId> {
        let spec = self.spec()?;
        let generation = self.writes.load(Ordering::SeqCst);
        if let Some((g, id)) = self.corpus.lock().as_ref() {
            if *g == generation {
                return Ok(id.clone());
            }
        }
        let entries = self.engine.digests().await?;
        let id = CorpusId::new(format!(
            "{}:{}:{}",
            spec.name,
            entries.len(),
            schema::corpus_digest(entries)
        ));
        // A write that raced the digest bumped the generation, so this entry is never served.
        *self.corpus.lock() = Some((generation, id.clone()));
        Ok(id)
    }

    async fn wait_indexed(&self) -> Result<()> {
        self.engine.wait_indexed().await
    }

    fn outage(&self) -> Option<crate::breaker::Outage> {
        self.engine.outage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the `exact` flag of every search it is asked; finds nothing.
    #[derive(Default)]
    struct Recorder {
        searches: Mutex<Vec<bool>>,
    }

    #[async_trait]
    impl Engine for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        async fn open(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
            Ok(spec.clone())
        }
        async fn open_existing(&self, name: &str) -> Result<Option<CollectionSpec>> {
            Ok(Some(CollectionSpec {
                name: name.into(),
                text_dim: 2,
                image_dim: None,
            }))
        }
        async fn upsert(&self, _: Vec<Prepared>) -> Result<usize> {
            unreachable!("not written to")
        }
        async fn commit(&self) -> Result<()> {
            Ok(())
        }
        async fn videos(&self, _: &[Uuid]) -> Result<Vec<Video>> {
            Ok(Vec::new())
        }
        async fn vectors(&self, ids: &[Uuid], _: VectorName) -> Result<Vec<(Uuid, Vec<f32>)>> {
            Ok(ids.iter().map(|u| (*u, vec![1.0, 0.0])).collect())
        }
        async fn search(&self, q: Nearest<'_>) -> Result<Vec<Scored>> {
            self.searches.lock().push(q.exact);
            Ok(Vec::new())
        }
        async fn scroll(
            &self,
            _: &Cond<'_>,
            _: Option<Uuid>,
            _: usize,
        ) -> Result<Vec<(Uuid, Video)>> {
            Ok(Vec::new())
        }
        async fn scroll_key(
            &self,
            _: &Cond<'_>,
            _: KeyScroll,
            _: usize,
        ) -> Result<Vec<(Uuid, Video)>> {
            Ok(Vec::new())
        }
        async fn count(&self, _: &Cond<'_>) -> Result<u64> {
            Ok(0)
        }
        async fn delete(&self, _: &[Uuid]) -> Result<()> {
            Ok(())
        }
        async fn digests(&self) -> Result<Vec<(Uuid, u64)>> {
            Ok(Vec::new())
        }
        async fn wait_indexed(&self) -> Result<()> {
            Ok(())
        }
    }

    async fn searches(exact_store: bool) -> Vec<bool> {
        let store = Store::new(Recorder::default(), 8, exact_store);
        assert!(store.open_if_exists("c").await.unwrap());
        let search = SearchRequest {
            using: VectorName::Text,
            vector: vec![1.0, 0.0],
            filter: Filter::default(),
            limit: 3,
            exact: false,
        };
        store.search(&search).await.unwrap();
        let recommend = RecommendRequest {
            using: VectorName::Text,
            positive: vec![crate::Example {
                id: VideoId::new("a"),
                weight: 1.0,
            }],
            negative: Vec::new(),
            filter: Filter::default(),
            limit: 3,
        };
        store.recommend(&recommend).await.unwrap();
        let seen = store.engine.searches.lock().clone();
        seen
    }

    #[tokio::test]
    async fn exact_stores_never_walk_the_graph() {
        // Indexed first; the under-filled result (nothing found) is repeated exactly.
        assert_eq!(searches(false).await, [false, true, false, true]);
        // `index.exact`: every query, search or recommend, asks the engine for a scan, once.
        assert_eq!(searches(true).await, [true, true]);
    }

    #[test]
    fn recommend_vector_is_qdrant_average_vector_with_weights() {
        let a = [1.0f32, 0.0, 0.0];
        let b = [0.0f32, 1.0, 0.0];
        let c = [0.0f32, 0.0, 1.0];
        // Positives only: weighted mean, normalised.
        let q = recommend_vector(&[(&a, 3.0), (&b, 1.0)], &[]).unwrap();
        let n = (0.75f32 * 0.75 + 0.25 * 0.25).sqrt();
        assert!((q[0] - 0.75 / n).abs() < 1e-6 && (q[1] - 0.25 / n).abs() < 1e-6 && q[2] == 0.0);
        // With a negative: 2p - n.
        let q = recommend_vector(&[(&a, 1.0)], &[(&c, 1.0)]).unwrap();
        let n = (4.0f32 + 1.0).sqrt();
        assert!((q[0] - 2.0 / n).abs() < 1e-6 && (q[2] + 1.0 / n).abs() < 1e-6);
        // Zero-weight negatives have no influence.
        let q = recommend_vector(&[(&a, 1.0)], &[(&c, 0.0)]).unwrap();
        assert_eq!(q, vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn recommend_vector_rejects_what_has_no_direction() {
        let a = [1.0f32, 0.0];
        assert!(recommend_vector(&[], &[(&a, 1.0)]).is_err());
        assert!(recommend_vector(&[(&a, 0.0)], &[]).is_err());
        assert!(recommend_vector(&[(&a, f32::NAN)], &[]).is_err());
        // p + (p - n) with n = 2p is zero.
        let two_a = [2.0f32, 0.0];
        assert!(recommend_vector(&[(&a, 1.0)], &[(&two_a, 1.0)]).is_err());
    }
}
