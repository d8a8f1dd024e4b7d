//! `scrollsim config show`: the resolved configuration, every value with the file that set it
//! (config/default.toml, or a `--config` file layered over it), and the environment variables
//! that override the files.

use std::process::ExitCode;

use crate::app::App;
use crate::settings::env_overrides;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the resolved configuration as TOML, each value commented with the file that set it.
    Show,
}

pub fn run(args: Args, app: &App) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Show => {
            print!("{}", show(app));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn show(app: &App) -> String {
    let p = &app.provenance;
    let mut out = format!(
        "# resolved configuration: {} (later files override earlier ones key by key)\n",
        p.layers.join(", then ")
    );
    let env = env_overrides();
    for (var, key, value) in &env {
        out.push_str(&format!("# environment: {var}={value:?} overrides {key}\n"));
    }
    table(&mut out, &p.merged, "", &p.origin);
    out
}

/// Prints a table's values first, then its sub-tables under their own headers.
fn table(
    out: &mut String,
    t: &toml::Table,
    prefix: &str,
    origin: &std::collections::BTreeMap<String, String>,
) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let leaves: Vec<(&String, &toml::Value)> = t
        .iter()
        .filter(|(_, v)| !matches!(v, toml::Value::Table(_)))
        .collect();
    if !leaves.is_empty() && !prefix.is_empty() {
        out.push_str(&format!("\n[{prefix}]\n"));
    }
    let lines: Vec<(String, &str)> = leaves
        .iter()
        .map(|(k, v)| {
            let from = origin.get(&key(k)).map_or("?", String::as_str);
            (format!("{} = {v}", quoted(k)), from)
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (line, from) in lines {
        out.push_str(&format!("{line:width$}  # {from}\n"));
    }
    for (k, v) in t {
        if let toml::Value::Table(sub) = v {
            let name = key(&quoted(k));
            if sub.is_empty() {
                let from = origin.get(&key(k)).map_or("?", String::as_str);
                out.push_str(&format!("\n[{name}]  # {from}\n"));
            } else {
                table(out, sub, &name, origin);
            }
        }
    }
}

/// A bare key when TOML allows it, else quoted.
fn quoted(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}
