//! A call as it enters the call stack: the rendered request, its cache key and the material the
//! key was computed from.
//!
//! The key is SHA-256 over a canonical JSON of: provider, model, strategy, prompt template
//! version, which question, the rendered system and user text, the image HASHES (never the
//! bytes), generation settings, the requested answer schema, and the session seed. The session
//! seed is part of the key so replicate seeds are independent samples; two sessions with the
//! same seed (say, two feed policies) share answers for the same persona, video and prompt.
//! Nothing secret is part of the material: no key, no header, no endpoint.

use std::sync::Arc;

use scrollsim_core::ImageHash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chat::{AnswerSchema, ChatRequest};
use crate::config::GenerationSettings;

/// Version of the key material layout; bump it when the material changes meaning.
pub const KEY_FORMAT: u32 = 1;

/// What a cache key is computed from, stored with each recording so a cache entry explains
/// itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyMaterial {
    pub format: u32,
    pub provider: String,
    pub model: String,
    pub strategy: String,
    pub prompt_version: String,
    /// `answer` or `describe`.
    pub question: String,
    pub system: Option<String>,
    pub user: String,
    pub images: Vec<ImageHash>,
    pub settings: GenerationSettings,
    pub schema: Option<AnswerSchema>,
    pub seed: u64,
}

impl KeyMaterial {
    /// The cache key: lowercase hex SHA-256 of the material's canonical JSON.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("key material serializes");
        hex::encode(Sha256::digest(&json))
    }
}

/// One call through the stack. Cheap to clone (the request is shared), as retries need.
#[derive(Debug, Clone)]
pub struct Call {
    pub key: String,
    pub material: Arc<KeyMaterial>,
    pub request: Arc<ChatRequest>,
    /// Estimated prompt tokens (for rate limits and budget reservations).
    pub est_prompt_tokens: u64,
    /// What the call is about, for error messages (`video v12, persona partygoer, answer`).
    pub what: String,
}

impl Call {
    pub fn new(
        material: KeyMaterial,
        request: ChatRequest,
        tokens_per_image: u32,
        what: String,
    ) -> Self {
        let est_prompt_tokens = request.estimated_prompt_tokens(tokens_per_image);
        Call {
            key: material.key(),
            material: Arc::new(material),
            request: Arc::new(request),
            est_prompt_tokens,
            what,
        }
    }

    /// Prompt estimate plus the completion cap: what one attempt may cost at most.
    pub fn est_total_tokens(&self) -> u64 {
        self.est_prompt_tokens + self.request.settings.max_tokens as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(user: &str, seed: u64) -> KeyMaterial {
        KeyMaterial {
            format: KEY_FORMAT,
            provider: "openai".into(),
            model: "gpt-4o".into(),
            strategy: "simple".into(),
            prompt_version: "1".into(),
            question: "answer".into(),
            system: Some("You are...".into()),
            user: user.into(),
            images: vec!["a".repeat(64).parse().unwrap()],
            settings: GenerationSettings::default(),
            schema: None,
            seed,
        }
    }

    #[test]
    fn key_is_stable_and_covers_the_material() {
        let a = material("Do you like it?", 1);
        assert_eq!(a.key(), material("Do you like it?", 1).key());
        assert_eq!(a.key().len(), 64);
        assert_ne!(a.key(), material("Do you like it?", 2).key());
        assert_ne!(a.key(), material("Do you like this?", 1).key());
        let mut hotter = material("Do you like it?", 1);
        hotter.settings.temperature = Some(0.7);
        assert_ne!(a.key(), hotter.key());
    }
}
