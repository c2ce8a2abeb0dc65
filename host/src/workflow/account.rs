//! The account as the source of truth. Everything linode-ai creates carries
//! the tag `build_ai`; one paged, filtered list call per resource kind finds
//! it all, and the local registry is joined against it: records whose
//! instance exists, records whose instance is gone (`missing`), pending
//! records whose create did or did not happen, instances with the tags but no
//! record (`untracked`: made on another machine, or the record was lost), and
//! firewalls whose deployment has no instance (orphaned).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;

use crate::blueprint::catalog::Catalog;
use crate::health::app_url;
use crate::linode::{
    parse_timestamp, ApiError, Firewall, Instance, LinodeClient, LinodeType, Skipped, Volume,
};
use crate::naming::{DeploymentTags, COMMON_TAG};
use crate::registry::{Deployment, DnsRecord, FirewallRecord, HealthRecord};
use crate::state::Status;

/// What the account holds that linode-ai made.
#[derive(Debug, Clone, Default)]
pub struct AccountView {
    pub instances: Vec<Instance>,
    pub firewalls: Vec<Firewall>,
    /// Tagged Block Storage volumes (deployments' caches).
    pub volumes: Vec<Volume>,
    /// Items the API described in a shape linode-ai cannot read: left out.
    pub skipped: Vec<Skipped>,
    /// Plans and prices (`None` if that call failed: prices are optional).
    pub types: Option<Vec<LinodeType>>,
    /// Firewalls of LKE deployments (tagged `build_ai_lke`), apart from
    /// `firewalls`: they guard a NodeBalancer, not a Linode.
    pub lke_firewalls: Vec<Firewall>,
    /// The tagged LKE clusters (listed only when an LKE firewall exists).
    pub lke_clusters: Vec<crate::linode::LkeCluster>,
}

/// `X-Filter` for everything linode-ai made.
pub fn tag_filter() -> serde_json::Value {
    serde_json::json!({ "tags": COMMON_TAG })
}

impl AccountView {
    /// The list calls, at once: tagged instances, tagged firewalls, and the
    /// plans (prices) unless `prices` has a fresh copy of them.
    pub async fn fetch(client: &LinodeClient, prices: Prices<'_>) -> Result<AccountView, ApiError> {
        let filter = tag_filter();
        let (instances, firewalls, volumes, types) = tokio::join!(
            client.list_instances_lenient(Some(&filter)),
            client.list_firewalls_lenient(Some(&filter)),
            client.list_volumes(Some(&filter)),
            async {
                match prices {
                    Prices::Skip => None,
                    Prices::Fresh => client.types().await.ok(),
                    Prices::Cached(path) => match read_types(path, client.base_url()) {
                        Some(t) => Some(t),
                        None => {
                            let t = client.types().await.ok()?;
                            write_types(path, client.base_url(), &t);
                            Some(t)
                        }
                    },
                }
            }
        );
        let ((instances, mut skipped), (firewalls, more)) = (instances?, firewalls?);
        skipped.extend(more);
        let (lke_firewalls, firewalls): (Vec<Firewall>, Vec<Firewall>) = firewalls
            .into_iter()
            .partition(|f| crate::naming::is_lke(&f.tags));
        // One more list only for accounts with LKE deployments.
        let lke_clusters = if lke_firewalls.is_empty() {
            Vec::new()
        } else {
            client.list_lke_clusters(Some(&tag_filter())).await?
        };
        Ok(AccountView {
            instances,
            firewalls,
            volumes: volumes?,
            skipped,
            types,
            lke_firewalls,
            lke_clusters,
        })
    }

    /// The skipped items that may belong to the app/env filters (those whose
    /// tags say otherwise are left out).
    pub fn skipped_matching(&self, app: Option<&str>, env: Option<&str>) -> Vec<&Skipped> {
        self.skipped
            .iter()
            .filter(|s| {
                let t = DeploymentTags::parse(&s.tags);
                app.is_none_or(|a| t.app.as_deref().is_none_or(|x| x == a))
                    && env.is_none_or(|e| t.env.as_deref().is_none_or(|x| x == e))
            })
            .collect()
    }

    pub fn type_named(&self, id: &str) -> Option<&LinodeType> {
        self.types.as_ref()?.iter().find(|t| t.id == id)
    }
}

/// Where the plans and prices come from.
#[derive(Debug, Clone, Copy)]
pub enum Prices<'a> {
    /// Not needed.
    Skip,
    /// Asked of the API.
    Fresh,
    /// From this file when it is less than [`TYPES_MAX_AGE`] old and from the
    /// same API, else asked and written there. Plans and prices change
    /// rarely; `status` makes one request fewer.
    Cached(&'a std::path::Path),
}

/// How long a copy of `/linode/types` is used.
pub const TYPES_MAX_AGE: chrono::Duration = chrono::Duration::hours(24);

#[derive(serde::Serialize, serde::Deserialize)]
struct TypesCopy {
    api: String,
    fetched_at: chrono::DateTime<Utc>,
    data: Vec<LinodeType>,
}

fn read_types(path: &std::path::Path, api: &str) -> Option<Vec<LinodeType>> {
    let text = crate::files::read_text(path, "plans cache", 4 << 20).ok()?;
    let copy: TypesCopy = serde_json::from_str(&text).ok()?;
    let age = Utc::now() - copy.fetched_at;
    (copy.api == api
        && age >= chrono::Duration::zero()
        && age < TYPES_MAX_AGE
        && !copy.data.is_empty())
    .then_some(copy.data)
}

/// Best effort: a cache that cannot be written is asked again next time.
fn write_types(path: &std::path::Path, api: &str, data: &[LinodeType]) {
    let copy = TypesCopy {
        api: api.to_string(),
        fetched_at: Utc::now(),
        data: data.to_vec(),
    };
    if let (Ok(text), Some(dir)) = (serde_json::to_string(&copy), path.parent()) {
        if std::fs::create_dir_all(dir).is_ok() {
            let _ = crate::files::write_private(path, text.as_bytes());
        }
    }
}

/// One deployment as seen through registry and account together.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A record; `instance` is what the account holds for it.
    Tracked { record: Deployment, instance: Found },
    /// An instance with linode-ai's tags and no record here.
    Untracked {
        record: Deployment,
        instance: Instance,
    },
    /// No Linode, and a cache volume kept for `resume` (`park`): from the
    /// record, or (`tracked: false`) from the volume's tags.
    Parked {
        record: Deployment,
        tracked: bool,
        volume: Volume,
    },
    /// A deployment on LKE: from the record, or (`tracked: false`) from the
    /// tags of its cluster or firewall.
    Lke { record: Deployment, tracked: bool },
}

/// What the account holds for a record.
#[derive(Debug, Clone)]
pub enum Found {
    Instance(Instance),
    /// Not in the tagged list: look it up by this id (records from before the common tag).
    Unlisted(u64),
    /// The record is pending and no instance has its label (yet).
    NotCreated,
    /// Looked up by id: the Linode no longer exists (404).
    Gone,
}

/// Looks up the instances of [`Found::Unlisted`] records by id (a few at a
/// time): found ones become [`Found::Instance`], deleted ones [`Found::Gone`];
/// on any other error the entry stays unlisted (not known to be gone).
pub async fn resolve_unlisted(client: &LinodeClient, entries: &mut [Entry]) {
    use futures_util::StreamExt;
    let ids: Vec<(usize, u64)> = entries
        .iter()
        .enumerate()
        .filter_map(|(n, e)| match e {
            Entry::Tracked {
                instance: Found::Unlisted(id),
                ..
            } => Some((n, *id)),
            _ => None,
        })
        .collect();
    let found: Vec<(usize, Option<Found>)> = futures_util::stream::iter(ids)
        .map(|(n, id)| async move {
            match client.get_instance(id).await {
                Ok(i) => (n, Some(Found::Instance(i))),
                Err(e) if e.is_not_found() => (n, Some(Found::Gone)),
                Err(_) => (n, None),
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (n, f) in found {
        if let (Some(f), Entry::Tracked { instance, .. }) = (f, &mut entries[n]) {
            *instance = f;
        }
    }
}

impl Entry {
    pub fn record(&self) -> &Deployment {
        match self {
            Entry::Tracked { record, .. }
            | Entry::Untracked { record, .. }
            | Entry::Parked { record, .. }
            | Entry::Lke { record, .. } => record,
        }
    }
}

/// One warning for the items the account list holds but linode-ai cannot read.
pub fn skipped_note(skipped: &[&Skipped]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let n = skipped.len();
    let kinds = if skipped.iter().all(|s| s.kind == "instance") {
        if n == 1 {
            "instance"
        } else {
            "instances"
        }
    } else if n == 1 {
        "item"
    } else {
        "items"
    };
    let list: Vec<String> = skipped.iter().take(10).map(|s| s.describe()).collect();
    Some(format!(
        "skipped {n} {kinds} the API described in a shape linode-ai cannot read (not shown, checked or changed; look at them in Cloud Manager or with linode-cli): {}{}",
        list.join("; "),
        if n > 10 { format!("; and {} more", n - 10) } else { String::new() }
    ))
}

/// Registry and account joined.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    pub entries: Vec<Entry>,
    /// Tagged firewalls whose deployment has no instance and no pending
    /// create, made more than [`PENDING_MAX_AGE`] ago.
    pub orphan_firewalls: Vec<Firewall>,
    /// Tagged firewalls whose deployment has no instance yet and no record
    /// here, made less than [`PENDING_MAX_AGE`] ago: a deploy (perhaps on
    /// another machine) may still be creating their Linode. Left alone.
    pub young_firewalls: Vec<Firewall>,
}

/// The volumes of deployment `id` (by their tags).
pub fn volumes_of<'a>(id: &str, volumes: &'a [Volume]) -> Vec<&'a Volume> {
    volumes
        .iter()
        .filter(|v| DeploymentTags::parse(&v.tags).id.as_deref() == Some(id))
        .collect()
}

/// How long a create may still be under way: another machine's pending
/// record, or a firewall whose Linode is not there yet, younger than this
/// may belong to a deploy in progress.
pub const PENDING_MAX_AGE: chrono::Duration = chrono::Duration::hours(1);

/// Whether a firewall was made less than [`PENDING_MAX_AGE`] ago (a time in
/// the future, from a clock ahead of ours, counts as young; no time as old).
pub fn is_young(f: &Firewall) -> bool {
    f.created
        .as_deref()
        .and_then(parse_timestamp)
        .is_some_and(|t| Utc::now() - t < PENDING_MAX_AGE)
}

/// A record rebuilt from a resource's tags (an instance's or a parked
/// volume's): what the tags say, the template's probes, and the rest empty.
pub(crate) fn record_from_tags(
    tags: &[String],
    fallback_id: String,
    region: Option<&str>,
    created: Option<&str>,
    status: Status,
    catalog: &Catalog,
) -> Deployment {
    let tags = DeploymentTags::parse(tags);
    let template = tags.template.clone().unwrap_or_else(|| "unknown".into());
    let probes = catalog
        .get(&template)
        .and_then(|t| crate::blueprint::stack::Stack::from_spec(&t.spec).ok())
        .map(|s| s.probes())
        .unwrap_or_default();
    let front = probes.first();
    Deployment {
        deployment_id: tags.id.clone().unwrap_or(fallback_id),
        app_name: tags.app.clone().unwrap_or_else(|| "unknown".into()),
        env: tags.env.clone().unwrap_or_else(|| "default".into()),
        template,
        template_version: tags.template_version.clone().unwrap_or_default(),
        target: crate::state::DeployTarget::Linode,
        region: region.unwrap_or_default().to_string(),
        linode_type: None,
        label: None,
        linode_id: None,
        url: None,
        hostname: None,
        ipv4: None,
        image: None,
        health: HealthRecord {
            http_path: front
                .map(|p| p.path.clone())
                .unwrap_or_else(|| "/healthz/boot".into()),
            port: 443,
            success_codes: front
                .map(|p| p.success_codes.clone())
                .unwrap_or_else(|| vec![200]),
            timeout_seconds: 2,
        },
        created_at: created.and_then(parse_timestamp).unwrap_or_else(Utc::now),
        last_status: status,
        last_checked_at: None,
        last_detail: None,
        internal_port: None,
        public_env: BTreeMap::new(),
        firewall: None,
        probes,
        domain: None,
        key_env: None,
        expires_at: tags.expires,
        dns_records: tags
            .dns
            .iter()
            .map(|(d, r)| DnsRecord::from_tag(*d, *r))
            .collect(),
        cache_volume: None,
        ssh_identity: None,
        pending: None,
        lke: None,
        extra: Default::default(),
    }
}

/// LKE deployments the account shows: tagged clusters (made by linode-ai)
/// and firewalls naming a cluster (`--cluster` deployments), as records
/// rebuilt from their tags, for machines without the record.
pub fn lke_records_from_tags(
    clusters: &[crate::linode::LkeCluster],
    firewalls: &[Firewall],
    known: &[Deployment],
    catalog: &Catalog,
) -> Vec<Deployment> {
    let mut out: Vec<Deployment> = Vec::new();
    let mut add = |tags: &[String],
                   cluster: Option<u64>,
                   owned: bool,
                   label: Option<String>,
                   region: Option<&str>,
                   created: Option<&str>| {
        let t = DeploymentTags::parse(tags);
        let Some(id) = t.id.clone() else { return };
        if known.iter().any(|d| d.deployment_id == id) || out.iter().any(|d| d.deployment_id == id)
        {
            return;
        }
        let mut d = record_from_tags(tags, id, region, created, Status::Untracked, catalog);
        d.target = crate::state::DeployTarget::Lke;
        d.lke = Some(crate::registry::LkeRecord {
            cluster_id: cluster,
            cluster_label: label.unwrap_or_default(),
            cluster_owned: owned,
            namespace: crate::targets::lke::manifests::dns_label(&format!(
                "{}-{}",
                d.app_name, d.env
            )),
            replicas: 1,
            nodes: 0,
            volume_gb: 0,
            nodebalancer_id: None,
            volume_labels: Vec::new(),
        });
        out.push(d);
    };
    for c in clusters {
        add(
            &c.tags,
            Some(c.id),
            true,
            c.label.clone(),
            c.region.as_deref(),
            c.created.as_deref(),
        );
    }
    // A firewall naming no cluster (`new`): a deploy cut short before it.
    for f in firewalls {
        let cid = crate::naming::cluster_of(&f.tags);
        let owned = cid.is_none_or(|id| clusters.iter().any(|c| c.id == id));
        add(&f.tags, cid, owned, None, None, f.created.as_deref());
    }
    out
}

/// A parked deployment's record rebuilt from its volume's tags.
pub fn record_from_volume(v: &Volume, catalog: &Catalog) -> Deployment {
    let mut r = record_from_tags(
        &v.tags,
        format!("volume-{}", v.id),
        v.region.as_deref(),
        v.created.as_deref(),
        Status::Parked,
        catalog,
    );
    r.cache_volume = Some(crate::registry::VolumeRecord {
        id: Some(v.id),
        label: v.label.clone().unwrap_or_default(),
        size_gb: v.size.unwrap_or(0),
    });
    r
}

/// A record rebuilt from an instance's tags (what `adopt` records).
pub fn record_from_instance(i: &Instance, catalog: &Catalog) -> Deployment {
    let mut r = record_from_tags(
        &i.tags,
        format!("linode-{}", i.id),
        i.region.as_deref(),
        i.created.as_deref(),
        Status::Untracked,
        catalog,
    );
    r.ipv4 = i.public_ipv4().map(str::to_string);
    r.hostname = r
        .ipv4
        .as_deref()
        .map(|ip| crate::naming::hostname_for(ip, None));
    r.url = r.hostname.as_deref().map(|h| app_url(h, 443));
    r.linode_type = i.linode_type.clone();
    r.label = i.label.clone();
    r.linode_id = Some(i.id);
    r
}

/// Joins the registry's records (already filtered) with the account.
/// `all_records` is the whole registry (an instance matching any record is
/// not untracked, even when filtered out). Untracked instances are kept when
/// `keep` says so (app/env filters).
pub fn join(
    records: &[Deployment],
    all_records: &[Deployment],
    view: &AccountView,
    catalog: &Catalog,
    keep: impl Fn(&Deployment) -> bool,
) -> Joined {
    let by_id: HashMap<u64, &Instance> = view.instances.iter().map(|i| (i.id, i)).collect();
    let by_label: HashMap<&str, &Instance> = view
        .instances
        .iter()
        .filter_map(|i| Some((i.label.as_deref()?, i)))
        .collect();
    let mut entries = Vec::new();
    // Cache volumes attached to no Linode of the account's (a parked
    // deployment's; one whose Linode was just deleted lets go a moment later).
    let free_volumes: HashMap<u64, &Volume> = view
        .volumes
        .iter()
        .filter(|v| v.linode_id.is_none_or(|l| !by_id.contains_key(&l)))
        .map(|v| (v.id, v))
        .collect();
    for r in records {
        if r.target == crate::state::DeployTarget::Lke {
            let mut record = r.clone();
            // A create whose answer was lost (or whose run was killed before
            // recording it): the cluster, found by the id in its tags.
            if let Some(l) = record.lke.as_mut().filter(|l| l.cluster_id.is_none()) {
                if let Some(c) = view.lke_clusters.iter().find(|c| {
                    DeploymentTags::parse(&c.tags).id.as_deref() == Some(r.deployment_id.as_str())
                }) {
                    l.cluster_id = Some(c.id);
                    l.cluster_owned = true;
                }
            }
            entries.push(Entry::Lke {
                record,
                tracked: true,
            });
            continue;
        }
        let listed = r.linode_id.is_some_and(|id| by_id.contains_key(&id));
        // Parked here (no Linode), or elsewhere (its Linode is gone and its
        // volume, tagged with its id, attached to nothing).
        let parked_here = r.linode_id.is_none() && r.last_status == crate::state::Status::Parked;
        let parked_elsewhere = r.linode_id.is_some() && !listed;
        if parked_here || parked_elsewhere {
            let kept = r
                .cache_volume
                .as_ref()
                .and_then(|c| c.id)
                .and_then(|id| free_volumes.get(&id))
                .or_else(|| {
                    free_volumes.values().find(|v| {
                        DeploymentTags::parse(&v.tags).id.as_deref()
                            == Some(r.deployment_id.as_str())
                    })
                });
            if let Some(v) = kept {
                let mut record = r.clone();
                record.linode_id = None;
                record.last_status = crate::state::Status::Parked;
                entries.push(Entry::Parked {
                    record,
                    tracked: true,
                    volume: (*v).clone(),
                });
                continue;
            }
        }
        let found = match r.linode_id {
            Some(id) => match by_id.get(&id) {
                Some(i) => Found::Instance((*i).clone()),
                None => Found::Unlisted(id),
            },
            None => match r.label.as_deref().and_then(|l| by_label.get(l)) {
                Some(i) => Found::Instance((*i).clone()),
                None => Found::NotCreated,
            },
        };
        let mut record = r.clone();
        if let Found::Instance(i) = &found {
            // The tag is the account's word on the expiry (another machine may
            // have set or changed it).
            let tags = DeploymentTags::parse(&i.tags);
            if let Some(t) = tags.expires {
                record.expires_at = Some(t);
            }
            // Records another machine made for it (a --replace there).
            for (d, r) in tags.dns {
                if !record
                    .dns_records
                    .iter()
                    .any(|x| (x.domain_id, x.record_id) == (d, r))
                {
                    record.dns_records.push(DnsRecord::from_tag(d, r));
                }
            }
        }
        entries.push(Entry::Tracked {
            record,
            instance: found,
        });
    }
    let known_ids: HashSet<u64> = all_records.iter().filter_map(|r| r.linode_id).collect();
    let known_labels: HashSet<&str> = all_records
        .iter()
        .filter_map(|r| r.label.as_deref())
        .collect();
    for i in &view.instances {
        let known = known_ids.contains(&i.id)
            || i.label.as_deref().is_some_and(|l| known_labels.contains(l));
        if !known {
            let record = record_from_instance(i, catalog);
            if keep(&record) {
                entries.push(Entry::Untracked {
                    record,
                    instance: i.clone(),
                });
            }
        }
    }
    for record in lke_records_from_tags(
        &view.lke_clusters,
        &view.lke_firewalls,
        all_records,
        catalog,
    ) {
        if keep(&record) {
            entries.push(Entry::Lke {
                record,
                tracked: false,
            });
        }
    }
    // Firewalls whose deployment id matches no instance and no pending record.
    // An instance skipped as unreadable still owns its firewall.
    let live_ids: HashSet<String> = view
        .instances
        .iter()
        .filter_map(|i| DeploymentTags::parse(&i.tags).id)
        .chain(
            view.skipped
                .iter()
                .filter(|s| s.kind == "instance")
                .filter_map(|s| DeploymentTags::parse(&s.tags).id),
        )
        .chain(
            all_records
                .iter()
                .filter(|r| r.linode_id.is_none())
                .map(|r| r.deployment_id.clone()),
        )
        .collect();
    // A parked deployment keeps its firewall.
    let parked_ids: HashSet<String> = free_volumes
        .values()
        .filter_map(|v| DeploymentTags::parse(&v.tags).id)
        .collect();
    let used_fw: HashSet<u64> = all_records
        .iter()
        .filter(|r| r.linode_id.is_some_and(|id| by_id.contains_key(&id)))
        .filter_map(|r| r.firewall.as_ref().and_then(FirewallRecord::id))
        .collect();
    let (young_firewalls, orphan_firewalls) = view
        .firewalls
        .iter()
        .filter(|f| {
            let id = DeploymentTags::parse(&f.tags).id;
            // Attached to a Linode, it is in use whatever its tags say.
            let attached = f.entities.as_ref().is_some_and(|e| !e.is_empty());
            !attached
                && !used_fw.contains(&f.id)
                && id.is_none_or(|id| !live_ids.contains(&id) && !parked_ids.contains(&id))
        })
        .cloned()
        .partition(is_young);
    // A volume is made after its Linode: unattached with no Linode of its
    // deployment left, and no record here, it is a deployment parked
    // elsewhere (or by `destroy --keep-volume`).
    for v in free_volumes.values() {
        let tags = DeploymentTags::parse(&v.tags);
        let live = tags.id.as_ref().is_some_and(|id| live_ids.contains(id));
        let recorded = all_records.iter().any(|r| {
            r.cache_volume.as_ref().is_some_and(|c| c.id == Some(v.id))
                || tags.id.as_deref() == Some(r.deployment_id.as_str())
        });
        if live || recorded {
            continue;
        }
        let record = record_from_volume(v, catalog);
        if keep(&record) {
            entries.push(Entry::Parked {
                record,
                tracked: false,
                volume: (*v).clone(),
            });
        }
    }
    Joined {
        entries,
        orphan_firewalls,
        young_firewalls,
    }
}

/// Whether the process that recorded a pending deployment may still be
/// creating it: a record younger than [`PENDING_MAX_AGE`] and, on this
/// machine, its process still alive: same boot, same pid, same start time
/// (a pid reused by another process is not the deploy).
pub fn create_may_be_running(d: &Deployment) -> bool {
    let Some(p) = &d.pending else {
        return false;
    };
    if Utc::now() - p.started_at >= PENDING_MAX_AGE {
        return false;
    }
    if p.host != crate::naming::machine_name() {
        return true;
    }
    if p.pid == std::process::id() {
        return false;
    }
    if let (Some(then), Some(now)) = (&p.boot_id, crate::registry::boot_id()) {
        if *then != now {
            return false;
        }
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(p.pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    match p.proc_start {
        Some(start) => alive && crate::registry::process_start(p.pid) == Some(start),
        None => alive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: u64, label: &str, tags: &[&str]) -> Instance {
        serde_json::from_value(serde_json::json!({
            "id": id, "label": label, "status": "running", "ipv4": ["127.0.0.1"], "region": "us-ord",
            "type": "g6-standard-2", "created": "2026-11-26T14:30:00", "tags": tags,
        }))
        .unwrap()
    }

    fn firewall(id: u64, dep: &str) -> Firewall {
        serde_json::from_value(serde_json::json!({
            "id": id, "label": format!("fw{id}"), "tags": ["build_ai", format!("build_ai_id={dep}")],
            "created": "2026-01-01T00:00:00"
        }))
        .unwrap()
    }

    /// A pending record of this machine naming `pid`, with these extra fields.
    fn pending_of(pid: u32, extra: serde_json::Value) -> Deployment {
        let mut d = crate::registry::tests::record("dep-pid", "a");
        d.linode_id = None;
        let mut p = serde_json::json!({
            "pid": pid, "host": crate::naming::machine_name(), "started_at": Utc::now(),
        });
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        d.pending = Some(serde_json::from_value(p).unwrap());
        d
    }

    /// Issue 16, item 4: a pid reused by another process, or a record older
    /// than the age limit, is not a deploy still creating.
    #[test]
    fn a_reused_pid_or_an_old_record_is_not_a_deploy_in_progress() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(19)?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap();
        let checks = [
            (serde_json::json!({"proc_start": start}), true),
            // The same pid, but another process (started at another time).
            (serde_json::json!({"proc_start": start + 1}), false),
            // A record of an older version (no start time) past the age limit.
            (
                serde_json::json!({"started_at": Utc::now() - chrono::Duration::hours(2)}),
                false,
            ),
        ];
        let results: Vec<bool> = checks
            .iter()
            .map(|(extra, _)| create_may_be_running(&pending_of(pid, extra.clone())))
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        for ((extra, want), got) in checks.iter().zip(results) {
            assert_eq!(got, *want, "{extra}");
        }
    }

    #[test]
    fn a_young_firewall_without_an_instance_is_not_an_orphan() {
        let now = Utc::now().naive_utc();
        let at = |age: chrono::Duration| {
            let mut f = firewall(20, "dep-elsewhere");
            f.created = Some((now - age).format("%Y-%m-%dT%H:%M:%S").to_string());
            f
        };
        let view = AccountView {
            volumes: vec![],
            firewalls: vec![at(chrono::Duration::seconds(5))],
            ..Default::default()
        };
        let j = join(&[], &[], &view, &Catalog::stock(), |_| true);
        assert!(j.orphan_firewalls.is_empty());
        assert_eq!(j.young_firewalls.len(), 1);
        // A clock ahead of ours: still young. Two hours old: an orphan.
        for (age, young) in [
            (chrono::Duration::seconds(-90), true),
            (chrono::Duration::hours(2), false),
        ] {
            assert_eq!(is_young(&at(age)), young, "{age}");
        }
    }

    #[test]
    fn the_expiry_tag_is_the_accounts_word_for_tracked_records_too() {
        let catalog = Catalog::stock();
        let mut a = crate::registry::tests::record("dep-a", "a");
        a.linode_id = Some(1);
        assert_eq!(a.expires_at, None);
        let view = AccountView {
            volumes: vec![],
            instances: vec![instance(
                1,
                "lbl-a",
                &[
                    "build_ai",
                    "build_ai_id=dep-a",
                    "build_ai_expires=20260101T0000Z",
                ],
            )],
            firewalls: vec![],
            skipped: vec![],
            types: None,
            ..Default::default()
        };
        let records = vec![a];
        let j = join(&records, &records, &view, &catalog, |_| true);
        assert_eq!(
            j.entries[0].record().expires_at.map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:00:00+00:00".to_string())
        );
    }

    #[test]
    fn records_untracked_missing_and_orphans() {
        let catalog = Catalog::stock();
        let mut a = crate::registry::tests::record("dep-a", "a");
        a.linode_id = Some(1);
        let mut gone = crate::registry::tests::record("dep-gone", "g");
        gone.linode_id = Some(99);
        let mut pending = crate::registry::tests::record("dep-p", "p");
        pending.linode_id = None;
        pending.label = Some("lbl-p".into());
        let records = vec![a, gone, pending];
        let view = AccountView {
            volumes: vec![],
            instances: vec![
                instance(1, "lbl-a", &["build_ai", "build_ai_id=dep-a"]),
                instance(
                    2,
                    "lbl-other",
                    &[
                        "build_ai",
                        "build_ai_app=other",
                        "build_ai_env=prod",
                        "build_ai_template=chat-agent",
                        "build_ai_template_version=0.2.0",
                        "build_ai_id=dep-x",
                    ],
                ),
                instance(3, "lbl-p", &["build_ai", "build_ai_id=dep-p"]),
            ],
            firewalls: vec![
                firewall(10, "dep-a"),
                firewall(11, "dep-crashed"),
                firewall(12, "dep-p"),
            ],
            skipped: vec![],
            types: None,
            ..Default::default()
        };
        let j = join(&records, &records, &view, &catalog, |_| true);
        assert_eq!(j.entries.len(), 4);
        assert!(
            matches!(&j.entries[0], Entry::Tracked { instance: Found::Instance(i), .. } if i.id == 1)
        );
        assert!(matches!(
            &j.entries[1],
            Entry::Tracked {
                instance: Found::Unlisted(99),
                ..
            }
        ));
        assert!(
            matches!(&j.entries[2], Entry::Tracked { instance: Found::Instance(i), .. } if i.id == 3),
            "pending found by label"
        );
        match &j.entries[3] {
            Entry::Untracked { record, .. } => {
                assert_eq!(
                    (record.app_name.as_str(), record.env.as_str()),
                    ("other", "prod")
                );
                assert_eq!(record.template_version, "0.2.0");
                assert_eq!(record.deployment_id, "dep-x");
                assert!(!record.probes.is_empty(), "probes from the stock template");
            }
            e => panic!("{e:?}"),
        }
        let orphans: Vec<u64> = j.orphan_firewalls.iter().map(|f| f.id).collect();
        assert_eq!(orphans, [11]);
    }
}
