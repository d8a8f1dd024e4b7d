//! The text vectors the offline persona model computed from its personas' traits, recorded
//! when packing, so a rerun of its sessions needs no text embedder's weights: the model's other
//! input, each video's text vector, comes from the packed videos.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use scrollsim_embed::{EmbedError, Embedder, EmbedderInfo};
use serde::{Deserialize, Serialize};

use crate::restore::f32s;
use crate::write::f32le;
use crate::PackError;

/// `embeddings.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Embeddings {
    /// The text embedder the run used (the offline model's judge label names its model).
    pub embedder: EmbedderInfo,
    /// One entry per trait list, as the offline model asks for it (one call per persona).
    pub lists: Vec<EmbeddedList>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EmbeddedList {
    pub texts: Vec<String>,
    /// One vector per text, little-endian f32, base64 (bit for bit).
    pub vectors_f32le: Vec<String>,
}

/// The trait lists of the offline persona model's sessions, as it embeds them (trimmed).
pub(crate) fn trait_list(persona: &scrollsim_core::Persona) -> Vec<String> {
    persona
        .traits
        .iter()
        .map(|t| t.trim().to_string())
        .collect()
}

/// Embeds every list with `embedder`.
pub(crate) async fn record(
    embedder: &dyn Embedder,
    lists: &BTreeSet<Vec<String>>,
) -> Result<Embeddings, PackError> {
    let mut out = Vec::new();
    for texts in lists {
        let vectors = embedder.embed_texts(texts).await.map_err(|e| {
            PackError::Missing(format!(
                "embedding the personas' traits for the offline persona model: {e}"
            ))
        })?;
        out.push(EmbeddedList {
            texts: texts.clone(),
            vectors_f32le: vectors.iter().map(|v| f32le(v)).collect(),
        });
    }
    Ok(Embeddings {
        embedder: embedder.info(),
        lists: out,
    })
}

/// An [`Embedder`] that answers from an archive's recorded trait vectors, and fails, naming
/// the text, for anything else.
#[derive(Debug)]
pub struct PackedEmbedder {
    info: EmbedderInfo,
    lists: BTreeMap<Vec<String>, Vec<Vec<f32>>>,
}

impl PackedEmbedder {
    pub(crate) fn new(e: &Embeddings) -> Result<Arc<PackedEmbedder>, PackError> {
        let mut lists = BTreeMap::new();
        for l in &e.lists {
            let vs = l
                .vectors_f32le
                .iter()
                .map(|v| f32s(v, "a trait vector"))
                .collect::<Result<Vec<_>, _>>()?;
            lists.insert(l.texts.clone(), vs);
        }
        Ok(Arc::new(PackedEmbedder {
            info: e.embedder.clone(),
            lists,
        }))
    }
}

#[async_trait]
impl Embedder for PackedEmbedder {
    fn info(&self) -> EmbedderInfo {
        self.info.clone()
    }

    async fn embed_texts(&self, texts: &[String]) -> scrollsim_embed::Result<Vec<Vec<f32>>> {
        self.lists.get(texts).cloned().ok_or_else(|| {
            EmbedError::Inference(format!(
                "the archive holds the text vectors of its personas' traits only, not of {:?}",
                texts.first().map(String::as_str).unwrap_or_default()
            ))
        })
    }
}
