//! `scrollsim bench inspect`: writes a synthetic run (default 1,000,000 steps in 1,000
//! sessions; steps shaped like the simulation's, about 2.4 kB each: a 10-video slate, four
//! keyframes with view copies, the offline model's reason and raw answer, a matched trait),
//! then inspects it as `scrollsim inspect --by persona` would and prints the wall time, the CPU
//! time and the peak resident memory of the inspection. Targets: under 10 s and under 500 MB.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrollsim_core::mix::splitmix64;
use scrollsim_core::{
    AlignmentWindows, Decision, End, EndReason, Header, ImageHash, JudgeInfo, JudgeKind, Keyframe,
    MatchedTrait, ParseStatus, PerValue, Persona, Platform, PolicyInfo, RawAnswer, SlateEntry,
    Step, TraceEvent, TraceWriter, Value, SCHEMA_VERSION, VERSION,
};
use scrollsim_report::{
    aggregate, find_traces, AggregateOptions, Format, GroupBy, Grouping, Inspection,
};

use crate::{sys, BenchError, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct InspectBench {
    /// Steps in the synthetic run.
    pub steps: u64,
    /// Sessions the steps are spread over.
    pub sessions: u64,
    /// Where to write the run; `None`: a temporary directory under `scratch_parent`, removed
    /// afterwards unless `keep`.
    pub dir: Option<PathBuf>,
    pub scratch_parent: PathBuf,
    pub keep: bool,
    /// Reader threads (default: all cores).
    pub threads: Option<usize>,
}

/// Writes (or reuses) the synthetic run, inspects it and prints the figures.
pub fn run(b: &InspectBench) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BenchError::Io { path, source }
    };
    let sessions = b.sessions.clamp(1, b.steps.max(1));
    let per = b.steps / sessions;
    let tmp = match &b.dir {
        Some(_) => None,
        None => {
            let base = b.scratch_parent.join("bench");
            std::fs::create_dir_all(&base).map_err(io(&base))?;
            Some(
                tempfile::Builder::new()
                    .prefix("inspect-")
                    .tempdir_in(&base)
                    .map_err(io(&base))?,
            )
        }
    };
    let root = match (&b.dir, &tmp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory when no dir"),
    };
    let run = root.join("bench-inspect");
    let sessions_dir = run.join("sessions");
    std::fs::create_dir_all(&sessions_dir).map_err(io(&sessions_dir))?;

    let t0 = Instant::now();
    // A run kept from an earlier `--dir ... --keep` with the same shape is read again as is.
    let marker = run.join(format!("bench-{sessions}x{per}.done"));
    let reused = marker.is_file();
    if !reused {
        let bar = ProgressBar::new(sessions);
        bar.set_style(
            ProgressStyle::with_template("writing synthetic sessions {pos}/{len} {wide_bar}")
                .expect("static template"),
        );
        for s in 0..sessions {
            write_session(&run, s, per)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        std::fs::write(&marker, b"").map_err(io(&marker))?;
    }
    let bytes: u64 = std::fs::read_dir(&sessions_dir)
        .map_err(io(&sessions_dir))?
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

    // Peak memory of the inspection alone: the high-water mark is reset first.
    let reset = sys::reset_peak_rss();
    let rss_before = sys::rss_bytes();
    let cpu_before = sys::cpu_time();
    let t1 = Instant::now();
    let traces = find_traces(std::slice::from_ref(&run))?;
    let mut opts = AggregateOptions::new(vec![Grouping::one(GroupBy::Persona)]);
    if let Some(t) = b.threads {
        opts.threads = t.max(1);
    }
    let threads = opts.threads;
    let inspection = Inspection::from_aggregation(&aggregate(&traces, &opts), 0, false);
    let table = inspection.render(Format::Table);
    let secs = t1.elapsed().as_secs_f64();
    let cpu = (sys::cpu_time() - cpu_before).as_secs_f64();
    let peak = sys::peak_rss_bytes();
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
    // Wall time depends on what else the machine runs; CPU time says what inspect costs.
    println!(
        "inspect CPU time: {cpu:.2} s over {threads} reader thread(s), {:.1} µs per step; machine load average: {}",
        cpu * 1e6 / inspection.read.steps.max(1) as f64,
        sys::load_average().unwrap_or_default()
    );
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    match peak {
        Some(p) => {
            println!(
            "inspect peak memory (VmHWM{}): {:.1} MB (RSS before: {:.1} MB)   target < 500 MB: {}",
            if reset { ", reset before inspecting" } else { ", whole process" },
            mb(p),
            mb(rss_before.unwrap_or(0)),
            if p < 500 * 1024 * 1024 { "met" } else { "MISSED" }
        )
        }
        None => println!("peak memory: /proc/self/status not readable on this system"),
    }
    if b.keep {
        let kept = match tmp {
            Some(t) => t.keep(),
            None => root,
        };
        println!(
            "kept the synthetic run at {}",
            kept.join("bench-inspect").display()
        );
    }
    Ok(())
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

fn write_session(run: &Path, s: u64, steps: u64) -> Result<()> {
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
        created_at: chrono::Utc::now(),
        persona: Some(persona.clone()),
        judge: JudgeInfo {
            kind: JudgeKind::OfflinePersonaModel,
            provider: "offline".into(),
            model: format!("synthetic-{}", s / 4 % 2),
            strategy: ["simple", "isq"][(s / 8 % 2) as usize].into(),
            parser: "lenient".into(),
            prompt_version: Some("v1".into()),
            structured: None,
            capability: None,
        },
        policy: PolicyInfo {
            preset: None,
            params: serde_json::json!({"epsilon": 0.1}),
            ..PolicyInfo::named("foryou".into())
        },
        seed: s,
        corpus: "synthetic".into(),
        session_length: steps as u32,
        windows: AlignmentWindows::default(),
        align_threshold: 0.5,
        config: serde_json::json!({}),
    };
    let path = run.join("sessions").join(format!("{session_id}.jsonl"));
    let file = File::create(&path).map_err(|source| BenchError::Io {
        path: path.clone(),
        source,
    })?;
    let mut w = TraceWriter::new(BufWriter::new(file));
    let io = |source| BenchError::Io {
        path: path.clone(),
        source,
    };
    w.write(&TraceEvent::Header(header)).map_err(io)?;
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
        // Distinct, reproducible keyframe hashes from the position.
        let hash = |k: u64| -> ImageHash {
            format!("{:016x}", splitmix64(splitmix64(splitmix64(s) ^ i) ^ k))
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
            provenance: None,
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
                read: None,
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
        w.write(&TraceEvent::Step(step)).map_err(io)?;
    }
    w.write(&TraceEvent::End(End {
        steps: steps as u32,
        reason: EndReason::Completed,
        likes: total_likes,
        parse_failures: failures,
        call_errors: 0,
        usage: Default::default(),
        at: None,
    }))
    .map_err(io)?;
    Ok(())
}
