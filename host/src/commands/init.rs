//! `init <template> [--directory DIR]`.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Ctx;
use crate::manifest::{DeploySettings, EnvFileRef, ProjectManifest, TemplateRef, MANIFEST_FILE};
use crate::template::Template;

pub fn env_example(t: &Template) -> String {
    let mut out = format!(
        "# Env vars for template {} {}. Copy to .env and fill in.\n\
         # Syntax: KEY=value, 'single quotes' are literal, \"double quotes\" understand \\n; no $VAR expansion.\n\
         # Values reach the container and are readable on the instance (cloud-init user-data).\n",
        t.name(),
        t.version()
    );
    if !t.spec.env.required.is_empty() {
        out.push_str("\n# Required\n");
        for v in &t.spec.env.required {
            if let Some(d) = v.description() {
                out.push_str(&format!("# {d}\n"));
            }
            out.push_str(&format!("{}=\n", v.name()));
        }
    }
    if !t.spec.env.optional.is_empty() {
        out.push_str("\n# Optional (uncomment to set)\n");
        for v in &t.spec.env.optional {
            if let Some(d) = v.description() {
                out.push_str(&format!("# {d}\n"));
            }
            out.push_str(&format!(
                "# {}={}\n",
                v.name(),
                v.default_value().unwrap_or("")
            ));
        }
    }
    out
}

fn readme(t: &Template) -> String {
    format!(
        "# {name}\n\n{desc}\n\nCreated with `linode-ai init {name}` (template {name} {version}).\n\n\
         ## Quickstart\n\n```sh\ncp .env.example .env        # fill in required values\n\
         linode-ai deploy --dry-run   # see the plan, no account needed\nlinode-ai deploy --wait      # create the Linode and wait until it answers\n\
         linode-ai status\nlinode-ai destroy\n```\n\nSettings live in `ai.linode.yml`; flags given to `deploy` override them.\n",
        name = t.name(),
        version = t.version(),
        desc = t.spec.description.trim()
    )
}

pub fn run(ctx: &Ctx, template: &str, directory: Option<&Path>) -> Result<()> {
    let catalog = ctx.catalog()?;
    let t = catalog.find(template)?;
    let dir = match directory {
        Some(d) => {
            if d.exists() {
                if !d.is_dir() {
                    bail!("{} exists and is not a directory", d.display());
                }
                if std::fs::read_dir(d)?.next().is_some() {
                    bail!(
                        "{} is not empty; choose a new or empty directory",
                        d.display()
                    );
                }
            }
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.to_path_buf()
        }
        None => std::env::current_dir()?,
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        bail!(
            "{} already exists; this directory is already a linode-ai project",
            manifest_path.display()
        );
    }
    let manifest = ProjectManifest {
        template: TemplateRef {
            name: t.name().into(),
            version: Some(t.version().into()),
        },
        deploy: DeploySettings {
            region: t.linode().region_default.clone(),
            linode_type: t.linode().type_default.clone(),
            app_name: Some(t.name().into()),
            env: Some("default".into()),
            image: None,
            port: None,
        },
        env: EnvFileRef::default(),
    };
    let mut written = vec![MANIFEST_FILE];
    write_new(&manifest_path, &manifest.to_yaml())?;
    if write_new(&dir.join(".env.example"), &env_example(t)).is_ok() {
        written.push(".env.example");
    }
    if write_new(&dir.join("README.md"), &readme(t)).is_ok() {
        written.push("README.md");
    }
    println!("Initialized {} project in {}", t.name(), dir.display());
    for f in written {
        println!("  {f}");
    }
    println!("\nNext: cp .env.example .env, then 'linode-ai deploy --dry-run' to see the plan.");
    Ok(())
}

/// Writes a file that must not exist yet (never overwrites).
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
