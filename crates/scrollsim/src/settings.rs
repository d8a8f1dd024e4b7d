//! The resolved configuration: `config/default.toml` with each `--config` file layered over it
//! in order (any subset of keys), each section owned by the crate that uses it. A bad file is an error naming the file, the key and what was expected.

use std::collections::BTreeMap;
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

/// The repository's `config/default.toml` as this binary was built: the base layer when no
/// `config/default.toml` is found in the working directory (an unpacked archive, another
/// directory), so a partial file still layers over complete defaults.
const BUILT_IN: &str = include_str!("../../../config/default.toml");

/// Where the base layer is looked for, relative to the working directory.
pub const DEFAULT_FILE: &str = "config/default.toml";

/// The origin of the built-in base layer, as `config show` prints it.
pub const BUILT_IN_ORIGIN: &str = "built-in config/default.toml";

/// The configuration files that were layered and which one set each value.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// Origins in the order they were layered (the base first).
    pub layers: Vec<String>,
    /// The merged tables, before the environment's overrides.
    pub merged: toml::Table,
    /// Dotted key of every leaf value -> the layer that set it last.
    pub origin: BTreeMap<String, String>,
}

/// Merges `over` into `base`: tables merge key by key, any other value (arrays included)
/// replaces the earlier one. Every leaf set is attributed to `origin`.
fn merge(
    base: &mut toml::Table,
    over: toml::Table,
    prefix: &str,
    origin: &str,
    out: &mut BTreeMap<String, String>,
) {
    for (k, v) in over {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                merge(b, o, &key, origin, out);
            }
            (_, v) => {
                // A value that replaces a table (or a table that replaces a value) drops the
                // earlier origins under it.
                out.retain(|k, _| !k.starts_with(&format!("{key}.")));
                attribute(&v, &key, origin, out);
                base.insert(k, v);
            }
        }
    }
}

fn attribute(v: &toml::Value, key: &str, origin: &str, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                attribute(v, &format!("{key}.{k}"), origin, out);
            }
        }
        _ => {
            out.insert(key.to_string(), origin.to_string());
        }
    }
}

fn parse_layer(text: &str, origin: &Path) -> anyhow::Result<toml::Table> {
    scrollsim_core::config::parse_toml::<toml::Table>(text, origin).map_err(anyhow::Error::from)
}

/// Deserialises merged tables and checks the values serde cannot; the error names the key
/// path.
fn settings_from(table: &toml::Table) -> anyhow::Result<Settings> {
    let s: Settings =
        serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
            let path = e.path().to_string();
            if path == "." || path.is_empty() {
                anyhow::anyhow!("{}", e.inner())
            } else {
                anyhow::anyhow!("`{path}`: {}", e.inner())
            }
        })?;
    s.report
        .validate()
        .map_err(|e| anyhow::anyhow!("{}", e.within("report")))?;
    Ok(s)
}

impl Settings {
    /// `config/default.toml` (or the copy built in), then each of `files` in order, each
    /// setting any subset of keys; then the environment's overrides.
    pub fn load(files: &[PathBuf]) -> anyhow::Result<(Settings, Provenance)> {
        let mut layers: Vec<(String, toml::Table)> = Vec::new();
        let base = Path::new(DEFAULT_FILE);
        if base.is_file() {
            let text = std::fs::read_to_string(base)
                .with_context(|| format!("reading config {}", base.display()))?;
            layers.push((DEFAULT_FILE.into(), parse_layer(&text, base)?));
        } else {
            layers.push((
                BUILT_IN_ORIGIN.into(),
                parse_layer(BUILT_IN, Path::new(BUILT_IN_ORIGIN))?,
            ));
        }
        for f in files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading config {}", f.display()))?;
            layers.push((f.display().to_string(), parse_layer(&text, f)?));
        }
        let mut prov = Provenance::default();
        for (origin, table) in layers {
            merge(&mut prov.merged, table, "", &origin, &mut prov.origin);
            // Checked after each layer, so an error names the file that introduced it.
            settings_from(&prov.merged).map_err(|e| anyhow::anyhow!("config {origin}: {e}"))?;
            prov.layers.push(origin);
        }
        let mut s = settings_from(&prov.merged)?;
        // SCROLLSIM_VLM_URL / SCROLLSIM_VLM_MODEL (docker-compose's `vlm` profile).
        s.judge.apply_env().map_err(anyhow::Error::msg)?;
        Ok((s, prov))
    }
}

/// Environment variables that override the files, with what they override, when set.
pub fn env_overrides() -> Vec<(&'static str, &'static str, String)> {
    use scrollsim_store::config::{ENV_BACKEND, ENV_URL as QDRANT_URL};
    use scrollsim_vlm::config::{ENV_KEY_ENV, ENV_MODEL, ENV_URL};
    [
        (ENV_BACKEND, "store.backend"),
        (QDRANT_URL, "store.url"),
        (ENV_URL, "judge.models.local.base_url"),
        (ENV_MODEL, "judge.models.local.model"),
        (ENV_KEY_ENV, "judge.models.local.api_key_env"),
    ]
    .into_iter()
    .filter_map(|(var, key)| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (var, key, v))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn later_layers_win_key_by_key_and_are_attributed() {
        let mut merged = t(BUILT_IN);
        let mut origin = BTreeMap::new();
        merge(
            &mut merged,
            t("[paths]\ndata = \"d1\"\nruns = \"r1\"\n"),
            "",
            "a.toml",
            &mut origin,
        );
        merge(
            &mut merged,
            t("[paths]\nruns = \"r2\"\n[store.index]\nef = 99\n"),
            "",
            "b.toml",
            &mut origin,
        );
        let s = settings_from(&merged).unwrap();
        assert_eq!(s.paths.data, PathBuf::from("d1"));
        assert_eq!(s.paths.runs, PathBuf::from("r2"));
        assert_eq!(s.paths.fixtures, PathBuf::from("fixtures"));
        assert_eq!(s.store.index.ef, 99);
        assert_eq!(s.store.index.m, 16);
        assert_eq!(origin["paths.data"], "a.toml");
        assert_eq!(origin["paths.runs"], "b.toml");
        assert_eq!(origin["store.index.ef"], "b.toml");
        assert!(!origin.contains_key("paths.fixtures"));
    }

    #[test]
    fn a_bad_key_is_named_with_its_path() {
        let mut merged = t(BUILT_IN);
        merge(
            &mut merged,
            t("[store.index]\nef = \"many\"\n"),
            "",
            "x",
            &mut BTreeMap::new(),
        );
        let e = settings_from(&merged).unwrap_err().to_string();
        assert!(e.contains("store.index.ef"), "{e}");
        let mut merged = t(BUILT_IN);
        merge(
            &mut merged,
            t("[paths]\nfixturez = \"f\"\n"),
            "",
            "x",
            &mut BTreeMap::new(),
        );
        let e = settings_from(&merged).unwrap_err().to_string();
        assert!(e.contains("fixturez"), "{e}");
    }

    #[test]
    fn a_value_out_of_range_is_named_with_its_path() {
        let mut merged = t(BUILT_IN);
        merge(
            &mut merged,
            t("[report]\nsalvaged_warn = 5.0\n"),
            "",
            "x",
            &mut BTreeMap::new(),
        );
        let e = settings_from(&merged).unwrap_err().to_string();
        assert!(
            e.contains("`report.salvaged_warn`") && e.contains("between 0 and 1"),
            "{e}"
        );
    }
}
