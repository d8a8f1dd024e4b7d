//! `scrollsim run` killed with SIGKILL mid-way and resumed ends with the same traces as an
//! uninterrupted run of the same experiment (the built binary, the fixture corpus ingested with
//! `scrollsim ingest`, the embedded store, the offline persona model).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

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

const EXPERIMENT: &str = r#"
name = "kill-test"
personas = "all"
control = true
models = ["offline"]
strategies = ["simple"]
policies = ["foryou:tiktok-like", "random", "popular"]
seeds = [1, 2, 3, 4]
session_length = 100
windows = { first = 30, last_start = 70, last = 30 }
concurrency = 2
"#;

#[test]
fn sigkill_mid_run_then_resume_gives_the_traces_of_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    let cfg_a = config(root.path(), "runs-a");
    let cfg_b = config(root.path(), "runs-b");
    let exp = root.path().join("kill-test.toml");
    std::fs::write(&exp, EXPERIMENT).unwrap();
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

    // The same run, killed once a fifth of its lines are written.
    let run_b = root.path().join("runs-b/study");
    let mut child = scrollsim(&cfg_b, &["run", exp, "--run-id", "study", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while lines_written(&run_b) < total / 5 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
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

    // Identical traces: every line, except the header's created_at.
    let (la, lb) = (trace_files(&run_a), trace_files(&run_b));
    assert_eq!(la.len(), 8 * 3 * 4);
    assert_eq!(
        la.iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>(),
        lb.iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>()
    );
    for (a, b) in la.iter().zip(&lb) {
        let (ta, tb) = (
            std::fs::read_to_string(a).unwrap(),
            std::fs::read_to_string(b).unwrap(),
        );
        let (ha, ra) = ta.split_once('\n').unwrap();
        let (hb, rb) = tb.split_once('\n').unwrap();
        let header = |h: &str| {
            let mut v: serde_json::Value = serde_json::from_str(h).unwrap();
            v.as_object_mut()
                .unwrap()
                .remove("created_at")
                .expect("a header has created_at");
            v
        };
        assert_eq!(header(ha), header(hb), "{}", b.display());
        assert!(ra == rb, "{}: steps differ after resume", b.display());
    }
    let summary = |r: &Path| std::fs::read_to_string(r.join("summary.json")).unwrap();
    assert_eq!(summary(&run_a), summary(&run_b));
    println!(
        "killed at {at_kill} of {total} trace lines ({unfinished} sessions unfinished); resumed: {} traces identical",
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
    std::fs::write(
        &exp,
        r#"
name = "fail-test"
personas = ["family"]
models = ["offline", "one-image"]
strategies = ["simple"]
policies = ["random"]
seeds = [1]
session_length = 5
windows = { first = 2, last_start = 3, last = 2 }
[judge.models.one-image]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "never-called"
images = { max_images = 1 }
# No probe before the run (the endpoint does not exist): the session itself must meet the limit.
[judge.probe]
before_run = false
"#,
    )
    .unwrap();
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
