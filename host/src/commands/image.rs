//! `image build --gpu`, `image list`, `image delete`: parse, call the
//! workflow, print.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::{ImageBuildArgs, ImageCmd};
use crate::workflow::deploy::format_price;
use crate::workflow::image::{self, BuildOptions, Progress};

pub fn run(ctx: &Ctx, cmd: &ImageCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ImageCmd::Build(a) => build(ctx, a, out),
        ImageCmd::List { json } => list(ctx, *json, out),
        ImageCmd::Delete { id, yes } => delete(ctx, id, *yes, out),
    }
}

fn build(ctx: &Ctx, args: &ImageBuildArgs, out: &mut dyn Write) -> Result<()> {
    let opts = BuildOptions {
        region: args.region.clone(),
        linode_type: args.linode_type.clone(),
        driver: args.driver.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let plan = image::plan(&ctx.catalog(), &opts, chrono::Utc::now())?;
    if args.dry_run {
        if args.json {
            let doc = json!({
                "dry_run": true,
                "branch": plan.branch, "base_image": plan.base_image,
                "region": plan.region, "linode_type": plan.linode_type,
                "image": {"label": plan.image_label, "tags": plan.image_tags, "cloud_init": true},
                "firewall": plan.firewall,
                "request": plan.instance.redacted_json(),
                "user_data": plan.user_data, "user_data_bytes": plan.user_data.len(),
                "expires_at": plan.expires_at,
            });
            write!(out, "{}", crate::output::json(&doc))?;
            return Ok(());
        }
        print_plan(&plan, None, out)?;
        writeln!(
            out,
            "\nUser-data of the build Linode (files decoded):\n{}",
            crate::targets::vm::cloud_init::readable(&plan.user_data)
        )?;
        writeln!(out, "Dry run: nothing was created.")?;
        return Ok(());
    }
    let client = ctx.authed_client()?;
    let rt = runtime()?;
    let (regions, types, images) = rt.block_on(async {
        tokio::try_join!(client.regions(), client.types(), client.list_images())
    })?;
    let price = image::check_offer(&plan, &regions, &types)?;
    if !args.json {
        print_plan(&plan, price.as_ref(), &mut std::io::stderr())?;
        if let Some(old) = image::find_gpu_base(&images, &plan.branch, &plan.base_image) {
            ctx.note(&format!(
                "the account already has a GPU base Image for driver {}: {} (deploys use the newest; 'linode-ai image delete' removes the old one)",
                plan.branch,
                image::describe(old)
            ));
        }
    }
    if !args.yes && !ctx.confirm("Build the image?")? {
        bail!("aborted; nothing was created (pass --yes where there is no terminal to ask on)");
    }
    let quiet = args.json;
    let style = ctx.style.for_stderr();
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        let line = match p {
            Progress::CreatedFirewall(id) => format!("Created firewall {id} (nothing comes in)"),
            Progress::CreatedLinode(id) => {
                format!("Created GPU Linode {id} (its Shutdown Watchdog off: it powers itself off when done)")
            }
            Progress::Booted => "Booting: Docker, the NVIDIA driver and the container toolkit install (10-20 minutes)".into(),
            Progress::State(s) => format!("  Linode {s}"),
            Progress::PoweredOff => "Powered off: the install is done".into(),
            Progress::Capturing { disk_id, size_mb } => format!(
                "Capturing disk {disk_id}{}",
                size_mb
                    .map(|mb| format!(" ({mb} MB allocated; the Image counts what is used)"))
                    .unwrap_or_default()
            ),
            Progress::CreatedImage(id) => format!("Image {id} is being made"),
            Progress::Cleaned => "Deleted the build Linode and its firewall".into(),
        };
        eprintln!("{}", style.dim(&line));
    };
    let made = rt.block_on(image::build(&client, &plan, ctx.tuning.poll, &progress))?;
    if args.json {
        write!(out, "{}", crate::output::json(&made))?;
    } else {
        writeln!(out, "GPU base Image ready: {}", image::describe(&made))?;
        writeln!(
            out,
            "GPU deploys in {} with driver {} now start from it (no driver install).",
            plan.region, plan.branch
        )?;
    }
    Ok(())
}

fn print_plan(
    plan: &image::BuildPlan,
    price: Option<&crate::linode::Price>,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(out, "GPU base Image build")?;
    writeln!(out, "  From:      {} in {}", plan.base_image, plan.region)?;
    writeln!(
        out,
        "  On:        {} {}",
        plan.linode_type,
        price
            .map(|p| format!("at {} for 15-25 minutes", format_price(p)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "  Installs:  Docker, NVIDIA driver {} for the image's kernel, the container toolkit",
        plan.branch
    )?;
    writeln!(
        out,
        "  Image:     {} (cloud-init; at most {} GB, $0.10/GB-month: about $0.40/month)",
        plan.image_label,
        crate::linode::IMAGE_MAX_MB / 1024
    )?;
    writeln!(
        out,
        "  Then:      the Linode and its firewall are deleted; on failure too (after {})",
        image::span(plan.timeout)
    )?;
    Ok(())
}

fn list(ctx: &Ctx, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let client = ctx.authed_client()?;
    let images = runtime()?.block_on(client.list_images())?;
    let bases = image::gpu_bases(&images);
    if as_json {
        write!(out, "{}", crate::output::json(&bases))?;
        return Ok(());
    }
    if bases.is_empty() {
        writeln!(
            out,
            "No GPU base Images; 'linode-ai image build --gpu' makes one."
        )?;
        return Ok(());
    }
    let total: f64 = bases.iter().filter_map(|i| i.monthly_usd()).sum();
    for i in &bases {
        let tag = |k: &str| {
            i.tags
                .iter()
                .find_map(|t| t.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                .unwrap_or("?")
                .to_string()
        };
        writeln!(
            out,
            "{}  driver {} on {}  {}  {}",
            image::describe(i),
            crate::sanitize::line(&tag(image::GPU_BASE_TAG)),
            crate::sanitize::line(&tag(image::GPU_OS_TAG)),
            i.status.as_deref().unwrap_or("?"),
            i.created.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "{} image(s), ${total:.2}/month", bases.len())?;
    Ok(())
}

fn delete(ctx: &Ctx, id: &str, yes: bool, out: &mut dyn Write) -> Result<()> {
    let client = ctx.authed_client()?;
    let rt = runtime()?;
    let found = rt
        .block_on(client.get_image(id))
        .with_context(|| format!("image {}", crate::sanitize::quote(id)))?;
    if image::gpu_bases(std::slice::from_ref(&found)).is_empty() {
        bail!(
            "image {} is not a linode-ai GPU base Image; linode-ai deletes only its own",
            crate::sanitize::quote(id)
        );
    }
    if !yes && !ctx.confirm(&format!("Delete image {}?", image::describe(&found)))? {
        bail!("aborted; nothing was deleted (pass --yes where there is no terminal to ask on)");
    }
    rt.block_on(client.delete_image(&found.id))?;
    writeln!(out, "Deleted image {}", image::describe(&found))?;
    Ok(())
}
