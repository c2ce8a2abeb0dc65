//! `templates list | show | add | remove`.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::blueprint::stack::Stack;
use crate::blueprint::template::{Source, Template};
use crate::output::{json as to_json, table};
use crate::workflow::template_store;

fn summary(t: &Template) -> serde_json::Value {
    json!({
        "name": t.name(),
        "version": t.version(),
        "description": t.spec.description.trim(),
        "source": t.source,
        "has_hook": t.spec.hook.is_some(),
    })
}

pub fn list(ctx: &Ctx, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let catalog = ctx.catalog();
    if as_json {
        let v: Vec<_> = catalog.all().iter().map(summary).collect();
        write!(out, "{}", to_json(&v))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = catalog
        .all()
        .iter()
        .map(|t| {
            let mut desc = t.spec.description.trim().replace('\n', " ");
            if t.source != Source::Stock {
                desc.push_str(&format!(" [{}]", t.source));
            }
            vec![t.name().to_string(), t.version().to_string(), desc]
        })
        .collect();
    write!(
        out,
        "{}",
        table(&["NAME", "VERSION", "DESCRIPTION"], &rows, &ctx.style, None)
    )?;
    Ok(())
}

pub fn show(ctx: &Ctx, name: &str, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let catalog = ctx.catalog();
    let t = catalog.find(name)?;
    let stack = Stack::from_spec(&t.spec)?;
    let l = t.linode();
    if as_json {
        let mut v = serde_json::to_value(&t.spec)?;
        v["source"] = json!(t.source);
        v["routes"] = json!(crate::blueprint::proxy::describe(&stack));
        v["key_env"] = json!(stack.proxy.key_env);
        write!(out, "{}", to_json(&v))?;
        return Ok(());
    }
    let s = &ctx.style;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(linode-cli default)".into());
    let mut o = String::new();
    o.push_str(&format!(
        "{}  {}  ({})\n",
        s.bold(t.spec.display_name.as_deref().unwrap_or(t.name())),
        t.version(),
        t.source
    ));
    o.push_str(&format!("{}\n\n", t.spec.description.trim()));
    o.push_str(&format!("Name:            {}\n", t.name()));
    o.push_str(&format!("Default region:  {}\n", opt(&l.region_default)));
    o.push_str(&format!("Default type:    {}\n", opt(&l.type_default)));
    if let Some(m) = l.min_memory_mb {
        o.push_str(&format!(
            "Memory needed:   {m} MB{}\n",
            if stack.needs_gpu() {
                " + NVIDIA GPU"
            } else {
                ""
            }
        ));
    }
    o.push_str(&format!("Base image:      {}\n", l.image));
    for (i, svc) in stack.services.iter().enumerate() {
        o.push_str(&format!(
            "{}{} {}{}{}\n",
            if i == 0 {
                "Services:        "
            } else {
                "                 "
            },
            svc.name,
            svc.image,
            svc.port.map(|p| format!(", port {p}")).unwrap_or_default(),
            svc.health
                .as_ref()
                .map(|h| format!(", health GET {}", h.path))
                .unwrap_or_default()
        ));
    }
    o.push_str(&format!(
        "HTTPS proxy:     {} on 80 and 443; key: {}\n",
        crate::blueprint::proxy::CADDY_IMAGE,
        stack
            .proxy
            .key_env
            .as_deref()
            .unwrap_or("none (the app's own login)")
    ));
    for (i, r) in crate::blueprint::proxy::describe(&stack).iter().enumerate() {
        o.push_str(&format!(
            "{}{r}\n",
            if i == 0 {
                "Routes:          "
            } else {
                "                 "
            }
        ));
    }
    if let Some(hook) = &t.spec.hook {
        o.push_str(&format!("Hook:            {hook}\n"));
    }
    let specs = crate::workflow::deploy::plan::env_specs(t, &stack);
    let vars = |list: Vec<&crate::blueprint::template::EnvVarSpec>| -> String {
        if list.is_empty() {
            return "  (none)\n".into();
        }
        list.iter()
            .map(|v| {
                let mut line = format!("  {}", v.name());
                if let Some(d) = v.description() {
                    line.push_str(&format!(": {d}"));
                }
                if let Some(d) = v.default_value() {
                    line.push_str(&format!(" (default {d})"));
                }
                if v.generate().is_some() {
                    line.push_str(" (generated when empty)");
                }
                line + "\n"
            })
            .collect()
    };
    o.push_str(&format!(
        "Required env vars:\n{}",
        vars(t.spec.env.required.iter().collect())
    ));
    o.push_str(&format!(
        "Optional env vars:\n{}",
        vars(
            specs
                .iter()
                .filter(|v| !t.spec.env.required.contains(v))
                .collect()
        )
    ));
    write!(out, "{o}")?;
    Ok(())
}

pub fn add(
    ctx: &Ctx,
    dir: &std::path::Path,
    force: bool,
    dev: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let catalog = ctx.catalog();
    let installed = template_store::install(
        dir,
        &catalog,
        &ctx.paths.templates,
        &ctx.paths.hook_cache,
        force,
        dev,
    )?;
    for n in &installed.notes {
        ctx.warn(n);
    }
    if dev {
        writeln!(
            out,
            "Installed template {} {} from {} (--dev: read from there on every use)",
            installed.name,
            installed.version,
            installed.path.display()
        )?;
    } else {
        writeln!(
            out,
            "Installed template {} {} into {}",
            installed.name,
            installed.version,
            installed.path.display()
        )?;
    }
    if installed.has_hook {
        writeln!(
            out,
            "Its hook was {}type-checked and run once on synthetic input; see its effect with 'linode-ai deploy --dry-run'.",
            if installed.built { "built from hook/, " } else { "" }
        )?;
    }
    writeln!(
        out,
        "Next: linode-ai init {} --directory DIR",
        installed.name
    )?;
    Ok(())
}

pub fn new(
    ctx: &Ctx,
    name: &str,
    from: &str,
    hook: crate::cli::HookLang,
    directory: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let catalog = ctx.catalog();
    let base = catalog.find(from)?;
    let dir = directory
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from(name));
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "{} exists and is not a directory; choose a new or empty directory with -d",
            dir.display()
        );
    }
    let written = crate::workflow::scaffold::new_template(
        &dir,
        name,
        base,
        hook == crate::cli::HookLang::Rust,
    )
    .with_context(|| format!("cannot create template {name} in {}", dir.display()))?;
    writeln!(
        out,
        "Created template {name} in {} (from {from}):",
        dir.display()
    )?;
    for f in written {
        writeln!(out, "  {f}")?;
    }
    writeln!(
        out,
        "\nNext: linode-ai templates add --dev {}",
        dir.display()
    )?;
    Ok(())
}

pub fn remove(ctx: &Ctx, name: &str, out: &mut dyn Write) -> Result<()> {
    let path = template_store::uninstall(name, &ctx.paths.templates)?;
    writeln!(out, "Removed template {name} ({})", path.display())?;
    Ok(())
}
