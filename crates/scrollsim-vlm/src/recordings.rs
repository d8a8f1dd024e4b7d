//! The record/replay store of model calls: one redb database (`<data>/cache/calls.redb`), one
//! table from cache key to a JSON [`Recording`]. A recording holds the key material (prompt
//! text, image hashes, settings: never a key, a header or an endpoint) and the outcome.
//!
//! Writes go through one writer thread that commits whatever has queued up in one durable
//! transaction (group commit), and each caller waits for its commit: when a decision has been
//! made, its answer is on disk, and many concurrent calls cost one fsync per batch, not each.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use redb::{Database, DatabaseError, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::call::KeyMaterial;
use crate::chat::ChatResponse;

const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new("calls");

/// Most recordings committed in one transaction.
const MAX_BATCH: usize = 512;

/// What a call produced, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordedOutcome {
    Answer {
        response: ChatResponse,
    },
    /// The call failed after its retries; the message is replayed verbatim.
    Failure {
        message: String,
    },
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub material: KeyMaterial,
    pub outcome: RecordedOutcome,
    pub recorded_unix_ms: u64,
    pub latency_ms: u64,
    pub attempts: u32,
}

/// Why the call cache could not be opened, read or written. Cloneable (the sources are shared)
/// because one failed commit answers every call of its batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create the call cache directory {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("call cache {} is open in another process: give each concurrent process its own data directory", path.display())]
    AlreadyOpen { path: PathBuf },
    #[error("call cache {}: {source}", path.display())]
    Database {
        path: PathBuf,
        source: Arc<redb::Error>,
    },
    /// A recording that no longer parses: an error naming the key, not a silent miss.
    #[error("recording {key} in {} is unreadable: {source}", path.display())]
    Unreadable {
        key: String,
        path: PathBuf,
        source: Arc<serde_json::Error>,
    },
    #[error("cannot encode a recording: {0}")]
    Encode(Arc<serde_json::Error>),
    #[error("cannot start the call cache writer: {0}")]
    Thread(Arc<std::io::Error>),
    #[error("the call cache writer has stopped")]
    WriterStopped,
}

impl CacheError {
    fn db(path: &Path, e: impl Into<redb::Error>) -> CacheError {
        CacheError::Database {
            path: path.to_path_buf(),
            source: Arc::new(e.into()),
        }
    }
}

struct Job {
    key: String,
    value: Vec<u8>,
    done: tokio::sync::oneshot::Sender<Result<(), CacheError>>,
}

/// The open store. Shared by every judge of one [`crate::JudgeEnv`] (redb allows one open
/// handle per file).
pub struct CallCache {
    db: Arc<Database>,
    /// `None` only while dropping.
    writer: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for CallCache {
    /// Closes the queue and waits for the writer, so the file is released when this returns.
    fn drop(&mut self) {
        self.writer.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for CallCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCache")
            .field("path", &self.path)
            .finish()
    }
}

impl CallCache {
    /// Opens or creates the database (and its directory).
    pub fn open(path: &Path) -> Result<CallCache, CacheError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CacheError::CreateDir {
                dir: dir.to_path_buf(),
                source: Arc::new(e),
            })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => CacheError::AlreadyOpen {
                path: path.to_path_buf(),
            },
            e => CacheError::db(path, e),
        })?;
        let txn = db.begin_write().map_err(|e| CacheError::db(path, e))?;
        txn.open_table(CALLS).map_err(|e| CacheError::db(path, e))?;
        txn.commit().map_err(|e| CacheError::db(path, e))?;
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel::<Job>();
        let (wdb, wpath) = (db.clone(), path.to_path_buf());
        let thread = std::thread::Builder::new()
            .name("scrollsim-call-cache".into())
            .spawn(move || writer(wdb, rx, wpath))
            .map_err(|e| CacheError::Thread(Arc::new(e)))?;
        Ok(CallCache {
            db,
            writer: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recording under `key`, if any. A recording that no longer parses is an error
    /// naming the key, not a silent miss.
    pub fn get(&self, key: &str) -> Result<Option<Recording>, CacheError> {
        let db = |e: redb::Error| CacheError::db(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| db(e.into()))?;
        let table = txn.open_table(CALLS).map_err(|e| db(e.into()))?;
        let Some(v) = table.get(key).map_err(|e| db(e.into()))? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| CacheError::Unreadable {
                key: key.to_string(),
                path: self.path.clone(),
                source: Arc::new(e),
            })
    }

    /// Stores a recording; returns once it is committed to disk.
    pub async fn put(&self, key: &str, rec: &Recording) -> Result<(), CacheError> {
        let value = serde_json::to_vec(rec).map_err(|e| CacheError::Encode(Arc::new(e)))?;
        let (done, wait) = tokio::sync::oneshot::channel();
        self.writer
            .as_ref()
            .ok_or(CacheError::WriterStopped)?
            .send(Job {
                key: key.to_string(),
                value,
                done,
            })
            .map_err(|_| CacheError::WriterStopped)?;
        wait.await.map_err(|_| CacheError::WriterStopped)?
    }

    /// Number of recordings.
    pub fn len(&self) -> Result<u64, CacheError> {
        let db = |e: redb::Error| CacheError::db(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| db(e.into()))?;
        let table = txn.open_table(CALLS).map_err(|e| db(e.into()))?;
        table.len().map_err(|e| db(e.into()))
    }

    pub fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.len()? == 0)
    }
}

fn writer(db: Arc<Database>, rx: mpsc::Receiver<Job>, path: PathBuf) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = commit(&db, &batch, &path);
        if let Err(e) = &result {
            tracing::error!(error = %e, recordings = batch.len(), "call cache write failed");
        }
        for j in batch {
            let _ = j.done.send(result.clone());
        }
    }
}

fn commit(db: &Database, batch: &[Job], path: &Path) -> Result<(), CacheError> {
    let err = |e: redb::Error| CacheError::db(path, e);
    let txn = db.begin_write().map_err(|e| err(e.into()))?;
    {
        let mut table = txn.open_table(CALLS).map_err(|e| err(e.into()))?;
        for j in batch {
            table
                .insert(j.key.as_str(), j.value.as_slice())
                .map_err(|e| err(e.into()))?;
        }
    }
    txn.commit().map_err(|e| err(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Finish, TokenUsage};
    use crate::config::GenerationSettings;

    fn rec(text: &str) -> Recording {
        Recording {
            material: KeyMaterial {
                format: 1,
                provider: "openai".into(),
                model: "m".into(),
                strategy: "plain".into(),
                prompt_version: "1".into(),
                question: "answer".into(),
                system: None,
                user: "q".into(),
                images: vec![],
                settings: GenerationSettings::default(),
                schema: None,
                seed: 0,
            },
            outcome: RecordedOutcome::Answer {
                response: ChatResponse {
                    text: text.into(),
                    usage: TokenUsage::default(),
                    finish: Finish::Stop,
                    model: None,
                },
            },
            recorded_unix_ms: 0,
            latency_ms: 1,
            attempts: 1,
        }
    }

    #[tokio::test]
    async fn round_trip_persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/calls.redb");
        {
            let c = CallCache::open(&path).unwrap();
            assert!(c.get("k").unwrap().is_none());
            let puts = (0..50).map(|i| {
                let c = &c;
                async move { c.put(&format!("k{i}"), &rec(&format!("answer {i}"))).await }
            });
            for r in futures::future::join_all(puts).await {
                r.unwrap();
            }
            assert_eq!(c.len().unwrap(), 50);
        }
        let c = CallCache::open(&path).unwrap();
        assert_eq!(c.get("k7").unwrap().unwrap(), rec("answer 7"));
    }
}
