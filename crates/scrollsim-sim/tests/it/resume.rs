//! Interrupting and resuming runs in-process: a run stopped on request, and a run whose traces
//! were cut mid-line (as a crash leaves them), both continue to traces identical to an
//! uninterrupted run's. Real parts: the embedded store, MiniLM and the offline persona model.

use crate::common;

use std::io::Write;
use std::time::Duration;

use scrollsim_core::RunId;
use scrollsim_sim::{execute, RunDir, RunProgress, Shard, Stop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_and_crashed_runs_resume_to_identical_traces() {
    let (data, store) = common::store_with(common::synthetic(400, 384)).await;
    let deps = common::deps(store, data.path(), None).await;
    let text = common::study("resume-test", 60, &[1, 2]);
    let exp = common::experiment(&text);
    let id = RunId::new("r");
    let runs = tempfile::tempdir().unwrap();
    let dir = |name: &str| RunDir::create(&runs.path().join(name), &id, &text, &exp).unwrap();

    // Uninterrupted.
    let a = dir("a");
    let full = common::run_all(&a, &exp, &deps).await.unwrap();
    assert!(full.complete(), "{full:?}");
    assert_eq!(full.sessions, 4 * 3 * 2);

    // Stopped on request once 300 steps are written, then resumed.
    let b = dir("b");
    let stop = Stop::new();
    let progress = RunProgress::new();
    let watcher = {
        let (stop, progress) = (stop.clone(), progress.clone());
        tokio::spawn(async move {
            while progress.snapshot().steps < 300 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            stop.request();
        })
    };
    let first = execute(&b, &exp, Shard::ALL, &deps, stop, progress)
        .await
        .unwrap();
    watcher.await.unwrap();
    assert!(
        first.stopped > 0 && !first.complete(),
        "the stop came mid-run: {first:?}"
    );
    let done = first.ended;
    let second = common::run_all(&b, &exp, &deps).await.unwrap();
    assert!(second.complete(), "{second:?}");
    assert_eq!(second.already_ended, done, "finished sessions are skipped");
    let lines = common::assert_same_traces(&a.root, &b.root);
    println!("stopped after {done} finished sessions; resumed; {lines} trace lines identical");

    // A crash: every trace loses its end event and its last steps, and ends in half a line.
    let c = dir("c");
    for entry in std::fs::read_dir(a.sessions_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let keep = 1 + (lines.len() - 2) / 3;
        let last = lines[keep];
        let mut out =
            std::fs::File::create(c.sessions_dir().join(path.file_name().unwrap())).unwrap();
        for l in &lines[..keep] {
            writeln!(out, "{l}").unwrap();
        }
        out.write_all(&last.as_bytes()[..last.len() / 2]).unwrap();
    }
    let resumed = common::run_all(&c, &exp, &deps).await.unwrap();
    assert!(
        resumed.complete() && resumed.already_ended == 0,
        "{resumed:?}"
    );
    common::assert_same_traces(&a.root, &c.root);

    // The summaries agree too (they hold no wall-clock time).
    let read = |d: &RunDir| scrollsim_report::Summary::of_run(&d.root, None, 2).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_eq!(read(&a), read(&c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_partition_the_sessions_and_merge_into_the_unsharded_run() {
    let (data, store) = common::store_with(common::synthetic(200, 384)).await;
    let deps = common::deps(store, data.path(), None).await;
    let exp = common::experiment(&common::study("resume-test", 40, &[1, 2]));
    let id = RunId::new("s");
    let runs = tempfile::tempdir().unwrap();
    let whole = RunDir::create(&runs.path().join("whole"), &id, "", &exp).unwrap();
    common::run_all(&whole, &exp, &deps).await.unwrap();
    // Three shards into one shared directory.
    let shared = RunDir::create(&runs.path().join("shared"), &id, "", &exp).unwrap();
    let mut owned = 0;
    for i in 0..3 {
        let shard: Shard = format!("{i}/3").parse().unwrap();
        let r = execute(&shared, &exp, shard, &deps, Stop::new(), RunProgress::new())
            .await
            .unwrap();
        assert!(r.complete());
        assert_eq!(r.already_ended, 0, "shards are disjoint");
        owned += r.sessions;
    }
    assert_eq!(
        owned,
        exp.sessions().len(),
        "shards cover every session once"
    );
    common::assert_same_traces(&whole.root, &shared.root);
    let read = |d: &RunDir| scrollsim_report::Summary::of_run(&d.root, None, 2).unwrap();
    assert_eq!(
        read(&whole),
        read(&shared),
        "the last shard's summary covers the whole run"
    );
    // A differently resolved experiment cannot join the directory.
    let other = common::experiment(&common::study("resume-test", 40, &[1, 3]));
    let err = RunDir::create(&runs.path().join("shared"), &id, "", &other).unwrap_err();
    assert!(err.to_string().contains("seeds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_another_process_is_writing_is_left_alone() {
    let (data, store) = common::store_with(common::synthetic(100, 384)).await;
    let deps = common::deps(store, data.path(), None).await;
    let text = common::study("resume-test", 30, &[1]);
    let exp = common::experiment(&text);
    let runs = tempfile::tempdir().unwrap();
    let dir = RunDir::create(runs.path(), &RunId::new("l"), &text, &exp).unwrap();
    let busy = dir.trace_path(&exp.sessions()[1].id);
    let held = std::fs::File::create(&busy).unwrap();
    held.lock().unwrap();
    let r = common::run_all(&dir, &exp, &deps).await.unwrap();
    assert_eq!(r.failures.len(), 1, "{r:?}");
    assert!(
        r.failures[0].1.contains("another scrollsim process"),
        "{r:?}"
    );
    assert_eq!(
        std::fs::metadata(&busy).unwrap().len(),
        0,
        "nothing written to it"
    );
    drop(held);
    let r = common::run_all(&dir, &exp, &deps).await.unwrap();
    assert!(r.complete() && r.ended == 1, "{r:?}");
}

/// One session of two ends at step 0 on a configuration error (a VLM allowed one image per
/// request, shown the fixtures' four keyframes: stopped before any call): the run counts it as
/// failed, not done, and `--resume` continues it (its end event replaced, never duplicated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_in_error_is_failed_not_done_and_resume_retries_it() {
    let (_data, deps) = common::fixture_deps().await;
    let text = scrollsim_testkit::ONE_IMAGE_STUDY;
    let exp = common::experiment(text);
    let runs = tempfile::tempdir().unwrap();
    let dir = RunDir::create(runs.path(), &RunId::new("f"), text, &exp).unwrap();
    let go = || common::run_all(&dir, &exp, &deps);
    let r = go().await.unwrap();
    assert_eq!((r.sessions, r.ended), (2, 2), "{r:?}");
    assert!(r.complete(), "both traces have an end event");
    assert!(!r.succeeded(), "but one ended in error: {r:?}");
    assert_eq!(r.errored.len(), 1, "{r:?}");
    let (id, message) = &r.errored[0];
    assert!(id.as_str().contains("one-image"), "{id}");
    assert!(
        message.contains("step 0") && message.contains("max_images"),
        "{message}"
    );
    let trace = std::fs::read_to_string(dir.trace_path(id)).unwrap();
    assert_eq!(
        trace.lines().count(),
        2,
        "a header and an end, no step: {trace}"
    );
    assert!(trace.contains(r#""kind":"error""#), "{trace}");

    // Resumed: the finished session is skipped; the failed one is run again (and, the cause
    // not fixed, fails again), its old end event gone.
    let again = go().await.unwrap();
    assert_eq!((again.already_ended, again.ended), (1, 1), "{again:?}");
    assert_eq!(again.errored.len(), 1);
    let trace = std::fs::read_to_string(dir.trace_path(id)).unwrap();
    assert_eq!(trace.matches(r#""type":"end""#).count(), 1, "{trace}");
}
