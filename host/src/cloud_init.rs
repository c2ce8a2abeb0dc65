//! Cloud-init user-data, built as data and serialised (never string-pasted).
//!
//! The document installs Docker from the distro archive, writes the app's
//! env vars to `/etc/build-ai.env` (mode `0600`, shell-quoted so any value
//! survives: quotes, `$`, `#`, newlines), writes the start script and the
//! template's post-start script, and runs them from `runcmd`. GPU templates
//! also get a script that installs the NVIDIA driver and container toolkit.

use serde::{Deserialize, Serialize};

use crate::template::{EnvVars, Template};

/// Linode's Metadata service limit on decoded user-data.
pub const USER_DATA_MAX: usize = 16384;
pub const HEADER: &str = "#cloud-config";
pub const ENV_FILE: &str = "/etc/build-ai.env";
pub const START_SCRIPT: &str = "/usr/local/bin/start-container.sh";
pub const POST_START_SCRIPT: &str = "/usr/local/bin/post-start.sh";
pub const NVIDIA_SCRIPT: &str = "/usr/local/bin/setup-nvidia.sh";
/// The container's name on the instance.
pub const CONTAINER_NAME: &str = "app";

/// The subset of cloud-config linode-ai writes (unknown keys a hook adds
/// are kept in `extra`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CloudConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_update: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_files: Vec<WriteFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runcmd: Vec<Vec<String>>,
    #[serde(flatten)]
    pub extra: serde_yaml::Mapping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WriteFile {
    pub path: String,
    /// Always quoted octal (`'0600'`): unquoted it would be read as an integer.
    pub permissions: String,
    pub owner: String,
    pub content: String,
}

/// Everything the default rendering needs.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    pub image: &'a str,
    pub internal_port: u16,
    pub external_port: u16,
    pub args: &'a [String],
    pub volumes: &'a [String],
    pub gpus: bool,
    pub ipc_host: bool,
    pub nvidia_driver: Option<&'a str>,
    pub env: &'a EnvVars,
    pub post_start_script: Option<&'a str>,
}

impl<'a> RenderInput<'a> {
    /// The default rendering of `template` with the resolved image, published port and env.
    pub fn for_template(
        template: &'a Template,
        image: &'a str,
        external_port: u16,
        env: &'a EnvVars,
    ) -> RenderInput<'a> {
        let linode = template.linode();
        let c = template.container();
        RenderInput {
            image,
            internal_port: c.internal_port,
            external_port,
            args: &c.args,
            volumes: &c.volumes,
            gpus: c.gpus || linode.gpu,
            ipc_host: c.ipc_host,
            nvidia_driver: linode.gpu.then_some(linode.nvidia_driver.as_str()),
            env,
            post_start_script: c.post_start_script.as_deref(),
        }
    }
}

/// Quotes a string for POSIX shells: `'...'` with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a value as one bash line: `$'...'` with `\\`, `\'`, newlines and
/// control characters escaped, so every variable is exactly one line.
pub fn env_value_quote(v: &str) -> String {
    let mut out = String::from("$'");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// One `KEY=$'value'` line of `/etc/build-ai.env`.
pub fn env_line(key: &str, value: &str) -> String {
    format!("{key}={}\n", env_value_quote(value))
}

/// `/etc/build-ai.env`: one `KEY=$'value'` line per var, sourced by the start
/// script (Docker's `--env-file` format cannot carry newlines or quotes).
pub fn env_file_content(env: &EnvVars) -> String {
    let mut out = String::from(
        "# Written by linode-ai. Sourced by start-container.sh (bash); one variable per line.\n",
    );
    for (k, v) in env {
        out.push_str(&env_line(k, v));
    }
    out
}

/// The start script: pull, replace the container, run it, then the post-start script.
pub fn start_script(input: &RenderInput<'_>) -> String {
    let image = shell_quote(input.image);
    let mut run: Vec<String> = vec![
        "docker run -d".into(),
        format!("--name {CONTAINER_NAME}"),
        "--restart unless-stopped".into(),
    ];
    run.push("\"${env_args[@]}\"".into());
    run.push(format!(
        "-p {}:{}",
        input.external_port, input.internal_port
    ));
    for v in input.volumes {
        run.push(format!("-v {}", shell_quote(v)));
    }
    if input.gpus {
        run.push("--gpus all".into());
    }
    if input.ipc_host {
        run.push("--ipc=host".into());
    }
    run.push(image.clone());
    for a in input.args {
        run.push(shell_quote(a));
    }
    let run = run.join(" \\\n  ");
    let post = if input.post_start_script.is_some() {
        format!("\n# Template's post-start script, with the env vars above exported.\n{POST_START_SCRIPT}\n")
    } else {
        String::new()
    };
    format!(
        "#!/bin/bash\n\
         # Written by linode-ai: pulls the image and (re)starts the app container.\n\
         set -euo pipefail\n\
         systemctl enable --now docker\n\
         set -a\n\
         # shellcheck disable=SC1091\n\
         . {ENV_FILE}\n\
         set +a\n\
         # Pass every variable of the env file (one per line) into the container.\n\
         env_args=()\n\
         while IFS='=' read -r key _; do\n\
         \x20 if [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then env_args+=(-e \"$key\"); fi\n\
         done < {ENV_FILE}\n\
         docker pull {image}\n\
         docker rm -f {CONTAINER_NAME} >/dev/null 2>&1 || true\n\
         {run}\n{post}"
    )
}

/// Installs the NVIDIA driver and container toolkit without a reboot, as
/// Akamai's own GPU apps do, and checks `nvidia-smi` before Docker uses it.
pub fn nvidia_script(driver: &str) -> String {
    let driver = shell_quote(driver);
    format!(
        r#"#!/bin/bash
# Written by linode-ai: NVIDIA driver + container toolkit for --gpus all.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
driver={driver}
printf 'blacklist nouveau\noptions nouveau modeset=0\n' > /etc/modprobe.d/blacklist-nouveau.conf
modprobe -r nouveau 2>/dev/null || true
apt-get install -y "nvidia-driver-${{driver}}" "nvidia-utils-${{driver}}"
modprobe nvidia
modprobe nvidia_uvm
keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --batch --yes --dearmor -o "$keyring"
curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list \
  | sed "s#deb https://#deb [signed-by=$keyring] https://#g" \
  > /etc/apt/sources.list.d/nvidia-container-toolkit.list
apt-get update
apt-get install -y nvidia-container-toolkit
nvidia-ctk runtime configure --runtime=docker
systemctl restart docker
nvidia-smi
"#
    )
}

/// The built-in cloud-config for a template.
pub fn default_config(input: &RenderInput<'_>) -> CloudConfig {
    let mut packages = vec!["docker.io".to_string()];
    let mut write_files = vec![WriteFile {
        path: ENV_FILE.into(),
        permissions: "0600".into(),
        owner: "root:root".into(),
        content: env_file_content(input.env),
    }];
    let mut runcmd = Vec::new();
    if input.gpus {
        packages.extend(["curl".to_string(), "gnupg".to_string()]);
        if let Some(driver) = input.nvidia_driver {
            write_files.push(WriteFile {
                path: NVIDIA_SCRIPT.into(),
                permissions: "0755".into(),
                owner: "root:root".into(),
                content: nvidia_script(driver),
            });
            runcmd.push(vec!["bash".into(), NVIDIA_SCRIPT.into()]);
        }
    }
    write_files.push(WriteFile {
        path: START_SCRIPT.into(),
        permissions: "0755".into(),
        owner: "root:root".into(),
        content: start_script(input),
    });
    if let Some(script) = input.post_start_script {
        let mut content = script.to_string();
        if !content.starts_with("#!") {
            content.insert_str(0, "#!/bin/bash\n");
        }
        if !content.ends_with('\n') {
            content.push('\n');
        }
        write_files.push(WriteFile {
            path: POST_START_SCRIPT.into(),
            permissions: "0755".into(),
            owner: "root:root".into(),
            content,
        });
    }
    runcmd.push(vec!["bash".into(), START_SCRIPT.into()]);
    CloudConfig {
        package_update: Some(true),
        packages,
        write_files,
        runcmd,
        extra: Default::default(),
    }
}

impl CloudConfig {
    /// `#cloud-config` + YAML.
    pub fn render(&self) -> String {
        let body = serde_yaml::to_string(self).expect("cloud-config serialises");
        format!("{HEADER}\n{body}")
    }
}

/// Why user-data cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserDataError {
    #[error("user-data must start with \"#cloud-config\"")]
    MissingHeader,
    #[error("user-data is {0} bytes; Linode's Metadata service accepts at most 16384 (shorten env values or scripts)")]
    TooLarge(usize),
    #[error("user-data is not valid YAML: {0}")]
    NotYaml(String),
    #[error("user-data must be a YAML mapping (cloud-config keys at the top level)")]
    NotMapping,
}

/// Checks what Linode and cloud-init require of the document.
pub fn validate_user_data(doc: &str) -> Result<(), UserDataError> {
    if doc.len() > USER_DATA_MAX {
        return Err(UserDataError::TooLarge(doc.len()));
    }
    if doc.lines().next().map(str::trim_end) != Some(HEADER) {
        return Err(UserDataError::MissingHeader);
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(doc).map_err(|e| UserDataError::NotYaml(e.to_string()))?;
    if !value.is_mapping() {
        return Err(UserDataError::NotMapping);
    }
    Ok(())
}

/// One-line standard base64 with padding, as `metadata.user_data` requires.
pub fn encode_user_data(doc: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(env: &'a EnvVars, args: &'a [String], vols: &'a [String]) -> RenderInput<'a> {
        RenderInput {
            image: "ollama/ollama:latest",
            internal_port: 11434,
            external_port: 80,
            args,
            volumes: vols,
            gpus: false,
            ipc_host: false,
            nvidia_driver: None,
            env,
            post_start_script: Some("docker exec app ollama pull llama3.2:1b"),
        }
    }

    #[test]
    fn hostile_env_values_survive_yaml_and_shell() {
        let mut env = EnvVars::new();
        let nasty = "it's \"quoted\" $HOME `x` #hash\nnew line: - [a] {b} \\";
        env.insert("NASTY".into(), nasty.into());
        let doc = default_config(&input(&env, &[], &[])).render();
        validate_user_data(&doc).unwrap();
        let back: CloudConfig = serde_yaml::from_str(&doc).unwrap();
        let file = back
            .write_files
            .iter()
            .find(|f| f.path == ENV_FILE)
            .unwrap();
        assert_eq!(file.permissions, "0600");
        // The shell reads back exactly the value.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{}\nprintf %s \"$NASTY\"", file.content))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }

    #[test]
    fn permissions_are_quoted_strings_in_the_yaml() {
        let env = EnvVars::new();
        let doc = default_config(&input(&env, &[], &[])).render();
        assert!(doc.contains("permissions: '0600'"), "{doc}");
        assert!(doc.starts_with("#cloud-config\n"));
        assert!(doc.contains("docker.io"));
    }

    #[test]
    fn start_script_runs_published_port_and_restart_policy() {
        let env: EnvVars = [("API_KEY".to_string(), "x".to_string())].into();
        let args = vec!["--model-id".to_string(), "BAAI/bge small".to_string()];
        let vols = vec!["tei-data:/data".to_string()];
        let s = start_script(&input(&env, &args, &vols));
        assert!(s.contains("-p 80:11434"));
        assert!(s.contains("--restart unless-stopped"));
        assert!(s.contains("env_args+=(-e"));
        assert!(!s.contains("x'"), "values never appear in the script");
        assert!(s.contains("'BAAI/bge small'"));
        assert!(s.contains(POST_START_SCRIPT));
    }

    #[test]
    fn size_and_header_rules() {
        assert_eq!(
            validate_user_data("packages: []"),
            Err(UserDataError::MissingHeader)
        );
        let big = format!("#cloud-config\nx: '{}'\n", "a".repeat(USER_DATA_MAX));
        assert!(matches!(
            validate_user_data(&big),
            Err(UserDataError::TooLarge(_))
        ));
        assert!(matches!(
            validate_user_data("#cloud-config\n: : ["),
            Err(UserDataError::NotYaml(_))
        ));
        assert_eq!(
            validate_user_data("#cloud-config\n- a\n"),
            Err(UserDataError::NotMapping)
        );
        let enc = encode_user_data("#cloud-config\n");
        assert!(!enc.contains('\n'));
    }

    #[test]
    fn guest_sdk_env_edits_match_the_host_format() {
        // The SDK keeps its own copy of the `$'...'` quoting (it cannot depend
        // on the host); an env var a hook adds must read like one we render.
        let nasty = "it's \\ \"q\" $HOME\nline\t\x01 #x";
        let first: EnvVars = [("A".to_string(), "1".to_string())].into();
        let empty: [String; 0] = [];
        let input = |env| RenderInput {
            image: "img",
            internal_port: 1,
            external_port: 2,
            args: &empty,
            volumes: &empty,
            gpus: false,
            ipc_host: false,
            nvidia_driver: None,
            env,
            post_start_script: None,
        };
        let mut cc =
            linode_ai_guest_sdk::CloudConfig::parse(&default_config(&input(&first)).render())
                .unwrap();
        cc.add_env_var("B", nasty).unwrap();
        let edited: CloudConfig = serde_yaml::from_str(&cc.render().unwrap()).unwrap();
        let both: EnvVars = [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), nasty.to_string()),
        ]
        .into();
        let file = |c: &CloudConfig| {
            c.write_files
                .iter()
                .find(|f| f.path == ENV_FILE)
                .unwrap()
                .content
                .clone()
        };
        assert_eq!(file(&edited), env_file_content(&both));
    }

    #[test]
    fn shell_quote_is_safe() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
