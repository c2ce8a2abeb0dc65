//! `deploy --domain NAME` when NAME is in the account's own DNS Manager: the
//! A record (and the AAAA record, when the instance has a public IPv6)
//! linode-ai makes for the new instance, recorded in the registry and in a
//! tag on the instance and its firewall, so `destroy` from any machine
//! removes those records and no other. A name that is elsewhere, or a record
//! someone else made, is left to the user with a note saying what to do.

use crate::linode::{ApiError, CreateRecord, Domain, DomainRecord, LinodeClient};
use crate::registry::DnsRecord;

/// The shortest TTL the API takes: a redeploy's new address spreads fast.
const TTL: u32 = 300;

/// What pointing the name did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointed {
    /// Records linode-ai made (removed on destroy).
    pub made: Vec<DnsRecord>,
    /// What the user should know or do (shown as notes).
    pub notes: Vec<String>,
}

/// The record to make for one address: `A` for IPv4, `AAAA` for IPv6.
fn kind_of(address: &str) -> &'static str {
    if address.contains(':') {
        "AAAA"
    } else {
        "A"
    }
}

/// The zone `name` belongs to among `domains` (the longest match; only
/// zones Linode answers for), and the record name relative to it (empty
/// for the zone's own name).
pub fn zone_for<'a>(name: &str, domains: &'a [Domain]) -> Option<(&'a Domain, String)> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    domains
        .iter()
        .filter(|d| d.kind.as_deref().is_none_or(|k| k == "master"))
        .filter_map(|d| {
            let zone = d.domain.trim_end_matches('.').to_ascii_lowercase();
            if name == zone {
                Some((d, String::new()))
            } else {
                name.strip_suffix(&format!(".{zone}"))
                    .map(|rel| (d, rel.to_string()))
            }
        })
        .max_by_key(|(d, _)| d.domain.len())
}

/// What the user points by hand: one record per address.
pub fn what_to_point(name: &str, addresses: &[&str]) -> String {
    let each: Vec<String> = addresses
        .iter()
        .map(|a| format!("an {} record for {name} at {a}", kind_of(a)))
        .collect();
    format!("point {}", each.join(" and "))
}

/// Makes the A record of `name` point at the instance's IPv4 (and its AAAA
/// record at its IPv6) when the name's zone is in the account. `ours`:
/// records linode-ai made for deployments of this app and env (a
/// `--replace` may take over their name).
pub async fn point(
    client: &LinodeClient,
    name: &str,
    addresses: &[&str],
    ours: &[DnsRecord],
) -> Pointed {
    let yourself = |why: String| Pointed {
        made: vec![],
        notes: vec![format!("{why}: {}", what_to_point(name, addresses))],
    };
    let domains = match client.list_domains().await {
        Ok(d) => d,
        Err(e) => return yourself(format!("cannot read your DNS zones ({})", short(&e))),
    };
    let Some((zone, rel)) = zone_for(name, &domains) else {
        return yourself(format!(
            "{name} is not in a zone of your Linode DNS Manager"
        ));
    };
    let records = match client.domain_records(zone.id).await {
        Ok(r) => r,
        Err(e) => {
            return yourself(format!(
                "cannot read the records of {} ({})",
                zone.domain,
                short(&e)
            ))
        }
    };
    // A name someone else points elsewhere is theirs: an AAAA record next to
    // their A record would split it between two machines.
    let theirs: Vec<String> = addresses
        .iter()
        .filter_map(|address| {
            let kind = kind_of(address);
            records
                .iter()
                .filter(|r| r.kind == kind && r.name.eq_ignore_ascii_case(&rel))
                .filter(|r| {
                    !ours
                        .iter()
                        .any(|o| o.domain_id == zone.id && o.record_id == r.id)
                })
                .find(|r| !same_ip(&r.target, address))
                .map(|r| {
                    format!(
                        "an {kind} record for {name} in {} already points at {}",
                        zone.domain,
                        crate::sanitize::line(&r.target)
                    )
                })
        })
        .collect();
    if !theirs.is_empty() {
        return Pointed {
            made: vec![],
            notes: vec![format!(
                "{}; linode-ai leaves records it did not make alone: {} yourself",
                theirs.join("; "),
                what_to_point(name, addresses)
            )],
        };
    }
    let mut pointed = Pointed::default();
    for address in addresses {
        let one = point_one(client, zone, &rel, name, address, &records, ours).await;
        pointed.made.extend(one.made);
        pointed.notes.extend(one.notes);
    }
    pointed
}

/// One record (`A` or `AAAA`, by the address) of `name` in `zone`.
async fn point_one(
    client: &LinodeClient,
    zone: &Domain,
    rel: &str,
    name: &str,
    address: &str,
    records: &[DomainRecord],
    ours: &[DnsRecord],
) -> Pointed {
    let kind = kind_of(address);
    let ours_in_zone = |r: &DomainRecord| {
        ours.iter()
            .any(|o| o.domain_id == zone.id && o.record_id == r.id)
    };
    let same_name = |r: &&DomainRecord| r.kind == kind && r.name.eq_ignore_ascii_case(rel);
    let same_address = |r: &DomainRecord| same_ip(&r.target, address);
    let note = |n: String| Pointed {
        made: vec![],
        notes: vec![n],
    };
    if let Some(r) = records.iter().filter(same_name).find(|r| same_address(r)) {
        // Already right (made by hand, or a create whose answer was lost): not ours to delete
        // unless we made it.
        if ours_in_zone(r) {
            return Pointed {
                made: vec![record(zone, r, name)],
                notes: vec![],
            };
        }
        return note(format!(
            "the {kind} record {name} -> {address} already exists in your DNS zone {}; linode-ai did not make it and leaves it on destroy",
            zone.domain
        ));
    }
    let body = CreateRecord {
        kind: kind.into(),
        name: rel.to_string(),
        target: address.to_string(),
        ttl_sec: TTL,
    };
    let created = match client.create_domain_record(zone.id, &body).await {
        Ok(r) => Ok(r),
        // The answer may be lost after the record was made: look before saying so.
        Err(e) => match client.domain_records(zone.id).await {
            Ok(now) => now
                .into_iter()
                .find(|r| r.kind == kind && r.name.eq_ignore_ascii_case(rel) && same_address(r))
                .ok_or(e),
            Err(_) => Err(e),
        },
    };
    match created {
        Ok(r) => Pointed {
            made: vec![record(zone, &r, name)],
            notes: vec![format!(
                "created the {kind} record {name} -> {address} in your DNS zone {} (TTL {TTL} s); destroy removes it",
                zone.domain
            )],
        },
        Err(e) => note(format!(
            "creating the {kind} record in {} failed ({}): point an {kind} record for {name} at {address}",
            zone.domain,
            short(&e)
        )),
    }
}

fn record(zone: &Domain, r: &DomainRecord, name: &str) -> DnsRecord {
    DnsRecord {
        domain_id: zone.id,
        record_id: r.id,
        kind: r.kind.clone(),
        name: name.to_string(),
        target: r.target.clone(),
    }
}

/// The same address, however it is written (`2600:3c00::1` and
/// `2600:3c00:0:0::1`; the API may give either form back).
fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Removes records linode-ai made; one already gone is fine. Returns what
/// could not be removed.
pub async fn remove(client: &LinodeClient, made: &[DnsRecord]) -> Vec<String> {
    let mut failed = Vec::new();
    for r in made {
        match client.delete_domain_record(r.domain_id, r.record_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) if r.name.is_empty() => failed.push(format!("{}: {}", r.describe(), short(&e))),
            Err(e) => failed.push(format!(
                "{} (record {} of zone {}): {}",
                r.describe(),
                r.record_id,
                r.domain_id,
                short(&e)
            )),
        }
    }
    failed
}

fn short(e: &ApiError) -> String {
    crate::sanitize::line(&crate::sanitize::cut(&e.to_string(), 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: u64, name: &str, kind: &str) -> Domain {
        Domain {
            id,
            domain: name.into(),
            kind: Some(kind.into()),
        }
    }

    #[test]
    fn the_longest_master_zone_holds_the_name() {
        let zones = [
            zone(1, "example.com", "master"),
            zone(2, "lab.example.com", "master"),
            zone(3, "other.org", "slave"),
        ];
        let z = |n: &str| zone_for(n, &zones).map(|(d, rel)| (d.id, rel));
        assert_eq!(z("chat.example.com"), Some((1, "chat".into())));
        assert_eq!(z("Chat.Lab.Example.com."), Some((2, "chat".into())));
        assert_eq!(z("example.com"), Some((1, String::new())));
        assert_eq!(z("a.b.example.com"), Some((1, "a.b".into())));
        assert_eq!(z("notexample.com"), None);
        assert_eq!(
            z("x.other.org"),
            None,
            "Linode does not answer for a slave zone"
        );
    }
}
