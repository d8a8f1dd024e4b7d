//! Reusable parts of `scrollsim bench judge`: synthetic keyframes and videos, driving a judge
//! over many videos at a given concurrency, and measuring wall time and this process's CPU
//! time (getrusage).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use scrollsim_core::{ImageHash, Keyframe, ParseStatus, PerValue, Persona, Video};
use scrollsim_media::ImageStore;
use tokio::sync::Semaphore;

use crate::{Judge, JudgeError, JudgeRequest};

/// One video to judge, with its text vector when the caller has one, and the seed of the
/// request (distinct seeds make distinct cache keys).
#[derive(Debug, Clone)]
pub struct BenchItem {
    pub video: Video,
    pub text_vector: Option<Vec<f32>>,
    pub seed: u64,
}

/// `n` distinct gradient JPEGs with light noise, `w`x`h` at quality 85 (at 144x256 about the
/// size of real keyframes), in the store; returns their hashes and byte sizes.
pub fn synthetic_keyframes(
    store: &ImageStore,
    n: usize,
    w: u32,
    h: u32,
) -> Result<Vec<(ImageHash, usize)>, String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5c011);
    (0..n)
        .map(|i| {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let n: u8 = rng.random_range(0..10);
                image::Rgb([
                    ((x * 255 / w) as u8)
                        .wrapping_add(n)
                        .wrapping_add((i as u8).wrapping_mul(31)),
                    ((y * 255 / h) as u8).wrapping_add(n),
                    (i as u8).wrapping_mul(53).wrapping_add(n),
                ])
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
                .encode_image(&img)
                .map_err(|e| e.to_string())?;
            let hash = store.put(&jpeg).map_err(|e| e.to_string())?;
            Ok((hash, jpeg.len()))
        })
        .collect()
}

/// `n` videos of `per_video` keyframes each, cycling through `frames`, each with its own seed.
pub fn synthetic_videos(frames: &[ImageHash], n: usize, per_video: usize) -> Vec<BenchItem> {
    (0..n)
        .map(|i| {
            let keyframes = (0..per_video)
                .map(|j| Keyframe {
                    hash: frames[(i * per_video + j) % frames.len()].clone(),
                    view: None,
                    at_s: Some(j as f32),
                })
                .collect();
            BenchItem {
                video: video(format!("bench-{i:06}"), keyframes, PerValue::default()),
                text_vector: None,
                seed: i as u64,
            }
        })
        .collect()
}

/// `n` videos with random value scores and random unit text vectors of dimension `dim`, for
/// the offline persona model.
pub fn synthetic_scored(n: usize, dim: usize) -> Vec<BenchItem> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0ff1);
    (0..n)
        .map(|i| {
            let scores = PerValue::from_fn(|_| rng.random_range(0.1f32..0.6));
            let mut x: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            scrollsim_embed::normalize(&mut x);
            BenchItem {
                video: video(format!("offline-{i:06}"), Vec::new(), scores),
                text_vector: Some(x),
                seed: 1,
            }
        })
        .collect()
}

fn video(id: String, keyframes: Vec<Keyframe>, value_scores: PerValue<f32>) -> Video {
    // Through serde so fields the core adds later take their defaults.
    let mut v: Video =
        serde_json::from_value(serde_json::json!({ "id": id, "value_scores": value_scores }))
            .expect("a minimal video deserializes");
    v.keyframes = keyframes;
    v
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
/// A `JudgeError` (budget, replay miss, configuration) stops the run.
pub async fn drive(
    judge: Arc<dyn Judge>,
    items: Arc<Vec<BenchItem>>,
    persona: Option<Arc<Persona>>,
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
                seed: item.seed,
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
