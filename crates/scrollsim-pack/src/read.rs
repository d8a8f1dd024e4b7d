//! Verifying, unpacking and opening archives (or their unpacked folders).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::archive::{hash_reader, Scanned};
use crate::error::io;
use crate::layout;
use crate::manifest::{Manifest, FORMAT};
use crate::PackError;

fn corrupt(path: &Path, detail: impl Into<String>) -> PackError {
    PackError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Checks what was found (path -> (sha256, bytes)) against the manifest: every member
/// present with its hash and size, nothing else.
fn check(
    path: &Path,
    manifest: &Manifest,
    found: &BTreeMap<String, (String, u64)>,
) -> Result<(), PackError> {
    if manifest.format != FORMAT {
        return Err(corrupt(
            path,
            format!(
                "archive format {} (this scrollsim reads format {FORMAT})",
                manifest.format
            ),
        ));
    }
    let mut listed = std::collections::BTreeSet::new();
    for m in &manifest.members {
        listed.insert(m.path.as_str());
        match found.get(&m.path) {
            None => {
                return Err(corrupt(
                    path,
                    format!("{}: listed in the manifest, missing", m.path),
                ))
            }
            Some((sha, bytes)) if sha != &m.sha256 || *bytes != m.bytes => {
                return Err(corrupt(
                    path,
                    format!(
                        "{}: SHA-256 {sha} ({bytes} bytes), the manifest says {} ({} bytes)",
                        m.path, m.sha256, m.bytes
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|k| !listed.contains(k.as_str())) {
        return Err(corrupt(
            path,
            format!("{extra}: not listed in the manifest"),
        ));
    }
    Ok(())
}

/// Reads every entry of an archive, hashing it as it streams by; with `into`, each member is
/// also written under that folder.
fn read_archive(path: &Path, into: Option<&Path>) -> Result<Manifest, PackError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let dec = zstd::Decoder::new(file).map_err(io(path))?;
    let mut tar = tar::Archive::new(dec);
    let mut found: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let mut top: Option<String> = None;
    let entries = tar
        .entries()
        .map_err(|e| corrupt(path, format!("not a scrollsim archive (tar + zstd): {e}")))?;
    for entry in entries {
        let mut entry = entry
            .map_err(|e| corrupt(path, format!("not a scrollsim archive (tar + zstd): {e}")))?;
        if !entry.header().entry_type().is_file() {
            return Err(corrupt(path, "holds something other than regular files"));
        }
        let name = entry
            .path()
            .map_err(|e| corrupt(path, e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let Some((t, rel)) = name.split_once('/') else {
            return Err(corrupt(
                path,
                format!("{name}: outside the archive's folder"),
            ));
        };
        if rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(corrupt(path, format!("{name}: not a plain relative path")));
        }
        match &top {
            None => top = Some(t.to_string()),
            Some(top) if top != t => {
                return Err(corrupt(path, format!("{name}: outside the folder {top}/")))
            }
            Some(_) => {}
        }
        let rel = rel.to_string();
        if rel == layout::MANIFEST {
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(path, format!("{name}: {e}")))?;
            manifest = Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| corrupt(path, format!("{}: {e}", layout::MANIFEST)))?,
            );
            if let Some(dir) = into {
                let p = dir.join(&rel);
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                std::fs::write(&p, &bytes).map_err(io(&p))?;
            }
            continue;
        }
        if found.contains_key(&rel) {
            return Err(corrupt(path, format!("{rel}: twice in the archive")));
        }
        let mut scanned = Scanned::new(&mut entry, None);
        match into {
            None => std::io::copy(&mut scanned, &mut std::io::sink())
                .map_err(|e| corrupt(path, format!("{name}: {e}")))?,
            Some(dir) => {
                let p = dir.join(&rel);
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d).map_err(io(d))?;
                }
                let mut f = std::io::BufWriter::new(std::fs::File::create(&p).map_err(io(&p))?);
                std::io::copy(&mut scanned, &mut f)
                    .map_err(|e| corrupt(path, format!("{name}: {e}")))?;
                f.flush().map_err(io(&p))?;
                0
            }
        };
        found.insert(rel, scanned.finish());
    }
    let manifest = manifest.ok_or_else(|| corrupt(path, "no manifest.json"))?;
    if top.as_deref() != Some(manifest.run_id.as_str()) {
        return Err(corrupt(
            path,
            "the archive's folder is not named after its run",
        ));
    }
    check(path, &manifest, &found)?;
    Ok(manifest)
}

/// Reads every member of an unpacked folder, hashing it.
fn read_folder(dir: &Path) -> Result<Manifest, PackError> {
    let mpath = dir.join(layout::MANIFEST);
    let text = std::fs::read(&mpath).map_err(io(&mpath))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| corrupt(&mpath, e.to_string()))?;
    let mut found = BTreeMap::new();
    fn walk(
        root: &Path,
        rel: &str,
        found: &mut BTreeMap<String, (String, u64)>,
    ) -> Result<(), PackError> {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().map_err(io(e.path()))?.is_dir() {
                walk(root, &r, found)?;
            } else if r != layout::MANIFEST {
                let f = std::fs::File::open(e.path()).map_err(io(e.path()))?;
                found.insert(r, hash_reader(std::io::BufReader::new(f), &e.path())?);
            }
        }
        Ok(())
    }
    walk(dir, "", &mut found)?;
    check(dir, &manifest, &found)?;
    Ok(manifest)
}

/// Checks an archive (`.tar.zst`) or its unpacked folder against its manifest.
pub fn verify(path: &Path) -> Result<Manifest, PackError> {
    if path.is_dir() {
        read_folder(path)
    } else {
        read_archive(path, None)
    }
}

/// Verifies `archive` and extracts it into `into/<run id>/`; returns that folder.
pub fn unpack(archive: &Path, into: &Path) -> Result<(PathBuf, Manifest), PackError> {
    // Verified whole before anything is written, so a bad archive leaves nothing behind.
    let manifest = read_archive(archive, None)?;
    let folder = into.join(&manifest.run_id);
    if folder.exists() {
        return Err(PackError::Io {
            path: folder,
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists: unpack elsewhere or remove it",
            ),
        });
    }
    // Read twice rather than held: checked again on the way out (the file could change).
    if let Err(e) = read_archive(archive, Some(&folder)) {
        let _ = std::fs::remove_dir_all(&folder);
        return Err(e);
    }
    Ok((folder, manifest))
}

/// An archive or unpacked folder, verified and ready to read.
#[derive(Debug)]
pub struct Opened {
    /// The unpacked folder (a temporary one for an archive, removed on drop).
    pub folder: PathBuf,
    pub manifest: Manifest,
    _temp: Option<tempfile::TempDir>,
}

impl Opened {
    /// The run directory inside (`runs/<run id>`), which every reading command takes.
    pub fn run_dir(&self) -> PathBuf {
        self.folder.join(layout::RUNS).join(&self.manifest.run_id)
    }

    /// The packed prompt templates' directory, when the archive holds any (archives of
    /// offline-model runs, and those packed before templates were, hold none).
    pub fn prompts(&self) -> Option<PathBuf> {
        let dir = format!("{}/", layout::PROMPTS);
        self.manifest
            .members
            .iter()
            .any(|m| m.path.starts_with(&dir))
            .then(|| self.folder.join(layout::PROMPTS))
    }
}

/// Whether `path` is an archive or an unpacked archive (rather than a run directory).
pub fn is_packed(path: &Path) -> bool {
    if path.is_dir() {
        path.join(layout::MANIFEST).is_file()
    } else {
        path.to_string_lossy()
            .ends_with(&format!(".{}", layout::EXTENSION))
    }
}

/// Verifies `path` (archive or unpacked folder); an archive is unpacked into a temporary
/// folder that lives as long as the returned value.
pub fn open(path: &Path) -> Result<Opened, PackError> {
    if path.is_dir() {
        let manifest = read_folder(path)?;
        return Ok(Opened {
            folder: path.to_path_buf(),
            manifest,
            _temp: None,
        });
    }
    let temp = tempfile::Builder::new()
        .prefix("scrollsim-unpacked-")
        .tempdir()
        .map_err(io(std::env::temp_dir()))?;
    let (folder, manifest) = unpack(path, temp.path())?;
    Ok(Opened {
        folder,
        manifest,
        _temp: Some(temp),
    })
}
