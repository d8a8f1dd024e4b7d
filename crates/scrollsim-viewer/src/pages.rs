//! The viewer's pages, rendered on the server with maud: every string from a trace (captions,
//! answers, reasons, traits, names) is escaped by the template; the only markup we insert
//! unescaped is our own chart SVG.

use maud::{html, Markup, DOCTYPE};
use scrollsim_core::metrics::{AlignmentChange, SessionMetrics};
use scrollsim_core::{Header, Step, Value};
use scrollsim_report::{
    central_section, decision_class, decision_word, figure, inline_svg, preamble,
    table_html as table, ChartPlace, Report, SessionRecord,
};

use crate::data::{RunEntry, SessionView, StepFilter};

/// Percent-encodes a path component or query value (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn session_url(run: &str, session: &str) -> String {
    format!("/runs/{}/sessions/{}", enc(run), enc(session))
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · scrollsim" }
                link rel="stylesheet" href="/assets/viewer.css";
            }
            body {
                header.bar {
                    a.home href="/" { "scrollsim" }
                    span.muted { (title) }
                }
                (body)
                script src="/assets/viewer.js" defer {}
            }
        }
    }
}

pub fn error(status: u16, message: &str) -> Markup {
    layout(
        &format!("error {status}"),
        html! { h1 { "Error " (status) } p { (message) } },
    )
}

pub fn home(runs: &[RunEntry], root: &str) -> Markup {
    layout(
        "runs",
        html! {
            h1 { "Runs" }
            p.muted { "in " (root) }
            @if runs.is_empty() {
                p { "No runs yet: a run is a directory with a sessions/ folder (scrollsim run writes them)." }
            } @else {
                table id="runs" {
                    thead { tr { th { "run" } th.num { "sessions" } th { "files" } th { "report" } } }
                    tbody { @for r in runs { tr {
                        td { a href=(format!("/runs/{}", enc(&r.name))) { (r.name) } }
                        td.num { (r.sessions) }
                        td { @for f in &r.files { a href=(format!("/files/{}/{}", enc(&r.name), enc(f))) { (f) } " " } }
                        td { @if r.has_report {
                            a href=(format!("/files/{}/report/index.html", enc(&r.name))) { "HTML report" }
                        } @else { span.muted { "scrollsim report " (r.name) " --html" } } }
                    } } }
                }
            }
        },
    )
}

/// A session row on the run page: its record, file stem and (with a step filter) how many of
/// its steps match.
pub struct SessionRow<'a> {
    pub record: &'a SessionRecord,
    pub stem: String,
    pub matching: Option<u32>,
}

pub struct RunFilters<'a> {
    pub persona: Option<&'a str>,
    pub model: Option<&'a str>,
    pub steps: StepFilter,
    pub personas: Vec<String>,
    pub models: Vec<String>,
}

fn value_select(selected: Option<Value>) -> Markup {
    html! {
        label { "value" select name="value" {
            option value="" { "all" }
            @for v in Value::ALL { option value=(v.code()) selected[selected == Some(v)] { (v.code()) " " (v.name()) } }
        } }
    }
}

fn decision_select(f: &StepFilter) -> Markup {
    let cur = f.decision.map(|d| d.name()).unwrap_or("");
    html! {
        label { "decision" select name="decision" {
            @for (v, label) in [("", "all"), ("like", "like"), ("skip", "skip"), ("failed", "parse failure / error")] {
                option value=(v) selected[cur == v] { (label) }
            }
        } }
    }
}

pub fn run_page(run: &str, report: &Report, rows: &[SessionRow], f: &RunFilters) -> Markup {
    let step_query = {
        let mut q = Vec::new();
        if let Some(v) = f.steps.value {
            q.push(format!("value={}", v.code()));
        }
        if let Some(d) = f.steps.decision {
            q.push(format!("decision={}", d.name()));
        }
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    };
    layout(
        &format!("run {run}"),
        html! {
            h1 { "Run " (run) }
            (preamble(report))
            (central_section(report))
            h2 { "Sessions" }
            form.filters method="get" {
                label { "persona" select name="persona" {
                    option value="" { "all" }
                    @for p in &f.personas { option value=(p) selected[f.persona == Some(p.as_str())] { (p) } }
                } }
                label { "model" select name="model" {
                    option value="" { "all" }
                    @for m in &f.models { option value=(m) selected[f.model == Some(m.as_str())] { (m) } }
                } }
                (value_select(f.steps.value))
                (decision_select(&f.steps))
                button type="submit" { "Filter" }
            }
            table id="sessions" {
                thead { tr {
                    th { "session" } th { "persona" } th { "model" } th { "strategy" } th { "policy" } th.num { "seed" }
                    th.num { "steps" } th.num { "likes" } th.num { "parse fail" } th.num { "call err" }
                    @if !f.steps.is_empty() { th.num { "matching steps" } }
                    th.num { "like-rate change" }
                    th { "end" }
                } }
                tbody { @for r in rows { tr {
                    td { a href=(format!("{}{}", session_url(run, &r.stem), step_query)) { (r.record.session_id) } }
                    td { (r.record.persona.as_deref().unwrap_or(scrollsim_report::CONTROL)) }
                    td { (r.record.model) } td { (r.record.strategy) } td { (r.record.policy) }
                    td.num { (r.record.seed) } td.num { (r.record.steps) } td.num { (r.record.likes) }
                    td.num { (r.record.parse_failures) } td.num { (r.record.call_errors) }
                    @if let Some(m) = r.matching { td.num { (m) } }
                    td.num { (r.record.like_rate_change.map_or_else(|| "-".to_string(), |x| format!("{x:+.1}"))) }
                    (end_cell(r.record.end.as_ref()))
                } } }
            }
            @if rows.len() >= 2 {
                h2 { "Compare two sessions" }
                form.filters method="get" action="/compare" {
                    @for (name, pick) in [("a", 0usize), ("b", 1usize)] {
                        label { (name) select name=(name) {
                            @for (i, r) in rows.iter().enumerate() {
                                option value=(format!("{run}/{}", r.stem)) selected[i == pick] { (r.record.session_id) }
                            }
                        } }
                    }
                    button type="submit" { "Compare" }
                }
            }
            h2 { "Charts" }
            @for c in report.charts.iter().filter(|c| c.place == ChartPlace::Other) { (figure(c)) }
            @for (title, _, insp) in &report.inspections {
                h2 { (title) }
                @for t in insp.tables() { (table(&t)) }
            }
        },
    )
}

/// A session's end: a failed session is marked as such, never passed as done.
fn end_cell(end: Option<&scrollsim_core::EndReason>) -> Markup {
    use scrollsim_core::EndReason;
    html! {
        @match end {
            None => { td.muted { "unfinished" } },
            Some(EndReason::Error { message }) => { td.fail { "FAILED: " (message) } },
            Some(EndReason::Completed) => { td { "completed" } },
            Some(EndReason::CorpusExhausted) => { td { "corpus exhausted" } },
            Some(EndReason::BudgetExhausted) => { td { "budget exhausted" } },
        }
    }
}

fn change(c: &AlignmentChange) -> String {
    let p = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
    format!(
        "{} → {} ({}{})",
        p(c.first),
        p(c.last),
        c.points
            .map_or_else(|| "-".to_string(), |x| format!("{x:+.1} pts")),
        if c.complete { "" } else { ", windows not full" }
    )
}

fn header_meta(h: &Header, end: Option<&scrollsim_core::End>, m: &SessionMetrics) -> Markup {
    let t = &m.by_label;
    html! {
        dl.meta {
            dt { "persona" } dd { @match &h.persona {
                Some(p) => { b { (p.name) } " (" (p.id) ")" ul { @for tr in &p.traits { li { (tr) } } } },
                None => { (scrollsim_report::CONTROL) },
            } }
            dt { "judge" } dd { (scrollsim_report::model_label(h)) " · " (h.judge.label()) ", parser " (h.judge.parser) }
            dt { "policy" } dd { (h.policy.describe()) }
            dt { "seed" } dd { (h.seed) }
            dt { "corpus" } dd { (h.corpus) }
            dt { "steps" } dd { (m.steps) " of " (h.session_length) " · "
                @match end.map(|e| &e.reason) {
                    Some(scrollsim_core::EndReason::Error { message }) => { span.fail { "FAILED: " (message) } },
                    Some(r) => { "ended: " (format!("{r:?}")) },
                    None => { "unfinished" },
                } }
            dt { "likes" } dd { (t.likes) " (" (scrollsim_report::pct(t.overall_like_rate().map(|r| 100.0 * r))) " %)" }
            dt { "parse failures" } dd { (t.parse_failures) ", call errors " (t.call_errors) }
            dt { "windows" } dd { "first " (h.windows.first) " vs " (h.windows.last) " from step " (h.windows.last_start) }
            dt { "like-rate" } dd { (change(&m.like_rate_change)) }
            dt { "aligned exposure" } dd { (change(&m.aligned_exposure)) }
            dt { "trait match" } dd { (change(&m.trait_match_change)) }
        }
    }
}

fn keyframes(s: &Step, class: &str) -> Markup {
    html! {
        @for k in &s.keyframes {
            img.(class) data-keyframe="" src=(format!("/images/{}", k.view.as_ref().unwrap_or(&k.hash)))
                alt=(format!("keyframe of {}", s.video))
                title=(k.at_s.map_or_else(String::new, |t| format!("{t:.1} s")));
        }
    }
}

fn step_item(s: &Step) -> Markup {
    let d = &s.decision;
    let word = decision_word(&d.status, d.like);
    html! {
        li.step data-step=(s.index) data-decision=(word) data-video=(s.video) {
            div.idx { "#" (s.index) }
            div {
                div {
                    b { (s.video) } " · " (s.platform) " · "
                    (s.values.iter().map(|v| v.code()).collect::<Vec<_>>().join(", "))
                    @if let Some(t) = &s.topic { " · " (t) }
                    @if let Some(r) = s.retrieved_for { " · retrieved for " (r.code()) }
                }
                @if !s.caption.is_empty() { div.caption { (s.caption) } }
                div.frames { (keyframes(s, "kf")) }
                @if let Some(p) = &s.provenance {
                    div.provenance { i { "Source: " } (p.source.as_deref().unwrap_or("unknown"))
                        " · " i { "licence: " } (p.licence.as_deref().unwrap_or("unknown")) }
                }
                div {
                    span.decision class=(decision_class(word)) { (word) }
                    " · stayed " (format!("{:.1}", s.dwell_s)) " s"
                    @if let Some(x) = d.score { " · score " (format!("{x:.2}")) }
                }
                @if let Some(r) = &d.reason { div.reason { i { "Reason: " } (r) } }
                div.trait { i { "Matched trait: " } (d.matched_trait.as_ref().map_or("NA", |m| m.text.as_str())) }
                @if let Some(isq) = &d.isq {
                    div { i { "ISQ: " } (format!("{:?}", isq.items.as_array())) " → S% " (format!("{:.1}", isq.s_percent)) " (threshold " (isq.threshold) ")" }
                }
                @match &d.status {
                    scrollsim_core::ParseStatus::Parsed => {},
                    other => { div.fail { (format!("{other:?}")) } },
                }
                @if !d.raw.is_empty() {
                    details { summary { "Raw answer" } @for r in &d.raw { pre.raw { (r.question) ": " (r.text) } } }
                }
                @if !s.slate.is_empty() {
                    details {
                        summary { "Policy slate (" (s.slate.len()) " candidates)" }
                        table.slate {
                            tr { th { "video" } th.num { "score" } th { "source" } }
                            @for e in &s.slate { tr {
                                td class=[(e.video == s.video).then_some("chosen")] { (e.video) }
                                td.num { (format!("{:.3}", e.score)) }
                                td { (e.source.as_deref().unwrap_or("")) }
                            } }
                        }
                    }
                }
            }
        }
    }
}

pub fn session_page(v: &SessionView, f: &StepFilter) -> Markup {
    let base = session_url(&v.run, &v.name);
    let page_link = |from: u32| {
        let mut q = vec![format!("from={from}")];
        if let Some(x) = f.value {
            q.push(format!("value={}", x.code()));
        }
        if let Some(d) = f.decision {
            q.push(format!("decision={}", d.name()));
        }
        format!("{base}?{}", q.join("&"))
    };
    layout(
        &format!("session {}", v.header.session_id),
        html! {
            p { a href=(format!("/runs/{}", enc(&v.run))) { "← run " (v.run) } }
            h1 { "Session " (v.header.session_id) }
            (header_meta(&v.header, v.end.as_ref(), &v.metrics))
            @if let Some(l) = v.truncated_line { p.warn { "Line " (l) " is truncated (the step in flight when the writer stopped) and is not shown." } }
            @if v.views_missing > 0 { p.warn data-views-missing=(v.views_missing) { (v.views_missing) " keyframes on this page are shown at the size the judge saw them: their larger viewing copies are not in the image store (an archive packed with --no-view-copies)." } }
            div.charts {
                figure { (inline_svg(&v.radar_svg)) }
                figure { (inline_svg(&v.like_svg)) }
                figure { (inline_svg(&v.exposure_svg)) }
            }
            h2 { "Timeline" }
            form.filters method="get" {
                (value_select(f.value))
                (decision_select(f))
                button type="submit" { "Filter" }
            }
            p.muted {
                span id="step-count" { (v.matching) " of " (v.total) " steps match" }
                " · showing " (v.steps.len()) " from " (v.from) " · " span id="keyframe-status" { "" }
            }
            ol.timeline id="timeline" { @for s in &v.steps { (step_item(s)) } }
            p.pager {
                @if v.from > 0 { a href=(page_link(v.from.saturating_sub(v.limit))) { "← previous" } }
                @if v.from + (v.steps.len() as u32) < v.matching { a href=(page_link(v.from + v.limit)) { "next →" } }
            }
        },
    )
}

pub fn compare_page(a: &SessionView, b: &SessionView) -> Markup {
    let n = a.steps.len().max(b.steps.len());
    let cell = |s: Option<&Step>| {
        html! {
            @if let Some(s) = s {
                (keyframes(s, "thumb"))
                b { (s.video) } " "
                span class=(decision_class(decision_word(&s.decision.status, s.decision.like))) { (decision_word(&s.decision.status, s.decision.like)) }
                @if let Some(r) = &s.decision.reason { div.muted { (r) } }
            } @else { span.muted { "-" } }
        }
    };
    layout(
        "compare sessions",
        html! {
            h1 { "Compare sessions" }
            div.compare {
                @for v in [a, b] {
                    div {
                        h2 { a href=(session_url(&v.run, &v.name)) { (v.header.session_id) } }
                        p.muted { "run " (v.run) }
                        (header_meta(&v.header, v.end.as_ref(), &v.metrics))
                        figure { (inline_svg(&v.radar_svg)) }
                        figure { (inline_svg(&v.like_svg)) }
                    }
                }
            }
            h2 { "Step by step" }
            p.muted { "Rows where the two sessions decided differently are highlighted. " span id="keyframe-status" {} }
            table id="compare-steps" {
                thead { tr { th.num { "step" } th { (a.header.session_id) } th { (b.header.session_id) } } }
                tbody { @for i in 0..n {
                    @let (sa, sb) = (a.steps.get(i), b.steps.get(i));
                    @let differ = match (sa, sb) {
                        (Some(x), Some(y)) => x.video != y.video || decision_word(&x.decision.status, x.decision.like) != decision_word(&y.decision.status, y.decision.like),
                        _ => true,
                    };
                    tr class=[differ.then_some("diff")] { td.num { (i) } td { (cell(sa)) } td { (cell(sb)) } }
                } }
            }
        },
    )
}

/// The embedded stylesheet: the report's styles plus the viewer's.
pub fn stylesheet() -> String {
    format!(
        "{}\n{}",
        scrollsim_report::CSS,
        include_str!("assets/viewer.css")
    )
}

pub const SCRIPT: &str = include_str!("assets/viewer.js");
