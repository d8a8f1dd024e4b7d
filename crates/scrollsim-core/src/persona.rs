//! Personas in the Persona-Chat style: a short list of trait sentences, with optional weights
//! over the ten values that say which videos the persona should find aligned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Invalid;
use crate::ids::PersonaId;
use crate::value::{PerValue, SparseWeights, Value};

/// A persona as written in `config/personas/<id>.toml` and recorded in every trace header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Persona {
    pub id: PersonaId,
    /// A short human label ("Family-oriented parent").
    pub name: String,
    /// Trait sentences as the persona would say them ("I have three cats").
    pub traits: Vec<String>,
    /// How much the persona cares about each value (unnamed values are zero). Used by the
    /// offline persona model and to decide which videos count as persona-aligned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<SparseWeights>,
    /// Optional free-text description, added to the system prompt when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A trait sentence the judge said a video matched, by position in [`Persona::traits`] and by
/// text (so a trace reads on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatchedTrait {
    pub index: usize,
    pub text: String,
}

impl Persona {
    /// The persona's weights as a dense vector (all zero when none are given).
    pub fn weight_vector(&self) -> PerValue<f32> {
        self.weights.map(|w| w.0).unwrap_or_default()
    }

    /// Values the persona counts as its own: weight at least `threshold`. This is what
    /// "persona-aligned" means in alignment metrics; the threshold is a config value.
    pub fn aligned_values(&self, threshold: f32) -> Vec<Value> {
        let w = self.weight_vector();
        Value::ALL
            .into_iter()
            .filter(|v| w[*v] >= threshold && w[*v] > 0.0)
            .collect()
    }

    /// Checks what serde cannot: a persona needs at least one trait and a non-empty id.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.id.as_str().trim().is_empty() {
            return Err(Invalid::new("id", "must not be empty"));
        }
        if self.traits.iter().all(|t| t.trim().is_empty()) {
            return Err(Invalid::new(
                "traits",
                "must list at least one trait sentence",
            ));
        }
        if let Some(w) = &self.weights {
            if let Some((v, x)) = w.0.iter().find(|(_, x)| !(-1.0..=1.0).contains(*x)) {
                return Err(Invalid::new(
                    format!("weights.{v}"),
                    format!("{x}: weights must lie in [-1, 1]"),
                ));
            }
        }
        Ok(())
    }

    /// Finds a trait by its text, for parsers that get the trait sentence back from a model.
    pub fn find_trait(&self, text: &str) -> Option<MatchedTrait> {
        let needle = text.trim().trim_end_matches('.').to_lowercase();
        if needle.is_empty() {
            return None;
        }
        self.traits.iter().enumerate().find_map(|(i, t)| {
            let hay = t.trim().trim_end_matches('.').to_lowercase();
            (hay == needle || hay.contains(&needle) || needle.contains(&hay)).then(|| {
                MatchedTrait {
                    index: i,
                    text: t.clone(),
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Persona {
        toml::from_str(
            r#"
            id = "family"
            name = "Family-oriented parent"
            traits = ["I have two young kids.", "Sunday dinner with my parents is sacred."]
            weights = { BE = 0.9, TR = 0.6, SE = 0.4, HE = -0.2 }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn aligned_values_use_threshold() {
        let p = parent();
        assert_eq!(
            p.aligned_values(0.5),
            vec![Value::Tradition, Value::Benevolence]
        );
        assert_eq!(p.aligned_values(0.3).len(), 3);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn find_trait_matches_loosely() {
        let p = parent();
        assert_eq!(p.find_trait("i have two young kids").unwrap().index, 0);
        assert!(p.find_trait("I like jazz").is_none());
        assert!(p.find_trait("NA").is_none());
    }

    #[test]
    fn validate_rejects_out_of_range_weights() {
        let mut p = parent();
        p.weights.as_mut().unwrap().0[Value::Power] = 3.0;
        assert_eq!(p.validate().unwrap_err().key, "weights.PO");
    }
}
