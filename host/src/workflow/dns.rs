//! `deploy --domain NAME` when NAME is in the account's own DNS Manager: the
//! A record linode-ai makes for the new instance (recorded, so `destroy`
//! removes that record and no other). A name that is elsewhere, or an A
//! record someone else made, is left to the user with a note saying what to do.

use crate::linode::{ApiError, CreateRecord, Domain, DomainRecord, LinodeClient};
use crate::registry::DnsRecord;

/// The record type linode-ai makes (the instance's public IPv4).
const A: &str = "A";
/// The shortest TTL the API takes: a redeploy's new address spreads fast.
const TTL: u32 = 300;

/// What pointing the name did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointed {
    /// Records linode-ai made (removed on destroy).
    pub made: Vec<DnsRecord>,
    /// What the user should know or do (shown as a note).
    pub note: Option<String>,
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

/// Makes the A record of `name` point at `ipv4` when its zone is in the
/// account. `ours`: records linode-ai made for deployments of this app and
/// env (a `--replace` may take over their name).
pub async fn point(client: &LinodeClient, name: &str, ipv4: &str, ours: &[DnsRecord]) -> Pointed {
    let yourself = |why: String| Pointed {
        made: vec![],
        note: Some(format!("{why}: point an A record for {name} at {ipv4}")),
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
    let same_name = |r: &&DomainRecord| r.kind == A && r.name.eq_ignore_ascii_case(&rel);
    if let Some(r) = records.iter().filter(same_name).find(|r| r.target == ipv4) {
        // Already right (made by hand, or a create whose answer was lost): not ours to delete
        // unless we made it.
        let made: Vec<DnsRecord> = ours
            .iter()
            .filter(|o| o.domain_id == zone.id && o.record_id == r.id)
            .cloned()
            .collect();
        let note = made.is_empty().then(|| {
            format!(
                "the A record {name} -> {ipv4} already exists in your DNS zone {}; linode-ai did not make it and leaves it on destroy",
                zone.domain
            )
        });
        return Pointed { made, note };
    }
    let others: Vec<&DomainRecord> = records
        .iter()
        .filter(same_name)
        .filter(|r| {
            !ours
                .iter()
                .any(|o| o.domain_id == zone.id && o.record_id == r.id)
        })
        .collect();
    if let Some(r) = others.first() {
        return Pointed {
            made: vec![],
            note: Some(format!(
                "an A record for {name} in {} already points at {}; linode-ai leaves records it did not make alone: point it at {ipv4} yourself",
                zone.domain,
                crate::sanitize::line(&r.target)
            )),
        };
    }
    let body = CreateRecord {
        kind: A.into(),
        name: rel.clone(),
        target: ipv4.to_string(),
        ttl_sec: TTL,
    };
    let created = match client.create_domain_record(zone.id, &body).await {
        Ok(r) => Ok(r),
        // The answer may be lost after the record was made: look before saying so.
        Err(e) => match client.domain_records(zone.id).await {
            Ok(now) => now
                .into_iter()
                .find(|r| r.kind == A && r.name.eq_ignore_ascii_case(&rel) && r.target == ipv4)
                .ok_or(e),
            Err(_) => Err(e),
        },
    };
    match created {
        Ok(r) => Pointed {
            made: vec![DnsRecord {
                domain_id: zone.id,
                record_id: r.id,
                kind: A.into(),
                name: name.to_string(),
                target: ipv4.to_string(),
            }],
            note: Some(format!(
                "created the A record {name} -> {ipv4} in your DNS zone {} (TTL {TTL} s); destroy removes it",
                zone.domain
            )),
        },
        Err(e) => yourself(format!(
            "creating the A record in {} failed ({})",
            zone.domain,
            short(&e)
        )),
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
            Err(e) => failed.push(format!(
                "the A record {} -> {} (record {} of zone {}): {}",
                r.name,
                r.target,
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
