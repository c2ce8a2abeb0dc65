//! `templates list | show | add | remove`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::output::{json as to_json, table};
use crate::template::{Source, Template};
use crate::template_store;

fn summary(t: &Template) -> serde_json::Value {
    json!({
        "name": t.name(),
        "version": t.version(),
        "description": t.spec.description.trim(),
        "source": t.source,
        "has_hook": t.spec.hook.is_some(),
    })
}

pub fn list(ctx: &Ctx, as_json: bool) -> Result<()> {
    let catalog = ctx.catalog()?;
    if as_json {
        let v: Vec<_> = catalog.all().iter().map(summary).collect();
        print!("{}", to_json(&v));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = catalog
        .all()
        .iter()
        .map(|t| {
            let mut desc = t.spec.description.trim().replace('\n', " ");
            if t.source == Source::Installed {
                desc.push_str(" [installed]");
            }
            vec![t.name().to_string(), t.version().to_string(), desc]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "VERSION", "DESCRIPTION"], &rows, &ctx.style, None)
    );
    Ok(())
}

pub fn show(ctx: &Ctx, name: &str, as_json: bool) -> Result<()> {
    let catalog = ctx.catalog()?;
    let t = catalog.find(name)?;
    let l = t.linode();
    let c = t.container();
    if as_json {
        let mut v = serde_json::to_value(&t.spec)?;
        v["source"] = json!(t.source);
        v["health_url_port"] = json!(c.external_port);
        print!("{}", to_json(&v));
        return Ok(());
    }
    let s = &ctx.style;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(linode-cli default)".into());
    let mut out = String::new();
    out.push_str(&format!(
        "{}  {}  ({})\n",
        s.bold(t.spec.display_name.as_deref().unwrap_or(t.name())),
        t.version(),
        t.source
    ));
    out.push_str(&format!("{}\n\n", t.spec.description.trim()));
    out.push_str(&format!("Name:            {}\n", t.name()));
    out.push_str(&format!("Default region:  {}\n", opt(&l.region_default)));
    out.push_str(&format!("Default type:    {}\n", opt(&l.type_default)));
    if let Some(m) = l.min_memory_mb {
        out.push_str(&format!(
            "Memory needed:   {m} MB{}\n",
            if l.gpu { " + NVIDIA GPU" } else { "" }
        ));
    }
    out.push_str(&format!("Base image:      {}\n", l.image));
    out.push_str(&format!("Container image: {}\n", c.image));
    out.push_str(&format!(
        "Published port:  {} -> container port {}\n",
        c.external_port, c.internal_port
    ));
    out.push_str(&format!(
        "Health check:    GET {} on port {} (success: {})\n",
        c.health.path,
        c.external_port,
        c.health
            .success_codes
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(hook) = &t.spec.hook {
        out.push_str(&format!("Hook:            {hook}\n"));
    }
    let vars = |list: &[crate::template::EnvVarSpec]| -> String {
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
                line + "\n"
            })
            .collect()
    };
    out.push_str(&format!(
        "Required env vars:\n{}",
        vars(&t.spec.env.required)
    ));
    out.push_str(&format!(
        "Optional env vars:\n{}",
        vars(&t.spec.env.optional)
    ));
    print!("{out}");
    Ok(())
}

pub fn add(ctx: &Ctx, dir: &std::path::Path, force: bool) -> Result<()> {
    let catalog = ctx.catalog()?;
    let installed =
        template_store::install(dir, &catalog, &crate::template::installed_dir()?, force)?;
    println!(
        "Installed template {} {} into {}",
        installed.name,
        installed.version,
        installed.path.display()
    );
    if installed.has_hook {
        println!(
            "Its hook was loaded and checked; see its effect with 'linode-ai deploy --dry-run'."
        );
    }
    Ok(())
}

pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    let _ = ctx;
    let path = template_store::uninstall(name, &crate::template::installed_dir()?)?;
    println!("Removed template {name} ({})", path.display());
    Ok(())
}
