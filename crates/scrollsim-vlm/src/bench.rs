//! Reusable parts of `scrollsim bench judge`: drive a judge over many videos at a given
//! concurrency and measure wall time and this process's CPU time (getrusage).

use std::sync::Arc;
use std::time::{Duration, Instant};

use scrollsim_core::{ParseStatus, Persona, Video};
use tokio::sync::Semaphore;

use crate::{Judge, JudgeError, JudgeRequest};

/// One video to judge, with its text vector when the caller has one.
#[derive(Debug, Clone)]
pub struct BenchItem {
    pub video: Video,
    pub text_vector: Option<Vec<f32>>,
}

/// What a run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriveReport {
    pub decisions: u64,
    pub likes: u64,
    /// Decisions whose status is not `Parsed` (call errors, parse failures, refusals).
    pub not_parsed: u64,
    pub wall: Duration,
    /// User + system CPU time of this process during the run.
    pub cpu: Duration,
}

impl DriveReport {
    pub fn per_second(&self) -> f64 {
        self.decisions as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn cpu_per_decision(&self) -> Duration {
        self.cpu
            .checked_div(self.decisions.max(1) as u32)
            .unwrap_or_default()
    }
}

/// CPU time (user + system) of this process so far.
pub fn process_cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// Judges every item once, at most `concurrency` at a time, each decision on its own task.
pub async fn drive(
    judge: Arc<dyn Judge>,
    items: Arc<Vec<BenchItem>>,
    persona: Option<Arc<Persona>>,
    seed: u64,
    concurrency: usize,
) -> Result<DriveReport, JudgeError> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let cpu0 = process_cpu_time();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..items.len() {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| JudgeError::Other(e.to_string()))?;
        let (judge, items, persona) = (judge.clone(), items.clone(), persona.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let item = &items[i];
            let req = JudgeRequest {
                persona: persona.as_deref(),
                video: &item.video,
                text_vector: item.text_vector.as_deref(),
                seed,
            };
            judge.decide(&req).await
        });
    }
    let mut report = DriveReport {
        decisions: 0,
        likes: 0,
        not_parsed: 0,
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let d = done.map_err(|e| JudgeError::Other(format!("a decision task failed: {e}")))??;
        report.decisions += 1;
        report.likes += d.like as u64;
        report.not_parsed += !matches!(d.status, ParseStatus::Parsed) as u64;
    }
    report.wall = started.elapsed();
    report.cpu = process_cpu_time().saturating_sub(cpu0);
    Ok(report)
}
