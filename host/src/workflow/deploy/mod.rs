//! `deploy` as data, in four steps: [`plan`] (resolve, render, prepare the
//! requests; no network), [`preflight`] (regions, plans and prices from the
//! API), [`execute`] (record, firewall, instance, record completed) and
//! [`wait`] (until the app answers).

pub mod execute;
pub mod lke;
pub mod plan;
pub mod preflight;
pub mod replace;
pub mod wait;

pub use execute::{execute, reserve, save_generated, Progress, Reservation};
pub use plan::{
    plan, DeployOptions, DeployPlan, FirewallPlan, PlanContext, ResolvedSettings, REDACTED,
};
pub use preflight::{
    dry_run_preflight, format_price, preflight, preflight_create, use_gpu_base, DryRunCheck, Offer,
    Place,
};
pub use replace::{replace_old, Replaced};
pub use wait::{record_running, wait_until_healthy, WaitError};

use crate::registry::Deployment;
use crate::workflow::account::{Entry, Joined};

/// The deployments of the plan's app and env the account and the registry
/// hold now (see [`same_app_env`]).
pub async fn existing_same_app_env(
    client: &crate::linode::LinodeClient,
    registry: &crate::registry::Registry,
    catalog: &crate::blueprint::catalog::Catalog,
    plan: &DeployPlan,
) -> anyhow::Result<Vec<Deployment>> {
    let (joined, _) = crate::workflow::destroy::survey(client, registry, catalog).await?;
    Ok(
        same_app_env(&joined, &plan.settings.app_name, &plan.settings.env_name)
            .into_iter()
            .cloned()
            .collect(),
    )
}

/// Deployments of the same app and env that already exist (tracked or not),
/// so a second `deploy` asks before making another.
pub fn same_app_env<'a>(joined: &'a Joined, app: &str, env: &str) -> Vec<&'a Deployment> {
    joined
        .entries
        .iter()
        .filter(|e| match e {
            Entry::Tracked { record, instance } => match instance {
                // Its Linode is gone (`missing`): nothing to replace or keep beside.
                crate::workflow::account::Found::Gone => false,
                crate::workflow::account::Found::NotCreated => {
                    crate::workflow::account::create_may_be_running(record)
                }
                _ => true,
            },
            // Parked: `resume` brings it back; a new deploy asks first.
            Entry::Untracked { .. } | Entry::Parked { .. } => true,
            // On LKE: found by its record or its tags.
            Entry::Lke { record, .. } => {
                !record.is_pending() || crate::workflow::account::create_may_be_running(record)
            }
        })
        .map(Entry::record)
        .filter(|d| d.app_name == app && d.env == env)
        .collect()
}
