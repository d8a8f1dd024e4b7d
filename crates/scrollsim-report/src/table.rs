//! A titled table of strings and its formats: terminal (aligned columns), Markdown and CSV.
//! Every table a person reads (inspect, the report, `run`, the viewer) is one of these.

use std::fmt::Write as _;
use std::str::FromStr;

use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table as Comfy, TableStyle};
use serde::{Deserialize, Serialize};

use crate::stats::MeanCi;

/// Output format of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Table,
    Csv,
    Json,
    Md,
}

/// An `--format` that is none of table, csv, json or md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected table, csv, json or md")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Md),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// What judged, for titles and headers: the judges' labels joined; the offline persona
/// model's label says it is not a VLM.
pub fn judge_text(judges: &[String]) -> String {
    match judges {
        [] => "no judge".into(),
        [one] => format!("judge: {one}"),
        many => format!("judges: {}", many.join("; ")),
    }
}

/// A percentage with one decimal, '-' when undefined.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.1}"))
}

/// `+12.3 ± 4.5` (or `+12.3 (n=1)` without an interval), '-' when undefined.
pub fn mean_ci(m: Option<&MeanCi>) -> String {
    match m {
        None => "-".into(),
        Some(MeanCi {
            mean,
            ci95: Some(ci),
            ..
        }) => format!("{mean:+.1} ± {ci:.1}"),
        Some(MeanCi {
            mean,
            ci95: None,
            n,
        }) => format!("{mean:+.1} (n={n})"),
    }
}

/// A titled table of strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Stable identifier (file names, HTML anchors).
    pub id: &'static str,
    pub title: String,
    pub note: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn to_terminal(&self) -> String {
        let mut t = Comfy::new();
        // Rules above, under the header and below; none between rows.
        let rule = LineStyle::none().fill('─').junction('─');
        let style = TableStyle::new()
            .top_border(rule)
            .header_separator(rule)
            .bottom_border(rule);
        t.load_style(style)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(self.header.clone());
        for r in &self.rows {
            t.add_row(r.clone());
        }
        // Numbers right-aligned: every column after the first non-numeric ones.
        for (i, col) in t.column_iter_mut().enumerate() {
            if numeric_column(self, i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut s = format!("{}\n{t}\n", self.title);
        if let Some(n) = &self.note {
            s.push_str(n);
            s.push('\n');
        }
        s
    }

    pub fn to_markdown(&self) -> String {
        let esc = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let mut s = format!("### {}\n\n", self.title);
        let _ = writeln!(
            s,
            "| {} |",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            s,
            "|{}|",
            self.header
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    if numeric_column(self, i) {
                        "---:"
                    } else {
                        "---"
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} |",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        if let Some(n) = &self.note {
            let _ = writeln!(s, "\n_{}_", esc(n));
        }
        s
    }

    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.header).expect("in-memory write");
        for r in &self.rows {
            w.write_record(r).expect("in-memory write");
        }
        String::from_utf8(w.into_inner().expect("in-memory flush")).expect("UTF-8")
    }

    /// The CSV with one more column, the same `value` in every row (e.g. what judged).
    pub fn to_csv_with(&self, column: &str, value: &str) -> String {
        let mut t = self.clone();
        t.header.push(column.into());
        for r in &mut t.rows {
            r.push(value.into());
        }
        t.to_csv()
    }
}

/// Whether column `i` holds numbers in every row (right-aligned in every format).
pub fn numeric_column(t: &Table, i: usize) -> bool {
    !t.rows.is_empty()
        && t.rows
            .iter()
            .all(|r| r.get(i).is_some_and(|c| looks_numeric(c)))
}

fn looks_numeric(c: &str) -> bool {
    c == "-"
        || c.chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-')
            && c.chars()
                .all(|ch| ch.is_ascii_digit() || " .+-±/(n=)[],!".contains(ch))
}
