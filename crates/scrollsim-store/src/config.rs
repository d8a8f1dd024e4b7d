//! `[store]` in the config file: which backend, where, and the index parameters that decide
//! speed against recall. Defaults are tuned on the benchmark (`scrollsim bench store`, figures
//! in docs/store.md).

use scrollsim_core::config::Invalid;
use serde::{Deserialize, Deserializer, Serialize};

/// Which engine serves the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// qdrant-edge in-process, persisted under `<data>/qdrant/<collection>`. No server needed.
    #[default]
    Embedded,
    /// A Qdrant server or cluster over gRPC (qdrant-client).
    Server,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Server => "server",
        }
    }
}

/// How many replicas of a shard a read asks (Qdrant's read consistency), `store.read_consistency`:
/// a number of replicas in TOML (`1`), or `"majority"`, `"quorum"`, `"all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// This many replicas answer; a point is returned only if all of them have it.
    Replicas(u32),
    /// Every replica answers; a point is returned if most of them have it.
    Majority,
    /// More than half of the replicas answer; a point is returned if all of those have it.
    Quorum,
    /// Every replica answers; a point is returned only if all of them have it.
    All,
}

impl std::fmt::Display for ReadConsistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadConsistency::Replicas(n) => write!(f, "{n}"),
            ReadConsistency::Majority => f.write_str("majority"),
            ReadConsistency::Quorum => f.write_str("quorum"),
            ReadConsistency::All => f.write_str("all"),
        }
    }
}

impl Serialize for ReadConsistency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ReadConsistency::Replicas(n) => s.serialize_u32(*n),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ReadConsistency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ReadConsistency;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of replicas (1, 2, ...) or \"majority\", \"quorum\", \"all\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ReadConsistency, E> {
                match u32::try_from(n) {
                    Ok(n) if n >= 1 => Ok(ReadConsistency::Replicas(n)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(n), &self)),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ReadConsistency, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(n), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ReadConsistency, E> {
                match s {
                    "majority" => Ok(ReadConsistency::Majority),
                    "quorum" => Ok(ReadConsistency::Quorum),
                    "all" => Ok(ReadConsistency::All),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The `[store]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: Backend,
    /// Collection name (embedded: a directory under `<data>/qdrant/`).
    pub collection: String,
    /// Server backend: gRPC URL (port 6334 by default, not the REST port 6333).
    pub url: String,
    /// Server backend: the NAME of the environment variable holding the API key. The key itself
    /// never appears in config, logs or traces.
    pub api_key_env: Option<String>,
    /// Shards a new collection is split into, by point id; an existing collection keeps the
    /// count it was created with. Embedded: qdrant-edge shards, written and indexed in parallel
    /// and each asked by every query (measured at 50,000 videos on 2 cores, 2 shards against
    /// 1: index build 38 s instead of 53, upsert and query latency worse; docs/store.md).
    /// Server: Qdrant shards (at least the node count spreads a cluster).
    pub shards: u32,
    /// Server backend: copies of each shard when the collection is created (cluster only).
    pub replication: u32,
    /// Server backend: copies of a shard that must apply a write for it to succeed (set when
    /// the collection is created; at most `replication`). 1 keeps writes working while a node
    /// is down; the copy on that node is rebuilt from the others when it comes back.
    pub write_consistency_factor: u32,
    /// Server backend: replicas of a shard each read asks (`1`, the default, `2`, ...), or
    /// `"majority"`, `"quorum"`, `"all"`. Only 1 keeps reads working while a replica is down
    /// with `replication = 2`; more returns only what the replicas agree on (docs/store.md).
    pub read_consistency: ReadConsistency,
    /// Server backend: deadline for each gRPC call, in seconds.
    pub timeout_s: f64,
    /// Server backend: retries of a call that failed transiently (Unavailable,
    /// DeadlineExceeded, ResourceExhausted), with exponential backoff and jitter.
    pub retries: u32,
    /// Server backend: first backoff delay in milliseconds; doubles per retry (capped at 10 s).
    pub retry_base_ms: u64,
    /// Server backend: once a call gave up on an unreachable server, calls fail at once (the
    /// circuit breaker); every this many seconds one call is let through to see whether the
    /// server is back.
    pub breaker_cooldown_s: f64,
    /// Points per upsert request.
    pub upsert_batch: usize,
    /// Embedded: parsed videos kept in memory so repeat search hits skip the payload parse
    /// (~1 KB of JSON each). About 1 KB of memory per entry; 0 turns it off.
    pub cache_videos: usize,
    /// Index parameters, applied when a collection is created (search `ef` on every query).
    pub index: IndexParams,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Embedded,
            collection: "videos".into(),
            url: "http://localhost:6334".into(),
            api_key_env: None,
            shards: 1,
            replication: 1,
            write_consistency_factor: 1,
            read_consistency: ReadConsistency::Replicas(1),
            timeout_s: 10.0,
            retries: 5,
            retry_base_ms: 100,
            breaker_cooldown_s: 5.0,
            upsert_batch: 512,
            cache_videos: 200_000,
            index: IndexParams::default(),
        }
    }
}

/// HNSW and segment parameters (`[store.index]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexParams {
    /// HNSW edges per node.
    pub m: usize,
    /// HNSW beam width while building.
    pub ef_construct: usize,
    /// HNSW beam width while searching (raised to the result limit when smaller).
    pub ef: usize,
    /// HNSW beam width for queries with a payload filter (platform, topic, labels, scores,
    /// dates, duration). A filter thins the graph the search may walk; a wider beam keeps
    /// recall (measured: 0.86 with `ef` alone on a 5 % filter at 200,000 videos).
    pub ef_filtered: usize,
    /// Below this many KB of matching vectors a filtered query scans instead of walking the
    /// graph (1 KB is one 256-d vector).
    pub full_scan_threshold_kb: usize,
    /// Segments larger than this many KB of vectors get an HNSW index; smaller ones are scanned.
    pub indexing_threshold_kb: usize,
    /// Target number of segments (embedded searches them one after another, so fewer is
    /// faster per query; a server searches them in parallel).
    pub segments: usize,
    /// Largest segment in KB of vectors (0: the engine's default).
    pub max_segment_size_kb: usize,
    /// Every vector query scans what matches instead of walking the HNSW graph. A cluster's
    /// replicas each build their own graph, so indexed hits can differ with the replica that
    /// answers; exact search gives the same hits from any replica (identical traces after a
    /// failover) at the cost of a scan per query (docs/store.md).
    pub exact: bool,
}

impl IndexParams {
    /// The search beam for a query returning `limit` hits, filtered or not.
    pub fn search_ef(&self, filtered: bool, limit: usize) -> usize {
        let ef = if filtered { self.ef_filtered } else { self.ef };
        ef.max(limit)
    }
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            m: 16,
            ef_construct: 100,
            ef: 64,
            ef_filtered: 256,
            full_scan_threshold_kb: 10_000,
            indexing_threshold_kb: 10_000,
            segments: 1,
            max_segment_size_kb: 0,
            exact: false,
        }
    }
}

/// Environment variable that overrides `store.backend` (`embedded` or `server`).
pub const ENV_BACKEND: &str = "SCROLLSIM_STORE_BACKEND";
/// Environment variable that overrides `store.url` (as docker-compose.yml sets it).
pub const ENV_URL: &str = "QDRANT_URL";
/// When `store.api_key_env` is unset and this variable holds a key, the server backend sends
/// it (Qdrant's own name for it; deploy/ sets it from a Kubernetes Secret or the job's
/// environment). The key is read from the environment only, never written anywhere.
pub const ENV_API_KEY: &str = "QDRANT_API_KEY";

/// For `#[serde(deserialize_with)]` on the `[store]` section: reads it, then applies the
/// environment overrides, so they sit between the config file and command-line flags.
pub fn deserialize_with_env<'de, D: Deserializer<'de>>(d: D) -> Result<StoreConfig, D::Error> {
    StoreConfig::deserialize(d)?
        .with_env_overrides()
        .map_err(serde::de::Error::custom)
}

/// For `#[serde(default)]` when a config file has no `[store]`: the defaults with the
/// environment overrides. An invalid override is left out here and reported by
/// [`StoreConfig::validate`].
pub fn default_with_env() -> StoreConfig {
    StoreConfig::default()
        .with_env_overrides()
        .unwrap_or_default()
}

/// The backend an [`ENV_BACKEND`] value names; blank or unset: none.
fn backend_override(raw: Option<String>) -> Result<Option<Backend>, Invalid> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("embedded") => Ok(Some(Backend::Embedded)),
        Some("server") => Ok(Some(Backend::Server)),
        Some(other) => Err(Invalid::new(
            format!("environment variable {ENV_BACKEND}"),
            format!("`embedded` or `server`, got {other:?}"),
        )),
    }
}

impl StoreConfig {
    /// Applies the environment overrides [`ENV_BACKEND`] and [`ENV_URL`] (containers and CI
    /// point scrollsim at a server without editing the config file).
    pub fn with_env_overrides(self) -> Result<Self, Invalid> {
        let mut s =
            self.with_overrides(std::env::var(ENV_BACKEND).ok(), std::env::var(ENV_URL).ok())?;
        if s.api_key_env.is_none() && std::env::var(ENV_API_KEY).is_ok_and(|k| !k.is_empty()) {
            s.api_key_env = Some(ENV_API_KEY.into());
        }
        Ok(s)
    }

    fn with_overrides(
        mut self,
        backend: Option<String>,
        url: Option<String>,
    ) -> Result<Self, Invalid> {
        if let Some(b) = backend_override(backend)? {
            self.backend = b;
        }
        if let Some(u) = url.filter(|u| !u.trim().is_empty()) {
            self.url = u.trim().to_string();
        }
        Ok(self)
    }

    /// Checks values serde cannot: names the key that is wrong.
    pub fn validate(&self) -> Result<(), Invalid> {
        let bad = |key: &str, expected: &str| Err(Invalid::new(format!("store.{key}"), expected));
        if self.collection.is_empty()
            || !self
                .collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad(
                "collection",
                "letters, digits, `_` and `-` only (it names a directory)",
            );
        }
        if self.shards == 0 {
            return bad("shards", "at least 1");
        }
        if self.replication == 0 {
            return bad("replication", "at least 1");
        }
        if self.write_consistency_factor == 0 || self.write_consistency_factor > self.replication {
            return bad(
                "write_consistency_factor",
                "at least 1 and at most `replication` (a write cannot wait for more copies than exist)",
            );
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return bad("timeout_s", "a positive number of seconds");
        }
        if !(self.breaker_cooldown_s.is_finite() && self.breaker_cooldown_s >= 0.0) {
            return bad("breaker_cooldown_s", "zero or a positive number of seconds");
        }
        if self.upsert_batch == 0 {
            return bad("upsert_batch", "at least 1");
        }
        if self.index.m < 4
            || self.index.ef_construct < 4
            || self.index.ef == 0
            || self.index.ef_filtered == 0
        {
            return bad(
                "index",
                "m >= 4, ef_construct >= 4, ef >= 1 and ef_filtered >= 1",
            );
        }
        if self.index.segments == 0 {
            return bad("index.segments", "at least 1");
        }
        backend_override(std::env::var(ENV_BACKEND).ok())?;
        if let Some(var) = &self.api_key_env {
            if var.is_empty() || var.contains('=') {
                return bad(
                    "api_key_env",
                    "the name of an environment variable, not a key",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_from_empty_and_unknown_keys_are_rejected() {
        let cfg: StoreConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, StoreConfig::default());
        assert!(cfg.validate().is_ok());
        let err = toml::from_str::<StoreConfig>("colection = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colection"), "{err}");
        let cfg: StoreConfig = toml::from_str("backend = \"server\"\n[index]\nm = 32\n").unwrap();
        assert_eq!(cfg.backend, Backend::Server);
        assert_eq!(cfg.index.m, 32);
        assert_eq!(cfg.index.ef, IndexParams::default().ef);
    }

    #[test]
    fn filtered_queries_search_with_the_wider_beam() {
        use crate::Filter;
        use scrollsim_core::{Platform, VideoId};
        let p = IndexParams::default();
        let seen = Filter::excluding([VideoId::new("a")]);
        assert!(
            !seen.selects(),
            "excluding seen ids alone is not a payload filter"
        );
        let tiktok = Filter {
            platforms: vec![Platform::tiktok()],
            ..seen.clone()
        };
        assert!(tiktok.selects());
        assert_eq!(p.search_ef(seen.selects(), 10), p.ef);
        assert_eq!(p.search_ef(tiktok.selects(), 10), p.ef_filtered);
        assert_eq!(
            p.search_ef(true, 1000),
            1000,
            "never below the result limit"
        );
    }

    #[test]
    fn read_consistency_is_a_count_or_a_level() {
        let read = |v: &str| {
            toml::from_str::<StoreConfig>(&format!("read_consistency = {v}"))
                .map(|c| c.read_consistency)
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("2"), Ok(ReadConsistency::Replicas(2)));
        assert_eq!(read("\"majority\""), Ok(ReadConsistency::Majority));
        assert_eq!(read("\"quorum\""), Ok(ReadConsistency::Quorum));
        assert_eq!(read("\"all\""), Ok(ReadConsistency::All));
        for bad in ["0", "-1", "\"most\""] {
            let err = read(bad).unwrap_err();
            assert!(
                err.contains("read_consistency") && err.contains("majority"),
                "{bad}: {err}"
            );
        }
        let cfg = StoreConfig {
            read_consistency: ReadConsistency::All,
            ..Default::default()
        };
        let back: StoreConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn a_write_cannot_wait_for_more_copies_than_exist() {
        let cfg = StoreConfig {
            replication: 2,
            write_consistency_factor: 3,
            ..Default::default()
        };
        assert_eq!(
            cfg.validate().unwrap_err().key,
            "store.write_consistency_factor"
        );
        let cfg = StoreConfig {
            write_consistency_factor: 2,
            ..cfg
        };
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn environment_overrides_backend_and_url() {
        let cfg = StoreConfig::default()
            .with_overrides(Some("server".into()), Some("http://qdrant:6334".into()))
            .unwrap();
        assert_eq!(
            (cfg.backend, cfg.url.as_str()),
            (Backend::Server, "http://qdrant:6334")
        );
        let same = StoreConfig::default()
            .with_overrides(None, Some(" ".into()))
            .unwrap();
        assert_eq!(same, StoreConfig::default());
        let err = StoreConfig::default()
            .with_overrides(Some("cloud".into()), None)
            .unwrap_err();
        assert!(
            err.key.contains(ENV_BACKEND) && err.expected.contains("cloud"),
            "{err}"
        );
    }

    #[test]
    fn validate_names_the_key() {
        let cfg = StoreConfig {
            collection: "../etc".into(),
            ..Default::default()
        };
        assert_eq!(cfg.validate().unwrap_err().key, "store.collection");
        let cfg = StoreConfig {
            api_key_env: Some("sk-123=abc".into()),
            ..Default::default()
        };
        assert_eq!(cfg.validate().unwrap_err().key, "store.api_key_env");
    }
}
