//! The simulation on the fixture corpus (fixtures/, ingested with the real pipeline) with the
//! offline persona model: the persona study runs end to end and records what the feed saw,
//! and the keyword benchmark yields the paper's table. Nothing here asserts which way a feed
//! moves alignment: with the offline model that would test our own parameters, not a finding.

use crate::common;

use std::collections::HashMap;
use std::io::BufReader;

use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::metrics::{Attribution, PreferenceProfile, ValueTally};
use scrollsim_core::{FeedbackSignal, PolicyName, RunId, SessionTrace, Value};
use scrollsim_report::Summary;
use scrollsim_sim::{Experiment, RunDir};

/// The demo's design (30-step sessions, first 10 vs the 10 from step 20, as the ~100-video
/// corpus allows), over every persona and more seeds so the comparison is not noise.
const STUDY: &str = r#"
name = "fixture-study"
personas = "all"
models = ["offline"]
strategies = ["simple"]
policies = ["foryou", "random"]
seeds = { from = 1, count = 16 }
session_length = 30
windows = { first = 10, last_start = 20, last = 10 }
concurrency = 4
"#;

async fn run(exp: &Experiment, text: &str) -> (tempfile::TempDir, RunDir, Summary) {
    let (data, deps) = common::fixture_deps().await;
    let dir = RunDir::create(&data.path().join("runs"), &RunId::new("t"), text, exp).unwrap();
    let report = common::run_all(&dir, exp, &deps).await.unwrap();
    assert!(report.complete(), "{report:?}");
    let summary = Summary::of_run(&dir.root, None, 2).unwrap();
    (data, dir, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_study_runs_every_persona_and_records_what_the_feed_saw() {
    let exp = common::experiment(STUDY);
    let (_data, dir, summary) = run(&exp, STUDY).await;
    let mut traces = 0;
    for entry in std::fs::read_dir(dir.sessions_dir()).unwrap() {
        let path = entry.unwrap().path();
        let t = SessionTrace::read(BufReader::new(std::fs::File::open(&path).unwrap())).unwrap();
        traces += 1;
        assert_eq!(
            t.steps.len(),
            30,
            "{}: both windows complete",
            path.display()
        );
        match t.header.policy.name {
            // The reacting feed learned from dwell, and says so.
            PolicyName::ForYou => {
                assert_eq!(t.header.policy.feedback, Some(FeedbackSignal::Dwell));
                assert!(t.header.policy.closed_loop());
            }
            PolicyName::Random => assert_eq!(t.header.policy.feedback, None),
            ref other => panic!("unexpected policy {other}"),
        }
        for s in &t.steps {
            // A like never stays shorter than a skip.
            assert!(
                s.dwell_s >= 1.0,
                "{}: step {} dwell {}",
                path.display(),
                s.index,
                s.dwell_s
            );
            // Every fixture carries its provenance into the trace.
            let p = s.provenance.as_ref().expect("provenance in every step");
            assert!(
                matches!(p.licence.as_deref(), Some("CC0-1.0" | "CC-BY-3.0")),
                "{p:?}"
            );
            assert!(p.source.as_deref().is_some_and(|s| !s.is_empty()));
        }
    }
    assert_eq!(traces, exp.sessions().len());
    // A measurement, printed: with the offline persona model (not a VLM) it checks nothing
    // about real models.
    let mut change: HashMap<(String, String), f64> = HashMap::new();
    for c in &summary.cells {
        let a = c.alignment(AlignmentMeasure::AlignedExposure);
        assert_eq!(a.complete, a.sessions, "30-step sessions fill both windows");
        let (persona, policy) = (&c.key.0[0], &c.key.0[3]);
        if persona == scrollsim_report::CONTROL {
            continue;
        }
        if let Some(p) = a.points {
            change.insert((persona.clone(), policy.clone()), p.mean);
        }
    }
    println!("aligned exposure change, first 10 -> steps 20-29, mean of 16 seeds (offline persona model, not a VLM):");
    for p in &exp.personas {
        let get = |pol: &str| change.get(&(p.id.to_string(), pol.to_string())).copied();
        println!(
            "  {:<13} foryou {:+5.1}   random {:+5.1}",
            p.id.as_str(),
            get("foryou").unwrap_or(f64::NAN),
            get("random").unwrap_or(f64::NAN)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_benchmark_produces_the_papers_table() {
    let path = common::repo().join("experiments/keyword-benchmark.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let exp = common::experiment(&text);
    let (_data, dir, summary) = run(&exp, &text).await;
    print!("{}", summary.preference_table().unwrap().to_terminal());
    assert_eq!(
        summary.cells.len(),
        1,
        "one cell: offline / plain / control"
    );
    let row = &summary.cells[0];
    let key: Vec<&str> = row.key.0.iter().map(String::as_str).collect();
    assert!(key[1].starts_with("offline persona model"), "{key:?}");
    assert_eq!(
        (key[0], key[2], key[3]),
        (scrollsim_report::CONTROL, "plain", "keyword(text)")
    );
    // Every value was retrieved for, 10 keywords x top 5 (not deduplicated, as the paper's
    // 50 per value), and scored.
    for v in Value::ALL {
        assert_eq!(row.p_counts.shown[v], 50, "{v}");
        assert!(row.preference.p[v].is_some(), "{v}: no P");
    }
    assert!(row.preference.missing.is_empty());
    let ps: Vec<f64> = Value::ALL
        .iter()
        .map(|v| row.preference.p[*v].unwrap())
        .collect();
    let mean = ps.iter().sum::<f64>() / 10.0;
    let std = (ps.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / 10.0).sqrt();
    assert!(
        (row.preference.std.unwrap() - std).abs() < 1e-9,
        "population std over the ten P"
    );

    // The same table from the trace alone, with the core's fold.
    let t = common::only_trace(&dir.sessions_dir());
    let mut tally = ValueTally::new(Attribution::Retrieval);
    let mut retrieved: HashMap<Value, Vec<String>> = HashMap::new();
    for s in &t.steps {
        tally.push(s);
        retrieved
            .entry(s.retrieved_for.unwrap())
            .or_default()
            .push(s.video.to_string());
    }
    assert_eq!(PreferenceProfile::from_tally(&tally), row.preference);
    assert_eq!(
        t.header.session_length as usize,
        t.steps.len(),
        "the plan's length"
    );

    // Keyword retrieval finds the value's own videos (the fixtures carry ground-truth labels):
    // about 10 per value exist, so recall is the measure; precision is bounded near 10/27.
    let meta = std::fs::read_to_string(common::repo().join("fixtures/metadata.jsonl")).unwrap();
    let mut truth: HashMap<Value, Vec<String>> = HashMap::new();
    for line in meta.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let v: Value = r["label"].as_str().unwrap().parse().unwrap();
        truth
            .entry(v)
            .or_default()
            .push(r["id"].as_str().unwrap().to_string());
    }
    let mut recall_sum = 0.0;
    let mut hits = 0;
    for v in Value::ALL {
        let found = truth[&v]
            .iter()
            .filter(|id| retrieved[&v].contains(id))
            .count();
        recall_sum += found as f64 / truth[&v].len() as f64;
        hits += retrieved[&v]
            .iter()
            .filter(|id| truth[&v].contains(id))
            .count();
    }
    let recall = recall_sum / 10.0;
    let precision = hits as f64 / t.steps.len() as f64;
    println!("keyword retrieval on the fixtures: mean recall {recall:.2}, precision {precision:.2} (chance 0.10)");
    assert!(recall > 0.6, "{recall}");
    assert!(precision > 0.25, "{precision}");
}
