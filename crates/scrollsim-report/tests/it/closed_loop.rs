//! `closed_loop`: a run and its re-run with another judge, paired by persona, policy and seed
//! (and strategy when the re-run kept the source's), on hand-made traces whose changes are
//! worked out in the comments.

use std::path::{Path, PathBuf};

use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::*;
use scrollsim_report::{closed_loop, ClosedLoopRow, Interval, CONTROL};

use crate::central_numbers::steps_of;
use crate::common::{header, write_trace_ending};

use Value::*;

/// Writes one session; `steps` shorter than the windows leave them incomplete.
fn session(run: &Path, model: &str, strategy: &str, persona: bool, seed: u64, steps: Vec<Step>) {
    let arm = if persona { "family" } else { "control" };
    let name = format!("{arm}__{model}__{strategy}__foryou__s{seed}");
    let mut h = header(&name, model, seed, "foryou");
    h.judge.strategy = strategy.into();
    if !persona {
        h.persona = None;
    }
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    write_trace_ending(
        &run.join(format!("sessions/{name}.jsonl")),
        h,
        &steps,
        Some(EndReason::Completed),
    );
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn row<'a>(rows: &'a [ClosedLoopRow], persona: &str) -> &'a ClosedLoopRow {
    rows.iter().find(|r| r.persona == persona).unwrap()
}

/// Family's own values are BE and TR; windows are steps 0-3 against 6-9, and steps_of likes
/// exactly the BE and TR videos.
fn source_and_rerun(tmp: &Path) -> (PathBuf, PathBuf) {
    let (src, new) = (tmp.join("src"), tmp.join("new"));
    // Source (m1): aligned exposure s1 1/4 -> 3/4 = +50, s2 1/4 -> 4/4 = +75, s3 0 -> 1/4 = +25.
    for (seed, first, last) in [
        (
            1,
            [Power, Benevolence, Power, Power],
            [Benevolence, Benevolence, Tradition, Power],
        ),
        (
            2,
            [Benevolence, Power, Power, Power],
            [Benevolence, Tradition, Benevolence, Benevolence],
        ),
        (3, [Power; 4], [Benevolence, Power, Power, Power]),
    ] {
        session(&src, "m1", "simple", true, seed, steps_of(first, last));
    }
    // Re-run (m2): s1 0 -> 4/4 = +100 (diff +50), s2 1/4 -> 1/4 = 0 (diff -75), s3 stops after
    // 7 steps: its last window is not full, so the pair is excluded.
    session(
        &new,
        "m2",
        "simple",
        true,
        1,
        steps_of([Power; 4], [Benevolence; 4]),
    );
    session(
        &new,
        "m2",
        "simple",
        true,
        2,
        steps_of(
            [Benevolence, Power, Power, Power],
            [Benevolence, Power, Power, Power],
        ),
    );
    let mut short = steps_of([Power; 4], [Benevolence; 4]);
    short.truncate(7);
    session(&new, "m2", "simple", true, 3, short);
    // Control arm, like-rate: source 2/4 -> 4/4 = +50, re-run 2/4 -> 1/4 = -25 (diff -75).
    session(
        &src,
        "m1",
        "simple",
        false,
        1,
        steps_of([Benevolence, Tradition, Power, Power], [Benevolence; 4]),
    );
    session(
        &new,
        "m2",
        "simple",
        false,
        1,
        steps_of(
            [Benevolence, Tradition, Power, Power],
            [Benevolence, Power, Power, Power],
        ),
    );
    (src, new)
}

#[test]
fn pairs_a_rerun_with_its_source_by_persona_policy_and_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, new) = source_and_rerun(tmp.path());
    let c = closed_loop(&[src], &[new]).unwrap();
    assert!(c.same_strategies);
    assert_eq!((c.source_sessions, c.closed_loop_sessions), (4, 4));
    assert_eq!(c.unpaired_source, 0);
    assert_eq!(c.rows.len(), 2, "{:#?}", c.rows);

    let f = row(&c.rows, "family");
    assert_eq!(f.source_judge, "m1 / simple");
    assert_eq!(f.closed_loop_judge, "m2 / simple");
    assert_eq!(f.policy, "foryou");
    assert_eq!(f.pairs, 3);
    let a = &f.aligned_exposure;
    assert_eq!(a.measure, AlignmentMeasure::AlignedExposure);
    assert_eq!((a.n, a.excluded), (2, 1));
    // Over the two complete pairs: source (50 + 75) / 2, re-run (100 + 0) / 2, diff (50 - 75) / 2.
    close(a.source.unwrap().value, 62.5);
    close(a.closed_loop.unwrap().value, 50.0);
    let d = a.difference.unwrap();
    close(d.value, -12.5);
    assert_eq!(d.n, 2);
    let ci = d.ci95.unwrap();
    assert!(ci.lo < -12.5 && -12.5 < ci.hi, "{ci:?}");
    close(a.t.unwrap().mean, -12.5);

    // The control arm: no persona, so no aligned exposure; its like-rate pairs.
    let k = row(&c.rows, CONTROL);
    assert_eq!((k.aligned_exposure.n, k.aligned_exposure.excluded), (0, 1));
    assert!(k.aligned_exposure.difference.is_none());
    close(k.like_rate.difference.unwrap().value, -75.0);

    // The same numbers in the printed table, with the pairs behind them.
    let t = c.table("src", "new").to_terminal();
    assert!(t.contains("-12.5 ["), "{t}");
    assert!(t.contains("2/3"), "{t}");
    assert!(t.contains("not a VLM"), "{t}");
}

#[test]
fn strategies_pair_with_their_own_when_the_rerun_kept_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, same, own) = (
        tmp.path().join("src"),
        tmp.path().join("same"),
        tmp.path().join("own"),
    );
    let up = || steps_of([Power; 4], [Benevolence; 4]); // +100
    let flat = || steps_of([Power; 4], [Power; 4]); // 0
    session(&src, "m1", "simple", true, 1, flat());
    session(&src, "m1", "isq", true, 1, up());
    // `--judge m2`: both strategies again; simple now +100, isq now 0.
    session(&same, "m2", "simple", true, 1, up());
    session(&same, "m2", "isq", true, 1, flat());
    // `--judge m2:isq`: one strategy of its own, +100.
    session(&own, "m2", "isq", true, 1, up());

    let c = closed_loop(std::slice::from_ref(&src), &[same]).unwrap();
    assert!(c.same_strategies);
    assert_eq!(c.rows.len(), 2, "each strategy with its own: {:#?}", c.rows);
    for r in &c.rows {
        let strategy = r.source_judge.rsplit(" / ").next().unwrap();
        assert!(r.closed_loop_judge.ends_with(strategy), "{r:?}");
        assert_eq!(r.pairs, 1);
        let d = r.aligned_exposure.difference.unwrap().value;
        close(d, if strategy == "simple" { 100.0 } else { -100.0 });
    }

    let c = closed_loop(&[src], &[own]).unwrap();
    assert!(!c.same_strategies);
    assert_eq!(c.rows.len(), 2, "each source strategy against isq");
    for r in &c.rows {
        assert_eq!(r.closed_loop_judge, "m2 / isq");
        let d = r.aligned_exposure.difference.unwrap().value;
        let simple = r.source_judge.ends_with("simple");
        close(d, if simple { 100.0 } else { 0.0 });
    }
}

/// A re-run whose every session repeats its source (the offline model re-run with another
/// strategy, which it ignores) differs by exactly 0 on every pair, so its interval is exactly
/// [0, 0]: with 3 pairs (Student-t) and with 8 (the bootstrap over pairs), though the
/// sessions' own changes differ from seed to seed.
#[test]
fn a_rerun_identical_to_its_source_differs_by_zero_with_a_zero_width_interval() {
    for seeds in [3u64, 8] {
        let tmp = tempfile::tempdir().unwrap();
        let (src, new) = (tmp.path().join("src"), tmp.path().join("new"));
        for seed in 1..=seeds {
            let first = [
                Power,
                if seed % 2 == 0 { Benevolence } else { Power },
                Power,
                Power,
            ];
            let last = [
                Benevolence,
                if seed % 3 == 0 { Power } else { Tradition },
                Power,
                if seed > 4 { Benevolence } else { Power },
            ];
            session(&src, "m1", "simple", true, seed, steps_of(first, last));
            session(&new, "m1", "isq", true, seed, steps_of(first, last));
        }
        let c = closed_loop(&[src], &[new]).unwrap();
        let f = row(&c.rows, "family");
        for m in [&f.aligned_exposure, &f.like_rate] {
            assert_eq!(m.n, seeds as usize);
            let d = m.difference.unwrap();
            assert_eq!(d.value, 0.0);
            assert_eq!(d.ci95, Some(Interval { lo: 0.0, hi: 0.0 }), "{seeds} seeds");
            let own = m.source.unwrap().ci95.unwrap();
            assert!(own.hi > own.lo, "the sessions themselves vary: {own:?}");
        }
        let t = c.table("src", "new").to_terminal();
        assert!(t.contains(&format!("+0.0 [+0.0, +0.0] ({seeds})")), "{t}");
    }
}
