//! What to ingest: directories are walked (hidden entries skipped, sorted for a stable order),
//! media files are taken as they are, and any other file is read as a list of paths (one per
//! line, `#` comments, relative to the list's directory).
//!
//! Whether a file is media is decided by its content (FFmpeg's format probe, see
//! [`scrollsim_media::sniff`]), never by its extension: users' corpora come in whatever
//! containers their scrapers wrote (avi, ts, flv, 3gp, no extension at all). What is not
//! media is listed with the reason. A file whose name says it is media but whose content is
//! not (an error page a scraper saved as `.mp4`, a zero-length download) is not passed over:
//! it is ingested, fails with the reader's reason and counts as failed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use scrollsim_core::MediaKind;

use crate::IngestError;

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

/// Extensions that say a file is meant to be a video or a picture. They never decide what is
/// media (the content does); they decide that a file named so which is not media is a failure
/// of the corpus, reported as failed, rather than a stray file to pass over.
const VIDEO_NAMES: &[&str] = &[
    "mp4", "m4v", "mov", "webm", "mkv", "avi", "ts", "m2ts", "mts", "flv", "3gp", "wmv", "mpg",
    "mpeg",
];
const IMAGE_NAMES: &[&str] = &["png", "jpg", "jpeg", "webp", "gif"];

/// What a file's name claims it is, when it names a media format.
fn claimed_kind(path: &Path) -> Option<MediaKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if VIDEO_NAMES.contains(&ext.as_str()) {
        Some(MediaKind::Video)
    } else if IMAGE_NAMES.contains(&ext.as_str()) {
        Some(MediaKind::Image)
    } else {
        None
    }
}

/// Why a file is not media, judged by its content (the path is the caller's to name).
#[derive(Debug, thiserror::Error)]
pub enum NotMedia {
    #[error("not media: JSON, and no sidecar of a media file")]
    Json,
    #[error("not media: {0}")]
    Unrecognized(String),
    #[error("zero-length file")]
    Empty,
    #[error("cannot read: {0}")]
    Unreadable(#[source] std::io::Error),
    #[error(transparent)]
    Other(scrollsim_media::MediaError),
}

/// The media kind of a file by its content, or why it is not media.
pub fn media_kind(path: &Path) -> Result<MediaKind, NotMedia> {
    use scrollsim_media::MediaError;
    match scrollsim_media::sniff(path) {
        Ok(s) => Ok(s.kind),
        Err(MediaError::Unrecognized { reason, .. }) => Err(NotMedia::Unrecognized(reason)),
        Err(MediaError::Empty { .. }) => Err(NotMedia::Empty),
        Err(MediaError::Io { source, .. }) => Err(NotMedia::Unreadable(source)),
        Err(e) => Err(NotMedia::Other(e)),
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
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
            let mut others: Vec<(PathBuf, NotMedia)> = Vec::new();
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
                if entry.depth() == 1 && AUTO_METADATA.contains(&rel.as_str()) {
                    out.metadata.push(path);
                    continue;
                }
                // JSON is a sidecar or nothing; anything else is probed.
                let kind = if is_json(&path) {
                    Err(NotMedia::Json)
                } else {
                    media_kind(&path)
                };
                match kind.or_else(|reason| claimed_kind(&path).ok_or(reason)) {
                    Ok(kind) => {
                        media.insert(path.clone());
                        push(&mut out, path, rel, kind);
                    }
                    Err(reason) => others.push((path, reason)),
                }
            }
            // A `.json` beside a media file is its sidecar, not an ignored file.
            let sidecars: HashSet<PathBuf> =
                media.iter().flat_map(|m| sidecar_candidates(m)).collect();
            for (path, reason) in others {
                if !sidecars.contains(&path) {
                    out.ignored.push(Passed {
                        path,
                        reason: reason.to_string(),
                    });
                }
            }
        } else if let Some(kind) = media_kind(src).ok().or_else(|| claimed_kind(src)) {
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
        if !path.is_file() {
            out.rejected.push(Passed {
                path,
                reason: format!("listed at {at}: file not found"),
            });
            continue;
        }
        match media_kind(&path).or_else(|reason| claimed_kind(&path).ok_or(reason)) {
            Ok(kind) => push(out, path, entry.to_string(), kind),
            Err(reason) => out.rejected.push(Passed {
                path,
                reason: format!("listed at {at}: {reason}"),
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 1-second test clip in `format` (an FFmpeg muxer) with `codec`, or a PNG frame.
    pub(crate) fn make_media(path: &Path, format: &str, codec: &str) {
        scrollsim_testkit::test_media(path, format, codec, 1);
    }

    #[test]
    fn walks_lists_and_decides_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        make_media(&d.join("a.PNG"), "image2", "png");
        make_media(&d.join("b.mp4"), "mp4", "mpeg4");
        // Containers of every kind in a subdirectory (one without an extension), and a
        // misleading extension.
        scrollsim_testkit::test_containers(&d.join("sub"), 1);
        make_media(&d.join("h.txt"), "avi", "mpeg4");
        make_media(&d.join(".hidden/x.mp4"), "mp4", "mpeg4");
        // Named as media but not media: taken, to fail in the pipeline with the reason.
        std::fs::write(d.join("notes.mp4"), "a text file, not a video\n".repeat(50)).unwrap();
        std::fs::write(d.join("empty.webm"), b"").unwrap();
        std::fs::write(d.join("readme.txt"), "a text file\n".repeat(50)).unwrap();
        std::fs::write(d.join("b.mp4.json"), b"{}").unwrap();
        std::fs::write(d.join("stray.json"), b"{}").unwrap();
        std::fs::write(d.join("metadata.jsonl"), b"").unwrap();

        let found = discover(&[d.to_path_buf()]).unwrap();
        let got: Vec<(&str, MediaKind)> = found
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.kind))
            .collect();
        use MediaKind::{Image, Video};
        assert_eq!(
            got,
            [
                ("a.PNG", Image),
                ("b.mp4", Video),
                ("empty.webm", Video),
                ("h.txt", Video),
                ("notes.mp4", Video),
                ("sub/a.avi", Video),
                ("sub/b.ts", Video),
                ("sub/c.flv", Video),
                ("sub/d.3gp", Video),
                ("sub/e.m4v", Video),
                ("sub/f", Video),
            ]
        );
        let ignored: Vec<(String, &str)> = found
            .ignored
            .iter()
            .map(|p| {
                let name = p.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, p.reason.as_str())
            })
            .collect();
        assert_eq!(ignored.len(), 2, "{ignored:?}");
        assert!(ignored[0].0 == "readme.txt" && ignored[0].1.starts_with("not media"));
        assert!(ignored[1].0 == "stray.json" && ignored[1].1.contains("sidecar"));
        assert_eq!(found.metadata, vec![d.join("metadata.jsonl")]);

        std::fs::write(
            d.join("list.txt"),
            "# corpus\nb.mp4\n\nmissing.mp4\nreadme.txt\nsub/b.ts\nsub/f\nnotes.mp4\n",
        )
        .unwrap();
        let found = discover(&[d.join("list.txt")]).unwrap();
        let rels: Vec<&str> = found.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["b.mp4", "sub/b.ts", "sub/f", "notes.mp4"]);
        assert_eq!(found.rejected.len(), 2);
        assert!(
            found.rejected[0]
                .reason
                .contains("list.txt:4: file not found"),
            "{:?}",
            found.rejected
        );
        assert!(
            found.rejected[1].reason.contains("list.txt:5: not media"),
            "{:?}",
            found.rejected
        );

        // The same file named twice is ingested once; a media file given directly is taken.
        let found = discover(&[d.join("b.mp4"), d.join("list.txt"), d.join("sub/a.avi")]).unwrap();
        assert_eq!(found.files.len(), 5);

        let err = discover(&[d.join("nope")]).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
