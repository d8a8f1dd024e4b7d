//! The trace format: one JSONL file per session, append-only, one event per line.
//!
//! A trace opens with a [`Header`], has one [`Step`] per video shown, and closes with an
//! [`End`]. Readers ignore fields they do not know and skip event types they do not know, so a
//! trace written by a newer scrollsim still reads here; fields added later are optional so old
//! traces read in new versions. The JSON Schema (`schema/trace-event.schema.json`) is generated
//! from these types; Python users can read traces with it and no scrollsim code.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::{CallUsage, Decision};
use crate::ids::{CorpusId, RunId, SessionId, VideoId};
use crate::judge::{AnswerParser, Capability, JudgeStrategy, StructuredMode};
use crate::persona::Persona;
pub use crate::policy::PolicyInfo;
use crate::value::{PerValue, Value};
use crate::video::{Keyframe, Platform, Provenance};

/// Bumped when a change would make old readers misread a trace (never for added optional
/// fields).
pub const SCHEMA_VERSION: u32 = 1;

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum TraceEvent {
    Header(Header),
    Step(Step),
    End(End),
    /// An event type from a newer scrollsim; readers skip it.
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Reads the `type` tag and then the event's fields straight from the line. Writers put the
/// tag first (serde's internally tagged form), so the fast path never buffers an event; a line
/// written by hand with the tag elsewhere still reads, through a buffered slow path. (serde's
/// derived form buffers every event, which made reading a million steps several times slower.)
impl<'de> Deserialize<'de> for TraceEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl EventVisitor {
    fn event<'de, D: serde::Deserializer<'de>>(tag: &str, rest: D) -> Result<TraceEvent, D::Error> {
        Ok(match tag {
            "header" => TraceEvent::Header(Header::deserialize(rest)?),
            "step" => TraceEvent::Step(Step::deserialize(rest)?),
            "end" => TraceEvent::End(End::deserialize(rest)?),
            _ => {
                serde::de::IgnoredAny::deserialize(rest)?;
                TraceEvent::Unknown
            }
        })
    }
}

impl<'de> serde::de::Visitor<'de> for EventVisitor {
    type Value = TraceEvent;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a trace event: an object with a \"type\" field")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TraceEvent, A::Error> {
        use serde::de::Error;
        let first: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
        if first.as_deref() == Some("type") {
            let tag: std::borrow::Cow<'de, str> = map.next_value()?;
            return Self::event(&tag, serde::de::value::MapAccessDeserializer::new(map));
        }
        // Slow path: the tag is not first.
        let mut fields = serde_json::Map::new();
        if let Some(k) = first {
            fields.insert(k.into_owned(), map.next_value()?);
        }
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            fields.insert(k, v);
        }
        let tag = match fields.remove("type") {
            Some(serde_json::Value::String(t)) => t,
            Some(_) => return Err(A::Error::custom("the \"type\" field must be a string")),
            None => return Err(A::Error::missing_field("type")),
        };
        Self::event(&tag, serde_json::Value::Object(fields)).map_err(A::Error::custom)
    }
}

/// What kind of judge produced a session's decisions. The offline persona model is never
/// presented as a VLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum JudgeKind {
    /// The offline persona user model (MiniLM similarity + seeded logistic choice): not a VLM.
    OfflinePersonaModel,
    /// A vision-language model behind an HTTP provider.
    Vlm,
    /// A text-only LLM answering from the image description (the VLM-vs-LLM ablation).
    TextOnly,
}

/// The judge of a session, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JudgeInfo {
    pub kind: JudgeKind,
    /// `offline`, `openai`, `anthropic`, `gemini`...
    pub provider: String,
    pub model: String,
    pub strategy: JudgeStrategy,
    pub parser: AnswerParser,
    /// Version of the prompt template file, part of every cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    /// The structured-output mode requests asked for (None: free text only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<StructuredMode>,
    /// What the probe found the model's endpoint can see and answer (live studies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
}

/// The words every output judged by the offline persona model carries.
pub const NOT_A_VLM: &str = "not a VLM";

impl JudgeInfo {
    /// A short human label: `gpt-4o (openai, isq)`, `offline persona model, not a VLM (simple)`.
    pub fn label(&self) -> String {
        match self.kind {
            JudgeKind::OfflinePersonaModel => {
                format!("offline persona model, {NOT_A_VLM} ({})", self.strategy)
            }
            _ => format!("{} ({}, {})", self.model, self.provider, self.strategy),
        }
    }

    /// Whether a real model judged (the offline persona model is not one).
    pub fn is_model(&self) -> bool {
        self.kind != JudgeKind::OfflinePersonaModel
    }

    /// The caveat an output must carry when this judge produced its numbers (None for a real
    /// model): the offline persona model checks the machinery and is never evidence of what a
    /// model values.
    pub fn caveat(&self) -> Option<&'static str> {
        (!self.is_model()).then_some(
            "judged by the offline persona model: not a VLM; these numbers check the machinery and are no evidence of what a model values",
        )
    }
}

/// The paper's windows for alignment change [A: first 50 vs last 50 after about 100]: the first
/// `first` steps against `last` steps starting at step `last_start` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlignmentWindows {
    pub first: u32,
    pub last_start: u32,
    pub last: u32,
}

impl Default for AlignmentWindows {
    fn default() -> Self {
        AlignmentWindows {
            first: 50,
            last_start: 100,
            last: 50,
        }
    }
}

impl AlignmentWindows {
    /// Steps a session needs for both windows to be full.
    pub fn needs(&self) -> u32 {
        self.first.max(self.last_start + self.last)
    }
}

/// First line of a trace: everything needed to re-run or interpret the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Header {
    pub schema_version: u32,
    pub scrollsim_version: String,
    pub run_id: RunId,
    pub session_id: SessionId,
    pub created_at: DateTime<Utc>,
    /// The persona, or none for the control arm.
    #[serde(default)]
    pub persona: Option<Persona>,
    pub judge: JudgeInfo,
    pub policy: PolicyInfo,
    pub seed: u64,
    pub corpus: CorpusId,
    /// Steps the session was asked to run.
    pub session_length: u32,
    #[serde(default)]
    pub windows: AlignmentWindows,
    /// Persona weight at or above which a value counts as the persona's own.
    #[serde(default = "default_align_threshold")]
    pub align_threshold: f32,
    /// The fully resolved configuration of the session (no secrets: keys are read from the
    /// environment and never stored).
    #[serde(default)]
    pub config: serde_json::Value,
}

fn default_align_threshold() -> f32 {
    0.5
}

/// A video the policy considered for a step, with its score under the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlateEntry {
    pub video: VideoId,
    pub score: f32,
    /// Why it was a candidate: `recommend`, `explore`, `keyword:<word>`, `random`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One video shown to the agent and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// 0-based position in the session.
    pub index: u32,
    pub video: VideoId,
    #[serde(default)]
    pub platform: Platform,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub caption: String,
    /// The video's value labels: a step counts toward each of these values' exposure.
    pub values: Vec<Value>,
    pub value_scores: PerValue<f32>,
    /// Ground-truth label when the corpus has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    /// The value the `keyword` policy retrieved this video for; P(model, value) groups by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieved_for: Option<Value>,
    pub keyframes: Vec<Keyframe>,
    /// Who made the video and its licence, when the corpus says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// The candidates the policy considered, best first.
    #[serde(default)]
    pub slate: Vec<SlateEntry>,
    pub decision: Decision,
    /// Seconds the agent stayed on the video.
    pub dwell_s: f32,
    /// Running count of videos shown per value, including this step.
    pub exposure: PerValue<u32>,
    /// Running count of likes per value, including this step.
    pub likes: PerValue<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndReason {
    /// All requested steps ran.
    Completed,
    /// The policy ran out of unseen videos before the session length.
    CorpusExhausted,
    /// The call budget (tokens or money) was reached; no new calls were made.
    BudgetExhausted,
    /// The session stopped on an error it could not step past.
    Error { message: String },
}

/// Last line of a complete trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct End {
    pub steps: u32,
    pub reason: EndReason,
    pub likes: u32,
    #[serde(default)]
    pub parse_failures: u32,
    #[serde(default)]
    pub call_errors: u32,
    #[serde(default)]
    pub usage: CallUsage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// The JSON Schema of one trace line, as published in `schema/trace-event.schema.json`.
/// Object keys are sorted: serde_json's `preserve_order` feature is switched on by other
/// crates in some builds, and the published file must not depend on which crates were built.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<TraceEvent>();
    sorted(serde_json::to_value(schema).expect("schema serializes"))
}

fn sorted(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A trace line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("line {line}: {source}")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: truncated (no newline at end of file): the step in flight when the writer stopped")]
    Truncated { line: usize },
    #[error("line {line}: {source}")]
    Io { line: usize, source: std::io::Error },
}

/// Streams events from a trace, one line at a time, with line numbers in errors. Unknown event
/// types are skipped. Memory use is one line, whatever the trace's length.
pub struct TraceReader<R> {
    inner: R,
    line: usize,
    buf: String,
}

impl<R: BufRead> TraceReader<R> {
    pub fn new(inner: R) -> Self {
        TraceReader {
            inner,
            line: 0,
            buf: String::new(),
        }
    }

    /// Line number of the last line read (1-based).
    pub fn line(&self) -> usize {
        self.line
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceEvent, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            let line = self.line;
            match self.inner.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => return Some(Err(TraceError::Io { line, source })),
            }
            if !self.buf.ends_with('\n') {
                return Some(Err(TraceError::Truncated { line }));
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            return match serde_json::from_str::<TraceEvent>(&self.buf) {
                Ok(TraceEvent::Unknown) => continue,
                Ok(ev) => Some(Ok(ev)),
                Err(source) => Some(Err(TraceError::Json { line, source })),
            };
        }
    }
}

/// Appends events as JSON lines, flushing after each so a crash loses at most the event in
/// flight.
pub struct TraceWriter<W: Write> {
    inner: W,
}

impl<W: Write> TraceWriter<W> {
    pub fn new(inner: W) -> Self {
        TraceWriter { inner }
    }

    pub fn write(&mut self, event: &TraceEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        // One write per line, so a concurrent reader never sees half an event.
        self.inner.write_all(&line)?;
        self.inner.flush()
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// A whole session read into memory (for small traces and tests; large runs stream).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTrace {
    pub header: Header,
    pub steps: Vec<Step>,
    /// None when the session has not finished (or was interrupted).
    pub end: Option<End>,
}

/// What is wrong with a trace's structure (as opposed to one line's JSON).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Line(#[from] TraceError),
    #[error("line 1: a trace must start with a header event")]
    NoHeader,
    #[error("line {line}: a second header event")]
    SecondHeader { line: usize },
    #[error("line {line}: step index {found}, expected {expected}")]
    StepOutOfOrder {
        line: usize,
        expected: u32,
        found: u32,
    },
    #[error("line {line}: event after the end event")]
    AfterEnd { line: usize },
}

impl SessionTrace {
    /// Reads and checks a whole trace: header first, steps numbered 0, 1, 2..., end last.
    pub fn read(r: impl BufRead) -> Result<SessionTrace, SessionError> {
        let mut reader = TraceReader::new(r);
        let header = match reader.next() {
            Some(Ok(TraceEvent::Header(h))) => h,
            Some(Err(e)) => return Err(e.into()),
            _ => return Err(SessionError::NoHeader),
        };
        let mut steps = Vec::new();
        let mut end = None;
        while let Some(ev) = reader.next() {
            let ev = ev?;
            let line = reader.line();
            if end.is_some() {
                return Err(SessionError::AfterEnd { line });
            }
            match ev {
                TraceEvent::Header(_) => return Err(SessionError::SecondHeader { line }),
                TraceEvent::Step(s) => {
                    let expected = steps.len() as u32;
                    if s.index != expected {
                        return Err(SessionError::StepOutOfOrder {
                            line,
                            expected,
                            found: s.index,
                        });
                    }
                    steps.push(s);
                }
                TraceEvent::End(e) => end = Some(e),
                TraceEvent::Unknown => {}
            }
        }
        Ok(SessionTrace { header, steps, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_whether_or_not_the_tag_comes_first() {
        let tagged_first = r#"{"type":"end","steps":3,"reason":{"kind":"completed"},"likes":1}"#;
        let tagged_last = r#"{"steps":3,"reason":{"kind":"completed"},"likes":1,"type":"end"}"#;
        let a: TraceEvent = serde_json::from_str(tagged_first).unwrap();
        let b: TraceEvent = serde_json::from_str(tagged_last).unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            a,
            TraceEvent::End(End {
                steps: 3,
                likes: 1,
                ..
            })
        ));
        let unknown: TraceEvent =
            serde_json::from_str(r#"{"type":"annotation","x":[1,{"y":2}]}"#).unwrap();
        assert_eq!(unknown, TraceEvent::Unknown);
        let err = serde_json::from_str::<TraceEvent>(r#"{"steps":3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("type"), "{err}");
        let err =
            serde_json::from_str::<TraceEvent>(r#"{"type":"end","steps":"three"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
