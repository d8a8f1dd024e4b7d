//! `--config` layering: files layer in order over config/default.toml, each may set any
//! subset of keys, and `config show` says which file set each value.

use crate::common;

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{out}"))
}

/// `scrollsim --config a.toml --config b.toml config show` over two layers with these texts;
/// returns the output and the two files' paths as printed.
fn show(a_text: &str, b_text: &str) -> (std::process::Output, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.toml");
    let b = tmp.path().join("b.toml");
    std::fs::write(&a, a_text).unwrap();
    std::fs::write(&b, b_text).unwrap();
    let out = common::scrollsim(&[
        "--config",
        a.to_str().unwrap(),
        "--config",
        b.to_str().unwrap(),
        "config",
        "show",
    ]);
    (out, a.display().to_string(), b.display().to_string())
}

#[test]
fn files_layer_in_order_and_show_names_the_file_of_each_value() {
    let (out, a, b) = show(
        "[paths]\ndata = \"d1\"\nruns = \"r1\"\n",
        "[paths]\nruns = \"r2\"\n\n[store.index]\nef = 99\n",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(line(&text, "data").contains("\"d1\"") && line(&text, "data").ends_with(&a));
    assert!(line(&text, "runs").contains("\"r2\"") && line(&text, "runs").ends_with(&b));
    assert!(line(&text, "fixtures").ends_with("# config/default.toml"));
    assert!(line(&text, "ef").contains("99") && line(&text, "ef").ends_with(&b));
    assert!(line(&text, "ef_construct").ends_with("# config/default.toml"));
    // The output is TOML again: the resolved configuration can be saved and reused.
    let back: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(back["paths"]["runs"].as_str(), Some("r2"));
}

#[test]
fn a_bad_key_names_the_file_that_set_it() {
    let (out, _, b) = show("[paths]\ndata = \"d1\"\n", "[store.index]\nef = \"many\"\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&b) && err.contains("store.index.ef"), "{err}");
}
