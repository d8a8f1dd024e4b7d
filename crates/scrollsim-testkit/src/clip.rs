//! A tiny random-weight CLIP checkpoint in Hugging Face layout: no real CLIP weights are
//! reachable from scrollsim's machines, so tests of the loading and inference path (in embed
//! and ingest) run on this. Its vectors mean nothing.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

/// Output dimension of the tiny checkpoint.
pub const TINY_CLIP_DIM: usize = PROJ;

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
        Tensor::from_vec(v, shape, &Device::Cpu).expect("in-memory tensor")
    }
}

fn encoder(w: &mut HashMap<String, Tensor>, rng: &mut Lcg, prefix: &str, d: usize, layers: usize) {
    let ones =
        |n| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).expect("in-memory tensor");
    let zeros =
        |n| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu).expect("in-memory tensor");
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

/// Writes a 2-layer CLIP with tiny dimensions (16-wide text tower, 24-wide vision tower, 8-d
/// projections, 32x32 images in 8x8 patches) and a 12-word word-level tokenizer into `dir`:
/// config.json, model.safetensors, tokenizer.json. Deterministic.
pub fn write_tiny_clip(dir: &Path) -> std::io::Result<()> {
    let mut rng = Lcg(42);
    let mut w: HashMap<String, Tensor> = HashMap::new();
    let ones =
        |n| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).expect("in-memory tensor");
    let zeros =
        |n| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu).expect("in-memory tensor");
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
        Tensor::new(2.6592f32, &Device::Cpu).expect("in-memory tensor"),
    );
    candle_core::safetensors::save(&w, dir.join("model.safetensors"))
        .map_err(std::io::Error::other)?;

    let config = serde_json::json!({
        "model_type": "clip", "projection_dim": PROJ, "logit_scale_init_value": 2.6592,
        "text_config": { "vocab_size": VOCAB.len(), "hidden_size": D_TEXT, "intermediate_size": 2 * D_TEXT,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": MAX_POS,
            "hidden_act": "quick_gelu", "bos_token_id": 0, "eos_token_id": 1 },
        "vision_config": { "hidden_size": D_VISION, "intermediate_size": 2 * D_VISION,
            "num_hidden_layers": 2, "num_attention_heads": 3, "image_size": IMAGE, "patch_size": PATCH,
            "hidden_act": "quick_gelu" }
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;

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
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_vec(&tokenizer)?)
}
