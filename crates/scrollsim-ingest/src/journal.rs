//! The ingest journal: one JSON line per ingested file, appended (and synced) only after its
//! batch was durably upserted, so an interrupted run resumes where it stopped and a re-run
//! skips what is done.
//!
//! A file is done when its path, size and modification time match an entry (no re-reading),
//! or, if those changed (a copy, a touch), when its SHA-256 does. Either way the entry's
//! `settings` digest must match too: it covers the file's metadata record, the keyframe options,
//! the embedders and the value-score settings, so changing any of them re-ingests.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use scrollsim_core::VideoId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file's identity on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Canonical absolute path.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl FileStamp {
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let canon = std::fs::canonicalize(path)?;
        Ok(FileStamp {
            path: canon.to_string_lossy().into_owned(),
            size: meta.len(),
            mtime_ns,
        })
    }
}

/// One ingested file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    #[serde(flatten)]
    pub stamp: FileStamp,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Digest of everything else that shaped the stored record.
    pub settings: String,
    pub id: VideoId,
    pub frames: usize,
}

/// SHA-256 of a file's bytes, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The journal file and its entries (the last line for a path wins).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    by_path: HashMap<String, JournalEntry>,
    file: Option<File>,
}

impl Journal {
    /// Loads the journal (creating nothing yet). A torn last line, left by a crash mid-write,
    /// is ignored: that batch is simply redone.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut by_path = HashMap::new();
        match File::open(path) {
            Ok(f) => {
                for (n, line) in BufReader::new(f).lines().enumerate() {
                    let line = line?;
                    match serde_json::from_str::<JournalEntry>(&line) {
                        Ok(e) => {
                            by_path.insert(e.stamp.path.clone(), e);
                        }
                        Err(e) if !line.trim().is_empty() => {
                            tracing::warn!(
                                "{}:{}: unreadable journal line ignored: {e}",
                                path.display(),
                                n + 1
                            )
                        }
                        Err(_) => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Journal {
            path: path.to_path_buf(),
            by_path,
            file: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// The entry for an unchanged file (same path, size, mtime and settings).
    pub fn by_stamp(&self, stamp: &FileStamp, settings: &str) -> Option<&JournalEntry> {
        self.by_path
            .get(&stamp.path)
            .filter(|e| e.stamp == *stamp && e.settings == settings)
    }

    /// An entry for the same bytes, settings and id (a copied or touched file).
    pub fn by_content(&self, sha256: &str, settings: &str, id: &VideoId) -> Option<&JournalEntry> {
        self.by_path
            .values()
            .find(|e| e.sha256 == sha256 && e.settings == settings && &e.id == id)
    }

    /// Distinct video ids the journal says are stored.
    pub fn ids(&self) -> HashSet<VideoId> {
        self.by_path.values().map(|e| e.id.clone()).collect()
    }

    /// Forgets entries whose videos are no longer in the store (a deleted or recreated store).
    pub fn forget_missing(&mut self, present: &HashSet<VideoId>) -> usize {
        let before = self.by_path.len();
        self.by_path.retain(|_, e| present.contains(&e.id));
        before - self.by_path.len()
    }

    /// Appends entries and syncs them to disk.
    pub fn append(&mut self, entries: &[JournalEntry]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let mut buf = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut buf, e).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        let f = self.file.as_mut().expect("opened above");
        f.write_all(&buf)?;
        f.sync_data()?;
        for e in entries {
            self.by_path.insert(e.stamp.path.clone(), e.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopen_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("a.mp4");
        std::fs::write(&media, b"video bytes").unwrap();
        let stamp = FileStamp::of(&media).unwrap();
        let jpath = dir.path().join("j/journal.jsonl");
        let mut j = Journal::open(&jpath).unwrap();
        assert!(j.is_empty());
        let e = JournalEntry {
            stamp: stamp.clone(),
            sha256: sha256_file(&media).unwrap(),
            settings: "s1".into(),
            id: "a".into(),
            frames: 4,
        };
        j.append(std::slice::from_ref(&e)).unwrap();
        // A crash mid-write leaves half a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&jpath)
            .unwrap()
            .write_all(b"{\"path\":\"/x\",\"si")
            .unwrap();
        let j = Journal::open(&jpath).unwrap();
        assert_eq!(j.len(), 1);
        assert_eq!(j.by_stamp(&stamp, "s1"), Some(&e));
        assert_eq!(j.by_stamp(&stamp, "s2"), None, "other settings: not done");
        assert!(j.by_content(&e.sha256, "s1", &"a".into()).is_some());
        assert_eq!(e.sha256, hex::encode(Sha256::digest(b"video bytes")));
    }
}
