//! Counters a run updates as it goes and a display (the CLI's progress bar) polls, and the
//! flag that asks a run to stop after the steps in flight.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use scrollsim_core::CallUsage;

/// Live counters of a run. Cheap to update from many sessions at once.
#[derive(Debug, Default)]
pub struct RunProgress {
    sessions_total: AtomicU64,
    sessions_done: AtomicU64,
    steps_planned: AtomicU64,
    steps: AtomicU64,
    /// Steps run by this process (not those found done when resuming).
    steps_run: AtomicU64,
    likes: AtomicU64,
    calls: AtomicU64,
    /// Cost in micro-dollars (atomics hold integers).
    cost_micro_usd: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProgressSnapshot {
    pub sessions_total: u64,
    pub sessions_done: u64,
    pub steps_planned: u64,
    /// Steps done, including those found done when resuming.
    pub steps: u64,
    /// Steps run by this process: what a rate should count.
    pub steps_run: u64,
    pub likes: u64,
    pub calls: u64,
    pub cost_usd: f64,
}

impl RunProgress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn plan(&self, sessions: u64, steps: u64) {
        self.sessions_total.store(sessions, Ordering::Relaxed);
        self.steps_planned.store(steps, Ordering::Relaxed);
    }

    /// A session that resumed or finished earlier: its steps count as done.
    pub(crate) fn already(&self, steps: u64, likes: u64, usage: &CallUsage) {
        self.steps.fetch_add(steps, Ordering::Relaxed);
        self.likes.fetch_add(likes, Ordering::Relaxed);
        self.add_usage(usage);
    }

    pub(crate) fn step(&self, like: bool, usage: &CallUsage) {
        self.steps.fetch_add(1, Ordering::Relaxed);
        self.steps_run.fetch_add(1, Ordering::Relaxed);
        self.likes.fetch_add(like as u64, Ordering::Relaxed);
        self.add_usage(usage);
    }

    /// A session ended before its planned length: it will not take the remaining steps.
    pub(crate) fn shortened(&self, by: u64) {
        self.steps_planned.fetch_sub(by, Ordering::Relaxed);
    }

    pub(crate) fn session_done(&self) {
        self.sessions_done.fetch_add(1, Ordering::Relaxed);
    }

    fn add_usage(&self, usage: &CallUsage) {
        self.calls.fetch_add(usage.calls as u64, Ordering::Relaxed);
        self.cost_micro_usd
            .fetch_add((usage.cost_usd * 1e6).round() as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            sessions_total: self.sessions_total.load(Ordering::Relaxed),
            sessions_done: self.sessions_done.load(Ordering::Relaxed),
            steps_planned: self.steps_planned.load(Ordering::Relaxed),
            steps: self.steps.load(Ordering::Relaxed),
            steps_run: self.steps_run.load(Ordering::Relaxed),
            likes: self.likes.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            cost_usd: self.cost_micro_usd.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// Asks sessions to stop: each finishes and flushes the step in flight, then returns without
/// an end event, so `--resume` continues it.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
