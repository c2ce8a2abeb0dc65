//! The TLS proxy in front of every deployment: a Caddy container with an
//! automatic certificate for the instance's name, the API key checked on
//! every route that needs it, and nothing routed that the template does not
//! list. This module renders its Caddyfile.
//!
//! The file uses `{$VAR:default}` placeholders for what only the instance
//! knows (its hostname, the key's value) and for addresses a test on loopback
//! must change (ports, ACME directory, upstreams); the defaults are what runs
//! on the instance. The key itself is never written into the file.

use crate::blueprint::stack::{Route, Stack, Target, HEALTH_PREFIX};
use crate::blueprint::template::RouteAuth;

/// Caddy's official image, pinned.
pub const CADDY_IMAGE: &str = "caddy:2.11.2";
/// Where the Caddyfile lives on the instance.
pub const CADDYFILE: &str = "/etc/linode-ai/Caddyfile";
/// Static pages (mounted read-only at /srv/www).
pub const WWW_DIR: &str = "/var/lib/linode-ai/www";
/// Boot progress (`boot.json`, mounted read-only at /srv/linode-ai).
pub const STATUS_DIR: &str = "/var/lib/linode-ai/status";
/// Public boot progress served by the proxy.
pub const BOOT_PATH: &str = "/healthz/boot";
const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The env var overriding a service's upstream address (tests on loopback).
pub fn upstream_var(service: &str) -> String {
    format!(
        "LINODE_AI_UPSTREAM_{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

/// Requests whose path was not sent in clean form: `.`/`..` segments, `//`,
/// or an encoded `.`, `/` or `\`. Caddy's `path` matcher cleans the path
/// before it compares, but `reverse_proxy` forwards it as sent, so
/// `/metrics/../health` would pass the allow-list as `/health` and reach
/// `/metrics` (or worse) upstream. Such requests get 400 before any route.
pub const UNCLEAN_PATH: &str = r#"^[^?]*(//|/\.\.?(/|\?|$)|%2[eEfF]|%5[cC]|\\)"#;

/// Routes that render as one `handle` (adjacent, same target and rules):
/// one matcher lists all their paths.
fn groups(routes: &[Route]) -> Vec<Vec<&Route>> {
    let mut out: Vec<Vec<&Route>> = Vec::new();
    for r in routes {
        match out.last_mut() {
            Some(g)
                if g[0].target == r.target
                    && g[0].auth == r.auth
                    && g[0].rewrite == r.rewrite
                    && !g[0].read_only
                    && !r.read_only =>
            {
                g.push(r)
            }
            _ => out.push(vec![r]),
        }
    }
    out
}

fn matcher(name: &str, group: &[&Route]) -> String {
    let paths: Vec<&str> = group.iter().map(|r| r.path.as_str()).collect();
    let paths = paths.join(" ");
    if group[0].read_only {
        format!("  @{name} {{\n    path {paths}\n    method GET HEAD\n  }}\n")
    } else {
        format!("  @{name} path {paths}\n")
    }
}

/// `reverse_proxy` to a service. Read-only (health and public) routes
/// forward nothing of the request: no query, no body, no header.
fn upstream(stack: &Stack, service: &str, port: u16, route: &Route, indent: &str) -> String {
    let mut out = format!(
        "{indent}reverse_proxy {{${}:{service}:{port}}} {{\n",
        upstream_var(service)
    );
    if route.read_only {
        out.push_str(&format!("{indent}  header_up -*\n"));
        out.push_str(&format!("{indent}  header_up Host {{upstream_hostport}}\n"));
    } else if route.auth == RouteAuth::Key {
        // The proxy checked the key. Services that check it too (vLLM, TEI) get
        // the header; others never see it. Origin goes: the browser page and the
        // API share one origin, and Ollama answers 403 to an Origin it does not
        // know when Host is rewritten.
        let receives_key = stack
            .proxy
            .key_env
            .as_deref()
            .is_some_and(|k| stack.service(service).is_some_and(|s| s.receives(k)));
        if !receives_key {
            out.push_str(&format!("{indent}  header_up -Authorization\n"));
        }
        out.push_str(&format!("{indent}  header_up -Origin\n"));
        out.push_str(&format!("{indent}  header_up Host {{upstream_hostport}}\n"));
    }
    if !route.read_only {
        // The request body is read whole (up to 1 MiB) before it goes upstream.
        // Streamed to the app instead, a quick answer (headers before the
        // proxy has seen the body's end) makes Go's server close the body
        // under the transport still reading it, and the answer is cut off
        // ("aborting with incomplete response": tests/proxy.rs saw it under load).
        out.push_str(&format!("{indent}  request_buffers 1MiB\n"));
    }
    // Stream answers (NDJSON, server-sent events) as they come.
    out.push_str(&format!("{indent}  flush_interval -1\n{indent}}}\n"));
    out
}

/// Pages run only their own inline script and talk only to their own origin.
const PAGE_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn describe_target(route: &Route) -> String {
    match &route.target {
        Target::Service { name, port } => format!("{name}:{port}"),
        Target::Page(p) => format!("page {p}"),
    }
}

/// The Caddyfile for `stack`.
pub fn caddyfile(stack: &Stack) -> String {
    let mut out = String::from(
        "# Written by linode-ai. {$VAR:default}: the defaults are what runs on the instance.\n",
    );
    out.push_str(&format!(
        "{{\n  admin off\n  http_port {{$LINODE_AI_HTTP_PORT:80}}\n  https_port {{$LINODE_AI_HTTPS_PORT:443}}\n  \
           acme_ca {{$LINODE_AI_ACME_CA:{LETS_ENCRYPT}}}\n  servers {{\n    protocols h1 h2\n  }}\n}}\n\n"
    ));
    out.push_str("{$LINODE_AI_HOSTNAME} {\n");
    // Deferred: applied to every answer, the apps' own included (no framing anywhere).
    out.push_str(
        "  header {\n    defer\n    Strict-Transport-Security \"max-age=31536000\"\n    X-Content-Type-Options nosniff\n    X-Frame-Options DENY\n    +Content-Security-Policy \"frame-ancestors 'none'\"\n    Referrer-Policy no-referrer\n    -Server\n  }\n",
    );
    out.push_str(&format!(
        "  # A path not sent in clean form (dot segments, //, encoded . / \\) is refused before any route.\n  @unclean vars_regexp {{http.request.orig_uri}} \"{}\"\n  handle @unclean {{\n    respond \"400 Bad Request: send the path without . or .. segments, // or encoded slashes\n\" 400\n  }}\n",
        UNCLEAN_PATH
    ));
    if let Some(key) = &stack.proxy.key_env {
        out.push_str(&format!(
            "  # The key comes from the container's environment; an empty key matches nothing useful\n  \
               # (linode-ai refuses to deploy without one and the boot script refuses to start without one).\n  \
               @authorized header Authorization \"Bearer {{${key}}}\"\n"
        ));
    }
    // Boot progress: no secrets, so public.
    out.push_str(&format!(
        "  @boot {{\n    path {BOOT_PATH}\n    method GET HEAD\n  }}\n  handle @boot {{\n    rewrite * /boot.json\n    root * {{$LINODE_AI_STATUS_DIR:/srv/linode-ai}}\n    header Cache-Control no-store\n    file_server\n  }}\n"
    ));
    for (i, group) in groups(&stack.proxy.routes).iter().enumerate() {
        let name = format!("route{i}");
        let route = group[0];
        for r in group {
            out.push_str(&format!(
                "  # {} -> {}{}\n",
                r.path,
                describe_target(r),
                match r.auth {
                    RouteAuth::Key => ", key required",
                    RouteAuth::Public => ", public",
                    RouteAuth::App => ", the app's own login",
                }
            ));
        }
        out.push_str(&matcher(&name, group));
        out.push_str(&format!("  handle @{name} {{\n"));
        let body = |indent: &str| -> String {
            let mut b = String::new();
            if route.read_only {
                // Nothing of the request goes upstream: a body is refused, the
                // path is fixed (an exact route's own) and the query dropped.
                b.push_str(&format!(
                    "{indent}request_body {{\n{indent}  max_size 1\n{indent}}}\n{indent}@{name}_body header Content-Length *\n{indent}respond @{name}_body \"413 Request Entity Too Large: health checks take no body\n\" 413\n"
                ));
            }
            let fixed = route.rewrite.clone().or_else(|| {
                (route.read_only && !route.path.contains('*')).then(|| route.path.to_string())
            });
            match (&fixed, route.read_only) {
                (Some(rw), true) => b.push_str(&format!("{indent}rewrite * {rw}?\n")),
                (Some(rw), false) => b.push_str(&format!("{indent}rewrite * {rw}\n")),
                (None, _) => {}
            }
            match &route.target {
                Target::Service { name, port } => {
                    b.push_str(&upstream(stack, name, *port, route, indent))
                }
                Target::Page(page) => {
                    b.push_str(&format!(
                        "{indent}root * {{$LINODE_AI_WWW_DIR:/srv/www}}/{page}\n{indent}try_files {{path}} /index.html\n{indent}file_server\n"
                    ));
                    b.push_str(&format!(
                        "{indent}header {{\n{indent}  Content-Security-Policy \"{PAGE_CSP}\"\n{indent}  Cache-Control no-cache\n{indent}}}\n"
                    ));
                }
            }
            b
        };
        if route.auth == RouteAuth::Key {
            out.push_str("    handle @authorized {\n");
            out.push_str(&body("      "));
            out.push_str("    }\n    handle {\n      header WWW-Authenticate \"Bearer realm=\\\"linode-ai\\\"\"\n      respond \"401 Unauthorized: send Authorization: Bearer <key>\n\" 401\n    }\n");
        } else {
            out.push_str(&body("    "));
        }
        out.push_str("  }\n");
    }
    out.push_str("  handle {\n    respond \"404 Not Found\n\" 404\n  }\n}\n\n");
    // A Host header that is not the instance's name (on a connection whose
    // TLS name was): 421, never an empty 200.
    out.push_str("https:// {\n  respond \"421 Misdirected Request: this server answers only for its own name\n\" 421\n}\n");
    out
}

/// One line per route for the plan: `GET /healthz/ollama -> ollama (public)`.
pub fn describe(stack: &Stack) -> Vec<String> {
    let mut out = vec![format!("{BOOT_PATH} -> boot progress (public, GET)")];
    for r in &stack.proxy.routes {
        let to = match &r.target {
            Target::Service { name, .. } => {
                let svc = name.as_str();
                match &r.rewrite {
                    Some(rw) if r.path.starts_with(HEALTH_PREFIX) => format!("{svc} {rw}"),
                    _ => svc.to_string(),
                }
            }
            Target::Page(p) => format!("{p} page"),
        };
        let auth = match r.auth {
            RouteAuth::Key => "key".to_string(),
            RouteAuth::Public if r.read_only => "public, GET".to_string(),
            RouteAuth::Public => "public".to_string(),
            RouteAuth::App => "app login".to_string(),
        };
        out.push(format!("{} -> {to} ({auth})", r.path));
    }
    out.push("anything else -> 404".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::catalog::Catalog;

    fn stack(name: &str) -> Stack {
        Stack::from_spec(&Catalog::stock().get(name).unwrap().spec).unwrap()
    }

    #[test]
    fn chat_agent_routes() {
        let c = caddyfile(&stack("chat-agent"));
        assert!(
            c.contains("@authorized header Authorization \"Bearer {$CHAT_API_KEY}\""),
            "{c}"
        );
        assert!(c.contains("rewrite * /api/version"), "{c}");
        assert!(
            c.contains("reverse_proxy {$LINODE_AI_UPSTREAM_OLLAMA:ollama:11434}"),
            "{c}"
        );
        assert!(
            c.contains("header_up -Authorization"),
            "Ollama never sees the key:\n{c}"
        );
        assert!(c.contains("header_up -Origin"), "{c}");
        assert!(c.contains("/srv/www}/chat"), "{c}");
        assert!(!c.contains("acme-staging"), "{c}");
        assert!(c.trim_end().ends_with('}'));
    }

    #[test]
    fn vllm_keeps_its_key_and_only_v1_is_routed() {
        let c = caddyfile(&stack("llm-api"));
        assert!(
            !c.contains("header_up -Authorization"),
            "vLLM checks the key too:\n{c}"
        );
        assert!(c.contains("path /v1/*"), "{c}");
        let routes: Vec<_> = describe(&stack("llm-api"));
        assert!(
            routes.iter().any(|r| r == "/v1/* -> vllm (key)"),
            "{routes:?}"
        );
        assert!(
            routes.iter().any(|r| r == "/health -> vllm (public, GET)"),
            "{routes:?}"
        );
        assert_eq!(routes.last().unwrap(), "anything else -> 404");
    }

    #[test]
    fn open_webui_has_no_key_and_its_own_login() {
        let c = caddyfile(&stack("chat-webui"));
        assert!(!c.contains("@authorized"), "{c}");
        assert!(c.contains("# /* -> webui:8080, the app's own login"), "{c}");
    }
}
