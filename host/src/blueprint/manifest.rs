//! The project manifest `ai.linode.yml` written by `init` and read by `deploy`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "ai.linode.yml";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectManifest {
    pub template: TemplateRef,
    #[serde(default)]
    pub deploy: DeploySettings,
    #[serde(default)]
    pub env: EnvFileRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeploySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linode_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Container image override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The HTTPS port the proxy publishes (443 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Serve this DNS name (an A record pointing at the instance) instead of its rDNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvFileRef {
    #[serde(default = "default_env_file")]
    pub file: String,
}

impl Default for EnvFileRef {
    fn default() -> Self {
        EnvFileRef {
            file: default_env_file(),
        }
    }
}

fn default_env_file() -> String {
    ".env".into()
}

impl ProjectManifest {
    /// Reads `ai.linode.yml` from `dir`, with errors that say what to do.
    pub fn load(dir: &Path) -> Result<(ProjectManifest, PathBuf)> {
        let path = dir.join(MANIFEST_FILE);
        if std::fs::symlink_metadata(&path).is_err() {
            anyhow::bail!(
                "{MANIFEST_FILE} not found in {}; run 'linode-ai init <template>' first (see 'linode-ai templates list')",
                dir.display()
            );
        }
        let text = crate::files::read_text(&path, "project manifest", crate::files::TEXT_LIMIT)?;
        let manifest: ProjectManifest =
            crate::yaml::from_str(&text, &path.display().to_string())
                .with_context(|| format!("{} is not a valid project manifest", path.display()))?;
        Ok((manifest, path))
    }

    /// The manifest text `init` writes, with a comment header.
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).expect("manifest serialises");
        format!("# linode-ai project manifest; flags given to 'linode-ai deploy' override these values.\n{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_example_parses_and_round_trips() {
        let text = "template:\n  name: chat-agent\n  version: 0.1.0\ndeploy:\n  region: us-ord\n  linode_type: g6-standard-2\n  app_name: chat-agent\n  env: default\nenv:\n  file: .env\n";
        let m: ProjectManifest = serde_yaml::from_str(text).unwrap();
        assert_eq!(m.deploy.region.as_deref(), Some("us-ord"));
        let again: ProjectManifest = serde_yaml::from_str(&m.to_yaml()).unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn missing_and_malformed_manifests_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let e = ProjectManifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("linode-ai init"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), "template: [").unwrap();
        let e = format!("{:#}", ProjectManifest::load(dir.path()).unwrap_err());
        assert!(e.contains("ai.linode.yml"), "{e}");
    }
}
