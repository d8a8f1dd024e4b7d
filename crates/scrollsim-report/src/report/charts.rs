//! The report's charts, from the aggregation and the inspections of its groupings.

use scrollsim_core::metrics::AlignmentMeasure;

use crate::aggregate::Aggregation;
use crate::chart;
use crate::error::ReportError;
use crate::inspect::Inspection;
use crate::stats::MeanCi;

use scrollsim_core::ids::file_slug;

use super::{Chart, ReportOptions};

pub(super) fn charts(
    agg: &Aggregation,
    inspections: &[(String, String, Inspection)],
    opts: &ReportOptions,
) -> Result<Vec<Chart>, ReportError> {
    let mut out = Vec::new();
    let by_model = &inspections[0].2;
    let by_persona = &inspections[1].2;
    let by_persona_strategy = &inspections[2].2;
    let p_note = "P = 100 x likes / images per value (keyword runs: by retrieved_for; other \
                  policies: by the videos' labels); axis 0-100";
    for (name, title, insp) in [
        ("radar-model", "Preference P per value, by model", by_model),
        (
            "radar-persona",
            "Preference P per value, by persona",
            by_persona,
        ),
    ] {
        let series: Vec<_> = insp
            .groups
            .iter()
            .map(|g| (g.key.to_string(), g.preference.p))
            .collect();
        out.push(Chart {
            name: name.into(),
            title: title.into(),
            caption: format!("{p_note}; Schwartz's circumplex order."),
            svg: chart::radar(title, &series, 100.0)?,
        });
    }
    // Trajectories per persona: rolling like-rate and exposure share per value.
    for (key, samples) in agg.groups[1].trajectories() {
        let slug = file_slug(&key.to_string());
        let (like, exposure) = crate::trajectory::value_lines(&samples);
        let t1 = format!("Rolling like-rate per value: {key}");
        out.push(Chart {
            name: format!("trajectory-like-{slug}"),
            caption: format!(
                "like-rate over the last {} steps, mean over the persona's sessions; gaps where the \
                 window showed no video of the value.",
                opts.window
            ),
            svg: chart::lines(&t1, "step", "like-rate (%)", &like, 100.0)?,
            title: t1,
        });
        let t2 = format!("Rolling exposure share per value: {key}");
        out.push(Chart {
            name: format!("trajectory-exposure-{slug}"),
            caption: format!(
                "share of the last {} steps showing each value (multi-label videos count for \
                 each), mean over the persona's sessions: what the feed served.",
                opts.window
            ),
            svg: chart::lines(&t2, "step", "exposure share (%)", &exposure, 100.0)?,
            title: t2,
        });
    }
    // Alignment change per persona, one bar per measure.
    let personas: Vec<String> = by_persona
        .groups
        .iter()
        .map(|g| g.key.to_string())
        .collect();
    let measures: Vec<String> = AlignmentMeasure::ALL
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let data: Vec<Vec<Option<MeanCi>>> = AlignmentMeasure::ALL
        .iter()
        .map(|m| {
            by_persona
                .groups
                .iter()
                .map(|g| g.alignment(*m).points)
                .collect()
        })
        .collect();
    out.push(Chart {
        name: "alignment-persona".into(),
        title: "Alignment change per persona".into(),
        caption: "last window minus first window, points, mean ± 95 % CI across sessions \
                  (complete windows only)."
            .into(),
        svg: chart::bars(
            "Alignment change per persona (points)",
            "change (points)",
            &personas,
            &measures,
            &data,
        )?,
    });
    // Simple vs ISQ: the steering gap per persona and strategy.
    let mut strategies: Vec<String> = by_persona_strategy
        .groups
        .iter()
        .map(|g| g.key.0[1].clone())
        .collect();
    strategies.sort();
    strategies.dedup();
    let data: Vec<Vec<Option<MeanCi>>> = strategies
        .iter()
        .map(|s| {
            personas
                .iter()
                .map(|p| {
                    by_persona_strategy
                        .groups
                        .iter()
                        .find(|g| &g.key.0[0] == p && &g.key.0[1] == s)
                        .and_then(|g| g.steering)
                })
                .collect()
        })
        .collect();
    out.push(Chart {
        name: "strategy-steering".into(),
        title: "Simple vs ISQ: persona steering".into(),
        caption: format!(
            "like-rate on the persona's own values minus like-rate on the others, points, mean ± \
             95 % CI across sessions, per prompting strategy ({}).",
            strategies.join(", ")
        ),
        svg: chart::bars(
            "Persona steering by strategy (points)",
            "steering gap (points)",
            &personas,
            &strategies,
            &data,
        )?,
    });
    Ok(out)
}
