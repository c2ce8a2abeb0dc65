//! The Cloud Firewall made for each deployment: inbound DROP, outbound
//! ACCEPT; HTTP (80, for Let's Encrypt's HTTP-01 check and the redirect) and
//! HTTPS open to all; SSH only when a key is installed, from `--ssh-from`.

use std::net::IpAddr;

use anyhow::{bail, Result};
use uuid::Uuid;

use crate::linode::{Addresses, CreateFirewall, FirewallRule, FirewallRules};
use crate::sanitize::quote;

/// Where a deployment's firewall comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum FirewallChoice {
    /// Made for the deployment, deleted with it.
    Create,
    /// The user's own (`--firewall ID`).
    Existing(u64),
    /// `--no-firewall`.
    Disabled,
}

/// `a.b.c.d/n` or IPv6 `x::y/n`; a bare address means that one host.
/// Returns the normalised network and whether it is IPv6.
pub fn parse_cidr(s: &str) -> Result<(String, bool)> {
    let (addr, len) = match s.trim().split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s.trim(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        bail!(
            "--ssh-from {}: not an IP address or network (e.g. 203.0.113.7/32 or 2001:db8::/48)",
            quote(s)
        );
    };
    let max = if ip.is_ipv6() { 128 } else { 32 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max && !l.starts_with('+') && (l == "0" || !l.starts_with('0')) => n,
            _ => bail!("--ssh-from {}: the prefix length must be 0-{max}", quote(s)),
        },
    };
    Ok((format!("{ip}/{len}"), ip.is_ipv6()))
}

fn everyone() -> Addresses {
    Addresses {
        ipv4: vec!["0.0.0.0/0".into()],
        ipv6: vec!["::/0".into()],
    }
}

fn rule(label: &str, description: &str, ports: &str, addresses: Addresses) -> FirewallRule {
    FirewallRule {
        label: label.into(),
        description: description.into(),
        action: "ACCEPT".into(),
        protocol: "TCP".into(),
        ports: ports.into(),
        addresses,
    }
}

/// The rules: `ssh_from` is `None` when no SSH key is installed (SSH closed).
pub fn rules(https_port: u16, ssh_from: Option<&[String]>) -> Result<FirewallRules> {
    let mut inbound = vec![rule(
        "http",
        "HTTP: Let's Encrypt validation and redirect to HTTPS",
        "80",
        everyone(),
    )];
    inbound.push(rule(
        "https",
        "HTTPS: the app behind linode-ai's proxy",
        &https_port.to_string(),
        everyone(),
    ));
    if let Some(from) = ssh_from {
        let addresses = if from.is_empty() {
            everyone()
        } else {
            let mut a = Addresses::default();
            for s in from {
                let (net, v6) = parse_cidr(s)?;
                let list = if v6 { &mut a.ipv6 } else { &mut a.ipv4 };
                if !list.contains(&net) {
                    list.push(net);
                }
            }
            if a.ipv4.len() + a.ipv6.len() > 255 {
                bail!("--ssh-from lists more than 255 networks; a firewall rule holds at most 255");
            }
            a
        };
        inbound.push(rule("ssh", "SSH, key login only", "22", addresses));
    }
    Ok(FirewallRules {
        inbound_policy: "DROP".into(),
        outbound_policy: "ACCEPT".into(),
        inbound,
        outbound: vec![],
    })
}

/// The create request for a deployment's firewall.
pub fn create_body(
    app: &str,
    id: Uuid,
    tags: Vec<String>,
    https_port: u16,
    ssh_from: Option<&[String]>,
) -> Result<CreateFirewall> {
    let label = crate::naming::firewall_label(app, id);
    crate::naming::check_label_len(&label, crate::naming::FIREWALL_LABEL_MAX)
        .map_err(anyhow::Error::msg)?;
    Ok(CreateFirewall {
        label,
        tags,
        rules: rules(https_port, ssh_from)?,
    })
}

/// Open inbound ports, for the plan and the summary: `80, 443, 22 (from 1 network)`.
pub fn describe(rules: &FirewallRules) -> String {
    rules
        .inbound
        .iter()
        .map(|r| {
            let n = r.addresses.ipv4.len() + r.addresses.ipv6.len();
            let all = r.addresses.ipv4.iter().any(|a| a == "0.0.0.0/0");
            if all {
                format!("{}/tcp", r.ports)
            } else {
                format!(
                    "{}/tcp from {n} network{}",
                    r.ports,
                    if n == 1 { "" } else { "s" }
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_only_with_a_key_and_from_the_given_networks() {
        let r = rules(443, None).unwrap();
        assert_eq!(describe(&r), "80/tcp, 443/tcp");
        assert_eq!(r.inbound_policy, "DROP");
        let from = vec!["203.0.113.7".to_string(), "2001:db8::/48".to_string()];
        let r = rules(8443, Some(&from)).unwrap();
        let ssh = r.inbound.iter().find(|x| x.ports == "22").unwrap();
        assert_eq!(ssh.addresses.ipv4, ["203.0.113.7/32"]);
        assert_eq!(ssh.addresses.ipv6, ["2001:db8::/48"]);
        assert_eq!(describe(&r), "80/tcp, 8443/tcp, 22/tcp from 2 networks");
        let all = rules(443, Some(&[])).unwrap();
        assert_eq!(describe(&all), "80/tcp, 443/tcp, 22/tcp");
    }

    #[test]
    fn bad_networks_are_named() {
        for bad in [
            "nope",
            "10.0.0.0/33",
            "10.0.0.1/08",
            "::/129",
            "1.2.3.4/-1",
            "1.2.3.4/+8",
        ] {
            let e = parse_cidr(bad).unwrap_err().to_string();
            assert!(e.contains("--ssh-from"), "{bad}: {e}");
        }
        assert_eq!(
            parse_cidr("10.0.0.0/8").unwrap(),
            ("10.0.0.0/8".into(), false)
        );
    }

    #[test]
    fn labels_fit_the_firewall_rule() {
        let b = create_body(
            &"x".repeat(32),
            Uuid::new_v4(),
            vec!["build_ai".into()],
            443,
            Some(&[]),
        )
        .unwrap();
        assert!(b.label.len() <= 32);
        for r in &b.rules.inbound {
            assert!((3..=32).contains(&r.label.len()));
            assert!((1..=100).contains(&r.description.len()));
        }
    }
}
