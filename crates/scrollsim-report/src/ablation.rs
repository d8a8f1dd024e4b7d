//! The VLM-vs-LLM ablation: per video, the decision a model made from the keyframes against
//! the decision the same model made from its text-only description of them. Steps pair by
//! (model, persona, seed, video); the first decision of each strategy for a key counts (traces
//! in path order), so a video seen by two policies of one seed is not counted twice.

use std::collections::BTreeMap;
use std::path::PathBuf;

use scrollsim_core::{JudgeKind, JudgeStrategy};
use serde::{Deserialize, Serialize};

use crate::aggregate::SessionRecord;
use crate::error::ReportError;
use crate::group::CONTROL;
use crate::source::SessionStream;
use crate::stats::Agreement;
use crate::table::Table;

/// One model and image strategy against the same model's text-only decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRow {
    pub model: String,
    /// The strategy that saw the images.
    pub image_strategy: String,
    /// First rater: the image decision; second: the text-only decision.
    pub agreement: Agreement,
    /// Videos both judged, but where either answer could not be read (left out).
    pub unreadable: u64,
}

type Key = (String, String, u64, String);

/// Whether a session is the text-only ablation.
fn text_only(kind: JudgeKind, strategy: &JudgeStrategy) -> bool {
    kind == JudgeKind::TextOnly || *strategy == JudgeStrategy::TextOnly
}

/// The agreement table's rows, reading the traces of the sessions that can pair (None of the
/// work when the run has no text-only session).
pub fn ablation_rows(
    sessions: &[SessionRecord],
    root: Option<&std::path::Path>,
) -> Result<Vec<AblationRow>, ReportError> {
    if !sessions
        .iter()
        .any(|s| s.strategy == JudgeStrategy::TextOnly.as_str() || s.model.ends_with("(text-only)"))
    {
        return Ok(Vec::new());
    }
    // (model, strategy) -> (persona, seed, video) -> decision (None: unreadable).
    let mut decisions: BTreeMap<(String, String, bool), BTreeMap<Key, Option<bool>>> =
        BTreeMap::new();
    let mut paths: Vec<PathBuf> = sessions
        .iter()
        .map(|s| match root {
            Some(r) if s.path.is_relative() => r.join(&s.path),
            _ => s.path.clone(),
        })
        .collect();
    paths.sort();
    for path in paths {
        let mut stream = SessionStream::open(&path)?;
        let h = stream.header().clone();
        let text = text_only(h.judge.kind, &h.judge.strategy);
        let persona = h
            .persona
            .as_ref()
            .map_or_else(|| CONTROL.to_string(), |p| p.id.0.clone());
        let slot = decisions
            .entry((h.judge.model.clone(), h.judge.strategy.to_string(), text))
            .or_default();
        while let Some(step) = stream.next_step() {
            let step = step?;
            let d = &step.decision;
            let key = (
                h.judge.model.clone(),
                persona.clone(),
                h.seed,
                step.video.0.clone(),
            );
            slot.entry(key)
                .or_insert_with(|| d.status.is_parsed().then_some(d.like));
        }
    }
    let mut rows = Vec::new();
    for ((model, strategy, text), image) in &decisions {
        if *text {
            continue;
        }
        for ((tmodel, _, ttext), textual) in &decisions {
            if !*ttext || tmodel != model {
                continue;
            }
            let mut unreadable = 0;
            let mut pairs = Vec::new();
            for (k, a) in image {
                let Some(b) = textual.get(k) else { continue };
                match (a, b) {
                    (Some(a), Some(b)) => pairs.push((*a, *b)),
                    _ => unreadable += 1,
                }
            }
            if pairs.is_empty() && unreadable == 0 {
                continue;
            }
            rows.push(AblationRow {
                model: model.clone(),
                image_strategy: strategy.clone(),
                agreement: Agreement::of(pairs),
                unreadable,
            });
        }
    }
    Ok(rows)
}

/// The agreement table.
pub fn ablation_table(rows: &[AblationRow], judge: &str) -> Table {
    Table {
        id: "ablation",
        title: format!("Image vs text-only decisions of the same model ({judge})"),
        note: Some(
            "Per video (paired by model, persona, seed and video): the decision from the \
             keyframes against the decision the same model made from its own text description \
             of them. agree: % of videos decided alike; kappa: Cohen's kappa (agreement beyond \
             chance); McNemar p: exact two-sided test that one mode likes more often than the \
             other (binomial on the videos where they differ). Unreadable answers on either \
             side are left out and counted."
                .into(),
        ),
        header: [
            "model",
            "image strategy",
            "videos",
            "both like",
            "image only",
            "text only",
            "both skip",
            "agree %",
            "kappa",
            "McNemar p",
            "unreadable",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let a = &r.agreement;
                vec![
                    r.model.clone(),
                    r.image_strategy.clone(),
                    a.n.to_string(),
                    a.both_yes.to_string(),
                    a.first_only.to_string(),
                    a.second_only.to_string(),
                    a.both_no.to_string(),
                    crate::table::pct(a.agreement),
                    a.kappa.map_or_else(|| "-".into(), |k| format!("{k:.2}")),
                    format!("{:.3}", a.mcnemar_p),
                    r.unreadable.to_string(),
                ]
            })
            .collect(),
    }
}
