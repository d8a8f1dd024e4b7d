//! The offline persona model on the fixture corpus (fixtures/metadata.jsonl, about ten clips
//! per value, each with a curator's `label`): videos are scored with the real MiniLM and the
//! embed crate's ValueScorer over config/values.toml, then judged by the shipped hedonism
//! persona (partygoer) and tradition persona (traditional) over many seeds. Each persona must
//! like a clearly larger share of its own value's clips than the other persona does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use scrollsim_core::config::{load_persona, ValueCatalog};
use scrollsim_core::{JudgeKind, Persona, Value, Video};
use scrollsim_embed::{Embedder, MiniLmEmbedder, MiniLmOptions, ValueScorer, ValueScoring};
use scrollsim_vlm::{
    build_judge, JudgeConfig, JudgeEnv, JudgeRequest, JudgeSpec, ParserKind, StrategyKind,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const SEEDS: u64 = 30;

/// Like share per labelled value for one persona (or the control arm), over all seeds.
async fn shares(
    judge: &dyn scrollsim_vlm::Judge,
    persona: Option<&Persona>,
    corpus: &[(Video, Vec<f32>)],
) -> (BTreeMap<Value, f64>, usize) {
    let mut liked: BTreeMap<Value, (u64, u64)> = BTreeMap::new();
    let mut matched = 0;
    for seed in 0..SEEDS {
        for (v, vec) in corpus {
            let d = judge
                .decide(&JudgeRequest {
                    persona,
                    video: v,
                    text_vector: Some(vec),
                    seed,
                })
                .await
                .unwrap();
            assert!(d.status.is_parsed());
            assert!(d
                .reason
                .as_deref()
                .unwrap()
                .starts_with("offline persona model (not a VLM)"));
            if seed == 0 && d.matched_trait.is_some() {
                matched += 1;
            }
            let e = liked.entry(v.label.unwrap()).or_default();
            e.0 += d.like as u64;
            e.1 += 1;
        }
    }
    (
        liked
            .into_iter()
            .map(|(v, (l, n))| (v, l as f64 / n as f64))
            .collect(),
        matched,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personas_prefer_their_own_values_on_the_fixture_corpus() {
    let minilm = MiniLmEmbedder::load(&MiniLmOptions {
        path: root().join("models/all-MiniLM-L6-v2"),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh)"));
    let minilm: Arc<dyn Embedder> = Arc::new(minilm);
    let catalog = ValueCatalog::load(&root().join("config/values.toml")).unwrap();
    let scorer = ValueScorer::new(&catalog, minilm.as_ref(), None, ValueScoring::default())
        .await
        .unwrap();

    let text = std::fs::read_to_string(root().join("fixtures/metadata.jsonl")).unwrap();
    let mut videos: Vec<Video> = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut meta: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("metadata.jsonl:{}: {e}", i + 1));
        meta["value_scores"] =
            serde_json::to_value(scrollsim_core::PerValue::<f32>::default()).unwrap();
        let v: Video = serde_json::from_value(meta)
            .unwrap_or_else(|e| panic!("metadata.jsonl:{}: {e}", i + 1));
        if v.label.is_some() {
            videos.push(v);
        }
    }
    let texts: Vec<String> = videos.iter().map(Video::embedding_text).collect();
    let vectors = minilm.embed_texts(&texts).await.unwrap();
    let corpus: Vec<(Video, Vec<f32>)> = videos
        .into_iter()
        .zip(vectors)
        .map(|(mut v, x)| {
            v.value_scores = scorer.score(Some(&x), None).unwrap();
            (v, x)
        })
        .collect();
    let per_label = |val: Value| corpus.iter().filter(|(v, _)| v.label == Some(val)).count();
    assert!(
        per_label(Value::Hedonism) >= 5 && per_label(Value::Tradition) >= 5,
        "the fixture corpus has clips of both values"
    );

    let personas = root().join("config/personas");
    let hedonist = load_persona(&personas.join("partygoer.toml")).unwrap();
    let traditional = load_persona(&personas.join("traditional.toml")).unwrap();
    assert!(
        hedonist.weight_vector()[Value::Hedonism] >= 0.8
            && traditional.weight_vector()[Value::Tradition] >= 0.8
    );

    let dir = tempfile::tempdir().unwrap();
    let env = JudgeEnv::new(dir.path().join("calls.redb"), root().join("config/prompts"))
        .with_text_embedder(minilm);
    let cfg = JudgeConfig::default();
    let spec = JudgeSpec {
        model: "offline".into(),
        strategy: StrategyKind::Simple,
        parser: ParserKind::Lenient,
    };
    let judge = build_judge(&cfg, &spec, &env).unwrap();
    assert_eq!(judge.info().kind, JudgeKind::OfflinePersonaModel);
    assert_eq!(judge.info().provider, "offline");

    let (he, he_matched) = shares(judge.as_ref(), Some(&hedonist), &corpus).await;
    let (tr, tr_matched) = shares(judge.as_ref(), Some(&traditional), &corpus).await;
    let (ctl, _) = shares(judge.as_ref(), None, &corpus).await;

    println!(
        "like share by clip label over {SEEDS} seeds ({} clips), offline persona model:",
        corpus.len()
    );
    println!(
        "{:<5} {:>6} {:>10} {:>12} {:>8}",
        "label", "clips", "partygoer", "traditional", "control"
    );
    for v in Value::ALL {
        println!(
            "{:<5} {:>6} {:>10.2} {:>12.2} {:>8.2}",
            v.code(),
            per_label(v),
            he[&v],
            tr[&v],
            ctl[&v]
        );
    }
    println!("traits matched on seed 0: partygoer {he_matched}, traditional {tr_matched}");

    let (h, t) = (Value::Hedonism, Value::Tradition);
    assert!(
        he[&h] - tr[&h] >= 0.25,
        "hedonism clips: partygoer {:.2} vs traditional {:.2}",
        he[&h],
        tr[&h]
    );
    assert!(
        tr[&t] - he[&t] >= 0.25,
        "tradition clips: traditional {:.2} vs partygoer {:.2}",
        tr[&t],
        he[&t]
    );
    assert!(
        he[&h] > he[&t] && tr[&t] > tr[&h],
        "each persona prefers its own value's clips"
    );
    // The control arm is the neutral model: about the configured 0.5 on every label.
    for v in Value::ALL {
        assert!(
            (ctl[&v] - 0.5).abs() < 0.2,
            "control on {v}: {:.2}",
            ctl[&v]
        );
    }
    assert!(he_matched + tr_matched > 0, "some clips match a trait");
}
