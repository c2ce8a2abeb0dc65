//! An LKE deployment's cluster, reached through the Linode API (the cluster,
//! its kubeconfig, its NodeBalancers and volumes) and its own Kubernetes API
//! (the kubeconfig, kept 0600 under the config dir): what `deploy --target
//! lke` (`workflow::deploy::lke`), `status`, `logs` and `destroy` share.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::blueprint::stack::PROXY as PROXY_NAME;
use crate::linode::{LinodeClient, NodeBalancer, Volume};
use crate::naming::DeploymentTags;
use crate::registry::Deployment;
use crate::targets::lke::kube::{resource_path, Kube, KubeAccess, KubeError};
use crate::targets::lke::manifests;

/// Where a cluster's kubeconfig is kept.
pub fn kubeconfig_path(dir: &Path, cluster: u64) -> PathBuf {
    dir.join(format!("lke{cluster}.yaml"))
}

/// A client for `cluster`: from the kept kubeconfig, else (none here: another
/// machine's deployment; or its token no longer works: the kubeconfig was
/// reset in Cloud Manager) fetched from the API and kept.
pub async fn kube_for(client: &LinodeClient, dir: &Path, cluster: u64) -> Result<Kube> {
    let path = kubeconfig_path(dir, cluster);
    let what = path.display().to_string();
    if let Ok(text) = crate::files::read_text(&path, "kubeconfig", 1 << 20) {
        if let Ok(access) = KubeAccess::parse(&text, &what) {
            let kube = Kube::new(&access)?;
            match kube.authenticated().await {
                Err(e) if e.code() == Some(401) => {}
                _ => return Ok(kube),
            }
        }
    }
    match client.lke_kubeconfig(cluster).await? {
        crate::linode::Kubeconfig::Ready(text) => {
            let access = KubeAccess::parse(&text, &format!("the kubeconfig of cluster {cluster}"))?;
            keep_kubeconfig(dir, cluster, &text)?;
            Kube::new(&access)
        }
        crate::linode::Kubeconfig::NotYet => {
            bail!(
                "cluster {cluster}'s kubeconfig is not ready yet (LKE is still making the cluster)"
            )
        }
    }
}

/// Keeps a cluster's kubeconfig (0600, in a 0700 directory).
pub fn keep_kubeconfig(dir: &Path, cluster: u64, text: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    crate::files::write_private(&kubeconfig_path(dir, cluster), text.as_bytes())
}

/// The NVIDIA device plugin's DaemonSet (NVIDIA/k8s-device-plugin's static
/// manifest, v0.17): it registers `nvidia.com/gpu` with the kubelet of
/// every GPU node.
pub fn device_plugin() -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system",
                     "labels": {"app.kubernetes.io/managed-by": "linode-ai"}},
        "spec": {
            "selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
                "spec": {
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "priorityClassName": "system-node-critical",
                    "containers": [{
                        "name": "nvidia-device-plugin-ctr",
                        "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
                        "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
                    }],
                    "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}],
                },
            },
        },
    })
}

/// Whether any node advertises a GPU to the scheduler.
pub async fn nodes_have_gpus(kube: &Kube) -> Result<bool, KubeError> {
    let nodes = kube.list("/api/v1/nodes", None).await?;
    Ok(nodes.iter().any(|n| {
        n["status"]["allocatable"]["nvidia.com/gpu"]
            .as_str()
            .and_then(|q| q.parse::<u64>().ok())
            .is_some_and(|g| g > 0)
    }))
}

/// Waits until the cluster's API answers (a new cluster's name takes a
/// while to resolve).
pub async fn wait_api(kube: &Kube, poll: Duration, limit: Duration) -> Result<String> {
    let start = Instant::now();
    loop {
        match kube.version().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= limit => {
                return Err(
                    anyhow!(e).context("the cluster's Kubernetes API did not answer in time")
                )
            }
            Err(_) => tokio::time::sleep(poll).await,
        }
    }
}

/// Where the load balancer answers.
pub struct Address {
    pub hostname: String,
    pub ipv4: Option<String>,
    /// The Service's HTTPS port (`--port`).
    pub https_port: u16,
}

/// The proxy Service's load balancer address once the cloud controller set it.
pub async fn wait_load_balancer(
    kube: &Kube,
    namespace: &str,
    poll: Duration,
    limit: Duration,
) -> Result<Address> {
    let path = format!(
        "{}/{PROXY_NAME}",
        resource_path("v1", "Service", Some(namespace))?
    );
    let start = Instant::now();
    loop {
        if let Some(svc) = kube.get(&path).await? {
            if let Some(ing) = svc["status"]["loadBalancer"]["ingress"]
                .as_array()
                .and_then(|a| a.first())
            {
                let ip = ing["ip"].as_str().map(str::to_string);
                let host = ing["hostname"].as_str().map(str::to_string).or_else(|| {
                    ip.as_ref()
                        .map(|ip| format!("{}.ip.linodeusercontent.com", ip.replace('.', "-")))
                });
                let https_port = svc["spec"]["ports"]
                    .as_array()
                    .and_then(|ports| ports.iter().find(|p| p["name"] == "https"))
                    .and_then(|p| p["port"].as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(443);
                if let Some(hostname) = host {
                    return Ok(Address {
                        hostname,
                        ipv4: ip,
                        https_port,
                    });
                }
            }
        }
        if start.elapsed() >= limit {
            bail!("the load balancer (the proxy's NodeBalancer) got no address within {}s; 'linode-ai status' shows it when it has one", limit.as_secs());
        }
        tokio::time::sleep(poll).await;
    }
}

/// One workload's replicas (a post-start Job: 1/1 once it succeeded).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Replicas {
    pub name: String,
    pub ready: u64,
    pub wanted: u64,
    /// A Job that gave up: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// The namespace's Deployments, StatefulSets and Jobs.
pub async fn replicas(kube: &Kube, namespace: &str) -> Result<Vec<Replicas>, KubeError> {
    let mut out = Vec::new();
    for kind in ["Deployment", "StatefulSet"] {
        let path = resource_path("apps/v1", kind, Some(namespace)).expect("known kinds");
        for w in kube.list(&path, None).await? {
            out.push(Replicas {
                name: w["metadata"]["name"].as_str().unwrap_or("?").to_string(),
                ready: w["status"]["readyReplicas"].as_u64().unwrap_or(0),
                wanted: w["spec"]["replicas"].as_u64().unwrap_or(1),
                failed: None,
            });
        }
    }
    let path = resource_path("batch/v1", "Job", Some(namespace)).expect("known kind");
    for j in kube.list(&path, None).await? {
        let failed = j["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Failed" && c["status"] == "True")
            .map(|c| {
                c["message"]
                    .as_str()
                    .or(c["reason"].as_str())
                    .unwrap_or("failed")
                    .to_string()
            });
        out.push(Replicas {
            // `job <name>`, as the template names it (`logs --service <name>`).
            name: match j["metadata"]["labels"]["app.kubernetes.io/name"].as_str() {
                Some(c) => format!("job {}", c.trim_start_matches("job-")),
                None => format!("job {}", j["metadata"]["name"].as_str().unwrap_or("?")),
            },
            ready: j["status"]["succeeded"].as_u64().unwrap_or(0).min(1),
            wanted: 1,
            failed,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `ollama 1/1, proxy 0/1`.
pub fn describe_replicas(r: &[Replicas]) -> String {
    r.iter()
        .map(|w| format!("{} {}/{}", w.name, w.ready, w.wanted))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last lines of each pod of `service` (its workload's pods).
pub async fn logs(
    client: &LinodeClient,
    kube_dir: &Path,
    d: &Deployment,
    service: &str,
    tail: u32,
) -> Result<Vec<(String, String)>> {
    let l = d
        .lke
        .as_ref()
        .ok_or_else(|| anyhow!("not an LKE deployment"))?;
    let cid = l
        .cluster_id
        .ok_or_else(|| anyhow!("the deployment has no cluster yet"))?;
    let kube = kube_for(client, kube_dir, cid).await?;
    // A service's pods, else a post-start job's.
    let mut pods = Vec::new();
    for component in [service.to_string(), format!("job-{service}")] {
        let selector = format!(
            "app.kubernetes.io/name={},linode-ai/id={}",
            manifests::dns_label(&component),
            d.deployment_id
        );
        pods = kube
            .list(
                &resource_path("v1", "Pod", Some(&l.namespace))?,
                Some(&selector),
            )
            .await?;
        if !pods.is_empty() {
            break;
        }
    }
    if pods.is_empty() {
        bail!(
            "no pod of service {} in namespace {} (services: {})",
            crate::sanitize::quote(service),
            l.namespace,
            describe_replicas(&replicas(&kube, &l.namespace).await.unwrap_or_default())
        );
    }
    let mut out = Vec::new();
    for p in pods {
        let name = p["metadata"]["name"].as_str().unwrap_or("?").to_string();
        let container = p["spec"]["containers"][0]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let text = match kube.logs(&l.namespace, &name, &container, tail).await {
            Ok(t) => t,
            Err(e) => format!("(no log: {e})\n"),
        };
        out.push((name, text));
    }
    Ok(out)
}

/// What a destroy of an LKE deployment did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Removed {
    pub namespace: bool,
    pub nodebalancers: Vec<u64>,
    pub volumes: Vec<u64>,
    pub cluster: Option<u64>,
    /// What was left, and why.
    pub left: Vec<String>,
}

/// The labels the Linode CSI driver gives the volumes of a namespace's
/// claims: `pvc-` and the claim's UID without dashes, cut to 16
/// (external-provisioner `--volume-name-uuid-length=16`); and the names of
/// their PersistentVolumes.
pub async fn claim_volumes(
    kube: &Kube,
    namespace: &str,
) -> Result<(Vec<String>, Vec<String>), KubeError> {
    let pvcs = kube
        .list(
            &resource_path("v1", "PersistentVolumeClaim", Some(namespace)).expect("known kind"),
            None,
        )
        .await?;
    let labels = pvcs
        .iter()
        .filter_map(|p| p["metadata"]["uid"].as_str())
        .map(|uid| {
            let hex: String = uid.chars().filter(|c| *c != '-').take(16).collect();
            format!("pvc-{hex}")
        })
        .collect();
    let volumes = pvcs
        .iter()
        .filter_map(|p| p["spec"]["volumeName"].as_str().map(str::to_string))
        .collect();
    Ok((labels, volumes))
}

/// Removes the namespace (and so its load balancer and claims), waits for
/// the NodeBalancer and the volumes to go, deletes those left, deletes the
/// cluster when linode-ai made it, then the firewall.
pub async fn destroy(
    client: &LinodeClient,
    kube_dir: &Path,
    d: &Deployment,
    wait: Duration,
    poll: Duration,
    progress: &dyn Fn(String),
) -> Result<Removed> {
    let mut out = Removed::default();
    let l = d
        .lke
        .clone()
        .ok_or_else(|| anyhow!("not an LKE deployment"))?;
    let mut volume_labels = l.volume_labels.clone();
    if let Some(cid) = l.cluster_id {
        let exists = match client.get_lke_cluster(cid).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e.into()),
        };
        if exists {
            match kube_for(client, kube_dir, cid).await {
                Ok(kube) => {
                    let (labels, pvs) =
                        claim_volumes(&kube, &l.namespace).await.unwrap_or_default();
                    for label in labels {
                        if !volume_labels.contains(&label) {
                            volume_labels.push(label);
                        }
                    }
                    progress(format!("Deleting namespace {}...", l.namespace));
                    let ns = format!("/api/v1/namespaces/{}", l.namespace);
                    out.namespace = kube.delete(&ns).await?;
                    let start = Instant::now();
                    while kube.get(&ns).await?.is_some() {
                        if start.elapsed() >= wait {
                            out.left.push(format!(
                                "namespace {} still terminating after {}s",
                                l.namespace,
                                wait.as_secs()
                            ));
                            break;
                        }
                        tokio::time::sleep(poll).await;
                    }
                    // The retain class keeps each PersistentVolume (Released)
                    // on a cluster that stays; its disk is deleted below.
                    if !l.cluster_owned {
                        for pv in pvs {
                            let _ = kube
                                .delete(&format!("/api/v1/persistentvolumes/{pv}"))
                                .await;
                        }
                    }
                }
                Err(e) if l.cluster_owned => out.left.push(format!(
                    "the namespace was not deleted first ({e:#}); the cluster's deletion removes it"
                )),
                Err(e) => return Err(e.context("cannot reach the cluster to delete the namespace")),
            }
        }
        if !exists && volume_labels.is_empty() {
            out.left.push(format!(
                "cluster {cid} was already gone, so the Block Storage volumes its claims made (labelled pvc-..., unattached) could not be told apart; 'linode-cli volumes list' shows them"
            ));
        }
        // The NodeBalancer: the cloud controller removes it with the Service.
        let ours = |nb: &NodeBalancer| {
            nb.made_by(cid)
                && (l.nodebalancer_id == Some(nb.id)
                    || DeploymentTags::parse(&nb.tags).id.as_deref() == Some(&d.deployment_id)
                    || (l.cluster_owned && nb.lke_cluster.as_ref().map(|c| c.id) == Some(cid)))
        };
        // The controller deletes it within seconds of the Service; after a
        // while (24 polls, at most `wait`) what is left is deleted here.
        let nb_wait = (poll * 24).min(wait);
        let start = Instant::now();
        let left_nbs: Vec<NodeBalancer> = loop {
            let all = client.list_nodebalancers(None).await?;
            let left: Vec<NodeBalancer> = all.into_iter().filter(|nb| ours(nb)).collect();
            if left.is_empty() || start.elapsed() >= nb_wait || !exists {
                break left;
            }
            tokio::time::sleep(poll).await;
        };
        if exists && l.cluster_owned {
            progress(format!("Deleting LKE cluster {cid}..."));
            client.delete_lke_cluster(cid).await?;
            out.cluster = Some(cid);
            let path = kubeconfig_path(kube_dir, cid);
            let _ = std::fs::remove_file(path);
        }
        for nb in left_nbs {
            progress(format!("Deleting NodeBalancer {} the cluster left", nb.id));
            client.delete_nodebalancer(nb.id).await?;
            out.nodebalancers.push(nb.id);
        }
        // The claims' volumes (kept by the retain storage class).
        if !volume_labels.is_empty() {
            let vols: Vec<Volume> = client.list_volumes(None).await?;
            for v in vols.iter().filter(|v| {
                v.label
                    .as_ref()
                    .is_some_and(|lab| volume_labels.contains(lab))
            }) {
                progress(format!(
                    "Deleting volume {} ({}) the claims left",
                    v.id,
                    v.label.as_deref().unwrap_or("")
                ));
                client.delete_volume_after(v.id, wait).await?;
                out.volumes.push(v.id);
            }
        }
    }
    Ok(out)
}
