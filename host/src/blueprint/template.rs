//! Template specs (`template.yml`): the schema and the rules YAML types alone
//! cannot express. A template runs one or more services (containers) behind
//! linode-ai's TLS proxy; the older single-`container:` form is a shorthand
//! for one service named `app`. [`crate::blueprint::stack`] turns a spec into the
//! validated service graph that is rendered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::naming;
use crate::sanitize::quote;

/// The base image every instance boots; it has the `cloud-init` capability.
pub const DEFAULT_BASE_IMAGE: &str = "linode/ubuntu24.04";

/// A template as written in `template.yml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub deploy: DeploySection,
    #[serde(default)]
    pub env: EnvSection,
    /// Optional WebAssembly component (path relative to `template.yml`)
    /// exporting the hooks world in `wit/`.
    #[serde(default)]
    pub hook: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    #[serde(default)]
    pub target: crate::state::DeployTarget,
    pub linode: LinodeSection,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinodeSection {
    /// Base OS image of the instance.
    #[serde(default = "default_base_image")]
    pub image: String,
    #[serde(default)]
    pub region_default: Option<String>,
    #[serde(default)]
    pub type_default: Option<String>,
    /// Memory (MB) the app needs; smaller plans are refused before any API call.
    #[serde(default)]
    pub min_memory_mb: Option<u64>,
    /// Needs an NVIDIA GPU plan: the driver and container toolkit are installed.
    #[serde(default)]
    pub gpu: bool,
    /// Ubuntu driver branch (`nvidia-driver-<this>`, e.g. `580-server`).
    #[serde(default = "default_driver")]
    pub nvidia_driver: String,
    /// Shorthand for one service named `app` (the original format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSpec>,
    /// The services (containers) of the app, started in dependency order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceSpec>,
    /// What the TLS proxy in front of the services lets through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySpec>,
    /// Runs on the instance after every service (and the proxy) started,
    /// with the project's env vars exported (e.g. pulling a model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_start_script: Option<String>,
    /// On LKE, where there is no host to run the post-start scripts on:
    /// what they do, as Kubernetes Jobs in the app's namespace (each retried
    /// until it succeeds, e.g. while the service it talks to is starting).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start_jobs: Vec<PostStartJob>,
    /// The model the app serves, for `deploy --model NAME`: the env var that
    /// names it and how names look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// The expiry a deployment gets when `deploy --ttl` is not given (e.g.
    /// `8h` for a template that needs a GPU plan): `90m`, `8h`, `2d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<String>,
    /// A cache volume of this many GB (Block Storage) for Docker's images
    /// and the models, kept by `destroy --keep-volume`: `deploy --cache-gb N`
    /// or `--no-cache` override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_gb: Option<u32>,
}

/// `deploy.linode.post_start_jobs[]`: one step of the post-start scripts,
/// on LKE.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostStartJob {
    /// A DNS label, unique among the jobs.
    pub name: String,
    /// The image it runs in (pinned, as the services' images).
    pub image: String,
    /// Project env var patterns it receives (as a service's `env`).
    #[serde(default)]
    pub env: Vec<String>,
    /// Fixed values; `${NAME}` names a project var.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Run with `/bin/sh -c`, or the interpreter its `#!` line names.
    pub script: String,
}

/// Block Storage volume sizes the API takes, GB.
pub const CACHE_GB_MIN: u32 = 10;
pub const CACHE_GB_MAX: u32 = 10_240;

/// `deploy.linode.model`: which variable `--model` sets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A declared env var (e.g. `OLLAMA_MODEL`).
    pub env: String,
    pub kind: ModelKind,
    /// Models whose size the template knows (the plan states it, and refuses
    /// a Linode plan whose memory cannot hold it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<KnownModel>,
}

/// A model's size, from its library page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KnownModel {
    pub name: String,
    /// Download size, MB.
    pub download_mb: u64,
    /// Memory the whole app needs with this model, MB (the template's
    /// `min_memory_mb` for it).
    pub memory_mb: u64,
}

/// How a model is named.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Ollama's library names: `llama3.2:1b`, `qwen2.5:0.5b`, `hf.co/org/repo:Q4_K_M`.
    Ollama,
    /// A Hugging Face repository id: `Qwen/Qwen2.5-1.5B-Instruct`.
    Huggingface,
}

impl ModelKind {
    /// Checks a model name's form (nothing is looked up).
    pub fn check(self, name: &str) -> Result<()> {
        let part = |p: &str, max: usize| {
            !p.is_empty()
                && p.len() <= max
                && p.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        let ok = match self {
            ModelKind::Ollama => {
                let (path, tag) = match name.rsplit_once(':') {
                    Some((p, t)) => (p, Some(t)),
                    None => (name, None),
                };
                let segments: Vec<&str> = path.split('/').collect();
                name.len() <= 200
                    && segments.len() <= 3
                    && segments.iter().all(|p| part(p, 80))
                    && tag.is_none_or(|t| part(t, 128))
            }
            ModelKind::Huggingface => match name.split_once('/') {
                Some((org, repo)) => part(org, 96) && part(repo, 96) && !repo.contains('/'),
                None => false,
            },
        };
        if !ok {
            bail!(
                "--model {} is not {}",
                quote(name),
                match self {
                    ModelKind::Ollama =>
                        "an Ollama model name (`name[:tag]`, e.g. llama3.2:1b or qwen2.5:0.5b)",
                    ModelKind::Huggingface =>
                        "a Hugging Face repository id (`org/name`, e.g. Qwen/Qwen2.5-1.5B-Instruct)",
                }
            );
        }
        Ok(())
    }
}

fn default_base_image() -> String {
    DEFAULT_BASE_IMAGE.into()
}
fn default_driver() -> String {
    "580-server".into()
}

/// The single-container form: one service, `app`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub image: String,
    pub internal_port: u16,
    /// Accepted for compatibility; the proxy publishes 80 and 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_port: Option<u16>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub gpus: bool,
    #[serde(default)]
    pub ipc_host: bool,
    /// Runs after everything started (the template-level post-start script).
    #[serde(default)]
    pub post_start_script: Option<String>,
    pub health: HealthSpec,
}

/// The single-container form's health check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    #[serde(default = "default_health_type", rename = "type")]
    pub kind: String,
    #[serde(default = "default_health_path")]
    pub path: String,
    /// Kept for compatibility with the plan's format (the container port is what is checked).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "default_codes")]
    pub success_codes: Vec<u16>,
    #[serde(default)]
    pub initial_delay_seconds: u64,
    #[serde(default = "default_health_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
}

fn default_health_type() -> String {
    "http".into()
}
fn default_health_path() -> String {
    "/".into()
}
fn default_codes() -> Vec<u16> {
    vec![200]
}
fn default_health_timeout() -> u64 {
    2
}
fn default_retries() -> u32 {
    30
}
fn default_start_timeout() -> u64 {
    900
}

/// One container of the app (a small subset of a Compose service).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Container name and its hostname on the private network.
    pub name: String,
    /// Pinned image reference.
    pub image: String,
    /// Arguments after the image (the image's entrypoint receives them).
    #[serde(default)]
    pub args: Vec<String>,
    /// Port the service listens on inside the private network.
    #[serde(default)]
    pub port: Option<u16>,
    /// Project env vars this service gets: names, `PREFIX_*`, or `*` for all.
    #[serde(default)]
    pub env: Vec<String>,
    /// Fixed env values; `${NAME}` names a project var or `LINODE_AI_HOSTNAME` / `LINODE_AI_URL`.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// `name:/path` (named volume) or `/host:/path`, optionally `:ro`.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Needs the GPU (`--gpus all`).
    #[serde(default)]
    pub gpus: bool,
    #[serde(default)]
    pub ipc_host: bool,
    /// Its volumes are caches (a model download): on LKE each replica gets
    /// its own, so `--replicas` may scale it. Volumes holding state that
    /// replicas must share (a database) leave this off: it runs once.
    #[serde(default)]
    pub volumes_per_replica: bool,
    /// Services that start first: a name (started) or `{service, condition: healthy}`.
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    /// Checked from the host (many images have no curl inside).
    #[serde(default)]
    pub health: Option<ServiceHealth>,
    /// Runs on the instance once this service is healthy, before services
    /// that wait for it (e.g. creating an admin account).
    #[serde(default)]
    pub post_start_script: Option<String>,
    /// The service the proxy fronts when no `routes` say otherwise.
    #[serde(default)]
    pub front: bool,
}

/// A host-side HTTP health check of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceHealth {
    pub path: String,
    #[serde(default = "default_codes")]
    pub success_codes: Vec<u16>,
    #[serde(default = "default_health_timeout")]
    pub timeout_seconds: u64,
    /// How long the boot waits for it before giving up.
    #[serde(default = "default_start_timeout")]
    pub start_timeout_seconds: u64,
}

/// `depends_on` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Dependency {
    Name(String),
    Full {
        service: String,
        #[serde(default)]
        condition: Condition,
    },
}

impl Dependency {
    pub fn service(&self) -> &str {
        match self {
            Dependency::Name(n) => n,
            Dependency::Full { service, .. } => service,
        }
    }
    pub fn condition(&self) -> Condition {
        match self {
            Dependency::Name(_) => Condition::Started,
            Dependency::Full { condition, .. } => *condition,
        }
    }
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Its container is running.
    #[default]
    Started,
    /// Its health check passed and its post-start script finished.
    Healthy,
}

/// What the TLS proxy lets through.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    /// Env var holding the API key clients send as `Authorization: Bearer <key>`.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Exact paths of the fronted service open without the key (GET/HEAD).
    #[serde(default)]
    pub public_paths: Vec<String>,
    /// Shorthand: only these paths (`/v1/*`) reach the fronted service, with the key.
    #[serde(default)]
    pub allowed_paths: Vec<String>,
    /// Path prefixes to services or pages, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// Services that must be ready before the site is exposed.
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
}

/// One proxy route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// `/api/*` (prefix) or `/exact`.
    pub path: String,
    /// The service it goes to...
    #[serde(default)]
    pub service: Option<String>,
    /// ...or a page linode-ai serves itself (`chat`).
    #[serde(default)]
    pub page: Option<String>,
    /// `key` (default), `public`, or `app` (the service has its own login).
    #[serde(default)]
    pub auth: RouteAuth,
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RouteAuth {
    /// `Authorization: Bearer <key>`; 401 otherwise.
    #[default]
    Key,
    /// Anyone (static pages, health).
    Public,
    /// Passed through: the service's own login protects it.
    App,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    #[serde(default)]
    pub required: Vec<EnvVarSpec>,
    #[serde(default)]
    pub optional: Vec<EnvVarSpec>,
}

impl EnvSection {
    pub fn all(&self) -> impl Iterator<Item = &EnvVarSpec> {
        self.required.iter().chain(&self.optional)
    }
    pub fn get(&self, name: &str) -> Option<&EnvVarSpec> {
        self.all().find(|v| v.name() == name)
    }

    /// Required variables the user must set (the generated ones are filled in).
    pub fn to_fill(&self) -> impl Iterator<Item = &EnvVarSpec> {
        self.required.iter().filter(|v| v.generate().is_none())
    }
}

/// How linode-ai makes a value when the env file leaves it empty.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Generate {
    /// 32 random bytes, base64url (43 characters): API keys.
    Key,
    /// 24 random letters and digits: passwords people type.
    Password,
    /// 32 random bytes as 64 hex digits: signing secrets.
    Hex,
}

/// An env var a template reads: a plain name, or a mapping with a description.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum EnvVarSpec {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        default: Option<String>,
        /// Not a secret: its value is kept in the registry so hooks see it in `status`.
        #[serde(default)]
        public: bool,
        /// Generated into the env file when empty.
        #[serde(default)]
        generate: Option<Generate>,
    },
}

impl EnvVarSpec {
    pub fn name(&self) -> &str {
        match self {
            EnvVarSpec::Name(n) => n,
            EnvVarSpec::Full { name, .. } => name,
        }
    }
    pub fn description(&self) -> Option<&str> {
        match self {
            EnvVarSpec::Name(_) => None,
            EnvVarSpec::Full { description, .. } => description.as_deref(),
        }
    }
    pub fn is_public(&self) -> bool {
        matches!(self, EnvVarSpec::Full { public: true, .. })
    }
    pub fn default_value(&self) -> Option<&str> {
        match self {
            EnvVarSpec::Name(_) => None,
            EnvVarSpec::Full { default, .. } => default.as_deref(),
        }
    }
    pub fn generate(&self) -> Option<Generate> {
        match self {
            EnvVarSpec::Name(_) => None,
            EnvVarSpec::Full { generate, .. } => *generate,
        }
    }
}

/// Where a template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Shipped inside the binary.
    Stock,
    /// Installed with `linode-ai templates add` into the user's template directory.
    Installed,
    /// Installed with `templates add --dev`: read from its source directory on every use.
    Dev,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Stock => "stock",
            Source::Installed => "installed",
            Source::Dev => "dev",
        })
    }
}

/// A loaded, validated template.
#[derive(Debug, Clone)]
pub struct Template {
    pub spec: TemplateSpec,
    pub source: Source,
    /// Directory holding `template.yml` (installed and dev templates).
    pub dir: Option<PathBuf>,
}

impl Template {
    pub fn name(&self) -> &str {
        &self.spec.name
    }
    pub fn version(&self) -> &str {
        &self.spec.version
    }
    pub fn linode(&self) -> &LinodeSection {
        &self.spec.deploy.linode
    }
    /// Path of the hook component, when the template has one.
    pub fn hook_path(&self) -> Option<PathBuf> {
        let hook = self.spec.hook.as_ref()?;
        Some(self.dir.as_deref().unwrap_or(Path::new(".")).join(hook))
    }
}

/// Env var names are used in shell scripts and Docker: keep them portable.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names the instance's boot script (bash) and the docker CLI treat
/// specially: assigning them aborts the script (`UID`, `EUID`, `PPID`,
/// `SHELLOPTS`, `BASHOPTS` are read-only) or changes how it runs (`PATH`,
/// `IFS`, `LD_PRELOAD`, `DOCKER_HOST`...). Returns the rule a name breaks.
pub fn reserved_env_name(name: &str) -> Option<&'static str> {
    const BASH: &[&str] = &[
        "UID",
        "EUID",
        "PPID",
        "SHELLOPTS",
        "BASHOPTS",
        "GROUPS",
        "FUNCNAME",
        "LINENO",
        "RANDOM",
        "SRANDOM",
        "SECONDS",
        "EPOCHSECONDS",
        "EPOCHREALTIME",
        "DIRSTACK",
        "PIPESTATUS",
        "OPTIND",
        "OPTARG",
        "OPTERR",
        "REPLY",
        "HOSTNAME",
        "HOSTTYPE",
        "MACHTYPE",
        "OSTYPE",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "IFS",
        "PS1",
        "PS2",
        "PS3",
        "PS4",
        "PROMPT_COMMAND",
        "CDPATH",
        "GLOBIGNORE",
        "ENV",
        "HISTFILE",
        "HISTCONTROL",
        "HISTIGNORE",
        "HISTSIZE",
        "HISTFILESIZE",
        "INPUTRC",
        "MAIL",
        "MAILCHECK",
        "MAILPATH",
        "POSIXLY_CORRECT",
        "TMOUT",
        "COLUMNS",
        "LINES",
        "SHELL",
        "_",
    ];
    const PROCESS: &[&str] = &["PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "TERM"];
    if BASH.contains(&name) || name.starts_with("BASH") || name.starts_with("COMP_") {
        Some("bash reserves it (read-only or special in the instance's boot script)")
    } else if PROCESS.contains(&name) {
        Some("the boot script and docker need their own value")
    } else if name.starts_with("LD_") || name.starts_with("DOCKER_") {
        Some("it changes how the docker command itself runs on the instance")
    } else if name.starts_with("LINODE_AI_") && name != "LINODE_AI_API_KEY" {
        Some("the LINODE_AI_ prefix is linode-ai's own")
    } else {
        None
    }
}

/// Checks an image reference: what `docker run` accepts as one argument and
/// never mistakes for an option.
pub fn check_image(image: &str, field: &str) -> Result<()> {
    let ok_chars = image
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if image.is_empty()
        || image.len() > 255
        || !ok_chars
        || !image.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        bail!(
            "{field} {} is not a container image reference (letters, digits and . _ - / : @, starting with a letter or digit, e.g. ollama/ollama:0.13.4)",
            quote(image)
        );
    }
    Ok(())
}

/// `name:/path[:ro]` or `/host:/path[:ro]`.
pub fn check_volume(v: &str) -> Result<()> {
    let parts: Vec<&str> = v.split(':').collect();
    let ok = matches!(parts.len(), 2 | 3)
        && (parts.len() == 2 || matches!(parts[2], "ro" | "rw"))
        && parts[1].starts_with('/')
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && (parts[0].starts_with('/')
            || (parts[0]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && parts[0].starts_with(|c: char| c.is_ascii_alphanumeric())));
    if !ok {
        bail!(
            "volume {} must look like name:/path or /host/path:/path, optionally with :ro",
            quote(v)
        );
    }
    Ok(())
}

/// A URL path the proxy config and the boot script may carry verbatim.
pub fn check_url_path(p: &str, field: &str, allow_glob: bool) -> Result<()> {
    let body = if allow_glob {
        p.strip_suffix('*').unwrap_or(p)
    } else {
        p
    };
    let ok = body.starts_with('/')
        && body.len() <= 200
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._~-".contains(c))
        && !body.contains("..")
        && !body.contains("//");
    if !ok {
        bail!(
            "{field} {} must be a URL path starting with '/' (letters, digits and / . _ ~ -{})",
            quote(p),
            if allow_glob {
                ", optionally ending in *"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Services a template may have (one small VM; the 16 KiB user-data holds
/// far fewer). Checked before anything else looks at the graph.
pub const MAX_SERVICES: usize = 32;
/// Proxy routes (and public or allowed paths) a template may list.
pub const MAX_ROUTES: usize = 64;

/// The sizes a template's lists may have, checked before the graph is built
/// (validating must cost little: every command loads every installed template).
pub fn check_sizes(spec: &TemplateSpec) -> Result<()> {
    let l = &spec.deploy.linode;
    let n = l.services.len();
    if n > MAX_SERVICES {
        bail!("the template has {n} services; a template may have at most {MAX_SERVICES}");
    }
    for s in &l.services {
        if s.depends_on.len() > MAX_SERVICES {
            bail!(
                "service {} depends on {} services; at most {MAX_SERVICES}",
                quote(&s.name),
                s.depends_on.len()
            );
        }
    }
    if let Some(p) = &l.proxy {
        for (what, len) in [
            ("proxy.routes", p.routes.len()),
            ("proxy.public_paths", p.public_paths.len()),
            ("proxy.allowed_paths", p.allowed_paths.len()),
            ("proxy.depends_on", p.depends_on.len()),
        ] {
            if len > MAX_ROUTES {
                bail!("field `{what}` lists {len} entries; at most {MAX_ROUTES}");
            }
        }
    }
    Ok(())
}

impl TemplateSpec {
    /// Parses a `template.yml` and checks its own fields; `origin` names it
    /// in errors. Parse errors name the field and line, never the file's
    /// values. The service graph is checked by [`crate::blueprint::parse_template`].
    pub(super) fn parse_fields(text: &str, origin: &str) -> Result<TemplateSpec> {
        let spec: TemplateSpec = crate::yaml::from_str(text, origin)
            .with_context(|| format!("{origin} is not a valid template"))?;
        spec.validate_fields()
            .with_context(|| format!("{origin} is not a valid template"))?;
        Ok(spec)
    }

    /// Checks the rules the YAML types alone cannot express, except the
    /// service graph's (see [`crate::blueprint::check_template`]).
    pub(super) fn validate_fields(&self) -> Result<()> {
        naming::check_name("template name", &self.name).map_err(anyhow::Error::msg)?;
        // Sizes first: nothing below may cost more than the template is allowed to be.
        check_sizes(self)?;
        if !self.name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            bail!(
                "template name {} must start with a letter or digit",
                quote(&self.name)
            );
        }
        if self.version.is_empty() || self.version.len() > 24 {
            bail!("field `version` must be 1-24 characters (it goes into a Linode tag)");
        }
        if !self
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            bail!(
                "field `version` {} may only contain letters, digits and . - + _",
                quote(&self.version)
            );
        }
        if self.deploy.target != crate::state::DeployTarget::Linode {
            bail!(
                "field `deploy.target` is {}; only \"linode\" is supported",
                quote(self.deploy.target.as_str())
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for var in self.env.all() {
            if !is_env_name(var.name()) {
                bail!(
                    "env var name {} must be letters, digits and _ (not starting with a digit)",
                    quote(var.name())
                );
            }
            if let Some(rule) = reserved_env_name(var.name()) {
                bail!("env var name {} cannot be used: {rule}", var.name());
            }
            if !seen.insert(var.name()) {
                bail!("env var {} is listed twice", var.name());
            }
        }
        if let Some(m) = &self.deploy.linode.model {
            for k in &m.known {
                m.kind
                    .check(&k.name)
                    .with_context(|| "field `deploy.linode.model.known`")?;
            }
            if !self.env.all().any(|v| v.name() == m.env) {
                bail!(
                    "field `deploy.linode.model.env` names {}, which the template does not declare under env",
                    quote(&m.env)
                );
            }
        }
        if let Some(gb) = self.deploy.linode.cache_gb {
            if !(CACHE_GB_MIN..=CACHE_GB_MAX).contains(&gb) {
                bail!(
                    "field `deploy.linode.cache_gb` is {gb}; a Block Storage volume is {CACHE_GB_MIN}-{CACHE_GB_MAX} GB"
                );
            }
        }
        if let Some(ttl) = &self.deploy.linode.default_ttl {
            naming::parse_ttl(ttl)
                .map_err(|e| anyhow::anyhow!("field `deploy.linode.default_ttl`: {e}"))?;
        }
        if let Some(hook) = &self.hook {
            let p = Path::new(hook);
            if p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                bail!(
                    "field `hook` must be a path inside the template directory (is {})",
                    quote(hook)
                );
            }
        }
        Ok(())
    }
}

/// Env var values by name, as a sorted map.
pub type EnvVars = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_checked_for_form() {
        for ok in [
            "llama3.2:1b",
            "qwen2.5:0.5b",
            "library/llama3.2",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
            "phi3",
        ] {
            ModelKind::Ollama
                .check(ok)
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "../x",
            "a b",
            "a:b:c",
            "-x",
            "a/b/c/d",
            "x:",
            "x;rm -rf /",
            "$(id)",
        ] {
            assert!(ModelKind::Ollama.check(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "Qwen/Qwen2.5-1.5B-Instruct",
            "BAAI/bge-small-en-v1.5",
            "meta-llama/Llama-3.2-1B-Instruct",
        ] {
            ModelKind::Huggingface
                .check(ok)
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "gpt2",
            "a/b/c",
            "/x",
            "x/",
            "org/.hidden",
            "org/na me",
            "org/${HF_TOKEN}",
        ] {
            assert!(ModelKind::Huggingface.check(bad).is_err(), "{bad:?}");
        }
        let e = ModelKind::Huggingface
            .check("gpt2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("org/name"), "{e}");
    }

    #[test]
    fn reserved_names_name_their_rule() {
        for n in [
            "UID",
            "EUID",
            "PPID",
            "SHELLOPTS",
            "BASHOPTS",
            "PATH",
            "BASH_ENV",
            "LD_PRELOAD",
            "DOCKER_HOST",
            "IFS",
        ] {
            assert!(reserved_env_name(n).is_some(), "{n}");
        }
        for n in [
            "OLLAMA_MODEL",
            "API_KEY",
            "UIDX",
            "MY_PATH",
            "LINODE_AI_API_KEY",
        ] {
            assert!(reserved_env_name(n).is_none(), "{n}");
        }
    }

    #[test]
    fn images_never_look_like_options() {
        check_image("ollama/ollama:0.13.4", "image").unwrap();
        check_image("ghcr.io/open-webui/open-webui:v0.11.3", "image").unwrap();
        check_image("repo/x@sha256:abcd", "image").unwrap();
        for bad in ["--privileged", "-x", "a b", "", "img;rm", "$(x)"] {
            assert!(check_image(bad, "image").is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes_and_paths() {
        check_volume("ollama:/root/.ollama").unwrap();
        check_volume("/srv/x:/data:ro").unwrap();
        for bad in ["noslash", "a:b", "-v:/x", "a:/x:rx", "a b:/x"] {
            assert!(check_volume(bad).is_err(), "{bad}");
        }
        check_url_path("/v1/*", "route", true).unwrap();
        check_url_path("/api/tags", "path", false).unwrap();
        for bad in ["v1", "/a b", "/x\"y", "/../etc", "/a*b", "/{$X}"] {
            assert!(check_url_path(bad, "route", true).is_err(), "{bad}");
        }
    }
}
