//! `hook test`: runs a template's evaluate-health on a probe given on the
//! command line, so health logic is tested without a Linode.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Ctx;
use crate::blueprint::stack::Stack;
use crate::blueprint::template::{Source, Template};
use crate::health::{
    builtin_verdict, hook_probes, HealthVerdict, ProbeErrorKind, ProbeResult, ServiceProbe,
};

#[allow(clippy::too_many_arguments)]
pub fn test(
    ctx: &Ctx,
    template: &str,
    status: u16,
    body: Option<&Path>,
    error: Option<&str>,
    env: &[String],
    json: bool,
    out: &mut dyn Write,
) -> Result<super::ExitStatus> {
    let dir = Path::new(template);
    let t = if dir.join("template.yml").is_file() {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Template {
            spec: crate::blueprint::load_template(&dir)?,
            source: Source::Dev,
            dir: Some(dir),
        }
    } else {
        ctx.catalog().find(template)?.clone()
    };
    if t.spec.hook.is_none() {
        bail!(
            "template \"{}\" has no hook (field `hook` in template.yml)",
            t.name()
        );
    }
    let stack = Stack::from_spec(&t.spec)?;
    let spinner = crate::output::Progress::new(&ctx.style.for_stderr());
    let hooks = crate::hooks::TemplateHooks::load_with_progress(
        &t,
        &stack,
        &ctx.paths.hook_cache,
        &|e, s| spinner.compiling(e, s),
    )?;
    drop(spinner);
    let mut vars = crate::blueprint::template::EnvVars::new();
    for spec in crate::workflow::deploy::plan::env_specs(&t, &stack) {
        if let (true, Some(d)) = (spec.is_public(), spec.default_value()) {
            vars.insert(spec.name().to_string(), d.to_string());
        }
    }
    for kv in env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env {} is not KEY=VALUE", crate::sanitize::quote(kv));
        };
        vars.insert(k.to_string(), v.to_string());
    }
    let body = match body {
        Some(p) => crate::files::read_text(p, "probe body", crate::health::BODY_LIMIT as u64)?,
        None => String::new(),
    };
    let fronted = match error {
        Some(m) => ProbeResult::Error {
            error: ProbeErrorKind::Other,
            message: m.to_string(),
        },
        None => ProbeResult::Response {
            status,
            headers: vec![],
            body,
            truncated: false,
        },
    };
    let probes: Vec<ServiceProbe> = stack
        .probes()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let r = if i == 0 {
                fronted.clone()
            } else {
                ProbeResult::Response {
                    status: 200,
                    headers: vec![],
                    body: String::new(),
                    truncated: false,
                }
            };
            (p.service, r, p.success_codes)
        })
        .collect();
    let context = crate::workflow::template_store::synthetic_context(&t, &stack, vars);
    let list = hook_probes(&probes);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let (verdict, logs) = rt.block_on(hooks.health(&context, &list));
    let (verdict, from_hook) = match verdict
        .map_err(|e| anyhow::anyhow!(e.shown()))
        .context("evaluate-health failed")?
    {
        Some(v) => (v, true),
        None => (builtin_verdict(&probes), false),
    };
    let logs: Vec<String> = logs.iter().map(|l| crate::sanitize::line(l)).collect();
    if json {
        write!(
            out,
            "{}",
            crate::output::json(&serde_json::json!({
                "verdict": verdict, "status": verdict.status(), "from_hook": from_hook,
                "interface": hooks.interface(), "logs": logs,
                "memory_peak_bytes": hooks.memory_peak(),
                "memory_limit_bytes": crate::hooks::limits::MEMORY_TOTAL,
                "probes": probes.iter().map(|(s, _, _)| s).collect::<Vec<_>>(),
            }))
        )?;
    } else {
        for l in &logs {
            writeln!(out, "hook log: {l}")?;
        }
        let who = if from_hook {
            "hook"
        } else {
            "built-in rule (the hook returned none)"
        };
        match &verdict {
            HealthVerdict::Healthy => writeln!(out, "healthy ({who})")?,
            HealthVerdict::Starting(r) => writeln!(out, "starting: {r} ({who})")?,
            HealthVerdict::Unhealthy(r) | HealthVerdict::BootFailed(r) => {
                writeln!(out, "unhealthy: {r} ({who})")?
            }
        }
        writeln!(
            out,
            "memory: {:.1} MiB of its {} MiB limit",
            hooks.memory_peak() as f64 / (1 << 20) as f64,
            crate::hooks::limits::MEMORY_TOTAL >> 20
        )?;
    }
    Ok(if verdict == HealthVerdict::Healthy {
        super::ExitStatus::Success
    } else {
        super::ExitStatus::NotRunning
    })
}
