//! `scrollsim inspect`, `report` and `replay` (trace-only) as a user runs them, on small
//! traces with hand-checked contents.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::{header, scrollsim, step, write_trace};
use scrollsim_core::{ParseStatus, PerValue, Value};

/// Three seeds of one cell: 6 steps each, windows 2 vs steps 4..6. Values per step: BE PO BE
/// PO TR BE. Likes per seed: s1 0 0 1 0 1 1 | s2 1 0 0 0 1 1 | s3 0 1 1 0 1 1 (s3's PO at
/// step 1 is a parse failure instead of its like).
fn hand_run(root: &Path) -> std::path::PathBuf {
    let run = root.join("hand");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    let values = [
        Value::Benevolence,
        Value::Power,
        Value::Benevolence,
        Value::Power,
        Value::Tradition,
        Value::Benevolence,
    ];
    let likes = [[0, 0, 1, 0, 1, 1], [1, 0, 0, 0, 1, 1], [0, 1, 1, 0, 1, 1]];
    for (k, l) in likes.iter().enumerate() {
        let seed = k as u64 + 1;
        let mut counts = (PerValue::default(), PerValue::default());
        let steps: Vec<_> = values
            .iter()
            .zip(l)
            .enumerate()
            .map(|(i, (v, like))| {
                let failed = seed == 3 && i == 1;
                let mut s = step(
                    i as u32,
                    &format!("v{i}"),
                    *v,
                    *like == 1 && !failed,
                    &mut counts,
                );
                if failed {
                    s.decision.status = ParseStatus::ParseFailure {
                        detail: "maybe".into(),
                    };
                }
                s
            })
            .collect();
        let name = format!("family__gpt__simple__foryou__s{seed}");
        write_trace(
            &run.join(format!("sessions/{name}.jsonl")),
            &header("hand", &name, "gpt-test", seed),
            &steps,
        );
    }
    run
}

/// `scrollsim inspect <run> --by <by> [--format <format>]`.
fn inspect(run: &Path, by: &str, format: Option<&str>) -> Output {
    let mut args = vec!["inspect", run.to_str().unwrap(), "--by", by];
    if let Some(f) = format {
        args.extend(["--format", f]);
    }
    scrollsim(&args)
}

#[test]
fn inspect_prints_hand_computed_numbers_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let out = inspect(&run, "persona", Some("json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = &j["groups"][0];
    assert_eq!(g["key"][0], "family");
    assert_eq!(g["steps"], 18);
    // Likes: 3 + 3 + 3 (s3's step 1 failed) = 9 of 18.
    assert_eq!(g["likes"], 9);
    assert_eq!(g["parse_failures"], 1);
    // BE: 9 shown (steps 0, 2, 5), liked 2 + 2 + 2 = 6 -> 66.67 %; PO: 6 shown, 0 liked.
    let be = g["like_rate"]["BE"].as_f64().unwrap();
    assert!((be - 200.0 / 3.0).abs() < 1e-9, "{be}");
    assert_eq!(g["like_rate"]["PO"], 0.0);
    assert_eq!(g["like_rate"]["TR"], 100.0);
    assert!((g["exposure_share"]["BE"].as_f64().unwrap() - 50.0).abs() < 1e-9);
    // P over labels: BE 66.7, PO 0, TR 100 -> population std 41.57.
    assert!((g["preference"]["std"].as_f64().unwrap() - 41.573971).abs() < 1e-5);
    // Like-rate change, first 2 vs steps 4..6: s1 0 -> 100, s2 50 -> 100, s3 0 -> 100:
    // +100, +50, +100 points: mean 83.33, CI 4.303 x 28.87 / sqrt(3) = 71.72.
    let lr = g["alignment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["measure"] == "like_rate")
        .unwrap();
    assert_eq!(lr["complete"], 3);
    assert!((lr["points"]["mean"].as_f64().unwrap() - 250.0 / 3.0).abs() < 1e-9);
    assert!(
        (lr["points"]["ci95"].as_f64().unwrap() - 71.7167).abs() < 1e-3,
        "{}",
        lr["points"]
    );

    let out = inspect(&run, "model", Some("csv"));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |c: &str| row[header.iter().position(|h| *h == c).unwrap()];
    assert_eq!(at("model"), "gpt-test");
    assert_eq!(at("like_rate_BE"), "66.6667");
    assert_eq!(at("like_rate_points"), "83.3333");
    assert_eq!(at("like_rate_points_ci95"), "71.7167");

    let out = inspect(&run, "persona", None);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("+83.3 ± 71.7"), "{table}");
    let out = inspect(&run, "persona", Some("md"));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("| persona | SD | ST | HE |"));

    let out = inspect(&run, "colour", None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("expected persona, arm, model, strategy, policy or source_platform"));
}

#[test]
fn report_writes_its_files_and_says_where() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let out = scrollsim(&["report", run.to_str().unwrap(), "--html"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        said.contains(&run.join("report").display().to_string()),
        "{said}"
    );
    for f in [
        "index.html",
        "radar-model.svg",
        "radar-persona-policy.png",
        "central-aligned.svg",
        "strategy-steering.png",
        "by-persona-policy.csv",
        "central.csv",
        "report.md",
        "authors/family__gpt__simple__foryou__s3.csv",
    ] {
        assert!(run.join("report").join(f).is_file(), "{f}");
    }
    let authors =
        std::fs::read_to_string(run.join("report/authors/family__gpt__simple__foryou__s3.csv"))
            .unwrap();
    assert!(
        authors.lines().nth(2).unwrap().ends_with(",parse_failure"),
        "{authors}"
    );
}

#[test]
fn replay_rederives_metrics_and_names_the_first_tampered_step() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let out = scrollsim(&["replay", run.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("every trace agrees with itself"), "{text}");
    assert!(text.contains("family__gpt__simple__foryou__s2"));

    // Flip the decision of step 2 of seed 2 (BE, a skip) without touching anything else.
    let path = run.join("sessions/family__gpt__simple__foryou__s2.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut ev: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    assert_eq!(ev["index"], 2);
    ev["decision"]["like"] = serde_json::Value::Bool(true);
    lines[3] = ev.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let out = scrollsim(&["replay", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("session family__gpt__simple__foryou__s2")
            && err.contains("step 2: likes.BE: recorded 1, re-derived 2"),
        "{err}"
    );
}
