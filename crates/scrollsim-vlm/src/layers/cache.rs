//! Record/replay: serves recorded answers and records new ones, per [`CacheMode`]. A recorded
//! failure replays as the same failure under replay-strict (so a replayed session makes the
//! same decisions) and is retried live under replay-or-live. Budget refusals and replay misses
//! are never recorded.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower::ServiceExt;

use super::{Answering, AroundCall, Next};
use crate::call::Call;
use crate::chat::{Answer, CallError};
use crate::config::CacheMode;
use crate::recordings::{CallCache, RecordedOutcome, Recording};

#[derive(Clone)]
pub struct Cache {
    cache: Option<Arc<CallCache>>,
    mode: CacheMode,
}

impl Cache {
    /// `cache` may be `None` only in [`CacheMode::Live`].
    pub fn new(cache: Option<Arc<CallCache>>, mode: CacheMode) -> Self {
        debug_assert!(cache.is_some() || mode == CacheMode::Live);
        Cache { cache, mode }
    }
}

impl AroundCall for Cache {
    fn around(self, call: Call, next: Next) -> Answering {
        let Cache { cache, mode } = self;
        Box::pin(async move {
            let cache = match (mode, cache) {
                (CacheMode::Live, _) | (_, None) => return next.oneshot(call).await,
                (_, Some(c)) => c,
            };
            if mode != CacheMode::Record {
                let found = cache
                    .get(&call.key)
                    .map_err(|e| CallError::Cache(e.to_string()))?;
                match (found.map(|r| r.outcome), mode) {
                    (Some(RecordedOutcome::Answer { response }), _) => {
                        return Ok(Answer {
                            response,
                            cached: true,
                            latency: Duration::ZERO,
                            attempts: 0,
                        });
                    }
                    (Some(RecordedOutcome::Failure { message }), CacheMode::ReplayStrict) => {
                        return Err(CallError::Recorded(message));
                    }
                    (None, CacheMode::ReplayStrict) => {
                        return Err(CallError::CacheMiss {
                            key: call.key.clone(),
                            what: call.what.clone(),
                        });
                    }
                    // replay-or-live: a miss or a recorded failure goes live.
                    _ => {}
                }
            }
            let started = std::time::Instant::now();
            let result = next.oneshot(call.clone()).await;
            let outcome = match &result {
                Ok(a) => Some((
                    RecordedOutcome::Answer {
                        response: a.response.clone(),
                    },
                    a.attempts,
                )),
                Err(e) if e.is_recordable() => Some((
                    RecordedOutcome::Failure {
                        message: e.to_string(),
                    },
                    0,
                )),
                Err(_) => None,
            };
            if let Some((outcome, attempts)) = outcome {
                let rec = Recording {
                    material: (*call.material).clone(),
                    outcome,
                    recorded_unix_ms: SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                    latency_ms: started.elapsed().as_millis() as u64,
                    attempts,
                };
                // The answer is paid for: a failed write is reported loudly but the answer is
                // still used.
                if let Err(e) = cache.put(&call.key, &rec).await {
                    tracing::error!(cache_key = %call.key, path = %cache.path().display(), error = %e, "could not record a call");
                }
            }
            result
        })
    }
}
