//! Finding traces on disk and streaming them one session at a time.
//!
//! A run directory holds one trace per session in `sessions/<session-id>.jsonl`. Readers here
//! hold one line in memory, whatever the trace's length.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use scrollsim_core::trace::{SessionError, TraceError};
use scrollsim_core::{End, Header, Step, TraceEvent, TraceReader};

use crate::error::ReportError;

/// The traces under each path, sorted by path so every report is deterministic. A path may be
/// a trace file, a run directory (`<run>/sessions/*.jsonl`), a directory of `.jsonl` traces,
/// or a directory of runs.
pub fn find_traces(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReportError> {
    let mut all = Vec::new();
    for path in paths {
        let found = traces_under(path)?;
        if found.is_empty() {
            return Err(ReportError::NoTraces { path: path.clone() });
        }
        all.extend(found);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

fn traces_under(path: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let meta = std::fs::metadata(path).map_err(ReportError::io(path))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let sessions = path.join("sessions");
    if sessions.is_dir() {
        return jsonl_in(&sessions);
    }
    let direct = jsonl_in(path)?;
    if !direct.is_empty() {
        return Ok(direct);
    }
    // A directory of runs.
    let mut all = Vec::new();
    for run in run_dirs(path)? {
        all.extend(jsonl_in(&run.join("sessions"))?);
    }
    Ok(all)
}

/// Run directories (those with a `sessions/` folder) directly under `root`, sorted by name.
pub fn run_dirs(root: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(root).map_err(ReportError::io(root))? {
        let entry = entry.map_err(ReportError::io(root))?;
        if entry.path().join("sessions").is_dir() {
            runs.push(entry.path());
        }
    }
    runs.sort();
    Ok(runs)
}

/// The `.jsonl` files in one directory, sorted.
pub fn jsonl_in(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ReportError::io(dir))? {
        let p = entry.map_err(ReportError::io(dir))?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "jsonl") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// One session's trace read step by step, checked as it goes with the same rules as
/// [`scrollsim_core::SessionTrace::read`]: header first, steps numbered 0, 1, 2..., the end
/// event last. A last line without a newline is the step in flight when the writer stopped:
/// it is not an error, [`SessionStream::truncated_line`] reports it.
pub struct SessionStream<R> {
    path: PathBuf,
    reader: TraceReader<R>,
    header: Header,
    next_index: u32,
    end: Option<End>,
    truncated: Option<usize>,
    done: bool,
}

impl SessionStream<BufReader<File>> {
    /// Opens a trace and reads its header.
    pub fn open(path: &Path) -> Result<Self, ReportError> {
        let file = File::open(path).map_err(ReportError::io(path))?;
        SessionStream::from_reader(path, BufReader::with_capacity(1 << 16, file))
    }
}

impl<R: BufRead> SessionStream<R> {
    /// Reads the header from `r`; `path` names the source in errors.
    pub fn from_reader(path: &Path, r: R) -> Result<Self, ReportError> {
        let mut reader = TraceReader::new(r);
        let err = |source: SessionError| ReportError::Trace {
            path: path.to_path_buf(),
            source,
        };
        let header = match reader.next() {
            Some(Ok(TraceEvent::Header(h))) => h,
            Some(Err(e)) => return Err(err(e.into())),
            _ => return Err(err(SessionError::NoHeader)),
        };
        Ok(SessionStream {
            path: path.to_path_buf(),
            reader,
            header,
            next_index: 0,
            end: None,
            truncated: None,
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The end event, once the steps are exhausted (None for an unfinished session).
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Line number of a truncated last line that was left out, if any.
    pub fn truncated_line(&self) -> Option<usize> {
        self.truncated
    }

    /// Line number of the last line read (1-based), for messages about a step.
    pub fn line(&self) -> usize {
        self.reader.line()
    }

    /// The next step, or None after the last one.
    pub fn next_step(&mut self) -> Option<Result<Step, ReportError>> {
        if self.done {
            return None;
        }
        loop {
            let ev = match self.reader.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(TraceError::Truncated { line })) => {
                    self.truncated = Some(line);
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => return Some(Err(self.fail(e.into()))),
                Some(Ok(ev)) => ev,
            };
            let line = self.reader.line();
            if self.end.is_some() {
                return Some(Err(self.fail(SessionError::AfterEnd { line })));
            }
            match ev {
                TraceEvent::Header(_) => {
                    return Some(Err(self.fail(SessionError::SecondHeader { line })))
                }
                TraceEvent::Step(s) => {
                    if s.index != self.next_index {
                        let e = SessionError::StepOutOfOrder {
                            line,
                            expected: self.next_index,
                            found: s.index,
                        };
                        return Some(Err(self.fail(e)));
                    }
                    self.next_index += 1;
                    return Some(Ok(s));
                }
                TraceEvent::End(e) => self.end = Some(e),
                TraceEvent::Unknown => {}
            }
        }
    }

    fn fail(&mut self, source: SessionError) -> ReportError {
        self.done = true;
        ReportError::Trace {
            path: self.path.clone(),
            source,
        }
    }
}
