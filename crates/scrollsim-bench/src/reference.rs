//! The PyTorch reference for the text embeddings: sentence-transformers times the same texts,
//! batch size and threads as scrollsim's embedder, one after the other in the same run, so the
//! ratio between them holds whatever else the machine is doing. Optional: when torch and
//! sentence-transformers are not installed for the given Python, the benchmark says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scrollsim_embed::{MiniLmEmbedder, MiniLmEngine, MiniLmOptions};

use crate::ingest::text_embedding_rates;
use crate::Result;

/// The script, built in so the benchmark runs from any directory.
const SCRIPT: &str = include_str!("../../../scripts/bench/embed_reference.py");

/// How many texts' vectors are compared between the two models.
const CHECKED: usize = 64;

/// What the reference script reports.
#[derive(Debug, serde::Deserialize)]
struct Reference {
    texts_per_s: f64,
    torch: String,
    sentence_transformers: String,
    threads: usize,
    vectors: Vec<Vec<f32>>,
}

/// scrollsim's embedder against sentence-transformers on `texts`, printed: both rates, their
/// ratio (the target is >= 1.0) and the largest cosine distance between the two models'
/// vectors for the same texts.
pub async fn section(
    python: &Path,
    opts: &MiniLmOptions,
    batch: usize,
    texts: &[String],
) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batch = batch.max(1);
    let check = texts.len().min(CHECKED);
    println!(
        "\n## Text embeddings against the PyTorch reference\n\n\
         {} texts, batch {batch}, {threads} threads each; scrollsim's embedder first, then\n\
         sentence-transformers through {} (scripts/bench/embed_reference.py).\n",
        texts.len(),
        python.display()
    );
    let opts = MiniLmOptions {
        batch_size: batch,
        ..opts.clone()
    };
    let model_path = opts.path.clone();
    let owned = texts.to_vec();
    let (ours, ours_vectors, runtime, engine) =
        tokio::task::spawn_blocking(move || -> Result<_> {
            let model = MiniLmEmbedder::load(&opts)?;
            let rate = text_embedding_rates(&model, &owned, &[batch])?;
            let vectors = model.embed_blocking(&owned[..check])?;
            Ok((
                rate[0].per_second(),
                vectors,
                model.runtime().to_string(),
                model.engine(),
            ))
        })
        .await??;
    let request = serde_json::json!({
        "model": model_path,
        "texts": texts,
        "batch_size": batch,
        "threads": threads,
        "check": check,
    });
    let python = python.to_path_buf();
    let theirs = tokio::task::spawn_blocking(move || run_script(&python, &request)).await?;
    println!("scrollsim's embedder runs on {runtime}.\n");
    println!("{:<50} {:>10}", "embedder", "texts/s");
    let engine = match engine {
        MiniLmEngine::OnnxRuntime => "scrollsim (ONNX Runtime)",
        MiniLmEngine::Candle => "scrollsim (candle)",
    };
    println!("{:<50} {:>10.1}", engine, ours);
    match theirs {
        Ok(r) => {
            let worst = ours_vectors
                .iter()
                .zip(&r.vectors)
                .map(|(a, b)| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                .fold(0.0f32, f32::max);
            println!(
                "{:<50} {:>10.1}",
                format!(
                    "sentence-transformers {} (torch {}, {} threads)",
                    r.sentence_transformers, r.torch, r.threads
                ),
                r.texts_per_s
            );
            println!(
                "\nratio scrollsim / PyTorch: {:.2} (target >= 1.0); largest cosine distance \
                 between their vectors over {check} texts: {worst:.2e}",
                ours / r.texts_per_s
            );
        }
        Err(why) => println!("PyTorch reference: not run ({why})"),
    }
    Ok(())
}

/// Why the reference did not run (the benchmark prints it and carries on).
#[derive(Debug, thiserror::Error)]
enum NotRun {
    #[error("{doing} {}: {source}", python.display())]
    Io {
        doing: &'static str,
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("bad output: {0}")]
    Output(#[from] serde_json::Error),
    #[error(
        "torch and sentence-transformers are not installed for {} (pip install torch \
         sentence-transformers to compare)",
        python.display()
    )]
    NoTorch { python: PathBuf },
    #[error("scripts/bench/embed_reference.py failed: {stderr}")]
    Failed { stderr: String },
}

/// Runs the script with `request` on stdin. A failure is the reason it did not run.
fn run_script(python: &Path, request: &serde_json::Value) -> Result<Reference, NotRun> {
    let io = |doing| {
        let python = python.to_path_buf();
        move |source| NotRun::Io {
            doing,
            python,
            source,
        }
    };
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("cannot start"))?;
    let body = serde_json::to_vec(request).expect("a JSON value serializes");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(&body)
        .map_err(io("writing to"))?;
    let out = child.wait_with_output().map_err(io("waiting for"))?;
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout)?),
        Some(3) => Err(NotRun::NoTorch {
            python: python.to_path_buf(),
        }),
        _ => Err(NotRun::Failed {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}
