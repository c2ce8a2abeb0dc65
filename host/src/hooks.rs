//! Template hooks: the deploy context handed to a hook and the dispatch
//! between a template's WebAssembly component and the built-in defaults.

use serde::Serialize;

use crate::health::{default_verdict, HealthVerdict, ProbeResult};
use crate::template::{EnvVars, Template};

/// Everything a hook may know about a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct DeployContext {
    pub template: String,
    pub template_version: String,
    pub app_name: String,
    pub env_name: String,
    pub region: String,
    pub linode_type: String,
    pub image: String,
    pub internal_port: u16,
    pub external_port: u16,
    #[serde(skip)]
    pub env_vars: EnvVars,
}

/// A template's hooks, or the built-in behaviour when it has none.
pub struct TemplateHooks {
    template: String,
    version: String,
    success_codes: Vec<u16>,
}

impl TemplateHooks {
    pub fn for_template(t: &Template) -> anyhow::Result<TemplateHooks> {
        if t.spec.hook.is_some() {
            anyhow::bail!(
                "template \"{}\" {} has a hook, but this build cannot run hooks",
                t.name(),
                t.version()
            );
        }
        Ok(TemplateHooks {
            template: t.name().to_string(),
            version: t.version().to_string(),
            success_codes: t.container().health.success_codes.clone(),
        })
    }

    /// The built-in rules only (e.g. for a deployment whose template is gone).
    pub fn builtin(template: &str, version: &str, success_codes: Vec<u16>) -> TemplateHooks {
        TemplateHooks {
            template: template.into(),
            version: version.into(),
            success_codes,
        }
    }

    pub fn has_hook(&self) -> bool {
        false
    }

    pub fn render(
        &self,
        _ctx: &DeployContext,
        default_user_data: String,
    ) -> anyhow::Result<String> {
        let _ = (&self.template, &self.version);
        Ok(default_user_data)
    }

    pub fn health(
        &self,
        _ctx: &DeployContext,
        probe: &ProbeResult,
    ) -> anyhow::Result<HealthVerdict> {
        Ok(default_verdict(&self.success_codes, probe))
    }
}
