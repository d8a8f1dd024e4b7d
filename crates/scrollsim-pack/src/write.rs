//! Packing a run directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use scrollsim_core::trace::{TraceEvent, TraceReader};
use scrollsim_core::{ImageHash, VideoId};
use scrollsim_media::ImageStore;
use scrollsim_store::{StoreError, VectorName, VideoStore};
use scrollsim_vlm::recordings::{CallCache, Recording};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::layout;
use crate::manifest::{sha256_hex, Counts, Manifest, Member, FORMAT};
use crate::{Guard, PackError};

/// Where the run's videos, keyframes and recorded calls are read from (the packing machine's
/// data directory).
pub struct PackSources<'a> {
    pub store: &'a dyn VideoStore,
    pub images: &'a ImageStore,
    pub calls: &'a CallCache,
}

/// A written archive.
#[derive(Debug)]
pub struct Packed {
    pub path: PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
}

/// One line of `videos.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct VideoLine {
    pub video: scrollsim_core::Video,
    /// The text vector as little-endian f32, base64 (bit for bit; decimal JSON might not be).
    pub text_f32le: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_f32le: Option<String>,
}

/// One line of `calls.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CallLine {
    pub key: String,
    pub recording: Recording,
}

pub(crate) fn f32le(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What the traces of a run refer to.
#[derive(Default)]
pub(crate) struct Refs {
    pub corpus: BTreeSet<String>,
    pub videos: BTreeSet<VideoId>,
    pub keyframes: BTreeSet<ImageHash>,
    pub calls: BTreeSet<String>,
    pub sessions: u64,
    pub steps: u64,
}

pub(crate) fn scan_traces(sessions: &Path, refs: &mut Refs) -> Result<(), PackError> {
    let mut traces: Vec<PathBuf> = std::fs::read_dir(sessions)
        .map_err(io(sessions))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    traces.sort();
    for t in traces {
        let f = std::fs::File::open(&t).map_err(io(&t))?;
        refs.sessions += 1;
        for ev in TraceReader::new(BufReader::new(f)) {
            let ev = ev.map_err(|e| PackError::Run {
                path: t.clone(),
                detail: e.to_string(),
            })?;
            match ev {
                TraceEvent::Header(h) => {
                    refs.corpus.insert(h.corpus.to_string());
                }
                TraceEvent::Step(s) => {
                    refs.steps += 1;
                    refs.videos.insert(s.video.clone());
                    // What the judge saw, and the larger copies people see in the viewer.
                    refs.keyframes.extend(
                        s.keyframes
                            .iter()
                            .flat_map(|k| std::iter::once(k.hash.clone()).chain(k.view.clone())),
                    );
                    refs.calls
                        .extend(s.decision.usage.cache_keys.iter().cloned());
                }
                TraceEvent::End(e) => refs.calls.extend(e.usage.cache_keys.iter().cloned()),
                TraceEvent::Unknown => {}
            }
        }
    }
    Ok(())
}

/// The run directory's report (left out of archives).
const REPORT_DIR: &str = "report";

/// The run directory's files, relative to it, sorted (the report aside).
fn run_files(root: &Path) -> Result<Vec<PathBuf>, PackError> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), PackError> {
        let dir = root.join(rel);
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let kind = e.file_type().map_err(io(e.path()))?;
            let rel = rel.join(e.file_name());
            // The report is derived from the rest (`scrollsim report <archive>` writes it
            // again) and, with its charts and pictures, would double the archive.
            if rel == Path::new(REPORT_DIR) {
                continue;
            }
            if kind.is_dir() {
                walk(root, &rel, out)?;
            } else if kind.is_file() {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}

/// The members of a run's archive, in memory, sorted by path.
pub(crate) async fn collect(
    run_dir: &Path,
    src: &PackSources<'_>,
    guard: &Guard,
) -> Result<(Manifest, Vec<(String, Vec<u8>)>), PackError> {
    let run_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| PackError::Run {
            path: run_dir.into(),
            detail: "not a run directory (no name)".into(),
        })?;
    // The run's own files first, checked before anything else is read: a leak is found even
    // where the rest could not be packed.
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let prefix = format!("{}/{run_id}", layout::RUNS);
    for rel in run_files(run_dir)? {
        let path = run_dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let name = format!("{prefix}/{name}");
        guard.check(&name, &bytes)?;
        members.insert(name, bytes);
    }
    let resolved_path = run_dir.join("resolved.json");
    let resolved = std::fs::read(&resolved_path).map_err(|e| PackError::Run {
        path: run_dir.into(),
        detail: format!("not a run directory made by `scrollsim run` (resolved.json: {e})"),
    })?;
    let experiment = serde_json::from_slice::<serde_json::Value>(&resolved)
        .ok()
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
        .ok_or_else(|| PackError::Run {
            path: resolved_path.clone(),
            detail: "no experiment name".into(),
        })?;
    let mut refs = Refs::default();
    scan_traces(&run_dir.join("sessions"), &mut refs)?;
    if refs.sessions == 0 {
        return Err(PackError::Run {
            path: run_dir.into(),
            detail: "no traces in sessions/: nothing to pack".into(),
        });
    }
    let corpus = match refs.corpus.len() {
        1 => refs.corpus.iter().next().cloned().expect("one"),
        _ => {
            return Err(PackError::Run {
                path: run_dir.into(),
                detail: format!(
                    "sessions ran on different corpora ({}): pack each part apart",
                    refs.corpus.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            })
        }
    };
    // The payloads must be the ones the run saw: a re-ingested or changed corpus is refused.
    let here = src.store.corpus_id().await?.to_string();
    if here != corpus {
        return Err(PackError::Missing(format!(
            "the run's sessions ran on corpus {corpus} but the configured store holds {here}: \
             pack on the machine (data directory) the run was made on"
        )));
    }

    // Videos with their vectors.
    let ids: Vec<VideoId> = refs.videos.iter().cloned().collect();
    let mut videos = Vec::new();
    for chunk in ids.chunks(256) {
        let got = src.store.get(chunk).await?;
        let text: BTreeMap<VideoId, Vec<f32>> = src
            .store
            .vectors(chunk, VectorName::Text)
            .await?
            .into_iter()
            .collect();
        let image: BTreeMap<VideoId, Vec<f32>> =
            match src.store.vectors(chunk, VectorName::Image).await {
                Ok(v) => v.into_iter().collect(),
                // The collection has no image vectors (no image embedder at ingest).
                Err(StoreError::InvalidRequest(_)) => BTreeMap::new(),
                Err(e) => return Err(e.into()),
            };
        let by_id: BTreeMap<VideoId, scrollsim_core::Video> =
            got.into_iter().map(|v| (v.id.clone(), v)).collect();
        for id in chunk {
            let (Some(video), Some(t)) = (by_id.get(id), text.get(id)) else {
                return Err(PackError::Missing(format!(
                    "video {id} shown in the run is not in the store"
                )));
            };
            let line = VideoLine {
                video: video.clone(),
                text_f32le: f32le(t),
                image_f32le: image.get(id).map(|v| f32le(v)),
            };
            videos.extend(serde_json::to_vec(&line).expect("serialises"));
            videos.push(b'\n');
        }
    }
    members.insert(layout::VIDEOS.into(), videos);

    let mut calls = Vec::new();
    for key in &refs.calls {
        let recording = src
            .calls
            .get(key)
            .map_err(|e| PackError::Calls(e.to_string()))?
            .ok_or_else(|| {
                PackError::Missing(format!(
                    "recorded call {key} (named in a trace) is not in the call cache {}: \
                     the archive could not replay it",
                    src.calls.path().display()
                ))
            })?;
        let line = CallLine {
            key: key.clone(),
            recording,
        };
        calls.extend(serde_json::to_vec(&line).expect("serialises"));
        calls.push(b'\n');
    }
    members.insert(layout::CALLS.into(), calls);

    for h in &refs.keyframes {
        let bytes = src.images.get(h)?;
        // The image store's own layout, so the unpacked folder's keyframes/ is an image store.
        let h = h.as_str();
        members.insert(format!("{}/{}/{h}.jpg", layout::KEYFRAMES, &h[..2]), bytes);
    }

    let manifest = Manifest {
        format: FORMAT,
        scrollsim_version: scrollsim_core::VERSION.to_string(),
        run_id,
        experiment,
        experiment_sha256: sha256_hex(&resolved),
        corpus,
        merged_from: Vec::new(),
        counts: Counts {
            sessions: refs.sessions,
            steps: refs.steps,
            videos: refs.videos.len() as u64,
            keyframes: refs.keyframes.len() as u64,
            calls: refs.calls.len() as u64,
        },
        members: members.iter().map(|(p, b)| Member::of(p, b)).collect(),
    };
    Ok((manifest, members.into_iter().collect()))
}

/// Checks every member against the guard, then writes the archive to `out` (through a
/// temporary file: a failed pack leaves nothing behind).
pub(crate) fn write_archive(
    out: &Path,
    manifest: &Manifest,
    members: &[(String, Vec<u8>)],
    guard: &Guard,
) -> Result<u64, PackError> {
    let manifest_json = serde_json::to_vec_pretty(manifest).expect("serialises");
    for (path, bytes) in members
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .chain([(layout::MANIFEST, manifest_json.as_slice())])
    {
        guard.check(path, bytes)?;
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pack-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    let enc = zstd::Encoder::new(tmp.as_file(), 12).map_err(io(out))?;
    let mut tar = tar::Builder::new(enc);
    let top = &manifest.run_id;
    for (path, bytes) in members
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .chain([(layout::MANIFEST, manifest_json.as_slice())])
    {
        // No owner, time or mode of the packing machine: the same run packs to the same bytes.
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{top}/{path}"), bytes)
            .map_err(io(out))?;
    }
    let enc = tar.into_inner().map_err(io(out))?;
    let mut file = enc.finish().map_err(io(out))?;
    file.flush().map_err(io(out))?;
    file.sync_all().map_err(io(out))?;
    tmp.persist(out).map_err(|e| io(out)(e.error))?;
    Ok(std::fs::metadata(out).map_err(io(out))?.len())
}

/// Packs the run in `run_dir` into `out`.
pub async fn pack(
    run_dir: &Path,
    out: &Path,
    src: PackSources<'_>,
    guard: &Guard,
) -> Result<Packed, PackError> {
    let (manifest, members) = collect(run_dir, &src, guard).await?;
    let bytes = write_archive(out, &manifest, &members, guard)?;
    Ok(Packed {
        path: out.to_path_buf(),
        bytes,
        manifest,
    })
}
