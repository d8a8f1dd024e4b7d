//! One session's numbers and charts, for the viewer's session page: the metric folds over every
//! step, its radar and rolling trajectories. The caller sees each step as it streams by (to
//! keep a page of them) and keeps nothing else.

use std::path::Path;

use scrollsim_core::metrics::{Rolling, SessionFold, SessionMetrics};
use scrollsim_core::{End, Header, Step};

use crate::aggregate::aligned_values;
use crate::chart;
use crate::error::ReportError;
use crate::group::{is_offline_label, model_label};
use crate::source::SessionStream;
use crate::trajectory::{value_lines, TrajectoryAcc};

/// A session read once: its header, end, metrics and charts (SVG).
#[derive(Debug, Clone)]
pub struct SessionDigest {
    pub header: Header,
    pub end: Option<End>,
    pub metrics: SessionMetrics,
    /// Line number of a truncated last line that was left out.
    pub truncated_line: Option<usize>,
    /// Like-rate and exposure share per value.
    pub radar_svg: String,
    /// Rolling like-rate and exposure share per value over the last `window` steps.
    pub like_svg: String,
    pub exposure_svg: String,
}

/// Streams a trace through the metric folds, calling `visit` with each step.
pub fn digest_session(
    trace: &Path,
    window: usize,
    mut visit: impl FnMut(&Step),
) -> Result<SessionDigest, ReportError> {
    let mut stream = SessionStream::open(trace)?;
    let header = stream.header().clone();
    let mut fold = SessionFold::new(&header);
    let mut rolling = Rolling::new(window, aligned_values(&header));
    let mut traj = TrajectoryAcc::default();
    while let Some(step) = stream.next_step() {
        let step = step?;
        fold.push(&step);
        traj.push(&rolling.push(&step));
        visit(&step);
    }
    let metrics = fold.finish();
    let judge = model_label(&header);
    let note = is_offline_label(&judge).then(|| format!("judge: {judge}"));
    let note = note.as_deref();
    let t = &metrics.by_label;
    let radar_svg = chart::radar(
        "This session: like-rate and exposure per value (%)",
        &[
            (
                "like-rate %".to_string(),
                t.like_rate().map(|_, r| r.map(|r| 100.0 * r)),
            ),
            (
                "exposure share %".to_string(),
                t.exposure_share().map(|_, s| Some(100.0 * s)),
            ),
        ],
        100.0,
        note,
    )?;
    let (like, exposure) = value_lines(&traj.samples());
    let like_svg = chart::lines(
        &format!("Rolling like-rate (last {window} steps)"),
        "step",
        "like-rate (%)",
        &like,
        100.0,
        note,
    )?;
    let exposure_svg = chart::lines(
        &format!("Rolling exposure share (last {window} steps)"),
        "step",
        "exposure (%)",
        &exposure,
        100.0,
        note,
    )?;
    Ok(SessionDigest {
        end: stream.end().cloned(),
        truncated_line: stream.truncated_line(),
        header,
        metrics,
        radar_svg,
        like_svg,
        exposure_svg,
    })
}
