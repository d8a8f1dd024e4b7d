//! `summary.json` is the same computation as `inspect`: the same cell numbers, and only
//! sessions whose two windows are full count toward alignment change.

use crate::common;

use common::{hand_run, header, step, write_trace, VALUES};
use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_report::{
    aggregate, cell_grouping, find_traces, write_summary, AggregateOptions, Inspection, RunPlan,
    Summary, SUMMARY_FILE,
};

#[test]
fn summary_cells_equal_inspect_and_count_complete_windows_only() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    // A fourth seed of the foryou cell that stopped after 7 steps: its last window (steps
    // 6..10) holds one step, so it must not count toward alignment change.
    let name = "family__m1__simple__foryou__s4";
    let steps: Vec<_> = VALUES
        .iter()
        .take(7)
        .enumerate()
        .map(|(i, v)| step(i as u32, *v, i % 2 == 0))
        .collect();
    write_trace(
        &run.join(format!("sessions/{name}.jsonl")),
        header(name, "m1", 4, "foryou"),
        &steps,
        false,
    );
    let plan = RunPlan {
        experiment: "hand".into(),
        sessions: vec![
            name.to_string(),
            "kw".into(),
            "family__m1__simple__foryou__s9".into(),
        ],
    };
    let summary = write_summary(&run, Some(&plan)).unwrap();
    assert_eq!(summary.sessions_planned, Some(3));
    assert_eq!(summary.missing, vec!["family__m1__simple__foryou__s9"]);
    assert_eq!(summary.sessions_found, 5);
    assert_eq!(summary.sessions_finished, 3);
    // Paths are relative to the run, so two copies of a run summarise identically.
    assert!(summary
        .sessions
        .iter()
        .all(|s| s.path.starts_with("sessions")));

    let foryou = summary
        .cells
        .iter()
        .find(|c| c.key.0[3] == "foryou")
        .unwrap();
    assert_eq!(foryou.sessions, 4);
    let lr = foryou.alignment(AlignmentMeasure::LikeRate);
    assert_eq!((lr.complete, lr.sessions), (3, 4));
    // The three complete seeds as in inspect_numbers: +50, 0, +75 points.
    let p = lr.points.unwrap();
    assert_eq!(p.n, 3);
    assert!((p.mean - 125.0 / 3.0).abs() < 1e-9, "{p:?}");

    // The file is what was returned, and inspect by the cell grouping gives the same cells.
    // (Compared as text: serde_json's float parsing may differ from the written value in the
    // last bit, which the file's readers never see.)
    let text = std::fs::read_to_string(run.join(SUMMARY_FILE)).unwrap();
    assert_eq!(text, serde_json::to_string_pretty(&summary).unwrap());
    let read: Summary = serde_json::from_str(&text).unwrap();
    assert_eq!(read.cells.len(), summary.cells.len());
    let mut opts = AggregateOptions::new(vec![cell_grouping()]);
    opts.threads = 2;
    let agg = aggregate(&find_traces(std::slice::from_ref(&run)).unwrap(), &opts);
    let insp = Inspection::from_aggregation(&agg, 0, false);
    assert_eq!(insp.groups, summary.cells);

    // What `scrollsim run` prints carries the same interval.
    let tables = summary.tables(0.05);
    assert_eq!(
        tables[0].id, "central",
        "the central experiment opens every output"
    );
    let table = tables[0].to_terminal();
    assert!(table.contains("3/4"), "{table}");
    let pref = summary.preference_table().unwrap().to_terminal();
    assert!(pref.contains("80.0") && pref.contains("40.0"), "{pref}");
}
