//! Prompt templates: one versioned TOML file per strategy, `<prompt dir>/<strategy>.toml`.
//! Placeholders are written `{{name}}` (single braces stay literal, so JSON examples need no
//! escaping); an unknown or misplaced placeholder is an error naming the file and the field.
//!
//! | placeholder | where | value |
//! |---|---|---|
//! | `traits` | `system` | the persona's traits, numbered `1. ...` one per line |
//! | `persona_name` | `system` | the persona's name |
//! | `persona_description` | `system` | its description (empty when none) |
//! | `n_images` | `user`, `describe.user` | number of keyframes sent |
//! | `description` | `user` (text-only) | the video description the text-only question is about |
//! | `caption`, `hashtags` | `user`, `describe.user` | the video's caption and `#tags` |
//! | `format` | `user` (required) | `format.labelled` (lenient) or `format.json` (strict) |
//!
//! The answer labels (`LIKE:`, `WHY:`...) and JSON keys the format text asks for are the
//! parsers' contract (see [`crate::parse`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use scrollsim_core::{Persona, Video};
use serde::Deserialize;

use crate::config::{ParserKind, StrategyKind};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    version: String,
    strategy: String,
    #[serde(default)]
    description: Option<String>,
    /// With a persona. Absent: the strategy takes no persona.
    #[serde(default)]
    system: Option<String>,
    /// The control arm (no persona). Absent: the strategy needs a persona.
    #[serde(default)]
    system_control: Option<String>,
    user: String,
    format: Formats,
    #[serde(default)]
    describe: Option<Describe>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Formats {
    labelled: String,
    json: String,
    /// Control-arm variants (no trait question); default to the above.
    #[serde(default)]
    labelled_control: Option<String>,
    #[serde(default)]
    json_control: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Describe {
    user: String,
}

/// A loaded, checked template.
#[derive(Debug, Clone)]
pub struct PromptTemplate {
    pub strategy: StrategyKind,
    /// The file's `version`, recorded in traces and part of every cache key.
    pub version: String,
    pub path: PathBuf,
    file: TemplateFile,
}

/// What a template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct PromptContext<'a> {
    pub persona: Option<&'a Persona>,
    pub video: &'a Video,
    pub n_images: usize,
    /// For text-only: the description the question is about.
    pub description: Option<&'a str>,
    pub parser: ParserKind,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub system: Option<String>,
    pub user: String,
}

/// A template problem, naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TemplateError {
    pub path: PathBuf,
    pub message: String,
}

const PERSONA_VARS: [&str; 3] = ["traits", "persona_name", "persona_description"];
const VIDEO_VARS: [&str; 3] = ["n_images", "caption", "hashtags"];

impl PromptTemplate {
    /// Loads and checks `<dir>/<strategy>.toml`.
    pub fn load(dir: &Path, strategy: StrategyKind) -> Result<PromptTemplate, TemplateError> {
        let path = dir.join(format!("{}.toml", strategy.as_str()));
        let err = |message: String| TemplateError {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| err(format!("cannot read the prompt template: {e}")))?;
        let file: TemplateFile =
            toml::from_str(&text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        if file.strategy != strategy.as_str() {
            return Err(err(format!(
                "`strategy` is {:?} but the file is for {:?}",
                file.strategy,
                strategy.as_str()
            )));
        }
        if file.version.trim().is_empty() {
            return Err(err("`version` must not be empty".into()));
        }
        if file.system.is_none() && file.system_control.is_none() {
            return Err(err(
                "needs `system` (persona sessions) or `system_control` (no persona), or both"
                    .into(),
            ));
        }
        let mut user_vars: Vec<&str> = VIDEO_VARS.to_vec();
        user_vars.push("format");
        if strategy == StrategyKind::TextOnly {
            user_vars.push("description");
        }
        let mut fields: Vec<(&str, &str, Vec<&str>)> = vec![("user", &file.user, user_vars)];
        if let Some(s) = &file.system {
            fields.push(("system", s, PERSONA_VARS.to_vec()));
        }
        if let Some(s) = &file.system_control {
            fields.push(("system_control", s, vec![]));
        }
        let f = &file.format;
        for (name, text) in [
            ("format.labelled", Some(&f.labelled)),
            ("format.json", Some(&f.json)),
        ]
        .into_iter()
        .chain([
            ("format.labelled_control", f.labelled_control.as_ref()),
            ("format.json_control", f.json_control.as_ref()),
        ]) {
            if let Some(t) = text {
                fields.push((name, t, vec![]));
            }
        }
        if let Some(d) = &file.describe {
            fields.push(("describe.user", &d.user, VIDEO_VARS.to_vec()));
        }
        for (name, text, allowed) in &fields {
            for var in placeholders(text).map_err(|m| err(format!("`{name}`: {m}")))? {
                if !allowed.contains(&var.as_str()) {
                    return Err(err(format!(
                        "`{name}` uses {{{{{var}}}}}, which is not available there (allowed: {})",
                        if allowed.is_empty() {
                            "none".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    )));
                }
            }
        }
        if !placeholders(&file.user)
            .unwrap_or_default()
            .contains("format")
        {
            return Err(err(
                "`user` must contain {{format}} (where the answer format goes)".into(),
            ));
        }
        if strategy == StrategyKind::TextOnly {
            if !placeholders(&file.user)
                .unwrap_or_default()
                .contains("description")
            {
                return Err(err(
                    "`user` must contain {{description}} for the text-only strategy".into(),
                ));
            }
            if file.describe.is_none() {
                return Err(err("needs a [describe] section: the question that describes keyframes when a video has no description".into()));
            }
        }
        Ok(PromptTemplate {
            strategy,
            version: file.version.trim().to_string(),
            path,
            file,
        })
    }

    /// The file's one-line description.
    pub fn description(&self) -> Option<&str> {
        self.file.description.as_deref()
    }

    /// Whether the template has a persona system prompt.
    pub fn takes_persona(&self) -> bool {
        self.file.system.is_some()
    }

    /// Whether the template has a control-arm system prompt.
    pub fn takes_control(&self) -> bool {
        self.file.system_control.is_some()
    }

    /// Renders the main question.
    pub fn render(&self, ctx: &PromptContext<'_>) -> Result<Rendered, TemplateError> {
        let err = |message: String| TemplateError {
            path: self.path.clone(),
            message,
        };
        let system = match ctx.persona {
            Some(p) => {
                let s = self.file.system.as_deref().ok_or_else(|| {
                    err(format!(
                        "strategy `{}` has no persona prompt (`system`): it is a no-persona protocol; use `simple` or `isq` for persona {}",
                        self.strategy, p.id
                    ))
                })?;
                Some(fill(s, |v| persona_var(p, v)))
            }
            None => {
                let s = self.file.system_control.as_deref().ok_or_else(|| {
                    err(format!(
                        "strategy `{}` needs a persona (the file has no `system_control` for the control arm)",
                        self.strategy
                    ))
                })?;
                Some(s.to_string())
            }
        }
        .filter(|s| !s.trim().is_empty());
        let format = self.format(ctx.parser, ctx.persona.is_some());
        let user = fill(&self.file.user, |v| match v {
            "format" => Some(format.trim().to_string()),
            "description" => Some(ctx.description.unwrap_or("").trim().to_string()),
            _ => video_var(ctx.video, ctx.n_images, v),
        });
        Ok(Rendered { system, user })
    }

    /// The answer format the question asks for: `format.json` for the strict parser,
    /// `format.labelled` otherwise, the control-arm variant without a persona.
    pub fn format(&self, parser: ParserKind, with_persona: bool) -> &str {
        let f = &self.file.format;
        match (parser, with_persona) {
            (ParserKind::Lenient | ParserKind::Auto, true) => &f.labelled,
            (ParserKind::Strict, true) => &f.json,
            (ParserKind::Lenient | ParserKind::Auto, false) => {
                f.labelled_control.as_ref().unwrap_or(&f.labelled)
            }
            (ParserKind::Strict, false) => f.json_control.as_ref().unwrap_or(&f.json),
        }
    }

    /// Renders the describe question (text-only strategy, for videos without a description).
    pub fn render_describe(&self, video: &Video, n_images: usize) -> Option<String> {
        let d = self.file.describe.as_ref()?;
        Some(fill(&d.user, |v| video_var(video, n_images, v)))
    }
}

fn persona_var(p: &Persona, var: &str) -> Option<String> {
    match var {
        "traits" => Some(
            p.traits
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{}. {}", i + 1, t.trim()))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "persona_name" => Some(p.name.clone()),
        "persona_description" => Some(p.description.clone().unwrap_or_default()),
        _ => None,
    }
}

fn video_var(v: &Video, n_images: usize, var: &str) -> Option<String> {
    match var {
        "n_images" => Some(n_images.to_string()),
        "caption" => Some(v.caption.trim().to_string()),
        "hashtags" => Some(
            v.hashtags
                .iter()
                .map(|h| format!("#{h}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// Why a template text's placeholders cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PlaceholderError {
    #[error("an opening {{{{ has no closing }}}}")]
    Unclosed,
    #[error("{{{{{0}}}}} is not a placeholder name")]
    BadName(String),
}

/// The `{{name}}` placeholders in a text.
fn placeholders(text: &str) -> Result<BTreeSet<String>, PlaceholderError> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or(PlaceholderError::Unclosed)?;
        let name = after[..j].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PlaceholderError::BadName(name.to_string()));
        }
        out.insert(name.to_string());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Replaces every `{{name}}` by `value(name)`; names were checked at load time.
fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                out.push_str(&value(name).unwrap_or_default());
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts")
    }

    fn persona() -> Persona {
        toml::from_str(
            "id = \"p\"\nname = \"P\"\ntraits = [\"I have three cats.\", \"I love the beach.\"]",
        )
        .unwrap()
    }

    fn video() -> Video {
        serde_json::from_value(serde_json::json!({
            "id": "v1", "caption": "Cat at the beach", "hashtags": ["cats"],
            "value_scores": scrollsim_core::PerValue::<f32>::default(),
        }))
        .unwrap()
    }

    #[test]
    fn shipped_templates_load_and_render() {
        for s in StrategyKind::ALL {
            let t = PromptTemplate::load(&prompt_dir(), s).unwrap();
            assert!(!t.version.is_empty());
            let v = video();
            for parser in [ParserKind::Lenient, ParserKind::Strict] {
                let p = persona();
                let personas: Vec<Option<&Persona>> = if t.takes_persona() {
                    vec![None, Some(&p)]
                } else {
                    vec![None]
                };
                assert_eq!(
                    t.takes_persona(),
                    matches!(s, StrategyKind::Simple | StrategyKind::Isq),
                    "{s}"
                );
                for persona in personas {
                    let ctx = PromptContext {
                        persona,
                        video: &v,
                        n_images: 4,
                        description: Some("A cat."),
                        parser,
                    };
                    let r = t.render(&ctx).unwrap();
                    assert!(!r.user.contains("{{"), "{s}: {}", r.user);
                    if let (Some(sys), Some(_)) = (&r.system, persona) {
                        assert!(sys.contains("1. I have three cats."), "{s}: {sys}");
                    }
                    if s == StrategyKind::TextOnly {
                        assert!(r.user.contains("A cat."));
                    }
                }
            }
        }
        let plain = PromptTemplate::load(&prompt_dir(), StrategyKind::Plain).unwrap();
        let p = persona();
        let v = video();
        let ctx = PromptContext {
            persona: Some(&p),
            video: &v,
            n_images: 1,
            description: None,
            parser: ParserKind::Lenient,
        };
        assert!(plain
            .render(&ctx)
            .unwrap_err()
            .message
            .contains("no-persona protocol"));
    }

    #[test]
    fn bad_placeholders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |body: &str| std::fs::write(dir.path().join("simple.toml"), body).unwrap();
        let base = "version = \"1\"\nstrategy = \"simple\"\nsystem = \"You: {{traits}}\"\n[format]\nlabelled = \"L\"\njson = \"J\"\n";
        write(&format!(
            "user = \"Q {{{{format}}}} {{{{colour}}}}\"\n{base}"
        ));
        let e = PromptTemplate::load(dir.path(), StrategyKind::Simple).unwrap_err();
        assert!(
            e.message.contains("{{colour}}") && e.path.ends_with("simple.toml"),
            "{e}"
        );
        write(&format!(
            "user = \"Q {{{{traits}}}} {{{{format}}}}\"\n{base}"
        ));
        assert!(PromptTemplate::load(dir.path(), StrategyKind::Simple)
            .unwrap_err()
            .message
            .contains("`user` uses {{traits}}"));
        write(&format!("user = \"Q\"\n{base}"));
        assert!(PromptTemplate::load(dir.path(), StrategyKind::Simple)
            .unwrap_err()
            .message
            .contains("{{format}}"));
        write(&format!(
            "user = \"Q {{{{format}}}} {{\\\"like\\\": 1}}\"\n{base}"
        ));
        let t = PromptTemplate::load(dir.path(), StrategyKind::Simple).unwrap();
        let v = video();
        let p = persona();
        let r = t
            .render(&PromptContext {
                persona: Some(&p),
                video: &v,
                n_images: 2,
                description: None,
                parser: ParserKind::Strict,
            })
            .unwrap();
        assert_eq!(r.user, "Q J {\"like\": 1}");
        assert_eq!(
            r.system.as_deref(),
            Some("You: 1. I have three cats.\n2. I love the beach.")
        );
    }
}
