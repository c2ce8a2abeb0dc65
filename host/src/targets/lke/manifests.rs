//! Kubernetes objects for one deployment, as JSON values (server-side apply
//! takes JSON as YAML), and the LKE cluster it needs.

use anyhow::{bail, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::blueprint::proxy::{self, CADDY_IMAGE};
use crate::blueprint::stack::{pieces, references, Piece, Service, Stack, Target, PROXY};
use crate::blueprint::template::{Condition, EnvVars};

/// The Secret holding the project's variables.
pub const SECRET: &str = "app-env";
/// The ConfigMap holding the proxy's Caddyfile, its status file and pages.
pub const PROXY_CONFIG: &str = "proxy-config";
/// The ConfigMap holding what is known only once the load balancer has its
/// name (`LINODE_AI_HOSTNAME`, `LINODE_AI_URL`).
pub const BOOT_VARS: &str = "app-boot";
/// Linode's CSI storage class that keeps a volume when its claim goes.
pub const STORAGE_CLASS: &str = "linode-block-storage-retain";
/// Linode Block Storage's smallest volume.
pub const MIN_VOLUME_GB: u32 = 10;
/// What the LoadBalancer Service's annotations start with (Linode's CCM).
const CCM: &str = "service.beta.kubernetes.io/linode-loadbalancer-";

/// What the objects are rendered from.
pub struct LkeInput<'a> {
    pub stack: &'a Stack,
    pub namespace: &'a str,
    /// `linode-ai/app`, `linode-ai/env`, `linode-ai/id` labels.
    pub app: &'a str,
    pub env_name: &'a str,
    pub deployment_id: &'a str,
    /// The project's variables (their values go into the Secret).
    pub env: &'a EnvVars,
    /// `--domain`, else the load balancer's name (filled in once known).
    pub hostname: Option<&'a str>,
    pub acme_ca: Option<&'a str>,
    /// The Cloud Firewall the NodeBalancer gets, once made.
    pub firewall_id: Option<u64>,
    /// Tags the NodeBalancer gets (the deployment's, so another machine
    /// sees whose it is).
    pub tags: &'a [String],
    /// The load balancer's HTTPS port (443 unless `--https-port`).
    pub https_port: u16,
    /// Replicas of the fronted service.
    pub replicas: u32,
    /// Each claim's size (GB, at least [`MIN_VOLUME_GB`]).
    pub volume_gb: u32,
}

/// A DNS-1123 label from any name: lower case, `-` for the rest, at most 63.
pub fn dns_label(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// `${VAR}` as Kubernetes expands it in env values and args: `$(VAR)`.
fn k8s_expand(value: &str) -> String {
    match pieces(value) {
        Ok(parts) => parts
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => t.replace("$(", "$$("),
                Piece::Var(v) => format!("$({v})"),
            })
            .collect(),
        Err(_) => value.replace("$(", "$$("),
    }
}

fn labels(input: &LkeInput<'_>, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": dns_label(component),
        "app.kubernetes.io/part-of": dns_label(input.app),
        "app.kubernetes.io/managed-by": "linode-ai",
        "linode-ai/env": dns_label(input.env_name),
        "linode-ai/id": input.deployment_id,
    })
}

fn selector(component: &str) -> Value {
    json!({ "app.kubernetes.io/name": dns_label(component) })
}

fn meta(input: &LkeInput<'_>, name: &str, component: &str) -> Value {
    json!({ "name": name, "namespace": input.namespace, "labels": labels(input, component) })
}

/// A named volume `name:/path[:ro]` as (claim name, mount path, read-only).
fn claim(v: &str, service: &str) -> Result<(String, String, bool)> {
    let parts: Vec<&str> = v.split(':').collect();
    if parts[0].starts_with('/') {
        bail!("service \"{service}\" mounts the host path {}: there is no host on LKE; use a named volume", parts[0]);
    }
    Ok((
        dns_label(parts[0]),
        parts.get(1).unwrap_or(&"/data").to_string(),
        parts.get(2) == Some(&"ro"),
    ))
}

/// The project variables a service receives, then its fixed values (which
/// may name the former as `$(VAR)`), then the boot's own names it uses.
fn container_env(s: &Service, input: &LkeInput<'_>) -> Result<Vec<Value>> {
    // The names its args and fixed values reference, read once with the
    // stack's one `${NAME}` reader (the stack checked them already).
    let named: std::collections::BTreeSet<String> = s
        .environment
        .iter()
        .map(|(_, v)| v.as_str())
        .chain(s.args.iter().map(String::as_str))
        .flat_map(|v| references(v).unwrap_or_default())
        .collect();
    let uses = |var: &str| named.contains(var);
    // What it receives, and what its args and values name (`$(VAR)` expands
    // only a variable the container has).
    let mut env: Vec<Value> = input
        .env
        .keys()
        .filter(|k| s.receives(k) || uses(k))
        .map(|k| json!({"name": k, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": k}}}))
        .collect();
    for var in crate::blueprint::stack::BOOT_VARS {
        if uses(var) {
            env.push(json!({"name": var, "valueFrom": {"configMapKeyRef": {"name": BOOT_VARS, "key": var}}}));
        }
    }
    for (k, v) in &s.environment {
        let from_secret = env.iter().any(|e| e["name"] == json!(k));
        if from_secret {
            // `NAME: ${NAME}` passes the project's value on: the Secret's
            // entry is that (a second `NAME` would be refused by the API).
            if matches!(pieces(v).as_deref(), Ok([Piece::Var(name)]) if name == k) {
                continue;
            }
            bail!(
                "service \"{}\" sets {k} from other values, and also receives the project's {k}; LKE cannot give a container both yet",
                s.name
            );
        }
        env.push(json!({"name": k, "value": k8s_expand(v)}));
    }
    if s.gpus {
        // Not NVIDIA_VISIBLE_DEVICES: the device plugin sets it to the GPU it
        // gave the container ("all" would hand it every GPU of the node).
        env.push(json!({"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"}));
    }
    Ok(env)
}

fn probes(s: &Service, port: u16) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(h) = &s.health {
        let get = json!({"path": h.path, "port": port});
        let timeout = h.timeout_seconds.clamp(1, 30);
        out.insert(
            "startupProbe".into(),
            json!({"httpGet": get, "periodSeconds": 10, "timeoutSeconds": timeout,
                   "failureThreshold": h.start_timeout_seconds.div_ceil(10).max(1)}),
        );
        out.insert(
            "readinessProbe".into(),
            json!({"httpGet": get, "periodSeconds": 10, "timeoutSeconds": timeout, "failureThreshold": 3}),
        );
        out.insert(
            "livenessProbe".into(),
            json!({"httpGet": get, "periodSeconds": 30, "timeoutSeconds": timeout, "failureThreshold": 5}),
        );
    }
    out
}

/// The workload (and its Service) of one service.
fn workload(s: &Service, input: &LkeInput<'_>, fronted: bool) -> Result<Vec<Value>> {
    let name = dns_label(&s.name);
    let claims: Vec<(String, String, bool)> = s
        .volumes
        .iter()
        .map(|v| claim(v, &s.name))
        .collect::<Result<_>>()?;
    let stateful = !claims.is_empty();
    let replicas = if fronted { input.replicas.max(1) } else { 1 };
    if stateful && replicas > 1 && !s.volumes_per_replica {
        bail!(
            "--replicas {replicas}: service \"{}\" keeps state in volumes ({}) that replicas would have to share, so it runs once; a fronted service scales when it keeps none, or only caches (volumes_per_replica in its template)",
            s.name,
            s.volumes.join(", ")
        );
    }
    let mut container = Map::new();
    container.insert("name".into(), json!(name));
    container.insert("image".into(), json!(s.image.as_str()));
    if !s.args.is_empty() {
        container.insert(
            "args".into(),
            json!(s.args.iter().map(|a| k8s_expand(a)).collect::<Vec<_>>()),
        );
    }
    if let Some(port) = s.port {
        container.insert(
            "ports".into(),
            json!([{"name": "http", "containerPort": port}]),
        );
        container.extend(probes(s, port));
    }
    container.insert("env".into(), json!(container_env(s, input)?));
    let mut mounts: Vec<Value> = claims
        .iter()
        .map(|(c, path, ro)| json!({"name": c, "mountPath": path, "readOnly": ro}))
        .collect();
    let mut volumes: Vec<Value> = Vec::new();
    if s.ipc_host {
        // No host IPC on a shared cluster: shared memory the size it needs instead.
        mounts.push(json!({"name": "dshm", "mountPath": "/dev/shm"}));
        volumes.push(json!({"name": "dshm", "emptyDir": {"medium": "Memory"}}));
    }
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), json!(mounts));
    }
    if s.gpus {
        container.insert("resources".into(), json!({"limits": {"nvidia.com/gpu": 1}}));
    }
    container.insert(
        "securityContext".into(),
        json!({"allowPrivilegeEscalation": false}),
    );
    let mut pod_spec =
        json!({ "containers": [Value::Object(container)], "enableServiceLinks": false });
    if replicas > 1 {
        // A node each when there are enough (a node's loss takes one replica).
        pod_spec["topologySpreadConstraints"] = json!([{
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(&s.name)},
        }]);
    }
    if !volumes.is_empty() {
        pod_spec["volumes"] = json!(volumes);
    }
    let template = json!({ "metadata": {"labels": labels(input, &s.name)}, "spec": pod_spec });
    let mut out = Vec::new();
    if stateful {
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta(input, &name, &s.name),
            "spec": {
                "serviceName": name, "replicas": replicas,
                // Replicas of a cache start together, each with its own claims
                // (the policy cannot change later: set by the template alone).
                "podManagementPolicy": if s.volumes_per_replica { "Parallel" } else { "OrderedReady" },
                "selector": {"matchLabels": selector(&s.name)},
                "template": template,
                "volumeClaimTemplates": claims.iter().map(|(c, _, _)| json!({
                    "metadata": {"name": c, "labels": labels(input, &s.name)},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                             "resources": {"requests": {"storage": format!("{}Gi", input.volume_gb.max(MIN_VOLUME_GB))}}},
                })).collect::<Vec<_>>(),
            },
        }));
    } else {
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(input, &name, &s.name),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector(&s.name)},
                "template": template,
            },
        }));
    }
    if let Some(port) = s.port {
        out.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": meta(input, &name, &s.name),
            "spec": {"type": "ClusterIP", "selector": selector(&s.name),
                     "ports": [{"name": "http", "port": port, "targetPort": port}]},
        }));
    }
    Ok(out)
}

/// Every object of the deployment, in apply order: the namespace, the
/// Secret, the workloads in boot order with their Services, the proxy.
pub fn render(input: &LkeInput<'_>) -> Result<Vec<Value>> {
    let stack = input.stack;
    let mut out = vec![json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": input.namespace, "labels": labels(input, PROXY)},
    })];
    out.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": meta(input, SECRET, PROXY),
        "stringData": input.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
    }));
    let hostname = input.hostname.unwrap_or("");
    out.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta(input, BOOT_VARS, PROXY),
        "data": {"LINODE_AI_HOSTNAME": hostname,
                 "LINODE_AI_URL": if hostname.is_empty() { String::new() } else { format!("https://{hostname}") }},
    }));
    // The scripts run on the VM's host (`docker exec`); on a cluster the
    // template's post_start_jobs do what they do.
    if stack.post_start_jobs.is_empty() {
        if let Some(s) = stack
            .services
            .iter()
            .find(|s| s.post_start_script.is_some())
        {
            bail!(
                "service \"{}\" has a post-start script, which runs on a VM only; LKE does not run it yet (the template gives no post_start_jobs)",
                s.name
            );
        }
        if stack.post_start_script.is_some() {
            bail!("the template's post-start script runs on a VM only; LKE does not run it yet (the template gives no post_start_jobs)");
        }
    }
    for s in &stack.services {
        out.extend(workload(s, input, s.name == stack.fronted)?);
    }
    for j in &stack.post_start_jobs {
        out.push(job(j, input)?);
    }
    out.extend(proxy_objects(input)?);
    Ok(out)
}

/// A post-start step as a Job: the template's script in its image, with the
/// project variables it receives from the Secret. Its name carries a digest
/// of what it runs (a Job's pod template cannot change; a new step is a new
/// Job), and it is retried (backoff 10 s doubling, up to 6 minutes between
/// tries) while what it talks to starts.
fn job(j: &crate::blueprint::stack::Job, input: &LkeInput<'_>) -> Result<Value> {
    let mut env: Vec<Value> = input
        .env
        .keys()
        .filter(|k| j.receives(k))
        .map(|k| json!({"name": k, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": k}}}))
        .collect();
    for (k, v) in &j.environment {
        if env.iter().any(|e| e["name"] == json!(k)) {
            bail!(
                "post_start_jobs {}: sets {k}, and also receives the project's {k}",
                j.name
            );
        }
        env.push(json!({"name": k, "value": k8s_expand(v)}));
    }
    // Kubernetes expands `$(NAME)` in a command: the script's own `$(...)`
    // is the shell's.
    let command: Vec<String> = j
        .command()
        .into_iter()
        .map(|a| a.replace("$(", "$$("))
        .collect();
    let pod = json!({
        "restartPolicy": "Never",
        "enableServiceLinks": false,
        "containers": [{
            "name": "step", "image": j.image.as_str(), "command": command, "env": env,
            "securityContext": {"allowPrivilegeEscalation": false},
        }],
    });
    use sha2::Digest;
    let digest = sha2::Sha256::digest(serde_json::to_vec(&pod).expect("JSON"));
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let name = dns_label(&format!("{}-{hex}", j.name));
    let component = format!("job-{}", j.name);
    Ok(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": meta(input, &name, &component),
        "spec": {
            "backoffLimit": 10,
            // A model download may take long; not forever.
            "activeDeadlineSeconds": 7200,
            "template": {"metadata": {"labels": labels(input, &component)}, "spec": pod},
        },
    }))
}

/// The proxy: its Caddyfile and files, its certificate store, the same
/// Caddy, and the LoadBalancer Service in front of it.
fn proxy_objects(input: &LkeInput<'_>) -> Result<Vec<Value>> {
    let stack = input.stack;
    let mut data = Map::new();
    data.insert("Caddyfile".into(), json!(proxy::caddyfile(stack)));
    data.insert(
        "boot.json".into(),
        json!("{\"state\":\"done\",\"step\":\"done\"}\n"),
    );
    let mut mounts = vec![
        json!({"name": "config", "mountPath": "/etc/caddy/Caddyfile", "subPath": "Caddyfile", "readOnly": true}),
        json!({"name": "config", "mountPath": "/srv/linode-ai/boot.json", "subPath": "boot.json", "readOnly": true}),
        json!({"name": "data", "mountPath": "/data"}),
    ];
    let pages: Vec<&str> = stack
        .proxy
        .routes
        .iter()
        .filter_map(|r| match &r.target {
            Target::Page(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    if pages.contains(&"chat") {
        let page = crate::targets::vm::boot::minify(&crate::targets::vm::boot::CHAT_PAGE.replace(
            "CHAT_API_KEY",
            stack.proxy.key_env.as_deref().unwrap_or("CHAT_API_KEY"),
        ));
        data.insert("chat.html".into(), json!(page));
        mounts.push(json!({"name": "config", "mountPath": "/srv/www/chat/index.html", "subPath": "chat.html", "readOnly": true}));
    }
    let mut env = vec![
        json!({"name": "LINODE_AI_HOSTNAME", "valueFrom": {"configMapKeyRef": {"name": BOOT_VARS, "key": "LINODE_AI_HOSTNAME"}}}),
        json!({"name": "LINODE_AI_HTTPS_PORT", "value": "443"}),
        json!({"name": "LINODE_AI_STATUS_DIR", "value": "/srv/linode-ai"}),
        json!({"name": "LINODE_AI_WWW_DIR", "value": "/srv/www"}),
    ];
    if let Some(ca) = input.acme_ca {
        env.push(json!({"name": "LINODE_AI_ACME_CA", "value": ca}));
    }
    if let Some(key) = &stack.proxy.key_env {
        env.push(json!({"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}));
    }
    let mut annotations = Map::new();
    annotations.insert(format!("{CCM}default-protocol"), json!("tcp"));
    if let Some(id) = input.firewall_id {
        annotations.insert(format!("{CCM}firewall-id"), json!(id.to_string()));
    }
    if !input.tags.is_empty() {
        annotations.insert(format!("{CCM}tags"), json!(input.tags.join(",")));
    }
    // The proxy reads its name from the environment at start: a new name
    // (the load balancer's, known after the first apply) restarts it.
    let pod_annotations = json!({"linode-ai/hostname": input.hostname.unwrap_or("")});
    Ok(vec![
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta(input, PROXY_CONFIG, PROXY),
            "data": data,
        }),
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(input, "proxy-data", PROXY),
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                     "resources": {"requests": {"storage": format!("{MIN_VOLUME_GB}Gi")}}},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(input, PROXY, PROXY),
            "spec": {
                // One Caddy: its certificate store is a ReadWriteOnce volume.
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": selector(PROXY)},
                "template": {
                    "metadata": {"labels": labels(input, PROXY), "annotations": pod_annotations},
                    "spec": {
                        "enableServiceLinks": false,
                        "containers": [{
                            "name": PROXY, "image": CADDY_IMAGE,
                            "ports": [{"name": "http", "containerPort": 80}, {"name": "https", "containerPort": 443}],
                            "env": env,
                            "volumeMounts": mounts,
                            "readinessProbe": {"tcpSocket": {"port": 443}, "periodSeconds": 10},
                            "securityContext": {"allowPrivilegeEscalation": false},
                        }],
                        "volumes": [
                            {"name": "config", "configMap": {"name": PROXY_CONFIG}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": "proxy-data"}},
                        ],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": PROXY, "namespace": input.namespace, "labels": labels(input, PROXY),
                         "annotations": annotations},
            "spec": {"type": "LoadBalancer", "selector": selector(PROXY),
                     "ports": [{"name": "http", "port": 80, "targetPort": 80},
                               {"name": "https", "port": input.https_port, "targetPort": 443}]},
        }),
    ])
}

/// One node pool of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePool {
    #[serde(rename = "type")]
    pub linode_type: String,
    pub count: u32,
}

/// The cluster a deployment needs, before its price is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPlan {
    pub label: String,
    pub region: String,
    /// `None` until the API's newest is read (`GET /lke/versions`).
    pub k8s_version: Option<String>,
    pub node_pools: Vec<NodePool>,
    /// GB of Block Storage the claims ask for (each at least [`MIN_VOLUME_GB`]).
    pub volume_gb: u32,
}

/// The pool: the template's plan (a GPU plan when a service needs one), a
/// node per replica of the fronted service, at least two so a node can be
/// recycled without taking the app down when it is stateless.
pub fn cluster_plan(
    stack: &Stack,
    label: &str,
    region: &str,
    linode_type: &str,
    k8s_version: Option<&str>,
    replicas: u32,
    volume_gb: u32,
) -> ClusterPlan {
    // The fronted service's claims once per replica when it scales.
    let claims: u32 = stack
        .services
        .iter()
        .map(|s| {
            let n = s.volumes.iter().filter(|v| !v.starts_with('/')).count() as u32;
            if s.name == stack.fronted && s.volumes_per_replica {
                n * replicas.max(1)
            } else {
                n
            }
        })
        .sum::<u32>();
    ClusterPlan {
        label: label.to_string(),
        region: region.to_string(),
        k8s_version: k8s_version.map(str::to_string),
        node_pools: vec![NodePool {
            linode_type: linode_type.to_string(),
            count: replicas.max(1),
        }],
        volume_gb: claims * volume_gb.max(MIN_VOLUME_GB) + MIN_VOLUME_GB,
    }
}

/// What the depends-on conditions of a stack say cannot be kept on a
/// cluster: none (probes gate traffic; the order is Kubernetes' to keep).
pub fn order_notes(stack: &Stack) -> Vec<String> {
    let healthy: Vec<&str> = stack
        .services
        .iter()
        .flat_map(|s| &s.depends_on)
        .filter(|(_, c)| *c == Condition::Healthy)
        .map(|(d, _)| d.as_str())
        .collect();
    if healthy.is_empty() {
        vec![]
    } else {
        vec![format!(
            "on LKE services start at once; each waits for {} through its readiness probe and restarts until it answers",
            healthy.join(", ")
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::catalog::Catalog;

    fn objects(template: &str, replicas: u32) -> Result<Vec<Value>> {
        let t = Catalog::stock().get(template).unwrap().clone();
        objects_of(&Stack::from_spec(&t.spec).unwrap(), replicas)
    }

    fn objects_of(stack: &Stack, replicas: u32) -> Result<Vec<Value>> {
        let mut env = EnvVars::default();
        for k in [
            "CHAT_API_KEY",
            "VLLM_API_KEY",
            "API_KEY",
            "HF_TOKEN",
            "OLLAMA_MODEL",
            "LLM_MODEL",
        ] {
            env.insert(k.into(), "v".into());
        }
        render(&LkeInput {
            stack,
            namespace: "chat-default",
            app: "chat",
            env_name: "default",
            deployment_id: "0f6c1a52-5d0b-4b63-9d7a-8f9f2b1e2c3d",
            env: &env,
            hostname: None,
            acme_ca: None,
            firewall_id: Some(5001),
            tags: &[],
            https_port: 443,
            replicas,
            volume_gb: 20,
        })
    }

    #[test]
    fn selectors_match_their_pods_and_services_name_the_routes_upstreams() {
        let objs = objects("llm-api", 1).unwrap();
        let kinds: Vec<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds[0], "Namespace");
        assert!(kinds.contains(&"Secret") && kinds.contains(&"ConfigMap"));
        for o in &objs {
            if let Some(sel) = o["spec"]["selector"]["matchLabels"].as_object() {
                for (k, v) in sel {
                    assert_eq!(&o["spec"]["template"]["metadata"]["labels"][k], v, "{o}");
                }
            }
        }
        // The Caddyfile's upstreams are the Services' names.
        let vllm = objs
            .iter()
            .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "vllm")
            .unwrap();
        assert_eq!(vllm["spec"]["ports"][0]["port"], 8000);
        let dep = objs
            .iter()
            .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "vllm")
            .unwrap();
        let c = &dep["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], 1);
        assert!(c["readinessProbe"]["httpGet"]["path"].is_string());
        // `${LLM_MODEL}` in args is Kubernetes' `$(LLM_MODEL)`, which
        // expands only a variable the container has.
        assert!(c["args"].to_string().contains("$(LLM_MODEL)"), "{c}");
        assert!(c["env"].to_string().contains("\"LLM_MODEL\""), "{c}");
        let lb = objs
            .iter()
            .find(|o| o["spec"]["type"] == "LoadBalancer")
            .unwrap();
        assert_eq!(
            lb["metadata"]["annotations"]
                ["service.beta.kubernetes.io/linode-loadbalancer-firewall-id"],
            "5001"
        );
    }

    #[test]
    fn a_value_passed_on_from_the_project_is_one_env_entry() {
        // rag's webui sets QDRANT_API_KEY: ${QDRANT_API_KEY}; a second entry
        // of the same name is refused by server-side apply (found by tests/lke).
        let t = Catalog::stock().get("rag").unwrap().clone();
        let mut stack = Stack::from_spec(&t.spec).unwrap();
        stack.post_start_script = None;
        for s in &mut stack.services {
            s.post_start_script = None;
        }
        let mut env = EnvVars::default();
        for k in [
            "QDRANT_API_KEY",
            "EMBEDDINGS_API_KEY",
            "WEBUI_SECRET_KEY",
            "OLLAMA_MODEL",
        ] {
            env.insert(k.into(), "v".into());
        }
        let objs = render(&LkeInput {
            stack: &stack,
            namespace: "rag-default",
            app: "rag",
            env_name: "default",
            deployment_id: "0f6c1a52-5d0b-4b63-9d7a-8f9f2b1e2c3d",
            env: &env,
            hostname: None,
            acme_ca: None,
            firewall_id: None,
            tags: &[],
            https_port: 443,
            replicas: 1,
            volume_gb: 10,
        })
        .unwrap();
        for o in &objs {
            for c in o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let names: Vec<&str> = c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["name"].as_str().unwrap())
                    .collect();
                let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
                assert_eq!(unique.len(), names.len(), "{}: {names:?}", c["name"]);
            }
        }
    }

    #[test]
    fn state_replicas_would_share_does_not_scale_a_cache_does() {
        // State replicas would share (a database, say): one copy.
        let t = Catalog::stock().get("embeddings").unwrap().clone();
        let mut shared = Stack::from_spec(&t.spec).unwrap();
        shared.services[0].volumes_per_replica = false;
        let e = objects_of(&shared, 3).unwrap_err().to_string();
        assert!(e.contains("keeps state"), "{e}");
        assert!(objects_of(&shared, 1).is_ok());
        // vLLM's model cache: a claim per replica, started together.
        let objs = objects("llm-api", 3).unwrap();
        let set = objs
            .iter()
            .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "vllm")
            .unwrap();
        assert_eq!(set["spec"]["replicas"], 3);
        assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");
        assert_eq!(
            set["spec"]["volumeClaimTemplates"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let plan = cluster_plan(
            &Stack::from_spec(&Catalog::stock().get("llm-api").unwrap().spec).unwrap(),
            "ai-x",
            "us-ord",
            "g2-gpu-rtx4000a1-s",
            None,
            3,
            60,
        );
        assert_eq!(
            plan.volume_gb,
            3 * 60 + MIN_VOLUME_GB,
            "a cache per replica"
        );
    }

    #[test]
    fn a_gpu_container_gets_only_the_gpu_the_device_plugin_assigns() {
        let objs = objects("llm-api", 1).unwrap();
        let vllm = objs.iter().find(|o| o["kind"] == "StatefulSet").unwrap();
        let c = &vllm["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], 1);
        assert!(
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["name"] != "NVIDIA_VISIBLE_DEVICES"),
            "NVIDIA_VISIBLE_DEVICES=all would bypass the plugin on a multi-GPU node"
        );
    }

    #[test]
    fn expansion_and_names() {
        assert_eq!(k8s_expand("--model ${M} x"), "--model $(M) x");
        assert_eq!(dns_label("My_App.v2"), "my-app-v2");
    }
}
