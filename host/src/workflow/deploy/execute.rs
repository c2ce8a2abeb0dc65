//! Creating a planned deployment: the record first (pending, naming the
//! firewall), then the firewall, then the instance with the firewall
//! attached, then the record completed. Every step that fails leaves either
//! nothing behind or a record that says what may exist.

use anyhow::{Context, Result};
use chrono::Utc;

use super::plan::{DeployPlan, FirewallPlan};
use crate::health::app_url;
use crate::linode::{ApiError, CreateVolume, LinodeClient};
use crate::naming::hostname_for;
use crate::registry::{
    Deployment, FirewallRecord, HealthRecord, PendingInfo, Registry, VolumeRecord,
};
use crate::state::Status;

/// Progress reported while deploying and waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    CreatingFirewall,
    CreatedFirewall {
        id: u64,
    },
    Creating,
    Created {
        linode_id: u64,
    },
    /// The same words as `status`.
    Phase {
        status: Status,
        detail: Option<String>,
    },
    /// A line the template's hook logged while judging health.
    HookLog(String),
    /// What `--domain` did in the account's DNS Manager, or what to do.
    Dns(String),
    /// The cache volume was created (attached to the new Linode).
    CreatedVolume {
        id: u64,
        label: String,
    },
    /// `resume`: the parked cache volume is attached to the new Linode.
    AttachedVolume {
        id: u64,
        label: String,
    },
    /// The cache volume could not be created: the boot stops waiting for it.
    VolumeFailed(String),
    /// A step of an LKE deploy or destroy.
    Step(String),
}

/// The record a plan starts as (pending).
pub fn pending_record(plan: &DeployPlan) -> Deployment {
    let s = &plan.settings;
    let front = plan.probes.first();
    Deployment {
        deployment_id: plan.deployment_id.to_string(),
        app_name: s.app_name.clone(),
        env: s.env_name.clone(),
        template: s.template.clone(),
        template_version: s.template_version.clone(),
        target: crate::state::DeployTarget::Linode,
        region: s.region.clone(),
        linode_type: Some(s.linode_type.clone()),
        label: Some(plan.request.label.clone()),
        linode_id: None,
        ipv4: None,
        hostname: None,
        url: None,
        image: Some(s.image.clone()),
        health: HealthRecord {
            http_path: front.map(|p| p.path.clone()).unwrap_or_else(|| "/".into()),
            port: s.https_port,
            success_codes: front
                .map(|p| p.success_codes.clone())
                .unwrap_or_else(|| vec![200]),
            timeout_seconds: front.map(|p| p.timeout_seconds).unwrap_or(2),
        },
        created_at: Utc::now(),
        last_status: Status::Pending,
        last_checked_at: None,
        last_detail: Some("recorded before the create call".into()),
        internal_port: plan.stack.fronted_service().port,
        public_env: super::plan::env_specs(&plan.template, &plan.stack)
            .iter()
            .filter(|v| v.is_public())
            .filter_map(|v| {
                plan.env
                    .get(v.name())
                    .map(|val| (v.name().to_string(), val.clone()))
            })
            .collect(),
        firewall: Some(match &plan.firewall {
            FirewallPlan::Create(body) => FirewallRecord::Created {
                id: None,
                label: body.label.clone(),
            },
            FirewallPlan::Existing(id) => FirewallRecord::Existing { id: *id },
            FirewallPlan::Disabled => FirewallRecord::Disabled,
        }),
        probes: plan.probes.clone(),
        domain: s.domain.clone(),
        key_env: plan.stack.proxy.key_env.as_ref().map(|k| k.to_string()),
        ssh_identity: plan.ssh_identity.clone(),
        dns_records: Vec::new(),
        cache_volume: plan.cache.as_ref().map(|c| VolumeRecord {
            id: None,
            label: c.label.clone(),
            size_gb: c.size_gb,
        }),
        expires_at: plan.expires_at,
        pending: Some(PendingInfo::this_process()),
        lke: None,
        extra: Default::default(),
    }
}

/// The app/env of a plan, reserved in the registry for this run: its pending
/// record, written under the registry's lock before the account is looked
/// at, so two deploys of one app/env on this machine cannot both pass the
/// "already exists" check. Dropped without [`Reservation::hand_over`] (the
/// run stopped before creating anything), the record is removed again.
#[must_use = "dropping the reservation removes it"]
pub struct Reservation<'a> {
    registry: &'a Registry,
    id: String,
    armed: bool,
}

impl Reservation<'_> {
    /// From here [`execute`] owns the record (it completes or keeps it).
    pub fn hand_over(mut self) {
        self.armed = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a reservation left behind by a failed write is
            // removed by the next reserve() once this process is gone.
            let id = &self.id;
            let _ = self.registry.update(|d| {
                d.deployments.retain(|r| {
                    !(r.deployment_id == *id && r.pending.as_ref().is_some_and(|p| p.reserved))
                })
            });
        }
    }
}

/// Reserves the plan's app/env: under the registry's lock, refuses when
/// another deploy of the same app/env is in progress on this machine (unless
/// `beside`: `--new` makes another one on purpose), then writes the pending
/// record. Reservations of runs that stopped before creating anything are
/// cleared on the way.
pub fn reserve<'a>(
    registry: &'a Registry,
    plan: &DeployPlan,
    beside: bool,
) -> Result<Reservation<'a>> {
    let mut record = pending_record(plan);
    if let Some(p) = record.pending.as_mut() {
        p.reserved = true;
    }
    record.last_detail = Some("reserved: the deploy is looking at the account".into());
    let (app, env) = (record.app_name.clone(), record.env.clone());
    let busy = registry
        .update(|d| {
            // Reservations of runs that stopped before creating anything.
            d.deployments.retain(|r| {
                !r.pending.as_ref().is_some_and(|p| p.reserved)
                    || crate::workflow::account::create_may_be_running(r)
            });
            let busy = d
                .deployments
                .iter()
                .find(|r| {
                    r.app_name == app
                        && r.env == env
                        && r.is_pending()
                        && crate::workflow::account::create_may_be_running(r)
                })
                .and_then(|r| r.pending.clone());
            // `resume` keeps the parked record in place (same id) until the create.
            let resuming = d
                .deployments
                .iter()
                .any(|r| r.deployment_id == record.deployment_id);
            if (busy.is_none() || beside) && !resuming {
                d.deployments.push(record.clone());
            }
            busy
        })
        .context("cannot record the deployment before creating it")?;
    if let (Some(p), false) = (busy, beside) {
        let secs = (Utc::now() - p.started_at).num_seconds().max(0);
        anyhow::bail!(
            "another deploy of {} (env: {}) is in progress (pid {} on {}, started {secs}s ago); \
             wait for it to finish ('linode-ai status' shows it), or pass --new to make another one beside it",
            crate::sanitize::line(&app),
            crate::sanitize::line(&env),
            p.pid,
            crate::sanitize::line(&p.host)
        );
    }
    Ok(Reservation {
        registry,
        id: record.deployment_id,
        armed: true,
    })
}

/// Saves generated values into the project's env file before anything is
/// created, so a key is never lost.
pub fn save_generated(plan: &DeployPlan) -> Result<()> {
    if plan.generated.is_empty() {
        return Ok(());
    }
    let values: Vec<(String, String)> = plan
        .generated
        .iter()
        .filter_map(|n| plan.env.get(n).map(|v| (n.clone(), v.clone())))
        .collect();
    crate::blueprint::envfile::set_values(&plan.settings.env_file, &values)
}

/// Records the deployment as pending, creates its firewall and instance, reads
/// back its address and completes the record.
pub async fn execute(
    client: &LinodeClient,
    registry: &Registry,
    plan: &DeployPlan,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Deployment> {
    let mut record = pending_record(plan);
    // Replaces the reservation, if this run made one.
    registry
        .upsert(record.clone())
        .context("cannot record the deployment before creating it")?;
    let mut request = plan.request.clone();
    let mut created_firewall = None;
    if let FirewallPlan::Create(body) = &plan.firewall {
        progress(Progress::CreatingFirewall);
        match client.create_firewall(body).await {
            Ok(fw) => {
                progress(Progress::CreatedFirewall { id: fw.id });
                record.firewall = Some(FirewallRecord::Created {
                    id: Some(fw.id),
                    label: body.label.clone(),
                });
                registry.upsert(record.clone())?;
                request.firewall_id = Some(fw.id);
                created_firewall = Some(fw.id);
            }
            Err(e) => {
                if e.nothing_created() {
                    registry.remove(&record.deployment_id)?;
                    return Err(e).context(format!(
                        "creating firewall \"{}\" failed; nothing was created",
                        body.label
                    ));
                }
                return Err(e).context(format!(
                    "creating firewall \"{}\" may not have completed; the pending record stays so 'linode-ai status' and 'linode-ai destroy' find it by its tags",
                    body.label
                ));
            }
        }
    }
    progress(Progress::Creating);
    let instance = match client.create_instance(&request).await {
        Ok(i) => i,
        Err(e) => {
            return Err(creation_failed(client, registry, &record, created_firewall, e).await)
        }
    };
    progress(Progress::Created {
        linode_id: instance.id,
    });
    record.linode_id = Some(instance.id);
    record.last_status = Status::Provisioning;
    record.last_detail = None;
    record.pending = None;
    if let Some(cache) = &plan.cache {
        if let Some(r) = record.cache_volume.as_mut() {
            r.id = cache.existing;
        }
        registry.upsert(record.clone())?;
        create_cache_volume(
            client,
            &mut record,
            cache,
            instance.id,
            &request.tags,
            progress,
        )
        .await;
    }
    let ipv4 = instance.public_ipv4().map(str::to_string);
    if let Some(ip) = &ipv4 {
        let host = hostname_for(ip, plan.settings.domain.as_deref());
        record.url = Some(app_url(&host, plan.settings.https_port));
        record.hostname = Some(host);
    }
    record.ipv4 = ipv4;
    // Re-added if a `destroy` removed the pending record meanwhile: the Linode exists.
    registry.upsert(record.clone())?;
    if let (Some(name), Some(ipv4)) = (plan.settings.domain.as_deref(), record.ipv4.clone()) {
        let mut addresses = vec![ipv4.as_str()];
        addresses.extend(instance.public_ipv6());
        point_domain(
            client,
            registry,
            &mut record,
            name,
            &addresses,
            (&request.tags, created_firewall),
            progress,
        )
        .await?;
    }
    Ok(record)
}

/// How long a parked volume may take to be let go of by its old Linode.
const ATTACH_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The cache volume, created attached to the new Linode (in its config, so
/// it is there after a reboot too), with the deployment's tags. A failure
/// is said (the boot waits for the device, then stops at that step) and the
/// deploy goes on: the Linode exists and `destroy` removes it.
async fn create_cache_volume(
    client: &LinodeClient,
    record: &mut Deployment,
    cache: &super::plan::CachePlan,
    linode_id: u64,
    tags: &[String],
    progress: &(dyn Fn(Progress) + Sync),
) {
    if let Some(id) = cache.existing {
        // `resume`: the parked volume, let go of by its old Linode a moment
        // after that one was deleted.
        match client.attach_volume_after(id, linode_id, ATTACH_WAIT).await {
            Ok(_) => progress(Progress::AttachedVolume {
                id,
                label: cache.label.clone(),
            }),
            Err(e) => progress(Progress::VolumeFailed(format!(
                "attaching the cache volume {id} ({}) failed ({}); the boot waits 5 minutes for it and then stops at \"mount the cache volume\": run 'linode-ai park' and 'linode-ai resume' again",
                cache.label,
                crate::sanitize::line(&e.to_string())
            ))),
        }
        return;
    }
    let body = CreateVolume {
        label: cache.label.clone(),
        size: cache.size_gb,
        linode_id,
        tags: tags.to_vec(),
    };
    match client.create_volume(&body).await {
        Ok(v) => {
            if let Some(r) = record.cache_volume.as_mut() {
                r.id = Some(v.id);
            }
            progress(Progress::CreatedVolume {
                id: v.id,
                label: cache.label.clone(),
            });
        }
        Err(e) => progress(Progress::VolumeFailed(format!(
            "creating the cache volume {} failed ({}); the boot waits 5 minutes for it and then stops at \"mount the cache volume\": destroy and deploy again, or deploy with --no-cache",
            cache.label,
            crate::sanitize::line(&e.to_string())
        ))),
    }
}

/// `--domain` in the account's DNS Manager: the A (and AAAA) records, kept
/// in the record and in a tag on the instance and its firewall (so a
/// `destroy` on another machine removes them too).
async fn point_domain(
    client: &LinodeClient,
    registry: &Registry,
    record: &mut Deployment,
    name: &str,
    addresses: &[&str],
    (tags, firewall): (&[String], Option<u64>),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<()> {
    // Records made for this app and env before (a --replace takes their name over).
    let ours: Vec<_> = registry
        .load()
        .map(|d| d.deployments)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.app_name == record.app_name && d.env == record.env)
        .flat_map(|d| d.dns_records)
        .collect();
    let pointed = crate::workflow::dns::point(client, name, addresses, &ours).await;
    for n in pointed.notes {
        progress(Progress::Dns(n));
    }
    if pointed.made.is_empty() {
        return Ok(());
    }
    record.dns_records = pointed.made;
    registry.upsert(record.clone())?;
    let mut tags = tags.to_vec();
    tags.extend(
        record
            .dns_records
            .iter()
            .map(|r| crate::naming::dns_tag(r.domain_id, r.record_id)),
    );
    let failed = |what: &str, e: ApiError| {
        progress(Progress::Dns(format!(
            "could not tag the {what} with its DNS records ({}): a destroy from another machine will not remove them",
            crate::sanitize::line(&e.to_string())
        )))
    };
    if let Some(id) = record.linode_id {
        if let Err(e) = client.set_instance_tags(id, &tags).await {
            failed("Linode", e);
        }
    }
    if let Some(id) = firewall {
        if let Err(e) = client.set_firewall_tags(id, &tags).await {
            failed("firewall", e);
        }
    }
    Ok(())
}

/// After a failed instance create: when nothing was created (the API refused
/// it, or rate limits held every try back), the firewall made for it is
/// deleted and the record removed; when the create went through but the
/// account's list does not show it yet, or may have gone through, the
/// pending record and the firewall stay.
async fn creation_failed(
    client: &LinodeClient,
    registry: &Registry,
    record: &Deployment,
    firewall: Option<u64>,
    e: ApiError,
) -> anyhow::Error {
    let label = record.label.clone().unwrap_or_default();
    let kept = match firewall {
        Some(id) => format!("the pending record and its firewall {id} stay"),
        None => "the pending record stays".into(),
    };
    if let ApiError::CreatedNotListed { .. } = e {
        return anyhow::Error::new(e).context(format!(
            "Linode \"{label}\" was created, but the account's list does not show it yet; {kept}: \
             run 'linode-ai status' in a moment, which completes the record once the list shows it"
        ));
    }
    if !e.nothing_created() {
        return anyhow::Error::new(e).context(format!(
            "creating Linode \"{label}\" may not have completed; {kept}: run 'linode-ai status' to see whether it exists"
        ));
    }
    let mut note = String::new();
    if let Some(id) = firewall {
        if let Err(fe) = client.delete_firewall(id).await {
            note = format!(
                " (its firewall {id} could not be deleted: {fe}; 'linode-ai destroy' retries)"
            );
        }
    }
    if note.is_empty() {
        if let Err(re) = registry.remove(&record.deployment_id) {
            return re.context(format!("creating Linode \"{label}\" failed: {e}"));
        }
    }
    if note.is_empty() {
        note = match firewall {
            Some(id) => format!("; nothing was created (its firewall {id} was deleted)"),
            None => "; nothing was created".into(),
        };
    }
    anyhow::Error::new(e).context(format!("creating Linode \"{label}\" failed{note}"))
}
