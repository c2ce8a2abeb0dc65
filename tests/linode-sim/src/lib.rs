//! A local stand-in for the Linode API v4, for tests only.
//!
//! It applies the rules the real API enforces (see shared FACTS.md): label
//! and tag rules, one-line base64 `metadata.user_data` of at most 16384
//! decoded bytes starting with `#cloud-config`, credentials with an image,
//! real region and type ids, the Metadata capability, unique labels. It
//! answers with the real error bodies (`{"errors": [{"reason", "field"}]}`),
//! moves instances through provisioning -> booting -> running, serves
//! `/ips` with loopback rDNS, and takes injected faults (status + Retry-After,
//! delays, latency) through `/__sim/*` admin endpoints or the Rust API.
//! Every address it hands out is loopback. DNS Manager: seeded master zones
//! (`GET /domains`) and their records (list, get, create with the spec's
//! rules, delete). Block Storage volumes (`volume.rs`): create (free or
//! attached to a Linode), list with X-Filter, get, update, attach, detach
//! (a moment later), delete (refused while attached), types with prices;
//! a deleted Linode's volumes let go `detach_ms` later. Disks, power and
//! Images (`image.rs`): every Linode made from an image has its two disks;
//! shutdown and boot, a boot script that powers the Linode off
//! (`self_poweroff_ms`) and Lassie booting it again unless
//! `watchdog_enabled` is off; capturing a private image from an offline
//! Linode's disk, listing (X-Filter), getting, updating and deleting images,
//! and Linodes made from them. LKE and NodeBalancers (`lke.rs`): Kubernetes
//! versions and types, clusters and node pools (each node a Linode), the
//! kubeconfig (503 with Retry-After until it is ready; pointing at a
//! configurable Kubernetes API) and API endpoints; NodeBalancers; what a
//! cluster's cloud controller manager and CSI driver make, which outlive it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::{Method, Request, Server};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use lke::KubeApi;

pub mod app;
pub mod filter;
pub mod firewall;
pub mod http;
pub mod image;
pub mod lke;
pub mod upstream;
pub mod volume;

/// A fault applied to matching requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// HTTP method to match (any when empty).
    #[serde(default)]
    pub method: String,
    /// Path prefix to match, e.g. `/v4/linode/instances`.
    pub path: String,
    /// Error status to answer with (0: none, see `delay_ms`).
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Handle the request normally but answer only after this delay.
    #[serde(default)]
    pub delay_ms: u64,
    /// Wait this long before handling the request (a create that lands late).
    #[serde(default)]
    pub delay_before_ms: u64,
    /// With `status` 0: answer 200 with this raw body (malformed JSON).
    #[serde(default)]
    pub body: Option<String>,
    /// Handle the request normally, then close the connection without an
    /// answer (the create went through; the client never hears of it).
    #[serde(default)]
    pub drop_answer: bool,
    /// How many requests this fault applies to.
    #[serde(default = "one")]
    pub times: u32,
}

impl Fault {
    /// Answers requests matching `method` and the `path` prefix with the
    /// API's error shape: `status` and `reason`.
    pub fn error(method: &str, path: &str, status: u16, reason: &str) -> Fault {
        Fault {
            method: method.into(),
            path: path.into(),
            status,
            reason: reason.into(),
            ..Default::default()
        }
    }
}

fn one() -> u32 {
    1
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            method: String::new(),
            path: String::new(),
            status: 0,
            reason: String::new(),
            retry_after: None,
            delay_ms: 0,
            delay_before_ms: 0,
            body: None,
            drop_answer: false,
            times: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Accepted bearer token.
    pub token: String,
    /// Added to every API request.
    pub latency_ms: u64,
    pub provisioning_ms: u64,
    pub booting_ms: u64,
    /// Address every instance gets (loopback).
    pub ipv4: String,
    /// rDNS of that address.
    pub rdns: Option<String>,
    /// How long a deleted Linode stays attached to its firewall.
    #[serde(default = "default_detach")]
    pub detach_ms: u64,
    /// Refuse to delete a firewall that still has devices (stricter than the spec says).
    #[serde(default = "yes")]
    pub firewall_delete_requires_detached: bool,
    /// How long a new volume stays `creating` before it is `active`.
    #[serde(default = "default_volume_ready")]
    pub volume_ready_ms: u64,
    /// Refuse to delete a volume that is still attached (the spec does not
    /// say; see `volume::DELETE_ATTACHED_REASON`).
    #[serde(default = "yes")]
    pub volume_delete_requires_detached: bool,
    /// How long a shutdown job shows `shutting_down` before `offline`.
    #[serde(default = "default_shutdown")]
    pub shutdown_ms: u64,
    /// When set, a Linode made with user-data powers itself off this long
    /// after it is first `running` (a boot script ending in `poweroff`);
    /// Lassie boots it again unless its `watchdog_enabled` is false.
    #[serde(default)]
    pub self_poweroff_ms: Option<u64>,
    /// How long a captured image stays `creating` before it is `available`.
    #[serde(default = "default_image_ready")]
    pub image_ready_ms: u64,
    /// The `size` (MB) of a captured image.
    #[serde(default = "default_image_size")]
    pub image_size_mb: u64,
    /// How long a new LKE node stays `not_ready` before it is `ready`.
    #[serde(default = "default_lke_node_ready")]
    pub lke_node_ready_ms: u64,
    /// How long after a cluster is made (or its kubeconfig regenerated) its
    /// kubeconfig and API endpoints answer 503 with Retry-After.
    #[serde(default = "default_lke_kubeconfig_ready")]
    pub lke_kubeconfig_ready_ms: u64,
    /// The Kubernetes API the kubeconfig points at (None: the placeholder
    /// `https://127.0.0.1:6443`, no CA, token `sim-token`).
    #[serde(default)]
    pub kube_api: Option<KubeApi>,
    /// Deleting an LKE cluster also deletes the NodeBalancers its cloud
    /// controller manager made, as the spec says (delete-lke-cluster:
    /// "Deletes all NodeBalancers created by this Kubernetes cluster"). Off
    /// by default: real accounts keep them (linode-cloud-controller-manager
    /// issue 140 "Stale NBs are left when deleting the underlying K8S
    /// cluster"; an invoice with NodeBalancers of deleted LKE clusters,
    /// percona/pmm-qa PR 1326), so a client must delete them itself.
    #[serde(default)]
    pub lke_delete_removes_nodebalancers: bool,
}

fn default_detach() -> u64 {
    200
}
fn default_volume_ready() -> u64 {
    200
}
fn default_shutdown() -> u64 {
    100
}
fn default_image_ready() -> u64 {
    200
}
fn default_image_size() -> u64 {
    2600
}
fn default_lke_node_ready() -> u64 {
    300
}
fn default_lke_kubeconfig_ready() -> u64 {
    200
}
fn yes() -> bool {
    true
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token: "test-token".into(),
            latency_ms: 0,
            provisioning_ms: 300,
            booting_ms: 300,
            ipv4: "127.0.0.1".into(),
            rdns: Some("localhost".into()),
            detach_ms: default_detach(),
            firewall_delete_requires_detached: true,
            volume_ready_ms: default_volume_ready(),
            volume_delete_requires_detached: true,
            shutdown_ms: default_shutdown(),
            self_poweroff_ms: None,
            image_ready_ms: default_image_ready(),
            image_size_mb: default_image_size(),
            lke_node_ready_ms: default_lke_node_ready(),
            lke_kubeconfig_ready_ms: default_lke_kubeconfig_ready(),
            kube_api: None,
            lke_delete_removes_nodebalancers: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The query string (`page=2&page_size=500`), empty when none.
    pub query: String,
    pub body: Option<Value>,
    pub filter: Option<String>,
}

#[derive(Debug, Clone)]
struct SimInstance {
    body: Value,
    created: Instant,
    /// Served exactly as stored (a hostile or oddly shaped answer).
    raw: bool,
    /// Power transitions beyond the time-computed status.
    power: image::Power,
}

#[derive(Debug, Clone)]
struct SimFirewall {
    body: Value,
    /// (device id, Linode id, detached at): a deleted Linode lets go a moment later.
    devices: Vec<(u64, u64, Option<Instant>)>,
}

impl SimFirewall {
    fn attached(&self) -> Vec<(u64, u64)> {
        self.devices
            .iter()
            .filter(|(_, _, gone)| gone.is_none_or(|t| Instant::now() < t))
            .map(|(d, l, _)| (*d, *l))
            .collect()
    }
}

/// A DNS Manager zone and its records (by id, as the API shows them).
#[derive(Debug, Clone)]
struct SimDomain {
    body: Value,
    records: BTreeMap<u64, Value>,
}

#[derive(Default)]
struct State {
    config: SimConfig,
    next_id: u64,
    next_fw: u64,
    instances: BTreeMap<u64, SimInstance>,
    firewalls: BTreeMap<u64, SimFirewall>,
    next_domain: u64,
    next_record: u64,
    domains: BTreeMap<u64, SimDomain>,
    next_volume: u64,
    volumes: BTreeMap<u64, volume::SimVolume>,
    next_disk: u64,
    disks: BTreeMap<u64, image::SimDisk>,
    next_image: u64,
    images: BTreeMap<u64, image::SimImage>,
    faults: Vec<Fault>,
    log: Vec<LoggedRequest>,
    in_flight: usize,
    max_in_flight: usize,
    /// While set, new instances stay out of list answers (the account list
    /// lagging behind a create) until [`Sim::catch_up_lists`].
    lists_lag: bool,
    unlisted: std::collections::BTreeSet<u64>,
    /// Requests held until their gate opens.
    gates: Vec<(String, String, Arc<GateState>)>,
    /// `price` objects served instead of a plan's real one (hostile answers).
    prices: BTreeMap<String, Value>,
    /// LKE clusters, node pools and NodeBalancers.
    lke: lke::LkeState,
}

/// Held requests wait on this until it opens.
#[derive(Debug, Default)]
struct GateState {
    open: Mutex<bool>,
    opened: std::sync::Condvar,
    /// Requests that reached the gate.
    arrived: Mutex<u32>,
}

/// A gate on requests of one method and path prefix: they wait (answered
/// normally afterwards) until [`Gate::open`] or the gate is dropped.
pub struct Gate(Arc<GateState>);

impl Gate {
    /// Lets every held request (and every later one) through.
    pub fn open(&self) {
        *self.0.open.lock().unwrap() = true;
        self.0.opened.notify_all();
    }
    /// How many requests have reached the gate so far.
    pub fn arrived(&self) -> u32 {
        *self.0.arrived.lock().unwrap()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// A running simulator; stops when dropped.
pub struct Sim {
    state: Arc<Mutex<State>>,
    _server: Server,
    pub port: u16,
}

impl Sim {
    /// Starts on 127.0.0.1 with a free port.
    pub fn start(config: SimConfig) -> Sim {
        Self::start_on(0, config).expect("bind 127.0.0.1")
    }

    pub fn start_on(port: u16, config: SimConfig) -> std::io::Result<Sim> {
        let state = Arc::new(Mutex::new(State {
            config,
            next_id: 1000,
            next_fw: 5000,
            // Apart from each other (and real-looking): a domain id used as a
            // record id, or the other way round, finds nothing.
            next_domain: 1_827_000,
            next_record: 21_258_000,
            next_volume: 154_000,
            next_disk: 31_000_000,
            next_image: 113_000,
            ..Default::default()
        }));
        let st = state.clone();
        let server = Server::start(listen(port)?, Arc::new(move |req| handle(st.clone(), req)))?;
        Ok(Sim {
            state,
            port: server.port,
            _server: server,
        })
    }

    /// Base URL as linode-cli builds it: `http://127.0.0.1:PORT/v4`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v4", self.port)
    }

    pub fn add_fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push(f);
    }

    /// Most API requests seen in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    pub fn set_latency(&self, ms: u64) {
        self.state.lock().unwrap().config.latency_ms = ms;
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Bodies of current (not deleted) instances.
    pub fn instances(&self) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.instances
            .values()
            .map(|i| instance_json(&st.config, i))
            .collect()
    }

    /// Firewalls that exist, with the Linodes attached to each.
    pub fn firewalls(&self) -> Vec<(Value, Vec<u64>)> {
        let st = self.state.lock().unwrap();
        st.firewalls
            .values()
            .map(|f| {
                (
                    f.body.clone(),
                    f.attached().into_iter().map(|(_, l)| l).collect(),
                )
            })
            .collect()
    }

    /// Holds requests of `method` to paths starting with `path` until the
    /// returned gate opens: a state a test can look at in between.
    pub fn hold(&self, method: &str, path: &str) -> Gate {
        let g = Arc::new(GateState::default());
        self.state
            .lock()
            .unwrap()
            .gates
            .push((method.to_string(), path.to_string(), g.clone()));
        Gate(g)
    }

    /// From now on new instances stay out of list answers (`GET
    /// /linode/instances`, filtered or not) until [`Sim::catch_up_lists`];
    /// `GET /linode/instances/{id}` finds them.
    pub fn lag_lists(&self) {
        self.state.lock().unwrap().lists_lag = true;
    }

    /// The lists show every instance again.
    pub fn catch_up_lists(&self) {
        let mut st = self.state.lock().unwrap();
        st.lists_lag = false;
        st.unlisted.clear();
    }

    /// Adds an instance served exactly as `body` says (a hostile or oddly
    /// shaped answer: `"status": 5`, `"ipv4": "x"`, a negative id).
    pub fn seed_raw_instance(&self, body: Value) {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = st.next_id;
        st.instances.insert(
            id,
            SimInstance {
                body,
                created: Instant::now(),
                raw: true,
                power: image::Power::default(),
            },
        );
    }

    /// Serves `price` (any JSON) as plan `id`'s price in `/linode/types`.
    pub fn set_price(&self, id: &str, price: Value) {
        self.state
            .lock()
            .unwrap()
            .prices
            .insert(id.to_string(), price);
    }

    /// Deletes a firewall behind linode-ai's back (attached or not).
    pub fn remove_firewall(&self, id: u64) -> bool {
        self.state.lock().unwrap().firewalls.remove(&id).is_some()
    }

    /// Detaches every Linode from a firewall behind linode-ai's back.
    pub fn detach_firewall(&self, id: u64) {
        if let Some(f) = self.state.lock().unwrap().firewalls.get_mut(&id) {
            f.devices.clear();
        }
    }

    /// Sets a firewall's `created` time (naive UTC, as the API writes it):
    /// a firewall left behind long ago.
    pub fn set_firewall_created(&self, id: u64, created: &str) {
        if let Some(f) = self.state.lock().unwrap().firewalls.get_mut(&id) {
            f.body["created"] = json!(created);
        }
    }

    /// Deletes an instance behind linode-ai's back (its firewall and its
    /// volumes let go at once).
    pub fn delete_instance(&self, id: u64) -> bool {
        let mut st = self.state.lock().unwrap();
        for f in st.firewalls.values_mut() {
            f.devices.retain(|(_, l, _)| *l != id);
        }
        volume::linode_deleted(&mut st, id, Instant::now());
        image::linode_deleted(&mut st, id);
        st.instances.remove(&id).is_some()
    }

    /// Adds a firewall directly (a user's own, for `--firewall ID`).
    pub fn seed_firewall(&self, label: &str) -> u64 {
        let mut st = self.state.lock().unwrap();
        st.next_fw += 1;
        let id = st.next_fw;
        let body = json!({"id": id, "label": label, "status": "enabled", "tags": [], "entities": [],
            "rules": {"inbound_policy": "DROP", "outbound_policy": "ACCEPT", "inbound": [], "outbound": [], "version": 1, "fingerprint": "00000000"}});
        st.firewalls.insert(
            id,
            SimFirewall {
                body,
                devices: vec![],
            },
        );
        id
    }

    /// Adds a firewall with these tags, attached to Linode `linode_id` (a
    /// deployment's own firewall, for benchmarks).
    pub fn seed_tagged_firewall(&self, label: &str, tags: &[String], linode_id: u64) -> u64 {
        let id = self.seed_firewall(label);
        let mut st = self.state.lock().unwrap();
        st.next_fw += 1;
        let device = st.next_fw;
        if let Some(f) = st.firewalls.get_mut(&id) {
            f.body["tags"] = json!(tags);
            f.devices.push((device, linode_id, None));
        }
        id
    }

    /// Adds a master zone owned by the account to the DNS Manager, shaped
    /// as the API shows it (recorded: linodego TestDomainRecord_Create). A
    /// domain is unique on the platform: seeding it again returns its id.
    pub fn seed_domain(&self, domain: &str) -> u64 {
        let mut st = self.state.lock().unwrap();
        if let Some((id, _)) = st.domains.iter().find(|(_, d)| d.body["domain"] == domain) {
            return *id;
        }
        st.next_domain += 1;
        let id = st.next_domain;
        let now = now_naive_utc();
        let body = json!({"id": id, "type": "master", "domain": domain, "tags": [], "group": "", "status": "active",
            "errors": "", "description": "", "soa_email": format!("admin@{domain}"), "retry_sec": 0, "master_ips": [],
            "axfr_ips": [], "expire_sec": 0, "refresh_sec": 0, "ttl_sec": 0, "created": now, "updated": now});
        st.domains.insert(
            id,
            SimDomain {
                body,
                records: BTreeMap::new(),
            },
        );
        id
    }

    /// A domain's records as `GET /domains/{id}/records` shows them, by id
    /// (empty for an unknown domain).
    pub fn domain_records(&self, domain_id: u64) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .domains
            .get(&domain_id)
            .map(|d| d.records.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Current volumes as `GET /volumes/{id}` shows them, by id.
    pub fn volumes(&self) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.volumes
            .values()
            .map(|v| volume::volume_json(&st, v))
            .collect()
    }

    /// Adds a volume made outside linode-ai: `active` at once, attached
    /// nowhere, encryption disabled.
    pub fn seed_volume(&self, label: &str, size: u64, region: &str, tags: &[String]) -> u64 {
        volume::seed(&mut self.state.lock().unwrap(), label, size, region, tags)
    }

    /// Adds a running instance with these tags.
    pub fn seed_tagged(&self, label: &str, tags: &[String]) -> u64 {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = st.next_id;
        let body = json!({"id": id, "label": label, "region": "us-ord", "type": "g6-standard-2", "image": "linode/ubuntu24.04", "tags": tags});
        let past = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        st.instances.insert(
            id,
            SimInstance {
                body,
                created: past,
                raw: false,
                power: image::Power::default(),
            },
        );
        // Made from ubuntu24.04 on a g6-standard-2, as the body says.
        image::add_disks(&mut st, id, "Ubuntu 24.04 LTS", 81920, 512);
        id
    }

    /// Private images as `GET /images/{id}` shows them, by id.
    pub fn images(&self) -> Vec<Value> {
        image::private_images(&self.state.lock().unwrap())
    }

    /// Adds a private image made outside linode-ai (`available` at once,
    /// cloud-init capable, 2600 MB or `image_size_mb`); returns its id,
    /// `private/<n>`.
    pub fn seed_image(&self, label: &str, tags: &[String]) -> String {
        image::seed(&mut self.state.lock().unwrap(), label, tags)
    }

    /// A Linode's disks as `GET /linode/instances/{id}/disks` lists them
    /// (empty for an unknown Linode).
    pub fn disks(&self, linode_id: u64) -> Vec<Value> {
        image::disks_of(&self.state.lock().unwrap(), linode_id)
    }

    /// Powers a Linode off now, as a `poweroff` inside it would but with no
    /// watchdog to boot it again: `offline` until booted. False for an
    /// unknown (or raw) one.
    pub fn power_off(&self, id: u64) -> bool {
        image::power_off(&mut self.state.lock().unwrap(), id)
    }

    /// LKE clusters as `GET /lke/clusters/{id}` shows them, by id.
    pub fn lke_clusters(&self) -> Vec<Value> {
        lke::clusters(&self.state)
    }

    /// A cluster's node pools as `GET /lke/clusters/{id}/pools` lists them
    /// (empty for an unknown cluster).
    pub fn lke_pools(&self, cluster_id: u64) -> Vec<Value> {
        lke::pools(&self.state, cluster_id)
    }

    /// NodeBalancers as `GET /nodebalancers/{id}` shows them, by id.
    pub fn nodebalancers(&self) -> Vec<Value> {
        lke::nodebalancers(&self.state)
    }

    /// What the cluster's cloud controller manager does for a Service
    /// (`namespace/name`) of type LoadBalancer: makes a NodeBalancer, labelled
    /// and tagged as it does. Returns its id. Panics for an unknown cluster.
    pub fn ccm_nodebalancer(&self, cluster_id: u64, service: &str) -> u64 {
        self.ccm_nodebalancer_tagged(cluster_id, service, &[])
    }

    /// [`Sim::ccm_nodebalancer`] for a Service annotated
    /// `service.beta.kubernetes.io/linode-loadbalancer-tags`: the CCM adds
    /// those tags to its own.
    pub fn ccm_nodebalancer_tagged(&self, cluster_id: u64, service: &str, tags: &[String]) -> u64 {
        match lke::ccm_nodebalancer(&self.state, cluster_id, service, tags) {
            Ok(nb) => nb["id"].as_u64().unwrap(),
            Err(e) => panic!("ccm_nodebalancer: {e}"),
        }
    }

    /// What the Linode CSI driver does for a PersistentVolumeClaim: makes a
    /// Block Storage volume (`pvc-...`, at least 10 GB) attached to one of
    /// the cluster's nodes. Returns its id. Panics for an unknown cluster.
    pub fn csi_volume(&self, cluster_id: u64, size_gb: u64) -> u64 {
        self.csi_volume_labelled(cluster_id, size_gb, None)
    }

    /// [`Sim::csi_volume`] with the label the driver derives from the
    /// claim (`pvc-` and its UID's first 16 hex digits).
    pub fn csi_volume_labelled(&self, cluster_id: u64, size_gb: u64, label: Option<&str>) -> u64 {
        match lke::csi_volume(&self.state, cluster_id, size_gb, label) {
            Ok(v) => v["id"].as_u64().unwrap(),
            Err(e) => panic!("csi_volume: {e}"),
        }
    }

    /// What the CSI driver does when a claim's pod is gone: detaches the
    /// volume from its node (`POST /volumes/{id}/detach`).
    pub fn detach_volume(&self, id: u64) {
        let _ = volume::route(
            &self.state,
            &Method::Post,
            &[&id.to_string(), "detach"],
            "",
            None,
            None,
        );
    }

    /// What the CCM does when the Service goes: deletes its NodeBalancer.
    pub fn remove_nodebalancer(&self, id: u64) -> bool {
        lke::remove_nodebalancer(&self.state, id)
    }

    /// Points every kubeconfig (and `api-endpoints`) at this Kubernetes API.
    pub fn set_kube_api(&self, api: KubeApi) {
        self.state.lock().unwrap().config.kube_api = Some(api);
    }
}

/// A loopback listener with a deep accept queue: a client opening 100
/// connections at once must not see dropped SYNs (and 1-31 s retransmits).
pub fn listen(port: u16) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn reply(req: Request, status: u16, body: Value, extra: &[(String, String)]) {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    headers.extend_from_slice(extra);
    req.respond(status, headers, body.to_string());
}

fn errors(list: &[(&str, Option<&str>)]) -> Value {
    json!({ "errors": list.iter().map(|(r, f)| match f {
        Some(f) => json!({"reason": r, "field": f}),
        None => json!({"reason": r}),
    }).collect::<Vec<_>>() })
}

fn handle(state: Arc<Mutex<State>>, req: Request) {
    let method = req.method().clone();
    let url = req.url().to_string();
    let (path, query) = url
        .split_once('?')
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .unwrap_or((url.clone(), String::new()));
    let body_text = req.body().to_string();
    let get_header = |name: &str| req.header(name);
    let auth = get_header("Authorization");
    let filter = get_header("X-Filter");

    if let Some(admin) = path.strip_prefix("/__sim/") {
        return admin_request(&state, req, &method, admin, &body_text);
    }

    let body: Option<Value> = serde_json::from_str(&body_text).ok();
    let (latency, fault, gate) = {
        let mut st = state.lock().unwrap();
        st.log.push(LoggedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            filter: filter.clone(),
        });
        let m = method.to_string();
        let fault = st
            .faults
            .iter_mut()
            .find(|f| {
                f.times > 0
                    && (f.method.is_empty() || f.method.eq_ignore_ascii_case(&m))
                    && path.starts_with(&f.path)
            })
            .map(|f| {
                f.times -= 1;
                f.clone()
            });
        st.faults.retain(|f| f.times > 0);
        st.in_flight += 1;
        st.max_in_flight = st.max_in_flight.max(st.in_flight);
        let gate = st
            .gates
            .iter()
            .find(|(gm, gp, _)| {
                (gm.is_empty() || gm.eq_ignore_ascii_case(&m)) && path.starts_with(gp.as_str())
            })
            .map(|(_, _, g)| g.clone());
        (st.config.latency_ms, fault, gate)
    };
    if let Some(g) = gate {
        *g.arrived.lock().unwrap() += 1;
        let mut open = g.open.lock().unwrap();
        while !*open {
            open = g.opened.wait(open).unwrap();
        }
    }
    let mut guard = Some(InFlight(state.clone()));
    // The request stops counting as in flight just before its answer is sent.
    let mut reply = |req: Request, status: u16, body: Value, extra: &[(String, String)]| {
        guard.take();
        reply(req, status, body, extra)
    };
    if latency > 0 {
        std::thread::sleep(Duration::from_millis(latency));
    }
    if let Some(f) = &fault {
        if f.delay_before_ms > 0 {
            std::thread::sleep(Duration::from_millis(f.delay_before_ms));
        }
        if let (0, Some(raw)) = (f.status, &f.body) {
            guard.take();
            req.respond(
                200,
                vec![("Content-Type".into(), "application/json".into())],
                raw.clone(),
            );
            return;
        }
        if f.status != 0 {
            if f.delay_ms > 0 {
                std::thread::sleep(Duration::from_millis(f.delay_ms));
            }
            let reason = if f.reason.is_empty() {
                "Injected fault"
            } else {
                f.reason.as_str()
            };
            let mut extra = vec![];
            if let Some(ra) = f.retry_after {
                extra.push(("Retry-After".to_string(), ra.to_string()));
            }
            return reply(req, f.status, errors(&[(reason, None)]), &extra);
        }
    }

    let Some(rest) = path.strip_prefix("/v4") else {
        return reply(req, 404, errors(&[("Not found", None)]), &[]);
    };
    // The spec gives these no `security`.
    let public = method == Method::Get
        && (rest == "/regions"
            || rest == "/linode/types"
            || rest.starts_with("/linode/types/")
            || rest == "/volumes/types"
            || rest == "/lke/types"
            || rest == "/nodebalancers/types");
    let mut anonymous = false;
    if !public {
        let token = state.lock().unwrap().config.token.clone();
        if auth.as_deref() != Some(&format!("Bearer {token}")) {
            // Spec, GET /images: without authentication, the public images.
            if auth.is_none() && method == Method::Get && image::anonymous_path(rest) {
                anonymous = true;
            } else {
                return reply(req, 401, errors(&[("Invalid Token", None)]), &[]);
            }
        }
    }
    // LKE answers may carry a Retry-After (a kubeconfig not ready yet).
    let (status, out, retry_after) = if anonymous {
        let (s, o) = image::anonymous_route(rest, &query, filter.as_deref());
        (s, o, None)
    } else if rest == "/lke" || rest.starts_with("/lke/") {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').skip(1).collect();
        lke::route(&state, &method, &parts, &query, body, filter.as_deref())
    } else {
        let (s, o) = route(&state, &method, rest, &query, body, filter.as_deref());
        (s, o, None)
    };
    if let Some(f) = fault {
        if f.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(f.delay_ms));
        }
        if f.drop_answer {
            guard.take();
            return req.abort();
        }
    }
    let mut headers = vec![("X-RateLimit-Limit".to_string(), "800".to_string())];
    if let Some(s) = retry_after {
        headers.push(("Retry-After".to_string(), s.to_string()));
    }
    reply(req, status, out, &headers);
}

struct InFlight(Arc<Mutex<State>>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

fn admin_request(state: &Arc<Mutex<State>>, req: Request, method: &Method, path: &str, body: &str) {
    if let Some((status, out)) = lke::admin(state, method, path, body) {
        return reply(req, status, out, &[]);
    }
    let mut st = state.lock().unwrap();
    match (method, path) {
        (Method::Post, "faults") => match serde_json::from_str::<Fault>(body) {
            Ok(f) => {
                st.faults.push(f);
                drop(st);
                reply(req, 200, json!({}), &[])
            }
            Err(e) => {
                drop(st);
                reply(req, 400, json!({"error": e.to_string()}), &[])
            }
        },
        (Method::Post, "config") => {
            let mut cfg = serde_json::to_value(&st.config).unwrap();
            if let (Some(obj), Ok(Value::Object(patch))) =
                (cfg.as_object_mut(), serde_json::from_str::<Value>(body))
            {
                obj.extend(patch);
            }
            match serde_json::from_value(cfg) {
                Ok(c) => st.config = c,
                Err(e) => {
                    drop(st);
                    return reply(req, 400, json!({"error": e.to_string()}), &[]);
                }
            }
            drop(st);
            reply(req, 200, json!({}), &[])
        }
        (Method::Get, "requests") => {
            let log = serde_json::to_value(&st.log).unwrap();
            drop(st);
            reply(req, 200, log, &[])
        }
        (Method::Get, "instances") => {
            let v: Vec<Value> = st
                .instances
                .values()
                .map(|i| instance_json(&st.config, i))
                .collect();
            drop(st);
            reply(req, 200, json!(v), &[])
        }
        (Method::Get, "images") => {
            let v = image::private_images(&st);
            drop(st);
            reply(req, 200, json!(v), &[])
        }
        (Method::Post, p) if p.starts_with("instances/") && p.ends_with("/poweroff") => {
            let id = p["instances/".len()..p.len() - "/poweroff".len()].parse::<u64>();
            let done = id.is_ok_and(|id| image::power_off(&mut st, id));
            drop(st);
            if done {
                reply(req, 200, json!({}), &[])
            } else {
                reply(req, 404, json!({"error": "no such instance"}), &[])
            }
        }
        (Method::Get, "volumes") => {
            let v: Vec<Value> = st
                .volumes
                .values()
                .map(|v| volume::volume_json(&st, v))
                .collect();
            drop(st);
            reply(req, 200, json!(v), &[])
        }
        _ => {
            drop(st);
            reply(req, 404, json!({"error": "unknown admin endpoint"}), &[])
        }
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn paginate(items: Vec<Value>, query: &str) -> (u16, Value) {
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let size: usize = query_param(query, "page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    if !(25..=500).contains(&size) {
        return (
            400,
            errors(&[("Must be a value between 25 and 500.", Some("page_size"))]),
        );
    }
    let pages = items.len().div_ceil(size).max(1);
    if page == 0 || page > pages {
        return (
            400,
            errors(&[(
                "Must be a value between 1 and ".to_string().as_str(),
                Some("page"),
            )]),
        );
    }
    let data: Vec<Value> = items
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    (
        200,
        json!({"data": data, "page": page, "pages": pages, "results": items.len()}),
    )
}

fn status_of(config: &SimConfig, created: Instant) -> &'static str {
    let age = created.elapsed().as_millis() as u64;
    if age < config.provisioning_ms {
        "provisioning"
    } else if age < config.provisioning_ms + config.booting_ms {
        "booting"
    } else {
        "running"
    }
}

fn instance_json(config: &SimConfig, i: &SimInstance) -> Value {
    if i.raw {
        return i.body.clone();
    }
    let mut v = i.body.clone();
    let obj = v.as_object_mut().unwrap();
    obj.insert("status".into(), json!(image::instance_status(config, i)));
    // Spec (Linode): the Shutdown Watchdog, on unless turned off.
    obj.entry("watchdog_enabled").or_insert(json!(true));
    obj.insert("ipv4".into(), json!([config.ipv4, "192.168.130.5"]));
    obj.insert("ipv6".into(), json!("::1/128"));
    // Naive UTC timestamps, nulls and fields the spec does not list, as the real API.
    obj.insert("created".into(), json!("2026-11-26T14:30:00"));
    obj.insert("updated".into(), json!("2026-11-26T14:30:00"));
    obj.insert("group".into(), json!(""));
    obj.insert("hypervisor".into(), json!("kvm"));
    obj.insert("site_type".into(), json!("core"));
    // An LKE node's Linode stores its own (false, and its cluster's id below).
    obj.entry("has_user_data").or_insert(json!(true));
    obj.insert("backups".into(), json!({"enabled": false, "available": false, "schedule": {"day": null, "window": null}, "last_successful": null}));
    obj.entry("lke_cluster_id").or_insert(Value::Null);
    obj.insert("placement_group".into(), Value::Null);
    obj.insert("disk_encryption".into(), json!("disabled"));
    v
}

fn route(
    state: &Arc<Mutex<State>>,
    method: &Method,
    path: &str,
    query: &str,
    body: Option<Value>,
    filter: Option<&str>,
) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (Method::Get, ["regions"]) => paginate(regions(), query),
        (Method::Get, ["linode", "types"]) => paginate(priced_types(state), query),
        (Method::Get, ["linode", "types", id]) => {
            match priced_types(state).into_iter().find(|t| t["id"] == *id) {
                Some(t) => (200, t),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Get, ["linode", "instances"]) => {
            let st = state.lock().unwrap();
            let items: Vec<Value> = st
                .instances
                .iter()
                .filter(|(id, _)| !st.unlisted.contains(id))
                .map(|(_, i)| instance_json(&st.config, i))
                .collect();
            filtered(
                items,
                filter,
                &["id", "label", "tags", "region", "type", "image", "status"],
                query,
            )
        }
        (Method::Get, ["networking", "ips"]) => {
            let st = state.lock().unwrap();
            let mut items = Vec::new();
            for id in st.instances.keys() {
                items.push(json!({"address": st.config.ipv4, "gateway": null, "linode_id": id, "prefix": 24, "public": true,
                                  "rdns": st.config.rdns, "region": "us-ord", "subnet_mask": "255.255.255.0", "type": "ipv4"}));
                items.push(json!({"address": "192.168.130.5", "gateway": null, "linode_id": id, "prefix": 17, "public": false,
                                  "rdns": null, "region": "us-ord", "subnet_mask": "255.255.128.0", "type": "ipv4"}));
            }
            paginate(items, query)
        }
        (Method::Post, ["networking", "firewalls"]) => create_firewall(state, body),
        (Method::Get, ["networking", "firewalls"]) => {
            let st = state.lock().unwrap();
            let items: Vec<Value> = st.firewalls.values().map(firewall_json).collect();
            filtered(items, filter, &["id", "label", "tags", "status"], query)
        }
        (Method::Get, ["networking", "firewalls", id]) => {
            let st = state.lock().unwrap();
            match id.parse::<u64>().ok().and_then(|id| st.firewalls.get(&id)) {
                Some(f) => (200, firewall_json(f)),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Get, ["networking", "firewalls", id, "devices"]) => {
            let st = state.lock().unwrap();
            match id.parse::<u64>().ok().and_then(|id| st.firewalls.get(&id)) {
                Some(f) => {
                    let items = f
                        .attached()
                        .into_iter()
                        .map(|(d, l)| json!({"id": d, "created": "2026-11-26T14:30:00", "updated": "2026-11-26T14:30:00",
                                             "entity": {"id": l, "type": "linode", "label": format!("linode{l}"), "url": format!("/v4/linode/instances/{l}")}}))
                        .collect();
                    paginate(items, query)
                }
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Delete, ["networking", "firewalls", id]) => {
            let mut st = state.lock().unwrap();
            let strict = st.config.firewall_delete_requires_detached;
            let Some(fid) = id
                .parse::<u64>()
                .ok()
                .filter(|i| st.firewalls.contains_key(i))
            else {
                return (404, errors(&[("Not found", None)]));
            };
            if strict && !st.firewalls[&fid].attached().is_empty() {
                return (
                    400,
                    errors(&[(
                        "Firewall is assigned to a Linode that has not been removed yet; try again",
                        None,
                    )]),
                );
            }
            st.firewalls.remove(&fid);
            (200, json!({}))
        }
        (Method::Other(m), ["linode", "instances", id]) if m == "PUT" => {
            put_tags(state, body, id, true)
        }
        (Method::Other(m), ["networking", "firewalls", id]) if m == "PUT" => {
            put_tags(state, body, id, false)
        }
        (Method::Post, ["linode", "instances"]) => create(state, body),
        (Method::Get, ["linode", "instances", id]) => {
            let st = state.lock().unwrap();
            match id.parse::<u64>().ok().and_then(|id| st.instances.get(&id)) {
                Some(i) => (200, instance_json(&st.config, i)),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Get, ["linode", "instances", id, "ips"]) => {
            let st = state.lock().unwrap();
            match id
                .parse::<u64>()
                .ok()
                .filter(|id| st.instances.contains_key(id))
            {
                Some(id) => (
                    200,
                    json!({
                        "ipv4": {
                            "public": [{"address": st.config.ipv4, "gateway": null, "linode_id": id, "prefix": 24, "public": true,
                                        "rdns": st.config.rdns, "region": "us-ord", "subnet_mask": "255.255.255.0", "type": "ipv4"}],
                            "private": [{"address": "192.168.130.5", "gateway": null, "linode_id": id, "prefix": 17, "public": false,
                                         "rdns": null, "region": "us-ord", "subnet_mask": "255.255.128.0", "type": "ipv4"}],
                            "shared": [], "reserved": [], "vpc": []
                        },
                        "ipv6": {"link_local": null, "slaac": null, "global": []}
                    }),
                ),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Delete, ["linode", "instances", id]) => {
            let mut st = state.lock().unwrap();
            let detach = Instant::now() + Duration::from_millis(st.config.detach_ms);
            match id
                .parse::<u64>()
                .ok()
                .filter(|id| st.instances.contains_key(id))
            {
                // An image is being captured from its disk (the spec does
                // not say; the stricter answer, and the one clients retry).
                Some(id) if image::capturing(&st, id) => {
                    (400, errors(&[(image::BUSY_REASON, None)]))
                }
                Some(id) => {
                    st.instances.remove(&id);
                    image::linode_deleted(&mut st, id);
                    for f in st.firewalls.values_mut() {
                        for d in f.devices.iter_mut().filter(|d| d.1 == id) {
                            d.2 = Some(detach);
                        }
                    }
                    volume::linode_deleted(&mut st, id, detach);
                    (200, json!({}))
                }
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Get, ["linode", "instances", id, "volumes"]) => {
            volume::linode_volumes(state, id, query)
        }
        (Method::Get, ["linode", "instances", id, "disks"]) => {
            image::linode_disks(state, id, None, query, filter)
        }
        (Method::Get, ["linode", "instances", id, "disks", disk]) => {
            image::linode_disks(state, id, Some(disk), query, filter)
        }
        (Method::Post, ["linode", "instances", id, "boot"]) => image::power(state, id, true, body),
        (Method::Post, ["linode", "instances", id, "shutdown"]) => {
            image::power(state, id, false, body)
        }
        (_, ["images", rest @ ..]) => image::route(state, method, rest, query, body, filter),
        (_, ["volumes", rest @ ..]) => volume::route(state, method, rest, query, body, filter),
        (_, ["lke", rest @ ..]) => {
            let (s, v, _) = lke::route(state, method, rest, query, body, filter);
            (s, v)
        }
        (_, ["nodebalancers", rest @ ..]) => {
            lke::nodebalancer_route(state, method, rest, query, body, filter)
        }
        (Method::Get, ["domains"]) => {
            let st = state.lock().unwrap();
            let items: Vec<Value> = st.domains.values().map(|d| d.body.clone()).collect();
            filtered(items, filter, &["domain", "group", "tags"], query)
        }
        (Method::Get, ["domains", id]) => {
            let st = state.lock().unwrap();
            match id.parse::<u64>().ok().and_then(|id| st.domains.get(&id)) {
                Some(d) => (200, d.body.clone()),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Get, ["domains", id, "records"]) => {
            let st = state.lock().unwrap();
            match id.parse::<u64>().ok().and_then(|id| st.domains.get(&id)) {
                Some(d) => filtered(
                    d.records.values().cloned().collect(),
                    filter,
                    &["name", "target", "type", "tag"],
                    query,
                ),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Post, ["domains", id, "records"]) => create_record(state, id, body),
        (Method::Get, ["domains", id, "records", rid]) => {
            let st = state.lock().unwrap();
            let found = id
                .parse::<u64>()
                .ok()
                .and_then(|id| st.domains.get(&id))
                .zip(rid.parse::<u64>().ok())
                .and_then(|(d, rid)| d.records.get(&rid));
            match found {
                Some(r) => (200, r.clone()),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        (Method::Delete, ["domains", id, "records", rid]) => {
            let mut st = state.lock().unwrap();
            let removed = id
                .parse::<u64>()
                .ok()
                .and_then(|id| st.domains.get_mut(&id))
                .zip(rid.parse::<u64>().ok())
                .and_then(|(d, rid)| d.records.remove(&rid));
            match removed {
                Some(_) => (200, json!({})),
                None => (404, errors(&[("Not found", None)])),
            }
        }
        _ => (404, errors(&[("Not found", None)])),
    }
}

/// Domain record types (spec: the record `type` enum).
const RECORD_TYPES: [&str; 9] = ["A", "AAAA", "NS", "MX", "CNAME", "TXT", "SRV", "PTR", "CAA"];

/// A record's valid `ttl_sec` values (spec: "any other value will be rounded
/// to the nearest valid value"); 0, what the API stores when none is given
/// (recorded), means the domain's default.
const RECORD_TTLS: [i64; 12] = [
    300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800, 1209600, 2419200,
];

/// `ttl_sec` as the API stores it: 0 kept, anything else the nearest valid
/// value (a tie goes to the longer one).
fn record_ttl(v: i64) -> i64 {
    if v == 0 {
        return 0;
    }
    let mut best = RECORD_TTLS[0];
    for t in RECORD_TTLS {
        if t.abs_diff(v) <= best.abs_diff(v) {
            best = t;
        }
    }
    best
}

/// An A/AAAA record's `name`: empty (the zone apex) or dot-separated labels
/// of letters, digits and hyphens, each 1-63 characters; the left-most may be
/// `*` (a wildcard).
pub fn record_hostname_ok(name: &str) -> bool {
    name.is_empty()
        || name.split('.').enumerate().all(|(i, label)| {
            (i == 0 && label == "*")
                || (!label.is_empty()
                    && label.len() < 64
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        })
}

/// `POST /domains/{id}/records`: the spec's rules, the real error reasons
/// where known (`Invalid IPv4 or IPv6 address`; `Name contains invalid
/// characters` with `Invalid hostname`), fields it does not know ignored.
/// `PUT /linode/instances/{id}` and `PUT /networking/firewalls/{id}`: the
/// stand-in takes the tags (3-50 characters each, as on create), the label
/// and a Linode's `watchdog_enabled` (a boolean); the spec's other updatable
/// fields are refused as not implemented.
fn put_tags(
    state: &Arc<Mutex<State>>,
    body: Option<Value>,
    id: &str,
    instance: bool,
) -> (u16, Value) {
    let Some(b) = body.as_ref().and_then(Value::as_object) else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    for (k, v) in b {
        if instance && k == "watchdog_enabled" {
            if !v.is_boolean() {
                return (
                    400,
                    errors(&[("watchdog_enabled must be a boolean", Some(k.as_str()))]),
                );
            }
        } else if !matches!(k.as_str(), "tags" | "label") {
            return (
                400,
                errors(&[(
                    "linode-sim implements only tags, label and watchdog_enabled on PUT",
                    Some(k.as_str()),
                )]),
            );
        }
    }
    if let Some(tags) = b.get("tags") {
        let Some(list) = tags.as_array() else {
            return (400, errors(&[("tags must be a list", Some("tags"))]));
        };
        for (i, t) in list.iter().enumerate() {
            let n = t.as_str().map(|s| s.chars().count()).unwrap_or(0);
            if !(3..=50).contains(&n) {
                return (
                    400,
                    errors(&[(
                        &format!("Tag {i} length must be 3-50 characters"),
                        Some(&format!("tags[{i}]")),
                    )]),
                );
            }
        }
    }
    let mut st = state.lock().unwrap();
    let Ok(id) = id.parse::<u64>() else {
        return (404, errors(&[("Not found", None)]));
    };
    if instance {
        let config = st.config.clone();
        let Some(i) = st.instances.get_mut(&id) else {
            return (404, errors(&[("Not found", None)]));
        };
        // A power-off by the boot script that is already past keeps the
        // watchdog it happened under.
        image::settle(&config, i);
        for (k, v) in b {
            i.body[k] = v.clone();
        }
        (200, instance_json(&config, i))
    } else {
        let Some(f) = st.firewalls.get_mut(&id) else {
            return (404, errors(&[("Not found", None)]));
        };
        for (k, v) in b {
            f.body[k] = v.clone();
        }
        (200, firewall_json(f))
    }
}

fn create_record(state: &Arc<Mutex<State>>, domain: &str, body: Option<Value>) -> (u16, Value) {
    let Some(domain_id) = domain
        .parse::<u64>()
        .ok()
        .filter(|id| state.lock().unwrap().domains.contains_key(id))
    else {
        return (404, errors(&[("Not found", None)]));
    };
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Vec<(String, Option<String>)> = Vec::new();
    let mut err = |r: &str, f: &str| errs.push((r.to_string(), Some(f.to_string())));
    // A string field: None when absent or null, Err when another JSON type.
    let string = |k: &str| match b.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{k} must be a string")),
    };
    let ty = match string("type") {
        Ok(Some(t)) if RECORD_TYPES.contains(&t.as_str()) => Some(t),
        Ok(None) => {
            err("type is required", "type");
            None
        }
        _ => {
            err(
                &format!("type must be one of {}", RECORD_TYPES.join(", ")),
                "type",
            );
            None
        }
    };
    let ty = ty.as_deref();
    let name = match string("name") {
        Ok(n) => n,
        Err(e) => {
            err(&e, "name");
            None
        }
    };
    if let Some(n) = &name {
        if n.chars().count() > 100 {
            err("name must be at most 100 characters", "name");
        } else if matches!(ty, Some("A" | "AAAA")) {
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.*".contains(c))
            {
                err("Name contains invalid characters", "name");
            }
            if !record_hostname_ok(n) {
                err("Invalid hostname", "name");
            }
        }
    } else if ty == Some("CNAME") && b.get("name").is_none_or(Value::is_null) {
        err("name is required", "name");
    }
    let mut target = match string("target") {
        Ok(t) => t,
        Err(e) => {
            err(&e, "target");
            None
        }
    };
    match (ty, target.as_deref()) {
        (Some("A"), Some("[remote_addr]")) => target = Some("127.0.0.1".into()),
        (Some("A"), Some(t)) if t.parse::<std::net::Ipv4Addr>().is_err() => {
            err("Invalid IPv4 or IPv6 address", "target")
        }
        (Some("AAAA"), Some(t)) if t.parse::<std::net::Ipv6Addr>().is_err() => {
            err("Invalid IPv4 or IPv6 address", "target")
        }
        (Some(t), None) if t != "CAA" && b.get("target").is_none_or(Value::is_null) => {
            err("target is required", "target")
        }
        _ => {}
    }
    let mut strings = BTreeMap::new();
    for k in ["service", "protocol", "tag"] {
        match string(k) {
            Ok(v) => {
                strings.insert(k, v);
            }
            Err(e) => err(&e, k),
        }
    }
    if let Some(Some(tag)) = strings.get("tag") {
        if !["issue", "issuewild", "iodef"].contains(&tag.as_str()) {
            err("tag must be one of issue, issuewild, iodef", "tag");
        }
    } else if ty == Some("CAA") {
        err("tag is required", "tag");
    }
    if ty == Some("SRV") && strings.get("service").is_none_or(Option::is_none) {
        err("service is required", "service");
    }
    let mut ints = BTreeMap::new();
    for (k, max) in [("priority", 255), ("weight", 65535), ("port", 65535)] {
        match b.get(k) {
            None | Some(Value::Null) => {
                if ty == Some("SRV") {
                    err(&format!("{k} is required"), k);
                }
            }
            Some(v) => match v.as_i64() {
                Some(n) if (0..=max).contains(&n) => {
                    ints.insert(k, n);
                }
                Some(_) => err(&format!("Must be a value between 0 and {max}."), k),
                None => err(&format!("{k} must be an integer"), k),
            },
        }
    }
    let ttl = match b.get("ttl_sec") {
        None | Some(Value::Null) => 0,
        Some(v) => match (v.as_i64(), v.as_u64()) {
            (Some(n), _) => record_ttl(n),
            (None, Some(_)) => record_ttl(i64::MAX),
            _ => {
                err("ttl_sec must be an integer", "ttl_sec");
                0
            }
        },
    };
    if !errs.is_empty() {
        let list: Vec<(&str, Option<&str>)> = errs
            .iter()
            .map(|(r, f)| (r.as_str(), f.as_deref()))
            .collect();
        return (400, errors(&list));
    }
    let mut st = state.lock().unwrap();
    st.next_record += 1;
    let id = st.next_record;
    let now = now_naive_utc();
    // Shaped as the API answers (recorded): numbers default to 0, strings to null.
    let record = json!({
        "id": id, "type": ty, "name": name.unwrap_or_default(), "target": target.unwrap_or_default(),
        "priority": ints.get("priority").copied().unwrap_or(0),
        "weight": ints.get("weight").copied().unwrap_or(0),
        "port": ints.get("port").copied().unwrap_or(0),
        "service": strings["service"], "protocol": strings["protocol"], "tag": strings["tag"],
        "ttl_sec": ttl, "created": now, "updated": now,
    });
    match st.domains.get_mut(&domain_id) {
        Some(d) => {
            d.records.insert(id, record.clone());
            (200, record)
        }
        // Removed while this request was being checked.
        None => (404, errors(&[("Not found", None)])),
    }
}

/// The API's label rule (hand-checked: the pattern needs look-ahead).
pub fn label_ok(label: &str) -> bool {
    let n = label.chars().count();
    (3..=64).contains(&n) && label_rule(label)
}

/// The label pattern without the length (Linodes allow 64, firewalls 32).
pub fn label_rule(label: &str) -> bool {
    label
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && label
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !label.contains("--")
        && !label.contains("__")
        && !label.contains("..")
}

fn strong_password(p: &str) -> bool {
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    p.len() >= 11 && classes.iter().filter(|c| **c).count() >= 3
}

fn create(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Vec<(String, Option<String>)> = Vec::new();
    let mut err = |r: &str, f: Option<&str>| errs.push((r.to_string(), f.map(str::to_string)));
    let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let region = s("region");
    let ty = s("type");
    let regions = regions();
    let region_v = region
        .as_ref()
        .and_then(|r| regions.iter().find(|x| x["id"] == r.as_str()).cloned());
    match (&region, &region_v) {
        (None, _) => err("region is required", Some("region")),
        (Some(_), None) => err("region is not valid", Some("region")),
        _ => {}
    }
    let types = types();
    match &ty {
        None => err("type is required", Some("type")),
        Some(t) if !types.iter().any(|x| x["id"] == t.as_str()) => {
            err("A valid plan type by that ID was not found", Some("type"))
        }
        _ => {}
    }
    if let Some(label) = s("label") {
        if !label_ok(&label) {
            err("Label must begin with a letter, contain only letters, digits, '-', '_' or '.', without consecutive '-', '_' or '.', and be 3-64 characters", Some("label"));
        }
    } else if b.contains_key("label") {
        err("label must be a string", Some("label"));
    }
    if let Some(tags) = b.get("tags") {
        match tags.as_array() {
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    let t = t.as_str().unwrap_or("");
                    let n = t.chars().count();
                    if !(3..=50).contains(&n) {
                        err(
                            &format!("Tag {i} ({t}) length must be 3-50 characters"),
                            Some(&format!("tags[{i}]")),
                        );
                    }
                }
            }
            None => err("tags must be a list", Some("tags")),
        }
    }
    if b.get("interfaces")
        .and_then(Value::as_array)
        .is_some_and(|a| a.is_empty())
    {
        err(
            "interfaces must contain at least one interface when given",
            Some("interfaces"),
        );
    }
    let firewall_id = b.get("firewall_id").and_then(Value::as_u64);
    if let Some(fw) = b.get("firewall_id") {
        if !fw.is_u64() {
            err("firewall_id must be an integer", Some("firewall_id"));
        }
    }
    // Spec: the create body (additionalProperties: false) has no
    // `watchdog_enabled`; only PUT /linode/instances/{id} takes it. Refused
    // rather than ignored: a Linode left with its watchdog on would be booted
    // again after its boot script powers it off.
    if b.contains_key("watchdog_enabled") {
        err(image::WATCHDOG_ON_CREATE_REASON, Some("watchdog_enabled"));
    }
    // Spec: `swap_size` "default: 512", an integer (MB).
    let swap = match b.get("swap_size") {
        None | Some(Value::Null) => 512,
        Some(v) => v.as_u64().unwrap_or_else(|| {
            err("swap_size must be an integer", Some("swap_size"));
            512
        }),
    };
    let plan_disk = ty.as_deref().and_then(image::plan_disk).unwrap_or(0);
    // Spec: `booted` "defaults to true"; false keeps the Linode `offline`
    // once deployed, until a boot job.
    let booted = match b.get("booted") {
        None | Some(Value::Null) => true,
        Some(v) => v.as_bool().unwrap_or_else(|| {
            err("booted must be a boolean", Some("booted"));
            true
        }),
    };
    let image = s("image");
    if image.is_some() {
        let has_pass = s("root_pass").is_some();
        let keys = b
            .get("authorized_keys")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let users = b
            .get("authorized_users")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_pass && !keys && !users {
            err(
                "Must provide valid root_pass, authorized_keys, or authorized_users",
                None,
            );
        }
    }
    if let Some(p) = s("root_pass") {
        if p.len() < 7 || p.len() > 128 {
            err("root_pass must be 7-128 characters", Some("root_pass"));
        } else if !strong_password(&p) {
            err(
                "Password does not meet strength requirement.",
                Some("root_pass"),
            );
        }
    }
    if let Some(keys) = b.get("authorized_keys").and_then(Value::as_array) {
        for k in keys {
            let k = k.as_str().unwrap_or("");
            if !(k.starts_with("ssh-") || k.starts_with("ecdsa-") || k.starts_with("sk-"))
                || k.split_whitespace().count() < 2
            {
                err(
                    "authorized_keys must be SSH public keys",
                    Some("authorized_keys"),
                );
            }
        }
    }
    if let Some(md) = b.get("metadata") {
        match md.get("user_data").and_then(Value::as_str) {
            Some(ud) => {
                let decoded = if ud.contains('\n') || ud.contains('\r') {
                    None
                } else {
                    base64::engine::general_purpose::STANDARD.decode(ud).ok()
                };
                match decoded {
                    None => err(
                        "user_data must be a base64 encoded string",
                        Some("metadata.user_data"),
                    ),
                    Some(bytes) if bytes.len() > 16384 => err(
                        "user_data must be no more than 16384 bytes when decoded",
                        Some("metadata.user_data"),
                    ),
                    Some(bytes) if !bytes.starts_with(b"#cloud-config") => err(
                        "user_data must be a cloud-config document beginning with #cloud-config",
                        Some("metadata.user_data"),
                    ),
                    _ => {}
                }
                if image.is_none() {
                    err(
                        "metadata requires an image with cloud-init",
                        Some("metadata"),
                    );
                }
                if let Some(r) = &region_v {
                    if !r["capabilities"]
                        .as_array()
                        .is_some_and(|c| c.contains(&json!("Metadata")))
                    {
                        err("Metadata is not available in this region", Some("metadata"));
                    }
                }
            }
            None => err(
                "user_data must be a base64 encoded string",
                Some("metadata.user_data"),
            ),
        }
    }
    let mut st = state.lock().unwrap();
    if let Some(label) = s("label") {
        if st
            .instances
            .values()
            .any(|i| i.body["label"] == label.as_str())
        {
            err("Label must be unique among your linodes", Some("label"));
        }
    }
    // The image (public, or one of the account's, `private/<n>`) and what
    // its disk is labelled after; Metadata needs its `cloud-init`.
    let user_data = b
        .get("metadata")
        .is_some_and(|m| m.get("user_data").is_some());
    let mut image_label = None;
    if let Some(img) = &image {
        match image::deployable(&st, img) {
            Ok((label, cloud_init)) => {
                if user_data && !cloud_init {
                    err(
                        "metadata requires an image with cloud-init",
                        Some("metadata"),
                    );
                }
                if plan_disk > 0 && swap >= plan_disk {
                    err("swap_size leaves no room for the image", Some("swap_size"));
                }
                image_label = Some(label);
            }
            Err(reason) => err(reason, Some("image")),
        }
    }
    if let Some(fw) = firewall_id {
        if !st.firewalls.contains_key(&fw) {
            errs.push(("Firewall not found".into(), Some("firewall_id".into())));
        }
    }
    if !errs.is_empty() {
        let list: Vec<(&str, Option<&str>)> = errs
            .iter()
            .map(|(r, f)| (r.as_str(), f.as_deref()))
            .collect();
        return (400, errors(&list));
    }
    st.next_id += 1;
    let id = st.next_id;
    let label = s("label").unwrap_or_else(|| format!("linode{id}"));
    let stored = json!({
        "id": id, "label": label, "region": region, "type": ty, "image": image,
        "tags": b.get("tags").cloned().unwrap_or(json!([])),
        "specs": plan_specs(ty.as_deref().unwrap_or("")),
    });
    let inst = SimInstance {
        body: stored,
        created: Instant::now(),
        raw: false,
        power: image::Power::new(&st.config, user_data, booted),
    };
    let out = instance_json(&st.config, &inst);
    st.instances.insert(id, inst);
    if let Some(label) = image_label {
        image::add_disks(&mut st, id, &label, plan_disk, swap);
    }
    if st.lists_lag {
        st.unlisted.insert(id);
    }
    if let Some(fw) = firewall_id {
        st.next_fw += 1;
        let device = st.next_fw;
        if let Some(f) = st.firewalls.get_mut(&fw) {
            f.devices.push((device, id, None));
        }
    }
    (200, out)
}

/// A Linode's `specs`: its plan's.
fn plan_specs(plan: &str) -> Value {
    match types().into_iter().find(|t| t["id"] == plan) {
        Some(t) => json!({"disk": t["disk"], "memory": t["memory"], "vcpus": t["vcpus"],
                          "gpus": t["gpus"], "transfer": t["transfer"]}),
        None => json!({"disk": 81920, "memory": 4096, "vcpus": 2, "gpus": 0, "transfer": 4000}),
    }
}

/// A firewall as the API shows it: `entities` lists the Linodes attached.
fn firewall_json(f: &SimFirewall) -> Value {
    let mut v = f.body.clone();
    v["entities"] = json!(f
        .attached()
        .into_iter()
        .map(|(_, l)| json!({"id": l, "type": "linode", "label": format!("linode{l}"), "url": format!("/v4/linode/instances/{l}")}))
        .collect::<Vec<_>>());
    v
}

/// The current time as the API writes it: naive UTC, `2026-11-26T14:30:00`.
pub fn now_naive_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Applies `X-Filter` (only the endpoint's Filterable fields) and paginates.
fn filtered(
    items: Vec<Value>,
    filter: Option<&str>,
    filterable: &[&str],
    query: &str,
) -> (u16, Value) {
    let Some(f) = filter else {
        return paginate(items, query);
    };
    let Ok(f) = serde_json::from_str::<Value>(f) else {
        return (400, errors(&[("X-Filter is not valid JSON", None)]));
    };
    let mut out = Vec::new();
    for i in items {
        match filter::matches(&f, &i, filterable) {
            Ok(true) => out.push(i),
            Ok(false) => {}
            Err(e) => return (400, errors(&[(e.as_str(), None)])),
        }
    }
    paginate(out, query)
}

fn create_firewall(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs = firewall::validate(&b);
    let mut st = state.lock().unwrap();
    if let Some(l) = b.get("label").and_then(Value::as_str) {
        if st.firewalls.values().any(|f| f.body["label"] == l) {
            errs.push((
                "Label must be unique among your Firewalls".into(),
                Some("label".into()),
            ));
        }
    }
    if !errs.is_empty() {
        let list: Vec<(&str, Option<&str>)> = errs
            .iter()
            .map(|(r, f)| (r.as_str(), f.as_deref()))
            .collect();
        return (400, errors(&list));
    }
    st.next_fw += 1;
    let id = st.next_fw;
    let mut rules = b["rules"].clone();
    rules["version"] = json!(1);
    rules["fingerprint"] = json!(format!("{:08x}", id * 2654435761 % (1 << 32)));
    for dir in ["inbound", "outbound"] {
        if rules.get(dir).is_none() {
            rules[dir] = json!([]);
        }
    }
    let fw = json!({
        "id": id, "label": b["label"], "status": "enabled", "rules": rules,
        "tags": b.get("tags").cloned().unwrap_or(json!([])), "entities": [],
        "created": now_naive_utc(), "updated": now_naive_utc(),
    });
    st.firewalls.insert(
        id,
        SimFirewall {
            body: fw.clone(),
            devices: vec![],
        },
    );
    (200, fw)
}

/// Real region ids and capabilities (from recorded API traffic), plus one
/// region without Metadata and Kubernetes.
pub fn regions() -> Vec<Value> {
    // Every real region lists NodeBalancers and Kubernetes (recorded); the
    // stand-in's ap-west is the one without Metadata and Kubernetes.
    let all = [
        "Linodes",
        "NodeBalancers",
        "Block Storage",
        "Kubernetes",
        "Cloud Firewall",
        "Metadata",
        "Placement Group",
    ];
    let gpu = [
        "Linodes",
        "NodeBalancers",
        "Block Storage",
        "GPU Linodes",
        "Kubernetes",
        "Cloud Firewall",
        "Metadata",
        "Placement Group",
    ];
    let mk = |id: &str, label: &str, country: &str, caps: &[&str]| {
        json!({"id": id, "label": label, "country": country, "capabilities": caps, "status": "ok", "site_type": "core",
               "resolvers": {"ipv4": "127.0.0.53", "ipv6": "::1"}, "placement_group_limits": {"maximum_pgs_per_customer": null, "maximum_linodes_per_pg": 5}})
    };
    vec![
        mk("us-ord", "Chicago, IL", "us", &gpu),
        mk("us-east", "Newark, NJ", "us", &all),
        mk("us-sea", "Seattle, WA", "us", &gpu),
        mk("us-iad", "Washington, DC", "us", &all),
        mk("de-fra-2", "Frankfurt 2, DE", "de", &gpu),
        mk("fr-par", "Paris, FR", "fr", &gpu),
        mk("jp-osa", "Osaka, JP", "jp", &gpu),
        mk("sg-sin-2", "Singapore 2, SG", "sg", &gpu),
        mk(
            "ap-west",
            "Mumbai, IN",
            "in",
            &["Linodes", "NodeBalancers", "Block Storage"],
        ),
    ]
}

/// [`types`] with the prices a test set in their place.
fn priced_types(state: &Arc<Mutex<State>>) -> Vec<Value> {
    let st = state.lock().unwrap();
    types()
        .into_iter()
        .map(|mut t| {
            if let Some(p) = t["id"].as_str().and_then(|id| st.prices.get(id)) {
                t["price"] = p.clone();
            }
            t
        })
        .collect()
}

/// Real plan ids, memory, GPU counts and prices (from recorded API traffic and
/// Akamai's pricing page). The monthly price is a cap, not hourly x 730.
pub fn types() -> Vec<Value> {
    let mk = |id: &str,
              class: &str,
              memory: u64,
              vcpus: u64,
              gpus: u64,
              hourly: f64,
              monthly: f64| {
        json!({"id": id, "label": id, "class": class, "memory": memory, "vcpus": vcpus, "gpus": gpus, "disk": memory * 20,
               "transfer": 4000, "network_out": 4000, "price": {"hourly": hourly, "monthly": monthly},
               "region_prices": [], "addons": {"backups": {"price": {"hourly": 0.008, "monthly": 5.0}, "region_prices": []}},
               "successor": null, "accelerated_devices": 0})
    };
    vec![
        mk("g6-nanode-1", "nanode", 1024, 1, 0, 0.0075, 5.0),
        mk("g6-standard-1", "standard", 2048, 1, 0, 0.018, 12.0),
        mk("g6-standard-2", "standard", 4096, 2, 0, 0.036, 24.0),
        mk("g6-standard-4", "standard", 8192, 4, 0, 0.072, 48.0),
        mk("g6-standard-6", "standard", 16384, 6, 0, 0.144, 96.0),
        mk("g6-dedicated-2", "dedicated", 4096, 2, 0, 0.054, 36.0),
        mk("g6-dedicated-4", "dedicated", 8192, 4, 0, 0.108, 72.0),
        mk("g2-gpu-rtx4000a1-s", "gpu", 16384, 4, 1, 0.52, 350.0),
        mk("g2-gpu-rtx4000a1-m", "gpu", 32768, 8, 1, 0.67, 446.0),
        mk("g1-gpu-rtx6000-1", "gpu", 32768, 8, 1, 1.5, 1000.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sim: &Sim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        route(&sim.state, &method, path, "", body, None)
    }

    fn not_found() -> Value {
        json!({"errors": [{"reason": "Not found"}]})
    }

    #[test]
    fn domain_records_create_list_get_delete() {
        let sim = Sim::start(SimConfig::default());
        let d = sim.seed_domain("example.org");
        assert_eq!(sim.seed_domain("example.org"), d);
        let other = sim.seed_domain("example.net");

        let (s, list) = call(&sim, Method::Get, "/domains", None);
        assert_eq!(s, 200);
        assert_eq!(
            (&list["page"], &list["pages"], &list["results"]),
            (&json!(1), &json!(1), &json!(2))
        );
        let zone = &list["data"][0];
        assert_eq!(
            (&zone["id"], &zone["domain"], &zone["type"], &zone["status"]),
            (
                &json!(d),
                &json!("example.org"),
                &json!("master"),
                &json!("active")
            )
        );
        assert_eq!(zone["soa_email"], "admin@example.org");
        let (s, one) = route(
            &sim.state,
            &Method::Get,
            "/domains",
            "",
            None,
            Some(r#"{"domain": "example.net"}"#),
        );
        assert_eq!(
            (s, &one["results"], &one["data"][0]["id"]),
            (200, &json!(1), &json!(other))
        );
        assert_eq!(
            call(&sim, Method::Get, &format!("/domains/{d}"), None),
            (200, zone.clone())
        );

        let path = format!("/domains/{d}/records");
        let (s, www) = call(
            &sim,
            Method::Post,
            &path,
            Some(
                json!({"type": "A", "name": "www", "target": "203.0.113.7", "ttl_sec": 250, "id": 1, "extra": true}),
            ),
        );
        assert_eq!(s, 200, "{www}");
        assert!(www["id"].as_u64().unwrap() > 21_000_000);
        assert_eq!(
            (&www["type"], &www["name"], &www["target"], &www["ttl_sec"]),
            (
                &json!("A"),
                &json!("www"),
                &json!("203.0.113.7"),
                &json!(300)
            )
        );
        assert_eq!(
            (
                &www["priority"],
                &www["weight"],
                &www["port"],
                &www["service"],
                &www["protocol"],
                &www["tag"]
            ),
            (
                &json!(0),
                &json!(0),
                &json!(0),
                &Value::Null,
                &Value::Null,
                &Value::Null
            )
        );
        assert!(www.get("extra").is_none());
        for (name, target) in [("", "203.0.113.8"), ("*.dev", "203.0.113.9")] {
            let (s, r) = call(
                &sim,
                Method::Post,
                &path,
                Some(json!({"type": "A", "name": name, "target": target})),
            );
            assert_eq!(
                (s, &r["name"], &r["ttl_sec"]),
                (200, &json!(name), &json!(0)),
                "{r}"
            );
        }
        let (s, v6) = call(
            &sim,
            Method::Post,
            &path,
            Some(json!({"type": "AAAA", "name": "www", "target": "2001:db8::7"})),
        );
        assert_eq!(s, 200, "{v6}");

        let (s, page) = call(&sim, Method::Get, &path, None);
        assert_eq!((s, &page["results"]), (200, &json!(4)));
        assert_eq!(page["data"][0], www);
        assert_eq!(
            sim.domain_records(d),
            page["data"].as_array().unwrap().clone()
        );
        assert!(sim.domain_records(other).is_empty());
        assert!(sim.domain_records(1).is_empty());
        let (s, by_name) = route(
            &sim.state,
            &Method::Get,
            &path,
            "",
            None,
            Some(r#"{"name": "www", "type": "AAAA"}"#),
        );
        assert_eq!(
            (s, &by_name["results"], &by_name["data"][0]),
            (200, &json!(1), &v6)
        );

        let rec = format!("{path}/{}", www["id"]);
        assert_eq!(call(&sim, Method::Get, &rec, None), (200, www.clone()));
        assert_eq!(call(&sim, Method::Delete, &rec, None), (200, json!({})));
        assert_eq!(call(&sim, Method::Get, &rec, None), (404, not_found()));
        assert_eq!(call(&sim, Method::Delete, &rec, None), (404, not_found()));
        assert_eq!(sim.domain_records(d).len(), 3);
    }

    #[test]
    fn record_lists_are_paged() {
        let sim = Sim::start(SimConfig::default());
        let d = sim.seed_domain("example.org");
        let path = format!("/domains/{d}/records");
        for i in 0..30 {
            let body = json!({"type": "TXT", "name": format!("t{i}"), "target": "v"});
            assert_eq!(call(&sim, Method::Post, &path, Some(body)).0, 200);
        }
        let (s, p2) = route(
            &sim.state,
            &Method::Get,
            &path,
            "page=2&page_size=25",
            None,
            None,
        );
        assert_eq!(
            (s, &p2["page"], &p2["pages"], &p2["results"]),
            (200, &json!(2), &json!(2), &json!(30))
        );
        assert_eq!(p2["data"].as_array().unwrap().len(), 5);
        assert_eq!(p2["data"][0]["name"], "t25");
    }

    #[test]
    fn record_validation_names_the_field() {
        let sim = Sim::start(SimConfig::default());
        let d = sim.seed_domain("example.org");
        let path = format!("/domains/{d}/records");
        let fields = |body: Value| {
            let (s, out) = call(&sim, Method::Post, &path, Some(body));
            assert_eq!(s, 400, "{out}");
            out["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        let ipv4 = json!({"type": "A", "name": "www", "target": "203.0.113.300"});
        assert_eq!(fields(ipv4.clone()), ["target"]);
        let (_, out) = call(&sim, Method::Post, &path, Some(ipv4));
        assert_eq!(
            out,
            json!({"errors": [{"reason": "Invalid IPv4 or IPv6 address", "field": "target"}]})
        );
        assert_eq!(
            fields(json!({"type": "A", "name": "www", "target": "2001:db8::1"})),
            ["target"]
        );
        assert_eq!(
            fields(json!({"type": "AAAA", "name": "www", "target": "203.0.113.7"})),
            ["target"]
        );
        assert_eq!(fields(json!({"type": "A", "name": "www"})), ["target"]);
        assert_eq!(
            fields(json!({"name": "www", "target": "203.0.113.7"})),
            ["type"]
        );
        assert_eq!(fields(json!({"type": "SPF", "target": "v=spf1"})), ["type"]);
        assert_eq!(
            fields(json!({"type": "a", "target": "203.0.113.7"})),
            ["type"]
        );
        assert_eq!(
            fields(json!({"type": "A", "name": "@", "target": "203.0.113.7"})),
            ["name", "name"]
        );
        let long_label = "a".repeat(64);
        for bad in [
            "a..b",
            ".www",
            "www.",
            "w*w",
            "a.*",
            "under_score",
            long_label.as_str(),
        ] {
            assert_eq!(
                fields(json!({"type": "A", "name": bad, "target": "203.0.113.7"}))[0],
                "name",
                "{bad}"
            );
        }
        let too_long = ["a".repeat(50), "b".repeat(50)].join(".");
        assert_eq!(too_long.len(), 101);
        assert_eq!(
            fields(json!({"type": "AAAA", "name": too_long, "target": "::1"})),
            ["name"]
        );
        assert_eq!(
            fields(json!({"type": "A", "target": "203.0.113.7", "ttl_sec": "300"})),
            ["ttl_sec"]
        );
        assert_eq!(
            fields(json!({"type": "CAA", "target": "letsencrypt.org", "tag": "bogus"})),
            ["tag"]
        );
        assert_eq!(
            fields(json!({"type": "MX", "target": "mail.example.org", "priority": 256})),
            ["priority"]
        );
        assert!(sim.domain_records(d).is_empty());

        let ok = |name: &str, ttl: Value| {
            let (s, r) = call(
                &sim,
                Method::Post,
                &path,
                Some(json!({"type": "A", "name": name, "target": "[remote_addr]", "ttl_sec": ttl})),
            );
            assert_eq!(s, 200, "{r}");
            assert_eq!(r["target"], "127.0.0.1");
            r["ttl_sec"].clone()
        };
        assert_eq!(ok(&"a".repeat(63), json!(0)), json!(0));
        assert_eq!(ok("x-1.b-2.c", json!(100000)), json!(86400));
        assert_eq!(ok("*", json!(1950)), json!(3600));
        assert_eq!(ok("*.a", json!(5_000_000)), json!(2419200));
        assert_eq!(ok("1st", json!(1)), json!(300));
        assert_eq!(ok("n", Value::Null), json!(0));
    }

    #[test]
    fn unknown_domains_and_records_are_404() {
        let sim = Sim::start(SimConfig::default());
        let d = sim.seed_domain("example.org");
        let (_, r) = call(
            &sim,
            Method::Post,
            &format!("/domains/{d}/records"),
            Some(json!({"type": "A", "name": "www", "target": "203.0.113.7"})),
        );
        let rid = r["id"].as_u64().unwrap();
        let other = sim.seed_domain("example.net");
        let a = json!({"type": "A", "name": "www", "target": "203.0.113.7"});
        for (method, path, body) in [
            (Method::Get, "/domains/999".to_string(), None),
            (Method::Get, "/domains/abc".to_string(), None),
            (Method::Get, "/domains/999/records".to_string(), None),
            (
                Method::Post,
                "/domains/999/records".to_string(),
                Some(a.clone()),
            ),
            (
                Method::Post,
                "/domains/999/records".to_string(),
                Some(json!({})),
            ),
            (Method::Get, format!("/domains/{d}/records/999"), None),
            (Method::Delete, format!("/domains/{d}/records/999"), None),
            (Method::Delete, format!("/domains/999/records/{rid}"), None),
            (Method::Get, format!("/domains/{other}/records/{rid}"), None),
            (
                Method::Delete,
                format!("/domains/{other}/records/{rid}"),
                None,
            ),
            (Method::Get, format!("/domains/{rid}"), None),
        ] {
            assert_eq!(
                call(&sim, method, &path, body),
                (404, not_found()),
                "{path}"
            );
        }
        assert_eq!(sim.domain_records(d).len(), 1);
    }

    /// The one test over HTTP: the DNS endpoints need the token like the others.
    #[test]
    fn domains_need_a_token() {
        use std::io::{Read, Write};
        let sim = Sim::start(SimConfig::default());
        sim.seed_domain("example.org");
        let status = |auth: &str| {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", sim.port)).unwrap();
            write!(
                c,
                "GET /v4/domains HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            let code = out.split(' ').nth(1).unwrap_or("").to_string();
            let body = out
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            (code, body)
        };
        let (code, body) = status("");
        assert_eq!(code, "401");
        assert!(body.contains("Invalid Token"), "{body}");
        let (code, body) = status("Authorization: Bearer test-token\r\n");
        assert_eq!(code, "200");
        assert!(body.contains("example.org"), "{body}");
    }
}
