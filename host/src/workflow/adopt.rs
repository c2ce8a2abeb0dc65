//! `adopt` as data: the deployments the account holds (by their tags) but
//! this machine's registry does not, recorded with the names they serve and
//! the firewalls made for them.

use anyhow::Result;

use crate::blueprint::catalog::Catalog;
use crate::linode::LinodeClient;
use crate::registry::{Deployment, FirewallRecord, Registry};
use crate::workflow::account::{self, AccountView, Entry};

/// Which untracked deployments to adopt (`None`: any).
pub struct AdoptQuery<'a> {
    pub app: Option<&'a str>,
    pub env: Option<&'a str>,
}

/// What `adopt` did: the records it added, and what it could not see.
pub struct Adopted {
    pub records: Vec<Deployment>,
    /// Instances skipped because their tags could not be read (see [`account::skipped_note`]).
    pub skipped_note: Option<String>,
}

/// Records every untracked deployment `q` matches (none: an empty list).
pub async fn adopt(
    client: &LinodeClient,
    registry: &Registry,
    catalog: &Catalog,
    q: &AdoptQuery<'_>,
) -> Result<Adopted> {
    let data = registry.load()?;
    let view = AccountView::fetch(client, account::Prices::Skip).await?;
    let skipped_note = account::skipped_note(&view.skipped_matching(q.app, q.env));
    let keep =
        |d: &Deployment| q.app.is_none_or(|a| d.app_name == a) && q.env.is_none_or(|e| d.env == e);
    let joined = account::join(&[], &data.deployments, &view, catalog, keep);
    let untracked: Vec<(Deployment, u64)> = joined
        .entries
        .into_iter()
        .filter_map(|e| match e {
            Entry::Untracked { record, instance } => Some((record, instance.id)),
            // On LKE: its cluster and namespace (from the tags); the URL is
            // read from the load balancer by `status`.
            Entry::Lke {
                record,
                tracked: false,
            } => Some((record, 0)),
            _ => None,
        })
        .collect();
    let mut adopted = Vec::new();
    for (mut record, _linode) in untracked {
        // The name it serves (derived from its IPv4, as its boot did), and
        // the firewall made for it.
        if record.lke.is_some() {
            record.health.port = 443;
        } else if let Some(ip) = &record.ipv4 {
            let host = crate::naming::hostname_for(ip, None);
            record.url = Some(crate::health::app_url(&host, record.health.port));
            record.hostname = Some(host);
        }
        if let Some(fw) = view.firewalls.iter().chain(&view.lke_firewalls).find(|f| {
            crate::naming::DeploymentTags::parse(&f.tags).id.as_deref()
                == Some(&record.deployment_id)
        }) {
            record.firewall = Some(FirewallRecord::Created {
                id: Some(fw.id),
                label: fw.label.clone().unwrap_or_default(),
            });
        }
        record.last_status = crate::state::Status::Provisioning;
        adopted.push(record);
    }
    if adopted.is_empty() {
        return Ok(Adopted {
            records: adopted,
            skipped_note,
        });
    }
    let list = adopted.clone();
    registry.update(|d| {
        for r in list {
            let known = d.deployments.iter().any(|x| {
                x.deployment_id == r.deployment_id
                    || (r.linode_id.is_some() && x.linode_id == r.linode_id)
            });
            if !known {
                d.deployments.push(r);
            }
        }
    })?;
    Ok(Adopted {
        records: adopted,
        skipped_note,
    })
}
