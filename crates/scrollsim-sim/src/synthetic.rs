//! Synthetic corpora for benchmarks and tests: videos whose vectors cluster by Schwartz value,
//! with value scores and labels computed from those vectors the way ingest computes them from
//! embeddings (similarity to each value's direction, then the core's `ValueLabeling`). Not a
//! stand-in for real media: `scrollsim bench sim` uses it to measure the loop at 50,000
//! videos, and policy tests to know which videos are near which.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use scrollsim_core::{PerValue, Platform, Value, ValueLabeling, Video, VideoId};
use scrollsim_store::VideoPoint;

/// How to generate a corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticCorpus {
    pub videos: usize,
    /// Vector dimension (384 matches MiniLM).
    pub dim: usize,
    /// Standard deviation of the per-coordinate noise around a value's direction, relative to
    /// the direction's unit length spread over `dim` coordinates.
    pub noise: f32,
    pub seed: u64,
}

impl SyntheticCorpus {
    /// The unit direction of each value (random, seeded).
    pub fn directions(&self) -> PerValue<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xD1EC);
        PerValue::from_fn(|_| {
            unit(
                (0..self.dim)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect(),
            )
        })
    }

    /// Video `i` leans toward value `i % 10` (and, for every third video, also toward the next
    /// value in circumplex order). Ids are `syn-<i>`; views are log-uniform in 10^2..10^7.
    pub fn points(&self) -> Vec<VideoPoint> {
        let dirs = self.directions();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let labeling = ValueLabeling::default();
        let sigma = self.noise / (self.dim as f32).sqrt();
        (0..self.videos)
            .map(|i| {
                let main = Value::ALL[i % 10];
                let second = Value::ALL[(i + 1) % 10];
                let mix = if i % 3 == 0 { 0.6 } else { 0.0 };
                let text = unit(
                    (0..self.dim)
                        .map(|d| {
                            dirs[main][d]
                                + mix * dirs[second][d]
                                + sigma * rng.sample::<f32, _>(StandardNormal)
                        })
                        .collect(),
                );
                let scores = PerValue::from_fn(|v| dot(&text, &dirs[v]));
                let views = 10f64.powf(rng.random_range(2.0..7.0)) as u64;
                let platform = ["tiktok", "youtube", "instagram"][i % 3];
                let video = Video {
                    id: VideoId::new(format!("syn-{i}")),
                    platform: Platform::new(platform),
                    kind: Default::default(),
                    url: None,
                    posted: None,
                    caption: format!("synthetic video {i} about {}", main.name()),
                    hashtags: vec![main.name().to_lowercase()],
                    topic: None,
                    description: None,
                    duration_s: Some(15.0),
                    views: Some(views),
                    keyframes: Vec::new(),
                    value_scores: scores,
                    values: labeling.assign(&scores),
                    label: Some(main),
                    source: None,
                };
                VideoPoint {
                    video,
                    text,
                    image: None,
                }
            })
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = dot(&v, &v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_lean_toward_their_value() {
        let c = SyntheticCorpus {
            videos: 50,
            dim: 32,
            noise: 0.5,
            seed: 3,
        };
        let pts = c.points();
        assert_eq!(pts.len(), 50);
        let right = pts
            .iter()
            .filter(|p| p.video.values.first() == p.video.label.as_ref())
            .count();
        assert!(right >= 45, "{right} of 50 labelled with their main value");
        assert_eq!(pts, c.points(), "seeded");
    }
}
