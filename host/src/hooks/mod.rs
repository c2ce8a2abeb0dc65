//! Template hooks: a template's WebAssembly component (world
//! `linode-ai:hooks/template-hooks`) run in a sandbox, with the built-in
//! defaults when a template has no hook or the hook defers. Each interface
//! version has its own file, frozen with its WIT (`since_v0_1_0` with
//! `wit/since_v0.1.0/`, `since_v0_2_0` with `wit/since_v0.2.0/`); `latest`
//! names the newest, which `wit/hooks.wit` (what the guest SDK vendors) is.
//!
//! The sandbox: WASI is linked but grants nothing (no files, network, env or
//! arguments; fixed clocks, seeded randomness). Every call gets a fresh store
//! with bounded memory (in total, across memories), tables, instances and
//! fuel, runs on Wasmtime's async support with epoch-based yielding, and is
//! cancelled by a tokio timeout at its deadline. Concurrent calls are
//! bounded by the number of CPUs. The interface version is read from the
//! component before it is compiled; the whole world is type-checked before
//! a call is made; compiling is bounded and cached (see [`cache`]).

pub mod build;
pub mod cache;
pub mod interface;
pub mod limits;
mod sandbox;
mod since_v0_1_0;
mod since_v0_2_0;
/// The newest interface version.
use since_v0_2_0 as latest;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use cache::LoadKind;
use interface::Version;

use crate::blueprint::stack::Stack;
use crate::blueprint::template::{EnvVars, Template};
use crate::health::{HealthVerdict, ProbeErrorKind, ProbeResult};

/// Fuel for one call (an endless loop runs out of it in well under a second).
pub const FUEL: u64 = 2_000_000_000;
/// Wall-clock deadline of one call.
pub const DEADLINE: Duration = Duration::from_secs(5);
const EPOCH_TICK: Duration = Duration::from_millis(10);
const MAX_LOGS: usize = 100;
const MAX_LOG_LINE: usize = 1000;

/// One service, as a hook sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    pub name: String,
    pub image: String,
    pub port: u16,
    pub fronted: bool,
}

/// Everything a hook may know about a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct DeployContext {
    pub template: String,
    pub template_version: String,
    pub app_name: String,
    pub env_name: String,
    pub region: String,
    pub linode_type: String,
    /// The fronted service's image and port.
    pub image: String,
    pub internal_port: u16,
    /// The proxy's HTTPS port.
    pub external_port: u16,
    /// `--domain`, or the instance's name in `status`; `None` when derived at boot.
    pub hostname: Option<String>,
    pub key_env: Option<String>,
    pub services: Vec<ServiceInfo>,
    /// The fixed wall clock a hook reads (seconds since 1970).
    #[serde(skip)]
    pub now: Duration,
    #[serde(skip)]
    pub env_vars: EnvVars,
}

/// Who a deployment is and where it runs: the part of a hook's context that
/// does not come from the service graph.
#[derive(Debug, Clone)]
pub struct ContextPlace {
    pub template: String,
    pub template_version: String,
    pub app_name: String,
    pub env_name: String,
    pub region: String,
    pub linode_type: String,
    /// The proxy's HTTPS port.
    pub external_port: u16,
    pub hostname: Option<String>,
    pub now: Duration,
}

impl DeployContext {
    /// The one way a context is made (the deploy plan, `hook test`, a
    /// template's checks and `status` all use it): the place, and what the
    /// stack says of the services, the fronted one and the key.
    pub fn new(place: ContextPlace, stack: &Stack, env_vars: EnvVars) -> DeployContext {
        let fronted = stack.fronted_service();
        DeployContext {
            template: place.template,
            template_version: place.template_version,
            app_name: place.app_name,
            env_name: place.env_name,
            region: place.region,
            linode_type: place.linode_type,
            image: fronted.image.to_string(),
            internal_port: fronted.port.unwrap_or(0),
            external_port: place.external_port,
            hostname: place.hostname,
            key_env: stack.proxy.key_env.as_ref().map(|k| k.to_string()),
            services: Self::services_of(stack),
            now: place.now,
            env_vars,
        }
    }

    /// The services of `stack` as hooks see them.
    pub fn services_of(stack: &Stack) -> Vec<ServiceInfo> {
        stack
            .services
            .iter()
            .map(|s| ServiceInfo {
                name: s.name.to_string(),
                image: s.image.to_string(),
                port: s.port.unwrap_or(0),
                fronted: s.name == stack.fronted,
            })
            .collect()
    }

    fn env(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.env_vars.iter().map(|(k, v)| (k.clone(), v.clone()))
    }
}

/// How a hook call went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// The hook said no (`err(message)`): its own words, which may hold
    /// whatever it saw.
    Refused(String),
    /// A bound stopped it, it crashed, or it returned something unusable
    /// (linode-ai's words: they hold nothing the hook saw).
    Stopped(String),
}

impl HookError {
    /// Text safe to show: the hook's own words escaped, or ours.
    pub fn shown(&self) -> String {
        match self {
            HookError::Refused(m) => crate::sanitize::line(&crate::sanitize::cut(m, MAX_LOG_LINE)),
            HookError::Stopped(m) => m.clone(),
        }
    }
}

/// Per-call state: WASI (granting nothing), resource bounds, log lines.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: limits::Recorder,
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

impl State {
    fn log(&mut self, level: &str, message: String) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() < MAX_LOGS {
            logs.push(format!(
                "{level}: {}",
                crate::sanitize::cut(&message, MAX_LOG_LINE)
            ));
        }
    }
}

/// The engine shared by all hooks, with an epoch ticker for deadlines.
pub fn engine() -> Result<&'static Engine> {
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
            std::thread::Builder::new()
                .name("hook-epochs".into())
                .spawn(move || loop {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => return,
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| anyhow!("cannot start the WebAssembly engine: {e}"))
}

/// Hook calls at once: one per CPU.
fn slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// A component checked and pre-linked for one interface version.
enum Pre {
    V01(since_v0_1_0::TemplateHooksPre<State>),
    V02(latest::TemplateHooksPre<State>),
}

struct Wasm {
    pre: Pre,
    load: LoadKind,
}

/// An instantiated hook.
enum Bound {
    V01(since_v0_1_0::TemplateHooks),
    V02(latest::TemplateHooks),
}

/// Progress of loading a hook (compiling can take a while for large components).
pub type LoadProgress<'a> = &'a dyn Fn(Duration, u64);

/// A template's hooks, or the built-in behaviour when it has none.
pub struct TemplateHooks {
    template: String,
    version: String,
    success_codes: Vec<u16>,
    wasm: Option<Wasm>,
    logs: Arc<Mutex<Vec<String>>>,
    /// Most linear-memory bytes any call held (for `hook test`).
    memory_peak: std::sync::atomic::AtomicUsize,
    /// Warnings from loading (e.g. the cache was refused).
    pub notes: Vec<String>,
    /// The template's service graph, when loaded from the template (the
    /// context `status` gives a hook is made from it).
    stack: Option<Stack>,
}

impl TemplateHooks {
    /// Loads the template's hook component (checked and pre-linked) if it has one.
    pub fn for_template(t: &Template, stack: &Stack, cache: &Path) -> Result<TemplateHooks> {
        Self::load_with_progress(t, stack, cache, &|_, _| {})
    }

    /// As [`TemplateHooks::for_template`], reporting compile progress.
    pub fn load_with_progress(
        t: &Template,
        stack: &Stack,
        cache: &Path,
        progress: LoadProgress<'_>,
    ) -> Result<TemplateHooks> {
        let mut hooks = TemplateHooks::builtin(
            t.name(),
            t.version(),
            stack
                .probes()
                .first()
                .map(|p| p.success_codes.clone())
                .unwrap_or_else(|| vec![200]),
        );
        hooks.stack = Some(stack.clone());
        if let Some(path) = t.hook_path() {
            // A --dev template is read from its sources: rebuild its hook (cargo skips what is current).
            if let (crate::blueprint::template::Source::Dev, Some(dir)) = (t.source, &t.dir) {
                if crate::hooks::build::crate_dir(dir).is_some() {
                    crate::hooks::build::build(dir, &path)
                        .with_context(|| format!("template \"{}\" (--dev)", t.name()))?;
                }
            }
            let cache = cache::Cache::open(cache);
            hooks.notes.extend(cache.note.clone());
            let wasm = Self::load(&path, &cache, progress).with_context(|| {
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

    fn load(path: &Path, cache: &cache::Cache, progress: LoadProgress<'_>) -> Result<Wasm> {
        let file = crate::files::open_regular(path, "hook component")?;
        let mut bytes = Vec::new();
        {
            use std::io::Read;
            file.take(cache::COMPONENT_LIMIT + 1)
                .read_to_end(&mut bytes)?;
        }
        if bytes.len() as u64 > cache::COMPONENT_LIMIT {
            bail!("it is larger than {} MiB", cache::COMPONENT_LIMIT >> 20);
        }
        // The interface first: an incompatible hook is refused before any compiling.
        let version = interface::detect(&bytes)?;
        let engine = engine()?;
        let size = bytes.len() as u64;
        let (component, load) = cache.load(engine, path, &bytes, &|t| progress(t, size))?;
        let linker = match version {
            Version::V0_1 => since_v0_1_0::linker()?,
            Version::V0_2 => latest::linker()?,
        };
        let pre: InstancePre<State> = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("{e:#}"))
            .context("it imports something linode-ai does not provide (hooks get WASI with nothing granted and linode-ai:hooks/host)")?;
        // Type-checks every export of the world, not just the names.
        let pre = match version {
            Version::V0_1 => Pre::V01(
                since_v0_1_0::TemplateHooksPre::new(pre)
                    .map_err(|e| anyhow!("{e:#}"))
                    .context("its exports do not match linode-ai:hooks@0.1.0")?,
            ),
            Version::V0_2 => Pre::V02(
                latest::TemplateHooksPre::new(pre)
                    .map_err(|e| anyhow!("{e:#}"))
                    .context("its exports do not match linode-ai:hooks@0.2.0")?,
            ),
        };
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
            memory_peak: Default::default(),
            notes: Vec::new(),
            stack: None,
        }
    }

    /// The template's service graph (hooks loaded from a template have it).
    pub fn stack(&self) -> Option<&Stack> {
        self.stack.as_ref()
    }

    pub fn has_hook(&self) -> bool {
        self.wasm.is_some()
    }

    pub fn load_kind(&self) -> Option<LoadKind> {
        self.wasm.as_ref().map(|w| w.load)
    }

    /// The interface version of the hook (`0.1` or `0.2`).
    pub fn interface(&self) -> Option<&'static str> {
        self.wasm.as_ref().map(|w| match w.pre {
            Pre::V01(_) => "0.1",
            Pre::V02(_) => "0.2",
        })
    }

    /// Messages the hook logged so far (drained; shown escaped).
    pub fn take_logs(&self) -> Vec<String> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn who(&self) -> String {
        format!("hook of template \"{}\" {}", self.template, self.version)
    }

    /// A fresh, bounded instance logging into `logs`.
    async fn instantiate(
        &self,
        wasm: &Wasm,
        now: Duration,
        logs: Arc<Mutex<Vec<String>>>,
    ) -> wasmtime::Result<(Store<State>, Bound)> {
        let engine = engine().map_err(|e| wasmtime::Error::msg(e.to_string()))?;
        let state = State {
            wasi: sandbox::wasi(now),
            table: ResourceTable::new(),
            limits: limits::Recorder::default(),
            logs,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_fuel(FUEL)?;
        store.epoch_deadline_async_yield_and_update(1);
        let bound = match &wasm.pre {
            Pre::V01(p) => Bound::V01(p.instantiate_async(&mut store).await?),
            Pre::V02(p) => Bound::V02(p.instantiate_async(&mut store).await?),
        };
        Ok((store, bound))
    }

    /// Runs `call` on a fresh instance within the deadline and a CPU slot;
    /// returns what it gave and the lines it logged.
    async fn run<R>(
        &self,
        wasm: &Wasm,
        now: Duration,
        call: impl AsyncFnOnce(&mut Store<State>, &Bound) -> wasmtime::Result<R>,
    ) -> (Result<R, HookError>, Vec<String>) {
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let Ok(_slot) = slots().acquire().await else {
            return (Err(HookError::Stopped("hook slots closed".into())), vec![]);
        };
        let hit: Arc<Mutex<Option<limits::Limit>>> = Arc::default();
        let work = {
            let (logs, hit) = (logs.clone(), hit.clone());
            async move {
                let (mut store, bound) = self.instantiate(wasm, now, logs).await?;
                let r = call(&mut store, &bound).await;
                let limits = &store.data().limits;
                *hit.lock().unwrap_or_else(|e| e.into_inner()) = limits.hit;
                self.memory_peak
                    .fetch_max(limits.peak, std::sync::atomic::Ordering::Relaxed);
                r
            }
        };
        let result = match tokio::time::timeout(DEADLINE, work).await {
            Err(_) => Err(HookError::Stopped(format!(
                "{}: it ran past its {}s deadline and was stopped",
                self.who(),
                DEADLINE.as_secs()
            ))),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(HookError::Stopped(
                self.explain(&e, *hit.lock().unwrap_or_else(|e| e.into_inner())),
            )),
        };
        let lines = std::mem::take(&mut *logs.lock().unwrap_or_else(|e| e.into_inner()));
        (result, lines)
    }

    /// One line saying which bound stopped a hook, or that it crashed.
    fn explain(&self, e: &wasmtime::Error, hit: Option<limits::Limit>) -> String {
        let text = format!("{e:#}");
        let cause = match (e.downcast_ref::<wasmtime::Trap>(), hit) {
            (Some(wasmtime::Trap::OutOfFuel), _) => {
                format!("it ran out of fuel ({FUEL} units): an endless loop?")
            }
            (Some(wasmtime::Trap::Interrupt), _) => format!(
                "it ran past its {}s deadline and was stopped",
                DEADLINE.as_secs()
            ),
            (_, Some(limits::Limit::Memory)) => format!(
                "it exceeded the memory limit ({} MiB across all its memories)",
                limits::MEMORY_TOTAL >> 20
            ),
            (_, Some(limits::Limit::Table)) => format!(
                "it exceeded the table limit ({} elements)",
                limits::TABLE_ELEMENTS
            ),
            _ if text.contains("resource limit exceeded") && text.contains("memor") => {
                format!("it exceeded the limit of {} memories", limits::MEMORIES)
            }
            _ if text.contains("resource limit exceeded") && text.contains("table") => {
                format!("it exceeded the limit of {} tables", limits::TABLES)
            }
            _ if text.contains("resource limit exceeded") && text.contains("instance") => {
                format!("it exceeded the limit of {} instances", limits::INSTANCES)
            }
            // Exports are type-checked when an instance binds them.
            _ if text.contains("type mismatch") => format!(
                "its exports do not match linode-ai:hooks@{}.x ({})",
                self.interface().unwrap_or("?"),
                crate::sanitize::line(&crate::sanitize::cut(
                    text[text.find("type mismatch").unwrap_or(0)..]
                        .lines()
                        .next()
                        .unwrap_or(""),
                    200
                ))
            ),
            (Some(trap), _) => format!("it crashed ({trap})"),
            (None, _) => format!(
                "it failed ({})",
                crate::sanitize::line(&crate::sanitize::cut(
                    text.lines().next().unwrap_or(""),
                    200
                ))
            ),
        };
        format!("{}: {cause}", self.who())
    }

    /// The hook's user-data for `doc` (`None`: keep it). Checks what comes back.
    pub async fn render_async(
        &self,
        ctx: &DeployContext,
        doc: &str,
    ) -> Result<Option<String>, HookError> {
        let Some(wasm) = &self.wasm else {
            return Ok(None);
        };
        let (out, logs) = self
            .run(wasm, ctx.now, async |store, bound| match bound {
                Bound::V01(h) => since_v0_1_0::render(h, store, ctx, doc).await,
                Bound::V02(h) => latest::render(h, store, ctx, doc).await,
            })
            .await;
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(logs);
        match out? {
            Ok(Some(doc)) => {
                crate::targets::vm::cloud_init::validate_user_data(&doc).map_err(|e| {
                    HookError::Stopped(format!("{}: returned unusable user-data: {e}", self.who()))
                })?;
                Ok(Some(doc))
            }
            Ok(None) => Ok(None),
            Err(message) => Err(HookError::Refused(message)),
        }
    }

    /// [`TemplateHooks::render_async`] for callers outside a runtime.
    pub fn render(&self, ctx: &DeployContext, doc: &str) -> Result<Option<String>, HookError> {
        if self.wasm.is_none() {
            return Ok(None);
        }
        let rt = crate::rt::shared().map_err(|e| {
            HookError::Stopped(format!("{}: cannot start a runtime: {e}", self.who()))
        })?;
        rt.block_on(self.render_async(ctx, doc))
    }

    /// The hook's verdict on the services' probes (fronted first), or `None`
    /// for the built-in rule, and the lines it logged. 0.1 hooks see the
    /// fronted service's probe.
    pub async fn health(
        &self,
        ctx: &DeployContext,
        probes: &[(String, ProbeResult)],
    ) -> (Result<Option<HealthVerdict>, HookError>, Vec<String>) {
        let Some(wasm) = &self.wasm else {
            return (Ok(None), vec![]);
        };
        let (out, logs) = self
            .run(wasm, ctx.now, async |store, bound| match bound {
                Bound::V01(h) => since_v0_1_0::health(h, store, ctx, probes).await,
                Bound::V02(h) => latest::health(h, store, ctx, probes).await,
            })
            .await;
        // Reasons are shown: short and escaped.
        let short = |r: String| crate::sanitize::line(&crate::sanitize::cut(&r, 200));
        let out = out.map(|v| {
            v.map(|v| match v {
                HealthVerdict::Healthy => HealthVerdict::Healthy,
                HealthVerdict::Starting(r) => HealthVerdict::Starting(short(r)),
                HealthVerdict::Unhealthy(r) => HealthVerdict::Unhealthy(short(r)),
                // Hooks cannot say this (their interface has no such case); kept as is.
                HealthVerdict::BootFailed(r) => HealthVerdict::BootFailed(short(r)),
            })
        });
        (out, logs)
    }

    /// Most bytes across a hook's linear memories during any call so far.
    pub fn memory_peak(&self) -> usize {
        self.memory_peak.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The built-in rule's success codes (of the fronted service).
    pub fn success_codes(&self) -> &[u16] {
        &self.success_codes
    }
}

/// A probe's answer as status, headers, body and whether the body was cut.
type ResponseParts = (u16, Vec<(String, String)>, String, bool);

fn probe_parts(p: &ProbeResult) -> Result<ResponseParts, String> {
    match p {
        ProbeResult::Response {
            status,
            headers,
            body,
            truncated,
        } => Ok((*status, headers.clone(), body.clone(), *truncated)),
        ProbeResult::Error { error, message } => Err(match error {
            ProbeErrorKind::Tls => format!("no valid TLS certificate yet ({message})"),
            _ => message.clone(),
        }),
    }
}
