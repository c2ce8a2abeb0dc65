//! A deployment as it is meant to be, for any target: the template, its
//! validated service graph ([`stack::Stack`]), the proxy's routes with their
//! auth and its Caddyfile, the env and generated secrets, the health rules.
//! Nothing here names cloud-init, Docker or Linode.

pub mod catalog;
pub mod envfile;
pub mod manifest;
pub mod proxy;
pub mod secrets;
pub mod stack;
pub mod template;

use std::path::Path;

use anyhow::{Context, Result};

use template::TemplateSpec;

/// Parses a `template.yml` and checks it whole: its own fields, then its
/// service graph. `origin` names it in errors.
pub fn parse_template(text: &str, origin: &str) -> Result<TemplateSpec> {
    let spec = TemplateSpec::parse_fields(text, origin)?;
    stack::Stack::from_spec(&spec).with_context(|| format!("{origin} is not a valid template"))?;
    Ok(spec)
}

/// Checks a template built in memory (e.g. a scaffold) as [`parse_template`] does.
pub fn check_template(spec: &TemplateSpec) -> Result<()> {
    spec.validate_fields()?;
    stack::Stack::from_spec(spec)?;
    Ok(())
}

/// Reads and checks `<dir>/template.yml`.
pub fn load_template(dir: &Path) -> Result<TemplateSpec> {
    let file = dir.join("template.yml");
    let text = crate::files::read_text(&file, "template", crate::files::TEXT_LIMIT)?;
    parse_template(&text, &file.display().to_string())
}
