//! Auth and defaults shared with linode-cli: its config file and env vars.
//!
//! Config path: `$LINODE_CLI_CONFIG`, else `~/.linode-cli` if it exists,
//! else `${XDG_CONFIG_HOME:-~/.config}/linode-cli`. Env beats the user's
//! section, which beats `[DEFAULT]`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// The values linode-ai reads from linode-cli's configuration.
#[derive(Debug, Clone, Default)]
pub struct CliConfig {
    pub path: Option<PathBuf>,
    pub user: Option<String>,
    values: HashMap<String, String>,
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

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// linode-cli's config file location.
pub fn config_path() -> Option<PathBuf> {
    if let Some(p) = env_nonempty("LINODE_CLI_CONFIG") {
        return Some(PathBuf::from(p));
    }
    if let Some(home) = dirs::home_dir() {
        let legacy = home.join(".linode-cli");
        if legacy.is_file() {
            return Some(legacy);
        }
    }
    let base = env_nonempty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))?;
    Some(base.join("linode-cli"))
}

impl CliConfig {
    /// Loads the config for `user` (default: the config's `default-user`).
    /// A missing file is an empty config; an unreadable one is an error.
    pub fn load(user: Option<&str>) -> Result<CliConfig> {
        let Some(path) = config_path() else {
            return Ok(CliConfig::default());
        };
        if !path.is_file() {
            return Ok(CliConfig {
                path: Some(path),
                ..Default::default()
            });
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read linode-cli config {}", path.display()))?;
        Self::parse(&text, user, Some(path))
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
        .map_err(|e| anyhow::anyhow!("{origin} is not a valid INI file: {e}"))?;
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
                anyhow::bail!(
                    "user \"{u}\" has no section in {origin}; run 'linode-cli configure' to add it"
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
    pub fn api(&self) -> ApiSettings {
        let pick = |env: &str, key: &str, default: &str| {
            env_nonempty(env)
                .or_else(|| self.get(key).map(str::to_string))
                .unwrap_or_else(|| default.to_string())
        };
        let scheme = pick("LINODE_CLI_API_SCHEME", "api_scheme", "https");
        let host = pick("LINODE_CLI_API_HOST", "api_host", "api.linode.com");
        let version = pick("LINODE_CLI_API_VERSION", "api_version", "v4");
        let host = host.trim_end_matches('/');
        let base_url = if host.contains("://") {
            format!("{host}/{version}")
        } else {
            format!("{scheme}://{host}/{version}")
        };
        let token =
            env_nonempty("LINODE_CLI_TOKEN").or_else(|| self.get("token").map(str::to_string));
        let ca_file = env_nonempty("LINODE_CLI_CA").map(PathBuf::from);
        ApiSettings {
            base_url,
            token,
            ca_file,
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
        // Env-free view of the API URL (tests run in parallel; env is not touched here).
        if std::env::var_os("LINODE_CLI_API_HOST").is_none()
            && std::env::var_os("LINODE_CLI_API_SCHEME").is_none()
        {
            assert_eq!(c.api().base_url, "http://127.0.0.1:9/v4");
        }
        assert!(CliConfig::parse(CFG, Some("carol"), None)
            .unwrap_err()
            .to_string()
            .contains("carol"));
    }

    #[test]
    fn token_is_never_debug_printed() {
        let s = ApiSettings {
            base_url: "x".into(),
            token: Some("SECRET".into()),
            ca_file: None,
        };
        assert!(!format!("{s:?}").contains("SECRET"));
    }
}
