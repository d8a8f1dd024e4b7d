//! The central experiment on hand-made traces whose numbers are worked out in the comments:
//! alignment change per persona x policy, the paired difference against random on the same
//! seeds, the control arm apart, failed sessions flagged; and the same numbers from
//! `summary.json`, `inspect --by persona,policy` and the report.

use std::path::{Path, PathBuf};

use scrollsim_core::*;
use scrollsim_report::{
    aggregate, build, find_traces, AggregateOptions, Grouping, Inspection, ReportOptions, Summary,
    CONTROL,
};

use crate::common::{header, step, write_trace_ending};

use Value::*;

/// Family's own values are BE and TR (weights 0.9 and 0.6); windows are steps 0-3 vs 6-9.
/// Steps 4 and 5 are HE. Aligned exposure per session, first -> last (points):
const ARMS: [(&str, u64, &str, &str); 7] = [
    // foryou s1: 1/4 -> 3/4 = +50; s2: 1/4 -> 4/4 = +75; s3: 0 -> 1/4 = +25; s4: 0 -> 4/4 = +100
    ("foryou", 1, "PO BE PO PO", "BE BE TR PO"),
    ("foryou", 2, "BE PO PO PO", "BE TR BE BE"),
    ("foryou", 3, "PO PO PO PO", "BE PO PO PO"),
    ("foryou", 4, "PO PO PO PO", "BE BE BE BE"),
    // random s1: 1/4 -> 1/4 = 0; s2: 2/4 -> 1/4 = -25; s3: 0 -> 0 = 0 (and it ends in error)
    ("random", 1, "BE PO PO PO", "PO BE PO PO"),
    ("random", 2, "PO PO BE TR", "PO PO PO BE"),
    ("random", 3, "PO PO PO PO", "PO PO PO PO"),
];

/// Four values from their codes, `"PO BE PO PO"`.
pub fn four(codes: &str) -> [Value; 4] {
    let v: Vec<Value> = codes.split(' ').map(|c| c.parse().unwrap()).collect();
    v.try_into().expect("four value codes")
}

pub fn steps_of(first: [Value; 4], last: [Value; 4]) -> Vec<Step> {
    let values: Vec<Value> = first
        .into_iter()
        .chain([Hedonism, Hedonism])
        .chain(last)
        .collect();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| step(i as u32, *v, matches!(v, Benevolence | Tradition)))
        .collect()
}

/// The run: family under foryou (seeds 1-4) and random (1-3, seed 3 failed), and the control
/// arm under both policies on seed 1.
pub fn two_policy_run(dir: &Path) -> PathBuf {
    let run = dir.join("study");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (policy, seed, first, last) in ARMS {
        let name = format!("family__m1__simple__{policy}__s{seed}");
        let end = if policy == "random" && seed == 3 {
            EndReason::Error {
                message: "HTTP 401: invalid key".into(),
            }
        } else {
            EndReason::Completed
        };
        write_trace_ending(
            &run.join(format!("sessions/{name}.jsonl")),
            header(&name, "m1", seed, policy),
            &steps_of(four(first), four(last)),
            Some(end),
        );
    }
    for policy in ["foryou", "random"] {
        let name = format!("control__m1__simple__{policy}__s1");
        let mut h = header(&name, "m1", 1, policy);
        h.persona = None;
        // Control likes: first window 2 of 4 (BE and TR liked), last 4 of 4 under foryou.
        let steps = if policy == "foryou" {
            steps_of([Benevolence, Tradition, Power, Power], [Benevolence; 4])
        } else {
            steps_of(
                [Benevolence, Tradition, Power, Power],
                [Benevolence, Power, Power, Power],
            )
        };
        write_trace_ending(
            &run.join(format!("sessions/{name}.jsonl")),
            h,
            &steps,
            Some(EndReason::Completed),
        );
    }
    run
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn central_rows_paired_differences_and_failed_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let run = two_policy_run(tmp.path());
    let s = Summary::of_run(&run, None, 2).unwrap();
    let c = &s.central;
    assert!(!c.several_models && !c.several_strategies);
    assert_eq!(c.rows.len(), 2);
    let foryou = c.rows.iter().find(|r| r.policy == "foryou").unwrap();
    let random = c.rows.iter().find(|r| r.policy == "random").unwrap();
    assert_eq!((foryou.persona.as_str(), foryou.sessions), ("family", 4));
    // Mean of +50, +75, +25, +100.
    let a = foryou.aligned_exposure.bootstrap.unwrap();
    close(a.value, 62.5);
    assert_eq!(a.n, 4);
    let ci = a.ci95.unwrap();
    assert!(ci.lo < 62.5 && 62.5 < ci.hi && ci.lo > 0.0, "{ci:?}");
    close(foryou.aligned_exposure.points.unwrap().mean, 62.5);
    // Random: 0, -25, 0.
    close(
        random.aligned_exposure.bootstrap.unwrap().value,
        -25.0 / 3.0,
    );
    assert_eq!(random.failed_sessions, 1);
    // Pairs on seeds 1-3 (seed 4 has no random sibling): 50 - 0, 75 + 25, 25 - 0.
    let d = foryou.aligned_vs_baseline.as_ref().unwrap();
    let e = d.difference.unwrap();
    assert_eq!(e.n, 3);
    close(e.value, 175.0 / 3.0);
    close(d.t.unwrap().mean, 175.0 / 3.0);
    assert!(
        random.aligned_vs_baseline.is_none(),
        "random is the baseline"
    );

    // The control arm in its own rows: like-rate 50 % -> 100 % under foryou, 50 -> 25 under
    // random; paired: +50 - (-25) = +75.
    assert_eq!(c.control.len(), 2);
    let cf = c.control.iter().find(|r| r.policy == "foryou").unwrap();
    assert_eq!(cf.persona, CONTROL);
    close(cf.like_rate.bootstrap.unwrap().value, 50.0);
    close(
        cf.like_rate_vs_baseline
            .as_ref()
            .unwrap()
            .difference
            .unwrap()
            .value,
        75.0,
    );
    assert!(
        cf.aligned_exposure.bootstrap.is_none(),
        "no persona, no aligned exposure"
    );

    // Failed sessions are counted and flagged.
    assert_eq!(s.sessions_failed, 1);
    let warnings = s.warnings(0.05).join("\n");
    assert!(
        warnings.contains("1 session(s) ended in error"),
        "{warnings}"
    );
    let failed = s.failed_table().unwrap();
    assert!(failed.rows[0][2].contains("HTTP 401"));
    let text: String = s.tables(0.05).iter().map(|t| t.to_terminal()).collect();
    assert!(text.starts_with("Central experiment"), "{text}");
    assert!(text.contains("+58.3 ["), "{text}");
    assert!(text.contains("4/4"), "{text}");
    assert!(
        text.contains("3/3 !"),
        "the failed session's cell is marked: {text}"
    );
    let conclusion = s.render_conclusion();
    assert!(
        conclusion.contains("+58.3 [") && conclusion.contains("(3 pairs)"),
        "{conclusion}"
    );

    // inspect --by persona,policy: the same sessions, so the same numbers and intervals.
    let traces = find_traces(std::slice::from_ref(&run)).unwrap();
    let mut opts = AggregateOptions::new(vec!["persona,policy".parse::<Grouping>().unwrap()]);
    opts.threads = 1;
    let insp = Inspection::from_aggregation(&aggregate(&traces, &opts), 0, false);
    let g = insp
        .groups
        .iter()
        .find(|g| g.key.0 == ["family", "foryou"])
        .unwrap();
    assert_eq!(
        g.alignment(scrollsim_core::metrics::AlignmentMeasure::AlignedExposure),
        &foryou.aligned_exposure
    );
    let (_, pd) = insp
        .paired
        .iter()
        .find(|(k, d)| {
            k.0 == ["family", "foryou"]
                && d.measure == scrollsim_core::metrics::AlignmentMeasure::AlignedExposure
        })
        .unwrap();
    assert_eq!(pd, d);
    let table = insp.render(scrollsim_report::Format::Table);
    assert!(
        table.contains("Paired difference against random"),
        "{table}"
    );

    // The report opens with the same rows.
    let report = build("study", &[run], None, &ReportOptions::default()).unwrap();
    assert_eq!(report.summary.central, s.central);
    let md = report.markdown();
    let central_at = md.find("Central experiment").unwrap();
    assert!(central_at < md.find("By model").unwrap());
    assert!(md.contains("+58.3 ["));
    assert!(report.charts.iter().any(|c| c.name == "central-vs-random"));
    assert!(report
        .charts
        .iter()
        .any(|c| c.name == "trajectory-aligned-family"));
}

/// Two arms under different names that served the same videos on the same seeds (a sweep
/// repeats plain foryou in every curve) must read identically: the same estimate and the same
/// interval, whatever the rows are called or where they sit.
#[test]
fn identical_arms_under_different_names_get_identical_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("twins");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (policy, seed, first, last) in ARMS {
        let names: &[&str] = if policy == "foryou" {
            &["foryou:a", "foryou:zz-copy"]
        } else {
            &["random"]
        };
        for p in names {
            let name = format!("family__m1__simple__{}__s{seed}", p.replace(':', "-"));
            let mut h = header(&name, "m1", seed, p);
            if policy == "foryou" {
                h.policy.feedback = Some(FeedbackSignal::Dwell);
            }
            write_trace_ending(
                &run.join(format!("sessions/{name}.jsonl")),
                h,
                &steps_of(four(first), four(last)),
                Some(EndReason::Completed),
            );
        }
    }
    let s = Summary::of_run(&run, None, 2).unwrap();
    let a = s
        .central
        .rows
        .iter()
        .find(|r| r.policy == "foryou:a")
        .unwrap();
    let b = s
        .central
        .rows
        .iter()
        .find(|r| r.policy == "foryou:zz-copy")
        .unwrap();
    assert!(a.aligned_exposure.bootstrap.unwrap().ci95.is_some());
    assert_eq!(a.aligned_exposure, b.aligned_exposure);
    assert_eq!(a.like_rate, b.like_rate);
    let (da, db) = (
        a.aligned_vs_baseline.as_ref().unwrap(),
        b.aligned_vs_baseline.as_ref().unwrap(),
    );
    assert!(da.difference.unwrap().ci95.is_some());
    assert_eq!(da.difference, db.difference);
    assert_eq!(da.t, db.t);
    // Every row says what its feed learned from.
    assert_eq!(a.signal.as_deref(), Some("feedback: dwell"));
    let random = s
        .central
        .rows
        .iter()
        .find(|r| r.policy == "random")
        .unwrap();
    assert_eq!(random.signal, None);
    let table = s.central.tables("m1", "windows")[0].clone();
    let col = table
        .header
        .iter()
        .position(|h| h == "learns from")
        .unwrap();
    for row in &table.rows {
        let want = if row[1] == "random" { "-" } else { "dwell" };
        assert_eq!(row[col], want, "{row:?}");
    }
    // inspect --by persona,policy says it too.
    let traces = find_traces(std::slice::from_ref(&run)).unwrap();
    let mut opts = AggregateOptions::new(vec!["persona,policy".parse::<Grouping>().unwrap()]);
    opts.threads = 1;
    let insp = Inspection::from_aggregation(&aggregate(&traces, &opts), 0, false);
    let overview = insp
        .tables()
        .into_iter()
        .find(|t| t.id == "overview")
        .unwrap();
    let col = overview
        .header
        .iter()
        .position(|h| h == "learns from")
        .unwrap();
    assert_eq!(overview.rows.len(), 3);
    for row in &overview.rows {
        let want = if row[1] == "random" { "-" } else { "dwell" };
        assert_eq!(row[col], want, "{row:?}");
    }
    // And the P table's std interval and noise floor, cell by cell.
    let cell = |p: &str| s.cells.iter().find(|c| c.key.0[3] == p).unwrap();
    let (ca, cb) = (cell("foryou:a"), cell("foryou:zz-copy"));
    assert!(ca.p_std_ci95.is_some());
    assert_eq!(ca.p_std_ci95, cb.p_std_ci95);
    assert_eq!(ca.p_std_floor, cb.p_std_floor);
}

/// The keyword benchmark by text and by image vectors are two benchmarks: two rows in every
/// grouping with a policy, neither in the central experiment (they are not feeds).
#[test]
fn keyword_by_text_and_by_image_are_two_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("kw");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (retrieval, liked) in [(Retrieval::Text, 2), (Retrieval::Image, 4)] {
        let name = format!("control__m1__simple__keyword__{retrieval}");
        let mut h = header(&name, "m1", 1, "keyword");
        h.persona = None;
        h.policy.retrieval = Some(retrieval);
        let steps: Vec<Step> = (0..10)
            .map(|i| {
                let mut s = step(i, Power, i < liked);
                s.retrieved_for = Some(if i < 5 { SelfDirection } else { Universalism });
                s
            })
            .collect();
        write_trace_ending(
            &run.join(format!("sessions/{name}.jsonl")),
            h,
            &steps,
            Some(EndReason::Completed),
        );
    }
    let s = Summary::of_run(&run, None, 2).unwrap();
    let mut policies: Vec<&str> = s.cells.iter().map(|c| c.key.0[3].as_str()).collect();
    policies.sort();
    assert_eq!(policies, ["keyword(image)", "keyword(text)"]);
    // P(SD) = liked of the 5 retrieved for SD: 2 of 5 by text, 4 of 5 by image.
    for (p, want) in [("keyword(text)", 40.0), ("keyword(image)", 80.0)] {
        let c = s.cells.iter().find(|c| c.key.0[3] == p).unwrap();
        close(c.preference.p[SelfDirection].unwrap(), want);
    }
    assert!(s.central.is_empty(), "the benchmark is not a feed");
    let table: String = s.tables(0.05).iter().map(|t| t.to_terminal()).collect();
    assert!(
        table.contains("keyword(text)") && table.contains("keyword(image)"),
        "{table}"
    );

    let traces = find_traces(std::slice::from_ref(&run)).unwrap();
    let mut opts = AggregateOptions::new(vec!["policy".parse::<Grouping>().unwrap()]);
    opts.threads = 1;
    let insp = Inspection::from_aggregation(&aggregate(&traces, &opts), 0, false);
    let keys: Vec<&str> = insp.groups.iter().map(|g| g.key.0[0].as_str()).collect();
    assert_eq!(keys, ["keyword(image)", "keyword(text)"]);

    // Chart file names: letters, digits and '-' only, as docs/reports.md says.
    let opts = ReportOptions {
        threads: 1,
        ..Default::default()
    };
    let report = build("kw", &[run], None, &opts).unwrap();
    let names: Vec<&str> = report.charts.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "trajectory-like-control-keyword-text",
        "trajectory-exposure-control-keyword-image",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
}

/// Chart file names of the control arm and of presets with `:` and `=`, as docs/reports.md
/// lists them: `trajectory-like-<persona>-<policy>`, the control arm as `control`.
#[test]
fn trajectory_chart_names_are_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let run = two_policy_run(tmp.path());
    let name = "family__m1__simple__foryou-feedback-likes__s1";
    write_trace_ending(
        &run.join(format!("sessions/{name}.jsonl")),
        header(name, "m1", 1, "foryou:feedback=likes"),
        &steps_of([Power; 4], [Benevolence; 4]),
        Some(EndReason::Completed),
    );
    let report = build("study", &[run], None, &ReportOptions::default()).unwrap();
    let names: Vec<&str> = report.charts.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "trajectory-aligned-family",
        "trajectory-like-family-foryou",
        "trajectory-like-family-random",
        "trajectory-like-family-foryou-feedback-likes",
        "trajectory-like-control-foryou",
        "trajectory-exposure-control-random",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    for n in names {
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'),
            "{n}"
        );
        assert!(!n.contains("no_persona") && !n.contains("--"), "{n}");
    }
}
