//! Metrics on hand-computed examples.

use scrollsim_core::metrics::*;
use scrollsim_core::*;
use scrollsim_testkit::traces;

/// Testkit's step showing a video of `values` (labelled by the first).
fn step(index: u32, values: &[Value], like: bool) -> Step {
    Step {
        values: values.to_vec(),
        ..traces::step(index, values[0], like)
    }
}

/// A made-up model on a keyword run: five images per value, likes per value
/// SD 4, ST 2, HE 5, AC 3, PO 1, SE 5, CO 0, TR 2, BE 4, UN 4.
fn keyword_run() -> Vec<Step> {
    let likes = [4, 2, 5, 3, 1, 5, 0, 2, 4, 4];
    let mut steps = Vec::new();
    for (vi, v) in Value::ALL.into_iter().enumerate() {
        for k in 0..5 {
            let mut s = step(steps.len() as u32, &[v], k < likes[vi]);
            s.retrieved_for = Some(v);
            // Labels disagree with retrieval on purpose: P must group by retrieval.
            s.values = vec![Value::Power];
            steps.push(s);
        }
    }
    steps
}

#[test]
fn preference_scores_and_std_for_a_made_up_model() {
    let mut t = ValueTally::new(Attribution::Retrieval);
    for s in keyword_run() {
        t.push(&s);
    }
    let profile = PreferenceProfile::from_tally(&t);
    let p: Vec<f64> = profile.p.values().iter().map(|x| x.unwrap()).collect();
    assert_eq!(
        p,
        vec![80.0, 40.0, 100.0, 60.0, 20.0, 100.0, 0.0, 40.0, 80.0, 80.0]
    );
    // mean 60; squared deviations sum to 10400; population variance 1040.
    let std = profile.std.unwrap();
    assert!((std - 1040f64.sqrt()).abs() < 1e-9, "{std}");
    assert!((std - 32.249).abs() < 1e-3);
    assert!(profile.missing.is_empty());
}

#[test]
fn parse_failures_are_counted_and_optionally_excluded() {
    let mut steps = keyword_run();
    // One Conformity image (all were skips) becomes a parse failure instead.
    steps[30].decision.status = ParseStatus::ParseFailure {
        detail: "maybe".into(),
    };
    let mut paper = ValueTally::new(Attribution::Retrieval);
    let mut strict = ValueTally::new(Attribution::Retrieval).excluding_unparsed(true);
    for s in &steps {
        paper.push(s);
        strict.push(s);
    }
    assert_eq!(paper.parse_failures, 1);
    assert_eq!(paper.unparsed[Value::Conformity], 1);
    // The paper counts it as "no": 0/5. Excluding it: 0/4, and SD (4 of 5) is untouched.
    assert_eq!(paper.like_rate()[Value::Conformity], Some(0.0));
    assert_eq!(
        strict.shown[Value::Conformity] - strict.unparsed[Value::Conformity],
        4
    );
    assert_eq!(strict.like_rate()[Value::SelfDirection], Some(0.8));
}

#[test]
fn like_rate_and_exposure_by_label() {
    let steps = [
        step(0, &[Value::Hedonism], true),
        step(1, &[Value::Hedonism, Value::Stimulation], false),
        step(2, &[Value::Tradition], true),
        step(3, &[Value::Hedonism], true),
    ];
    let mut t = ValueTally::new(Attribution::Labels);
    steps.iter().for_each(|s| t.push(s));
    assert_eq!(t.like_rate()[Value::Hedonism], Some(2.0 / 3.0));
    assert_eq!(t.like_rate()[Value::Stimulation], Some(0.0));
    assert_eq!(t.like_rate()[Value::Power], None);
    assert_eq!(t.exposure_share()[Value::Hedonism], 0.75);
    assert_eq!(t.exposure_share()[Value::Tradition], 0.25);
    assert_eq!(t.overall_like_rate(), Some(0.75));
}

/// A made-up session: windows of 4 (steps 0-3) and 4 (steps 6-9), a persona whose own values
/// are Tradition and Benevolence.
#[test]
fn alignment_change_for_a_made_up_session() {
    use Value::*;
    let plan: [(&[Value], bool); 10] = [
        (&[Power], false),
        (&[Benevolence], true),
        (&[Hedonism], false),
        (&[Stimulation], false),
        (&[Tradition], true), // between the windows: ignored
        (&[Achievement], false),
        (&[Benevolence], true),
        (&[Tradition], true),
        (&[Benevolence, Power], true),
        (&[Achievement], false),
    ];
    let steps: Vec<Step> = plan
        .iter()
        .enumerate()
        .map(|(i, (v, l))| step(i as u32, v, *l))
        .collect();
    let windows = AlignmentWindows {
        first: 4,
        last_start: 6,
        last: 4,
    };
    let aligned = vec![Tradition, Benevolence];

    let mut exposure =
        AlignmentFold::new(windows, AlignmentMeasure::AlignedExposure, aligned.clone());
    let mut likes = AlignmentFold::new(windows, AlignmentMeasure::LikeRate, aligned.clone());
    for s in &steps {
        exposure.push(s);
        likes.push(s);
    }
    let c = exposure.finish();
    // First window: 1 of 4 aligned (25 %); last: 3 of 4 (75 %): +50 points, +200 %.
    assert_eq!((c.first, c.last), (Some(25.0), Some(75.0)));
    assert_eq!(c.points, Some(50.0));
    assert_eq!(c.percent, Some(200.0));
    assert!(c.complete);
    let l = likes.finish();
    assert_eq!(
        (l.first, l.last, l.points),
        (Some(25.0), Some(75.0), Some(50.0))
    );

    // Without a persona, aligned exposure is undefined rather than zero.
    let mut none = AlignmentFold::new(windows, AlignmentMeasure::AlignedExposure, vec![]);
    steps.iter().for_each(|s| none.push(s));
    assert_eq!(none.finish().points, None);

    // A short session leaves the last window incomplete, and says so.
    let mut short = AlignmentFold::new(windows, AlignmentMeasure::LikeRate, aligned);
    steps[..8].iter().for_each(|s| short.push(s));
    let s = short.finish();
    assert!(!s.complete);
    assert_eq!(s.last_n, 2);
}

#[test]
fn rolling_trajectory() {
    use Value::*;
    let steps = [
        step(0, &[Hedonism], true),
        step(1, &[Tradition], false),
        step(2, &[Tradition], true),
    ];
    let mut r = Rolling::new(2, vec![Tradition]);
    let pts: Vec<TrajectoryPoint> = steps.iter().map(|s| r.push(s)).collect();
    assert_eq!(pts[0].exposure_share[Hedonism], 1.0);
    assert_eq!(pts[0].aligned_share, Some(0.0));
    assert_eq!(pts[1].exposure_share[Hedonism], 0.5);
    // Window {1, 2}: Hedonism has left it; Tradition liked once of twice.
    assert_eq!(pts[2].exposure_share[Hedonism], 0.0);
    assert_eq!(pts[2].like_rate[Hedonism], None);
    assert_eq!(pts[2].like_rate[Tradition], Some(0.5));
    assert_eq!(pts[2].aligned_share, Some(1.0));
}

#[test]
fn confidence_interval_across_seeds() {
    let (mean, half) = mean_ci95(&[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(mean, 2.0);
    // sd 1, se 1/sqrt(3), t(2) = 4.303
    assert!((half.unwrap() - 4.303 / 3f64.sqrt()).abs() < 1e-9);
    assert_eq!(mean_ci95(&[5.0]).unwrap(), (5.0, None));
    assert!(mean_ci95(&[]).is_none());
    assert_eq!(population_std(&[2.0, 4.0]), Some(1.0));
}

#[test]
fn student_t_quantiles_past_the_table() {
    assert_eq!(t975(1), 12.706);
    assert_eq!(t975(30), 2.042);
    // Published values: t(40) = 2.021, t(60) = 2.000, t(120) = 1.980; the normal's 1.960 in the
    // limit.
    for (df, t) in [
        (31, 2.040),
        (40, 2.021),
        (60, 2.000),
        (120, 1.980),
        (100_000, 1.960),
    ] {
        assert!((t975(df) - t).abs() < 1.5e-3, "df {df}: {}", t975(df));
    }
    // With 31 samples mean_ci95 uses t(30), not 1.96.
    let xs: Vec<f64> = (0..31).map(f64::from).collect();
    let sd = (xs.iter().map(|x| (x - 15.0).powi(2)).sum::<f64>() / 30.0).sqrt();
    let half = mean_ci95(&xs).unwrap().1.unwrap();
    assert!((half - 2.042 * sd / 31f64.sqrt()).abs() < 1e-9);
}
