//! Interface 0.2.0, frozen (`wit/since_v0.2.0/`; `wit/hooks.wit` is the same
//! text while it says 0.2.0): its bindings, host functions, linker and calls.
//! A 0.2 hook sees every service, the hostname and the key's name.

use anyhow::{anyhow, Result};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::Store;

use super::{probe_parts, DeployContext, State};
use crate::health::{HealthVerdict, ProbeResult};

wasmtime::component::bindgen!({
    path: "../wit/since_v0.2.0",
    world: "template-hooks",
    exports: { default: async },
});

use self::linode_ai::hooks::types as w;

impl w::Host for State {}
impl self::linode_ai::hooks::host::Host for State {
    fn log(&mut self, level: w::LogLevel, message: String) {
        let level = match level {
            w::LogLevel::Debug => "debug",
            w::LogLevel::Info => "info",
            w::LogLevel::Warn => "warn",
        };
        State::log(self, level, message)
    }
}

/// This version's linker (WASI granting nothing, and its host interface), built once.
pub(super) fn linker() -> Result<&'static Linker<State>> {
    static LINKER: std::sync::OnceLock<std::result::Result<Linker<State>, String>> =
        std::sync::OnceLock::new();
    LINKER
        .get_or_init(|| {
            let mut linker = Linker::new(super::engine().map_err(|e| e.to_string())?);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| e.to_string())?;
            TemplateHooks::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
                .map_err(|e| e.to_string())?;
            Ok(linker)
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

fn context(ctx: &DeployContext) -> w::DeployContext {
    w::DeployContext {
        template: ctx.template.clone(),
        template_version: ctx.template_version.clone(),
        app_name: ctx.app_name.clone(),
        env_name: ctx.env_name.clone(),
        region: ctx.region.clone(),
        linode_type: ctx.linode_type.clone(),
        image: ctx.image.clone(),
        internal_port: ctx.internal_port,
        https_port: ctx.external_port,
        hostname: ctx.hostname.clone(),
        key_env: ctx.key_env.clone(),
        services: ctx
            .services
            .iter()
            .map(|s| w::Service {
                name: s.name.clone(),
                image: s.image.clone(),
                port: s.port,
                fronted: s.fronted,
            })
            .collect(),
        env_vars: ctx
            .env()
            .map(|(name, value)| w::EnvVar { name, value })
            .collect(),
    }
}

fn probe(p: &ProbeResult) -> w::ProbeResult {
    match probe_parts(p) {
        Ok((status, headers, body, truncated)) => w::ProbeResult::Response(w::HttpResponse {
            status,
            headers: headers
                .into_iter()
                .map(|(name, value)| w::Header { name, value })
                .collect(),
            body,
            truncated,
        }),
        Err(m) => w::ProbeResult::Error(m),
    }
}

pub(super) async fn render(
    h: &TemplateHooks,
    store: &mut Store<State>,
    ctx: &DeployContext,
    doc: &str,
) -> wasmtime::Result<Result<Option<String>, String>> {
    h.linode_ai_hooks_guest()
        .call_render_user_data(store, &context(ctx), doc)
        .await
}

pub(super) async fn health(
    h: &TemplateHooks,
    store: &mut Store<State>,
    ctx: &DeployContext,
    probes: &[(String, ProbeResult)],
) -> wasmtime::Result<Option<HealthVerdict>> {
    let list: Vec<w::ServiceProbe> = probes
        .iter()
        .map(|(s, p)| w::ServiceProbe {
            service: s.clone(),
            probe: probe(p),
        })
        .collect();
    let v = h
        .linode_ai_hooks_guest()
        .call_evaluate_health(store, &context(ctx), &list)
        .await?;
    Ok(v.map(|v| match v {
        w::HealthVerdict::Healthy => HealthVerdict::Healthy,
        w::HealthVerdict::Starting(r) => HealthVerdict::Starting(r),
        w::HealthVerdict::Unhealthy(r) => HealthVerdict::Unhealthy(r),
    }))
}
