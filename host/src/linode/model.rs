//! Request and response types of the Linode API v4, as the real API sends
//! them: everything read is optional and unknown fields are ignored (the API
//! returns nulls its spec calls non-null and fields its spec does not list).

use serde::{Deserialize, Serialize};

use crate::state::InstanceState;

/// `POST /linode/instances` body. `Debug` redacts the root password.
#[derive(Clone, Serialize)]
pub struct CreateInstance {
    pub region: String,
    #[serde(rename = "type")]
    pub linode_type: String,
    pub image: String,
    pub label: String,
    pub tags: Vec<String>,
    pub root_pass: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorized_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorized_users: Vec<String>,
    pub metadata: Metadata,
    pub booted: bool,
    /// The Cloud Firewall attached at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// One-line standard base64 of the cloud-config document.
    pub user_data: String,
}

impl std::fmt::Debug for CreateInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateInstance")
            .field("region", &self.region)
            .field("type", &self.linode_type)
            .field("label", &self.label)
            .field("firewall_id", &self.firewall_id)
            .field("root_pass", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CreateInstance {
    /// The body as JSON with the root password and user-data redacted, for `--dry-run`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("serialises");
        v["root_pass"] =
            serde_json::Value::String("<redacted: 68 random characters, never stored>".into());
        v["metadata"]["user_data"] = serde_json::Value::String(format!(
            "<base64 of the user-data below, {} characters>",
            self.metadata.user_data.len()
        ));
        v
    }
}

/// An instance as the API returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Instance {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<InstanceState>,
    #[serde(default)]
    pub ipv4: Vec<String>,
    /// The SLAAC address with its prefix (`2600:3c03::f03c:91ff:fe24:3a2f/128`), or null.
    #[serde(default)]
    pub ipv6: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default, rename = "type")]
    pub linode_type: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    /// Naive UTC (`2018-01-01T00:01:01`), no zone suffix.
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub tags: Vec<String>,
}

fn nullable_list<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Instance {
    /// The first public IPv4 (the list can also hold a private 192.168.x
    /// address), else the first private one; only real IPv4 addresses (the
    /// answer is shown, stored and probed).
    /// The instance's IPv6 address without its prefix length, when it has one.
    pub fn public_ipv6(&self) -> Option<&str> {
        let a = self.ipv6.as_deref()?;
        let addr = a.split_once('/').map_or(a, |(a, _)| a);
        let ip: std::net::Ipv6Addr = addr.parse().ok()?;
        (!ip.is_unspecified()).then_some(addr)
    }

    pub fn public_ipv4(&self) -> Option<&str> {
        let ips = || {
            self.ipv4
                .iter()
                .map(String::as_str)
                .filter_map(|a| Some((a, a.parse::<std::net::Ipv4Addr>().ok()?)))
        };
        ips()
            .find(|(_, ip)| !ip.is_private())
            .or_else(|| ips().next())
            .map(|(a, _)| a)
    }

    pub fn state(&self) -> InstanceState {
        self.status
            .clone()
            .unwrap_or(InstanceState::Other("unknown".into()))
    }
}

/// Parses the API's naive UTC timestamps.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Region {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
}

impl Region {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LinodeType {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub memory: u64,
    #[serde(default)]
    pub vcpus: u64,
    #[serde(default)]
    pub gpus: u64,
    #[serde(default)]
    pub price: Option<Price>,
    /// Regions where the plan costs something else.
    #[serde(default, deserialize_with = "nullable_list")]
    pub region_prices: Vec<RegionPrice>,
}

/// A plan's price. A value the API gives that is not a plausible price
/// (negative, above [`HOURLY_MAX`] / [`MONTHLY_MAX`], not a number) is a
/// malformed answer and reads as unknown (`None`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
pub struct Price {
    #[serde(default, deserialize_with = "hourly_price")]
    pub hourly: Option<f64>,
    #[serde(default, deserialize_with = "monthly_price")]
    pub monthly: Option<f64>,
}

/// No Linode plan costs more than this per hour (the largest GPU plans cost a few dollars).
pub const HOURLY_MAX: f64 = 1_000.0;
/// Nor more than this per month.
pub const MONTHLY_MAX: f64 = HOURLY_MAX * 730.0;

fn price_within<'de, D: serde::Deserializer<'de>>(d: D, max: f64) -> Result<Option<f64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| v.as_f64())
        .filter(|p| p.is_finite() && (0.0..=max).contains(p)))
}
fn hourly_price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    price_within(d, HOURLY_MAX)
}
fn monthly_price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    price_within(d, MONTHLY_MAX)
}

impl Price {
    /// Whether anything is known of it.
    pub fn is_known(&self) -> bool {
        self.hourly.is_some() || self.monthly.is_some()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RegionPrice {
    pub id: String,
    #[serde(default, deserialize_with = "hourly_price")]
    pub hourly: Option<f64>,
    #[serde(default, deserialize_with = "monthly_price")]
    pub monthly: Option<f64>,
}

impl LinodeType {
    /// The price in `region` (its own price where it has one); `None` when
    /// the answer holds no valid price.
    pub fn price_in(&self, region: &str) -> Option<Price> {
        self.region_prices
            .iter()
            .find(|p| p.id == region)
            .map(|p| Price {
                hourly: p.hourly,
                monthly: p.monthly,
            })
            .or(self.price)
            .filter(Price::is_known)
    }
}

/// `POST /networking/firewalls` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateFirewall {
    pub label: String,
    pub tags: Vec<String>,
    pub rules: FirewallRules,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirewallRules {
    pub inbound_policy: String,
    pub outbound_policy: String,
    pub inbound: Vec<FirewallRule>,
    pub outbound: Vec<FirewallRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirewallRule {
    pub label: String,
    pub description: String,
    pub action: String,
    pub protocol: String,
    pub ports: String,
    pub addresses: Addresses,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Addresses {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ipv4: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ipv6: Vec<String>,
}

/// A firewall as the API returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Firewall {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created: Option<String>,
    /// What the firewall is attached to (`None`: the answer did not say).
    #[serde(default)]
    pub entities: Option<Vec<DeviceEntity>>,
}

impl Firewall {
    /// Whether the answer says Linode `id` is attached (`None`: it did not say).
    pub fn attached_to(&self, id: u64) -> Option<bool> {
        self.entities.as_ref().map(|e| {
            e.iter()
                .any(|x| x.id == id && x.kind.as_deref().is_none_or(|k| k == "linode"))
        })
    }
}

/// One service a firewall is attached to.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FirewallDevice {
    pub id: u64,
    #[serde(default)]
    pub entity: Option<DeviceEntity>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeviceEntity {
    pub id: u64,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_timestamps_parse() {
        assert!(parse_timestamp("2018-01-01T00:01:01").is_some());
        assert!(parse_timestamp("2018-01-01T00:01:01.123").is_some());
    }

    #[test]
    fn instance_tolerates_nulls_and_unknown_fields() {
        let i: Instance = serde_json::from_str(
            r#"{"id": 5, "label": null, "status": "running", "ipv4": ["192.168.1.2", "203.0.113.9"],
                "image": null, "created": "2018-01-01T00:01:01", "tags": null, "brand_new_field": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(i.public_ipv4(), Some("203.0.113.9"));
        let odd: Instance =
            serde_json::from_str(r#"{"id": 6, "ipv4": ["1.2.3.4\n\u001b[2J", "not an address"]}"#)
                .unwrap();
        assert_eq!(odd.public_ipv4(), None, "only real addresses");
        assert_eq!(i.state(), InstanceState::Running);
    }

    #[test]
    fn region_prices_win() {
        let t: LinodeType = serde_json::from_str(
            r#"{"id": "g6-standard-2", "price": {"hourly": 0.036, "monthly": 24.0},
                "region_prices": [{"id": "id-cgk", "hourly": 0.043, "monthly": 28.8}]}"#,
        )
        .unwrap();
        assert_eq!(t.price_in("id-cgk").unwrap().monthly, Some(28.8));
        assert_eq!(t.price_in("us-ord").unwrap().monthly, Some(24.0));
    }

    #[test]
    fn implausible_prices_are_unknown() {
        for (price, hourly, monthly) in [
            (r#"{"hourly": -0.036, "monthly": 24.0}"#, None, Some(24.0)),
            (r#"{"hourly": 1e308, "monthly": "24"}"#, None, None),
            (r#"{"hourly": 0.036, "monthly": 1e300}"#, Some(0.036), None),
            (r#"{"hourly": 0, "monthly": null}"#, Some(0.0), None),
        ] {
            let p: Price = serde_json::from_str(price).unwrap();
            assert_eq!((p.hourly, p.monthly), (hourly, monthly), "{price}");
        }
        let t: LinodeType = serde_json::from_str(
            r#"{"id": "g6-standard-2", "price": {"hourly": -1, "monthly": -1}}"#,
        )
        .unwrap();
        assert_eq!(t.price_in("us-ord"), None);
    }

    #[test]
    fn create_body_never_leaks_the_password() {
        let body = CreateInstance {
            region: "us-ord".into(),
            linode_type: "g6-standard-2".into(),
            image: "linode/ubuntu24.04".into(),
            label: "build-ai-x".into(),
            tags: vec![],
            root_pass: "SUPERSECRET".into(),
            authorized_keys: vec![],
            authorized_users: vec![],
            metadata: Metadata {
                user_data: "I2Nsb3VkLWNvbmZpZwo=".into(),
            },
            booted: true,
            firewall_id: Some(7),
        };
        assert!(!format!("{body:?}").contains("SUPERSECRET"));
        assert!(!body.redacted_json().to_string().contains("SUPERSECRET"));
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.contains("SUPERSECRET") && json.contains("\"firewall_id\":7"));
    }
}

/// A zone in the account's DNS Manager (`GET /domains`).
#[derive(Debug, Clone, Deserialize)]
pub struct Domain {
    pub id: u64,
    pub domain: String,
    /// `master` (Linode answers for it) or `slave`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One record of a zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainRecord {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub target: String,
}

/// `POST /domains/{id}/records` for an A or AAAA record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CreateRecord {
    #[serde(rename = "type")]
    pub kind: String,
    /// Relative to the zone; empty for the zone's own name.
    pub name: String,
    pub target: String,
    /// 300: the shortest the API takes, so a redeploy's new address spreads fast.
    pub ttl_sec: u32,
}

/// `PUT` of a resource's tags (the list replaces the old one).
#[derive(Debug, Serialize)]
pub struct TagsUpdate<'a> {
    pub tags: &'a [String],
}

/// `PUT /linode/instances/{id}` body that turns Linode's Shutdown Watchdog
/// (Lassie) on or off. Not part of the create body in the spec (v4.189.0):
/// a Linode that powers itself off must be made with `booted: false`, get
/// this, then be booted, or Lassie boots it again.
#[derive(Debug, Clone, Serialize)]
pub struct WatchdogUpdate {
    pub watchdog_enabled: bool,
}

/// A Linode's disk (`GET /linode/instances/{id}/disks`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Disk {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    /// `ext4`, `swap`, `raw`, ...
    #[serde(default)]
    pub filesystem: Option<String>,
    /// MB.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
}

/// `POST /images` body: a private Image captured from a disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateImage {
    pub disk_id: u64,
    pub label: String,
    pub description: String,
    /// Marks the Image as made for cloud-init (Metadata user-data works on
    /// Linodes made from it).
    pub cloud_init: bool,
    pub tags: Vec<String>,
}

/// An Image as the API returns it (`id` is `private/<n>` for ours).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `creating`, `pending_upload`, `available`.
    #[serde(default)]
    pub status: Option<String>,
    /// MB.
    #[serde(default)]
    pub size: Option<u64>,
    /// MB, over every region it is stored in (what is billed).
    #[serde(default)]
    pub total_size: Option<u64>,
    #[serde(default)]
    pub is_public: Option<bool>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub capabilities: Vec<String>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created: Option<String>,
}

impl Image {
    /// Its monthly price: private Images cost $0.10 per GB and month
    /// (linode/docs images-limits shortguide), on `total_size` when known.
    pub fn monthly_usd(&self) -> Option<f64> {
        let mb = self.total_size.or(self.size)?;
        Some(mb as f64 / 1024.0 * IMAGE_MONTHLY_PER_GB)
    }
}

/// Private Images' price, USD per GB and month (linode/docs
/// `docs/products/tools/images/_shortguides/images-limits-shortguide`).
pub const IMAGE_MONTHLY_PER_GB: f64 = 0.10;
/// A private Image holds at most this many MB (6 GB, uncompressed; same source).
pub const IMAGE_MAX_MB: u64 = 6 * 1024;

/// A NodeBalancer's price, USD per month (linode/docs
/// `docs/products/networking/nodebalancers/_index.md`; `/nodebalancers/types`).
pub const NODEBALANCER_MONTHLY: f64 = 10.0;

/// Block Storage's price, USD per GB and month (linode/docs
/// `docs/products/storage/block-storage/_index.md`: $0.10/GB-month; the
/// API's `/volumes/types` says the same for core regions).
pub const VOLUME_MONTHLY_PER_GB: f64 = 0.10;

/// A Block Storage volume as the API returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Volume {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    /// `creating`, `active`, `resizing`, `key_rotating`.
    #[serde(default)]
    pub status: Option<String>,
    /// GB.
    #[serde(default)]
    pub size: Option<u32>,
    #[serde(default)]
    pub region: Option<String>,
    /// The Linode it is attached to, if any.
    #[serde(default)]
    pub linode_id: Option<u64>,
    /// `/dev/disk/by-id/scsi-0Linode_Volume_<label>` on the Linode.
    #[serde(default)]
    pub filesystem_path: Option<String>,
    #[serde(default, deserialize_with = "nullable_list")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created: Option<String>,
}

/// `POST /volumes` body: created attached to the new Linode (and in its
/// region), so it is in the Linode's config and survives its reboots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateVolume {
    pub label: String,
    pub size: u32,
    pub linode_id: u64,
    pub tags: Vec<String>,
}

/// `POST /volumes/{id}/attach` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachVolume {
    pub linode_id: u64,
    pub persist_across_boots: bool,
}
