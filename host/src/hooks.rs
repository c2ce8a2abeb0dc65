//! Template hooks: a template's WebAssembly component (world
//! `linode-ai:hooks/template-hooks` in `wit/`) run in a sandbox, with the
//! built-in defaults when a template has no hook or the hook defers.
//!
//! Sandbox: no files, no network, no env, no args (WASI linked, nothing
//! granted). Every call gets a fresh store with a memory cap, a fuel budget
//! and a wall-clock deadline. The interface version is checked before
//! instantiation. Compiled components are cached on disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::health::{default_verdict, HealthVerdict, ProbeResult};
use crate::stack::Stack;
use crate::template::{EnvVars, Template};

mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "template-hooks" });
}
use bindings::linode_ai::hooks::types as wit;

/// The hooks interface version this linode-ai implements.
pub const INTERFACE_VERSION: &str = "0.1.0";
const GUEST_EXPORT: &str = "linode-ai:hooks/guest";
/// Limits of one hook call.
pub const MEMORY_LIMIT: usize = 64 << 20;
pub const FUEL: u64 = 2_000_000_000;
pub const DEADLINE: Duration = Duration::from_secs(5);
const EPOCH_TICK: Duration = Duration::from_millis(50);
/// Extra wait for a call blocked in a host call, which epochs cannot interrupt.
const HOST_CALL_GRACE: Duration = Duration::from_secs(1);
const MAX_LOGS: usize = 100;

/// Everything a hook may know about a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct DeployContext {
    pub template: String,
    pub template_version: String,
    pub app_name: String,
    pub env_name: String,
    pub region: String,
    pub linode_type: String,
    pub image: String,
    pub internal_port: u16,
    pub external_port: u16,
    #[serde(skip)]
    pub env_vars: EnvVars,
}

impl DeployContext {
    fn to_wit(&self) -> wit::DeployContext {
        wit::DeployContext {
            template: self.template.clone(),
            template_version: self.template_version.clone(),
            app_name: self.app_name.clone(),
            env_name: self.env_name.clone(),
            region: self.region.clone(),
            linode_type: self.linode_type.clone(),
            image: self.image.clone(),
            internal_port: self.internal_port,
            external_port: self.external_port,
            env_vars: self
                .env_vars
                .iter()
                .map(|(k, v)| wit::EnvVar {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    logs: Arc<Mutex<Vec<String>>>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for State {}

impl bindings::linode_ai::hooks::host::Host for State {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() < MAX_LOGS {
            let level = match level {
                wit::LogLevel::Debug => "debug",
                wit::LogLevel::Info => "info",
                wit::LogLevel::Warn => "warn",
            };
            logs.push(format!("{level}: {}", truncate(&message, 1000)));
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// The engine shared by all hooks, with an epoch ticker for deadlines.
fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config
                .wasm_component_model(true)
                .consume_fuel(true)
                .epoch_interruption(true);
            let engine = Engine::new(&config).map_err(|e| e.to_string())?;
            let ticker = engine.weak();
            std::thread::spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                match ticker.upgrade() {
                    Some(e) => e.increment_epoch(),
                    None => return,
                }
            });
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e}"))
}

/// Whether the last load compiled or came from the cache (for benchmarks and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    Compiled,
    Cached,
}

/// Loads a component, from the cache when a valid entry exists.
fn load_component(engine: &Engine, bytes: &[u8], cache: &Path) -> Result<(Component, LoadKind)> {
    let mut h = Sha256::new();
    h.update(b"linode-ai hooks cache v1\0wasmtime 48.0.8\0fuel epoch component-model\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(bytes);
    let key = format!("{:x}", h.finalize());
    let dir: Option<PathBuf> = Some(cache.to_path_buf());
    if let Some(dir) = &dir {
        let (art, sum) = (
            dir.join(format!("{key}.cwasm")),
            dir.join(format!("{key}.sha256")),
        );
        if let (Ok(data), Ok(expected)) = (std::fs::read(&art), std::fs::read_to_string(&sum)) {
            if format!("{:x}", Sha256::digest(&data)) == expected.trim() {
                // SAFETY: the artifact was written by linode-ai itself into a private
                // (0700) directory and its checksum matches what was written.
                if let Ok(c) = unsafe { Component::deserialize(engine, &data) } {
                    return Ok((c, LoadKind::Cached));
                }
            }
        }
    }
    let component = Component::new(engine, bytes)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("not a valid WebAssembly component")?;
    if let Some(dir) = dir {
        let _ = store_cache(&dir, &key, &component);
    }
    Ok((component, LoadKind::Compiled))
}

fn store_cache(dir: &Path, key: &str, component: &Component) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let data = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = dir.join(format!("{key}.tmp.{}", std::process::id()));
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, dir.join(format!("{key}.cwasm")))?;
    std::fs::write(
        dir.join(format!("{key}.sha256")),
        format!("{:x}\n", Sha256::digest(&data)),
    )?;
    Ok(())
}

/// Checks the component's export names for the hooks interface and its version.
fn check_interface(engine: &Engine, component: &Component) -> Result<()> {
    let ty = component.component_type();
    let names: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let Some(found) = names.iter().find(|n| n.starts_with(GUEST_EXPORT)) else {
        bail!(
            "it is not a linode-ai hook: it exports {} instead of {GUEST_EXPORT}@{INTERFACE_VERSION}; build it with linode-ai-guest-sdk",
            if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
        );
    };
    let version = found
        .split_once('@')
        .map(|(_, v)| v)
        .unwrap_or("(unversioned)");
    let compatible = |v: &str| {
        let mine: Vec<&str> = INTERFACE_VERSION.split('.').collect();
        let theirs: Vec<&str> = v.split('.').collect();
        theirs.len() == 3 && theirs[0] == mine[0] && (mine[0] != "0" || theirs[1] == mine[1])
    };
    if !compatible(version) {
        bail!(
            "it was built for hooks interface {version}, but this linode-ai accepts {}.x ({INTERFACE_VERSION}); rebuild it with a matching linode-ai-guest-sdk",
            INTERFACE_VERSION.rsplit_once('.').map(|(a, _)| a).unwrap_or(INTERFACE_VERSION)
        );
    }
    Ok(())
}

struct Wasm {
    pre: InstancePre<State>,
    load: LoadKind,
}

/// A template's hooks, or the built-in behaviour when it has none.
pub struct TemplateHooks {
    template: String,
    version: String,
    success_codes: Vec<u16>,
    wasm: Option<Wasm>,
    logs: Arc<Mutex<Vec<String>>>,
    /// Set once a call had to be abandoned: later calls fail at once.
    abandoned: AtomicBool,
}

impl TemplateHooks {
    /// Loads the template's hook component (checked and pre-linked) if it has one.
    pub fn for_template(t: &Template, stack: &Stack, cache: &Path) -> Result<TemplateHooks> {
        let mut hooks = TemplateHooks::builtin(
            t.name(),
            t.version(),
            stack
                .probes()
                .first()
                .map(|p| p.success_codes.clone())
                .unwrap_or_else(|| vec![200]),
        );
        if let Some(path) = t.hook_path() {
            let wasm = Self::load(&path, cache).with_context(|| {
                format!(
                    "hook {} of template \"{}\" {}",
                    path.display(),
                    t.name(),
                    t.version()
                )
            })?;
            hooks.wasm = Some(wasm);
        }
        Ok(hooks)
    }

    fn load(path: &Path, cache: &Path) -> Result<Wasm> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let engine = engine()?;
        let (component, load) = load_component(engine, &bytes, cache)?;
        check_interface(engine, &component)?;
        let mut linker: Linker<State> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        bindings::TemplateHooks::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("it imports something linode-ai does not provide")?;
        Ok(Wasm { pre, load })
    }

    /// The built-in rules only (e.g. for a deployment whose template is gone).
    pub fn builtin(template: &str, version: &str, success_codes: Vec<u16>) -> TemplateHooks {
        TemplateHooks {
            template: template.into(),
            version: version.into(),
            success_codes,
            wasm: None,
            logs: Default::default(),
            abandoned: AtomicBool::new(false),
        }
    }

    pub fn has_hook(&self) -> bool {
        self.wasm.is_some()
    }

    pub fn load_kind(&self) -> Option<LoadKind> {
        self.wasm.as_ref().map(|w| w.load)
    }

    /// Messages the hook logged so far (drained).
    pub fn take_logs(&self) -> Vec<String> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn who(&self) -> String {
        format!("hook of template \"{}\" {}", self.template, self.version)
    }

    /// Runs `f` against a fresh, limited instance.
    /// Runs `f` against a fresh, limited instance on its own thread. Fuel and
    /// the epoch deadline stop wasm code; a hook blocked inside a host call
    /// (e.g. a long `wasi:clocks` sleep) is abandoned after the deadline, and
    /// the hook is disabled for the rest of this run.
    fn call<R: Send + 'static>(
        &self,
        wasm: &Wasm,
        f: impl FnOnce(&mut Store<State>, &bindings::TemplateHooks) -> wasmtime::Result<R>
            + Send
            + 'static,
    ) -> Result<R> {
        if self.abandoned.load(Ordering::Relaxed) {
            bail!("{}: disabled after it hung earlier in this run", self.who());
        }
        let pre = wasm.pre.clone();
        let logs = self.logs.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("template-hook".into())
            .spawn(move || {
                let state = State {
                    wasi: WasiCtxBuilder::new().build(),
                    table: ResourceTable::new(),
                    limits: StoreLimitsBuilder::new()
                        .memory_size(MEMORY_LIMIT)
                        .instances(20)
                        .tables(20)
                        .trap_on_grow_failure(true)
                        .build(),
                    logs,
                };
                let mut store = Store::new(pre.engine(), state);
                store.limiter(|s| &mut s.limits);
                let result = store
                    .set_fuel(FUEL)
                    .map(|()| {
                        store.set_epoch_deadline(
                            (DEADLINE.as_millis() / EPOCH_TICK.as_millis()) as u64,
                        )
                    })
                    .and_then(|()| pre.instantiate(&mut store))
                    .and_then(|instance| bindings::TemplateHooks::new(&mut store, &instance))
                    .and_then(|hooks| f(&mut store, &hooks));
                let _ = tx.send(result);
            })
            .context("cannot start a thread for the hook")?;
        match rx.recv_timeout(DEADLINE + HOST_CALL_GRACE) {
            Ok(result) => result.map_err(|e| self.explain(e)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                self.abandoned.store(true, Ordering::Relaxed);
                bail!(
                    "{}: it ran past its {}s deadline blocked in a system call and was abandoned",
                    self.who(),
                    DEADLINE.as_secs()
                )
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                bail!("{}: the hook runner failed", self.who())
            }
        }
    }

    fn explain(&self, e: wasmtime::Error) -> anyhow::Error {
        let cause = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => {
                format!("it ran out of fuel ({FUEL} units): an endless loop?")
            }
            Some(wasmtime::Trap::Interrupt) => format!(
                "it ran past its {}s deadline and was stopped",
                DEADLINE.as_secs()
            ),
            Some(trap) => {
                let text = format!("{e:#}");
                if text.contains("memory") && text.contains("grow") {
                    format!("it exceeded the {} MiB memory limit", MEMORY_LIMIT >> 20)
                } else {
                    format!("it crashed ({trap})")
                }
            }
            None => {
                let text = format!("{e:#}");
                if text.contains("memory") {
                    format!(
                        "it exceeded the {} MiB memory limit ({})",
                        MEMORY_LIMIT >> 20,
                        truncate(&text, 200)
                    )
                } else {
                    truncate(&text, 500)
                }
            }
        };
        anyhow::anyhow!("{}: {cause}", self.who())
    }

    /// The user-data: the hook's, when it returns one, else `default_user_data`.
    pub fn render(&self, ctx: &DeployContext, default_user_data: String) -> Result<String> {
        let Some(wasm) = &self.wasm else {
            return Ok(default_user_data);
        };
        let wctx = ctx.to_wit();
        let default = default_user_data.clone();
        let out = self.call(wasm, move |store, hooks| {
            hooks
                .linode_ai_hooks_guest()
                .call_render_user_data(store, &wctx, &default)
        })?;
        match out {
            Ok(Some(doc)) => {
                crate::cloud_init::validate_user_data(&doc).map_err(|e| {
                    anyhow::anyhow!("{}: returned unusable user-data: {e}", self.who())
                })?;
                Ok(doc)
            }
            Ok(None) => Ok(default_user_data),
            Err(message) => bail!("{}: {}", self.who(), truncate(&message, 1000)),
        }
    }

    /// The health verdict: the hook's, when it gives one, else the built-in rule.
    pub fn health(&self, ctx: &DeployContext, probe: &ProbeResult) -> Result<HealthVerdict> {
        let Some(wasm) = &self.wasm else {
            return Ok(default_verdict(&self.success_codes, probe));
        };
        let wctx = ctx.to_wit();
        let wprobe = match probe {
            ProbeResult::Response {
                status,
                headers,
                body,
                truncated,
            } => wit::ProbeResult::Response(wit::HttpResponse {
                status: *status,
                headers: headers
                    .iter()
                    .map(|(n, v)| wit::Header {
                        name: n.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                body: body.clone(),
                truncated: *truncated,
            }),
            ProbeResult::Error { message, .. } => wit::ProbeResult::Error(message.clone()),
        };
        let out = self.call(wasm, move |store, hooks| {
            hooks
                .linode_ai_hooks_guest()
                .call_evaluate_health(store, &wctx, &wprobe)
        })?;
        Ok(match out {
            None => default_verdict(&self.success_codes, probe),
            Some(wit::HealthVerdict::Healthy) => HealthVerdict::Healthy,
            Some(wit::HealthVerdict::Starting(r)) => HealthVerdict::Starting(truncate(&r, 200)),
            Some(wit::HealthVerdict::Unhealthy(r)) => HealthVerdict::Unhealthy(truncate(&r, 200)),
        })
    }
}
