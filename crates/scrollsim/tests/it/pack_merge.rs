//! Shards packed on two data directories merge into one archive of the whole run, which
//! replays as one; packs of another experiment are refused with a message naming it.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::ok;

fn cli(cfg: &Path, args: &[&str]) -> Output {
    common::scrollsim_with(cfg, args)
}

const EXPERIMENT: &str = r#"personas = ["family", "partygoer"]
control = false
models = ["offline"]
strategies = ["simple"]
policies = ["foryou"]
seeds = [1, 2]
session_length = 6
windows = { first = 2, last_start = 4, last = 2 }
align_threshold = 0.5
concurrency = 2
"#;

/// A machine: its own data directory with the fixture corpus ingested.
fn machine(root: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(root).unwrap();
    let cfg = common::config_in(root);
    ok(&cli(&cfg, &["ingest", "fixtures", "--limit", "20"]));
    cfg
}

#[test]
fn two_shards_packed_on_two_machines_merge_and_replay_as_one() {
    let Some(tmp) = common::tempdir_with_minilm() else {
        return;
    };
    let exp = tmp.path().join("study.toml");
    std::fs::write(&exp, format!("name = \"study\"\n{EXPERIMENT}")).unwrap();
    let mut packs = Vec::new();
    for (i, m) in ["a", "b"].iter().enumerate() {
        let cfg = machine(&tmp.path().join(m));
        let shard = format!("{i}/2");
        let e = exp.to_str().unwrap();
        ok(&cli(
            &cfg,
            &["run", e, "--run-id", "study", "--shard", &shard, "-q"],
        ));
        let run = tmp.path().join(m).join("runs/study");
        let out = tmp.path().join(format!("study-{m}.tar.zst"));
        ok(&cli(
            &cfg,
            &["pack", run.to_str().unwrap(), "-o", out.to_str().unwrap()],
        ));
        packs.push(out);
    }
    let fresh = tmp.path().join("fresh");
    // No text embedder here: the offline persona model's trait vectors come from the packs.
    let cfg = common::config_without_minilm(&fresh, |_| {});
    let whole = tmp.path().join("study.tar.zst");
    let said = ok(&cli(
        &cfg,
        &[
            "merge",
            packs[0].to_str().unwrap(),
            packs[1].to_str().unwrap(),
            "-o",
            whole.to_str().unwrap(),
        ],
    ));
    assert!(said.contains("4 session(s)"), "{said}");
    ok(&cli(&cfg, &["verify", whole.to_str().unwrap()]));
    let said = ok(&cli(&cfg, &["replay", whole.to_str().unwrap(), "--rerun"]));
    assert!(
        said.contains("4 session(s) re-executed") && said.contains("every step matches"),
        "{said}"
    );
    // The merged numbers are those of both shards' traces read together.
    let inspect = |paths: &[&Path]| {
        let mut a = vec!["inspect"];
        a.extend(paths.iter().map(|p| p.to_str().unwrap()));
        a.extend(["--format", "json"]);
        let j: serde_json::Value = serde_json::from_str(&ok(&cli(&cfg, &a))).unwrap();
        // The numbers (where the traces were read from aside).
        (
            j["cells"].clone(),
            j["central"].clone(),
            j["quality"].clone(),
        )
    };
    let (ra, rb) = (
        tmp.path().join("a/runs/study"),
        tmp.path().join("b/runs/study"),
    );
    assert_eq!(inspect(&[&ra, &rb]), inspect(&[&whole]));
    // The merged summary covers the whole run.
    let out = tmp.path().join("unpacked");
    common::unpack(&cfg, &whole, &out);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("study/runs/study/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["sessions_found"], 4, "{summary}");
    assert_eq!(summary["sessions_planned"], 4, "{summary}");
    assert_eq!(summary["missing"], serde_json::json!([]), "{summary}");

    // Another experiment's pack is refused, naming it.
    let other = tmp.path().join("other.toml");
    std::fs::write(&other, format!("name = \"other\"\n{EXPERIMENT}")).unwrap();
    let cfg_a = common::config_in(&tmp.path().join("a"));
    ok(&cli(
        &cfg_a,
        &[
            "run",
            other.to_str().unwrap(),
            "--run-id",
            "other",
            "--shard",
            "1/2",
            "-q",
        ],
    ));
    let o = tmp.path().join("other.tar.zst");
    let run = tmp.path().join("a/runs/other");
    ok(&cli(
        &cfg_a,
        &["pack", run.to_str().unwrap(), "-o", o.to_str().unwrap()],
    ));
    let res = cli(
        &cfg,
        &[
            "merge",
            packs[0].to_str().unwrap(),
            o.to_str().unwrap(),
            "-o",
            tmp.path().join("bad.tar.zst").to_str().unwrap(),
        ],
    );
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("other.tar.zst") && err.contains("`other`") && err.contains("`study`"),
        "{err}"
    );
    assert!(!tmp.path().join("bad.tar.zst").exists());
}
