//! Reports: turns traces into tables (terminal, CSV, JSON, Markdown), charts (SVG, PNG) and one
//! self-contained HTML page. Every number comes from the core metric folds
//! ([`scrollsim_core::metrics`]); this crate groups, formats and draws them, reading traces as
//! streams so a run's size does not decide its memory.

pub mod aggregate;
pub mod authors;
pub mod chart;
pub mod error;
pub mod group;
pub mod html;
pub mod replay;
pub mod source;
pub mod tables;
pub mod trajectory;
pub mod write;

pub use aggregate::{
    aggregate, aggregate_with_progress, AggregateOptions, Aggregation, GroupSummary, MeanCi,
    ReadStats, SessionRecord,
};
pub use error::ReportError;
pub use group::{GroupBy, GroupKey, Grouping};
pub use source::{find_traces, SessionStream};
pub use tables::{Format, Inspection, Table};
pub use write::{build, write_report, Chart, KeyframeSource, Report, ReportOptions, ReportPaths};
