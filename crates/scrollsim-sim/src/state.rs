//! A session's state, and the one function that advances it.
//!
//! The live loop and resume both go through [`SessionState::advance`]: resume rebuilds the
//! state by replaying a trace's steps through it, so a resumed session continues from exactly
//! the state an uninterrupted one would have had. Policies read the state; they keep none of
//! their own, and all randomness is derived from (seed, step) (see [`crate::seed`]), so there
//! is no RNG position to restore either.

use std::collections::HashSet;

use scrollsim_core::{
    CallUsage, Decision, FeedbackSignal, ParseStatus, PerValue, Step, Value, VideoId,
};

/// One view as a platform observes it: the video and how long the agent stayed. The judge's
/// like is not part of it (the paper's platforms never saw one); see [`FeedView::feedback`].
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub video: VideoId,
    pub dwell_s: f32,
}

/// Everything a session has accumulated after its first `next_index` steps.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    next_index: u32,
    seen: HashSet<VideoId>,
    /// Seen videos in order of first showing (what a store filter excludes).
    seen_order: Vec<VideoId>,
    views: Vec<View>,
    /// The judge's like per step, kept apart from `views` so that only a feed whose signal
    /// includes likes is handed them.
    liked: Vec<bool>,
    exposure: PerValue<u32>,
    likes: PerValue<u32>,
    total_likes: u32,
    parse_failures: u32,
    call_errors: u32,
    /// Sum of the steps' call usage (cache keys stay in the steps).
    usage: CallUsage,
}

/// A trace step that does not follow from the steps before it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayMismatch {
    #[error("step index {found}, expected {expected}")]
    Index { expected: u32, found: u32 },
    #[error("step {index}: running {what} counts in the trace disagree with its steps")]
    Counts { index: u32, what: &'static str },
}

impl SessionState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Index of the next step (= steps taken so far).
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    pub fn has_seen(&self, id: &VideoId) -> bool {
        self.seen.contains(id)
    }

    /// Seen videos in the order they were first shown.
    pub fn seen(&self) -> &[VideoId] {
        &self.seen_order
    }

    /// Every step's view (video and dwell), oldest first.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// What a policy may read of this state: see [`FeedView`].
    pub fn feed_view(&self) -> FeedView<'_> {
        FeedView(self)
    }

    pub fn exposure(&self) -> &PerValue<u32> {
        &self.exposure
    }

    pub fn likes(&self) -> &PerValue<u32> {
        &self.likes
    }

    pub fn total_likes(&self) -> u32 {
        self.total_likes
    }

    pub fn parse_failures(&self) -> u32 {
        self.parse_failures
    }

    pub fn call_errors(&self) -> u32 {
        self.call_errors
    }

    pub fn usage(&self) -> &CallUsage {
        &self.usage
    }

    /// The state update: one video shown, judged and dwelt on. Returns the running per-value
    /// exposure and like counts including this step (what the trace step records).
    pub fn advance(
        &mut self,
        video: &VideoId,
        values: &[Value],
        decision: &Decision,
        dwell_s: f32,
    ) -> (PerValue<u32>, PerValue<u32>) {
        self.next_index += 1;
        if self.seen.insert(video.clone()) {
            self.seen_order.push(video.clone());
        }
        self.views.push(View {
            video: video.clone(),
            dwell_s,
        });
        self.liked.push(decision.like);
        for v in values {
            self.exposure[*v] += 1;
            self.likes[*v] += decision.like as u32;
        }
        self.total_likes += decision.like as u32;
        match decision.status {
            ParseStatus::Parsed => {}
            ParseStatus::CallError { .. } | ParseStatus::ImagesDropped { .. } => {
                self.call_errors += 1
            }
            ParseStatus::ParseFailure { .. } | ParseStatus::Refused { .. } => {
                self.parse_failures += 1
            }
        }
        let u = &decision.usage;
        self.usage.calls += u.calls;
        self.usage.cached += u.cached;
        self.usage.prompt_tokens += u.prompt_tokens;
        self.usage.completion_tokens += u.completion_tokens;
        self.usage.cost_usd += u.cost_usd;
        self.usage.latency_ms += u.latency_ms;
        (self.exposure, self.likes)
    }

    /// Replays a step read back from a trace through [`Self::advance`], checking that it is
    /// the next step and that its running counts agree.
    pub fn replay(&mut self, step: &Step) -> Result<(), ReplayMismatch> {
        if step.index != self.next_index {
            return Err(ReplayMismatch::Index {
                expected: self.next_index,
                found: step.index,
            });
        }
        let (exposure, likes) =
            self.advance(&step.video, &step.values, &step.decision, step.dwell_s);
        if exposure != step.exposure {
            return Err(ReplayMismatch::Counts {
                index: step.index,
                what: "exposure",
            });
        }
        if likes != step.likes {
            return Err(ReplayMismatch::Counts {
                index: step.index,
                what: "like",
            });
        }
        Ok(())
    }
}

/// A session's state as a feed policy sees it: the step, the videos shown and their dwell. The
/// judge's likes are reachable only through [`FeedView::feedback`] with a signal that includes
/// them, so a policy run with `feedback = "dwell"` cannot read a like: the API has no path.
#[derive(Clone, Copy)]
pub struct FeedView<'a>(&'a SessionState);

/// What a reacting feed may learn from under its feedback signal.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Every view so far, oldest first.
    pub views: &'a [View],
    /// The like of each view, only when the signal includes likes.
    pub likes: Option<&'a [bool]>,
}

impl<'a> FeedView<'a> {
    /// Index of the step being chosen (= steps taken so far).
    pub fn step(&self) -> u32 {
        self.0.next_index
    }

    pub fn has_seen(&self, id: &VideoId) -> bool {
        self.0.has_seen(id)
    }

    /// Seen videos in the order they were first shown.
    pub fn seen(&self) -> &'a [VideoId] {
        &self.0.seen_order
    }

    /// Every view so far (video and dwell), oldest first.
    pub fn views(&self) -> &'a [View] {
        &self.0.views
    }

    /// The feedback a feed with `signal` observes.
    pub fn feedback(&self, signal: FeedbackSignal) -> Observed<'a> {
        Observed {
            views: &self.0.views,
            likes: match signal {
                FeedbackSignal::Dwell => None,
                FeedbackSignal::Likes | FeedbackSignal::Both => Some(&self.0.liked),
            },
        }
    }
}
