//! `fixed`: replays a recorded feed, the same videos in the same order with the recorded
//! slates, for `scrollsim replay --rerun` (re-execute a session from its recorded calls) and
//! `scrollsim replay --judge` (the same feed against another judge, a counterfactual).

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, PolicyName, SlateEntry, Value, VideoId};
use scrollsim_store::VideoStore;

use super::{FeedPolicy, Pick, PolicyContext, PolicyError};

/// One recorded step of a feed: what was shown, what the policy had considered, and (for the
/// keyword benchmark) the value it was retrieved for.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub video: VideoId,
    pub slate: Vec<SlateEntry>,
    pub retrieved_for: Option<Value>,
}

/// Serves step `i` of a recorded feed at step `i`, reading the video record from the store;
/// ends the session when the recording does. Its `info` is `fixed(<recorded policy>)`: the
/// feed is open-loop (it does not react to the judge now deciding), so a counterfactual
/// session is never reported as a session of the policy that recorded it.
pub struct FixedFeedPolicy {
    recorded: PolicyInfo,
    feed: Vec<FeedItem>,
    store: Arc<dyn VideoStore>,
}

impl FixedFeedPolicy {
    pub fn new(recorded: PolicyInfo, feed: Vec<FeedItem>, store: Arc<dyn VideoStore>) -> Self {
        FixedFeedPolicy {
            recorded,
            feed,
            store,
        }
    }
}

#[async_trait]
impl FeedPolicy for FixedFeedPolicy {
    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            replays: Some(Box::new(self.recorded.clone())),
            ..PolicyInfo::named(PolicyName::Fixed)
        }
    }

    async fn planned_length(&self) -> Result<Option<u32>, PolicyError> {
        Ok(Some(self.feed.len() as u32))
    }

    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        let Some(item) = self.feed.get(cx.step() as usize) else {
            return Ok(None);
        };
        let video = self
            .store
            .get(std::slice::from_ref(&item.video))
            .await?
            .pop()
            .ok_or_else(|| {
                PolicyError::Config(format!(
                    "step {}: video {} of the recorded feed is not in the store (was the corpus re-ingested or changed?)",
                    cx.step(),
                    item.video
                ))
            })?;
        Ok(Some(Pick {
            video,
            slate: item.slate.clone(),
            retrieved_for: item.retrieved_for,
        }))
    }
}
