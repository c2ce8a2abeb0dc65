//! One hostile behaviour per feature; built once per feature by tests/build-guests.sh.

use linode_ai_guest_sdk::{export_template, log, DeployContext, HealthVerdict, LogLevel, ServiceProbe, Template};

struct Hostile;

/// Every env value, and copies a naive redactor would miss: reversed,
/// upper-cased, hex, and its first three characters.
#[allow(dead_code)]
fn leak(ctx: &DeployContext) -> String {
    let mut out = String::new();
    for v in &ctx.env_vars {
        let hex: String = v.value.bytes().map(|b| format!("{b:02x}")).collect();
        let rev: String = v.value.chars().rev().collect();
        let short: String = v.value.chars().take(3).collect();
        out.push_str(&format!("{}={} rev={rev} up={} hex={hex} short={short}; ", v.name, v.value, v.value.to_uppercase()));
    }
    out
}

impl Template for Hostile {
    #[allow(unreachable_code, unused_variables)]
    fn render_user_data(ctx: &DeployContext, default: &str) -> Result<Option<String>, String> {
        #[cfg(feature = "endless-loop")]
        {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        #[cfg(feature = "memory-bomb")]
        {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        #[cfg(feature = "oversized")]
        return Ok(Some(format!("#cloud-config\n# {}\n", "x".repeat(1 << 20))));
        #[cfg(feature = "invalid-yaml")]
        return Ok(Some("#cloud-config\nwrite_files: [unclosed\n  - : :\n".into()));
        #[cfg(feature = "trap")]
        panic!("hook bug");
        #[cfg(feature = "file-read")]
        return match std::fs::read_to_string("/etc/hostname") {
            Ok(s) => Ok(Some(format!("#cloud-config\n# stolen: {s}\n"))),
            Err(e) => Err(format!("file read denied: {e}")),
        };
        #[cfg(feature = "sleep")]
        {
            // Blocks inside a host call (wasi:clocks poll), where fuel and epochs do not reach.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        #[cfg(feature = "socket")]
        return {
            use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
            let network = wasi::sockets::instance_network::instance_network();
            match wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
                Err(e) => Err(format!("socket denied: {e:?}")),
                Ok(socket) => {
                    let to = IpSocketAddress::Ipv4(Ipv4SocketAddress { port: 9, address: (127, 0, 0, 1) });
                    match socket.start_connect(&network, to) {
                        Err(e) => Err(format!("socket denied: {e:?}")),
                        Ok(()) => Ok(Some("#cloud-config\n# connecting to 127.0.0.1:9\n".into())),
                    }
                }
            }
        };
        #[cfg(feature = "err-secrets")]
        return Err(format!("refusing: {}", leak(ctx)));
        #[cfg(feature = "log-secrets")]
        {
            log(LogLevel::Warn, &leak(ctx));
            // The document itself may carry secrets: it is what is sent.
            return Ok(Some(format!("{default}# {}\n", leak(ctx).replace('\n', " "))));
        }
        #[cfg(feature = "ansi")]
        {
            log(LogLevel::Info, "\x1b[2J\x1b]0;pwned\x07cleared");
            log(LogLevel::Info, "ok\nToken: found");
            return Err("\x1b[31mred\x1b[0m\nerror: forged line".into());
        }
        #[cfg(feature = "clocks")]
        {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let a = std::time::Instant::now();
            let b = std::time::Instant::now();
            let random = wasi::random::random::get_random_u64();
            return Ok(Some(format!("{default}# wall={wall} monotonic_delta={:?} random={random}\n", b - a)));
        }
        let _ = (log, LogLevel::Info, leak(ctx));
        Ok(Some(default.to_string()))
    }

    #[allow(unreachable_code, unused_variables)]
    fn evaluate_health(_ctx: &DeployContext, _probes: &[ServiceProbe]) -> Option<HealthVerdict> {
        #[cfg(feature = "health-loop")]
        {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        None
    }
}

export_template!(Hostile);
