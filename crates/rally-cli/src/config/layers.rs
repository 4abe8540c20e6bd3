//! The layers of `rally serve`'s settings: the defaults, then a TOML file,
//! then `RALLY_*` environment variables, then flags (each overriding the
//! one before).

use clap::{Arg, ArgMatches, Args as _, Command, parser::ValueSource};

use super::{ServeArgs, ServeConfig, settings};

/// The settings of `rally serve` from the `matches` of its flags and the
/// environment `env` (a lookup, so tests can give their own).
///
/// # Errors
///
/// What is wrong and where it was given: `--flag: ...`, `RALLY_NAME: ...`
/// or `config file <file>: ...`.
pub(super) fn resolve(
    matches: &ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeConfig, String> {
    let command = ServeArgs::augment_args(Command::new("serve"));
    let mut config = ServeConfig::default();
    let settings = command
        .get_arguments()
        .filter(|arg| arg.get_id() != "config");
    if let Some(arg) = command.get_arguments().find(|arg| arg.get_id() == "config") {
        if let Some((_, file)) = given(arg, matches, env) {
            apply_file(&mut config, file.last().map_or("", String::as_str))?;
        }
    }
    for arg in settings {
        if let Some((origin, values)) = given(arg, matches, env) {
            settings::apply(&mut config, arg.get_id().as_str(), &values)
                .map_err(|e| format!("{origin}: {e}"))?;
        }
    }
    // A plain password is read from the environment only: neither a flag
    // (other users see the command lines) nor a key of the file.
    config.admin.password = env("RALLY_ADMIN_PASSWORD").filter(|p| !p.is_empty());
    if config.redis.is_some() && config.postgres.is_some() {
        return Err(
            "--redis and --postgres: a node joins one cluster, through one of them".to_owned(),
        );
    }
    if config.forward_sessions && config.redis.is_none() && config.postgres.is_none() {
        return Err(
            "--forward-sessions needs a cluster: --redis or --postgres (a lone node holds every session)"
                .to_owned(),
        );
    }
    settings::check(&config)?;
    Ok(config)
}

/// The values of `arg` on the command line, else in its environment
/// variable; with the flag or variable they came from. (clap reads the
/// variables too, for its help and checks; they are looked up again through
/// `env` so that tests can give their own environment.)
fn given(
    arg: &Arg,
    matches: &ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, Vec<String>)> {
    let id = arg.get_id().as_str();
    if matches.value_source(id) == Some(ValueSource::CommandLine) {
        let values = matches
            .get_raw(id)?
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        return Some((format!("--{}", arg.get_long().unwrap_or(id)), values));
    }
    let name = arg.get_env()?.to_str()?;
    env(name).map(|value| (name.to_owned(), vec![value]))
}

/// Applies the settings of the TOML file `file`: its keys are the fields of
/// [`ServeArgs`], with their types; any other key is refused.
fn apply_file(config: &mut ServeConfig, file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("config file {file}: {e}"))?;
    let wrap = |e: toml::de::Error| format!("config file {file}: {}", e.to_string().trim_end());
    toml::from_str::<ServeArgs>(&text).map_err(wrap)?;
    let table: toml::Table = toml::from_str(&text).map_err(wrap)?;
    for (key, value) in &table {
        settings::apply(config, key, &texts(value))
            .map_err(|e| format!("config file {file}: {key}: {e}"))?;
    }
    Ok(())
}

/// A TOML value as the text a flag would give (an array as its items).
fn texts(value: &toml::Value) -> Vec<String> {
    match value {
        toml::Value::String(text) => vec![text.clone()],
        toml::Value::Integer(n) => vec![n.to_string()],
        toml::Value::Float(n) => vec![n.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        toml::Value::Array(items) => items.iter().flat_map(texts).collect(),
        toml::Value::Datetime(_) | toml::Value::Table(_) => Vec::new(),
    }
}
