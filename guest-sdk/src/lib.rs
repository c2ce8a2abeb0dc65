//! Write linode-ai template hooks in Rust.
//!
//! A hook is a WebAssembly component that a template ships next to its
//! `template.yml` (field `hook: hook.wasm`). It can customise the cloud-init
//! user-data and judge the health probes of the services. Implement
//! [`Template`] (every method has a default that defers to linode-ai's
//! built-in behaviour) and export it with [`export_template!`]:
//!
//! ```no_run
//! use linode_ai_guest_sdk::{export_template, CloudConfig, DeployContext, HealthVerdict, ProbeResult, ServiceProbe, Template};
//!
//! struct Hook;
//!
//! impl Template for Hook {
//!     fn render_user_data(ctx: &DeployContext, default: &str) -> Result<Option<String>, String> {
//!         let mut cc = CloudConfig::parse(default)?;
//!         cc.add_package("htop");
//!         cc.add_runcmd(["echo", &format!("deployed {}", ctx.app_name)]);
//!         Ok(Some(cc.render()?))
//!     }
//!
//!     fn evaluate_health(_ctx: &DeployContext, probes: &[ServiceProbe]) -> Option<HealthVerdict> {
//!         match &probes.first()?.probe {
//!             ProbeResult::Response(r) if r.body.contains("ready") => Some(HealthVerdict::Healthy),
//!             ProbeResult::Response(_) => Some(HealthVerdict::Starting("warming up".into())),
//!             ProbeResult::Error(_) => None, // built-in rule
//!         }
//!     }
//! }
//!
//! export_template!(Hook);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` (after
//! `rustup target add wasm32-wasip2`); the crate must be a `cdylib`.
//! `linode-ai templates add --dev DIR` builds it for you on every use.
//!
//! Hooks run sandboxed: no files, network or environment; the clocks are
//! fixed and randomness is seeded (a hook renders the same document every
//! time); memory, tables, instances, fuel and time are bounded. While the
//! user-data is rendered for display, secret env values read `<redacted>`.
#![deny(missing_docs)]

#[doc(hidden)]
pub mod __bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "wit",
        world: "template-hooks",
        pub_export_macro: true,
        export_macro_name: "__export_template_hooks",
        default_bindings_module: "linode_ai_guest_sdk::__bindings",
    });
}

pub use __bindings::linode_ai::hooks::types::{
    DeployContext, EnvVar, Header, HealthVerdict, HttpResponse, LogLevel, ProbeResult, Service,
    ServiceProbe,
};

/// The hooks interface this SDK implements (`wit/hooks.wit`).
pub const WIT: &str = include_str!("../wit/hooks.wit");

/// The interface version, read from [`WIT`] (e.g. `0.2.0`).
pub fn interface_version() -> &'static str {
    WIT.lines()
        .find_map(|l| l.trim().strip_prefix("package linode-ai:hooks@"))
        .map(|v| v.trim_end_matches(';'))
        .unwrap_or("unknown")
}

/// Writes a message to linode-ai's diagnostic output.
pub fn log(level: LogLevel, message: &str) {
    __bindings::linode_ai::hooks::host::log(level, message)
}

/// A template's hooks. Each method's default defers to linode-ai's built-in behaviour.
pub trait Template {
    /// Returns new user-data (`Ok(Some(doc))`), keeps the default (`Ok(None)`),
    /// or stops the deploy with a message (`Err`). The document must start with
    /// `#cloud-config` and be at most 16384 bytes.
    fn render_user_data(
        ctx: &DeployContext,
        default_user_data: &str,
    ) -> Result<Option<String>, String> {
        let _ = (ctx, default_user_data);
        Ok(None)
    }

    /// Judges the services' health probes (the fronted service first);
    /// `None` uses the built-in rule (every success code healthy, no answer
    /// starting, anything else unhealthy).
    fn evaluate_health(ctx: &DeployContext, probes: &[ServiceProbe]) -> Option<HealthVerdict> {
        let _ = (ctx, probes);
        None
    }
}

/// Exports a [`Template`] implementation as the component's hooks.
#[macro_export]
macro_rules! export_template {
    ($ty:ty) => {
        #[doc(hidden)]
        struct __LinodeAiHookExport;
        impl $crate::__bindings::exports::linode_ai::hooks::guest::Guest for __LinodeAiHookExport {
            fn render_user_data(ctx: $crate::DeployContext, default_user_data: String) -> Result<Option<String>, String> {
                <$ty as $crate::Template>::render_user_data(&ctx, &default_user_data)
            }
            fn evaluate_health(ctx: $crate::DeployContext, probes: Vec<$crate::ServiceProbe>) -> Option<$crate::HealthVerdict> {
                <$ty as $crate::Template>::evaluate_health(&ctx, &probes)
            }
        }
        $crate::__bindings::__export_template_hooks!(__LinodeAiHookExport with_types_in $crate::__bindings);
    };
}

impl DeployContext {
    /// The value of an env var from the project's env file, if set.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env_vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// A service by name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The service the proxy fronts.
    pub fn fronted(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.fronted)
    }
}

use serde_yaml::{Mapping, Value};

/// A cloud-config document to edit with builders instead of string pasting.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    doc: Mapping,
}

const ENV_FILE: &str = "/etc/build-ai.env";

impl CloudConfig {
    /// Parses a `#cloud-config` document (such as the default user-data).
    pub fn parse(text: &str) -> Result<CloudConfig, String> {
        if !text.starts_with("#cloud-config") {
            return Err("user-data must start with #cloud-config".into());
        }
        let value: Value =
            serde_yaml::from_str(text).map_err(|e| format!("user-data is not YAML: {e}"))?;
        match value {
            Value::Mapping(doc) => Ok(CloudConfig { doc }),
            _ => Err("user-data must be a YAML mapping".into()),
        }
    }

    fn list(&mut self, key: &str) -> &mut Vec<Value> {
        let entry = self
            .doc
            .entry(Value::from(key))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if !entry.is_sequence() {
            *entry = Value::Sequence(Vec::new());
        }
        entry.as_sequence_mut().expect("sequence")
    }

    /// Adds a distro package to install.
    pub fn add_package(&mut self, name: &str) -> &mut Self {
        self.list("packages").push(Value::from(name));
        self
    }

    /// Adds a file (permissions like `"0644"`, owned by root).
    pub fn add_file(&mut self, path: &str, content: &str, permissions: &str) -> &mut Self {
        let mut f = Mapping::new();
        f.insert("path".into(), path.into());
        f.insert("permissions".into(), permissions.into());
        f.insert("owner".into(), "root:root".into());
        f.insert("content".into(), content.into());
        self.list("write_files").push(Value::Mapping(f));
        self
    }

    /// Appends a command (argv form) to `runcmd`: it runs after linode-ai's
    /// boot script (every service and the proxy started).
    pub fn add_runcmd<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, argv: I) -> &mut Self {
        let cmd = argv.into_iter().map(|a| Value::from(a.as_ref())).collect();
        self.list("runcmd").push(Value::Sequence(cmd));
        self
    }

    /// Sets an env var (appended to `/etc/build-ai.env`; services that list
    /// it, or `*`, receive it).
    pub fn add_env_var(&mut self, name: &str, value: &str) -> Result<&mut Self, String> {
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("\"{name}\" is not a valid variable name"));
        }
        let mut quoted = String::from("$'");
        for c in value.chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '\'' => quoted.push_str("\\'"),
                '\n' => quoted.push_str("\\n"),
                '\r' => quoted.push_str("\\r"),
                '\t' => quoted.push_str("\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    quoted.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        let line = format!("{name}={quoted}\n");
        for f in self.list("write_files").iter_mut() {
            if f.get("path").and_then(Value::as_str) == Some(ENV_FILE) {
                if let Some(Value::String(content)) =
                    f.as_mapping_mut().and_then(|m| m.get_mut("content"))
                {
                    content.push_str(&line);
                    return Ok(self);
                }
            }
        }
        Err(format!(
            "{ENV_FILE} is not in this document; was it rendered by linode-ai?"
        ))
    }

    /// Serialises back to a `#cloud-config` document.
    pub fn render(&self) -> Result<String, String> {
        let body = serde_yaml::to_string(&self.doc).map_err(|e| e.to_string())?;
        Ok(format!("#cloud-config\n{body}"))
    }
}
