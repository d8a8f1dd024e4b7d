//! `[report]`: settings of every output the report crate computes.

use scrollsim_core::config::Invalid;
use serde::{Deserialize, Serialize};

/// `[report]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Share of decisions salvaged by the lenient parser above which `run`, `inspect`, the
    /// report and the viewer warn (a fraction, 0-1).
    pub salvaged_warn: f64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            salvaged_warn: crate::quality::SALVAGED_WARN,
        }
    }
}

impl ReportConfig {
    /// Refuses a threshold outside 0-1, naming the key (relative to `[report]`).
    pub fn validate(&self) -> Result<(), Invalid> {
        if (0.0..=1.0).contains(&self.salvaged_warn) {
            Ok(())
        } else {
            Err(Invalid::new(
                "salvaged_warn",
                format!("a fraction between 0 and 1, not {}", self.salvaged_warn),
            ))
        }
    }
}
