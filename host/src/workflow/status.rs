//! `status` as data: the account's tagged instances and firewalls (one list
//! call each per 500, pages after the first asked for at once; plans and
//! prices from a day-old copy) joined with the registry, then
//! every running deployment's health probed through its proxy, concurrently
//! and bounded. What was seen is written back to the registry without ever
//! downgrading a record another run completed meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::blueprint::catalog::Catalog;
use crate::health::{
    self, boot_verdict, builtin_verdict, hook_probes, HealthVerdict, Prober, ServiceProbe,
};
use crate::hooks::{DeployContext, TemplateHooks};
use crate::linode::{ApiError, Firewall, Instance, LinodeClient, Price};
use crate::registry::{Deployment, FirewallRecord, Registry};
use crate::state::{InstanceState, Status};
use crate::workflow::account::{self, AccountView, Entry, Found};
use crate::workflow::lke;
use std::path::Path;

/// How many deployments are checked at once.
pub const DEFAULT_CONCURRENCY: u16 = 100;

/// One row of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    #[serde(flatten)]
    pub deployment: Deployment,
    /// False for an instance with linode-ai's tags that this machine has no record of.
    pub tracked: bool,
    /// The instance status the API reported (None: not asked or not found).
    pub api_status: Option<InstanceState>,
    pub status: Status,
    pub detail: Option<String>,
    pub http_status: Option<u16>,
    pub checked_at: DateTime<Utc>,
    /// The plan's price in its region.
    pub price: Option<Price>,
    /// What the template's hook logged while judging (escaped when shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hook_logs: Vec<String>,
    /// Its expiry (`expires_at`) has passed: `destroy --expired` removes it.
    pub expired: bool,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub rows: Vec<StatusRow>,
    pub orphan_firewalls: Vec<Firewall>,
    /// Firewalls with no instance yet, young enough that a deploy (perhaps on
    /// another machine) may still be creating their Linode; left alone.
    pub young_firewalls: Vec<Firewall>,
    pub cost: Cost,
    /// The account could not be listed: rows come from the registry only.
    pub account_error: Option<String>,
    /// Instances (or firewalls) the API described in a shape linode-ai cannot
    /// read: left out of the rows, and counted as not checked.
    pub skipped: Vec<crate::linode::Skipped>,
    /// `--app`/`--env` matched nothing: the apps and envs there are (from the
    /// registry and the account's tags), so a typo shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<Vec<AppEnvs>>,
}

/// One app and its envs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppEnvs {
    pub app: String,
    pub envs: Vec<String>,
}

/// The apps and envs of the registry's records and the account's tagged instances.
fn apps_and_envs(records: &[Deployment], view: &AccountView) -> Vec<AppEnvs> {
    let mut all: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for d in records {
        all.entry(d.app_name.clone())
            .or_default()
            .insert(d.env.clone());
    }
    for i in &view.instances {
        let t = crate::naming::DeploymentTags::parse(&i.tags);
        if let Some(app) = t.app {
            all.entry(app)
                .or_default()
                .insert(t.env.unwrap_or_else(|| "default".into()));
        }
    }
    all.into_iter()
        .map(|(app, envs)| AppEnvs {
            app,
            envs: envs.into_iter().collect(),
        })
        .collect()
}

/// What to say when `--app`/`--env` matched nothing: which names exist.
pub fn unmatched_message(app: Option<&str>, env: Option<&str>, existing: &[AppEnvs]) -> String {
    let q = crate::sanitize::quote;
    let asked: Vec<String> = [("--app", app), ("--env", env)]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| format!("{f} {}", q(v))))
        .collect();
    if existing.is_empty() {
        return format!(
            "no deployment matches {}; there are none here or in the account",
            asked.join(" ")
        );
    }
    let hint = match (app, existing.iter().find(|a| Some(a.app.as_str()) == app)) {
        (Some(a), None) => crate::suggest::did_you_mean(a, existing.iter().map(|x| x.app.as_str())),
        (_, Some(found)) => env
            .map(|e| crate::suggest::did_you_mean(e, found.envs.iter().map(String::as_str)))
            .unwrap_or_default(),
        (None, None) => env
            .map(|e| {
                crate::suggest::did_you_mean(
                    e,
                    existing
                        .iter()
                        .flat_map(|x| x.envs.iter().map(String::as_str)),
                )
            })
            .unwrap_or_default(),
    };
    let list: Vec<String> = existing
        .iter()
        .take(20)
        .map(|a| {
            format!(
                "{} (env: {})",
                crate::sanitize::line(&crate::sanitize::cut(&a.app, 64)),
                a.envs
                    .iter()
                    .take(10)
                    .map(|e| crate::sanitize::line(&crate::sanitize::cut(e, 64)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    format!(
        "no deployment matches {}.{hint} Deployments: {}{}",
        asked.join(" "),
        list.join("; "),
        if existing.len() > 20 { "; ..." } else { "" }
    )
}

/// What the Linodes shown cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cost {
    pub linodes: usize,
    pub hourly: f64,
    pub monthly: f64,
    /// Hourly price times hours since each was created (capped at the monthly price per month).
    pub so_far: f64,
    /// Linodes whose price is unknown.
    pub unpriced: usize,
    /// GB of cache volumes (the listed deployments' and the orphaned ones).
    pub volume_gb: u64,
    /// LKE deployments' NodeBalancers (in the prices above).
    pub nodebalancers: usize,
    /// GB their claims asked for (in the prices above).
    pub claim_gb: u64,
}

/// What a status check found, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Checked, and every deployment is running (nothing orphaned or unmatched).
    AllRunning,
    /// Checked, and some deployment is not running or has expired (or a
    /// firewall is left over).
    NotAllRunning,
    /// Could not check everything (API error, auth, network, unreadable instances).
    CouldNotCheck,
}

impl StatusReport {
    pub fn verdict(&self) -> Verdict {
        if self.account_error.is_some()
            || !self.skipped.is_empty()
            || self.rows.iter().any(|r| r.status == Status::Unknown)
        {
            Verdict::CouldNotCheck
        } else if self.unmatched.is_none()
            && self
                .rows
                .iter()
                // Parked on purpose: not something to act on (unless expired).
                .all(|r| matches!(r.status, Status::Running | Status::Parked) && !r.expired)
            && self.orphan_firewalls.is_empty()
            && self.young_firewalls.is_empty()
        {
            Verdict::AllRunning
        } else {
            Verdict::NotAllRunning
        }
    }
}

/// The context a hook judges a running deployment in: its record's place,
/// and its template's services (with the image it was deployed with).
fn context_for(d: &Deployment, stack: &crate::blueprint::stack::Stack) -> DeployContext {
    // The image it was deployed with, when the record's still reads as one.
    let stack = match d
        .image
        .as_deref()
        .and_then(|i| crate::blueprint::stack::ImageRef::parse(i, "image").ok())
    {
        Some(image) => stack.clone().with_image(&image),
        None => stack.clone(),
    };
    DeployContext::new(
        crate::hooks::ContextPlace {
            template: d.template.clone(),
            template_version: d.template_version.clone(),
            app_name: d.app_name.clone(),
            env_name: d.env.clone(),
            region: d.region.clone(),
            linode_type: d.linode_type.clone().unwrap_or_default(),
            external_port: d.health.port,
            hostname: d.hostname.clone(),
            now: std::time::Duration::from_secs(Utc::now().timestamp().max(0) as u64),
        },
        &stack,
        d.public_env.clone(),
    )
}

/// The health of a running deployment: boot progress first, then every
/// service's check, judged by the template's hook or the built-in rule.
/// Returns the verdict, the fronted service's HTTP status and the hook's log lines.
pub async fn check_health(
    prober: &Prober,
    hooks: &TemplateHooks,
    d: &Deployment,
) -> (HealthVerdict, Option<u16>, Vec<String>) {
    let timeout = |s: u64| Duration::from_secs(s.clamp(1, 30));
    let mut probes: Vec<ServiceProbe> = Vec::new();
    if !d.is_https() {
        let Some(target) = d.probe_target(&d.health.http_path) else {
            return (
                HealthVerdict::Unhealthy("no address recorded".into()),
                None,
                vec![],
            );
        };
        let probe = prober.get(&target, timeout(d.health.timeout_seconds)).await;
        probes.push(("app".into(), probe, d.health.success_codes.clone()));
    } else {
        let Some(boot_target) = d.probe_target(crate::blueprint::proxy::BOOT_PATH) else {
            return (
                HealthVerdict::Unhealthy("no address recorded".into()),
                None,
                vec![],
            );
        };
        let boot = prober.get(&boot_target, Duration::from_secs(3)).await;
        if let Some(v) = boot_verdict(&boot) {
            return (v, boot.http_status(), vec![]);
        }
        for p in &d.probes {
            let Some(target) = d.probe_target(&p.path) else {
                continue;
            };
            let probe = prober.get(&target, timeout(p.timeout_seconds)).await;
            probes.push((p.service.clone(), probe, p.success_codes.clone()));
        }
    }
    let http = probes.first().and_then(|(_, p, _)| p.http_status());
    let Some(stack) = hooks.stack().filter(|_| hooks.has_hook()) else {
        return (builtin_verdict(&probes), http, vec![]);
    };
    let list = hook_probes(&probes);
    let (verdict, logs) = hooks.health(&context_for(d, stack), &list).await;
    let verdict = match verdict {
        Ok(Some(v)) => v,
        Ok(None) => builtin_verdict(&probes),
        Err(e) => HealthVerdict::Unhealthy(e.shown()),
    };
    (verdict, http, logs)
}

fn row(
    d: Deployment,
    tracked: bool,
    api: Option<InstanceState>,
    status: Status,
    detail: Option<String>,
) -> StatusRow {
    let checked_at = Utc::now();
    StatusRow {
        expired: d.is_expired(checked_at),
        deployment: d,
        tracked,
        api_status: api,
        status,
        detail,
        http_status: None,
        checked_at,
        price: None,
        hook_logs: Vec::new(),
    }
}

/// Checks one entry whose instance state is known.
async fn check_instance(
    prober: &Prober,
    hooks: &TemplateHooks,
    mut d: Deployment,
    tracked: bool,
    i: &Instance,
) -> StatusRow {
    let state = i.state();
    if d.ipv4.is_none() {
        d.ipv4 = i.public_ipv4().map(str::to_string);
    }
    if d.hostname.is_none() {
        if let Some(ip) = &d.ipv4 {
            let host = crate::naming::hostname_for(ip, d.domain.as_deref());
            d.url = Some(health::app_url(&host, d.health.port));
            d.hostname = Some(host);
        }
    }
    if let Some(s) = state.status() {
        let s = if tracked { s } else { Status::Untracked };
        return row(d, tracked, Some(state), s, None);
    }
    let (verdict, http, logs) = check_health(prober, hooks, &d).await;
    let (status, detail) = if tracked {
        (verdict.status(), verdict.reason().map(str::to_string))
    } else {
        (
            Status::Untracked,
            Some(format!(
                "app {}{}; 'linode-ai adopt' records it here",
                verdict.status(),
                verdict
                    .reason()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )),
        )
    };
    let mut r = row(d, tracked, Some(state), status, detail);
    r.http_status = http;
    r.hook_logs = logs;
    r
}

/// What is wrong with a recorded firewall of Linode `linode`: gone, or no
/// longer attached (`None`: fine, or it could not be told). `listed` holds
/// the account's tagged firewalls; others (the user's own) are asked for.
async fn firewall_problem(
    client: &LinodeClient,
    listed: &HashMap<u64, Firewall>,
    d: &Deployment,
    linode: u64,
) -> Option<String> {
    let fw = match d.firewall.as_ref()? {
        FirewallRecord::Created { id: Some(id), .. } | FirewallRecord::Existing { id } => *id,
        _ => return None,
    };
    let attached = match listed.get(&fw) {
        Some(f) => f.attached_to(linode),
        None => match client.get_firewall(fw).await {
            Ok(f) => f.attached_to(linode),
            Err(e) if e.is_not_found() => {
                return Some(format!(
                    "firewall {fw} no longer exists, so Linode {linode} has no Cloud Firewall (only the proxy guards it); \
                     'linode-ai deploy --replace' makes a new deployment with one"
                ))
            }
            Err(_) => None,
        },
    };
    (attached == Some(false)).then(|| {
        format!(
            "firewall {fw} is not attached to Linode {linode}, so nothing but the proxy guards it; \
             attach it again: linode-cli firewalls device-create {fw} --id {linode} --type linode"
        )
    })
}

/// Checks an entry (and, for records missing from the tagged list, looks the
/// instance up by id), and the recorded firewall of an instance found.
async fn check_entry(
    client: &LinodeClient,
    prober: &Prober,
    hooks: &TemplateHooks,
    firewalls: &HashMap<u64, Firewall>,
    entry: Entry,
) -> StatusRow {
    let mut r = check_entry_instance(client, prober, hooks, entry).await;
    if let (Some(linode), true, Some(_)) = (r.deployment.linode_id, r.tracked, &r.api_status) {
        if let Some(problem) = firewall_problem(client, firewalls, &r.deployment, linode).await {
            if r.status == Status::Running {
                r.status = Status::Degraded;
            }
            r.detail = Some(match r.detail.take() {
                Some(d) => format!("{problem}; {d}"),
                None => problem,
            });
        }
    }
    r
}

async fn check_entry_instance(
    client: &LinodeClient,
    prober: &Prober,
    hooks: &TemplateHooks,
    entry: Entry,
) -> StatusRow {
    match entry {
        Entry::Untracked { record, instance } => {
            check_instance(prober, hooks, record, false, &instance).await
        }
        Entry::Tracked {
            record,
            instance: Found::Instance(i),
        } => {
            if record.is_pending() {
                // The create went through but the record was not completed (yet).
                let detail = if account::create_may_be_running(&record) {
                    format!(
                        "Linode {} exists; its deploy is still completing the record",
                        i.id
                    )
                } else {
                    format!("Linode {} exists; the record is completed from it", i.id)
                };
                let mut r = check_instance(prober, hooks, record, true, &i).await;
                r.deployment.linode_id = Some(i.id);
                if r.status == Status::Running {
                    return r;
                }
                r.detail = Some(r.detail.map(|d| format!("{detail}; {d}")).unwrap_or(detail));
                return r;
            }
            check_instance(prober, hooks, record, true, &i).await
        }
        Entry::Parked {
            record,
            tracked,
            volume,
        } => {
            let gb = volume.size.unwrap_or(0);
            let detail = format!(
                "parked: no Linode; cache volume {} ({gb} GB, ${:.2}/month) kept; 'linode-ai resume' in its project brings it back",
                volume.id,
                f64::from(gb) * crate::linode::VOLUME_MONTHLY_PER_GB
            );
            row(record, tracked, None, Status::Parked, Some(detail))
        }
        Entry::Tracked {
            record,
            instance: Found::Unlisted(id),
        } => match client.get_instance(id).await {
            Ok(i) => check_instance(prober, hooks, record, true, &i).await,
            Err(e) if e.is_not_found() => missing(record, id),
            Err(e) => row(record, true, None, Status::Unknown, Some(e.to_string())),
        },
        Entry::Lke { record, tracked } => row(
            record,
            tracked,
            None,
            Status::Unknown,
            Some("an LKE deployment is checked through its cluster".into()),
        ),
        Entry::Tracked {
            record,
            instance: Found::Gone,
        } => {
            let id = record.linode_id.unwrap_or(0);
            missing(record, id)
        }
        Entry::Tracked {
            record,
            instance: Found::NotCreated,
        } => {
            let detail = if account::create_may_be_running(&record) {
                let p = record.pending.as_ref().expect("pending");
                format!(
                    "deploy in progress (pid {} on {})",
                    p.pid,
                    crate::sanitize::line(&p.host)
                )
            } else {
                "create did not complete: no Linode has its label; 'linode-ai destroy' removes the record (and any firewall made for it)".to_string()
            };
            row(record, true, None, Status::Pending, Some(detail))
        }
    }
}

/// An LKE deployment's row: its cluster, its replicas, health through the proxy.
async fn lke_row(
    client: &LinodeClient,
    probe_ca: Option<&std::path::Path>,
    hooks: &TemplateHooks,
    kube_dir: &std::path::Path,
    mut d: Deployment,
    tracked: bool,
) -> StatusRow {
    let o = observe(client, probe_ca, hooks, kube_dir, &d).await;
    if d.url.is_none() {
        d.url = o.url.clone();
    }
    let (status, detail) = if tracked || matches!(o.status, Status::Pending) {
        (o.status, o.detail)
    } else {
        (
            Status::Untracked,
            Some(format!(
                "on LKE, {}{}; recorded on another machine",
                o.status.as_str(),
                o.detail.map(|d| format!(" ({d})")).unwrap_or_default()
            )),
        )
    };
    let mut r = row(d, tracked, None, status, detail);
    r.http_status = o.http_status;
    r.hook_logs = o.hook_logs;
    r
}

fn missing(record: Deployment, id: u64) -> StatusRow {
    row(
        record,
        true,
        None,
        Status::Missing,
        Some(format!(
            "Linode {id} no longer exists; 'linode-ai destroy' removes the record"
        )),
    )
}

/// The hooks of each template, loaded once.
fn hooks_by_template(
    catalog: &Catalog,
    entries: &[Entry],
    cache: &std::path::Path,
) -> HashMap<String, Arc<TemplateHooks>> {
    let mut out: HashMap<String, Arc<TemplateHooks>> = HashMap::new();
    for e in entries {
        let d = e.record();
        out.entry(d.template.clone()).or_insert_with(|| {
            Arc::new(
                catalog
                    .get(&d.template)
                    .and_then(|t| {
                        let stack = crate::blueprint::stack::Stack::from_spec(&t.spec).ok()?;
                        TemplateHooks::for_template(t, &stack, cache).ok()
                    })
                    .unwrap_or_else(|| {
                        TemplateHooks::builtin(
                            &d.template,
                            &d.template_version,
                            d.health.success_codes.clone(),
                        )
                    }),
            )
        });
    }
    out
}

/// What `status` needs.
pub struct StatusQuery<'a> {
    pub app: Option<&'a str>,
    pub env: Option<&'a str>,
    pub concurrency: usize,
    pub hook_cache: &'a std::path::Path,
    /// The copy of the API's plans and prices (see [`account::Prices`]).
    pub types_cache: &'a std::path::Path,
    pub probe_ca: Option<&'a std::path::Path>,
    /// LKE kubeconfigs.
    pub kube_dir: &'a std::path::Path,
}

/// Lists the account, joins, probes, and writes back what was seen.
pub async fn status(
    client: &LinodeClient,
    registry: &Registry,
    catalog: &Catalog,
    q: &StatusQuery<'_>,
) -> anyhow::Result<StatusReport> {
    let data = registry.load()?;
    let records: Vec<Deployment> = data.filter(q.app, q.env).into_iter().cloned().collect();
    let (view, account_error) =
        match AccountView::fetch(client, account::Prices::Cached(q.types_cache)).await {
            Ok(v) => (v, None),
            Err(e) => (AccountView::default(), Some(e)),
        };
    if let Some(e) = &account_error {
        // Without the account nothing can be checked; say so for every record.
        let rows = records
            .into_iter()
            .map(|d| row(d, true, None, Status::Unknown, Some(e.to_string())))
            .collect();
        return Ok(StatusReport {
            rows,
            orphan_firewalls: vec![],
            young_firewalls: vec![],
            cost: Cost::default(),
            account_error: Some(e.to_string()),
            skipped: vec![],
            unmatched: None,
        });
    }
    let keep =
        |d: &Deployment| q.app.is_none_or(|a| d.app_name == a) && q.env.is_none_or(|e| d.env == e);
    let joined = account::join(&records, &data.deployments, &view, catalog, keep);
    let hooks = hooks_by_template(catalog, &joined.entries, q.hook_cache);
    let all: Vec<&Deployment> = joined.entries.iter().map(Entry::record).collect();
    let mut pinned: Vec<Deployment> = all.iter().map(|d| (*d).clone()).collect();
    // Untracked or pending entries get their address from the instance.
    for (d, e) in pinned.iter_mut().zip(&joined.entries) {
        if let (
            None,
            Entry::Tracked {
                instance: Found::Instance(i),
                ..
            }
            | Entry::Untracked { instance: i, .. },
        ) = (&d.ipv4, e)
        {
            d.ipv4 = i.public_ipv4().map(str::to_string);
            d.hostname = d
                .ipv4
                .as_deref()
                .map(|ip| crate::naming::hostname_for(ip, d.domain.as_deref()));
        }
    }
    let prober = Prober::new(pinned.iter(), q.probe_ca)?;
    let sem = Arc::new(Semaphore::new(q.concurrency.max(1)));
    let firewalls: Arc<HashMap<u64, Firewall>> =
        Arc::new(view.firewalls.iter().map(|f| (f.id, f.clone())).collect());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, entry) in joined.entries.into_iter().enumerate() {
        let (client, prober, sem) = (client.clone(), prober.clone(), sem.clone());
        let hooks = hooks[&entry.record().template].clone();
        let firewalls = firewalls.clone();
        let kube_dir = q.kube_dir.to_path_buf();
        let probe_ca = q.probe_ca.map(std::path::Path::to_path_buf);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore open");
            let row = match entry {
                Entry::Lke { record, tracked } => {
                    lke_row(
                        &client,
                        probe_ca.as_deref(),
                        &hooks,
                        &kube_dir,
                        record,
                        tracked,
                    )
                    .await
                }
                entry => check_entry(&client, &prober, &hooks, &firewalls, entry).await,
            };
            (i, row)
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(r) = done {
            rows.push(r);
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    let mut rows: Vec<StatusRow> = rows.into_iter().map(|(_, r)| r).collect();
    let mut cost = Cost::default();
    for r in &mut rows {
        let lke_nodes = match &r.deployment.lke {
            Some(l) if !matches!(r.status, Status::Missing | Status::Pending) => Some(l),
            _ => None,
        };
        if r.api_status.is_none() && lke_nodes.is_none() {
            continue;
        }
        r.price = r
            .deployment
            .linode_type
            .as_deref()
            .and_then(|t| view.type_named(t))
            .and_then(|t| t.price_in(&r.deployment.region));
        if let Some(l) = lke_nodes {
            // Its nodes (only a cluster linode-ai made is counted whole),
            // the NodeBalancer and the claims' volumes.
            let nodes = if l.cluster_owned {
                f64::from(l.nodes)
            } else {
                0.0
            };
            let extra = crate::linode::NODEBALANCER_MONTHLY
                + f64::from(l.volume_gb) * crate::linode::VOLUME_MONTHLY_PER_GB;
            r.price = r.price.map(|p| Price {
                hourly: p.hourly.map(|h| h * nodes + extra / 730.0),
                monthly: p.monthly.map(|m| m * nodes + extra),
            });
        }
        if let Some(l) = lke_nodes {
            cost.nodebalancers += 1;
            cost.claim_gb += u64::from(l.volume_gb);
        }
        // An LKE deployment's nodes are Linodes (those of a cluster it made).
        cost.linodes += match lke_nodes {
            Some(l) if l.cluster_owned => l.nodes as usize,
            Some(_) => 0,
            None => 1,
        };
        match r.price {
            Some(Price {
                hourly: Some(h),
                monthly,
            }) => {
                cost.hourly += h;
                let m = monthly.unwrap_or(h * 730.0);
                cost.monthly += m;
                let hours =
                    (Utc::now() - r.deployment.created_at).num_minutes().max(0) as f64 / 60.0;
                let months = (hours / 730.0).ceil().max(1.0);
                cost.so_far += (hours.ceil() * h).min(m * months);
            }
            _ => cost.unpriced += 1,
        }
    }
    record_results(registry, &rows)?;
    cost.volume_gb = rows
        .iter()
        .flat_map(|r| {
            crate::workflow::account::volumes_of(&r.deployment.deployment_id, &view.volumes)
        })
        .map(|v| u64::from(v.size.unwrap_or(0)))
        .sum();
    let filtered = q.app.is_some() || q.env.is_some();
    let unmatched = (filtered
        && rows.is_empty()
        && joined.orphan_firewalls.is_empty()
        && joined.young_firewalls.is_empty())
    .then(|| apps_and_envs(&data.deployments, &view));
    Ok(StatusReport {
        unmatched,
        rows,
        orphan_firewalls: joined.orphan_firewalls,
        young_firewalls: joined.young_firewalls,
        cost,
        account_error: None,
        skipped: view
            .skipped_matching(q.app, q.env)
            .into_iter()
            .cloned()
            .collect(),
    })
}

/// Writes what `status` saw into the registry: status words of tracked
/// records, and pending records completed from the instance found by label.
/// A record that changed since it was read (another run completed it) is
/// never overwritten with the older view.
pub fn record_results(registry: &Registry, rows: &[StatusRow]) -> anyhow::Result<()> {
    let now = Utc::now();
    registry.update(|data| {
        for r in rows.iter().filter(|r| r.tracked) {
            let Some(rec) = data
                .deployments
                .iter_mut()
                .find(|x| x.deployment_id == r.deployment.deployment_id)
            else {
                continue;
            };
            // An LKE cluster found by its tags completes the record.
            if let (Some(l), Some(seen)) = (rec.lke.as_mut(), r.deployment.lke.as_ref()) {
                if l.cluster_id.is_none() && seen.cluster_id.is_some() {
                    l.cluster_id = seen.cluster_id;
                    l.cluster_owned = seen.cluster_owned;
                }
            }
            let seen_pending = r.deployment.pending.is_some() && r.deployment.linode_id.is_some();
            if rec.linode_id.is_none() && seen_pending && r.status != Status::Pending {
                // Found by label: complete the record the deploy did not.
                rec.linode_id = r.deployment.linode_id;
                rec.ipv4 = rec.ipv4.clone().or_else(|| r.deployment.ipv4.clone());
                rec.hostname = rec
                    .hostname
                    .clone()
                    .or_else(|| r.deployment.hostname.clone());
                rec.url = rec.url.clone().or_else(|| r.deployment.url.clone());
                rec.pending = None;
            } else if rec.linode_id != r.deployment.linode_id {
                // Changed meanwhile (e.g. completed by its deploy): our view is older.
                continue;
            }
            if rec.linode_id.is_some() && r.status == Status::Pending {
                continue;
            }
            rec.last_status = r.status;
            rec.last_detail = r.detail.clone();
            rec.last_checked_at = Some(now);
        }
    })
}

/// `deploy --wait`: the same checks as `status`, for one deployment; with
/// the hook's log lines.
pub async fn check_one(
    client: &LinodeClient,
    prober: &Prober,
    hooks: &TemplateHooks,
    d: &Deployment,
) -> Result<(Option<InstanceState>, HealthVerdict, Vec<String>), ApiError> {
    let id = d.linode_id.expect("a created deployment");
    let i = client.get_instance(id).await?;
    let state = i.state();
    if let Some(s) = state.status() {
        let v = match s {
            Status::Provisioning => HealthVerdict::Starting("provisioning".into()),
            other => HealthVerdict::Unhealthy(other.as_str().into()),
        };
        return Ok((Some(state), v, vec![]));
    }
    let (verdict, _, logs) = check_health(prober, hooks, d).await;
    Ok((Some(state), verdict, logs))
}

/// What an LKE deployment looks like now.
pub struct Observed {
    pub status: Status,
    pub detail: Option<String>,
    pub replicas: Vec<lke::Replicas>,
    pub http_status: Option<u16>,
    pub hook_logs: Vec<String>,
    /// The cluster exists (its nodes cost).
    pub cluster_exists: bool,
    /// The URL, when found from the load balancer (another machine's deployment).
    pub url: Option<String>,
}

/// The cluster, the workloads' replicas and health through the proxy.
pub async fn observe(
    client: &LinodeClient,
    probe_ca: Option<&Path>,
    hooks: &TemplateHooks,
    kube_dir: &Path,
    d: &Deployment,
) -> Observed {
    let mut d = d.clone();
    let mut o = Observed {
        status: Status::Unknown,
        detail: None,
        replicas: vec![],
        http_status: None,
        hook_logs: vec![],
        cluster_exists: false,
        url: None,
    };
    let Some(l) = d.lke.clone() else {
        o.detail = Some("an LKE record without its cluster".into());
        return o;
    };
    let Some(cid) = l.cluster_id else {
        o.status = Status::Pending;
        o.detail = Some(if crate::workflow::account::create_may_be_running(&d) {
            "deploy in progress: creating the cluster".into()
        } else {
            format!(
                "the cluster's create did not complete: no cluster is recorded; 'linode-ai destroy' removes the record (an LKE cluster labelled {} may exist: linode-cli lke clusters-list)",
                l.cluster_label
            )
        });
        return o;
    };
    match client.get_lke_cluster(cid).await {
        Ok(_) => o.cluster_exists = true,
        Err(e) if e.is_not_found() => {
            o.status = Status::Missing;
            o.detail = Some(format!(
                "LKE cluster {cid} no longer exists; 'linode-ai destroy' removes the record and what the cluster left"
            ));
            return o;
        }
        Err(e) => {
            o.detail = Some(e.to_string());
            return o;
        }
    }
    let kube = match lke::kube_for(client, kube_dir, cid).await {
        Ok(k) => k,
        Err(e) => {
            o.status = Status::Provisioning;
            o.detail = Some(format!("cluster {cid}: {e:#}"));
            return o;
        }
    };
    match lke::replicas(&kube, &l.namespace).await {
        Ok(r) => o.replicas = r,
        Err(e) => {
            o.status = Status::Unknown;
            o.detail = Some(format!("cluster {cid}: {e}"));
            return o;
        }
    }
    let shown = lke::describe_replicas(&o.replicas);
    if o.replicas.is_empty() {
        o.status = if d.pending.is_some() || d.hostname.is_none() {
            Status::Provisioning
        } else {
            Status::Missing
        };
        o.detail = Some(format!(
            "cluster {cid} has no workloads in namespace {}",
            l.namespace
        ));
        return o;
    }
    if d.hostname.is_none() {
        // Another machine's deployment: its name is the load balancer's.
        if let Ok(lb) =
            lke::wait_load_balancer(&kube, &l.namespace, Duration::ZERO, Duration::ZERO).await
        {
            let host = d.domain.clone().unwrap_or(lb.hostname);
            d.health.port = lb.https_port;
            d.url = Some(crate::health::app_url(&host, lb.https_port));
            d.hostname = Some(host);
            d.ipv4 = lb.ipv4;
        }
    }
    if d.hostname.is_none() {
        o.status = Status::Starting;
        o.detail = Some(format!("waiting for the load balancer; {shown}"));
        return o;
    }
    let prober = match Prober::new([&d], probe_ca) {
        Ok(p) => p,
        Err(e) => {
            o.detail = Some(format!("{e:#}"));
            return o;
        }
    };
    o.url = d.url.clone();
    let (verdict, http, logs) = check_health(&prober, hooks, &d).await;
    o.http_status = http;
    o.hook_logs = logs;
    if let Some(f) = o.replicas.iter().find(|w| w.failed.is_some()) {
        o.status = Status::Degraded;
        o.detail = Some(format!(
            "{} failed: {}; 'linode-ai logs --service {}' shows why; replicas {shown}",
            f.name,
            f.failed.as_deref().unwrap_or_default(),
            f.name.trim_start_matches("job ")
        ));
        return o;
    }
    let all_ready = o.replicas.iter().all(|w| w.ready >= w.wanted);
    let some_ready = o.replicas.iter().all(|w| w.ready > 0);
    o.status = match (&verdict, all_ready) {
        (HealthVerdict::Healthy, true) => Status::Running,
        (HealthVerdict::Healthy, false) if some_ready => Status::Degraded,
        (HealthVerdict::Healthy, false) => Status::Starting,
        (_, _) if !all_ready => Status::Starting,
        _ => verdict.status(),
    };
    o.detail = Some(match verdict.reason() {
        Some(r) => format!("replicas {shown}; {r}"),
        None => format!("replicas {shown}"),
    });
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_separate_could_not_check_from_not_running() {
        let mut r = row(
            crate::registry::tests::record("a", "a"),
            true,
            None,
            Status::Running,
            None,
        );
        let mut report = StatusReport {
            rows: vec![r.clone()],
            orphan_firewalls: vec![],
            young_firewalls: vec![],
            cost: Cost::default(),
            account_error: None,
            skipped: vec![],
            unmatched: None,
        };
        assert_eq!(report.verdict(), Verdict::AllRunning);
        r.status = Status::Starting;
        report.rows.push(r.clone());
        assert_eq!(report.verdict(), Verdict::NotAllRunning);
        r.status = Status::Unknown;
        report.rows.push(r);
        assert_eq!(report.verdict(), Verdict::CouldNotCheck);
        report.rows.clear();
        report.account_error = Some("401".into());
        assert_eq!(report.verdict(), Verdict::CouldNotCheck);
    }

    #[test]
    fn status_never_downgrades_a_record_completed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path().join("r.json"));
        let mut pending = crate::registry::tests::record("d", "a");
        pending.linode_id = None;
        reg.add(pending.clone()).unwrap();
        // status saw it pending...
        let seen = row(
            pending.clone(),
            true,
            None,
            Status::Pending,
            Some("x".into()),
        );
        // ...while its deploy completed it.
        let mut done = pending;
        done.linode_id = Some(7);
        done.last_status = Status::Provisioning;
        reg.upsert(done).unwrap();
        record_results(&reg, &[seen]).unwrap();
        let rec = reg.load().unwrap().deployments.remove(0);
        assert_eq!(rec.linode_id, Some(7));
        assert_eq!(rec.last_status, Status::Provisioning);
    }
}
