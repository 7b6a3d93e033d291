//! Loading [`Settings`] in layers, later ones winning: built-in defaults, then a TOML file
//! (`--config FILE` or `STARLING_CONFIG`), then `STARLING_*` environment variables (one per
//! setting, e.g. `STARLING_MAX_POST_CHARS`), then command-line flags.
//!
//! The environment layer is our own small figment provider rather than figment's `Env`:
//! `Env` parses every value as a figment literal, so `STARLING_NETWORK_NAME=2024` becomes a
//! number that no longer fits a `String`, and a description starting with `[` becomes an
//! array. Here every variable stays a plain string that is converted to the field's type
//! only when the settings are extracted (figment's lossy mode turns `"140"` into a number
//! and `"yes"`/`"true"` into a boolean), and lists are written comma-separated.
//! Taking the variables as an argument also lets the tests run without touching the
//! process environment.

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;
use starling_service::Settings;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Prefix of every environment variable that sets a setting.
pub const ENV_PREFIX: &str = "STARLING_";

/// Environment variables with [`ENV_PREFIX`] that are not settings and so are neither
/// applied nor warned about (the config file's path; the test harness's knobs below).
/// Without this, `deny_unknown_fields` on [`Settings`] would have made them errors had
/// they been passed through.
const NON_SETTING_VARS: &[&str] = &["STARLING_CONFIG"];
/// Prefix of the test harness's variables (`STARLING_TEST_DATABASE`, …).
const TEST_VAR_PREFIX: &str = "STARLING_TEST_";

/// Why the settings could not be loaded. Every message names the file, variable or key.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The configuration file given explicitly cannot be read.
    #[error("cannot read configuration file {path}: {source}")]
    File {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// An environment variable holds bytes that are not UTF-8.
    #[error("environment variable {0} is not valid UTF-8")]
    NotUnicode(String),
    /// A value has the wrong type or form, or the file has an unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        // A figment error may carry several; show them all, not only the first.
        // Figment prefixes file keys with its profile name (`default.listen`), which means
        // nothing to an operator who never wrote a profile.
        let all: Vec<String> = e
            .into_iter()
            .map(|e| e.to_string().replace("for key \"default.", "for key \""))
            .collect();
        Self::Invalid(all.join("; "))
    }
}

/// Values from the command line, which override every other layer. `None` leaves the
/// setting to the layers below.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// Settings as loaded, with notes the caller should show the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The settings in force.
    pub settings: Settings,
    /// `STARLING_*` variables that matched no setting (probably misspelt) and were ignored.
    pub ignored_vars: Vec<String>,
}

/// Loads the settings from the file (if any), the process environment and `overrides`.
pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    load_from(config_file, std::env::vars_os(), overrides)
}

/// Loads the settings from the file (if any), the given environment variables (all of
/// them; those without [`ENV_PREFIX`] are skipped) and `overrides`.
pub fn load_from(
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    overrides: &Overrides,
) -> Result<Loaded, ConfigError> {
    let defaults = Serialized::defaults(Settings::default());
    let known = setting_names()?;
    let (env_layer, ignored_vars) = EnvLayer::collect(env, &known)?;

    let mut figment = Figment::from(defaults);
    if let Some(path) = config_file {
        // figment's `Toml::file` silently skips a missing file, which would hide a typo
        // in `--config`; an explicitly named file must exist.
        std::fs::metadata(path).map_err(|source| ConfigError::File {
            path: path.to_owned(),
            source,
        })?;
        figment = figment.merge(Toml::file_exact(path));
    }
    let settings = figment
        .merge(env_layer)
        .merge(Serialized::defaults(overrides))
        .extract_lossy::<Settings>()?;
    Ok(Loaded {
        settings,
        ignored_vars,
    })
}

/// The names of all settings, from the serialised defaults (so a field added to
/// [`Settings`] is picked up here without a second list to keep in step).
fn setting_names() -> Result<Vec<String>, ConfigError> {
    match Value::serialize(Settings::default())? {
        Value::Dict(_, dict) => Ok(dict.into_keys().collect()),
        other => Err(ConfigError::Invalid(format!(
            "default settings serialise to {other:?}, not a table"
        ))),
    }
}

/// A table of every setting: file key, environment variable and default, for `--help`
/// (generated from [`Settings::default`], so it cannot drift from the struct).
pub fn settings_table() -> String {
    let Ok(Value::Dict(_, dict)) = Value::serialize(Settings::default()) else {
        return String::new();
    };
    let rows: Vec<(String, String, String)> = dict
        .iter()
        .map(|(key, value)| {
            let var = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
            (key.clone(), var, render_default(key, value))
        })
        .collect();
    let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let var_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = format!(
        "  {:key_width$}  {:var_width$}  default\n",
        "file key", "environment variable"
    );
    for (key, var, default) in rows {
        out.push_str(&format!(
            "  {key:key_width$}  {var:var_width$}  {default}\n"
        ));
    }
    out
}

fn render_default(key: &str, value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => n
            .to_u128()
            .map(|u| u.to_string())
            .or_else(|| n.to_i128().map(|i| i.to_string()))
            .or_else(|| n.to_f64().map(|f| f.to_string()))
            .unwrap_or_default(),
        Value::Array(_, items) if items.is_empty() => "(empty: any)".to_owned(),
        Value::Array(_, items) => items
            .iter()
            .map(|v| render_default(key, v))
            .collect::<Vec<_>>()
            .join(","),
        // The derived defaults of the optional settings, as `Settings` documents them.
        Value::Empty(..) => match key {
            "base_url" => "http://<listen>".to_owned(),
            "database_url" => "sqlite://<data_dir>/starling.db".to_owned(),
            "push_contact" => "<base_url> if https, else mailto:postmaster@<host>".to_owned(),
            "smtp_url" => "(unset: e-mail notifications off)".to_owned(),
            "mail_from" => "<network_name>, notifications@<host>".to_owned(),
            _ => "(unset)".to_owned(),
        },
        Value::Char(_, c) => c.to_string(),
        Value::Dict(..) => "(table)".to_owned(),
    }
}

/// The fields of [`Settings`] that are lists, written comma-separated in the environment.
const LIST_SETTINGS: &[&str] = &["allowed_email_domains"];

/// The environment layer: one string value per `STARLING_<SETTING>` variable.
struct EnvLayer {
    values: Dict,
}

impl EnvLayer {
    /// Picks the variables that name a setting; returns the layer and the names of the
    /// other `STARLING_*` variables (excluding the known non-settings).
    fn collect(
        env: impl IntoIterator<Item = (OsString, OsString)>,
        known: &[String],
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut values = Dict::new();
        let mut ignored = Vec::new();
        for (key, value) in env {
            // A variable whose name is not UTF-8 cannot be one of ours.
            let Ok(key) = key.into_string() else { continue };
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if !known.contains(&name) {
                if !NON_SETTING_VARS.contains(&key.as_str()) && !key.starts_with(TEST_VAR_PREFIX) {
                    ignored.push(key);
                }
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| ConfigError::NotUnicode(key.clone()))?;
            let value = if LIST_SETTINGS.contains(&name.as_str()) {
                Value::from(split_list(&value))
            } else {
                Value::from(value)
            };
            values.insert(name, value);
        }
        ignored.sort();
        Ok((Self { values }, ignored))
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        // Errors then name the variable (`STARLING_MAX_POST_CHARS`), not the field.
        Metadata::named("the environment").interpolater(|_: &Profile, path: &[&str]| {
            let key = path.join(".").to_ascii_uppercase();
            format!("{ENV_PREFIX}{key}")
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Splits `a, b,c` (or figment's own `[a, b]` form) into trimmed, non-empty items; an
/// empty value is the empty list.
pub fn split_list(value: &str) -> Vec<String> {
    let value = value.trim();
    let value = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    value
        .split(',')
        .map(|item| item.trim().trim_matches('"').trim())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn toml_file(content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults_when_nothing_is_given() {
        let loaded = load_from(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.ignored_vars.is_empty());
    }

    #[test]
    fn file_then_env_then_flags() {
        let file = toml_file(
            r#"
            listen = "127.0.0.1:9000"
            data_dir = "/from/file"
            network_name = "File"
            max_post_chars = 200
            registrations_open = false
            "#,
        );
        let vars = env(&[
            ("STARLING_NETWORK_NAME", "Env"),
            ("STARLING_DATA_DIR", "/from/env"),
            ("STARLING_LISTEN", "127.0.0.1:9001"),
            ("PATH", "/usr/bin"),
        ]);
        let flags = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9002))),
            ..Overrides::default()
        };
        let s = load_from(Some(file.path()), vars, &flags).unwrap().settings;
        assert_eq!(s.listen.port(), 9002, "flag beats env and file");
        assert_eq!(s.data_dir, PathBuf::from("/from/env"), "env beats file");
        assert_eq!(s.network_name, "Env");
        assert_eq!(s.max_post_chars, 200, "file beats defaults");
        assert!(!s.registrations_open);
        assert_eq!(
            s.network_description,
            Settings::default().network_description
        );
    }

    #[test]
    fn env_values_are_converted_to_the_field_type() {
        let vars = env(&[
            ("STARLING_MAX_POST_CHARS", "500"),
            ("STARLING_REGISTRATIONS_OPEN", "false"),
            ("STARLING_CELEBRITY_THRESHOLD", "5"),
            // Would be a number or an array under figment's own `Env` parsing.
            ("STARLING_NETWORK_NAME", "2024"),
            ("STARLING_NETWORK_DESCRIPTION", "[beta] our network"),
            ("STARLING_BASE_URL", "https://social.example.com/"),
            ("STARLING_DATABASE_URL", "postgres://u:p@db:5432/starling"),
        ]);
        let s = load_from(None, vars, &Overrides::default())
            .unwrap()
            .settings;
        assert_eq!(s.max_post_chars, 500);
        assert!(!s.registrations_open);
        assert_eq!(s.celebrity_threshold, 5);
        assert_eq!(s.network_name, "2024");
        assert_eq!(s.network_description, "[beta] our network");
        assert_eq!(s.base_url(), "https://social.example.com");
        assert_eq!(s.database_url(), "postgres://u:p@db:5432/starling");
    }

    #[test]
    fn email_domains_accept_commas_and_brackets() {
        for value in [
            "example.com,corp.example",
            " example.com , corp.example ",
            "[example.com, corp.example]",
        ] {
            let vars = env(&[("STARLING_ALLOWED_EMAIL_DOMAINS", value)]);
            let s = load_from(None, vars, &Overrides::default())
                .unwrap()
                .settings;
            assert_eq!(
                s.allowed_email_domains,
                ["example.com", "corp.example"],
                "{value:?}"
            );
        }
        let vars = env(&[("STARLING_ALLOWED_EMAIL_DOMAINS", "")]);
        let s = load_from(None, vars, &Overrides::default())
            .unwrap()
            .settings;
        assert!(s.allowed_email_domains.is_empty());
    }

    #[test]
    fn config_and_test_vars_are_not_settings() {
        let vars = env(&[
            ("STARLING_CONFIG", "/nowhere.toml"),
            ("STARLING_TEST_DATABASE", "postgres"),
            ("STARLING_MAX_POST_CHAR", "10"),
        ]);
        let loaded = load_from(None, vars, &Overrides::default()).unwrap();
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.ignored_vars, ["STARLING_MAX_POST_CHAR"]);
    }

    #[test]
    fn errors_name_the_variable_or_key() {
        let vars = env(&[("STARLING_MAX_POST_CHARS", "lots")]);
        let err = load_from(None, vars, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("STARLING_MAX_POST_CHARS"), "{err}");
        assert!(err.contains("lots"), "{err}");

        let file = toml_file("max_post_char = 10\n");
        let err = load_from(Some(file.path()), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_post_char"), "{err}");

        let file = toml_file("listen = \"nowhere\"\n");
        let err = load_from(Some(file.path()), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("for key \"listen\""), "{err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error_naming_it() {
        let path = Path::new("/definitely/not/here/starling.toml");
        let err = load_from(Some(path), env(&[]), &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }));
        assert!(
            err.to_string()
                .contains("/definitely/not/here/starling.toml")
        );
    }

    #[test]
    fn settings_table_lists_every_setting() {
        let table = settings_table();
        for name in setting_names().unwrap() {
            assert!(table.contains(&name), "{name} missing from\n{table}");
        }
        assert!(table.contains("STARLING_MAX_POST_CHARS"), "{table}");
        assert!(table.contains("140"), "{table}");
        assert!(table.contains("10000"), "{table}");
    }

    #[test]
    fn lists_split_cleanly() {
        assert_eq!(split_list("a,b"), ["a", "b"]);
        assert_eq!(split_list("[\"a\", \"b\"]"), ["a", "b"]);
        assert_eq!(split_list(" , "), Vec::<String>::new());
    }
}
