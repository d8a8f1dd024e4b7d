//! `scrollsim ingest` as a user runs it: the built binary on the fixture corpus with the real
//! MiniLM and the embedded store. Killed with SIGKILL mid-way, it resumes without redoing what
//! was stored; a re-run adds nothing; exit codes follow the documented rules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, workspace};

/// The default config with data under `root` and small batches.
fn config(root: &Path) -> PathBuf {
    common::config_with(root, "config", |cfg| {
        let ingest = cfg.get_mut("ingest").unwrap().as_table_mut().unwrap();
        ingest.insert("batch_size".into(), 8.into());
    })
}

fn scrollsim(config: &Path, args: &[&str]) -> Command {
    let mut c = common::command(config);
    c.arg("ingest").args(args);
    c
}

fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn fixture_count() -> usize {
    std::fs::read_to_string(workspace().join("fixtures/metadata.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn journal_lines(root: &Path) -> usize {
    std::fs::read_to_string(root.join("data/ingest/videos.journal.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The number after `word` in the summary's first line ("ingested 12 file(s)").
fn figure(stdout: &str, before: &str) -> usize {
    let line = stdout.lines().next().unwrap_or_default();
    let at = line
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} not in {line:?}"));
    line[at + before.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn killed_ingest_resumes_and_a_rerun_adds_nothing() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path());
    let total = fixture_count();

    // --limit: a partial run on purpose.
    let (out, stdout) = run(scrollsim(&cfg, &["fixtures", "--limit", "10"]));
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(figure(&stdout, "ingested "), 10, "{stdout}");
    assert!(
        stdout.contains(&format!("{} left for the next run", total - 10)),
        "{stdout}"
    );

    // SIGKILL once at least two more batches are journaled.
    let mut child = scrollsim(&cfg, &["fixtures"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while journal_lines(root.path()) < 26 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest finished before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no progress in the journal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = journal_lines(root.path());
    assert!(done < total, "killed before the end ({done} of {total})");

    // The next run does only the rest.
    let (out, stdout) = run(scrollsim(&cfg, &["fixtures"]));
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ingested, unchanged) = (figure(&stdout, "ingested "), figure(&stdout, "skipped "));
    assert_eq!(ingested + unchanged, total, "{stdout}");
    assert!(
        unchanged >= done,
        "journaled files are not redone: {stdout}"
    );
    assert!(
        stdout.contains(&format!("store now holds {total} video(s)")),
        "{stdout}"
    );

    // And a re-run adds nothing, exit 0.
    let (out, stdout) = run(scrollsim(&cfg, &["fixtures"]));
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        (figure(&stdout, "ingested "), figure(&stdout, "skipped ")),
        (0, total),
        "{stdout}"
    );
}

#[test]
fn exit_codes_nothing_ingested_and_strict() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path());
    let media = root.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("fake.mp4"), "not a video\n").unwrap();

    // Only a bad file: nothing ingested, exit 1, the file and reason reported.
    let (out, stdout) = run(scrollsim(&cfg, &[media.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("fake.mp4") && stdout.contains("failed [unrecognized]"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was ingested"));

    // A good clip beside it: exit 0, but 1 with --strict.
    std::fs::copy(
        workspace().join("fixtures/media/hedonism-01.mp4"),
        media.join("clip.mp4"),
    )
    .unwrap();
    let (out, stdout) = run(scrollsim(&cfg, &[media.to_str().unwrap()]));
    assert!(out.status.success(), "{stdout}");
    assert_eq!(figure(&stdout, "ingested "), 1, "{stdout}");
    let (out, stdout) = run(scrollsim(&cfg, &[media.to_str().unwrap(), "--strict"]));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--strict"));

    // A bad metadata file stops the run and names file and line.
    let meta = root.path().join("meta.csv");
    std::fs::write(&meta, "file,views\nclip.mp4,many\n").unwrap();
    let (out, _) = run(scrollsim(
        &cfg,
        &[media.to_str().unwrap(), "--meta", meta.to_str().unwrap()],
    ));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2: views: \"many\" is not a whole number",
            meta.display()
        )),
        "{err}"
    );
}
