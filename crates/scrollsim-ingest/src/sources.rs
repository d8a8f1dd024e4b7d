//! What to ingest: directories are walked (hidden entries skipped, sorted for a stable order),
//! media files are taken as they are, and any other file is read as a list of paths (one per
//! line, `#` comments, relative to the list's directory).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use scrollsim_core::MediaKind;

use crate::IngestError;

/// Video extensions ingest picks up (lowercase).
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "webm", "mov", "mkv", "mpg", "mpeg", "m4v"];
/// Still-image extensions (screenshots, as in the paper's dataset).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp"];
/// Metadata files picked up from the top of a walked directory when `--meta` is not given.
pub const AUTO_METADATA: &[&str] = &["metadata.jsonl", "metadata.csv"];

/// One media file to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as found (joined onto the directory or list it came from).
    pub path: PathBuf,
    /// Relative to the directory walked or the list file, `/`-separated: the default video id
    /// (without extension) and the `source` field of the record.
    pub rel: String,
    pub kind: MediaKind,
}

/// A file that will not be ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub path: PathBuf,
    pub reason: String,
}

/// Everything the sources named.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<SourceFile>,
    /// Files in walked directories that are neither media, sidecars nor metadata.
    pub ignored: Vec<Passed>,
    /// Entries of a list file that cannot be ingested (missing, not media).
    pub rejected: Vec<Passed>,
    /// `metadata.jsonl` / `metadata.csv` found at the top of a walked directory.
    pub metadata: Vec<PathBuf>,
}

/// The media kind of a path by its extension.
pub fn media_kind(path: &Path) -> Option<MediaKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaKind::Video)
    } else if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaKind::Image)
    } else {
        None
    }
}

/// The per-file sidecars ingest looks for: `<name>.<ext>.json`, then `<name>.json`.
pub fn sidecar_candidates(path: &Path) -> [PathBuf; 2] {
    let mut full = path.as_os_str().to_owned();
    full.push(".json");
    [PathBuf::from(full), path.with_extension("json")]
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0
        && entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with('.'))
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Walks directories, reads list files and classifies every file.
pub fn discover(sources: &[PathBuf]) -> Result<Discovered, IngestError> {
    let mut out = Discovered::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut push = |out: &mut Discovered, path: PathBuf, rel: String, kind: MediaKind| {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.insert(key) {
            out.files.push(SourceFile { path, rel, kind });
        }
    };
    for src in sources {
        let meta = std::fs::metadata(src).map_err(|e| IngestError::Source {
            path: src.clone(),
            detail: e.to_string(),
        })?;
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(src)
                .follow_links(true)
                .sort_by_file_name();
            let mut others: Vec<PathBuf> = Vec::new();
            let mut media: HashSet<PathBuf> = HashSet::new();
            for entry in walker.into_iter().filter_entry(|e| !is_hidden(e)) {
                let entry = entry.map_err(|e| IngestError::Source {
                    path: e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| src.clone()),
                    detail: e.to_string(),
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let path = entry.path().to_path_buf();
                let rel = rel_string(path.strip_prefix(src).unwrap_or(&path));
                match media_kind(&path) {
                    Some(kind) => {
                        media.insert(path.clone());
                        push(&mut out, path, rel, kind);
                    }
                    None if entry.depth() == 1 && AUTO_METADATA.contains(&rel.as_str()) => {
                        out.metadata.push(path)
                    }
                    None => others.push(path),
                }
            }
            // A `.json` beside a media file is its sidecar, not an ignored file.
            for path in others {
                let is_sidecar = path.extension().is_some_and(|e| e == "json")
                    && media.iter().any(|m| sidecar_candidates(m).contains(&path));
                if !is_sidecar {
                    out.ignored.push(Passed {
                        path,
                        reason: "not a video or image extension".into(),
                    });
                }
            }
        } else if let Some(kind) = media_kind(src) {
            let rel = src
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            push(&mut out, src.clone(), rel, kind);
        } else {
            read_list(src, &mut out, &mut push)?;
        }
    }
    Ok(out)
}

fn read_list(
    list: &Path,
    out: &mut Discovered,
    push: &mut impl FnMut(&mut Discovered, PathBuf, String, MediaKind),
) -> Result<(), IngestError> {
    let text = std::fs::read_to_string(list).map_err(|e| IngestError::Source {
        path: list.to_path_buf(),
        detail: format!("not a directory, media file or readable list of paths: {e}"),
    })?;
    let base = list.parent().unwrap_or(Path::new(""));
    for (n, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let path = base.join(entry);
        let at = format!("{}:{}", list.display(), n + 1);
        match (media_kind(&path), path.is_file()) {
            (Some(kind), true) => push(out, path, entry.to_string(), kind),
            (Some(_), false) => out.rejected.push(Passed {
                path,
                reason: format!("listed at {at}: file not found"),
            }),
            (None, _) => out.rejected.push(Passed {
                path,
                reason: format!(
                    "listed at {at}: unsupported extension (videos: {}; images: {})",
                    VIDEO_EXTENSIONS.join(", "),
                    IMAGE_EXTENSIONS.join(", ")
                ),
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_lists_and_classifies() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in [
            "b.mp4",
            "a.PNG",
            "sub/c.webm",
            "notes.txt",
            "b.mp4.json",
            ".hidden/x.mp4",
            "metadata.jsonl",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        let found = discover(&[d.to_path_buf()]).unwrap();
        let rels: Vec<&str> = found.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a.PNG", "b.mp4", "sub/c.webm"]);
        assert_eq!(found.files[0].kind, MediaKind::Image);
        assert_eq!(found.ignored.len(), 1, "{:?}", found.ignored);
        assert!(found.ignored[0].path.ends_with("notes.txt"));
        assert_eq!(found.metadata, vec![d.join("metadata.jsonl")]);

        std::fs::write(
            d.join("list.txt"),
            "# corpus\nb.mp4\n\nmissing.mp4\nnotes.txt\nsub/c.webm\n",
        )
        .unwrap();
        let found = discover(&[d.join("list.txt")]).unwrap();
        let rels: Vec<&str> = found.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["b.mp4", "sub/c.webm"]);
        assert_eq!(found.rejected.len(), 2);
        assert!(
            found.rejected[0]
                .reason
                .contains("list.txt:4: file not found"),
            "{:?}",
            found.rejected
        );
        assert!(found.rejected[1].reason.contains("unsupported extension"));

        // The same file named twice is ingested once.
        let found = discover(&[d.join("b.mp4"), d.join("list.txt")]).unwrap();
        assert_eq!(found.files.len(), 2);

        let err = discover(&[d.join("nope")]).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
