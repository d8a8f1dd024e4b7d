//! Value-preference trajectories averaged over sessions: the mean of [`Rolling`] points per
//! step, in buckets whose width doubles as sessions grow, so memory stays bounded whatever the
//! session length.
//!
//! [`Rolling`]: scrollsim_core::metrics::Rolling

use scrollsim_core::metrics::TrajectoryPoint;
use scrollsim_core::{PerValue, Value};
use serde::{Deserialize, Serialize};

/// At most this many buckets are kept; beyond, neighbours merge and the width doubles.
const MAX_BUCKETS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq)]
struct Bucket {
    points: u32,
    like_sum: [f64; 10],
    like_n: [u32; 10],
    exposure_sum: [f64; 10],
    aligned_sum: f64,
    aligned_n: u32,
}

impl Bucket {
    fn add(&mut self, o: &Bucket) {
        self.points += o.points;
        for i in 0..10 {
            self.like_sum[i] += o.like_sum[i];
            self.like_n[i] += o.like_n[i];
            self.exposure_sum[i] += o.exposure_sum[i];
        }
        self.aligned_sum += o.aligned_sum;
        self.aligned_n += o.aligned_n;
    }
}

/// Sums of trajectory points per step bucket, over any number of sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryAcc {
    width: u32,
    buckets: Vec<Bucket>,
}

impl Default for TrajectoryAcc {
    fn default() -> Self {
        TrajectoryAcc {
            width: 1,
            buckets: Vec::new(),
        }
    }
}

/// One averaged point: steps `from..=to` of the sessions, rates in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectorySample {
    pub from: u32,
    pub to: u32,
    /// Mean rolling like-rate per value, over the points where the window showed the value.
    pub like_rate: PerValue<Option<f64>>,
    /// Mean rolling exposure share per value.
    pub exposure_share: PerValue<f64>,
    /// Mean rolling share of persona-aligned videos (None without a persona).
    pub aligned_share: Option<f64>,
    /// Points averaged (sessions x steps in the bucket).
    pub points: u32,
}

impl TrajectoryAcc {
    pub fn push(&mut self, p: &TrajectoryPoint) {
        let mut i = (p.step / self.width) as usize;
        while i >= MAX_BUCKETS {
            self.coarsen();
            i = (p.step / self.width) as usize;
        }
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, Bucket::default());
        }
        let b = &mut self.buckets[i];
        b.points += 1;
        for (v, r) in p.like_rate.iter() {
            if let Some(r) = r {
                b.like_sum[v.index()] += r;
                b.like_n[v.index()] += 1;
            }
        }
        for (v, e) in p.exposure_share.iter() {
            b.exposure_sum[v.index()] += e;
        }
        if let Some(a) = p.aligned_share {
            b.aligned_sum += a;
            b.aligned_n += 1;
        }
    }

    /// Adds another accumulator (of any bucket width).
    pub fn merge(&mut self, other: &TrajectoryAcc) {
        let mut other = other.clone();
        while self.width < other.width {
            self.coarsen();
        }
        while other.width < self.width {
            other.coarsen();
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), Bucket::default());
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            a.add(b);
        }
    }

    fn coarsen(&mut self) {
        self.buckets = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut b = pair[0].clone();
                if let Some(second) = pair.get(1) {
                    b.add(second);
                }
                b
            })
            .collect();
        self.width *= 2;
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.points == 0)
    }

    /// The averaged trajectory, one sample per non-empty bucket, rates in percent.
    pub fn samples(&self) -> Vec<TrajectorySample> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.points > 0)
            .map(|(i, b)| {
                let n = b.points as f64;
                TrajectorySample {
                    from: i as u32 * self.width,
                    to: (i as u32 + 1) * self.width - 1,
                    like_rate: PerValue::from_fn(|v: Value| {
                        let k = v.index();
                        (b.like_n[k] > 0).then(|| 100.0 * b.like_sum[k] / b.like_n[k] as f64)
                    }),
                    exposure_share: PerValue::from_fn(|v| 100.0 * b.exposure_sum[v.index()] / n),
                    aligned_share: (b.aligned_n > 0)
                        .then(|| 100.0 * b.aligned_sum / b.aligned_n as f64),
                    points: b.points,
                }
            })
            .collect()
    }
}

/// The lines a trajectory chart draws, one per value, at each window's midpoint: the rolling
/// like-rate and the rolling exposure share (the report's and the viewer's charts alike).
pub fn value_lines(
    samples: &[TrajectorySample],
) -> (Vec<crate::chart::NamedLine>, Vec<crate::chart::NamedLine>) {
    let x = |s: &TrajectorySample| (s.from + s.to) as f64 / 2.0;
    let per_value = |y: &dyn Fn(&TrajectorySample, Value) -> Option<f64>| {
        Value::ALL
            .iter()
            .map(|v| {
                (
                    v.name().to_string(),
                    samples.iter().map(|s| (x(s), y(s, *v))).collect(),
                )
            })
            .collect()
    };
    (
        per_value(&|s, v| s.like_rate[v]),
        per_value(&|s, v| Some(s.exposure_share[v])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u32, like: f64) -> TrajectoryPoint {
        let mut like_rate = PerValue::default();
        like_rate[Value::Power] = Some(like);
        let mut exposure_share = PerValue::default();
        exposure_share[Value::Power] = 1.0;
        TrajectoryPoint {
            step,
            like_rate,
            exposure_share,
            aligned_share: None,
        }
    }

    #[test]
    fn averages_per_step_and_stays_bounded() {
        let mut a = TrajectoryAcc::default();
        a.push(&point(0, 1.0));
        let mut b = TrajectoryAcc::default();
        b.push(&point(0, 0.0));
        a.merge(&b);
        let s = a.samples();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].like_rate[Value::Power], Some(50.0));
        assert_eq!(s[0].like_rate[Value::Hedonism], None);
        assert_eq!(s[0].exposure_share[Value::Power], 100.0);

        let mut long = TrajectoryAcc::default();
        for i in 0..10_000 {
            long.push(&point(i, if i < 5_000 { 0.0 } else { 1.0 }));
        }
        let s = long.samples();
        assert!(s.len() <= MAX_BUCKETS, "{}", s.len());
        assert_eq!(s.first().unwrap().like_rate[Value::Power], Some(0.0));
        assert_eq!(s.last().unwrap().like_rate[Value::Power], Some(100.0));
        assert_eq!(s.iter().map(|x| x.points).sum::<u32>(), 10_000);
        // Merging a fine accumulator into a coarse one keeps every point.
        long.merge(&b);
        assert_eq!(long.samples().iter().map(|x| x.points).sum::<u32>(), 10_001);
    }
}
