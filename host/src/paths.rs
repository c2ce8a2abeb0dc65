//! Every file location linode-ai uses, resolved once at start-up from the
//! environment (XDG base directories, overrides) and passed down. Core
//! modules never read environment variables themselves.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};

pub const REGISTRY_FILE: &str = "ai-deployments.json";

/// Where linode-ai keeps its state, and where linode-cli keeps its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The deployment registry (`ai-deployments.json`).
    pub registry: PathBuf,
    /// Installed templates, one directory each.
    pub templates: PathBuf,
    /// Compiled hook components.
    pub hook_cache: PathBuf,
    /// A copy of the API's plans and prices (`GET /linode/types`), a day at most.
    pub types_cache: PathBuf,
    /// SSH host keys pinned on first contact with a deployment (`linode-ai logs`).
    pub known_hosts: PathBuf,
    /// LKE kubeconfigs (0600, in a 0700 directory).
    pub kube: PathBuf,
    /// linode-cli's config file, if there is a home to look in.
    pub linode_cli_config: Option<PathBuf>,
}

impl Paths {
    /// Resolves every path from `var` (the process environment in `main`, a
    /// map in tests) and the home directory.
    pub fn resolve(var: impl Fn(&str) -> Option<OsString>, home: Option<PathBuf>) -> Result<Paths> {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let xdg = |name: &str, fallback: &str| -> Result<PathBuf> {
            set(name)
                .filter(|p| p.is_absolute())
                .or_else(|| home.as_ref().map(|h| h.join(fallback)))
                .with_context(|| format!("cannot find the home directory; set HOME or {name}"))
        };
        let config = xdg("XDG_CONFIG_HOME", ".config")?;
        let data = xdg("XDG_DATA_HOME", ".local/share")?;
        let cache = xdg("XDG_CACHE_HOME", ".cache")?;
        let registry = match set("LINODE_AI_REGISTRY") {
            Some(p) => p,
            None => {
                // The plan's path sits inside linode-cli's config *file*
                // (`~/.config/linode-cli`); one already there is still used.
                let legacy = config.join("linode-cli").join(REGISTRY_FILE);
                if legacy.is_file() {
                    legacy
                } else {
                    config.join("linode-ai").join(REGISTRY_FILE)
                }
            }
        };
        let linode_cli_config = set("LINODE_CLI_CONFIG").or_else(|| {
            let legacy = home.as_ref()?.join(".linode-cli");
            if legacy.is_file() {
                Some(legacy)
            } else {
                Some(config.join("linode-cli"))
            }
        });
        Ok(Paths {
            registry,
            templates: set("LINODE_AI_TEMPLATES_DIR")
                .unwrap_or_else(|| data.join("linode-ai").join("templates")),
            hook_cache: cache.join("linode-ai").join("hooks"),
            types_cache: cache.join("linode-ai").join("linode-types.json"),
            known_hosts: config.join("linode-ai").join("known_hosts"),
            kube: config.join("linode-ai").join("kube"),
            linode_cli_config,
        })
    }

    /// From the process environment.
    pub fn from_process() -> Result<Paths> {
        Paths::resolve(|k| std::env::var_os(k), dirs::home_dir())
    }

    /// All under one directory (tests).
    pub fn under(root: &std::path::Path) -> Paths {
        let root = root.as_os_str().to_owned();
        Paths::resolve(|_| None, Some(PathBuf::from(root))).expect("home given")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)], home: &str) -> Paths {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::resolve(|k| map.get(k).cloned(), Some(PathBuf::from(home))).unwrap()
    }

    #[test]
    fn xdg_defaults_and_overrides() {
        let p = resolve(&[], "/h");
        assert_eq!(
            p.registry,
            PathBuf::from("/h/.config/linode-ai/ai-deployments.json")
        );
        assert_eq!(
            p.templates,
            PathBuf::from("/h/.local/share/linode-ai/templates")
        );
        assert_eq!(p.hook_cache, PathBuf::from("/h/.cache/linode-ai/hooks"));
        assert_eq!(
            p.linode_cli_config,
            Some(PathBuf::from("/h/.config/linode-cli"))
        );
        let p = resolve(
            &[
                ("XDG_CONFIG_HOME", "/c"),
                ("XDG_CACHE_HOME", "relative/ignored"),
                ("LINODE_AI_REGISTRY", "/r.json"),
                ("LINODE_CLI_CONFIG", "/cli.ini"),
            ],
            "/h",
        );
        assert_eq!(p.registry, PathBuf::from("/r.json"));
        assert_eq!(p.known_hosts, PathBuf::from("/c/linode-ai/known_hosts"));
        assert_eq!(
            p.hook_cache,
            PathBuf::from("/h/.cache/linode-ai/hooks"),
            "relative XDG paths are ignored, as the spec says"
        );
        assert_eq!(p.linode_cli_config, Some(PathBuf::from("/cli.ini")));
    }

    #[test]
    fn no_home_is_an_error_naming_the_variable() {
        let e = Paths::resolve(|_| None, None).unwrap_err().to_string();
        assert!(e.contains("XDG_CONFIG_HOME"), "{e}");
    }
}
