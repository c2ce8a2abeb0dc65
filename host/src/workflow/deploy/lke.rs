//! `deploy --target lke`: from the same plan as a VM deploy, the cluster it
//! needs, what that costs, and the Kubernetes objects of one namespace
//! ([`lke_plan`]); then making them ([`deploy`]) and waiting for them
//! ([`wait_running`]).
//!
//! Order of a deploy, each step recorded before the next so a run cut short
//! leaves nothing `status` cannot see: the record (pending) → the Cloud
//! Firewall (tagged like a deployment, `build_ai_lke=new`) → the cluster
//! (tagged; unless `--cluster`) → the firewall's tag naming the cluster →
//! the kubeconfig → the objects → the load balancer's name → the objects
//! again with that name → the record completed. The NodeBalancer the cloud
//! controller makes gets the deployment's tags too (an annotation on the
//! proxy's Service).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use serde_json::Value;

use super::Progress;
use crate::blueprint::stack::PROXY;
use crate::health::app_url;
use crate::hooks::TemplateHooks;
use crate::linode::{CreateLkeCluster, CreatePool, LinodeClient, LkeCluster, NodeBalancer};
use crate::naming::{lke_tag, LKE_TAG_NEW};
use crate::registry::{Deployment, FirewallRecord, LkeRecord, Registry};
use crate::state::{DeployTarget, Status};
use crate::targets::lke::kube::{Kube, KubeAccess};
use crate::workflow::lke as cluster;

use super::plan::{display_env, env_specs, DeployPlan};
use crate::linode::{Price, NODEBALANCER_MONTHLY, VOLUME_MONTHLY_PER_GB};
use crate::targets::lke::{self, manifests::dns_label, ClusterPlan, LkeInput};

/// What an LKE deploy would make.
#[derive(Debug, Clone, Serialize)]
pub struct LkePlan {
    pub cluster: ClusterPlan,
    pub namespace: String,
    /// Nodes, the NodeBalancer and the claims' Block Storage, when the
    /// node plan's price is known.
    pub monthly_usd: Option<f64>,
    /// In apply order; the Secret's values are shown redacted.
    pub objects: Vec<Value>,
    pub notes: Vec<String>,
}

/// `ai-<app>-<first 8 of the id>`: an LKE label (3-32 letters, digits, `-`).
fn cluster_label(app: &str, id: &uuid::Uuid) -> String {
    let mut app = dns_label(app);
    app.truncate(20);
    format!(
        "ai-{}-{}",
        app.trim_matches('-'),
        &id.simple().to_string()[..8]
    )
}

/// The LKE plan of `plan` with `replicas` of the fronted service; `node`:
/// the node plan's price in the region, when the API said.
pub fn lke_plan(plan: &DeployPlan, replicas: u32, node: Option<&Price>) -> Result<LkePlan> {
    let s = &plan.settings;
    let namespace = dns_label(&format!("{}-{}", s.app_name, s.env_name));
    let volume_gb = plan
        .template
        .linode()
        .cache_gb
        .unwrap_or(lke::manifests::MIN_VOLUME_GB);
    let shown = display_env(&plan.env, &env_specs(&plan.template, &plan.stack));
    let id = plan.deployment_id.to_string();
    let objects = lke::render(&LkeInput {
        stack: &plan.stack,
        namespace: &namespace,
        app: &s.app_name,
        env_name: &s.env_name,
        deployment_id: &id,
        env: &shown,
        hostname: s.domain.as_deref(),
        acme_ca: s.acme_ca.as_deref(),
        firewall_id: None,
        tags: &plan.request.tags,
        https_port: s.https_port,
        replicas,
        volume_gb,
    })?;
    let cluster = lke::cluster_plan(
        &plan.stack,
        &cluster_label(&s.app_name, &plan.deployment_id),
        &s.region,
        &s.linode_type,
        None,
        replicas,
        volume_gb,
    );
    let nodes: u32 = cluster.node_pools.iter().map(|p| p.count).sum();
    let monthly_usd = node.and_then(|p| p.monthly).map(|m| {
        m * f64::from(nodes)
            + NODEBALANCER_MONTHLY
            + f64::from(cluster.volume_gb) * VOLUME_MONTHLY_PER_GB
    });
    let mut notes = vec![
        "the cluster's Kubernetes version is the newest LKE offers (GET /lke/versions), read at deploy".to_string(),
        format!(
            "a NodeBalancer (${NODEBALANCER_MONTHLY:.2}/month) fronts the proxy; Caddy gets its certificate for the NodeBalancer's name (or --domain) over HTTP-01, as on a VM"
        ),
    ];
    if plan.stack.needs_gpu() {
        notes.push("the GPU services ask for nvidia.com/gpu: 1; when no node advertises it, linode-ai installs NVIDIA's device plugin (as Akamai's 'Using GPUs on LKE' does)".into());
    }
    if !plan.stack.post_start_jobs.is_empty() {
        notes.push(format!(
            "the post-start steps run as Jobs ({}); the proxy starts once they succeeded, as on a VM",
            plan.stack
                .post_start_jobs
                .iter()
                .map(|j| j.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    notes.extend(lke::manifests::order_notes(&plan.stack));
    Ok(LkePlan {
        cluster,
        namespace,
        monthly_usd,
        objects,
        notes,
    })
}

/// What an LKE deploy needs besides the plan.
pub struct LkeOptions {
    /// `--cluster ID`: an existing cluster (not deleted by destroy).
    pub cluster: Option<u64>,
    /// Of the fronted service.
    pub replicas: u32,
    pub kube_dir: PathBuf,
    /// Trusted besides the public roots by the health probes.
    pub probe_ca: Option<PathBuf>,
    pub poll: Duration,
    /// For each wait: the cluster, its API, the load balancer, the replicas.
    pub timeout: Duration,
}

fn update_record(registry: &Registry, record: &Deployment) -> Result<()> {
    registry.update(|d| {
        match d
            .deployments
            .iter_mut()
            .find(|r| r.deployment_id == record.deployment_id)
        {
            Some(r) => *r = record.clone(),
            None => d.deployments.push(record.clone()),
        }
    })?;
    Ok(())
}

/// The cluster plan's create request.
pub fn create_body(lke: &LkePlan, k8s_version: &str, tags: Vec<String>) -> CreateLkeCluster {
    CreateLkeCluster {
        label: lke.cluster.label.clone(),
        region: lke.cluster.region.clone(),
        k8s_version: k8s_version.to_string(),
        node_pools: lke
            .cluster
            .node_pools
            .iter()
            .map(|p| CreatePool {
                linode_type: p.linode_type.clone(),
                count: p.count,
            })
            .collect(),
        tags,
    }
}

/// What a deploy reads before it makes anything: `--cluster`'s cluster, or
/// the Kubernetes version a new one gets (the newest LKE offers).
pub struct Start {
    existing: Option<LkeCluster>,
    version: Option<String>,
}

/// Reads what [`deploy`] starts from: a wrong `--cluster` leaves nothing.
pub async fn prepare(client: &LinodeClient, opts: &LkeOptions) -> Result<Start> {
    let existing = match opts.cluster {
        Some(id) => Some(client.get_lke_cluster(id).await.map_err(|e| {
            if e.is_not_found() {
                anyhow!("--cluster {id}: no LKE cluster {id} in this account ('linode-cli lke clusters-list' lists them)")
            } else {
                anyhow!(e)
            }
        })?),
        None => None,
    };
    let version = match existing {
        Some(_) => None,
        None => Some(
            client
                .lke_versions()
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("the API lists no LKE Kubernetes version"))?,
        ),
    };
    Ok(Start { existing, version })
}

/// Creates what the plan says and applies the objects; the record it
/// returns has the URL and is `starting`. The run's reservation (a pending
/// record of the plan's id) is in the registry already.
pub async fn deploy(
    client: &LinodeClient,
    registry: &Registry,
    plan: &DeployPlan,
    lke: &LkePlan,
    opts: &LkeOptions,
    start: Start,
    progress: &dyn Fn(Progress),
) -> Result<Deployment> {
    let mut record = super::execute::pending_record(plan);
    let s = &plan.settings;
    let nodes: u32 = lke.cluster.node_pools.iter().map(|p| p.count).sum();
    let Start { existing, version } = start;
    record.target = DeployTarget::Lke;
    record.label = Some(lke.cluster.label.clone());
    record.cache_volume = None;
    record.ssh_identity = None;
    record.lke = Some(LkeRecord {
        cluster_id: opts.cluster,
        cluster_label: lke.cluster.label.clone(),
        cluster_owned: opts.cluster.is_none(),
        namespace: lke.namespace.clone(),
        replicas: opts.replicas,
        nodes,
        volume_gb: lke.cluster.volume_gb,
        nodebalancer_id: None,
        volume_labels: Vec::new(),
    });
    record.last_detail = Some("recorded before the cluster's create call".into());
    update_record(registry, &record)?;

    // The firewall for the NodeBalancer, first: tagged like the deployment,
    // so another machine sees a run cut short at any later step.
    progress(Progress::CreatingFirewall);
    let mut fw_tags = plan.request.tags.clone();
    fw_tags.push(match opts.cluster {
        Some(id) => lke_tag(id),
        None => LKE_TAG_NEW.to_string(),
    });
    let body = crate::targets::vm::firewall::create_body(
        &s.app_name,
        plan.deployment_id,
        fw_tags.clone(),
        s.https_port,
        None,
    )?;
    record.firewall = Some(FirewallRecord::Created {
        id: None,
        label: body.label.clone(),
    });
    update_record(registry, &record)?;
    let fw = client.create_firewall(&body).await?;
    progress(Progress::CreatedFirewall { id: fw.id });
    record.firewall = Some(FirewallRecord::Created {
        id: Some(fw.id),
        label: body.label.clone(),
    });
    update_record(registry, &record)?;

    // The cluster.
    let cluster: LkeCluster = match (existing, version) {
        (Some(c), _) => {
            progress(Progress::Step(format!(
                "Using LKE cluster {} ({})",
                c.id,
                c.label.as_deref().unwrap_or("")
            )));
            c
        }
        (None, version) => {
            let version = version.unwrap_or_default();
            progress(Progress::Step(format!(
                "Creating LKE cluster {} (Kubernetes {version}, {nodes} x {})...",
                lke.cluster.label, s.linode_type
            )));
            let body = create_body(lke, &version, plan.request.tags.clone());
            match client.create_lke_cluster(&body).await {
                Ok(c) => {
                    progress(Progress::Step(format!("Created LKE cluster {}", c.id)));
                    c
                }
                Err(e) if e.nothing_created() => {
                    // Refused: nothing but the firewall exists; it goes too.
                    let kept = match client.delete_firewall(fw.id).await {
                        Ok(()) => {
                            registry.remove(&record.deployment_id)?;
                            "nothing is left".to_string()
                        }
                        Err(fe) => format!(
                            "its firewall {} could not be deleted ({fe}); 'linode-ai destroy' retries",
                            fw.id
                        ),
                    };
                    return Err(anyhow!(e).context(format!(
                        "creating LKE cluster {} failed; {kept}",
                        body.label
                    )));
                }
                Err(e) => {
                    return Err(anyhow!(e).context(format!(
                        "creating LKE cluster {} may not have completed; the record stays so 'linode-ai status' and 'linode-ai destroy' find it by its tags",
                        body.label
                    )))
                }
            }
        }
    };
    if let Some(l) = record.lke.as_mut() {
        l.cluster_id = Some(cluster.id);
    }
    if let Some(r) = cluster.region.clone() {
        record.region = r;
    }
    record.last_detail = Some(format!("cluster {}: waiting for it", cluster.id));
    update_record(registry, &record)?;
    if opts.cluster.is_none() {
        // The firewall now names the cluster.
        for t in fw_tags.iter_mut().filter(|t| t.as_str() == LKE_TAG_NEW) {
            *t = lke_tag(cluster.id);
        }
        client.set_firewall_tags(fw.id, &fw_tags).await?;
    }

    // Its kubeconfig and API.
    progress(Progress::Step(
        "Waiting for the cluster's kubeconfig...".into(),
    ));
    let text = client
        .wait_lke_kubeconfig(cluster.id, opts.poll, opts.timeout)
        .await?
        .ok_or_else(|| {
            anyhow!(
                "cluster {}'s kubeconfig was not ready within {}s; 'linode-ai status' follows it, 'linode-ai destroy' removes it",
                cluster.id,
                opts.timeout.as_secs()
            )
        })?;
    cluster::keep_kubeconfig(&opts.kube_dir, cluster.id, &text)?;
    let access = KubeAccess::parse(&text, &format!("the kubeconfig of cluster {}", cluster.id))?;
    let kube = Kube::new(&access)?;
    let version = cluster::wait_api(&kube, opts.poll, opts.timeout).await?;
    progress(Progress::Step(format!(
        "Kubeconfig saved to {} (0600); Kubernetes {version} answers",
        cluster::kubeconfig_path(&opts.kube_dir, cluster.id).display()
    )));

    if plan.stack.needs_gpu() && !cluster::nodes_have_gpus(&kube).await? {
        progress(Progress::Step(
            "No node advertises nvidia.com/gpu: installing NVIDIA's device plugin (kube-system/nvidia-device-plugin-daemonset)".into(),
        ));
        kube.apply(&cluster::device_plugin()).await?;
    }

    // The objects, then their name.
    let fw_id = Some(fw.id);
    let objects = |hostname: Option<&str>| {
        crate::targets::lke::render(&LkeInput {
            stack: &plan.stack,
            namespace: &lke.namespace,
            app: &s.app_name,
            env_name: &s.env_name,
            deployment_id: &record.deployment_id,
            env: &plan.env,
            hostname,
            acme_ca: s.acme_ca.as_deref(),
            firewall_id: fw_id,
            tags: &plan.request.tags,
            https_port: s.https_port,
            replicas: opts.replicas,
            volume_gb: lke.cluster.volume_gb,
        })
    };
    // The proxy's pods come last, once the post-start jobs are done (as on
    // a VM, where the proxy waits for them): Open WebUI's first sign-up is
    // its admin, which a job makes before anyone else can reach the site.
    let is_proxy_pods = |o: &Value| o["kind"] == "Deployment" && o["metadata"]["name"] == PROXY;
    let first = objects(s.domain.as_deref())?;
    for o in first.iter().filter(|o| !is_proxy_pods(o)) {
        kube.apply(o).await?;
    }
    progress(Progress::Step(format!(
        "Applied {} objects to namespace {}",
        first.len(),
        lke.namespace
    )));
    record.last_detail = Some("objects applied; waiting for the load balancer".into());
    update_record(registry, &record)?;

    let lb = cluster::wait_load_balancer(&kube, &lke.namespace, opts.poll, opts.timeout).await?;
    let lb_ip = lb.ipv4;
    let hostname = s.domain.clone().unwrap_or(lb.hostname);
    let last = objects(Some(&hostname))?;
    if s.domain.is_none() {
        for o in last.iter().filter(|o| !is_proxy_pods(o)) {
            kube.apply(o).await?;
        }
    }
    if !plan.stack.post_start_jobs.is_empty() {
        record.last_detail = Some("waiting for the post-start jobs".into());
        update_record(registry, &record)?;
        wait_jobs(&kube, &lke.namespace, opts, progress).await?;
    }
    for o in last.iter().filter(|o| is_proxy_pods(o)) {
        kube.apply(o).await?;
    }
    record.hostname = Some(hostname.clone());
    record.ipv4 = lb_ip.clone();
    record.url = Some(app_url(&hostname, s.https_port));
    record.pending = None;
    record.last_status = Status::Starting;
    record.last_detail = Some("the pods are starting".into());
    if let Some(nb) = find_nodebalancer(
        client,
        cluster.id,
        &record.deployment_id,
        &hostname,
        lb_ip.as_deref(),
    )
    .await
    {
        if let Some(l) = record.lke.as_mut() {
            l.nodebalancer_id = Some(nb.id);
        }
    }
    update_record(registry, &record)?;
    remember_volumes(client, registry, opts, &mut record).await;
    progress(Progress::Step(format!(
        "Load balancer: {hostname}{}",
        lb_ip.map(|ip| format!(" ({ip})")).unwrap_or_default()
    )));
    Ok(record)
}

/// Writes the labels of the volumes its claims have so far into the record
/// (best effort): `destroy` then finds them even when the cluster is gone.
pub async fn remember_volumes(
    client: &LinodeClient,
    registry: &Registry,
    opts: &LkeOptions,
    record: &mut Deployment,
) {
    let Some((cid, ns)) = record
        .lke
        .as_ref()
        .and_then(|l| Some((l.cluster_id?, l.namespace.clone())))
    else {
        return;
    };
    let Ok(kube) = cluster::kube_for(client, &opts.kube_dir, cid).await else {
        return;
    };
    let Ok((labels, _)) = cluster::claim_volumes(&kube, &ns).await else {
        return;
    };
    if let Some(l) = record.lke.as_mut() {
        for label in labels {
            if !l.volume_labels.contains(&label) {
                l.volume_labels.push(label);
            }
        }
    }
    let _ = update_record(registry, record);
}

/// Waits until every post-start Job of the namespace succeeded.
async fn wait_jobs(
    kube: &Kube,
    namespace: &str,
    opts: &LkeOptions,
    progress: &dyn Fn(Progress),
) -> Result<()> {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let jobs: Vec<cluster::Replicas> = cluster::replicas(kube, namespace)
            .await?
            .into_iter()
            .filter(|r| r.name.starts_with("job "))
            .collect();
        if let Some(f) = jobs.iter().find(|j| j.failed.is_some()) {
            bail!(
                "{} failed: {}; 'linode-ai logs --service {}' shows why, 'linode-ai destroy' removes the deployment",
                f.name,
                f.failed.as_deref().unwrap_or_default(),
                f.name.trim_start_matches("job ")
            );
        }
        if jobs.iter().all(|j| j.ready >= j.wanted) {
            return Ok(());
        }
        let shown = cluster::describe_replicas(&jobs);
        if shown != last {
            progress(Progress::Step(format!("Post-start: {shown}")));
            last = shown;
        }
        if start.elapsed() >= opts.timeout {
            bail!(
                "the post-start jobs did not finish within {}s ({last}); 'linode-ai status' follows them",
                opts.timeout.as_secs()
            );
        }
        tokio::time::sleep(opts.poll).await;
    }
}

/// The NodeBalancer the cloud controller made for the proxy: the one with
/// the deployment's tags, else the one at its address, if the API lists it yet.
async fn find_nodebalancer(
    client: &LinodeClient,
    cluster: u64,
    deployment_id: &str,
    hostname: &str,
    ip: Option<&str>,
) -> Option<NodeBalancer> {
    let filter = serde_json::json!({ "tags": crate::linode::ccm_tag(cluster) });
    let list = client.list_nodebalancers(Some(&filter)).await.ok()?;
    let ours: Vec<NodeBalancer> = list.into_iter().filter(|nb| nb.made_by(cluster)).collect();
    let tagged = ours.iter().find(|nb| {
        crate::naming::DeploymentTags::parse(&nb.tags).id.as_deref() == Some(deployment_id)
    });
    tagged
        .or_else(|| {
            // Untagged (a controller without the tags annotation), at our address.
            ours.iter().find(|nb| {
                crate::naming::DeploymentTags::parse(&nb.tags).id.is_none()
                    && (nb.hostname.as_deref() == Some(hostname)
                        || (ip.is_some() && nb.ipv4.as_deref() == ip))
            })
        })
        .cloned()
}

/// Waits until every workload is ready and the proxy says healthy.
pub async fn wait_running(
    client: &LinodeClient,
    hooks: &TemplateHooks,
    d: &Deployment,
    opts: &LkeOptions,
    progress: &dyn Fn(Progress),
) -> Result<()> {
    let (limit, poll) = (opts.timeout, opts.poll);
    let (probe_ca, kube_dir) = (opts.probe_ca.as_deref(), opts.kube_dir.as_path());
    let start = Instant::now();
    let mut last = None;
    loop {
        let o = crate::workflow::status::observe(client, probe_ca, hooks, kube_dir, d).await;
        if o.status == Status::Running {
            return Ok(());
        }
        let seen = (o.status, o.detail.clone());
        if last.as_ref() != Some(&seen) {
            progress(Progress::Phase {
                status: o.status,
                detail: o.detail.clone(),
            });
            last = Some(seen);
        }
        if matches!(o.status, Status::Missing) {
            bail!("{}", o.detail.unwrap_or_default());
        }
        if start.elapsed() >= limit {
            bail!(
                "not running after {}s ({}: {}); 'linode-ai status' keeps following it, 'linode-ai logs --service NAME' shows a service's log",
                limit.as_secs(),
                o.status.as_str(),
                o.detail.unwrap_or_default()
            );
        }
        tokio::time::sleep(poll).await;
    }
}
