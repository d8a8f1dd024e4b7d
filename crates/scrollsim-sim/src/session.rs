//! The session loop: policy -> video -> judge -> dwell and like -> state update -> trace step,
//! written and flushed before the next step. It is the only loop that runs sessions, fresh
//! or resumed.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scrollsim_core::trace::TraceError;
use scrollsim_core::{End, EndReason, Header, Step, TraceEvent, TraceReader, TraceWriter};
use scrollsim_store::{VectorName, VideoStore};
use scrollsim_vlm::{Judge, JudgeError, JudgeRequest};

use crate::dwell::DwellConfig;
use crate::policy::{FeedPolicy, PolicyContext, PolicyError, PolicyMemo};
use crate::progress::{RunProgress, Stop};
use crate::state::{ReplayMismatch, SessionState};

/// What every session of a run shares.
#[derive(Clone)]
pub struct SessionEnv {
    pub store: Arc<dyn VideoStore>,
    pub dwell: DwellConfig,
    /// At most this many keyframes of each video are shown (and recorded), evenly spaced.
    pub frames_per_video: Option<usize>,
    pub stop: Stop,
    pub progress: Arc<RunProgress>,
}

/// One session to run: its header (written when the trace is new, checked against the trace
/// when resuming), its feed and its judge, and where its trace goes.
pub struct Session {
    pub header: Header,
    pub policy: Arc<dyn FeedPolicy>,
    pub judge: Arc<dyn Judge>,
    pub path: PathBuf,
}

/// How a call to [`run_session`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The session wrote its end event now.
    Ended { steps: u32, reason: EndReason },
    /// The trace already had an end event; nothing was run. (A trace that ended in error is
    /// never this: it is continued, so a fixed cause lets `--resume` finish it.)
    AlreadyEnded { steps: u32, reason: EndReason },
    /// Stopped on request after `steps` steps, without an end event: resumable.
    Stopped { steps: u32 },
}

/// Why a session could not continue. The trace keeps every step flushed before the error and
/// no end event, so `--resume` continues it once the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: another scrollsim process is writing this session")]
    Busy { path: PathBuf },
    #[error("{path}: {source}")]
    Trace { path: PathBuf, source: TraceError },
    #[error("{path}: line 1: the trace does not start with a header")]
    NoHeader { path: PathBuf },
    #[error("{path}: line {line}: {source}")]
    Replay {
        path: PathBuf,
        line: usize,
        source: ReplayMismatch,
    },
    #[error("{path}: line {line}: unexpected {what} event")]
    Unexpected {
        path: PathBuf,
        line: usize,
        what: &'static str,
    },
    #[error("{path}: the trace's header differs from this run's in `{field}`: it was written by another experiment, corpus or config; refusing to append")]
    HeaderMismatch { path: PathBuf, field: String },
    #[error("{path}: step {step}: feed policy: {source}")]
    Policy {
        path: PathBuf,
        step: u32,
        source: PolicyError,
    },
    #[error("{path}: step {step}: store: {source}")]
    Store {
        path: PathBuf,
        step: u32,
        source: scrollsim_store::StoreError,
    },
}

/// Runs (or continues) one session until it ends or `env.stop` is requested.
pub async fn run_session(env: &SessionEnv, s: &Session) -> Result<Outcome, SessionError> {
    let path = s.path.as_path();
    let opened = open_trace(path, &s.header)?;
    let (mut writer, mut state) = match opened {
        Opened::Ended {
            steps,
            likes,
            usage,
            reason,
        } => {
            env.progress.already(steps as u64, likes as u64, &usage);
            env.progress
                .shortened((s.header.session_length - steps.min(s.header.session_length)) as u64);
            return Ok(Outcome::AlreadyEnded { steps, reason });
        }
        Opened::Continue { writer, state } => {
            env.progress.already(
                state.next_index() as u64,
                state.total_likes() as u64,
                state.usage(),
            );
            (writer, state)
        }
    };
    let h = &s.header;
    let persona = h.persona.as_ref();
    let io = |source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    };

    // Empty on resume too: policies only cache in it what they can recompute.
    let mut memo = PolicyMemo::default();
    let reason = loop {
        let index = state.next_index();
        if index >= h.session_length {
            break EndReason::Completed;
        }
        if env.stop.requested() {
            return Ok(Outcome::Stopped { steps: index });
        }
        let mut cx = PolicyContext::new(&state, h.seed, &mut memo);
        let pick = match s.policy.next(&mut cx).await {
            Ok(Some(p)) => p,
            Ok(None) => break EndReason::CorpusExhausted,
            Err(source) => {
                return Err(SessionError::Policy {
                    path: path.into(),
                    step: index,
                    source,
                })
            }
        };
        let mut video = pick.video;
        if let Some(n) = env.frames_per_video {
            video.keyframes = evenly_spaced(std::mem::take(&mut video.keyframes), n);
        }
        let vector = env
            .store
            .vectors(std::slice::from_ref(&video.id), VectorName::Text)
            .await
            .map_err(|source| SessionError::Store {
                path: path.into(),
                step: index,
                source,
            })?
            .pop()
            .map(|(_, v)| v);
        let req = JudgeRequest {
            persona,
            video: &video,
            text_vector: vector.as_deref(),
            seed: h.seed,
        };
        let decision = match s.judge.decide(&req).await {
            Ok(d) => d,
            Err(JudgeError::BudgetExhausted(_)) => break EndReason::BudgetExhausted,
            Err(e) => {
                break EndReason::Error {
                    message: format!("step {index}: judge: {e}"),
                }
            }
        };
        let dwell_s = env.dwell.dwell(decision.like, h.seed, index);
        let (exposure, likes) = state.advance(&video.id, &video.values, &decision, dwell_s);
        env.progress.step(decision.like, &decision.usage);
        let step = Step {
            index,
            video: video.id,
            platform: video.platform,
            topic: video.topic,
            caption: video.caption,
            values: video.values,
            value_scores: video.value_scores,
            label: video.label,
            retrieved_for: pick.retrieved_for,
            keyframes: video.keyframes,
            provenance: video.provenance,
            slate: pick.slate,
            decision,
            dwell_s,
            exposure,
            likes,
            // No wall-clock time in steps: a resumed trace is then identical to an
            // uninterrupted one (latency is in `decision.usage`).
            at: None,
        };
        writer.write(&TraceEvent::Step(step)).map_err(io)?;
        // The embedded store and the offline judge rarely wait, so without this a few sessions
        // would hold the runtime's threads and starve the progress bar and the Ctrl-C handler.
        tokio::task::yield_now().await;
    };

    let steps = state.next_index();
    env.progress
        .shortened((h.session_length - steps.min(h.session_length)) as u64);
    let end = End {
        steps,
        reason: reason.clone(),
        likes: state.total_likes(),
        parse_failures: state.parse_failures(),
        call_errors: state.call_errors(),
        usage: state.usage().clone(),
        at: None,
    };
    writer.write(&TraceEvent::End(end)).map_err(io)?;
    Ok(Outcome::Ended { steps, reason })
}

/// `n` of `items`, evenly spaced, each the middle of its share (1 of 4: the third; 2 of 4: the
/// second and fourth... of 0-based 1 and 3).
fn evenly_spaced<T>(items: Vec<T>, n: usize) -> Vec<T> {
    let m = items.len();
    if n >= m {
        return items;
    }
    let keep: Vec<usize> = (0..n).map(|i| (2 * i + 1) * m / (2 * n)).collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, x)| x)
        .collect()
}

enum Opened {
    Ended {
        steps: u32,
        likes: u32,
        usage: scrollsim_core::CallUsage,
        reason: EndReason,
    },
    Continue {
        writer: TraceWriter<File>,
        state: SessionState,
    },
}

/// Opens a session's trace: creates it with its header, or, when it exists, drops a partial
/// last line (the step in flight at a crash), checks the header and replays the steps to
/// rebuild the state.
fn open_trace(path: &Path, header: &Header) -> Result<Opened, SessionError> {
    let io = |source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    // One writer per trace: a second `scrollsim run` on the same session is refused rather
    // than interleaving lines (the lock goes with the file when the session ends).
    file.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => SessionError::Busy { path: path.into() },
        std::fs::TryLockError::Error(e) => io(e),
    })?;
    truncate_partial_line(&mut file).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        // New, or not even the header was complete.
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut writer = TraceWriter::new(file);
        writer
            .write(&TraceEvent::Header(header.clone()))
            .map_err(io)?;
        return Ok(Opened::Continue {
            writer,
            state: SessionState::new(),
        });
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = TraceReader::new(BufReader::new(&mut file));
    let trace_err = |source| SessionError::Trace {
        path: path.to_path_buf(),
        source,
    };
    match reader.next() {
        Some(Ok(TraceEvent::Header(found))) => {
            if let Some(field) = header_difference(&found, header) {
                return Err(SessionError::HeaderMismatch {
                    path: path.into(),
                    field,
                });
            }
        }
        Some(Err(e)) => return Err(trace_err(e)),
        _ => return Err(SessionError::NoHeader { path: path.into() }),
    }
    let mut state = SessionState::new();
    let mut ended = None;
    while let Some(ev) = reader.next() {
        let ev = ev.map_err(trace_err)?;
        let line = reader.line();
        if ended.is_some() {
            return Err(SessionError::Unexpected {
                path: path.into(),
                line,
                what: "event after the end",
            });
        }
        match ev {
            TraceEvent::Step(step) => {
                state.replay(&step).map_err(|source| SessionError::Replay {
                    path: path.into(),
                    line,
                    source,
                })?
            }
            TraceEvent::End(end) => ended = Some(end),
            TraceEvent::Header(_) => {
                return Err(SessionError::Unexpected {
                    path: path.into(),
                    line,
                    what: "second header",
                })
            }
            TraceEvent::Unknown => {}
        }
    }
    drop(reader);
    match ended {
        // A session that stopped on an error is not done: its end event goes, and it
        // continues from its steps (the same as a session interrupted before its end).
        Some(End {
            reason: EndReason::Error { message },
            ..
        }) => {
            tracing::info!(path = %path.display(), "continuing a session that ended in error: {message}");
            truncate_last_line(&mut file).map_err(io)?;
        }
        Some(end) => {
            return Ok(Opened::Ended {
                steps: end.steps,
                likes: end.likes,
                usage: end.usage,
                reason: end.reason,
            })
        }
        None => {}
    }
    file.seek(SeekFrom::End(0)).map_err(io)?;
    Ok(Opened::Continue {
        writer: TraceWriter::new(file),
        state,
    })
}

/// Cuts the file after its last newline: a line without one is an event whose write was cut
/// short, and the step it describes is run again.
fn truncate_partial_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let Some(newline) = last_newline_before(file, len)? else {
        return file.set_len(0);
    };
    let keep = newline + 1;
    if keep < len {
        tracing::warn!(
            dropped = len - keep,
            "dropping the partial last line of a trace"
        );
        file.set_len(keep)?;
    }
    Ok(())
}

/// Cuts a file's last complete line (its end event).
fn truncate_last_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    // The file ends with a newline (partial lines were cut on open): find the one before.
    match last_newline_before(file, len.saturating_sub(1))? {
        Some(newline) => file.set_len(newline + 1),
        None => file.set_len(0),
    }
}

/// The offset of the last `\n` in the file's first `end` bytes, scanning backwards in blocks
/// (a trace can be large; its tail is what is looked at).
fn last_newline_before(file: &mut File, mut end: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(pos) = buf[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(Some(start + pos as u64));
        }
        end = start;
    }
    Ok(None)
}

/// The first top-level header field that differs, ignoring when and by which version the
/// trace was started.
fn header_difference(found: &Header, expected: &Header) -> Option<String> {
    let a = serde_json::to_value(found).ok()?;
    let b = serde_json::to_value(expected).ok()?;
    let (a, b) = (a.as_object()?, b.as_object()?);
    let ignore = ["created_at", "scrollsim_version"];
    a.keys()
        .chain(b.keys())
        .filter(|k| !ignore.contains(&k.as_str()))
        .find(|k| a.get(*k) != b.get(*k))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::evenly_spaced;

    #[test]
    fn frames_are_taken_from_the_middle_of_their_share() {
        assert_eq!(evenly_spaced(vec![0, 1, 2, 3], 1), vec![2]);
        assert_eq!(evenly_spaced(vec![0, 1, 2, 3], 2), vec![1, 3]);
        assert_eq!(evenly_spaced(vec![0, 1, 2], 1), vec![1]);
        assert_eq!(evenly_spaced(vec![0, 1, 2], 5), vec![0, 1, 2]);
        assert_eq!(evenly_spaced(Vec::<u8>::new(), 1), Vec::<u8>::new());
    }
}
