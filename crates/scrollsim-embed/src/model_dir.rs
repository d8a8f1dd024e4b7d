//! A model directory in Hugging Face layout (config.json, model.safetensors, tokenizer.json),
//! read the same way for MiniLM and CLIP; every error names the directory and the file.

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::{EmbedError, Result};

const FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// `texts` through `tokenizer`, special tokens added.
pub(crate) fn tokenize(tokenizer: &Tokenizer, texts: &[String]) -> Result<Vec<Encoding>> {
    tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| EmbedError::Inference(format!("tokenizing: {e}")))
}

/// The directory a model loads from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelDir<'a>(pub(crate) &'a Path);

impl ModelDir<'_> {
    /// The first of the three files that is not there.
    pub(crate) fn missing(self) -> Option<&'static str> {
        FILES.into_iter().find(|f| !self.0.join(f).is_file())
    }

    /// An [`EmbedError::Load`] naming the directory.
    pub(crate) fn error(self, detail: String) -> EmbedError {
        EmbedError::Load {
            path: self.0.display().to_string(),
            detail,
        }
    }

    /// config.json, parsed.
    pub(crate) fn config<T: DeserializeOwned>(self) -> Result<T> {
        let err = |e: &dyn std::fmt::Display| self.error(format!("config.json: {e}"));
        let bytes = std::fs::read(self.0.join("config.json")).map_err(|e| err(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| err(&e))
    }

    /// model.safetensors as f32 tensors on `device`.
    pub(crate) fn weights(self, device: &Device) -> Result<VarBuilder<'static>> {
        let err = |e: &dyn std::fmt::Display| self.error(format!("model.safetensors: {e}"));
        let bytes = std::fs::read(self.0.join("model.safetensors")).map_err(|e| err(&e))?;
        VarBuilder::from_buffered_safetensors(bytes, DType::F32, device).map_err(|e| err(&e))
    }

    /// tokenizer.json, truncating at `max_length` tokens (padding as the file says).
    pub(crate) fn tokenizer(self, max_length: usize) -> Result<Tokenizer> {
        let mut tokenizer = Tokenizer::from_file(self.0.join("tokenizer.json"))
            .map_err(|e| self.error(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| self.error(format!("tokenizer truncation: {e}")))?;
        Ok(tokenizer)
    }
}
