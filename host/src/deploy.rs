//! `deploy` as data: resolve settings, render and validate user-data, build
//! the create request, check it against the API's regions and plans, record
//! the deployment, create the instance, read back its address, wait.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::cloud_init::{self, RenderInput};
use crate::envfile;
use crate::health::{self, app_url, HealthVerdict};
use crate::hooks::{DeployContext, TemplateHooks};
use crate::linode::{CreateInstance, LinodeClient, LinodeType, Metadata, Region};
use crate::manifest::ProjectManifest;
use crate::naming;
use crate::registry::{Deployment, HealthRecord, Registry};
use crate::settings::CliConfig;
use crate::template::{Catalog, EnvVars, Template};

/// Flags given to `deploy` (each overrides the manifest).
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub region: Option<String>,
    pub linode_type: Option<String>,
    pub env_file: Option<PathBuf>,
    pub image: Option<String>,
    pub app_name: Option<String>,
    pub env_name: Option<String>,
    pub port: Option<u16>,
    pub ssh_keys: Vec<PathBuf>,
}

/// Settings after resolution: flag > manifest > template default > linode-cli config.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedSettings {
    pub template: String,
    pub template_version: String,
    pub region: String,
    pub linode_type: String,
    pub app_name: String,
    pub env_name: String,
    pub image: String,
    pub base_image: String,
    pub internal_port: u16,
    pub external_port: u16,
    pub env_file: PathBuf,
}

/// A fully prepared deployment: what `--dry-run` shows and `deploy` sends.
pub struct DeployPlan {
    pub template: Template,
    pub settings: ResolvedSettings,
    pub deployment_id: Uuid,
    pub env: EnvVars,
    /// The user-data that is sent.
    pub user_data: String,
    /// The same document with env values redacted, for display.
    pub user_data_display: String,
    pub request: CreateInstance,
    pub notes: Vec<String>,
    pub context: DeployContext,
    pub hooks: TemplateHooks,
}

const REDACTED: &str = "<redacted>";

fn pick(flag: &Option<String>, manifest: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(|| manifest.clone())
        .filter(|v| !v.trim().is_empty())
}

/// Reads the env file and checks required vars; missing ones are named together.
pub fn load_env(template: &Template, path: &Path) -> Result<EnvVars> {
    let required: Vec<&str> = template
        .spec
        .env
        .required
        .iter()
        .map(|v| v.name())
        .collect();
    let mut vars = if path.exists() {
        envfile::read(path)?
    } else if required.is_empty() {
        EnvVars::new()
    } else {
        bail!(
            "env file {} not found; template \"{}\" requires {}. Copy .env.example to {} and fill it in",
            path.display(),
            template.name(),
            required.join(", "),
            path.display()
        );
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| vars.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing required env var{} in {}: {} (see .env.example)",
            if missing.len() > 1 { "s" } else { "" },
            path.display(),
            missing.join(", ")
        );
    }
    for (k, v) in &vars {
        if v.contains('\0') {
            bail!(
                "env var {k} in {} contains a NUL byte, which no shell can carry",
                path.display()
            );
        }
    }
    for opt in &template.spec.env.optional {
        if let Some(default) = opt.default_value() {
            vars.entry(opt.name().to_string())
                .or_insert_with(|| default.to_string());
        }
    }
    Ok(vars)
}

/// The document with every env value replaced by `<redacted>` (hooks see
/// the real values; only what is shown is redacted).
pub fn redact(doc: &str, env: &EnvVars) -> String {
    let mut out = doc.to_string();
    for (k, v) in env {
        out = out.replace(&cloud_init::env_line(k, v), &format!("{k}={REDACTED}\n"));
    }
    // A hook may have copied values elsewhere: longest first, trivial ones left.
    let mut values: Vec<&String> = env.values().filter(|v| v.len() >= 4).collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in values {
        out = out.replace(v.as_str(), REDACTED);
    }
    out
}

/// Strong random root password (50 random bytes, base64: 68 chars). Never printed or stored.
pub fn generate_root_password() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 50];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot get random bytes for the root password: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn is_ssh_key(line: &str) -> bool {
    let kind = line.split_whitespace().next().unwrap_or("");
    (kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-"))
        && line.split_whitespace().count() >= 2
}

/// SSH public keys: the given files, or every `~/.ssh/*.pub`.
pub fn ssh_keys(explicit: &[PathBuf]) -> Result<(Vec<String>, Vec<String>)> {
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    if !explicit.is_empty() {
        for path in explicit {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read SSH key {}", path.display()))?;
            let found: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| is_ssh_key(l))
                .map(str::to_string)
                .collect();
            if found.is_empty() {
                bail!("{} holds no SSH public key (expected a line like 'ssh-ed25519 AAAA... you@host')", path.display());
            }
            keys.extend(found);
        }
        return Ok((keys, notes));
    }
    if let Some(dir) = dirs::home_dir().map(|h| h.join(".ssh")) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pub"))
                .collect();
            paths.sort();
            for p in paths {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    keys.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| is_ssh_key(l))
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    keys.dedup();
    if keys.is_empty() {
        notes.push("no SSH public key found in ~/.ssh; you will not be able to log in to the instance (pass --ssh-key FILE)".into());
    }
    Ok((keys, notes))
}

/// Builds everything `deploy` needs without touching the network.
pub fn plan(
    project_dir: &Path,
    opts: &DeployOptions,
    catalog: &Catalog,
    config: &CliConfig,
    now: DateTime<Utc>,
) -> Result<DeployPlan> {
    let (manifest, manifest_path) = ProjectManifest::load(project_dir)?;
    let template = catalog
        .find(&manifest.template.name)
        .with_context(|| {
            format!(
                "{} names template \"{}\"",
                manifest_path.display(),
                manifest.template.name
            )
        })?
        .clone();
    let mut notes = Vec::new();
    if let Some(v) = &manifest.template.version {
        if v != template.version() {
            notes.push(format!(
                "{} asks for template {} {v}; deploying the available version {}",
                manifest_path.display(),
                template.name(),
                template.version()
            ));
        }
    }
    let linode = template.linode();
    let m = &manifest.deploy;
    let region = pick(&opts.region, &m.region)
        .or_else(|| linode.region_default.clone())
        .or_else(|| config.get("region").map(str::to_string))
        .context("no region: pass --region, set deploy.region in ai.linode.yml, or set a default with 'linode-cli configure'")?;
    let linode_type = pick(&opts.linode_type, &m.linode_type)
        .or_else(|| linode.type_default.clone())
        .or_else(|| config.get("type").map(str::to_string))
        .context("no Linode type: pass --linode-type, set deploy.linode_type in ai.linode.yml, or set a default with 'linode-cli configure'")?;
    let app_name = pick(&opts.app_name, &m.app_name).unwrap_or_else(|| template.name().to_string());
    let env_name = pick(&opts.env_name, &m.env).unwrap_or_else(|| "default".to_string());
    naming::check_name("app name", &app_name)?;
    naming::check_name("env name", &env_name)?;
    let image = pick(&opts.image, &m.image).unwrap_or_else(|| template.container().image.clone());
    if image.chars().any(char::is_whitespace) {
        bail!("container image \"{image}\" must not contain spaces");
    }
    let external_port = opts
        .port
        .or(m.port)
        .unwrap_or(template.container().external_port);
    if external_port == 0 {
        bail!("port must be 1-65535");
    }
    let env_file = opts
        .env_file
        .clone()
        .unwrap_or_else(|| project_dir.join(&manifest.env.file));
    let env = load_env(&template, &env_file)?;

    let settings = ResolvedSettings {
        template: template.name().to_string(),
        template_version: template.version().to_string(),
        region,
        linode_type,
        app_name,
        env_name,
        image,
        base_image: linode.image.clone(),
        internal_port: template.container().internal_port,
        external_port,
        env_file,
    };
    let context = DeployContext {
        template: settings.template.clone(),
        template_version: settings.template_version.clone(),
        app_name: settings.app_name.clone(),
        env_name: settings.env_name.clone(),
        region: settings.region.clone(),
        linode_type: settings.linode_type.clone(),
        image: settings.image.clone(),
        internal_port: settings.internal_port,
        external_port: settings.external_port,
        env_vars: env.clone(),
    };
    let hooks = TemplateHooks::for_template(&template)?;
    let input = RenderInput::for_template(&template, &settings.image, settings.external_port, &env);
    let user_data = hooks.render(&context, cloud_init::default_config(&input).render())?;
    cloud_init::validate_user_data(&user_data).with_context(|| {
        format!(
            "template \"{}\" {} produced unusable user-data",
            template.name(),
            template.version()
        )
    })?;
    let user_data_display = redact(&user_data, &env);

    let deployment_id = Uuid::new_v4();
    let label = naming::instance_label(&settings.app_name, &settings.env_name, now);
    naming::check_label(&label).map_err(anyhow::Error::msg)?;
    let tags = naming::instance_tags(
        &settings.app_name,
        &settings.env_name,
        &settings.template,
        &settings.template_version,
        deployment_id,
    );
    naming::check_tags(&tags).map_err(anyhow::Error::msg)?;
    let (authorized_keys, key_notes) = ssh_keys(&opts.ssh_keys)?;
    notes.extend(key_notes);
    let request = CreateInstance {
        region: settings.region.clone(),
        linode_type: settings.linode_type.clone(),
        image: settings.base_image.clone(),
        label,
        tags,
        root_pass: generate_root_password()?,
        authorized_keys,
        authorized_users: config.authorized_users(),
        metadata: Metadata {
            user_data: cloud_init::encode_user_data(&user_data),
        },
        booted: true,
    };
    Ok(DeployPlan {
        template,
        settings,
        deployment_id,
        env,
        user_data,
        user_data_display,
        request,
        notes,
        context,
        hooks,
    })
}

/// Checks region and plan against the API's lists (no token needed).
pub fn check_against_catalog(
    plan: &DeployPlan,
    regions: &[Region],
    types: &[LinodeType],
) -> Result<()> {
    let s = &plan.settings;
    let linode = plan.template.linode();
    let Some(region) = regions.iter().find(|r| r.id == s.region) else {
        let usable: Vec<&str> = regions
            .iter()
            .filter(|r| r.capabilities.iter().any(|c| c == "Metadata"))
            .map(|r| r.id.as_str())
            .collect();
        let hint = crate::template::closest(&s.region, regions.iter().map(|r| r.id.as_str()))
            .map(|c| format!(" Did you mean \"{c}\"?"))
            .unwrap_or_default();
        bail!(
            "region \"{}\" does not exist.{hint} Regions with cloud-init (Metadata): {}",
            s.region,
            usable.join(", ")
        );
    };
    let has = |cap: &str| region.capabilities.iter().any(|c| c == cap);
    if !has("Metadata") {
        bail!(
            "region \"{}\" has no Metadata service, so cloud-init cannot configure the instance; choose one of: {}",
            s.region,
            regions.iter().filter(|r| r.capabilities.iter().any(|c| c == "Metadata")).map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let Some(ty) = types.iter().find(|t| t.id == s.linode_type) else {
        let hint = crate::template::closest(&s.linode_type, types.iter().map(|t| t.id.as_str()))
            .map(|c| format!(" Did you mean \"{c}\"?"))
            .unwrap_or_default();
        bail!(
            "Linode type \"{}\" does not exist.{hint} See 'linode-cli linodes types' for the list",
            s.linode_type
        );
    };
    if let Some(min) = linode.min_memory_mb {
        if ty.memory < min {
            let better = types
                .iter()
                .filter(|t| t.memory >= min && (t.gpus > 0) == (ty.gpus > 0 || linode.gpu))
                .min_by(|a, b| {
                    a.price
                        .as_ref()
                        .and_then(|p| p.hourly)
                        .partial_cmp(&b.price.as_ref().and_then(|p| p.hourly))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .map(|t| format!("; the cheapest that fits is {} ({} MB)", t.id, t.memory))
                .unwrap_or_default();
            bail!(
                "template \"{}\" needs {min} MB of memory, but {} has {} MB{better}",
                plan.template.name(),
                ty.id,
                ty.memory
            );
        }
    }
    if linode.gpu && ty.gpus == 0 {
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
    if ty.gpus > 0 && !has("GPU Linodes") {
        let gpu_regions: Vec<&str> = regions
            .iter()
            .filter(|r| r.capabilities.iter().any(|c| c == "GPU Linodes"))
            .map(|r| r.id.as_str())
            .collect();
        bail!(
            "{} is a GPU plan, but region \"{}\" offers no GPU Linodes; try one of: {}",
            ty.id,
            s.region,
            gpu_regions.join(", ")
        );
    }
    Ok(())
}

/// Fetches regions and types and checks the plan against them.
pub async fn preflight(client: &LinodeClient, plan: &DeployPlan) -> Result<()> {
    let (regions, types) = tokio::try_join!(client.regions(), client.types())?;
    check_against_catalog(plan, &regions, &types)
}

/// Progress reported while deploying and waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Creating,
    Created {
        linode_id: u64,
    },
    Phase {
        phase: &'static str,
        detail: Option<String>,
    },
}

/// The hostname users reach: the public IPv4's rDNS, else the derived Linode name.
pub fn hostname_for(ipv4: &str, rdns: Option<&str>) -> String {
    match rdns.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => r.trim_end_matches('.').to_string(),
        None => format!("{}.ip.linodeusercontent.com", ipv4.replace('.', "-")),
    }
}

/// Records the deployment as pending, creates the instance, reads back its
/// address and completes the record. A failed create removes the pending record.
pub async fn execute(
    client: &LinodeClient,
    registry: &Registry,
    plan: &DeployPlan,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Deployment> {
    let s = &plan.settings;
    let health = &plan.template.container().health;
    let mut record = Deployment {
        deployment_id: plan.deployment_id.to_string(),
        app_name: s.app_name.clone(),
        env: s.env_name.clone(),
        template: s.template.clone(),
        template_version: s.template_version.clone(),
        target: "linode".into(),
        region: s.region.clone(),
        linode_type: Some(s.linode_type.clone()),
        label: Some(plan.request.label.clone()),
        linode_id: None,
        ipv4: None,
        hostname: None,
        url: None,
        image: Some(s.image.clone()),
        health: HealthRecord {
            http_path: health.path.clone(),
            port: s.external_port,
            success_codes: health.success_codes.clone(),
            timeout_seconds: health.timeout_seconds,
        },
        created_at: Utc::now(),
        last_status: "pending".into(),
        last_checked_at: None,
        last_detail: Some("recorded before the create call".into()),
        internal_port: Some(s.internal_port),
        public_env: plan
            .template
            .spec
            .env
            .required
            .iter()
            .chain(&plan.template.spec.env.optional)
            .filter(|v| v.is_public())
            .filter_map(|v| {
                plan.env
                    .get(v.name())
                    .map(|val| (v.name().to_string(), val.clone()))
            })
            .collect(),
    };
    registry
        .add(record.clone())
        .context("cannot record the deployment before creating it")?;
    progress(Progress::Creating);
    let instance = match client.create_instance(&plan.request).await {
        Ok(i) => i,
        Err(e) => {
            // Only errors that prove nothing was created drop the record.
            if matches!(
                e,
                crate::linode::ApiError::Api {
                    status: 400..=499,
                    ..
                } | crate::linode::ApiError::MissingToken(_)
            ) {
                registry.remove(&record.deployment_id)?;
            }
            return Err(e).context(format!("creating Linode \"{}\" failed", plan.request.label));
        }
    };
    progress(Progress::Created {
        linode_id: instance.id,
    });
    record.linode_id = Some(instance.id);
    record.last_status = "provisioning".into();
    record.last_detail = None;
    let ipv4 = instance.public_ipv4().map(str::to_string);
    let rdns = match client.instance_ips(instance.id).await {
        Ok(ips) => ips
            .ipv4
            .unwrap_or_default()
            .public
            .into_iter()
            .find(|a| Some(&a.address) == ipv4.as_ref())
            .and_then(|a| a.rdns),
        Err(_) => None,
    };
    if let Some(ip) = &ipv4 {
        let host = hostname_for(ip, rdns.as_deref());
        record.url = Some(app_url(&host, s.external_port));
        record.hostname = Some(host);
    }
    record.ipv4 = ipv4;
    registry.replace(record.clone())?;
    Ok(record)
}

/// Maps the API's instance status to the word users see.
pub fn map_api_status(status: &str) -> &'static str {
    match status {
        "running" => "running",
        "offline" | "stopped" | "shutting_down" => "stopped",
        "deleting" => "deleting",
        "billing_suspension" => "suspended",
        _ => "provisioning",
    }
}

/// Polls the instance and its health URL until the app is healthy or `timeout` passes.
pub async fn wait_until_healthy(
    client: &LinodeClient,
    record: &Deployment,
    hooks: &TemplateHooks,
    ctx: &DeployContext,
    timeout: Duration,
    poll: Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<HealthVerdict> {
    let id = record.linode_id.context("deployment has no Linode id")?;
    let target = record
        .probe_target()
        .context("deployment has no address to probe")?;
    let probe_client = health::probe_client();
    let start = Instant::now();
    let mut last = (String::new(), None::<String>);
    loop {
        let instance = client.get_instance(id).await?;
        let api = instance.status.unwrap_or_default();
        let (phase, detail): (&'static str, Option<String>) = match api.as_str() {
            "provisioning" => ("provisioning", None),
            "booting" | "rebooting" => ("booting", None),
            "running" => {
                let probe = health::probe(
                    &probe_client,
                    &target,
                    Duration::from_secs(record.health.timeout_seconds.max(1)),
                )
                .await;
                match hooks.health(ctx, &probe)? {
                    HealthVerdict::Healthy => {
                        progress(Progress::Phase {
                            phase: "healthy",
                            detail: None,
                        });
                        return Ok(HealthVerdict::Healthy);
                    }
                    HealthVerdict::Starting(r) => ("container starting", Some(r)),
                    HealthVerdict::Unhealthy(r) => ("unhealthy", Some(r)),
                }
            }
            "offline" | "stopped" | "deleting" | "billing_suspension" => {
                bail!("Linode {id} is {api}; it will not become healthy")
            }
            other => ("provisioning", Some(format!("Linode status {other}"))),
        };
        if last.0 != phase || last.1 != detail {
            progress(Progress::Phase {
                phase,
                detail: detail.clone(),
            });
            last = (phase.to_string(), detail.clone());
        }
        if start.elapsed() >= timeout {
            bail!(
                "timed out after {}s waiting for {} to become healthy (last: {phase}{}); it may still come up: run 'linode-ai status'",
                timeout.as_secs(),
                record.url.as_ref().map(|u| format!("{u}{}", record.health.http_path)).unwrap_or_else(|| target.url.clone()),
                detail.map(|d| format!(", {d}")).unwrap_or_default()
            );
        }
        tokio::time::sleep(
            poll.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(50)),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_prefers_rdns() {
        assert_eq!(
            hostname_for("45.33.68.91", None),
            "45-33-68-91.ip.linodeusercontent.com"
        );
        assert_eq!(
            hostname_for("45.33.68.91", Some("my.example.org.")),
            "my.example.org"
        );
        assert_eq!(
            hostname_for("45.33.68.91", Some("")),
            "45-33-68-91.ip.linodeusercontent.com"
        );
    }

    #[test]
    fn root_password_is_strong() {
        let p = generate_root_password().unwrap();
        assert_eq!(p.len(), 68);
        assert_ne!(p, generate_root_password().unwrap());
    }

    #[test]
    fn status_mapping_follows_the_plan() {
        assert_eq!(map_api_status("booting"), "provisioning");
        assert_eq!(map_api_status("provisioning"), "provisioning");
        assert_eq!(map_api_status("offline"), "stopped");
        assert_eq!(map_api_status("running"), "running");
    }
}
