//! Helpers for the CLI tests: small traces written with the core's `TraceWriter`, the real
//! `scrollsim` binary, and a raw HTTP client (raw so `..` reaches the server un-normalised).
#![allow(dead_code)]

pub mod judge;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use scrollsim_core::*;
use scrollsim_testkit::traces;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A temporary directory for a test that runs scrollsim on the fixtures, or none (and says the
/// test is skipped) when the MiniLM model a run needs is not in models/, where
/// scripts/setup.sh puts it.
pub fn tempdir_with_minilm() -> Option<tempfile::TempDir> {
    (!minilm_missing()).then(|| tempfile::tempdir().unwrap())
}

fn minilm_missing() -> bool {
    let missing = !workspace()
        .join("models/all-MiniLM-L6-v2/model.safetensors")
        .is_file();
    if missing {
        eprintln!("skipped: models/all-MiniLM-L6-v2 is missing (scripts/setup.sh fetches it)");
    }
    missing
}

/// `scrollsim <args>` from the workspace root (so `config/default.toml` is found).
pub fn scrollsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scrollsim"))
        .current_dir(workspace())
        .args(args)
        .output()
        .expect("scrollsim runs")
}

/// `scrollsim --config <config>`, to be given its arguments, run from the workspace root (so
/// the config's relative model and fixture paths hold), on the embedded store whatever the
/// environment says (`SCROLLSIM_STORE_BACKEND` and `QDRANT_URL` would switch it).
pub fn command(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scrollsim"));
    c.current_dir(workspace())
        .env_remove("SCROLLSIM_STORE_BACKEND")
        .env_remove("QDRANT_URL")
        .arg("--config")
        .arg(config);
    c
}

/// [`command`] with `args`, run to the end.
pub fn scrollsim_with(config: &Path, args: &[&str]) -> Output {
    command(config).args(args).output().expect("scrollsim runs")
}

/// The stdout of a run that must have succeeded; otherwise fails showing both streams.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The repository's config/default.toml with its data and runs directories under `root`,
/// changed by `edit`, written to `root/<name>.toml`.
pub fn config_with(root: &Path, name: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("config/default.toml")).unwrap();
    let mut cfg: toml::Table = toml::from_str(&text).unwrap();
    let paths = cfg
        .entry("paths")
        .or_insert_with(|| toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap();
    for (key, dir) in [("data", "data"), ("runs", "runs")] {
        paths.insert(key.into(), root.join(dir).display().to_string().into());
    }
    edit(&mut cfg);
    let path = root.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    path
}

/// A fresh machine's config, `root/config.toml`, with no text embedder's weights where its
/// `[embedder.text] path` points (what a run needs of them must come from an archive), changed
/// further by `edit`.
pub fn config_without_minilm(root: &Path, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    std::fs::create_dir_all(root).unwrap();
    config_with(root, "config", |cfg| {
        let nowhere = root.join("no-model").display().to_string();
        cfg["embedder"]["text"]
            .as_table_mut()
            .unwrap()
            .insert("path".into(), nowhere.into());
        edit(cfg);
    })
}

/// `scrollsim unpack <archive> --into <into>` with `config`, which must succeed.
pub fn unpack(config: &Path, archive: &Path, into: &Path) -> String {
    let (archive, into) = (archive.to_str().unwrap(), into.to_str().unwrap());
    ok(&scrollsim_with(
        config,
        &["unpack", archive, "--into", into],
    ))
}

/// [`config_with`] unchanged, as `root/config.toml`.
pub fn config_in(root: &Path) -> PathBuf {
    config_with(root, "config", |_| {})
}

/// Testkit's header of session `session` in run `run`: six steps, windows 2 and 4..6, corpus
/// `test`.
pub fn header(run: &str, session: &str, model: &str, seed: u64) -> Header {
    Header {
        run_id: run.into(),
        corpus: "test".into(),
        session_length: 6,
        windows: AlignmentWindows {
            first: 2,
            last_start: 4,
            last: 2,
        },
        ..traces::header(session, model, seed)
    }
}

/// A step of `video` with its slate, reason and raw answer, and consistent running counts
/// (`exposure`, `likes`), updated in `counts`.
pub fn step(
    index: u32,
    video: &str,
    value: Value,
    like: bool,
    counts: &mut (PerValue<u32>, PerValue<u32>),
) -> Step {
    counts.0[value] += 1;
    counts.1[value] += like as u32;
    let slate = |video: &str, score, source: &str| SlateEntry {
        video: video.into(),
        score,
        source: Some(source.into()),
    };
    let mut s = traces::step(index, value, like);
    s.video = video.into();
    s.caption = format!("caption of {video}");
    s.slate = vec![
        slate(video, 0.9, "recommend"),
        slate("other", 0.4, "explore"),
    ];
    s.decision.reason = Some(format!("reason {index}"));
    s.decision.raw = vec![RawAnswer {
        question: "like".into(),
        text: if like { "Yes".into() } else { "No".into() },
    }];
    s.dwell_s = if like { 12.0 } else { 1.0 };
    s.exposure = counts.0;
    s.likes = counts.1;
    s
}

/// A finished trace.
pub fn write_trace(path: &Path, h: &Header, steps: &[Step]) {
    traces::write_trace(path, h, steps, Some(EndReason::Completed));
}

/// `scrollsim serve` on a free port; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(runs: &Path, images: &Path) -> Server {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scrollsim"));
        c.current_dir(workspace()).args([
            "serve",
            runs.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
            "--images",
            images.to_str().unwrap(),
        ]);
        Server::spawn(c)
    }

    /// `serve RUNS --bind 127.0.0.1:0` with `config` ([`command`]); the keyframes as `serve`
    /// finds them (an archive's own, or the config's data directory).
    pub fn start_with(config: &Path, runs: &Path) -> Server {
        let mut c = command(config);
        c.args(["serve", runs.to_str().unwrap(), "--bind", "127.0.0.1:0"]);
        Server::spawn(c)
    }

    fn spawn(mut c: Command) -> Server {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scrollsim serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "scrollsim serve: http://127.0.0.1:PORT/ (runs: ...)"
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET with the path sent exactly as given.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response");
        let head = String::from_utf8_lossy(&buf[..split]).to_string();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = buf[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body, head)
    }

    pub fn get_text(&self, path: &str) -> (u16, String) {
        let (s, b, _) = self.get(path);
        (s, String::from_utf8_lossy(&b).into_owned())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
