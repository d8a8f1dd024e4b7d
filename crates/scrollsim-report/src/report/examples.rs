//! Example videos for the HTML page: the first liked and skipped videos of each value.

use std::path::{Path, PathBuf};

use crate::aggregate::Aggregation;
use crate::authors::decision_word;
use crate::error::ReportError;
use crate::source::SessionStream;

use super::{Example, KeyframeSource};

/// The first `per` liked and `per` skipped (or failed) videos of each value, by first label.
pub(super) fn examples(
    traces: &[PathBuf],
    agg: &Aggregation,
    images: Option<&dyn KeyframeSource>,
    per: usize,
) -> Result<Vec<Example>, ReportError> {
    let mut slots: Vec<[Vec<Example>; 2]> = (0..10).map(|_| [Vec::new(), Vec::new()]).collect();
    let skipped: Vec<&Path> = agg.read.skipped.iter().map(|p| p.path.as_path()).collect();
    'traces: for path in traces {
        if skipped.contains(&path.as_path()) {
            continue;
        }
        let mut s = SessionStream::open(path)?;
        let h = s.header().clone();
        while let Some(step) = s.next_step() {
            let step = step?;
            let Some(v) = step.values.first() else {
                continue;
            };
            let d = &step.decision;
            let slot = &mut slots[v.index()][usize::from(!d.like)];
            if slot.len() < per {
                slot.push(Example {
                    session: h.session_id.0.clone(),
                    step: step.index,
                    video: step.video.0.clone(),
                    caption: step.caption.clone(),
                    values: step
                        .values
                        .iter()
                        .map(|v| v.code())
                        .collect::<Vec<_>>()
                        .join(", "),
                    decision: decision_word(&d.status, d.like).into(),
                    reason: d.reason.clone(),
                    matched_trait: d.matched_trait.as_ref().map(|m| m.text.clone()),
                    model: crate::group::model_label(&h),
                    persona: h.persona.as_ref().map(|p| p.name.clone()),
                    jpeg: images.and_then(|src| {
                        let k = step.keyframes.first()?;
                        src.jpeg(k.view.as_ref().unwrap_or(&k.hash))
                            .or_else(|| src.jpeg(&k.hash))
                    }),
                });
            }
            if slots.iter().all(|s| s[0].len() >= per && s[1].len() >= per) {
                break 'traces;
            }
        }
    }
    Ok(slots
        .into_iter()
        .flat_map(|[a, b]| a.into_iter().chain(b))
        .collect())
}
