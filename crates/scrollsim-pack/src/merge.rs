//! Merging the packs of a sharded run (`scrollsim run --shard i/n` on several machines) into one
//! archive of the whole run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::io;
use crate::layout;
use crate::manifest::{sha256_hex, Counts, Manifest, Member, FORMAT};
use crate::write::{scan_traces, write_archive, CallLine, Refs, VideoLine};
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

fn lines(path: &Path) -> Result<Vec<String>, PackError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect())
}

/// Merges `packs` (archives or unpacked folders, each verified) into `out`. They must be packs
/// of one experiment on one corpus; a session in two packs must be identical. `summarize`
/// rewrites `summary.json` in the merged run directory it is given (the shards' summaries each
/// cover their part only).
pub fn merge(
    packs: &[PathBuf],
    out: &Path,
    summarize: impl FnOnce(&Path) -> Result<(), String>,
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
    let mut sessions: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    let mut videos: BTreeMap<String, String> = BTreeMap::new();
    let mut calls: BTreeMap<String, String> = BTreeMap::new();
    let mut keyframes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (n, o) in &opened {
        let dir = o.run_dir().join("sessions");
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = e.map_err(io(&dir))?.path();
            let bytes = std::fs::read(&p).map_err(io(&p))?;
            let file = name(&p);
            match sessions.get(&file) {
                Some((other, b)) if b != &bytes => {
                    return Err(PackError::Mismatch(format!(
                        "session {file} is in {other} and {n} with different contents"
                    )))
                }
                Some(_) => {}
                None => {
                    sessions.insert(file, (n.clone(), bytes));
                }
            }
        }
        for l in lines(&o.folder.join(layout::VIDEOS))? {
            let v: VideoLine = serde_json::from_str(&l).map_err(|e| PackError::Corrupt {
                path: o.folder.join(layout::VIDEOS),
                detail: e.to_string(),
            })?;
            let id = v.video.id.to_string();
            if videos.get(&id).is_some_and(|x| x != &l) {
                return Err(PackError::Mismatch(format!(
                    "video {id} differs between the packs ({n} and another): not one corpus"
                )));
            }
            videos.insert(id, l);
        }
        for l in lines(&o.folder.join(layout::CALLS))? {
            let c: CallLine = serde_json::from_str(&l).map_err(|e| PackError::Corrupt {
                path: o.folder.join(layout::CALLS),
                detail: e.to_string(),
            })?;
            calls.insert(c.key, l);
        }
        for m in &o.manifest.members {
            if m.path.starts_with(&format!("{}/", layout::KEYFRAMES)) {
                let p = o.folder.join(&m.path);
                keyframes.insert(m.path.clone(), std::fs::read(&p).map_err(io(&p))?);
            }
        }
    }
    for (file, (_, bytes)) in &sessions {
        let p = sessions_dir.join(file);
        std::fs::write(&p, bytes).map_err(io(&p))?;
    }
    summarize(&run_dir).map_err(|e| PackError::Run {
        path: PathBuf::from(&run_id),
        detail: format!("summarising the merged run: {e}"),
    })?;

    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let prefix = format!("{}/{run_id}", layout::RUNS);
    for f in ["experiment.toml", "resolved.json", "summary.json"] {
        let p = run_dir.join(f);
        if p.is_file() {
            members.insert(format!("{prefix}/{f}"), std::fs::read(&p).map_err(io(&p))?);
        }
    }
    let mut refs = Refs::default();
    scan_traces(&sessions_dir, &mut refs)?;
    for (file, (_, bytes)) in sessions {
        members.insert(format!("{prefix}/sessions/{file}"), bytes);
    }
    let join = |m: &BTreeMap<String, String>| -> Vec<u8> {
        m.values()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    };
    members.insert(layout::VIDEOS.into(), join(&videos));
    members.insert(layout::CALLS.into(), join(&calls));
    let n_keyframes = keyframes.len() as u64;
    members.extend(keyframes);
    let resolved = members
        .get(&format!("{prefix}/resolved.json"))
        .map(|b| sha256_hex(b))
        .unwrap_or_default();
    let manifest = Manifest {
        format: FORMAT,
        scrollsim_version: scrollsim_core::VERSION.to_string(),
        run_id,
        experiment: first.manifest.experiment.clone(),
        experiment_sha256: resolved,
        corpus: first.manifest.corpus.clone(),
        merged_from: opened.iter().map(|(n, _)| n.clone()).collect(),
        counts: Counts {
            sessions: refs.sessions,
            steps: refs.steps,
            videos: videos.len() as u64,
            keyframes: n_keyframes,
            calls: calls.len() as u64,
        },
        members: members.iter().map(|(p, b)| Member::of(p, b)).collect(),
    };
    let members: Vec<(String, Vec<u8>)> = members.into_iter().collect();
    let bytes = write_archive(out, &manifest, &members, guard)?;
    Ok(Packed {
        path: out.to_path_buf(),
        bytes,
        manifest,
    })
}
