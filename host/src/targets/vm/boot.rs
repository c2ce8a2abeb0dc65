//! What the instance does on first boot, rendered as cloud-config.
//!
//! cloud-init installs Docker from the Ubuntu archive and writes the files;
//! one script (`linode-ai-boot`) then runs every step in order and stops at
//! the first failure: image pulls start at once in the background, a private
//! Docker network is created, the TLS proxy starts as early as its
//! dependencies allow (so the certificate is ordered while the rest starts),
//! the GPU driver is installed when a service needs it, each service starts
//! in dependency order with host-side health waits, and the post-start
//! script runs last. Each step is recorded in `boot.json`, which the proxy
//! serves at `/healthz/boot`; a failed step is named there, in the boot log
//! and by `linode-ai status`.
//!
//! Only the proxy publishes ports. Env values live only in `/etc/build-ai.env`
//! (0600); each container receives just the variables its service lists.

use crate::blueprint::proxy::{self, BOOT_PATH, CADDYFILE, CADDY_IMAGE, STATUS_DIR, WWW_DIR};
use crate::blueprint::stack::{pieces, references, Piece, Service, Stack, Target, NETWORK, PROXY};
use crate::blueprint::template::{Condition, EnvVars};
use crate::shell::{env_line, env_value_unquote, shell_quote, strip_comments};
use crate::targets::vm::cloud_init::{CloudConfig, WriteFile};

pub const ENV_FILE: &str = "/etc/build-ai.env";
pub const BOOT_SCRIPT: &str = "/usr/local/bin/linode-ai-boot";
pub const STEP_SCRIPT: &str = "/usr/local/bin/linode-ai-step";
/// Copies stdin to stdout with every secret value of the env file cut out.
pub const REDACT_SCRIPT: &str = "/usr/local/bin/linode-ai-redact";
/// Keeps containers away from the metadata service (which serves the user-data,
/// and so every secret); run before Docker starts, at every boot.
pub const METADATA_BLOCK_SCRIPT: &str = "/usr/local/sbin/linode-ai-block-metadata";
/// The systemd drop-in that runs it whenever Docker starts.
pub const DOCKER_DROP_IN: &str = "/etc/systemd/system/docker.service.d/linode-ai.conf";
/// Linode's metadata service.
pub const METADATA_ADDRESS: &str = "169.254.169.254";
/// The boot script's helper functions (stored compressed: user-data is limited to 16 KiB).
pub const BOOT_LIB: &str = "/usr/local/lib/linode-ai/boot-lib.sh";
/// The template's post-start script (the original plan's path).
pub const POST_START_SCRIPT: &str = "/usr/local/bin/post-start.sh";
const SERVICE_SCRIPTS: &str = "/usr/local/lib/linode-ai";
/// The chat page, embedded in the binary.
pub const CHAT_PAGE: &str = include_str!("../../../assets/chat.html");

/// Everything the rendering needs beyond the stack.
#[derive(Debug, Clone)]
pub struct BootInput<'a> {
    pub stack: &'a Stack,
    /// Values written to the env file (placeholders when rendering for display).
    pub env: &'a EnvVars,
    /// `--domain`: serve this name instead of the instance's rDNS name.
    pub domain: Option<&'a str>,
    pub https_port: u16,
    /// Ubuntu NVIDIA driver branch, when the template needs a GPU.
    pub nvidia_driver: Option<&'a str>,
    /// `--acme-ca`: the ACME directory the proxy orders its certificate from
    /// (Let's Encrypt when `None`).
    pub acme_ca: Option<&'a str>,
    /// Env vars whose values are not secret (the template marks them `public`);
    /// every other value is cut from the logs linode-ai prints.
    pub public_env: &'a [String],
    /// The label of the cache volume attached to the instance (Block
    /// Storage): Docker's data lives on it.
    pub cache_volume: Option<&'a str>,
}

/// The env file: one `KEY=$'value'` line per variable (bash reads it back byte for byte).
pub fn env_file_content(env: &EnvVars) -> String {
    let mut out = String::from(
        "# Written by linode-ai. Read by linode-ai-boot (bash); each service gets only the variables it lists.\n",
    );
    for (k, v) in env {
        out.push_str(&env_line(k, v));
    }
    out
}

/// `export NAME=...` for a fixed value: literal parts single-quoted,
/// `${VAR}` references expanded (the value never appears in a process's arguments).
fn export_fixed(name: &str, value: &str) -> String {
    let word = expanding_word(value);
    format!("    export {name}={word}\n    args+=(-e {name})\n")
}

/// One shell word for `value`: literal parts single-quoted, `${VAR}`
/// references double-quoted (expanded, never split).
fn expanding_word(value: &str) -> String {
    let single = |t: &str| format!("'{}'", t.replace('\'', r"'\''"));
    // Values were checked when the stack was built; one that still does not
    // read is all text.
    let parts = pieces(value).unwrap_or_else(|_| vec![Piece::Text(value)]);
    if parts.is_empty() {
        return single("");
    }
    parts
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => single(t),
            Piece::Var(v) => format!("\"${{{v}}}\""),
        })
        .collect()
}

fn fn_name(service: &str) -> String {
    service.replace('-', "_")
}

/// `start_<service>`: the container on the private network, nothing published.
fn start_function(s: &Service) -> String {
    let mut f = format!(
        "start_{}() {{\n  (\n    trap - ERR\n    load_env\n    args=()\n",
        fn_name(&s.name)
    );
    if !s.env.is_empty() {
        let patterns: Vec<String> = s.env.iter().map(|p| shell_quote(p)).collect();
        f.push_str(&format!(
            "    while IFS= read -r n; do args+=(-e \"$n\"); done < <(env_names {})\n",
            patterns.join(" ")
        ));
    }
    for (k, v) in &s.environment {
        f.push_str(&export_fixed(k, v));
    }
    for v in &s.volumes {
        f.push_str(&format!("    args+=(-v {})\n", shell_quote(v)));
    }
    if s.gpus {
        // The runtime `nvidia-ctk` registered (a reload picks it up; `--gpus`
        // needs a Docker restart after the toolkit is installed).
        f.push_str("    args+=(--runtime nvidia -e NVIDIA_VISIBLE_DEVICES=all -e 'NVIDIA_DRIVER_CAPABILITIES=compute,utility')\n");
    }
    if s.ipc_host {
        f.push_str("    args+=(--ipc=host)\n");
    }
    let name = shell_quote(&s.name);
    f.push_str(&format!(
        "    docker rm -f {name} >/dev/null 2>&1 || true\n"
    ));
    let mut run = format!(
        "    docker run -d --name {name} --network \"$LINODE_AI_NETWORK\" --network-alias {name} --restart unless-stopped \\\n      \"${{args[@]}}\" {}",
        shell_quote(&s.image)
    );
    for a in &s.args {
        run.push(' ');
        // `${VAR}` of a public variable (checked by the stack), e.g. `--model ${LLM_MODEL}`.
        if a.contains("${") {
            run.push_str(&expanding_word(a));
        } else {
            run.push_str(&shell_quote(a));
        }
    }
    f.push_str(&run);
    f.push_str("\n  )\n}\n");
    f
}

fn start_proxy_function(stack: &Stack) -> String {
    let mut f = String::from("start_proxy() {\n  (\n    trap - ERR\n    load_env\n    args=()\n");
    if let Some(key) = &stack.proxy.key_env {
        // Fail closed: no key, no site.
        f.push_str(&format!(
            "    if [[ -z ${{{key}:-}} ]]; then echo \"linode-ai: {key} is empty; refusing to expose the app without a key\" >&2; exit 1; fi\n    args+=(-e {key})\n"
        ));
    }
    f.push_str(&format!(
        "    docker rm -f {PROXY} >/dev/null 2>&1 || true\n    docker run -d --name {PROXY} --network \"$LINODE_AI_NETWORK\" --restart unless-stopped \\\n      -p 80:80 -p \"$LINODE_AI_HTTPS_PORT:$LINODE_AI_HTTPS_PORT\" \\\n      -e LINODE_AI_HOSTNAME -e LINODE_AI_HTTPS_PORT -e LINODE_AI_ACME_CA \"${{args[@]}}\" \\\n      -v caddy-data:/data -v caddy-config:/config \\\n      -v {CADDYFILE}:/etc/caddy/Caddyfile:ro \\\n      -v {WWW_DIR}:/srv/www:ro -v {STATUS_DIR}:/srv/linode-ai:ro \\\n      {}\n  )\n}}\n",
        shell_quote(CADDY_IMAGE)
    ));
    f
}

/// `post_start_<service>`: the service's post-start script with its URL.
/// The address is kept in a `LINODE_AI_` variable, which no project var may
/// be named, so sourcing the env file cannot change it.
fn post_start_function(s: &Service) -> Option<String> {
    s.post_start_script.as_ref()?;
    let port = s.port.unwrap_or(80);
    Some(format!(
        "post_start_{f}() {{\n  local LINODE_AI_IP\n  LINODE_AI_IP=$(container_ip {name})\n  (\n    trap - ERR\n    load_env\n    LINODE_AI_SERVICE_URL=\"http://$LINODE_AI_IP:{port}\" exec bash {SERVICE_SCRIPTS}/post-start-{name}.sh\n  )\n}}\n",
        f = fn_name(&s.name),
        name = s.name
    ))
}

// The static shell lives in `assets/boot/` (checked by shellcheck as files);
// `@NAME@` placeholders are filled from the constants here, never retyped.

/// The start of the boot script: strict mode, the boot's own variables, the
/// helper library. `@ACME_CA@` is a line of its own, removed when unset.
const PRELUDE: &str = include_str!("../../../assets/boot/prelude.sh");

/// Helper functions of the boot script: steps and their failure, apt,
/// downloads, background pulls, env selection, health waits, the public IPv4.
pub(super) const LIB: &str = include_str!("../../../assets/boot/lib.sh");

/// The GPU steps: the driver for the running kernel, the container toolkit
/// from NVIDIA's repository, then `nvidia-smi`.
///
/// Canonical's signed prebuilt modules (`linux-modules-nvidia-<branch>-<kernel>`)
/// are used only when they were built for the driver version the archive's
/// user space has: a module package for an older kernel ABI can lag behind
/// `nvidia-utils` (NVML then fails with "Driver/library version mismatch").
/// The module package states its driver as `nvidia-kernel-common-<branch> (>= V)`.
/// Otherwise DKMS builds the same driver for the running kernel. Neither path
/// installs `nvidia-driver-<branch>`, which pulls DKMS, a compiler and X.
const GPU: &str = include_str!("../../../assets/boot/gpu.sh");
/// `mount_cache`: waits for the cache volume, formats it only when blank,
/// mounts it and moves Docker's data root onto it.
const CACHE: &str = include_str!("../../../assets/boot/cache.sh");
/// Where the cache volume is mounted.
pub const CACHE_DIR: &str = "/mnt/linode-ai-cache";

/// `linode-ai-step`: records the current step in `boot.json`.
const STEP: &str = include_str!("../../../assets/boot/step.sh");

/// `linode-ai-redact`: the secret names are filled in; the values are read
/// from the env file (root only) when it runs.
const REDACT: &str = include_str!("../../../assets/boot/redact.sh");

/// Containers may not reach the metadata service, which serves the user-data
/// and so every secret of the deployment. Docker sends the traffic it forwards
/// for containers through DOCKER-USER first. Runs before Docker starts (a
/// systemd drop-in, so the rule survives reboots) and once at first boot, when
/// Docker already runs.
const METADATA_BLOCK: &str = include_str!("../../../assets/boot/metadata-block.sh");

fn prelude(input: &BootInput<'_>) -> String {
    let acme_ca = input
        .acme_ca
        .map(|ca| format!("export LINODE_AI_ACME_CA={}\n", shell_quote(ca)))
        .unwrap_or_default();
    PRELUDE
        .replace("@ENV_FILE@", ENV_FILE)
        .replace("@NETWORK@", NETWORK)
        .replace("@DOMAIN@", &shell_quote(input.domain.unwrap_or("")))
        .replace("@HTTPS_PORT@", &input.https_port.to_string())
        .replace("@ACME_CA@\n", &acme_ca)
        .replace("@LIB@", BOOT_LIB)
}

fn cache_function(label: &str) -> String {
    CACHE
        .replace("@LABEL@", &shell_quote(label))
        .replace("@DIR@", CACHE_DIR)
}

pub(super) fn gpu_function(branch: &str) -> String {
    GPU.replace("@BRANCH@", &shell_quote(branch))
        .replace("@MARKER@", super::gpu_image::MARKER)
}

pub(super) fn step_script() -> String {
    STEP.replace("@STATUS_DIR@", STATUS_DIR)
}

/// `names`: the env variables whose values are cut from logs.
fn redact_script(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| shell_quote(n)).collect();
    REDACT
        .replace("@NAMES@", &quoted.join(" "))
        .replace("@ENV_FILE@", ENV_FILE)
}

fn metadata_block_script() -> String {
    METADATA_BLOCK.replace("@ADDRESS@", METADATA_ADDRESS)
}

fn script_file(path: &str, script: &str) -> WriteFile {
    let mut content = script.to_string();
    if !content.starts_with("#!") {
        content.insert_str(0, "#!/bin/bash\n");
    }
    if !content.ends_with('\n') {
        content.push('\n');
    }
    WriteFile::text(path, "0700", content)
}

/// The page without indentation and blank lines (it is sent in the 16 KiB user-data).
pub fn minify(page: &str) -> String {
    page.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("// "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which services something waits for (`healthy`), in boot order.
fn awaited(stack: &Stack) -> Vec<String> {
    stack
        .services
        .iter()
        .filter(|s| {
            s.post_start_script.is_some()
                || stack
                    .services
                    .iter()
                    .flat_map(|x| &x.depends_on)
                    .chain(&stack.proxy.depends_on)
                    .any(|(d, c)| d == &s.name && *c == Condition::Healthy)
        })
        .map(|s| s.name.to_string())
        .collect()
}

fn wait_line(s: &Service) -> String {
    let h = s
        .health
        .as_ref()
        .expect("only services with health are waited for");
    let codes: Vec<String> = h.success_codes.iter().map(u16::to_string).collect();
    format!(
        "wait_healthy {} {} {} {} {}\n",
        shell_quote(&s.name),
        s.port.unwrap_or(80),
        shell_quote(&h.path),
        h.start_timeout_seconds,
        codes.join(" ")
    )
}

/// Docker's unit drop-in: the metadata block before every start, and with a
/// cache volume, its mount before Docker (after a reboot too).
fn docker_drop_in(cache: bool) -> String {
    let unit = if cache {
        format!("[Unit]\nRequiresMountsFor={CACHE_DIR}\n")
    } else {
        String::new()
    };
    format!("{unit}[Service]\nExecStartPre={METADATA_BLOCK_SCRIPT}\n")
}

/// The boot script's steps.
fn boot_script(stack: &Stack, input: &BootInput<'_>) -> String {
    let mut out = format!(
        "#!/bin/bash\n# Written by linode-ai: boots the app, step by step; the first failure stops it.\n# Progress: {STATUS_DIR}/boot.json (https://<host>{BOOT_PATH}).\n"
    );
    out.push_str(&prelude(input));
    for s in &stack.services {
        out.push('\n');
        out.push_str(&start_function(s));
        if let Some(f) = post_start_function(s) {
            out.push('\n');
            out.push_str(&f);
        }
    }
    out.push('\n');
    out.push_str(&start_proxy_function(stack));

    // The steps.
    let mut images: Vec<String> = vec![CADDY_IMAGE.to_string()];
    for s in &stack.services {
        if !images.iter().any(|i| *i == s.image) {
            images.push(s.image.to_string());
        }
    }
    let image_args: Vec<String> = images.iter().map(|i| shell_quote(i)).collect();
    if input.cache_volume.is_some() {
        out.push_str("\nstep \"mount the cache volume\"\nmount_cache\n");
    }
    out.push_str(&format!(
        "\nif ! command -v docker >/dev/null; then\n  # cloud-init gives up on a locked package list after 30 s; this waits up to 10 minutes.\n  step \"install Docker\"\n  apt_update\n  apt_get install docker.io\nfi\nstep \"start Docker\"\nsystemctl daemon-reload\nsystemctl enable --now docker\nstep \"keep containers away from the metadata service\"\n{METADATA_BLOCK_SCRIPT}\nstep \"pull images in the background\"\n{}\n",
        if input.cache_volume.is_some() {
            // What the kept volume holds is not pulled again.
            format!(
                "mapfile -t images < <(missing_images {})\nstart_pulls \"${{images[@]}}\"",
                image_args.join(" ")
            )
        } else {
            format!("start_pulls {}", image_args.join(" "))
        }
    ));
    out.push_str(
        "step \"find the instance's name\"\nif [[ -n $LINODE_AI_DOMAIN ]]; then\n  LINODE_AI_HOSTNAME=$LINODE_AI_DOMAIN\nelse\n  ipv4=$(public_ipv4)\n  LINODE_AI_HOSTNAME=\"${ipv4//./-}.ip.linodeusercontent.com\"\nfi\nLINODE_AI_URL=\"https://$LINODE_AI_HOSTNAME\"\nif [[ $LINODE_AI_HTTPS_PORT != 443 ]]; then LINODE_AI_URL=\"$LINODE_AI_URL:$LINODE_AI_HTTPS_PORT\"; fi\nexport LINODE_AI_HOSTNAME LINODE_AI_URL\necho \"linode-ai: serving $LINODE_AI_URL\"\nstep \"create the private network\"\ndocker network inspect \"$LINODE_AI_NETWORK\" >/dev/null 2>&1 || docker network create \"$LINODE_AI_NETWORK\"\n",
    );
    let proxy_step = format!(
        "await_pull {}\nstep \"start the HTTPS proxy\"\nstart_proxy\n",
        shell_quote(CADDY_IMAGE)
    );
    let mut ready: Vec<String> = Vec::new();
    let mut proxy_started = false;
    let proxy_ready = |ready: &[String]| {
        stack
            .proxy
            .depends_on
            .iter()
            .all(|(d, _)| ready.contains(d))
    };
    if proxy_ready(&ready) {
        out.push_str(&proxy_step);
        proxy_started = true;
    }
    if stack.needs_gpu() && input.nvidia_driver.is_some() {
        out.push_str("setup_gpu\n");
    }
    let awaited = awaited(stack);
    let mut waited: Vec<String> = Vec::new();
    for s in &stack.services {
        let f = fn_name(&s.name);
        out.push_str(&format!(
            "await_pull {}\nstep \"start {}\"\nstart_{f}\n",
            shell_quote(&s.image),
            s.name
        ));
        if awaited.iter().any(|a| *a == s.name) {
            if s.health.is_some() {
                out.push_str(&format!("step \"wait for {}\"\n", s.name));
                out.push_str(&wait_line(s));
            }
            if s.post_start_script.is_some() {
                out.push_str(&format!(
                    "step \"post-start of {}\"\npost_start_{f}\n",
                    s.name
                ));
            }
            waited.push(s.name.to_string());
        }
        ready.push(s.name.to_string());
        if !proxy_started && proxy_ready(&ready) {
            out.push_str(&proxy_step);
            proxy_started = true;
        }
    }
    for s in &stack.services {
        if s.health.is_some() && !waited.iter().any(|w| *w == s.name) {
            out.push_str(&format!("step \"wait for {}\"\n", s.name));
            out.push_str(&wait_line(s));
        }
    }
    if stack.post_start_script.is_some() {
        out.push_str(&format!(
            "step \"post-start script\"\n(\n  trap - ERR\n  load_env\n  exec bash {POST_START_SCRIPT}\n)\n"
        ));
    }
    out.push_str("linode-ai-step ready \"done\"\necho \"linode-ai: ready at $LINODE_AI_URL\"\n");
    out
}

/// The whole cloud-config for a deployment.
pub fn render(input: &BootInput<'_>) -> CloudConfig {
    let stack = input.stack;
    let mut packages = vec!["docker.io".to_string(), "curl".to_string()];
    if stack.needs_gpu() && input.nvidia_driver.is_some() {
        packages.push("gnupg".into());
    }
    let mut lib = LIB.to_string();
    if let Some(branch) = input.nvidia_driver.filter(|_| stack.needs_gpu()) {
        lib.push('\n');
        lib.push_str(&gpu_function(branch));
    }
    if let Some(label) = input.cache_volume {
        lib.push('\n');
        lib.push_str(&cache_function(label));
    }
    let secret_names: Vec<String> = input
        .env
        .keys()
        .filter(|k| !input.public_env.contains(k))
        .cloned()
        .collect();
    let mut files = vec![
        WriteFile::text(ENV_FILE, "0600", env_file_content(input.env)),
        WriteFile::compressed(CADDYFILE, "0644", proxy::caddyfile(stack).as_bytes()),
        WriteFile::compressed(
            STEP_SCRIPT,
            "0755",
            strip_comments(&step_script()).as_bytes(),
        ),
        WriteFile::compressed(BOOT_LIB, "0644", strip_comments(&lib).as_bytes()),
        WriteFile::compressed(
            REDACT_SCRIPT,
            "0755",
            strip_comments(&redact_script(&secret_names)).as_bytes(),
        ),
        WriteFile::compressed(
            METADATA_BLOCK_SCRIPT,
            "0755",
            strip_comments(&metadata_block_script()).as_bytes(),
        ),
        WriteFile::text(
            DOCKER_DROP_IN,
            "0644",
            docker_drop_in(input.cache_volume.is_some()),
        ),
    ];
    let pages: Vec<&str> = stack
        .proxy
        .routes
        .iter()
        .filter_map(|r| match &r.target {
            Target::Page(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    if pages.contains(&"chat") {
        let page = minify(&CHAT_PAGE.replace(
            "CHAT_API_KEY",
            stack.proxy.key_env.as_deref().unwrap_or("CHAT_API_KEY"),
        ));
        files.push(WriteFile::compressed(
            &format!("{WWW_DIR}/chat/index.html"),
            "0644",
            page.as_bytes(),
        ));
    }
    for s in &stack.services {
        if let Some(script) = &s.post_start_script {
            files.push(script_file(
                &format!("{SERVICE_SCRIPTS}/post-start-{}.sh", s.name),
                script,
            ));
        }
    }
    if let Some(script) = &stack.post_start_script {
        files.push(script_file(POST_START_SCRIPT, script));
    }
    // Compressed, like the helpers: the 16 KiB user-data keeps room for the
    // project's env (`deploy --dry-run` shows every file decoded).
    files.push(WriteFile::compressed(
        BOOT_SCRIPT,
        "0700",
        strip_comments(&script_file(BOOT_SCRIPT, &boot_script(stack, input)).content).as_bytes(),
    ));
    CloudConfig {
        package_update: Some(true),
        packages,
        // Never passwords over SSH, key or no key (the root password is for Lish).
        ssh_pwauth: Some(false),
        write_files: files,
        runcmd: vec![vec!["bash".into(), BOOT_SCRIPT.into()]],
        extra: Default::default(),
    }
}

/// The variables an env file holds that break the boot script or the proxy
/// (a hook can add lines): reserved names, and a value of the proxy's key
/// variable (`key_env`) that `secrets::check_key` refuses. Caddy substitutes
/// `{$KEY}` before it parses its config, so a key with a space, a quote or
/// `*` would rewrite the config or match every request. Messages name the
/// variable, never its value.
pub fn check_env_file(doc: &CloudConfig, key_env: Option<&str>) -> Result<(), String> {
    let Some(file) = doc.file(ENV_FILE) else {
        return Ok(());
    };
    for line in file.content.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if line.starts_with('#') {
            continue;
        }
        if let Some(rule) = crate::blueprint::template::reserved_env_name(name) {
            return Err(format!(
                "{ENV_FILE} sets {}: {rule}",
                crate::sanitize::quote(name)
            ));
        }
        let var = name.trim_start();
        let var = var.strip_prefix("export ").unwrap_or(var).trim();
        if Some(var) == key_env {
            check_key_line(var, value)?;
        }
    }
    Ok(())
}

/// The proxy's key as bash reads it from the env file, checked like a key
/// the user chose.
fn check_key_line(name: &str, word: &str) -> Result<(), String> {
    let value = match env_value_unquote(word) {
        Some(v) => v,
        // A bare word of plain characters reads back as itself.
        None if !word.is_empty() && shell_quote(word) == word => word.to_string(),
        None => {
            return Err(format!(
                "{ENV_FILE} sets {}, the proxy's key, in a form linode-ai cannot check (write it as {}=$'...')",
                crate::sanitize::quote(name),
                name
            ))
        }
    };
    crate::blueprint::secrets::check_key(name, &value)
        .map_err(|e| format!("{ENV_FILE} sets {}: {e}", crate::sanitize::quote(name)))
}

/// Fixed-value references a service makes (for the hook context and checks).
pub fn fixed_references(s: &Service) -> Vec<String> {
    s.environment
        .iter()
        .flat_map(|(_, v)| references(v).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::catalog::Catalog;

    fn render_stock(name: &str, env: &[(&str, &str)]) -> (Stack, CloudConfig) {
        let t = Catalog::stock().get(name).unwrap().clone();
        let stack = Stack::from_spec(&t.spec).unwrap();
        let env: EnvVars = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let doc = render(&BootInput {
            stack: &stack,
            env: &env,
            domain: None,
            https_port: 443,
            nvidia_driver: t.linode().gpu.then_some(t.linode().nvidia_driver.as_str()),
            acme_ca: None,
            public_env: &[],
            cache_volume: None,
        });
        (stack, doc)
    }

    /// The boot script with its helper library (decompressed) in front.
    fn boot(doc: &CloudConfig) -> String {
        format!(
            "{}\n{}",
            doc.file(BOOT_LIB).unwrap().decoded().unwrap(),
            doc.file(BOOT_SCRIPT).unwrap().decoded().unwrap()
        )
    }

    /// Positions of `needles` in `hay`, asserting each is found and in order.
    fn in_order(hay: &str, needles: &[&str]) {
        let mut last = 0;
        for n in needles {
            let at = hay[last..]
                .find(n)
                .unwrap_or_else(|| panic!("{n:?} missing after byte {last} in:\n{hay}"))
                + last;
            last = at + n.len();
        }
    }

    #[test]
    fn chat_webui_boots_in_dependency_order_with_the_proxy_last() {
        let (_, doc) = render_stock("chat-webui", &[("WEBUI_ADMIN_PASSWORD", "pw")]);
        let script = &boot(&doc);
        // Ollama healthy -> Open WebUI healthy -> admin created -> proxy exposes the site.
        in_order(
            script,
            &[
                "\nstart_ollama\n",
                "wait_healthy ollama 11434 /api/version",
                "\nstart_webui\n",
                "wait_healthy webui 8080 /health",
                "\npost_start_webui\n",
                "\nstart_proxy\n",
                "bash /usr/local/bin/post-start.sh",
                "linode-ai-step ready \"done\"",
            ],
        );
        assert!(
            !script.contains("-p 11434") && !script.contains("-p 8080"),
            "only the proxy publishes"
        );
        assert!(
            script.contains("export WEBUI_URL=\"${LINODE_AI_URL}\""),
            "{script}"
        );
        assert!(doc
            .file("/usr/local/lib/linode-ai/post-start-webui.sh")
            .is_some());
    }

    #[test]
    fn chat_agent_starts_the_proxy_first_and_pulls_the_model_last() {
        let (_, doc) = render_stock("chat-agent", &[("CHAT_API_KEY", "k")]);
        let script = &boot(&doc);
        in_order(
            script,
            &[
                "\nstart_proxy\n",
                "\nstart_ollama\n",
                "wait_healthy ollama",
                "post-start.sh",
            ],
        );
        assert!(doc
            .file("/var/lib/linode-ai/www/chat/index.html")
            .unwrap()
            .encoding
            .is_some());
        assert_eq!(doc.ssh_pwauth, Some(false));
        let proxy = script.split("start_proxy() {").nth(1).unwrap();
        assert!(
            proxy.contains("-p 80:80") && proxy.contains("CHAT_API_KEY:-"),
            "{proxy}"
        );
    }

    #[test]
    fn gpu_setup_runs_before_the_gpu_service_and_stops_on_failure() {
        let (_, doc) = render_stock("llm-api", &[("VLLM_API_KEY", "k")]);
        let script = &boot(&doc);
        in_order(
            script,
            &[
                "set -Eeuo pipefail",
                "trap on_error ERR",
                "\nsetup_gpu\n",
                "\nstart_vllm\n",
            ],
        );
        assert!(
            script.contains("linux-headers-$kernel")
                && script.contains("linux-modules-nvidia-$branch-$kernel")
        );
        assert!(script.contains("DPkg::Lock::Timeout") && script.contains("--force-confold"));
        assert!(
            script.contains("--runtime nvidia") && script.contains("--ipc=host"),
            "the runtime a reload registers, not --gpus (which needs a restart)"
        );
        assert!(!script.contains("--gpus all"));
        // The signed modules only when built for the archive's driver; never the X/DKMS meta package.
        assert!(
            script.contains("nvidia-headless-no-dkms-$branch")
                && !script.contains("nvidia-driver-")
        );
        assert!(script.contains(
            "Dir::Etc::sourcelist=/etc/apt/sources.list.d/nvidia-container-toolkit.list"
        ));
        let (_, cpu) = render_stock("embeddings", &[("API_KEY", "k")]);
        assert!(!boot(&cpu).contains("setup_gpu"));
        assert!(
            doc.file(BOOT_LIB).unwrap().encoding.is_some(),
            "helpers are compressed"
        );
    }

    #[test]
    fn no_password_login_over_ssh_even_without_a_key() {
        // The firewall closes 22 without a key; sshd must refuse passwords anyway.
        let (_, doc) = render_stock("embeddings", &[("API_KEY", "k")]);
        assert_eq!(doc.ssh_pwauth, Some(false));
        assert!(doc.render().contains("ssh_pwauth: false"));
    }

    #[test]
    fn the_proxy_gets_the_acme_directory_it_is_told() {
        let t = Catalog::stock().get("chat-agent").unwrap().clone();
        let stack = Stack::from_spec(&t.spec).unwrap();
        let env: EnvVars = [("CHAT_API_KEY".to_string(), "k".to_string())].into();
        let with = |acme_ca| {
            boot(&render(&BootInput {
                stack: &stack,
                env: &env,
                domain: None,
                https_port: 443,
                nvidia_driver: None,
                acme_ca,
                public_env: &[],
                cache_volume: None,
            }))
        };
        let default = with(None);
        assert!(default.contains("-e LINODE_AI_ACME_CA "), "passed when set");
        assert!(
            !default.contains("export LINODE_AI_ACME_CA="),
            "Let's Encrypt by default"
        );
        let staging = with(Some(
            "https://acme-staging-v02.api.letsencrypt.org/directory",
        ));
        assert!(staging.contains(
            "export LINODE_AI_ACME_CA=https://acme-staging-v02.api.letsencrypt.org/directory\n"
        ));
    }

    #[test]
    fn each_pull_is_a_step_of_its_own_and_fails_once() {
        let (_, doc) = render_stock("chat-agent", &[("CHAT_API_KEY", "k")]);
        let script = &boot(&doc);
        assert!(script.contains("step \"pull $img\""), "{script}");
        in_order(
            script,
            &["await_pull ollama/ollama:0.13.4\n", "step \"start ollama\""],
        );
        // No sleep after the last try, and no foreground pull after the background one failed.
        let lib = doc.file(BOOT_LIB).unwrap().decoded().unwrap();
        let pulls = lib.split("start_pulls() {").nth(1).unwrap();
        assert!(pulls.contains("if ((i < 3)); then sleep"), "{pulls}");
        let awaits = lib
            .split("await_pull() {")
            .nth(1)
            .unwrap()
            .split("\n}\n")
            .next()
            .unwrap();
        assert!(
            awaits.contains("could not pull $img (3 tries)")
                && !awaits.contains("wait \"$pid\" ||")
        );
    }

    #[test]
    fn containers_cannot_reach_the_metadata_service() {
        let (_, doc) = render_stock("chat-agent", &[("CHAT_API_KEY", "k")]);
        let block = doc.file(METADATA_BLOCK_SCRIPT).unwrap().decoded().unwrap();
        assert!(block.contains("-d 169.254.169.254/32 -j REJECT"), "{block}");
        assert!(block.contains("DOCKER-USER"));
        // At every Docker start (reboots included), and once at first boot.
        assert_eq!(
            doc.file(DOCKER_DROP_IN).unwrap().content,
            format!("[Service]\nExecStartPre={METADATA_BLOCK_SCRIPT}\n")
        );
        in_order(
            &boot(&doc),
            &[
                "systemctl enable --now docker\n",
                METADATA_BLOCK_SCRIPT,
                "start_pulls ",
            ],
        );
    }

    #[test]
    fn logs_are_shown_without_secret_values() {
        let t = Catalog::stock().get("chat-agent").unwrap().clone();
        let stack = Stack::from_spec(&t.spec).unwrap();
        let env: EnvVars = [
            ("CHAT_API_KEY".to_string(), "k3y-value".to_string()),
            ("OLLAMA_MODEL".to_string(), "llama3.2:1b".to_string()),
        ]
        .into();
        let doc = render(&BootInput {
            stack: &stack,
            env: &env,
            domain: None,
            https_port: 443,
            nvidia_driver: None,
            acme_ca: None,
            public_env: &["OLLAMA_MODEL".to_string()],
            cache_volume: None,
        });
        let redact = doc.file(REDACT_SCRIPT).unwrap().decoded().unwrap();
        assert!(redact.contains("names=(CHAT_API_KEY)\n"), "{redact}");
        assert!(
            !redact.contains("k3y-value"),
            "the script holds names, never values"
        );
        // Run it on a log line, with the env file it reads.
        let dir = tempfile::tempdir().unwrap();
        let envf = dir.path().join("env");
        std::fs::write(&envf, env_file_content(&env)).unwrap();
        let script = redact.replace(ENV_FILE, &envf.display().to_string());
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(b"Args { api_key: Some(\"k3y-value\"), model: llama3.2:1b }\n")?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Args { api_key: Some(\"[redacted]\"), model: llama3.2:1b }\n"
        );
        // The health wait shows a failing container's logs through it.
        let lib = doc.file(BOOT_LIB).unwrap().decoded().unwrap();
        assert!(
            lib.contains("docker logs --tail 30 \"$1\" 2>&1 | linode-ai-redact"),
            "{lib}"
        );
        assert!(
            !lib.contains("docker logs --tail 30 \"$name\""),
            "no unfiltered logs"
        );
    }

    #[test]
    fn a_container_that_exits_stops_its_health_wait_at_once() {
        let (_, doc) = render_stock("chat-agent", &[("CHAT_API_KEY", "k")]);
        let lib = doc.file(BOOT_LIB).unwrap().decoded().unwrap();
        let wait = lib.split("wait_healthy() {").nth(1).unwrap();
        assert!(
            wait.contains("{{.State.Status}} {{.RestartCount}}")
                && wait.contains("!= \"running 0\""),
            "{wait}"
        );
    }

    #[test]
    fn env_values_live_only_in_the_private_env_file() {
        let (_, doc) = render_stock("embeddings", &[("API_KEY", "s3cr3t value'")]);
        let env = doc.file(ENV_FILE).unwrap();
        assert_eq!(env.permissions, "0600");
        assert!(env.content.contains("API_KEY=$'s3cr3t value\\''"));
        for f in &doc.write_files {
            if f.path != ENV_FILE {
                assert!(!f.content.contains("s3cr3t"), "{} leaks the value", f.path);
            }
        }
    }

    /// SHA-256 of the rendered document and of every write_files entry
    /// (decoded) for every stock template, in two settings: the defaults
    /// (domain `None`, port 443) and every option set. Generated from the
    /// code before the boot shell moved to `assets/boot/`; a refactoring
    /// keeps these, a change on purpose updates them.
    fn user_data_digests() -> String {
        use sha2::{Digest, Sha256};
        let hex = |b: &[u8]| -> String {
            Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect()
        };
        let mut out = String::new();
        for t in Catalog::stock().all() {
            let stack = Stack::from_spec(&t.spec).unwrap();
            let env: EnvVars = t
                .spec
                .env
                .all()
                .map(|v| {
                    (
                        v.name().to_string(),
                        format!("value of {} 'q' $x\n", v.name()),
                    )
                })
                .collect();
            let public: Vec<String> = env.keys().take(1).cloned().collect();
            let gpu = t.linode().gpu.then_some(t.linode().nvidia_driver.as_str());
            let settings = [
                ("default", None, 443, None, &[][..]),
                (
                    "options",
                    Some("app.example.com"),
                    8443,
                    Some("https://acme.example/dir"),
                    &public[..],
                ),
            ];
            for (label, domain, https_port, acme_ca, public_env) in settings {
                let doc = render(&BootInput {
                    stack: &stack,
                    env: &env,
                    domain,
                    https_port,
                    nvidia_driver: gpu,
                    acme_ca,
                    public_env,
                    cache_volume: t.linode().cache_gb.map(|_| "ai-cache-0000aaaa"),
                });
                let name = &t.spec.name;
                out.push_str(&format!(
                    "{name} {label} user-data {}\n",
                    hex(doc.render().as_bytes())
                ));
                for f in &doc.write_files {
                    let text = f.decoded().unwrap();
                    // Any text between two `@`s that looks like a placeholder.
                    let between: Vec<&str> = text.split('@').collect();
                    let between = &between[1..between.len().saturating_sub(1).max(1)];
                    assert!(
                        !between.iter().any(|w| !w.is_empty()
                            && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')),
                        "{} keeps an @PLACEHOLDER@:\n{text}",
                        f.path
                    );
                    out.push_str(&format!(
                        "{name} {label} {} {}\n",
                        f.path,
                        hex(text.as_bytes())
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn stock_user_data_is_unchanged() {
        let got = user_data_digests();
        assert!(
            got == include_str!("../../../tests-data/user-data-sha256.txt"),
            "rendered user-data changed; if on purpose, replace host/tests-data/user-data-sha256.txt with:\n{got}"
        );
    }

    #[test]
    fn a_key_a_hook_leaves_unplain_is_refused_without_its_value() {
        let key = "sk-0123456789abcdef";
        let (stack, doc) = render_stock("chat-agent", &[("CHAT_API_KEY", key)]);
        let key_env = stack.proxy.key_env.as_deref();
        assert_eq!(key_env, Some("CHAT_API_KEY"));
        check_env_file(&doc, key_env).unwrap();
        // What a hook could append to the env file (bash keeps the last one).
        let with = |line: &str| {
            let mut doc = doc.clone();
            let env = doc
                .write_files
                .iter_mut()
                .find(|f| f.path == ENV_FILE)
                .unwrap();
            env.content.push_str(line);
            check_env_file(&doc, key_env)
        };
        let e = with("CHAT_API_KEY=$'a b*'\n").unwrap_err();
        assert!(
            e.contains("CHAT_API_KEY") && e.contains("16-512 characters"),
            "{e}"
        );
        assert!(
            !e.contains("a b*"),
            "the message never shows the value: {e}"
        );
        let e = with("export CHAT_API_KEY=\"a b*\"\n").unwrap_err();
        assert!(e.contains("CHAT_API_KEY") && !e.contains("a b*"), "{e}");
        with(&format!("CHAT_API_KEY={key}\n")).unwrap();
        with(&env_line("CHAT_API_KEY", "sk-another-plain-key/+=")).unwrap();
        // Only the proxy's key variable is held to the key rule.
        with("OTHER=$'a b*'\n").unwrap();
    }

    #[test]
    fn fixed_values_are_single_quoted_with_references_expanded() {
        assert_eq!(
            export_fixed("U", "it's ${LINODE_AI_URL}/x"),
            "    export U='it'\\''s '\"${LINODE_AI_URL}\"'/x'\n    args+=(-e U)\n"
        );
        assert_eq!(export_fixed("E", ""), "    export E=''\n    args+=(-e E)\n");
    }
}
