//! Inspect's numbers on small traces whose contents are checked by hand (see the comments).

use crate::common;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use common::hand_run;
use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::*;
use scrollsim_report::{
    aggregate, find_traces, AggregateOptions, Format, GroupBy, Grouping, Inspection,
};

use Value::*;

fn inspect(paths: &[PathBuf], by: &str, exclude: bool) -> Inspection {
    let traces = find_traces(paths).unwrap();
    let mut opts = AggregateOptions::new(vec![by.parse::<Grouping>().unwrap()]);
    opts.threads = 2;
    Inspection::from_aggregation(&aggregate(&traces, &opts), 0, exclude)
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn by_model_matches_hand_computed_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let insp = inspect(&[run], "model", false);
    assert_eq!(insp.read.traces, 4);
    assert_eq!(insp.read.steps, 40);
    assert_eq!(insp.read.unfinished, 1);
    assert_eq!(insp.groups.len(), 2);
    let m1 = &insp.groups[0];
    assert_eq!(m1.key.0, vec!["m1".to_string()]);
    assert_eq!((m1.sessions, m1.seeds, m1.steps, m1.likes), (3, 3, 30, 17));
    close(m1.like_rate_overall.unwrap(), 100.0 * 17.0 / 30.0);
    // PO: 12 shown (steps 0,1,3,9 x 3), liked 0 + 1 + 2 = 3 -> 25 %.
    close(m1.like_rate[Power].unwrap(), 25.0);
    // BE: 12 shown (steps 2,5,6,7), liked 4 + 3 + 3 -> 83.3 %.
    close(m1.like_rate[Benevolence].unwrap(), 1000.0 / 12.0);
    close(m1.like_rate[Hedonism].unwrap(), 100.0 / 3.0);
    close(m1.like_rate[Tradition].unwrap(), 100.0);
    assert_eq!(m1.like_rate[Security], None);
    close(m1.exposure_share[Power], 40.0);
    close(m1.exposure_share[Benevolence], 40.0);
    close(m1.exposure_share[Hedonism], 10.0);
    close(m1.exposure_share[Conformity], 0.0);
    // Not a keyword run: P over labels = the like-rates; population std of 25, 83.3, 33.3, 100.
    assert_eq!(m1.p_attribution.name(), "labels");
    close(m1.preference.std.unwrap(), 31.93689524324144);
    assert_eq!(m1.preference.missing.len(), 6);
    assert_eq!((m1.parse_failures, m1.call_errors), (1, 1));

    // Like-rate change, first 4 vs steps 6..10: seed 1 25 -> 75, seed 2 50 -> 50, seed 3
    // 25 -> 100: +50, 0, +75 points; mean 41.67, CI half-width t(2)=4.303 x sd/sqrt(3) = 94.87.
    let lr = m1.alignment(AlignmentMeasure::LikeRate);
    assert_eq!((lr.sessions, lr.complete), (3, 3));
    let p = lr.points.unwrap();
    assert_eq!(p.n, 3);
    close(p.mean, 125.0 / 3.0);
    assert!((p.ci95.unwrap() - 94.8722).abs() < 1e-3, "{:?}", p.ci95);
    // % change: +200, 0, +300.
    let pc = lr.percent.unwrap();
    close(pc.mean, 500.0 / 3.0);
    assert!((pc.ci95.unwrap() - 379.4889).abs() < 1e-3);
    close(lr.first.unwrap().mean, 100.0 / 3.0);
    // Aligned exposure (BE, TR): 1 of 4 first, 3 of 4 last in every seed: +50 with CI 0.
    let ae = m1.alignment(AlignmentMeasure::AlignedExposure);
    close(ae.points.unwrap().mean, 50.0);
    close(ae.points.unwrap().ci95.unwrap(), 0.0);

    // m2 is a keyword session: P by retrieved_for (SD 4/5, UN 2/5), not by its PO labels.
    let m2 = &insp.groups[1];
    assert_eq!(m2.p_attribution.name(), "retrieved_for");
    assert_eq!(m2.preference.p[SelfDirection], Some(80.0));
    assert_eq!(m2.preference.p[Universalism], Some(40.0));
    assert_eq!(m2.preference.p[Power], None);
    close(m2.preference.std.unwrap(), 20.0);
    // Its like-rate table still follows labels: 6 of 10 PO videos liked.
    close(m2.like_rate[Power].unwrap(), 60.0);
    // 10 steps, windows need 10, but unfinished traces still count their steps.
    assert_eq!(m2.alignment(AlignmentMeasure::LikeRate).complete, 1);
}

#[test]
fn excluding_unparsed_changes_denominators_only() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let insp = inspect(&[run], "persona", true);
    assert_eq!(insp.groups.len(), 1);
    let g = &insp.groups[0];
    assert_eq!(g.key.0, vec!["family".to_string()]);
    // The parse failure is a PO step (s2 step 3): 3 likes over 11 + 10 keyword PO steps.
    // PO: shown 12 + 10 = 22, liked 3 + 6 = 9, one unparsed -> 9/21.
    close(g.like_rate[Power].unwrap(), 900.0 / 21.0);
    // The call error is the HE step of seed 3: 1 like over 2.
    close(g.like_rate[Hedonism].unwrap(), 50.0);
    assert_eq!((g.parse_failures, g.call_errors), (1, 1));
}

#[test]
fn platform_groups_steps_and_renumbers_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let insp = inspect(&[run], "platform", false);
    let keys: Vec<String> = insp.groups.iter().map(|g| g.key.to_string()).collect();
    assert_eq!(keys, vec!["instagram", "tiktok", "youtube"]);
    let yt = &insp.groups[2];
    assert_eq!((yt.steps, yt.likes), (5, 4));
    let ig = &insp.groups[0];
    assert_eq!((ig.steps, ig.likes), (5, 2));
    assert_eq!(insp.groups[1].steps, 30);
    // Combined groupings key on both.
    let both = inspect(&[tmp.path().join("hand")], "model,platform", false);
    assert_eq!(both.groups.len(), 3);
    assert_eq!(both.groups[0].key.to_string(), "m1 | tiktok");
}

#[test]
fn formats_carry_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let insp = inspect(&[run], "model", false);
    let table = insp.render(Format::Table);
    assert!(table.contains("Like-rate per value (%)"), "{table}");
    assert!(table.contains("83.3"), "{table}");
    assert!(table.contains("+41.7 ± 94.9"), "{table}");
    let md = insp.render(Format::Md);
    assert!(md.contains("| model | SD | ST |"), "{md}");
    let csv = insp.render(Format::Csv);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let headers = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(&rows[0][col("model")], "m1");
    assert_eq!(&rows[0][col("like_rate_BE")], "83.3333");
    assert_eq!(&rows[0][col("like_rate_points")], "41.6667");
    assert_eq!(&rows[1][col("p_SD")], "80.0000");
    assert_eq!(&rows[1][col("p_over")], "retrieved_for");
    let json: serde_json::Value = serde_json::from_str(&insp.render(Format::Json)).unwrap();
    assert_eq!(json["groups"][0]["likes"], 17);
    assert_eq!(json["groups"][0]["counts"]["shown"]["BE"], 12);
}

#[test]
fn malformed_trace_is_left_out_and_named_truncated_line_is_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    // A broken line in the middle of a copy of seed 1.
    let good =
        std::fs::read_to_string(run.join("sessions/family__m1__simple__foryou__s1.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[3] = "{\"type\":\"step\",\"index\":2,";
    std::fs::write(run.join("sessions/broken.jsonl"), lines.join("\n") + "\n").unwrap();
    // A trace whose writer stopped mid-line: the last step is in flight, the rest counts.
    let mut f = File::create(run.join("sessions/zz-crashed.jsonl")).unwrap();
    let cut: Vec<&str> = good.lines().take(5).collect();
    write!(f, "{}\n{{\"type\":\"step\",\"ind", cut.join("\n")).unwrap();
    drop(f);

    let insp = inspect(&[run], "model", false);
    assert_eq!(insp.read.skipped.len(), 1);
    let p = &insp.read.skipped[0];
    assert!(p.path.ends_with("broken.jsonl"));
    assert!(p.message.contains("line 4"), "{}", p.message);
    assert_eq!(insp.read.truncated_lines, 1);
    // 4 good traces + the crashed one (4 steps); the broken one contributes nothing.
    assert_eq!(insp.read.traces, 5);
    assert_eq!(insp.read.steps, 44);
    assert!(insp
        .render(Format::Table)
        .contains("1 malformed trace(s) LEFT OUT"));
}

#[test]
fn finds_traces_in_runs_and_reports_empty_paths() {
    let tmp = tempfile::tempdir().unwrap();
    hand_run(tmp.path());
    // A directory of runs finds the run's sessions.
    assert_eq!(find_traces(&[tmp.path().to_path_buf()]).unwrap().len(), 4);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = find_traces(&[empty]).unwrap_err().to_string();
    assert!(
        err.contains("empty") && err.contains("no traces found"),
        "{err}"
    );
    assert!(matches!("nope".parse::<GroupBy>(), Err(e) if e.to_string().contains("persona")));
}
