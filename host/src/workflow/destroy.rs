//! `destroy` as data: choosing targets among the registry's records and the
//! account's tagged resources (so a second machine can clean up what the
//! first made), then for each: the instance, then its firewall (the API does
//! not cascade), then the record.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::linode::{ApiError, Firewall, LinodeClient};
use crate::naming::DeploymentTags;
use crate::registry::{Deployment, DnsRecord, FirewallRecord, Registry};
use crate::sanitize::quote;
use crate::workflow::account::{self, AccountView, Entry, Found, Joined};

/// Something `destroy` deletes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A deployment (tracked or not) and the firewalls tagged with its id.
    Deployment {
        record: Box<Deployment>,
        tracked: bool,
        /// The instance id as the account shows it (pending records found by label).
        instance: Option<u64>,
        firewalls: Vec<u64>,
        /// Its cache volumes (none with `--keep-volume`).
        volumes: Vec<u64>,
    },
    /// A firewall whose deployment never got an instance.
    OrphanFirewall(Firewall),
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Deployment {
                record: d, tracked, ..
            } if d.lke.is_some() => {
                let l = d.lke.as_ref().expect("checked");
                format!(
                    "{} (env: {}) on LKE: namespace {} of cluster {}{} in {}{}{}",
                    crate::sanitize::field(&d.app_name),
                    crate::sanitize::field(&d.env),
                    l.namespace,
                    l.cluster_id
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "(none yet)".into()),
                    if l.cluster_owned {
                        " (made for it: deleted too)"
                    } else {
                        " (yours: kept)"
                    },
                    crate::sanitize::field(&d.region),
                    d.url
                        .as_ref()
                        .map(|u| format!(", {}", crate::sanitize::field(u)))
                        .unwrap_or_default(),
                    if *tracked { "" } else { " [untracked]" },
                )
            }
            Target::Deployment {
                record: d,
                tracked,
                instance,
                volumes,
                ..
            } => format!(
                "{} (env: {}) Linode {} in {}{}{}{}",
                crate::sanitize::field(&d.app_name),
                crate::sanitize::field(&d.env),
                instance
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "(none yet)".into()),
                crate::sanitize::field(&d.region),
                d.url
                    .as_ref()
                    .map(|u| format!(", {}", crate::sanitize::field(u)))
                    .unwrap_or_default(),
                if *tracked { "" } else { " [untracked]" },
                match volumes.as_slice() {
                    [] => String::new(),
                    v => format!(
                        ", and its cache volume {}",
                        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    ),
                }
            ),
            Target::OrphanFirewall(f) => format!(
                "firewall {} ({}) left by a deployment that has no instance",
                f.id,
                crate::sanitize::field(f.label.as_deref().unwrap_or("?"))
            ),
        }
    }
}

/// How targets are chosen.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub app: Option<String>,
    pub env: Option<String>,
    /// A deployment id (or its first 6+ characters), a Linode id, or a firewall label.
    pub id: Option<String>,
    pub all: bool,
    /// Only deployments whose expiry passed before `now` (none is not an error).
    pub expired: Option<chrono::DateTime<chrono::Utc>>,
    /// `--keep-volume`: the cache volumes stay (and keep costing).
    pub keep_volume: bool,
}

fn firewalls_of(id: &str, firewalls: &[Firewall]) -> Vec<u64> {
    firewalls
        .iter()
        .filter(|f| DeploymentTags::parse(&f.tags).id.as_deref() == Some(id))
        .map(|f| f.id)
        .collect()
}

/// Whether `--id` names this firewall: its deployment id (or 6+ of its
/// first characters), its label or its id.
fn names_firewall(f: &Firewall, id: &str) -> bool {
    DeploymentTags::parse(&f.tags)
        .id
        .as_deref()
        .is_some_and(|d| crate::naming::id_matches(d, id))
        || f.label.as_deref() == Some(id)
        || id.parse::<u64>() == Ok(f.id)
}

/// Chooses the targets; several matches need `--all` or a narrower choice.
pub fn select(joined: &Joined, view: &AccountView, sel: &Selection) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for e in &joined.entries {
        let (record, tracked, instance) = match e {
            Entry::Tracked { record, instance } => (
                record,
                true,
                match instance {
                    Found::Instance(i) => Some(i.id),
                    Found::Unlisted(id) => Some(*id),
                    Found::Gone => record.linode_id,
                    Found::NotCreated => None,
                },
            ),
            Entry::Untracked { record, instance } => (record, false, Some(instance.id)),
            Entry::Parked {
                record, tracked, ..
            } => (record, *tracked, None),
            Entry::Lke { record, tracked } => (record, *tracked, None),
        };
        if sel.app.as_deref().is_some_and(|a| a != record.app_name)
            || sel.env.as_deref().is_some_and(|x| x != record.env)
            || sel.expired.is_some_and(|now| !record.is_expired(now))
            || sel
                .id
                .as_deref()
                .is_some_and(|id| !record.matches_id(id, instance))
        {
            continue;
        }
        let mut firewalls = firewalls_of(&record.deployment_id, &view.firewalls);
        for f in firewalls_of(&record.deployment_id, &view.lke_firewalls) {
            if !firewalls.contains(&f) {
                firewalls.push(f);
            }
        }
        if let Some(FirewallRecord::Created { id: Some(id), .. }) = &record.firewall {
            if !firewalls.contains(id) {
                firewalls.push(*id);
            }
        }
        let mut record = record.clone();
        // Records named by its firewalls' tags (a parked deployment's, made elsewhere).
        for f in view.firewalls.iter().filter(|f| firewalls.contains(&f.id)) {
            for (d, r) in DeploymentTags::parse(&f.tags).dns {
                if !record
                    .dns_records
                    .iter()
                    .any(|x| (x.domain_id, x.record_id) == (d, r))
                {
                    record.dns_records.push(DnsRecord::from_tag(d, r));
                }
            }
        }
        // A record another live Linode's tags name was taken over by a
        // --replace (made on any machine): it stays.
        record.dns_records.retain(|r| {
            !view.instances.iter().any(|i| {
                Some(i.id) != instance
                    && DeploymentTags::parse(&i.tags)
                        .dns
                        .contains(&(r.domain_id, r.record_id))
            })
        });
        let mut volumes: Vec<u64> = account::volumes_of(&record.deployment_id, &view.volumes)
            .iter()
            .map(|v| v.id)
            .collect();
        if let Some(id) = record.cache_volume.as_ref().and_then(|c| c.id) {
            if !volumes.contains(&id) {
                volumes.push(id);
            }
        }
        if sel.keep_volume {
            volumes.clear();
        }
        targets.push(Target::Deployment {
            record: Box::new(record),
            tracked,
            instance,
            firewalls,
            volumes,
        });
    }
    let filtered = sel.app.is_some() || sel.env.is_some();
    for f in &joined.orphan_firewalls {
        let dep = DeploymentTags::parse(&f.tags);
        let by_id = sel.id.as_deref().is_some_and(|id| names_firewall(f, id));
        let by_name = filtered
            && sel
                .app
                .as_deref()
                .is_none_or(|a| dep.app.as_deref() == Some(a))
            && sel
                .env
                .as_deref()
                .is_none_or(|x| dep.env.as_deref() == Some(x));
        let chosen = match sel.expired {
            // Expired ones (of the named app/env, if any).
            Some(now) => dep.expires.is_some_and(|t| t <= now) && (!filtered || by_name),
            None => by_id || by_name || (sel.all && sel.id.is_none() && !filtered),
        };
        if chosen {
            targets.push(Target::OrphanFirewall(f.clone()));
        }
    }
    // A young firewall may belong to a deploy in progress elsewhere: only
    // deleted when named.
    for f in &joined.young_firewalls {
        if sel.id.as_deref().is_some_and(|id| names_firewall(f, id)) {
            targets.push(Target::OrphanFirewall(f.clone()));
        }
    }
    if targets.is_empty() && sel.expired.is_some() {
        // Nothing expired is fine (a cron line); an --app/--env that names
        // nothing at all is a mistake worth saying.
        let named = |app: Option<&str>, env: Option<&str>| {
            sel.app.as_deref().is_none_or(|a| app == Some(a))
                && sel.env.as_deref().is_none_or(|x| env == Some(x))
        };
        let exists = joined.entries.iter().any(|e| {
            let r = e.record();
            named(Some(&r.app_name), Some(&r.env))
        }) || joined
            .orphan_firewalls
            .iter()
            .chain(&joined.young_firewalls)
            .any(|f| {
                let d = DeploymentTags::parse(&f.tags);
                named(d.app.as_deref(), d.env.as_deref())
            });
        if !exists {
            bail!("nothing matches the given --app/--env; see 'linode-ai status'");
        }
        return Ok(targets);
    }
    if targets.is_empty() {
        let young = if joined.young_firewalls.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = joined
                .young_firewalls
                .iter()
                .map(|f| f.id.to_string())
                .collect();
            format!(
                " (left alone: firewall {} of a deploy that may still be in progress; --id deletes one now)",
                ids.join(", ")
            )
        };
        bail!(
            "nothing matches{}{young}; see 'linode-ai status'",
            match (&sel.id, filtered) {
                (Some(id), _) => format!(" --id {}", quote(id)),
                (None, true) => " the given --app/--env".into(),
                (None, false) =>
                    " (no deployments in the registry or tagged in the account)".into(),
            }
        );
    }
    let deployments = targets
        .iter()
        .filter(|t| matches!(t, Target::Deployment { .. }))
        .count();
    // --expired means every expired one (what a cron line wants).
    if deployments > 1 && !sel.all && sel.expired.is_none() {
        let list: Vec<String> = targets
            .iter()
            .map(|t| format!("  {}", t.describe()))
            .collect();
        bail!(
            "{deployments} deployments match{}; narrow with --app, --env or --id, or pass --all to destroy them all:\n{}",
            if filtered || sel.id.is_some() { "" } else { " (no --app/--env/--id given)" },
            list.join("\n")
        );
    }
    Ok(targets)
}

/// What happened to one target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
pub enum Outcome {
    Destroyed,
    /// The instance was already gone (404); firewall and record cleaned up.
    AlreadyGone,
    /// A pending record whose create never happened.
    NothingCreated,
    /// A pending record whose deploy is still running: left alone.
    StillCreating(String),
    Failed(String),
    /// Neither the account nor the registry has it any more (destroyed
    /// elsewhere meanwhile): nothing to do.
    NotFound,
    /// Destroyed, but something could not be told apart or was left: what.
    DestroyedLeaving(String),
}

/// What acting on one target did (`destroy`, `park`): said in a line, and
/// whether it failed.
pub trait Done: serde::Serialize {
    fn describe(&self) -> String;
    fn is_failure(&self) -> bool;
}

impl Done for Outcome {
    fn describe(&self) -> String {
        Outcome::describe(self)
    }
    fn is_failure(&self) -> bool {
        Outcome::is_failure(self)
    }
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Destroyed => "destroyed".into(),
            Outcome::AlreadyGone => "already gone (404); firewall and record cleaned up".into(),
            Outcome::NothingCreated => "no Linode was created; record and firewall removed".into(),
            Outcome::NotFound => {
                "not found in the account or the registry any more (destroyed elsewhere?); nothing to destroy".into()
            }
            Outcome::StillCreating(d) | Outcome::Failed(d) => d.clone(),
            Outcome::DestroyedLeaving(d) => format!("destroyed; {d}"),
        }
    }
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::StillCreating(_))
    }
}

/// How long to wait for a deleted Linode to let go of its firewall.
const DETACH_WAIT: Duration = Duration::from_secs(90);

/// Destroys one target: instance, firewalls, record, pinned host key.
pub async fn destroy_one(
    client: &LinodeClient,
    registry: &Registry,
    paths: &crate::paths::Paths,
    poll: Duration,
    target: &Target,
) -> Outcome {
    let known_hosts = &paths.known_hosts;
    match target {
        Target::OrphanFirewall(f) => {
            // DNS records made for its (gone) instance point at a freed address.
            let made: Vec<DnsRecord> = DeploymentTags::parse(&f.tags)
                .dns
                .iter()
                .map(|(d, r)| DnsRecord::from_tag(*d, *r))
                .collect();
            let dns = crate::workflow::dns::remove(client, &made).await;
            if !dns.is_empty() {
                return Outcome::Failed(format!(
                    "not removed: {}; run destroy again to retry",
                    dns.join(", ")
                ));
            }
            match client.delete_firewall(f.id).await {
                Ok(()) => Outcome::Destroyed,
                Err(e) if e.is_not_found() => Outcome::AlreadyGone,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
        Target::Deployment {
            record,
            tracked,
            instance,
            firewalls,
            volumes,
        } => {
            if record.target == crate::state::DeployTarget::Lke {
                return destroy_lke(client, registry, paths, poll, record, *tracked, firewalls)
                    .await;
            }
            if instance.is_none() && account::create_may_be_running(record) {
                let p = record.pending.as_ref().expect("pending");
                return Outcome::StillCreating(format!(
                    "its deploy is still running (pid {} on {}): the Linode may appear in a moment; wait for it to finish, then destroy",
                    p.pid,
                    crate::sanitize::line(&p.host)
                ));
            }
            let mut gone = false;
            if let Some(id) = instance {
                match client.delete_instance(*id).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => gone = true,
                    Err(e) => return Outcome::Failed(format!("{e} (kept in the registry)")),
                }
            }
            // The DNS records it made point at an address that is gone (or soon reused);
            // one a newer deployment took over (a --replace onto the same address) stays.
            let claimed: Vec<(u64, u64)> = registry
                .load()
                .map(|d| d.deployments)
                .unwrap_or_default()
                .iter()
                .filter(|d| d.deployment_id != record.deployment_id)
                .flat_map(|d| d.dns_records.iter().map(|r| (r.domain_id, r.record_id)))
                .collect();
            let mine: Vec<_> = record
                .dns_records
                .iter()
                .filter(|r| !claimed.contains(&(r.domain_id, r.record_id)))
                .cloned()
                .collect();
            let dns = crate::workflow::dns::remove(client, &mine).await;
            if !dns.is_empty() {
                return Outcome::Failed(format!(
                    "the Linode is deleted, but not {}; run destroy again to retry",
                    dns.join(", ")
                ));
            }
            for fw in firewalls {
                if let Err(e) = client
                    .delete_firewall_after(*fw, *instance, DETACH_WAIT)
                    .await
                {
                    return Outcome::Failed(format!(
                        "the Linode is deleted, but its firewall {fw} is not: {e}; run destroy again to retry"
                    ));
                }
            }
            // A deleted Linode's volumes detach a moment later.
            for v in volumes {
                if let Err(e) = client.delete_volume_after(*v, DETACH_WAIT).await {
                    return Outcome::Failed(format!(
                        "the Linode is deleted, but its cache volume {v} is not: {e}; run destroy again to retry"
                    ));
                }
            }
            if *tracked {
                if let Err(e) = registry.remove(&record.deployment_id) {
                    return Outcome::Failed(format!(
                        "deleted, but the registry could not be updated: {e:#}"
                    ));
                }
            }
            if let Some(id) = instance.or(record.linode_id) {
                let _ = crate::targets::vm::ssh::forget_host(known_hosts, id);
            }
            match (instance, gone) {
                // Its volume (and firewall) were all there was.
                (None, _) if record.last_status == crate::state::Status::Parked => {
                    Outcome::Destroyed
                }
                (None, _) => Outcome::NothingCreated,
                (Some(_), true) => Outcome::AlreadyGone,
                (Some(_), false) => Outcome::Destroyed,
            }
        }
    }
}

/// An LKE deployment: its namespace, what the cluster made for it, the
/// cluster when linode-ai made it, its firewall, its record.
async fn destroy_lke(
    client: &LinodeClient,
    registry: &Registry,
    paths: &crate::paths::Paths,
    poll: Duration,
    record: &crate::registry::Deployment,
    tracked: bool,
    firewalls: &[u64],
) -> Outcome {
    if account::create_may_be_running(record) {
        let p = record.pending.as_ref().expect("pending");
        return Outcome::StillCreating(format!(
            "its deploy is still running (pid {} on {}); wait for it to finish, then destroy",
            p.pid,
            crate::sanitize::line(&p.host)
        ));
    }
    let removed = match crate::workflow::lke::destroy(
        client,
        &paths.kube,
        record,
        DETACH_WAIT,
        poll,
        &|_| {},
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Failed(format!("{e:#} (kept in the registry; run destroy again)"))
        }
    };
    for fw in firewalls {
        if let Err(e) = client.delete_firewall_after(*fw, None, DETACH_WAIT).await {
            return Outcome::Failed(format!(
                "the namespace is gone, but firewall {fw} is not: {e}; run destroy again to retry"
            ));
        }
    }
    if tracked {
        if let Err(e) = registry.remove(&record.deployment_id) {
            return Outcome::Failed(format!(
                "deleted, but the registry could not be updated: {e:#}"
            ));
        }
    }
    match record.lke.as_ref().and_then(|l| l.cluster_id) {
        Some(_) if !removed.left.is_empty() => Outcome::DestroyedLeaving(removed.left.join("; ")),
        Some(_) => Outcome::Destroyed,
        None => Outcome::NothingCreated,
    }
}

/// The account view and the registry joined, for choosing targets.
pub async fn survey(
    client: &LinodeClient,
    registry: &Registry,
    catalog: &crate::blueprint::catalog::Catalog,
) -> Result<(Joined, AccountView)> {
    let data = registry.load()?;
    let view = AccountView::fetch(client, crate::workflow::account::Prices::Skip)
        .await
        .map_err(|e: ApiError| {
            anyhow::Error::new(e).context("cannot list the account's linode-ai resources")
        })?;
    let mut joined = account::join(&data.deployments, &data.deployments, &view, catalog, |_| {
        true
    });
    // Records whose Linode is not in the tagged list: gone, or made before the tags.
    account::resolve_unlisted(client, &mut joined.entries).await;
    Ok((joined, view))
}
