//! `popular`: the most viewed unseen video per step, a baseline for popularity-driven feeds.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, PolicyName, VideoId};
use scrollsim_store::VideoStore;

use super::views::ViewsRanking;
use super::{params_json, FeedPolicy, Pick, PolicyContext, PolicyError};
use crate::config::PopularParams;

/// The most viewed unseen videos (views descending, ties by point id); the slate's scores are
/// the view counts. Deterministic: every seed sees the same feed.
pub struct PopularPolicy {
    params: PopularParams,
    ranking: ViewsRanking,
}

impl PopularPolicy {
    pub fn new(params: PopularParams, store: Arc<dyn VideoStore>) -> Self {
        PopularPolicy {
            params,
            ranking: ViewsRanking::new(store),
        }
    }
}

#[async_trait]
impl FeedPolicy for PopularPolicy {
    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            params: params_json(&self.params),
            ..PolicyInfo::named(PolicyName::Popular)
        }
    }

    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        let seen: HashSet<&VideoId> = cx.feed.seen().iter().collect();
        let videos = self.ranking.top(self.params.slate_size, &seen).await?;
        Ok(Pick::first_of(videos, "popular", |v| {
            v.views.unwrap_or(0) as f32
        }))
    }
}
