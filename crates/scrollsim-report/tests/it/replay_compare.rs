//! `replay::first_divergence` and `replay::check_trace` on hand-made traces.

use crate::common;

use common::{header, step, write_trace};
use scrollsim_core::{PerValue, Step, Value};
use scrollsim_report::{check_trace, first_divergence};

/// Steps with consistent running counts.
fn steps(likes: &[bool]) -> Vec<Step> {
    let (mut exposure, mut liked) = (PerValue::<u32>::default(), PerValue::<u32>::default());
    likes
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut s = step(i as u32, Value::Benevolence, *l);
            exposure[Value::Benevolence] += 1;
            liked[Value::Benevolence] += *l as u32;
            s.exposure = exposure;
            s.likes = liked;
            s
        })
        .collect()
}

#[test]
fn first_divergence_names_step_field_and_both_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a.jsonl"),
        tmp.path().join("b.jsonl"),
        tmp.path().join("c.jsonl"),
    );
    let h = header("s", "m", 1, "foryou");
    write_trace(&a, h.clone(), &steps(&[true, false, true, false]), true);
    assert_eq!(first_divergence(&a, &a).unwrap(), None);

    let mut other = steps(&[true, false, false, false]);
    other[3].dwell_s = 99.0; // a later difference must not hide the first one
    write_trace(&b, h.clone(), &other, true);
    let d = first_divergence(&a, &b).unwrap().unwrap();
    assert_eq!(
        (
            d.step,
            d.field.as_str(),
            d.recorded.as_str(),
            d.derived.as_str()
        ),
        (Some(2), "decision.like", "true", "false")
    );
    assert!(d.to_string().contains("session s"), "{d}");

    write_trace(&c, h, &steps(&[true, false]), true);
    let d = first_divergence(&a, &c).unwrap().unwrap();
    assert_eq!((d.step, d.field.as_str()), (Some(2), "step"));
    assert!(d.derived.contains("ended earlier"));
}

#[test]
fn check_trace_rederives_and_finds_inconsistent_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("t.jsonl");
    write_trace(
        &p,
        header("s", "m", 1, "foryou"),
        &steps(&[true, false, true, true]),
        true,
    );
    let c = check_trace(&p).unwrap();
    assert_eq!(c.first_divergence, None);
    assert_eq!(c.metrics.steps, 4);
    assert_eq!(c.metrics.by_label.liked[Value::Benevolence], 3);
    assert!(c.finished);

    let mut s = steps(&[true, false, true, true]);
    s[1].decision.like = true; // flipped, running counts untouched
    write_trace(&p, header("s", "m", 1, "foryou"), &s, false);
    let c = check_trace(&p).unwrap();
    let d = c.first_divergence.unwrap();
    assert_eq!(
        (
            d.step,
            d.field.as_str(),
            d.recorded.as_str(),
            d.derived.as_str()
        ),
        (Some(1), "likes.BE", "1", "2")
    );
    assert!(!c.finished);
}
