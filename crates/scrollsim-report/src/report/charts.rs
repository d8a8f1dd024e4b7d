//! The report's charts: the central experiment's (aligned-exposure change per persona x
//! policy, the paired difference against random, the aligned-share trajectories), then P
//! radars, per-value trajectories per cell and the Simple vs ISQ steering bars. Every chart's
//! footnote names the judge (the offline persona model's says it is not a VLM).

use crate::aggregate::Aggregation;
use crate::central::CentralRow;
use crate::chart::{self, Bar, NamedLine};
use crate::error::ReportError;
use crate::group::GroupKey;
use crate::stats::BOOTSTRAP_REPLICATES;

use scrollsim_core::ids::file_safe;

use super::build::{BY_MODEL, BY_PERSONA_POLICY, BY_PERSONA_STRATEGY};
use super::names::injective;
use super::{Chart, ChartPlace, Report, ReportOptions};

/// How a central row is named as a series: the policy, plus model and strategy when the run
/// has several.
fn series_name(report: &Report, r: &CentralRow) -> String {
    let c = &report.summary.central;
    let mut parts = vec![r.policy.as_str()];
    if c.several_models {
        parts.push(&r.model);
    }
    if c.several_strategies {
        parts.push(&r.strategy);
    }
    parts.join(" / ")
}

/// A cell key (persona, model, strategy, policy) as a series name under its persona.
fn cell_series(report: &Report, key: &GroupKey) -> String {
    let c = &report.summary.central;
    let k = &key.0;
    let mut parts = vec![k[3].as_str()];
    if c.several_models {
        parts.push(&k[1]);
    }
    if c.several_strategies {
        parts.push(&k[2]);
    }
    parts.join(" / ")
}

/// A chart file name's part for a persona, policy, model or strategy: `control` for the
/// no-persona arm, and each run of characters a file name should not carry (`:`, `=`, `(`,
/// `/`, spaces) as one `-` (`foryou:feedback=likes` -> `foryou-feedback-likes`,
/// `keyword(text)` -> `keyword-text`). docs/reports.md lists the names this gives.
fn name_part(s: &str) -> String {
    if s == crate::group::CONTROL {
        return "control".into();
    }
    let safe = file_safe(s, '-');
    let parts: Vec<&str> = safe
        .split('-')
        .map(|p| p.trim_start_matches('.'))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "_".into()
    } else {
        parts.join("-")
    }
}

/// `<persona>-<policy>[-<model>][-<strategy>]` of a central cell, as chart file names use it.
fn cell_slug(report: &Report, key: &GroupKey) -> String {
    let c = &report.summary.central;
    let k = &key.0;
    let mut parts = vec![name_part(&k[0]), name_part(&k[3])];
    if c.several_models {
        parts.push(name_part(&k[1]));
    }
    if c.several_strategies {
        parts.push(name_part(&k[2]));
    }
    parts.join("-")
}

fn unique(xs: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in xs {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

pub(super) fn charts(
    agg: &Aggregation,
    report: &Report,
    opts: &ReportOptions,
) -> Result<Vec<Chart>, ReportError> {
    let judge = report.judge_text();
    let foot = Some(judge.as_str());
    let mut out = Vec::new();
    let central = &report.summary.central;
    let personas = unique(central.rows.iter().map(|r| r.persona.clone()));
    let boot = format!(
        "mean over seeds with a hierarchical bootstrap 95 % interval (sessions, then videos; \
         {BOOTSTRAP_REPLICATES} replicates); complete windows only"
    );

    // The central experiment: aligned-exposure change per persona, one bar per policy.
    if !central.rows.is_empty() {
        let series = unique(central.rows.iter().map(|r| series_name(report, r)));
        let grid = |value: &dyn Fn(&CentralRow) -> Option<Bar>, series: &[String]| {
            series
                .iter()
                .map(|s| {
                    personas
                        .iter()
                        .map(|p| {
                            central
                                .rows
                                .iter()
                                .find(|r| &r.persona == p && &series_name(report, r) == s)
                                .and_then(value)
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let data = grid(
            &|r: &CentralRow| r.aligned_exposure.bootstrap.map(Bar::from),
            &series,
        );
        let title = "Persona-aligned exposure: last window minus first, by persona and policy";
        out.push(Chart {
            name: "central-aligned".into(),
            title: title.into(),
            caption: format!(
                "share of videos shown labelled with one of the persona's values, change in \
                 points; {boot}."
            ),
            svg: chart::bars(title, "change (points)", &personas, &series, &data, foot)?,
            place: ChartPlace::Central,
        });
        let compared: Vec<String> = unique(
            central
                .rows
                .iter()
                .filter(|r| r.aligned_vs_baseline.is_some())
                .map(|r| series_name(report, r)),
        );
        if !compared.is_empty() {
            let data = grid(
                &|r: &CentralRow| {
                    r.aligned_vs_baseline
                        .as_ref()
                        .and_then(|d| d.difference)
                        .map(Bar::from)
                },
                &compared,
            );
            let title = format!(
                "Aligned-exposure change minus {}'s on the same seeds",
                central.baseline
            );
            out.push(Chart {
                name: "central-vs-random".into(),
                caption: format!(
                    "paired difference in points (the policy's change minus {}'s, same persona, \
                     model, strategy and seed), mean over pairs with a 95 % interval {}.",
                    central.baseline,
                    crate::stats::PAIRED_INTERVAL
                ),
                svg: chart::bars(
                    &title,
                    "difference (points)",
                    &personas,
                    &compared,
                    &data,
                    foot,
                )?,
                title,
                place: ChartPlace::Central,
            });
        }
        // Aligned share over the session, one line per policy, per persona.
        let trajectories = agg.groups[0].trajectories();
        let names = injective(personas.iter().map(|p| (p.as_str(), name_part(p))));
        for (p, name) in personas.iter().zip(names) {
            let lines: Vec<NamedLine> = trajectories
                .iter()
                .filter(|(k, _)| &k.0[0] == p && crate::central::is_feed(&k.0[3]))
                .map(|(k, samples)| {
                    (
                        cell_series(report, k),
                        samples
                            .iter()
                            .map(|s| ((s.from + s.to) as f64 / 2.0, s.aligned_share))
                            .collect(),
                    )
                })
                .collect();
            if lines.is_empty() {
                continue;
            }
            let title = format!("Rolling persona-aligned share by policy: {p}");
            out.push(Chart {
                name: format!("trajectory-aligned-{name}"),
                caption: format!(
                    "share of the last {} videos labelled with one of the persona's values, mean \
                     over the cell's sessions at each step.",
                    opts.window
                ),
                svg: chart::lines(&title, "step", "aligned share (%)", &lines, 100.0, foot)?,
                title,
                place: ChartPlace::Central,
            });
        }
    }

    // P radars: by model (arms apart), by persona x policy.
    let p_note = "P = 100 x likes / images per value (keyword runs: by retrieved_for; other \
                  policies: by the videos' labels); axis 0-100";
    for (name, title, which) in [
        (
            "radar-model",
            "Preference P per value, by model and arm",
            BY_MODEL,
        ),
        (
            "radar-persona-policy",
            "Preference P per value, by persona x policy",
            BY_PERSONA_POLICY,
        ),
    ] {
        let insp = &report.inspections[which - 1].2;
        let series: Vec<_> = insp
            .groups
            .iter()
            .map(|g| (g.key.to_string(), g.preference.p))
            .collect();
        out.push(Chart {
            name: name.into(),
            title: title.into(),
            caption: format!("{p_note}; Schwartz's circumplex order."),
            svg: chart::radar(title, &series, 100.0, foot)?,
            place: ChartPlace::Other,
        });
    }

    // Per-value trajectories per cell (persona x policy, and model x strategy when several).
    let cells = agg.groups[0].trajectories();
    let labels: Vec<String> = cells.iter().map(|(key, _)| key.0.join("\u{1f}")).collect();
    let slugs = injective(
        labels
            .iter()
            .zip(&cells)
            .map(|(label, (key, _))| (label.as_str(), cell_slug(report, key))),
    );
    for ((key, samples), slug) in cells.into_iter().zip(slugs) {
        let label = format!("{} | {}", key.0[0], cell_series(report, &key));
        let (like, exposure) = crate::trajectory::value_lines(&samples);
        let t1 = format!("Rolling like-rate per value: {label}");
        out.push(Chart {
            name: format!("trajectory-like-{slug}"),
            caption: format!(
                "like-rate over the last {} steps, mean over the cell's sessions; gaps where the \
                 window showed no video of the value.",
                opts.window
            ),
            svg: chart::lines(&t1, "step", "like-rate (%)", &like, 100.0, foot)?,
            title: t1,
            place: ChartPlace::Other,
        });
        let t2 = format!("Rolling exposure share per value: {label}");
        out.push(Chart {
            name: format!("trajectory-exposure-{slug}"),
            caption: format!(
                "share of the last {} steps showing each value (multi-label videos count for \
                 each), mean over the cell's sessions: what the feed served.",
                opts.window
            ),
            svg: chart::lines(&t2, "step", "exposure share (%)", &exposure, 100.0, foot)?,
            title: t2,
            place: ChartPlace::Other,
        });
    }

    // Simple vs ISQ: the steering gap per persona and strategy.
    let by_ps = &report.inspections[BY_PERSONA_STRATEGY - 1].2;
    let ps_personas = unique(by_ps.groups.iter().map(|g| g.key.0[0].clone()));
    let mut strategies = unique(by_ps.groups.iter().map(|g| g.key.0[1].clone()));
    strategies.sort();
    let data: Vec<Vec<Option<Bar>>> = strategies
        .iter()
        .map(|s| {
            ps_personas
                .iter()
                .map(|p| {
                    by_ps
                        .groups
                        .iter()
                        .find(|g| &g.key.0[0] == p && &g.key.0[1] == s)
                        .and_then(|g| g.steering)
                        .map(Bar::from)
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
            &ps_personas,
            &strategies,
            &data,
            foot,
        )?,
        place: ChartPlace::Other,
    });
    Ok(out)
}
