//! CLIP: no real weights are reachable, so the test writes a tiny random-weight checkpoint in
//! Hugging Face layout (config.json, model.safetensors, tokenizer.json) and runs the full
//! loading and inference path on it; preprocessing is checked against hand-computed values.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use image::{ImageFormat, Rgb, RgbImage};
use scrollsim_embed::{
    build_embedders, cosine, mean_vector, ClipEmbedder, ClipOptions, ClipPreprocess, EmbedError,
    Embedder, EmbedderConfig, ImageEmbedderConfig, TextEmbedderConfig,
};

const VOCAB: [&str; 12] = [
    "<|startoftext|>",
    "<|endoftext|>",
    "<unk>",
    "a",
    "beach",
    "party",
    "cat",
    "dog",
    "on",
    "the",
    "sunset",
    "family",
];
const D_TEXT: usize = 16;
const D_VISION: usize = 24;
const PROJ: usize = 8;
const MAX_POS: usize = 10;
const IMAGE: usize = 32;
const PATCH: usize = 8;

/// Deterministic pseudo-random weights (a small LCG), scaled like an initialisation.
struct Lcg(u64);
impl Lcg {
    fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }
}

fn encoder(w: &mut HashMap<String, Tensor>, rng: &mut Lcg, prefix: &str, d: usize, layers: usize) {
    let ones = |n| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).unwrap();
    let zeros = |n| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu).unwrap();
    for l in 0..layers {
        let p = format!("{prefix}.encoder.layers.{l}");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            w.insert(
                format!("{p}.self_attn.{proj}.weight"),
                rng.tensor(&[d, d], 0.3),
            );
            w.insert(format!("{p}.self_attn.{proj}.bias"), rng.tensor(&[d], 0.1));
        }
        for ln in ["layer_norm1", "layer_norm2"] {
            w.insert(format!("{p}.{ln}.weight"), ones(d));
            w.insert(format!("{p}.{ln}.bias"), zeros(d));
        }
        w.insert(format!("{p}.mlp.fc1.weight"), rng.tensor(&[2 * d, d], 0.3));
        w.insert(format!("{p}.mlp.fc1.bias"), rng.tensor(&[2 * d], 0.1));
        w.insert(format!("{p}.mlp.fc2.weight"), rng.tensor(&[d, 2 * d], 0.3));
        w.insert(format!("{p}.mlp.fc2.bias"), rng.tensor(&[d], 0.1));
    }
}

/// Writes a 2-layer CLIP with tiny dimensions and a word-level tokenizer into `dir`.
fn write_tiny_clip(dir: &Path) {
    let mut rng = Lcg(42);
    let mut w: HashMap<String, Tensor> = HashMap::new();
    let ones = |n| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).unwrap();
    let zeros = |n| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu).unwrap();
    w.insert(
        "text_model.embeddings.token_embedding.weight".into(),
        rng.tensor(&[VOCAB.len(), D_TEXT], 1.0),
    );
    w.insert(
        "text_model.embeddings.position_embedding.weight".into(),
        rng.tensor(&[MAX_POS, D_TEXT], 0.5),
    );
    encoder(&mut w, &mut rng, "text_model", D_TEXT, 2);
    w.insert("text_model.final_layer_norm.weight".into(), ones(D_TEXT));
    w.insert("text_model.final_layer_norm.bias".into(), zeros(D_TEXT));
    let patches = (IMAGE / PATCH).pow(2);
    w.insert(
        "vision_model.embeddings.class_embedding".into(),
        rng.tensor(&[D_VISION], 1.0),
    );
    w.insert(
        "vision_model.embeddings.patch_embedding.weight".into(),
        rng.tensor(&[D_VISION, 3, PATCH, PATCH], 0.2),
    );
    w.insert(
        "vision_model.embeddings.position_embedding.weight".into(),
        rng.tensor(&[patches + 1, D_VISION], 0.5),
    );
    w.insert("vision_model.pre_layrnorm.weight".into(), ones(D_VISION));
    w.insert("vision_model.pre_layrnorm.bias".into(), zeros(D_VISION));
    encoder(&mut w, &mut rng, "vision_model", D_VISION, 2);
    w.insert("vision_model.post_layernorm.weight".into(), ones(D_VISION));
    w.insert("vision_model.post_layernorm.bias".into(), zeros(D_VISION));
    w.insert(
        "text_projection.weight".into(),
        rng.tensor(&[PROJ, D_TEXT], 0.5),
    );
    w.insert(
        "visual_projection.weight".into(),
        rng.tensor(&[PROJ, D_VISION], 0.5),
    );
    w.insert(
        "logit_scale".into(),
        Tensor::new(2.6592f32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&w, dir.join("model.safetensors")).unwrap();

    let config = serde_json::json!({
        "model_type": "clip", "projection_dim": PROJ, "logit_scale_init_value": 2.6592,
        "text_config": { "vocab_size": VOCAB.len(), "hidden_size": D_TEXT, "intermediate_size": 2 * D_TEXT,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": MAX_POS,
            "hidden_act": "quick_gelu", "bos_token_id": 0, "eos_token_id": 1 },
        "vision_config": { "hidden_size": D_VISION, "intermediate_size": 2 * D_VISION,
            "num_hidden_layers": 2, "num_attention_heads": 3, "image_size": IMAGE, "patch_size": PATCH,
            "hidden_act": "quick_gelu" }
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();

    let special = |id: usize, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let vocab: serde_json::Map<String, serde_json::Value> = VOCAB
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), serde_json::json!(i)))
        .collect();
    let tok = |id: &str| serde_json::json!({"SpecialToken": {"id": id, "type_id": 0}});
    let seq = |id: &str| serde_json::json!({"Sequence": {"id": id, "type_id": 0}});
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "<|startoftext|>"), special(1, "<|endoftext|>")],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [tok("<|startoftext|>"), seq("A"), tok("<|endoftext|>")],
            "pair": [tok("<|startoftext|>"), seq("A"), seq("B"), tok("<|endoftext|>")],
            "special_tokens": {
                "<|startoftext|>": {"id": "<|startoftext|>", "ids": [0], "tokens": ["<|startoftext|>"]},
                "<|endoftext|>": {"id": "<|endoftext|>", "ids": [1], "tokens": ["<|endoftext|>"]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    });
    std::fs::write(
        dir.join("tokenizer.json"),
        serde_json::to_vec(&tokenizer).unwrap(),
    )
    .unwrap();
}

fn tiny(batch_size: usize) -> (tempfile::TempDir, ClipEmbedder) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_clip(dir.path());
    let clip = ClipEmbedder::load(&ClipOptions {
        path: dir.path().into(),
        batch_size,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (dir, clip)
}

fn encoded(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

/// A vertical 9:16 frame with a gradient and a coloured block, so frames differ.
fn frame(seed: u8) -> RgbImage {
    RgbImage::from_fn(36, 64, |x, y| {
        let block = (x / 12 + y / 16) as u8 % 3 == seed % 3;
        Rgb([
            (x * 7) as u8 ^ seed,
            (y * 4) as u8,
            if block { 250 } else { seed.wrapping_mul(40) },
        ])
    })
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[tokio::test]
async fn images_embed_through_the_vision_tower() {
    let (_dir, clip) = tiny(2);
    let info = clip.info();
    assert_eq!(
        (info.kind.as_str(), info.dim, info.images),
        ("clip", PROJ, true)
    );
    let imgs = vec![
        encoded(&frame(1), ImageFormat::Jpeg),
        encoded(&frame(2), ImageFormat::Png),
        encoded(&frame(3), ImageFormat::Jpeg),
    ];
    let v = clip.embed_images(&imgs).await.unwrap();
    assert_eq!(v.len(), 3);
    for x in &v {
        assert_eq!(x.len(), PROJ);
        assert!((norm(x) - 1.0).abs() < 1e-5);
    }
    assert!(
        cosine(&v[0], &v[1]) < 0.9999,
        "different frames, different vectors"
    );
    assert_eq!(v, clip.embed_images(&imgs).await.unwrap(), "deterministic");
    // Batching (2 per pass above) does not change a vector.
    let single = clip.embed_images(&imgs[2..]).await.unwrap();
    assert!(cosine(&single[0], &v[2]) > 0.99999);
    // The video's image vector: the normalised mean of its keyframes' vectors.
    let video = mean_vector(&v).unwrap().unwrap();
    assert!((norm(&video) - 1.0).abs() < 1e-5);
    assert!(v.iter().all(|k| cosine(k, &video) > 0.0));
}

#[tokio::test]
async fn texts_embed_through_the_text_tower_and_padding_does_not_leak() {
    let (_dir, clip) = tiny(8);
    let texts: Vec<String> = [
        "a cat",
        "a beach party on the sunset",
        "the family dog",
        "A CAT",
    ]
    .map(String::from)
    .to_vec();
    let v = clip.embed_texts(&texts).await.unwrap();
    for x in &v {
        assert_eq!(x.len(), PROJ);
        assert!((norm(x) - 1.0).abs() < 1e-5);
    }
    assert!(
        cosine(&v[0], &v[3]) > 0.99999,
        "lowercasing normaliser: same tokens, same vector"
    );
    assert!(cosine(&v[0], &v[1]) < 0.999);
    // Embedded alone (no padding) equals embedded beside a longer text (padded): the vector is
    // pooled at the end-of-text token, which the causal mask keeps clear of padding.
    let alone = clip.embed_texts(&texts[..1]).await.unwrap();
    assert!(cosine(&alone[0], &v[0]) > 0.99999);
    // Longer than max_position_embeddings: truncated, not an error.
    let long =
        vec!["the cat on the beach party on the sunset with the family dog and a cat".to_string()];
    assert_eq!(clip.embed_texts(&long).await.unwrap()[0].len(), PROJ);
}

#[tokio::test]
async fn undecodable_image_names_its_index() {
    let (_dir, clip) = tiny(4);
    let err = clip
        .embed_images(&[
            encoded(&frame(1), ImageFormat::Png),
            b"not an image".to_vec(),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::BadImage { index: 1, .. }),
        "{err}"
    );
}

#[test]
fn preprocessing_crops_the_centre_and_normalises() {
    // 2 wide x 4 tall, shortest side already 2: no resize; the crop keeps rows 1 and 2.
    let img = RgbImage::from_fn(2, 4, |x, y| Rgb([(y * 60 + x * 10) as u8, 100, 200]));
    let p = ClipPreprocess { size: 2 };
    let out = p.apply(&img);
    assert_eq!(out.len(), 3 * 2 * 2);
    // Hand-computed: (value / 255 - mean[c]) / std[c], channel-first planes of 2x2.
    // Crop pixels R: (0,1)=60, (1,1)=70, (0,2)=120, (1,2)=130; G = 100, B = 200 everywhere.
    let want = [
        -0.916357, -0.770373, -0.040451, 0.105533, // R
        -0.25132, -0.25132, -0.25132, -0.25132, // G
        1.363793, 1.363793, 1.363793, 1.363793, // B
    ];
    for (i, (g, w)) in out.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-5, "element {i}: {g} vs {w}");
    }
}

#[test]
fn preprocessing_resizes_the_shortest_side() {
    let p = ClipPreprocess { size: 224 };
    // The paper's 144x256 model frames: shortest side to 224, the other truncated like HF does.
    assert_eq!(p.resized_dims(144, 256), (224, 398));
    assert_eq!(p.resized_dims(256, 144), (398, 224));
    // A uniform colour stays that colour through resize and crop: (30, 60, 90) normalised.
    let flat = RgbImage::from_pixel(8, 4, Rgb([30, 60, 90]));
    let out = ClipPreprocess { size: 2 }.apply(&flat);
    for (c, want) in [-1.35431f32, -0.851631, -0.200414].into_iter().enumerate() {
        for g in &out[c * 4..c * 4 + 4] {
            assert!((g - want).abs() < 1e-5, "channel {c}: {g} vs {want}");
        }
    }
    // Downscaling 4x4 (left half black, right half white) to 2x2 keeps left dark, right bright.
    let halves = RgbImage::from_fn(4, 4, |x, _| {
        if x < 2 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let out = ClipPreprocess { size: 2 }.apply(&halves);
    assert!(
        out[0] < -1.0 && out[1] > 1.0 && out[2] < -1.0,
        "{:?}",
        &out[..4]
    );
}

#[tokio::test]
async fn config_builds_one_shared_clip_for_text_and_image() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_clip(dir.path());
    let opts = ClipOptions {
        path: dir.path().into(),
        batch_size: 4,
    };
    let cfg = EmbedderConfig {
        text: TextEmbedderConfig::Clip(opts.clone()),
        image: ImageEmbedderConfig::Clip(opts),
        ..Default::default()
    };
    let e = build_embedders(&cfg).await.unwrap();
    let image = e.image.expect("image embedder configured");
    assert!(
        std::sync::Arc::ptr_eq(&e.text, &image),
        "one model, loaded once"
    );
    assert_eq!(image.info().dim, PROJ);
}

#[test]
fn missing_weights_say_where_to_put_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = ClipEmbedder::load(&ClipOptions {
        path: dir.path().join("clip"),
        batch_size: 4,
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{msg}");
    assert!(
        msg.contains("Offline") && msg.contains("config.json is missing"),
        "{msg}"
    );
    assert!(
        msg.contains(&dir.path().join("clip").display().to_string()),
        "{msg}"
    );

    // Present but with an activation candle's CLIP cannot run: a load error naming the key.
    write_tiny_clip(dir.path());
    let cfg = std::fs::read_to_string(dir.path().join("config.json"))
        .unwrap()
        .replace("\"quick_gelu\"", "\"gelu\"");
    std::fs::write(dir.path().join("config.json"), cfg).unwrap();
    let err = ClipEmbedder::load(&ClipOptions {
        path: dir.path().into(),
        batch_size: 4,
    })
    .unwrap_err();
    assert!(err.to_string().contains("hidden_act"), "{err}");
}
