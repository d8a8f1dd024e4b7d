//! Reading the traces once and building the report model: the summary (central experiment
//! first), the other groupings' tables, the charts and the HTML page's examples.

use std::path::PathBuf;

use crate::aggregate::{aggregate, AggregateOptions};
use crate::error::ReportError;
use crate::group::{GroupBy, Grouping};
use crate::inspect::Inspection;
use crate::source::find_traces;
use crate::summary::{cell_grouping, Summary};

use super::{KeyframeSource, Report, ReportOptions};

/// The groupings a report shows after the central experiment, in order: the paper's main
/// table (P by model, the control arm apart), per-value tables by persona x policy, Simple vs
/// ISQ (persona x strategy), and the source platform of the videos shown.
fn report_groupings() -> Vec<(String, String, Grouping)> {
    vec![
        (
            "By model (P per value: the paper's main table; control and persona arms apart)".into(),
            "by-model".into(),
            Grouping::new(vec![GroupBy::Model, GroupBy::Arm]),
        ),
        (
            "By persona x policy (like-rate and exposure per value)".into(),
            "by-persona-policy".into(),
            Grouping::new(vec![GroupBy::Persona, GroupBy::Policy]),
        ),
        (
            "Simple vs ISQ (persona x strategy, over every policy)".into(),
            "persona-strategy".into(),
            Grouping::new(vec![GroupBy::Persona, GroupBy::Strategy]),
        ),
        (
            "Source platform of the videos shown (a corpus label, not the feed: every scrollsim \
             policy serves videos of every platform)"
                .into(),
            "by-video-source-platform".into(),
            Grouping::one(GroupBy::Platform),
        ),
    ]
}

/// Index of each report grouping in the aggregation (the summary's cells come first).
pub(super) const BY_MODEL: usize = 1;
pub(super) const BY_PERSONA_POLICY: usize = 2;
pub(super) const BY_PERSONA_STRATEGY: usize = 3;

/// Reads the traces under `paths` once and builds the report's tables and charts.
pub fn build(
    title: &str,
    paths: &[PathBuf],
    images: Option<&dyn KeyframeSource>,
    opts: &ReportOptions,
) -> Result<Report, ReportError> {
    let traces = find_traces(paths)?;
    let specs = report_groupings();
    let mut groupings = vec![cell_grouping()];
    groupings.extend(specs.iter().map(|(_, _, g)| g.clone()));
    let mut aopts = AggregateOptions::new(groupings);
    aopts.trajectory_window = Some(opts.window);
    aopts.keep_sessions = true;
    aopts.threads = opts.threads;
    let agg = aggregate(&traces, &aopts);
    let root = match paths {
        [one] if one.is_dir() => Some(one.as_path()),
        _ => None,
    };
    let summary = Summary::from_aggregation(&agg, 0, root, None, opts.exclude_unparsed)?;
    let inspections: Vec<(String, String, Inspection)> = specs
        .iter()
        .enumerate()
        .map(|(i, (t, f, _))| {
            (
                t.clone(),
                f.clone(),
                Inspection::from_aggregation(&agg, i + 1, opts.exclude_unparsed),
            )
        })
        .collect();
    let mut report = Report {
        title: title.to_string(),
        summary,
        inspections,
        charts: Vec::new(),
        examples: Vec::new(),
        salvaged_warn: opts.salvaged_warn,
    };
    report.charts = super::charts::charts(&agg, &report, opts)?;
    if opts.html {
        report.examples =
            super::examples::examples(&traces, &agg, images, opts.examples_per_value)?;
    }
    Ok(report)
}
