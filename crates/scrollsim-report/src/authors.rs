//! The Value-Spectrum authors' log columns (docs/protocol.md), one CSV per session, for
//! comparison with their published logs: image name, prompt, answer, reason, image
//! description, stay duration, platform, model; persona sessions add persona, number of
//! traits, matched trait (or NA) and decision.
//!
//! Where our trace differs from their bot, the mapping is: `image name` is the video id;
//! `prompt` names the strategy, the prompt template version and the questions asked (the
//! rendered text lives in the call cache, not the trace); `answer` is the model's raw answer
//! (several questions: `question: answer` lines); `decision` is `like` or `skip`, or the reason
//! there was none (`parse_failure`, `refused`, `call_error`), never a silent skip.

use std::io::Write;

use scrollsim_core::{Header, ParseStatus, Step};

use crate::error::ReportError;
use crate::group::model_label;

/// The authors' columns.
pub const COLUMNS: [&str; 8] = [
    "image name",
    "prompt",
    "answer",
    "reason",
    "image description",
    "stay duration",
    "platform",
    "model",
];

/// Added for sessions with a persona.
pub const PERSONA_COLUMNS: [&str; 4] = ["persona", "number of traits", "matched trait", "decision"];

/// `like`, `skip`, or why there is no decision.
pub fn decision_word(status: &ParseStatus, like: bool) -> &'static str {
    match status {
        ParseStatus::Parsed if like => "like",
        ParseStatus::Parsed => "skip",
        ParseStatus::ParseFailure { .. } => "parse_failure",
        ParseStatus::Refused { .. } => "refused",
        ParseStatus::CallError { .. } => "call_error",
        ParseStatus::ImagesDropped { .. } => "images_dropped",
    }
}

/// Writes rows for one session as its steps stream by.
pub struct AuthorsCsv<W: Write> {
    out: csv::Writer<W>,
    persona: bool,
    model: String,
    prompt_head: String,
}

impl<W: Write> AuthorsCsv<W> {
    pub fn new(out: W, header: &Header) -> Result<Self, csv::Error> {
        let mut out = csv::Writer::from_writer(out);
        let persona = header.persona.is_some();
        let mut cols: Vec<&str> = COLUMNS.to_vec();
        if persona {
            cols.extend(PERSONA_COLUMNS);
        }
        out.write_record(&cols)?;
        let j = &header.judge;
        let prompt_head = match &j.prompt_version {
            Some(v) => format!("{} (prompt {v})", j.strategy),
            None => j.strategy.to_string(),
        };
        Ok(AuthorsCsv {
            out,
            persona,
            model: model_label(header),
            prompt_head,
        })
    }

    pub fn row(&mut self, header: &Header, s: &Step) -> Result<(), csv::Error> {
        let d = &s.decision;
        let questions: Vec<&str> = d.raw.iter().map(|r| r.question.as_str()).collect();
        let prompt = if questions.is_empty() {
            self.prompt_head.clone()
        } else {
            format!("{}: {}", self.prompt_head, questions.join("; "))
        };
        let answer = match d.raw.as_slice() {
            [one] => one.text.clone(),
            many => many
                .iter()
                .map(|r| format!("{}: {}", r.question, r.text))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let mut rec = vec![
            s.video.0.clone(),
            prompt,
            answer,
            d.reason.clone().unwrap_or_default(),
            d.description.clone().unwrap_or_default(),
            format!("{}", s.dwell_s),
            s.platform.as_str().to_string(),
            self.model.clone(),
        ];
        if let (true, Some(p)) = (self.persona, &header.persona) {
            rec.push(p.id.0.clone());
            rec.push(p.traits.len().to_string());
            rec.push(
                d.matched_trait
                    .as_ref()
                    .map_or_else(|| "NA".to_string(), |m| m.text.clone()),
            );
            rec.push(decision_word(&d.status, d.like).to_string());
        }
        self.out.write_record(&rec)
    }

    pub fn finish(mut self) -> Result<W, ReportError> {
        self.out.flush().map_err(ReportError::io("authors csv"))?;
        self.out.into_inner().map_err(|e| ReportError::Write {
            path: "authors csv".into(),
            message: e.to_string(),
        })
    }
}
