//! Packing a run directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use scrollsim_core::trace::{TraceEvent, TraceReader};
use scrollsim_core::{ImageHash, JudgeKind, VideoId};
use scrollsim_embed::Embedder;
use scrollsim_media::ImageStore;
use scrollsim_store::{StoreError, VectorName, VideoStore};
use scrollsim_vlm::config::StrategyKind;
use scrollsim_vlm::prompts::PromptTemplate;
use scrollsim_vlm::recordings::{CallCache, Recording};
use serde::{Deserialize, Serialize};

use crate::archive::ArchiveWriter;
use crate::error::io;
use crate::layout;
use crate::manifest::{sha256_hex, Counts, Manifest, Omitted, Packed};
use crate::{Guard, PackError};

/// Where the run's videos, keyframes and recorded calls are read from (the packing machine's
/// data directory).
pub struct PackSources<'a> {
    pub store: &'a dyn VideoStore,
    pub images: &'a ImageStore,
    pub calls: &'a CallCache,
    /// The prompt template directory the run's judges used (`<strategy>.toml`).
    pub prompts: &'a Path,
    /// The run's text embedder (`[embedder.text]`), when it loads here: its name and dimension
    /// and the offline persona model's trait vectors are packed so a rerun needs no weights.
    /// Required when the offline model judged a persona.
    pub text_embedder: Option<&'a dyn Embedder>,
}

/// How to pack.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Leave out the keyframes' larger viewing copies (most of a typical archive): the archive
    /// still verifies and reruns (judges saw only the model-size keyframes); the viewer and the
    /// HTML report show the model-size keyframes instead, and the manifest says so.
    pub omit_view_copies: bool,
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
    /// The model-size keyframes judges were shown.
    pub keyframes: BTreeSet<ImageHash>,
    /// Their larger viewing copies (those that are not also a judge's keyframe).
    pub views: BTreeSet<ImageHash>,
    pub calls: BTreeSet<String>,
    /// Strategy -> the prompt template versions its sessions recorded, for every session a
    /// model judged from a prompt (not the offline persona model).
    pub prompts: BTreeMap<String, BTreeSet<String>>,
    /// The trait lists the offline persona model embedded (one per persona it judged).
    pub trait_lists: BTreeSet<Vec<String>>,
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
                    if h.judge.kind == JudgeKind::OfflinePersonaModel {
                        refs.trait_lists
                            .extend(h.persona.as_ref().map(crate::embeddings::trait_list));
                    } else {
                        refs.prompts
                            .entry(h.judge.strategy.to_string())
                            .or_default()
                            .extend(h.judge.prompt_version.clone());
                    }
                }
                TraceEvent::Step(s) => {
                    refs.steps += 1;
                    refs.videos.insert(s.video.clone());
                    // What the judge saw, and the larger copies people see in the viewer.
                    for k in &s.keyframes {
                        refs.keyframes.insert(k.hash.clone());
                        refs.views.extend(k.view.clone());
                    }
                    refs.calls
                        .extend(s.decision.usage.cache_keys.iter().cloned());
                }
                TraceEvent::End(e) => refs.calls.extend(e.usage.cache_keys.iter().cloned()),
                TraceEvent::Unknown => {}
            }
        }
    }
    let judged = refs.keyframes.clone();
    refs.views.retain(|v| !judged.contains(v));
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

/// The run directory's name (the archive's top folder and its run id).
pub(crate) fn run_id_of(run_dir: &Path) -> Result<String, PackError> {
    run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| PackError::Run {
            path: run_dir.into(),
            detail: "not a run directory (no name)".into(),
        })
}

/// The experiment's name in a run directory's resolved.json, and that file's SHA-256.
pub(crate) fn experiment_name(run_dir: &Path) -> Result<(String, String), PackError> {
    let resolved_path = run_dir.join("resolved.json");
    let resolved = std::fs::read(&resolved_path).map_err(|e| PackError::Run {
        path: run_dir.into(),
        detail: format!("not a run directory made by `scrollsim run` (resolved.json: {e})"),
    })?;
    let name = serde_json::from_slice::<serde_json::Value>(&resolved)
        .ok()
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
        .ok_or_else(|| PackError::Run {
            path: resolved_path.clone(),
            detail: "no experiment name".into(),
        })?;
    Ok((name, sha256_hex(&resolved)))
}

/// The member name of a keyframe: the image store's own layout, so the unpacked folder's
/// `keyframes/` is an image store.
pub(crate) fn keyframe_member(h: &ImageHash) -> String {
    let h = h.as_str();
    format!("{}/{}/{h}.jpg", layout::KEYFRAMES, &h[..2])
}

/// The member name of a strategy's prompt template.
pub(crate) fn prompt_member(strategy: &str) -> String {
    format!("{}/{strategy}.toml", layout::PROMPTS)
}

/// The prompt templates the run's model judges used, from `dir`, each checked against the
/// template versions the traces recorded.
fn prompt_files(
    dir: &Path,
    wanted: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<(String, PathBuf)>, PackError> {
    let mut out = Vec::new();
    for (strategy, versions) in wanted {
        let kind: StrategyKind = strategy.parse().map_err(|e| {
            PackError::Missing(format!("the traces name prompt strategy {strategy:?}: {e}"))
        })?;
        let t = PromptTemplate::load(dir, kind).map_err(|e| {
            PackError::Missing(format!(
                "the prompt template of strategy {strategy}, which the run's judges used: {e}"
            ))
        })?;
        if let Some(v) = versions.iter().find(|v| **v != t.version) {
            return Err(PackError::Missing(format!(
                "{} is version {:?} but the run's {strategy} sessions were judged with version                  {v:?}: pack with the prompt directory the run used (`--config` or                  [judge] prompts)",
                t.path.display(),
                t.version
            )));
        }
        out.push((prompt_member(strategy), t.path.clone()));
    }
    Ok(out)
}

/// Packs the run in `run_dir` into `out`, one member at a time.
pub async fn pack(
    run_dir: &Path,
    out: &Path,
    src: PackSources<'_>,
    guard: &Guard,
    opts: &PackOptions,
) -> Result<Packed, PackError> {
    let run_id = run_id_of(run_dir)?;
    let (experiment, experiment_sha256) = experiment_name(run_dir)?;
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

    // The run's own files first: a leak is found before anything else is read.
    let mut w = ArchiveWriter::create(out, &run_id, guard)?;
    let prefix = format!("{}/{run_id}", layout::RUNS);
    for rel in run_files(run_dir)? {
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        w.add_file(&format!("{prefix}/{name}"), &run_dir.join(&rel))?;
    }

    // The payloads must be the ones the run saw: a re-ingested or changed corpus is refused.
    let here = src.store.corpus_id().await?.to_string();
    if here != corpus {
        return Err(PackError::Missing(format!(
            "the run's sessions ran on corpus {corpus} but the configured store holds {here}: \
             pack on the machine (data directory) the run was made on"
        )));
    }
    let prompts = prompt_files(src.prompts, &refs.prompts)?;
    for (member, file) in &prompts {
        w.add_file(member, file)?;
    }
    match src.text_embedder {
        Some(e) => {
            let recorded = crate::embeddings::record(e, &refs.trait_lists).await?;
            let json = serde_json::to_vec_pretty(&recorded).expect("serialises");
            w.add_bytes(layout::EMBEDDINGS, &json)?;
        }
        None if !refs.trait_lists.is_empty() => {
            return Err(PackError::Missing(
                "the offline persona model judged personas in this run: packing their trait \
                 vectors needs the run's text embedder ([embedder.text]), which did not load \
                 here"
                    .into(),
            ))
        }
        None => {}
    }

    // Videos with their vectors, a chunk of the store at a time.
    let ids: Vec<VideoId> = refs.videos.iter().cloned().collect();
    let mut videos = w.spool()?;
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
            serde_json::to_writer(&mut videos, &line).expect("serialises");
            videos.write_all(b"\n").map_err(io(out))?;
        }
    }
    w.add_spool(layout::VIDEOS, videos)?;

    let mut calls = w.spool()?;
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
        serde_json::to_writer(&mut calls, &line).expect("serialises");
        calls.write_all(b"\n").map_err(io(out))?;
    }
    w.add_spool(layout::CALLS, calls)?;

    let mut omitted = Vec::new();
    let mut images: Vec<&ImageHash> = refs.keyframes.iter().collect();
    if opts.omit_view_copies {
        omitted.push(Omitted::ViewCopies);
    } else {
        images.extend(refs.views.iter());
    }
    images.sort();
    for h in &images {
        // Read through the store, which checks each image against its hash.
        w.add_bytes(&keyframe_member(h), &src.images.get(h)?)?;
    }

    let counts = Counts {
        sessions: refs.sessions,
        steps: refs.steps,
        videos: refs.videos.len() as u64,
        keyframes: images.len() as u64,
        prompts: prompts.len() as u64,
        calls: refs.calls.len() as u64,
    };
    w.finish(Manifest {
        omitted,
        ..Manifest::new(run_id, experiment, experiment_sha256, corpus, counts)
    })
}
