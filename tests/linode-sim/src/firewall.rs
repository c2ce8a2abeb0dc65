//! The Cloud Firewall create body's rules, as the official spec states them:
//! label 3-32 characters with the Linode label pattern, `inbound_policy` and
//! `outbound_policy` ACCEPT or DROP, at most 25 rules, each with an action, a
//! protocol and non-empty IPv4/IPv6 CIDR lists (at most 255 addresses), ports
//! like `22-24, 80, 443` (1-65535, no leading zeros, at most 15 pieces, none
//! for ICMP/IPENCAP), rule labels 3-32 and descriptions 1-100 characters.

use std::net::IpAddr;

use serde_json::Value;

/// Problems with a create body: `(reason, field)`.
pub fn validate(b: &serde_json::Map<String, Value>) -> Vec<(String, Option<String>)> {
    let mut errs = Vec::new();
    let mut err = |r: String, f: &str| errs.push((r, Some(f.to_string())));
    for k in b.keys() {
        if !matches!(k.as_str(), "label" | "rules" | "tags" | "devices") {
            err(format!("{k} is not a valid field"), k);
        }
    }
    match b.get("label").and_then(Value::as_str) {
        None => err("label is required".into(), "label"),
        Some(l) => {
            let n = l.chars().count();
            if !(3..=32).contains(&n) || !crate::label_rule(l) {
                err(
                    "Label must begin with a letter, end with a letter or digit, contain only letters, digits, '-', '_' or '.', without consecutive '-', '_' or '.', and be 3-32 characters".into(),
                    "label",
                );
            }
        }
    }
    if let Some(tags) = b.get("tags") {
        match tags.as_array() {
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    let n = t.as_str().map(|s| s.chars().count()).unwrap_or(0);
                    if !(3..=50).contains(&n) {
                        err(
                            format!("Tag {i} length must be 3-50 characters"),
                            &format!("tags[{i}]"),
                        );
                    }
                }
            }
            None => err("tags must be a list".into(), "tags"),
        }
    }
    let Some(rules) = b.get("rules").and_then(Value::as_object) else {
        err("rules is required".into(), "rules");
        return errs;
    };
    for policy in ["inbound_policy", "outbound_policy"] {
        match rules.get(policy).and_then(Value::as_str) {
            Some("ACCEPT" | "DROP") => {}
            _ => err(
                "Must be one of ACCEPT, DROP".into(),
                &format!("rules.{policy}"),
            ),
        }
    }
    let mut total = 0;
    for dir in ["inbound", "outbound"] {
        let Some(list) = rules.get(dir) else { continue };
        let Some(list) = list.as_array() else {
            err(format!("{dir} must be a list"), &format!("rules.{dir}"));
            continue;
        };
        total += list.len();
        for (i, r) in list.iter().enumerate() {
            let at = format!("rules.{dir}[{i}]");
            let Some(r) = r.as_object() else {
                err("rule must be an object".into(), &at);
                continue;
            };
            for k in r.keys() {
                if !matches!(
                    k.as_str(),
                    "action" | "protocol" | "ports" | "addresses" | "label" | "description"
                ) {
                    err(format!("{k} is not a valid field"), &format!("{at}.{k}"));
                }
            }
            if !matches!(
                r.get("action").and_then(Value::as_str),
                Some("ACCEPT" | "DROP")
            ) {
                err(
                    "Must be one of ACCEPT, DROP".into(),
                    &format!("{at}.action"),
                );
            }
            let protocol = r.get("protocol").and_then(Value::as_str);
            if !matches!(protocol, Some("TCP" | "UDP" | "ICMP" | "IPENCAP")) {
                err(
                    "Must be one of TCP, UDP, ICMP, IPENCAP".into(),
                    &format!("{at}.protocol"),
                );
            }
            match r.get("ports") {
                None | Some(Value::Null) => {}
                Some(Value::String(p)) => {
                    if matches!(protocol, Some("ICMP" | "IPENCAP")) {
                        err(
                            "Ports are not allowed for ICMP and IPENCAP protocols".into(),
                            &format!("{at}.ports"),
                        );
                    } else if let Err(e) = ports_ok(p) {
                        err(e, &format!("{at}.ports"));
                    }
                }
                Some(_) => err("ports must be a string".into(), &format!("{at}.ports")),
            }
            if let Some(l) = r.get("label") {
                let n = l.as_str().map(|s| s.chars().count()).unwrap_or(0);
                if !(3..=32).contains(&n) {
                    err(
                        "Length must be 3-32 characters".into(),
                        &format!("{at}.label"),
                    );
                }
            }
            if let Some(d) = r.get("description") {
                let n = d.as_str().map(|s| s.chars().count()).unwrap_or(0);
                if !(1..=100).contains(&n) {
                    err(
                        "Length must be 1-100 characters".into(),
                        &format!("{at}.description"),
                    );
                }
            }
            match r.get("addresses").and_then(Value::as_object) {
                None => err("addresses is required".into(), &format!("{at}.addresses")),
                Some(a) => {
                    if a.is_empty() {
                        err(
                            "Must contain ipv4, ipv6, or both".into(),
                            &format!("{at}.addresses"),
                        );
                    }
                    let mut count = 0;
                    for (fam, v6) in [("ipv4", false), ("ipv6", true)] {
                        let Some(list) = a.get(fam) else { continue };
                        match list.as_array() {
                            Some(l) if !l.is_empty() => {
                                count += l.len();
                                for x in l {
                                    if !cidr_ok(x.as_str().unwrap_or(""), v6) {
                                        err(
                                            format!("Invalid IP address or network: {}", x),
                                            &format!("{at}.addresses.{fam}"),
                                        );
                                    }
                                }
                            }
                            _ => err(
                                "Must not be an empty list".into(),
                                &format!("{at}.addresses.{fam}"),
                            ),
                        }
                    }
                    if count > 255 {
                        err(
                            "A rule can have up to 255 addresses".into(),
                            &format!("{at}.addresses"),
                        );
                    }
                }
            }
        }
    }
    if total > 25 {
        err("A Firewall may have up to 25 rules".into(), "rules");
    }
    errs
}

fn cidr_ok(s: &str, v6: bool) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if v6 { 128 } else { 32 };
    ip.is_ipv6() == v6 && len.parse::<u8>().is_ok_and(|n| n <= max) && !len.starts_with('+')
}

/// `22-24, 80, 443`: pieces of ports or ranges (a range counts twice), at most 15.
pub fn ports_ok(p: &str) -> Result<(), String> {
    let mut pieces = 0;
    for (i, part) in p.split(',').enumerate() {
        let part = if i == 0 {
            part
        } else {
            part.strip_prefix(' ').unwrap_or(part)
        };
        let num = |s: &str| -> Result<u32, String> {
            if s.is_empty() || s.starts_with('0') || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("Invalid port: {s:?}"));
            }
            match s.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n),
                _ => Err(format!("Ports must be within 1 and 65535: {s:?}")),
            }
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b <= a {
                    return Err("The end of a port range must be greater than its start".into());
                }
                pieces += 2;
            }
            None => {
                num(part)?;
                pieces += 1;
            }
        }
    }
    if pieces > 15 {
        return Err("A ports string may have at most 15 pieces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_syntax() {
        for ok in ["22", "22-24, 80, 443", "1-65535", "80,443"] {
            ports_ok(ok).unwrap();
        }
        for bad in [
            "080",
            "0",
            "65536",
            "24-22",
            "22 ,80",
            "a",
            "",
            "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
        ] {
            assert!(ports_ok(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert!(cidr_ok("0.0.0.0/0", false));
        assert!(cidr_ok("::/0", true));
        assert!(!cidr_ok("1.2.3.4", false));
        assert!(!cidr_ok("::/0", false));
        assert!(!cidr_ok("1.2.3.4/33", false));
    }
}
