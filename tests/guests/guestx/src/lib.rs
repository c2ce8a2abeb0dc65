//! A component whose export only starts like the hooks interface
//! (`linode-ai:hooks/guestx`): it is not a hook, and `templates add` says so.

wit_bindgen::generate!({ path: "../../../target/guests-wit/guestx", world: "template-hooks" });

use exports::linode_ai::hooks::guestx::Guest;
use linode_ai::hooks::types::{DeployContext, HealthVerdict, ServiceProbe};

struct NotAHook;

impl Guest for NotAHook {
    fn render_user_data(_ctx: DeployContext, _default: String) -> Result<Option<String>, String> {
        Ok(None)
    }
    fn evaluate_health(_ctx: DeployContext, _probes: Vec<ServiceProbe>) -> Option<HealthVerdict> {
        None
    }
}

export!(NotAHook);
