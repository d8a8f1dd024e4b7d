//! The paper's published P values (`data/value-spectrum-published.toml`, shipped in the
//! crate) and a run's agreement with them: Spearman's rho per model present in both, over the
//! values the paper's table gives, with its caveats printed beside it.

use scrollsim_core::Value;
use serde::{Deserialize, Serialize};

use crate::aggregate::{GroupSummary, PAttribution};
use crate::stats::{spearman, Spearman};
use crate::table::Table;

/// The data file's text, compiled in so an installed binary carries it.
pub const PUBLISHED_TOML: &str = include_str!("../data/value-spectrum-published.toml");

/// The published table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub source: String,
    pub confidence: String,
    /// Value codes, in the order of each model's `p`.
    pub values: Vec<Value>,
    pub models: Vec<PublishedModel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedModel {
    pub name: String,
    pub aliases: Vec<String>,
    pub p: Vec<f64>,
}

impl Published {
    /// The shipped table (checked by the tests: it parses, and every row has one P per value).
    pub fn shipped() -> Published {
        toml::from_str(PUBLISHED_TOML).expect("the shipped data file parses (tested)")
    }

    /// The paper's model a run's model id stands for: its name or an alias, case-insensitive,
    /// after a `provider/` prefix is dropped.
    pub fn model(&self, id: &str) -> Option<&PublishedModel> {
        let id = id.rsplit('/').next().unwrap_or(id).trim().to_lowercase();
        self.models.iter().find(|m| {
            m.name.to_lowercase() == id || m.aliases.iter().any(|a| a.to_lowercase() == id)
        })
    }
}

/// One model of a run against the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperComparison {
    /// The run's model label and the group it was read from (e.g. `gpt-4o | control`).
    pub model: String,
    pub group: String,
    pub paper_model: String,
    pub attribution: PAttribution,
    /// The run's P on the paper's values (None where the run has none).
    pub ours: Vec<Option<f64>>,
    pub paper: Vec<f64>,
    /// Spearman's rho over the values both have (None with fewer than three).
    pub spearman: Option<Spearman>,
}

/// What every comparison with the paper prints beside it.
pub fn caveats(p: &Published) -> String {
    format!(
        "Caveats: only {} of the ten values are published, so rho rests on {} pairs and its \
         p-value (exact, over all orderings) can never be small; the figures are a {} ({}). \
         The paper's P came from its keyword benchmark over about 50 screenshots per value; \
         compare a run of the same design (experiments/value-spectrum.toml), and read a \
         difference in level (P) apart from a difference in order (rho).",
        p.values.len(),
        p.values.len(),
        p.confidence,
        p.source
    )
}

/// The model id inside a table's model label (`gpt-4o (text-only)` -> `gpt-4o`).
fn model_id(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

/// Per group whose model is in the paper's table: its P on the paper's values and rho.
/// `groups` are keyed with the model at `model_dim`; groups of the control arm (no persona)
/// are what the paper measured, so callers pass those.
pub fn compare(
    published: &Published,
    groups: &[&GroupSummary],
    model_dim: usize,
) -> Vec<PaperComparison> {
    groups
        .iter()
        .filter_map(|g| {
            let label = g.key.0.get(model_dim)?;
            let m = published.model(model_id(label))?;
            let ours: Vec<Option<f64>> = published
                .values
                .iter()
                .map(|v| g.preference.p[*v])
                .collect();
            let (x, y): (Vec<f64>, Vec<f64>) = ours
                .iter()
                .zip(&m.p)
                .filter_map(|(a, b)| a.map(|a| (a, *b)))
                .unzip();
            Some(PaperComparison {
                model: label.clone(),
                group: g.key.to_string(),
                paper_model: m.name.clone(),
                attribution: g.p_attribution,
                ours,
                paper: m.p.clone(),
                spearman: spearman(&x, &y),
            })
        })
        .collect()
}

/// The comparison table; when no model of the run is in the paper's table, a note says which
/// models it has.
pub fn table(published: &Published, rows: &[PaperComparison]) -> Table {
    let mut header = vec![
        "group".to_string(),
        "paper's model".into(),
        "P over".into(),
        "".into(),
    ];
    header.extend(published.values.iter().map(|v| v.code().to_string()));
    header.extend(["rho", "n", "p (exact)"].map(String::from));
    let fmt = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{x:.0}"));
    let mut out = Vec::new();
    for r in rows {
        let mut a = vec![
            r.group.clone(),
            r.paper_model.clone(),
            r.attribution.name().into(),
            "run".into(),
        ];
        a.extend(r.ours.iter().map(|x| fmt(*x)));
        match &r.spearman {
            Some(s) => a.extend([
                format!("{:+.2}", s.rho),
                s.n.to_string(),
                s.p_value.map_or_else(|| "-".into(), |p| format!("{p:.3}")),
            ]),
            None => a.extend(["-".into(), "-".into(), "-".into()]),
        }
        let mut b = vec![String::new(), String::new(), String::new(), "paper".into()];
        b.extend(r.paper.iter().map(|x| fmt(Some(*x))));
        b.extend([String::new(), String::new(), String::new()]);
        out.push(a);
        out.push(b);
    }
    let models: Vec<&str> = published.models.iter().map(|m| m.name.as_str()).collect();
    let lead = if rows.is_empty() {
        format!(
            "No model of this run is in the paper's table ({}); add a model id to the aliases in \
             the data file if it is one of them. ",
            models.join(", ")
        )
    } else {
        String::new()
    };
    Table {
        id: "paper",
        title: "Comparison with the paper's published P (Spearman's rho per model)".into(),
        note: Some(format!("{lead}{}", caveats(published))),
        header,
        rows: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_names_its_source() {
        let p = Published::shipped();
        assert_eq!(p.values.len(), 6);
        assert_eq!(p.models.len(), 6);
        for m in &p.models {
            assert_eq!(m.p.len(), p.values.len(), "{}", m.name);
        }
        assert!(p.confidence.contains("secondary"));
        assert_eq!(p.model("openai/GPT-4o").unwrap().name, "GPT-4o");
        assert_eq!(
            p.model("claude-3-5-sonnet-20241022").unwrap().name,
            "Claude 3.5 Sonnet"
        );
        assert!(
            p.model("gpt-4o-mini").is_none(),
            "a different model is not matched"
        );
    }
}
