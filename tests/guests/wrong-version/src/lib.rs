//! A hook built against a future interface version (0.9.0) that linode-ai must refuse.
//! Its WIT is wit/hooks.wit with the version changed (tests/build-guests.sh writes it).

wit_bindgen::generate!({ path: "../../../target/guests-wit/wrong-version", world: "template-hooks" });

use exports::linode_ai::hooks::guest::Guest;
use linode_ai::hooks::types::{DeployContext, HealthVerdict, ServiceProbe};

struct Future;

impl Guest for Future {
    fn render_user_data(_ctx: DeployContext, _default: String) -> Result<Option<String>, String> {
        Ok(None)
    }
    fn evaluate_health(_ctx: DeployContext, _probes: Vec<ServiceProbe>) -> Option<HealthVerdict> {
        None
    }
}

export!(Future);
