//! Reaching a deployment over SSH with the system `ssh` and the user's key:
//! its boot log and its containers' logs (`linode-ai logs`).
//!
//! Host keys are pinned on first contact in linode-ai's own known-hosts file,
//! under an alias per Linode (`linode-ai-<id>`), so a recycled IP address
//! never inherits a trusted key and `destroy` forgets the entry.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Which log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    /// `cloud-init status --long`, linode-ai's boot progress and the boot log.
    Boot,
    /// A container's logs.
    Service(String),
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub address: String,
    pub port: u16,
    pub linode_id: u64,
    pub known_hosts: PathBuf,
    pub identity: Option<PathBuf>,
}

/// The host key alias of a Linode.
pub fn alias(linode_id: u64) -> String {
    format!("linode-ai-{linode_id}")
}

/// The remote command (a POSIX shell line; names are quoted). Logs go
/// through the instance's `linode-ai-redact`, which cuts every secret value
/// of the env file (some images log their own keys at start); deployments
/// older than that script have their logs shown as they are.
pub fn remote_command(kind: &LogKind, follow: bool, lines: u32) -> String {
    let redact = format!(
        "set -o pipefail 2>/dev/null; r=cat; if command -v {0} >/dev/null 2>&1; then r={0}; fi; ",
        crate::targets::vm::boot::REDACT_SCRIPT
    );
    match kind {
        LogKind::Boot => format!(
            "{redact}cloud-init status --long; echo; echo \"== linode-ai boot progress ==\"; cat {}/boot.json 2>/dev/null || echo '(not started yet)'; echo; \
             echo \"== boot log ==\"; tail -n {lines}{} \"${{LINODE_AI_BOOT_LOG:-/var/log/cloud-init-output.log}}\" | \"$r\"",
            crate::blueprint::proxy::STATUS_DIR,
            if follow { " -F" } else { "" }
        ),
        LogKind::Service(name) => format!(
            "{redact}docker logs --tail {lines}{} -- {} 2>&1 | \"$r\"",
            if follow { " -f" } else { "" },
            crate::shell::shell_quote(name)
        ),
    }
}

/// The `ssh` command for `target` running `remote`.
pub fn command(target: &SshTarget, remote: &str, batch: bool) -> Command {
    if let Some(dir) = target.known_hosts.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut c = Command::new("ssh");
    c.arg("-o")
        .arg(format!("HostKeyAlias={}", alias(target.linode_id)))
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            target.known_hosts.display()
        ))
        .arg("-o")
        .arg("StrictHostKeyChecking=accept-new")
        .arg("-o")
        .arg("GlobalKnownHostsFile=/dev/null")
        // Our own file, keyed by alias: kept readable so destroy can forget an entry.
        .arg("-o")
        .arg("HashKnownHosts=no")
        .arg("-o")
        .arg("ConnectTimeout=10")
        .arg("-o")
        .arg("LogLevel=ERROR")
        .arg("-p")
        .arg(target.port.to_string());
    if batch {
        c.arg("-o").arg("BatchMode=yes");
    }
    if let Some(id) = &target.identity {
        c.arg("-i").arg(id).arg("-o").arg("IdentitiesOnly=yes");
    }
    c.arg(format!("root@{}", target.address))
        .arg("--")
        .arg(remote);
    c
}

/// Removes a Linode's pinned host key (after `destroy`).
pub fn forget_host(known_hosts: &Path, linode_id: u64) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(known_hosts) else {
        return Ok(());
    };
    let a = alias(linode_id);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            let host = l.split_whitespace().next().unwrap_or("");
            !host
                .split(',')
                .any(|h| h == a || h.starts_with(&format!("[{a}]:")))
        })
        .collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    crate::files::write_private(known_hosts, out.as_bytes()).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_pin_the_host_key_per_linode() {
        let t = SshTarget {
            address: "127.0.0.1".into(),
            port: 2222,
            linode_id: 42,
            known_hosts: PathBuf::from("/tmp/kh"),
            identity: Some(PathBuf::from("/k")),
        };
        let c = command(
            &t,
            &remote_command(&LogKind::Service("web ui".into()), true, 50),
            true,
        );
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.contains(&"HostKeyAlias=linode-ai-42".to_string()),
            "{args:?}"
        );
        assert!(args.contains(&"StrictHostKeyChecking=accept-new".to_string()));
        assert!(args.contains(&"BatchMode=yes".to_string()));
        let remote = args.last().unwrap();
        assert!(
            remote.ends_with("docker logs --tail 50 -f -- 'web ui' 2>&1 | \"$r\""),
            "{remote}"
        );
        assert!(
            remote.contains("r=/usr/local/bin/linode-ai-redact"),
            "{remote}"
        );
    }

    #[test]
    fn destroy_forgets_only_that_linode() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        std::fs::write(&kh, "linode-ai-1 ssh-ed25519 AAA\n[linode-ai-2]:2222 ssh-ed25519 BBB\nlinode-ai-12 ssh-ed25519 CCC\n").unwrap();
        forget_host(&kh, 2).unwrap();
        forget_host(&kh, 1).unwrap();
        assert_eq!(
            std::fs::read_to_string(&kh).unwrap(),
            "linode-ai-12 ssh-ed25519 CCC\n"
        );
    }
}
