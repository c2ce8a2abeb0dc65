//! A hook built against a future interface version (0.9.0) that linode-ai must refuse.

wit_bindgen::generate!({ path: "wit", world: "template-hooks" });

use exports::linode_ai::hooks::guest::Guest;
use linode_ai::hooks::types::{DeployContext, HealthVerdict, ProbeResult};

struct Future;

impl Guest for Future {
    fn render_user_data(_ctx: DeployContext, _default: String) -> Result<Option<String>, String> {
        Ok(None)
    }
    fn evaluate_health(_ctx: DeployContext, _probe: ProbeResult) -> Option<HealthVerdict> {
        None
    }
}

export!(Future);
