//! `scrollsim bench inspect`: writes a synthetic run (default 1,000,000 steps in 1,000
//! sessions; steps shaped like the simulation's, about 2.4 kB each: a 10-video slate, four
//! keyframes with view copies, the offline model's reason and raw answer, a matched trait),
//! then inspects it as `scrollsim inspect --by persona` would and prints the wall time, the CPU
//! time and the peak resident memory of the inspection. Targets: under 10 s and under 500 MB.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrollsim_core::{
    AlignmentWindows, Decision, End, EndReason, Header, ImageHash, JudgeInfo, JudgeKind, Keyframe,
    MatchedTrait, ParseStatus, PerValue, Persona, Platform, PolicyInfo, RawAnswer, SlateEntry,
    Step, TraceEvent, TraceWriter, Value, SCHEMA_VERSION, VERSION,
};
use scrollsim_report::{Format, Grouping};

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Steps in the synthetic run.
    #[arg(long, default_value_t = 1_000_000)]
    steps: u64,
    /// Sessions the steps are spread over.
    #[arg(long, default_value_t = 1_000)]
    sessions: u64,
    /// Where to write the run (default: a temporary directory under the data directory,
    /// removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the synthetic run.
    #[arg(long)]
    keep: bool,
    /// Reader threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub async fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let data = settings.paths.data.clone();
    tokio::task::spawn_blocking(move || bench(args, &data)).await?
}

fn bench(args: Args, data: &Path) -> anyhow::Result<ExitCode> {
    let sessions = args.sessions.clamp(1, args.steps.max(1));
    let per = args.steps / sessions;
    let tmp = match &args.dir {
        Some(_) => None,
        None => {
            let base = data.join("bench");
            std::fs::create_dir_all(&base)
                .with_context(|| format!("creating {}", base.display()))?;
            Some(
                tempfile::Builder::new()
                    .prefix("inspect-")
                    .tempdir_in(&base)?,
            )
        }
    };
    let root = match (&args.dir, &tmp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory when no --dir"),
    };
    let run = root.join("bench-inspect");
    std::fs::create_dir_all(run.join("sessions"))?;

    let t0 = Instant::now();
    // A run kept from an earlier `--dir ... --keep` with the same shape is read again as is.
    let marker = run.join(format!("bench-{}x{per}.done", sessions));
    let reused = marker.is_file();
    if !reused {
        let bar = ProgressBar::new(sessions);
        bar.set_style(ProgressStyle::with_template(
            "writing synthetic sessions {pos}/{len} {wide_bar}",
        )?);
        for s in 0..sessions {
            write_session(&run, s, per)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        std::fs::write(&marker, b"")?;
    }
    let bytes: u64 = std::fs::read_dir(run.join("sessions"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let made = if reused {
        format!("reused from {}", run.display())
    } else {
        format!("written in {:.1} s", t0.elapsed().as_secs_f64())
    };
    println!(
        "synthetic run: {} steps in {sessions} sessions, {:.0} MB of traces, {made}",
        per * sessions,
        bytes as f64 / 1e6,
    );

    // Peak memory of the inspection alone: reset the high-water mark first (Linux: writing 5
    // to clear_refs sets VmHWM to the current RSS).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = vm_kb("VmRSS");
    let cpu_before = cpu_seconds();
    let t1 = Instant::now();
    let inspect_args = super::super::inspect::Args {
        paths: vec![run.clone()],
        by: "persona".parse::<Grouping>().map_err(anyhow::Error::msg)?,
        format: Format::Table,
        exclude_unparsed: false,
        threads: args.threads,
    };
    let inspection = super::super::inspect::inspect(&inspect_args, false)?;
    let table = inspection.render(Format::Table);
    let secs = t1.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let hwm = vm_kb("VmHWM");
    println!("{table}");
    println!(
        "inspect: {} steps in {} traces",
        inspection.read.steps, inspection.read.traces
    );
    println!(
        "inspect time: {secs:.2} s ({:.0} steps/s)   target < 10 s: {}",
        inspection.read.steps as f64 / secs,
        if secs < 10.0 { "met" } else { "MISSED" }
    );
    if let Some(cpu) = cpu {
        // Wall time depends on what else the machine runs; CPU time says what inspect costs.
        println!(
            "inspect CPU time: {cpu:.2} s over {} reader thread(s), {:.1} µs per step; machine load average: {}",
            inspect_args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            cpu * 1e6 / inspection.read.steps.max(1) as f64,
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
    match hwm {
        Some(kb) => {
            println!(
            "inspect peak memory (VmHWM{}): {:.1} MB (RSS before: {:.1} MB)   target < 500 MB: {}",
            if reset { ", reset before inspecting" } else { ", whole process" },
            kb as f64 / 1024.0,
            rss_before.unwrap_or(0) as f64 / 1024.0,
            if kb < 500 * 1024 { "met" } else { "MISSED" }
        )
        }
        None => println!("peak memory: /proc/self/status not readable on this system"),
    }
    if args.keep {
        let kept = match tmp {
            Some(t) => t.keep(),
            None => root,
        };
        println!(
            "kept the synthetic run at {}",
            kept.join("bench-inspect").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// User + system CPU seconds of this process so far (all threads), from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15, in clock ticks of USER_HZ (100 on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A field of /proc/self/status in kB.
fn vm_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn persona(i: u64) -> Persona {
    let (id, name, traits, weights): (&str, &str, &[&str], &[(Value, f32)]) = match i % 4 {
        0 => (
            "family",
            "Family-oriented parent",
            &["I have two young children.", "Sunday dinner is sacred."],
            &[(Value::Benevolence, 0.9), (Value::Tradition, 0.6)],
        ),
        1 => (
            "partygoer",
            "Party-goer",
            &["I love festivals.", "Weekends are for dancing."],
            &[(Value::Hedonism, 0.9), (Value::Stimulation, 0.7)],
        ),
        2 => (
            "activist",
            "Climate activist",
            &["I march for the climate.", "I volunteer at a food bank."],
            &[(Value::Universalism, 0.9), (Value::Benevolence, 0.6)],
        ),
        _ => (
            "entrepreneur",
            "Entrepreneur",
            &["I run a start-up.", "I track every metric."],
            &[(Value::Achievement, 0.9), (Value::Power, 0.6)],
        ),
    };
    let mut w = PerValue::<f32>::default();
    for (v, x) in weights {
        w[*v] = *x;
    }
    Persona {
        id: id.into(),
        name: name.into(),
        traits: traits.iter().map(|t| t.to_string()).collect(),
        weights: Some(scrollsim_core::SparseWeights(w)),
        description: None,
    }
}

fn write_session(run: &Path, s: u64, steps: u64) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(s);
    let persona = persona(s);
    let aligned = persona.aligned_values(0.5);
    let session_id = format!(
        "{}__m{}__{}__s{}",
        persona.id,
        s / 4 % 2,
        ["simple", "isq"][(s / 8 % 2) as usize],
        s
    );
    let header = Header {
        schema_version: SCHEMA_VERSION,
        scrollsim_version: VERSION.into(),
        run_id: "bench-inspect".into(),
        session_id: session_id.clone().into(),
        created_at: chrono_now(),
        persona: Some(persona.clone()),
        judge: JudgeInfo {
            kind: JudgeKind::OfflinePersonaModel,
            provider: "offline".into(),
            model: format!("synthetic-{}", s / 4 % 2),
            strategy: ["simple", "isq"][(s / 8 % 2) as usize].into(),
            parser: "lenient".into(),
            prompt_version: Some("v1".into()),
        },
        policy: PolicyInfo {
            name: "foryou".into(),
            preset: None,
            params: serde_json::json!({"epsilon": 0.1}),
        },
        seed: s,
        corpus: "synthetic".into(),
        session_length: steps as u32,
        windows: AlignmentWindows::default(),
        align_threshold: 0.5,
        config: serde_json::json!({}),
    };
    let path = run.join("sessions").join(format!("{session_id}.jsonl"));
    let mut w = TraceWriter::new(BufWriter::new(File::create(&path)?));
    w.write(&TraceEvent::Header(header))?;
    let mut exposure = PerValue::<u32>::default();
    let mut likes = PerValue::<u32>::default();
    let mut total_likes = 0;
    let mut failures = 0;
    for i in 0..steps {
        let v = Value::ALL[rng.random_range(0..10)];
        let mut values = vec![v];
        if rng.random_bool(0.3) {
            let second = Value::ALL[rng.random_range(0..10)];
            if second != v {
                values.push(second);
            }
        }
        let p_like = if values.iter().any(|x| aligned.contains(x)) {
            0.7
        } else {
            0.25
        };
        let failed = rng.random_bool(0.01);
        let like = !failed && rng.random_bool(p_like);
        for x in &values {
            exposure[*x] += 1;
            likes[*x] += like as u32;
        }
        total_likes += like as u32;
        failures += failed as u32;
        let mut scores = PerValue::<f32>::default();
        for x in Value::ALL {
            scores[x] = rng.random_range(0.0..0.6);
        }
        let hash = |k: u64| -> ImageHash {
            format!("{:016x}", rng_hash(s, i, k))
                .repeat(4)
                .parse()
                .expect("64 hex digits")
        };
        let step = Step {
            index: i as u32,
            video: format!("vid-{:06}", rng.random_range(0..50_000)).into(),
            platform: Platform::tiktok(),
            topic: Some("lifestyle".into()),
            caption: "A synthetic caption with #hashtags for the benchmark".into(),
            values,
            value_scores: scores,
            label: Some(v),
            retrieved_for: None,
            // Four keyframes with their larger view copies, as ingest stores them.
            keyframes: (0..4)
                .map(|k| Keyframe {
                    hash: hash(2 * k),
                    view: Some(hash(2 * k + 1)),
                    at_s: Some(k as f32 + 0.5),
                })
                .collect(),
            slate: (0..10)
                .map(|k| SlateEntry {
                    video: format!("vid-{:06}", rng.random_range(0..50_000)).into(),
                    score: 1.0 - k as f32 * 0.05,
                    source: Some("recommend".into()),
                })
                .collect(),
            decision: Decision {
                like,
                status: if failed {
                    ParseStatus::ParseFailure {
                        detail: "no yes or no".into(),
                    }
                } else {
                    ParseStatus::Parsed
                },
                reason: Some(format!(
                    "offline persona model (not a VLM): value relevance {p_like:.2} (largest \
                     contributions {} 0.31, {} 0.12), trait similarity 0.41 to {:?}; p(like) = \
                     sigmoid(2*0.62 + 2*0.41 + -0.6) = {p_like:.2}; draw 0.52",
                    v.code(),
                    Value::ALL[(i % 10) as usize].code(),
                    persona.traits[0]
                )),
                description: None,
                matched_trait: like.then(|| MatchedTrait {
                    index: 0,
                    text: persona.traits[0].clone(),
                }),
                isq: None,
                score: Some(p_like as f32),
                raw: vec![RawAnswer {
                    question: "offline".into(),
                    text: format!(
                        "{{\"value_relevance\":0.62,\"trait_similarity\":0.41,\"p_like\":{p_like},\"draw\":0.52}}"
                    ),
                }],
                usage: Default::default(),
            },
            dwell_s: if like { 12.0 } else { 1.0 },
            exposure,
            likes,
            at: None,
        };
        w.write(&TraceEvent::Step(step))?;
    }
    w.write(&TraceEvent::End(End {
        steps: steps as u32,
        reason: EndReason::Completed,
        likes: total_likes,
        parse_failures: failures,
        call_errors: 0,
        usage: Default::default(),
        at: None,
    }))?;
    Ok(())
}

fn rng_hash(s: u64, i: u64, k: u64) -> u64 {
    // SplitMix64 of the position: distinct, reproducible keyframe hashes.
    let mut z = s.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ k;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
