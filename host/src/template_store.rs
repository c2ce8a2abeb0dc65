//! Installing and removing user templates (`templates add | remove`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::catalog::Catalog;
use crate::sanitize::quote;
use crate::template::{load_dir, Source, Template};

pub struct Installed {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub has_hook: bool,
}

/// Validates the template in `src` (schema and, if named, its hook component)
/// and copies it into `<store>/<name>/`, replacing atomically.
pub fn install(
    src: &Path,
    catalog: &Catalog,
    store: &Path,
    hook_cache: &Path,
    force: bool,
) -> Result<Installed> {
    if !src.is_dir() {
        bail!(
            "{} is not a directory; pass the directory holding template.yml",
            src.display()
        );
    }
    let spec = load_dir(src)?;
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
        source: Source::Installed,
        dir: Some(src.to_path_buf()),
    };
    let hook_file = template.hook_path();
    if let Some(hook) = &hook_file {
        if !hook.is_file() {
            bail!(
                "template \"{}\" names hook {} but {} does not exist",
                spec.name,
                spec.hook.as_deref().unwrap_or(""),
                hook.display()
            );
        }
        let stack = crate::stack::Stack::from_spec(&spec)?;
        crate::hooks::TemplateHooks::for_template(&template, &stack, hook_cache).with_context(
            || {
                format!(
                    "the hook of template \"{}\" {} cannot be used",
                    spec.name, spec.version
                )
            },
        )?;
    }
    std::fs::create_dir_all(store).with_context(|| format!("cannot create {}", store.display()))?;
    let dest = store.join(&spec.name);
    let staging = store.join(format!(".{}.installing.{}", spec.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&staging)?;
        std::fs::copy(src.join("template.yml"), staging.join("template.yml"))?;
        if let (Some(hook), Some(rel)) = (&hook_file, &spec.hook) {
            let target = staging.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(hook, &target)?;
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
        path: dest,
        has_hook: hook_file.is_some(),
    })
}

/// Removes an installed template; stock templates cannot be removed.
pub fn uninstall(name: &str, store: &Path) -> Result<PathBuf> {
    let dir = store.join(name);
    let valid = crate::naming::check_name("template name", name).is_ok();
    let installed =
        dir.join("template.yml").is_file() || dir.join(crate::catalog::DEV_LINK).is_file();
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
