//! Typed states: the API's instance status, parsed once, and the status word
//! users see (the same word in tables, JSON, `--wait` progress and the registry).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a deployment runs: one Linode (`linode`) or a namespace on an LKE
/// cluster (`lke`). A value this version does not know (a record or template
/// from a later one) is kept as it was written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DeployTarget {
    #[default]
    Linode,
    /// A namespace on an LKE cluster.
    Lke,
    Other(String),
}

impl From<String> for DeployTarget {
    fn from(s: String) -> Self {
        match s.as_str() {
            "linode" => DeployTarget::Linode,
            "lke" => DeployTarget::Lke,
            _ => DeployTarget::Other(s),
        }
    }
}

impl From<DeployTarget> for String {
    fn from(t: DeployTarget) -> String {
        t.as_str().to_string()
    }
}

impl DeployTarget {
    pub fn as_str(&self) -> &str {
        match self {
            DeployTarget::Linode => "linode",
            DeployTarget::Lke => "lke",
            DeployTarget::Other(s) => s,
        }
    }
}

/// A Linode instance's `status` as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    Running,
    Offline,
    Booting,
    Busy,
    Rebooting,
    ShuttingDown,
    Provisioning,
    Deleting,
    Migrating,
    Rebuilding,
    Cloning,
    Restoring,
    Stopped,
    BillingSuspension,
    /// A value this version does not know.
    Other(String),
}

impl InstanceState {
    pub fn parse(s: &str) -> InstanceState {
        use InstanceState::*;
        match s {
            "running" => Running,
            "offline" => Offline,
            "booting" => Booting,
            "busy" => Busy,
            "rebooting" => Rebooting,
            "shutting_down" => ShuttingDown,
            "provisioning" => Provisioning,
            "deleting" => Deleting,
            "migrating" => Migrating,
            "rebuilding" => Rebuilding,
            "cloning" => Cloning,
            "restoring" => Restoring,
            "stopped" => Stopped,
            "billing_suspension" => BillingSuspension,
            other => Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        use InstanceState::*;
        match self {
            Running => "running",
            Offline => "offline",
            Booting => "booting",
            Busy => "busy",
            Rebooting => "rebooting",
            ShuttingDown => "shutting_down",
            Provisioning => "provisioning",
            Deleting => "deleting",
            Migrating => "migrating",
            Rebuilding => "rebuilding",
            Cloning => "cloning",
            Restoring => "restoring",
            Stopped => "stopped",
            BillingSuspension => "billing_suspension",
            Other(s) => s,
        }
    }

    /// The status users see before any health probe: `None` when the VM is
    /// up and the health probe decides.
    pub fn status(&self) -> Option<Status> {
        use InstanceState::*;
        match self {
            Running => None,
            Offline | Stopped | ShuttingDown => Some(Status::Stopped),
            Deleting => Some(Status::Deleting),
            BillingSuspension => Some(Status::Suspended),
            _ => Some(Status::Provisioning),
        }
    }

    /// A state from which the VM will not come up by itself.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status(),
            Some(Status::Stopped | Status::Deleting | Status::Suspended)
        )
    }
}

impl Serialize for InstanceState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstanceState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(InstanceState::parse(&String::deserialize(d)?))
    }
}

/// A deployment's status, one word, lowercase everywhere. A word this
/// version does not know (written by a newer one) reads as `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Recorded before the create call; the create is not confirmed yet.
    Pending,
    /// The Linode is being created or booting.
    Provisioning,
    /// The VM is up; the app (or its TLS certificate) is not ready yet.
    Starting,
    /// The health check passed.
    Running,
    /// The app answers with a failure.
    Degraded,
    /// The Linode is powered off.
    Stopped,
    /// The Linode is being deleted.
    Deleting,
    /// The account is suspended for billing.
    Suspended,
    /// The Linode is gone (404) but the record remains until `destroy`.
    Missing,
    /// A Linode with linode-ai's tags that this machine has no record of.
    Untracked,
    /// No Linode: its cache volume (and firewall) are kept for `resume`.
    Parked,
    /// Could not be checked (API error).
    Unknown,
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Status::parse(&String::deserialize(d)?))
    }
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Pending,
        Status::Provisioning,
        Status::Starting,
        Status::Running,
        Status::Degraded,
        Status::Stopped,
        Status::Deleting,
        Status::Suspended,
        Status::Missing,
        Status::Untracked,
        Status::Parked,
        Status::Unknown,
    ];

    pub fn parse(s: &str) -> Status {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .unwrap_or(Status::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Provisioning => "provisioning",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Degraded => "degraded",
            Status::Stopped => "stopped",
            Status::Deleting => "deleting",
            Status::Suspended => "suspended",
            Status::Missing => "missing",
            Status::Untracked => "untracked",
            Status::Parked => "parked",
            Status::Unknown => "unknown",
        }
    }

    /// Good, on its way, or needs attention: what the colour says.
    pub fn tone(self) -> Tone {
        match self {
            Status::Running => Tone::Good,
            Status::Pending | Status::Provisioning | Status::Starting | Status::Deleting => {
                Tone::Waiting
            }
            Status::Untracked | Status::Parked => Tone::Notice,
            _ => Tone::Bad,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a status reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Waiting,
    Notice,
    Bad,
}

/// A health probe `status` sends through the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub service: String,
    /// Public path on the proxy, `/healthz/<service>`.
    pub path: String,
    pub success_codes: Vec<u16>,
    pub timeout_seconds: u64,
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_target_this_version_does_not_know_is_kept_as_written() {
        let t: DeployTarget = serde_json::from_str("\"linode\"").unwrap();
        assert_eq!(t, DeployTarget::Linode);
        let lke: DeployTarget = serde_json::from_str("\"lke\"").unwrap();
        assert_eq!(lke, DeployTarget::Lke);
        let later: DeployTarget = serde_json::from_str("\"nomad\"").unwrap();
        assert_eq!(later, DeployTarget::Other("nomad".into()));
        assert_eq!(serde_json::to_string(&later).unwrap(), "\"nomad\"");
        assert_eq!(DeployTarget::default().as_str(), "linode");
    }

    use super::*;

    #[test]
    fn api_states_map_to_one_word() {
        assert_eq!(
            InstanceState::parse("booting").status(),
            Some(Status::Provisioning)
        );
        assert_eq!(
            InstanceState::parse("provisioning").status(),
            Some(Status::Provisioning)
        );
        assert_eq!(
            InstanceState::parse("offline").status(),
            Some(Status::Stopped)
        );
        assert_eq!(InstanceState::parse("running").status(), None);
        assert_eq!(
            InstanceState::parse("new_state").status(),
            Some(Status::Provisioning)
        );
        assert_eq!(InstanceState::parse("new_state").as_str(), "new_state");
        assert!(InstanceState::parse("billing_suspension").is_final());
    }

    #[test]
    fn status_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Running).unwrap(),
            "\"running\""
        );
        let s: Status = serde_json::from_str("\"untracked\"").unwrap();
        assert_eq!(s, Status::Untracked);
        let s: Status = serde_json::from_str("\"from-the-future\"").unwrap();
        assert_eq!(s, Status::Unknown);
        assert_eq!(
            serde_json::to_string(&InstanceState::ShuttingDown).unwrap(),
            "\"shutting_down\""
        );
    }
}
