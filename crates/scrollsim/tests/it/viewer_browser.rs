//! The web viewer against Debian's headless Chromium: `scrollsim serve` (the real binary) on a
//! fixture run whose keyframes were extracted from fixture clips with the media crate. Checks
//! that every keyframe renders (the page's script marks each <img> loaded with naturalWidth >
//! 0), that the decision list is complete, that a caption holding `<script>` is shown as text,
//! and that `../../etc/passwd` in any spelling is refused. A screenshot is written to
//! target/test-output/browser/.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{header, step, workspace, write_trace, Server};
use scrollsim_core::{Keyframe, ParseStatus, PerValue, Value};
use scrollsim_media::{extract_keyframes, store_frames, ExtractOptions, ImageStore};

const CHROMIUM: &str = "/usr/bin/chromium";
const XSS: &str =
    "Grandma's <script>document.title='pwned'</script> <img src=x onerror=alert(1)> recipe";

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// Extracts three keyframes from each of two fixture clips into `images`, and writes a run of
/// two sessions over them. Returns the runs directory and the first session's
/// (video, decision, keyframe count) per step.
fn fixture_run(tmp: &Path) -> (PathBuf, PathBuf, Vec<(String, &'static str, usize)>) {
    let images = tmp.join("images");
    let store = ImageStore::open(&images).unwrap();
    let opts = ExtractOptions {
        strategy: "uniform:3".parse().unwrap(),
        ..Default::default()
    };
    let clips = [
        "benevolence-01.mp4",
        "achievement-01.mp4",
        "hedonism-01.mp4",
    ];
    let frames: Vec<Vec<Keyframe>> = clips
        .iter()
        .map(|c| {
            let f = extract_keyframes(&workspace().join("fixtures/media").join(c), &opts).unwrap();
            store_frames(&store, &f).unwrap()
        })
        .collect();
    let runs = tmp.join("runs");
    let sessions = runs.join("fixture/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let plan = [
        (0, Value::Benevolence, true),
        (1, Value::Achievement, false),
        (2, Value::Hedonism, true),
        (0, Value::Benevolence, false),
        (1, Value::Achievement, true),
        (2, Value::Hedonism, false),
    ];
    let mut expected = Vec::new();
    for (seed, flip) in [(1u64, false), (2, true)] {
        let mut counts = (PerValue::default(), PerValue::default());
        let steps: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(i, (clip, value, like))| {
                let like = like ^ flip;
                let video = clips[*clip].trim_end_matches(".mp4").to_string() + &format!("-{i}");
                let mut s = step(i as u32, &video, *value, like && i != 3, &mut counts);
                s.keyframes = frames[*clip].clone();
                if i == 1 {
                    s.caption = XSS.into();
                    s.decision.reason = Some("<b>bold claim</b> & more".into());
                }
                if i == 3 {
                    s.decision.status = ParseStatus::ParseFailure {
                        detail: "no yes or no".into(),
                    };
                }
                if seed == 1 {
                    let word = if i == 3 {
                        "parse_failure"
                    } else if like {
                        "like"
                    } else {
                        "skip"
                    };
                    expected.push((video.clone(), word, s.keyframes.len()));
                }
                s
            })
            .collect();
        let name = format!("family__s{seed}");
        write_trace(
            &sessions.join(format!("{name}.jsonl")),
            &header("fixture", &name, "gpt-test", seed),
            &steps,
        );
    }
    (runs, images, expected)
}

/// A session page as Chromium rendered it: every keyframe loaded with real pixels (the page's
/// script marks each one), and the decision list complete and in order.
fn assert_timeline(dom: &str, expected: &[(String, &'static str, usize)]) {
    let keyframes: usize = expected.iter().map(|e| e.2).sum();
    assert!(
        dom.contains(&format!("data-keyframes=\"{keyframes}/{keyframes}\"")),
        "keyframes not all loaded:\n{dom}"
    );
    assert_eq!(count(dom, "data-loaded=\"broken\""), 0);
    assert_eq!(count(dom, "<li class=\"step\""), expected.len());
    let mut rest = dom;
    for (video, word, _) in expected {
        let at = rest
            .find(&format!("data-decision=\"{word}\" data-video=\"{video}\""))
            .unwrap_or_else(|| panic!("step {video} ({word}) missing or out of order"));
        rest = &rest[at + 1..];
    }
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn session_page_renders_keyframes_and_every_decision_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (scripts/setup.sh --test installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (runs, images, expected) = fixture_run(tmp.path());
    let server = Server::start(&runs, &images);
    let keyframes: usize = expected.iter().map(|e| e.2).sum();
    assert_eq!(keyframes, 18, "three keyframes per clip");

    let profile = tempfile::tempdir().unwrap();
    let url = server.url("/runs/fixture/sessions/family__s1");
    let out = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("<ol class=\"timeline\""),
        "no timeline in the DOM:\n{dom}"
    );

    assert_timeline(&dom, &expected);
    assert_eq!(count(&dom, "data-loaded=\"yes\""), keyframes);
    assert!(dom.contains("Matched trait"));
    assert!(dom.contains("Policy slate (2 candidates)"));

    // The caption with <script> and <img onerror> is text: escaped in the DOM, never an element.
    assert!(dom.contains("Grandma's &lt;script&gt;document.title='pwned'&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; recipe"), "caption not shown as text");
    assert!(!dom.contains("<script>document.title"));
    assert!(!dom.contains("<img src=\"x\""));
    assert!(!dom.contains("<title>pwned"));
    assert!(dom.contains("&lt;b&gt;bold claim&lt;/b&gt; &amp; more"));

    // A screenshot for people.
    let shots = workspace().join("target/test-output/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("session.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            &url,
        ],
        profile.path(),
    );
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "screenshot is {} bytes: blank page?",
        png.len()
    );

    // Compare view and run page render in the browser too.
    let cmp = chromium(
        &[
            "--dump-dom",
            &server.url("/compare?a=fixture/family__s1&b=fixture/family__s2"),
        ],
        profile.path(),
    );
    let cmp = String::from_utf8_lossy(&cmp.stdout).into_owned();
    assert_eq!(
        count(&cmp, "<tr class=\"diff\""),
        5,
        "five of six steps decided differently"
    );
    let shot = shots.join("compare.png");
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
            &server.url("/compare?a=fixture/family__s1&b=fixture/family__s2"),
        ],
        profile.path(),
    );
    assert!(shot.is_file());
}

#[test]
fn server_refuses_traversal_and_bad_hashes_and_escapes_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, images, expected) = fixture_run(tmp.path());
    // A file outside the runs directory that traversal would reach.
    std::fs::write(tmp.path().join("secret.txt"), "root:x:0:0:SECRET").unwrap();
    // A symlink inside the runs directory that points out of it.
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), runs.join("fixture/link.txt"))
        .unwrap();
    let server = Server::start(&runs, &images);

    for path in [
        "/files/fixture/link.txt",
        "/files/fixture/sessions/",
        "/files/fixture/.hidden",
        "/../../etc/passwd",
        "/files/../../etc/passwd",
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2e%2e%2fsecret.txt",
        "/files/fixture/%2e%2e/%2e%2e/secret.txt",
        "/files/..%2f..%2fetc%2fpasswd",
        "/files/%2E%2E/%2E%2E/etc/passwd",
        "/images/../../etc/passwd",
        "/images/..%2f..%2fetc%2fpasswd",
        "/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/runs/..%2f..%2fetc/sessions/passwd",
        "/runs/%2e%2e/sessions/secret",
        "/runs/fixture/sessions/..%2f..%2f..%2fsecret",
        "/runs/fixture/sessions/%2e%2e",
        "/compare?a=../secret&b=fixture/family__s1",
        "/compare?a=fixture/..%2f..%2fsecret&b=fixture/family__s1",
    ] {
        let (status, body) = server.get_text(path);
        assert!(status == 400 || status == 404, "{path}: status {status}");
        assert!(
            !body.contains("root:x") && !body.contains("SECRET"),
            "{path} leaked a file"
        );
    }
    assert_eq!(server.get_text("/images/not-a-hash").0, 400);
    assert_eq!(
        server.get_text(&format!("/images/{}", "0".repeat(64))).0,
        404
    );

    // Files under the runs directory and keyframes by hash are served.
    let (status, body) = server.get_text("/files/fixture/sessions/family__s1.jsonl");
    assert_eq!(status, 200);
    assert!(body.starts_with("{\"type\":\"header\""));
    let hash =
        scrollsim_report::SessionStream::open(&runs.join("fixture/sessions/family__s1.jsonl"))
            .unwrap()
            .next_step()
            .unwrap()
            .unwrap()
            .keyframes[0]
            .view
            .clone()
            .unwrap();
    let (status, jpeg, head) = server.get(&format!("/images/{hash}"));
    assert_eq!(status, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: image/jpeg"));
    assert_eq!(&jpeg[..3], [0xFF, 0xD8, 0xFF]);

    // Pages escape trace text server-side and carry a strict CSP; no external URL.
    let (status, html) = server.get_text("/runs/fixture/sessions/family__s1");
    assert_eq!(status, 200);
    assert!(html.contains("&lt;script&gt;document.title"));
    assert!(!html.contains("<script>document.title"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let (_, _, head) = server.get("/runs/fixture/sessions/family__s1");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'none'"));

    // Filters: the liked steps only; and the run page filters sessions by model and decision.
    let (_, liked) = server.get_text("/runs/fixture/sessions/family__s1?decision=like");
    let likes = expected.iter().filter(|e| e.1 == "like").count();
    assert_eq!(count(&liked, "<li class=\"step\""), likes);
    let (_, failed) = server.get_text("/runs/fixture/sessions/family__s1?decision=failed&value=BE");
    assert_eq!(count(&failed, "<li class=\"step\""), 1);
    assert_eq!(
        server
            .get_text("/runs/fixture/sessions/family__s1?value=XX")
            .0,
        400
    );
    let (status, run) = server.get_text("/runs/fixture?model=gpt-test&decision=like");
    assert_eq!(status, 200);
    assert_eq!(count(&run, "href=\"/runs/fixture/sessions/family__s"), 2);
    let (_, run) = server.get_text("/runs/fixture?model=nobody");
    assert_eq!(count(&run, "href=\"/runs/fixture/sessions/family__s"), 0);
    let (status, home) = server.get_text("/");
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/runs/fixture\""));
}

#[test]
fn static_export_opens_from_disk_with_keyframes_and_every_decision() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (scripts/setup.sh --test installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (runs, images, expected) = fixture_run(tmp.path());
    let site = tmp.path().join("site");
    let out = common::scrollsim(&[
        "serve",
        runs.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "--export",
        site.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = site.join("runs/fixture/sessions/family__s1.html");
    assert!(page.is_file(), "no session page in the export");
    // Nothing in the export points at a server.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("href=\"/") && !html.contains("src=\"/"),
        "{html}"
    );

    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let out = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_timeline(&dom, &expected);
    // The run page links the session page that was exported.
    let run_page = std::fs::read_to_string(site.join("runs/fixture/index.html")).unwrap();
    assert!(run_page.contains("href=\"../../runs/fixture/sessions/family__s1.html\""));
    assert!(site.join("index.html").is_file());
}
