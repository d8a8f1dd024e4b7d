//! One number, one computation: the central experiment's per-policy numbers (aligned-exposure
//! change with its interval, the paired difference against random) are the same in
//! `summary.json`, `scrollsim inspect` (default view and `--by persona,policy`), the report's
//! files and the viewer's run page, on a small run whose sessions are written by hand.

use crate::common;

use std::path::{Path, PathBuf};

use common::{header, scrollsim, step, write_trace, Server};
use scrollsim_core::{PerValue, Value};
use serde_json::Value as Json;

use Value::{Benevolence as BE, Hedonism as HE, Power as PO, Tradition as TR};

/// Family (own values BE and TR) under foryou and random on seeds 1-3: 6 steps, windows
/// steps 0-1 vs 4-5. Aligned share first -> last per session (points):
/// foryou +50, +100, +50; random 0, -50, +50.
const ARMS: [(&str, u64, [Value; 6]); 6] = [
    ("foryou", 1, [BE, PO, HE, HE, BE, TR]),
    ("foryou", 2, [PO, PO, HE, HE, TR, BE]),
    ("foryou", 3, [BE, PO, HE, HE, BE, BE]),
    ("random", 1, [BE, PO, HE, HE, BE, PO]),
    ("random", 2, [BE, TR, HE, HE, PO, BE]),
    ("random", 3, [PO, PO, HE, HE, PO, BE]),
];

fn two_policy_run(runs: &Path) -> PathBuf {
    let run = runs.join("study");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (policy, seed, values) in ARMS {
        let name = format!("family__gpt__simple__{policy}__s{seed}");
        let mut h = header("study", &name, "gpt-test", seed);
        h.policy.name = policy.into();
        let mut counts = (PerValue::default(), PerValue::default());
        let steps: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| step(i as u32, &format!("v{seed}{i}"), *v, *v != PO, &mut counts))
            .collect();
        write_trace(&run.join(format!("sessions/{name}.jsonl")), &h, &steps);
    }
    run
}

/// `+50.0 [+12.5, +87.5]`: how every output prints an estimate with its interval (a value
/// that rounds to zero prints as `+0.0`).
fn estimate_text(e: &Json) -> String {
    let f = |x: &Json| format!("{:+.1}", x.as_f64().unwrap()).replace("-0.0", "+0.0");
    format!(
        "{} [{}, {}]",
        f(&e["value"]),
        f(&e["ci95"]["lo"]),
        f(&e["ci95"]["hi"])
    )
}

fn stdout_of(args: &[&str]) -> String {
    let out = scrollsim(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn summary_inspect_report_and_viewer_print_the_same_central_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let run = two_policy_run(&runs);
    let run_arg = run.to_str().unwrap();

    // summary.json, as `scrollsim run` writes it.
    scrollsim_report::write_summary(&run, None).unwrap();
    let summary: Json =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let rows = summary["central"]["rows"].as_array().unwrap();
    let foryou = rows.iter().find(|r| r["policy"] == "foryou").unwrap();
    let aligned = &foryou["aligned_exposure"]["bootstrap"];
    // Hand-computed means: foryou (50 + 100 + 50) / 3; paired (50 - 0, 100 + 50, 50 - 50) / 3.
    assert!((aligned["value"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    let paired = &foryou["aligned_vs_baseline"]["difference"];
    assert!((paired["value"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(paired["n"], 3);
    let (change, vs_random) = (estimate_text(aligned), estimate_text(paired));

    // inspect's default view is summary.json's, computed again from the traces.
    let json = stdout_of(&["inspect", run_arg, "--format", "json"]);
    let inspected: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(inspected["central"], summary["central"]);
    let table = stdout_of(&["inspect", run_arg]);
    assert!(table.starts_with("Central experiment"), "{table}");
    assert!(
        table.contains(&change) && table.contains(&vs_random),
        "{change} / {vs_random} not in:\n{table}"
    );

    // inspect --by persona,policy: the same cell, the same numbers.
    let json = stdout_of(&[
        "inspect",
        run_arg,
        "--by",
        "persona,policy",
        "--format",
        "json",
    ]);
    let by: Json = serde_json::from_str(&json).unwrap();
    let cell = by["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == serde_json::json!(["family", "foryou"]))
        .unwrap();
    let cell_aligned = cell["alignment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["measure"] == "aligned_exposure")
        .unwrap();
    assert_eq!(cell_aligned, &foryou["aligned_exposure"]);

    // The report's Markdown and CSV.
    stdout_of(&["report", run_arg]);
    for file in ["report.md", "central.md", "central.csv"] {
        let text = std::fs::read_to_string(run.join("report").join(file)).unwrap();
        assert!(
            text.contains(&change) && text.contains(&vs_random),
            "{file}: {change} / {vs_random} not in:\n{text}"
        );
    }

    // The viewer's run page.
    let images = tmp.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let server = Server::start(&runs, &images);
    let (status, html) = server.get_text("/runs/study");
    assert_eq!(status, 200);
    let central = html
        .find("Central experiment")
        .expect("the central section");
    assert!(
        central < html.find("Sessions").unwrap(),
        "the run page opens with the central experiment"
    );
    assert!(
        html.contains(&change) && html.contains(&vs_random),
        "{change} / {vs_random} not in the run page"
    );
}
