//! `scrollsim run` killed with SIGKILL mid-way and resumed ends with the same traces as an
//! uninterrupted run of the same experiment (the built binary, the fixture corpus ingested with
//! `scrollsim ingest`, the embedded store, a local judge endpoint that holds its answers so the
//! kill lands mid-session every time).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;
use crate::common::judge::JudgeServer;

/// The default config with the data directory under `root` and the runs in `root/<runs>`.
fn config(root: &Path, runs: &str) -> PathBuf {
    common::config_with(root, runs, |cfg| {
        let paths = cfg.get_mut("paths").unwrap().as_table_mut().unwrap();
        paths.insert("runs".into(), root.join(runs).display().to_string().into());
    })
}

fn scrollsim(config: &Path, args: &[&str]) -> Command {
    let mut c = common::command(config);
    c.args(args);
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn trace_files(run: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(run.join("sessions")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn lines_written(run: &Path) -> usize {
    trace_files(run)
        .iter()
        .map(|p| std::fs::read(p).map(|b| bytecount(&b)).unwrap_or(0))
        .sum()
}

fn bytecount(b: &[u8]) -> usize {
    b.iter().filter(|c| **c == b'\n').count()
}

/// The study the kill test runs: every persona and the control arm, three policies, judged by
/// a local endpoint ([`JudgeServer`], model `gate`) that the test can make hold its answers.
const EXPERIMENT: &str = r#"
name = "kill-test"
personas = "all"
control = true
models = ["gate"]
strategies = ["simple"]
policies = ["foryou:tiktok-like", "random", "popular"]
seeds = [1, 2]
session_length = 50
windows = { first = 15, last_start = 35, last = 15 }
concurrency = 2
parser = "lenient"
[judge]
# Every decision is a live call, in both runs (the cache would answer the second from the first).
cache = "live"
"#;

/// Likes about a third of the videos, as a fixed function of the request (so both runs get the
/// same answer to the same request).
fn answer(body: &[u8]) -> &'static str {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    if h.finish().is_multiple_of(3) {
        "Yes"
    } else {
        "No"
    }
}

/// A trace's events with what differs between two runs of the same sessions by nature taken
/// out: the header's `created_at` and the wall time of the live calls (`usage.latency_ms`).
fn comparable(trace: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            if o["type"] == "header" {
                o.remove("created_at").expect("a header has created_at");
            }
            let usage = match o.get_mut("decision") {
                Some(d) => d.get_mut("usage"),
                None => o.get_mut("usage"),
            };
            if let Some(u) = usage.and_then(|u| u.as_object_mut()) {
                u.remove("latency_ms");
            }
            v
        })
        .collect()
}

#[test]
fn sigkill_mid_run_then_resume_gives_the_traces_of_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    let cfg_a = config(root.path(), "runs-a");
    let cfg_b = config(root.path(), "runs-b");
    let judge = JudgeServer::start(answer);
    let exp = root.path().join("kill-test.toml");
    std::fs::write(&exp, format!("{EXPERIMENT}{}", judge.model_toml("gate"))).unwrap();
    let exp = exp.to_str().unwrap();

    ok(scrollsim(
        &cfg_a,
        &["ingest", "fixtures", "--meta", "fixtures/metadata.jsonl"],
    ));

    // Uninterrupted.
    ok(scrollsim(
        &cfg_a,
        &["run", exp, "--run-id", "study", "--quiet"],
    ));
    let run_a = root.path().join("runs-a/study");
    let total = lines_written(&run_a);
    let calls = judge.answered();

    // The same run, killed while the judge holds its answer to the call past a fifth of them:
    // the run cannot finish first, and at least one session is mid-way when it dies.
    judge.hold_after(calls / 5);
    let run_b = root.path().join("runs-b/study");
    let mut child = scrollsim(&cfg_b, &["run", exp, "--run-id", "study", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    judge.wait_until_held(|| child.try_wait().unwrap().is_none());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    judge.release();
    let at_kill = lines_written(&run_b);
    let unfinished = trace_files(&run_b)
        .iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap()
                .contains("\"type\":\"end\"")
        })
        .count();
    assert!(
        unfinished > 0 && at_kill < total,
        "killed mid-way: {at_kill} of {total} lines"
    );

    let out = ok(scrollsim(
        &cfg_b,
        &["run", "--resume", run_b.to_str().unwrap(), "--quiet"],
    ));
    assert!(out.contains("complete"), "{out}");

    // Identical traces: every line, except the header's created_at and the calls' latency.
    let (la, lb) = (trace_files(&run_a), trace_files(&run_b));
    assert_eq!(la.len(), 8 * 3 * 2);
    assert_eq!(
        la.iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>(),
        lb.iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>()
    );
    let mut likes = 0;
    for (a, b) in la.iter().zip(&lb) {
        let (ea, eb) = (comparable(a), comparable(b));
        assert!(ea == eb, "{}: events differ after resume", b.display());
        likes += ea.iter().filter(|e| e["decision"]["like"] == true).count();
    }
    // The judge's answers reached the traces (not all one way).
    assert!(likes > 0 && likes < total, "{likes} likes");
    let summary = |r: &Path| std::fs::read_to_string(r.join("summary.json")).unwrap();
    assert_eq!(summary(&run_a), summary(&run_b));
    println!(
        "killed at {at_kill} of {total} trace lines, the judge holding call {} of {calls} \
         ({unfinished} sessions unfinished); resumed: {} traces identical",
        calls / 5 + 1,
        la.len()
    );
}

/// One of two sessions ends at step 0 on a configuration error (its model may be sent one image
/// per request; the fixtures have four keyframes: stopped before any call). `scrollsim run`
/// prints it as failed and exits 1 rather than calling the run complete.
#[test]
fn a_run_with_a_session_that_ended_in_error_prints_it_as_failed_and_exits_1() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path(), "runs");
    let exp = root.path().join("fail-test.toml");
    std::fs::write(&exp, scrollsim_testkit::ONE_IMAGE_STUDY).unwrap();
    ok(scrollsim(
        &cfg,
        &["ingest", "fixtures", "--meta", "fixtures/metadata.jsonl"],
    ));
    let out = scrollsim(
        &cfg,
        &["run", exp.to_str().unwrap(), "--run-id", "f", "--quiet"],
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("family__one-image__simple__random__s1 FAILED")
            && stderr.contains("step 0"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 2 session(s) FAILED"), "{stderr}");
    assert!(!stdout.contains("session(s) complete"), "{stdout}");
}
