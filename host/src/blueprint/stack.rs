//! The validated service graph of a template: its services in boot order,
//! and the TLS proxy's routes. Built from a [`TemplateSpec`] (either form),
//! rendered by a target (today the VM's boot script) and by [`crate::blueprint::proxy`].
//!
//! Rules: service names are unique; dependencies exist and have no cycle;
//! without `routes` exactly one service is what the proxy fronts; only the
//! proxy publishes ports; every route that needs the key has one.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use crate::blueprint::template::{
    check_image, check_sizes, check_url_path, check_volume, is_env_name, reserved_env_name,
    Condition, EnvVarSpec, Generate, RouteAuth, ServiceHealth, ServiceSpec, TemplateSpec,
};
use crate::sanitize::quote;
use crate::state::Probe;

/// The proxy's container name (reserved for services).
pub const PROXY: &str = "proxy";
/// The private Docker network every container joins.
pub const NETWORK: &str = "linode-ai";
/// Public per-service health paths: `/healthz/<service>`.
pub const HEALTH_PREFIX: &str = "/healthz/";
/// The key variable of templates that do not name one.
pub const DEFAULT_KEY_ENV: &str = "LINODE_AI_API_KEY";
/// Values a service's `environment` may reference besides project vars.
pub const BOOT_VARS: &[&str] = &["LINODE_AI_HOSTNAME", "LINODE_AI_URL"];
/// Pages linode-ai serves from the proxy itself.
pub const PAGES: &[&str] = &["chat"];
/// A checked identifier: made only by its `parse` (service names by
/// [`check_service_name`], images by [`check_image`]), so the generators
/// that take one (the boot script, the Caddyfile, Kubernetes manifests)
/// cannot receive an unchecked string. Reads as a `&str`.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, o: &str) -> bool {
                self.0 == o
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, o: &&str) -> bool {
                self.0 == *o
            }
        }
        impl PartialEq<String> for $name {
            fn eq(&self, o: &String) -> bool {
                &self.0 == o
            }
        }
        impl PartialEq<$name> for String {
            fn eq(&self, o: &$name) -> bool {
                *self == o.0
            }
        }
        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
    };
}

checked_name!(
    /// A service's name: 1-32 lower-case letters, digits and '-', starting
    /// with a letter, not `proxy`.
    ServiceName
);
checked_name!(
    /// A container image reference `docker run` takes as one argument.
    ImageRef
);

checked_name!(
    /// A route's URL path: `/` then letters, digits and `/ . _ ~ -`, no `..`
    /// or `//`, optionally ending in `*`.
    UrlPath
);

impl UrlPath {
    /// `field` names where it came from in the error.
    pub fn parse(p: &str, field: &str, allow_glob: bool) -> Result<UrlPath> {
        crate::blueprint::template::check_url_path(p, field, allow_glob)?;
        Ok(UrlPath(p.to_string()))
    }

    /// `/healthz/<service>`: made of a checked name.
    pub fn health(service: &ServiceName) -> UrlPath {
        UrlPath(format!("{HEALTH_PREFIX}{service}"))
    }
}

checked_name!(
    /// An environment variable's name (letters, digits and `_`, not starting
    /// with a digit): what the proxy's key is read from.
    EnvName
);

impl EnvName {
    /// `field` names where it came from in the error.
    pub fn parse(name: &str, field: &str) -> Result<EnvName> {
        if !is_env_name(name) {
            bail!("{field} {} is not a variable name", quote(name));
        }
        Ok(EnvName(name.to_string()))
    }
}

impl ServiceName {
    pub fn parse(name: &str) -> Result<ServiceName> {
        check_service_name(name)?;
        Ok(ServiceName(name.to_string()))
    }
}

impl ImageRef {
    /// `field` names where it came from in the error.
    pub fn parse(image: &str, field: &str) -> Result<ImageRef> {
        check_image(image, field)?;
        Ok(ImageRef(image.to_string()))
    }
}

/// One container of the app, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: ServiceName,
    pub image: ImageRef,
    pub args: Vec<String>,
    pub port: Option<u16>,
    /// Project env var patterns this service receives.
    pub env: Vec<String>,
    /// Fixed values (may reference `${VAR}`).
    pub environment: Vec<(String, String)>,
    pub volumes: Vec<String>,
    pub gpus: bool,
    pub ipc_host: bool,
    /// Each replica may have its own copy of the volumes (caches).
    pub volumes_per_replica: bool,
    pub depends_on: Vec<(String, Condition)>,
    pub health: Option<ServiceHealth>,
    pub post_start_script: Option<String>,
}

impl Service {
    /// Whether `var` is one of the project vars this service receives.
    pub fn receives(&self, var: &str) -> bool {
        receives(&self.env, var)
    }
}

/// Where a route goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Service { name: ServiceName, port: u16 },
    Page(String),
}

/// One proxy route, in match order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `/exact` or `/prefix/*`.
    pub path: UrlPath,
    pub target: Target,
    pub auth: RouteAuth,
    /// Path sent upstream instead of the request's (health routes).
    pub rewrite: Option<String>,
    /// Only GET and HEAD (health and public paths).
    pub read_only: bool,
}

/// Whether env patterns (`NAME`, `PREFIX_*`, `*`) take the variable `var`.
fn receives(patterns: &[String], var: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => var.starts_with(prefix),
        None => p == var,
    })
}

/// A post-start step as a Kubernetes Job (LKE), checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: ServiceName,
    pub image: ImageRef,
    /// Project env var patterns it receives.
    pub env: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub script: String,
}

impl Job {
    /// Whether it receives the project variable `var`.
    pub fn receives(&self, var: &str) -> bool {
        receives(&self.env, var)
    }

    /// The command: the `#!` line's interpreter, else `/bin/sh`, with `-c`.
    pub fn command(&self) -> Vec<String> {
        let shell = self
            .script
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map(|i| i.split_whitespace().next().unwrap_or("/bin/sh").to_string())
            .unwrap_or_else(|| "/bin/sh".into());
        vec![shell, "-c".into(), self.script.clone()]
    }
}

/// What the proxy does.
#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub key_env: Option<EnvName>,
    /// In match order; anything else gets 404.
    pub routes: Vec<Route>,
    pub depends_on: Vec<(String, Condition)>,
}

/// The whole app as it boots.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// In boot (dependency) order.
    pub services: Vec<Service>,
    /// The service the proxy fronts by default (the image `--image` replaces).
    pub fronted: String,
    pub proxy: Proxy,
    /// Runs after everything started.
    pub post_start_script: Option<String>,
    /// On LKE, instead of the post-start scripts.
    pub post_start_jobs: Vec<Job>,
    /// A key variable the template did not declare (the single-container form).
    pub implicit_key: Option<EnvVarSpec>,
}

fn check_service_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "service name {} must be 1-32 lower-case letters, digits and '-', starting with a letter",
            quote(name)
        );
    }
    if name == PROXY {
        bail!("service name \"{PROXY}\" is reserved for linode-ai's TLS proxy");
    }
    Ok(())
}

fn check_env_pattern(p: &str, field: &str) -> Result<()> {
    let name = p.strip_suffix('*').unwrap_or(p);
    if p == "*" || is_env_name(name) {
        return Ok(());
    }
    bail!(
        "{field} entry {} must be an env var name, a PREFIX_* pattern or *",
        quote(p)
    )
}

/// The `${NAME}` references in a fixed value.
pub fn references(value: &str) -> Result<Vec<String>> {
    Ok(pieces(value)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v.to_string()),
            Piece::Text(_) => None,
        })
        .collect())
}

/// A part of a value that may reference variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `${NAME}`: the name.
    Var(&'a str),
}

/// The one reader of `${NAME}` in template values: text and references, in
/// order (empty text is left out). An unclosed `${` or a reference that is
/// not a variable name is an error naming the value.
pub fn pieces(value: &str) -> Result<Vec<Piece<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            bail!("{} has an unclosed ${{", quote(value));
        };
        let name = &after[..end];
        if !is_env_name(name) {
            bail!(
                "{} references {}, which is not a variable name",
                quote(value),
                quote(name)
            );
        }
        out.push(Piece::Var(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn check_health(h: &ServiceHealth, who: &str) -> Result<()> {
    check_url_path(&h.path, &format!("{who} health.path"), false)?;
    if h.success_codes.is_empty() || h.success_codes.iter().any(|c| !(100..=599).contains(c)) {
        bail!("{who} health.success_codes must list HTTP status codes (100-599)");
    }
    if h.timeout_seconds == 0 || h.timeout_seconds > 60 {
        bail!("{who} health.timeout_seconds must be 1-60");
    }
    if h.start_timeout_seconds == 0 || h.start_timeout_seconds > 7200 {
        bail!("{who} health.start_timeout_seconds must be 1-7200");
    }
    Ok(())
}

fn deps(list: &[crate::blueprint::template::Dependency]) -> Vec<(String, Condition)> {
    list.iter()
        .map(|d| (d.service().to_string(), d.condition()))
        .collect()
}

/// Sorts services so each comes after what it depends on (declaration order
/// otherwise: of the services ready to start, the first declared goes
/// first); names the cycle when there is one. Linear in services and
/// dependencies (up to a log factor).
fn boot_order(services: Vec<Service>) -> Result<Vec<Service>> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    let index: HashMap<&str, usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let n = services.len();
    // waiting[i]: dependencies of i not started yet; dependents[d]: who waits for d.
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in services.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for (d, _) in &s.depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                if seen.insert(j) {
                    waiting[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push(Reverse(k));
            }
        }
    }
    if order.len() < n {
        // Walk dependencies from the first blocked service until one repeats.
        let blocked = |i: usize| waiting[i] > 0;
        let first = (0..n)
            .find(|&i| blocked(i))
            .expect("some service is blocked");
        let mut path = vec![first];
        let mut on_path = vec![usize::MAX; n];
        on_path[first] = 0;
        loop {
            let cur = *path.last().expect("non-empty");
            let next = services[cur]
                .depends_on
                .iter()
                .filter_map(|(d, _)| index.get(d.as_str()).copied())
                .find(|&j| blocked(j))
                .expect("a blocked service waits for another blocked one");
            if on_path[next] != usize::MAX {
                let mut cycle: Vec<&str> = path[on_path[next]..]
                    .iter()
                    .map(|&i| services[i].name.as_str())
                    .collect();
                cycle.push(services[next].name.as_str());
                bail!(
                    "services depend on each other in a cycle: {}",
                    cycle.join(" -> ")
                );
            }
            on_path[next] = path.len();
            path.push(next);
        }
    }
    let mut slots: Vec<Option<Service>> = services.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| slots[i].take().expect("each service once"))
        .collect())
}

impl Stack {
    /// Validates the spec's services and proxy and builds the graph.
    pub fn from_spec(spec: &TemplateSpec) -> Result<Stack> {
        check_sizes(spec)?;
        let l = &spec.deploy.linode;
        let declared: BTreeSet<&str> = spec.env.all().map(EnvVarSpec::name).collect();
        // Values that may show in a process's arguments (`docker run ... --model X`).
        let public: BTreeSet<&str> = spec
            .env
            .all()
            .filter(|v| v.is_public())
            .map(EnvVarSpec::name)
            .collect();
        let (raw, legacy_health, legacy_post): (Vec<ServiceSpec>, Option<String>, Option<String>) =
            match (&l.container, l.services.is_empty()) {
                (Some(_), false) => bail!(
                    "use either `deploy.linode.container` (one service) or `deploy.linode.services`, not both"
                ),
                (None, true) => bail!(
                    "field `deploy.linode.services` must list at least one service (or use `container:`)"
                ),
                (Some(c), true) => {
                    if c.health.kind != "http" {
                        bail!(
                            "field `health.type` is {}; only \"http\" is supported",
                            quote(&c.health.kind)
                        );
                    }
                    let health = ServiceHealth {
                        path: c.health.path.clone(),
                        success_codes: c.health.success_codes.clone(),
                        timeout_seconds: c.health.timeout_seconds.max(1),
                        start_timeout_seconds: 900,
                    };
                    let svc = ServiceSpec {
                        name: "app".into(),
                        image: c.image.clone(),
                        args: c.args.clone(),
                        port: Some(c.internal_port),
                        env: vec!["*".into()],
                        environment: Default::default(),
                        volumes: c.volumes.clone(),
                        gpus: c.gpus,
                        ipc_host: c.ipc_host,
                        volumes_per_replica: false,
                        depends_on: vec![],
                        health: Some(health),
                        post_start_script: None,
                        front: true,
                    };
                    if let Some(p) = c.health.port {
                        if p != c.internal_port && Some(p) != c.external_port {
                            bail!(
                                "field `health.port` is {p}, but the container listens on {}; the health check goes to the container port",
                                c.internal_port
                            );
                        }
                    }
                    (vec![svc], Some(c.health.path.clone()), c.post_start_script.clone())
                }
                (None, false) => (l.services.clone(), None, None),
            };
        if legacy_post.is_some() && l.post_start_script.is_some() {
            bail!("set post_start_script either on `container` or on `deploy.linode`, not both");
        }

        let mut names = BTreeSet::new();
        let mut services = Vec::new();
        for s in &raw {
            check_service_name(&s.name)?;
            if !names.insert(s.name.clone()) {
                bail!("service {} is listed twice", quote(&s.name));
            }
            let who = format!("service \"{}\"", s.name);
            check_image(&s.image, &format!("{who} image"))?;
            if s.port == Some(0) {
                bail!("{who} port must be 1-65535");
            }
            for v in &s.volumes {
                check_volume(v)?;
            }
            for p in &s.env {
                check_env_pattern(p, &format!("{who} env"))?;
            }
            for (k, v) in &s.environment {
                if !is_env_name(k) {
                    bail!("{who} environment key {} is not a variable name", quote(k));
                }
                if let Some(rule) = reserved_env_name(k) {
                    bail!("{who} environment key {k} cannot be used: {rule}");
                }
                for r in references(v).map_err(|e| anyhow::anyhow!("{who} environment {k}: {e}"))? {
                    if !declared.contains(r.as_str()) && !BOOT_VARS.contains(&r.as_str()) {
                        bail!(
                            "{who} environment {k} references ${{{r}}}, which the template does not declare (declare it under env, or use {})",
                            BOOT_VARS.join(" or ")
                        );
                    }
                }
            }
            for a in &s.args {
                for r in references(a).map_err(|e| anyhow::anyhow!("{who} args: {e}"))? {
                    if !public.contains(r.as_str()) {
                        bail!(
                            "{who} args reference ${{{r}}}: arguments show in the instance's process list, so only variables declared with `public: true` may be used there"
                        );
                    }
                }
            }
            if s.gpus && !l.gpu {
                bail!(
                    "{who} needs the GPU: set `deploy.linode.gpu: true` so the driver is installed"
                );
            }
            if let Some(h) = &s.health {
                check_health(h, &who)?;
                if s.port.is_none() {
                    bail!("{who} has a health check but no port");
                }
            }
            services.push(Service {
                name: ServiceName::parse(&s.name)?,
                image: ImageRef::parse(&s.image, &format!("service \"{}\" image", s.name))?,
                args: s.args.clone(),
                port: s.port,
                env: s.env.clone(),
                environment: s
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                volumes: s.volumes.clone(),
                gpus: s.gpus || (l.container.is_some() && l.gpu),
                ipc_host: s.ipc_host,
                volumes_per_replica: s.volumes_per_replica,
                depends_on: deps(&s.depends_on),
                health: s.health.clone(),
                post_start_script: s.post_start_script.clone(),
            });
        }
        let by_name: std::collections::HashMap<&str, &Service> =
            services.iter().map(|s| (s.name.as_str(), s)).collect();
        for s in &services {
            for (d, cond) in &s.depends_on {
                if d == &s.name {
                    bail!("service \"{}\" depends on itself", s.name);
                }
                let Some(dep) = by_name.get(d.as_str()) else {
                    bail!(
                        "service \"{}\" depends on {}, which is not a service of this template{}",
                        s.name,
                        quote(d),
                        crate::suggest::did_you_mean(d, services.iter().map(|x| x.name.as_str()))
                    );
                };
                if *cond == Condition::Healthy && dep.health.is_none() {
                    bail!(
                        "service \"{}\" waits for \"{d}\" to be healthy, but \"{d}\" has no health check",
                        s.name
                    );
                }
            }
        }

        // What the proxy fronts.
        let fronts: Vec<&ServiceSpec> = raw.iter().filter(|s| s.front).collect();
        let proxy_spec = l.proxy.clone().unwrap_or_default();
        let with_port: Vec<&Service> = services.iter().filter(|s| s.port.is_some()).collect();
        let fronted: Option<String> = match fronts.as_slice() {
            [one] => Some(one.name.to_string()),
            [] if with_port.len() == 1 => Some(with_port[0].name.to_string()),
            [] => proxy_spec.routes.iter().find_map(|r| r.service.clone()),
            _ => bail!("only one service may say `front: true`"),
        };
        let Some(fronted) = fronted else {
            bail!(
                "several services listen on a port; mark the one the proxy fronts with `front: true`, or list `proxy.routes`"
            );
        };
        let front = services
            .iter()
            .find(|s| s.name == fronted)
            .expect("fronted service exists");
        let Some(front_port) = front.port else {
            bail!("service \"{fronted}\" is what the proxy fronts but has no port");
        };
        let front_name = front.name.clone();
        if proxy_spec.routes.is_empty() && fronts.is_empty() && with_port.len() > 1 {
            bail!(
                "several services listen on a port; mark the one the proxy fronts with `front: true`, or list `proxy.routes`"
            );
        }

        if let Some(k) = &proxy_spec.key_env {
            EnvName::parse(k, "field `proxy.key_env`")?;
            if !declared.contains(k.as_str()) && k != DEFAULT_KEY_ENV {
                bail!(
                    "field `proxy.key_env` names {k}, which the template does not declare under env (declare it, e.g. with `generate: key`)"
                );
            }
        }

        // Routes, in match order: health, public paths, the template's routes, 404.
        let mut routes = Vec::new();
        for s in &services {
            if let (Some(h), Some(port)) = (&s.health, s.port) {
                routes.push(Route {
                    path: UrlPath::health(&s.name),
                    target: Target::Service {
                        name: s.name.clone(),
                        port,
                    },
                    auth: RouteAuth::Public,
                    rewrite: Some(h.path.clone()),
                    read_only: true,
                });
            }
        }
        let mut public_paths = proxy_spec.public_paths.clone();
        if let Some(p) = &legacy_health {
            if !public_paths.contains(p) {
                public_paths.push(p.clone());
            }
        }
        for p in &public_paths {
            routes.push(Route {
                path: UrlPath::parse(p, "proxy.public_paths entry", false)?,
                target: Target::Service {
                    name: front_name.clone(),
                    port: front_port,
                },
                auth: RouteAuth::Public,
                rewrite: None,
                read_only: true,
            });
        }
        if !proxy_spec.allowed_paths.is_empty() && !proxy_spec.routes.is_empty() {
            bail!("use either `proxy.allowed_paths` or `proxy.routes`, not both");
        }
        // Secure by default: what the template does not open needs the key.
        let default_auth = RouteAuth::Key;
        if !proxy_spec.routes.is_empty() {
            for r in &proxy_spec.routes {
                let path = UrlPath::parse(&r.path, "proxy.routes path", true)?;
                let target = match (&r.service, &r.page) {
                    (Some(svc), None) => {
                        let Some(s) = services.iter().find(|s| &s.name == svc) else {
                            bail!(
                                "route {} goes to service {}, which this template does not have{}",
                                r.path,
                                quote(svc),
                                crate::suggest::did_you_mean(
                                    svc,
                                    services.iter().map(|s| s.name.as_str())
                                )
                            );
                        };
                        let Some(port) = s.port else {
                            bail!(
                                "route {} goes to service \"{svc}\", which has no port",
                                r.path
                            );
                        };
                        Target::Service {
                            name: s.name.clone(),
                            port,
                        }
                    }
                    (None, Some(page)) => {
                        if !PAGES.contains(&page.as_str()) {
                            bail!(
                                "route {} serves page {}; linode-ai has: {}",
                                r.path,
                                quote(page),
                                PAGES.join(", ")
                            );
                        }
                        Target::Page(page.clone())
                    }
                    _ => bail!("route {} needs exactly one of `service` or `page`", r.path),
                };
                routes.push(Route {
                    path,
                    target,
                    auth: r.auth,
                    rewrite: None,
                    read_only: false,
                });
            }
        } else if !proxy_spec.allowed_paths.is_empty() {
            for p in &proxy_spec.allowed_paths {
                routes.push(Route {
                    path: UrlPath::parse(p, "proxy.allowed_paths entry", true)?,
                    target: Target::Service {
                        name: front_name.clone(),
                        port: front_port,
                    },
                    auth: default_auth,
                    rewrite: None,
                    read_only: false,
                });
            }
        } else {
            routes.push(Route {
                path: UrlPath("/*".into()),
                target: Target::Service {
                    name: front_name.clone(),
                    port: front_port,
                },
                auth: default_auth,
                rewrite: None,
                read_only: false,
            });
        }
        // A route needs the key but the template names none: linode-ai's own.
        let implicit_key = (proxy_spec.key_env.is_none()
            && routes.iter().any(|r| r.auth == RouteAuth::Key))
        .then(|| EnvVarSpec::Full {
            name: DEFAULT_KEY_ENV.into(),
            description: Some(
                "API key clients send as \"Authorization: Bearer <key>\" (generated when empty)."
                    .into(),
            ),
            default: None,
            public: false,
            generate: Some(Generate::Key),
        });
        let key_env = proxy_spec
            .key_env
            .as_deref()
            .or_else(|| implicit_key.as_ref().map(|k| k.name()))
            .map(|k| EnvName::parse(k, "field `proxy.key_env`"))
            .transpose()?;
        let mut paths = BTreeSet::new();
        for r in &routes {
            if r.path.starts_with(HEALTH_PREFIX) && r.rewrite.is_none() {
                bail!(
                    "route {} is under {HEALTH_PREFIX}, which linode-ai keeps for health checks",
                    r.path
                );
            }
            if !paths.insert(r.path.clone()) {
                bail!("the proxy path {} is listed twice", r.path);
            }
        }
        let proxy_deps = deps(&proxy_spec.depends_on);
        for (d, cond) in &proxy_deps {
            let Some(s) = services.iter().find(|s| &s.name == d) else {
                bail!(
                    "proxy.depends_on names {}, which is not a service",
                    quote(d)
                );
            };
            if *cond == Condition::Healthy && s.health.is_none() {
                bail!("the proxy waits for \"{d}\" to be healthy, but it has no health check");
            }
        }
        if let Some(script) = l.post_start_script.as_ref().or(legacy_post.as_ref()) {
            if script.len() > 8192 {
                bail!("post_start_script is {} bytes; keep it under 8 KiB (user-data is limited to 16 KiB)", script.len());
            }
        }

        let mut post_start_jobs: Vec<Job> = Vec::new();
        for j in &l.post_start_jobs {
            let name = ServiceName::parse(&j.name)
                .map_err(|e| anyhow::anyhow!("post_start_jobs[].name: {e}"))?;
            if post_start_jobs.iter().any(|x| x.name == name) {
                bail!("post_start_jobs: two jobs are named {}", quote(&j.name));
            }
            let what = format!("post_start_jobs {}", j.name);
            for (k, v) in &j.environment {
                if !is_env_name(k) {
                    bail!(
                        "{what}: environment name {} is not a variable name",
                        quote(k)
                    );
                }
                references(v).map_err(|e| anyhow::anyhow!("{what}: environment {k}: {e}"))?;
            }
            for p in &j.env {
                check_env_pattern(p, &format!("{what}: env"))?;
            }
            if j.script.trim().is_empty() {
                bail!("{what}: the script is empty");
            }
            post_start_jobs.push(Job {
                name,
                image: ImageRef::parse(&j.image, &format!("{what}: image"))?,
                env: j.env.clone(),
                environment: j
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                script: j.script.clone(),
            });
        }

        Ok(Stack {
            services: boot_order(services)?,
            fronted,
            proxy: Proxy {
                key_env,
                routes,
                depends_on: proxy_deps,
            },
            post_start_script: l.post_start_script.clone().or(legacy_post),
            post_start_jobs,
            implicit_key,
        })
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn fronted_service(&self) -> &Service {
        self.service(&self.fronted).expect("fronted service exists")
    }

    /// Replaces the fronted service's image (`--image`, `deploy.image`).
    pub fn with_image(mut self, image: &ImageRef) -> Stack {
        let fronted = self.fronted.clone();
        if let Some(s) = self.services.iter_mut().find(|s| s.name == fronted) {
            s.image = image.clone();
        }
        self
    }

    /// The probes `status` sends: one per service with a health check, fronted first.
    pub fn probes(&self) -> Vec<Probe> {
        let mut out: Vec<Probe> = self
            .services
            .iter()
            .filter_map(|s| {
                let h = s.health.as_ref()?;
                Some(Probe {
                    service: s.name.to_string(),
                    path: UrlPath::health(&s.name).to_string(),
                    success_codes: h.success_codes.clone(),
                    timeout_seconds: h.timeout_seconds,
                })
            })
            .collect();
        out.sort_by_key(|p| p.service != self.fronted);
        out
    }

    /// Whether any service needs the GPU.
    pub fn needs_gpu(&self) -> bool {
        self.services.iter().any(|s| s.gpus)
    }

    /// Project vars no service, the proxy or a script uses (for a warning).
    pub fn unused_vars<'a>(&self, vars: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
        vars.filter(|v| {
            Some(*v) != self.proxy.key_env.as_deref()
                && !self.services.iter().any(|s| {
                    s.receives(v)
                        || s.environment
                            .iter()
                            .any(|(_, val)| val.contains(&format!("${{{v}}}")))
                })
        })
        .collect()
    }
}

/// Services keyed by name (for tests and the hook context).
pub fn by_name(stack: &Stack) -> BTreeMap<&str, &Service> {
    stack
        .services
        .iter()
        .map(|s| (s.name.as_str(), s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::template::TemplateSpec;

    fn spec(services_yaml: &str, proxy_yaml: &str) -> Result<Stack> {
        let text = format!(
            "name: t\nversion: '1'\ndeploy:\n  linode:\n    services:\n{services_yaml}\n{proxy_yaml}\nenv:\n  optional:\n    - {{name: KEY, generate: key}}\n    - OLLAMA_X\n"
        );
        let spec: TemplateSpec =
            serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{e}\n{text}"))?;
        Stack::from_spec(&spec)
    }

    const TWO: &str = "      - {name: ui, image: ui:1, port: 8080, depends_on: [{service: db, condition: healthy}], health: {path: /health}}\n      - {name: db, image: db:1, port: 5432, health: {path: /ready}}";

    #[test]
    fn dependencies_order_the_boot() {
        let s = spec(
            TWO,
            "    proxy: {key_env: KEY, routes: [{path: /*, service: ui, auth: app}]}",
        )
        .unwrap();
        let order: Vec<_> = s.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["db", "ui"]);
        assert_eq!(s.fronted, "ui");
        let probes: Vec<_> = s.probes().iter().map(|p| p.path.clone()).collect();
        assert_eq!(probes, ["/healthz/ui", "/healthz/db"], "fronted first");
    }

    #[test]
    fn args_may_name_only_public_variables() {
        // KEY is a generated secret: in an argument it would show in `ps` and `docker inspect`.
        let e = spec(
            "      - {name: a, image: a:1, port: 1, args: [--token, '${KEY}']}",
            "    proxy: {key_env: KEY}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("${KEY}") && e.contains("public: true"), "{e}");
    }

    #[test]
    fn graph_errors_are_named() {
        let cyc = "      - {name: a, image: a:1, port: 1, depends_on: [b], front: true}\n      - {name: b, image: b:1, depends_on: [c]}\n      - {name: c, image: c:1, depends_on: [a]}";
        let e = spec(cyc, "    proxy: {key_env: KEY}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle") && e.contains("a -> b -> c -> a"), "{e}");
        let missing = "      - {name: a, image: a:1, port: 1, depends_on: [bb]}\n      - {name: b, image: b:1}";
        let e = spec(missing, "    proxy: {key_env: KEY}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"bb\"") && e.contains("Did you mean \"b\""),
            "{e}"
        );
        let dup = "      - {name: a, image: a:1, port: 1}\n      - {name: a, image: b:1}";
        assert!(spec(dup, "").unwrap_err().to_string().contains("twice"));
        let two_fronts =
            "      - {name: a, image: a:1, port: 1}\n      - {name: b, image: b:1, port: 2}";
        let e = spec(two_fronts, "    proxy: {key_env: KEY}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("front: true"), "{e}");
        let reserved = "      - {name: proxy, image: a:1, port: 1}";
        assert!(spec(reserved, "")
            .unwrap_err()
            .to_string()
            .contains("reserved"));
        let no_health = "      - {name: a, image: a:1, port: 1, depends_on: [{service: b, condition: healthy}]}\n      - {name: b, image: b:1}";
        assert!(spec(no_health, "    proxy: {key_env: KEY}")
            .unwrap_err()
            .to_string()
            .contains("no health check"));
    }

    #[test]
    fn routes_need_a_key_or_an_explicit_auth() {
        let one = "      - {name: a, image: a:1, port: 1}";
        // No key named: linode-ai's own, generated like any other.
        let s = spec(one, "").unwrap();
        assert_eq!(s.proxy.key_env.as_deref(), Some(DEFAULT_KEY_ENV));
        assert!(s.implicit_key.is_some());
        assert_eq!(s.proxy.routes[0].auth, RouteAuth::Key);
        let s = spec(
            one,
            "    proxy: {key_env: KEY, allowed_paths: [/v1/*], public_paths: [/health]}",
        )
        .unwrap();
        let paths: Vec<_> = s
            .proxy
            .routes
            .iter()
            .map(|r| (r.path.as_str(), r.auth))
            .collect();
        assert_eq!(
            paths,
            [("/health", RouteAuth::Public), ("/v1/*", RouteAuth::Key)]
        );
        let e = spec(
            one,
            "    proxy: {key_env: KEY, routes: [{path: /healthz/x, service: a}]}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("health checks"), "{e}");
        let e = spec(
            one,
            "    proxy: {key_env: KEY, routes: [{path: /, page: nope}]}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("chat"), "{e}");
        let e = spec(one, "    proxy: {key_env: UNDECLARED}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not declare"), "{e}");
    }

    #[test]
    fn env_patterns_and_references() {
        let svc = "      - {name: a, image: a:1, port: 1, env: [OLLAMA_*], environment: {URL: 'https://${LINODE_AI_HOSTNAME}/x', K2: '${KEY}'}}";
        let s = spec(svc, "    proxy: {key_env: KEY}").unwrap();
        let a = s.service("a").unwrap();
        assert!(a.receives("OLLAMA_X") && !a.receives("KEY"));
        assert_eq!(
            s.unused_vars(["KEY", "OLLAMA_X", "OTHER"].into_iter()),
            ["OTHER"]
        );
        let bad = "      - {name: a, image: a:1, port: 1, environment: {URL: '${NOPE}'}}";
        assert!(spec(bad, "    proxy: {key_env: KEY}")
            .unwrap_err()
            .to_string()
            .contains("does not declare"));
        assert!(references("${A").is_err());
        assert_eq!(references("x${A}y${B_2}").unwrap(), ["A", "B_2"]);
    }

    /// Random graphs: the order always respects every dependency, or a cycle is reported.
    /// The simple (cubic) sort the linear one replaced: among the services
    /// whose dependencies have started, the first declared; the cycle found
    /// by walking from the first blocked service.
    fn reference_order(services: Vec<Service>) -> Result<Vec<String>, String> {
        let mut remaining = services;
        let mut done: Vec<Service> = Vec::new();
        while !remaining.is_empty() {
            let ready = remaining.iter().position(|s| {
                s.depends_on
                    .iter()
                    .all(|(d, _)| done.iter().any(|x| &x.name == d))
            });
            match ready {
                Some(i) => done.push(remaining.remove(i)),
                None => {
                    let mut path = vec![remaining[0].name.to_string()];
                    loop {
                        let cur = path.last().unwrap();
                        let next = remaining
                            .iter()
                            .find(|s| &s.name == cur)
                            .and_then(|s| {
                                s.depends_on
                                    .iter()
                                    .find(|(d, _)| remaining.iter().any(|r| &r.name == d))
                            })
                            .map(|(d, _)| d.clone())
                            .unwrap();
                        if let Some(start) = path.iter().position(|p| *p == next) {
                            let mut cycle = path[start..].to_vec();
                            cycle.push(next);
                            return Err(format!(
                                "services depend on each other in a cycle: {}",
                                cycle.join(" -> ")
                            ));
                        }
                        path.push(next);
                    }
                }
            }
        }
        Ok(done.into_iter().map(|s| s.name.into()).collect())
    }

    /// A chain of `n` services, each depending on the next (the last on none):
    /// boot order is the reverse of the declaration.
    fn chain(n: usize) -> String {
        let mut yaml = String::from(
            "name: t\nversion: '1'\ndeploy:\n  linode:\n    services:\n      - {name: s0, image: i:1, port: 80, front: true, depends_on: [s1]}\n",
        );
        for i in 1..n {
            let dep = if i + 1 < n {
                format!("[s{}]", i + 1)
            } else {
                "[]".into()
            };
            yaml.push_str(&format!(
                "      - {{name: s{i}, image: i:1, depends_on: {dep}}}\n"
            ));
        }
        yaml
    }

    /// Issue 16, item 7: a template's service count is capped, and checked
    /// before the graph is built (4,000 services took a minute per command).
    #[test]
    fn too_many_services_are_refused_before_the_graph_is_built() {
        let e = format!(
            "{:#}",
            crate::blueprint::parse_template(&chain(200), "t.yml").unwrap_err()
        );
        assert!(
            e.contains("200 services") && e.contains("at most 32"),
            "{e}"
        );
        // At the cap: accepted, in dependency order.
        let spec = crate::blueprint::parse_template(&chain(32), "t.yml").unwrap();
        let stack = Stack::from_spec(&spec).unwrap();
        let order: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
        let want: Vec<String> = (0..32).rev().map(|i| format!("s{i}")).collect();
        assert_eq!(order, want);
    }

    #[test]
    fn boot_order_respects_dependencies_in_random_graphs() {
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..500 {
            let n = 1 + next(7) as usize;
            let mut svcs = Vec::new();
            for i in 0..n {
                let mut deps = Vec::new();
                for j in 0..n {
                    if i != j && next(4) == 0 {
                        deps.push((format!("s{j}"), Condition::Started));
                    }
                }
                svcs.push(Service {
                    name: ServiceName::parse(&format!("s{i}")).unwrap(),
                    image: ImageRef::parse("i:1", "image").unwrap(),
                    args: vec![],
                    port: None,
                    env: vec![],
                    environment: vec![],
                    volumes: vec![],
                    gpus: false,
                    ipc_host: false,
                    volumes_per_replica: false,
                    depends_on: deps,
                    health: None,
                    post_start_script: None,
                });
            }
            let got = boot_order(svcs.clone());
            assert_eq!(
                got.as_ref()
                    .map(|o| o.iter().map(|s| s.name.to_string()).collect::<Vec<_>>())
                    .map_err(|e| e.to_string()),
                reference_order(svcs.clone()),
                "the linear sort gives the order (or names the cycle) the simple one did"
            );
            match got {
                Ok(order) => {
                    assert_eq!(order.len(), n);
                    for (pos, s) in order.iter().enumerate() {
                        for (d, _) in &s.depends_on {
                            let dpos = order.iter().position(|x| &x.name == d).unwrap();
                            assert!(dpos < pos, "{d} before {}", s.name);
                        }
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains("cycle"), "{msg}");
                    // The named cycle is real: each step is a dependency.
                    let names: Vec<&str> = msg.rsplit(": ").next().unwrap().split(" -> ").collect();
                    assert_eq!(names.first(), names.last());
                    for w in names.windows(2) {
                        let s = svcs.iter().find(|s| s.name == w[0]).unwrap();
                        assert!(s.depends_on.iter().any(|(d, _)| d == w[1]), "{msg}");
                    }
                }
            }
        }
    }
}
