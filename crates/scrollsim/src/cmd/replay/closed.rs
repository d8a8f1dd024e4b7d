//! `replay --judge MODEL[:STRATEGY] --closed-loop`: the closed-loop sibling of the open-loop
//! counterfactual. The source run's experiment is re-run with the new judge
//! ([`Experiment::rejudged`]): the same arms, policies and seeds, each recorded policy now
//! reacting to the new judge's decisions, into a new run whose headers say
//! `config.closed_loop_of`. Each new session pairs with the source session on (arm, policy,
//! seed), one pair per source model and strategy, and the paired difference of their
//! alignment change is printed and written to `replay.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use scrollsim_core::metrics::mean_ci95;
use scrollsim_core::{JudgeKind, RunId};
use scrollsim_report::{check_trace, find_traces, model_label, SessionCheck, Table};
use scrollsim_sim::{RunDir, Shard};

use super::rerun::{judge_arg, run_root};
use super::Args;
use crate::app::App;
use crate::runner;

/// What a pair is matched on: the arm (persona id or `control`), the policy's label and the
/// seed.
type PairKey = (String, String, u64);

/// How a source session's judge is named in the paired table: model label (with "not a VLM"
/// for the offline persona model) and strategy.
fn judge_name(c: &SessionCheck) -> String {
    let h = &c.header;
    let mut label = model_label(h);
    if h.judge.kind == JudgeKind::OfflinePersonaModel && !label.contains("not a VLM") {
        label.push_str(", not a VLM");
    }
    format!("{label} / {}", h.judge.strategy)
}

fn key(c: &SessionCheck) -> PairKey {
    let h = &c.header;
    (
        h.persona
            .as_ref()
            .map_or_else(|| "control".to_string(), |p| p.id.0.clone()),
        h.policy.label(),
        h.seed,
    )
}

/// The alignment change (aligned exposure, points) of a session that finished with both
/// windows full; None otherwise (unfinished, failed, or too short to compare).
fn change(c: &SessionCheck) -> Option<f64> {
    let a = &c.metrics.aligned_exposure;
    (c.finished && a.complete).then_some(a.points).flatten()
}

/// One row of the paired comparison: a source judge, arm and policy, over seeds.
#[derive(Debug, serde::Serialize)]
struct PairedRow {
    source_judge: String,
    new_judge: String,
    arm: String,
    policy: String,
    /// Pairs where both sessions finished with both windows full.
    n: usize,
    /// Pairs left out (a session unfinished, failed, or its windows not full).
    excluded: usize,
    source_mean: Option<f64>,
    new_mean: Option<f64>,
    /// Mean of (closed-loop - source) over pairs, with its 95 % t-interval half-width.
    diff_mean: Option<f64>,
    diff_ci95: Option<f64>,
}

fn mean(xs: &[f64]) -> Option<f64> {
    mean_ci95(xs).map(|(m, _)| m)
}

fn paired(source: &[SessionCheck], new: &[SessionCheck]) -> Vec<PairedRow> {
    let by_key: BTreeMap<PairKey, &SessionCheck> = new.iter().map(|c| (key(c), c)).collect();
    // (source judge, arm, policy) -> (new judge, [(source, new) or None when excluded]).
    type Cell = (String, Vec<Option<(f64, f64)>>);
    let mut cells: BTreeMap<(String, String, String), Cell> = BTreeMap::new();
    for s in source {
        let k = key(s);
        let Some(n) = by_key.get(&k) else { continue };
        let cell = cells
            .entry((judge_name(s), k.0.clone(), k.1.clone()))
            .or_insert_with(|| (judge_name(n), Vec::new()));
        cell.1.push(change(s).zip(change(n)));
    }
    cells
        .into_iter()
        .map(|((source_judge, arm, policy), (new_judge, pairs))| {
            let both: Vec<(f64, f64)> = pairs.iter().flatten().copied().collect();
            let diffs: Vec<f64> = both.iter().map(|(s, n)| n - s).collect();
            let d = mean_ci95(&diffs);
            PairedRow {
                source_judge,
                new_judge,
                arm,
                policy,
                n: both.len(),
                excluded: pairs.len() - both.len(),
                source_mean: mean(&both.iter().map(|p| p.0).collect::<Vec<_>>()),
                new_mean: mean(&both.iter().map(|p| p.1).collect::<Vec<_>>()),
                diff_mean: d.map(|x| x.0),
                diff_ci95: d.and_then(|x| x.1),
            }
        })
        .collect()
}

fn points(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:+.1}"))
}

fn table(rows: &[PairedRow], source: &RunId, new: &RunId) -> Table {
    Table {
        id: "closed_loop",
        title: format!("Closed-loop re-run {new} against {source}: alignment change, paired"),
        note: Some(
            "Aligned exposure, last window minus first, in points; each closed-loop session paired \
             with the source session of the same arm, policy and seed (the feed reacting to each \
             judge). diff: mean of the paired differences (closed-loop - source) with its 95 % \
             t-interval; n: pairs with both sessions finished and both windows full. Anything the \
             offline persona model judged is not a VLM's behaviour: it checks the machinery, it \
             is not a finding."
                .into(),
        ),
        header: [
            "source judge",
            "closed-loop judge",
            "arm",
            "policy",
            "n",
            "source",
            "closed-loop",
            "diff",
            "95 % CI",
            "excluded",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.source_judge.clone(),
                    r.new_judge.clone(),
                    r.arm.clone(),
                    r.policy.clone(),
                    r.n.to_string(),
                    points(r.source_mean),
                    points(r.new_mean),
                    points(r.diff_mean),
                    r.diff_ci95
                        .zip(r.diff_mean)
                        .map_or_else(|| "-".into(), |(h, m)| {
                            format!("[{:+.1}, {:+.1}]", m - h, m + h)
                        }),
                    r.excluded.to_string(),
                ]
            })
            .collect(),
    }
}

fn checks(paths: &[PathBuf]) -> anyhow::Result<Vec<SessionCheck>> {
    find_traces(paths)?
        .iter()
        .map(|t| check_trace(t).map_err(anyhow::Error::from))
        .collect()
}

pub async fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    let root = run_root(&args.paths)?;
    if args.paths.iter().any(|p| !p.is_dir()) {
        anyhow::bail!(
            "--closed-loop re-runs a whole experiment: pass its run directory ({}), not traces",
            root.display()
        );
    }
    let (source, exp) = RunDir::open(&root)?;
    let arg = args
        .judge
        .as_deref()
        .context("--closed-loop needs --judge")?;
    let (model, strategy) = judge_arg(arg)?;
    let resolved = root.join(RunDir::RESOLVED);
    let mut new_exp = exp
        .rejudged(&source.id, model, strategy)
        .map_err(|e| anyhow!("--judge {arg}: {e}"))?;
    app.check_judges(&resolved, &mut new_exp).await?;

    let out = args.out.clone().unwrap_or_else(|| {
        app.settings.paths.runs.join(format!(
            "{}-closed-loop-{}",
            source.id,
            scrollsim_core::ids::file_slug(&arg.replace(':', "-"))
        ))
    });
    let id = RunId::new(
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("--out names a directory")?,
    );
    let runs = out.parent().unwrap_or(Path::new("."));
    let text = format!(
        "# Closed-loop re-run of run {} with judge {arg}: this run's resolved.json is the \
         experiment as run (its models, strategies and closed_loop_of). The source's \
         experiment file follows.\n{}",
        source.id,
        std::fs::read_to_string(root.join(RunDir::EXPERIMENT)).unwrap_or_default()
    );
    let dir = RunDir::create(runs, &id, &text, &new_exp)?;
    let deps = app.run_deps(&new_exp, app.open_store().await?).await?;
    let report = runner::execute(&dir, &new_exp, Shard::ALL, &deps, args.quiet).await?;
    runner::write_summary(&dir, &new_exp).await?;
    let code = runner::finish(&dir, Shard::ALL, &report);

    let (src_paths, new_paths) = (vec![root.clone()], vec![dir.root.clone()]);
    let (src, new) =
        tokio::task::spawn_blocking(move || anyhow::Ok((checks(&src_paths)?, checks(&new_paths)?)))
            .await??;
    let rows = paired(&src, &new);
    let provenance = serde_json::json!({
        "mode": "closed-loop",
        "closed_loop_of": source.root,
        "run": source.id,
        "judge": arg,
        "sessions": new.len(),
        "note": "the source experiment re-run on the same seeds with another judge, each policy reacting to the new judge's decisions (not the recorded feed: that is replay --judge without --closed-loop, labelled fixed(<policy>))",
        "paired_alignment_change": rows,
    });
    std::fs::write(
        dir.root.join("replay.json"),
        serde_json::to_vec_pretty(&provenance)?,
    )
    .with_context(|| format!("writing {}", dir.root.join("replay.json").display()))?;
    println!("{}", table(&rows, &source.id, &dir.id).to_terminal());
    println!(
        "closed-loop: {} session(s) re-run against {arg} into {} (the same arms, policies and seeds as {}, each feed reacting to the new judge).",
        new.len(),
        dir.root.display(),
        source.id
    );
    println!(
        "compare: scrollsim inspect {} {} --by model,policy",
        root.display(),
        dir.root.display()
    );
    Ok(code)
}
