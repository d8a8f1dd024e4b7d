//! The corpus ranked by views, shared by every session of a run: the ranking does not depend
//! on the session, so it is read once, a page at a time as sessions reach deeper ranks,
//! instead of a filtered, ordered store query per step. It equals what the store's ordered
//! scroll excluding the seen videos returns (views descending, then point id), so a policy
//! using it shows the same videos, only faster.

use std::collections::HashSet;
use std::sync::Arc;

use scrollsim_core::{Video, VideoId};
use scrollsim_store::{OrderBy, ScrollRequest, VideoStore};
use tokio::sync::Mutex;

use super::PolicyError;

const PAGE: usize = 256;

#[derive(Default)]
struct Ranked {
    videos: Vec<Video>,
    next: Option<VideoId>,
    complete: bool,
}

pub(crate) struct ViewsRanking {
    store: Arc<dyn VideoStore>,
    ranked: Mutex<Ranked>,
}

impl ViewsRanking {
    pub(crate) fn new(store: Arc<dyn VideoStore>) -> Self {
        ViewsRanking {
            store,
            ranked: Mutex::new(Ranked::default()),
        }
    }

    /// The `n` most viewed videos not in `skip`, most viewed first (fewer at the end of the
    /// corpus).
    pub(crate) async fn top(
        &self,
        n: usize,
        skip: &HashSet<&VideoId>,
    ) -> Result<Vec<Video>, PolicyError> {
        let mut r = self.ranked.lock().await;
        loop {
            let found: Vec<&Video> = r
                .videos
                .iter()
                .filter(|v| !skip.contains(&v.id))
                .take(n)
                .collect();
            if found.len() == n || r.complete {
                return Ok(found.into_iter().cloned().collect());
            }
            let page = self
                .store
                .scroll(&ScrollRequest {
                    order: Some(OrderBy::ViewsDesc),
                    offset: r.next.clone(),
                    limit: PAGE,
                    ..Default::default()
                })
                .await?;
            r.complete = page.next.is_none();
            r.next = page.next;
            r.videos.extend(page.videos);
        }
    }

    /// The largest view count in the corpus.
    pub(crate) async fn max_views(&self) -> Result<u64, PolicyError> {
        let top = self.top(1, &HashSet::new()).await?;
        Ok(top.first().and_then(|v| v.views).unwrap_or(0))
    }
}
