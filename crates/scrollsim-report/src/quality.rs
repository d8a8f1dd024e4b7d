//! How each decision was read: in the exact format asked for, from JSON, salvaged from free
//! text by the lenient rule, or not at all (parse failure, refusal, call error, images the
//! endpoint dropped). A study whose "likes" were mostly salvaged from rambling answers is not
//! the study it claims to be, so these shares sit beside every result.

use scrollsim_core::{AnswerRead, ParseStatus, Step};
use serde::{Deserialize, Serialize};

/// Share of salvaged answers above which outputs warn (a default; `ReportOptions` and
/// `inspect --salvaged-warn` set it).
pub const SALVAGED_WARN: f64 = 0.05;

/// Counts of decisions by how they were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerQuality {
    pub decisions: u64,
    /// Read in the exact format asked for.
    pub exact: u64,
    /// Read from a JSON answer (structured output).
    pub json: u64,
    /// Found in a free-text answer by the lenient rule ("yes" anywhere).
    pub salvaged: u64,
    /// Read, but the trace does not say how (traces written before this was recorded, and the
    /// offline persona model, which answers with no text).
    pub unrecorded: u64,
    pub parse_failures: u64,
    pub refused: u64,
    pub call_errors: u64,
    /// Calls whose usage showed the images never reached the model (not decisions).
    pub images_dropped: u64,
}

impl AnswerQuality {
    pub fn push(&mut self, step: &Step) {
        self.decisions += 1;
        let d = &step.decision;
        match &d.status {
            ParseStatus::Parsed => match d.read {
                Some(AnswerRead::Exact) => self.exact += 1,
                Some(AnswerRead::Json) => self.json += 1,
                Some(AnswerRead::Salvaged) => self.salvaged += 1,
                // A parsed decision marked failed (or of a kind this version does not know)
                // is counted as read without saying how, never as clean.
                Some(AnswerRead::Failed) | Some(AnswerRead::Other) | None => self.unrecorded += 1,
            },
            ParseStatus::ParseFailure { .. } => self.parse_failures += 1,
            ParseStatus::Refused { .. } => self.refused += 1,
            ParseStatus::CallError { .. } => self.call_errors += 1,
            ParseStatus::ImagesDropped { .. } => self.images_dropped += 1,
        }
    }

    pub fn merge(&mut self, o: &AnswerQuality) {
        self.decisions += o.decisions;
        self.exact += o.exact;
        self.json += o.json;
        self.salvaged += o.salvaged;
        self.unrecorded += o.unrecorded;
        self.parse_failures += o.parse_failures;
        self.refused += o.refused;
        self.call_errors += o.call_errors;
        self.images_dropped += o.images_dropped;
    }

    /// Percent of all decisions; None without decisions.
    pub fn share(&self, count: u64) -> Option<f64> {
        (self.decisions > 0).then(|| 100.0 * count as f64 / self.decisions as f64)
    }

    /// Decisions that were not read at all.
    pub fn failed(&self) -> u64 {
        self.parse_failures + self.refused + self.call_errors + self.images_dropped
    }

    /// Whether salvaged answers pass `threshold` (a fraction) of the decisions.
    pub fn salvaged_over(&self, threshold: f64) -> bool {
        self.decisions > 0 && self.salvaged as f64 > threshold * self.decisions as f64
    }

    /// Whether decisions that could not be read at all pass `threshold` (a fraction): by
    /// default they count as skips, so past it a like-rate measures the failures.
    pub fn failed_over(&self, threshold: f64) -> bool {
        self.decisions > 0 && self.failed() as f64 > threshold * self.decisions as f64
    }
}

/// How one model x strategy's answers were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityRow {
    pub model: String,
    pub strategy: String,
    pub quality: AnswerQuality,
}

/// Per model x strategy, merged from groups keyed (persona, model, strategy, policy).
pub fn quality_rows(cells: &[crate::aggregate::GroupSummary]) -> Vec<QualityRow> {
    let mut rows: Vec<QualityRow> = Vec::new();
    for c in cells {
        let (model, strategy) = (&c.key.0[1], &c.key.0[2]);
        match rows
            .iter_mut()
            .find(|r| &r.model == model && &r.strategy == strategy)
        {
            Some(r) => r.quality.merge(&c.quality),
            None => rows.push(QualityRow {
                model: model.clone(),
                strategy: strategy.clone(),
                quality: c.quality,
            }),
        }
    }
    rows.sort_by(|a, b| (&a.model, &a.strategy).cmp(&(&b.model, &b.strategy)));
    rows
}

/// The answer-quality table: shares of decisions per way of reading, per model x strategy,
/// with a warning mark where salvaged answers pass `salvaged_warn`.
pub fn quality_table(rows: &[QualityRow], salvaged_warn: f64) -> crate::table::Table {
    let pct = |q: &AnswerQuality, n: u64| crate::table::pct(q.share(n));
    crate::table::Table {
        id: "answer_quality",
        title: "How the answers were read (% of decisions)".into(),
        note: Some(format!(
            "exact: the format asked for; json: structured output; salvaged: read from an \
             answer not in the format asked (\"yes\" found in free text by the lenient rule, the \
             paper's parser; or an answer that copied the prompt's format, such as its \
             placeholder for the reason); unrecorded: read, but the trace \
             does not say how (older traces; the offline persona model answers with no text); \
             failed: parse failures, refusals and call errors, counted as skips by default; \
             images dropped: the endpoint did not see the images (failures, not decisions). \
             '!' marks salvaged above {:.0} %.",
            100.0 * salvaged_warn
        )),
        header: [
            "model",
            "strategy",
            "decisions",
            "exact",
            "json",
            "salvaged",
            "unrecorded",
            "parse fail",
            "refused",
            "call err",
            "images dropped",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let q = &r.quality;
                let warn = if q.salvaged_over(salvaged_warn) {
                    " !"
                } else {
                    ""
                };
                vec![
                    r.model.clone(),
                    r.strategy.clone(),
                    q.decisions.to_string(),
                    pct(q, q.exact),
                    pct(q, q.json),
                    format!("{}{warn}", pct(q, q.salvaged)),
                    pct(q, q.unrecorded),
                    pct(q, q.parse_failures),
                    pct(q, q.refused),
                    pct(q, q.call_errors),
                    pct(q, q.images_dropped),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_past_a_threshold() {
        let q = AnswerQuality {
            decisions: 20,
            exact: 17,
            salvaged: 1,
            parse_failures: 1,
            images_dropped: 1,
            ..Default::default()
        };
        assert_eq!(q.failed(), 2);
        assert!(q.failed_over(0.05) && !q.failed_over(0.10));
        assert!(!q.salvaged_over(0.05), "1 of 20 is not past 5 %");
        assert!(!AnswerQuality::default().failed_over(0.0));
    }
}
