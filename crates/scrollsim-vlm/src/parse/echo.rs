//! Answers that copy the prompt instead of answering it. A small model (and sometimes a large
//! one) repeats the answer format it was given: `LIKE: Yes or No`, `WHY: one sentence`,
//! `VISUAL_APPEAL: 0-10`, or the instruction line above them. Read naively, "Yes or No" starts
//! with yes, so the lenient rule (and a first-word rule) would record a like the model never
//! gave. An echo is never an answer:
//!
//! - a LIKE answer that offers the choice ("Yes or No", "yes/no", `"yes" or "no"`) or repeats
//!   the format's placeholder is read only from what is left once the echo is taken out, and
//!   fails when nothing is left;
//! - an ISQ item that is a range or a choice of numbers (`0-10`, `0 or 1`) fails;
//! - a free-text field (WHY, DESCRIPTION, TRAIT) that repeats its placeholder is dropped, and
//!   the decision is then at best salvaged: the answer did not fill in the format; so is one
//!   whose answer copies a line of the format around its own.

use std::collections::HashMap;

use super::sections;

/// The answer format a prompt asked for: each label's placeholder text, and the format's
/// lines, normalised (see [`norm`]).
#[derive(Debug, Clone, Default)]
pub struct Format {
    placeholders: HashMap<String, String>,
    lines: Vec<String>,
}

impl Format {
    /// From the `format` text of a prompt template: labelled lines (`LIKE: Yes or No`) and
    /// JSON-style pairs (`"why": "one sentence"`).
    pub fn new(text: &str) -> Format {
        let mut placeholders: HashMap<String, String> = sections(text)
            .into_iter()
            .map(|(label, v)| (label.to_string(), norm(first_line(&v))))
            .collect();
        for (key, value) in json_pairs(text) {
            placeholders
                .entry(key.to_ascii_uppercase())
                .or_insert(value);
        }
        // A one-word placeholder ("NA", "yes") is also a real answer: only longer ones can
        // be told apart from an answer.
        placeholders.retain(|_, v| v.contains(' '));
        let lines = text.lines().map(norm).filter(|l| !l.is_empty()).collect();
        Format {
            placeholders,
            lines,
        }
    }

    /// Whether `value` (the answer under `label`) repeats the format's placeholder for it.
    pub fn echoes(&self, label: &str, value: &str) -> bool {
        let v = norm(first_line(value));
        !v.is_empty()
            && self
                .placeholders
                .get(&label.to_ascii_uppercase())
                .is_some_and(|p| *p == v)
    }

    /// Whether a whole line of an answer is a line of the format (the instruction, or a
    /// labelled placeholder line).
    fn has_line(&self, line: &str) -> bool {
        let l = norm(line);
        !l.is_empty() && self.lines.contains(&l)
    }

    /// Whether any line of `answer` is a line of the format (copied before or around an
    /// answer).
    pub fn copied_in(&self, answer: &str) -> bool {
        answer.lines().any(|l| self.has_line(l))
    }
}

/// Whether a LIKE answer is an echo rather than a choice: it offers yes and no as
/// alternatives, or repeats the format's placeholder.
pub fn like_echoed(format: Option<&Format>, s: &str) -> bool {
    offers_choice(s) || format.is_some_and(|f| f.echoes("LIKE", s))
}

/// What is left of a LIKE answer once echoes are taken out: lines of the format, the
/// placeholder, and yes/no offered as a choice.
pub fn without_echo(format: Option<&Format>, s: &str) -> String {
    let kept: Vec<&str> = s
        .lines()
        .filter(|l| !format.is_some_and(|f| f.has_line(l) || f.echoes("LIKE", l)))
        .collect();
    strip_choices(&kept.join("\n"))
}

/// Yes and no offered as a choice: `yes or no`, `yes/no`, `"Yes" | "No"`, `no or yes`.
pub fn offers_choice(s: &str) -> bool {
    choice_spans(&words(s)).next().is_some()
}

/// A range or a choice of numbers, as a format writes an item's scale: `0-10`, `0 – 10`,
/// `0 to 10`, `0 or 1`. (`7/10` is a score out of ten, not a range.)
pub fn offers_range(s: &str) -> bool {
    let w = words(s);
    let range_sep = |sep: &str| matches!(sep, "-" | "–" | "—" | "to" | "or");
    matches!(w.as_slice(),
        [a, sep, b, ..] if is_number(a) && range_sep(sep) && is_number(b))
}

/// Whether the word is a yes/no word (for deciding whether anything is left to read).
pub fn has_yes_or_no(s: &str) -> bool {
    words(s).iter().any(|w| w == "yes" || w == "no")
}

fn is_number(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| c.is_ascii_digit())
}

/// Lower-case words and separators: runs of alphanumerics, and `/ | - – — ` as words of their
/// own (`yes/no` reads as `yes / no`); other punctuation, quotes and brackets are dropped.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if matches!(c, '/' | '|' | '-' | '–' | '—') {
            out.push(c.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Word index ranges of `yes <sep> no` / `no <sep> yes`.
fn choice_spans(w: &[String]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let yn = |x: &str| x == "yes" || x == "no";
    (0..w.len().saturating_sub(2)).filter_map(move |i| {
        let (a, sep, b) = (&w[i], &w[i + 1], &w[i + 2]);
        (yn(a) && yn(b) && a != b && matches!(sep.as_str(), "or" | "/" | "|")).then(|| i..i + 3)
    })
}

/// The words of `s` without its yes/no choices, joined by spaces.
fn strip_choices(s: &str) -> String {
    let w = words(s);
    let mut drop = vec![false; w.len()];
    for r in choice_spans(&w) {
        for d in &mut drop[r] {
            *d = true;
        }
    }
    w.iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(w, _)| w.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lower-case words joined by single spaces (markdown, quotes and punctuation dropped), so a
/// copied line compares equal whatever its decoration.
fn norm(s: &str) -> String {
    words(s).join(" ")
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// `"key": "value"` pairs in a JSON-like format text (the format is prose, not valid JSON:
/// `{"like": "yes" or "no", "why": "one sentence"}`): a quoted word, `:`, and a quoted value
/// that ends the pair (`,` or `}` next), so `"yes" or "no"` is not read as the value "yes".
fn json_pairs(text: &str) -> Vec<(String, String)> {
    // Odd indices are inside quotes.
    let quoted: Vec<&str> = text.split('"').collect();
    let mut out = Vec::new();
    let mut i = 1;
    while i + 3 < quoted.len() {
        let (key, colon, value, next) = (quoted[i], quoted[i + 1], quoted[i + 2], quoted[i + 3]);
        let ends = next.trim_start().starts_with([',', '}']);
        if colon.trim() == ":" && ends && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push((key.to_string(), norm(value)));
        }
        i += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELLED: &str = "Answer in exactly this form:\nLIKE: Yes or No\nTRAIT: the number of the trait this content matches, or NA if it matches none\nWHY: one sentence\n";
    const JSON: &str = "Answer with only a JSON object and nothing else:\n{\"like\": \"yes\" or \"no\", \"trait\": \"the number of the trait this content matches, or NA\", \"why\": \"one sentence\"}\n";

    #[test]
    fn choices_are_offers_not_answers() {
        for s in [
            "Yes or No",
            "yes/no",
            "[Yes / No]",
            "\"yes\" or \"no\"",
            "**Yes | No**",
            "No or yes.",
            "<Yes or No>",
        ] {
            assert!(offers_choice(s), "{s}");
        }
        for s in [
            "Yes",
            "No, not for me.",
            "Yes, no doubt.",
            "yes or maybe",
            "Nope",
        ] {
            assert!(!offers_choice(s), "{s}");
        }
        assert_eq!(strip_choices("Yes or No? Yes!"), "yes");
        assert_eq!(strip_choices("Yes or No"), "");
    }

    #[test]
    fn ranges_are_scales_not_scores() {
        for s in [
            "0-10",
            "0 – 10",
            "0 to 10",
            "0 or 1",
            "1-5 (higher is better)",
        ] {
            assert!(offers_range(s), "{s}");
        }
        for s in ["7", "7/10", "8 out of 10", "0", "10"] {
            assert!(!offers_range(s), "{s}");
        }
    }

    #[test]
    fn placeholders_from_labelled_and_json_formats() {
        let f = Format::new(LABELLED);
        assert!(f.echoes("WHY", "One sentence."));
        assert!(f.echoes("why", "**one sentence**\nI am a cat."));
        assert!(f.echoes(
            "TRAIT",
            "The number of the trait this content matches, or NA if it matches none"
        ));
        assert!(!f.echoes("WHY", "one sentence about cats"));
        assert!(!f.echoes("TRAIT", "2"));
        assert!(f.has_line("Answer in exactly this form:"));
        assert!(f.has_line("**LIKE:** Yes or No"));
        assert!(!f.has_line("LIKE: Yes"));
        let j = Format::new(JSON);
        assert!(
            !j.echoes("LIKE", "yes"),
            "`\"yes\" or \"no\"` is not the placeholder \"yes\""
        );
        assert!(j.echoes("WHY", "one sentence"));
        assert!(j.echoes(
            "TRAIT",
            "the number of the trait this content matches, or NA"
        ));
        assert!(like_echoed(Some(&j), "yes or no"));
        assert!(!like_echoed(Some(&j), "yes"));
    }

    #[test]
    fn what_is_left_of_an_echoed_like_answer() {
        let f = Format::new(LABELLED);
        assert_eq!(without_echo(Some(&f), "Yes or No"), "");
        assert_eq!(without_echo(Some(&f), "Yes or No. No."), "no");
        let whole =
            "I am a cat.\n\nAnswer in exactly this form:\nLIKE: Yes or No\nWHY: one sentence";
        assert_eq!(without_echo(Some(&f), whole), "i am a cat");
        assert!(!has_yes_or_no(&without_echo(Some(&f), whole)));
        assert!(has_yes_or_no("so no"));
        assert!(!has_yes_or_no("eyes, nothing"));
    }
}
