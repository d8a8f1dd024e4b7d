//! Replay from the trace alone: re-derive every metric of a session and check that the trace
//! agrees with itself (running exposure and like counts, the end event's totals, no like
//! without a parsed answer); and compare a re-executed session with the recorded one step by
//! step. Both report the first divergence precisely: session, step, field, recorded value and
//! re-derived value.

use std::fmt;
use std::path::{Path, PathBuf};

use scrollsim_core::metrics::{SessionFold, SessionMetrics};
use scrollsim_core::{Header, ParseStatus, PerValue, Step, Value};
use serde::Serialize;

use crate::error::ReportError;
use crate::source::SessionStream;

/// One place where a trace disagrees with what is derived from it (or with a re-execution).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    pub path: PathBuf,
    pub session: String,
    /// None for the end event.
    pub step: Option<u32>,
    pub field: String,
    pub recorded: String,
    pub derived: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.step {
            Some(s) => format!("step {s}"),
            None => "end event".to_string(),
        };
        write!(
            f,
            "session {} ({}), {at}: {}: recorded {}, re-derived {}",
            self.session,
            self.path.display(),
            self.field,
            self.recorded,
            self.derived
        )
    }
}

/// A session re-derived from its trace.
#[derive(Debug, Clone)]
pub struct SessionCheck {
    pub path: PathBuf,
    pub header: Header,
    pub metrics: SessionMetrics,
    pub finished: bool,
    /// The first disagreement, if any.
    pub first_divergence: Option<Divergence>,
    /// How many fields disagreed in all.
    pub divergences: u64,
}

struct Checker<'a> {
    path: &'a Path,
    session: String,
    first: Option<Divergence>,
    count: u64,
}

impl Checker<'_> {
    fn check<T: PartialEq + fmt::Debug>(
        &mut self,
        step: Option<u32>,
        field: impl FnOnce() -> String,
        recorded: T,
        derived: T,
    ) {
        if recorded == derived {
            return;
        }
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(Divergence {
                path: self.path.to_path_buf(),
                session: self.session.clone(),
                step,
                field: field(),
                recorded: format!("{recorded:?}"),
                derived: format!("{derived:?}"),
            });
        }
    }

    fn per_value(
        &mut self,
        step: u32,
        name: &str,
        recorded: &PerValue<u32>,
        derived: &PerValue<u32>,
    ) {
        for v in Value::ALL {
            self.check(
                Some(step),
                || format!("{name}.{}", v.code()),
                recorded[v],
                derived[v],
            );
        }
    }
}

/// Streams one trace, re-derives its metrics and checks its internal consistency.
pub fn check_trace(path: &Path) -> Result<SessionCheck, ReportError> {
    let mut stream = SessionStream::open(path)?;
    let header = stream.header().clone();
    let mut fold = SessionFold::new(&header);
    let mut c = Checker {
        path,
        session: header.session_id.0.clone(),
        first: None,
        count: 0,
    };
    let (mut exposure, mut likes) = (PerValue::<u32>::default(), PerValue::<u32>::default());
    let (mut total_likes, mut failures, mut errors, mut steps) = (0u32, 0u32, 0u32, 0u32);
    while let Some(step) = stream.next_step() {
        let s = step?;
        fold.push(&s);
        steps += 1;
        let d = &s.decision;
        for v in &s.values {
            exposure[*v] += 1;
            likes[*v] += d.like as u32;
        }
        total_likes += d.like as u32;
        match d.status {
            ParseStatus::Parsed => {}
            ParseStatus::CallError { .. } | ParseStatus::ImagesDropped { .. } => errors += 1,
            ParseStatus::ParseFailure { .. } | ParseStatus::Refused { .. } => failures += 1,
        }
        // The agent likes only on a parsed answer: a failure is never a silent like.
        c.check(
            Some(s.index),
            || "decision.like (without a parsed answer)".into(),
            d.like && !d.status.is_parsed(),
            false,
        );
        c.per_value(s.index, "exposure", &s.exposure, &exposure);
        c.per_value(s.index, "likes", &s.likes, &likes);
    }
    let end = stream.end().cloned();
    if let Some(e) = &end {
        c.check(None, || "steps".into(), e.steps, steps);
        c.check(None, || "likes".into(), e.likes, total_likes);
        c.check(None, || "parse_failures".into(), e.parse_failures, failures);
        c.check(None, || "call_errors".into(), e.call_errors, errors);
    }
    Ok(SessionCheck {
        path: path.to_path_buf(),
        header,
        metrics: fold.finish(),
        finished: end.is_some(),
        first_divergence: c.first,
        divergences: c.count,
    })
}

/// What a re-execution is compared on, per step: the feed (video), the decision and what came
/// with it. Usage (latency, tokens, cache hits) is not compared: a replay reads the cache.
fn step_fields(s: &Step) -> Vec<(&'static str, String)> {
    let d = &s.decision;
    vec![
        ("video", s.video.0.clone()),
        ("decision.like", d.like.to_string()),
        ("decision.status", format!("{:?}", d.status)),
        (
            "decision.matched_trait",
            format!("{:?}", d.matched_trait.as_ref().map(|m| &m.text)),
        ),
        ("decision.reason", format!("{:?}", d.reason)),
        ("decision.isq", format!("{:?}", d.isq)),
        (
            "decision.raw",
            format!(
                "{:?}",
                d.raw
                    .iter()
                    .map(|r| (&r.question, &r.text))
                    .collect::<Vec<_>>()
            ),
        ),
        ("dwell_s", format!("{:?}", s.dwell_s)),
        (
            "keyframes",
            format!(
                "{:?}",
                s.keyframes
                    .iter()
                    .map(|k| k.hash.as_str())
                    .collect::<Vec<_>>()
            ),
        ),
    ]
}

/// Compares a recorded trace with a re-execution of it, step by step, and returns the first
/// divergence (None when every step matches and both have the same number of steps).
pub fn first_divergence(recorded: &Path, rerun: &Path) -> Result<Option<Divergence>, ReportError> {
    let mut a = SessionStream::open(recorded)?;
    let mut b = SessionStream::open(rerun)?;
    let session = a.header().session_id.0.clone();
    let path = recorded.to_path_buf();
    let div = |step: Option<u32>, field: &str, was: String, now: String| Divergence {
        path: path.clone(),
        session: session.clone(),
        step,
        field: field.to_string(),
        recorded: was,
        derived: now,
    };
    loop {
        match (a.next_step().transpose()?, b.next_step().transpose()?) {
            (None, None) => return Ok(None),
            (Some(x), Some(y)) => {
                for ((field, rx), (_, ry)) in step_fields(&x).into_iter().zip(step_fields(&y)) {
                    if rx != ry {
                        return Ok(Some(div(Some(x.index), field, rx, ry)));
                    }
                }
            }
            (Some(x), None) => {
                return Ok(Some(div(
                    Some(x.index),
                    "step",
                    "present".into(),
                    "missing (re-execution ended earlier)".into(),
                )))
            }
            (None, Some(y)) => {
                return Ok(Some(div(
                    Some(y.index),
                    "step",
                    "missing (recorded session ended earlier)".into(),
                    "present".into(),
                )))
            }
        }
    }
}
