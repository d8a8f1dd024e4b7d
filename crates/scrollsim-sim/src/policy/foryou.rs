//! `foryou`: a feed that reacts to the agent within the session, the part the paper's live
//! platforms kept out of its control. Presets (`fast-adapting`...) are parameter sets in
//! config, named by the mechanisms they set, not code.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use rand::Rng;
use scrollsim_core::{FeedbackSignal, PolicyInfo, PolicyName, SlateEntry, Video, VideoId};
use scrollsim_store::{Example, Filter, RecommendRequest, VideoStore};
use tokio::sync::OnceCell;

use super::views::ViewsRanking;
use super::{params_json, FeedPolicy, Pick, PolicyContext, PolicyError};
use crate::config::ForYouParams;
use crate::seed::{self, Purpose};
use crate::state::Observed;

/// One step:
/// 1. Views older than `feedback_delay` steps, the last `history` of them, become examples,
///    positive or negative by the `feedback` signal (under `dwell`, the default: positive when
///    the agent stayed `positive_dwell_s` or longer), negatives only if `use_negatives`, each
///    weighing `max(dwell, min_weight_s) x 0.5^(age / half_life_steps)`.
/// 2. With `n` >= 1 positive examples, the store's recommend query gives `slate_size` unseen
///    candidates scored by similarity (source `recommend`). The feed asks every
///    `refresh_every` steps, from the feedback before the request, and serves that page
///    (minus what has been shown since) until the next request.
/// 3. The `popular_candidates` most viewed unseen videos join the slate (source `popular`,
///    score `ln(1 + views) / ln(1 + the corpus' largest views)`).
/// 4. Who serves the step: with probability `epsilon` exploration; else with probability
///    `popularity_mix` the popular candidates; else the recommendations with probability
///    `n / (n + confidence_positives)` (how much evidence the feed wants before it trusts its
///    picture of the user: the adaptation speed) and exploration otherwise. Exploration shows
///    a seeded random unseen video from outside the slate (added to it as `explore`); a list
///    serves by softmax over its scores at `temperature` (its top video at temperature 0).
pub struct ForYouPolicy {
    params: ForYouParams,
    preset: Option<String>,
    store: Arc<dyn VideoStore>,
    ranking: ViewsRanking,
    /// ln(1 + the corpus' largest view count), for popularity in [0, 1].
    log_max_views: OnceCell<f32>,
}

impl ForYouPolicy {
    pub fn new(params: ForYouParams, preset: Option<String>, store: Arc<dyn VideoStore>) -> Self {
        ForYouPolicy {
            params,
            preset,
            ranking: ViewsRanking::new(store.clone()),
            store,
            log_max_views: OnceCell::new(),
        }
    }

    /// Popularity in [0, 1]: log views over the corpus' largest log views.
    async fn popularity(&self, video: &Video) -> Result<f32, PolicyError> {
        let max = *self
            .log_max_views
            .get_or_try_init(|| async {
                Ok::<f32, PolicyError>((self.ranking.max_views().await? as f32).ln_1p())
            })
            .await?;
        Ok(if max > 0.0 {
            (video.views.unwrap_or(0) as f32).ln_1p() / max
        } else {
            0.0
        })
    }

    /// Positive and negative examples from the first `upto` steps' feedback.
    fn examples(&self, cx: &PolicyContext<'_>, upto: usize) -> (Vec<Example>, Vec<Example>) {
        // The state hands out likes only when the signal includes them.
        examples(&self.params, &cx.feed.feedback(self.params.feedback), upto)
    }

    /// The page of recommendations requested at step `at`: from the feedback of the steps
    /// before it, excluding the videos shown before it.
    async fn page(&self, cx: &PolicyContext<'_>, at: u32) -> Result<Page, PolicyError> {
        let p = &self.params;
        let upto = at as usize;
        let (positive, negative) = self.examples(cx, upto);
        let positives = positive.len();
        let mut videos = Vec::new();
        if !positive.is_empty() {
            let shown = cx.feed.views()[..upto].iter().map(|v| v.video.clone());
            let req = RecommendRequest {
                using: p.using,
                positive,
                negative,
                filter: Filter::excluding(shown),
                limit: p.slate_size,
            };
            videos = self
                .store
                .recommend(&req)
                .await?
                .into_iter()
                .map(|h| (h.video, h.score))
                .collect();
        }
        Ok(Page {
            at,
            positives,
            videos,
        })
    }
}

/// Recommendations as requested at step `at`, served until the next request.
struct Page {
    at: u32,
    /// Positive examples the request had.
    positives: usize,
    videos: Vec<(Video, f32)>,
}

/// The examples a feed with `p` builds from what it observed of the first `upto` steps, aged
/// as seen from step `upto` (foryou never repeats a video, so each appears once). Under
/// `feedback = "dwell"` `observed` holds no likes at all (see [`crate::FeedView::feedback`]).
pub(crate) fn examples(
    p: &ForYouParams,
    observed: &Observed<'_>,
    upto: usize,
) -> (Vec<Example>, Vec<Example>) {
    let usable = upto.saturating_sub(p.feedback_delay as usize);
    let from = usable.saturating_sub(p.history);
    let by_dwell = p.feedback != FeedbackSignal::Likes;
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    for (i, view) in observed.views.iter().enumerate().take(usable).skip(from) {
        let liked = observed.likes.is_some_and(|l| l[i]);
        let is_positive = liked || (by_dwell && view.dwell_s >= p.positive_dwell_s);
        let age = (upto - i) as f32;
        let weight = view.dwell_s.max(p.min_weight_s) * 0.5f32.powf(age / p.half_life_steps);
        let example = Example {
            id: view.video.clone(),
            weight,
        };
        if is_positive {
            positive.push(example);
        } else if p.use_negatives {
            negative.push(example);
        }
    }
    (positive, negative)
}

/// Draws an index from scores by softmax at `temperature` (the first, best, at 0).
fn softmax_pick(scores: &[f32], temperature: f32, u: f64) -> usize {
    if temperature <= 0.0 || scores.len() < 2 {
        return 0;
    }
    let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = scores
        .iter()
        .map(|s| (((s - top) / temperature) as f64).exp())
        .collect();
    let mut x = u * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

#[async_trait]
impl FeedPolicy for ForYouPolicy {
    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            preset: self.preset.clone(),
            feedback: Some(self.params.feedback),
            params: params_json(&self.params),
            ..PolicyInfo::named(PolicyName::ForYou)
        }
    }

    async fn next(&self, cx: &mut PolicyContext<'_>) -> Result<Option<Pick>, PolicyError> {
        let p = &self.params;
        let step = cx.step();
        let exclude = Filter::excluding(cx.feed.seen().iter().cloned());
        // The feed requests a page of recommendations every `refresh_every` steps (as apps
        // fetch feed pages); the memo only saves asking again for the same page.
        let at = step - step % p.refresh_every;
        if cx.memo.get::<Page>().is_none_or(|pg| pg.at != at) {
            let page = self.page(cx, at).await?;
            cx.memo.set(page);
        }
        let page = cx.memo.get::<Page>().expect("just set");
        let positives = page.positives as f32;
        let personal: Vec<(Video, f32)> = page
            .videos
            .iter()
            .filter(|(v, _)| !cx.feed.has_seen(&v.id))
            .cloned()
            .collect();
        let mut popular: Vec<(Video, f32)> = Vec::new();
        if p.popular_candidates > 0 {
            let skip: HashSet<&VideoId> = cx
                .feed
                .seen()
                .iter()
                .chain(personal.iter().map(|c| &c.0.id))
                .collect();
            for v in self.ranking.top(p.popular_candidates, &skip).await? {
                let score = self.popularity(&v).await?;
                popular.push((v, score));
            }
        }
        let entry = |(v, s): &(Video, f32), src: &str| SlateEntry {
            video: v.id.clone(),
            score: *s,
            source: Some(src.into()),
        };
        let mut slate: Vec<SlateEntry> = personal.iter().map(|c| entry(c, "recommend")).collect();
        slate.extend(popular.iter().map(|c| entry(c, "popular")));

        let mut rng = seed::rng(cx.seed, step, Purpose::Explore);
        let u: f32 = rng.random();
        let trust: f32 = rng.random();
        let confidence = positives / (positives + p.confidence_positives);
        let mut served = if u < p.epsilon {
            Serve::Explore
        } else if u < p.epsilon + p.popularity_mix && !popular.is_empty() {
            Serve::Popular
        } else if trust < confidence && !personal.is_empty() {
            Serve::Personal
        } else {
            Serve::Explore
        };
        if served == Serve::Explore {
            let mut f = exclude;
            f.exclude.extend(slate.iter().map(|e| e.video.clone()));
            let seed = seed::derive(cx.seed, step, Purpose::Explore);
            if let Some(video) = self.store.sample(1, seed, &f).await?.pop() {
                slate.push(SlateEntry {
                    video: video.id.clone(),
                    score: 0.0,
                    source: Some("explore".into()),
                });
                return Ok(Some(Pick {
                    video,
                    slate,
                    retrieved_for: None,
                }));
            }
            // Every unseen video is already in the slate: serve from it.
            served = if personal.is_empty() {
                Serve::Popular
            } else {
                Serve::Personal
            };
        }
        let mut list = if served == Serve::Popular {
            popular
        } else {
            personal
        };
        if list.is_empty() {
            return Ok(None);
        }
        let scores: Vec<f32> = list.iter().map(|c| c.1).collect();
        let chosen = softmax_pick(&scores, p.temperature, rng.random());
        let video = list.swap_remove(chosen).0;
        Ok(Some(Pick {
            video,
            slate,
            retrieved_for: None,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serve {
    Explore,
    Popular,
    Personal,
}
