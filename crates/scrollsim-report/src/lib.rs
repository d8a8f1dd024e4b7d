//! Reports: tables (CSV, Markdown), charts (SVG, PNG) and the self-contained HTML report.
