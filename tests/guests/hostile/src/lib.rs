//! One hostile behaviour per feature; built once per feature by tests/build-guests.sh.

use linode_ai_guest_sdk::{export_template, DeployContext, Template};

struct Hostile;

impl Template for Hostile {
    #[allow(unreachable_code, unused_variables)]
    fn render_user_data(_ctx: &DeployContext, default: &str) -> Result<Option<String>, String> {
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
        Ok(Some(default.to_string()))
    }
}

export_template!(Hostile);
