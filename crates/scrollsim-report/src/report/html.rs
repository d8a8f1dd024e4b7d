//! The self-contained HTML report page: tables, inline SVG charts, example keyframes as data
//! URLs and CSS in the page, no external URL. Text from traces (captions, answers, reasons,
//! persona and model names) goes through maud, which escapes it.

use base64::Engine as _;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{Chart, ChartPlace, Example, Report};
use crate::table::{numeric_column, Table};

/// Styles shared by the report page (and reused by the viewer).
pub const CSS: &str = r#"
:root { --fg:#1d2329; --muted:#5f6b76; --line:#d9dee3; --accent:#4e79a7; --bg:#fbfcfd; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; color: var(--fg); background: var(--bg);
       margin: 0 auto; max-width: 1200px; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: .2rem 0; } h2 { margin-top: 2.2rem; border-bottom: 1px solid var(--line); }
.muted, figcaption, .note { color: var(--muted); font-size: .9rem; }
.warn { background: #fff4e5; border: 1px solid #f0b95c; padding: .6rem .9rem; border-radius: 4px; }
table { border-collapse: collapse; margin: .6rem 0 .3rem; font-size: .86rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .55rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef2f5; }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .8rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; font-size: .85rem; }
.card img { width: 100%; height: auto; max-height: 260px; object-fit: contain; background: #111; }
.like { color: #2f7d32; font-weight: bold; } .skip { color: #8a4b08; font-weight: bold; }
.fail { color: #b3261e; font-weight: bold; }
nav a { margin-right: .8rem; }
"#;

/// A table as HTML (numeric columns right-aligned).
pub fn table(t: &Table) -> Markup {
    let numeric: Vec<bool> = (0..t.header.len()).map(|i| numeric_column(t, i)).collect();
    html! {
        div.scroll id=(t.id) {
            h3 { (t.title) }
            table {
                thead { tr { @for (i, h) in t.header.iter().enumerate() {
                    th class=[numeric[i].then_some("num")] { (h) }
                } } }
                tbody { @for r in &t.rows { tr { @for (i, c) in r.iter().enumerate() {
                    td class=[numeric.get(i).copied().unwrap_or(false).then_some("num")] { (c) }
                } } } }
            }
            @if let Some(n) = &t.note { p.note { (n) } }
        }
    }
}

/// An SVG chart inline. The SVG is our own (plotters escapes the text it draws); the XML
/// namespace is dropped because an inline SVG in HTML needs none and the page carries no URL.
pub fn inline_svg(svg: &str) -> Markup {
    PreEscaped(svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1))
}

/// A chart with its caption.
pub fn figure(c: &Chart) -> Markup {
    html! {
        figure id=(c.name) {
            (inline_svg(&c.svg))
            figcaption { (c.title) ": " (c.caption) }
        }
    }
}

/// CSS class of a decision word.
pub fn decision_class(word: &str) -> &'static str {
    match word {
        "like" => "like",
        "skip" => "skip",
        _ => "fail",
    }
}

fn example(e: &Example) -> Markup {
    html! {
        div.card {
            @if let Some(jpeg) = &e.jpeg {
                img alt=(format!("keyframe of {}", e.video))
                    src=(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg)));
            } @else {
                p.muted { "keyframe not in the image store" }
            }
            div { b { (e.video) } " · " span class=(decision_class(&e.decision)) { (e.decision) } }
            div.muted { (e.values) " · " (e.model) @if let Some(p) = &e.persona { " · " (p) } }
            @if !e.caption.is_empty() { div { (e.caption) } }
            @if let Some(r) = &e.reason { div { i { "Reason: " } (r) } }
            @if let Some(t) = &e.matched_trait { div { i { "Matched trait: " } (t) } }
            div.muted { (e.session) " step " (e.step) }
        }
    }
}

/// What the reader must see first: what judged (the offline persona model says it is not a
/// VLM) and the warnings (salvaged answers, failed sessions, traces left out).
pub fn preamble(r: &Report) -> Markup {
    let lines = r.preamble();
    html! {
        p.muted { (lines[0]) }
        @if let Some(n) = r.not_a_vlm_note() { p.warn { (n) } }
        @for w in lines.iter().skip(1).filter(|l| l.starts_with("WARNING")) { p.warn { (w) } }
        @if !r.read().skipped.is_empty() {
            div.warn {
                b { (r.read().skipped.len()) " malformed trace(s) were left out:" }
                ul { @for p in &r.read().skipped { li { (p.path.display().to_string()) ": " (p.message) } } }
            }
        }
    }
}

/// The central experiment: its tables, then its charts.
pub fn central_section(r: &Report) -> Markup {
    html! {
        section id="central" {
            h2 { "Central experiment" }
            @for t in r.headline_tables() { (table(&t)) }
            @for c in r.charts.iter().filter(|c| c.place == ChartPlace::Central) { (figure(c)) }
        }
    }
}

/// The whole page.
pub fn page(r: &Report) -> String {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "scrollsim report: " (r.title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "scrollsim report: " (r.title) }
                (preamble(r))
                nav {
                    a href="#central" { "Central experiment" }
                    @for (title, _, _) in &r.inspections { a href=(format!("#t-{}", slug(title))) { (short(title)) } }
                    a href="#charts" { "Charts" }
                    @if !r.examples.is_empty() { a href="#examples" { "Examples" } }
                    a href="#sessions" { "Sessions" }
                }
                (central_section(r))
                @for (title, _, insp) in &r.inspections {
                    section id=(format!("t-{}", slug(title))) {
                        h2 { (title) }
                        @for t in insp.tables() { (table(&t)) }
                    }
                }
                section id="charts" {
                    h2 { "Charts" }
                    @for c in r.charts.iter().filter(|c| c.place == ChartPlace::Other) { (figure(c)) }
                }
                @if !r.examples.is_empty() {
                    section id="examples" {
                        h2 { "Examples" }
                        p.note { "The first videos of each value (by first label) that were liked and skipped, \
                                  with the keyframe the judge saw." }
                        div.examples { @for e in &r.examples { (example(e)) } }
                    }
                }
                section id="sessions" {
                    h2 { "Sessions" }
                    (table(&r.sessions_table()))
                }
            }
        }
    };
    doc.into_string()
}

/// A section title up to its first parenthesis, for the navigation bar.
fn short(title: &str) -> &str {
    title.split(" (").next().unwrap_or(title)
}

fn slug(s: &str) -> String {
    scrollsim_core::ids::file_slug(&s.to_lowercase())
}
