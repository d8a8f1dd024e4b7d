//! A collection on disk: its shard directories, the file that counts them, the lock, and
//! the qdrant-edge config a new shard is made with.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};
use qdrant_edge::{
    Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard, EdgeVectorParams, HnswIndexConfig,
};

use super::cache::VideoCache;
use super::collection::Collection;
use super::convert::embedded_err;
use crate::config::IndexParams;
use crate::{CollectionSpec, Result, VectorName};

pub(super) fn edge_config(p: &IndexParams, spec: &CollectionSpec) -> EdgeConfig {
    let mut b = EdgeConfig::builder()
        .vector(
            VectorName::Text.as_str(),
            EdgeVectorParams::builder(spec.text_dim, Distance::Cosine).build(),
        )
        .hnsw_config(HnswIndexConfig {
            m: p.m,
            ef_construct: p.ef_construct,
            full_scan_threshold: p.full_scan_threshold_kb,
            max_indexing_threads: 0,
            on_disk: Some(false),
            payload_m: None,
            inline_storage: None,
        })
        .optimizers(EdgeOptimizersConfig {
            default_segment_number: Some(p.segments),
            indexing_threshold: Some(p.indexing_threshold_kb),
            max_segment_size: (p.max_segment_size_kb > 0).then_some(p.max_segment_size_kb),
            ..Default::default()
        });
    if let Some(d) = spec.image_dim {
        b = b.vector(
            VectorName::Image.as_str(),
            EdgeVectorParams::builder(d, Distance::Cosine).build(),
        );
    }
    b.build()
}

/// The file that records how many qdrant-edge shards a collection has. Written last when a
/// collection is created, so a creation cut short is recognisable (shard directories, no file).
const SHARDS_FILE: &str = "shards";

pub(super) fn shard_dir(path: &Path, i: usize) -> PathBuf {
    path.join(format!("shard-{i}"))
}

/// Opens the collection `<root>/<name>`, or creates it with `new_shards` qdrant-edge shards
/// when `create` is given (blocking).
pub(super) fn load_collection(
    root: &Path,
    params: &IndexParams,
    new_shards: usize,
    cache_capacity: usize,
    name: &str,
    create: Option<&CollectionSpec>,
) -> Result<Option<Collection>> {
    let path = root.join(name);
    // Before shards: one qdrant-edge shard at the collection's root.
    let single = path.join("edge_config.json").exists();
    let shards_file = path.join(SHARDS_FILE);
    let exists = single || shards_file.exists();
    if !exists && create.is_none() {
        return Ok(None);
    }
    std::fs::create_dir_all(&path)
        .map_err(|e| embedded_err(&path, format!("cannot create: {e}")))?;
    let lock = File::create(path.join(".scrollsim.lock"))
        .map_err(|e| embedded_err(&path, format!("cannot create lock file: {e}")))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(embedded_err(
                &path,
                "in use by another process (another scrollsim command?); the embedded store \
                     serves one process at a time: wait for it, or use the server backend",
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(embedded_err(&path, format!("cannot lock: {e}")))
        }
    }
    let shards = if single {
        vec![EdgeShard::load(&path, None).map_err(|e| embedded_err(&path, e))?]
    } else if exists {
        let raw = std::fs::read_to_string(&shards_file)
            .map_err(|e| embedded_err(&shards_file, format!("cannot read: {e}")))?;
        let n: usize = raw.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            embedded_err(
                &shards_file,
                format!("expected a shard count (a whole number, at least 1), found {raw:?}"),
            )
        })?;
        (0..n)
            .map(|i| {
                let dir = shard_dir(&path, i);
                if !dir.join("edge_config.json").exists() {
                    return Err(embedded_err(
                        &dir,
                        format!("missing: the collection has {n} shards (see {SHARDS_FILE})"),
                    ));
                }
                EdgeShard::load(&dir, None).map_err(|e| embedded_err(&dir, e))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let spec = create.expect("checked above");
        // Shard directories without the count are a creation that was cut short: nothing was
        // written to them (writes start after opening), so they are made again.
        for i in 0.. {
            let dir = shard_dir(&path, i);
            if !dir.exists() {
                break;
            }
            std::fs::remove_dir_all(&dir)
                .map_err(|e| embedded_err(&dir, format!("cannot remove: {e}")))?;
        }
        // Payload indexes come later, in `Collection::finish_indexing`: see the module doc.
        let shards = (0..new_shards.max(1))
            .map(|i| {
                let dir = shard_dir(&path, i);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| embedded_err(&dir, format!("cannot create: {e}")))?;
                let edge = EdgeShard::new(&dir, edge_config(params, spec))
                    .map_err(|e| embedded_err(&dir, e))?;
                edge.flush();
                Ok(edge)
            })
            .collect::<Result<Vec<_>>>()?;
        let tmp = path.join(format!("{SHARDS_FILE}.tmp"));
        std::fs::write(&tmp, format!("{}\n", shards.len()))
            .and_then(|()| File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &shards_file))
            .map_err(|e| embedded_err(&shards_file, format!("cannot write: {e}")))?;
        shards
    };
    let spec = {
        let cfg = shards[0].config();
        let dim = |n: VectorName| cfg.vectors.get(n.as_str()).map(|v| v.size);
        CollectionSpec {
            name: name.to_string(),
            text_dim: dim(VectorName::Text).ok_or_else(|| {
                embedded_err(&path, "not a scrollsim collection: no `text` vector")
            })?,
            image_dim: dim(VectorName::Image),
        }
    };
    let coll = Collection {
        path,
        spec,
        shards,
        write: Mutex::new(()),
        indexed: AtomicBool::new(false),
        cache: RwLock::new(VideoCache::new(cache_capacity)),
        _lock: lock,
    };
    coll.indexed.store(coll.has_all_indexes(), Ordering::SeqCst);
    Ok(Some(coll))
}
