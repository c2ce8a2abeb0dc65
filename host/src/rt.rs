//! The process's one async runtime (HTTP to the API and the deployments,
//! hook calls), built on first use and kept until the process ends: every
//! command and every hook call share it instead of building their own.

use std::sync::OnceLock;

use anyhow::Result;
use tokio::runtime::Runtime;

static SHARED: OnceLock<Runtime> = OnceLock::new();

/// The runtime. Its `block_on` is for code outside it (commands, the plan);
/// code already inside awaits instead.
pub fn shared() -> Result<&'static Runtime> {
    if let Some(rt) = SHARED.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Two threads racing here: one runtime is kept, the other dropped unused.
    Ok(SHARED.get_or_init(|| rt))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_runtime_for_the_process() {
        let a = super::shared().unwrap() as *const _;
        let b = super::shared().unwrap() as *const _;
        assert_eq!(a, b);
        assert_eq!(super::shared().unwrap().block_on(async { 2 + 2 }), 4);
    }
}
