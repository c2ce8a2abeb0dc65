//! `adopt` as data: the deployments the account holds (by their tags) but
//! this machine's registry does not, recorded with their real rDNS names and
//! the firewalls made for them.

use std::collections::HashMap;

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

/// The rDNS names of the instances' addresses, keyed by (Linode, address):
/// from the account's one list of addresses, else (that list refused) from
/// each Linode's `/ips`, a few at a time.
async fn rdns_names(
    client: &LinodeClient,
    untracked: &[(Deployment, u64)],
) -> HashMap<(u64, String), String> {
    if let Ok(ips) = client.list_ips().await {
        return ips
            .into_iter()
            .filter_map(|a| Some(((a.linode_id?, a.address), a.rdns?)))
            .collect();
    }
    use futures_util::StreamExt;
    futures_util::stream::iter(untracked.iter().map(|(_, id)| *id))
        .map(|id| async move { (id, client.instance_ips(id).await) })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|(id, ips)| {
            ips.into_iter()
                .flat_map(|i| i.public_rdns())
                .map(move |(address, rdns)| ((id, address), rdns))
        })
        .collect()
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
            _ => None,
        })
        .collect();
    let rdns = if untracked.is_empty() {
        HashMap::new()
    } else {
        rdns_names(client, &untracked).await
    };
    let mut adopted = Vec::new();
    for (mut record, linode) in untracked {
        // The real rDNS name, and the firewall made for it.
        if let Some(ip) = &record.ipv4 {
            let name = rdns.get(&(linode, ip.clone())).map(String::as_str);
            let host = crate::naming::hostname_for(ip, name, None);
            record.url = Some(crate::health::app_url(&host, record.health.port));
            record.hostname = Some(host);
        }
        if let Some(fw) = view.firewalls.iter().find(|f| {
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
            if !d.deployments.iter().any(|x| x.linode_id == r.linode_id) {
                d.deployments.push(r);
            }
        }
    })?;
    Ok(Adopted {
        records: adopted,
        skipped_note,
    })
}
