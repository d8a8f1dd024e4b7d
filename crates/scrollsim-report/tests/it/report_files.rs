//! `write_report`: tables, charts (SVG and PNG), the authors' CSV per session and the
//! self-contained HTML page, on the hand-made run.

use crate::common;

use common::{hand_run, KEYFRAME, XSS_CAPTION};
use scrollsim_core::ImageHash;
use scrollsim_report::{write_report, ReportOptions};

#[test]
fn writes_every_output_and_escapes_trace_text() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let jpeg: &[u8] = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9";
    let images = |h: &ImageHash| (h.as_str() == KEYFRAME).then(|| jpeg.to_vec());
    let opts = ReportOptions {
        html: true,
        threads: 2,
        ..Default::default()
    };
    let paths = write_report(&run, Some(&images), &opts).unwrap();
    assert_eq!(paths.dir, run.join("report"));

    for name in [
        "by-model.csv",
        "by-model.md",
        "by-persona-policy.csv",
        "persona-strategy.md",
        "by-video-source-platform.csv",
        "central.csv",
        "central.md",
        "sessions.csv",
        "report.md",
        "report.json",
    ] {
        assert!(paths.dir.join(name).is_file(), "{name} missing");
    }
    for chart in [
        "radar-model",
        "radar-persona-policy",
        "central-aligned",
        "trajectory-aligned-family",
        "strategy-steering",
        "trajectory-like-family-foryou",
        "trajectory-exposure-family-foryou",
    ] {
        let svg = std::fs::read_to_string(paths.dir.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{chart}");
        let png = std::fs::read(paths.dir.join(format!("{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{chart}");
        assert!(
            png.len() > 5_000,
            "{chart}.png is {} bytes: nothing drawn?",
            png.len()
        );
    }
    // The radar names all ten values and both models.
    let radar = std::fs::read_to_string(paths.dir.join("radar-model.svg")).unwrap();
    for name in ["Self-direction", "Universalism", "Benevolence", "m1", "m2"] {
        assert!(radar.contains(name), "{name} not in the radar");
    }

    // Authors' columns, one file per session.
    assert_eq!(paths.authors.len(), 4);
    let s2 = paths.dir.join("authors/family__m1__simple__foryou__s2.csv");
    let mut r = csv::Reader::from_path(&s2).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    // The authors' log columns as they published them, then the persona study's four.
    assert_eq!(
        headers.join(","),
        "image name,prompt,answer,reason,image description,stay duration,platform,model,\
         persona,number of traits,matched trait,decision"
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(&rows[3][0], "v3");
    assert_eq!(&rows[3][2], "maybe?");
    assert_eq!(&rows[3][11], "parse_failure");
    assert_eq!(&rows[3][10], "NA");
    assert_eq!(&rows[2][10], "I have two kids.");
    assert_eq!(&rows[2][11], "like");
    assert_eq!(&rows[0][11], "skip");
    assert_eq!(&rows[0][9], "2");
    assert_eq!(&rows[1][5], "10");

    // The HTML page: self-contained, every trace text escaped.
    let html = std::fs::read_to_string(paths.html.as_ref().unwrap()).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external URL in the page"
    );
    assert!(!html.contains("<script"), "a script element in the page");
    assert!(!html.contains("<img src=x"), "unescaped reason");
    assert!(
        html.contains("Grandma&#39;s &lt;script&gt;alert(1)&lt;/script&gt; recipe")
            || html.contains("Grandma's &lt;script&gt;alert(1)&lt;/script&gt; recipe"),
        "caption not shown as text"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt; family &amp; food"));
    assert!(
        html.contains("data:image/jpeg;base64,/9j/4CBub3QgcmVhbGx5"),
        "keyframe not inlined"
    );
    assert!(html.contains("<svg"), "charts not inline");
    assert!(!XSS_CAPTION.is_empty());
}

#[test]
fn report_of_a_trace_file_needs_an_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hand_run(tmp.path());
    let trace = run.join("sessions/kw.jsonl");
    let err = write_report(&trace, None, &ReportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--out"), "{err}");
    let out = tmp.path().join("out");
    let opts = ReportOptions {
        out: Some(out.clone()),
        threads: 1,
        ..Default::default()
    };
    let paths = write_report(&trace, None, &opts).unwrap();
    assert_eq!(paths.dir, out);
    assert!(paths.html.is_none());
    assert!(out.join("radar-model.png").is_file());
}

/// Every file a report writes says "not a VLM" when the offline persona model judged: tables
/// (CSV and Markdown), report.md and report.json, every SVG and PNG chart, the authors' CSVs
/// and the HTML page.
#[test]
fn every_file_says_not_a_vlm_when_the_offline_model_judged() {
    use scrollsim_core::{JudgeKind, Value};
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("offline");
    std::fs::create_dir_all(run.join("sessions")).unwrap();
    for (policy, seed) in [("foryou", 1), ("random", 1), ("foryou", 2), ("random", 2)] {
        let name = format!("family__offline__simple__{policy}__s{seed}");
        let mut h = common::header(&name, "offline", seed, policy);
        h.judge.kind = JudgeKind::OfflinePersonaModel;
        h.judge.provider = "offline".into();
        h.judge.model = "offline persona model v1 (text embedder: all-MiniLM-L6-v2)".into();
        h.judge.parser = "none".into();
        let steps: Vec<_> = common::VALUES
            .iter()
            .enumerate()
            .map(|(i, v)| common::step(i as u32, *v, *v == Value::Benevolence))
            .collect();
        common::write_trace(&run.join(format!("sessions/{name}.jsonl")), h, &steps, true);
    }
    let opts = ReportOptions {
        html: true,
        threads: 2,
        ..Default::default()
    };
    let paths = write_report(&run, None, &opts).unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![paths.dir.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 20, "{} files", files.len());
    let mut kinds = std::collections::BTreeSet::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let has = bytes.windows(9).any(|w| w == b"not a VLM");
        assert!(has, "{} does not say \"not a VLM\"", f.display());
        kinds.insert(f.extension().unwrap().to_string_lossy().into_owned());
    }
    for k in ["csv", "md", "json", "svg", "png", "html"] {
        assert!(kinds.contains(k), "no .{k} file was written");
    }
}

/// Labels that slug to one file name never share a file: a `foryou` preset `a` and a policy
/// named `foryou-a` both give the chart name part `foryou-a`, and one session id in two runs
/// gives one authors' CSV name. Each gets its own file (a short stable suffix where, and only
/// where, two labels collide).
#[test]
fn labels_that_slug_alike_never_share_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("study");
    for (run, sessions) in [
        ("run-a", vec![("s-preset", true), ("s-other", false)]),
        ("run-b", vec![("s-preset", true)]),
    ] {
        let dir = study.join(run).join("sessions");
        std::fs::create_dir_all(&dir).unwrap();
        for (id, preset) in sessions {
            let mut h = common::header(id, "m1", 1, if preset { "foryou" } else { "foryou-a" });
            h.run_id = run.into();
            if preset {
                h.policy.preset = Some("a".into());
            }
            let steps: Vec<_> = common::VALUES
                .iter()
                .enumerate()
                .map(|(i, v)| common::step(i as u32, *v, i % 2 == 0))
                .collect();
            common::write_trace(&dir.join(format!("{id}.jsonl")), h, &steps, true);
        }
    }
    let opts = ReportOptions {
        threads: 2,
        ..Default::default()
    };
    let paths = write_report(&study, None, &opts).unwrap();
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let charts: Vec<String> = names(&paths.dir)
        .into_iter()
        .filter(|n| n.starts_with("trajectory-like-family-foryou-a") && n.ends_with(".svg"))
        .collect();
    assert_eq!(charts.len(), 2, "one chart per policy: {charts:?}");
    assert!(charts
        .iter()
        .all(|n| n.len() == "trajectory-like-family-foryou-a-.svg".len() + 8));
    // The suffix is the CRC-32 of the cell's key (docs/reports.md shows this one).
    assert!(
        charts.contains(&"trajectory-like-family-foryou-a-e5b73856.svg".to_string()),
        "{charts:?}"
    );
    let titles: Vec<String> = charts
        .iter()
        .map(|n| std::fs::read_to_string(paths.dir.join(n)).unwrap())
        .collect();
    assert!(
        titles.iter().any(|s| s.contains("foryou:a")),
        "the preset's chart"
    );
    assert!(
        titles
            .iter()
            .any(|s| s.contains("foryou-a") && !s.contains("foryou:a")),
        "the other policy's chart"
    );

    let authors = names(&paths.dir.join("authors"));
    assert_eq!(authors.len(), 3, "{authors:?}");
    assert!(
        authors.contains(&"s-other.csv".to_string()),
        "no collision, no suffix"
    );
    assert_eq!(paths.authors.len(), 3);
}
