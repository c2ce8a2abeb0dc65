//! `init <template> [--directory DIR]`: make the project (the workflow),
//! then say what was written and what to do next.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use super::Ctx;
use crate::workflow::project::init_project;

pub fn run(ctx: &Ctx, template: &str, directory: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let catalog = ctx.catalog();
    let t = catalog.find(template)?;
    let made = init_project(t, directory)?;
    let dir = &made.dir;
    let env_path = &made.env_path;
    let written = made.written;
    writeln!(out, "Initialized {} project in {}", t.name(), dir.display())?;
    for f in written {
        writeln!(out, "  {f}")?;
    }
    if !made.generated.is_empty() {
        let names: Vec<&str> = made.generated.iter().map(String::as_str).collect();
        writeln!(
            out,
            "\nGenerated {} into {} (mode 0600, listed in .gitignore); linode-ai never prints {}.",
            names.join(", "),
            env_path.display(),
            if names.len() == 1 { "it" } else { "them" }
        )?;
    }
    let required = &made.required;
    if required.is_empty() {
        writeln!(
            out,
            "\nNext: 'linode-ai deploy --dry-run' to see the plan, then 'linode-ai deploy --wait'."
        )?;
    } else {
        writeln!(
            out,
            "\nNext: set {} in .env, then 'linode-ai deploy --dry-run' to see the plan.",
            required.join(", ")
        )?;
    }
    Ok(())
}
