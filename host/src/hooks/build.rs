//! Building a template's hook from source: a Rust crate in `<template>/hook/`
//! (what `templates new` writes) compiled with cargo for wasm32-wasip2 and
//! copied where `template.yml`'s `hook:` points.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const TARGET: &str = "wasm32-wasip2";

/// The hook crate of a template directory, if it has one.
pub fn crate_dir(template_dir: &Path) -> Option<PathBuf> {
    let d = template_dir.join("hook");
    d.join("Cargo.toml").is_file().then_some(d)
}

/// Whether rustc has the wasm32-wasip2 standard library.
fn target_installed() -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .is_dir()
}

/// Builds the hook crate of `template_dir` and copies the component to
/// `dest`. The message on failure names what is missing and how to add it.
pub fn build(template_dir: &Path, dest: &Path) -> Result<()> {
    let Some(krate) = crate_dir(template_dir) else {
        bail!(
            "{} has no hook crate (hook/Cargo.toml)",
            template_dir.display()
        );
    };
    if Command::new("cargo").arg("--version").output().is_err() {
        bail!("building the hook in {} needs Rust's cargo: install Rust (https://rustup.rs), or put a built hook at {}", krate.display(), dest.display());
    }
    if !target_installed() {
        bail!(
            "building the hook in {} needs the Rust target {TARGET}, which is not installed: run `rustup target add {TARGET}`",
            krate.display()
        );
    }
    let target_dir = krate.join("target");
    let out = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "building the hook in {} failed:\n{}",
            krate.display(),
            crate::sanitize::block(&tail.join("\n"))
        );
    }
    let release = target_dir.join(TARGET).join("release");
    let built = std::fs::read_dir(&release)
        .with_context(|| format!("cargo built nothing into {}", release.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    let Some(built) = built else {
        bail!(
            "cargo built no .wasm in {}: is the crate a cdylib?",
            release.display()
        );
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(&built, dest)
        .with_context(|| format!("cannot copy the hook to {}", dest.display()))?;
    Ok(())
}
