//! Feed policies: what the agent is shown next. One file per policy, behind [`FeedPolicy`].
//!
//! A policy holds its parameters and a store handle, never session state: it reads the
//! session through a [`FeedView`] (seen videos, dwell; likes only for a feed whose feedback
//! signal includes them) and derives any randomness from (seed, step). One instance therefore serves every session of a run, and a resumed session
//! gets exactly the videos an uninterrupted one would. Between steps a policy may keep a
//! [`PolicyMemo`], but only as a cache of what it can recompute from the state.

mod fixed;
mod foryou;
mod keyword;
mod popular;
mod random;
mod views;

use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_core::{PolicyInfo, SlateEntry, Value, Video};
use scrollsim_store::{StoreError, VideoStore};

pub use fixed::{FeedItem, FixedFeedPolicy};
pub use foryou::ForYouPolicy;
pub use keyword::{KeywordPolicy, KeywordQuery, KeywordSet};
pub use popular::PopularPolicy;
pub use random::RandomPolicy;

use crate::config::{PolicyConfig, PolicyKind, PolicySpec};
use crate::state::{FeedView, SessionState};

/// What a policy sees when choosing a step's video.
pub struct PolicyContext<'a> {
    /// The session so far, as a feed may observe it.
    pub feed: FeedView<'a>,
    /// The session seed.
    pub seed: u64,
    /// The policy's scratch space for this session.
    pub memo: &'a mut PolicyMemo,
}

/// Scratch space a policy keeps between the steps of one session. It may only cache what the
/// policy can recompute from the session state: it starts empty, and is empty again when a
/// session resumes, so a policy must give the same answers with or without it.
#[derive(Default)]
pub struct PolicyMemo(Option<Box<dyn std::any::Any + Send + Sync>>);

impl PolicyMemo {
    /// The cached value, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_ref().and_then(|b| b.downcast_ref())
    }

    pub fn set<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0 = Some(Box::new(value));
    }
}

impl<'a> PolicyContext<'a> {
    pub fn new(state: &'a SessionState, seed: u64, memo: &'a mut PolicyMemo) -> Self {
        PolicyContext {
            feed: state.feed_view(),
            seed,
            memo,
        }
    }

    pub fn step(&self) -> u32 {
        self.feed.step()
    }
}

/// A policy's choice for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub video: Video,
    /// Every candidate considered, best first, with its score and source.
    pub slate: Vec<SlateEntry>,
    /// For the keyword benchmark: the value this video was retrieved for.
    pub retrieved_for: Option<Value>,
}

impl Pick {
    /// A slate of `videos` as a feed ranked them, best first: the first is shown, every one is
    /// in the slate scored by `score` and marked as coming from `source`. None when empty.
    fn first_of(
        mut videos: Vec<Video>,
        source: &str,
        score: impl Fn(&Video) -> f32,
    ) -> Option<Pick> {
        if videos.is_empty() {
            return None;
        }
        let slate = videos
            .iter()
            .map(|v| SlateEntry {
                video: v.id.clone(),
                score: score(v),
                source: Some(source.into()),
            })
            .collect();
        Some(Pick {
            video: videos.swap_remove(0),
            slate,
            retrieved_for: None,
        })
    }
}

/// Why a policy could not choose.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
}

/// Chooses the next video of a session. Object-safe: sessions hold `Arc<dyn FeedPolicy>`.
#[async_trait]
pub trait FeedPolicy: Send + Sync {
    /// Name, preset and resolved parameters, as recorded in trace headers.
    fn info(&self) -> PolicyInfo;

    /// Steps the policy serves when it fixes the session's length itself (the keyword
    /// benchmark's retrieval plan); None for feeds that run to the requested length.
    async fn planned_length(&self) -> Result<Option<u32>, PolicyError> {
        Ok(None)
    }

    /// The next video, or None when no unseen video is left (the session then ends with
    /// `CorpusExhausted`).
    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError>;
}

/// Builds the policy an experiment names. `keywords` are the embedded value keywords, needed
/// by `keyword` only.
pub fn build_policy(
    spec: &PolicySpec,
    config: &PolicyConfig,
    store: Arc<dyn VideoStore>,
    keywords: Option<KeywordSet>,
) -> Result<Arc<dyn FeedPolicy>, PolicyError> {
    Ok(match spec.kind {
        PolicyKind::Keyword => {
            let keywords = keywords.ok_or_else(|| {
                PolicyError::Config("the keyword policy needs the embedded value keywords".into())
            })?;
            Arc::new(KeywordPolicy::new(config.keyword.clone(), keywords, store))
        }
        PolicyKind::Random => Arc::new(RandomPolicy::new(config.random.clone(), store)),
        PolicyKind::Popular => Arc::new(PopularPolicy::new(config.popular.clone(), store)),
        PolicyKind::ForYou => {
            let params = config
                .foryou_params(spec.preset.as_deref())
                .ok_or_else(|| {
                    PolicyError::Config(format!(
                        "no preset {:?} in [policy.presets] (known: {})",
                        spec.preset.as_deref().unwrap_or_default(),
                        config.preset_names()
                    ))
                })?;
            let preset = spec
                .preset
                .as_deref()
                .map(|p| config.canonical_preset(p).to_string());
            Arc::new(ForYouPolicy::new(params.clone(), preset, store))
        }
    })
}

fn params_json<T: serde::Serialize>(p: &T) -> serde_json::Value {
    serde_json::to_value(p).expect("policy parameters serialize")
}
