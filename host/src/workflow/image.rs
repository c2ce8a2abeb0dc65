//! GPU base Images (`linode-ai image build --gpu`): a private Image with
//! Docker, the NVIDIA driver for its kernel and the container toolkit, so a
//! GPU deploy skips the driver install (minutes, and a reboot when the
//! modules are missing).
//!
//! The build: a firewall that lets nothing in, a GPU Linode made with
//! `booted: false`, its Shutdown Watchdog turned off (else Lassie boots it
//! again when it powers itself off), booted; its boot installs everything,
//! seals the disk and powers off. Its ext4 disk is captured (`POST /images`
//! with `cloud_init: true`), and the Linode and the firewall are deleted.
//! Both carry a deployment's tags (app `gpu-image`) and an expiry, so a
//! build cut short by Ctrl-C or `kill -9` is in `status`, `destroy` removes
//! it from any machine and `destroy --expired` catches it.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::blueprint::catalog::Catalog;
use crate::linode::{
    CreateFirewall, CreateImage, CreateInstance, FirewallRules, Image, Instance, LinodeClient,
    Metadata,
};
use crate::naming;
use crate::state::InstanceState;
use crate::targets::vm::cloud_init::encode_user_data;
use crate::targets::vm::gpu_image;

/// The app name the build's Linode and firewall are tagged with.
pub const BUILD_APP: &str = "gpu-image";
/// Tag key of a GPU base Image: the driver branch it holds.
pub const GPU_BASE_TAG: &str = "build_ai_gpu_base";
/// Tag key of a GPU base Image: the image it was made from (`ubuntu24.04`).
pub const GPU_OS_TAG: &str = "build_ai_gpu_os";
/// The stock template whose GPU settings (plan, region, driver, OS) a build
/// uses unless told otherwise.
const GPU_TEMPLATE: &str = "llm-api";

/// What `image build --gpu` was asked.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub region: Option<String>,
    pub linode_type: Option<String>,
    pub driver: Option<String>,
    /// How long the Linode may take to power off, then the capture.
    pub timeout: Duration,
}

/// The build, before anything is created.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub branch: String,
    /// The image the build Linode starts from (`linode/ubuntu24.04`).
    pub base_image: String,
    pub region: String,
    pub linode_type: String,
    pub image_label: String,
    pub image_tags: Vec<String>,
    pub firewall: CreateFirewall,
    pub instance: CreateInstance,
    pub user_data: String,
    pub expires_at: DateTime<Utc>,
    pub timeout: Duration,
}

/// `linode/ubuntu24.04` -> `ubuntu24.04`.
fn os_name(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

/// The tags of a GPU base Image for `branch` made from `base_image`.
pub fn image_tags(branch: &str, base_image: &str) -> Vec<String> {
    vec![
        naming::COMMON_TAG.to_string(),
        format!("{GPU_BASE_TAG}={branch}"),
        format!("{GPU_OS_TAG}={}", os_name(base_image)),
    ]
}

/// Checks a driver branch's form (`580`, `580-server`, `570-open`): it
/// becomes part of package names, tags and the Image's label.
pub fn check_branch(branch: &str) -> Result<()> {
    let ok = !branch.is_empty()
        && branch.len() <= 20
        && branch.starts_with(|c: char| c.is_ascii_digit())
        && branch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "--driver {}: not an Ubuntu NVIDIA driver branch (digits, then letters, digits and '-', e.g. 580-server)",
            crate::sanitize::quote(branch)
        );
    }
    Ok(())
}

pub fn plan(catalog: &Catalog, opts: &BuildOptions, now: DateTime<Utc>) -> Result<BuildPlan> {
    let gpu = catalog
        .get(GPU_TEMPLATE)
        .with_context(|| format!("the stock template {GPU_TEMPLATE} is missing"))?
        .linode();
    let branch = opts
        .driver
        .clone()
        .unwrap_or_else(|| gpu.nvidia_driver.clone());
    check_branch(&branch)?;
    let region = opts
        .region
        .clone()
        .or_else(|| gpu.region_default.clone())
        .unwrap_or_else(|| "us-ord".into());
    let linode_type = opts
        .linode_type
        .clone()
        .or_else(|| gpu.type_default.clone())
        .context("no GPU plan: pass --linode-type")?;
    let id = Uuid::new_v4();
    // Past this, `status` calls the build expired and `destroy --expired`
    // removes what a cut-short build left.
    let expires_at = now
        + chrono::Duration::from_std(opts.timeout).unwrap_or_default()
        + chrono::Duration::minutes(30);
    let tags = naming::instance_tags(BUILD_APP, &branch, BUILD_APP, "1", id, Some(expires_at));
    naming::check_tags(&tags).map_err(anyhow::Error::msg)?;
    let user_data = gpu_image::render(&branch).render();
    crate::targets::vm::cloud_init::validate_user_data(&user_data)
        .map_err(|e| anyhow::anyhow!("the GPU build's user-data: {e}"))?;
    let firewall = CreateFirewall {
        label: naming::firewall_label(BUILD_APP, id),
        tags: tags.clone(),
        // Nothing comes in: the build needs no port (its console is Lish).
        rules: FirewallRules {
            inbound_policy: "DROP".into(),
            outbound_policy: "ACCEPT".into(),
            inbound: vec![],
            outbound: vec![],
        },
    };
    let instance = CreateInstance {
        region: region.clone(),
        linode_type: linode_type.clone(),
        image: gpu.image.clone(),
        label: naming::instance_label(BUILD_APP, &branch, now, id),
        tags,
        root_pass: crate::blueprint::secrets::root_password()?,
        authorized_keys: vec![],
        authorized_users: vec![],
        metadata: Metadata {
            user_data: encode_user_data(&user_data),
        },
        // Booted once the watchdog is off.
        booted: false,
        firewall_id: None,
    };
    let image_label = format!(
        "ai-gpu-{branch}-{}-{}",
        os_name(&gpu.image),
        now.format("%Y%m%d")
    );
    Ok(BuildPlan {
        image_tags: image_tags(&branch, &gpu.image),
        branch,
        base_image: gpu.image.clone(),
        region,
        linode_type,
        image_label,
        firewall,
        instance,
        user_data,
        expires_at,
        timeout: opts.timeout,
    })
}

/// The newest available GPU base Image for `branch` made from `base_image`
/// (made for cloud-init), if the account has one.
pub fn find_gpu_base<'a>(images: &'a [Image], branch: &str, base_image: &str) -> Option<&'a Image> {
    let want = image_tags(branch, base_image);
    images
        .iter()
        .filter(|i| i.is_public == Some(false))
        .filter(|i| i.status.as_deref() == Some("available"))
        .filter(|i| i.capabilities.iter().any(|c| c == "cloud-init"))
        .filter(|i| want.iter().all(|t| i.tags.contains(t)))
        .max_by(|a, b| a.created.cmp(&b.created))
}

/// The account's GPU base Images (any branch), newest first.
pub fn gpu_bases(images: &[Image]) -> Vec<&Image> {
    let mut out: Vec<&Image> = images
        .iter()
        .filter(|i| i.is_public == Some(false))
        .filter(|i| i.tags.iter().any(|t| t.starts_with(GPU_BASE_TAG)))
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created));
    out
}

/// The steps of a build, as they happen.
#[derive(Debug, Clone)]
pub enum Progress {
    CreatedFirewall(u64),
    CreatedLinode(u64),
    Booted,
    /// The Linode's state while the driver installs (each change once).
    State(String),
    PoweredOff,
    Capturing {
        disk_id: u64,
        size_mb: Option<u64>,
    },
    CreatedImage(String),
    Cleaned,
}

/// What was left behind after a failure (deleted on the way out when it could be).
#[derive(Debug, Default)]
struct Made {
    firewall: Option<u64>,
    linode: Option<u64>,
}

/// Runs the build; on failure the Linode and firewall are deleted (the
/// Linode bills by the hour) and the error says what is left, if anything.
pub async fn build(
    client: &LinodeClient,
    plan: &BuildPlan,
    poll: Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Image> {
    let mut made = Made::default();
    let result = build_steps(client, plan, poll, progress, &mut made).await;
    let cleanup = clean_up(client, &made).await;
    match (result, cleanup) {
        (Ok(image), Ok(())) => {
            progress(Progress::Cleaned);
            Ok(image)
        }
        (Ok(image), Err(e)) => Err(e.context(format!(
            "image {} is made, but its build Linode or firewall is left; 'linode-ai destroy --app {BUILD_APP}' removes them",
            image.id
        ))),
        (Err(e), Ok(())) => Err(e.context(if made.linode.is_some() {
            "the GPU image build failed; its Linode and firewall are deleted"
        } else {
            "the GPU image build failed"
        })),
        (Err(e), Err(c)) => Err(e.context(format!(
            "the GPU image build failed, and removing what it made failed too ({c:#}); 'linode-ai status' shows it and 'linode-ai destroy --app {BUILD_APP}' removes it"
        ))),
    }
}

async fn build_steps(
    client: &LinodeClient,
    plan: &BuildPlan,
    poll: Duration,
    progress: &(dyn Fn(Progress) + Sync),
    made: &mut Made,
) -> Result<Image> {
    let fw = client
        .create_firewall(&plan.firewall)
        .await
        .context("creating the build's firewall")?;
    made.firewall = Some(fw.id);
    progress(Progress::CreatedFirewall(fw.id));
    let mut request = plan.instance.clone();
    request.firewall_id = Some(fw.id);
    let linode = client
        .create_instance(&request)
        .await
        .context("creating the build's GPU Linode")?;
    made.linode = Some(linode.id);
    progress(Progress::CreatedLinode(linode.id));
    client
        .set_watchdog(linode.id, false)
        .await
        .context("turning off the build Linode's Shutdown Watchdog")?;
    boot_when_ready(client, linode.id, poll).await?;
    progress(Progress::Booted);
    let off = wait_powered_off(client, linode.id, plan.timeout, poll, progress).await?;
    progress(Progress::PoweredOff);
    let disks = client.instance_disks(off.id).await?;
    let Some(disk) = disks
        .iter()
        .filter(|d| d.filesystem.as_deref() == Some("ext4"))
        .max_by_key(|d| d.size.unwrap_or(0))
    else {
        bail!("the build Linode has no ext4 disk to capture");
    };
    progress(Progress::Capturing {
        disk_id: disk.id,
        size_mb: disk.size,
    });
    let image = client
        .create_image(&CreateImage {
            disk_id: disk.id,
            label: plan.image_label.clone(),
            description: format!(
                "linode-ai GPU base: {} with Docker, the NVIDIA driver {} and the container toolkit",
                plan.base_image, plan.branch
            ),
            cloud_init: true,
            tags: plan.image_tags.clone(),
        })
        .await
        .context("capturing the build Linode's disk")?;
    progress(Progress::CreatedImage(image.id.clone()));
    wait_available(client, &image.id, plan.timeout, poll).await
}

/// Boots the Linode once its creation is done (a boot job is refused while
/// the Linode is still `provisioning`).
async fn boot_when_ready(client: &LinodeClient, id: u64, poll: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let i = client.get_instance(id).await?;
        match i.state() {
            InstanceState::Provisioning if started.elapsed() < Duration::from_secs(900) => {
                tokio::time::sleep(poll).await;
            }
            InstanceState::Offline => {
                return client
                    .boot_instance(id)
                    .await
                    .context("booting the build Linode");
            }
            InstanceState::Booting | InstanceState::Running => return Ok(()),
            other => bail!(
                "the build Linode is {} instead of offline, ready to boot",
                other.as_str()
            ),
        }
    }
}

/// Waits for the boot script to power the Linode off.
async fn wait_powered_off(
    client: &LinodeClient,
    id: u64,
    timeout: Duration,
    poll: Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Instance> {
    let started = Instant::now();
    let mut seen_up = false;
    let mut last = String::new();
    loop {
        let i = client.get_instance(id).await?;
        let state = i.state();
        if state.as_str() != last {
            last = state.as_str().to_string();
            progress(Progress::State(last.clone()));
        }
        match state {
            InstanceState::Booting | InstanceState::Running => seen_up = true,
            InstanceState::Offline if seen_up => return Ok(i),
            _ => {}
        }
        if started.elapsed() >= timeout {
            bail!(
                "the build Linode did not power off within {} (the driver install failed or is slow; its console in Lish says which)",
                span(timeout)
            );
        }
        tokio::time::sleep(poll).await;
    }
}

async fn wait_available(
    client: &LinodeClient,
    id: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<Image> {
    let started = Instant::now();
    loop {
        let image = client.get_image(id).await?;
        match image.status.as_deref() {
            Some("available") => return Ok(image),
            Some("creating") | Some("pending_upload") | None => {}
            Some(other) => bail!("image {id} is {other}"),
        }
        if started.elapsed() >= timeout {
            bail!("image {id} was not available within the timeout; 'linode-ai image list' shows it when it is");
        }
        tokio::time::sleep(poll).await;
    }
}

async fn clean_up(client: &LinodeClient, made: &Made) -> Result<()> {
    if let Some(id) = made.linode {
        match client.delete_instance(id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e).context(format!("deleting build Linode {id}")),
        }
    }
    if let Some(id) = made.firewall {
        // The Linode lets go of its firewall a moment after it is deleted.
        client
            .delete_firewall_after(id, made.linode, Duration::from_secs(60))
            .await
            .with_context(|| format!("deleting the build's firewall {id}"))?;
    }
    Ok(())
}

/// Checks the build's region and plan against the API's lists: the plan has
/// a GPU, the region offers GPU Linodes and cloud-init. Returns the price.
pub fn check_offer(
    plan: &BuildPlan,
    regions: &[crate::linode::Region],
    types: &[crate::linode::LinodeType],
) -> Result<Option<crate::linode::Price>> {
    use crate::suggest::did_you_mean;
    let Some(region) = regions.iter().find(|r| r.id == plan.region) else {
        bail!(
            "region {} does not exist.{}",
            crate::sanitize::quote(&plan.region),
            did_you_mean(&plan.region, regions.iter().map(|r| r.id.as_str()))
        );
    };
    let gpu_regions = || {
        regions
            .iter()
            .filter(|r| r.has("GPU Linodes") && r.has("Metadata"))
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !region.has("GPU Linodes") || !region.has("Metadata") {
        bail!(
            "region \"{}\" offers no GPU Linodes with cloud-init; try one of: {}",
            plan.region,
            gpu_regions()
        );
    }
    let Some(ty) = types.iter().find(|t| t.id == plan.linode_type) else {
        bail!(
            "Linode type {} does not exist.{}",
            crate::sanitize::quote(&plan.linode_type),
            did_you_mean(&plan.linode_type, types.iter().map(|t| t.id.as_str()))
        );
    };
    if ty.gpus == 0 {
        let gpu: Vec<&str> = types
            .iter()
            .filter(|t| t.gpus > 0)
            .map(|t| t.id.as_str())
            .collect();
        bail!(
            "{} has no GPU: the driver is built for the GPU it finds; GPU plans: {}",
            ty.id,
            gpu.join(", ")
        );
    }
    Ok(ty.price_in(&plan.region))
}

/// `40m`, or `5 s` under two minutes.
pub fn span(d: Duration) -> String {
    if d.as_secs() < 120 {
        format!("{} s", d.as_secs())
    } else {
        crate::naming::format_span(chrono::Duration::from_std(d).unwrap_or_default())
    }
}

/// What an Image costs a month, and whether it fits the cap.
pub fn describe(image: &Image) -> String {
    let size = image.total_size.or(image.size);
    format!(
        "{} {} ({}{})",
        image.id,
        image.label.as_deref().unwrap_or(""),
        size.map(|mb| format!("{:.1} GB", mb as f64 / 1024.0))
            .unwrap_or_else(|| "size unknown".into()),
        image
            .monthly_usd()
            .map(|m| format!(", ${m:.2}/month"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], created: &str, status: &str) -> Image {
        serde_json::from_value(serde_json::json!({
            "id": id, "is_public": false, "status": status, "capabilities": ["cloud-init"],
            "tags": tags, "created": created, "size": 4000, "total_size": 4096
        }))
        .unwrap()
    }

    #[test]
    fn the_newest_matching_available_base_is_used() {
        let t = [
            "build_ai",
            "build_ai_gpu_base=580-server",
            "build_ai_gpu_os=ubuntu24.04",
        ];
        let images = vec![
            image("private/1", &t, "2026-12-01T00:00:00", "available"),
            image("private/2", &t, "2026-12-03T00:00:00", "available"),
            image("private/3", &t, "2026-12-04T00:00:00", "creating"),
            image(
                "private/4",
                &[
                    "build_ai",
                    "build_ai_gpu_base=570-server",
                    "build_ai_gpu_os=ubuntu24.04",
                ],
                "2026-12-05T00:00:00",
                "available",
            ),
        ];
        let found = find_gpu_base(&images, "580-server", "linode/ubuntu24.04").unwrap();
        assert_eq!(found.id, "private/2");
        assert!(find_gpu_base(&images, "580-server", "linode/ubuntu22.04").is_none());
        assert_eq!(gpu_bases(&images).len(), 4);
        assert_eq!(describe(found), "private/2  (4.0 GB, $0.40/month)");
    }

    #[test]
    fn the_build_plan_is_safe_and_valid() {
        let catalog = Catalog::stock();
        let opts = BuildOptions {
            timeout: Duration::from_secs(1800),
            ..Default::default()
        };
        let p = plan(&catalog, &opts, Utc::now()).unwrap();
        assert!(!p.instance.booted, "booted after the watchdog is off");
        assert!(p.firewall.rules.inbound.is_empty());
        assert_eq!(p.firewall.rules.inbound_policy, "DROP");
        assert!(p.instance.authorized_keys.is_empty());
        assert!(p.image_label.len() <= 50, "{}", p.image_label);
        assert!(p
            .instance
            .tags
            .iter()
            .any(|t| t.starts_with("build_ai_expires=")));
        naming::check_label(&p.instance.label).unwrap();
        assert!(check_branch("580-server; rm -rf /").is_err());
        let bad = BuildOptions {
            driver: Some("$(x)".into()),
            ..opts
        };
        assert!(plan(&catalog, &bad, Utc::now()).is_err());
    }
}
