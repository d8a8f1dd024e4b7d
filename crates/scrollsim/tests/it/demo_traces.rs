//! The behaviour pin: `scrollsim demo --offline` (embedded store, fixture corpus, offline
//! persona model, the seeds of experiments/demo.toml) writes traces whose digests, timestamps
//! aside, are the ones in `tests/golden/demo-traces.sha256`. A refactoring must leave them as
//! they are; a change of behaviour made on purpose updates the file in the same commit
//! (`SCROLLSIM_BLESS=1 cargo test -p scrollsim --test it demo_traces`), so the change shows in
//! review. On a mismatch the run is kept and its path printed, to diff against a run of the
//! previous commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::common::{config_in, scrollsim_with, workspace};

const GOLDEN: &str = "crates/scrollsim/tests/golden/demo-traces.sha256";

/// Keys whose values are wall-clock times (or durations) and differ from run to run.
const TIMESTAMPS: [&str; 3] = ["created_at", "at", "latency_ms"];

/// The trace line with every timestamp value replaced by `0`; everything else byte for byte.
fn without_timestamps(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    'scan: while let Some(q) = rest.find('"') {
        out.push_str(&rest[..q]);
        rest = &rest[q..];
        for key in TIMESTAMPS {
            let quoted = format!("\"{key}\":");
            if let Some(after) = rest.strip_prefix(quoted.as_str()) {
                out.push_str(&quoted);
                out.push('0');
                rest = &after[json_value_len(after)..];
                continue 'scan;
            }
        }
        // Any other string (a key or a value, escapes honoured) is copied whole.
        let len = json_string_len(rest);
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// Length of the JSON string starting at `s` (which starts with `"`), quotes included.
fn json_string_len(s: &str) -> usize {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// Length of the scalar JSON value (string, number, null) starting at `s`.
fn json_value_len(s: &str) -> usize {
    if s.starts_with('"') {
        json_string_len(s)
    } else {
        s.find([',', '}', ']']).unwrap_or(s.len())
    }
}

fn digests(sessions: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(sessions).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut h = Sha256::new();
        for line in text.lines() {
            h.update(without_timestamps(line).as_bytes());
            h.update(b"\n");
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, format!("{:x}", h.finalize()));
    }
    out
}

fn parse_golden(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (hash, name) = l.split_once("  ").expect("`<sha256>  <file>` lines");
            (name.to_string(), hash.to_string())
        })
        .collect()
}

fn render_golden(d: &BTreeMap<String, String>) -> String {
    let mut s = String::from(
        "# sha256 of each trace of `scrollsim demo --offline`, created_at/at/latency_ms values\n\
         # replaced by 0 (crates/scrollsim/tests/it/demo_traces.rs). Update only for a change of\n\
         # behaviour made on purpose: SCROLLSIM_BLESS=1 cargo test -p scrollsim --test it demo_traces\n",
    );
    for (name, hash) in d {
        s.push_str(&format!("{hash}  {name}\n"));
    }
    s
}

#[test]
fn timestamps_are_blanked_and_nothing_else() {
    let line = r#"{"type":"header","created_at":"2026-01-02T03:04:05Z","caption":"an \"at\":1 inside","x":{"at":"2026-01-02T03:04:05.1Z","latency_ms":17},"latency_ms":3}"#;
    assert_eq!(
        without_timestamps(line),
        r#"{"type":"header","created_at":0,"caption":"an \"at\":1 inside","x":{"at":0,"latency_ms":0},"latency_ms":0}"#
    );
    assert_eq!(without_timestamps(r#"{"at":null}"#), r#"{"at":0}"#);
}

#[test]
fn demo_traces_match_the_golden_digests() {
    if !workspace()
        .join("models/all-MiniLM-L6-v2/model.safetensors")
        .is_file()
    {
        eprintln!("skipped: models/all-MiniLM-L6-v2 is missing (scripts/setup.sh fetches it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path());
    let out = scrollsim_with(
        &cfg,
        &["demo", "--offline", "--quiet", "--run-id", "golden"],
    );
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let run: PathBuf = tmp.path().join("runs/golden");
    let got = digests(&run.join("sessions"));
    let golden_path = workspace().join(GOLDEN);
    if std::env::var_os("SCROLLSIM_BLESS").is_some() {
        std::fs::write(&golden_path, render_golden(&got)).unwrap();
        eprintln!("wrote {}", golden_path.display());
        return;
    }
    let want = parse_golden(&std::fs::read_to_string(&golden_path).unwrap());
    let mut differ = Vec::new();
    for name in want.keys().chain(got.keys()) {
        if want.get(name) != got.get(name) && !differ.contains(name) {
            differ.push(name.clone());
        }
    }
    if !differ.is_empty() {
        let kept = tmp.keep();
        panic!(
            "{} of {} demo traces differ from {GOLDEN} (timestamps aside): {}{}\n\
             The run is kept in {} to diff against a run of the previous commit. If the change \
             of behaviour is on purpose, update the digests: SCROLLSIM_BLESS=1 cargo test -p \
             scrollsim --test it demo_traces",
            differ.len(),
            want.len().max(got.len()),
            differ[..differ.len().min(5)].join(", "),
            if differ.len() > 5 { ", ..." } else { "" },
            kept.join("runs/golden").display(),
        );
    }
}
