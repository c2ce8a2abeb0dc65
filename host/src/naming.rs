//! Label and tag rules of the Linode API, applied before any request.
//!
//! Labels: 3-64 chars, start with a letter, end alphanumeric, only
//! `[A-Za-z0-9-_.]`, never `--`, `__` or `..`. Tags: 3-50 chars each.
//!
//! Tag scheme (every tag fits in 50 chars): the common tag `build_ai` on
//! everything linode-ai creates (one filtered list call finds it all), then
//! `build_ai_app=<app>`, `build_ai_env=<env>`, `build_ai_template=<name>`,
//! `build_ai_template_version=<version>`, `build_ai_id=<uuid>` (the plan's
//! `build_ai_deployment_id=<uuid>` is 59 chars, which the API rejects).
//! A deployment's record can be rebuilt from these tags alone.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const LABEL_MAX: usize = 64;
/// Firewall labels are shorter than Linode labels.
pub const FIREWALL_LABEL_MAX: usize = 32;
/// The tag on every resource linode-ai creates.
pub const COMMON_TAG: &str = "build_ai";
pub const TAG_MIN: usize = 3;
pub const TAG_MAX: usize = 50;
/// Longest app or env name accepted, so that every tag stays within 50 chars.
pub const NAME_MAX: usize = 32;

/// Why a name, label or tag was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error(
        "{what} {} is {len} characters; at most {max} are allowed",
        crate::sanitize::quote(value)
    )]
    TooLong {
        what: &'static str,
        value: String,
        len: usize,
        max: usize,
    },
    #[error("{what} {} may only contain letters, digits, '-', '_' and '.', starting with a letter or digit", crate::sanitize::quote(value))]
    BadChars { what: &'static str, value: String },
}

/// Checks an app or environment name given by the user: it is used in tags,
/// the label and the registry, so keep it short and printable.
pub fn check_name(what: &'static str, value: &str) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError::Empty { what });
    }
    let len = value.chars().count();
    if len > NAME_MAX {
        return Err(NameError::TooLong {
            what,
            value: value.into(),
            len,
            max: NAME_MAX,
        });
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || !value.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(NameError::BadChars {
            what,
            value: value.into(),
        });
    }
    Ok(())
}

/// Lower-cases and keeps `[a-z0-9]`, turning every other run into one `-`,
/// trimmed at both ends and cut to `max` chars.
fn slug(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `build-ai-<app>-<env>-<YYYYMMDDTHHMMSSZ>-<id6>`: always a valid, at most
/// 64-char label, unique beyond the second's resolution thanks to the
/// deployment id's first 6 hex digits.
pub fn instance_label(app: &str, env: &str, at: DateTime<Utc>, id: Uuid) -> String {
    let stamp = at.format("%Y%m%dT%H%M%SZ").to_string(); // 16 chars
    let short = id.simple().to_string()[..6].to_string();
    let label = join_label(&[&slug(app, 20), &slug(env, 10), &stamp, &short]);
    debug_assert!(check_label(&label).is_ok(), "{label}");
    label
}

/// `build-ai-<app>-<id8>`: a valid firewall label (3-32 chars), unique per deployment.
pub fn firewall_label(app: &str, id: Uuid) -> String {
    let short = id.simple().to_string()[..8].to_string();
    let label = join_label(&[&slug(app, 14), &short]);
    debug_assert!(
        check_label_len(&label, FIREWALL_LABEL_MAX).is_ok(),
        "{label}"
    );
    label
}

fn join_label(parts: &[&str]) -> String {
    let mut label = String::from("build-ai");
    for part in parts {
        if !part.is_empty() {
            label.push('-');
            label.push_str(part);
        }
    }
    label
}

/// Whether `name` is a DNS host name (an rDNS answer we may show, store and
/// put in a URL): dot-separated labels of 1-63 letters, digits and `-`
/// (not first or last), at most 253 characters, one trailing dot allowed.
pub fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The API's label rule, checked by hand (its pattern needs look-ahead).
pub fn check_label(label: &str) -> Result<(), String> {
    check_label_len(label, LABEL_MAX)
}

/// The label rule with a length limit (64 for Linodes, 32 for firewalls).
pub fn check_label_len(label: &str, max: usize) -> Result<(), String> {
    let len = label.chars().count();
    let label = &crate::sanitize::line(&crate::sanitize::cut(label, 80));
    if !(3..=max).contains(&len) {
        return Err(format!(
            "label \"{label}\" must be 3-{max} characters (is {len})"
        ));
    }
    let first = label.chars().next().unwrap_or(' ');
    if !first.is_ascii_alphabetic() {
        return Err(format!("label \"{label}\" must start with a letter"));
    }
    if !label
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return Err(format!("label \"{label}\" must end with a letter or digit"));
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "label \"{label}\" may only contain letters, digits, '-', '_' and '.'"
        ));
    }
    for double in ["--", "__", ".."] {
        if label.contains(double) {
            return Err(format!("label \"{label}\" must not contain \"{double}\""));
        }
    }
    Ok(())
}

/// The tags put on every resource linode-ai creates; with an expiry, its tag
/// (`build_ai_expires=20261205T0900Z`: any machine's `status` sees it).
pub fn instance_tags(
    app: &str,
    env: &str,
    template: &str,
    version: &str,
    id: Uuid,
    expires: Option<DateTime<Utc>>,
) -> Vec<String> {
    let mut tags = vec![
        COMMON_TAG.to_string(),
        format!("build_ai_app={app}"),
        format!("build_ai_env={env}"),
        format!("build_ai_template={template}"),
        format!("build_ai_template_version={version}"),
        format!("build_ai_id={id}"),
    ];
    if let Some(t) = expires {
        tags.push(format!("{EXPIRES_TAG}={}", t.format(EXPIRES_FORMAT)));
    }
    tags
}

/// The tag naming the cluster an LKE deployment runs on (on its firewall,
/// and on the cluster when linode-ai made it).
pub const LKE_TAG: &str = "build_ai_lke";

/// `build_ai_lke=<cluster id>`.
pub fn lke_tag(cluster: u64) -> String {
    format!("{LKE_TAG}={cluster}")
}

/// Before the cluster exists, the firewall's tag says `build_ai_lke=new`.
pub const LKE_TAG_NEW: &str = "build_ai_lke=new";

/// Whether a resource's tags say it belongs to an LKE deployment.
pub fn is_lke(tags: &[String]) -> bool {
    tags.iter()
        .any(|t| t.strip_prefix(LKE_TAG).is_some_and(|r| r.starts_with('=')))
}

/// The cluster id in a resource's tags.
pub fn cluster_of(tags: &[String]) -> Option<u64> {
    tags.iter()
        .find_map(|t| t.strip_prefix(LKE_TAG)?.strip_prefix('=')?.parse().ok())
}

/// The tag key of a deployment's expiry.
pub const EXPIRES_TAG: &str = "build_ai_expires";
/// The tag key of a DNS record linode-ai made for the deployment
/// (`build_ai_dns=<zone id>.<record id>`, one per record): a `destroy` on
/// another machine removes that record and no other.
pub const DNS_TAG: &str = "build_ai_dns";

/// The cache volume's label: `ai-cache-` and the deployment id's first 8
/// characters (Volume labels: letters, digits, `-` and `_`, 1-32; unique in
/// the account).
pub fn cache_label(id: Uuid) -> String {
    format!("ai-cache-{}", &id.simple().to_string()[..8])
}

/// The tag naming one DNS record linode-ai made.
pub fn dns_tag(domain_id: u64, record_id: u64) -> String {
    format!("{DNS_TAG}={domain_id}.{record_id}")
}
/// Minutes, UTC, compact: a tag holds at most 50 characters.
const EXPIRES_FORMAT: &str = "%Y%m%dT%H%MZ";
/// The shortest and longest expiry `--ttl` accepts.
pub const TTL_MIN_MINUTES: i64 = 10;
pub const TTL_MAX_DAYS: i64 = 365;

/// Reads an expiry tag's value back; `None` when it is not one.
pub fn parse_expires(v: &str) -> Option<DateTime<Utc>> {
    // Linode treats tags case-insensitively: `...t0900z` is the same tag.
    chrono::NaiveDateTime::parse_from_str(&v.to_ascii_uppercase(), EXPIRES_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// `--ttl`: `90m`, `8h`, `2d` (or `1h30m`); `none` (or `0`) for no expiry.
/// Between 10 minutes and 365 days; rounded down to the minute.
pub fn parse_ttl(s: &str) -> Result<Option<chrono::Duration>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") || t == "0" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "{} is not a duration: use minutes, hours or days like 90m, 8h, 2d or 1h30m (or none)",
            crate::sanitize::quote(s)
        )
    };
    if t.is_empty() || t.len() > 24 {
        return Err(bad());
    }
    let mut minutes: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let per = match c {
            'm' => 1,
            'h' => 60,
            'd' => 24 * 60,
            _ => return Err(bad()),
        };
        minutes = n
            .checked_mul(per)
            .and_then(|m| minutes.checked_add(m))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    if !(TTL_MIN_MINUTES..=TTL_MAX_DAYS * 24 * 60).contains(&minutes) {
        return Err(format!(
            "{} is outside {TTL_MIN_MINUTES}m-{TTL_MAX_DAYS}d",
            crate::sanitize::quote(s)
        ));
    }
    Ok(Some(chrono::Duration::minutes(minutes)))
}

/// "3h 12m", "2d 4h", "45m": how long until (or since) an expiry.
pub fn format_span(d: chrono::Duration) -> String {
    let m = d.num_minutes().abs();
    let (days, hours, mins) = (m / (24 * 60), (m / 60) % 24, m % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, h) => format!("{h}h {mins}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// What a resource's tags say about the deployment it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeploymentTags {
    pub app: Option<String>,
    pub env: Option<String>,
    pub template: Option<String>,
    pub template_version: Option<String>,
    pub id: Option<String>,
    pub expires: Option<DateTime<Utc>>,
    /// DNS records made for it: (zone id, record id).
    pub dns: Vec<(u64, u64)>,
}

impl DeploymentTags {
    pub fn parse(tags: &[String]) -> DeploymentTags {
        let mut t = DeploymentTags::default();
        for tag in tags {
            let Some((k, v)) = tag.split_once('=') else {
                continue;
            };
            let v = Some(v.to_string());
            match k {
                "build_ai_app" => t.app = v,
                "build_ai_env" => t.env = v,
                "build_ai_template" => t.template = v,
                "build_ai_template_version" => t.template_version = v,
                "build_ai_id" | "build_ai_deployment_id" => t.id = v,
                EXPIRES_TAG => t.expires = parse_expires(v.as_deref().unwrap_or_default()),
                DNS_TAG => {
                    let ids = v
                        .as_deref()
                        .and_then(|v| v.split_once('.'))
                        .and_then(|(d, r)| Some((d.parse::<u64>().ok()?, r.parse::<u64>().ok()?)));
                    if let Some(ids) = ids.filter(|i| !t.dns.contains(i)) {
                        t.dns.push(ids);
                    }
                }
                _ => {}
            }
        }
        t
    }
}

/// The API's tag rule: 3-50 characters each.
pub fn check_tags(tags: &[String]) -> Result<(), String> {
    for (i, tag) in tags.iter().enumerate() {
        let len = tag.chars().count();
        if !(TAG_MIN..=TAG_MAX).contains(&len) {
            return Err(format!(
                "tag {i} (\"{tag}\") is {len} characters; Linode allows {TAG_MIN}-{TAG_MAX}"
            ));
        }
    }
    Ok(())
}

/// The hostname a deployment serves: `--domain`, else the name the boot
/// script derives from the public IPv4 (`a-b-c-d.ip.linodeusercontent.com`,
/// Linode's default rDNS, which resolves to it). A custom rDNS name is not
/// used: the instance has no certificate for it.
pub fn hostname_for(ipv4: &str, domain: Option<&str>) -> String {
    match domain {
        Some(d) => d.to_string(),
        None => format!("{}.ip.linodeusercontent.com", ipv4.replace('.', "-")),
    }
}

/// Whether `given` (what a user typed after `--id`) names the deployment id
/// `full`: the whole id, or at least its first 6 characters.
pub fn id_matches(full: &str, given: &str) -> bool {
    full == given || (given.len() >= 6 && full.starts_with(given))
}

/// This machine's name (recorded in pending records).
pub fn machine_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(0);
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_the_domain_or_the_name_derived_from_the_ipv4() {
        assert_eq!(
            hostname_for("45.33.68.91", None),
            "45-33-68-91.ip.linodeusercontent.com"
        );
        assert_eq!(
            hostname_for("45.33.68.91", Some("chat.example.com")),
            "chat.example.com"
        );
    }

    #[test]
    fn ttl_and_expiry_tags() {
        let m = |n| Some(chrono::Duration::minutes(n));
        assert_eq!(parse_ttl("90m").unwrap(), m(90));
        assert_eq!(parse_ttl("8h").unwrap(), m(480));
        assert_eq!(parse_ttl("1h30m").unwrap(), m(90));
        assert_eq!(parse_ttl("2d").unwrap(), m(2880));
        assert_eq!(parse_ttl("none").unwrap(), None);
        assert_eq!(parse_ttl("0").unwrap(), None);
        for bad in [
            "",
            "8",
            "h",
            "8x",
            "-1h",
            "1.5h",
            "5m",
            "366d",
            "99999999999999999999d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
        let now = DateTime::parse_from_rfc3339("2026-12-05T09:07:59Z")
            .unwrap()
            .to_utc();
        let id = Uuid::new_v4();
        let long = "a".repeat(NAME_MAX);
        let tags = instance_tags(&long, &long, &long, "0.2.0", id, Some(now));
        check_tags(&tags).unwrap();
        assert_eq!(tags.last().unwrap(), "build_ai_expires=20261205T0907Z");
        let back = DeploymentTags::parse(&tags).expires.unwrap();
        assert_eq!(back.to_rfc3339(), "2026-12-05T09:07:00+00:00");
        assert_eq!(
            DeploymentTags::parse(&["build_ai_expires=soon".into()]).expires,
            None
        );
        assert_eq!(format_span(chrono::Duration::minutes(192)), "3h 12m");
        assert_eq!(format_span(chrono::Duration::minutes(-45)), "45m");
        assert_eq!(format_span(chrono::Duration::minutes(3000)), "2d 2h");
    }

    #[test]
    fn host_names_are_dns_names_and_nothing_else() {
        for ok in [
            "localhost",
            "45-33-68-91.ip.linodeusercontent.com",
            "my.example.org.",
        ] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "evil.example\n\x1b[2J",
            "-x.com",
            "x-.com",
            "a b",
            &"a".repeat(64),
            "x/y",
        ] {
            assert!(!is_host_name(bad), "{bad:?}");
        }
    }
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 14, 30, 0).unwrap()
    }

    #[test]
    fn label_is_compact_and_valid() {
        let id = Uuid::parse_str("0a1b2c3d-0000-4000-8000-000000000000").unwrap();
        let l = instance_label("chat-agent", "default", at(), id);
        assert_eq!(l, "build-ai-chat-agent-default-20261126T143000Z-0a1b2c");
        check_label(&l).unwrap();
        // Two deployments in the same second get different labels.
        assert_ne!(
            l,
            instance_label("chat-agent", "default", at(), Uuid::new_v4())
        );
        let f = firewall_label("chat-agent", id);
        assert_eq!(f, "build-ai-chat-agent-0a1b2c3d");
        check_label_len(&f, FIREWALL_LABEL_MAX).unwrap();
    }

    #[test]
    fn hostile_names_still_give_valid_labels() {
        for (app, env) in [
            ("My App!!", "Prod__1"),
            ("--a..b__c--", "..."),
            ("x".repeat(200).as_str(), "y".repeat(200).as_str()),
            ("ünïcødé", "日本"),
            ("", ""),
        ] {
            let l = instance_label(app, env, at(), Uuid::new_v4());
            check_label(&l).unwrap_or_else(|e| panic!("{app:?}/{env:?}: {e}"));
            assert!(l.len() <= LABEL_MAX);
            let f = firewall_label(app, Uuid::new_v4());
            check_label_len(&f, FIREWALL_LABEL_MAX).unwrap_or_else(|e| panic!("{app:?}: {e}"));
        }
    }

    #[test]
    fn label_rule_rejects_what_the_api_rejects() {
        for bad in [
            "ab",
            "1abc",
            "a--b",
            "a__b",
            "a..b",
            "abc-",
            "a:b",
            "a+b",
            &"a".repeat(65),
        ] {
            assert!(check_label(bad).is_err(), "{bad} accepted");
        }
        check_label("a-b_c.d9").unwrap();
    }

    #[test]
    fn tags_fit_the_api_limits_for_the_longest_names() {
        let name = "a".repeat(NAME_MAX);
        let id = Uuid::new_v4();
        let tags = instance_tags(&name, &name, "chat-agent", "0.1.0", id, None);
        check_tags(&tags).unwrap();
        let back = DeploymentTags::parse(&tags);
        assert_eq!(back.app.as_deref(), Some(name.as_str()));
        assert_eq!(back.id, Some(id.to_string()));
        // The plan's original id tag would not fit.
        let plan = vec![format!("build_ai_deployment_id={}", Uuid::new_v4())];
        assert!(check_tags(&plan).is_err());
    }

    #[test]
    fn names_are_checked() {
        check_name("app name", "chat-agent").unwrap();
        assert!(check_name("app name", "").is_err());
        assert!(check_name("app name", "a b").is_err());
        assert!(check_name("app name", &"a".repeat(33)).is_err());
        for bad in [".", "..", ".hidden", "-x"] {
            assert!(check_name("template name", bad).is_err(), "{bad}");
        }
    }
}
