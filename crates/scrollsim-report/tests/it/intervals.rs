//! The intervals are honest: a value-neutral synthetic judge (every video liked with the same
//! probability, whatever its value) run through traces and the aggregation, 200 times.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrollsim_core::*;
use scrollsim_report::{aggregate, find_traces, AggregateOptions, GroupBy, Grouping, Inspection};

use crate::common::{header, step, write_trace};

const REPLICATES: usize = 200;
/// Images per value, as in the paper's benchmark (10 keywords x top 5).
const PER_VALUE: u32 = 50;
const TRUE_P: f64 = 0.4;

/// One keyword-benchmark session of a value-neutral judge: 50 images retrieved for each value,
/// each liked with probability 0.4.
fn neutral_session(dir: &Path, i: usize, rng: &mut ChaCha8Rng) {
    let mut steps = Vec::new();
    for (k, v) in Value::ALL.iter().enumerate() {
        for j in 0..PER_VALUE {
            let index = k as u32 * PER_VALUE + j;
            let mut s = step(index, *v, rng.random_bool(TRUE_P));
            s.retrieved_for = Some(*v);
            s.video = format!("v{index}").into();
            s.caption.clear();
            s.decision.matched_trait = None;
            steps.push(s);
        }
    }
    let mut h = header(
        &format!("r{i:03}"),
        &format!("r{i:03}"),
        i as u64,
        "keyword",
    );
    h.persona = None;
    write_trace(&dir.join(format!("r{i:03}.jsonl")), h, &steps, true);
}

#[test]
fn p_intervals_cover_and_the_std_noise_floor_matches_a_value_neutral_judge() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20_250_731);
    for i in 0..REPLICATES {
        neutral_session(tmp.path(), i, &mut rng);
    }
    let traces = find_traces(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(traces.len(), REPLICATES);
    // One group per replicate (each session has its own model name).
    let mut opts = AggregateOptions::new(vec![Grouping::one(GroupBy::Model)]);
    opts.threads = 2;
    let insp = Inspection::from_aggregation(&aggregate(&traces, &opts), 0, false);
    assert_eq!(insp.groups.len(), REPLICATES);

    // Wilson intervals of every P: 95 % coverage of the true 40, within 3 points.
    let (mut covered, mut total) = (0usize, 0usize);
    for g in &insp.groups {
        for v in Value::ALL {
            assert_eq!(g.p_counts.shown[v], PER_VALUE as u64);
            let ci = g.p_ci95[v].expect("every value has images");
            total += 1;
            covered += ci.contains(100.0 * TRUE_P) as usize;
        }
    }
    let coverage = 100.0 * covered as f64 / total as f64;
    println!("Wilson 95 % intervals of P: coverage {coverage:.1} % over {total} intervals");
    assert!(
        (92.0..=98.0).contains(&coverage),
        "coverage {coverage:.1} % is not 95 ± 3"
    );

    // The std of the ten P a value-neutral judge shows (simulated: one per replicate) against
    // the noise floor each replicate reports from its own numbers alone.
    let stds: Vec<f64> = insp
        .groups
        .iter()
        .map(|g| g.preference.std.unwrap())
        .collect();
    let simulated = stds.iter().sum::<f64>() / stds.len() as f64;
    let reported: Vec<f64> = insp
        .groups
        .iter()
        .map(|g| g.p_std_floor.unwrap().mean)
        .collect();
    let reported_mean = reported.iter().sum::<f64>() / reported.len() as f64;
    println!(
        "std of the ten P under a value-neutral judge: simulated {simulated:.2}, reported floor \
         {reported_mean:.2} (mean over replicates; each between {:.2} and {:.2})",
        reported.iter().cloned().fold(f64::INFINITY, f64::min),
        reported.iter().cloned().fold(0.0, f64::max)
    );
    assert!(
        (reported_mean - simulated).abs() <= 0.10 * simulated,
        "floor {reported_mean:.2} vs simulated {simulated:.2}: more than 10 % apart"
    );
    for r in &reported {
        assert!(
            (r - simulated).abs() <= 0.10 * simulated,
            "a replicate's floor {r:.2} is more than 10 % from {simulated:.2}"
        );
    }
    // And the stds themselves sit at the floor: below its 95th percentile about 95 % of the
    // time.
    let below = insp
        .groups
        .iter()
        .filter(|g| g.preference.std.unwrap() <= g.p_std_floor.unwrap().p95)
        .count();
    assert!(
        below as f64 >= 0.88 * REPLICATES as f64,
        "{below} of {REPLICATES}"
    );
}
