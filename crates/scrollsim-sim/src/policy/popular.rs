//! `popular`: the most viewed unseen video per step, a baseline for popularity-driven feeds.

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, SlateEntry};
use scrollsim_store::{Filter, OrderBy, VideoStore};

use super::{params_json, FeedPolicy, Pick, PolicyContext, PolicyError};
use crate::config::PopularParams;

/// Scrolls the store by views, descending, excluding seen videos; the slate's scores are the
/// view counts. Deterministic: every seed sees the same feed.
pub struct PopularPolicy {
    params: PopularParams,
    store: Arc<dyn VideoStore>,
}

impl PopularPolicy {
    pub fn new(params: PopularParams, store: Arc<dyn VideoStore>) -> Self {
        PopularPolicy { params, store }
    }
}

#[async_trait]
impl FeedPolicy for PopularPolicy {
    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            name: "popular".into(),
            preset: None,
            params: params_json(&self.params),
        }
    }

    async fn next(&self, cx: &PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        let filter = Filter::excluding(cx.state.seen().iter().cloned());
        let page = self
            .store
            .scroll(
                &filter,
                Some(OrderBy::ViewsDesc),
                None,
                self.params.slate_size,
            )
            .await?;
        let mut videos = page.videos;
        if videos.is_empty() {
            return Ok(None);
        }
        let slate = videos
            .iter()
            .map(|v| SlateEntry {
                video: v.id.clone(),
                score: v.views.unwrap_or(0) as f32,
                source: Some("popular".into()),
            })
            .collect();
        Ok(Some(Pick {
            video: videos.swap_remove(0),
            slate,
            retrieved_for: None,
        }))
    }
}
