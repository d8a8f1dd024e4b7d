//! The run: plan (sources, metadata, journal), decode on blocking threads with bounded
//! concurrency, then embed, score and upsert in batches while decoding continues.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use scrollsim_core::config::ValueCatalog;
use scrollsim_core::{Keyframe, MediaKind, PerValue, Platform, Provenance, Video, VideoId};
use scrollsim_embed::{mean_vector, Embedders, ValueScorer};
use scrollsim_media::{ExtractOptions, ImageStore, MediaError};
use scrollsim_store::{CollectionSpec, Filter, VideoPoint, VideoStore};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::journal::{sha256_file, FileStamp, Journal, JournalEntry};
use crate::metadata::{self, Located, MetaIndex, MetaRecord};
use crate::sources::{self, SourceFile};
use crate::{Failure, IngestError, IngestOptions, IngestProgress, IngestSummary, Ingested};

/// A file to ingest, with everything known before decoding it.
#[derive(Debug, Clone)]
struct Work {
    file: SourceFile,
    id: VideoId,
    meta: MetaRecord,
    stamp: FileStamp,
    sha256: String,
    settings: String,
}

/// A decoded file: keyframes stored, ready to embed.
struct Decoded {
    work: Work,
    kind: MediaKind,
    duration_s: Option<f32>,
    keyframes: Vec<Keyframe>,
    /// View-size JPEGs for the image embedder (empty when none is configured).
    view_jpegs: Vec<Vec<u8>>,
}

/// Ingests `sources` (directories, media files or list files) into `store`.
///
/// `meta` is a JSONL or CSV metadata file; without it, `metadata.jsonl` / `metadata.csv` at the
/// top of a source directory is used. Per-file sidecars apply either way.
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    sources: &[PathBuf],
    meta: Option<&Path>,
    opts: &IngestOptions,
    store: &dyn VideoStore,
    embedders: &Embedders,
    images: &ImageStore,
    catalog: &ValueCatalog,
    progress: &IngestProgress,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    opts.config.validate()?;
    let mut summary = IngestSummary::default();

    let found = sources::discover(sources)?;
    summary.ignored = found.ignored;
    summary
        .failed
        .extend(found.rejected.into_iter().map(|p| Failure {
            reason: format!("{}: {}", p.path.display(), p.reason),
            path: p.path,
            kind: "rejected".into(),
        }));
    summary.metadata_files = match meta {
        Some(m) => vec![m.to_path_buf()],
        None => found.metadata,
    };
    let mut records = Vec::new();
    for m in &summary.metadata_files {
        records.extend(metadata::load(m)?);
    }
    let index = MetaIndex::build(records, &found.files)?;
    summary.unmatched_metadata = index.unmatched.clone();

    let text_dim = embedders.text.info().dim;
    let image_dim = embedders.image.as_ref().map(|e| e.info().dim);
    store
        .open_collection(&CollectionSpec {
            name: opts.collection.clone(),
            text_dim,
            image_dim,
        })
        .await?;
    let scorer = ValueScorer::new(
        catalog,
        embedders.text.as_ref(),
        embedders.image.as_deref(),
        opts.value_scoring,
    )
    .await?;

    let jerr = |source| IngestError::Journal {
        path: opts.journal.clone(),
        source,
    };
    let mut journal = Journal::open(&opts.journal).map_err(jerr)?;
    reconcile(&mut journal, store).await?;

    let base = settings_base(opts, embedders, catalog);
    let files = found.files;
    let (work, unchanged, refreshed, failed, journal) = tokio::task::spawn_blocking(move || {
        let p = plan(&files, &index, &journal, &base);
        (p.0, p.1, p.2, p.3, journal)
    })
    .await
    .map_err(|e| IngestError::Internal(format!("planning: {e}")))?;
    let mut journal = journal;
    journal.append(&refreshed).map_err(jerr)?;
    summary.unchanged = unchanged;
    summary.failed.extend(failed);

    let mut work = work;
    if let Some(limit) = opts.limit {
        summary.deferred = work.len().saturating_sub(limit);
        work.truncate(limit);
    }
    progress.start(work.len());

    // Decode in a task of its own so decoding goes on while a batch is embedded and stored.
    let cfg = &opts.config;
    let (tx, mut rx) = mpsc::channel::<Result<Decoded, Failure>>(cfg.batch_size * 2);
    let decoder = tokio::spawn(decode_all(
        work,
        cfg.keyframes.clone(),
        images.clone(),
        embedders.image.is_some(),
        cfg.concurrency,
        tx,
    ));

    let mut batch = Vec::with_capacity(cfg.batch_size);
    let mut closed = false;
    while !closed {
        match rx.recv().await {
            Some(Ok(d)) => batch.push(d),
            Some(Err(f)) => {
                progress.advance(1, 0);
                summary.failed.push(f);
            }
            None => closed = true,
        }
        if batch.len() >= cfg.batch_size || (closed && !batch.is_empty()) {
            let done =
                store_batch(std::mem::take(&mut batch), opts, store, embedders, &scorer).await?;
            journal.append(&done.1).map_err(jerr)?;
            let frames: usize = done.0.iter().map(|i| i.frames).sum();
            progress.advance(done.0.len(), frames);
            summary.frames += frames;
            summary.ingested.extend(done.0);
        }
    }
    decoder
        .await
        .map_err(|e| IngestError::Internal(format!("decoder task: {e}")))?;
    progress.finish();

    if !summary.ingested.is_empty() {
        let t = Instant::now();
        store.wait_indexed().await?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "store indexed");
    }
    summary.store_count = store.count(&Filter::default()).await?;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Drops journal entries whose videos are gone from the store (deleted or recreated), so they
/// are ingested again rather than skipped.
async fn reconcile(journal: &mut Journal, store: &dyn VideoStore) -> Result<(), IngestError> {
    let ids: Vec<VideoId> = journal.ids().into_iter().collect();
    if ids.is_empty() || store.count(&Filter::default()).await? >= ids.len() as u64 {
        return Ok(());
    }
    let mut present = HashSet::new();
    for chunk in ids.chunks(256) {
        present.extend(store.get(chunk).await?.into_iter().map(|v| v.id));
    }
    let n = journal.forget_missing(&present);
    tracing::info!(
        "{n} journal entries refer to videos missing from the store: they will be ingested again"
    );
    Ok(())
}

/// Digest of the run-wide settings that shape every record.
fn settings_base(opts: &IngestOptions, embedders: &Embedders, catalog: &ValueCatalog) -> String {
    let keywords: Vec<_> = catalog
        .values
        .iter()
        .map(|(v, s)| (v.code(), &s.keywords))
        .collect();
    digest(&json!({
        "journal_format": 1,
        "keyframes": opts.config.keyframes,
        "labeling": opts.config.labeling,
        "value_scoring": opts.value_scoring,
        "text": embedders.text.info(),
        "image": embedders.image.as_ref().map(|e| e.info()),
        "keywords": keywords,
    }))
}

fn digest(v: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

/// The default id: the path relative to the ingest root without its extension (the file stem
/// for files at the top).
fn default_id(rel: &str) -> VideoId {
    let p = Path::new(rel);
    let stem = p.with_extension("");
    VideoId::new(stem.to_string_lossy().replace('\\', "/"))
}

type Plan = (Vec<Work>, usize, Vec<JournalEntry>, Vec<Failure>);

/// Decides per file: to do, unchanged, or failed (bad sidecar, duplicate id, unreadable).
fn plan(files: &[SourceFile], index: &MetaIndex, journal: &Journal, base: &str) -> Plan {
    let (mut work, mut unchanged, mut refreshed, mut failed) =
        (Vec::new(), 0, Vec::new(), Vec::new());
    let mut ids: HashMap<VideoId, PathBuf> = HashMap::new();
    let fail = |f: &SourceFile, kind: &str, reason: String| Failure {
        path: f.path.clone(),
        kind: kind.into(),
        reason: format!("{}: {reason}", f.path.display()),
    };
    for f in files {
        let meta = match index.lookup(f) {
            Ok(m) => m.map(|l: Located| l.record).unwrap_or_default(),
            Err(e) => {
                failed.push(Failure {
                    path: f.path.clone(),
                    kind: "metadata".into(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let id = meta.id.clone().unwrap_or_else(|| default_id(&f.rel));
        if let Some(other) = ids.insert(id.clone(), f.path.clone()) {
            failed.push(fail(
                f,
                "duplicate-id",
                format!(
                    "video id {:?} is already used by {}",
                    id.as_str(),
                    other.display()
                ),
            ));
            continue;
        }
        let stamp = match FileStamp::of(&f.path) {
            Ok(s) => s,
            Err(e) => {
                failed.push(fail(f, "unreadable", format!("cannot read: {e}")));
                continue;
            }
        };
        let settings = digest(&json!({ "base": base, "id": id, "meta": meta, "source": f.rel }));
        if journal.by_stamp(&stamp, &settings).is_some() {
            unchanged += 1;
            continue;
        }
        let sha256 = match sha256_file(&f.path) {
            Ok(h) => h,
            Err(e) => {
                failed.push(fail(f, "unreadable", format!("cannot read: {e}")));
                continue;
            }
        };
        if let Some(prev) = journal.by_content(&sha256, &settings, &id) {
            unchanged += 1;
            refreshed.push(JournalEntry {
                stamp,
                ..prev.clone()
            });
            continue;
        }
        work.push(Work {
            file: f.clone(),
            id,
            meta,
            stamp,
            sha256,
            settings,
        });
    }
    (work, unchanged, refreshed, failed)
}

/// Decodes files, `concurrency` at a time on blocking threads, sending each result on.
async fn decode_all(
    work: Vec<Work>,
    opts: ExtractOptions,
    images: ImageStore,
    want_views: bool,
    concurrency: usize,
    tx: mpsc::Sender<Result<Decoded, Failure>>,
) {
    let mut results = futures::stream::iter(work)
        .map(|w| {
            let (opts, images) = (opts.clone(), images.clone());
            async move {
                let path = w.file.path.clone();
                tokio::task::spawn_blocking(move || decode(w, &opts, &images, want_views))
                    .await
                    .unwrap_or_else(|e| {
                        Err(Failure {
                            reason: format!(
                                "{}: internal error while decoding: {e}",
                                path.display()
                            ),
                            path,
                            kind: "internal".into(),
                        })
                    })
            }
        })
        .buffer_unordered(concurrency);
    while let Some(r) = results.next().await {
        if tx.send(r).await.is_err() {
            break; // the run stopped: stop decoding
        }
    }
}

fn media_failure(path: &Path, e: MediaError) -> Failure {
    Failure {
        path: path.to_path_buf(),
        kind: e.kind().into(),
        reason: e.to_string(),
    }
}

/// Probes, extracts and stores the keyframes of one file.
fn decode(
    work: Work,
    opts: &ExtractOptions,
    images: &ImageStore,
    want_views: bool,
) -> Result<Decoded, Failure> {
    let path = work.file.path.clone();
    let probe = scrollsim_media::probe(&path).map_err(|e| media_failure(&path, e))?;
    let frames =
        scrollsim_media::extract_keyframes(&path, opts).map_err(|e| media_failure(&path, e))?;
    if frames.is_empty() {
        return Err(Failure {
            reason: format!("{}: no keyframe could be decoded", path.display()),
            path,
            kind: "no-frames".into(),
        });
    }
    let keyframes =
        scrollsim_media::store_frames(images, &frames).map_err(|e| media_failure(&path, e))?;
    tracing::debug!(path = %path.display(), frames = keyframes.len(), "decoded");
    let view_jpegs = if want_views {
        frames.into_iter().map(|f| f.view_jpeg).collect()
    } else {
        Vec::new()
    };
    Ok(Decoded {
        kind: if probe.is_video {
            MediaKind::Video
        } else {
            MediaKind::Image
        },
        duration_s: work.meta.duration_s.or(probe.duration_s),
        work,
        keyframes,
        view_jpegs,
    })
}

/// Embeds, scores and upserts one batch; returns what was stored and its journal entries.
async fn store_batch(
    batch: Vec<Decoded>,
    opts: &IngestOptions,
    store: &dyn VideoStore,
    embedders: &Embedders,
    scorer: &ValueScorer,
) -> Result<(Vec<Ingested>, Vec<JournalEntry>), IngestError> {
    let t0 = Instant::now();
    let mut videos: Vec<Video> = batch.iter().map(record).collect();
    let texts: Vec<String> = videos.iter().map(Video::embedding_text).collect();
    let text_vecs = embedders.text.embed_texts(&texts).await?;
    let image_vecs: Vec<Option<Vec<f32>>> = match &embedders.image {
        None => vec![None; batch.len()],
        Some(img) => {
            // One pass over every keyframe of the batch, then the mean per video.
            let all: Vec<Vec<u8>> = batch
                .iter()
                .flat_map(|d| d.view_jpegs.iter().cloned())
                .collect();
            let mut vecs = img.embed_images(&all).await?.into_iter();
            let mut out = Vec::with_capacity(batch.len());
            for d in &batch {
                let mine: Vec<Vec<f32>> = vecs.by_ref().take(d.view_jpegs.len()).collect();
                out.push(mean_vector(&mine)?);
            }
            out
        }
    };
    let mut points = Vec::with_capacity(batch.len());
    for (i, video) in videos.drain(..).enumerate() {
        let has_text = !texts[i].trim().is_empty();
        let scores = scorer.score(
            has_text.then_some(text_vecs[i].as_slice()),
            image_vecs[i].as_deref(),
        )?;
        let mut video = video;
        // No text and no image vector: no evidence for any value, so no labels.
        video.values = if scores == PerValue::default() {
            Vec::new()
        } else {
            opts.config.labeling.assign(&scores)
        };
        video.value_scores = scores;
        points.push(VideoPoint {
            video,
            text: text_vecs[i].clone(),
            image: image_vecs[i].clone(),
        });
    }
    let t1 = Instant::now();
    store.upsert(points).await?;
    tracing::debug!(
        videos = batch.len(),
        embed_ms = (t1 - t0).as_millis() as u64,
        upsert_ms = t1.elapsed().as_millis() as u64,
        "batch stored"
    );
    let ingested = batch
        .iter()
        .map(|d| Ingested {
            id: d.work.id.clone(),
            path: d.work.file.path.clone(),
            frames: d.keyframes.len(),
        })
        .collect();
    let entries = batch
        .into_iter()
        .map(|d| JournalEntry {
            stamp: d.work.stamp,
            sha256: d.work.sha256,
            settings: d.work.settings,
            id: d.work.id,
            frames: d.keyframes.len(),
        })
        .collect();
    Ok((ingested, entries))
}

/// The stored record of a decoded file (scores and labels are filled in after embedding).
fn record(d: &Decoded) -> Video {
    let m = &d.work.meta;
    Video {
        id: d.work.id.clone(),
        platform: m.platform.clone().unwrap_or_else(Platform::unknown),
        kind: d.kind,
        url: m.url.clone(),
        posted: m.posted,
        caption: m.caption.clone().unwrap_or_default(),
        hashtags: m.hashtags.clone(),
        topic: m.topic.clone(),
        description: m.description.clone(),
        duration_s: d.duration_s,
        views: m.views,
        keyframes: d.keyframes.clone(),
        value_scores: PerValue::default(),
        values: Vec::new(),
        label: m.label,
        source: Some(d.work.file.rel.clone()),
        provenance: Provenance::new(m.source.clone(), m.licence.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_are_relative_paths_without_extension() {
        assert_eq!(default_id("beach_01.mp4").as_str(), "beach_01");
        assert_eq!(
            default_id("tiktok/beach_01.mp4").as_str(),
            "tiktok/beach_01"
        );
        assert_eq!(default_id("shot.final.png").as_str(), "shot.final");
    }
}
