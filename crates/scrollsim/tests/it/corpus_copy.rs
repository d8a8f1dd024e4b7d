//! `scrollsim corpus copy` as a user runs it, embedded store to embedded store (that a copy
//! into an empty collection of the source's name has the source's corpus id is the store
//! conformance suite's, on embedded and server destinations): when the ids differ, the command
//! says why, since a run recorded on one store will not resume on the other.

use std::path::Path;

use crate::common;

/// The default config with data under `root`, ingesting into `collection`.
fn config(root: &Path, collection: &str) -> std::path::PathBuf {
    common::config_with(root, collection, |cfg| {
        let store = cfg.get_mut("store").unwrap().as_table_mut().unwrap();
        store.insert("collection".into(), collection.into());
    })
}

/// The two corpus ids `corpus copy` prints ("from <backend> store: <id>", "to ...").
fn ids(stdout: &str) -> (String, String) {
    let id = |prefix: &str| {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"));
        line.rsplit(": ").next().unwrap().to_string()
    };
    (id("from "), id("to "))
}

#[test]
fn a_copy_keeps_the_corpus_id_and_one_that_cannot_says_why() {
    let root = tempfile::tempdir().unwrap();
    let large = config(root.path(), "large");
    let small = config(root.path(), "small");
    common::ok(&common::scrollsim_with(
        &large,
        &["ingest", "fixtures", "--limit", "12"],
    ));
    common::ok(&common::scrollsim_with(
        &small,
        &["ingest", "fixtures", "--limit", "10"],
    ));
    let to = root.path().join("to.toml");
    std::fs::write(
        &to,
        "[store]\nbackend = \"embedded\"\ncollection = \"copy\"\n",
    )
    .unwrap();
    let copy = |config: &Path| {
        common::scrollsim_with(config, &["corpus", "copy", "--to", to.to_str().unwrap()])
    };

    // Into an empty collection: the same videos (count and digest); the ids differ only by
    // the collection's name, which the command says.
    let out = copy(&large);
    let stdout = common::ok(&out);
    let (from, copied) = ids(&stdout);
    assert_eq!(
        from.strip_prefix("large:"),
        copied.strip_prefix("copy:"),
        "{stdout}"
    );
    assert!(from.starts_with("large:12:"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the collections are named differently (large and copy")
            && !stderr.contains("videos against the source's"),
        "{stderr}"
    );

    // Ten of the same videos into the collection that holds twelve: the copy keeps all twelve,
    // so its id cannot be the source's, and the command says why.
    let out = copy(&small);
    let stdout = common::ok(&out);
    let (from, copied) = ids(&stdout);
    assert!(from.starts_with("small:10:"), "{stdout}");
    let held = copied.split(':').nth(1).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        held != "10"
            && stderr.contains(&format!("copy holds {held} videos against the source's 10")),
        "{stdout}\n{stderr}"
    );
}
