//! Merging the packs of a sharded run (`scrollsim run --shard i/n` on several machines) into one
//! archive of the whole run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use scrollsim_core::ImageHash;

use crate::archive::{hash_reader, ArchiveWriter};
use crate::embeddings::Embeddings;
use crate::error::io;
use crate::layout;
use crate::manifest::{Counts, Manifest, Omitted};
use crate::write::{keyframe_member, scan_traces, Refs};
use crate::{open, Guard, Opened, PackError, Packed};

fn name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The resolved experiment without what may differ between shards of one run (the probes of
/// each machine's endpoints).
fn experiment_of(o: &Opened) -> Result<serde_json::Value, PackError> {
    let path = o.run_dir().join("resolved.json");
    let text = std::fs::read(&path).map_err(io(&path))?;
    let mut v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| PackError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    if let Some(m) = v.as_object_mut() {
        m.remove("capabilities");
    }
    Ok(v)
}

/// The first key path where two JSON values differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, &path),
                    _ => Some(path),
                }
            })
        }
        _ if a == b => None,
        _ => Some(if at.is_empty() {
            "(whole)".into()
        } else {
            at.into()
        }),
    }
}

/// One sorted JSON-lines member of a pack, read a line at a time.
struct Sorted {
    pack: String,
    path: PathBuf,
    lines: std::io::Lines<BufReader<std::fs::File>>,
    head: Option<(String, String)>,
}

impl Sorted {
    fn open(pack: &str, path: PathBuf) -> Result<Sorted, PackError> {
        let f = std::fs::File::open(&path).map_err(io(&path))?;
        Ok(Sorted {
            pack: pack.to_string(),
            path,
            lines: BufReader::new(f).lines(),
            head: None,
        })
    }

    /// The next non-empty line and its key; refuses keys out of order.
    fn advance(&mut self, key_of: &dyn Fn(&str) -> Option<String>) -> Result<(), PackError> {
        let last = self.head.take().map(|(k, _)| k);
        for line in self.lines.by_ref() {
            let line = line.map_err(io(&self.path))?;
            if line.trim().is_empty() {
                continue;
            }
            let key = key_of(&line).ok_or_else(|| PackError::Corrupt {
                path: self.path.clone(),
                detail: format!("a line of {} does not read", self.pack),
            })?;
            if last.as_ref().is_some_and(|l| *l >= key) {
                return Err(PackError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("{}: not sorted by key at {key}", self.pack),
                });
            }
            self.head = Some((key, line));
            return Ok(());
        }
        Ok(())
    }
}

/// Merges the packs' sorted JSON-lines members into `out`, sorted, each key once (the first
/// pack's line); `same` says whether two packs' lines for one key must be identical.
fn merge_sorted(
    mut inputs: Vec<Sorted>,
    key_of: &dyn Fn(&str) -> Option<String>,
    same: Option<&dyn Fn(&str) -> String>,
    out: &mut impl Write,
    at: &Path,
) -> Result<u64, PackError> {
    for i in &mut inputs {
        i.advance(key_of)?;
    }
    let mut n = 0;
    loop {
        let Some(key) = inputs
            .iter()
            .filter_map(|i| i.head.as_ref().map(|(k, _)| k.clone()))
            .min()
        else {
            return Ok(n);
        };
        let mut first: Option<(String, String)> = None;
        for i in &mut inputs {
            if i.head.as_ref().is_none_or(|(k, _)| *k != key) {
                continue;
            }
            let (_, line) = i.head.clone().expect("checked");
            match (&first, same) {
                (None, _) => first = Some((i.pack.clone(), line)),
                (Some((pack, l)), Some(why)) if *l != line => {
                    return Err(PackError::Mismatch(format!(
                        "{} differs between {pack} and {}: {}",
                        key,
                        i.pack,
                        why(&key)
                    )))
                }
                _ => {}
            }
            i.advance(key_of)?;
        }
        let (_, line) = first.expect("one input had the key");
        out.write_all(line.as_bytes())
            .and_then(|_| out.write_all(b"\n"))
            .map_err(io(at))?;
        n += 1;
    }
}

/// The packs' recorded text embedders, united: one embedder (refused otherwise), every trait
/// list once (the first pack's vectors; shards on like machines make the same).
fn merged_embeddings(opened: &[(String, Opened)]) -> Result<Option<Embeddings>, PackError> {
    let mut merged: Option<(String, Embeddings)> = None;
    for (n, o) in opened {
        let p = o.folder.join(layout::EMBEDDINGS);
        if !p.is_file() {
            continue;
        }
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        let e: Embeddings = serde_json::from_slice(&bytes).map_err(|e| PackError::Corrupt {
            path: p.clone(),
            detail: e.to_string(),
        })?;
        match &mut merged {
            None => merged = Some((n.clone(), e)),
            Some((first, m)) if m.embedder != e.embedder => {
                return Err(PackError::Mismatch(format!(
                    "{n} was embedded by {} but {first} by {}: shards of one run share a text \
                     embedder",
                    e.embedder.model, m.embedder.model
                )))
            }
            Some((_, m)) => {
                for l in e.lists {
                    if !m.lists.iter().any(|x| x.texts == l.texts) {
                        m.lists.push(l);
                    }
                }
            }
        }
    }
    Ok(merged.map(|(_, mut e)| {
        e.lists.sort_by(|a, b| a.texts.cmp(&b.texts));
        e
    }))
}

/// Merges `packs` (archives or unpacked folders, each verified) into `out`. They must be packs
/// of one experiment on one corpus; a session in two packs must be identical. `summarize`
/// rewrites `summary.json` in the merged run directory it is given (the shards' summaries each
/// cover their part only). Members are streamed from the packs into the new archive.
pub fn merge<E: std::fmt::Display>(
    packs: &[PathBuf],
    out: &Path,
    summarize: impl FnOnce(&Path) -> Result<(), E>,
    guard: &Guard,
) -> Result<Packed, PackError> {
    if packs.len() < 2 {
        return Err(PackError::Mismatch(
            "merging takes the packs of two or more shards".into(),
        ));
    }
    let opened: Vec<(String, Opened)> = packs
        .iter()
        .map(|p| Ok((name(p), open(p)?)))
        .collect::<Result<_, PackError>>()?;
    let (first_name, first) = &opened[0];
    let exp0 = experiment_of(first)?;
    for (n, o) in &opened[1..] {
        if o.manifest.corpus != first.manifest.corpus {
            return Err(PackError::Mismatch(format!(
                "{n} ran on corpus {} but {first_name} on corpus {}: shards of one run share a corpus",
                o.manifest.corpus, first.manifest.corpus
            )));
        }
        if o.manifest.experiment != first.manifest.experiment {
            return Err(PackError::Mismatch(format!(
                "{n} is a run of experiment `{}` but {first_name} of experiment `{}`: only shards of one experiment merge",
                o.manifest.experiment, first.manifest.experiment
            )));
        }
        if let Some(at) = first_difference(&exp0, &experiment_of(o)?, "") {
            return Err(PackError::Mismatch(format!(
                "{n} and {first_name} are both experiment `{}` but their resolved experiments differ at `{at}`: only shards of one experiment merge",
                o.manifest.experiment
            )));
        }
    }

    let run_id = first.manifest.run_id.clone();
    let temp = tempfile::Builder::new()
        .prefix("scrollsim-merge-")
        .tempdir()
        .map_err(io(std::env::temp_dir()))?;
    let run_dir = temp.path().join(&run_id);
    let sessions_dir = run_dir.join("sessions");
    std::fs::create_dir_all(&sessions_dir).map_err(io(&sessions_dir))?;
    for f in ["experiment.toml", "resolved.json"] {
        let from = first.run_dir().join(f);
        if from.is_file() {
            std::fs::copy(&from, run_dir.join(f)).map_err(io(&from))?;
        }
    }
    // Sessions by file name: (pack, SHA-256); the same session in two packs must be identical.
    let mut sessions: BTreeMap<String, (String, String)> = BTreeMap::new();
    // Prompt templates and keyframes by member: (pack, SHA-256, file).
    let mut prompts: BTreeMap<String, (String, String, PathBuf)> = BTreeMap::new();
    let mut images: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut omitted: BTreeSet<Omitted> = BTreeSet::new();
    for (n, o) in &opened {
        omitted.extend(o.manifest.omitted.iter().copied());
        let dir = o.run_dir().join("sessions");
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = e.map_err(io(&dir))?.path();
            let file = name(&p);
            let (sha, _) = hash_reader(std::fs::File::open(&p).map_err(io(&p))?, &p)?;
            match sessions.get(&file) {
                Some((other, s)) if *s != sha => {
                    return Err(PackError::Mismatch(format!(
                        "session {file} is in {other} and {n} with different contents"
                    )))
                }
                Some(_) => {}
                None => {
                    std::fs::copy(&p, sessions_dir.join(&file)).map_err(io(&p))?;
                    sessions.insert(file, (n.clone(), sha));
                }
            }
        }
        for m in &o.manifest.members {
            let src = o.folder.join(&m.path);
            if m.path.starts_with(&format!("{}/", layout::KEYFRAMES)) {
                images.entry(m.path.clone()).or_insert(src);
            } else if m.path.starts_with(&format!("{}/", layout::PROMPTS)) {
                match prompts.get(&m.path) {
                    Some((other, sha, _)) if *sha != m.sha256 => {
                        return Err(PackError::Mismatch(format!(
                            "{} differs between {other} and {n}: the shards' model judges were \
                             prompted differently",
                            m.path
                        )))
                    }
                    Some(_) => {}
                    None => {
                        prompts.insert(m.path.clone(), (n.clone(), m.sha256.clone(), src));
                    }
                }
            }
        }
    }
    summarize(&run_dir).map_err(|e| PackError::Run {
        path: PathBuf::from(&run_id),
        detail: format!("summarising the merged run: {e}"),
    })?;

    let mut w = ArchiveWriter::create(out, &run_id, guard)?;
    let prefix = format!("{}/{run_id}", layout::RUNS);
    for f in ["experiment.toml", "resolved.json", "summary.json"] {
        let p = run_dir.join(f);
        if p.is_file() {
            w.add_file(&format!("{prefix}/{f}"), &p)?;
        }
    }
    for file in sessions.keys() {
        w.add_file(
            &format!("{prefix}/sessions/{file}"),
            &sessions_dir.join(file),
        )?;
    }
    let mut refs = Refs::default();
    scan_traces(&sessions_dir, &mut refs)?;
    for (member, (_, _, src)) in &prompts {
        w.add_file(member, src)?;
    }
    if let Some(e) = merged_embeddings(&opened)? {
        let json = serde_json::to_vec_pretty(&e).expect("serialises");
        w.add_bytes(layout::EMBEDDINGS, &json)?;
    }

    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct VideoKey {
        video: Id,
    }
    #[derive(serde::Deserialize)]
    struct CallKey {
        key: String,
    }
    let video_key = |l: &str| serde_json::from_str::<VideoKey>(l).ok().map(|v| v.video.id);
    let call_key = |l: &str| serde_json::from_str::<CallKey>(l).ok().map(|c| c.key);
    let inputs = |member: &str| -> Result<Vec<Sorted>, PackError> {
        opened
            .iter()
            .map(|(n, o)| Sorted::open(n, o.folder.join(member)))
            .collect()
    };
    let mut videos = w.spool()?;
    let not_one_corpus = |_: &str| "not one corpus".to_string();
    let n_videos = merge_sorted(
        inputs(layout::VIDEOS)?,
        &video_key,
        Some(&not_one_corpus),
        &mut videos,
        out,
    )?;
    w.add_spool(layout::VIDEOS, videos)?;
    // A call recorded on two machines under one key is the same request; the first pack's
    // answer is kept.
    let mut calls = w.spool()?;
    let n_calls = merge_sorted(inputs(layout::CALLS)?, &call_key, None, &mut calls, out)?;
    w.add_spool(layout::CALLS, calls)?;

    let mut wanted: Vec<&ImageHash> = refs.keyframes.iter().collect();
    if !omitted.contains(&Omitted::ViewCopies) {
        wanted.extend(refs.views.iter());
    }
    wanted.sort();
    for h in &wanted {
        let member = keyframe_member(h);
        let src = images.get(&member).ok_or_else(|| {
            PackError::Missing(format!(
                "keyframe {h}, which a session shows, is in no pack"
            ))
        })?;
        w.add_file(&member, src)?;
    }

    let (resolved, _) = hash_reader(
        std::fs::File::open(run_dir.join("resolved.json")).map_err(io(&run_dir))?,
        &run_dir,
    )?;
    let counts = Counts {
        sessions: refs.sessions,
        steps: refs.steps,
        videos: n_videos,
        keyframes: wanted.len() as u64,
        prompts: prompts.len() as u64,
        calls: n_calls,
    };
    let experiment = first.manifest.experiment.clone();
    let corpus = first.manifest.corpus.clone();
    w.finish(Manifest {
        omitted: omitted.into_iter().collect(),
        merged_from: opened.iter().map(|(n, _)| n.clone()).collect(),
        ..Manifest::new(run_id, experiment, resolved, corpus, counts)
    })
}
