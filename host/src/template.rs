//! Template specs (`template.yml`): schema, validation, the stock catalog
//! embedded in the binary and templates installed by the user.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::naming;

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
    #[serde(default = "default_target")]
    pub target: String,
    pub linode: LinodeSection,
}

fn default_target() -> String {
    "linode".into()
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
    /// Ubuntu driver package suffix (`nvidia-driver-<this>`).
    #[serde(default = "default_driver")]
    pub nvidia_driver: String,
    pub container: ContainerSpec,
}

fn default_base_image() -> String {
    DEFAULT_BASE_IMAGE.into()
}
fn default_driver() -> String {
    "580-server".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub image: String,
    pub internal_port: u16,
    #[serde(default = "default_external_port")]
    pub external_port: u16,
    /// Arguments after the image (the image's entrypoint receives them).
    #[serde(default)]
    pub args: Vec<String>,
    /// `name:/path` (named volume) or `/host:/path` mounts.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub gpus: bool,
    #[serde(default)]
    pub ipc_host: bool,
    #[serde(default)]
    pub post_start_script: Option<String>,
    pub health: HealthSpec,
}

fn default_external_port() -> u16 {
    80
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    #[serde(default = "default_health_type", rename = "type")]
    pub kind: String,
    #[serde(default = "default_health_path")]
    pub path: String,
    /// Kept for compatibility with the plan's format. Only the published
    /// (external) port is reachable, so the internal port maps to it.
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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    #[serde(default)]
    pub required: Vec<EnvVarSpec>,
    #[serde(default)]
    pub optional: Vec<EnvVarSpec>,
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
}

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Shipped inside the binary.
    Stock,
    /// Installed with `linode-ai templates add` into the user's template directory.
    Installed,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Stock => "stock",
            Source::Installed => "installed",
        })
    }
}

/// A loaded, validated template.
#[derive(Debug, Clone)]
pub struct Template {
    pub spec: TemplateSpec,
    pub source: Source,
    /// Directory holding `template.yml` (installed templates only).
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
    pub fn container(&self) -> &ContainerSpec {
        &self.spec.deploy.linode.container
    }
    /// Absolute path of the hook component, when the template has one.
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

impl TemplateSpec {
    /// Parses and validates a `template.yml`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<TemplateSpec> {
        let spec: TemplateSpec = serde_yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid template"))?;
        spec.validate()
            .with_context(|| format!("{origin} is not a valid template"))?;
        Ok(spec)
    }

    /// Checks the rules the YAML types alone cannot express.
    pub fn validate(&self) -> Result<()> {
        naming::check_name("template name", &self.name).map_err(anyhow::Error::msg)?;
        if self.version.is_empty() || self.version.len() > 24 {
            bail!("field `version` must be 1-24 characters (it goes into a Linode tag)");
        }
        if !self
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            bail!(
                "field `version` \"{}\" may only contain letters, digits and . - + _",
                self.version
            );
        }
        if self.deploy.target != "linode" {
            bail!(
                "field `deploy.target` is \"{}\"; only \"linode\" is supported",
                self.deploy.target
            );
        }
        let c = &self.deploy.linode.container;
        if c.image.trim().is_empty() || c.image.chars().any(|ch| ch.is_whitespace()) {
            bail!(
                "field `deploy.linode.container.image` must be an image reference without spaces"
            );
        }
        if c.internal_port == 0 || c.external_port == 0 {
            bail!("fields `internal_port` and `external_port` must be 1-65535");
        }
        if c.health.kind != "http" {
            bail!(
                "field `health.type` is \"{}\"; only \"http\" is supported",
                c.health.kind
            );
        }
        if !c.health.path.starts_with('/') {
            bail!(
                "field `health.path` must start with '/' (is \"{}\")",
                c.health.path
            );
        }
        if let Some(p) = c.health.port {
            if p != c.internal_port && p != c.external_port {
                bail!(
                    "field `health.port` is {p}, but only external_port {} is published; \
                     use {} or {} (the internal port maps to the published one)",
                    c.external_port,
                    c.external_port,
                    c.internal_port
                );
            }
        }
        if c.health.success_codes.is_empty() {
            bail!("field `health.success_codes` must list at least one status code");
        }
        for v in &c.volumes {
            if !v.contains(':') || v.chars().any(char::is_whitespace) {
                bail!("volume \"{v}\" must look like name:/path or /host/path:/path");
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for var in self.env.required.iter().chain(&self.env.optional) {
            if !is_env_name(var.name()) {
                bail!(
                    "env var name \"{}\" must be letters, digits and _ (not starting with a digit)",
                    var.name()
                );
            }
            if !seen.insert(var.name()) {
                bail!("env var {} is listed twice", var.name());
            }
        }
        if let Some(hook) = &self.hook {
            let p = Path::new(hook);
            if p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                bail!("field `hook` must be a path inside the template directory (is \"{hook}\")");
            }
        }
        Ok(())
    }
}

/// `index.yml`: the list of stock templates.
#[derive(Debug, Deserialize)]
struct Index {
    templates: Vec<IndexEntry>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    name: String,
    path: String,
}

/// The stock templates, embedded at build time.
const STOCK: &[(&str, &str)] = &[
    (
        "chat-agent/template.yml",
        include_str!("../../templates/chat-agent/template.yml"),
    ),
    (
        "llm-api/template.yml",
        include_str!("../../templates/llm-api/template.yml"),
    ),
    (
        "embeddings/template.yml",
        include_str!("../../templates/embeddings/template.yml"),
    ),
];
const STOCK_INDEX: &str = include_str!("../../templates/index.yml");

/// All templates a user can deploy: stock ones and installed ones.
#[derive(Debug, Clone)]
pub struct Catalog {
    templates: Vec<Template>,
    /// Installed templates that failed to load (shown as warnings, never fatal).
    pub problems: Vec<String>,
}

/// The user's template directory: `${XDG_DATA_HOME:-~/.local/share}/linode-ai/templates`.
pub fn installed_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LINODE_AI_TEMPLATES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::data_dir)
        .context("cannot find a data directory; set XDG_DATA_HOME or LINODE_AI_TEMPLATES_DIR")?;
    Ok(base.join("linode-ai").join("templates"))
}

impl Catalog {
    /// Stock templates only (no file system access).
    pub fn stock() -> Catalog {
        let index: Index =
            serde_yaml::from_str(STOCK_INDEX).expect("embedded templates/index.yml is valid");
        let templates = index
            .templates
            .iter()
            .map(|entry| {
                let text = STOCK
                    .iter()
                    .find(|(p, _)| *p == entry.path)
                    .map(|(_, t)| *t)
                    .unwrap_or_else(|| panic!("stock template {} is not embedded", entry.path));
                let spec =
                    TemplateSpec::parse(text, &entry.path).expect("stock templates are valid");
                assert_eq!(spec.name, entry.name, "index.yml name matches template.yml");
                Template {
                    spec,
                    source: Source::Stock,
                    dir: None,
                }
            })
            .collect();
        Catalog {
            templates,
            problems: Vec::new(),
        }
    }

    /// Stock templates plus those installed in `dir`.
    pub fn load(dir: &Path) -> Catalog {
        let mut catalog = Catalog::stock();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return catalog;
        };
        let mut installed: Vec<Template> = Vec::new();
        for entry in entries.flatten() {
            let tdir = entry.path();
            let file = tdir.join("template.yml");
            if !file.is_file() {
                continue;
            }
            match load_dir(&tdir) {
                Ok(spec) => installed.push(Template {
                    spec,
                    source: Source::Installed,
                    dir: Some(tdir),
                }),
                Err(e) => catalog.problems.push(format!("{e:#}")),
            }
        }
        installed.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        for t in installed {
            // An installed template may replace a stock one (installed with --force).
            catalog.templates.retain(|s| s.spec.name != t.spec.name);
            catalog.templates.push(t);
        }
        catalog
    }

    pub fn all(&self) -> &[Template] {
        &self.templates
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.spec.name == name)
    }

    /// Finds a template or explains which ones exist.
    pub fn find(&self, name: &str) -> Result<&Template> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        let names: Vec<&str> = self.templates.iter().map(|t| t.name()).collect();
        let hint = closest(name, names.iter().copied())
            .map(|c| format!(" Did you mean \"{c}\"?"))
            .unwrap_or_default();
        bail!(
            "no template named \"{name}\".{hint} Available: {}",
            names.join(", ")
        )
    }
}

/// Reads and validates `<dir>/template.yml`.
pub fn load_dir(dir: &Path) -> Result<TemplateSpec> {
    let file = dir.join("template.yml");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    TemplateSpec::parse(&text, &file.display().to_string())
}

/// The candidate closest to `input` by edit distance, if reasonably close.
pub fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(input, c), c))
        .filter(|(d, c)| *d <= (c.len().max(input.len()) / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Env var values by name, as a sorted map.
pub type EnvVars = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_templates_load_and_run_on_real_plans() {
        let c = Catalog::stock();
        let names: Vec<_> = c.all().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["chat-agent", "llm-api", "embeddings"]);
        for t in c.all() {
            let l = t.linode();
            assert_eq!(l.region_default.as_deref(), Some("us-ord"), "{}", t.name());
            assert!(l.min_memory_mb.is_some(), "{} states its memory", t.name());
            assert!(!t.container().image.ends_with(":latest") || t.name() == "chat-agent");
        }
        let llm = c.get("llm-api").unwrap();
        assert!(llm.linode().gpu && llm.container().gpus);
        assert!(llm
            .linode()
            .type_default
            .as_deref()
            .unwrap()
            .contains("gpu"));
    }

    #[test]
    fn plan_format_with_internal_health_port_is_accepted() {
        let text = r#"
name: demo
version: 0.1.0
deploy:
  target: linode
  linode:
    region_default: us-ord
    type_default: g6-standard-2
    container:
      image: ollama/ollama:latest
      internal_port: 11434
      external_port: 80
      health: { type: http, path: /api/tags, port: 11434, success_codes: [200] }
env: { required: [], optional: [] }
"#;
        let spec = TemplateSpec::parse(text, "t.yml").unwrap();
        assert_eq!(spec.deploy.linode.image, DEFAULT_BASE_IMAGE);
    }

    #[test]
    fn bad_templates_name_the_field() {
        let base = Catalog::stock().get("chat-agent").unwrap().spec.clone();
        let mut t = base.clone();
        t.deploy.linode.container.health.port = Some(9999);
        assert!(format!("{:#}", t.validate().unwrap_err()).contains("health.port"));
        let mut t = base.clone();
        t.env.required.push(EnvVarSpec::Name("1BAD".into()));
        assert!(t.validate().unwrap_err().to_string().contains("1BAD"));
        let mut t = base.clone();
        t.hook = Some("../evil.wasm".into());
        assert!(t.validate().unwrap_err().to_string().contains("hook"));
        let err = TemplateSpec::parse("name: x\nversion: [", "bad.yml").unwrap_err();
        assert!(format!("{err:#}").contains("bad.yml"));
        let err = TemplateSpec::parse("name: xyz\nversion: '1'\nbogus: 1\ndeploy: {}", "b.yml")
            .unwrap_err();
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
    }

    #[test]
    fn closest_name_is_suggested() {
        let err = Catalog::stock().find("chat-agnet").unwrap_err().to_string();
        assert!(err.contains("Did you mean \"chat-agent\""), "{err}");
    }
}
