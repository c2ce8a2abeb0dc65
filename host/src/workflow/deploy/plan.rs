//! Building a deployment without touching the network: settings resolved
//! once (flag > manifest > template > linode-cli config), env vars read and
//! checked (missing ones named together, keys generated), the user-data
//! rendered twice (with the real values to send, with secrets replaced by
//! `<redacted>` to show), the create requests prepared.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::blueprint::catalog::Catalog;
use crate::blueprint::envfile;
use crate::blueprint::manifest::ProjectManifest;
use crate::blueprint::stack::{ImageRef, Stack};
use crate::blueprint::template::{reserved_env_name, EnvVarSpec, EnvVars, Template};
use crate::hooks::{DeployContext, TemplateHooks};
use crate::linode::{CreateFirewall, CreateInstance, Metadata};
use crate::naming;
use crate::sanitize::quote;
use crate::settings::CliConfig;
use crate::state::Probe;
use crate::targets::vm::boot::{self, BootInput};
use crate::targets::vm::cloud_init::{self, encode_user_data, validate_user_data};
use crate::targets::vm::firewall::{self, FirewallChoice};

/// What `<redacted>` stands in for: secrets in the displayed user-data.
pub const REDACTED: &str = "<redacted>";

/// Flags given to `deploy` (each overrides the manifest).
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub region: Option<String>,
    pub linode_type: Option<String>,
    pub env_file: Option<PathBuf>,
    pub image: Option<String>,
    pub app_name: Option<String>,
    pub env_name: Option<String>,
    /// The HTTPS port the proxy publishes (443).
    pub https_port: Option<u16>,
    pub ssh_keys: Vec<PathBuf>,
    /// Networks SSH is open to (all when empty).
    pub ssh_from: Vec<String>,
    pub domain: Option<String>,
    pub firewall: Option<FirewallChoice>,
    /// `--acme-ca`: the ACME directory (Let's Encrypt when `None`).
    pub acme_ca: Option<String>,
    /// `--ttl`: how long until the deployment expires (`none`: never); the
    /// template's `default_ttl` when not given.
    pub ttl: Option<String>,
    /// `--model`: the model the app serves, instead of the template's or `.env`'s.
    pub model: Option<String>,
    /// `--cache-gb N`: a cache volume of N GB instead of the template's.
    pub cache_gb: Option<u32>,
    /// `--no-cache`: no cache volume even when the template has one.
    pub no_cache: bool,
    /// `resume`: the parked deployment this deploy brings back.
    pub resume: Option<ResumeFrom>,
}

/// The cache volume (Block Storage) a deployment gets: Docker's images and
/// the models live on it, and `destroy --keep-volume` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CachePlan {
    /// `ai-cache-<first 8 of the deployment id>`; the device is
    /// `/dev/disk/by-id/scsi-0Linode_Volume_<label>`.
    pub label: String,
    pub size_gb: u32,
    /// `resume`: the parked deployment's volume, attached instead of made.
    pub existing: Option<u64>,
}

/// `resume`: what the parked deployment kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeFrom {
    /// The parked deployment's id: the new Linode carries it in its tags.
    pub deployment_id: Uuid,
    /// The volume's region (a volume attaches only there).
    pub region: String,
    pub volume_id: u64,
    pub volume_label: String,
    pub size_gb: u32,
    /// Its firewall, when it kept one.
    pub firewall: Option<u64>,
    /// What its record says it served: `--domain`, and the public env
    /// values (the `--model` it was deployed with among them).
    pub domain: Option<String>,
    pub public_env: std::collections::BTreeMap<String, String>,
}

pub use crate::linode::VOLUME_MONTHLY_PER_GB;

impl CachePlan {
    pub fn monthly_price(&self) -> f64 {
        f64::from(self.size_gb) * VOLUME_MONTHLY_PER_GB
    }
}

/// What the plan needs from outside the project.
pub struct PlanContext<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a CliConfig,
    /// For `~/.ssh/*.pub`.
    pub home: Option<&'a Path>,
    pub hook_cache: &'a Path,
    pub now: DateTime<Utc>,
    /// Called while a hook compiles (elapsed, component size).
    pub progress: crate::hooks::LoadProgress<'a>,
}

/// Settings after resolution.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedSettings {
    pub template: String,
    pub template_version: String,
    pub region: String,
    pub linode_type: String,
    pub app_name: String,
    pub env_name: String,
    /// The fronted service's image.
    pub image: String,
    pub base_image: String,
    pub https_port: u16,
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_ca: Option<String>,
    pub env_file: PathBuf,
}

/// The firewall a deployment gets.
#[derive(Debug, Clone)]
pub enum FirewallPlan {
    Create(CreateFirewall),
    Existing(u64),
    Disabled,
}

/// A fully prepared deployment: what `--dry-run` shows and `deploy` sends.
pub struct DeployPlan {
    pub template: Template,
    pub stack: Stack,
    pub settings: ResolvedSettings,
    pub deployment_id: Uuid,
    pub env: EnvVars,
    /// Variables that were empty and got generated values (saved to the env
    /// file before anything is created).
    pub generated: Vec<String>,
    /// The user-data that is sent.
    pub user_data: String,
    /// The same document rendered with secrets as `<redacted>`, for display.
    pub user_data_display: String,
    pub request: CreateInstance,
    pub firewall: FirewallPlan,
    pub notes: Vec<String>,
    pub context: DeployContext,
    pub hooks: TemplateHooks,
    /// What the hook logged while rendering the displayed document.
    pub hook_logs: Vec<String>,
    /// Lines the hook added/removed per top-level section.
    pub hook_diff: Vec<(String, usize, usize)>,
    pub probes: Vec<Probe>,
    /// The private key next to the first `--ssh-key` file, if there is one.
    pub ssh_identity: Option<PathBuf>,
    /// When it expires (`--ttl` or the template's default), in its tags too.
    pub expires_at: Option<DateTime<Utc>>,
    /// Memory the Linode plan needs (the template's, or the `--model`'s when larger).
    pub min_memory_mb: Option<u64>,
    /// `--model`, when given.
    pub model: Option<String>,
    /// The cache volume, unless the template has none or `--no-cache`.
    pub cache: Option<CachePlan>,
}

impl DeployPlan {
    /// `https://<name>` as far as it is known before the instance exists.
    pub fn url_hint(&self) -> String {
        let host = self
            .settings
            .domain
            .clone()
            .unwrap_or_else(|| "<a-b-c-d>.ip.linodeusercontent.com".into());
        crate::health::app_url(&host, self.settings.https_port)
    }
}

fn pick(flag: &Option<String>, manifest: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(|| manifest.clone())
        .filter(|v| !v.trim().is_empty())
}

/// All env var specs of a template, including a key the stack adds.
pub fn env_specs(template: &Template, stack: &Stack) -> Vec<EnvVarSpec> {
    let mut specs: Vec<EnvVarSpec> = template.spec.env.all().cloned().collect();
    if let Some(k) = &stack.implicit_key {
        specs.push(k.clone());
    }
    specs
}

/// Reads the env file, checks names and required vars (missing ones are
/// named together), applies defaults and generates empty generated values.
/// Returns the values and the names that were generated.
pub fn load_env(
    template: &Template,
    stack: &Stack,
    path: &Path,
    explicit: bool,
) -> Result<(EnvVars, Vec<String>)> {
    let specs = env_specs(template, stack);
    let required: Vec<&str> = template.spec.env.to_fill().map(|v| v.name()).collect();
    let mut vars = if path.exists() || std::fs::symlink_metadata(path).is_ok() {
        envfile::read(path)?
    } else if explicit {
        bail!(
            "env file {} does not exist (given with --env-file)",
            path.display()
        );
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
        if let Some(rule) = reserved_env_name(k) {
            bail!(
                "env var {k} in {} cannot be used: {rule}; rename it",
                path.display()
            );
        }
        if v.contains('\0') {
            bail!(
                "env var {k} in {} contains a NUL byte, which no shell can carry",
                path.display()
            );
        }
    }
    let mut generated = Vec::new();
    for spec in &specs {
        let name = spec.name();
        let empty = vars.get(name).is_none_or(|v| v.is_empty());
        if let (true, Some(kind)) = (empty, spec.generate()) {
            vars.insert(name.to_string(), crate::blueprint::secrets::generate(kind)?);
            generated.push(name.to_string());
        } else if let (true, Some(default)) =
            (empty && !vars.contains_key(name), spec.default_value())
        {
            vars.insert(name.to_string(), default.to_string());
        }
    }
    if let Some(key) = stack.proxy.key_env.as_deref() {
        match vars.get(key) {
            Some(v) if !v.is_empty() => {
                if !generated.iter().any(|g| g == key) {
                    crate::blueprint::secrets::check_key(key, v)
                        .with_context(|| format!("in {}", path.display()))?;
                }
            }
            _ => bail!(
                "{key} is empty in {}; it is the API key the proxy checks. Set it, or declare it with `generate: key` in the template",
                path.display()
            ),
        }
    }
    Ok((vars, generated))
}

/// The env as shown: public values as they are, everything else `<redacted>`.
pub fn display_env(env: &EnvVars, specs: &[EnvVarSpec]) -> EnvVars {
    env.iter()
        .map(|(k, v)| {
            let public = specs.iter().any(|s| s.name() == k && s.is_public());
            (k.clone(), if public { v.clone() } else { REDACTED.into() })
        })
        .collect()
}

/// A hook's failure as shown (its own words only from the run that saw no secrets).
fn hook_failure(template: &Template, e: &crate::hooks::HookError) -> String {
    match e {
        crate::hooks::HookError::Refused(m) => format!(
            "hook of template \"{}\" {}: {}",
            template.name(),
            template.version(),
            crate::hooks::HookError::Refused(m.clone()).shown()
        ),
        crate::hooks::HookError::Stopped(m) => m.clone(),
    }
}

/// Checks `--acme-ca`: an https URL Caddy can read as one Caddyfile token.
pub fn check_acme_ca(url: &str) -> Result<()> {
    let ok = url.starts_with("https://")
        && url.len() > "https://".len()
        && url.len() <= 512
        && url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&()*+,;=%".contains(c))
        && !url.contains(['{', '}']);
    if !ok {
        bail!(
            "--acme-ca {} is not an https URL of an ACME directory (e.g. https://acme-staging-v02.api.letsencrypt.org/directory)",
            crate::sanitize::quote(url)
        );
    }
    Ok(())
}

/// Checks a `--domain` name: a DNS name the proxy can get a certificate for.
pub fn check_domain(d: &str) -> Result<()> {
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && !labels
            .last()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        bail!(
            "--domain {} is not a DNS name (e.g. chat.example.com)",
            quote(d)
        );
    }
    Ok(())
}

/// Builds everything `deploy` needs without touching the network.
pub fn plan(project_dir: &Path, opts: &DeployOptions, cx: &PlanContext<'_>) -> Result<DeployPlan> {
    let (manifest, manifest_path) = ProjectManifest::load(project_dir)?;
    let template = cx
        .catalog
        .find(&manifest.template.name)
        .with_context(|| format!("{} names a template", manifest_path.display()))?
        .clone();
    let mut notes = Vec::new();
    if let Some(v) = &manifest.template.version {
        if v != template.version() {
            notes.push(format!(
                "{} asks for template {} {}; deploying the available version {}",
                manifest_path.display(),
                template.name(),
                quote(v),
                template.version()
            ));
        }
    }
    let linode = template.linode();
    // --model: checked for form before anything else looks at the network.
    let model = model_choice(opts, &template)?;
    let m = &manifest.deploy;
    let region = opts
        .resume
        .as_ref()
        .map(|r| r.region.clone())
        .or_else(|| pick(&opts.region, &m.region))
        .or_else(|| linode.region_default.clone())
        .or_else(|| cx.config.get("region").map(str::to_string))
        .context("no region: pass --region, set deploy.region in ai.linode.yml, or set a default with 'linode-cli configure'")?;
    let linode_type = pick(&opts.linode_type, &m.linode_type)
        .or_else(|| linode.type_default.clone())
        .or_else(|| cx.config.get("type").map(str::to_string))
        .context("no Linode type: pass --linode-type, set deploy.linode_type in ai.linode.yml, or set a default with 'linode-cli configure'")?;
    for (what, v) in [("region", &region), ("Linode type", &linode_type)] {
        if v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!(
                "{what} {} is not a Linode id (letters, digits and -)",
                quote(v)
            );
        }
    }
    let app_name = pick(&opts.app_name, &m.app_name).unwrap_or_else(|| template.name().to_string());
    let env_name = pick(&opts.env_name, &m.env).unwrap_or_else(|| "default".to_string());
    naming::check_name("app name", &app_name)?;
    naming::check_name("env name", &env_name)?;
    let deployment_id = opts
        .resume
        .as_ref()
        .map_or_else(Uuid::new_v4, |r| r.deployment_id);
    let cache = cache_choice(opts, &template, deployment_id, &mut notes)?;
    let mut stack = Stack::from_spec(&template.spec)?;
    if let Some(image) = pick(&opts.image, &m.image) {
        stack = stack.with_image(&ImageRef::parse(&image, "--image")?);
    }
    let https_port = opts.https_port.or(m.port).unwrap_or(443);
    if https_port == 0 || https_port == 80 {
        bail!("the HTTPS port must be 1-65535 and not 80 (port 80 serves Let's Encrypt's check and the redirect)");
    }
    let domain = opts.domain.clone().or_else(|| m.domain.clone());
    let acme_ca = opts.acme_ca.clone();
    if let Some(ca) = &acme_ca {
        check_acme_ca(ca)?;
    }
    if let Some(d) = &domain {
        check_domain(d)?;
        notes.push(format!(
            "--domain {d}: when {d} is in a zone of your Linode DNS Manager, deploy creates its A and AAAA records for the new instance (destroy removes them, from any machine); otherwise point an A record at the instance's IPv4 (shown after deploy). Until it resolves, the certificate cannot be issued"
        ));
    }
    let explicit_env = opts.env_file.is_some();
    let env_file = opts
        .env_file
        .clone()
        .unwrap_or_else(|| project_dir.join(&manifest.env.file));
    let (mut env, generated) = load_env(&template, &stack, &env_file, explicit_env)?;
    let mut min_memory_mb = linode.min_memory_mb;
    if let Some((var, name)) = &model {
        env.insert(var.clone(), name.clone());
        let (note, need) = model_note(&template, var, name, &env_file);
        min_memory_mb = need
            .map(|n| min_memory_mb.unwrap_or(0).max(n))
            .or(min_memory_mb);
        notes.push(note);
    }
    #[cfg(unix)]
    if let Some(mode) = crate::files::mode(&env_file).filter(|m| m & 0o077 != 0) {
        notes.push(format!(
            "{} holds secrets but others can read it (mode {mode:04o}); run: chmod 600 {}",
            env_file.display(),
            crate::shell::shell_quote(&env_file.display().to_string())
        ));
    }
    let specs = env_specs(&template, &stack);
    let unused = stack.unused_vars(
        env.keys()
            .map(String::as_str)
            .filter(|k| !specs.iter().any(|s| s.name() == *k)),
    );
    if !unused.is_empty() && stack.post_start_script.is_none() {
        // Names are shown only when they look like variable names (a pasted
        // secret can parse as a name: `dGhpcy...=`).
        let shown: Vec<&str> = unused
            .iter()
            .copied()
            .filter(|n| {
                n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        let hidden = unused.len() - shown.len();
        let mut what = shown.join(", ");
        if hidden > 0 {
            what.push_str(&format!(
                "{}{hidden} other variable{}",
                if shown.is_empty() { "" } else { " and " },
                if hidden == 1 { "" } else { "s" }
            ));
        }
        notes.push(format!(
            "{what} in {} reach{} no service (each service lists the variables it gets)",
            env_file.display(),
            if unused.len() == 1 { "es" } else { "" }
        ));
    }

    let (authorized_keys, key_notes) = crate::ssh_keys::find(&opts.ssh_keys, cx.home)?;
    notes.extend(key_notes);
    let authorized_users = cx.config.authorized_users();
    let ssh_login = !authorized_keys.is_empty() || !authorized_users.is_empty();

    let fronted = stack.fronted_service();
    let settings = ResolvedSettings {
        template: template.name().to_string(),
        template_version: template.version().to_string(),
        region,
        linode_type,
        app_name,
        env_name,
        image: fronted.image.to_string(),
        base_image: linode.image.clone(),
        https_port,
        domain: domain.clone(),
        acme_ca,
        env_file,
    };
    let context = DeployContext::new(
        crate::hooks::ContextPlace {
            template: settings.template.clone(),
            template_version: settings.template_version.clone(),
            app_name: settings.app_name.clone(),
            env_name: settings.env_name.clone(),
            region: settings.region.clone(),
            linode_type: settings.linode_type.clone(),
            external_port: https_port,
            hostname: domain.clone(),
            now: std::time::Duration::from_secs(cx.now.timestamp().max(0) as u64),
        },
        &stack,
        env.clone(),
    );
    let hooks = TemplateHooks::load_with_progress(&template, &stack, cx.hook_cache, cx.progress)?;
    notes.extend(hooks.notes.iter().cloned());
    let public_env: Vec<String> = specs
        .iter()
        .filter(|s| s.is_public())
        .map(|s| s.name().to_string())
        .collect();
    let render = |env: &EnvVars| {
        boot::render(&BootInput {
            stack: &stack,
            env,
            domain: domain.as_deref(),
            https_port,
            nvidia_driver: linode.gpu.then_some(linode.nvidia_driver.as_str()),
            acme_ca: settings.acme_ca.as_deref(),
            public_env: &public_env,
            cache_volume: cache.as_ref().map(|c| c.label.as_str()),
        })
        .render()
    };
    // The hook renders twice: first with secrets as <redacted> (what is shown:
    // its document, log lines and error text can hold nothing secret), then
    // with the real values (what is sent: nothing of that run is shown).
    let shown_env = display_env(&env, &specs);
    let display_ctx = DeployContext {
        env_vars: shown_env.clone(),
        ..context.clone()
    };
    let default_shown = render(&shown_env);
    let user_data_display = match hooks.render(&display_ctx, &default_shown) {
        Ok(doc) => doc.unwrap_or(default_shown),
        Err(e) => {
            // What it logged before failing helps its author (this run saw no secrets).
            let mut message = hook_failure(&template, &e);
            for l in hooks.take_logs() {
                message.push_str(&format!("\n  hook log: {}", crate::sanitize::line(&l)));
            }
            bail!("{message}")
        }
    };
    let hook_logs = hooks.take_logs();
    let default_doc = render(&env);
    let user_data = match hooks.render(&context, &default_doc) {
        Ok(doc) => doc.unwrap_or_else(|| default_doc.clone()),
        Err(crate::hooks::HookError::Refused(_)) => bail!(
            "hook of template \"{}\" {} refused the real values (with the values shown as <redacted> it did not); \
             its message is withheld because it saw them",
            template.name(),
            template.version()
        ),
        Err(e) => bail!("{}", e.shown()),
    };
    drop(hooks.take_logs());
    let hook_diff = if hooks.has_hook() {
        cloud_init::diff_summary(&default_doc, &user_data)
    } else {
        Vec::new()
    };
    validate_user_data(&user_data).with_context(|| {
        format!(
            "template \"{}\" {} produced unusable user-data",
            template.name(),
            template.version()
        )
    })?;
    let parsed: cloud_init::CloudConfig = serde_yaml::from_str(&user_data).map_err(|_| {
        anyhow::anyhow!(
            "template \"{}\" produced user-data that is not cloud-config",
            template.name()
        )
    })?;
    boot::check_env_file(&parsed, stack.proxy.key_env.as_deref()).map_err(anyhow::Error::msg)?;

    let label = naming::instance_label(
        &settings.app_name,
        &settings.env_name,
        cx.now,
        deployment_id,
    );
    naming::check_label(&label).map_err(anyhow::Error::msg)?;
    let expires_at = expiry(opts, &template, cx.now, &mut notes)?;
    let tags = naming::instance_tags(
        &settings.app_name,
        &settings.env_name,
        &settings.template,
        &settings.template_version,
        deployment_id,
        expires_at,
    );
    naming::check_tags(&tags).map_err(anyhow::Error::msg)?;
    let ssh_from = ssh_login.then_some(opts.ssh_from.as_slice());
    if !opts.ssh_from.is_empty() && !ssh_login {
        notes.push("--ssh-from has no effect: no SSH key is installed, so SSH stays closed".into());
    }
    let kept_firewall = opts
        .resume
        .as_ref()
        .and_then(|r| r.firewall)
        .map(FirewallChoice::Existing);
    let firewall = match kept_firewall
        .or_else(|| opts.firewall.clone())
        .unwrap_or(FirewallChoice::Create)
    {
        FirewallChoice::Create => FirewallPlan::Create(firewall::create_body(
            &settings.app_name,
            deployment_id,
            tags.clone(),
            https_port,
            ssh_from,
        )?),
        FirewallChoice::Existing(id) => FirewallPlan::Existing(id),
        FirewallChoice::Disabled => {
            notes.push("--no-firewall: no Cloud Firewall; every port the instance opens is reachable (the proxy still guards the app)".into());
            FirewallPlan::Disabled
        }
    };
    let request = CreateInstance {
        region: settings.region.clone(),
        linode_type: settings.linode_type.clone(),
        image: settings.base_image.clone(),
        label,
        tags,
        root_pass: crate::blueprint::secrets::root_password()?,
        authorized_keys,
        authorized_users,
        metadata: Metadata {
            user_data: encode_user_data(&user_data),
        },
        booted: true,
        firewall_id: match &firewall {
            FirewallPlan::Existing(id) => Some(*id),
            _ => None,
        },
    };
    let probes = stack.probes();
    let ssh_identity = opts.ssh_keys.first().and_then(|p| {
        let private = p.with_extension("");
        (p.extension().is_some_and(|e| e == "pub") && private.is_file())
            .then(|| std::path::absolute(&private).unwrap_or(private))
    });
    Ok(DeployPlan {
        template,
        stack,
        settings,
        deployment_id,
        env,
        generated,
        user_data,
        user_data_display,
        request,
        firewall,
        notes,
        context,
        hooks,
        hook_logs,
        hook_diff,
        probes,
        ssh_identity,
        expires_at,
        min_memory_mb,
        model: model.map(|(_, name)| name),
        cache,
    })
}

/// The cache volume: `--no-cache`, else `--cache-gb`, else the template's `cache_gb`.
fn cache_choice(
    opts: &DeployOptions,
    template: &Template,
    id: Uuid,
    notes: &mut Vec<String>,
) -> Result<Option<CachePlan>> {
    // (The plan shows the volume and its price on a line of its own.)
    use crate::blueprint::template::{CACHE_GB_MAX, CACHE_GB_MIN};
    if let Some(r) = &opts.resume {
        return Ok(Some(CachePlan {
            label: r.volume_label.clone(),
            size_gb: r.size_gb,
            existing: Some(r.volume_id),
        }));
    }
    if opts.no_cache {
        if template.linode().cache_gb.is_some() {
            notes.push("--no-cache: no cache volume; a later deploy downloads the images and the model again".into());
        }
        return Ok(None);
    }
    let Some(size_gb) = opts.cache_gb.or(template.linode().cache_gb) else {
        return Ok(None);
    };
    if !(CACHE_GB_MIN..=CACHE_GB_MAX).contains(&size_gb) {
        bail!("--cache-gb {size_gb}: a Block Storage volume is {CACHE_GB_MIN}-{CACHE_GB_MAX} GB");
    }
    let plan = CachePlan {
        label: naming::cache_label(id),
        size_gb,
        existing: None,
    };
    Ok(Some(plan))
}

/// `--model` for this template: the variable it sets and the name, checked for form.
fn model_choice(opts: &DeployOptions, template: &Template) -> Result<Option<(String, String)>> {
    match (&opts.model, &template.linode().model) {
        (None, _) => Ok(None),
        (Some(_), None) => bail!(
            "template \"{}\" does not take --model (its template.yml names no model variable under deploy.linode.model)",
            template.name()
        ),
        (Some(name), Some(spec)) => {
            spec.kind.check(name)?;
            Ok(Some((spec.env.clone(), name.clone())))
        }
    }
}

/// The plan's note on a `--model`, and the memory it needs when the template knows it.
fn model_note(
    template: &Template,
    var: &str,
    name: &str,
    env_file: &Path,
) -> (String, Option<u64>) {
    let known = template
        .linode()
        .model
        .iter()
        .flat_map(|m| &m.known)
        .find(|k| k.name == name);
    let size = match known {
        Some(k) => format!(
            "about {:.1} GB to download, {} MB of memory needed",
            k.download_mb as f64 / 1000.0,
            k.memory_mb
        ),
        None => {
            "its size is not known to the template: make sure the plan's memory holds it".into()
        }
    };
    (
        format!(
            "model {name}: {size} (--model sets {var} for this deployment; {} is not changed)",
            env_file.display()
        ),
        known.map(|k| k.memory_mb),
    )
}

/// When the deployment expires (`--ttl`, else the template's `default_ttl`),
/// to the minute as the tag keeps it, with a note saying so.
fn expiry(
    opts: &DeployOptions,
    template: &Template,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> Result<Option<DateTime<Utc>>> {
    let ttl = match (&opts.ttl, &template.linode().default_ttl) {
        (Some(flag), _) => naming::parse_ttl(flag).map_err(|e| anyhow::anyhow!("--ttl: {e}"))?,
        (None, Some(d)) => naming::parse_ttl(d).map_err(|e| {
            anyhow::anyhow!(
                "template \"{}\" field `deploy.linode.default_ttl`: {e}",
                template.name()
            )
        })?,
        (None, None) => None,
    };
    let Some(d) = ttl else {
        return Ok(None);
    };
    // To the minute, as the tag keeps it: every machine agrees on the moment.
    let t = now + d;
    let at = t
        - chrono::Duration::seconds(t.timestamp().rem_euclid(60))
        - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    notes.push(format!(
        "expires {} (in {}{}): `status` marks it then, `linode-ai destroy --expired` removes it",
        at.format("%Y-%m-%d %H:%M UTC"),
        naming::format_span(d),
        if opts.ttl.is_none() {
            "; the template's default, --ttl none for no expiry"
        } else {
            ""
        }
    ));
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        check_domain("chat.example.com").unwrap();
        for bad in ["localhost", "a..b", "-a.com", "x.123", "a b.com", "ex*.com"] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
