//! The local deployment registry (`ai-deployments.json`, see [`crate::paths`]).
//!
//! Every change is a read-modify-write under an exclusive lock on a sibling
//! `.lock` file, written to a temporary file and renamed into place (a
//! symlinked registry is followed, not replaced), so concurrent runs never
//! lose a record and a crash never leaves half a file. A file that does not
//! parse is reported with its path and never overwritten. Fields this
//! version does not know (written by a newer one) are kept.
//!
//! The registry is a cache of what the account holds: every resource
//! carries tags from which a record can be rebuilt (`linode-ai adopt`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::Probe;
use crate::state::Status;

/// Registries larger than this are refused (about 60,000 deployments).
const REGISTRY_LIMIT: u64 = 64 << 20;

/// The Cloud Firewall in front of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FirewallRecord {
    /// Made for this deployment; deleted with it.
    Created {
        #[serde(default)]
        id: Option<u64>,
        label: String,
    },
    /// The user's own (`--firewall ID`); kept on destroy.
    Existing { id: u64 },
    /// `--no-firewall`.
    Disabled,
}

impl FirewallRecord {
    pub fn id(&self) -> Option<u64> {
        match self {
            FirewallRecord::Created { id, .. } => *id,
            FirewallRecord::Existing { id } => Some(*id),
            FirewallRecord::Disabled => None,
        }
    }
    /// Shown in tables: the id, `none (opted out)`, or `(creating)`.
    pub fn describe(&self) -> String {
        match self {
            FirewallRecord::Created { id: Some(id), .. } => id.to_string(),
            FirewallRecord::Created { id: None, .. } => "(creating)".into(),
            FirewallRecord::Existing { id } => format!("{id} (yours)"),
            FirewallRecord::Disabled => "none (--no-firewall)".into(),
        }
    }
}

/// Who is creating a pending deployment (so a second run can tell whether
/// the create may still complete).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingInfo {
    pub pid: u32,
    pub host: String,
    pub started_at: DateTime<Utc>,
    /// The app/env is reserved by a deploy that has not sent anything to
    /// the API yet (it is still looking at the account, or asking).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reserved: bool,
    /// When the process started (clock ticks after boot, `/proc/PID/stat`):
    /// a pid reused by another process is not the deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_start: Option<u64>,
    /// The machine's boot (`/proc/sys/kernel/random/boot_id`): after a
    /// reboot no process of the record is alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

impl PendingInfo {
    /// This process, now.
    pub fn this_process() -> PendingInfo {
        let pid = std::process::id();
        PendingInfo {
            pid,
            host: crate::naming::machine_name(),
            started_at: Utc::now(),
            reserved: false,
            proc_start: process_start(pid),
            boot_id: boot_id(),
        }
    }
}

/// When process `pid` started, in clock ticks after boot (Linux; `None` elsewhere or when gone).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses; field 22 is starttime.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// This boot of the machine (Linux; `None` elsewhere).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// One deployment as recorded locally. No secrets are ever stored here.
/// A record in the account's DNS Manager that linode-ai made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub domain_id: u64,
    pub record_id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// The full name (`chat.example.com`).
    pub name: String,
    pub target: String,
}

/// Where an LKE deployment runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LkeRecord {
    /// `None` until the create call answered.
    #[serde(default)]
    pub cluster_id: Option<u64>,
    pub cluster_label: String,
    /// linode-ai made the cluster for this deployment (destroy deletes it);
    /// `false` for `--cluster ID`.
    pub cluster_owned: bool,
    pub namespace: String,
    /// Replicas of the fronted service.
    pub replicas: u32,
    /// Nodes of the cluster's pool (of `linode_type`), for the cost.
    pub nodes: u32,
    /// Block Storage the claims asked for, GB.
    #[serde(default)]
    pub volume_gb: u32,
    /// The NodeBalancer the cloud controller made for the proxy, once seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodebalancer_id: Option<u64>,
    /// Labels of the Block Storage volumes its claims got (`pvc-...`), as
    /// far as seen: destroy deletes them even when the cluster is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_labels: Vec<String>,
}

/// A deployment's cache volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// `None` until the create call answered.
    #[serde(default)]
    pub id: Option<u64>,
    pub label: String,
    pub size_gb: u32,
}

impl DnsRecord {
    /// A record known only from a deployment's tags (made on another
    /// machine): its ids, no name.
    pub fn from_tag(domain_id: u64, record_id: u64) -> DnsRecord {
        DnsRecord {
            domain_id,
            record_id,
            kind: String::new(),
            name: String::new(),
            target: String::new(),
        }
    }

    /// "the A record chat.example.com -> 192.0.2.1", or by its ids.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            format!("DNS record {} of zone {}", self.record_id, self.domain_id)
        } else {
            format!(
                "the {} record {} -> {}",
                self.kind,
                crate::sanitize::line(&self.name),
                crate::sanitize::line(&self.target)
            )
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    pub deployment_id: String,
    pub app_name: String,
    pub env: String,
    pub template: String,
    pub template_version: String,
    #[serde(default)]
    pub target: crate::state::DeployTarget,
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
    pub last_status: Status,
    #[serde(default)]
    pub last_checked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_detail: Option<String>,
    /// Container port, for hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<u16>,
    /// Values of the env vars the template marks `public` (never secrets), for hooks in `status`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub public_env: BTreeMap<String, String>,
    /// The firewall; absent in records made before firewalls existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<FirewallRecord>,
    /// HTTPS probes through the proxy; empty in records of plain-HTTP deployments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    /// `--domain`, when the user serves their own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The name of the env var holding the API key (never its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// The private key matching `--ssh-key` (a path, for `linode-ai logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_identity: Option<std::path::PathBuf>,
    /// Set from before the create call until the record is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingInfo>,
    /// `--ttl` (or the template's default): when it should be gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// DNS records linode-ai made for `--domain` (removed on destroy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<DnsRecord>,
    /// The cache volume (Block Storage) holding Docker's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_volume: Option<VolumeRecord>,
    /// `--target lke`: the cluster and namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lke: Option<LkeRecord>,
    /// Fields written by a newer linode-ai, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The health check of records made before the proxy (and its port/path).
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

impl Deployment {
    /// Whether `--id ID` names this deployment: its id (or 6+ of its first
    /// characters), its label, or the id of its Linode (`instance`, when the
    /// account knows it better than the record), or of its cache volume.
    pub fn matches_id(&self, id: &str, instance: Option<u64>) -> bool {
        crate::naming::id_matches(&self.deployment_id, id)
            || id.parse::<u64>().ok().is_some_and(|n| {
                Some(n) == instance
                    || Some(n) == self.linode_id
                    || self.cache_volume.as_ref().and_then(|c| c.id) == Some(n)
            })
            || self.label.as_deref() == Some(id)
    }

    /// Its expiry (`--ttl`) has passed at `now`; the one rule `status` and
    /// `destroy --expired` share.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// A record whose create may not have happened yet.
    pub fn is_pending(&self) -> bool {
        self.linode_id.is_none()
    }
    /// Served over HTTPS by linode-ai's proxy (records since the proxy exists).
    pub fn is_https(&self) -> bool {
        !self.probes.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistryData {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RegistryData {
    /// Deployments matching the optional app and env filters.
    pub fn filter(&self, app: Option<&str>, env: Option<&str>) -> Vec<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| app.is_none_or(|a| d.app_name == a) && env.is_none_or(|e| d.env == e))
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.deployment_id == id)
    }
}

/// The registry file and its lock.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
}

impl Registry {
    pub fn new(path: PathBuf) -> Registry {
        Registry { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file actually written (a symlink's target).
    fn target(&self) -> Result<PathBuf> {
        crate::files::resolve_link(&self.path)
    }

    fn lock_path(&self) -> Result<PathBuf> {
        let target = self.target()?;
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        Ok(target.with_file_name(name))
    }

    fn lock(&self, exclusive: bool) -> Result<File> {
        let lock_path = self.lock_path()?;
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            #[cfg(unix)]
            if crate::files::mode(dir).is_some_and(|m| m & 0o077 != 0)
                && dir.file_name().is_some_and(|n| n == "linode-ai")
            {
                let _ = crate::files::set_mode(dir, 0o700);
            }
        }
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&lock_path)
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
        let target = self.target()?;
        if !target.exists() {
            return Ok(RegistryData::default());
        }
        let text = crate::files::read_text(&target, "deployment registry", REGISTRY_LIMIT)?;
        if text.trim().is_empty() {
            return Ok(RegistryData::default());
        }
        serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "the deployment registry {} is corrupt (line {}, column {}) and was left untouched; fix or move it aside \
                 (linode-ai starts a new one when the file is absent)",
                self.path.display(),
                e.line(),
                e.column()
            )
        })
    }

    /// Reads the registry (an absent file is empty).
    pub fn load(&self) -> Result<RegistryData> {
        if !self.target()?.exists() {
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
        let mut text = serde_json::to_vec_pretty(&data)?;
        text.push(b'\n');
        crate::files::write_private(&self.path, &text)
            .with_context(|| format!("cannot write registry {}", self.path.display()))?;
        self.clean_leftovers();
        Ok(out)
    }

    /// Temporary files a killed run left next to the registry (called under the lock).
    fn clean_leftovers(&self) {
        let Ok(target) = self.target() else { return };
        let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
            return;
        };
        let name = name.to_string_lossy().to_string();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let old = SystemTime::now() - Duration::from_secs(600);
        for e in entries.flatten() {
            let f = e.file_name().to_string_lossy().to_string();
            // This version's (`.<name>.XXXX.tmp`) and older versions' (`<name>.tmp.<pid>`).
            let ours = (f.starts_with(&format!(".{name}.")) && f.ends_with(".tmp"))
                || f.starts_with(&format!("{name}.tmp."));
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < old);
            if ours && stale {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Makes the registry private if others can read it; says what it did.
    #[cfg(unix)]
    pub fn secure(&self) -> Option<String> {
        let target = self.target().ok()?;
        let mode = crate::files::mode(&target)?;
        if mode & 0o077 == 0 {
            return None;
        }
        match crate::files::set_mode(&target, 0o600) {
            Ok(()) => Some(format!(
                "{} was readable by others (mode {mode:04o}); it is now 0600",
                target.display()
            )),
            Err(e) => Some(format!(
                "{} is readable by others (mode {mode:04o}) and could not be fixed: {e}",
                target.display()
            )),
        }
    }

    pub fn add(&self, record: Deployment) -> Result<()> {
        self.update(|d| d.deployments.push(record))
    }

    /// Replaces the record with the same id, or adds it if it was removed
    /// meanwhile (a Linode must never be left without a record).
    pub fn upsert(&self, record: Deployment) -> Result<bool> {
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
                None => {
                    d.deployments.push(record);
                    false
                }
            }
        })
    }

    pub fn remove(&self, id: &str) -> Result<bool> {
        self.update(|d| {
            let before = d.deployments.len();
            d.deployments.retain(|x| x.deployment_id != id);
            before != d.deployments.len()
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn record(id: &str, app: &str) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "deployment_id": id, "app_name": app, "env": "default", "template": "chat-agent",
            "template_version": "0.1.0", "region": "us-ord", "linode_id": 1,
            "health": {"http_path": "/", "port": 80},
            "created_at": "2026-11-26T14:30:00Z", "last_status": "provisioning"
        }))
        .unwrap()
    }

    #[test]
    fn concurrent_writers_lose_nothing_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("ai-deployments.json");
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
        assert_eq!(crate::files::mode(&path), Some(0o600));
        assert!(reg.remove("id-3").unwrap());
        assert!(!reg.remove("id-3").unwrap());
        assert_eq!(reg.load().unwrap().deployments.len(), 15);
    }

    #[test]
    fn corrupt_registry_is_reported_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai-deployments.json");
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
    fn unknown_fields_survive_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai-deployments.json");
        let mut rec = serde_json::to_value(record("a", "app")).unwrap();
        rec["from_the_future"] = serde_json::json!({"x": [1, 2]});
        rec["last_status"] = serde_json::json!("hibernating");
        std::fs::write(
            &path,
            serde_json::json!({"deployments": [rec], "schema": 9}).to_string(),
        )
        .unwrap();
        let reg = Registry::new(path.clone());
        reg.add(record("b", "app")).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["schema"], 9);
        assert_eq!(v["deployments"][0]["from_the_future"]["x"][1], 2);
        assert_eq!(v["deployments"][1]["deployment_id"], "b");
    }

    #[test]
    fn symlinked_registry_is_followed_and_leftovers_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("ai-deployments.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let stale = dir.path().join(".real.json.abc123.tmp");
        std::fs::write(&stale, "x").unwrap();
        let old = std::fs::File::options().write(true).open(&stale).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let legacy = dir.path().join("real.json.tmp.4242");
        std::fs::write(&legacy, "x").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&legacy)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let reg = Registry::new(link.clone());
        reg.add(record("a", "app")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(reg.load().unwrap().deployments.len(), 1);
        assert!(real.is_file());
        assert!(!stale.exists() && !legacy.exists());
    }

    #[test]
    fn a_world_readable_registry_is_fixed_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai-deployments.json");
        std::fs::write(&path, "{\"deployments\": []}").unwrap();
        crate::files::set_mode(&path, 0o644).unwrap();
        let reg = Registry::new(path.clone());
        let note = reg.secure().unwrap();
        assert!(note.contains("0644") && note.contains("0600"), "{note}");
        assert_eq!(crate::files::mode(&path), Some(0o600));
        assert!(reg.secure().is_none());
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
