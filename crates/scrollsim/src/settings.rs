//! The resolved configuration: `config/default.toml` (or `--config`), each section owned by the
//! crate that uses it. A bad file is an error naming the file, the key and what was expected.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Where data, runs and models live (relative paths are relative to the working directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// Embedded store, image store and the call cache.
    pub data: PathBuf,
    /// One directory per run.
    pub runs: PathBuf,
    /// Local model weights (all-MiniLM-L6-v2, CLIP).
    pub models: PathBuf,
    /// The fixture corpus.
    pub fixtures: PathBuf,
    /// `values.toml` and `personas/`.
    pub config: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            data: "data".into(),
            runs: "runs".into(),
            models: "models".into(),
            fixtures: "fixtures".into(),
            config: "config".into(),
        }
    }
}

/// Every section of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub paths: Paths,
    /// `[store]`: embedded Qdrant or a Qdrant server, collection and index (scrollsim-store).
    /// `SCROLLSIM_STORE_BACKEND` and `QDRANT_URL` override the file.
    #[serde(
        default = "scrollsim_store::config::default_with_env",
        deserialize_with = "scrollsim_store::config::deserialize_with_env"
    )]
    pub store: scrollsim_store::StoreConfig,
    /// `[embedder]`: text and image embedders and value-score settings.
    #[serde(default)]
    pub embedder: scrollsim_embed::EmbedderConfig,
    /// `[ingest]`: batching, concurrency, keyframes and value labelling.
    #[serde(default)]
    pub ingest: scrollsim_ingest::IngestConfig,
    /// `[judge]`: models, strategies, cache mode, budget, offline model (scrollsim-vlm).
    #[serde(default)]
    pub judge: scrollsim_vlm::JudgeConfig,
    /// `[policy]`: feed policies, dwell and platform presets (scrollsim-sim).
    #[serde(default)]
    pub policy: scrollsim_sim::PolicyConfig,
    /// `[demo]`: what `scrollsim demo` runs.
    #[serde(default)]
    pub demo: DemoConfig,
    /// `[report]`: settings of the numbers every output prints (scrollsim-report).
    #[serde(default)]
    pub report: scrollsim_report::ReportConfig,
}

/// `[demo]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// The persona study the demo runs (sized for the fixture corpus).
    pub experiment: PathBuf,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            experiment: "experiments/demo.toml".into(),
        }
    }
}

impl Settings {
    pub fn load(path: &Path) -> anyhow::Result<Settings> {
        let mut s: Settings = scrollsim_core::config::load_toml(path)
            .with_context(|| format!("loading config {}", path.display()))?;
        // SCROLLSIM_VLM_URL / SCROLLSIM_VLM_MODEL (docker-compose's `vlm` profile).
        s.judge.apply_env().map_err(anyhow::Error::msg)?;
        Ok(s)
    }
}
