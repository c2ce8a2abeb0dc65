//! `park` and `resume`: stop paying for the Linode, keep what makes coming
//! back fast. Parking deletes the Linode (and the DNS records made for its
//! address) and keeps the cache volume, the firewall and the record; the
//! account's tags on the volume and firewall say the same to any machine.
//! Resuming is a deploy that attaches the kept volume and firewall to a new
//! Linode carrying the same deployment id.

use anyhow::{bail, Result};
use serde::Serialize;

use crate::linode::LinodeClient;
use crate::linode::VOLUME_MONTHLY_PER_GB;
use crate::registry::{Deployment, Registry, VolumeRecord};
use crate::state::Status;
use crate::workflow::account::{Entry, Joined};
use crate::workflow::deploy::plan::ResumeFrom;
use crate::workflow::destroy::Target;

/// What parking one deployment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Parked {
    /// The Linode is deleted; the volume (and firewall) stay at this price.
    Parked {
        volume: u64,
        monthly_usd: f64,
    },
    /// It had no Linode any more: nothing to do.
    AlreadyParked,
    Failed {
        reason: String,
    },
}

impl crate::workflow::destroy::Done for Parked {
    fn describe(&self) -> String {
        Parked::describe(self)
    }
    fn is_failure(&self) -> bool {
        Parked::is_failure(self)
    }
}

impl Parked {
    pub fn describe(&self) -> String {
        match self {
            Parked::Parked {
                volume,
                monthly_usd,
            } => format!(
                "parked: the Linode is deleted; cache volume {volume} and the firewall stay (${monthly_usd:.2}/month); 'linode-ai resume' brings it back"
            ),
            Parked::AlreadyParked => "already parked".into(),
            Parked::Failed { reason } => reason.clone(),
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Parked::Failed { .. })
    }
}

/// Checks that every target can be parked (each has a cache volume) before
/// anything is deleted.
pub fn check_parkable(targets: &[Target]) -> Result<()> {
    let without: Vec<String> = targets
        .iter()
        .filter(|t| match t {
            Target::Deployment { volumes, .. } => volumes.is_empty(),
            Target::OrphanFirewall(_) => true,
        })
        .map(Target::describe)
        .collect();
    if !without.is_empty() {
        bail!(
            "cannot park what has no cache volume (nothing would be kept; 'linode-ai destroy' removes it, and a deploy with a cache volume can be parked):\n  {}",
            without.join("\n  ")
        );
    }
    Ok(())
}

/// Parks one deployment: DNS records made for its address, then the Linode;
/// the record (here) says `parked` with its volume.
pub async fn park_one(
    client: &LinodeClient,
    registry: &Registry,
    known_hosts: &std::path::Path,
    target: &Target,
) -> Parked {
    let Target::Deployment {
        record,
        instance,
        volumes,
        ..
    } = target
    else {
        return Parked::Failed {
            reason: "not a deployment".into(),
        };
    };
    if record.target == crate::state::DeployTarget::Lke {
        return Parked::Failed {
            reason: "it runs on LKE: park and resume are for a deployment on one Linode; 'linode-ai destroy' removes it (the cluster too when linode-ai made it)".into(),
        };
    }
    let Some(&volume) = volumes.first() else {
        return Parked::Failed {
            reason: "it has no cache volume".into(),
        };
    };
    let size = record.cache_volume.as_ref().map_or(0, |c| c.size_gb);
    let monthly_usd = f64::from(size) * VOLUME_MONTHLY_PER_GB;
    let Some(id) = *instance else {
        return Parked::AlreadyParked;
    };
    // The records point at an address the Linode gives back; resume makes them again.
    let dns = crate::workflow::dns::remove(client, &record.dns_records).await;
    if !dns.is_empty() {
        return Parked::Failed {
            reason: format!(
                "the DNS records could not be removed ({}); nothing was deleted; run park again",
                dns.join(", ")
            ),
        };
    }
    match client.delete_instance(id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            return Parked::Failed {
                reason: format!("deleting Linode {id} failed: {e}"),
            }
        }
    }
    let _ = crate::targets::vm::ssh::forget_host(known_hosts, id);
    let mut parked = parked_record(record, volume);
    if parked.cache_volume.is_none() {
        parked.cache_volume = Some(VolumeRecord {
            id: Some(volume),
            label: String::new(),
            size_gb: size,
        });
    }
    if let Err(e) = registry.upsert(parked) {
        return Parked::Failed {
            reason: format!("the Linode is deleted, but the registry could not be updated: {e:#}"),
        };
    }
    Parked::Parked {
        volume,
        monthly_usd,
    }
}

/// The record of a parked deployment: no Linode, no address, its volume.
fn parked_record(record: &Deployment, volume: u64) -> Deployment {
    let mut r = record.clone();
    r.linode_id = None;
    r.ipv4 = None;
    r.pending = None;
    r.dns_records.clear();
    if r.domain.is_none() {
        // The next Linode gets another address, so another name.
        r.hostname = None;
        r.url = None;
    }
    r.last_status = Status::Parked;
    r.last_detail = None;
    if let Some(c) = r.cache_volume.as_mut() {
        c.id = Some(volume);
    }
    r
}

/// The parked deployment of `app`/`env` a `resume` brings back.
pub fn find_parked(
    joined: &Joined,
    view: &crate::workflow::account::AccountView,
    app: &str,
    env: &str,
) -> Result<ResumeFrom> {
    let parked: Vec<(&Deployment, &crate::linode::Volume)> = joined
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Parked { record, volume, .. } => Some((record, volume)),
            _ => None,
        })
        .filter(|(r, _)| r.app_name == app && r.env == env)
        .collect();
    let (record, volume) = match parked.as_slice() {
        [one] => *one,
        [] => {
            let running = joined
                .entries
                .iter()
                .any(|e| e.record().app_name == app && e.record().env == env);
            bail!(
                "{app} (env: {env}) is not parked{}; 'linode-ai status' lists what is",
                if running { " (it has a Linode)" } else { "" }
            )
        }
        many => bail!(
            "{} parked deployments of {app} (env: {env}): volumes {}; destroy the ones you do not need ('linode-ai destroy --id VOLUME')",
            many.len(),
            many.iter()
                .map(|(_, v)| v.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let deployment_id = uuid::Uuid::parse_str(&record.deployment_id).map_err(|_| {
        anyhow::anyhow!(
            "the parked volume {} carries no deployment id linode-ai can use ({}); destroy it with 'linode-ai destroy --id {}'",
            volume.id,
            crate::sanitize::quote(&record.deployment_id),
            volume.id
        )
    })?;
    let firewall = view
        .firewalls
        .iter()
        .find(|f| {
            crate::naming::DeploymentTags::parse(&f.tags).id.as_deref()
                == Some(record.deployment_id.as_str())
        })
        .map(|f| f.id);
    Ok(ResumeFrom {
        deployment_id,
        region: volume
            .region
            .clone()
            .unwrap_or_else(|| record.region.clone()),
        volume_id: volume.id,
        volume_label: volume.label.clone().unwrap_or_default(),
        size_gb: volume.size.unwrap_or(0),
        firewall,
        domain: record.domain.clone(),
        public_env: record.public_env.clone(),
    })
}
