//! A run's report: the model (tables, charts as SVG text, examples; no step is kept), built in
//! one streaming pass over the traces ([`build`](build::build)), written as CSV, Markdown, SVG,
//! PNG, the authors' CSV per session and the self-contained HTML page
//! ([`write_report`](files::write_report)).

pub(crate) mod build;
mod charts;
mod examples;
pub(crate) mod files;
pub(crate) mod html;
mod names;

use std::path::PathBuf;

use scrollsim_core::ImageHash;

use crate::aggregate::{ReadStats, SessionRecord};
use crate::group::CONTROL;
use crate::inspect::Inspection;
use crate::summary::Summary;
use crate::table::Table;
use scrollsim_core::NOT_A_VLM;

/// Where keyframe JPEGs come from (the media crate's image store, or anything else that can
/// map a hash to bytes).
pub trait KeyframeSource: Sync {
    fn jpeg(&self, hash: &ImageHash) -> Option<Vec<u8>>;
}

impl<F: Fn(&ImageHash) -> Option<Vec<u8>> + Sync> KeyframeSource for F {
    fn jpeg(&self, hash: &ImageHash) -> Option<Vec<u8>> {
        self(hash)
    }
}

/// The media crate's content-addressed store (hash-checked reads).
impl KeyframeSource for scrollsim_media::ImageStore {
    fn jpeg(&self, hash: &ImageHash) -> Option<Vec<u8>> {
        self.get(hash).ok()
    }
}

/// How to build a report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Also write the self-contained HTML page.
    pub html: bool,
    /// Output directory (default `<run>/report`).
    pub out: Option<PathBuf>,
    /// Rolling window of the trajectories, in steps [R: ours; the paper shows no trajectory].
    pub window: usize,
    /// PNG scale relative to the SVG size.
    pub png_scale: f32,
    /// Leave parse failures and call errors out of like-rate denominators (the paper counts
    /// them as "no").
    pub exclude_unparsed: bool,
    /// Share of salvaged answers above which the report warns (a fraction).
    pub salvaged_warn: f64,
    /// Example videos per value and decision in the HTML page.
    pub examples_per_value: usize,
    pub threads: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            html: false,
            out: None,
            window: 25,
            png_scale: 2.0,
            exclude_unparsed: false,
            salvaged_warn: crate::quality::SALVAGED_WARN,
            examples_per_value: 2,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Where a chart belongs in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartPlace {
    /// Right after the central experiment's tables.
    Central,
    /// With the other charts, after the tables.
    Other,
}

/// One chart: SVG text plus what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File stem and HTML anchor.
    pub name: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
    pub place: ChartPlace,
}

/// One example video for the HTML page.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub session: String,
    pub step: u32,
    pub video: String,
    pub caption: String,
    /// Value codes, e.g. `BE, TR`.
    pub values: String,
    pub decision: String,
    pub reason: Option<String>,
    pub matched_trait: Option<String>,
    pub model: String,
    pub persona: Option<String>,
    pub jpeg: Option<Vec<u8>>,
}

/// Everything a report shows, in memory (tables, charts as SVG text; no step is kept).
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    /// The headline numbers (summary.json's): the central experiment, the control arm, the
    /// keyword benchmark, the paper comparison, answer quality, failed sessions, sessions.
    pub summary: Summary,
    /// (section title, file stem, numbers) of the other groupings.
    pub inspections: Vec<(String, String, Inspection)>,
    pub charts: Vec<Chart>,
    pub examples: Vec<Example>,
    pub salvaged_warn: f64,
}

impl Report {
    pub fn sessions(&self) -> &[SessionRecord] {
        &self.summary.sessions
    }

    pub fn read(&self) -> &ReadStats {
        &self.summary.read
    }

    /// What judged, in words (says "not a VLM" for the offline persona model).
    pub fn judge_text(&self) -> String {
        self.summary.judge_text()
    }

    /// The line every file of a report judged by the offline persona model carries.
    pub fn not_a_vlm_note(&self) -> Option<String> {
        self.summary.offline_judge.then(|| {
            format!(
                "Judged by the offline persona model (MiniLM similarity and a seeded logistic \
                 choice): {NOT_A_VLM}. These numbers check the machinery; they are not evidence \
                 about any VLM."
            )
        })
    }

    /// The headline tables, in the order every output opens with.
    pub fn headline_tables(&self) -> Vec<Table> {
        self.summary.tables(self.salvaged_warn)
    }

    pub fn sessions_table(&self) -> Table {
        Table {
            id: "sessions",
            title: format!("Sessions ({})", self.judge_text()),
            note: Some(
                "like-rate change: points between the first and last window; end 'error: ...' \
                 marks a session that failed."
                    .into(),
            ),
            header: [
                "session",
                "persona",
                "model",
                "strategy",
                "policy",
                "seed",
                "steps",
                "likes",
                "parse fail",
                "call err",
                "end",
                "like-rate change",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .sessions()
                .iter()
                .map(|s| {
                    vec![
                        s.session_id.clone(),
                        s.persona.clone().unwrap_or_else(|| CONTROL.into()),
                        s.model.clone(),
                        s.strategy.clone(),
                        s.policy.clone(),
                        s.seed.to_string(),
                        s.steps.to_string(),
                        s.likes.to_string(),
                        s.parse_failures.to_string(),
                        s.call_errors.to_string(),
                        s.end.as_ref().map_or_else(|| "unfinished".into(), end_word),
                        s.like_rate_change
                            .map_or_else(|| "-".into(), |x| format!("{x:+.1}")),
                    ]
                })
                .collect(),
        }
    }

    /// The lines a reader must see before any number: what judged, and the warnings.
    pub fn preamble(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} sessions, {} steps; {}.",
            self.read().traces,
            self.read().steps,
            self.judge_text()
        )];
        out.extend(self.not_a_vlm_note());
        out.extend(
            self.summary
                .warnings(self.salvaged_warn)
                .into_iter()
                .map(|w| format!("WARNING: {w}")),
        );
        out
    }

    /// All tables as one Markdown document: the central experiment and its charts first.
    pub fn markdown(&self) -> String {
        let mut s = format!("# scrollsim report: {}\n\n", self.title);
        for line in self.preamble() {
            s.push_str(&format!("> {line}\n>\n"));
        }
        s.push('\n');
        s.push_str("## Central experiment\n\n");
        for t in self.headline_tables() {
            s.push_str(&t.to_markdown());
            s.push('\n');
        }
        for c in self
            .charts
            .iter()
            .filter(|c| c.place == ChartPlace::Central)
        {
            s.push_str(&format!(
                "![{}]({}.svg)\n\n_{}_\n\n",
                c.title, c.name, c.caption
            ));
        }
        for (title, _, insp) in &self.inspections {
            s.push_str(&format!("## {title}\n\n"));
            for t in insp.tables() {
                s.push_str(&t.to_markdown());
                s.push('\n');
            }
        }
        s.push_str("## Charts\n\n");
        for c in self.charts.iter().filter(|c| c.place == ChartPlace::Other) {
            s.push_str(&format!(
                "![{}]({}.svg)\n\n_{}_\n\n",
                c.title, c.name, c.caption
            ));
        }
        s.push_str(&self.sessions_table().to_markdown());
        s
    }
}

fn end_word(r: &scrollsim_core::EndReason) -> String {
    use scrollsim_core::EndReason::*;
    match r {
        Completed => "completed".into(),
        CorpusExhausted => "corpus exhausted".into(),
        BudgetExhausted => "budget exhausted".into(),
        Error { message } => format!("error: {message}"),
    }
}
