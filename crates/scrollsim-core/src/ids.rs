//! Identifiers that carry their meaning in the type: a `VideoId` is never confused with a
//! `PersonaId`, and an image hash is always 64 lowercase hex digits.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A video's identity in the corpus (file stem or the id from its metadata sidecar).
    VideoId
);
string_id!(
    /// A persona's identity (the file stem of `config/personas/<id>.toml`).
    PersonaId
);
string_id!(
    /// One session in a run: persona x model x strategy x policy x seed.
    SessionId
);
string_id!(
    /// One run directory under `runs/`.
    RunId
);
string_id!(
    /// Identifies the corpus a store held when a session ran (collection name plus a digest of
    /// its point ids), so a trace says which videos it could have seen.
    CorpusId
);

/// A file-name-safe form of a name: ASCII letters, digits, `.`, `_` and `-` kept, anything
/// else (`/`, `:`, spaces, non-ASCII) replaced by `fill`, so a name made of it cannot reach
/// outside its directory. Session ids join such parts with `__`.
pub fn file_safe(s: &str, fill: char) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                fill
            }
        })
        .collect()
}

/// A whole file name from any id: [`file_safe`] with `_`, no leading dot (not hidden, never
/// `..`), never empty.
pub fn file_slug(s: &str) -> String {
    let slug = file_safe(s, '_');
    match slug.trim_start_matches('.') {
        "" => "_".into(),
        rest => rest.to_string(),
    }
}

/// SHA-256 of an image's bytes, 64 lowercase hex digits: the key of the content-addressed
/// image store. Traces carry these, never the bytes.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct ImageHash(String);

impl ImageHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is not a SHA-256 hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 image hash (64 lowercase hex digits): {0:?}")]
pub struct BadImageHash(pub String);

impl TryFrom<String> for ImageHash {
    type Error = BadImageHash;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(ImageHash(s))
        } else {
            Err(BadImageHash(s))
        }
    }
}

impl std::str::FromStr for ImageHash {
    type Err = BadImageHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageHash::try_from(s.to_string())
    }
}

impl From<ImageHash> for String {
    fn from(h: ImageHash) -> String {
        h.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hash_validates() {
        let ok = "a".repeat(64);
        assert!(ok.parse::<ImageHash>().is_ok());
        assert!("A".repeat(64).parse::<ImageHash>().is_err());
        assert!("abc".parse::<ImageHash>().is_err());
        assert!(serde_json::from_str::<ImageHash>("\"../../etc/passwd\"").is_err());
    }
}
