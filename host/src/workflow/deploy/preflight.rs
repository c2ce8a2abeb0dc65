//! Checking a plan against the API's regions and plans before anything is
//! created (no token needed), and pricing it.

use anyhow::{bail, Context, Result};

use super::plan::{DeployPlan, FirewallPlan};
use crate::linode::{LinodeClient, LinodeType, Price, Region};
use crate::sanitize::quote;
use crate::suggest::did_you_mean;

/// What the API offers for the plan: its region, its plan and the price there.
#[derive(Debug, Clone)]
pub struct Offer {
    pub region: Region,
    pub linode_type: LinodeType,
    pub price: Option<Price>,
    /// The account's GPU base Image for the template's driver, when it needs
    /// a GPU and has one (`linode-ai image build --gpu`).
    pub gpu_base: Option<crate::linode::Image>,
}

/// `$0.036/h ($24.00/month)`.
pub fn format_price(p: &Price) -> String {
    match (p.hourly, p.monthly) {
        (Some(h), Some(m)) => format!("${h:.3}/h (${m:.2}/month)"),
        (Some(h), None) => format!("${h:.3}/h"),
        (None, Some(m)) => format!("${m:.2}/month"),
        (None, None) => "unknown".into(),
    }
}

fn with_capability<'a>(regions: &'a [Region], cap: &str) -> Vec<&'a str> {
    regions
        .iter()
        .filter(|r| r.has(cap))
        .map(|r| r.id.as_str())
        .collect()
}

/// Where the plan goes: what the region must offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// One Linode configured by cloud-init (Metadata).
    Vm,
    /// An LKE cluster (Kubernetes).
    Lke,
}

impl Place {
    /// The capability, what lacking it means, how lists name it.
    fn capability(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Place::Vm => (
                "Metadata",
                "no Metadata service, so cloud-init cannot configure the instance",
                "cloud-init (Metadata)",
            ),
            Place::Lke => ("Kubernetes", "no LKE (Kubernetes)", "LKE (Kubernetes)"),
        }
    }
}

/// Checks region and plan against the API's lists.
pub fn check_against_catalog(
    plan: &DeployPlan,
    place: Place,
    regions: &[Region],
    types: &[LinodeType],
) -> Result<Offer> {
    let s = &plan.settings;
    let linode = plan.template.linode();
    let (needs, lacking, listed) = place.capability();
    let Some(region) = regions.iter().find(|r| r.id == s.region) else {
        bail!(
            "region {} does not exist.{} Regions with {listed}: {}",
            quote(&s.region),
            did_you_mean(&s.region, regions.iter().map(|r| r.id.as_str())),
            with_capability(regions, needs).join(", ")
        );
    };
    if !region.has(needs) {
        bail!(
            "region \"{}\" has {lacking}; choose one of: {}",
            s.region,
            with_capability(regions, needs).join(", ")
        );
    }
    if matches!(
        plan.firewall,
        FirewallPlan::Create(_) | FirewallPlan::Existing(_)
    ) && !region.has("Cloud Firewall")
    {
        bail!(
            "region \"{}\" has no Cloud Firewalls; choose one of: {} (or pass --no-firewall to deploy without one)",
            s.region,
            with_capability(regions, "Cloud Firewall").join(", ")
        );
    }
    let Some(ty) = types.iter().find(|t| t.id == s.linode_type) else {
        bail!(
            "Linode type {} does not exist.{} See 'linode-cli linodes types' for the list",
            quote(&s.linode_type),
            did_you_mean(&s.linode_type, types.iter().map(|t| t.id.as_str()))
        );
    };
    if place == Place::Lke && ty.id.starts_with("g1-gpu-rtx6000") {
        // techdocs.akamai.com/cloud-computing/docs/gpus-on-lke
        bail!(
            "{} (Quadro RTX 6000) cannot be an LKE node (Akamai: GPUs on LKE); RTX 4000 Ada plans (g2-gpu-rtx4000a...) can",
            ty.id
        );
    }
    let hourly = |t: &LinodeType| t.price_in(&s.region).and_then(|p| p.hourly);
    if let Some(min) = plan.min_memory_mb {
        if ty.memory < min {
            let better = types
                .iter()
                .filter(|t| t.memory >= min && (t.gpus > 0) == (ty.gpus > 0 || linode.gpu))
                .min_by(|a, b| {
                    hourly(a)
                        .partial_cmp(&hourly(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .map(|t| format!("; the cheapest that fits is {} ({} MB)", t.id, t.memory))
                .unwrap_or_default();
            bail!(
                "template \"{}\"{} needs {min} MB of memory, but {} has {} MB{better}",
                plan.template.name(),
                plan.model
                    .as_deref()
                    .map(|m| format!(" with model {m}"))
                    .unwrap_or_default(),
                ty.id,
                ty.memory
            );
        }
    }
    if plan.stack.needs_gpu() && ty.gpus == 0 {
        let gpu_types: Vec<&str> = types
            .iter()
            .filter(|t| t.gpus > 0)
            .map(|t| t.id.as_str())
            .collect();
        bail!(
            "template \"{}\" needs an NVIDIA GPU, but {} has none; GPU plans: {}",
            plan.template.name(),
            ty.id,
            gpu_types.join(", ")
        );
    }
    if ty.gpus > 0 && !region.has("GPU Linodes") {
        bail!(
            "{} is a GPU plan, but region \"{}\" offers no GPU Linodes; try one of: {}",
            ty.id,
            s.region,
            with_capability(regions, "GPU Linodes").join(", ")
        );
    }
    Ok(Offer {
        region: region.clone(),
        linode_type: ty.clone(),
        price: ty.price_in(&s.region),
        gpu_base: None,
    })
}

/// Fetches regions and types and checks the plan against them.
/// Why a preflight failed: the API did not answer as it should, or it did
/// and the plan does not fit what it offers.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Api(#[from] crate::linode::ApiError),
    #[error(transparent)]
    Plan(anyhow::Error),
}

impl PreflightError {
    /// Says nothing about the plan: unreachable, timed out, rate-limited or
    /// an outage (a dry run notes it and goes on).
    fn is_outage(&self) -> bool {
        match self {
            PreflightError::Api(e) => {
                matches!(
                    e,
                    crate::linode::ApiError::Network { .. }
                        | crate::linode::ApiError::Timeout { .. }
                ) || matches!(e.status(), Some(429 | 500..=599))
            }
            PreflightError::Plan(_) => false,
        }
    }
}

/// With a token, a GPU template's plan also looks for a GPU base Image.
pub async fn preflight(
    client: &LinodeClient,
    plan: &DeployPlan,
    place: Place,
) -> std::result::Result<Offer, PreflightError> {
    let linode = plan.template.linode();
    // (A GPU base Image is for a Linode's disk; LKE nodes boot LKE's own.)
    let wants_base =
        place == Place::Vm && plan.stack.needs_gpu() && linode.gpu && client.has_token();
    let images = async {
        if wants_base {
            client.list_images().await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (regions, types, images) = tokio::try_join!(client.regions(), client.types(), images)?;
    let mut offer =
        check_against_catalog(plan, place, &regions, &types).map_err(PreflightError::Plan)?;
    offer.gpu_base = images.as_deref().and_then(|all| {
        crate::workflow::image::find_gpu_base(all, &linode.nvidia_driver, &plan.settings.base_image)
            .cloned()
    });
    Ok(offer)
}

/// Starts the Linode from the GPU base Image the preflight found: the same
/// user-data, whose `setup_gpu` finds the driver installed. Returns the note
/// for the plan.
pub fn use_gpu_base(plan: &mut DeployPlan, offer: &Offer) -> Option<String> {
    let base = offer.gpu_base.as_ref()?;
    plan.request.image = base.id.clone();
    Some(format!(
        "starting from the GPU base Image {} instead of {}: no driver install",
        crate::workflow::image::describe(base),
        plan.settings.base_image
    ))
}

/// `preflight` before a real create: also checks that the firewall given
/// with `--firewall ID` exists and is this token's to use.
pub async fn preflight_create(
    client: &LinodeClient,
    plan: &DeployPlan,
    place: Place,
) -> Result<Offer> {
    let offer = preflight(client, plan, place).await?;
    if let FirewallPlan::Existing(id) = plan.firewall {
        client
            .get_firewall(id)
            .await
            .with_context(|| format!("--firewall {id}: cannot use that firewall"))?;
    }
    Ok(offer)
}

/// `preflight` for `--dry-run`: an unreachable API is a note, not an error.
pub enum DryRunCheck {
    Passed(Box<Offer>),
    Skipped(String),
}

pub async fn dry_run_preflight(
    client: &LinodeClient,
    plan: &DeployPlan,
    place: Place,
) -> Result<DryRunCheck> {
    let quick = client
        .clone()
        .with_retry(crate::linode::RetryPolicy::once());
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        preflight(&quick, plan, place),
    )
    .await
    {
        Ok(Ok(offer)) => Ok(DryRunCheck::Passed(Box::new(offer))),
        // Rate limits and outages say nothing about the plan.
        Ok(Err(e)) if e.is_outage() => Ok(DryRunCheck::Skipped(match &e {
            PreflightError::Api(api) if api.status().is_some() => {
                format!("the API answered {} ({e})", api.status().unwrap_or(0))
            }
            _ => format!("the API at {} is unreachable ({e})", client.base_url()),
        })),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Ok(DryRunCheck::Skipped(format!(
            "the API at {} did not answer within 10s",
            client.base_url()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_well() {
        assert_eq!(
            format_price(&Price {
                hourly: Some(0.036),
                monthly: Some(24.0)
            }),
            "$0.036/h ($24.00/month)"
        );
        assert_eq!(
            format_price(&Price {
                hourly: None,
                monthly: None
            }),
            "unknown"
        );
    }
}
