//! Writing a report to disk: tables (CSV, Markdown, JSON), charts (SVG, PNG), the authors' CSV
//! per session and the HTML page, under `<run>/report/` unless told otherwise.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aggregate::ReadStats;
use crate::authors::AuthorsCsv;
use crate::chart;
use crate::error::ReportError;
use crate::inspect::Inspection;
use crate::source::SessionStream;
use crate::summary::Summary;
use crate::table::Format;

use scrollsim_core::ids::file_slug;

use super::names::injective;
use super::{build::build, KeyframeSource, ReportOptions};

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

/// `report.json`: every number of the report.
#[derive(Serialize)]
struct ReportJson<'a> {
    judged_by: &'a str,
    note: Option<String>,
    summary: &'a Summary,
    groupings: Vec<&'a Inspection>,
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
    let out = Out::new(&dir);
    let write = |name: &str, bytes: &[u8]| out.write(name, bytes);
    let mut paths = ReportPaths {
        dir: dir.clone(),
        read: report.read().clone(),
        ..Default::default()
    };
    // Every Markdown file opens with what judged and the warnings; every CSV row names its
    // judge (a `judged_by` or `model` column).
    let preamble: String = report
        .preamble()
        .iter()
        .map(|l| format!("> {l}\n"))
        .collect::<String>()
        + "\n";
    let judged_by = report.judge_text();
    for t in report.headline_tables() {
        paths.tables.push(write(
            &format!("{}.csv", t.id),
            t.to_csv_with("judged_by", &judged_by).as_bytes(),
        )?);
        paths.tables.push(write(
            &format!("{}.md", t.id),
            format!("{preamble}{}", t.to_markdown()).as_bytes(),
        )?);
    }
    for (_, stem, insp) in &report.inspections {
        paths
            .tables
            .push(write(&format!("{stem}.csv"), insp.to_csv().as_bytes())?);
        paths.tables.push(write(
            &format!("{stem}.md"),
            format!("{preamble}{}", insp.render(Format::Md)).as_bytes(),
        )?);
    }
    paths.tables.push(write(
        "sessions.csv",
        report.sessions_table().to_csv().as_bytes(),
    )?);
    paths.markdown = write("report.md", report.markdown().as_bytes())?;
    let json = ReportJson {
        judged_by: &judged_by,
        note: report.not_a_vlm_note(),
        summary: &report.summary,
        groupings: report.inspections.iter().map(|(_, _, i)| i).collect(),
    };
    paths.json = write(
        "report.json",
        &serde_json::to_vec_pretty(&json).expect("serializes"),
    )?;
    for c in &report.charts {
        paths
            .charts
            .push(write(&format!("{}.svg", c.name), c.svg.as_bytes())?);
        let png = chart::png(&c.name, &c.svg, opts.png_scale, Some(&judged_by))?;
        paths.charts.push(write(&format!("{}.png", c.name), &png)?);
    }
    let authors_dir = dir.join("authors");
    std::fs::create_dir_all(&authors_dir).map_err(ReportError::io(&authors_dir))?;
    // Session ids are unique within a run, not across the runs a report may read.
    let paths_text: Vec<String> = report
        .sessions()
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    let stems = injective(
        report
            .sessions()
            .iter()
            .zip(&paths_text)
            .map(|(s, p)| (p.as_str(), file_slug(&s.session_id))),
    );
    for (s, stem) in report.sessions().iter().zip(stems) {
        let trace = if s.path.is_relative() && run.is_dir() {
            run.join(&s.path)
        } else {
            s.path.clone()
        };
        let path = out.claim(&format!("authors/{stem}.csv"))?;
        write_authors_csv_to(&trace, &path)?;
        paths.authors.push(path);
    }
    if opts.html {
        paths.html = Some(write("index.html", super::html::page(&report).as_bytes())?);
    }
    Ok(paths)
}

/// The report's output directory, refusing to write one file name twice: names are made
/// injective where they are chosen ([`injective`]), and this is the guarantee behind it, so a
/// report never overwrites one of its own outputs silently.
struct Out {
    dir: PathBuf,
    taken: RefCell<BTreeSet<String>>,
}

impl Out {
    fn new(dir: &Path) -> Self {
        Out {
            dir: dir.to_path_buf(),
            taken: RefCell::default(),
        }
    }

    /// The path of `name` under the directory, or an error if this report already wrote it.
    fn claim(&self, name: &str) -> Result<PathBuf, ReportError> {
        let path = self.dir.join(name);
        if !self.taken.borrow_mut().insert(name.to_string()) {
            return Err(ReportError::Write {
                path,
                message: "two outputs of this report got the same file name; nothing was \
                          overwritten (a bug: please report the labels involved)"
                    .into(),
            });
        }
        Ok(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
        let p = self.claim(name)?;
        std::fs::write(&p, bytes).map_err(ReportError::io(&p))?;
        Ok(p)
    }
}

/// Writes `<dir>/<session-id>.csv` in the authors' columns for one trace, streaming.
pub fn write_authors_csv(trace: &Path, dir: &Path) -> Result<PathBuf, ReportError> {
    let header = SessionStream::open(trace)?.header().clone();
    let path = dir.join(format!("{}.csv", file_slug(header.session_id.as_str())));
    write_authors_csv_to(trace, &path)?;
    Ok(path)
}

/// Writes one trace's authors' CSV to `path`, streaming.
fn write_authors_csv_to(trace: &Path, path: &Path) -> Result<(), ReportError> {
    let mut stream = SessionStream::open(trace)?;
    let header = stream.header().clone();
    let path = path.to_path_buf();
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
    Ok(())
}
