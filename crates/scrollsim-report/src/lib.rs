//! Reports: turns traces into tables (terminal, CSV, JSON, Markdown), charts (SVG, PNG), one
//! self-contained HTML page and `summary.json`. This crate is scrollsim's one statistics
//! pipeline: every number a person reads (inspect, report, summary.json, the `run` and `demo`
//! tables, the viewer) is computed here, from the core's metric folds
//! ([`scrollsim_core::metrics`]) and the intervals in [`stats`], reading traces as streams so a
//! run's size does not decide its memory.
//!
//! It must not run anything: it reads what the simulation wrote (traces, `resolved.json`) and
//! never depends on the simulation, the store or the judges.

mod ablation;
mod aggregate;
mod authors;
mod central;
mod chart;
mod closed_loop;
mod config;
mod error;
mod group;
mod inspect;
mod paper;
mod quality;
mod replay;
mod report;
mod session;
mod source;
mod stats;
mod summary;
mod table;
mod trajectory;

pub use ablation::{ablation_rows, ablation_table, AblationRow};
pub use aggregate::{
    aggregate, aggregate_with_progress, aligned_values, AggregateOptions, Aggregation,
    AlignmentSummary, GroupSummary, Groups, PAttribution, PairedDifference, Problem, ReadStats,
    SessionRecord, BASELINE_POLICY,
};
pub use authors::{decision_word, AuthorsCsv};
pub use central::{central_grouping, Central, CentralRow};
pub use chart::{ChartError, NamedLine};
pub use closed_loop::{closed_loop, ClosedLoop, ClosedLoopRow, RunPairs};
pub use config::ReportConfig;
pub use error::ReportError;
pub use group::{
    is_offline_label, model_label, GroupBy, GroupKey, Grouping, GroupingError, CONTROL,
};
pub use inspect::Inspection;
pub use paper::{table as paper_table, PaperComparison, Published, PublishedModel, PUBLISHED_TOML};
pub use quality::{AnswerQuality, QualityRow, SALVAGED_WARN};
pub use replay::{check_trace, first_divergence, Divergence, SessionCheck};
pub use report::build::build;
pub use report::files::{write_authors_csv, write_report, ReportPaths};
pub use report::html::{
    central_section, decision_class, figure, inline_svg, preamble, table as table_html, CSS,
};
pub use report::{Chart, ChartPlace, Example, KeyframeSource, Report, ReportOptions};
pub use scrollsim_core::NOT_A_VLM;
pub use session::{digest_session, SessionDigest};
pub use source::{find_traces, jsonl_in, run_dirs, SessionStream};
pub use stats::{
    Agreement, Estimate, Interval, MeanCi, NoiseFloor, Spearman, BOOTSTRAP_REPLICATES,
};
pub use summary::{cell_grouping, write_summary, RunPlan, Summary, SUMMARY_FILE, SUMMARY_VERSION};
pub use table::{judge_text, mean_ci, numeric_column, pct, Format, Table, UnknownFormat};
pub use trajectory::{value_lines, TrajectoryAcc, TrajectorySample};
