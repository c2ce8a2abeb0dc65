//! Settings from outside the project: linode-cli's config file and
//! environment variables (read once in `main` and passed down), and the
//! tuning knobs (timeouts, retries, polling).
//!
//! Config path: `$LINODE_CLI_CONFIG`, else `~/.linode-cli` if it exists,
//! else `${XDG_CONFIG_HOME:-~/.config}/linode-cli`. Env beats the user's
//! section, which beats `[DEFAULT]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::sanitize::quote;

/// The values linode-ai reads from linode-cli's configuration.
#[derive(Debug, Clone, Default)]
pub struct CliConfig {
    pub path: Option<PathBuf>,
    pub user: Option<String>,
    values: HashMap<String, String>,
}

/// linode-cli's environment variables (`LINODE_CLI_*`), read once at start-up.
#[derive(Clone, Default)]
pub struct ApiEnv {
    pub token: Option<String>,
    pub host: Option<String>,
    pub scheme: Option<String>,
    pub version: Option<String>,
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for ApiEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiEnv")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl ApiEnv {
    /// From the process environment (empty values count as unset).
    pub fn from_process() -> ApiEnv {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        ApiEnv {
            token: var("LINODE_CLI_TOKEN"),
            host: var("LINODE_CLI_API_HOST"),
            scheme: var("LINODE_CLI_API_SCHEME"),
            version: var("LINODE_CLI_API_VERSION"),
            ca: var("LINODE_CLI_CA").map(PathBuf::from),
        }
    }
}

/// Where the API lives and how to authenticate.
#[derive(Clone)]
pub struct ApiSettings {
    /// e.g. `https://api.linode.com/v4`
    pub base_url: String,
    pub token: Option<String>,
    /// PEM file of an extra CA to trust (`LINODE_CLI_CA`).
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Timeouts, retries and polling, from hidden flags or `LINODE_AI_*` variables.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub api_timeout: Duration,
    pub retry_base: Duration,
    /// No API retry starts after this much time.
    pub retry_budget: Duration,
    /// `deploy --wait` poll interval.
    pub poll: Duration,
    /// An extra CA the health probes trust (tests, private CAs).
    pub probe_ca: Option<PathBuf>,
    /// The port `linode-ai logs` connects to.
    pub ssh_port: u16,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            api_timeout: Duration::from_secs(30),
            retry_base: Duration::from_millis(500),
            retry_budget: Duration::from_secs(120),
            poll: Duration::from_secs(5),
            probe_ca: None,
            ssh_port: 22,
        }
    }
}

/// The shortest time [`parse_seconds`] takes: less would round to nothing
/// (`1e-12` made every request time out at once).
pub const SECONDS_MIN: f64 = 0.001;

/// Parses a number of seconds: finite, at least [`SECONDS_MIN`], at most `max`.
pub fn parse_seconds(v: &str, max: f64) -> Result<Duration, String> {
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{} is not a number of seconds", quote(v)))?;
    if !n.is_finite() || !(SECONDS_MIN..=max).contains(&n) {
        return Err(format!(
            "{} must be at least {SECONDS_MIN} (1 ms) and at most {max} seconds",
            quote(v)
        ));
    }
    Ok(Duration::from_secs_f64(n))
}

/// Parses whole milliseconds within `range`.
pub fn parse_millis(v: &str, range: std::ops::RangeInclusive<u64>) -> Result<Duration, String> {
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{} is not a whole number of milliseconds", quote(v)))?;
    if !range.contains(&n) {
        return Err(format!(
            "{n} must be {}-{} milliseconds",
            range.start(),
            range.end()
        ));
    }
    Ok(Duration::from_millis(n))
}

impl CliConfig {
    /// Loads the config at `path` for `user` (default: the config's
    /// `default-user`). A missing file is an empty config, unless a user was
    /// asked for.
    pub fn load(path: Option<&Path>, user: Option<&str>) -> Result<CliConfig> {
        let Some(path) = path.filter(|p| p.exists()) else {
            if let Some(u) = user {
                bail!(
                    "--as-user {} needs linode-cli's config, but there is none{}; run 'linode-cli configure' first",
                    quote(u),
                    path.map(|p| format!(" at {}", p.display())).unwrap_or_default()
                );
            }
            return Ok(CliConfig {
                path: path.map(Path::to_path_buf),
                ..Default::default()
            });
        };
        let text = crate::files::read_text(path, "linode-cli config", crate::files::TEXT_LIMIT)?;
        Self::parse(&text, user, Some(path.to_path_buf()))
    }

    /// Parses configparser-style INI text.
    pub fn parse(text: &str, user: Option<&str>, path: Option<PathBuf>) -> Result<CliConfig> {
        let origin = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "linode-cli config".into());
        let ini = ini::Ini::load_from_str_opt(
            text,
            ini::ParseOption {
                enabled_quote: false,
                enabled_escape: false,
                ..Default::default()
            },
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "{origin} is not a valid INI file (line {}, column {})",
                e.line,
                e.col
            )
        })?;
        let section = |name: &str| -> HashMap<String, String> {
            ini.section(Some(name))
                .map(|s| {
                    s.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut values = section("DEFAULT");
        let user = user
            .map(str::to_string)
            .or_else(|| values.get("default-user").cloned());
        if let Some(u) = &user {
            if ini.section(Some(u.as_str())).is_none() && u != "DEFAULT" {
                bail!(
                    "user {} has no section in {origin}; run 'linode-cli configure' to add it",
                    quote(u)
                );
            }
            values.extend(section(u));
        }
        Ok(CliConfig { path, user, values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The API settings: env first, then this config, then linode-cli's defaults.
    pub fn api(&self, env: &ApiEnv) -> ApiSettings {
        let pick = |env: &Option<String>, key: &str, default: &str| {
            env.clone()
                .or_else(|| self.get(key).map(str::to_string))
                .unwrap_or_else(|| default.to_string())
        };
        let scheme = pick(&env.scheme, "api_scheme", "https");
        let host = pick(&env.host, "api_host", "api.linode.com");
        let version = pick(&env.version, "api_version", "v4");
        let host = host.trim_end_matches('/');
        let base_url = if host.contains("://") {
            format!("{host}/{version}")
        } else {
            format!("{scheme}://{host}/{version}")
        };
        ApiSettings {
            base_url,
            token: env
                .token
                .clone()
                .or_else(|| self.get("token").map(str::to_string)),
            ca_file: env.ca.clone(),
        }
    }

    /// `authorized_users` from the config: Linode usernames whose SSH keys are installed.
    pub fn authorized_users(&self) -> Vec<String> {
        self.get("authorized_users")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The message for a missing token: both ways to provide one.
pub fn missing_token_message() -> String {
    "no Linode API token: set LINODE_CLI_TOKEN, or run 'linode-cli configure' to store one in linode-cli's config \
     (try 'linode-ai deploy --dry-run' to see the plan without a token)"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "[DEFAULT]\ndefault-user = alice\nregion = us-east\n\n[alice]\ntoken = tok-a\ntype = g6-standard-4\n\n[bob]\ntoken = tok-b\napi_host = 127.0.0.1:9\napi_scheme = http\nregion = de-fra-2\n";

    #[test]
    fn default_user_inherits_default_section() {
        let c = CliConfig::parse(CFG, None, None).unwrap();
        assert_eq!(c.user.as_deref(), Some("alice"));
        assert_eq!(c.get("token"), Some("tok-a"));
        assert_eq!(c.get("region"), Some("us-east"));
        assert_eq!(c.get("type"), Some("g6-standard-4"));
    }

    #[test]
    fn other_user_and_overrides() {
        let c = CliConfig::parse(CFG, Some("bob"), None).unwrap();
        assert_eq!(c.get("region"), Some("de-fra-2"));
        assert_eq!(c.api(&ApiEnv::default()).base_url, "http://127.0.0.1:9/v4");
        let env = ApiEnv {
            token: Some("from-env".into()),
            host: Some("api.example".into()),
            ..Default::default()
        };
        let api = c.api(&env);
        assert_eq!(api.base_url, "http://api.example/v4");
        assert_eq!(api.token.as_deref(), Some("from-env"));
        assert!(CliConfig::parse(CFG, Some("carol"), None)
            .unwrap_err()
            .to_string()
            .contains("carol"));
    }

    #[test]
    fn as_user_without_a_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("linode-cli");
        let e = CliConfig::load(Some(&missing), Some("bob"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--as-user") && e.contains("linode-cli configure"),
            "{e}"
        );
        assert!(CliConfig::load(Some(&missing), None).is_ok());
    }

    #[test]
    fn numbers_from_the_environment_are_validated() {
        for bad in [
            "-1", "NaN", "inf", "1e309", "0", "", "abc", "3601", "1e-12", "0.0001",
        ] {
            assert!(parse_seconds(bad, 3600.0).is_err(), "{bad}");
        }
        assert_eq!(
            parse_seconds("1.5", 3600.0).unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_millis("-5", 1..=10).is_err());
        assert_eq!(parse_millis("5", 1..=10).unwrap(), Duration::from_millis(5));
    }

    #[test]
    fn token_is_never_debug_printed() {
        let s = ApiSettings {
            base_url: "x".into(),
            token: Some("SECRET".into()),
            ca_file: None,
        };
        assert!(!format!("{s:?}").contains("SECRET"));
        let e = ApiEnv {
            token: Some("SECRET".into()),
            ..Default::default()
        };
        assert!(!format!("{e:?}").contains("SECRET"));
    }
}
