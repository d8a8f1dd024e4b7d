//! The committed fixture corpus (fixtures/): its metadata matches `scrollsim_core::Video`, it
//! covers every platform and value, and every file goes through every keyframe strategy.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use scrollsim_core::{PerValue, Value, Video};
use scrollsim_media::{extract_keyframes, probe, ExtractOptions};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Each metadata line as JSON and as the `Video` it describes.
fn corpus() -> Vec<(serde_json::Value, Video)> {
    let text = std::fs::read_to_string(fixtures().join("metadata.jsonl"))
        .expect("fixtures/metadata.jsonl");
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let raw: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("metadata.jsonl line {}: {e}", i + 1));
            // The sidecar's fields are Video's (plus `file`); scores come from ingest.
            let mut v = raw.clone();
            let obj = v.as_object_mut().unwrap();
            obj.remove("file");
            obj.insert(
                "value_scores".into(),
                serde_json::to_value(PerValue::<f32>::default()).unwrap(),
            );
            let video: Video = serde_json::from_value(v)
                .unwrap_or_else(|e| panic!("line {}: not a Video: {e}", i + 1));
            (raw, video)
        })
        .collect()
}

#[test]
fn metadata_covers_every_platform_and_value() {
    let corpus = corpus();
    assert!(corpus.len() >= 100, "{} posts", corpus.len());
    let ids: HashSet<_> = corpus.iter().map(|(_, v)| v.id.clone()).collect();
    assert_eq!(ids.len(), corpus.len(), "ids are unique");
    let mut per_value: BTreeMap<Value, usize> = BTreeMap::new();
    let mut per_platform: BTreeMap<String, usize> = BTreeMap::new();
    for (raw, v) in &corpus {
        *per_value
            .entry(v.label.expect("every fixture is labelled"))
            .or_default() += 1;
        *per_platform.entry(v.platform.to_string()).or_default() += 1;
        let file = fixtures().join(raw["file"].as_str().unwrap());
        assert!(file.is_file(), "{} exists", file.display());
        assert!(!v.caption.is_empty() && !v.hashtags.is_empty(), "{}", v.id);
        assert!(
            v.hashtags
                .iter()
                .all(|h| !h.starts_with('#') && !h.contains(' ')),
            "{}",
            v.id
        );
        let url = v.url.as_deref().unwrap();
        let prefix = match v.platform.as_str() {
            "tiktok" => "https://www.tiktok.com/@",
            "youtube" => "https://www.youtube.com/shorts/",
            "instagram" => "https://www.instagram.com/reel/",
            other => panic!("unexpected platform {other}"),
        };
        assert!(url.starts_with(prefix), "{url}");
        let posted = v.posted.unwrap().to_string();
        assert!(
            ("2024-07-01".."2024-11-01").contains(&posted.as_str()),
            "{posted}"
        );
        assert!(v.views.unwrap() >= 1000);
        assert!([
            "family",
            "health",
            "hobbies",
            "society",
            "technology",
            "lifestyle"
        ]
        .contains(&v.topic.as_deref().unwrap()));
        assert!(!v.description.as_deref().unwrap().is_empty());
    }
    for value in Value::ALL {
        assert!(
            per_value.get(&value).copied().unwrap_or(0) >= 10,
            "{value:?}: {per_value:?}"
        );
    }
    assert_eq!(per_platform.len(), 3, "{per_platform:?}");
    let size: u64 = walk(&fixtures())
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(size < 10_000_000, "fixtures/ is {size} bytes");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_fixture_goes_through_every_strategy() {
    let mut stills = 0;
    let mut rotated = 0;
    let mut cuts = 0;
    for (raw, v) in corpus() {
        let file = fixtures().join(raw["file"].as_str().unwrap());
        let p = probe(&file).unwrap_or_else(|e| panic!("{e}"));
        if !p.is_video {
            stills += 1;
        } else {
            let d = p.duration_s.unwrap();
            assert!((3.0..=5.0).contains(&d), "{}: {d} s", v.id);
            assert_eq!(p.display_size(), (180, 320), "{}", v.id);
        }
        rotated += usize::from(p.rotation != 0);
        for strategy in ["uniform:4", "iframes", "scene:0.3"] {
            let o = ExtractOptions {
                strategy: strategy.parse().unwrap(),
                ..ExtractOptions::default()
            };
            let frames = extract_keyframes(&file, &o).unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert!(!frames.is_empty(), "{} {strategy}", v.id);
            if p.is_video && strategy == "uniform:4" {
                assert_eq!(frames.len(), 4, "{}", v.id);
            }
            if strategy == "scene:0.3" && frames.len() > 1 {
                cuts += 1;
            }
        }
    }
    assert!(stills >= 5, "{stills} screenshots");
    assert!(rotated >= 1, "a phone video stored landscape");
    assert!(cuts >= 10, "{cuts} clips with a scene cut");
}
