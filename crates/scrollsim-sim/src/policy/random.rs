//! `random`: a uniformly random unseen video per step, the baseline a reacting feed is
//! measured against.

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, PolicyName};
use scrollsim_store::{Filter, VideoStore};

use super::{params_json, FeedPolicy, Pick, PolicyContext, PolicyError};
use crate::config::RandomParams;
use crate::seed::{self, Purpose};

/// Draws `slate_size` unseen videos with the store's seeded `sample` (seed derived from the
/// session seed and the step) and shows the first. Slate scores are 0: nothing is ranked.
pub struct RandomPolicy {
    params: RandomParams,
    store: Arc<dyn VideoStore>,
}

impl RandomPolicy {
    pub fn new(params: RandomParams, store: Arc<dyn VideoStore>) -> Self {
        RandomPolicy { params, store }
    }
}

#[async_trait]
impl FeedPolicy for RandomPolicy {
    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            params: params_json(&self.params),
            ..PolicyInfo::named(PolicyName::Random)
        }
    }

    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        let filter = Filter::excluding(cx.feed.seen().iter().cloned());
        let seed = seed::derive(cx.seed, cx.step(), Purpose::Sample);
        let videos = self
            .store
            .sample(self.params.slate_size, seed, &filter)
            .await?;
        // Nothing is ranked: every slate score is 0.
        Ok(Pick::first_of(videos, "random", |_| 0.0))
    }
}
