//! LKE (Linode Kubernetes Engine) and NodeBalancers, as the official spec
//! (v4.189.0) states them, corrected by real recorded traffic (linodego's
//! integration cassettes `TestLKE*` and `TestNodeBalancer*`, recorded against
//! the real API):
//!
//! - `GET /lke/versions`, `GET /lke/versions/{version}`, `GET /lke/types`
//!   (no token, as the spec gives it no `security`);
//! - `GET/POST /lke/clusters`, `GET/PUT/DELETE /lke/clusters/{id}`;
//! - `GET/POST /lke/clusters/{id}/pools`, `GET/PUT/DELETE
//!   /lke/clusters/{id}/pools/{poolId}`, `GET /lke/clusters/{id}/nodes/{nodeId}`;
//! - `GET/DELETE /lke/clusters/{id}/kubeconfig`, `GET
//!   /lke/clusters/{id}/api-endpoints`;
//! - `GET/POST /nodebalancers`, `GET/DELETE /nodebalancers/{id}`, `GET
//!   /nodebalancers/types` (no token).
//!
//! Every node of a pool is also a Linode (`/linode/instances`), as on the real
//! platform (recorded: label `lke<cluster>-<node id>`, `tags: []`, `image:
//! null`, `lke_cluster_id` set); deleting a pool, shrinking it or deleting the
//! cluster deletes those Linodes (their volumes let go `detach_ms` later, as
//! for any deleted Linode).
//!
//! What a cluster's workloads make is modelled with the Rust API and admin
//! calls: `Sim::ccm_nodebalancer` (a Service of type LoadBalancer: the cloud
//! controller manager's NodeBalancer) and `Sim::csi_volume` (a
//! PersistentVolumeClaim: the CSI driver's Block Storage volume). Deleting the
//! cluster leaves both (the NodeBalancers unless
//! `SimConfig::lke_delete_removes_nodebalancers`, which see). Admin
//! equivalents: `POST /__sim/lke/{clusterId}/loadbalancer` `{"service":
//! "ns/name"}`, `POST /__sim/lke/{clusterId}/volume` `{"size_gb": N}`; and
//! `GET /__sim/lke`, `GET /__sim/nodebalancers`.
//!
//! Where the spec is silent the stand-in is the stricter of the plausible
//! answers (each place says so), so a client written against it also works
//! against the real API. Not modelled: LKE Enterprise (`tier`), control plane
//! ACLs, recycling, node deletion, the dashboard, service tokens, autoscaling
//! itself (the autoscaler settings are stored only), LKE replacing a node
//! Linode deleted by hand, a node Linode's disks, NodeBalancer updates,
//! configs and nodes, and the v4beta-only fields (`tier`, `apl_enabled`, a
//! pool's `label`, `disk_encryption`, `locks`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::http::Method;
use crate::{
    errors, filtered, image, now_naive_utc, paginate, plan_specs, regions, types, volume,
    SimConfig, SimInstance, State,
};

/// Kubernetes versions offered (`GET /lke/versions`), newest first, as the
/// API lists them.
pub const VERSIONS: [&str; 3] = ["1.34", "1.33", "1.32"];

/// The real answer (503) while a new cluster's kubeconfig is being made
/// (recorded: linodego TestLKECluster_Kubeconfig_Get; with `Retry-After`,
/// linode/terraform-provider-linode#2250).
pub const KUBECONFIG_NOT_READY: &str =
    "Cluster kubeconfig is not yet available. Please try again later.";

/// The real answer (503) while a new cluster's API endpoints are not up
/// (recorded: linodego TestLKECluster_APIEndpoints_List).
pub const ENDPOINTS_NOT_READY: &str =
    "Cluster API Endpoints are not yet available. Please try again later.";

/// The reason given for a cluster label that breaks [`cluster_label_ok`].
pub const LABEL_REASON: &str =
    "Cluster labels must be 3-32 characters of letters, digits and '-' (no spaces, underscores or other special characters)";

/// Where the kubeconfig points: the Kubernetes API server, its CA and the
/// admin user's bearer token. A test points it at a Kubernetes API stand-in
/// it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeApi {
    /// The API server URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The CA certificate (PEM) that signed the server's certificate; empty:
    /// none (the kubeconfig then has no `certificate-authority-data`).
    pub ca_pem: String,
    /// The admin user's bearer token.
    pub token: String,
}

impl KubeApi {
    /// What `kube_api: None` stands for: a loopback server nothing listens
    /// on, no CA, token `sim-token`.
    pub fn placeholder() -> KubeApi {
        KubeApi {
            server: "https://127.0.0.1:6443".into(),
            ca_pem: String::new(),
            token: "sim-token".into(),
        }
    }
}

impl Default for KubeApi {
    fn default() -> Self {
        KubeApi::placeholder()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SimCluster {
    id: u64,
    label: String,
    region: String,
    k8s_version: String,
    high_availability: bool,
    tags: Vec<Value>,
    created: String,
    updated: String,
    /// When the kubeconfig (and the API endpoints) started being made: at
    /// creation, and again when the kubeconfig is regenerated.
    kube_since: Instant,
}

#[derive(Debug, Clone)]
struct SimNode {
    /// `<pool id>-<8 hex>0000`, as recorded.
    id: String,
    instance: u64,
    born: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct SimPool {
    id: u64,
    cluster: u64,
    ty: String,
    nodes: Vec<SimNode>,
    disks: Vec<Value>,
    autoscaler: (bool, u64, u64),
    labels: Map<String, Value>,
    taints: Vec<Value>,
    tags: Vec<Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimNodeBalancer {
    id: u64,
    label: String,
    region: String,
    tags: Vec<Value>,
    throttle: u64,
    created: String,
    updated: String,
    /// The cluster whose cloud controller manager made it.
    cluster: Option<u64>,
}

/// All LKE and NodeBalancer state (one field of the simulator's `State`).
#[derive(Debug, Default)]
pub(crate) struct LkeState {
    clusters: BTreeMap<u64, SimCluster>,
    pools: BTreeMap<u64, SimPool>,
    nodebalancers: BTreeMap<u64, SimNodeBalancer>,
    clusters_made: u64,
    pools_made: u64,
    nodebalancers_made: u64,
    /// Seed of the hex parts of generated names (deterministic).
    seq: u64,
}

impl LkeState {
    /// splitmix64: the hex parts of node ids and generated labels.
    fn random(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seq;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    // Ids apart from each other and from other objects' (real-looking).
    fn next_cluster(&mut self) -> u64 {
        self.clusters_made += 1;
        433_000 + self.clusters_made
    }
    fn next_pool(&mut self) -> u64 {
        self.pools_made += 1;
        855_000 + self.pools_made
    }
    fn next_nodebalancer(&mut self) -> u64 {
        self.nodebalancers_made += 1;
        1_774_000 + self.nodebalancers_made
    }
}

type Errs = Vec<(String, Option<String>)>;

fn answer(errs: Errs) -> (u16, Value) {
    let list: Vec<(&str, Option<&str>)> = errs
        .iter()
        .map(|(r, f)| (r.as_str(), f.as_deref()))
        .collect();
    (400, errors(&list))
}

fn not_found() -> (u16, Value) {
    (404, errors(&[("Not found", None)]))
}

fn bad_body() -> (u16, Value) {
    (400, errors(&[("Request body must be a JSON object", None)]))
}

fn err(errs: &mut Errs, reason: impl Into<String>, field: impl Into<String>) {
    errs.push((reason.into(), Some(field.into())));
}

/// `prefix.name`, or `name` alone at the top level.
fn fld(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

// ---- rules ----------------------------------------------------------------

/// A cluster's label. The spec says only 1-32 characters; Linode's Cloud
/// Manager validates "^[a-zA-Z0-9-]+$" and 3-32 ("This regex is adapted from
/// the API docs. Kubernetes does not allow underscores.", linode/manager
/// `packages/validation/src/kubernetes.schema.ts`), and the stand-in enforces
/// that, the stricter rule.
pub fn cluster_label_ok(label: &str) -> bool {
    (3..=32).contains(&label.len()) && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A Kubernetes name: 1-63 characters of letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit (spec, labels and taints: "Start
/// and end it with an alphanumeric character").
fn k8s_name_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// An RFC 1123 DNS subdomain (a label or taint key's prefix).
fn dns_subdomain_ok(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A label or taint key: `name` or `prefix/name`, at most `max` characters
/// (spec: a label key's `maxLength` is 128, a taint key's 63).
fn k8s_key_ok(key: &str, max: usize) -> bool {
    key.len() <= max
        && match key.split_once('/') {
            Some((prefix, name)) => dns_subdomain_ok(prefix) && k8s_name_ok(name),
            None => k8s_name_ok(key),
        }
}

/// A label or taint value: empty, or a Kubernetes name (spec: 0-63).
fn k8s_value_ok(v: &str) -> bool {
    v.is_empty() || k8s_name_ok(v)
}

/// Tags: 3-50 characters each, as the API enforces for every taggable object
/// though the spec omits it; `null` counts as absent.
fn check_tags(v: Option<&Value>, field: &str, errs: &mut Errs) -> Option<Vec<Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            for (i, t) in list.iter().enumerate() {
                let s = t.as_str().unwrap_or("");
                if !t.is_string() || !(3..=50).contains(&s.chars().count()) {
                    err(
                        errs,
                        format!("Tag {i} ({s}) length must be 3-50 characters"),
                        format!("{field}[{i}]"),
                    );
                }
            }
            Some(list.clone())
        }
        Some(_) => {
            err(errs, format!("{field} must be a list"), field);
            None
        }
    }
}

fn parse_version(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A region by id that has `capability`, or the reason it does not fit.
fn region_with(id: &str, capability: &str) -> Result<(), String> {
    match regions().into_iter().find(|r| r["id"] == id) {
        None => Err("region is not valid".into()),
        Some(r)
            if r["capabilities"]
                .as_array()
                .is_some_and(|c| c.contains(&json!(capability))) =>
        {
            Ok(())
        }
        // The spec does not give the wording; "Kubernetes" and "NodeBalancers"
        // are the capability names the real /regions lists (recorded).
        Some(_) => Err(format!("{capability} is not available in this region")),
    }
}

/// An integer in `lo..=hi` (the API's range wording), `None` when absent or null.
fn int_in(v: Option<&Value>, lo: u64, hi: u64, field: &str, errs: &mut Errs) -> Option<u64> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => match (v.as_i64(), v.as_u64()) {
            (_, Some(n)) if (lo..=hi).contains(&n) => Some(n),
            (Some(_), _) | (_, Some(_)) => {
                err(
                    errs,
                    format!("Must be a value between {lo} and {hi}."),
                    field,
                );
                None
            }
            _ => {
                err(errs, format!("{field} must be an integer"), field);
                None
            }
        },
    }
}

// ---- node pools -------------------------------------------------------------

/// A pool as a create or update body gives it (absent fields `None`).
#[derive(Debug, Default)]
struct PoolSpec {
    ty: Option<String>,
    count: Option<u64>,
    /// (enabled, min, max) as given.
    autoscaler: Option<(bool, Option<u64>, Option<u64>)>,
    labels: Option<Map<String, Value>>,
    taints: Option<Vec<Value>>,
    tags: Option<Vec<Value>>,
    disks: Option<Vec<Value>>,
}

/// Checks a node pool body: `create` for `POST /pools` and `node_pools[]` of
/// a cluster create (spec: `type` and `count` required,
/// `additionalProperties: false`), else a `PUT /pools/{poolId}` (spec:
/// `count`, `autoscaler`, `labels`, `taints`; the real API also takes `tags`,
/// recorded in linodego TestLKENodePool_Update). `null` counts as absent, as
/// the real API takes it (recorded: `"disks": null, "labels": null`).
fn check_pool(v: &Value, prefix: &str, create: bool, errs: &mut Errs) -> PoolSpec {
    let mut spec = PoolSpec::default();
    let Some(b) = v.as_object() else {
        errs.push((
            "A node pool must be a JSON object".into(),
            (!prefix.is_empty()).then(|| prefix.to_string()),
        ));
        return spec;
    };
    let allowed: &[&str] = if create {
        &[
            "type",
            "count",
            "autoscaler",
            "labels",
            "taints",
            "tags",
            "disks",
        ]
    } else {
        &["count", "autoscaler", "labels", "taints", "tags"]
    };
    for k in b.keys() {
        if !allowed.contains(&k.as_str()) {
            err(errs, format!("{k} is not a valid field"), fld(prefix, k));
        }
    }
    if create {
        match b.get("type") {
            None | Some(Value::Null) => err(errs, "type is required", fld(prefix, "type")),
            Some(Value::String(t)) => match types().into_iter().find(|x| x["id"] == t.as_str()) {
                None => err(
                    errs,
                    "A valid plan type by that ID was not found",
                    fld(prefix, "type"),
                ),
                // "NVIDIA Quadro RTX 6000 cannot be deployed within LKE or
                // LKE-E" (techdocs.akamai.com/cloud-computing/docs/gpus-on-lke).
                Some(_) if t.starts_with("g1-gpu-rtx6000") => err(
                    errs,
                    "NVIDIA Quadro RTX 6000 plans cannot be deployed in LKE",
                    fld(prefix, "type"),
                ),
                Some(_) => spec.ty = Some(t.clone()),
            },
            Some(_) => err(errs, "type must be a string", fld(prefix, "type")),
        }
        if b.get("count").is_none_or(Value::is_null) {
            err(errs, "count is required", fld(prefix, "count"));
        }
    }
    spec.count = int_in(b.get("count"), 1, 100, &fld(prefix, "count"), errs);
    match b.get("autoscaler") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => {
            let f = fld(prefix, "autoscaler");
            for k in a.keys() {
                if !matches!(k.as_str(), "enabled" | "min" | "max") {
                    err(errs, format!("{k} is not a valid field"), fld(&f, k));
                }
            }
            let enabled = match a.get("enabled") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(e)) => *e,
                Some(_) => {
                    err(errs, "enabled must be a boolean", fld(&f, "enabled"));
                    false
                }
            };
            let min = int_in(a.get("min"), 1, 100, &fld(&f, "min"), errs);
            let max = int_in(a.get("max"), 1, 100, &fld(&f, "max"), errs);
            // Spec: "When making a request, `max` and `min` require each other."
            let given = |k: &str| a.get(k).is_some_and(|v| !v.is_null());
            if given("min") != given("max") {
                err(errs, "autoscaler min and max require each other", f.clone());
            }
            // The spec does not say; the stricter answer (Cloud Manager refuses
            // a minimum above the maximum too).
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    err(
                        errs,
                        "autoscaler min must not be greater than max",
                        fld(&f, "min"),
                    );
                }
            }
            spec.autoscaler = Some((enabled, min, max));
        }
        Some(_) => err(
            errs,
            "autoscaler must be an object",
            fld(prefix, "autoscaler"),
        ),
    }
    match b.get("labels") {
        None | Some(Value::Null) => {}
        // Spec: key-value pairs (an object); `{}` removes all labels.
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let f = fld(&fld(prefix, "labels"), k);
                if !k8s_key_ok(k, 128) {
                    err(
                        errs,
                        format!("Invalid Kubernetes label key: {k}"),
                        f.clone(),
                    );
                }
                if !v.as_str().is_some_and(k8s_value_ok) {
                    err(errs, format!("Invalid Kubernetes label value for {k}"), f);
                }
            }
            spec.labels = Some(m.clone());
        }
        Some(_) => err(errs, "labels must be an object", fld(prefix, "labels")),
    }
    match b.get("taints") {
        None | Some(Value::Null) => {}
        // Spec: `minItems: 1`, but also "Specifying an empty array (`[]`)
        // removes all previously set taints"; the API answers `taints: []`.
        Some(Value::Array(list)) => {
            for (i, t) in list.iter().enumerate() {
                let f = format!("{}[{i}]", fld(prefix, "taints"));
                let Some(t) = t.as_object() else {
                    err(errs, "A taint must be an object", f);
                    continue;
                };
                for k in t.keys() {
                    if !matches!(k.as_str(), "key" | "value" | "effect") {
                        err(errs, format!("{k} is not a valid field"), fld(&f, k));
                    }
                }
                if !t
                    .get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k8s_key_ok(k, 63))
                {
                    err(errs, "Invalid Kubernetes taint key", fld(&f, "key"));
                }
                if !t
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(k8s_value_ok)
                {
                    err(errs, "Invalid Kubernetes taint value", fld(&f, "value"));
                }
                if !t
                    .get("effect")
                    .and_then(Value::as_str)
                    .is_some_and(|e| matches!(e, "NoSchedule" | "PreferNoSchedule" | "NoExecute"))
                {
                    err(
                        errs,
                        "effect must be one of NoSchedule, PreferNoSchedule, NoExecute",
                        fld(&f, "effect"),
                    );
                }
            }
            spec.taints = Some(list.clone());
        }
        Some(_) => err(errs, "taints must be a list", fld(prefix, "taints")),
    }
    spec.tags = check_tags(b.get("tags"), &fld(prefix, "tags"), errs);
    match b.get("disks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let f = fld(prefix, "disks");
            // Spec: "The maximum number of custom disk partitions that can be
            // configured is 7", each within the plan's capacity.
            if list.len() > 7 {
                err(errs, "At most 7 custom disk partitions", f.clone());
            }
            let mut total = 0;
            for (i, d) in list.iter().enumerate() {
                let df = format!("{f}[{i}]");
                match d.get("size").and_then(Value::as_u64) {
                    Some(n) if n >= 1 => total += n,
                    _ => err(
                        errs,
                        "size must be a positive integer (MB)",
                        fld(&df, "size"),
                    ),
                }
                if !d
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "raw" || t == "ext4")
                {
                    err(errs, "type must be one of raw, ext4", fld(&df, "type"));
                }
                if d.as_object()
                    .is_some_and(|o| o.keys().any(|k| k != "size" && k != "type"))
                {
                    err(errs, "Only size and type are valid fields", df);
                }
            }
            // The rest of the plan's disk is the boot disk: some must remain.
            if let Some(disk) = spec.ty.as_deref().and_then(image::plan_disk) {
                if total >= disk {
                    err(
                        errs,
                        "Custom disk partitions exceed the plan's disk capacity",
                        f,
                    );
                }
            }
            spec.disks = Some(list.clone());
        }
        Some(_) => err(errs, "disks must be a list", fld(prefix, "disks")),
    }
    spec
}

/// The autoscaler a pool ends up with: spec, "min ... Defaults to the Node
/// Pool's `count`", and so does max (recorded: `{"enabled": false, "min": 2,
/// "max": 2}` for a pool of 2). With it enabled the count must lie between
/// min and max (the spec does not say; the stricter answer).
fn resolve_autoscaler(
    given: Option<(bool, Option<u64>, Option<u64>)>,
    current: Option<(bool, u64, u64)>,
    count: Option<u64>,
    prefix: &str,
    errs: &mut Errs,
) -> (bool, u64, u64) {
    // A missing or invalid count is reported on its own.
    let Some(count) = count else {
        return (false, 1, 1);
    };
    let out = match (given, current) {
        (Some((enabled, min, max)), _) => (enabled, min.unwrap_or(count), max.unwrap_or(count)),
        (None, Some((false, _, _))) | (None, None) => (false, count, count),
        (None, Some(cur)) => cur,
    };
    if out.0 && !(out.1..=out.2).contains(&count) {
        err(
            errs,
            "count must be between the autoscaler's min and max",
            fld(prefix, "count"),
        );
    }
    out
}

/// Makes a node: a Linode labelled `lke<cluster>-<node id>` with no tags and
/// no image, as the real ones are (recorded: linodego TestLKENodePool_GetFound).
fn add_node(st: &mut State, cluster: u64, region: &str, pool: u64, ty: &str) -> SimNode {
    let id = format!("{pool}-{:08x}0000", st.lke.random() as u32);
    st.next_id += 1;
    let instance = st.next_id;
    let body = json!({
        "id": instance, "label": format!("lke{cluster}-{id}"), "region": region, "type": ty,
        "image": null, "tags": [], "specs": plan_specs(ty),
        "lke_cluster_id": cluster, "has_user_data": false,
    });
    st.instances.insert(
        instance,
        SimInstance {
            body,
            created: Instant::now(),
            raw: false,
            power: image::Power::default(),
        },
    );
    if st.lists_lag {
        st.unlisted.insert(instance);
    }
    SimNode {
        id,
        instance,
        born: Instant::now(),
    }
}

/// A node's Linode is deleted, with what `DELETE /linode/instances/{id}` does
/// to its disks, firewalls and volumes (they let go at `detach`).
fn remove_instance(st: &mut State, id: u64, detach: Instant) {
    if st.instances.remove(&id).is_none() {
        return;
    }
    st.unlisted.remove(&id);
    image::linode_deleted(st, id);
    for f in st.firewalls.values_mut() {
        for d in f.devices.iter_mut().filter(|d| d.1 == id) {
            d.2 = Some(detach);
        }
    }
    volume::linode_deleted(st, id, detach);
}

fn make_pool(
    st: &mut State,
    cluster: u64,
    region: &str,
    spec: PoolSpec,
    auto: (bool, u64, u64),
) -> u64 {
    let id = st.lke.next_pool();
    let ty = spec.ty.unwrap_or_default();
    let nodes = (0..spec.count.unwrap_or(1))
        .map(|_| add_node(st, cluster, region, id, &ty))
        .collect();
    st.lke.pools.insert(
        id,
        SimPool {
            id,
            cluster,
            ty,
            nodes,
            disks: spec.disks.unwrap_or_default(),
            autoscaler: auto,
            labels: spec.labels.unwrap_or_default(),
            taints: spec.taints.unwrap_or_default(),
            tags: spec.tags.unwrap_or_default(),
        },
    );
    id
}

/// A pool as the API shows it (the spec's fields; recorded shape). A node is
/// `not_ready` until `lke_node_ready_ms` after it was made.
fn pool_json(config: &SimConfig, p: &SimPool) -> Value {
    let ready = Duration::from_millis(config.lke_node_ready_ms);
    let nodes: Vec<Value> = p.nodes.iter().map(|n| node_json(n, ready)).collect();
    json!({
        "id": p.id, "type": p.ty, "count": p.nodes.len(), "nodes": nodes, "disks": p.disks,
        "autoscaler": {"enabled": p.autoscaler.0, "min": p.autoscaler.1, "max": p.autoscaler.2},
        "labels": p.labels, "taints": p.taints, "tags": p.tags,
    })
}

fn node_json(n: &SimNode, ready: Duration) -> Value {
    let status = if n.born.elapsed() >= ready {
        "ready"
    } else {
        "not_ready"
    };
    json!({"id": n.id, "instance_id": n.instance, "status": status})
}

// ---- clusters ---------------------------------------------------------------

/// A cluster as the API shows it: the spec's fields plus `status`, which the
/// real API sends (recorded: `"status": "ready"` from creation on). Naive UTC
/// timestamps, as every other object.
fn cluster_json(c: &SimCluster) -> Value {
    json!({
        "id": c.id, "status": "ready", "created": c.created, "updated": c.updated,
        "label": c.label, "region": c.region, "k8s_version": c.k8s_version,
        "control_plane": {"high_availability": c.high_availability}, "tags": c.tags,
    })
}

/// `control_plane` on create (`current` None) or update: only
/// `high_availability` (a boolean); ACLs are not modelled and refused.
fn check_control_plane(v: Option<&Value>, current: Option<bool>, errs: &mut Errs) -> Option<bool> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(cp)) => {
            let mut ha = None;
            for (k, v) in cp {
                match (k.as_str(), v) {
                    ("high_availability", Value::Bool(b)) => ha = Some(*b),
                    ("high_availability", Value::Null) => {}
                    ("high_availability", _) => err(
                        errs,
                        "high_availability must be a boolean",
                        "control_plane.high_availability",
                    ),
                    ("acl", _) => err(
                        errs,
                        "linode-sim does not implement control plane ACLs",
                        "control_plane.acl",
                    ),
                    _ => err(
                        errs,
                        format!("{k} is not a valid field"),
                        format!("control_plane.{k}"),
                    ),
                }
            }
            // Spec: "Enabling High Availability for LKE is an __irreversible__ change."
            if current == Some(true) && ha == Some(false) {
                err(
                    errs,
                    "High availability cannot be disabled once enabled",
                    "control_plane.high_availability",
                );
            }
            ha
        }
        Some(_) => {
            err(errs, "control_plane must be an object", "control_plane");
            None
        }
    }
}

fn label_taken(st: &State, label: &str, except: Option<u64>) -> bool {
    st.lke
        .clusters
        .values()
        .any(|c| c.label == label && Some(c.id) != except)
}

/// `POST /lke/clusters`. Spec: `label`, `region`, `k8s_version` and
/// `node_pools` required, `additionalProperties: false`. Answers the whole
/// cluster (the spec's 200 schema omits `id` and `control_plane`; the real
/// API sends them, recorded).
fn create_cluster(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return bad_body();
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "label" | "region" | "k8s_version" | "node_pools" | "control_plane" | "tags"
        ) {
            err(&mut errs, format!("{k} is not a valid field"), k.clone());
        }
    }
    let label = match b.get("label") {
        None | Some(Value::Null) => {
            err(&mut errs, "label is required", "label");
            None
        }
        Some(Value::String(l)) if cluster_label_ok(l) => Some(l.clone()),
        Some(Value::String(_)) => {
            err(&mut errs, LABEL_REASON, "label");
            None
        }
        Some(_) => {
            err(&mut errs, "label must be a string", "label");
            None
        }
    };
    let region = match b.get("region") {
        None | Some(Value::Null) => {
            err(&mut errs, "region is required", "region");
            None
        }
        Some(Value::String(r)) => match region_with(r, "Kubernetes") {
            Ok(()) => Some(r.clone()),
            Err(e) => {
                err(&mut errs, e, "region");
                None
            }
        },
        Some(_) => {
            err(&mut errs, "region is not valid", "region");
            None
        }
    };
    let version = match b.get("k8s_version") {
        None | Some(Value::Null) => {
            err(&mut errs, "k8s_version is required", "k8s_version");
            None
        }
        Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => Some(v.clone()),
        Some(_) => {
            err(
                &mut errs,
                format!("k8s_version must be one of {}", VERSIONS.join(", ")),
                "k8s_version",
            );
            None
        }
    };
    let mut pools = Vec::new();
    match b.get("node_pools") {
        None | Some(Value::Null) => err(&mut errs, "node_pools is required", "node_pools"),
        // The spec gives no `minItems`; a cluster without nodes is refused
        // (Cloud Manager: "Please add at least one node pool."), the stricter.
        Some(Value::Array(list)) if list.is_empty() => err(
            &mut errs,
            "At least one node pool is required",
            "node_pools",
        ),
        Some(Value::Array(list)) => {
            for (i, p) in list.iter().enumerate() {
                let prefix = format!("node_pools[{i}]");
                let spec = check_pool(p, &prefix, true, &mut errs);
                let auto =
                    resolve_autoscaler(spec.autoscaler, None, spec.count, &prefix, &mut errs);
                pools.push((spec, auto));
            }
        }
        Some(_) => err(&mut errs, "node_pools must be a list", "node_pools"),
    }
    let ha = check_control_plane(b.get("control_plane"), None, &mut errs).unwrap_or(false);
    let tags = check_tags(b.get("tags"), "tags", &mut errs).unwrap_or_default();

    let mut st = state.lock().unwrap();
    if let Some(l) = &label {
        // Spec: "This Kubernetes cluster's unique label".
        if label_taken(&st, l, None) {
            err(
                &mut errs,
                "Label must be unique among your clusters",
                "label",
            );
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let (Some(label), Some(region), Some(version)) = (label, region, version) else {
        return (400, errors(&[("Invalid request", None)]));
    };
    let id = st.lke.next_cluster();
    let now = now_naive_utc();
    let cluster = SimCluster {
        id,
        label,
        region: region.clone(),
        k8s_version: version,
        high_availability: ha,
        tags,
        created: now.clone(),
        updated: now,
        kube_since: Instant::now(),
    };
    let out = cluster_json(&cluster);
    st.lke.clusters.insert(id, cluster);
    for (spec, auto) in pools {
        make_pool(&mut st, id, &region, spec, auto);
    }
    (200, out)
}

/// `PUT /lke/clusters/{id}`: `label`, `tags`, `k8s_version` and
/// `control_plane` (spec: `additionalProperties: false`). A version must be
/// one offered, and the same or the next minor one: LKE upgrades one minor
/// version at a time and never downgrades (the spec says only "New and
/// recycled Nodes in this cluster will be installed with the version"; the
/// stricter answer).
fn update_cluster(state: &Arc<Mutex<State>>, id: u64, body: Option<Value>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let Some(current) = st.lke.clusters.get(&id).cloned() else {
        return not_found();
    };
    let Some(Value::Object(b)) = body else {
        return bad_body();
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "label" | "tags" | "k8s_version" | "control_plane"
        ) {
            err(&mut errs, format!("{k} is not a valid field"), k.clone());
        }
    }
    let label = match b.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) if cluster_label_ok(l) => {
            if label_taken(&st, l, Some(id)) {
                err(
                    &mut errs,
                    "Label must be unique among your clusters",
                    "label",
                );
            }
            Some(l.clone())
        }
        Some(_) => {
            err(&mut errs, LABEL_REASON, "label");
            None
        }
    };
    let tags = check_tags(b.get("tags"), "tags", &mut errs);
    let version = match b.get("k8s_version") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => {
            match (parse_version(v), parse_version(&current.k8s_version)) {
                (Some((ma, mi)), Some((cma, cmi))) if ma == cma && (mi == cmi || mi == cmi + 1) => {
                    Some(v.clone())
                }
                _ => {
                    err(
                        &mut errs,
                        "k8s_version can only be upgraded to the next minor version",
                        "k8s_version",
                    );
                    None
                }
            }
        }
        Some(_) => {
            err(
                &mut errs,
                format!("k8s_version must be one of {}", VERSIONS.join(", ")),
                "k8s_version",
            );
            None
        }
    };
    let ha = check_control_plane(
        b.get("control_plane"),
        Some(current.high_availability),
        &mut errs,
    );
    if !errs.is_empty() {
        return answer(errs);
    }
    let c = st.lke.clusters.get_mut(&id).unwrap();
    if let Some(l) = label {
        c.label = l;
    }
    if let Some(t) = tags {
        c.tags = t;
    }
    if let Some(v) = version {
        c.k8s_version = v;
    }
    if let Some(h) = ha {
        c.high_availability = h;
    }
    c.updated = now_naive_utc();
    (200, cluster_json(c))
}

/// `DELETE /lke/clusters/{id}`: its pools and their Linodes go (spec:
/// "Deletes all Linodes in all pools"); volumes stay (spec: "Does not delete
/// any of the volumes"), letting go of the deleted nodes `detach_ms` later;
/// the NodeBalancers its cloud controller manager made stay too unless
/// `lke_delete_removes_nodebalancers` (which see).
fn delete_cluster(state: &Arc<Mutex<State>>, id: u64) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    if st.lke.clusters.remove(&id).is_none() {
        return not_found();
    }
    let detach = Instant::now() + Duration::from_millis(st.config.detach_ms);
    let pools: Vec<u64> = st
        .lke
        .pools
        .values()
        .filter(|p| p.cluster == id)
        .map(|p| p.id)
        .collect();
    for pid in pools {
        if let Some(p) = st.lke.pools.remove(&pid) {
            for n in p.nodes {
                remove_instance(&mut st, n.instance, detach);
            }
        }
    }
    if st.config.lke_delete_removes_nodebalancers {
        st.lke.nodebalancers.retain(|_, nb| nb.cluster != Some(id));
    }
    (200, json!({}))
}

// ---- pools ------------------------------------------------------------------

fn create_pool(state: &Arc<Mutex<State>>, cluster: u64, body: Option<Value>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let Some(region) = st.lke.clusters.get(&cluster).map(|c| c.region.clone()) else {
        return not_found();
    };
    let Some(body @ Value::Object(_)) = body else {
        return bad_body();
    };
    let mut errs: Errs = Vec::new();
    let spec = check_pool(&body, "", true, &mut errs);
    let auto = resolve_autoscaler(spec.autoscaler, None, spec.count, "", &mut errs);
    if !errs.is_empty() {
        return answer(errs);
    }
    let id = make_pool(&mut st, cluster, &region, spec, auto);
    let out = pool_json(&st.config, &st.lke.pools[&id]);
    (200, out)
}

/// `PUT /lke/clusters/{id}/pools/{poolId}`: "Linodes are created or deleted
/// to match changes to the Node Pool's count. Specifying labels or taints on
/// update overwrites any previous values" (spec). The last nodes go first.
fn update_pool(
    state: &Arc<Mutex<State>>,
    cluster: u64,
    id: u64,
    body: Option<Value>,
) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let Some(region) = st.lke.clusters.get(&cluster).map(|c| c.region.clone()) else {
        return not_found();
    };
    let Some(current) = st
        .lke
        .pools
        .get(&id)
        .filter(|p| p.cluster == cluster)
        .cloned()
    else {
        return not_found();
    };
    let Some(body @ Value::Object(_)) = body else {
        return bad_body();
    };
    let mut errs: Errs = Vec::new();
    let spec = check_pool(&body, "", false, &mut errs);
    let count = spec.count.unwrap_or(current.nodes.len() as u64);
    let auto = resolve_autoscaler(
        spec.autoscaler,
        Some(current.autoscaler),
        Some(count),
        "",
        &mut errs,
    );
    if !errs.is_empty() {
        return answer(errs);
    }
    let detach = Instant::now() + Duration::from_millis(st.config.detach_ms);
    let mut pool = current;
    while (pool.nodes.len() as u64) > count {
        let n = pool.nodes.pop().unwrap();
        remove_instance(&mut st, n.instance, detach);
    }
    while (pool.nodes.len() as u64) < count {
        let n = add_node(&mut st, cluster, &region, id, &pool.ty);
        pool.nodes.push(n);
    }
    pool.autoscaler = auto;
    if let Some(l) = spec.labels {
        pool.labels = l;
    }
    if let Some(t) = spec.taints {
        pool.taints = t;
    }
    if let Some(t) = spec.tags {
        pool.tags = t;
    }
    let out = pool_json(&st.config, &pool);
    st.lke.pools.insert(id, pool);
    (200, out)
}

/// `DELETE /lke/clusters/{id}/pools/{poolId}`: "Deleting a Node Pool will
/// delete all Linodes within that Pool" (spec). The cluster's last pool is
/// refused: the spec does not say, a cluster is made with at least one pool
/// and a cluster without nodes is the state the create refuses (the stricter
/// answer).
fn delete_pool(state: &Arc<Mutex<State>>, cluster: u64, id: u64) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    if !st.lke.clusters.contains_key(&cluster)
        || st.lke.pools.get(&id).is_none_or(|p| p.cluster != cluster)
    {
        return not_found();
    }
    if st
        .lke
        .pools
        .values()
        .filter(|p| p.cluster == cluster)
        .count()
        == 1
    {
        return (
            400,
            errors(&[("A cluster must keep at least one node pool", None)]),
        );
    }
    let detach = Instant::now() + Duration::from_millis(st.config.detach_ms);
    if let Some(p) = st.lke.pools.remove(&id) {
        for n in p.nodes {
            remove_instance(&mut st, n.instance, detach);
        }
    }
    (200, json!({}))
}

// ---- kubeconfig -------------------------------------------------------------

/// Seconds until a cluster's kubeconfig and API endpoints are ready (at least
/// 1, the `Retry-After` of a 503), `None` once they are.
fn not_ready(config: &SimConfig, c: &SimCluster) -> Option<u64> {
    let ready = Duration::from_millis(config.lke_kubeconfig_ready_ms);
    let age = c.kube_since.elapsed();
    (age < ready).then(|| ((ready - age).as_millis() as u64).div_ceil(1000).max(1))
}

/// A scalar as the real kubeconfig writes it (plain), double-quoted when it
/// would not read back as the same string.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+~@".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap()
    }
}

/// The kubeconfig LKE hands out, line for line as the real one (recorded:
/// linodego TestLKECluster_Kubeconfig_Get): cluster `lke<id>`, user
/// `lke<id>-admin` with a bearer token, context `lke<id>-ctx` in namespace
/// `default`. With an empty `ca_pem` the `certificate-authority-data` line is
/// left out (the client then trusts its system roots).
pub fn kubeconfig_yaml(cluster: u64, api: &KubeApi) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let ca = if api.ca_pem.is_empty() {
        String::new()
    } else {
        format!(
            "    certificate-authority-data: {}\n",
            b64.encode(api.ca_pem.as_bytes())
        )
    };
    format!(
        "\napiVersion: v1\nkind: Config\npreferences: {{}}\n\nclusters:\n- cluster:\n{ca}    server: {server}\n  name: lke{cluster}\n\nusers:\n- name: lke{cluster}-admin\n  user:\n    as-user-extra: {{}}\n    token: {token}\n\ncontexts:\n- context:\n    cluster: lke{cluster}\n    namespace: default\n    user: lke{cluster}-admin\n  name: lke{cluster}-ctx\n\ncurrent-context: lke{cluster}-ctx\n",
        server = yaml_scalar(&api.server),
        token = yaml_scalar(&api.token),
    )
}

fn kube_api(config: &SimConfig) -> KubeApi {
    config.kube_api.clone().unwrap_or_else(KubeApi::placeholder)
}

// ---- NodeBalancers ----------------------------------------------------------

/// A NodeBalancer as the API shows it (the spec's fields plus `type`,
/// `client_udp_sess_throttle` and `lke_cluster`, which the real API sends,
/// recorded: linodego TestNodeBalancer_Get). Its address is the simulator's
/// loopback `ipv4`; the hostname is shaped as the real ones,
/// `nb-<a-b-c-d>.<place>.nodebalancer.linode.com`, with the region id for the
/// place. `ipv6` is null (the spec allows it; a stand-in hands out no public
/// address). `lke_cluster` names the cluster that made it while that cluster
/// exists.
fn nodebalancer_json(st: &State, nb: &SimNodeBalancer) -> Value {
    let ip = st.config.ipv4.clone();
    let lke_cluster = nb
        .cluster
        .and_then(|c| st.lke.clusters.get(&c))
        .map(|c| json!({"id": c.id, "label": c.label, "type": "lkecluster", "url": format!("/v4/lke/clusters/{}", c.id)}));
    json!({
        "id": nb.id, "label": nb.label, "region": nb.region, "type": "common",
        "hostname": format!("nb-{}.{}.nodebalancer.linode.com", ip.replace('.', "-"), nb.region),
        "ipv4": ip, "ipv6": null, "created": nb.created, "updated": nb.updated,
        "client_conn_throttle": nb.throttle, "client_udp_sess_throttle": 0,
        "lke_cluster": lke_cluster, "tags": nb.tags,
        "transfer": {"in": null, "out": null, "total": null},
    })
}

/// A NodeBalancer label: 3-32 of letters, digits, `-` and `_` (spec pattern).
pub fn nodebalancer_label_ok(label: &str) -> bool {
    (3..=32).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `POST /nodebalancers`, simply: spec `required: [region]`,
/// `additionalProperties: false`; a region with the NodeBalancers
/// capability, a unique label (default `nodebalancer<id>`), a throttle of
/// 0-20, an existing firewall, tags. Port configs are not modelled: a
/// non-empty `configs` is refused.
fn create_nodebalancer(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return bad_body();
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "client_conn_throttle" | "configs" | "firewall_id" | "label" | "region" | "tags"
        ) {
            err(&mut errs, format!("{k} is not a valid field"), k.clone());
        }
    }
    let region = match b.get("region") {
        None | Some(Value::Null) => {
            err(&mut errs, "region is required", "region");
            None
        }
        Some(Value::String(r)) => match region_with(r, "NodeBalancers") {
            Ok(()) => Some(r.clone()),
            Err(e) => {
                err(&mut errs, e, "region");
                None
            }
        },
        Some(_) => {
            err(&mut errs, "region is not valid", "region");
            None
        }
    };
    let label = match b.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) if nodebalancer_label_ok(l) => Some(l.clone()),
        Some(_) => {
            err(
                &mut errs,
                "Label must be 3-32 characters of letters, digits, '-' and '_'",
                "label",
            );
            None
        }
    };
    let throttle = int_in(
        b.get("client_conn_throttle"),
        0,
        20,
        "client_conn_throttle",
        &mut errs,
    )
    .unwrap_or(0);
    match b.get("configs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => err(
            &mut errs,
            "linode-sim does not implement NodeBalancer configs",
            "configs",
        ),
    }
    let tags = check_tags(b.get("tags"), "tags", &mut errs).unwrap_or_default();
    let mut st = state.lock().unwrap();
    match b.get("firewall_id") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64() {
            Some(f) if st.firewalls.contains_key(&f) => {}
            Some(_) => err(&mut errs, "Firewall not found", "firewall_id"),
            None => err(&mut errs, "firewall_id must be an integer", "firewall_id"),
        },
    }
    if let Some(l) = &label {
        // Spec: "These must be unique on your Account."
        if st.lke.nodebalancers.values().any(|n| n.label == *l) {
            err(
                &mut errs,
                "Label must be unique among your NodeBalancers",
                "label",
            );
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let Some(region) = region else {
        return (400, errors(&[("Invalid request", None)]));
    };
    let id = st.lke.next_nodebalancer();
    let now = now_naive_utc();
    let nb = SimNodeBalancer {
        id,
        label: label.unwrap_or_else(|| format!("nodebalancer{id}")),
        region,
        tags,
        throttle,
        created: now.clone(),
        updated: now,
        cluster: None,
    };
    let out = nodebalancer_json(&st, &nb);
    st.lke.nodebalancers.insert(id, nb);
    (200, out)
}

/// The NodeBalancer the Linode cloud controller manager makes for a Service
/// of type LoadBalancer (`service`, `namespace/name`, is not visible on it:
/// the CCM does not write it). As linode/linode-cloud-controller-manager
/// `cloud/linode/loadbalancers.go` does: label `<prefix>-<last 12 hex digits
/// of the creation time in ns>`, tags `[<cluster name>]` (the CCM tags with
/// its cluster name, PR #151), throttle 0, the cluster's region. On LKE the
/// cluster name is `lke<id>` (the kubeconfig's cluster name) and the prefix is
/// taken to be `lke<id>` too (NodeBalancers of deleted LKE clusters carry
/// `lke<clusterid>-` labels, percona/pmm-qa#1296; the CCM's own default is
/// `ccm`): both are inferences, not a recorded answer.
pub(crate) fn ccm_nodebalancer(
    state: &Arc<Mutex<State>>,
    cluster: u64,
    service: &str,
    extra_tags: &[String],
) -> Result<Value, String> {
    if service.split('/').count() != 2 || service.split('/').any(str::is_empty) {
        return Err("service must be namespace/name".into());
    }
    let mut st = state.lock().unwrap();
    let Some(c) = st.lke.clusters.get(&cluster).cloned() else {
        return Err(format!("no LKE cluster {cluster}"));
    };
    let label = loop {
        let l = format!("lke{cluster}-{:012x}", st.lke.random() & 0xffff_ffff_ffff);
        if !st.lke.nodebalancers.values().any(|n| n.label == l) {
            break l;
        }
    };
    let id = st.lke.next_nodebalancer();
    let now = now_naive_utc();
    let nb = SimNodeBalancer {
        id,
        label,
        region: c.region,
        tags: std::iter::once(format!("lke{cluster}"))
            .chain(extra_tags.iter().cloned())
            .map(Value::String)
            .collect(),
        throttle: 0,
        created: now.clone(),
        updated: now,
        cluster: Some(cluster),
    };
    let out = nodebalancer_json(&st, &nb);
    st.lke.nodebalancers.insert(id, nb);
    Ok(out)
}

/// What the CCM does when its Service goes: the NodeBalancer is deleted.
pub(crate) fn remove_nodebalancer(state: &Arc<Mutex<State>>, id: u64) -> bool {
    state
        .lock()
        .unwrap()
        .lke
        .nodebalancers
        .remove(&id)
        .is_some()
}

/// The Block Storage volume the Linode CSI driver makes for a
/// PersistentVolumeClaim, attached to one of the cluster's nodes: label
/// `pvc-<16 hex>` (the external-provisioner's `--volume-name-prefix=pvc
/// --volume-name-uuid-length=16` in linode/linode-blockstorage-csi-driver's
/// manifest), no tags (the default StorageClass gives none), at least 10 GB
/// (the Block Storage minimum), in the cluster's region. Made through `POST
/// /volumes` (not logged: the CSI driver, not the client, makes it).
pub(crate) fn csi_volume(
    state: &Arc<Mutex<State>>,
    cluster: u64,
    size_gb: u64,
    label: Option<&str>,
) -> Result<Value, String> {
    let (label, node) = {
        let mut st = state.lock().unwrap();
        if !st.lke.clusters.contains_key(&cluster) {
            return Err(format!("no LKE cluster {cluster}"));
        }
        let node = st
            .lke
            .pools
            .values()
            .filter(|p| p.cluster == cluster)
            .flat_map(|p| p.nodes.iter().map(|n| n.instance))
            .find(|i| st.instances.contains_key(i));
        let Some(node) = node else {
            return Err(format!("LKE cluster {cluster} has no node Linode"));
        };
        let random = format!("pvc-{:016x}", st.lke.random());
        (label.map(str::to_string).unwrap_or(random), node)
    };
    let body = json!({"label": label, "size": size_gb.max(volume::MIN_SIZE), "linode_id": node});
    match volume::route(state, &Method::Post, &[], "", Some(body), None) {
        (200, v) => Ok(v),
        (_, e) => Err(e.to_string()),
    }
}

// ---- routes -----------------------------------------------------------------

/// `GET /lke/types`: the real list (recorded: linodego TestLKEType_List):
/// the standard control plane free, the HA one $60 a month.
pub fn lke_types() -> Vec<Value> {
    vec![
        json!({"id": "lke-sa", "label": "LKE Standard Availability", "price": {"hourly": 0.0, "monthly": 0.0},
               "region_prices": [], "transfer": 0}),
        json!({"id": "lke-ha", "label": "LKE High Availability", "price": {"hourly": 0.09, "monthly": 60.0},
               "region_prices": [{"id": "id-cgk", "hourly": 0.108, "monthly": 72.0},
                                 {"id": "br-gru", "hourly": 0.126, "monthly": 84.0}],
               "transfer": 0}),
    ]
}

/// `GET /nodebalancers/types`: the real list (recorded: linodego
/// TestNodeBalancerType_List): $10 a month, $0.015 an hour.
pub fn nodebalancer_types() -> Vec<Value> {
    vec![
        json!({"id": "nodebalancer", "label": "NodeBalancer", "price": {"hourly": 0.015, "monthly": 10.0},
               "region_prices": [{"id": "id-cgk", "hourly": 0.018, "monthly": 12.0},
                                 {"id": "br-gru", "hourly": 0.021, "monthly": 14.0}],
               "transfer": 0}),
        json!({"id": "nodebalancer-pr100", "label": "Nodebalancer Premium", "price": {"hourly": 0.225, "monthly": 150.0},
               "region_prices": [{"id": "br-gru", "hourly": 0.315, "monthly": 210.0},
                                 {"id": "id-cgk", "hourly": 0.27, "monthly": 180.0}],
               "transfer": 0}),
    ]
}

/// The `/lke...` routes; `parts` starts after `lke`. The third value is a
/// `Retry-After` (seconds) for the answer.
pub(crate) fn route(
    state: &Arc<Mutex<State>>,
    method: &Method,
    parts: &[&str],
    query: &str,
    body: Option<Value>,
    filter: Option<&str>,
) -> (u16, Value, Option<u64>) {
    let put = matches!(method, Method::Other(m) if m == "PUT");
    let no_wait = |(s, v): (u16, Value)| (s, v, None);
    match (method, parts) {
        (Method::Get, ["versions"]) => no_wait(paginate(
            VERSIONS.iter().map(|v| json!({"id": v})).collect(),
            query,
        )),
        (Method::Get, ["versions", v]) if VERSIONS.contains(v) => (200, json!({"id": v}), None),
        (Method::Get, ["types"]) => no_wait(paginate(lke_types(), query)),
        (Method::Get, ["clusters"]) => {
            let st = state.lock().unwrap();
            let items = st.lke.clusters.values().map(cluster_json).collect();
            // Spec: label, region, k8s_version and tags are Filterable.
            no_wait(filtered(
                items,
                filter,
                &["label", "region", "k8s_version", "tags"],
                query,
            ))
        }
        (Method::Post, ["clusters"]) => no_wait(create_cluster(state, body)),
        (_, ["clusters", id, rest @ ..]) => {
            let Ok(id) = id.parse::<u64>() else {
                return no_wait(not_found());
            };
            match (method, rest) {
                (Method::Get, []) => {
                    let st = state.lock().unwrap();
                    no_wait(match st.lke.clusters.get(&id) {
                        Some(c) => (200, cluster_json(c)),
                        None => not_found(),
                    })
                }
                (_, []) if put => no_wait(update_cluster(state, id, body)),
                (Method::Delete, []) => no_wait(delete_cluster(state, id)),
                (Method::Get, ["pools"]) => {
                    let st = state.lock().unwrap();
                    if !st.lke.clusters.contains_key(&id) {
                        return no_wait(not_found());
                    }
                    let items = st
                        .lke
                        .pools
                        .values()
                        .filter(|p| p.cluster == id)
                        .map(|p| pool_json(&st.config, p))
                        .collect();
                    // Spec: a pool's id and tags are Filterable.
                    no_wait(filtered(items, filter, &["id", "tags"], query))
                }
                (Method::Post, ["pools"]) => no_wait(create_pool(state, id, body)),
                (_, ["pools", pid]) => {
                    let Ok(pid) = pid.parse::<u64>() else {
                        return no_wait(not_found());
                    };
                    no_wait(match method {
                        Method::Get => {
                            let st = state.lock().unwrap();
                            match st
                                .lke
                                .pools
                                .get(&pid)
                                .filter(|p| p.cluster == id && st.lke.clusters.contains_key(&id))
                            {
                                Some(p) => (200, pool_json(&st.config, p)),
                                None => not_found(),
                            }
                        }
                        Method::Delete => delete_pool(state, id, pid),
                        _ if put => update_pool(state, id, pid, body),
                        _ => not_found(),
                    })
                }
                (Method::Get, ["nodes", node]) => {
                    let st = state.lock().unwrap();
                    let ready = Duration::from_millis(st.config.lke_node_ready_ms);
                    let found = st
                        .lke
                        .pools
                        .values()
                        .filter(|p| p.cluster == id)
                        .flat_map(|p| p.nodes.iter())
                        .find(|n| n.id == *node);
                    no_wait(match found {
                        Some(n) => (200, node_json(n, ready)),
                        None => not_found(),
                    })
                }
                (Method::Get, ["kubeconfig"]) => {
                    let st = state.lock().unwrap();
                    let Some(c) = st.lke.clusters.get(&id) else {
                        return no_wait(not_found());
                    };
                    if let Some(wait) = not_ready(&st.config, c) {
                        return (503, errors(&[(KUBECONFIG_NOT_READY, None)]), Some(wait));
                    }
                    let yaml = kubeconfig_yaml(id, &kube_api(&st.config));
                    let b64 = base64::engine::general_purpose::STANDARD.encode(yaml);
                    (200, json!({"kubeconfig": b64}), None)
                }
                // Spec: "Delete and regenerate the Kubeconfig file". The new
                // one takes `lke_kubeconfig_ready_ms` to be ready again (the
                // spec does not say; the stricter answer). Its token stays
                // `kube_api`'s: the Kubernetes stand-in a test points it at
                // knows only that one.
                (Method::Delete, ["kubeconfig"]) => {
                    let mut st = state.lock().unwrap();
                    no_wait(match st.lke.clusters.get_mut(&id) {
                        Some(c) => {
                            c.kube_since = Instant::now();
                            (200, json!({}))
                        }
                        None => not_found(),
                    })
                }
                (Method::Get, ["api-endpoints"]) => {
                    let st = state.lock().unwrap();
                    let Some(c) = st.lke.clusters.get(&id) else {
                        return no_wait(not_found());
                    };
                    if let Some(wait) = not_ready(&st.config, c) {
                        return (503, errors(&[(ENDPOINTS_NOT_READY, None)]), Some(wait));
                    }
                    let server = kube_api(&st.config).server;
                    no_wait(paginate(vec![json!({"endpoint": server})], query))
                }
                _ => no_wait(not_found()),
            }
        }
        _ => no_wait(not_found()),
    }
}

/// The `/nodebalancers...` routes; `parts` starts after `nodebalancers`.
pub(crate) fn nodebalancer_route(
    state: &Arc<Mutex<State>>,
    method: &Method,
    parts: &[&str],
    query: &str,
    body: Option<Value>,
    filter: Option<&str>,
) -> (u16, Value) {
    match (method, parts) {
        (Method::Get, []) => {
            let st = state.lock().unwrap();
            let items = st
                .lke
                .nodebalancers
                .values()
                .map(|nb| nodebalancer_json(&st, nb))
                .collect();
            // Spec: label, region, ipv4 and tags are Filterable.
            filtered(items, filter, &["label", "region", "ipv4", "tags"], query)
        }
        (Method::Post, []) => create_nodebalancer(state, body),
        (Method::Get, ["types"]) => paginate(nodebalancer_types(), query),
        (_, [id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            let mut st = state.lock().unwrap();
            match method {
                Method::Get => match st.lke.nodebalancers.get(&id) {
                    Some(nb) => (200, nodebalancer_json(&st, nb)),
                    None => not_found(),
                },
                // Spec: "The API responds with an empty object."
                Method::Delete => match st.lke.nodebalancers.remove(&id) {
                    Some(_) => (200, json!({})),
                    None => not_found(),
                },
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Admin endpoints (`/__sim/...`, `path` without that prefix):
/// `GET lke`, `GET nodebalancers`, `POST lke/{clusterId}/loadbalancer`
/// `{"service": "ns/name"}` and `POST lke/{clusterId}/volume` `{"size_gb":
/// 20}`. `None` for any other path.
pub(crate) fn admin(
    state: &Arc<Mutex<State>>,
    method: &Method,
    path: &str,
    body: &str,
) -> Option<(u16, Value)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let made = |r: Result<Value, String>| match r {
        Ok(v) => (200, v),
        Err(e) if e.starts_with("no LKE cluster") => (404, json!({"error": e})),
        Err(e) => (400, json!({"error": e})),
    };
    match (method, parts.as_slice()) {
        (Method::Get, ["lke"]) => Some((200, json!(clusters(state)))),
        (Method::Get, ["nodebalancers"]) => Some((200, json!(nodebalancers(state)))),
        (Method::Post, ["lke", id, what @ ("loadbalancer" | "volume")]) => {
            let Ok(id) = id.parse::<u64>() else {
                return Some((404, json!({"error": "no such cluster"})));
            };
            Some(if *what == "loadbalancer" {
                match body["service"].as_str() {
                    Some(s) => made(ccm_nodebalancer(state, id, s, &[])),
                    None => (
                        400,
                        json!({"error": "body must be {\"service\": \"namespace/name\"}"}),
                    ),
                }
            } else {
                match body["size_gb"].as_u64() {
                    Some(n) => made(csi_volume(state, id, n, None)),
                    None => (400, json!({"error": "body must be {\"size_gb\": N}"})),
                }
            })
        }
        _ => None,
    }
}

/// Clusters as `GET /lke/clusters/{id}` shows them, by id.
pub(crate) fn clusters(state: &Arc<Mutex<State>>) -> Vec<Value> {
    let st = state.lock().unwrap();
    st.lke.clusters.values().map(cluster_json).collect()
}

/// A cluster's pools as `GET /lke/clusters/{id}/pools` shows them, by id.
pub(crate) fn pools(state: &Arc<Mutex<State>>, cluster: u64) -> Vec<Value> {
    let st = state.lock().unwrap();
    st.lke
        .pools
        .values()
        .filter(|p| p.cluster == cluster)
        .map(|p| pool_json(&st.config, p))
        .collect()
}

/// NodeBalancers as `GET /nodebalancers/{id}` shows them, by id.
pub(crate) fn nodebalancers(state: &Arc<Mutex<State>>) -> Vec<Value> {
    let st = state.lock().unwrap();
    st.lke
        .nodebalancers
        .values()
        .map(|nb| nodebalancer_json(&st, nb))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sim;

    fn call(sim: &Sim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        crate::route(&sim.state, &method, path, "", body, None)
    }

    fn put(sim: &Sim, path: &str, body: Value) -> (u16, Value) {
        call(sim, Method::Other("PUT".into()), path, Some(body))
    }

    fn get(sim: &Sim, path: &str, query: &str, filter: Option<&str>) -> (u16, Value) {
        crate::route(&sim.state, &Method::Get, path, query, None, filter)
    }

    /// The errors' fields, in order.
    fn fields(out: &Value) -> Vec<String> {
        out["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {out}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn ids(page: &Value) -> Vec<u64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_u64().unwrap())
            .collect()
    }

    /// Short waits, long enough for a busy machine to see the state in
    /// between; Linodes stay provisioning.
    fn quick() -> SimConfig {
        SimConfig {
            lke_node_ready_ms: 200,
            lke_kubeconfig_ready_ms: 200,
            detach_ms: 300,
            volume_ready_ms: 100,
            provisioning_ms: 60_000,
            ..Default::default()
        }
    }

    /// Past every wait of [`quick`].
    fn wait() {
        std::thread::sleep(Duration::from_millis(700));
    }

    fn cluster_body(label: &str) -> Value {
        json!({"label": label, "region": "us-ord", "k8s_version": "1.33",
               "node_pools": [{"type": "g6-standard-2", "count": 3}], "tags": ["build_ai"]})
    }

    fn make(sim: &Sim, label: &str) -> u64 {
        let (s, c) = call(
            sim,
            Method::Post,
            "/lke/clusters",
            Some(cluster_body(label)),
        );
        assert_eq!(s, 200, "{c}");
        c["id"].as_u64().unwrap()
    }

    /// The Linodes of a cluster's nodes, as `/linode/instances` lists them.
    fn node_linodes(sim: &Sim, cluster: u64) -> Vec<Value> {
        sim.instances()
            .into_iter()
            .filter(|i| i["lke_cluster_id"] == json!(cluster))
            .collect()
    }

    /// Over HTTP: status, the head (status line and headers), the body.
    fn http(sim: &Sim, method: &str, path: &str, body: &str, token: bool) -> (u16, String, Value) {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", sim.port)).unwrap();
        let auth = if token {
            "Authorization: Bearer test-token\r\n"
        } else {
            ""
        };
        write!(
            c,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        let (head, rest) = out.split_once("\r\n\r\n").unwrap();
        let code = head.split(' ').nth(1).unwrap().parse().unwrap();
        (
            code,
            head.to_string(),
            serde_json::from_str(rest).unwrap_or(Value::Null),
        )
    }

    fn header(head: &str, name: &str) -> Option<String> {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    #[test]
    fn versions_and_types() {
        let sim = Sim::start(quick());
        let (s, v) = call(&sim, Method::Get, "/lke/versions", None);
        assert_eq!(
            (s, &v["page"], &v["pages"], &v["results"]),
            (200, &json!(1), &json!(1), &json!(3))
        );
        assert_eq!(v["data"][0], json!({"id": "1.34"}));
        assert_eq!(
            call(&sim, Method::Get, "/lke/versions/1.33", None),
            (200, json!({"id": "1.33"}))
        );
        for missing in ["/lke/versions/1.27", "/lke/versions/does-not-exist"] {
            assert_eq!(
                call(&sim, Method::Get, missing, None),
                (404, json!({"errors": [{"reason": "Not found"}]}))
            );
        }

        let (s, t) = call(&sim, Method::Get, "/lke/types", None);
        assert_eq!((s, &t["results"]), (200, &json!(2)));
        let by_id = |list: &Value, id: &str| {
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            by_id(&t, "lke-sa")["price"],
            json!({"hourly": 0.0, "monthly": 0.0})
        );
        let ha = by_id(&t, "lke-ha");
        assert_eq!(ha["price"], json!({"hourly": 0.09, "monthly": 60.0}));
        assert_eq!(ha["label"], "LKE High Availability");
        assert_eq!(ha["transfer"], 0);
        assert!(ha["region_prices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"].is_string() && p["hourly"].is_f64() && p["monthly"].is_f64()));

        let (s, nb) = call(&sim, Method::Get, "/nodebalancers/types", None);
        assert_eq!(s, 200);
        assert_eq!(
            by_id(&nb, "nodebalancer")["price"],
            json!({"hourly": 0.015, "monthly": 10.0})
        );
    }

    /// Over HTTP: the types need no token (the spec gives them no
    /// `security`), everything else does.
    #[test]
    fn types_need_no_token_the_rest_does() {
        let sim = Sim::start(quick());
        for path in ["/v4/lke/types", "/v4/nodebalancers/types"] {
            assert_eq!(http(&sim, "GET", path, "", false).0, 200, "{path}");
        }
        for path in [
            "/v4/lke/versions",
            "/v4/lke/clusters",
            "/v4/nodebalancers",
            "/v4/lke/clusters/1/kubeconfig",
        ] {
            let (code, _, body) = http(&sim, "GET", path, "", false);
            assert_eq!(
                (code, body),
                (401, json!({"errors": [{"reason": "Invalid Token"}]})),
                "{path}"
            );
        }
        let (code, head, _) = http(&sim, "GET", "/v4/lke/clusters", "", true);
        assert_eq!(code, 200);
        assert_eq!(header(&head, "X-RateLimit-Limit").as_deref(), Some("800"));
    }

    #[test]
    fn cluster_create_get_update_delete() {
        let sim = Sim::start(quick());
        let (s, c) = call(
            &sim,
            Method::Post,
            "/lke/clusters",
            Some(cluster_body("llm-api-prod")),
        );
        assert_eq!(s, 200, "{c}");
        let id = c["id"].as_u64().unwrap();
        assert_eq!(
            (&c["status"], &c["label"], &c["region"], &c["k8s_version"]),
            (
                &json!("ready"),
                &json!("llm-api-prod"),
                &json!("us-ord"),
                &json!("1.33")
            )
        );
        assert_eq!(c["control_plane"], json!({"high_availability": false}));
        assert_eq!(c["tags"], json!(["build_ai"]));
        // Naive UTC, as every timestamp of the API.
        let created = c["created"].as_str().unwrap();
        assert_eq!((created.len(), &created[10..11]), (19, "T"));
        assert_eq!(
            call(&sim, Method::Get, &format!("/lke/clusters/{id}"), None),
            (200, c.clone())
        );
        assert_eq!(sim.lke_clusters(), vec![c.clone()]);

        // Its one pool of three nodes, each a Linode as LKE's are.
        let (s, pools) = call(
            &sim,
            Method::Get,
            &format!("/lke/clusters/{id}/pools"),
            None,
        );
        assert_eq!((s, &pools["results"]), (200, &json!(1)));
        let pool = &pools["data"][0];
        let pid = pool["id"].as_u64().unwrap();
        assert_eq!(
            (
                &pool["type"],
                &pool["count"],
                &pool["tags"],
                &pool["labels"],
                &pool["taints"],
                &pool["disks"]
            ),
            (
                &json!("g6-standard-2"),
                &json!(3),
                &json!([]),
                &json!({}),
                &json!([]),
                &json!([])
            )
        );
        assert_eq!(
            pool["autoscaler"],
            json!({"enabled": false, "min": 3, "max": 3})
        );
        let nodes = pool["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3);
        let linodes = node_linodes(&sim, id);
        assert_eq!(linodes.len(), 3);
        for n in nodes {
            assert_eq!(n["status"], "not_ready");
            let nid = n["id"].as_str().unwrap();
            let hex = nid.strip_prefix(&format!("{pid}-")).unwrap();
            assert!(hex.len() == 12 && hex.ends_with("0000"), "{nid}");
            assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{nid}");
            let l = linodes
                .iter()
                .find(|l| l["id"] == n["instance_id"])
                .unwrap();
            assert_eq!(l["label"], json!(format!("lke{id}-{nid}")));
            assert_eq!(
                (
                    &l["tags"],
                    &l["image"],
                    &l["region"],
                    &l["type"],
                    &l["has_user_data"]
                ),
                (
                    &json!([]),
                    &Value::Null,
                    &json!("us-ord"),
                    &json!("g6-standard-2"),
                    &json!(false)
                )
            );
            let (s, one) = call(
                &sim,
                Method::Get,
                &format!("/lke/clusters/{id}/nodes/{nid}"),
                None,
            );
            assert_eq!((s, &one), (200, n));
        }
        // Other Linodes keep lke_cluster_id null.
        let mine = sim.seed_tagged("my-box", &[]);
        let (_, l) = call(
            &sim,
            Method::Get,
            &format!("/linode/instances/{mine}"),
            None,
        );
        assert_eq!(
            (&l["lke_cluster_id"], &l["has_user_data"]),
            (&Value::Null, &json!(true))
        );
        // Nodes are ready lke_node_ready_ms after they were made.
        wait();
        assert!(sim.lke_pools(id)[0]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["status"] == "ready"));

        // Updates.
        let path = format!("/lke/clusters/{id}");
        let (s, u) = put(
            &sim,
            &path,
            json!({"label": "llm-api-2", "tags": ["build_ai", "env=prod"]}),
        );
        assert_eq!(s, 200, "{u}");
        assert_eq!(
            (&u["label"], &u["tags"], &u["id"]),
            (
                &json!("llm-api-2"),
                &json!(["build_ai", "env=prod"]),
                &json!(id)
            )
        );
        let (s, u) = put(
            &sim,
            &path,
            json!({"k8s_version": "1.34", "control_plane": {"high_availability": true}}),
        );
        assert_eq!(
            (s, &u["k8s_version"], &u["control_plane"]),
            (200, &json!("1.34"), &json!({"high_availability": true})),
            "{u}"
        );
        let other = make(&sim, "other-one");
        let bad = |body: Value| {
            let (s, out) = put(&sim, &path, body);
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"k8s_version": "1.32"})), ["k8s_version"]);
        assert_eq!(bad(json!({"k8s_version": "1.27"})), ["k8s_version"]);
        assert_eq!(
            bad(json!({"control_plane": {"high_availability": false}})),
            ["control_plane.high_availability"]
        );
        assert_eq!(bad(json!({"label": "other-one"})), ["label"]);
        assert_eq!(bad(json!({"label": "bad_label"})), ["label"]);
        assert_eq!(bad(json!({"region": "us-east"})), ["region"]);
        assert_eq!(bad(json!({"tags": ["ok-tag", "no"]})), ["tags[1]"]);
        assert_eq!(
            put(&sim, "/lke/clusters/999", json!({"label": "x-y-z"})).0,
            404
        );
        assert_eq!(call(&sim, Method::Get, &path, None).1["label"], "llm-api-2");

        // Delete: the cluster, its pools and its Linodes go.
        assert_eq!(call(&sim, Method::Delete, &path, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Get, &path, None),
            (404, json!({"errors": [{"reason": "Not found"}]}))
        );
        assert_eq!(
            call(&sim, Method::Get, &format!("{path}/pools"), None).0,
            404
        );
        assert_eq!(
            call(&sim, Method::Get, &format!("{path}/pools/{pid}"), None).0,
            404
        );
        assert_eq!(call(&sim, Method::Delete, &path, None).0, 404);
        assert!(node_linodes(&sim, id).is_empty());
        assert_eq!(node_linodes(&sim, other).len(), 3);
        assert_eq!(sim.lke_clusters().len(), 1);
        assert!(sim.lke_pools(id).is_empty());
    }

    #[test]
    fn cluster_create_rejections() {
        let sim = Sim::start(quick());
        make(&sim, "taken");
        let before = sim.instances().len();
        let bad = |patch: Value| {
            let mut body = cluster_body("fresh-one");
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    body.as_object_mut().unwrap().remove(k);
                } else {
                    body[k] = v.clone();
                }
            }
            let (s, out) = call(&sim, Method::Post, "/lke/clusters", Some(body));
            assert_eq!(s, 400, "{patch}: {out}");
            out
        };
        let f = |patch: Value| fields(&bad(patch));
        let pool = |p: Value| json!({"node_pools": [p]});

        // Labels: 3-32 of letters, digits and '-'.
        for label in ["my_cluster", "has space", "ab", "", "dot.ted"] {
            assert_eq!(f(json!({"label": label})), ["label"], "{label}");
        }
        assert_eq!(f(json!({"label": "a".repeat(33)})), ["label"]);
        assert_eq!(f(json!({"label": "taken"})), ["label"]);
        assert_eq!(f(json!({"label": null})), ["label"]);
        assert_eq!(f(json!({"label": 5})), ["label"]);
        // Versions: only those /lke/versions lists.
        assert_eq!(
            bad(json!({"k8s_version": "1.27"})),
            json!({"errors": [{"reason": "k8s_version must be one of 1.34, 1.33, 1.32", "field": "k8s_version"}]})
        );
        assert_eq!(f(json!({"k8s_version": null})), ["k8s_version"]);
        // Regions: real and with Kubernetes.
        assert_eq!(
            bad(json!({"region": "ap-west"})),
            json!({"errors": [{"reason": "Kubernetes is not available in this region", "field": "region"}]})
        );
        assert_eq!(
            bad(json!({"region": "us-chi"})),
            json!({"errors": [{"reason": "region is not valid", "field": "region"}]})
        );
        assert_eq!(f(json!({"region": null})), ["region"]);
        // Pools: at least one, each with a known type and 1-100 nodes.
        assert_eq!(f(json!({"node_pools": []})), ["node_pools"]);
        assert_eq!(f(json!({"node_pools": null})), ["node_pools"]);
        assert_eq!(
            f(json!({"node_pools": {"type": "g6-standard-2", "count": 1}})),
            ["node_pools"]
        );
        for count in [json!(0), json!(101), json!(-1)] {
            assert_eq!(
                bad(pool(json!({"type": "g6-standard-2", "count": count}))),
                json!({"errors": [{"reason": "Must be a value between 1 and 100.", "field": "node_pools[0].count"}]})
            );
        }
        assert_eq!(
            f(pool(json!({"type": "g6-standard-2", "count": "3"}))),
            ["node_pools[0].count"]
        );
        assert_eq!(
            f(pool(json!({"type": "g6-standard-2"}))),
            ["node_pools[0].count"]
        );
        assert_eq!(
            bad(pool(json!({"type": "g6-standard-99", "count": 1}))),
            json!({"errors": [{"reason": "A valid plan type by that ID was not found", "field": "node_pools[0].type"}]})
        );
        assert_eq!(
            f(pool(json!({"type": "g1-gpu-rtx6000-1", "count": 1}))),
            ["node_pools[0].type"]
        );
        assert_eq!(f(pool(json!({"count": 1}))), ["node_pools[0].type"]);
        assert_eq!(
            f(
                json!({"node_pools": [{"type": "g6-standard-2", "count": 1}, {"type": "nope", "count": 0}]})
            ),
            ["node_pools[1].type", "node_pools[1].count"]
        );
        assert_eq!(
            f(pool(
                json!({"type": "g6-standard-2", "count": 1, "disk_encryption": "enabled"})
            )),
            ["node_pools[0].disk_encryption"]
        );
        // Autoscaler: min and max together, min <= count <= max when enabled.
        let auto = |a: Value, count: u64| {
            f(pool(
                json!({"type": "g6-standard-2", "count": count, "autoscaler": a}),
            ))
        };
        assert_eq!(
            auto(json!({"enabled": true, "min": 5, "max": 2}), 3),
            ["node_pools[0].autoscaler.min", "node_pools[0].count"]
        );
        assert_eq!(
            auto(json!({"enabled": true, "min": 2}), 3),
            ["node_pools[0].autoscaler"]
        );
        assert_eq!(
            auto(json!({"enabled": true, "min": 4, "max": 6}), 3),
            ["node_pools[0].count"]
        );
        assert_eq!(
            auto(json!({"enabled": true, "min": 0, "max": 101}), 3),
            [
                "node_pools[0].autoscaler.min",
                "node_pools[0].autoscaler.max"
            ]
        );
        assert_eq!(
            auto(json!({"enabled": "yes"}), 3),
            ["node_pools[0].autoscaler.enabled"]
        );
        // Without a count only the count is reported.
        assert_eq!(
            f(pool(
                json!({"type": "g6-standard-2", "autoscaler": {"enabled": true, "min": 2, "max": 3}})
            )),
            ["node_pools[0].count"]
        );
        // Kubernetes labels and taints.
        let lt = |extra: Value| {
            let mut p = json!({"type": "g6-standard-2", "count": 1});
            for (k, v) in extra.as_object().unwrap() {
                p[k] = v.clone();
            }
            f(pool(p))
        };
        assert_eq!(
            lt(json!({"labels": {"bad key!": "x"}})),
            ["node_pools[0].labels.bad key!"]
        );
        assert_eq!(
            lt(json!({"labels": {"app": "-x"}})),
            ["node_pools[0].labels.app"]
        );
        assert_eq!(
            lt(json!({"labels": {"UPPER.example.com/app": "x"}})),
            ["node_pools[0].labels.UPPER.example.com/app"]
        );
        assert_eq!(lt(json!({"labels": ["app"]})), ["node_pools[0].labels"]);
        assert_eq!(
            lt(json!({"taints": [{"key": "gpu", "value": "true", "effect": "Sometimes"}]})),
            ["node_pools[0].taints[0].effect"]
        );
        assert_eq!(
            lt(json!({"taints": [{"key": "gpu", "effect": "NoSchedule"}]})),
            ["node_pools[0].taints[0].value"]
        );
        assert_eq!(lt(json!({"tags": ["no"]})), ["node_pools[0].tags[0]"]);
        assert_eq!(
            lt(json!({"disks": [{"size": 1024, "type": "xfs"}]})),
            ["node_pools[0].disks[0].type"]
        );
        assert_eq!(
            lt(json!({"disks": [{"size": 81920, "type": "raw"}]})),
            ["node_pools[0].disks"]
        );
        // The rest of the body.
        assert_eq!(f(json!({"tags": ["ab"]})), ["tags[0]"]);
        assert_eq!(f(json!({"tier": "standard"})), ["tier"]);
        assert_eq!(
            f(json!({"control_plane": {"acl": {"enabled": true}}})),
            ["control_plane.acl"]
        );
        assert_eq!(
            f(json!({"control_plane": {"high_availability": "yes"}})),
            ["control_plane.high_availability"]
        );
        assert_eq!(
            call(&sim, Method::Post, "/lke/clusters", Some(json!([1]))),
            (
                400,
                json!({"errors": [{"reason": "Request body must be a JSON object"}]})
            )
        );
        // Nothing was made.
        assert_eq!(sim.lke_clusters().len(), 1);
        assert_eq!(sim.instances().len(), before);

        // What is accepted: nulls for absent (as linodego sends), labels with
        // a DNS prefix, taints, an autoscaler, HA, a GPU pool.
        let (s, c) = call(
            &sim,
            Method::Post,
            "/lke/clusters",
            Some(
                json!({"label": "Full-1", "region": "de-fra-2", "k8s_version": "1.32",
                "control_plane": {"high_availability": true}, "tags": null,
                "node_pools": [
                    {"type": "g6-standard-2", "count": 1, "disks": null, "tags": null, "labels": null, "taints": null},
                    {"type": "g2-gpu-rtx4000a1-s", "count": 2, "tags": ["gpu-pool"],
                     "autoscaler": {"enabled": true, "min": 1, "max": 4},
                     "labels": {"example.com/my-app": "teams", "tier": ""},
                     "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                     "disks": [{"size": 1024, "type": "ext4"}]}]}),
            ),
        );
        assert_eq!(s, 200, "{c}");
        assert_eq!(
            (&c["control_plane"]["high_availability"], &c["tags"]),
            (&json!(true), &json!([]))
        );
        let pools = sim.lke_pools(c["id"].as_u64().unwrap());
        assert_eq!(pools.len(), 2);
        assert_eq!(
            pools[1]["autoscaler"],
            json!({"enabled": true, "min": 1, "max": 4})
        );
        assert_eq!(
            pools[1]["labels"],
            json!({"example.com/my-app": "teams", "tier": ""})
        );
        assert_eq!(pools[1]["taints"][0]["key"], "nvidia.com/gpu");
        assert_eq!(pools[1]["disks"], json!([{"size": 1024, "type": "ext4"}]));
        assert_eq!(sim.instances().len(), before + 3);
    }

    #[test]
    fn pools_create_resize_delete() {
        let sim = Sim::start(quick());
        let id = make(&sim, "pools");
        let other = make(&sim, "others");
        let base = format!("/lke/clusters/{id}/pools");
        let first = sim.lke_pools(id)[0]["id"].as_u64().unwrap();
        let (s, p) = call(
            &sim,
            Method::Post,
            &base,
            Some(
                json!({"type": "g6-dedicated-4", "count": 2, "tags": ["gpu-pool"],
                        "autoscaler": {"enabled": true, "min": 1, "max": 4},
                        "labels": {"role": "inference"},
                        "taints": [{"key": "dedicated", "value": "llm", "effect": "NoExecute"}]}),
            ),
        );
        assert_eq!(s, 200, "{p}");
        let pid = p["id"].as_u64().unwrap();
        assert_eq!(
            (
                &p["type"],
                &p["count"],
                &p["autoscaler"],
                &p["labels"],
                &p["tags"]
            ),
            (
                &json!("g6-dedicated-4"),
                &json!(2),
                &json!({"enabled": true, "min": 1, "max": 4}),
                &json!({"role": "inference"}),
                &json!(["gpu-pool"])
            )
        );
        assert_eq!(node_linodes(&sim, id).len(), 5);
        let path = format!("{base}/{pid}");
        assert_eq!(call(&sim, Method::Get, &path, None), (200, p.clone()));
        // Not under another cluster.
        for (m, wrong) in [
            (Method::Get, format!("/lke/clusters/{other}/pools/{pid}")),
            (Method::Delete, format!("/lke/clusters/{other}/pools/{pid}")),
            (Method::Get, format!("/lke/clusters/999/pools/{pid}")),
            (Method::Get, format!("{base}/999")),
            (Method::Get, format!("{base}/abc")),
            (Method::Post, "/lke/clusters/999/pools".to_string()),
        ] {
            assert_eq!(
                call(
                    &sim,
                    m,
                    &wrong,
                    Some(json!({"type": "g6-standard-2", "count": 1}))
                )
                .0,
                404,
                "{wrong}"
            );
        }
        assert_eq!(
            put(
                &sim,
                &format!("/lke/clusters/{other}/pools/{pid}"),
                json!({"count": 3})
            )
            .0,
            404
        );

        // Listed, filtered on tags and id only.
        let (s, list) = get(&sim, &base, "", Some(r#"{"tags": "gpu-pool"}"#));
        assert_eq!((s, ids(&list)), (200, vec![pid]));
        assert_eq!(ids(&get(&sim, &base, "", None).1), [first, pid]);
        assert_eq!(
            get(&sim, &base, "", Some(r#"{"type": "g6-dedicated-4"}"#)),
            (
                400,
                json!({"errors": [{"reason": "Cannot filter on type"}]})
            )
        );

        // Resized: Linodes made and deleted to match; the first nodes stay.
        let (s, up) = put(&sim, &path, json!({"count": 4}));
        assert_eq!((s, up["nodes"].as_array().unwrap().len()), (200, 4), "{up}");
        assert_eq!(up["nodes"][0], p["nodes"][0]);
        assert_eq!(node_linodes(&sim, id).len(), 7);
        let (s, down) = put(
            &sim,
            &path,
            json!({"count": 1, "labels": {}, "taints": [], "tags": []}),
        );
        assert_eq!(s, 200, "{down}");
        assert_eq!(down["nodes"], json!([p["nodes"][0]]));
        assert_eq!(
            (&down["labels"], &down["taints"], &down["tags"]),
            (&json!({}), &json!([]), &json!([]))
        );
        assert_eq!(node_linodes(&sim, id).len(), 4);
        let gone = up["nodes"][3]["instance_id"].as_u64().unwrap();
        assert_eq!(
            call(
                &sim,
                Method::Get,
                &format!("/linode/instances/{gone}"),
                None
            )
            .0,
            404
        );
        // The autoscaler turned off takes the count.
        let (s, off) = put(
            &sim,
            &path,
            json!({"count": 2, "autoscaler": {"enabled": false}}),
        );
        assert_eq!(
            (s, &off["autoscaler"]),
            (200, &json!({"enabled": false, "min": 2, "max": 2}))
        );
        let bad = |body: Value| {
            let (s, out) = put(&sim, &path, body);
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"count": 0})), ["count"]);
        assert_eq!(bad(json!({"count": 101})), ["count"]);
        assert_eq!(bad(json!({"type": "g6-standard-4"})), ["type"]);
        assert_eq!(bad(json!({"disks": []})), ["disks"]);
        assert_eq!(
            bad(json!({"autoscaler": {"enabled": true, "min": 3, "max": 5}})),
            ["count"]
        );
        assert_eq!(
            bad(json!({"taints": [{"key": "k", "value": "v", "effect": "NoSchedule", "x": 1}]})),
            ["taints[0].x"]
        );
        assert_eq!(sim.lke_pools(id)[1]["count"], 2);
        // Pool create checks as the cluster create does.
        let (s, out) = call(
            &sim,
            Method::Post,
            &base,
            Some(json!({"type": "g6-standard-2", "count": 0})),
        );
        assert_eq!((s, fields(&out)), (400, vec!["count".to_string()]));

        // Deleted with its Linodes; the last pool stays.
        assert_eq!(call(&sim, Method::Delete, &path, None), (200, json!({})));
        assert_eq!(call(&sim, Method::Get, &path, None).0, 404);
        assert_eq!(node_linodes(&sim, id).len(), 3);
        assert_eq!(
            call(&sim, Method::Delete, &format!("{base}/{first}"), None),
            (
                400,
                json!({"errors": [{"reason": "A cluster must keep at least one node pool"}]})
            )
        );
        assert_eq!(node_linodes(&sim, id).len(), 3);
    }

    #[test]
    fn kubeconfig_not_ready_then_ready() {
        let ca =
            "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUSimTest\n-----END CERTIFICATE-----\n";
        let sim = Sim::start(SimConfig {
            lke_kubeconfig_ready_ms: 1200,
            kube_api: Some(KubeApi {
                server: "https://127.0.0.1:45678".into(),
                ca_pem: ca.into(),
                token: "eyJhbGciOi.abc-def_123".into(),
            }),
            ..quick()
        });
        let id = make(&sim, "kube");
        let kc = format!("/v4/lke/clusters/{id}/kubeconfig");
        // Not ready: the real 503, with Retry-After in whole seconds.
        let (code, head, body) = http(&sim, "GET", &kc, "", true);
        assert_eq!(
            (code, body),
            (
                503,
                json!({"errors": [{"reason": "Cluster kubeconfig is not yet available. Please try again later."}]})
            )
        );
        let retry: u64 = header(&head, "Retry-After").unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        let (code, head, body) = http(
            &sim,
            "GET",
            &format!("/v4/lke/clusters/{id}/api-endpoints"),
            "",
            true,
        );
        assert_eq!(
            (code, body),
            (
                503,
                json!({"errors": [{"reason": "Cluster API Endpoints are not yet available. Please try again later."}]})
            )
        );
        assert!(header(&head, "Retry-After").is_some());

        std::thread::sleep(Duration::from_millis(1300));
        let (code, head, body) = http(&sim, "GET", &kc, "", true);
        assert_eq!(code, 200, "{body}");
        assert_eq!(header(&head, "Retry-After"), None);
        let b64 = base64::engine::general_purpose::STANDARD;
        let yaml =
            String::from_utf8(b64.decode(body["kubeconfig"].as_str().unwrap()).unwrap()).unwrap();
        let lines: Vec<&str> = yaml.lines().collect();
        for want in [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- cluster:",
            "    server: https://127.0.0.1:45678",
            &format!("  name: lke{id}"),
            "users:",
            &format!("- name: lke{id}-admin"),
            "  user:",
            "    token: eyJhbGciOi.abc-def_123",
            "contexts:",
            "- context:",
            &format!("    cluster: lke{id}"),
            "    namespace: default",
            &format!("    user: lke{id}-admin"),
            &format!("  name: lke{id}-ctx"),
            &format!("current-context: lke{id}-ctx"),
        ] {
            assert!(lines.contains(&want), "{want:?} not in\n{yaml}");
        }
        let ca_line = lines
            .iter()
            .find_map(|l| l.strip_prefix("    certificate-authority-data: "))
            .unwrap();
        assert_eq!(b64.decode(ca_line).unwrap(), ca.as_bytes());
        // The cluster entry comes before its user and context, as in the real one.
        assert!(
            yaml.find("clusters:") < yaml.find("users:")
                && yaml.find("users:") < yaml.find("contexts:")
        );

        let (code, _, eps) = http(
            &sim,
            "GET",
            &format!("/v4/lke/clusters/{id}/api-endpoints"),
            "",
            true,
        );
        assert_eq!(
            (code, &eps["data"]),
            (200, &json!([{"endpoint": "https://127.0.0.1:45678"}]))
        );

        // Regenerated: not ready again for a moment, then the same target.
        let (code, _, body) = http(&sim, "DELETE", &kc, "", true);
        assert_eq!((code, body), (200, json!({})));
        assert_eq!(http(&sim, "GET", &kc, "", true).0, 503);
        sim.set_kube_api(KubeApi {
            server: "https://127.0.0.1:45679".into(),
            ca_pem: String::new(),
            token: "needs: quoting".into(),
        });
        std::thread::sleep(Duration::from_millis(1300));
        let (code, _, body) = http(&sim, "GET", &kc, "", true);
        assert_eq!(code, 200);
        let yaml =
            String::from_utf8(b64.decode(body["kubeconfig"].as_str().unwrap()).unwrap()).unwrap();
        assert!(
            yaml.contains("\n    server: https://127.0.0.1:45679\n"),
            "{yaml}"
        );
        assert!(yaml.contains("\n    token: \"needs: quoting\"\n"), "{yaml}");
        assert!(!yaml.contains("certificate-authority-data"), "{yaml}");

        for path in [
            "/v4/lke/clusters/999/kubeconfig",
            "/v4/lke/clusters/999/api-endpoints",
        ] {
            assert_eq!(http(&sim, "GET", path, "", true).0, 404);
        }
        assert_eq!(
            http(&sim, "DELETE", "/v4/lke/clusters/999/kubeconfig", "", true).0,
            404
        );
    }

    #[test]
    fn kubeconfig_defaults_to_a_placeholder() {
        let sim = Sim::start(SimConfig {
            lke_kubeconfig_ready_ms: 0,
            ..quick()
        });
        let id = make(&sim, "placeholder");
        let (s, out) = call(
            &sim,
            Method::Get,
            &format!("/lke/clusters/{id}/kubeconfig"),
            None,
        );
        assert_eq!(s, 200);
        let yaml = base64::engine::general_purpose::STANDARD
            .decode(out["kubeconfig"].as_str().unwrap())
            .unwrap();
        let yaml = String::from_utf8(yaml).unwrap();
        assert_eq!(yaml, kubeconfig_yaml(id, &KubeApi::placeholder()));
        assert!(
            yaml.contains("\n    server: https://127.0.0.1:6443\n  name: lke"),
            "{yaml}"
        );
        assert!(yaml.contains("\n    token: sim-token\n"), "{yaml}");
        assert!(!yaml.contains("certificate-authority-data"));
        // Scalars that would read back as something else are quoted.
        for (raw, out) in [
            ("true", "\"true\""),
            ("123", "\"123\""),
            ("", "\"\""),
            ("a#b", "\"a#b\""),
            ("abc.DEF-1_2", "abc.DEF-1_2"),
        ] {
            assert_eq!(yaml_scalar(raw), out);
        }
    }

    #[test]
    fn cluster_delete_leaves_ccm_nodebalancers_and_csi_volumes() {
        let sim = Sim::start(quick());
        let id = make(&sim, "workloads");
        let keep = make(&sim, "stays");
        let nb = sim.ccm_nodebalancer(id, "default/llm-api");
        let other_nb = sim.ccm_nodebalancer(keep, "default/chat");
        let nbs = sim.nodebalancers();
        let n = nbs.iter().find(|n| n["id"] == json!(nb)).unwrap().clone();
        let label = n["label"].as_str().unwrap();
        let prefix = format!("lke{id}-");
        assert!(
            label.starts_with(&prefix) && label.len() == prefix.len() + 12,
            "{label}"
        );
        assert!(label[prefix.len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            (
                &n["tags"],
                &n["region"],
                &n["ipv4"],
                &n["hostname"],
                &n["type"]
            ),
            (
                &json!([format!("lke{id}")]),
                &json!("us-ord"),
                &json!("127.0.0.1"),
                &json!("nb-127-0-0-1.us-ord.nodebalancer.linode.com"),
                &json!("common")
            )
        );
        assert_eq!(
            n["lke_cluster"],
            json!({"id": id, "label": "workloads", "type": "lkecluster", "url": format!("/v4/lke/clusters/{id}")})
        );
        assert_eq!(n["client_conn_throttle"], 0);
        assert_eq!(
            call(&sim, Method::Get, &format!("/nodebalancers/{nb}"), None),
            (200, n.clone())
        );

        let vol = sim.csi_volume(id, 5);
        let v = sim
            .volumes()
            .into_iter()
            .find(|v| v["id"] == json!(vol))
            .unwrap();
        let vlabel = v["label"].as_str().unwrap();
        assert!(vlabel.starts_with("pvc-") && vlabel.len() == 20, "{vlabel}");
        assert_eq!(
            (&v["size"], &v["region"], &v["tags"]),
            (&json!(10), &json!("us-ord"), &json!([]))
        );
        let nodes: Vec<Value> = node_linodes(&sim, id)
            .iter()
            .map(|l| l["id"].clone())
            .collect();
        assert!(nodes.contains(&v["linode_id"]), "{v}");
        let big = sim.csi_volume(id, 40);
        assert_eq!(
            sim.volumes()
                .iter()
                .find(|v| v["id"] == json!(big))
                .unwrap()["size"],
            40
        );

        // The cluster goes; what its workloads made stays.
        let (s, _) = call(&sim, Method::Delete, &format!("/lke/clusters/{id}"), None);
        assert_eq!(s, 200);
        assert!(node_linodes(&sim, id).is_empty());
        let (s, left) = get(
            &sim,
            "/nodebalancers",
            "",
            Some(&format!(r#"{{"tags": "lke{id}"}}"#)),
        );
        assert_eq!((s, ids(&left)), (200, vec![nb]));
        assert_eq!(left["data"][0]["lke_cluster"], Value::Null);
        assert_eq!(left["data"][0]["label"], n["label"]);
        assert_eq!(sim.volumes().len(), 2);
        // The volumes let go of the deleted nodes a moment later.
        let vpath = format!("/volumes/{vol}");
        assert_eq!(
            call(&sim, Method::Get, &vpath, None).1["linode_id"],
            v["linode_id"]
        );
        assert_eq!(call(&sim, Method::Delete, &vpath, None).0, 400);
        wait();
        assert_eq!(
            call(&sim, Method::Get, &vpath, None).1["linode_id"],
            Value::Null
        );

        // A client deletes them.
        let nbpath = format!("/nodebalancers/{nb}");
        assert_eq!(call(&sim, Method::Delete, &nbpath, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Get, &nbpath, None),
            (404, json!({"errors": [{"reason": "Not found"}]}))
        );
        assert_eq!(call(&sim, Method::Delete, &nbpath, None).0, 404);
        assert_eq!(call(&sim, Method::Delete, &vpath, None), (200, json!({})));
        assert_eq!(ids(&get(&sim, "/nodebalancers", "", None).1), [other_nb]);
        assert_eq!(sim.nodebalancers()[0]["lke_cluster"]["id"], json!(keep));
    }

    #[test]
    fn cluster_delete_can_remove_its_nodebalancers_as_the_spec_says() {
        let sim = Sim::start(SimConfig {
            lke_delete_removes_nodebalancers: true,
            ..quick()
        });
        let id = make(&sim, "spec-says");
        sim.ccm_nodebalancer(id, "default/a");
        sim.ccm_nodebalancer(id, "default/b");
        let (s, mine) = call(
            &sim,
            Method::Post,
            "/nodebalancers",
            Some(json!({"region": "us-ord", "label": "mine"})),
        );
        assert_eq!(s, 200, "{mine}");
        sim.csi_volume(id, 20);
        assert_eq!(sim.nodebalancers().len(), 3);
        assert_eq!(
            call(&sim, Method::Delete, &format!("/lke/clusters/{id}"), None).0,
            200
        );
        assert_eq!(
            ids(&get(&sim, "/nodebalancers", "", None).1),
            [mine["id"].as_u64().unwrap()]
        );
        // Volumes stay either way (spec: "Does not delete any of the volumes").
        assert_eq!(sim.volumes().len(), 1);
    }

    #[test]
    fn lists_filter_and_page() {
        let sim = Sim::start(quick());
        let mut made = vec![];
        for i in 0..30 {
            let region = if i % 2 == 0 { "us-ord" } else { "us-east" };
            let tags = if i % 3 == 0 {
                json!(["build_ai"])
            } else {
                json!([])
            };
            let (s, c) = call(
                &sim,
                Method::Post,
                "/lke/clusters",
                Some(
                    json!({"label": format!("c-{i}"), "region": region, "k8s_version": "1.33",
                            "node_pools": [{"type": "g6-nanode-1", "count": 1}], "tags": tags}),
                ),
            );
            assert_eq!(s, 200, "{c}");
            made.push(c["id"].as_u64().unwrap());
        }
        let (s, p2) = get(&sim, "/lke/clusters", "page=2&page_size=25", None);
        assert_eq!(
            (s, &p2["page"], &p2["pages"], &p2["results"]),
            (200, &json!(2), &json!(2), &json!(30))
        );
        assert_eq!(ids(&p2), made[25..]);
        assert_eq!(
            get(&sim, "/lke/clusters", "page=3&page_size=25", None).0,
            400
        );
        let find = |filter: &str| {
            let (s, out) = get(&sim, "/lke/clusters", "", Some(filter));
            assert_eq!(s, 200, "{out}");
            ids(&out)
        };
        assert_eq!(find(r#"{"tags": "build_ai"}"#).len(), 10);
        assert_eq!(find(r#"{"label": "c-7"}"#), [made[7]]);
        assert_eq!(
            find(r#"{"tags": "build_ai", "region": "us-east"}"#),
            [made[3], made[9], made[15], made[21], made[27]]
        );
        assert_eq!(find(r#"{"k8s_version": "1.33"}"#).len(), 30);
        assert_eq!(find(r#"{"label": {"+contains": "c-2"}}"#).len(), 11);
        assert_eq!(
            get(&sim, "/lke/clusters", "", Some(r#"{"status": "ready"}"#)),
            (
                400,
                json!({"errors": [{"reason": "Cannot filter on status"}]})
            )
        );

        // NodeBalancers.
        let mut nbs = vec![];
        for i in 0..26 {
            nbs.push(sim.ccm_nodebalancer(made[i % 2], &format!("ns/svc-{i}")));
        }
        let (s, own) = call(
            &sim,
            Method::Post,
            "/nodebalancers",
            Some(json!({"region": "us-iad", "label": "my-own", "tags": ["build_ai"]})),
        );
        assert_eq!(s, 200, "{own}");
        let (s, p2) = get(&sim, "/nodebalancers", "page=2&page_size=25", None);
        assert_eq!(
            (s, &p2["pages"], &p2["results"]),
            (200, &json!(2), &json!(27))
        );
        assert_eq!(ids(&p2), [nbs[25], own["id"].as_u64().unwrap()]);
        let find = |filter: &str| {
            let (s, out) = get(&sim, "/nodebalancers", "", Some(filter));
            assert_eq!(s, 200, "{out}");
            ids(&out)
        };
        assert_eq!(find(&format!(r#"{{"tags": "lke{}"}}"#, made[1])).len(), 13);
        assert_eq!(
            find(r#"{"tags": "build_ai"}"#),
            [own["id"].as_u64().unwrap()]
        );
        assert_eq!(
            find(r#"{"label": "my-own"}"#),
            [own["id"].as_u64().unwrap()]
        );
        assert_eq!(find(r#"{"region": "us-east"}"#).len(), 13);
        assert_eq!(find(r#"{"ipv4": "127.0.0.1"}"#).len(), 27);
        assert_eq!(
            get(&sim, "/nodebalancers", "", Some(r#"{"hostname": "x"}"#)),
            (
                400,
                json!({"errors": [{"reason": "Cannot filter on hostname"}]})
            )
        );
    }

    #[test]
    fn nodebalancer_create_and_rejections() {
        let sim = Sim::start(quick());
        let fw = sim.seed_firewall("nb-fw");
        let (s, nb) = call(
            &sim,
            Method::Post,
            "/nodebalancers",
            Some(
                json!({"region": "us-ord", "label": "balancer_1", "tags": ["build_ai"], "client_conn_throttle": 5,
                        "firewall_id": fw, "configs": []}),
            ),
        );
        assert_eq!(s, 200, "{nb}");
        assert_eq!(
            (
                &nb["label"],
                &nb["tags"],
                &nb["client_conn_throttle"],
                &nb["lke_cluster"],
                &nb["ipv6"]
            ),
            (
                &json!("balancer_1"),
                &json!(["build_ai"]),
                &json!(5),
                &Value::Null,
                &Value::Null
            )
        );
        assert_eq!(
            nb["transfer"],
            json!({"in": null, "out": null, "total": null})
        );
        let (s, plain) = call(
            &sim,
            Method::Post,
            "/nodebalancers",
            Some(json!({"region": "us-east"})),
        );
        assert_eq!(
            (s, &plain["label"]),
            (200, &json!(format!("nodebalancer{}", plain["id"])))
        );
        let bad = |body: Value| {
            let (s, out) = call(&sim, Method::Post, "/nodebalancers", Some(body));
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"label": "no-region"})), ["region"]);
        assert_eq!(bad(json!({"region": "us-chi"})), ["region"]);
        for label in ["ab", "has space", "dot.ted", &"a".repeat(33), "balancer_1"] {
            assert_eq!(
                bad(json!({"region": "us-ord", "label": label})),
                ["label"],
                "{label}"
            );
        }
        assert_eq!(
            bad(json!({"region": "us-ord", "client_conn_throttle": 21})),
            ["client_conn_throttle"]
        );
        assert_eq!(
            bad(json!({"region": "us-ord", "configs": [{"port": 80, "nodes": []}]})),
            ["configs"]
        );
        assert_eq!(
            bad(json!({"region": "us-ord", "type": "premium"})),
            ["type"]
        );
        assert_eq!(
            bad(json!({"region": "us-ord", "firewall_id": 999})),
            ["firewall_id"]
        );
        assert_eq!(bad(json!({"region": "us-ord", "tags": ["x"]})), ["tags[0]"]);
        assert_eq!(sim.nodebalancers().len(), 2);
        assert_eq!(call(&sim, Method::Get, "/nodebalancers/abc", None).0, 404);
        assert_eq!(
            put(
                &sim,
                &format!("/nodebalancers/{}", nb["id"]),
                json!({"label": "x-y-z"})
            )
            .0,
            404
        );
    }

    /// Over HTTP: the admin calls that stand for a cluster's workloads, and
    /// the request log.
    #[test]
    fn admin_endpoints_make_what_workloads_make() {
        let sim = Sim::start(quick());
        let (code, _, c) = http(
            &sim,
            "POST",
            "/v4/lke/clusters",
            &cluster_body("admin-made").to_string(),
            true,
        );
        assert_eq!(code, 200, "{c}");
        let id = c["id"].as_u64().unwrap();
        let (code, _, nb) = http(
            &sim,
            "POST",
            &format!("/__sim/lke/{id}/loadbalancer"),
            r#"{"service": "default/llm-api"}"#,
            false,
        );
        assert_eq!(
            (code, &nb["tags"]),
            (200, &json!([format!("lke{id}")])),
            "{nb}"
        );
        let (code, _, v) = http(
            &sim,
            "POST",
            &format!("/__sim/lke/{id}/volume"),
            r#"{"size_gb": 20}"#,
            false,
        );
        assert_eq!((code, &v["size"]), (200, &json!(20)), "{v}");
        assert!(v["label"].as_str().unwrap().starts_with("pvc-"));
        for (path, body, want) in [
            (
                "/__sim/lke/999/loadbalancer",
                r#"{"service": "default/x"}"#,
                404,
            ),
            ("/__sim/lke/999/volume", r#"{"size_gb": 20}"#, 404),
            (
                &format!("/__sim/lke/{id}/loadbalancer") as &str,
                r#"{"service": "no-namespace"}"#,
                400,
            ),
            (&format!("/__sim/lke/{id}/loadbalancer"), "{}", 400),
            (&format!("/__sim/lke/{id}/volume"), r#"{"size": 20}"#, 400),
        ] {
            assert_eq!(
                http(&sim, "POST", path, body, false).0,
                want,
                "{path} {body}"
            );
        }
        let (code, _, list) = http(&sim, "GET", "/__sim/lke", "", false);
        assert_eq!((code, &list), (200, &json!(sim.lke_clusters())));
        let (code, _, list) = http(&sim, "GET", "/__sim/nodebalancers", "", false);
        assert_eq!((code, list.as_array().unwrap().len()), (200, 1));
        // The existing admin endpoints still answer.
        assert_eq!(http(&sim, "GET", "/__sim/volumes", "", false).0, 200);
        let (code, _, _) = http(
            &sim,
            "POST",
            "/__sim/config",
            r#"{"lke_delete_removes_nodebalancers": true, "kube_api": {"server": "https://127.0.0.1:1", "ca_pem": "", "token": "t"}}"#,
            false,
        );
        assert_eq!(code, 200);
        assert_eq!(
            http(&sim, "DELETE", &format!("/v4/lke/clusters/{id}"), "", true).0,
            200
        );
        assert!(sim.nodebalancers().is_empty());

        // Every API request is logged; the admin calls are not.
        let log: Vec<String> = sim
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            log,
            [
                "POST /v4/lke/clusters".to_string(),
                format!("DELETE /v4/lke/clusters/{id}")
            ]
        );
        assert_eq!(
            sim.requests()[0].body.as_ref().unwrap()["label"],
            "admin-made"
        );
    }

    #[test]
    fn kubernetes_keys_and_values() {
        for ok in [
            "app",
            "example.com/my-app",
            "a.b-c_d",
            "nvidia.com/gpu",
            "x",
        ] {
            assert!(k8s_key_ok(ok, 128), "{ok}");
        }
        for bad in [
            "",
            "-app",
            "app-",
            "Example.com/app",
            "a/b/c",
            "/app",
            "example.com/",
            "bad key",
        ] {
            assert!(!k8s_key_ok(bad, 128), "{bad}");
        }
        assert!(k8s_key_ok(&"a".repeat(63), 63));
        assert!(!k8s_key_ok(&"a".repeat(64), 128));
        assert!(!k8s_key_ok(&format!("example.com/{}", "a".repeat(60)), 63));
        for ok in ["", "teams", "v1.2_3-x"] {
            assert!(k8s_value_ok(ok), "{ok}");
        }
        for bad in ["-x", "x-", "a b", &"a".repeat(64)] {
            assert!(!k8s_value_ok(bad), "{bad}");
        }
        for ok in ["abc", "llm-api-prod", "A1-b2", &"a".repeat(32)] {
            assert!(cluster_label_ok(ok), "{ok}");
        }
    }

    #[test]
    fn config_without_the_lke_fields_keeps_their_defaults() {
        let mut old = serde_json::to_value(SimConfig::default()).unwrap();
        let obj = old.as_object_mut().unwrap();
        for k in [
            "lke_node_ready_ms",
            "lke_kubeconfig_ready_ms",
            "kube_api",
            "lke_delete_removes_nodebalancers",
        ] {
            obj.remove(k);
        }
        let c: SimConfig = serde_json::from_value(old).unwrap();
        assert_eq!((c.lke_node_ready_ms, c.lke_kubeconfig_ready_ms), (300, 200));
        assert_eq!(c.kube_api, None);
        assert!(!c.lke_delete_removes_nodebalancers);
    }
}
