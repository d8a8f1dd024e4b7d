//! What the viewer reads: run and session names from URLs checked against the runs directory,
//! and sessions streamed into bounded page models.

use std::path::{Path, PathBuf};

use scrollsim_core::metrics::SessionMetrics;
use scrollsim_core::{End, Header, ParseStatus, Step, Value};
use scrollsim_report::{digest_session, SessionStream};

use crate::{ServeError, ViewerError};

/// The runs directory, canonicalised once: every path served resolves inside it.
#[derive(Debug, Clone)]
pub struct Runs {
    root: PathBuf,
}

/// A run directory as listed on the home page.
#[derive(Debug, Clone)]
pub struct RunEntry {
    pub name: String,
    pub sessions: usize,
    pub has_report: bool,
    pub files: Vec<String>,
}

/// A run or session name taken from a URL: one plain path component (no separator, no `..`,
/// not hidden). Anything else is a bad request before the filesystem is touched.
pub fn component(s: &str) -> Result<&str, ServeError> {
    let bad = s.is_empty()
        || s.len() > 255
        || s.starts_with('.')
        || s.chars()
            .any(|c| matches!(c, '/' | '\\' | '\0') || c.is_control());
    if bad {
        return Err(ServeError::BadRequest(format!(
            "not a run or session name: {s:?}"
        )));
    }
    Ok(s)
}

impl Runs {
    pub fn open(root: &Path) -> Result<Runs, ViewerError> {
        let real = root.canonicalize().map_err(|source| ViewerError::Runs {
            path: root.to_path_buf(),
            source,
        })?;
        if !real.is_dir() {
            return Err(ViewerError::NotADirectory(root.to_path_buf()));
        }
        Ok(Runs { root: real })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `p` and refuses anything outside the runs directory (a symlink out of it
    /// included).
    fn inside(&self, p: PathBuf) -> Result<PathBuf, ServeError> {
        let real = p.canonicalize().map_err(|_| ServeError::NotFound)?;
        if real.starts_with(&self.root) {
            Ok(real)
        } else {
            Err(ServeError::NotFound)
        }
    }

    pub fn run_dir(&self, run: &str) -> Result<PathBuf, ServeError> {
        let dir = self.inside(self.root.join(component(run)?))?;
        if dir.join("sessions").is_dir() {
            Ok(dir)
        } else {
            Err(ServeError::NotFound)
        }
    }

    pub fn trace(&self, run: &str, session: &str) -> Result<PathBuf, ServeError> {
        let dir = self.run_dir(run)?;
        let p = self.inside(
            dir.join("sessions")
                .join(format!("{}.jsonl", component(session)?)),
        )?;
        if p.is_file() {
            Ok(p)
        } else {
            Err(ServeError::NotFound)
        }
    }

    /// A file under the runs directory, by its relative URL path: every component plain
    /// (see [`component`]) and the resolved file inside the directory.
    pub fn file(&self, rel: &str) -> Result<PathBuf, ServeError> {
        let mut p = self.root.clone();
        for part in rel.split('/') {
            p.push(component(part)?);
        }
        let p = self.inside(p)?;
        if p.is_file() {
            Ok(p)
        } else {
            Err(ServeError::NotFound)
        }
    }

    pub fn list(&self) -> Result<Vec<RunEntry>, ServeError> {
        let mut out = Vec::new();
        for dir in scrollsim_report::run_dirs(&self.root).map_err(ServeError::internal)? {
            let Ok(dir) = self.inside(dir) else { continue };
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if component(&name).is_err() {
                continue;
            }
            let sessions = scrollsim_report::jsonl_in(&dir.join("sessions")).map_or(0, |v| v.len());
            let files = ["experiment.toml", "resolved.json", "summary.json"]
                .iter()
                .filter(|f| dir.join(f).is_file())
                .map(|f| f.to_string())
                .collect();
            out.push(RunEntry {
                name,
                sessions,
                has_report: dir.join("report/index.html").is_file(),
                files,
            });
        }
        Ok(out)
    }
}

/// Which decisions a timeline shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionFilter {
    Like,
    Skip,
    /// Parse failures, refusals and call errors.
    Failed,
}

impl DecisionFilter {
    pub fn parse(s: &str) -> Result<Option<Self>, ServeError> {
        Ok(match s {
            "" | "all" => None,
            "like" => Some(DecisionFilter::Like),
            "skip" => Some(DecisionFilter::Skip),
            "failed" => Some(DecisionFilter::Failed),
            _ => {
                return Err(ServeError::BadRequest(format!(
                    "decision filter {s:?}: expected like, skip or failed"
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DecisionFilter::Like => "like",
            DecisionFilter::Skip => "skip",
            DecisionFilter::Failed => "failed",
        }
    }
}

/// Filters on steps: a value among the video's labels and a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepFilter {
    pub value: Option<Value>,
    pub decision: Option<DecisionFilter>,
}

impl StepFilter {
    pub fn parse(value: Option<&str>, decision: Option<&str>) -> Result<Self, ServeError> {
        let value = match value.unwrap_or("") {
            "" | "all" => None,
            v => Some(
                v.parse::<Value>()
                    .map_err(|e| ServeError::BadRequest(e.to_string()))?,
            ),
        };
        Ok(StepFilter {
            value,
            decision: DecisionFilter::parse(decision.unwrap_or(""))?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_none() && self.decision.is_none()
    }

    pub fn matches(&self, s: &Step) -> bool {
        let value_ok = self.value.is_none_or(|v| s.values.contains(&v));
        let decision_ok = match self.decision {
            None => true,
            Some(DecisionFilter::Like) => s.decision.like,
            Some(DecisionFilter::Skip) => {
                !s.decision.like && s.decision.status == ParseStatus::Parsed
            }
            Some(DecisionFilter::Failed) => !s.decision.status.is_parsed(),
        };
        value_ok && decision_ok
    }
}

/// One session's page: its header, metrics over all steps, and one page of matching steps.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub run: String,
    /// File stem: what URLs name the session by.
    pub name: String,
    pub header: Header,
    pub end: Option<End>,
    pub metrics: SessionMetrics,
    pub steps: Vec<Step>,
    pub total: u32,
    pub matching: u32,
    pub from: u32,
    pub limit: u32,
    pub truncated_line: Option<usize>,
    pub radar_svg: String,
    pub like_svg: String,
    pub exposure_svg: String,
    /// Keyframes shown at the size the judge saw them because their viewing copy is not in
    /// the image store ([`SessionView::fall_back_to_judged`]).
    pub views_missing: u32,
}

impl SessionView {
    /// Keyframes whose larger viewing copy is not in the image store (an archive packed with
    /// `--no-view-copies`) show the model-size keyframe the judge saw, not a broken picture;
    /// the page says how many.
    pub fn fall_back_to_judged(&mut self, images: Option<&scrollsim_media::ImageStore>) {
        let Some(images) = images else {
            return;
        };
        for k in self.steps.iter_mut().flat_map(|s| s.keyframes.iter_mut()) {
            if k.view.as_ref().is_some_and(|v| !images.contains(v)) {
                k.view = None;
                self.views_missing += 1;
            }
        }
    }
}

/// Reads a session once (the report crate computes its numbers and charts); only the page's
/// matching steps are kept.
pub fn load_session(
    trace: &Path,
    run: &str,
    name: &str,
    filter: &StepFilter,
    from: u32,
    limit: u32,
    window: usize,
) -> Result<SessionView, ServeError> {
    let (mut steps, mut total, mut matching) = (Vec::new(), 0u32, 0u32);
    let d = digest_session(trace, window, |step| {
        total += 1;
        if filter.matches(step) {
            if matching >= from && steps.len() < limit as usize {
                steps.push(step.clone());
            }
            matching += 1;
        }
    })
    .map_err(ServeError::internal)?;
    Ok(SessionView {
        run: run.to_string(),
        name: name.to_string(),
        end: d.end,
        truncated_line: d.truncated_line,
        header: d.header,
        metrics: d.metrics,
        steps,
        total,
        matching,
        from,
        limit,
        radar_svg: d.radar_svg,
        like_svg: d.like_svg,
        exposure_svg: d.exposure_svg,
        views_missing: 0,
    })
}

/// Steps of a trace that pass a filter (for the run page's value and decision filters).
pub fn count_matching(trace: &Path, filter: &StepFilter) -> Result<u32, ServeError> {
    let mut stream = SessionStream::open(trace).map_err(ServeError::internal)?;
    let mut n = 0;
    while let Some(step) = stream.next_step() {
        n += filter.matches(&step.map_err(ServeError::internal)?) as u32;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runs directory with one run holding one session, and a file beside the directory.
    fn runs() -> (tempfile::TempDir, Runs) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("runs");
        std::fs::create_dir_all(root.join("r1/sessions")).unwrap();
        std::fs::write(root.join("r1/sessions/s1.jsonl"), "").unwrap();
        std::fs::write(root.join("r1/summary.json"), "{}").unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
        let runs = Runs::open(&root).unwrap();
        (tmp, runs)
    }

    #[test]
    fn names_from_urls_are_single_plain_components() {
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "a\0b", "a\nb"] {
            assert!(component(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(component("run-2026_12.06").unwrap(), "run-2026_12.06");
    }

    #[test]
    fn nothing_outside_the_runs_directory_is_served() {
        let (tmp, runs) = runs();
        assert!(runs.file("r1/summary.json").is_ok());
        assert!(runs.trace("r1", "s1").is_ok());
        for rel in [
            "../secret.txt",
            "r1/../../secret.txt",
            "r1/%2e%2e/x",
            "r1//summary.json",
        ] {
            assert!(runs.file(rel).is_err(), "{rel} served");
        }
        assert!(runs.trace("r1", "../s1").is_err());
        assert!(runs.run_dir("nope").is_err());
        #[cfg(unix)]
        {
            // A symlink inside the directory that points out of it is refused too.
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), runs.root().join("r1/link"))
                .unwrap();
            assert!(runs.file("r1/link").is_err());
        }
    }

    #[test]
    fn a_missing_or_non_directory_runs_path_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        match Runs::open(&missing) {
            Err(ViewerError::Runs { path, .. }) => assert_eq!(path, missing),
            other => panic!("unexpected {other:?}"),
        }
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(Runs::open(&file), Err(ViewerError::NotADirectory(p)) if p == file));
    }

    #[test]
    fn step_filters_parse_and_refuse_unknown_names() {
        let f = StepFilter::parse(Some("SD"), Some("like")).unwrap();
        assert_eq!(f.value, Some(Value::SelfDirection));
        assert_eq!(f.decision, Some(DecisionFilter::Like));
        assert!(StepFilter::parse(Some("all"), Some("")).unwrap().is_empty());
        assert!(StepFilter::parse(Some("XX"), None).is_err());
        assert!(StepFilter::parse(None, Some("maybe")).is_err());
    }
}
