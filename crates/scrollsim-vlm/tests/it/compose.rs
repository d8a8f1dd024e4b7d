//! docker-compose.yml's `vlm` profile tells users which variables point scrollsim at a model
//! server. Each one it names must be one the judge reads, and what it sets must become the
//! model its commands name (`scrollsim probe local`). The file itself is validated with
//! `docker compose config` (docs/judges.md); no Docker engine is needed for either.

use std::collections::BTreeSet;
use std::path::Path;

use scrollsim_vlm::config::{ENV_KEY_ENV, ENV_MODEL, ENV_MODEL_NAME, ENV_URL};

fn compose() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker-compose.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `SCROLLSIM_VLM_*` name in the text.
fn vlm_variables(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("SCROLLSIM_VLM_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        out.insert(name);
    }
    out
}

/// The default of `${NAME:-default}` in the text.
fn default_of(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("${{{name}:-"))? + name.len() + 4;
    let end = text[start..].find('}')?;
    Some(text[start..start + end].to_string())
}

#[test]
fn compose_vlm_variables_are_the_ones_the_judge_reads() {
    let text = compose();
    let named = vlm_variables(&text);
    let read: BTreeSet<String> = [ENV_URL, ENV_MODEL, ENV_KEY_ENV]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let unknown: Vec<&String> = named.difference(&read).collect();
    assert!(
        unknown.is_empty(),
        "docker-compose.yml names {unknown:?}, which scrollsim never reads (it reads {read:?})"
    );
    for v in [ENV_URL, ENV_MODEL] {
        assert!(
            text.contains(&format!("{v}: ${{{v}")),
            "the scrollsim service passes {v} through"
        );
    }
    // The model scrollsim asks for is the one the vlm service serves.
    assert_eq!(
        default_of(&text, ENV_MODEL),
        default_of(&text, "VLM_MODEL"),
        "SCROLLSIM_VLM_MODEL's default must equal VLM_MODEL's"
    );
    // The commands it documents name the model the variables become.
    assert!(
        text.contains(&format!("scrollsim probe {ENV_MODEL_NAME}")),
        "the documented probe names [judge.models.{ENV_MODEL_NAME}]"
    );
}

#[test]
fn the_variables_become_the_local_model() {
    // Only this test sets these variables in this binary; the values are what the compose
    // file's comment shows.
    std::env::set_var(ENV_URL, "http://vlm:8000/v1");
    std::env::set_var(ENV_MODEL, "Qwen/Qwen2-VL-2B-Instruct");
    let mut cfg = scrollsim_vlm::JudgeConfig::default();
    let applied = cfg.apply_env();
    std::env::remove_var(ENV_URL);
    std::env::remove_var(ENV_MODEL);
    applied.unwrap();
    let m = &cfg.models[ENV_MODEL_NAME];
    assert_eq!(m.base_url.as_deref(), Some("http://vlm:8000/v1"));
    assert_eq!(m.model, "Qwen/Qwen2-VL-2B-Instruct");
    assert_eq!(m.api_key_env, None);
    assert_eq!(cfg.configured_vlm(), Some(ENV_MODEL_NAME));
}
