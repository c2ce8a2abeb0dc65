//! Hook of the `ollama-ready` template: pulls the model at boot and reports
//! "starting" until Ollama lists it in `/api/tags`.

use linode_ai_guest_sdk::{export_template, log, CloudConfig, DeployContext, HealthVerdict, LogLevel, ProbeResult, ServiceProbe, Template};

const DEFAULT_MODEL: &str = "llama3.2:1b";

fn model(ctx: &DeployContext) -> String {
    ctx.env("OLLAMA_MODEL").filter(|m| !m.is_empty()).unwrap_or(DEFAULT_MODEL).to_string()
}

struct OllamaReady;

impl Template for OllamaReady {
    fn render_user_data(ctx: &DeployContext, default_user_data: &str) -> Result<Option<String>, String> {
        let model = model(ctx);
        if !model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c)) {
            return Err(format!("OLLAMA_MODEL \"{model}\" is not a model name"));
        }
        let mut cc = CloudConfig::parse(default_user_data)?;
        // Runs after start-container.sh: wait for the server, then pull.
        cc.add_runcmd([
            "bash",
            "-c",
            &format!("for _ in $(seq 1 60); do docker exec app ollama list >/dev/null 2>&1 && break; sleep 2; done; docker exec app ollama pull {model}"),
        ]);
        log(LogLevel::Info, &format!("added pull of {model}"));
        Ok(Some(cc.render()?))
    }

    fn evaluate_health(ctx: &DeployContext, probes: &[ServiceProbe]) -> Option<HealthVerdict> {
        // The fronted service (Ollama) comes first; its health check is /api/tags.
        let ProbeResult::Response(r) = &probes.first()?.probe else { return None };
        if r.status != 200 {
            return None;
        }
        let model = model(ctx);
        let tags: serde_json::Value = match serde_json::from_str(&r.body) {
            Ok(v) => v,
            Err(_) => return Some(HealthVerdict::Unhealthy("/api/tags did not answer JSON".into())),
        };
        let listed = tags["models"].as_array().is_some_and(|ms| {
            ms.iter().any(|m| {
                let name = m["name"].as_str().unwrap_or("");
                name == model || (!model.contains(':') && name == format!("{model}:latest"))
            })
        });
        Some(if listed { HealthVerdict::Healthy } else { HealthVerdict::Starting(format!("pulling model {model}")) })
    }
}

export_template!(OllamaReady);
