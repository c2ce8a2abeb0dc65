//! `adopt`: records deployments the account holds (by their tags) but this
//! machine's registry does not.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Result};

use super::{runtime, Ctx};
use crate::cli::AdoptArgs;
use crate::linode::LinodeClient;
use crate::registry::Deployment;
use crate::workflow::account::{self, AccountView, Entry};

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
            ips.ok()
                .and_then(|i| i.ipv4)
                .map(|g| g.public)
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |a| Some(((id, a.address), a.rdns?)))
        })
        .collect()
}

pub fn run(ctx: &Ctx, args: &AdoptArgs, out: &mut dyn Write) -> Result<()> {
    if !args.all && !args.which.any() {
        bail!("say which: --app A [--env E], or --all for every untracked deployment (see 'linode-ai status')");
    }
    let registry = ctx.registry();
    let data = registry.load()?;
    let client = ctx.authed_client()?;
    let catalog = ctx.catalog();
    let rt = runtime()?;
    let view = rt.block_on(AccountView::fetch(
        &client,
        crate::workflow::account::Prices::Skip,
    ))?;
    if let Some(note) =
        account::skipped_note(&view.skipped_matching(args.which.app(), args.which.env()))
    {
        ctx.warn(&note);
    }
    let keep = |d: &crate::registry::Deployment| {
        args.which.app().is_none_or(|a| d.app_name == a)
            && args.which.env().is_none_or(|e| d.env == e)
    };
    let joined = account::join(&[], &data.deployments, &view, &catalog, keep);
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
        rt.block_on(rdns_names(&client, &untracked))
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
            record.firewall = Some(crate::registry::FirewallRecord::Created {
                id: Some(fw.id),
                label: fw.label.clone().unwrap_or_default(),
            });
        }
        record.last_status = crate::state::Status::Provisioning;
        adopted.push(record);
    }
    if adopted.is_empty() {
        bail!("no untracked deployment matches; 'linode-ai status' lists them");
    }
    let list = adopted.clone();
    registry.update(|d| {
        for r in list {
            if !d.deployments.iter().any(|x| x.linode_id == r.linode_id) {
                d.deployments.push(r);
            }
        }
    })?;
    if args.json {
        write!(out, "{}", crate::output::json(&adopted))?;
    } else {
        for r in &adopted {
            writeln!(
                out,
                "adopted {} (env: {}) Linode {} from template {} {}",
                crate::sanitize::field(&r.app_name),
                crate::sanitize::field(&r.env),
                r.linode_id.unwrap_or(0),
                crate::sanitize::field(&r.template),
                crate::sanitize::field(&r.template_version)
            )?;
        }
    }
    Ok(())
}
