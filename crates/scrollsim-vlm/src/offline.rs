//! The offline persona model: the default judge when no VLM is configured. It is a simple user
//! model, not a VLM, and says so in every output (`JudgeKind::OfflinePersonaModel`, provider
//! `offline`, and its reason text).
//!
//! For a persona with value weights `w` (in [-1, 1]) and trait sentences `t_i`, and a video
//! with value scores `s` (its relevance to each of the ten values) and text vector `x`:
//!
//! ```text
//! z_v        = (s_v - mean(s)) / std(s)                  standardised value scores (population std;
//!                                                        all 0 when std(s) = 0)
//! relevance  = sum_v w_v z_v / sum_v |w_v|               persona-weighted mean of z (0 without weights)
//! trait_sim  = max_i cos(x, embed(t_i))                  MiniLM; the trait matches when >= trait_threshold
//! p(like)    = sigmoid(a * relevance + b * trait_sim + c)
//! like       = u < p(like),  u = uniform from SHA-256(session seed, video id)
//! ```
//!
//! Standardising the value scores removes their common baseline (every video is somewhat
//! similar to every keyword list), so only how much a video leans toward a value counts. The
//! draw depends only on the session seed and the video id, never on what came before, so a
//! resumed session makes the same decisions. The control arm (no persona) uses the neutral
//! model `p(like) = neutral_like_prob` with the same draw. `x` is the request's `text_vector`
//! when given (no embedding per call), else `Video::embedding_text()` embedded once for the
//! call. Trait vectors are embedded once per trait list and cached for the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scrollsim_core::{
    CallUsage, Decision, JudgeInfo, JudgeKind, MatchedTrait, ParseStatus, Persona, RawAnswer, Value,
};
use scrollsim_embed::{cosine, Embedder};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::config::{OfflineParams, StrategyKind};
use crate::{Judge, JudgeError, JudgeRequest};

type TraitVectors = Arc<Vec<Vec<f32>>>;

/// Trait vectors per trait list, shared by the offline judges of one environment.
#[derive(Default)]
pub(crate) struct TraitCache {
    map: Mutex<HashMap<[u8; 32], Arc<OnceCell<TraitVectors>>>>,
}

impl TraitCache {
    async fn get(
        &self,
        persona: &Persona,
        embedder: &dyn Embedder,
    ) -> Result<TraitVectors, JudgeError> {
        let mut h = Sha256::new();
        h.update(embedder.info().model.as_bytes());
        for t in &persona.traits {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        let key: [u8; 32] = h.finalize().into();
        let cell = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let traits: Vec<String> = persona
                .traits
                .iter()
                .map(|t| t.trim().to_string())
                .collect();
            let v = embedder.embed_texts(&traits).await.map_err(|e| {
                JudgeError::Other(format!(
                    "offline persona model: embedding the traits of persona {}: {e}",
                    persona.id
                ))
            })?;
            Ok(Arc::new(v))
        })
        .await
        .cloned()
    }
}

/// The offline persona model.
pub struct OfflineJudge {
    params: OfflineParams,
    embedder: Arc<dyn Embedder>,
    traits: Arc<TraitCache>,
    strategy: StrategyKind,
}

/// The scores behind one offline decision.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OfflineScores {
    pub value_relevance: f32,
    pub trait_similarity: f32,
    pub p_like: f32,
    pub draw: f64,
}

impl OfflineJudge {
    pub(crate) fn new(
        params: OfflineParams,
        embedder: Arc<dyn Embedder>,
        traits: Arc<TraitCache>,
        strategy: StrategyKind,
    ) -> Self {
        OfflineJudge {
            params,
            embedder,
            traits,
            strategy,
        }
    }

    async fn video_vector(&self, req: &JudgeRequest<'_>) -> Result<Option<Vec<f32>>, JudgeError> {
        if let Some(v) = req.text_vector {
            return Ok(Some(v.to_vec()));
        }
        let text = req.video.embedding_text();
        if text.trim().is_empty() {
            return Ok(None);
        }
        let mut v = self.embedder.embed_texts(&[text]).await.map_err(|e| {
            JudgeError::Other(format!(
                "offline persona model: embedding video {}: {e}",
                req.video.id
            ))
        })?;
        Ok(v.pop())
    }
}

/// Persona-weighted mean of the video's standardised value scores, with each value's
/// contribution `w_v z_v / sum|w|`.
pub fn value_relevance(
    weights: &scrollsim_core::PerValue<f32>,
    scores: &scrollsim_core::PerValue<f32>,
) -> (f32, Vec<(Value, f32)>) {
    let n = Value::ALL.len() as f32;
    let mean = scores.values().iter().sum::<f32>() / n;
    let var = scores
        .values()
        .iter()
        .map(|s| (s - mean).powi(2))
        .sum::<f32>()
        / n;
    let std = var.sqrt();
    let norm: f32 = weights.values().iter().map(|w| w.abs()).sum();
    if std < 1e-6 || norm == 0.0 {
        return (0.0, Vec::new());
    }
    let contrib: Vec<(Value, f32)> = Value::ALL
        .into_iter()
        .map(|v| (v, weights[v] * (scores[v] - mean) / std / norm))
        .collect();
    (contrib.iter().map(|(_, c)| c).sum(), contrib)
}

/// A uniform draw in [0, 1) from the session seed and the video id alone.
pub fn seeded_draw(seed: u64, video: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(b"scrollsim/offline-draw/v1");
    h.update(seed.to_le_bytes());
    h.update(video.as_bytes());
    let d = h.finalize();
    let x = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[async_trait]
impl Judge for OfflineJudge {
    fn info(&self) -> JudgeInfo {
        JudgeInfo {
            kind: JudgeKind::OfflinePersonaModel,
            provider: "offline".into(),
            model: format!(
                "offline persona model v1 (text embedder: {})",
                self.embedder.info().model
            ),
            strategy: self.strategy.into(),
            parser: scrollsim_core::AnswerParser::NotApplicable,
            prompt_version: None,
            structured: None,
            capability: None,
        }
    }

    async fn decide(&self, req: &JudgeRequest<'_>) -> Result<Decision, JudgeError> {
        let draw = seeded_draw(req.seed, req.video.id.as_str());
        let Some(persona) = req.persona else {
            let p = self.params.neutral_like_prob;
            let like = draw < p as f64;
            let scores = OfflineScores {
                value_relevance: 0.0,
                trait_similarity: 0.0,
                p_like: p,
                draw,
            };
            let reason = format!(
                "offline persona model (not a VLM), control arm: neutral model p(like) = {p:.2}; draw {draw:.3} -> {}",
                if like { "like" } else { "skip" }
            );
            return Ok(decision(like, reason, None, scores));
        };
        let (relevance, contrib) =
            value_relevance(&persona.weight_vector(), &req.video.value_scores);
        let traits = self.traits.get(persona, self.embedder.as_ref()).await?;
        let video = self.video_vector(req).await?;
        let (best, sim) = match &video {
            Some(x) => {
                if let Some(t) = traits.first().filter(|t| t.len() != x.len()) {
                    return Err(JudgeError::Config(format!(
                        "offline persona model: video {} has a text vector of dimension {} but the text embedder makes {}: the store's text vectors come from another embedder",
                        req.video.id,
                        x.len(),
                        t.len()
                    )));
                }
                traits
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i, cosine(x, t)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((0, 0.0))
            }
            None => (0, 0.0),
        };
        let OfflineParams {
            a,
            b,
            c,
            trait_threshold,
            ..
        } = self.params;
        let p = sigmoid(a * relevance + b * sim + c);
        let like = draw < p as f64;
        let matched = (video.is_some() && sim >= trait_threshold && !persona.traits.is_empty())
            .then(|| MatchedTrait {
                index: best,
                text: persona.traits[best].clone(),
            });
        let mut top = contrib.clone();
        top.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|(v, c)| format!("{v} {c:+.2}"))
            .collect();
        let trait_part = match (&video, &matched) {
            (None, _) => "no video text to compare with the traits".to_string(),
            (Some(_), Some(m)) => format!(
                "trait similarity {sim:.2} to {:?} (>= {trait_threshold:.2}: matched)",
                m.text
            ),
            (Some(_), None) => format!(
                "trait similarity {sim:.2} to {:?} (< {trait_threshold:.2}: no trait matched)",
                persona.traits.get(best).map(String::as_str).unwrap_or("")
            ),
        };
        let reason = format!(
            "offline persona model (not a VLM): value relevance {relevance:+.2} (largest contributions {}), {trait_part}; p(like) = sigmoid({a}*{relevance:.2} + {b}*{sim:.2} + {c}) = {p:.2}; draw {draw:.3} -> {}",
            if top.is_empty() { "none: no weights or flat value scores".to_string() } else { top.join(", ") },
            if like { "like" } else { "skip" }
        );
        let scores = OfflineScores {
            value_relevance: relevance,
            trait_similarity: sim,
            p_like: p,
            draw,
        };
        Ok(decision(like, reason, matched, scores))
    }
}

fn decision(
    like: bool,
    reason: String,
    matched: Option<MatchedTrait>,
    scores: OfflineScores,
) -> Decision {
    Decision {
        like,
        status: ParseStatus::Parsed,
        raw: vec![RawAnswer {
            question: "offline".into(),
            text: serde_json::to_string(&scores).expect("scores serialize"),
        }],
        reason: Some(reason),
        description: None,
        matched_trait: matched,
        isq: None,
        score: Some(scores.p_like),
        // No answer was read: the offline model decides without text.
        read: None,
        usage: CallUsage::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrollsim_core::PerValue;

    #[test]
    fn relevance_follows_the_weights() {
        let mut w = PerValue::<f32>::default();
        w[Value::Hedonism] = 0.9;
        w[Value::Tradition] = -0.4;
        let mut he = PerValue::from_fn(|_| 0.3);
        he[Value::Hedonism] = 0.6;
        let mut tr = PerValue::from_fn(|_| 0.3);
        tr[Value::Tradition] = 0.6;
        let (r_he, _) = value_relevance(&w, &he);
        let (r_tr, _) = value_relevance(&w, &tr);
        assert!(r_he > 1.0 && r_tr < 0.0, "{r_he} {r_tr}");
        // A common baseline does not matter.
        let shifted = he.map(|_, s| s + 0.2);
        assert!((value_relevance(&w, &shifted).0 - r_he).abs() < 1e-5);
        assert_eq!(value_relevance(&w, &PerValue::from_fn(|_| 0.4)).0, 0.0);
        assert_eq!(value_relevance(&PerValue::default(), &he).0, 0.0);
    }

    #[test]
    fn draw_is_uniform_and_order_free() {
        assert_eq!(seeded_draw(7, "v1"), seeded_draw(7, "v1"));
        assert_ne!(seeded_draw(7, "v1"), seeded_draw(8, "v1"));
        let n = 20_000;
        let below: usize = (0..n)
            .filter(|i| seeded_draw(1, &format!("v{i}")) < 0.3)
            .count();
        let share = below as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.02, "{share}");
    }
}
