//! CLIP with candle: image and text towers from a local directory in Hugging Face layout
//! (config.json, model.safetensors, tokenizer.json). Preprocessing follows CLIP's image
//! processor: resize the shortest side to the model's image size (bicubic), centre-crop a
//! square, scale to 0..1 and normalise with CLIP's mean and standard deviation.

use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{Device, IndexOp, Tensor};
use candle_nn::{Linear, Module};
use candle_transformers::models::clip::text_model::{
    Activation, ClipTextConfig, ClipTextTransformer,
};
use candle_transformers::models::clip::vision_model::{ClipVisionConfig, ClipVisionTransformer};
use image::imageops::FilterType;
use image::RgbImage;
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

use crate::model_dir::{tokenize, ModelDir};
use crate::{blocking, candle_err, ClipOptions, EmbedError, Embedder, EmbedderInfo, Result};

/// CLIP's per-channel mean (RGB), from OpenAI's preprocessing.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel standard deviation (RGB). Digits as published, beyond f32's precision.
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Resize, centre-crop and normalise, as CLIP's image processor does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipPreprocess {
    /// Side of the square the model sees (the shortest side is resized to this, then cropped).
    pub size: usize,
}

impl ClipPreprocess {
    /// The resized dimensions: shortest side `size`, the other scaled and truncated (as the
    /// Hugging Face processor computes it).
    pub fn resized_dims(&self, width: u32, height: u32) -> (u32, u32) {
        let s = self.size as u64;
        let (w, h) = (width as u64, height as u64);
        if w <= h {
            (s as u32, (s * h / w) as u32)
        } else {
            ((s * w / h) as u32, s as u32)
        }
    }

    /// Channel-first (3 x size x size) floats, normalised.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        let (w, h) = self.resized_dims(img.width(), img.height());
        let resized;
        let img = if (w, h) == img.dimensions() {
            img
        } else {
            resized = image::imageops::resize(img, w, h, FilterType::CatmullRom);
            &resized
        };
        let s = self.size as u32;
        let (left, top) = ((w - s) / 2, (h - s) / 2);
        let plane = self.size * self.size;
        let mut out = vec![0.0f32; 3 * plane];
        for y in 0..s {
            for x in 0..s {
                let p = img.get_pixel(left + x, top + y);
                for c in 0..3 {
                    out[c * plane + (y * s + x) as usize] =
                        (p[c] as f32 / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
                }
            }
        }
        out
    }
}

/// The subset of Hugging Face's `CLIPConfig` that candle's CLIP needs. Unknown keys are
/// ignored (HF configs carry many); missing ones take HF's defaults.
#[derive(Debug, Deserialize)]
struct HfConfig {
    #[serde(default = "d512")]
    projection_dim: usize,
    text_config: HfText,
    vision_config: HfVision,
}

#[derive(Debug, Deserialize)]
struct HfText {
    #[serde(default = "d49408")]
    vocab_size: usize,
    #[serde(default = "d512")]
    hidden_size: usize,
    #[serde(default = "d2048")]
    intermediate_size: usize,
    #[serde(default = "d12")]
    num_hidden_layers: usize,
    #[serde(default = "d8")]
    num_attention_heads: usize,
    #[serde(default = "d77")]
    max_position_embeddings: usize,
    #[serde(default = "quick_gelu")]
    hidden_act: String,
}

#[derive(Debug, Deserialize)]
struct HfVision {
    #[serde(default = "d768")]
    hidden_size: usize,
    #[serde(default = "d3072")]
    intermediate_size: usize,
    #[serde(default = "d12")]
    num_hidden_layers: usize,
    #[serde(default = "d12")]
    num_attention_heads: usize,
    #[serde(default = "d224")]
    image_size: usize,
    #[serde(default = "d32")]
    patch_size: usize,
    #[serde(default = "d3")]
    num_channels: usize,
    #[serde(default = "quick_gelu")]
    hidden_act: String,
}

macro_rules! defaults { ($($f:ident = $v:expr),*) => { $(fn $f() -> usize { $v })* } }
defaults!(
    d3 = 3,
    d8 = 8,
    d12 = 12,
    d32 = 32,
    d77 = 77,
    d224 = 224,
    d512 = 512,
    d768 = 768,
    d2048 = 2048,
    d3072 = 3072,
    d49408 = 49408
);
fn quick_gelu() -> String {
    "quick_gelu".into()
}

/// CLIP's two towers and projections, with its tokenizer.
#[derive(Clone)]
pub struct ClipEmbedder {
    inner: Arc<Inner>,
    batch_size: usize,
    model_name: String,
}

struct Inner {
    text: ClipTextTransformer,
    vision: ClipVisionTransformer,
    text_projection: Linear,
    visual_projection: Linear,
    tokenizer: Tokenizer,
    preprocess: ClipPreprocess,
    device: Device,
    dim: usize,
}

impl std::fmt::Debug for ClipEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipEmbedder")
            .field("model", &self.model_name)
            .field("dim", &self.inner.dim)
            .field("image_size", &self.inner.preprocess.size)
            .finish()
    }
}

impl ClipEmbedder {
    /// Loads CLIP from `opts.path`. Blocking. No model hub is reachable from scrollsim's
    /// machines, so missing files are an error saying where to put them.
    pub fn load(opts: &ClipOptions) -> Result<Self> {
        let dir = opts.path.as_path();
        let model = ModelDir(dir);
        if let Some(missing) = model.missing() {
            return Err(EmbedError::ModelMissing {
                path: dir.display().to_string(),
                hint: format!(
                    "{missing} is missing. Offline: no model hub is reached; put a CLIP checkpoint \
                     in Hugging Face layout (config.json, model.safetensors, tokenizer.json; for \
                     example the files of openai/clip-vit-base-patch32) at {}",
                    dir.display()
                ),
            });
        }
        if opts.batch_size == 0 {
            return Err(EmbedError::Config {
                key: "embedder.image.batch_size".into(),
                detail: "must be at least 1".into(),
            });
        }
        let cfg: HfConfig = model.config()?;
        for (tower, act) in [
            ("text", &cfg.text_config.hidden_act),
            ("vision", &cfg.vision_config.hidden_act),
        ] {
            if act != "quick_gelu" {
                return Err(model.error(format!(
                    "config.json: {tower}_config.hidden_act = {act:?}; candle's CLIP supports \"quick_gelu\" only"
                )));
            }
        }
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        let text_cfg = ClipTextConfig {
            vocab_size: t.vocab_size,
            embed_dim: t.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: t.intermediate_size,
            max_position_embeddings: t.max_position_embeddings,
            pad_with: None,
            num_hidden_layers: t.num_hidden_layers,
            num_attention_heads: t.num_attention_heads,
            projection_dim: cfg.projection_dim,
        };
        let vision_cfg = ClipVisionConfig {
            embed_dim: v.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: v.intermediate_size,
            num_hidden_layers: v.num_hidden_layers,
            num_attention_heads: v.num_attention_heads,
            projection_dim: cfg.projection_dim,
            num_channels: v.num_channels,
            image_size: v.image_size,
            patch_size: v.patch_size,
        };
        if v.num_channels != 3 {
            return Err(model.error(format!(
                "vision_config.num_channels = {}; RGB (3) expected",
                v.num_channels
            )));
        }

        let device = Device::Cpu;
        let vb = model.weights(&device)?;
        // candle substitutes a random class embedding when it is absent: refuse instead.
        if !vb.contains_tensor("vision_model.embeddings.class_embedding") {
            return Err(model.error("vision_model.embeddings.class_embedding is missing".into()));
        }
        let w = |e: candle_core::Error| model.error(format!("weights: {e}"));
        let text = ClipTextTransformer::new(vb.pp("text_model"), &text_cfg).map_err(w)?;
        let vision = ClipVisionTransformer::new(vb.pp("vision_model"), &vision_cfg).map_err(w)?;
        let text_projection =
            candle_nn::linear_no_bias(t.hidden_size, cfg.projection_dim, vb.pp("text_projection"))
                .map_err(w)?;
        let visual_projection = candle_nn::linear_no_bias(
            v.hidden_size,
            cfg.projection_dim,
            vb.pp("visual_projection"),
        )
        .map_err(w)?;

        let mut tokenizer = model.tokenizer(t.max_position_embeddings)?;
        // Padding value is irrelevant: the causal mask keeps it from reaching the pooled token.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));

        Ok(ClipEmbedder {
            inner: Arc::new(Inner {
                text,
                vision,
                text_projection,
                visual_projection,
                tokenizer,
                preprocess: ClipPreprocess { size: v.image_size },
                device,
                dim: cfg.projection_dim,
            }),
            batch_size: opts.batch_size,
            model_name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    pub fn preprocess(&self) -> ClipPreprocess {
        self.inner.preprocess
    }

    /// Text vectors on the calling thread.
    pub fn embed_texts_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            out.extend(self.inner.texts(chunk)?);
        }
        Ok(out)
    }

    /// Image vectors on the calling thread; a file that does not decode is a
    /// [`EmbedError::BadImage`] with its index.
    pub fn embed_images_blocking(&self, images: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(images.len());
        for (c, chunk) in images.chunks(self.batch_size).enumerate() {
            out.extend(self.inner.images(chunk, c * self.batch_size)?);
        }
        Ok(out)
    }
}

impl Inner {
    fn texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = tokenize(&self.tokenizer, texts)?;
        let (n, len) = (enc.len(), enc[0].get_ids().len());
        let ids: Vec<u32> = enc
            .iter()
            .flat_map(|e| e.get_ids().iter().copied())
            .collect();
        let err = candle_err("CLIP text tower");
        let ids = Tensor::from_vec(ids, (n, len), &self.device).map_err(&err)?;
        let hidden = self
            .text
            .forward_with_mask(&ids, usize::MAX)
            .map_err(&err)?;
        // Pool at the end-of-text token: the last real token of each sequence (what Hugging
        // Face's CLIP does; candle's own pooling takes argmax(ids), which breaks on padding).
        let pooled = enc
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let last = e
                    .get_attention_mask()
                    .iter()
                    .filter(|m| **m == 1)
                    .count()
                    .max(1)
                    - 1;
                hidden.i((i, last))?.unsqueeze(0)
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(&err)?;
        let pooled = Tensor::cat(&pooled, 0).map_err(&err)?;
        unit_rows(&self.text_projection.forward(&pooled).map_err(&err)?)
    }

    fn images(&self, images: &[Vec<u8>], first_index: usize) -> Result<Vec<Vec<f32>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.preprocess.size;
        let mut data = Vec::with_capacity(images.len() * 3 * s * s);
        for (i, bytes) in images.iter().enumerate() {
            let img = image::load_from_memory(bytes).map_err(|e| EmbedError::BadImage {
                index: first_index + i,
                detail: e.to_string(),
            })?;
            data.extend(self.preprocess.apply(&img.to_rgb8()));
        }
        let err = candle_err("CLIP vision tower");
        let pixels = Tensor::from_vec(data, (images.len(), 3, s, s), &self.device).map_err(&err)?;
        let pooled = self.vision.forward(&pixels).map_err(&err)?;
        unit_rows(&self.visual_projection.forward(&pooled).map_err(&err)?)
    }
}

/// Rows of a 2-D tensor, each scaled to unit length.
fn unit_rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    let mut rows = t.to_vec2::<f32>().map_err(candle_err("reading vectors"))?;
    rows.iter_mut().for_each(|r| crate::normalize(r));
    Ok(rows)
}

#[async_trait]
impl Embedder for ClipEmbedder {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo {
            kind: "clip".into(),
            model: self.model_name.clone(),
            dim: self.inner.dim,
            images: true,
        }
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let (me, texts) = (self.clone(), texts.to_vec());
        blocking(move || me.embed_texts_blocking(&texts)).await
    }

    async fn embed_images(&self, images: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
        let (me, images) = (self.clone(), images.to_vec());
        blocking(move || me.embed_images_blocking(&images)).await
    }
}
