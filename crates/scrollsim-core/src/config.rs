//! Reading TOML config with errors that name the file, the key and what was expected, and the
//! config types the core owns: the value catalogue (`config/values.toml`) and personas
//! (`config/personas/*.toml`).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::persona::Persona;
use crate::value::PerValue;

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Syntax or type error; `message` carries the line, the key and what was expected.
    #[error("{path}: {message}")]
    Toml { path: PathBuf, message: String },
    /// Parsed, but a value is not allowed.
    #[error("{path}: `{key}`: {expected}")]
    Invalid {
        path: PathBuf,
        key: String,
        expected: String,
    },
}

/// A setting that parsed but is not allowed: the key that holds it, dotted and relative to
/// where it was checked (`max_frames`, `foryou.epsilon`), and what is expected there. The
/// caller puts the key under its section ([`Invalid::within`]) and names the file
/// ([`Invalid::in_file`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {expected}")]
pub struct Invalid {
    pub key: String,
    pub expected: String,
}

impl Invalid {
    pub fn new(key: impl Into<String>, expected: impl Into<String>) -> Invalid {
        Invalid {
            key: key.into(),
            expected: expected.into(),
        }
    }

    /// The same, with the key under `section` (`keyframes` within `ingest`: `ingest.keyframes`).
    pub fn within(self, section: &str) -> Invalid {
        Invalid {
            key: format!("{section}.{}", self.key),
            ..self
        }
    }

    /// The error naming the file the setting came from.
    pub fn in_file(self, path: &Path) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: self.key,
            expected: self.expected,
        }
    }
}

/// A name that is not one of a closed set (a strategy, a parser, a cache mode...), as read from
/// config or a flag: what kind of name, what was given, and the names that are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`: expected {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub expected: &'static str,
}

impl UnknownName {
    pub fn new(kind: &'static str, given: &str, expected: &'static str) -> UnknownName {
        UnknownName {
            kind,
            given: given.to_string(),
            expected,
        }
    }
}

/// Parses TOML text that came from `origin`; errors name it.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Toml {
        path: origin.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// Reads and parses a TOML file.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path)
}

/// One value's definition and keyword seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSpec {
    /// One-line definition after Schwartz.
    pub definition: String,
    /// Keyword seeds for retrieval and value scoring. Ours, not the paper's (see the file).
    pub keywords: Vec<String>,
}

/// `config/values.toml`: the ten values with definitions and keyword seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueCatalog {
    /// Where the keyword lists come from (the paper did not publish its lists).
    pub provenance: String,
    pub values: PerValue<ValueSpec>,
}

impl ValueCatalog {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let c: ValueCatalog = load_toml(path)?;
        for (v, spec) in c.values.iter() {
            if spec.keywords.iter().all(|k| k.trim().is_empty()) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: format!("values.{v}.keywords"),
                    expected: "at least one keyword".into(),
                });
            }
        }
        Ok(c)
    }
}

/// Reads one persona file and checks it.
pub fn load_persona(path: &Path) -> Result<Persona, ConfigError> {
    let p: Persona = load_toml(path)?;
    p.validate().map_err(|e| e.in_file(path))?;
    Ok(p)
}

/// Reads every `*.toml` persona in a directory, sorted by id; duplicate ids are an error.
pub fn load_personas(dir: &Path) -> Result<Vec<Persona>, ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out: Vec<Persona> = Vec::new();
    for path in paths {
        let p = load_persona(&path)?;
        if out.iter().any(|q| q.id == p.id) {
            return Err(ConfigError::Invalid {
                path,
                key: "id".into(),
                expected: format!("a unique persona id; {:?} is used twice", p.id.as_str()),
            });
        }
        out.push(p);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_name_file_and_key() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            steps: u32,
        }
        let err = parse_toml::<S>("steps = \"many\"", Path::new("exp.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("exp.toml: "), "{msg}");
        assert!(msg.contains("steps") && msg.contains("u32"), "{msg}");
    }
}
