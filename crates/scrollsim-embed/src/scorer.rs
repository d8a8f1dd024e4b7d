//! Value relevance of a video from its vectors and the keyword seeds of `config/values.toml`.
//!
//! The formula is ours [R] (the paper assigned values by keyword matching without publishing
//! how). For each value `v` with keyword vectors `k_1..k_n`:
//!
//! ```text
//! text(v)  = mean of the top_k largest cos(text_vector, k_i)            (k_i from the text embedder)
//! image(v) = mean of the top_k largest cos(image_vector, c_i)           (c_i from CLIP's text tower)
//! score(v) = (1 - image_weight) * text(v) + image_weight * image(v)     when both exist
//!          = text(v) or image(v)                                        when only one exists
//! ```
//!
//! `top_k` (default 3) and `image_weight` (default 0.5) are config (`[embedder.value_scores]`).
//! Taking the mean of the best few matches rather than the single best keeps one lucky keyword
//! from deciding a label, while a value with many unrelated keywords is not penalised (as a mean
//! over all keywords would be).

use scrollsim_core::config::ValueCatalog;
use scrollsim_core::{PerValue, Value};
use serde::{Deserialize, Serialize};

use crate::{cosine, EmbedError, Embedder, Result};

/// `[embedder.value_scores]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueScoring {
    /// How many of a value's best-matching keywords are averaged [R].
    pub top_k: usize,
    /// Weight of the image similarity when a video has an image vector and a CLIP text tower
    /// embedded the keywords [R].
    pub image_weight: f32,
}

impl Default for ValueScoring {
    fn default() -> Self {
        ValueScoring {
            top_k: 3,
            image_weight: 0.5,
        }
    }
}

/// One keyword seed and its vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordVector {
    pub keyword: String,
    /// In the text embedder's space (compare with a video's text vector).
    pub text: Vec<f32>,
    /// In the image embedder's space (CLIP text tower; compare with image vectors), when an
    /// image embedder is configured.
    pub image: Option<Vec<f32>>,
}

/// Scores videos against the ten values. Keyword seeds are embedded once, at construction.
#[derive(Debug, Clone)]
pub struct ValueScorer {
    keywords: PerValue<Vec<KeywordVector>>,
    scoring: ValueScoring,
    text_dim: usize,
    image_dim: Option<usize>,
}

impl ValueScorer {
    /// Embeds every keyword of the catalogue with the text embedder and, when given, with the
    /// image embedder's text tower.
    pub async fn new(
        catalog: &ValueCatalog,
        text: &dyn Embedder,
        image: Option<&dyn Embedder>,
        scoring: ValueScoring,
    ) -> Result<Self> {
        if scoring.top_k == 0 || !(0.0..=1.0).contains(&scoring.image_weight) {
            return Err(EmbedError::Config {
                key: "embedder.value_scores".into(),
                detail: "top_k must be at least 1 and image_weight within 0..=1".into(),
            });
        }
        let (owners, words): (Vec<Value>, Vec<String>) = catalog
            .values
            .iter()
            .flat_map(|(v, spec)| {
                spec.keywords
                    .iter()
                    .filter(|k| !k.trim().is_empty())
                    .map(move |k| (v, k.trim().to_string()))
            })
            .unzip();
        let text_vecs = text.embed_texts(&words).await?;
        let image_vecs = match image {
            Some(img) => Some(img.embed_texts(&words).await?),
            None => None,
        };
        let mut keywords: PerValue<Vec<KeywordVector>> = PerValue::default();
        for (i, (v, word)) in owners.into_iter().zip(words).enumerate() {
            keywords[v].push(KeywordVector {
                keyword: word,
                text: text_vecs[i].clone(),
                image: image_vecs.as_ref().map(|iv| iv[i].clone()),
            });
        }
        Ok(ValueScorer {
            keywords,
            scoring,
            text_dim: text.info().dim,
            image_dim: image.map(|i| i.info().dim),
        })
    }

    /// Every value's keywords with their vectors (the `keyword` feed policy retrieves by them).
    pub fn keyword_vectors(&self) -> &PerValue<Vec<KeywordVector>> {
        &self.keywords
    }

    pub fn scoring(&self) -> ValueScoring {
        self.scoring
    }

    /// Relevance of a video to each value (see the module docs for the formula). `text` is
    /// `None` when the video has no text to speak of; with neither vector every score is 0.
    pub fn score(&self, text: Option<&[f32]>, image: Option<&[f32]>) -> Result<PerValue<f32>> {
        check_dim("text vector", self.text_dim, text)?;
        let image = match (image, self.image_dim) {
            (Some(v), Some(d)) => {
                check_dim("image vector", d, Some(v))?;
                Some(v)
            }
            // No CLIP text tower embedded the keywords: an image vector cannot be compared.
            _ => None,
        };
        let k = self.scoring.top_k;
        Ok(PerValue::from_fn(|v| {
            let kws = &self.keywords[v];
            let t = text.map(|t| top_k_mean(kws.iter().map(|kw| cosine(t, &kw.text)), k));
            let i = image.map(|im| {
                top_k_mean(
                    kws.iter()
                        .filter_map(|kw| kw.image.as_deref())
                        .map(|c| cosine(im, c)),
                    k,
                )
            });
            match (t, i) {
                (Some(t), Some(i)) => {
                    (1.0 - self.scoring.image_weight) * t + self.scoring.image_weight * i
                }
                (Some(t), None) => t,
                (None, Some(i)) => i,
                (None, None) => 0.0,
            }
        }))
    }
}

fn check_dim(what: &str, expected: usize, v: Option<&[f32]>) -> Result<()> {
    match v {
        Some(v) if v.len() != expected => Err(EmbedError::Dimension {
            what: what.into(),
            expected,
            got: v.len(),
        }),
        _ => Ok(()),
    }
}

/// Mean of the `k` largest values (all of them when there are fewer); 0 for none.
fn top_k_mean(sims: impl Iterator<Item = f32>, k: usize) -> f32 {
    let mut s: Vec<f32> = sims.collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s.truncate(k);
    if s.is_empty() {
        0.0
    } else {
        s.iter().sum::<f32>() / s.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_mean_takes_the_best() {
        assert_eq!(
            top_k_mean([0.1, 0.9, 0.5, 0.7].into_iter(), 3),
            (0.9 + 0.7 + 0.5) / 3.0
        );
        assert_eq!(top_k_mean([0.4].into_iter(), 3), 0.4);
        assert_eq!(top_k_mean(std::iter::empty(), 3), 0.0);
    }
}
