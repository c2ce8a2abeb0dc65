//! The local deployment registry: `${XDG_CONFIG_HOME:-~/.config}/linode-ai/ai-deployments.json`
//! (see [`default_path`] for why not the plan's `linode-cli/` directory).
//!
//! Every change is a read-modify-write under an exclusive lock on a sibling
//! `.lock` file, written to a temp file and renamed into place, so concurrent
//! runs never lose a record and a crash never leaves half a file. A file that
//! does not parse is reported with its path and never overwritten.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const REGISTRY_FILE: &str = "ai-deployments.json";

/// One deployment as recorded locally. No secrets are ever stored here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    pub deployment_id: String,
    pub app_name: String,
    pub env: String,
    pub template: String,
    pub template_version: String,
    #[serde(default = "default_target")]
    pub target: String,
    pub region: String,
    #[serde(default)]
    pub linode_type: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// `None` while pending (recorded before the create call).
    #[serde(default)]
    pub linode_id: Option<u64>,
    #[serde(default)]
    pub ipv4: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    pub health: HealthRecord,
    pub created_at: DateTime<Utc>,
    pub last_status: String,
    #[serde(default)]
    pub last_checked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_detail: Option<String>,
    /// Container port, for hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<u16>,
    /// Values of the env vars the template marks `public` (never secrets), for hooks in `status`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub public_env: std::collections::BTreeMap<String, String>,
}

fn default_target() -> String {
    "linode".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HealthRecord {
    pub http_path: String,
    pub port: u16,
    #[serde(default = "default_codes")]
    pub success_codes: Vec<u16>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_codes() -> Vec<u16> {
    vec![200]
}
fn default_timeout() -> u64 {
    2
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistryData {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

impl RegistryData {
    /// Deployments matching the optional app and env filters.
    pub fn filter(&self, app: Option<&str>, env: Option<&str>) -> Vec<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| app.is_none_or(|a| d.app_name == a) && env.is_none_or(|e| d.env == e))
            .collect()
    }
}

/// The registry file and its lock.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
}

/// Default location: `${XDG_CONFIG_HOME:-~/.config}/linode-ai/ai-deployments.json`.
///
/// The plan put it at `~/.config/linode-cli/ai-deployments.json`, but
/// linode-cli's own config *file* is `~/.config/linode-cli`: making that a
/// directory would break linode-cli. A registry already at the plan's path
/// (where `linode-cli` is a directory) is still used. `LINODE_AI_REGISTRY`
/// overrides both.
pub fn default_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LINODE_AI_REGISTRY").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
        .context("cannot find the home directory; set XDG_CONFIG_HOME or LINODE_AI_REGISTRY")?;
    let legacy = base.join("linode-cli").join(REGISTRY_FILE);
    if legacy.is_file() {
        return Ok(legacy);
    }
    Ok(base.join("linode-ai").join(REGISTRY_FILE))
}

impl Registry {
    pub fn new(path: PathBuf) -> Registry {
        Registry { path }
    }

    pub fn open_default() -> Result<Registry> {
        Ok(Registry::new(default_path()?))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn ensure_dir(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(())
    }

    fn lock(&self, exclusive: bool) -> Result<File> {
        self.ensure_dir()?;
        let lock_path = self.lock_path();
        let file = open_private(&lock_path, false)
            .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
        if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        }
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        Ok(file)
    }

    fn read_unlocked(&self) -> Result<RegistryData> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistryData::default())
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read registry {}", self.path.display()))
            }
        };
        if text.trim().is_empty() {
            return Ok(RegistryData::default());
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "the deployment registry {} is corrupt and was left untouched; fix or move it aside \
                 (linode-ai starts a new one when the file is absent)",
                self.path.display()
            )
        })
    }

    /// Reads the registry (an absent file is empty).
    pub fn load(&self) -> Result<RegistryData> {
        if !self.path.exists() {
            return Ok(RegistryData::default());
        }
        let _lock = self.lock(false)?;
        self.read_unlocked()
    }

    /// Applies `change` atomically under the exclusive lock.
    pub fn update<T>(&self, change: impl FnOnce(&mut RegistryData) -> T) -> Result<T> {
        let _lock = self.lock(true)?;
        let mut data = self.read_unlocked()?;
        let out = change(&mut data);
        self.write_unlocked(&data)?;
        Ok(out)
    }

    fn write_unlocked(&self, data: &RegistryData) -> Result<()> {
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp.{}", std::process::id()));
        let tmp = self.path.with_file_name(tmp_name);
        let result = (|| -> std::io::Result<()> {
            let mut f = open_private(&tmp, true)?;
            let mut text = serde_json::to_vec_pretty(data).map_err(std::io::Error::other)?;
            text.push(b'\n');
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.with_context(|| format!("cannot write registry {}", self.path.display()))
    }

    pub fn add(&self, record: Deployment) -> Result<()> {
        self.update(|d| d.deployments.push(record))
    }

    /// Replaces the record with the same id; false if it is gone.
    pub fn replace(&self, record: Deployment) -> Result<bool> {
        self.update(|d| {
            match d
                .deployments
                .iter_mut()
                .find(|x| x.deployment_id == record.deployment_id)
            {
                Some(slot) => {
                    *slot = record;
                    true
                }
                None => false,
            }
        })
    }

    pub fn update_status(
        &self,
        id: &str,
        status: &str,
        detail: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.update(
            |d| match d.deployments.iter_mut().find(|x| x.deployment_id == id) {
                Some(rec) => {
                    rec.last_status = status.to_string();
                    rec.last_detail = detail;
                    rec.last_checked_at = Some(at);
                    true
                }
                None => false,
            },
        )
    }

    pub fn remove(&self, id: &str) -> Result<bool> {
        self.update(|d| {
            let before = d.deployments.len();
            d.deployments.retain(|x| x.deployment_id != id);
            before != d.deployments.len()
        })
    }
}

/// Opens (creating with mode 0600) a file only its owner can read.
fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn record(id: &str, app: &str) -> Deployment {
        Deployment {
            deployment_id: id.into(),
            app_name: app.into(),
            env: "default".into(),
            template: "chat-agent".into(),
            template_version: "0.1.0".into(),
            target: "linode".into(),
            region: "us-ord".into(),
            linode_type: Some("g6-standard-2".into()),
            label: None,
            linode_id: Some(1),
            ipv4: None,
            hostname: None,
            url: None,
            image: None,
            health: HealthRecord {
                http_path: "/".into(),
                port: 80,
                success_codes: vec![200],
                timeout_seconds: 2,
            },
            created_at: Utc::now(),
            last_status: "provisioning".into(),
            last_checked_at: None,
            last_detail: None,
            internal_port: None,
            public_env: Default::default(),
        }
    }

    #[test]
    fn concurrent_writers_lose_nothing_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(REGISTRY_FILE);
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let reg = Registry::new(path.clone());
                std::thread::spawn(move || reg.add(record(&format!("id-{i}"), "app")).unwrap())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let reg = Registry::new(path.clone());
        assert_eq!(reg.load().unwrap().deployments.len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(reg.remove("id-3").unwrap());
        assert!(!reg.remove("id-3").unwrap());
        assert_eq!(reg.load().unwrap().deployments.len(), 15);
    }

    #[test]
    fn corrupt_registry_is_reported_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(REGISTRY_FILE);
        std::fs::write(&path, "{ not json").unwrap();
        let reg = Registry::new(path.clone());
        let err = format!("{:#}", reg.load().unwrap_err());
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("corrupt"),
            "{err}"
        );
        assert!(reg.add(record("x", "a")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }

    #[test]
    fn filters_by_app_and_env() {
        let mut data = RegistryData::default();
        data.deployments.push(record("1", "a"));
        data.deployments.push(record("2", "b"));
        assert_eq!(data.filter(Some("a"), None).len(), 1);
        assert_eq!(data.filter(None, Some("default")).len(), 2);
        assert_eq!(data.filter(Some("a"), Some("prod")).len(), 0);
    }
}
