//! Experiment files: the shipped ones resolve against the repo's config, and mistakes are
//! errors naming the file and the key.

use crate::common;

use std::path::Path;

use scrollsim_sim::{Defaults, Experiment, Shard};
use scrollsim_vlm::JudgeConfig;

fn parse(text: &str) -> Result<Experiment, String> {
    let policy = common::policy_config();
    let judge = JudgeConfig::default();
    let config_dir = common::repo().join("config");
    let d = Defaults {
        config_dir: &config_dir,
        policy: &policy,
        judge: &judge,
    };
    Experiment::parse(text, Path::new("experiments/x.toml"), &d).map_err(|e| e.to_string())
}

#[test]
fn shipped_experiments_resolve() {
    let dir = common::repo().join("experiments");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let exp = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let sessions = exp.sessions();
        let arms = exp.personas.len() + exp.control as usize;
        assert_eq!(
            sessions.len(),
            arms * exp.models.len() * exp.strategies.len() * exp.policies.len() * exp.seeds.len()
        );
        // Session ids are unique and file-name safe.
        let mut ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), sessions.len());
        assert!(ids.iter().all(|id| id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))));
        seen += 1;
    }
    assert!(seen >= 3, "persona-study, keyword-benchmark and demo");
    let demo = parse(&std::fs::read_to_string(dir.join("demo.toml")).unwrap()).unwrap();
    assert_eq!(
        demo.sessions()[0].id.as_str(),
        "control__offline__simple__foryou__s1"
    );
    assert!(demo.windows.needs() <= demo.session_length);
}

#[test]
fn shards_are_a_deterministic_partition() {
    let exp = parse(
        &std::fs::read_to_string(common::repo().join("experiments/persona-study.toml")).unwrap(),
    )
    .unwrap();
    let all = exp.sessions();
    let mut union: Vec<String> = Vec::new();
    for i in 0..5 {
        let shard: Shard = format!("{i}/5").parse().unwrap();
        let part = shard.select(&all);
        assert_eq!(part, shard.select(&all), "deterministic");
        union.extend(part.iter().map(|s| s.id.to_string()));
    }
    union.sort();
    let mut expected: Vec<String> = all.iter().map(|s| s.id.to_string()).collect();
    expected.sort();
    assert_eq!(union, expected, "every session in exactly one shard");
    assert!(
        "5/5".parse::<Shard>().is_err()
            && "1/0".parse::<Shard>().is_err()
            && "x".parse::<Shard>().is_err()
    );
}

#[test]
fn mistakes_name_the_file_and_the_key() {
    let base = "personas = [\"family\"]\nmodels = [\"offline\"]\npolicies = [\"random\"]\nseeds = [1]\nsession_length = 30\nwindows = { first = 10, last_start = 20, last = 10 }\n";
    let cases = [
        (base.replace("\"family\"", "\"nobody\""), "personas[0]"),
        (
            base.replace("\"random\"", "\"foryou:tiktok-lik\""),
            "policies[0]",
        ),
        (base.replace("\"random\"", "\"randum\""), "unknown policy"),
        (
            base.replace("session_length = 30", "session_length = 25"),
            "windows",
        ),
        (base.replace("\"offline\"", "\"gpt-9\""), "models[0]"),
        (format!("{base}concurency = 2\n"), "concurency"),
        (
            format!("{base}[policy.foryou]\nepsilon = 3.0\n"),
            "policy.foryou.epsilon",
        ),
        (
            format!("{base}[policy.foryou]\nepsilonn = 0.1\n"),
            "epsilonn",
        ),
        (base.replace("seeds = [1]", "seeds = []"), "seeds"),
        (base.replace("personas = [\"family\"]\n", ""), "personas"),
        (
            format!("{base}[[sweep]]\nparam = \"epsilonn\"\nvalues = [0.1]\n"),
            "sweep[0].param",
        ),
        (
            format!("{base}[[sweep]]\nparam = \"epsilon\"\nvalues = [0.1, 3.0]\n"),
            "sweep[0].values[1]",
        ),
        (
            format!("{base}[[sweep]]\nparam = \"epsilon\"\nvalues = []\n"),
            "sweep[0].values",
        ),
        (
            format!("{base}[[sweep]]\nbase = \"random\"\nparam = \"epsilon\"\nvalues = [0.1]\n"),
            "sweep[0].base",
        ),
        (
            format!("{base}[[sweep]]\nparam = \"positive_dwell_s\"\nvalues = [0.5]\n"),
            "sweep[0].values[0]",
        ),
        (
            format!("{base}[policy.dwell]\nskip_s = 3.0\n"),
            "positive_dwell_s",
        ),
        (
            format!("{base}[policy.aliases]\nmy-feed = \"no-such-preset\"\n"),
            "policy.aliases.my-feed",
        ),
    ];
    for (text, key) in cases {
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("experiments/x.toml"), "{err}");
        assert!(err.contains(key), "expected `{key}` in: {err}");
    }
    // Overrides merge over the config's [policy].
    let exp = parse(&format!("{base}[policy.foryou]\nepsilon = 0.2\n")).unwrap();
    assert_eq!(exp.policy.foryou.epsilon, 0.2);
    assert_eq!(
        exp.policy.foryou.slate_size,
        common::policy_config().foryou.slate_size
    );
    assert_eq!(exp.policy.presets, common::policy_config().presets);
}

#[test]
fn a_sweep_expands_into_policy_arms_on_the_same_seeds() {
    let text = r#"
personas = ["family"]
control = true
policies = ["random", "foryou:tiktok-like"]
seeds = [1, 2]
session_length = 30
windows = { first = 10, last_start = 20, last = 10 }
[[sweep]]
param = "feedback_delay"
values = [0, 10]
[[sweep]]
base = "foryou:fast-adapting"
param = "feedback"
values = ["dwell", "likes"]
"#;
    let exp = parse(text).unwrap();
    let names: Vec<String> = exp.policies.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        names,
        [
            "random",
            // An alias runs, and is named as, its preset.
            "foryou:fast-adapting",
            "foryou:feedback_delay=0",
            "foryou:feedback_delay=10",
            "foryou:fast-adapting+feedback=dwell",
            "foryou:fast-adapting+feedback=likes",
        ]
    );
    let cfg = common::policy_config();
    let p = |n: &str| exp.policy.foryou_params(Some(n)).unwrap().clone();
    // Each point is its base with the one parameter changed.
    let mut expected = cfg.foryou.clone();
    expected.feedback_delay = 10;
    assert_eq!(p("feedback_delay=10"), expected);
    let mut expected = cfg.presets["fast-adapting"].clone();
    expected.feedback = scrollsim_core::FeedbackSignal::Likes;
    assert_eq!(p("fast-adapting+feedback=likes"), expected);
    assert_eq!(exp.sweeps.len(), 2);
    assert_eq!(exp.sweeps[0].points[1].value, serde_json::json!(10));
    // Every policy, sweep points included, crosses every arm and seed.
    assert_eq!(exp.sessions().len(), 2 * names.len() * 2);
    assert!(exp
        .sessions()
        .iter()
        .any(|s| s.id.as_str() == "family__offline__simple__foryou-feedback_delay-10__s2"));
    // The resolved experiment (resolved.json) reads back to itself, so a sweep resumes.
    let json = serde_json::to_string(&exp).unwrap();
    let back: Experiment = serde_json::from_str(&json).unwrap();
    assert_eq!(back, exp);
}

#[test]
fn value_spectrum_follows_the_paper() {
    let exp = parse(
        &std::fs::read_to_string(common::repo().join("experiments/value-spectrum.toml")).unwrap(),
    )
    .unwrap();
    // The authors' rule, whatever the default parser is.
    assert_eq!(exp.parser, scrollsim_vlm::config::ParserKind::Lenient);
    assert_eq!(exp.strategies, [scrollsim_vlm::config::StrategyKind::Plain]);
    assert_eq!(exp.frames_per_video, Some(1));
    assert!(exp.personas.is_empty() && exp.control);
    assert!(!exp.policy.keyword.dedup);
    assert_eq!(exp.policy.keyword.top_k, 5);
    assert!(exp.sessions().iter().all(|s| s.judge.parser
        == scrollsim_vlm::config::ParserKind::Lenient
        && s.policy.kind == scrollsim_sim::PolicyKind::Keyword));
}

#[test]
fn a_closed_loop_rerun_keeps_every_arm_and_seed_and_names_its_source() {
    let exp = parse(
        r#"
personas = ["family", "partygoer"]
control = true
models = ["offline"]
strategies = ["simple", "isq"]
policies = ["random", "foryou:fast-adapting"]
seeds = [3, 4]
session_length = 30
windows = { first = 10, last_start = 20, last = 10 }
"#,
    )
    .unwrap();
    let source = scrollsim_core::RunId::new("src");
    let re = exp
        .rejudged(
            &source,
            "offline",
            Some(scrollsim_vlm::config::StrategyKind::Plain),
        )
        .unwrap();
    let of = re.closed_loop_of.as_ref().unwrap();
    assert_eq!(of.run, source);
    assert_eq!(of.strategies.len(), 2);
    assert_eq!(re.strategies, [scrollsim_vlm::config::StrategyKind::Plain]);
    // Every session of the source pairs with one of the re-run on (arm, policy, seed).
    let key = |s: &scrollsim_sim::SessionPlan| {
        (
            s.persona.as_ref().map(|p| p.id.0.clone()),
            s.policy.to_string(),
            s.seed,
        )
    };
    let mut a: Vec<_> = exp.sessions().iter().map(key).collect();
    let mut b: Vec<_> = re.sessions().iter().map(key).collect();
    a.sort();
    a.dedup();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(b.len(), 3 * 2 * 2);
    assert_eq!(re.policy, exp.policy);
    assert_eq!(re.windows, exp.windows);
    // An unknown model is refused with its name.
    let err = exp.rejudged(&source, "no-such-model", None).unwrap_err();
    assert_eq!(err.name, "no-such-model", "{err}");
    assert!(err.to_string().contains("no-such-model"), "{err}");
}
