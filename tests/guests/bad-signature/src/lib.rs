//! Exports linode-ai:hooks/guest@0.2.0 with the wrong signature (0.1's
//! evaluate-health under 0.2's name): the type check at `templates add` refuses it.

wit_bindgen::generate!({ path: "../../../target/guests-wit/bad-signature", world: "template-hooks" });

use exports::linode_ai::hooks::guest::Guest;
use linode_ai::hooks::types::{DeployContext, HealthVerdict, ProbeResult};

struct Mismatch;

impl Guest for Mismatch {
    fn render_user_data(_ctx: DeployContext, _default: String) -> Result<Option<String>, String> {
        Ok(None)
    }
    fn evaluate_health(_ctx: DeployContext, _probe: ProbeResult) -> Option<HealthVerdict> {
        None
    }
}

export!(Mismatch);
