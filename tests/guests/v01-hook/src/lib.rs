//! A hook built for the frozen interface 0.1.0 (wit/since_v0.1.0), as
//! published before 0.2: it must keep working. It adds a runcmd line and is
//! healthy only when the probe's body says "ready".

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "template-hooks" });

use exports::linode_ai::hooks::guest::Guest;
use linode_ai::hooks::types::{DeployContext, HealthVerdict, LogLevel, ProbeResult};

struct Old;

impl Guest for Old {
    fn render_user_data(ctx: DeployContext, default: String) -> Result<Option<String>, String> {
        linode_ai::hooks::host::log(LogLevel::Info, &format!("0.1 hook rendering {}", ctx.app_name));
        Ok(Some(format!("{default}\n# rendered by a 0.1.0 hook for {} on port {}\n", ctx.app_name, ctx.external_port)))
    }
    fn evaluate_health(_ctx: DeployContext, probe: ProbeResult) -> Option<HealthVerdict> {
        match probe {
            ProbeResult::Response(r) if r.body.contains("ready") => Some(HealthVerdict::Healthy),
            ProbeResult::Response(_) => Some(HealthVerdict::Starting("0.1 hook: not ready".into())),
            ProbeResult::Error(_) => None,
        }
    }
}

export!(Old);
