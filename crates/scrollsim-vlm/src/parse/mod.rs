//! From a model's answer to a decision. Two parsers (docs/protocol.md):
//!
//! - `lenient`, the authors' rule: a like when the LIKE answer contains "yes" anywhere,
//!   case-insensitive. The LIKE answer is the `LIKE:` line when the model used the labels,
//!   the JSON `like` field when it answered in JSON, else the whole answer. ISQ answers are
//!   read from the labelled lines or JSON.
//! - `strict`: the JSON object the prompt (and, where supported, the provider's structured
//!   output) asked for; without JSON, the first token of the LIKE answer must be yes or no.
//!   ISQ under strict needs the JSON object.
//!
//! A provider-signalled refusal is `Refused`; an empty answer, or one the parser cannot read,
//! is a `ParseFailure` with the raw answer kept. Neither is ever a parsed skip. An answer that
//! copies the prompt's answer format instead of filling it in (`LIKE: Yes or No`) is read by
//! the rules in [`echo`]: never as the choice it appears to make.
//!
//! The contract with the prompt files: labels `LIKE`, `WHY`, `DESCRIPTION`, `TRAIT`,
//! `VISUAL_APPEAL`, `CURIOSITY`, `EMOTIONAL_ENGAGEMENT`, `VALUE_EXPECTATION`,
//! `PREFERENCE_ALIGNMENT`, `ACTION_DECISION` (one per line, `LABEL: answer`), and the same
//! names in lower case as JSON keys. `TRAIT` is the 1-based trait number, the trait's text, or
//! NA.

mod echo;

use std::collections::HashMap;

pub use echo::Format as AnswerFormat;
use scrollsim_core::{
    AnswerRead, IsqItems, IsqOutOfRange, IsqResult, IsqScoring, MatchedTrait, ParseStatus, Persona,
};
use serde_json::{json, Value as Json};

use crate::chat::{AnswerSchema, ChatResponse, Finish};
use crate::config::{ParserKind, StrategyKind};

/// What a parser read from an answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// True only for a parsed like.
    pub like: bool,
    pub status: ParseStatus,
    pub reason: Option<String>,
    pub description: Option<String>,
    pub matched_trait: Option<MatchedTrait>,
    pub isq: Option<IsqResult>,
    /// How the decision was read (`Failed` when it could not be).
    pub read: Option<AnswerRead>,
}

const LABELS: [&str; 10] = [
    "LIKE",
    "WHY",
    "DESCRIPTION",
    "TRAIT",
    "VISUAL_APPEAL",
    "CURIOSITY",
    "EMOTIONAL_ENGAGEMENT",
    "VALUE_EXPECTATION",
    "PREFERENCE_ALIGNMENT",
    "ACTION_DECISION",
];

const ISQ_KEYS: [&str; 6] = scrollsim_core::IsqItems::NAMES;

/// Reads a decision from a response. `format` is the answer format the prompt asked for
/// (the template's `format` text), to tell an answer from an echo of it; without it only the
/// generic echoes (yes/no offered as a choice, a number range) are recognised.
pub fn parse(
    strategy: StrategyKind,
    parser: ParserKind,
    response: &ChatResponse,
    persona: Option<&Persona>,
    isq: &IsqScoring,
    format: Option<&AnswerFormat>,
) -> Parsed {
    if let Finish::Refused { detail } = &response.finish {
        return Parsed {
            status: ParseStatus::Refused {
                detail: detail.clone(),
            },
            read: Some(AnswerRead::Failed),
            ..Default::default()
        };
    }
    let text = response.text.trim();
    if text.is_empty() {
        return failure(match response.finish {
            Finish::Length => Unreadable::EmptyAtLength,
            _ => Unreadable::Empty,
        });
    }
    let answer = Answer::read(text, format);
    let mut copied = format.is_some_and(|f| f.copied_in(text));
    let mut out = Parsed {
        reason: answer.own_field("why", &mut copied),
        description: answer.own_field("description", &mut copied),
        matched_trait: persona.and_then(|p| answer.matched_trait(p, &mut copied)),
        ..Default::default()
    };
    let decided = match strategy {
        StrategyKind::Isq => answer.isq(parser, isq).map(|(r, read)| {
            out.isq = Some(r);
            (isq.stays(&r.items), read)
        }),
        _ => match parser {
            ParserKind::Lenient | ParserKind::Auto => answer.lenient_like(),
            ParserKind::Strict => answer.strict_like(),
        },
    };
    match decided {
        Ok((like, read)) => {
            out.like = like;
            // A decision is exact (or JSON) only when nothing in the answer copies the format.
            out.read = Some(if copied { AnswerRead::Salvaged } else { read });
        }
        Err(why) => {
            out.status = ParseStatus::ParseFailure {
                detail: why.to_string(),
            };
            out.read = Some(AnswerRead::Failed);
        }
    }
    out
}

fn failure(why: Unreadable) -> Parsed {
    Parsed {
        status: ParseStatus::ParseFailure {
            detail: why.to_string(),
        },
        read: Some(AnswerRead::Failed),
        ..Default::default()
    }
}

/// Why an answer gives no decision. Its text is the `ParseFailure` detail a trace records.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("empty answer")]
    Empty,
    #[error("empty answer: the completion hit max_tokens")]
    EmptyAtLength,
    /// The LIKE answer copies the prompt's answer format (its first line, shortened).
    #[error("the answer repeats the prompt's answer format ({0:?}) instead of choosing yes or no")]
    EchoedLike(String),
    #[error("JSON `like` is {0:?}, not yes or no")]
    LikeText(String),
    #[error("JSON `like` is {0}, not yes or no")]
    LikeValue(Json),
    #[error("the JSON answer has no `like` field")]
    NoLike,
    #[error("no JSON object and no first word to read yes or no from")]
    NoFirstWord,
    #[error("no JSON object, and the first word {0:?} is neither yes nor no")]
    FirstWord(String),
    #[error("the strict parser needs the ISQ answer as a JSON object")]
    IsqNotJson,
    #[error(
        "the answer repeats the prompt's answer format ({key} = {value:?}) instead of a score"
    )]
    EchoedScore { key: &'static str, value: String },
    #[error("ISQ item(s) missing or not a non-negative integer: {}", .0.join(", "))]
    IsqMissing(Vec<&'static str>),
    #[error(transparent)]
    IsqRange(#[from] IsqOutOfRange),
}

/// The JSON schema the strict parser asks providers for (OpenAI strict mode: every property
/// required, no extras). `with_trait` adds the trait field for persona sessions.
pub fn answer_schema(strategy: StrategyKind, with_trait: bool) -> AnswerSchema {
    let mut props = serde_json::Map::new();
    let yes_no = json!({"type": "string", "enum": ["yes", "no"]});
    match strategy {
        StrategyKind::Isq => {
            // Ranges are in the prompt and checked after parsing: not every strict-mode
            // schema subset accepts minimum/maximum.
            for k in ISQ_KEYS {
                props.insert(k.to_string(), json!({"type": "integer"}));
            }
        }
        _ => {
            props.insert("like".into(), yes_no);
        }
    }
    if with_trait && strategy != StrategyKind::Plain && strategy != StrategyKind::TextOnly {
        props.insert("trait".into(), json!({"type": "string"}));
    }
    props.insert("why".into(), json!({"type": "string"}));
    if strategy == StrategyKind::Plain {
        props.insert("description".into(), json!({"type": "string"}));
    }
    let required: Vec<&String> = props.keys().collect();
    let schema = json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    AnswerSchema {
        name: format!("{}_answer", strategy.as_str().replace('-', "_")),
        schema,
        mode: scrollsim_core::StructuredMode::JsonSchema,
    }
}

/// An answer split into labelled sections and/or a JSON object.
struct Answer<'a> {
    text: &'a str,
    sections: HashMap<&'static str, String>,
    json: Option<serde_json::Map<String, Json>>,
    format: Option<&'a AnswerFormat>,
}

impl<'a> Answer<'a> {
    fn read(text: &'a str, format: Option<&'a AnswerFormat>) -> Answer<'a> {
        Answer {
            text,
            sections: sections(text),
            json: json_object(text),
            format,
        }
    }

    /// A free-text field, unless it repeats the format's placeholder (then None, and
    /// `copied` is set).
    fn own_field(&self, key: &str, copied: &mut bool) -> Option<String> {
        let v = self.field(key)?;
        if self.format.is_some_and(|f| f.echoes(key, &v)) {
            *copied = true;
            return None;
        }
        Some(v)
    }

    /// Why an echoed LIKE answer cannot be read.
    fn echo_failure(like: &str) -> Unreadable {
        Unreadable::EchoedLike(like.lines().next().unwrap_or("").chars().take(60).collect())
    }

    fn json_field(&self, key: &str) -> Option<&Json> {
        let j = self.json.as_ref()?;
        j.get(key).or_else(|| {
            j.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    /// A text field from the labelled section or the JSON object.
    fn field(&self, key: &str) -> Option<String> {
        let label = key.to_ascii_uppercase();
        let from_section = self
            .sections
            .iter()
            .find(|(l, _)| **l == label)
            .map(|(_, v)| v.clone());
        from_section
            .or_else(|| match self.json_field(key)? {
                Json::String(s) => Some(s.clone()),
                Json::Null => None,
                other => Some(other.to_string()),
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The authors' rule on the LIKE answer, and how cleanly it was given: a LIKE answer (or
    /// a JSON `like`, or the whole answer) whose first word is yes or no is exact; anything
    /// else the rule decides is salvaged. A LIKE answer that echoes the format is read from
    /// what is left without the echo (salvaged), and fails when no yes or no is left.
    fn lenient_like(&self) -> Result<(bool, AnswerRead), Unreadable> {
        let clean = |s: &str, read: AnswerRead| {
            if echo::like_echoed(self.format, s) {
                let rest = echo::without_echo(self.format, s);
                return if echo::has_yes_or_no(&rest) {
                    Ok((contains_yes(&rest), AnswerRead::Salvaged))
                } else {
                    Err(Self::echo_failure(s))
                };
            }
            let read = match yes_no(s) {
                Some(_) => read,
                None => AnswerRead::Salvaged,
            };
            Ok((contains_yes(s), read))
        };
        if let Some(s) = self.sections.get("LIKE") {
            return clean(s, AnswerRead::Exact);
        }
        match self.json_field("like") {
            Some(Json::Bool(b)) => Ok((*b, AnswerRead::Json)),
            Some(Json::String(s)) => clean(s, AnswerRead::Json),
            _ => clean(self.text, AnswerRead::Exact),
        }
    }

    /// JSON `like`, else the first token of the LIKE answer.
    fn strict_like(&self) -> Result<(bool, AnswerRead), Unreadable> {
        if self.json.is_some() {
            return match self.json_field("like") {
                Some(Json::Bool(b)) => Ok((*b, AnswerRead::Json)),
                Some(Json::String(s)) if echo::like_echoed(self.format, s) => {
                    Err(Self::echo_failure(s))
                }
                Some(Json::String(s)) => yes_no(s)
                    .map(|b| (b, AnswerRead::Json))
                    .ok_or_else(|| Unreadable::LikeText(s.clone())),
                Some(other) => Err(Unreadable::LikeValue(other.clone())),
                None => Err(Unreadable::NoLike),
            };
        }
        let like = self
            .sections
            .get("LIKE")
            .map(String::as_str)
            .unwrap_or(self.text);
        if echo::like_echoed(self.format, like) {
            return Err(Self::echo_failure(like));
        }
        let tok = first_token(like);
        match tok.as_str() {
            "yes" => Ok((true, AnswerRead::Exact)),
            "no" => Ok((false, AnswerRead::Exact)),
            "" => Err(Unreadable::NoFirstWord),
            t => Err(Unreadable::FirstWord(t.to_string())),
        }
    }

    fn isq(
        &self,
        parser: ParserKind,
        scoring: &IsqScoring,
    ) -> Result<(IsqResult, AnswerRead), Unreadable> {
        let mut vals = [0u8; 6];
        let mut missing = Vec::new();
        if parser == ParserKind::Strict && self.json.is_none() {
            return Err(Unreadable::IsqNotJson);
        }
        for (i, key) in ISQ_KEYS.iter().enumerate() {
            let v = if self.json.is_some() {
                self.json_field(key).and_then(json_int)
            } else {
                let s = self.sections.get(key.to_ascii_uppercase().as_str());
                if let Some(s) = s.filter(|s| {
                    echo::offers_range(s) || self.format.is_some_and(|f| f.echoes(key, s))
                }) {
                    return Err(Unreadable::EchoedScore {
                        key,
                        value: s.clone(),
                    });
                }
                s.and_then(|s| first_int(s))
            };
            match v.and_then(|x| u8::try_from(x).ok()) {
                Some(x) => vals[i] = x,
                None => missing.push(*key),
            }
        }
        if !missing.is_empty() {
            return Err(Unreadable::IsqMissing(missing));
        }
        let items = IsqItems {
            visual_appeal: vals[0],
            curiosity: vals[1],
            emotional_engagement: vals[2],
            value_expectation: vals[3],
            preference_alignment: vals[4],
            action_decision: vals[5],
        };
        items.validate()?;
        let read = if self.json.is_some() {
            AnswerRead::Json
        } else {
            AnswerRead::Exact
        };
        Ok((
            IsqResult {
                items,
                s_percent: scoring.s_percent(&items),
                threshold: scoring.threshold,
            },
            read,
        ))
    }

    fn matched_trait(&self, persona: &Persona, copied: &mut bool) -> Option<MatchedTrait> {
        let raw = match self.sections.get("TRAIT") {
            Some(s) => s.clone(),
            None => match self.json_field("trait")? {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.clone(),
                _ => return None,
            },
        };
        if self.format.is_some_and(|f| f.echoes("TRAIT", &raw)) {
            *copied = true;
            return None;
        }
        let t = raw
            .trim()
            .trim_matches(|c: char| c == '"' || c == '.' || c == '*' || c == '#')
            .trim();
        if t.is_empty()
            || ["na", "n/a", "none", "null", "no"].contains(&t.to_ascii_lowercase().as_str())
        {
            return None;
        }
        let digits = t.trim_start_matches(|c: char| !c.is_ascii_digit());
        let lead: String = digits.chars().take_while(char::is_ascii_digit).collect();
        if !lead.is_empty() && (t.len() <= 12 || t.starts_with(|c: char| c.is_ascii_digit())) {
            let n: usize = lead.parse().ok()?;
            return (1..=persona.traits.len())
                .contains(&n)
                .then(|| MatchedTrait {
                    index: n - 1,
                    text: persona.traits[n - 1].clone(),
                });
        }
        persona.find_trait(t)
    }
}

/// `LABEL: text` sections; a section runs until the next label. Tolerates markdown (`**LIKE:**`),
/// bullets and numbering, any case, and spaces for underscores.
fn sections(text: &str) -> HashMap<&'static str, String> {
    let mut out: HashMap<&'static str, String> = HashMap::new();
    let mut current: Option<&'static str> = None;
    for line in text.lines() {
        let head = line.trim_start().trim_start_matches(|c: char| {
            matches!(c, '*' | '#' | '-' | '>' | '_' | '`') || c.is_whitespace()
        });
        let head = head.trim_start_matches(|c: char| c.is_ascii_digit());
        let head = head.strip_prefix(['.', ')']).unwrap_or(head).trim_start();
        let label = head.split_once(':').and_then(|(l, rest)| {
            let norm = l
                .trim()
                .trim_matches('*')
                .trim()
                .replace([' ', '-'], "_")
                .to_ascii_uppercase();
            LABELS.iter().find(|x| **x == norm).map(|x| (*x, rest))
        });
        match label {
            Some((l, rest)) => {
                let v = rest.trim().trim_start_matches('*').trim();
                out.insert(l, v.to_string());
                current = Some(l);
            }
            None => {
                if let Some(l) = current {
                    let s = out.get_mut(l).expect("current section exists");
                    if !s.is_empty() {
                        s.push('\n');
                    }
                    s.push_str(line.trim());
                }
            }
        }
    }
    for v in out.values_mut() {
        *v = v.trim().to_string();
    }
    out
}

/// The JSON object in an answer: the whole text, or the span from the first `{` to the last
/// `}` (models wrap JSON in code fences or prose).
fn json_object(text: &str) -> Option<serde_json::Map<String, Json>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    if end <= start {
        return None;
    }
    match serde_json::from_str::<Json>(&text[start..=end]).ok()? {
        Json::Object(m) => Some(m),
        _ => None,
    }
}

fn contains_yes(s: &str) -> bool {
    s.to_lowercase().contains("yes")
}

fn yes_no(s: &str) -> Option<bool> {
    match first_token(s).as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// The first word, lower-cased, skipping leading punctuation and markdown.
fn first_token(s: &str) -> String {
    s.trim_start_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn first_int(s: &str) -> Option<i64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let neg = s[..start].ends_with('-');
    let digits: String = s[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: i64 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
}

fn json_int(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Json::String(s) => s.trim().parse().ok(),
        Json::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::TokenUsage;

    fn resp(text: &str) -> ChatResponse {
        ChatResponse {
            text: text.into(),
            usage: TokenUsage::default(),
            finish: Finish::Stop,
            model: None,
        }
    }

    fn persona() -> Persona {
        toml::from_str(
            "id = \"p\"\nname = \"P\"\ntraits = [\"I have three cats.\", \"I love the beach.\"]",
        )
        .unwrap()
    }

    fn p(strategy: StrategyKind, parser: ParserKind, text: &str) -> Parsed {
        parse(
            strategy,
            parser,
            &resp(text),
            Some(&persona()),
            &IsqScoring::default(),
            None,
        )
    }

    #[test]
    fn lenient_is_the_authors_rule() {
        let r = p(
            StrategyKind::Plain,
            ParserKind::Lenient,
            "LIKE: Yes\nWHY: cute cats\nDESCRIPTION: a cat",
        );
        assert!(r.like && r.status.is_parsed());
        assert_eq!(r.reason.as_deref(), Some("cute cats"));
        assert_eq!(r.description.as_deref(), Some("a cat"));
        // The label scopes the rule: "eyes" in the description does not count.
        let r = p(
            StrategyKind::Plain,
            ParserKind::Lenient,
            "LIKE: No\nDESCRIPTION: a cat with big eyes",
        );
        assert!(!r.like && r.status.is_parsed());
        // No labels: "yes" anywhere in the answer, as the authors did.
        assert!(
            p(
                StrategyKind::Simple,
                ParserKind::Lenient,
                "Well... YES, I would."
            )
            .like
        );
        let r = p(StrategyKind::Simple, ParserKind::Lenient, "Nope.");
        assert!(!r.like && r.status.is_parsed());
        assert!(
            p(
                StrategyKind::Simple,
                ParserKind::Lenient,
                "```json\n{\"like\": true}\n```"
            )
            .like
        );
    }

    #[test]
    fn strict_reads_json_then_first_token() {
        let r = p(
            StrategyKind::Simple,
            ParserKind::Strict,
            r#"{"like": "yes", "trait": "2", "why": "beach"}"#,
        );
        assert!(r.like && r.status.is_parsed());
        assert_eq!(r.matched_trait.unwrap().index, 1);
        assert!(!p(StrategyKind::Simple, ParserKind::Strict, "No, not for me.").like);
        assert!(p(StrategyKind::Simple, ParserKind::Strict, "**Yes**").like);
        let r = p(StrategyKind::Simple, ParserKind::Strict, "Maybe, yes.");
        assert!(!r.like);
        assert!(
            matches!(r.status, ParseStatus::ParseFailure { ref detail } if detail.contains("maybe")),
            "{:?}",
            r.status
        );
        let r = p(
            StrategyKind::Simple,
            ParserKind::Strict,
            r#"{"like": "perhaps"}"#,
        );
        assert!(matches!(r.status, ParseStatus::ParseFailure { .. }));
        let r = p(
            StrategyKind::Plain,
            ParserKind::Strict,
            "LIKE: no\nWHY: dull",
        );
        assert!(!r.like && r.status.is_parsed());
    }

    #[test]
    fn traits_by_number_text_or_na() {
        let r = p(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "**LIKE:** Yes\n**TRAIT:** 1\nWHY: cats!",
        );
        assert_eq!(r.matched_trait.unwrap().text, "I have three cats.");
        let r = p(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "LIKE: Yes\nTRAIT: I love the beach\nWHY: sun",
        );
        assert_eq!(r.matched_trait.unwrap().index, 1);
        assert!(p(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "LIKE: No\nTRAIT: NA"
        )
        .matched_trait
        .is_none());
        assert!(p(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "LIKE: No\nTRAIT: 7"
        )
        .matched_trait
        .is_none());
    }

    #[test]
    fn isq_items_and_threshold() {
        let text = "VISUAL_APPEAL: 8\nCURIOSITY: 7/10\nEMOTIONAL ENGAGEMENT: 6\nVALUE_EXPECTATION: 5\nPREFERENCE_ALIGNMENT: 1\nACTION_DECISION: 1\nTRAIT: 2";
        let r = p(StrategyKind::Isq, ParserKind::Lenient, text);
        let isq = r.isq.unwrap();
        assert_eq!(isq.items.curiosity, 7);
        // (8+7+6+5+10+10)/60*100 = 76.7 >= 60
        assert!((isq.s_percent - 76.666_67).abs() < 1e-3);
        assert!(r.like && r.status.is_parsed());
        let json = r#"{"visual_appeal": 3, "curiosity": 2, "emotional_engagement": 2, "value_expectation": 1, "preference_alignment": 0, "action_decision": 1}"#;
        let r = p(StrategyKind::Isq, ParserKind::Strict, json);
        assert!(!r.like && r.status.is_parsed());
        // (3+2+2+1 + 10*0 + 10*1)/60*100 = 30
        assert!((r.isq.unwrap().s_percent - 30.0).abs() < 1e-3);
        let r = p(
            StrategyKind::Isq,
            ParserKind::Lenient,
            "VISUAL_APPEAL: 8\nCURIOSITY: 12",
        );
        assert!(
            matches!(r.status, ParseStatus::ParseFailure { ref detail } if detail.contains("emotional_engagement"))
        );
        let r = p(
            StrategyKind::Isq,
            ParserKind::Lenient,
            &text.replace("7/10", "11"),
        );
        assert!(
            matches!(r.status, ParseStatus::ParseFailure { ref detail } if detail.contains("curiosity = 11"))
        );
        let r = p(StrategyKind::Isq, ParserKind::Strict, text);
        assert!(matches!(r.status, ParseStatus::ParseFailure { .. }));
    }

    #[test]
    fn refusals_and_empty_answers_are_not_skips() {
        let refused = ChatResponse {
            finish: Finish::Refused {
                detail: "content_filter".into(),
            },
            ..resp("")
        };
        let r = parse(
            StrategyKind::Plain,
            ParserKind::Lenient,
            &refused,
            None,
            &IsqScoring::default(),
            None,
        );
        assert!(matches!(r.status, ParseStatus::Refused { .. }) && !r.like);
        let r = p(StrategyKind::Plain, ParserKind::Lenient, "   ");
        assert!(matches!(r.status, ParseStatus::ParseFailure { .. }));
    }

    /// The repository's templates, as the judge renders them.
    fn template(strategy: StrategyKind) -> crate::prompts::PromptTemplate {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts");
        crate::prompts::PromptTemplate::load(&dir, strategy).unwrap()
    }

    fn with_format(strategy: StrategyKind, parser: ParserKind, text: &str) -> Parsed {
        let persona =
            (strategy != StrategyKind::Plain && strategy != StrategyKind::TextOnly).then(persona);
        let f = AnswerFormat::new(template(strategy).format(parser, persona.is_some()));
        parse(
            strategy,
            parser,
            &resp(text),
            persona.as_ref(),
            &IsqScoring::default(),
            Some(&f),
        )
    }

    /// What gemma-3-270m behind llama-cpp-python answered to the text-only question: the
    /// format, copied (twice) around a ramble. It was read as an exact like.
    const REAL_ECHO: &str = "I am a cat. I like to play with yarn on the sofa.\nI have two cats, one is my favorite and the other is not so much.\n\nAnswer in exactly this form:\nLIKE: Yes or No\nWHY: one or two sentences\nI am a cat. I love playing with yarn on the sofa.\n\nAnswer in exactly this form:\nLIKE: Yes or No\nWHY: one or two sentences\nI am a cat. I like to play with yarn on the";

    #[test]
    fn an_echoed_format_is_never_a_decision() {
        let r = with_format(StrategyKind::TextOnly, ParserKind::Lenient, REAL_ECHO);
        assert!(!r.like, "{r:?}");
        assert_eq!(r.read, Some(AnswerRead::Failed));
        assert!(
            matches!(r.status, ParseStatus::ParseFailure { ref detail } if detail.contains("repeats the prompt's answer format")),
            "{:?}",
            r.status
        );
        // Each template's own format, copied verbatim, under either parser: never a parsed
        // like or skip.
        for strategy in [
            StrategyKind::Plain,
            StrategyKind::Simple,
            StrategyKind::TextOnly,
            StrategyKind::Isq,
        ] {
            for parser in [ParserKind::Lenient, ParserKind::Strict] {
                for persona in [false, true] {
                    let t = template(strategy);
                    if persona && !t.takes_persona() || !persona && !t.takes_control() {
                        continue;
                    }
                    let echo = t.format(parser, persona).to_string();
                    let r = with_format(strategy, parser, &echo);
                    assert!(
                        !r.status.is_parsed() && !r.like && r.read == Some(AnswerRead::Failed),
                        "{strategy} {parser:?} persona={persona}: {echo:?} read as {r:?}"
                    );
                }
            }
        }
        // Without the template, yes/no offered as a choice is still not a choice.
        for text in ["LIKE: Yes or No", "Yes/No", "{\"like\": \"yes or no\"}"] {
            for parser in [ParserKind::Lenient, ParserKind::Strict] {
                let r = p(StrategyKind::Simple, parser, text);
                assert!(!r.like && !r.status.is_parsed(), "{text} {parser:?}: {r:?}");
            }
        }
        let r = p(
            StrategyKind::Isq,
            ParserKind::Lenient,
            "VISUAL_APPEAL: 0-10\nCURIOSITY: 0-10\nEMOTIONAL_ENGAGEMENT: 0-10\nVALUE_EXPECTATION: 0-10\nPREFERENCE_ALIGNMENT: 0 or 1\nACTION_DECISION: 0 or 1",
        );
        assert!(!r.status.is_parsed() && r.isq.is_none(), "{r:?}");
    }

    #[test]
    fn an_answer_around_an_echo_is_salvaged_and_copied_fields_dropped() {
        // The choice offered, then made: the lenient rule reads what is left.
        let r = with_format(
            StrategyKind::TextOnly,
            ParserKind::Lenient,
            "LIKE: Yes or No? No.\nWHY: too loud",
        );
        assert!(r.status.is_parsed() && !r.like, "{r:?}");
        assert_eq!(r.read, Some(AnswerRead::Salvaged));
        // Strict does not salvage.
        let r = with_format(
            StrategyKind::TextOnly,
            ParserKind::Strict,
            "Yes or no? Yes.",
        );
        assert!(!r.status.is_parsed() && !r.like, "{r:?}");
        // The format copied, then answered: the answer counts, but not as exact.
        let r = with_format(
            StrategyKind::TextOnly,
            ParserKind::Lenient,
            "Answer in exactly this form:\nLIKE: Yes or No\nWHY: one or two sentences\n\nLIKE: Yes\nWHY: cats are fun",
        );
        assert!(r.like && r.status.is_parsed(), "{r:?}");
        assert_eq!(r.read, Some(AnswerRead::Salvaged));
        assert_eq!(r.reason.as_deref(), Some("cats are fun"));
        // A placeholder instead of a reason or a trait: dropped, and the read is salvaged.
        let r = with_format(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "LIKE: Yes\nTRAIT: the number of the trait this content matches, or NA if it matches none\nWHY: one sentence",
        );
        assert!(r.like && r.status.is_parsed(), "{r:?}");
        assert_eq!(
            (r.read, r.reason.as_deref(), r.matched_trait.is_none()),
            (Some(AnswerRead::Salvaged), None, true)
        );
        let r = with_format(
            StrategyKind::Simple,
            ParserKind::Strict,
            r#"{"like": "no", "trait": "NA", "why": "one sentence"}"#,
        );
        assert_eq!((r.like, r.read), (false, Some(AnswerRead::Salvaged)));
        // A clean answer stays exact.
        let r = with_format(
            StrategyKind::Simple,
            ParserKind::Lenient,
            "LIKE: No\nTRAIT: NA\nWHY: I prefer music.",
        );
        assert_eq!((r.like, r.read), (false, Some(AnswerRead::Exact)));
    }

    #[test]
    fn schemas_require_every_field() {
        let s = answer_schema(StrategyKind::Isq, true).schema;
        assert_eq!(s["required"].as_array().unwrap().len(), 8);
        assert_eq!(s["additionalProperties"], false);
        let s = answer_schema(StrategyKind::Plain, false).schema;
        assert!(
            s["properties"].get("description").is_some() && s["properties"].get("trait").is_none()
        );
    }
}
