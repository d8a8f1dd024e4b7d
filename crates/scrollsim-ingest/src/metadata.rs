//! Metadata: a JSONL or CSV file (`--meta`, or `metadata.jsonl` / `metadata.csv` at the top of
//! an ingested directory) and optional per-file sidecars (`<name>.<ext>.json` or `<name>.json`).
//! Every field is optional; unknown fields are errors (a typo should not silently drop data),
//! and every error names the file and line.
//!
//! Columns / keys: `file`, `id`, `platform`, `url`, `posted` (YYYY-MM-DD), `caption`,
//! `hashtags` (a JSON array, or one string of tags separated by spaces, commas or semicolons;
//! a leading `#` is dropped), `topic`, `description`, `views`, `label` (a value code such as
//! `HE`, or its name), `duration_s`, and the video's provenance: `source` (who made it or where
//! it was taken from) and `licence` (an SPDX identifier or the terms in words; `license` is
//! read too), kept in the video record and in every trace step that shows it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use scrollsim_core::{Platform, Value, VideoId};
use serde::{Deserialize, Deserializer, Serialize};

use crate::sources::SourceFile;

/// One video's metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaRecord {
    /// The media file this row describes: relative to the metadata file's directory (or to an
    /// ingested directory), or a bare file name when that is unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<VideoId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(
        default,
        deserialize_with = "hashtags",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hashtags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    /// Overrides the probed duration (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f32>,
    /// Who made the video or where it was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The video's licence.
    #[serde(default, alias = "license", skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
}

/// Tags as an array or one separated string; `#` prefixes and empty tags dropped.
fn hashtags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        One(String),
    }
    let raw = match Option::<Tags>::deserialize(d)? {
        None => return Ok(Vec::new()),
        Some(Tags::List(l)) => l,
        Some(Tags::One(s)) => s.split([' ', ',', ';']).map(str::to_string).collect(),
    };
    Ok(raw
        .iter()
        .map(|t| t.trim().trim_start_matches('#').to_string())
        .filter(|t| !t.is_empty())
        .collect())
}

/// Metadata that cannot be used. Line numbers are 1-based; a CSV's header is line 1.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: metadata must be .jsonl, .json (one object per line) or .csv")]
    Format { path: PathBuf },
    #[error("{}", lines.join("\n"))]
    Lines { lines: Vec<String> },
}

/// A record and where it came from (`file:line`).
#[derive(Debug, Clone)]
pub struct Located {
    pub at: String,
    /// The metadata file's directory: `file` is resolved against it.
    pub base: PathBuf,
    pub record: MetaRecord,
}

/// Reads a JSONL or CSV metadata file; all bad lines are reported at once (the first 20).
pub fn load(path: &Path) -> Result<Vec<Located>, MetaError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetaError::Io {
        path: path.into(),
        source,
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let rows: Vec<(usize, Result<MetaRecord, RowError>)> = match ext.as_deref() {
        Some("jsonl" | "json" | "ndjson") => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, serde_json::from_str(l).map_err(RowError::Json)))
            .collect(),
        Some("csv") => csv_rows(&text),
        _ => return Err(MetaError::Format { path: path.into() }),
    };
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (line, row) in rows {
        let at = format!("{}:{line}", path.display());
        match row {
            Ok(record) => out.push(Located {
                at,
                base: base.clone(),
                record,
            }),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        let n = errors.len();
        errors.truncate(20);
        if n > 20 {
            errors.push(format!("... and {} more bad lines", n - 20));
        }
        Err(MetaError::Lines { lines: errors })
    }
}

/// Why one metadata line could not be read.
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("{0}")]
    Json(serde_json::Error),
    #[error("header: {0}")]
    CsvHeader(csv::Error),
    #[error("{0}")]
    Csv(csv::Error),
    #[error("{column}: {cell:?} is not {expected}")]
    Cell {
        column: &'static str,
        cell: String,
        expected: &'static str,
    },
}

/// CSV rows as JSON objects of their non-empty cells, so CSV and JSONL share one parser.
fn csv_rows(text: &str) -> Vec<(usize, Result<MetaRecord, RowError>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_string()).collect::<Vec<_>>(),
        Err(e) => return vec![(1, Err(RowError::CsvHeader(e)))],
    };
    let bad_cell = |column, cell: &str, expected| RowError::Cell {
        column,
        cell: cell.to_string(),
        expected,
    };
    rdr.records()
        .map(|rec| {
            let pos = match &rec {
                Ok(r) => r.position(),
                Err(e) => e.position(),
            };
            let line = pos.map(|p| p.line() as usize).unwrap_or(0);
            let row = rec.map_err(RowError::Csv).and_then(|rec| {
                let mut obj = serde_json::Map::new();
                for (h, cell) in headers.iter().zip(rec.iter()) {
                    let cell = cell.trim();
                    if cell.is_empty() {
                        continue;
                    }
                    let v = match h.as_str() {
                        "views" => cell
                            .parse::<u64>()
                            .map(serde_json::Value::from)
                            .map_err(|_| bad_cell("views", cell, "a whole number"))?,
                        "duration_s" => cell
                            .parse::<f64>()
                            .map(serde_json::Value::from)
                            .map_err(|_| bad_cell("duration_s", cell, "a number"))?,
                        _ => serde_json::Value::from(cell),
                    };
                    obj.insert(h.clone(), v);
                }
                serde_json::from_value(serde_json::Value::Object(obj)).map_err(RowError::Json)
            });
            (line, row)
        })
        .collect()
}

/// Reads a per-file sidecar (one JSON object), if there is one.
pub fn sidecar(media: &Path) -> Result<Option<Located>, MetaError> {
    for path in crate::sources::sidecar_candidates(media) {
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| MetaError::Io {
            path: path.clone(),
            source,
        })?;
        return match serde_json::from_str::<MetaRecord>(&text) {
            Ok(record) => Ok(Some(Located {
                at: path.display().to_string(),
                base: path.parent().unwrap_or(Path::new("")).to_path_buf(),
                record,
            })),
            Err(e) => Err(MetaError::Lines {
                lines: vec![format!("{}:{}: {e}", path.display(), e.line())],
            }),
        };
    }
    Ok(None)
}

/// Metadata records matched to source files.
#[derive(Debug, Default)]
pub struct MetaIndex {
    by_file: HashMap<PathBuf, Located>,
    /// Records whose `file` matched none of the sources (reported in the summary).
    pub unmatched: Vec<String>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl MetaIndex {
    /// Matches records to files: `file` resolved against the metadata file's directory, then
    /// against each source's relative path, then as a unique file name. Two records for one
    /// file, or one id for two records, are errors naming both lines.
    pub fn build(records: Vec<Located>, files: &[SourceFile]) -> Result<MetaIndex, MetaError> {
        let canon_files: HashMap<PathBuf, &SourceFile> =
            files.iter().map(|f| (canon(&f.path), f)).collect();
        let mut by_name: HashMap<String, Vec<&SourceFile>> = HashMap::new();
        for f in files {
            let name = f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            by_name.entry(name).or_default().push(f);
        }
        let mut idx = MetaIndex::default();
        let mut errors = Vec::new();
        let mut ids: HashMap<VideoId, String> = HashMap::new();
        for loc in records {
            let Some(file) = loc.record.file.clone() else {
                errors.push(format!(
                    "{}: `file` is required in a metadata file (it names the media file)",
                    loc.at
                ));
                continue;
            };
            let found = canon_files
                .get(&canon(&loc.base.join(&file)))
                .copied()
                .or_else(|| files.iter().find(|f| f.rel == file))
                .or_else(|| match by_name.get(file.as_str()).map(Vec::as_slice) {
                    Some([one]) => Some(*one),
                    _ => None,
                });
            let Some(src) = found else {
                idx.unmatched.push(format!("{}: {file}", loc.at));
                continue;
            };
            if let Some(id) = &loc.record.id {
                if let Some(prev) = ids.insert(id.clone(), loc.at.clone()) {
                    errors.push(format!(
                        "{}: id {:?} is already used at {prev}",
                        loc.at,
                        id.as_str()
                    ));
                }
            }
            let key = canon(&src.path);
            if let Some(prev) = idx.by_file.get(&key) {
                errors.push(format!(
                    "{}: {file} already described at {}",
                    loc.at, prev.at
                ));
                continue;
            }
            idx.by_file.insert(key, loc);
        }
        if errors.is_empty() {
            Ok(idx)
        } else {
            Err(MetaError::Lines { lines: errors })
        }
    }

    /// The record for a file: its sidecar wins over a metadata-file row.
    pub fn lookup(&self, file: &SourceFile) -> Result<Option<Located>, MetaError> {
        if let Some(side) = sidecar(&file.path)? {
            return Ok(Some(side));
        }
        Ok(self.by_file.get(&canon(&file.path)).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrollsim_core::MediaKind;

    fn src(dir: &Path, rel: &str) -> SourceFile {
        std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
        std::fs::write(dir.join(rel), b"x").unwrap();
        SourceFile {
            path: dir.join(rel),
            rel: rel.into(),
            kind: MediaKind::Video,
        }
    }

    #[test]
    fn jsonl_and_csv_read_the_same_fields() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("m.jsonl"),
            r##"{"file":"a.mp4","id":"a1","platform":"TikTok","posted":"2024-07-01","caption":"Beach!","hashtags":["#summer","party"],"views":12,"label":"HE","source":"Ann Lee (own footage)","licence":"CC-BY-4.0"}
"##,
        )
        .unwrap();
        std::fs::write(
            d.join("m.csv"),
            "file,id,platform,posted,caption,hashtags,views,label,source,license\na.mp4,a1,TikTok,2024-07-01,Beach!,\"#summer, party\",12,hedonism,Ann Lee (own footage),CC-BY-4.0\n",
        )
        .unwrap();
        let j = load(&d.join("m.jsonl")).unwrap();
        let c = load(&d.join("m.csv")).unwrap();
        assert_eq!(j[0].record, c[0].record);
        let r = &j[0].record;
        assert_eq!(r.hashtags, vec!["summer", "party"]);
        assert_eq!(r.platform, Some(Platform::tiktok()));
        assert_eq!(r.label, Some(Value::Hedonism));
        assert_eq!(r.source.as_deref(), Some("Ann Lee (own footage)"));
        assert_eq!(r.licence.as_deref(), Some("CC-BY-4.0"));
        assert_eq!(c[0].at, format!("{}:2", d.join("m.csv").display()));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("m.jsonl"),
            "{\"file\":\"a.mp4\"}\n{\"file\":\"b.mp4\",\"posted\":\"July 4\"}\n{\"file\":\"c.mp4\",\"captoin\":\"x\"}\nnot json\n",
        )
        .unwrap();
        let err = load(&d.join("m.jsonl")).unwrap_err().to_string();
        let p = d.join("m.jsonl").display().to_string();
        assert!(
            err.contains(&format!("{p}:2: input contains invalid characters")),
            "{err}"
        );
        assert!(
            err.contains(&format!("{p}:3: unknown field `captoin`")),
            "{err}"
        );
        assert!(err.contains(&format!("{p}:4: ")), "{err}");
        assert!(!err.contains(&format!("{p}:1:")), "{err}");

        std::fs::write(
            d.join("m.csv"),
            "file,views,label\na.mp4,many,HE\nb.mp4,3,XX\n",
        )
        .unwrap();
        let err = load(&d.join("m.csv")).unwrap_err().to_string();
        assert!(
            err.contains("m.csv:2: views: \"many\" is not a whole number"),
            "{err}"
        );
        assert!(
            err.contains("m.csv:3: unknown Schwartz value \"XX\""),
            "{err}"
        );
        std::fs::write(d.join("m.csv"), "file,colour\na.mp4,red\n").unwrap();
        let err = load(&d.join("m.csv")).unwrap_err().to_string();
        assert!(err.contains("m.csv:2: unknown field `colour`"), "{err}");
    }

    #[test]
    fn records_match_files_and_sidecars_win() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let files = vec![
            src(d, "clips/a.mp4"),
            src(d, "clips/b.mp4"),
            src(d, "other/c.mp4"),
        ];
        std::fs::write(
            d.join("meta.jsonl"),
            "{\"file\":\"clips/a.mp4\",\"caption\":\"A\"}\n{\"file\":\"b.mp4\",\"caption\":\"B\"}\n{\"file\":\"zzz.mp4\"}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("other/c.mp4.json"),
            "{\"caption\":\"C from sidecar\",\"platform\":\"youtube\"}",
        )
        .unwrap();
        let idx = MetaIndex::build(load(&d.join("meta.jsonl")).unwrap(), &files).unwrap();
        let cap = |i: usize| {
            idx.lookup(&files[i])
                .unwrap()
                .unwrap()
                .record
                .caption
                .unwrap()
        };
        assert_eq!(
            (cap(0).as_str(), cap(1).as_str(), cap(2).as_str()),
            ("A", "B", "C from sidecar")
        );
        assert_eq!(idx.unmatched.len(), 1);
        assert!(
            idx.unmatched[0].ends_with("meta.jsonl:3: zzz.mp4"),
            "{:?}",
            idx.unmatched
        );

        std::fs::write(
            d.join("dup.jsonl"),
            "{\"file\":\"clips/a.mp4\",\"id\":\"x\"}\n{\"file\":\"b.mp4\",\"id\":\"x\"}\n",
        )
        .unwrap();
        let err = MetaIndex::build(load(&d.join("dup.jsonl")).unwrap(), &files)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dup.jsonl:2: id \"x\" is already used at"),
            "{err}"
        );

        std::fs::write(d.join("other/c.mp4.json"), "{\"caption\": 3}").unwrap();
        let err = idx.lookup(&files[2]).unwrap_err().to_string();
        assert!(err.contains("c.mp4.json:1: invalid type"), "{err}");
    }
}
