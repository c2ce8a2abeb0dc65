//! `deploy --target lke`: from the same plan as a VM deploy, the cluster it
//! needs, what that costs, and the Kubernetes objects of one namespace.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

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
        notes.push("GPU nodes need NVIDIA's device plugin (Akamai: GPUs on LKE); the GPU services ask for nvidia.com/gpu: 1".into());
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
