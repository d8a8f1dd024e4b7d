//! Embedders behind one trait: all-MiniLM-L6-v2 (text; ONNX Runtime, or candle without it) and
//! CLIP (image and text) with candle,
//! and any OpenAI-compatible `/v1/embeddings` endpoint; plus [`ValueScorer`], which turns a
//! video's vectors into relevance scores over Schwartz's ten values.
//!
//! Must not: know about stores, sessions, judges or traces, or fetch weights (they are read from
//! disk; scripts/setup.sh puts them there). See docs/embed.md.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

mod bert;
mod clip;
mod config;
mod minilm;
mod model_dir;
mod onnx;
mod openai;
mod scorer;

pub use clip::{ClipEmbedder, ClipPreprocess, CLIP_MEAN, CLIP_STD};
pub use config::{
    build_embedders, build_image_embedder, build_text_embedder, ClipOptions, EmbedderConfig,
    Embedders, ImageEmbedderConfig, MiniLmOptions, MiniLmRuntime, OpenAiOptions,
    TextEmbedderConfig,
};
pub use minilm::{
    MiniLmEmbedder, MiniLmEngine, MINILM_DEFAULT_PATH, MINILM_ONNX_FILE,
    ONNXRUNTIME_DEFAULT_LIBRARY,
};
pub use onnx::OnnxError;
pub use openai::OpenAiEmbedder;
pub use scorer::{KeywordVector, ValueScorer, ValueScoring};

/// What an embedder produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderInfo {
    /// `minilm`, `clip`, `openai`.
    pub kind: String,
    /// Model name or path, as recorded in the collection and traces.
    pub model: String,
    /// Output dimension.
    pub dim: usize,
    /// Whether [`Embedder::embed_images`] is supported.
    pub images: bool,
}

/// Why an embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model not found at {path}: {hint}")]
    ModelMissing { path: String, hint: String },
    #[error("model at {path} could not be loaded: {detail}")]
    Load { path: String, detail: String },
    #[error("{kind} embedder does not embed images")]
    NoImages { kind: String },
    #[error("image {index}: {detail}")]
    BadImage { index: usize, detail: String },
    #[error("embedding endpoint {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("inference failed: {0}")]
    Inference(String),
    /// ONNX Runtime failed while embedding.
    #[error("inference failed: {0}")]
    Onnx(#[from] OnnxError),
    /// A vector does not have the dimension the other side expects.
    #[error("{what}: expected a vector of dimension {expected}, got {got}")]
    Dimension {
        what: String,
        expected: usize,
        got: usize,
    },
    /// The embedder configuration cannot be used (names the key).
    #[error("embedder config `{key}`: {detail}")]
    Config { key: String, detail: String },
}

pub type Result<T> = std::result::Result<T, EmbedError>;

/// Turns text (and, for image embedders, images) into L2-normalised vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    fn info(&self) -> EmbedderInfo;

    /// One vector per text, same order, L2-normalised.
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;

    /// One vector per encoded image (JPEG/PNG/WebP bytes), same order, L2-normalised.
    async fn embed_images(&self, images: &[Vec<u8>]) -> Result<Vec<Vec<f32>>> {
        let _ = images;
        Err(EmbedError::NoImages {
            kind: self.info().kind,
        })
    }
}

/// Cosine similarity of two vectors (dot product when both are normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Scales a vector to unit length in place (leaves a zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// The image vector of a video: the L2-normalised mean of its keyframes' vectors. `None` for
/// no keyframes; an error when the keyframe vectors disagree in dimension.
pub fn mean_vector(vectors: &[Vec<f32>]) -> Result<Option<Vec<f32>>> {
    let Some(first) = vectors.first() else {
        return Ok(None);
    };
    let mut sum = vec![0.0f32; first.len()];
    for (i, v) in vectors.iter().enumerate() {
        if v.len() != sum.len() {
            return Err(EmbedError::Dimension {
                what: format!("keyframe vector {i}"),
                expected: sum.len(),
                got: v.len(),
            });
        }
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    normalize(&mut sum);
    Ok(Some(sum))
}

/// Runs blocking model work off the async runtime, turning a panic or cancellation into an
/// [`EmbedError::Inference`].
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EmbedError::Inference(format!("embedding task failed: {e}")))?
}

/// Wraps a candle error with what was being done.
pub(crate) fn candle_err(what: &str) -> impl Fn(candle_core::Error) -> EmbedError + '_ {
    move |e| EmbedError::Inference(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_vector_is_normalised_mean() {
        let m = mean_vector(&[vec![1.0, 0.0], vec![0.0, 1.0]])
            .unwrap()
            .unwrap();
        let r = std::f32::consts::FRAC_1_SQRT_2;
        assert!((m[0] - r).abs() < 1e-6 && (m[1] - r).abs() < 1e-6, "{m:?}");
        assert_eq!(mean_vector(&[]).unwrap(), None);
        let err = mean_vector(&[vec![1.0, 0.0], vec![1.0]]).unwrap_err();
        assert!(err.to_string().contains("keyframe vector 1"), "{err}");
    }

    #[test]
    fn cosine_handles_zero_vectors() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[2.0, 0.0], &[3.0, 0.0]) - 1.0).abs() < 1e-6);
    }
}
