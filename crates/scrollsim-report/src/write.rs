//! A run's report: builds the tables and charts in one streaming pass over its traces, then
//! writes CSV, Markdown, SVG, PNG, the authors' CSV per session and (optionally) the HTML
//! page under `<run>/report/`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use scrollsim_core::ids::file_slug;
use scrollsim_core::metrics::AlignmentMeasure;
use scrollsim_core::ImageHash;
use serde::Serialize;

use crate::aggregate::{
    aggregate, AggregateOptions, Aggregation, MeanCi, ReadStats, SessionRecord,
};
use crate::authors::{decision_word, AuthorsCsv};
use crate::chart;
use crate::error::ReportError;
use crate::group::{GroupBy, Grouping};
use crate::source::{find_traces, SessionStream};
use crate::tables::{Inspection, Table};

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
            examples_per_value: 2,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What was written, for the caller to print.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportPaths {
    pub dir: PathBuf,
    pub html: Option<PathBuf>,
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub tables: Vec<PathBuf>,
    pub charts: Vec<PathBuf>,
    pub authors: Vec<PathBuf>,
    pub read: ReadStats,
}

/// One chart: SVG text plus what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File stem and HTML anchor.
    pub name: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
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
    /// (section title, file stem, numbers).
    pub inspections: Vec<(String, String, Inspection)>,
    pub charts: Vec<Chart>,
    pub sessions: Vec<SessionRecord>,
    pub examples: Vec<Example>,
    pub read: ReadStats,
    /// Distinct judge labels.
    pub judges: Vec<String>,
    pub offline_judge: bool,
}

impl Report {
    pub fn sessions_table(&self) -> Table {
        Table {
            id: "sessions",
            title: "Sessions".into(),
            note: Some("like-rate change: points between the first and last window.".into()),
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
                .sessions
                .iter()
                .map(|s| {
                    vec![
                        s.session_id.clone(),
                        s.persona
                            .clone()
                            .unwrap_or_else(|| crate::group::CONTROL.into()),
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

    /// All tables as one Markdown document.
    pub fn markdown(&self) -> String {
        let mut s = format!("# scrollsim report: {}\n\n", self.title);
        for (title, _, insp) in &self.inspections {
            s.push_str(&format!("## {title}\n\n"));
            for t in insp.tables() {
                s.push_str(&t.to_markdown());
                s.push('\n');
            }
        }
        s.push_str("## Charts\n\n");
        for c in &self.charts {
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
    let charts = charts(&agg, &inspections, opts)?;
    let examples = if opts.html {
        examples(&traces, &agg, images, opts.examples_per_value)?
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

fn charts(
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

/// The first `per` liked and `per` skipped (or failed) videos of each value, by first label.
fn examples(
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

/// Builds and writes the report of a run directory (or of traces, with `opts.out` set).
pub fn write_report(
    run: &Path,
    images: Option<&dyn KeyframeSource>,
    opts: &ReportOptions,
) -> Result<ReportPaths, ReportError> {
    let dir = match &opts.out {
        Some(d) => d.clone(),
        None if run.is_dir() => run.join("report"),
        None => {
            return Err(ReportError::Write {
                path: run.to_path_buf(),
                message: "not a run directory: pass --out DIR for the report of single traces"
                    .into(),
            })
        }
    };
    let title = run
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run.display().to_string());
    let report = build(&title, &[run.to_path_buf()], images, opts)?;
    std::fs::create_dir_all(&dir).map_err(ReportError::io(&dir))?;
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, ReportError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(ReportError::io(&p))?;
        Ok(p)
    };
    let mut paths = ReportPaths {
        dir: dir.clone(),
        read: report.read.clone(),
        ..Default::default()
    };
    for (_, stem, insp) in &report.inspections {
        paths
            .tables
            .push(write(&format!("{stem}.csv"), insp.to_csv().as_bytes())?);
        paths.tables.push(write(
            &format!("{stem}.md"),
            insp.render(crate::Format::Md).as_bytes(),
        )?);
    }
    paths.tables.push(write(
        "sessions.csv",
        report.sessions_table().to_csv().as_bytes(),
    )?);
    paths.markdown = write("report.md", report.markdown().as_bytes())?;
    let json: Vec<&Inspection> = report.inspections.iter().map(|(_, _, i)| i).collect();
    paths.json = write(
        "report.json",
        &serde_json::to_vec_pretty(&json).expect("serializes"),
    )?;
    for c in &report.charts {
        paths
            .charts
            .push(write(&format!("{}.svg", c.name), c.svg.as_bytes())?);
        let png = chart::png(&c.name, &c.svg, opts.png_scale)?;
        paths.charts.push(write(&format!("{}.png", c.name), &png)?);
    }
    let authors_dir = dir.join("authors");
    std::fs::create_dir_all(&authors_dir).map_err(ReportError::io(&authors_dir))?;
    for s in &report.sessions {
        paths
            .authors
            .push(write_authors_csv(&s.path, &authors_dir)?);
    }
    if opts.html {
        paths.html = Some(write("index.html", crate::html::page(&report).as_bytes())?);
    }
    Ok(paths)
}

/// Writes `<dir>/<session-id>.csv` in the authors' columns for one trace, streaming.
pub fn write_authors_csv(trace: &Path, dir: &Path) -> Result<PathBuf, ReportError> {
    let mut stream = SessionStream::open(trace)?;
    let header = stream.header().clone();
    let path = dir.join(format!("{}.csv", file_slug(header.session_id.as_str())));
    let file = File::create(&path).map_err(ReportError::io(&path))?;
    let csv_err = |e: csv::Error| ReportError::Write {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut w = AuthorsCsv::new(BufWriter::new(file), &header).map_err(csv_err)?;
    while let Some(step) = stream.next_step() {
        w.row(&header, &step?).map_err(csv_err)?;
    }
    w.finish()?;
    Ok(path)
}
