//! `scrollsim replay --rerun` and `--judge` on a run the simulation produced: fixture clips
//! ingested into a temporary embedded store, a small persona study run with the offline persona
//! model, then re-executed through the session loop from the recorded feed (open-loop), and
//! re-run with another judge on the same seeds (closed-loop).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::judge::JudgeServer;
use common::ok;

fn run_cli(config: &Path, args: &[&str]) -> Output {
    common::scrollsim_with(config, args)
}

/// A trace's header line.
fn header(trace: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(trace).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// The first key of each group `scrollsim inspect <runs> --by <by>` prints, in its order.
fn group_keys(cfg: &Path, runs: &[&Path], by: &str) -> Vec<String> {
    let mut args = vec!["inspect"];
    args.extend(runs.iter().map(|r| r.to_str().unwrap()));
    args.extend(["--by", by, "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&run_cli(cfg, &args))).unwrap();
    j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"][0].as_str().unwrap().to_string())
        .collect()
}

/// `scrollsim replay <run> --judge offline:isq --out <out> <extra>`, which must succeed.
fn replay_isq(cfg: &Path, run: &Path, out: &Path, extra: &[&str]) -> String {
    let (run, out) = (run.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["replay", run, "--judge", "offline:isq", "--out", out];
    args.extend(extra);
    ok(&run_cli(cfg, &args))
}

fn ids(v: &[(String, bool)]) -> Vec<String> {
    v.iter().map(|x| x.0.clone()).collect()
}

fn videos(trace: &Path) -> Vec<(String, bool)> {
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "step")
        .map(|e| {
            (
                e["video"].as_str().unwrap().to_string(),
                e["decision"]["like"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn rerun_matches_a_recorded_run_and_finds_a_flipped_decision() {
    let Some(tmp) = common::tempdir_with_minilm() else {
        return;
    };
    let cfg = common::config_in(tmp.path());
    ok(&run_cli(&cfg, &["ingest", "fixtures", "--limit", "30"]));
    let exp = tmp.path().join("exp.toml");
    std::fs::write(
        &exp,
        r#"name = "rerun"
personas = ["family", "partygoer"]
control = false
models = ["offline"]
strategies = ["simple"]
policies = ["foryou", "random"]
seeds = [1, 2]
session_length = 10
windows = { first = 4, last_start = 6, last = 4 }
align_threshold = 0.5
concurrency = 2
parser = "lenient"
"#
        .to_string()
            // A model that likes every video, for the closed-loop re-run.
            + &JudgeServer::yes().model_toml("yes"),
    )
    .unwrap();
    ok(&run_cli(
        &cfg,
        &["run", exp.to_str().unwrap(), "--run-id", "rec", "-q"],
    ));
    let run = tmp.path().join("runs/rec");
    let sessions: Vec<PathBuf> = std::fs::read_dir(run.join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sessions.len(), 8);

    // Re-executed from the recorded calls: every step matches.
    let said = ok(&run_cli(
        &cfg,
        &["replay", run.to_str().unwrap(), "--rerun"],
    ));
    assert!(
        said.contains("8 session(s) re-executed") && said.contains("every step matches"),
        "{said}"
    );

    // Flip one decision (step 3 of one session) and re-execute: the first divergence is named.
    let victim = run.join("sessions/partygoer__offline__simple__foryou__s2.jsonl");
    let text = std::fs::read_to_string(&victim).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut ev: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    assert_eq!(ev["index"], 3);
    let was = ev["decision"]["like"].as_bool().unwrap();
    ev["decision"]["like"] = serde_json::Value::Bool(!was);
    lines[4] = ev.to_string();
    std::fs::write(&victim, lines.join("\n") + "\n").unwrap();
    let out = run_cli(&cfg, &["replay", run.to_str().unwrap(), "--rerun"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "FIRST DIVERGENCE: session partygoer__offline__simple__foryou__s2 ({}), step 3: decision.like: recorded {}, re-derived {}",
        victim.display(),
        !was,
        was
    );
    assert!(said.contains(&expected), "{said}");
    assert!(said.contains("1 of 8 session(s) diverge"), "{said}");
    // Restore it.
    std::fs::write(&victim, text).unwrap();

    // Counterfactual: the same feed against another strategy, into a new run.
    let cf = tmp.path().join("runs/rec-isq");
    let said = replay_isq(&cfg, &run, &cf, &[]);
    assert!(
        said.contains("8 session(s) replayed against offline:isq"),
        "{said}"
    );
    for s in &sessions {
        let name = s.file_name().unwrap();
        let (a, b) = (videos(s), videos(&cf.join("sessions").join(name)));
        assert_eq!(
            ids(&a),
            ids(&b),
            "same videos in the same order for {name:?}"
        );
        let header = header(&cf.join("sessions").join(name));
        assert_eq!(header["judge"]["strategy"], "isq");
        assert_eq!(header["run_id"], "rec-isq");
        assert_eq!(header["config"]["counterfactual_of"]["run"], "rec");
    }
    assert!(cf.join("replay.json").is_file());
    // The new run reads like any other.
    assert_eq!(
        group_keys(&cfg, &[&run, &cf], "strategy"),
        ["isq", "simple"]
    );

    // Closed-loop: the experiment re-run with another judge on the same seeds, each recorded
    // policy reacting to it, labelled as such and not as fixed(<policy>).
    let cl = tmp.path().join("runs/rec-closed");
    let said = replay_isq(&cfg, &run, &cl, &["--closed-loop", "-q"]);
    assert!(said.contains("closed-loop: 8 session(s) re-run"), "{said}");
    assert!(said.contains("not a VLM"), "{said}");
    for s in &sessions {
        let name = s
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("__simple__", "__isq__");
        let new = cl.join("sessions").join(&name);
        let header = header(&new);
        assert_eq!(header["config"]["closed_loop_of"]["run"], "rec", "{name}");
        assert_eq!(header["judge"]["strategy"], "isq");
        let policy = header["policy"]["name"].as_str().unwrap();
        assert!(policy == "foryou" || policy == "random", "{name}: {policy}");
        assert!(header["policy"].get("replays").is_none());
        // The offline persona model ignores the strategy, so the new judge decides as the old
        // one did: on the same seeds each reacting feed must then take the same path.
        assert_eq!(videos(s), videos(&new), "{name}");
    }
    let replay: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cl.join("replay.json")).unwrap()).unwrap();
    assert_eq!(replay["mode"], "closed-loop");
    let paired = &replay["paired"];
    // --judge offline:isq against a simple run: one strategy of its own, paired with each.
    assert_eq!(paired["same_strategies"], false, "{paired}");
    assert_eq!(paired["unpaired_source"], 0, "{paired}");
    let rows = paired["rows"].as_array().unwrap();
    // 2 personas x 2 policies, each over seeds 1 and 2.
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["aligned_exposure"]["n"].as_u64() > Some(0)),
        "{rows:?}"
    );
    for r in rows {
        assert_eq!(r["pairs"], 2, "{r}");
        for m in ["aligned_exposure", "like_rate"] {
            let p = &r[m];
            assert_eq!(
                p["n"].as_u64().unwrap() + p["excluded"].as_u64().unwrap(),
                2,
                "{r}"
            );
            if p["n"] != 0 {
                // The same decisions on the same path: every paired difference is 0.
                assert_eq!(p["difference"]["value"].as_f64(), Some(0.0), "{r}");
                assert_eq!(p["t"]["mean"].as_f64(), Some(0.0), "{r}");
            }
        }
    }
    // It reads like any run, under the recorded policies' own labels.
    assert_eq!(group_keys(&cfg, &[&cl], "policy"), ["foryou", "random"]);

    // Closed-loop with a judge that decides otherwise (it likes everything): each foryou feed
    // now reacts to it and takes another path, while random, which reacts to nothing, serves
    // the same videos on the same seeds.
    let yes = tmp.path().join("runs/rec-yes");
    ok(&run_cli(
        &cfg,
        &[
            "replay",
            run.to_str().unwrap(),
            "--judge",
            "yes",
            "--closed-loop",
            "--out",
            yes.to_str().unwrap(),
            "-q",
        ],
    ));
    let mut foryou_moved = 0;
    for s in &sessions {
        let name = s
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("__offline__", "__yes__");
        let (before, after) = (videos(s), videos(&yes.join("sessions").join(&name)));
        assert!(
            after.iter().all(|v| v.1),
            "{name}: the yes model liked every video"
        );
        if name.contains("__random__") {
            assert_eq!(ids(&before), ids(&after), "{name}");
        } else {
            foryou_moved += (ids(&before) != ids(&after)) as usize;
        }
    }
    assert!(foryou_moved > 0, "no foryou feed reacted to the new judge");
}
