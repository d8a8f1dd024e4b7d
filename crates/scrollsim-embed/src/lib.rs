//! Embedders behind one trait: all-MiniLM-L6-v2 (text) and CLIP (image and text) with candle,
//! and any OpenAI-compatible `/v1/embeddings` endpoint.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
        Err(EmbedError::NoImages { kind: self.info().kind })
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
