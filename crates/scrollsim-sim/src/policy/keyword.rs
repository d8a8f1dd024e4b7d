//! `keyword`: the paper's value-retrieval benchmark [S] as a feed. For each value in
//! circumplex order, each keyword's `top_k` nearest videos, by image vector (keywords
//! embedded by CLIP's text tower, as the paper matched keywords to screenshots) or by text
//! vector (keywords embedded by the text embedder). With `dedup = false` (the default) every
//! keyword contributes exactly `top_k` videos where the corpus allows, so each value has
//! `top_k` x keywords of them, the paper's 5 x 10 = 50; with `dedup = true` a video retrieved
//! twice for one value is shown once. Each step records the value it was retrieved for
//! (`Step.retrieved_for`), which is what the paper's P(model, value) groups by.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, PolicyName, Retrieval, SlateEntry, Value, VideoId};
use scrollsim_store::{Filter, SearchRequest, VectorName, VideoStore};
use tokio::sync::OnceCell;

use super::{params_json, FeedPolicy, Pick, PolicyContext, PolicyError};
use crate::config::KeywordParams;

/// One keyword of one value, embedded in the space of the vectors it is matched against.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordQuery {
    pub value: Value,
    pub keyword: String,
    pub vector: Vec<f32>,
}

/// Every value keyword, embedded, and which of the videos' vectors they are matched against.
#[derive(Debug, Clone)]
pub struct KeywordSet {
    pub retrieval: Retrieval,
    pub queries: Arc<Vec<KeywordQuery>>,
}

/// The retrieval plan is the same for every session (it depends on the corpus and keywords
/// only), so it is computed once, on first use, and shared.
pub struct KeywordPolicy {
    params: KeywordParams,
    keywords: KeywordSet,
    store: Arc<dyn VideoStore>,
    plan: OnceCell<Vec<Pick>>,
}

impl KeywordPolicy {
    pub fn new(params: KeywordParams, keywords: KeywordSet, store: Arc<dyn VideoStore>) -> Self {
        KeywordPolicy {
            params,
            keywords,
            store,
            plan: OnceCell::new(),
        }
    }

    /// Every (value, video) the benchmark shows, in order.
    pub async fn plan(&self) -> Result<&[Pick], PolicyError> {
        let plan = self.plan.get_or_try_init(|| self.build_plan()).await?;
        Ok(plan.as_slice())
    }

    async fn build_plan(&self) -> Result<Vec<Pick>, PolicyError> {
        let using = match self.keywords.retrieval {
            Retrieval::Text => VectorName::Text,
            Retrieval::Image => VectorName::Image,
        };
        let mut plan = Vec::new();
        for value in Value::ALL {
            let mut taken: HashSet<VideoId> = HashSet::new();
            for q in self.keywords.queries.iter().filter(|q| q.value == value) {
                let hits = self
                    .store
                    .search(&SearchRequest {
                        using,
                        vector: q.vector.clone(),
                        filter: Filter::default(),
                        limit: self.params.top_k,
                        exact: false,
                    })
                    .await?;
                let source = format!("keyword:{}", q.keyword);
                let slate: Vec<SlateEntry> = hits
                    .iter()
                    .map(|h| SlateEntry {
                        video: h.video.id.clone(),
                        score: h.score,
                        source: Some(source.clone()),
                    })
                    .collect();
                for hit in hits {
                    if !self.params.dedup || taken.insert(hit.video.id.clone()) {
                        plan.push(Pick {
                            video: hit.video,
                            slate: slate.clone(),
                            retrieved_for: Some(value),
                        });
                    }
                }
            }
        }
        Ok(plan)
    }
}

#[async_trait]
impl FeedPolicy for KeywordPolicy {
    fn info(&self) -> PolicyInfo {
        let mut params = params_json(&self.params);
        params["keywords"] = self
            .keywords
            .queries
            .iter()
            .map(|q| serde_json::json!({"value": q.value, "keyword": q.keyword}))
            .collect();
        PolicyInfo {
            retrieval: Some(self.keywords.retrieval),
            params,
            ..PolicyInfo::named(PolicyName::Keyword)
        }
    }

    async fn planned_length(&self) -> Result<Option<u32>, PolicyError> {
        Ok(Some(self.plan().await?.len() as u32))
    }

    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        Ok(self.plan().await?.get(cx.step() as usize).cloned())
    }
}
