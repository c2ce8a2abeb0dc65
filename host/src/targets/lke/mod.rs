//! The LKE target: the same blueprint (service graph, routes, key, env)
//! rendered as Kubernetes objects for one namespace per app/env, and the
//! cluster a deployment needs (its node pools and their price).
//!
//! What a service becomes: a Deployment (a StatefulSet when it keeps state
//! in volumes, which then cannot scale) with the template's health path as
//! startup, readiness and liveness probes, its GPU as an `nvidia.com/gpu`
//! limit, project variables from one Secret and fixed values inline (`${VAR}`
//! becomes Kubernetes' `$(VAR)`); a ClusterIP Service with the service's
//! name, so the proxy's rendered Caddyfile reaches it unchanged. The proxy
//! is the same Caddy with the same Caddyfile (a ConfigMap), its certificate
//! store on a volume, behind a `LoadBalancer` Service: Linode's cloud
//! controller makes that a NodeBalancer.

pub mod kube;
pub mod manifests;

pub use manifests::{cluster_plan, render, ClusterPlan, LkeInput, NodePool};
