//! Which hooks interface a component implements, read from its export names
//! with wasmparser before anything is compiled, and the versions this
//! linode-ai runs. The current version comes from `wit/hooks.wit` itself.

use anyhow::{bail, Result};

/// The current interface's WIT (what the guest SDK vendors).
pub const WIT: &str = include_str!("../../../wit/hooks.wit");
/// The frozen 0.1.0 interface.
pub const WIT_V0_1: &str = include_str!("../../../wit/since_v0.1.0/hooks.wit");
/// The frozen 0.2.0 interface (what `since_v0_2_0` binds).
pub const WIT_V0_2: &str = include_str!("../../../wit/since_v0.2.0/hooks.wit");
const PACKAGE: &str = "linode-ai:hooks";
const GUEST: &str = "guest";

/// The versions a component can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V0_1,
    V0_2,
}

/// The `package linode-ai:hooks@X.Y.Z;` version of a WIT text.
pub fn package_version(wit: &str) -> &str {
    wit.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("package {PACKAGE}@")))
        .map(|v| v.trim_end_matches(';'))
        .expect("the WIT declares the package")
}

/// `0.1.x and 0.2.x` (from the WIT files).
pub fn supported() -> String {
    let minor = |v: &str| {
        v.rsplit_once('.')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default()
    };
    format!(
        "{}.x and {}.x",
        minor(package_version(WIT_V0_1)),
        minor(package_version(WIT))
    )
}

/// Reads the component's top-level export names.
fn exports(bytes: &[u8]) -> Result<Vec<String>> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload =
            payload.map_err(|e| anyhow::anyhow!("not a valid WebAssembly component ({e})"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 {
                    component = encoding == Encoding::Component;
                    if !component {
                        bail!("it is a core WebAssembly module, not a component (build for wasm32-wasip2, or run it through `wasm-tools component new`)");
                    }
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for e in reader {
                    let e =
                        e.map_err(|e| anyhow::anyhow!("not a valid WebAssembly component ({e})"))?;
                    names.push(e.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !component {
        bail!("not a valid WebAssembly component");
    }
    Ok(names)
}

/// The interface version the component implements, or why it is not a hook
/// this linode-ai can run (in words for any language's author).
pub fn detect(bytes: &[u8]) -> Result<Version> {
    let names = exports(bytes)?;
    let ours: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{PACKAGE}/")))
        .collect();
    let guest = ours.iter().find(|n| {
        let iface = n[PACKAGE.len() + 1..].split('@').next().unwrap_or("");
        iface == GUEST
    });
    let Some(found) = guest else {
        bail!(
            "it is not a linode-ai hook: it exports {} instead of {PACKAGE}/{GUEST} (the world template-hooks of wit/hooks.wit)",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.iter().map(|n| crate::sanitize::line(&crate::sanitize::cut(n, 80))).collect::<Vec<_>>().join(", ")
            }
        );
    };
    let version = found
        .split_once('@')
        .map(|(_, v)| v)
        .unwrap_or("(unversioned)");
    let minor = |v: &str| v.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    if minor(version) == minor(package_version(WIT)) {
        Ok(Version::V0_2)
    } else if minor(version) == minor(package_version(WIT_V0_1)) {
        Ok(Version::V0_1)
    } else {
        bail!(
            "it was built for hooks interface {}, but this linode-ai runs {}; rebuild it against the WIT of this linode-ai ({PACKAGE}@{} in wit/hooks.wit)",
            crate::sanitize::quote(version),
            supported(),
            package_version(WIT)
        )
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_released_interface_is_frozen() {
        // While wit/hooks.wit says 0.2.0 it is the frozen 0.2.0 text: a change
        // to the interface needs a new version (and a since_v0_3_0 file).
        assert_eq!(package_version(WIT_V0_2), "0.2.0");
        if package_version(WIT) == "0.2.0" {
            assert_eq!(WIT, WIT_V0_2, "wit/hooks.wit changed but still says 0.2.0");
        }
        assert_eq!(package_version(WIT_V0_1), "0.1.0");
    }

    use super::*;

    #[test]
    fn versions_come_from_the_wit_files() {
        assert_eq!(package_version(WIT), "0.2.0");
        assert_eq!(package_version(WIT_V0_1), "0.1.0");
        assert_eq!(supported(), "0.1.x and 0.2.x");
    }

    #[test]
    fn the_sdk_vendors_the_same_wit() {
        assert_eq!(
            WIT,
            include_str!("../../../guest-sdk/wit/hooks.wit"),
            "copy wit/hooks.wit to guest-sdk/wit/"
        );
        // The Python and JavaScript examples vendor it too.
        for (copy, dir) in [
            (
                include_str!("../../../templates/examples/ollama-ready-py/wit/hooks.wit"),
                "ollama-ready-py",
            ),
            (
                include_str!("../../../templates/examples/ollama-ready-js/wit/hooks.wit"),
                "ollama-ready-js",
            ),
        ] {
            assert_eq!(
                WIT, copy,
                "copy wit/hooks.wit to templates/examples/{dir}/wit/"
            );
        }
    }

    #[test]
    fn non_components_are_named() {
        assert!(detect(b"\0asm\x01\0\0\0")
            .unwrap_err()
            .to_string()
            .contains("core WebAssembly module"));
        assert!(detect(b"junk")
            .unwrap_err()
            .to_string()
            .contains("not a valid"));
    }
}
