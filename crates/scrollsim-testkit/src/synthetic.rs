//! Synthetic corpora with a known structure, made without media or models.
//!
//! [`SyntheticCorpus`]: vectors clustered by Schwartz value, value scores and labels computed
//! from those vectors the way ingest computes them from embeddings (similarity to each value's
//! direction, then the core's `ValueLabeling`); policy tests use it to know which videos are
//! near which, `scrollsim bench sim` to measure the loop at 50,000 videos.
//!
//! [`ClusteredCorpus`]: vectors drawn around topic clusters, payload shaped like the paper's
//! (platform shares, six topics, post dates in July-October 2024, log-normal views),
//! deterministic per seed and index so a corpus of any size is made in chunks without holding
//! it in memory; `scrollsim bench store` measures the store on it.

use chrono::NaiveDate;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, StandardNormal};
use scrollsim_core::{PerValue, Platform, Value, ValueLabeling, Video, VideoId};
use scrollsim_embed::normalize;
use scrollsim_store::{VectorName, VideoPoint};

/// A corpus clustered by value.
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
        PerValue::from_fn(|_| unit(gaussian(&mut rng, self.dim)))
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
                    platform: Platform::new(platform),
                    caption: format!("synthetic video {i} about {}", main.name()),
                    hashtags: vec![main.name().to_lowercase()],
                    duration_s: Some(15.0),
                    views: Some(views),
                    value_scores: scores,
                    values: labeling.assign(&scores),
                    label: Some(main),
                    ..Video::new(VideoId::new(format!("syn-{i}")))
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

/// A corpus clustered by topic, with text and image vectors.
#[derive(Debug, Clone)]
pub struct ClusteredCorpus {
    /// Seed of the cluster centres and of every video.
    seed: u64,
    text_centres: Vec<Vec<f32>>,
    image_centres: Vec<Vec<f32>>,
}

const PLATFORMS: [(&str, f64); 3] = [("tiktok", 0.39), ("instagram", 0.32), ("youtube", 0.29)];
const TOPICS: [&str; 6] = [
    "family",
    "health",
    "hobbies",
    "society",
    "technology",
    "lifestyle",
];

impl ClusteredCorpus {
    /// `clusters` cluster centres in each vector space (at least one).
    pub fn new(seed: u64, clusters: usize, text_dim: usize, image_dim: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centres = |dim: usize| -> Vec<Vec<f32>> {
            (0..clusters.max(1))
                .map(|_| unit(gaussian(&mut rng, dim)))
                .collect()
        };
        let text_centres = centres(text_dim);
        let image_centres = centres(image_dim);
        ClusteredCorpus {
            seed,
            text_centres,
            image_centres,
        }
    }

    /// The id of the `i`-th video.
    pub fn id(i: usize) -> VideoId {
        VideoId::new(format!("bench-{i:07}"))
    }

    /// Around its centre at cosine ~0.7: neighbours are close but not duplicates.
    fn around(rng: &mut impl Rng, centre: &[f32], spread: f32) -> Vec<f32> {
        let noise = gaussian(rng, centre.len());
        let scale = spread / (centre.len() as f32).sqrt();
        unit(
            centre
                .iter()
                .zip(noise)
                .map(|(c, e)| c + scale * e)
                .collect(),
        )
    }

    /// The `i`-th video with its vectors.
    pub fn point(&self, i: usize) -> VideoPoint {
        let clusters = self.text_centres.len();
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let cluster = rng.random_range(0..clusters);
        let text = Self::around(&mut rng, &self.text_centres[cluster], 1.0);
        let image = Self::around(&mut rng, &self.image_centres[cluster], 1.0);
        let r: f64 = rng.random();
        let platform = if r < PLATFORMS[0].1 {
            PLATFORMS[0].0
        } else if r < PLATFORMS[0].1 + PLATFORMS[1].1 {
            PLATFORMS[1].0
        } else {
            PLATFORMS[2].0
        };
        // Each cluster leans to one value, so value filters select neighbourhoods.
        let lean = Value::ALL[cluster % 10];
        let scores = PerValue::from_fn(|v| {
            let base: f32 = rng.random_range(0.0..0.4);
            if v == lean {
                base + 0.3
            } else {
                base
            }
        });
        let views = LogNormal::new(9.0, 2.0).expect("valid").sample(&mut rng) as u64;
        let day = NaiveDate::from_ymd_opt(2024, 7, 1).expect("date")
            + chrono::Days::new(rng.random_range(0..120));
        let video = Video {
            platform: Platform::new(platform),
            posted: Some(day),
            caption: format!("synthetic video {i} in cluster {cluster}"),
            hashtags: vec![format!("c{cluster}")],
            topic: Some(TOPICS[cluster % TOPICS.len()].to_string()),
            duration_s: Some(rng.random_range(5.0..180.0)),
            views: Some(views),
            values: ValueLabeling::default().assign(&scores),
            value_scores: scores,
            ..Video::new(Self::id(i))
        };
        VideoPoint {
            video,
            text,
            image: Some(image),
        }
    }

    /// A query near a random cluster centre.
    pub fn query(&self, rng: &mut impl Rng, using: VectorName) -> Vec<f32> {
        let centres = match using {
            VectorName::Text => &self.text_centres,
            VectorName::Image => &self.image_centres,
        };
        let c = centres.choose(rng).expect("at least one cluster");
        Self::around(rng, c, 1.0)
    }
}

fn gaussian(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.sample(StandardNormal)).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    normalize(&mut v);
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

    #[test]
    fn clustered_points_are_deterministic_per_index_and_near_their_centre() {
        let c = ClusteredCorpus::new(7, 4, 16, 8);
        assert_eq!(c.point(5), c.point(5));
        assert_ne!(c.point(5).text, c.point(6).text);
        let p = c.point(3);
        let best = c
            .text_centres
            .iter()
            .map(|centre| dot(centre, &p.text))
            .fold(f32::MIN, f32::max);
        assert!(best > 0.5, "cosine to the nearest centre {best}");
    }
}
