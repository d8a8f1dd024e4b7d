//! Reading the traces once and building the report model: the groupings, their tables, the
//! charts and the HTML page's examples.

use std::path::PathBuf;

use crate::aggregate::{aggregate, AggregateOptions};
use crate::error::ReportError;
use crate::group::{GroupBy, Grouping};
use crate::inspect::Inspection;
use crate::source::find_traces;

use super::{KeyframeSource, Report, ReportOptions};

/// The groupings a report shows, in order: the paper's main table (by model), by persona,
/// Simple vs ISQ (persona x strategy) and by platform.
fn report_groupings() -> Vec<(String, String, Grouping)> {
    vec![
        (
            "By model".into(),
            "by-model".into(),
            Grouping::one(GroupBy::Model),
        ),
        (
            "By persona".into(),
            "by-persona".into(),
            Grouping::one(GroupBy::Persona),
        ),
        (
            "Simple vs ISQ (persona x strategy)".into(),
            "persona-strategy".into(),
            Grouping::new(vec![GroupBy::Persona, GroupBy::Strategy]),
        ),
        (
            "By platform".into(),
            "by-platform".into(),
            Grouping::one(GroupBy::Platform),
        ),
    ]
}

/// Reads the traces under `paths` once and builds the report's tables and charts.
pub fn build(
    title: &str,
    paths: &[PathBuf],
    images: Option<&dyn KeyframeSource>,
    opts: &ReportOptions,
) -> Result<Report, ReportError> {
    let traces = find_traces(paths)?;
    let specs = report_groupings();
    let mut aopts = AggregateOptions::new(specs.iter().map(|(_, _, g)| g.clone()).collect());
    aopts.trajectory_window = Some(opts.window);
    aopts.keep_sessions = true;
    aopts.threads = opts.threads;
    let agg = aggregate(&traces, &aopts);
    let inspections: Vec<(String, String, Inspection)> = specs
        .iter()
        .enumerate()
        .map(|(i, (t, f, _))| {
            (
                t.clone(),
                f.clone(),
                Inspection::from_aggregation(&agg, i, opts.exclude_unparsed),
            )
        })
        .collect();
    let charts = super::charts::charts(&agg, &inspections, opts)?;
    let examples = if opts.html {
        super::examples::examples(&traces, &agg, images, opts.examples_per_value)?
    } else {
        Vec::new()
    };
    let mut judges: Vec<String> = agg.sessions.iter().map(|s| s.model.clone()).collect();
    judges.sort();
    judges.dedup();
    let offline_judge = judges
        .iter()
        .any(|j| j.starts_with("offline persona model"));
    Ok(Report {
        title: title.to_string(),
        inspections,
        charts,
        sessions: agg.sessions.clone(),
        examples,
        read: agg.read.clone(),
        judges,
        offline_judge,
    })
}
