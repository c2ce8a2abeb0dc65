//! Installing and removing user templates (`templates add | remove`).
//!
//! `add` validates the template and its hook before anything is installed:
//! the hook is built from source when the directory has a hook crate and no
//! component (or with `--dev`), its interface version is read, its whole
//! world type-checked, and both exports called once on synthetic input, so a
//! hook that loops or traps is caught here rather than at `deploy` or
//! `status`. A copy replaces an installed template atomically (the old one is
//! put back if the swap fails); `--dev` records a link instead and the
//! directory is read (and its hook rebuilt) on every use.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::blueprint::catalog::{Catalog, DEV_LINK};
use crate::blueprint::load_template;
use crate::blueprint::stack::Stack;
use crate::blueprint::template::{Source, Template};
use crate::health::ProbeResult;
use crate::hooks::{DeployContext, TemplateHooks};
use crate::sanitize::quote;

pub struct Installed {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub has_hook: bool,
    /// The hook was built from its crate.
    pub built: bool,
    pub notes: Vec<String>,
}

/// A deployment context made from the template's defaults (for checks and `hook test`).
pub fn synthetic_context(
    t: &Template,
    stack: &Stack,
    env: crate::blueprint::template::EnvVars,
) -> DeployContext {
    let l = t.linode();
    DeployContext::new(
        crate::hooks::ContextPlace {
            template: t.name().to_string(),
            template_version: t.version().to_string(),
            app_name: t.name().to_string(),
            env_name: "default".into(),
            region: l.region_default.clone().unwrap_or_else(|| "us-ord".into()),
            linode_type: l
                .type_default
                .clone()
                .unwrap_or_else(|| "g6-standard-2".into()),
            external_port: 443,
            hostname: None,
            now: std::time::Duration::from_secs(chrono::Utc::now().timestamp().max(0) as u64),
        },
        stack,
        env,
    )
}

/// Loads the template's hook (building it when needed) and calls both exports once.
pub fn check_hook(template: &Template, hook_cache: &Path) -> Result<(bool, Vec<String>)> {
    let Some(hook) = template.hook_path() else {
        return Ok((false, vec![]));
    };
    let dir = template.dir.clone().unwrap_or_default();
    let mut built = false;
    if crate::hooks::build::crate_dir(&dir).is_some()
        && (template.source == Source::Dev || !hook.is_file())
    {
        crate::hooks::build::build(&dir, &hook)?;
        built = true;
    }
    if !hook.is_file() {
        bail!(
            "template \"{}\" names hook {} but {} does not exist (and there is no hook/ crate to build it from)",
            template.name(),
            quote(template.spec.hook.as_deref().unwrap_or("")),
            hook.display()
        );
    }
    let stack = Stack::from_spec(&template.spec)?;
    let hooks = TemplateHooks::for_template(template, &stack, hook_cache)?;
    // Synthetic input: every variable <redacted>, every service answering 200.
    let env = crate::workflow::deploy::plan::env_specs(template, &stack)
        .iter()
        .map(|v| {
            (
                v.name().to_string(),
                crate::workflow::deploy::REDACTED.to_string(),
            )
        })
        .collect();
    let ctx = synthetic_context(template, &stack, env);
    let doc = crate::targets::vm::boot::render(&crate::targets::vm::boot::BootInput {
        stack: &stack,
        env: &ctx.env_vars,
        domain: None,
        https_port: 443,
        nvidia_driver: template
            .linode()
            .gpu
            .then_some(template.linode().nvidia_driver.as_str()),
        acme_ca: None,
        public_env: &[],
        cache_volume: None,
    })
    .render();
    match hooks.render(&ctx, &doc) {
        Ok(_) | Err(crate::hooks::HookError::Refused(_)) => {}
        Err(e) => bail!(
            "its render-user-data failed on a synthetic deployment: {}",
            e.shown()
        ),
    }
    let probes: Vec<(String, ProbeResult)> = stack
        .probes()
        .into_iter()
        .map(|p| {
            (
                p.service,
                ProbeResult::Response {
                    status: 200,
                    headers: vec![],
                    body: "{}".into(),
                    truncated: false,
                },
            )
        })
        .collect();
    if let (Err(e), _) = crate::rt::shared()?.block_on(hooks.health(&ctx, &probes)) {
        bail!(
            "its evaluate-health failed on a synthetic probe (HTTP 200): {}",
            e.shown()
        );
    }
    Ok((built, hooks.notes))
}

/// Validates the template in `src` and installs it into `store` (a copy, or
/// with `dev` a link to `src`).
pub fn install(
    src: &Path,
    catalog: &Catalog,
    store: &Path,
    hook_cache: &Path,
    force: bool,
    dev: bool,
) -> Result<Installed> {
    if !src.is_dir() {
        bail!(
            "{} is not a directory; pass the directory holding template.yml",
            src.display()
        );
    }
    let src = std::path::absolute(src).unwrap_or_else(|_| src.to_path_buf());
    let spec = load_template(&src)?;
    if let Some(existing) = catalog.get(&spec.name) {
        if !force {
            let what = match existing.source {
                Source::Stock => "a stock template",
                Source::Installed | Source::Dev => "an installed template",
            };
            bail!(
                "\"{}\" is already {what} ({}); pass --force to replace it",
                spec.name,
                existing.version()
            );
        }
    }
    let template = Template {
        spec: spec.clone(),
        source: if dev { Source::Dev } else { Source::Installed },
        dir: Some(src.clone()),
    };
    let (built, notes) = check_hook(&template, hook_cache).with_context(|| {
        format!(
            "the hook of template \"{}\" {} cannot be used",
            spec.name, spec.version
        )
    })?;
    let hook_file = template.hook_path();
    std::fs::create_dir_all(store).with_context(|| format!("cannot create {}", store.display()))?;
    let dest = store.join(&spec.name);
    let staging = store.join(format!(".{}.installing.{}", spec.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&staging)?;
        if dev {
            std::fs::write(staging.join(DEV_LINK), src.display().to_string())?;
        } else {
            std::fs::copy(src.join("template.yml"), staging.join("template.yml"))?;
            if let (Some(hook), Some(rel)) = (&hook_file, &spec.hook) {
                let target = staging.join(rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(hook, &target)?;
            }
        }
        let old = store.join(format!(".{}.old.{}", spec.name, std::process::id()));
        let had_old = dest.exists();
        if had_old {
            std::fs::rename(&dest, &old)?;
        }
        if let Err(e) = std::fs::rename(&staging, &dest) {
            // Put the installed template back rather than leave it hidden.
            if had_old {
                std::fs::rename(&old, &dest).with_context(|| {
                    format!("the previous version is left at {}", old.display())
                })?;
            }
            return Err(e.into());
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e).with_context(|| format!("cannot install template into {}", dest.display()));
    }
    Ok(Installed {
        name: spec.name,
        version: spec.version,
        path: if dev { src } else { dest },
        has_hook: hook_file.is_some(),
        built,
        notes,
    })
}

/// Removes an installed template; stock templates cannot be removed.
pub fn uninstall(name: &str, store: &Path) -> Result<PathBuf> {
    let dir = store.join(name);
    let valid = crate::naming::check_name("template name", name).is_ok();
    let installed = dir.join("template.yml").is_file() || dir.join(DEV_LINK).is_file();
    if !valid || !installed {
        if Catalog::stock().get(name).is_some() {
            bail!("\"{name}\" is a stock template, built into linode-ai; it cannot be removed");
        }
        bail!(
            "no installed template named {} in {}",
            quote(name),
            store.display()
        );
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(dir)
}
