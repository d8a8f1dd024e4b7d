//! Interval estimates and tests: pure functions over counts, no traces. Every interval the
//! report, inspect, summary.json and the viewer print comes from here (docs/reports.md says
//! which is used where, and why).
//!
//! - [`MeanCi`]: mean across sessions (seeds) with a Student-t 95 % half-width.
//! - [`wilson95`]: Wilson score interval of a proportion (P per value).
//! - [`bootstrap_change`]: hierarchical percentile bootstrap of an alignment change,
//!   resampling sessions and then the videos of each window.
//! - [`bootstrap_paired`]: the mean paired difference of two arms on the same seeds, with an
//!   interval over pairs only (the pair is the unit: each pair's difference already holds both
//!   sessions' video noise).
//! - [`bootstrap_std`], [`std_noise_floor`]: the spread of the ten P values, resampled over
//!   videos, and what a value-neutral judge would show with the same denominators.
//! - [`spearman`], [`agreement`]: rank correlation with an exact permutation p-value; Cohen's
//!   kappa and McNemar's exact test for paired yes/no decisions.
//!
//! Every bootstrap draws from a generator seeded by what it estimates and the data it is
//! over ([`Seeded`]), with the data put in a canonical order first: a report is reproducible,
//! does not depend on the order traces were read in, and two rows with identical data (two
//! arms under different names that served the same videos) get identical intervals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use scrollsim_core::metrics::{mean_ci95, population_std, t975, AlignmentChange};
use serde::{Deserialize, Serialize};

/// Bootstrap replicates per interval: enough for stable 2.5 % and 97.5 % percentiles.
pub const BOOTSTRAP_REPLICATES: usize = 2000;

/// A mean with the half-width of its 95 % confidence interval (Student's t across samples,
/// [`mean_ci95`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub mean: f64,
    /// None for a single sample.
    pub ci95: Option<f64>,
    pub n: usize,
}

impl MeanCi {
    /// Samples are sorted first so the result does not depend on reading order.
    pub fn of(xs: &[f64]) -> Option<MeanCi> {
        let mut xs = xs.to_vec();
        xs.sort_by(f64::total_cmp);
        mean_ci95(&xs).map(|(mean, ci95)| MeanCi {
            mean,
            ci95,
            n: xs.len(),
        })
    }
}

/// A 95 % interval `[lo, hi]`, in the unit of its estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// An estimate with its 95 % interval and what it is over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    /// None when the data allow no interval.
    pub ci95: Option<Interval>,
    /// Sessions (or session pairs) behind it.
    pub n: usize,
}

/// Wilson score 95 % interval of `k` successes in `n` trials, in percent; None for `n = 0`.
/// Chosen over the normal (Wald) interval because P values sit near 0 or 100 with about 50
/// images each, where Wald's coverage collapses.
pub fn wilson95(k: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k.min(n) as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        lo: 100.0 * (centre - half).max(0.0),
        hi: 100.0 * (centre + half).min(1.0),
    })
}

/// A generator seeded by a tag (what is estimated: `aligned_exposure`, `p-std`...) and the
/// numbers it is estimated from (FNV-1a over both): the same estimate over the same data always
/// draws the same replicates, whatever the rows are called or where they sit.
pub struct Seeded(u64);

impl Seeded {
    pub fn new(tag: &str) -> Self {
        let mut s = Seeded(0xcbf2_9ce4_8422_2325);
        s.bytes(tag.as_bytes());
        s
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn u64(mut self, x: u64) -> Self {
        self.bytes(&x.to_le_bytes());
        self
    }

    fn window_counts(self, c: &WindowCounts) -> Self {
        self.u64(c.first_hits as u64)
            .u64(c.first_n as u64)
            .u64(c.last_hits as u64)
            .u64(c.last_n as u64)
    }

    pub fn rng(self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.0)
    }
}

/// The 2.5 % and 97.5 % percentiles (linear interpolation between order statistics).
fn percentile_interval(xs: &mut [f64]) -> Option<Interval> {
    percentiles(xs, 0.025)
}

/// The `tail` and `1 - tail` percentiles (linear interpolation between order statistics).
fn percentiles(xs: &mut [f64], tail: f64) -> Option<Interval> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = p * (xs.len() - 1) as f64;
        let (i, f) = (h.floor() as usize, h - h.floor());
        let next = xs[(i + 1).min(xs.len() - 1)];
        xs[i] + f * (next - xs[i])
    };
    Some(Interval {
        lo: q(tail),
        hi: q(1.0 - tail),
    })
}

/// The standard normal distribution function, from libm's complementary error function.
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// `hits` of `n` resampled with replacement: a binomial draw at the observed rate.
fn resample(rng: &mut ChaCha8Rng, hits: u32, n: u32) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let p = (hits as f64 / n as f64).clamp(0.0, 1.0);
    let k = Binomial::new(n as u64, p).expect("p in [0, 1]").sample(rng);
    k as f64 / n as f64
}

/// One session's two alignment windows: hits (videos that count for the measure) and videos.
/// Ordered so a set of sessions has one canonical order (see [`Seeded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WindowCounts {
    pub first_hits: u32,
    pub first_n: u32,
    pub last_hits: u32,
    pub last_n: u32,
}

impl WindowCounts {
    /// A session's windows as the core fold measured them (its percentages back to counts).
    pub fn of(c: &AlignmentChange) -> WindowCounts {
        let hits =
            |pct: Option<f64>, n: u32| (pct.unwrap_or(0.0) * n as f64 / 100.0).round() as u32;
        WindowCounts {
            first_hits: hits(c.first, c.first_n),
            first_n: c.first_n,
            last_hits: hits(c.last, c.last_n),
            last_n: c.last_n,
        }
    }

    /// Last window minus first window, in points.
    pub fn change(&self) -> f64 {
        100.0
            * (self.last_hits as f64 / self.last_n.max(1) as f64
                - self.first_hits as f64 / self.first_n.max(1) as f64)
    }

    fn resampled_change(&self, rng: &mut ChaCha8Rng) -> f64 {
        100.0
            * (resample(rng, self.last_hits, self.last_n)
                - resample(rng, self.first_hits, self.first_n))
    }
}

/// Mean alignment change (points) across sessions with a hierarchical percentile bootstrap
/// interval: each replicate draws sessions with replacement, then resamples the videos of
/// each drawn session's two windows. With one session it is the bootstrap over that session's
/// videos; with several, the session draw carries the between-seed spread. (Resampling at both
/// levels is conservative: Saravanan et al., 2020, "Application of the hierarchical bootstrap
/// to multi-level data in neuroscience".) The generator is seeded by `tag` and the sessions'
/// counts in sorted order: the interval depends on the data only.
pub fn bootstrap_change(sessions: &[WindowCounts], tag: &str) -> Option<Estimate> {
    if sessions.is_empty() {
        return None;
    }
    let mut sessions = sessions.to_vec();
    sessions.sort_unstable();
    let n = sessions.len();
    let value = sessions.iter().map(WindowCounts::change).sum::<f64>() / n as f64;
    let mut rng = sessions
        .iter()
        .fold(Seeded::new(tag).u64(n as u64), Seeded::window_counts)
        .rng();
    let mut reps: Vec<f64> = (0..BOOTSTRAP_REPLICATES)
        .map(|_| {
            (0..n)
                .map(|_| sessions[rng.random_range(0..n)].resampled_change(&mut rng))
                .sum::<f64>()
                / n as f64
        })
        .collect();
    Some(Estimate {
        value,
        ci95: percentile_interval(&mut reps),
        n,
    })
}

/// Below this many pairs [`bootstrap_paired`] gives the Student-t interval: the bootstrap
/// over pairs cannot reach past the pairs' own range (with 3 pairs it covers the mean about
/// 75 % of the time, whatever its percentiles).
pub const MIN_PAIRS_FOR_BOOTSTRAP: usize = 8;

/// How [`bootstrap_paired`] computed an interval, said wherever the interval is printed.
pub const PAIRED_INTERVAL: &str = "over seed pairs only: percentile bootstrap of the pairs \
     (expanded for small samples) from 8 pairs, Student-t across pairs below 8, none for 1";

/// Mean paired difference of alignment change, arm A minus arm B on the same seeds (points),
/// with a 95 % interval over pairs only. The pair (a seed) is the unit of the design: each
/// pair's difference already holds both sessions' window noise, so resampling the videos again
/// would count that noise twice (and gave two identical sessions an interval of +-17-20
/// points around an exact 0); two arms that agree on every pair get exactly [d, d].
///
/// From [`MIN_PAIRS_FOR_BOOTSTRAP`] pairs: a percentile bootstrap of the pairs, with the tail
/// levels expanded for the sample size (Hesterberg, 2015, "What teachers should know about the
/// bootstrap", The American Statistician 69(4): the percentile at `Phi(-sqrt(n/(n-1)) t(n-1))`
/// instead of 2.5 %, which corrects the plain percentile interval's narrowness at small n and
/// keeps its shape under skew). With 2 to 7 pairs: the Student-t interval across pairs. With
/// one pair: no interval. The generator is seeded by `tag` and the pairs in sorted order, like
/// [`bootstrap_change`].
pub fn bootstrap_paired(pairs: &[(WindowCounts, WindowCounts)], tag: &str) -> Option<Estimate> {
    if pairs.is_empty() {
        return None;
    }
    let mut pairs = pairs.to_vec();
    pairs.sort_unstable();
    let n = pairs.len();
    let diffs: Vec<f64> = pairs.iter().map(|(a, b)| a.change() - b.change()).collect();
    let value = diffs.iter().sum::<f64>() / n as f64;
    let ci95 = if n < 2 {
        None
    } else if n < MIN_PAIRS_FOR_BOOTSTRAP {
        mean_ci95(&diffs)
            .and_then(|(_, half)| half)
            .map(|half| Interval {
                lo: value - half,
                hi: value + half,
            })
    } else {
        let mut rng = pairs
            .iter()
            .fold(Seeded::new(tag).u64(n as u64), |s, (a, b)| {
                s.window_counts(a).window_counts(b)
            })
            .rng();
        let mut reps: Vec<f64> = (0..BOOTSTRAP_REPLICATES)
            .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
            .collect();
        let nf = n as f64;
        let tail = normal_cdf(-(nf / (nf - 1.0)).sqrt() * t975(n - 1));
        percentiles(&mut reps, tail)
    };
    Some(Estimate { value, ci95, n })
}

/// One measure's paired difference as every paired table shows it (the central table's "vs
/// random", `inspect`'s paired table, the closed-loop comparison): [`bootstrap_paired`]'s
/// estimate, tagged with the measure, and the Student-t mean across the same pairs.
pub(crate) fn paired_difference(
    pairs: &[(WindowCounts, WindowCounts)],
    measure: &str,
) -> (Option<Estimate>, Option<MeanCi>) {
    let diffs: Vec<f64> = pairs.iter().map(|(a, b)| a.change() - b.change()).collect();
    (
        bootstrap_paired(pairs, &format!("paired:{measure}")),
        MeanCi::of(&diffs),
    )
}

/// Population std of P = 100 x liked / shown over the values with `shown > 0`.
fn p_std(counts: &[(u64, u64)]) -> Option<f64> {
    let ps: Vec<f64> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| 100.0 * *k as f64 / *n as f64)
        .collect();
    population_std(&ps)
}

/// The std of the P values (`(liked, shown)` per value) with a percentile bootstrap interval
/// over videos: each replicate resamples every value's videos with replacement (stratified by
/// value, so every denominator stays as it was). Seeded by `tag` and the counts.
pub fn bootstrap_std(counts: &[(u64, u64)], tag: &str) -> Option<(f64, Option<Interval>)> {
    let value = p_std(counts)?;
    let present: Vec<(u64, u64)> = counts.iter().copied().filter(|(_, n)| *n > 0).collect();
    if present.len() < 2 {
        return Some((value, None));
    }
    let mut rng = present
        .iter()
        .fold(Seeded::new(tag), |s, (k, n)| s.u64(*k).u64(*n))
        .rng();
    let mut reps: Vec<f64> = (0..BOOTSTRAP_REPLICATES)
        .map(|_| {
            let drawn: Vec<(u64, u64)> = present
                .iter()
                .map(|(k, n)| {
                    let p = *k as f64 / *n as f64;
                    (
                        Binomial::new(*n, p).expect("p in [0, 1]").sample(&mut rng),
                        *n,
                    )
                })
                .collect();
            p_std(&drawn).unwrap_or(0.0)
        })
        .collect();
    Some((value, percentile_interval(&mut reps)))
}

/// The std of ten P values a value-neutral judge would show: every value's videos liked at the
/// same rate `p` (the model's overall like-rate), with the same denominators. A std at this
/// floor says nothing about preferences; only the excess over it does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseFloor {
    /// Mean std over the simulated value-neutral judges.
    pub mean: f64,
    /// Its 95th percentile: a std below this is within what chance alone gives.
    pub p95: f64,
    /// The like-rate simulated, percent.
    pub like_rate: f64,
}

/// Simulates [`BOOTSTRAP_REPLICATES`] value-neutral judges over the denominators `shown`;
/// seeded by `tag`, the denominators and `p`.
pub fn std_noise_floor(shown: &[u64], p: f64, tag: &str) -> Option<NoiseFloor> {
    let present: Vec<u64> = shown.iter().copied().filter(|n| *n > 0).collect();
    if present.len() < 2 {
        return None;
    }
    let p = p.clamp(0.0, 1.0);
    let mut rng = present
        .iter()
        .fold(Seeded::new(tag).u64(p.to_bits()), |s, n| s.u64(*n))
        .rng();
    let mut reps: Vec<f64> = (0..BOOTSTRAP_REPLICATES)
        .map(|_| {
            let drawn: Vec<(u64, u64)> = present
                .iter()
                .map(|n| {
                    (
                        Binomial::new(*n, p).expect("p in [0, 1]").sample(&mut rng),
                        *n,
                    )
                })
                .collect();
            p_std(&drawn).unwrap_or(0.0)
        })
        .collect();
    let mean = reps.iter().sum::<f64>() / reps.len() as f64;
    reps.sort_by(f64::total_cmp);
    let p95 = reps[((reps.len() - 1) as f64 * 0.95).round() as usize];
    Some(NoiseFloor {
        mean,
        p95,
        like_rate: 100.0 * p,
    })
}

/// Average ranks (ties share the mean of their positions), 1-based.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|a, b| xs[*a].total_cmp(&xs[*b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Spearman's rank correlation with its exact two-sided permutation p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spearman {
    pub rho: f64,
    pub n: usize,
    /// Share of the n! orderings of `y` with |rho| at least the observed (exact for n <= 8).
    pub p_value: Option<f64>,
}

/// Spearman's rho of paired samples (average ranks for ties: Pearson on the ranks). None for
/// fewer than three pairs or a constant sample.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<Spearman> {
    let n = x.len();
    if n < 3 || n != y.len() {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let rho = pearson(&rx, &ry)?;
    // Exact permutation test: every ordering of y's ranks (n! <= 40,320).
    let p_value = (n <= 8).then(|| {
        let mut perm = ry.clone();
        let (mut hits, mut total) = (0u64, 0u64);
        permute(&mut perm, 0, &mut |p| {
            total += 1;
            if pearson(&rx, p).is_some_and(|r| r.abs() >= rho.abs() - 1e-12) {
                hits += 1;
            }
        });
        hits as f64 / total as f64
    });
    Some(Spearman { rho, n, p_value })
}

fn permute(xs: &mut [f64], k: usize, visit: &mut impl FnMut(&[f64])) {
    if k == xs.len() {
        visit(xs);
        return;
    }
    for i in k..xs.len() {
        xs.swap(k, i);
        permute(xs, k + 1, visit);
        xs.swap(k, i);
    }
}

/// Two raters' yes/no decisions on the same items: agreement, Cohen's kappa and McNemar's
/// exact test of whether one says yes more often than the other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub n: u64,
    pub both_yes: u64,
    /// Yes from the first rater only.
    pub first_only: u64,
    pub second_only: u64,
    pub both_no: u64,
    /// Percent of items decided the same way.
    pub agreement: Option<f64>,
    /// Cohen's kappa; None when chance agreement is 1 (both always said the same word).
    pub kappa: Option<f64>,
    /// Exact two-sided McNemar p-value (binomial test on the discordant pairs).
    pub mcnemar_p: f64,
}

impl Agreement {
    pub fn of(pairs: impl IntoIterator<Item = (bool, bool)>) -> Agreement {
        let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
        for (x, y) in pairs {
            match (x, y) {
                (true, true) => a += 1,
                (true, false) => b += 1,
                (false, true) => c += 1,
                (false, false) => d += 1,
            }
        }
        let n = a + b + c + d;
        let nf = n as f64;
        let po = (n > 0).then(|| (a + d) as f64 / nf);
        let kappa = po.and_then(|po| {
            let pe =
                ((a + b) as f64 * (a + c) as f64 + (c + d) as f64 * (b + d) as f64) / (nf * nf);
            (pe < 1.0).then(|| (po - pe) / (1.0 - pe))
        });
        Agreement {
            n,
            both_yes: a,
            first_only: b,
            second_only: c,
            both_no: d,
            agreement: po.map(|p| 100.0 * p),
            kappa,
            mcnemar_p: mcnemar_exact(b, c),
        }
    }
}

/// Two-sided exact McNemar: P(X <= min(b, c)) x 2 for X ~ Binomial(b + c, 1/2), capped at 1.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Sum of C(n, i) / 2^n in log space (n can be thousands).
    let ln_choose = |i: u64| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(i as f64 + 1.0) - ln_gamma((n - i) as f64 + 1.0)
    };
    let tail: f64 = (0..=k)
        .map(|i| (ln_choose(i) - n as f64 * std::f64::consts::LN_2).exp())
        .sum();
    (2.0 * tail).min(1.0)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // 8 of 10: Wilson 95 % is 49.0 % to 94.3 % (Newcombe 1998, table I style check).
        let w = wilson95(8, 10).unwrap();
        assert!(
            (w.lo - 49.02).abs() < 0.05 && (w.hi - 94.33).abs() < 0.05,
            "{w:?}"
        );
        let zero = wilson95(0, 50).unwrap();
        assert_eq!(zero.lo, 0.0);
        assert!((zero.hi - 7.13).abs() < 0.05, "{zero:?}");
        assert!(wilson95(0, 0).is_none());
    }

    #[test]
    fn spearman_with_ties_and_exact_p() {
        let s = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]).unwrap();
        assert!((s.rho - 1.0).abs() < 1e-12);
        // Only the identity and its reverse reach |rho| = 1: 2 of 24 orderings.
        assert!((s.p_value.unwrap() - 2.0 / 24.0).abs() < 1e-12);
        let t = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        // Ranks x = 1, 2.5, 2.5, 4; y = 1, 3, 2, 4: Pearson of the ranks.
        assert!((t.rho - 0.9486832980505138).abs() < 1e-12, "{}", t.rho);
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn kappa_and_mcnemar() {
        // 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
        let pairs = std::iter::repeat_n((true, true), 20)
            .chain(std::iter::repeat_n((true, false), 5))
            .chain(std::iter::repeat_n((false, true), 10))
            .chain(std::iter::repeat_n((false, false), 15));
        let a = Agreement::of(pairs);
        assert_eq!(
            (a.n, a.both_yes, a.first_only, a.second_only),
            (50, 20, 5, 10)
        );
        assert!((a.agreement.unwrap() - 70.0).abs() < 1e-12);
        // po 0.7, pe = (25 x 30 + 25 x 20) / 2500 = 0.5: kappa 0.4.
        assert!((a.kappa.unwrap() - 0.4).abs() < 1e-12);
        // Binomial(15, 1/2): P(X <= 5) = 0.150879 -> two-sided 0.301758.
        assert!((a.mcnemar_p - 0.3017578125).abs() < 1e-9, "{}", a.mcnemar_p);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn bootstraps_are_seeded_and_bracket_their_estimate() {
        let s = [
            WindowCounts {
                first_hits: 2,
                first_n: 10,
                last_hits: 6,
                last_n: 10,
            },
            WindowCounts {
                first_hits: 3,
                first_n: 10,
                last_hits: 5,
                last_n: 10,
            },
        ];
        let a = bootstrap_change(&s, "cell").unwrap();
        assert!((a.value - 30.0).abs() < 1e-12);
        let ci = a.ci95.unwrap();
        assert!(ci.lo < 30.0 && 30.0 < ci.hi, "{ci:?}");
        assert_eq!(
            bootstrap_change(&s, "cell"),
            Some(a),
            "same data, same replicates"
        );
        let paired = bootstrap_paired(&[(s[0], s[1])], "pair").unwrap();
        assert!((paired.value - 20.0).abs() < 1e-12);
        let (std, ci) = bootstrap_std(&[(40, 50), (10, 50), (25, 50)], "std").unwrap();
        assert!(ci.unwrap().contains(std));
        let floor = std_noise_floor(&[50; 10], 0.5, "floor").unwrap();
        // sd of one P at n = 50, p = 0.5 is 7.07 points; the population std of ten is a
        // little below it.
        assert!(floor.mean > 5.5 && floor.mean < 7.1, "{floor:?}");
        assert!(floor.p95 > floor.mean);
    }

    #[test]
    fn normal_cdf_matches_reference_values() {
        // References: 0.5 erfc(-x / sqrt 2) in double precision (Python's math.erfc).
        for (x, p) in [
            (0.0, 0.5),
            (-1.959_964, 0.025),
            (1.0, 0.841_344_746),
            (-2.528, 0.005_735_718),
            (-3.5, 0.000_232_629),
        ] {
            assert!(
                (normal_cdf(x) - p).abs() < 2e-6 * p.max(1e-2),
                "{x}: {}",
                normal_cdf(x)
            );
        }
    }

    fn counts(first_hits: u32, last_hits: u32, n: u32) -> WindowCounts {
        WindowCounts {
            first_hits,
            first_n: n,
            last_hits,
            last_n: n,
        }
    }

    /// Two arms that agree on every pair differ by exactly 0, with an interval of exactly
    /// [0, 0], by the Student-t (3 pairs) and by the bootstrap (12 pairs), though the pairs'
    /// own changes spread widely; one pair gives a value and no interval.
    #[test]
    fn identical_arms_give_a_zero_width_paired_interval() {
        for n in [3, 12] {
            let pairs: Vec<(WindowCounts, WindowCounts)> = (0..n)
                .map(|i| {
                    let c = counts(i % 4, (3 * i + 1) % 10, 10);
                    (c, c)
                })
                .collect();
            let d = bootstrap_paired(&pairs, "paired:aligned_exposure").unwrap();
            assert_eq!(d.value, 0.0);
            assert_eq!(d.ci95, Some(Interval { lo: 0.0, hi: 0.0 }), "{n} pairs");
            assert_eq!(d.n, n as usize);
            let one = bootstrap_change(
                &pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                "aligned_exposure",
            )
            .unwrap()
            .ci95
            .unwrap();
            assert!(
                one.hi - one.lo > 10.0,
                "each arm alone is uncertain: {one:?}"
            );
        }
        let one = bootstrap_paired(&[(counts(1, 5, 10), counts(2, 3, 10))], "p").unwrap();
        assert_eq!((one.value, one.ci95, one.n), (30.0, None, 1));
    }

    /// Below 8 pairs the interval is Student-t's across pairs; from 8 it is the expanded
    /// percentile bootstrap, close to Student-t's on symmetric differences.
    #[test]
    fn the_paired_interval_is_student_t_below_eight_pairs_and_near_it_above() {
        let t_of = |pairs: &[(WindowCounts, WindowCounts)]| {
            let d: Vec<f64> = pairs.iter().map(|(a, b)| a.change() - b.change()).collect();
            let (m, half) = mean_ci95(&d).unwrap();
            (m - half.unwrap(), m + half.unwrap())
        };
        let base = counts(3, 3, 10);
        let few: Vec<_> = [2, 5, 4, 7, 3].map(|h| (counts(3, h, 10), base)).to_vec();
        let ci = bootstrap_paired(&few, "p").unwrap().ci95.unwrap();
        let (lo, hi) = t_of(&few);
        assert!(
            (ci.lo - lo).abs() < 1e-9 && (ci.hi - hi).abs() < 1e-9,
            "{ci:?}"
        );

        let many: Vec<_> = [2, 5, 4, 7, 3, 6, 4, 5, 3, 6, 5, 4, 2, 8, 4, 5]
            .map(|h| (counts(3, h, 10), base))
            .to_vec();
        let ci = bootstrap_paired(&many, "p").unwrap().ci95.unwrap();
        let (lo, hi) = t_of(&many);
        let width = hi - lo;
        assert!(
            (ci.lo - lo).abs() < 0.15 * width && (ci.hi - hi).abs() < 0.15 * width,
            "bootstrap {ci:?} vs t [{lo}, {hi}]"
        );
    }

    /// Coverage on synthetic pairs with a known true difference: each pair shares a seed's
    /// starting rate; the policy arm's last window is 20 points above the baseline's in
    /// expectation, with session-to-session spread and the binomial noise of 10-video
    /// windows. 400 replicate experiments per pair count (8: the demo's seeds, so the bootstrap;
    /// 3: a persona study's, so Student-t; 20).
    #[test]
    fn the_paired_interval_covers_a_known_difference_95_percent_of_the_time() {
        const REPLICATES: usize = 400;
        const TRUE_DIFF: f64 = 20.0;
        let mut rng = ChaCha8Rng::seed_from_u64(20_251_207);
        let window =
            |p: f64, rng: &mut ChaCha8Rng| Binomial::new(10, p).unwrap().sample(rng) as u32;
        for pairs in [8usize, 3, 20] {
            let mut covered = 0;
            for _ in 0..REPLICATES {
                let sample: Vec<(WindowCounts, WindowCounts)> = (0..pairs)
                    .map(|_| {
                        let start = rng.random_range(0.3..0.5);
                        let arm = |lift: f64, rng: &mut ChaCha8Rng| {
                            let last = start + lift + rng.random_range(-0.15..0.15);
                            counts(window(start, rng), window(last, rng), 10)
                        };
                        (arm(0.2, &mut rng), arm(0.0, &mut rng))
                    })
                    .collect();
                let d = bootstrap_paired(&sample, "paired:aligned_exposure").unwrap();
                covered += d.ci95.unwrap().contains(TRUE_DIFF) as usize;
            }
            let coverage = 100.0 * covered as f64 / REPLICATES as f64;
            println!("{pairs} pairs: coverage {coverage:.1} % over {REPLICATES} experiments");
            assert!(
                (92.0..=98.0).contains(&coverage),
                "{pairs} pairs: coverage {coverage:.1} % is not 95 ± 3"
            );
        }
    }

    #[test]
    fn the_draws_depend_on_the_data_not_its_order() {
        let w = |first_hits, last_hits| WindowCounts {
            first_hits,
            first_n: 10,
            last_hits,
            last_n: 10,
        };
        let (a, b, c) = (w(2, 6), w(3, 5), w(1, 9));
        let one = bootstrap_change(&[a, b, c], "aligned_exposure").unwrap();
        assert_eq!(
            bootstrap_change(&[c, a, b], "aligned_exposure").unwrap(),
            one
        );
        let pairs = bootstrap_paired(&[(a, b), (c, a)], "paired").unwrap();
        assert_eq!(
            bootstrap_paired(&[(c, a), (a, b)], "paired").unwrap(),
            pairs
        );
        // The same with enough pairs for the bootstrap.
        let many: Vec<_> = [
            (a, b),
            (c, a),
            (b, c),
            (a, c),
            (b, a),
            (c, b),
            (a, a),
            (b, b),
        ]
        .to_vec();
        let mut shuffled = many.clone();
        shuffled.reverse();
        shuffled.swap(0, 3);
        assert_eq!(
            bootstrap_paired(&shuffled, "paired").unwrap(),
            bootstrap_paired(&many, "paired").unwrap()
        );
        // Other data, or another estimate, draw other replicates.
        let other = bootstrap_change(&[a, b, w(1, 8)], "aligned_exposure").unwrap();
        assert_ne!(other.ci95, one.ci95);
        assert_ne!(
            bootstrap_change(&[a, b, c], "like_rate").unwrap().ci95,
            one.ci95
        );
        let floor = |shown: &[u64]| std_noise_floor(shown, 0.4, "p-floor").unwrap();
        assert_eq!(floor(&[50, 40, 30]), floor(&[50, 40, 30]));
        assert_ne!(floor(&[50, 40, 30]), floor(&[50, 40, 31]));
    }
}
