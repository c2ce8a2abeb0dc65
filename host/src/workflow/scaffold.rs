//! `templates new`: a template directory to edit, starting from a stock
//! template's services, with a Rust hook crate on the guest SDK. The SDK and
//! its WIT are vendored into the crate (`hook/vendor/`), so it builds
//! anywhere, with no path back into linode-ai's repository.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::blueprint::template::Template;

const SDK_LIB: &str = include_str!("../../../guest-sdk/src/lib.rs");
const SDK_WIT: &str = include_str!("../../../wit/hooks.wit");

const SDK_MANIFEST: &str = r#"[package]
name = "linode-ai-guest-sdk"
description = "Write linode-ai template hooks (WebAssembly components) in Rust (vendored by linode-ai templates new)"
version = "@VERSION@"
edition = "2021"
license = "Apache-2.0"

[dependencies]
wit-bindgen = "0.63"
serde_yaml = "0.9"
"#;

const HOOK_MANIFEST: &str = r#"[package]
name = "@NAME@-hook"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
linode-ai-guest-sdk = { path = "vendor/linode-ai-guest-sdk" }

[profile.release]
opt-level = "s"
lto = true
strip = true
panic = "abort"

# Not part of any surrounding workspace.
[workspace]
"#;

const HOOK_LIB: &str = r#"//! The hook of template `@NAME@`. linode-ai runs it sandboxed: it sees the
//! deployment (services, env values; secrets read `<redacted>` when the plan
//! is shown) and returns the user-data and health verdicts.
//!
//! Try it: `linode-ai deploy --dry-run` in a project of this template shows
//! the hook's log lines and what it changed; `linode-ai hook test .
//! --probe-status 200 --probe-body body.json` runs evaluate-health.

use linode_ai_guest_sdk::{
    export_template, log, CloudConfig, DeployContext, HealthVerdict, LogLevel, ProbeResult, ServiceProbe, Template,
};

struct Hook;

impl Template for Hook {
    fn render_user_data(ctx: &DeployContext, default_user_data: &str) -> Result<Option<String>, String> {
        let mut cc = CloudConfig::parse(default_user_data)?;
        cc.add_file(
            "/etc/motd",
            &format!("{} ({} {}) deployed with linode-ai\n", ctx.app_name, ctx.template, ctx.template_version),
            "0644",
        );
        log(LogLevel::Info, &format!("added /etc/motd for {}", ctx.app_name));
        Ok(Some(cc.render()?))
    }

    fn evaluate_health(_ctx: &DeployContext, probes: &[ServiceProbe]) -> Option<HealthVerdict> {
        // The fronted service comes first. An empty answer is not ready yet;
        // anything else goes to the built-in rule (success codes are healthy).
        match &probes.first()?.probe {
            ProbeResult::Response(r) if r.status == 200 && r.body.trim().is_empty() => {
                Some(HealthVerdict::Starting("the app answered, but with nothing yet".into()))
            }
            _ => None,
        }
    }
}

export_template!(Hook);
"#;

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the template directory `dir` named `name`, starting from `from`.
pub fn new_template(
    dir: &Path,
    name: &str,
    from: &Template,
    with_hook: bool,
) -> Result<Vec<String>> {
    crate::naming::check_name("template name", name)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty; choose a new or empty directory",
            dir.display()
        );
    }
    let mut spec = from.spec.clone();
    spec.name = name.to_string();
    spec.version = "0.1.0".into();
    spec.display_name = Some(name.to_string());
    spec.description = format!(
        "Made with linode-ai templates new from {} {}.",
        from.name(),
        from.version()
    );
    spec.hook = with_hook.then(|| "hook.wasm".to_string());
    crate::blueprint::check_template(&spec)?;
    let yaml = serde_yaml::to_string(&spec)?;
    let mut written = Vec::new();
    write(
        &dir.join("template.yml"),
        &format!("# Template {name}: edit the services, proxy routes and env vars; see linode-ai's README.\n{yaml}"),
    )?;
    written.push("template.yml".to_string());
    let mut readme = format!(
        "# {name}\n\nA linode-ai template, started from `{}`.\n\n```sh\nlinode-ai templates add --dev .   # installed, read from here on every use\n\
         linode-ai init {name} --directory ../demo\nlinode-ai deploy --dry-run --directory ../demo\n```\n",
        from.name()
    );
    if with_hook {
        readme.push_str(&format!(
            "\nThe hook is the Rust crate in `hook/` (the guest SDK and the WIT are vendored in `hook/vendor/`).\n\
             With `--dev`, linode-ai rebuilds it on every use (it needs `rustup target add wasm32-wasip2` once).\n\
             Test its health logic without a Linode:\n\n```sh\necho '{{\"models\": []}}' > body.json\n\
             linode-ai hook test . --probe-status 200 --probe-body body.json\n```\n\
             Interface: `hook/vendor/linode-ai-guest-sdk/wit/hooks.wit` (linode-ai:hooks@{}).\n",
            crate::hooks::interface::package_version(SDK_WIT)
        ));
        write(
            &dir.join("hook/Cargo.toml"),
            &HOOK_MANIFEST.replace("@NAME@", name),
        )?;
        write(
            &dir.join("hook/src/lib.rs"),
            &HOOK_LIB.replace("@NAME@", name),
        )?;
        let vendor = dir.join("hook/vendor/linode-ai-guest-sdk");
        write(
            &vendor.join("Cargo.toml"),
            &SDK_MANIFEST.replace(
                "@VERSION@",
                crate::hooks::interface::package_version(SDK_WIT),
            ),
        )?;
        write(&vendor.join("src/lib.rs"), SDK_LIB)?;
        write(&vendor.join("wit/hooks.wit"), SDK_WIT)?;
        written.extend([
            "hook/Cargo.toml".into(),
            "hook/src/lib.rs".into(),
            "hook/vendor/linode-ai-guest-sdk/".into(),
        ]);
        write(&dir.join(".gitignore"), "hook/target/\nhook.wasm\n")?;
        written.push(".gitignore".into());
    }
    write(&dir.join("README.md"), &readme)?;
    written.push("README.md".into());
    Ok(written)
}

#[cfg(test)]
mod tests {
    /// The copies of the WIT that must stand alone (the SDK crate, the Python
    /// and JavaScript examples a template author copies) are the WIT itself.
    #[test]
    fn vendored_wit_copies_are_the_wit() {
        for (path, copy) in [
            (
                "guest-sdk/wit/hooks.wit",
                include_str!("../../../guest-sdk/wit/hooks.wit"),
            ),
            (
                "templates/examples/ollama-ready-py/wit/hooks.wit",
                include_str!("../../../templates/examples/ollama-ready-py/wit/hooks.wit"),
            ),
            (
                "templates/examples/ollama-ready-js/wit/hooks.wit",
                include_str!("../../../templates/examples/ollama-ready-js/wit/hooks.wit"),
            ),
        ] {
            assert!(
                copy == super::SDK_WIT,
                "{path} differs from wit/hooks.wit: copy it over"
            );
        }
    }
}
