//! `replay --judge MODEL[:STRATEGY] --closed-loop`: the closed-loop sibling of the open-loop
//! counterfactual. The source run's experiment is re-run with the new judge
//! ([`Experiment::rejudged`]): the same arms, policies and seeds, each recorded policy now
//! reacting to the new judge's decisions, into a new run whose headers say
//! `config.closed_loop_of`. Each new session pairs with the source session of the same
//! persona (or control arm), policy and seed (and strategy, when the re-run kept the
//! source's), and the paired difference of their
//! alignment change, computed by the report crate ([`scrollsim_report::closed_loop`], the same
//! estimator as every other paired difference), is printed and written to `replay.json`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use scrollsim_core::RunId;
use scrollsim_sim::{RunDir, Shard};

use super::rerun::{judge_arg, run_root};
use super::Args;
use crate::app::App;
use crate::runner;

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
    let paired =
        tokio::task::spawn_blocking(move || scrollsim_report::closed_loop(&src_paths, &new_paths))
            .await?
            .context("pairing the re-run with its source")?;
    let provenance = serde_json::json!({
        "mode": "closed-loop",
        "closed_loop_of": source.root,
        "run": source.id,
        "judge": arg,
        "sessions": paired.closed_loop_sessions,
        "note": "the source experiment re-run on the same seeds with another judge, each policy reacting to the new judge's decisions (not the recorded feed: that is replay --judge without --closed-loop, labelled fixed(<policy>))",
        "paired": paired,
    });
    std::fs::write(
        dir.root.join("replay.json"),
        serde_json::to_vec_pretty(&provenance)?,
    )
    .with_context(|| format!("writing {}", dir.root.join("replay.json").display()))?;
    println!(
        "{}",
        paired
            .table(source.id.as_str(), dir.id.as_str())
            .to_terminal()
    );
    println!(
        "closed-loop: {} session(s) re-run against {arg} into {} (the same arms, policies and seeds as {}, each feed reacting to the new judge).",
        paired.closed_loop_sessions,
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
