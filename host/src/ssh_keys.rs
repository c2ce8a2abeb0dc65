//! The SSH public keys installed for root: the files given with `--ssh-key`,
//! or every `~/.ssh/*.pub`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

fn is_ssh_key(line: &str) -> bool {
    let kind = line.split_whitespace().next().unwrap_or("");
    (kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-"))
        && line.split_whitespace().count() >= 2
}

fn keys_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| is_ssh_key(l))
        .map(str::to_string)
}

/// The keys, and notes for the user (e.g. none found).
pub fn find(explicit: &[PathBuf], home: Option<&Path>) -> Result<(Vec<String>, Vec<String>)> {
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    if !explicit.is_empty() {
        for path in explicit {
            let text = crate::files::read_text(path, "SSH public key", 64 << 10)?;
            let before = keys.len();
            keys.extend(keys_in(&text));
            if keys.len() == before {
                bail!(
                    "{} holds no SSH public key (expected a line like 'ssh-ed25519 AAAA... you@host'; pass the .pub file)",
                    path.display()
                );
            }
        }
        return Ok((keys, notes));
    }
    if let Some(dir) = home.map(|h| h.join(".ssh")) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pub"))
                .collect();
            paths.sort();
            for p in paths {
                if let Ok(text) = crate::files::read_text(&p, "SSH public key", 64 << 10) {
                    keys.extend(keys_in(&text));
                }
            }
        }
    }
    keys.dedup();
    if keys.is_empty() {
        notes.push(
            "no SSH public key found in ~/.ssh: SSH stays closed (no firewall rule, no password login); pass --ssh-key FILE to log in"
                .into(),
        );
    }
    Ok((keys, notes))
}
