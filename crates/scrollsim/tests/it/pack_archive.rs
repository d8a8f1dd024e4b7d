//! `scrollsim pack` / `verify` / `unpack` and reading an archive on a machine with nothing
//! else: a run judged by a VLM endpoint (a local OpenAI-compatible one, this binary's
//! benchmark endpoint) with a planted key in the environment is packed, the endpoint is
//! stopped, and the archive is re-executed from a fresh, empty data directory with the
//! network disabled for the process.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{ok, workspace};

const PLANTED: &str = "sk-planted-0f9e8d7c6b5a4321";
const KEY_VAR: &str = "SCROLLSIM_TEST_PLANTED_KEY";

/// `scrollsim --config <cfg> <args>` with the planted key in the environment.
fn cli(cfg: &Path, args: &[&str]) -> Output {
    common::command(cfg)
        .env(KEY_VAR, PLANTED)
        .args(args)
        .output()
        .unwrap()
}

/// The same with no network: a new network namespace (nothing but a down loopback) when the
/// machine allows one, else every proxy variable pointing at a closed port.
fn offline_cli(cfg: &Path, args: &[&str]) -> (Output, &'static str) {
    let unshare = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut c = if unshare {
        let mut c = Command::new("unshare");
        c.args(["-rn", env!("CARGO_BIN_EXE_scrollsim")]);
        c
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scrollsim"));
        for v in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ] {
            c.env(v, "http://127.0.0.1:9");
        }
        c
    };
    let out = c
        .current_dir(workspace())
        .env_remove("SCROLLSIM_STORE_BACKEND")
        .env_remove("QDRANT_URL")
        .env_remove(KEY_VAR)
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out,
        if unshare {
            "network namespace"
        } else {
            "proxies"
        },
    )
}

struct Endpoint(Child);

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This binary's benchmark endpoint (answers every chat completion with a like).
fn endpoint(empty_cfg: &Path) -> (Endpoint, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scrollsim"))
        .arg("--config")
        .arg(empty_cfg)
        .args(["bench", "judge", "--serve-endpoint", "--delay-ms", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (Endpoint(child), first.trim().to_string())
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_packed_run_replays_from_an_empty_data_directory_without_network() {
    let Some(tmp) = common::tempdir_with_minilm() else {
        return;
    };
    let empty = tmp.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (server, addr) = endpoint(&empty);

    // The packing machine: its own data and runs, a VLM whose key is in the environment.
    let home = tmp.path().join("lab");
    std::fs::create_dir_all(&home).unwrap();
    let cfg = common::config_in(&home);
    let vlm = home.join("vlm.toml");
    std::fs::write(
        &vlm,
        format!(
            "[judge]\ntext_only_description = \"metadata\"\n\n[judge.models.lab-vlm]\nprovider = \"openai\"\nbase_url = \"http://{addr}/v1\"\n\
             model = \"lab-vlm\"\napi_key_env = \"{KEY_VAR}\"\n"
        ),
    )
    .unwrap();
    let layered = |args: &[&str]| {
        let mut a = vec!["--config", vlm.to_str().unwrap()];
        a.extend_from_slice(args);
        cli(&cfg, &a)
    };
    ok(&layered(&["ingest", "fixtures", "--limit", "20"]));
    let exp = home.join("exp.toml");
    std::fs::write(
        &exp,
        r#"name = "packed"
personas = []
control = true
models = ["lab-vlm", "offline"]
strategies = ["text-only"]
policies = ["foryou"]
seeds = [1, 2]
session_length = 6
windows = { first = 2, last_start = 4, last = 2 }
align_threshold = 0.5
concurrency = 2
"#,
    )
    .unwrap();
    ok(&layered(&[
        "run",
        exp.to_str().unwrap(),
        "--run-id",
        "rec",
        "-q",
    ]));
    let run = home.join("runs/rec");
    let archive = home.join("runs/rec.tar.zst");
    let said = ok(&layered(&["pack", run.to_str().unwrap()]));
    assert!(said.contains("recorded call(s)"), "{said}");
    let lean = home.join("rec-lean.tar.zst");
    let said = ok(&layered(&[
        "pack",
        run.to_str().unwrap(),
        "--no-view-copies",
        "-o",
        lean.to_str().unwrap(),
    ]));
    assert!(said.contains("omitted on purpose"), "{said}");
    drop(server);

    // Nothing of the packing machine in it: the planted key, its paths.
    let raw = std::fs::read(&archive).unwrap();
    let out = tmp.path().join("out");
    common::unpack(&empty, &archive, &out);
    let folder = out.join("rec");
    let mut calls = 0;
    for f in files(&folder) {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [PLANTED.as_bytes(), home.to_str().unwrap().as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
        if f.ends_with("calls.jsonl") {
            calls = bytes.iter().filter(|b| **b == b'\n').count();
        }
    }
    assert!(calls > 0, "the VLM's calls are in the archive");
    // The templates the VLM was prompted from, as they were.
    assert_eq!(
        std::fs::read(folder.join("prompts/text-only.toml")).unwrap(),
        std::fs::read(workspace().join("config/prompts/text-only.toml")).unwrap()
    );
    assert!(!raw.windows(PLANTED.len()).any(|w| w == PLANTED.as_bytes()));
    ok(&cli(&empty, &["verify", archive.to_str().unwrap()]));
    ok(&cli(&empty, &["verify", folder.to_str().unwrap()]));

    // Without the viewing copies: the same archive less the larger pictures, and it says so.
    let manifest = |a: &Path| -> serde_json::Value {
        let o = tmp
            .path()
            .join(format!("m-{}", a.file_name().unwrap().to_string_lossy()));
        common::unpack(&empty, a, &o);
        serde_json::from_slice(&std::fs::read(o.join("rec/manifest.json")).unwrap()).unwrap()
    };
    let (full, thin) = (manifest(&archive), manifest(&lean));
    assert_eq!(thin["omitted"], serde_json::json!(["view_copies"]));
    assert!(full.get("omitted").is_none());
    let jpegs = |m: &serde_json::Value| {
        m["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["path"].as_str().unwrap().starts_with("keyframes/"))
            .count()
    };
    assert!(
        0 < jpegs(&thin) && jpegs(&thin) < jpegs(&full),
        "{} of {} keyframe files",
        jpegs(&thin),
        jpegs(&full)
    );
    assert!(std::fs::metadata(&lean).unwrap().len() < raw.len() as u64);
    let said = ok(&cli(&empty, &["verify", lean.to_str().unwrap()]));
    assert!(said.contains("omitted on purpose"), "{said}");

    // A fresh machine: an empty data directory, no key, no endpoint, no network, no prompt
    // templates of its own (a rerun prompts from the archive's) and no text embedder's
    // weights (the archive records the embedder the run used).
    let fresh = tmp.path().join("fresh");
    let fresh_cfg = common::config_without_minilm(&fresh, |cfg| {
        let paths = cfg["paths"].as_table_mut().unwrap();
        let nowhere = fresh.join("no-config").display().to_string();
        paths.insert("config".into(), nowhere.into());
    });
    for what in [&archive, &folder, &lean] {
        let (o, how) = offline_cli(&fresh_cfg, &["replay", what.to_str().unwrap(), "--rerun"]);
        let said = ok(&o);
        assert!(
            said.contains("4 session(s) re-executed") && said.contains("every step matches"),
            "({how}) {said}"
        );
    }
    assert!(
        !fresh.join("data").exists() || files(&fresh.join("data")).is_empty(),
        "the fresh data directory stays empty"
    );

    // The numbers re-derived from the archive are the run's, to the bit.
    let inspect = |c: &Path, p: &Path| {
        let s = ok(&cli(
            c,
            &[
                "inspect",
                p.to_str().unwrap(),
                "--format",
                "json",
                "--by",
                "model",
            ],
        ));
        let mut j: serde_json::Value = serde_json::from_str(&s).unwrap();
        j.as_object_mut().unwrap().remove("read");
        j
    };
    assert_eq!(inspect(&cfg, &run), inspect(&fresh_cfg, &archive));
    same_report_and_viewer(&cfg, &run, &fresh_cfg, &archive, &folder, tmp.path());

    // Without the viewing copies the viewer shows what the judge saw, and says so.
    let lean_viewer = common::Server::start_with(&fresh_cfg, &lean);
    let session = files(&run.join("sessions"))[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (status, page) = lean_viewer.get_text(&format!("/runs/rec/sessions/{session}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-views-missing"), "{page}");
    let shown: Vec<&str> = page
        .split("src=\"/images/")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(!shown.is_empty());
    for hash in shown {
        assert_eq!(lean_viewer.get(&format!("/images/{hash}")).0, 200, "{hash}");
    }

    // A changed byte is found.
    let session = files(&folder.join("runs/rec/sessions"))[0].clone();
    let mut text = std::fs::read(&session).unwrap();
    let i = text.iter().position(|b| *b == b'1').unwrap();
    text[i] = b'2';
    std::fs::write(&session, text).unwrap();
    let o = cli(&empty, &["verify", folder.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("SHA-256") && err.contains("sessions/"),
        "{err}"
    );
}

/// Every file of a directory, relative to it, with its bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    files(dir)
        .into_iter()
        .map(|f| {
            (
                f.strip_prefix(dir).unwrap().to_path_buf(),
                std::fs::read(&f).unwrap(),
            )
        })
        .collect()
}

/// `report` and `serve` on the archive (and its unpacked folder), on the fresh machine, give
/// what they give on the run directory where it was made: every report file, and every viewer
/// page of the run, byte for byte, with the keyframes the pages show.
fn same_report_and_viewer(
    cfg: &Path,
    run: &Path,
    fresh_cfg: &Path,
    archive: &Path,
    folder: &Path,
    tmp: &Path,
) {
    let report = |c: &Path, p: &Path, out: &str| {
        let out = tmp.join(out);
        let args = [
            "report",
            p.to_str().unwrap(),
            "--html",
            "--out",
            out.to_str().unwrap(),
        ];
        ok(&cli(c, &args));
        tree(&out)
    };
    let original = report(cfg, run, "report-run");
    assert!(
        original
            .keys()
            .any(|p| p.extension().is_some_and(|x| x == "csv"))
            && original.contains_key(Path::new("index.html")),
        "{:?}",
        original.keys()
    );
    for (what, p) in [("archive", archive), ("unpacked folder", folder)] {
        let derived = report(fresh_cfg, p, &format!("report-{}", what.replace(' ', "-")));
        assert_eq!(
            original.keys().collect::<Vec<_>>(),
            derived.keys().collect::<Vec<_>>(),
            "report files of the {what}"
        );
        for (name, bytes) in &original {
            assert!(
                &derived[name] == bytes,
                "report {} differs between the run and its {what}",
                name.display()
            );
        }
    }

    let sessions: Vec<String> = files(&run.join("sessions"))
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let here = common::Server::start_with(cfg, run.parent().unwrap());
    let there = common::Server::start_with(fresh_cfg, archive);
    let mut pages = vec!["/runs/rec".to_string()];
    pages.extend(sessions.iter().map(|s| format!("/runs/rec/sessions/{s}")));
    let mut images = 0;
    for page in &pages {
        let (status, a) = here.get_text(page);
        assert_eq!(status, 200, "{page}: {a}");
        let (status, b) = there.get_text(page);
        assert_eq!(status, 200, "{page} from the archive: {b}");
        assert_eq!(a, b, "{page} differs between the run and its archive");
        for src in b.split("src=\"/images/").skip(1) {
            let hash = &src[..src.find('"').unwrap()];
            let (s1, jpeg_here, _) = here.get(&format!("/images/{hash}"));
            let (s2, jpeg_there, _) = there.get(&format!("/images/{hash}"));
            assert_eq!((s1, s2), (200, 200), "keyframe {hash} on {page}");
            assert!(jpeg_here == jpeg_there, "keyframe {hash} differs");
            images += 1;
        }
    }
    assert!(images > 0, "the session pages show keyframes");
}

#[test]
fn pack_refuses_a_run_whose_traces_hold_a_secret() {
    // A run directory whose trace mentions the planted key (as a leaking provider might).
    let tmp = tempfile::tempdir().unwrap();
    let cfg = common::config_in(tmp.path());
    let run = tmp.path().join("runs/leaky");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    std::fs::write(run.join("resolved.json"), "{\"name\": \"leaky\"}").unwrap();
    let mut h = common::header("leaky", "s1", "m", 1);
    h.config = serde_json::json!({ "note": PLANTED });
    let line = serde_json::to_string(&scrollsim_core::TraceEvent::Header(h)).unwrap();
    std::fs::write(run.join("sessions/s1.jsonl"), line + "\n").unwrap();
    let o = cli(&cfg, &["pack", run.to_str().unwrap()]);
    // Refused before anything is written; the message names the variable, never the value.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(!tmp.path().join("runs/leaky.tar.zst").exists());
    assert!(
        err.contains("refusing to pack") && err.contains(KEY_VAR) && err.contains("s1.jsonl"),
        "{err}"
    );
    assert!(!err.contains(PLANTED), "{err}");
}
