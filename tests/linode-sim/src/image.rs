//! Disks, power and Images, as the official spec (v4.189.0) states them:
//! `GET /linode/instances/{id}/disks` and `/disks/{diskId}`, `POST
//! /linode/instances/{id}/boot` and `/shutdown`, `GET/POST /images`,
//! `GET/PUT/DELETE /images/{imageId}`; with the recorded traffic
//! (linodego TestImages_List) where the spec and the real API differ.
//!
//! Power: an instance's time-computed status (`status_of`) is overridden by
//! the last power transition: made with `booted: false` (`offline` once
//! provisioned, spec: "remain `offline` after deployment"), a shutdown job
//! (`shutting_down` for `shutdown_ms`, then `offline`), a power-off from
//! inside (`offline` at once) or a boot job (`booting` for `booting_ms`,
//! then `running`). A Linode made with user-data while `self_poweroff_ms` is
//! set powers itself off that long after it is first `running`, as a boot
//! script's `poweroff` does; Lassie, the Shutdown Watchdog (spec: "issuing a
//! boot job when your Linode powers off without a shutdown job being
//! responsible"), boots it again at once while `watchdog_enabled` is true,
//! the API's default.
//!
//! Where the spec is silent the stand-in is the stricter of the plausible
//! answers (each place says so), so a client written against it also works
//! against the real API. Not modelled: configs (a `config_id` is taken as
//! the Linode's one config), disk create/resize/delete, image upload,
//! replication and sharing, Lassie giving up after 5 boots in 15 minutes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::Method;
use crate::{errors, filtered, now_naive_utc, status_of, types, SimConfig, SimInstance, State};

/// Capturing an image from a Linode that is not `offline`. The spec does not
/// say; Linode's guides ask to power the Linode off before capturing (the
/// disk is copied while in use otherwise), so the stand-in refuses.
pub const CAPTURE_RUNNING_REASON: &str =
    "Linode must be powered off before an image is captured from its disk";

/// The API's answer while a Linode has a job in progress (recorded; clients
/// retry it).
pub const BUSY_REASON: &str = "Linode busy.";

/// The reason given for a label that breaks [`label_ok`].
pub const LABEL_REASON: &str =
    "Label must be 1-50 characters of letters, digits, spaces and , . ? - _ '";

/// POST /linode/instances with `watchdog_enabled`: the spec's create body
/// (`additionalProperties: false`) does not list it, only PUT does.
pub const WATCHDOG_ON_CREATE_REASON: &str =
    "watchdog_enabled is not a valid field when creating a Linode; set it with PUT /linode/instances/{linodeId}";

/// A private image's label. The spec gives the label no length or pattern;
/// Linode's Cloud Manager validates it as 1-50 characters of letters,
/// digits, whitespace and `, . ? - _ '`, and the stand-in enforces that with
/// spaces as the only whitespace (the stricter answer). A disk's default
/// label ("Ubuntu 24.04 LTS Disk") passes.
pub fn label_ok(label: &str) -> bool {
    let n = label.chars().count();
    (1..=50).contains(&n)
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ,.?-_'".contains(c))
}

// ---- power ----------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Transition {
    /// Made with `booted: false`: `provisioning`, then `offline`.
    NotBooted,
    /// A shutdown job: `shutting_down` for `shutdown_ms`, then `offline`.
    Shutdown(Instant),
    /// Powered off from inside (or by the test): `offline` at once.
    Off,
    /// A boot job: `booting` for `booting_ms`, then `running`.
    Boot(Instant),
}

/// An instance's power state beyond the time-computed one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Power {
    last: Option<Transition>,
    /// Its boot script powers it off this long after it is first `running`
    /// (cancelled by any other power action before that).
    self_off_ms: Option<u64>,
}

impl Power {
    /// A new instance: with user-data and `self_poweroff_ms` set, its boot
    /// script will power it off once it has booted (at once, or with
    /// `booted: false` at its first boot job).
    pub(crate) fn new(config: &SimConfig, user_data: bool, booted: bool) -> Power {
        Power {
            last: (!booted).then_some(Transition::NotBooted),
            self_off_ms: config.self_poweroff_ms.filter(|_| user_data),
        }
    }
}

/// Spec (Linode `watchdog_enabled`): on unless turned off.
fn watchdog(i: &SimInstance) -> bool {
    i.body["watchdog_enabled"].as_bool().unwrap_or(true)
}

/// The boot script's power-off once it is due: Lassie's boot with the
/// watchdog on, `offline` with it off.
fn self_off(config: &SimConfig, i: &SimInstance, now: Instant) -> Option<Transition> {
    let ms = i.power.self_off_ms?;
    // The boot that runs the script: the one at creation, or the first boot
    // job of a Linode made with `booted: false`.
    let boot = match i.power.last {
        None => i.created + Duration::from_millis(config.provisioning_ms),
        Some(Transition::Boot(at)) => at,
        Some(_) => return None,
    };
    let at = boot + Duration::from_millis(config.booting_ms + ms);
    if now < at {
        None
    } else if watchdog(i) {
        Some(Transition::Boot(at))
    } else {
        Some(Transition::Off)
    }
}

/// The transition in force at `now`.
fn current(config: &SimConfig, i: &SimInstance, now: Instant) -> Option<Transition> {
    self_off(config, i, now).or(i.power.last)
}

/// The status `GET /linode/instances/{id}` shows.
pub(crate) fn instance_status(config: &SimConfig, i: &SimInstance) -> &'static str {
    let now = Instant::now();
    match current(config, i, now) {
        None => status_of(config, i.created),
        Some(Transition::NotBooted) => match status_of(config, i.created) {
            "provisioning" => "provisioning",
            _ => "offline",
        },
        Some(Transition::Shutdown(at)) => {
            if now < at + Duration::from_millis(config.shutdown_ms) {
                "shutting_down"
            } else {
                "offline"
            }
        }
        Some(Transition::Off) => "offline",
        Some(Transition::Boot(at)) => {
            if now < at + Duration::from_millis(config.booting_ms) {
                "booting"
            } else {
                "running"
            }
        }
    }
}

/// Fixes a power-off by the boot script that is already due with the
/// watchdog as it is now: call before `watchdog_enabled` changes.
pub(crate) fn settle(config: &SimConfig, i: &mut SimInstance) {
    if let Some(t) = self_off(config, i, Instant::now()) {
        set(i, t);
    }
}

fn set(i: &mut SimInstance, t: Transition) {
    i.power.last = Some(t);
    i.power.self_off_ms = None;
}

/// Whether an image is being captured from one of the Linode's disks.
pub(crate) fn capturing(st: &State, linode: u64) -> bool {
    st.images
        .values()
        .any(|im| im.linode == Some(linode) && im.status() == "creating")
}

fn busy() -> (u16, Value) {
    (400, errors(&[(BUSY_REASON, None)]))
}

/// `POST /linode/instances/{id}/boot` (`boot`) and `/shutdown`.
///
/// Spec, shutdown: "If any actions are currently running or queued, those
/// actions must be completed first": a Linode provisioning, booting or
/// shutting down (or one whose disk is being captured) answers `Linode
/// busy.`. The spec does not say what booting a running Linode or shutting
/// down an offline one does; the stand-in refuses both (the stricter answer).
pub(crate) fn power(
    state: &Arc<Mutex<State>>,
    id: &str,
    boot: bool,
    body: Option<Value>,
) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| st.instances.contains_key(id))
    else {
        return not_found();
    };
    if boot {
        // Spec: an optional body, `config_id` only (additionalProperties: false).
        match &body {
            None => {}
            Some(Value::Object(b)) => {
                let mut errs: Errs = Vec::new();
                for (k, v) in b {
                    if k != "config_id" {
                        errs.push((format!("{k} is not a valid field"), Some(k.clone())));
                    } else if !v.is_null() && !v.is_u64() {
                        errs.push(("config_id must be an integer".into(), Some(k.clone())));
                    }
                }
                if !errs.is_empty() {
                    return answer(errs);
                }
            }
            Some(_) => return (400, errors(&[("Request body must be a JSON object", None)])),
        }
    }
    if capturing(&st, id) {
        return busy();
    }
    let config = st.config.clone();
    let i = st.instances.get_mut(&id).unwrap();
    if i.raw {
        return busy();
    }
    settle(&config, i);
    match (boot, instance_status(&config, i)) {
        // The first boot of a Linode made with `booted: false` runs its
        // boot script.
        (true, "offline") if matches!(i.power.last, Some(Transition::NotBooted)) => {
            i.power.last = Some(Transition::Boot(Instant::now()))
        }
        (true, "offline") => set(i, Transition::Boot(Instant::now())),
        (false, "running") => set(i, Transition::Shutdown(Instant::now())),
        (true, "running") => return (400, errors(&[("Linode is already running", None)])),
        (false, "offline") => return (400, errors(&[("Linode is already powered off", None)])),
        _ => return busy(),
    }
    (200, json!({}))
}

/// Powers Linode `id` off now, as a `poweroff` inside it would, but with no
/// watchdog to boot it again (a test's control). False for an unknown one.
pub(crate) fn power_off(st: &mut State, id: u64) -> bool {
    match st.instances.get_mut(&id) {
        Some(i) if !i.raw => {
            set(i, Transition::Off);
            true
        }
        _ => false,
    }
}

// ---- disks ----------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct SimDisk {
    id: u64,
    linode: u64,
    label: String,
    size: u64,
    filesystem: &'static str,
    created: String,
}

/// A disk as the spec's Disk shows it (the v4.189.0 schema has no
/// `disk_encryption`, so neither does the stand-in).
fn disk_json(d: &SimDisk) -> Value {
    json!({
        "id": d.id,
        "label": d.label,
        "status": "ready",
        "size": d.size,
        "filesystem": d.filesystem,
        "created": d.created,
        "updated": d.created,
    })
}

/// A plan's disk in MB.
pub(crate) fn plan_disk(plan: &str) -> Option<u64> {
    types()
        .into_iter()
        .find(|t| t["id"] == plan)
        .and_then(|t| t["disk"].as_u64())
}

/// The disks a Linode made from an image gets (spec, POST
/// /linode/instances: "A default config with two Disks, one being a 512
/// swap disk, is created. `swap_size` can be used to customize the swap
/// disk size."): the image's, labelled after it ("Ubuntu 24.04 LTS Disk";
/// the spec's example "Debian 9 Disk"), the plan's disk less the swap, and
/// "512 MB Swap Image" (none when `swap_size` is 0).
pub(crate) fn add_disks(st: &mut State, linode: u64, image_label: &str, plan_disk: u64, swap: u64) {
    let now = now_naive_utc();
    // Spec: a disk label has maxLength 48.
    let main: String = format!("{image_label} Disk").chars().take(48).collect();
    let mut disks = vec![(main, plan_disk.saturating_sub(swap), "ext4")];
    if swap > 0 {
        disks.push((format!("{swap} MB Swap Image"), swap, "swap"));
    }
    for (label, size, filesystem) in disks {
        st.next_disk += 1;
        let id = st.next_disk;
        st.disks.insert(
            id,
            SimDisk {
                id,
                linode,
                label,
                size,
                filesystem,
                created: now.clone(),
            },
        );
    }
}

/// A Linode was deleted: its disks go with it (images captured from them stay).
pub(crate) fn linode_deleted(st: &mut State, linode: u64) {
    st.disks.retain(|_, d| d.linode != linode);
}

/// A Linode's disks as `GET /linode/instances/{id}/disks` lists them.
pub(crate) fn disks_of(st: &State, linode: u64) -> Vec<Value> {
    st.disks
        .values()
        .filter(|d| d.linode == linode)
        .map(disk_json)
        .collect()
}

/// `GET /linode/instances/{id}/disks` (`disk` None) and `/disks/{diskId}`.
pub(crate) fn linode_disks(
    state: &Arc<Mutex<State>>,
    id: &str,
    disk: Option<&str>,
    query: &str,
    filter: Option<&str>,
) -> (u16, Value) {
    let st = state.lock().unwrap();
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| st.instances.contains_key(id))
    else {
        return not_found();
    };
    match disk {
        // Spec: `label` and `size` are Filterable.
        None => filtered(disks_of(&st, id), filter, &["label", "size"], query),
        Some(d) => match d
            .parse::<u64>()
            .ok()
            .and_then(|d| st.disks.get(&d))
            .filter(|d| d.linode == id)
        {
            Some(d) => (200, disk_json(d)),
            None => not_found(),
        },
    }
}

// ---- images ---------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct SimImage {
    n: u64,
    label: String,
    description: String,
    tags: Vec<Value>,
    cloud_init: bool,
    size: u64,
    region: String,
    created: String,
    updated: String,
    /// `creating` until then, `available` after.
    ready_at: Instant,
    /// The Linode whose disk it was captured from (none when seeded).
    linode: Option<u64>,
}

impl SimImage {
    fn status(&self) -> &'static str {
        if Instant::now() < self.ready_at {
            "creating"
        } else {
            "available"
        }
    }

    fn id(&self) -> String {
        format!("private/{}", self.n)
    }
}

/// A private image as the API shows it: the spec's Image, shaped as the
/// recorded ones (linodego TestImages_List): `size` and `total_size` in MB
/// (the spec says bytes for `total_size`; the recording has it equal to
/// `size`), `description` "" when none, `regions` empty while `creating`,
/// and `is_shared` / `image_sharing`, which the real API sends though the
/// spec does not list them.
fn image_json(im: &SimImage) -> Value {
    let status = im.status();
    let id = im.id();
    let regions = if status == "available" {
        json!([{"region": im.region, "status": "available"}])
    } else {
        json!([])
    };
    json!({
        "id": id,
        "label": im.label,
        "description": im.description,
        "created": im.created,
        "updated": im.updated,
        "size": im.size,
        "total_size": im.size,
        "created_by": "test-user",
        "type": "manual",
        "tags": im.tags,
        "is_public": false,
        "is_shared": false,
        "deprecated": false,
        "vendor": null,
        "expiry": null,
        "eol": null,
        "status": status,
        "capabilities": if im.cloud_init { json!(["cloud-init"]) } else { json!([]) },
        "regions": regions,
        "image_sharing": {
            "shared_with": {"sharegroup_count": 0, "sharegroup_list_url": format!("/images/{id}/sharegroups")},
            "shared_by": null,
        },
    })
}

/// The public images a Linode can be made from here, shaped as recorded
/// (linodego TestImages_List): `regions` null and no `total_size` (the
/// spec has `regions` as a list; the real API sends null for public ones).
pub fn public_images() -> Vec<Value> {
    let mk = |id: &str, label: &str, vendor: &str, size: u64, eol: &str| {
        json!({
            "id": id, "label": label, "description": "", "created": "2024-04-25T18:00:00",
            "updated": "2024-04-25T18:00:00", "size": size, "created_by": "linode", "type": "manual",
            "tags": [], "is_public": true, "is_shared": false, "deprecated": false, "vendor": vendor,
            "expiry": null, "eol": eol, "regions": null, "status": "available",
            "capabilities": ["cloud-init", "distributed-sites"], "image_sharing": null,
        })
    };
    vec![
        mk(
            "linode/ubuntu24.04",
            "Ubuntu 24.04 LTS",
            "Ubuntu",
            3500,
            "2029-05-31T04:00:00",
        ),
        mk(
            "linode/ubuntu22.04",
            "Ubuntu 22.04 LTS",
            "Ubuntu",
            3500,
            "2027-04-01T04:00:00",
        ),
        mk(
            "linode/debian12",
            "Debian 12",
            "Debian",
            1800,
            "2028-06-30T04:00:00",
        ),
        mk(
            "linode/alpine3.23",
            "Alpine 3.23",
            "Alpine",
            500,
            "2027-11-01T04:00:00",
        ),
    ]
}

/// The private images, as `GET /images/{id}` shows them, by id.
pub(crate) fn private_images(st: &State) -> Vec<Value> {
    st.images.values().map(image_json).collect()
}

/// What a new Linode made from image `id` gets: the image's label (for its
/// disk) and whether it has the `cloud-init` capability (spec, POST
/// /linode/instances: Metadata "Requires a compatible Image ... `cloud-init`
/// under `capabilities`"). Err: the reason it cannot be used.
pub(crate) fn deployable(st: &State, id: &str) -> Result<(String, bool), &'static str> {
    if let Some(n) = id.strip_prefix("private/") {
        let im = n
            .parse::<u64>()
            .ok()
            .and_then(|n| st.images.get(&n))
            .ok_or("image is not valid")?;
        // Not said by the spec; an image still being captured has nothing to
        // deploy yet, so the stand-in refuses.
        if im.status() != "available" {
            return Err("Image is not available yet");
        }
        return Ok((im.label.clone(), im.cloud_init));
    }
    public_images()
        .into_iter()
        .find(|p| p["id"] == id)
        .map(|p| {
            let caps = p["capabilities"].as_array().cloned().unwrap_or_default();
            (
                p["label"].as_str().unwrap_or("").to_string(),
                caps.contains(&json!("cloud-init")),
            )
        })
        .ok_or("image is not valid")
}

/// A private image made outside linode-ai: available at once, cloud-init
/// capable, captured from no Linode of this account.
pub(crate) fn seed(st: &mut State, label: &str, tags: &[String]) -> String {
    st.next_image += 1;
    let n = st.next_image;
    let now = now_naive_utc();
    let im = SimImage {
        n,
        label: label.to_string(),
        description: String::new(),
        tags: tags.iter().map(|t| json!(t)).collect(),
        cloud_init: true,
        size: st.config.image_size_mb,
        region: "us-ord".into(),
        created: now.clone(),
        updated: now,
        ready_at: Instant::now(),
        linode: None,
    };
    let id = im.id();
    st.images.insert(n, im);
    id
}

type Errs = Vec<(String, Option<String>)>;

fn answer(errs: Errs) -> (u16, Value) {
    let list: Vec<(&str, Option<&str>)> = errs
        .iter()
        .map(|(r, f)| (r.as_str(), f.as_deref()))
        .collect();
    (400, errors(&list))
}

fn not_found() -> (u16, Value) {
    (404, errors(&[("Not found", None)]))
}

/// Checks `tags`; `null` counts as absent. The spec allows 3-100 characters
/// per image tag and 500 tags; the API enforces 3-50 for the tags of other
/// objects (FACTS.md, recorded) and Cloud Manager checks image tags as 3-50,
/// so the stand-in takes the stricter 3-50.
fn check_tags(v: Option<&Value>, errs: &mut Errs) -> Option<Vec<Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            if list.len() > 500 {
                errs.push((
                    "tags must have at most 500 items".into(),
                    Some("tags".into()),
                ));
            }
            for (i, t) in list.iter().enumerate() {
                let s = t.as_str().unwrap_or("");
                if !(3..=50).contains(&s.chars().count()) {
                    errs.push((
                        format!("Tag {i} ({s}) length must be 3-50 characters"),
                        Some(format!("tags[{i}]")),
                    ));
                }
            }
            Some(list.clone())
        }
        Some(_) => {
            errs.push(("tags must be a list".into(), Some("tags".into())));
            None
        }
    }
}

/// Checks a `description` (spec: Image `description` minLength 1, maxLength
/// 65000, nullable); `None` when absent or null. The POST body's own schema
/// says only `string`; the stand-in holds it to the Image's 1-65000 too, as
/// Cloud Manager does on create (the stricter answer): send no description
/// rather than "" (the API shows "" for none, recorded).
fn check_description(v: Option<&Value>, errs: &mut Errs) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if (1..=65000).contains(&d.chars().count()) => Some(d.clone()),
        Some(Value::String(_)) => {
            errs.push((
                "description must be 1-65000 characters".into(),
                Some("description".into()),
            ));
            None
        }
        Some(_) => {
            errs.push((
                "description must be a string".into(),
                Some("description".into()),
            ));
            None
        }
    }
}

fn check_label(v: &Value, errs: &mut Errs) -> Option<String> {
    match v {
        Value::String(l) if label_ok(l) => Some(l.clone()),
        Value::String(_) => {
            errs.push((LABEL_REASON.into(), Some("label".into())));
            None
        }
        _ => {
            errs.push(("label must be a string".into(), Some("label".into())));
            None
        }
    }
}

/// `POST /images`: captures a private image from a Linode's disk.
///
/// Spec: `disk_id` required; `label` ("If not provided, the disk's current
/// label is used"), `description`, `cloud_init`, `tags`; nothing else
/// (additionalProperties: false). Strict where the spec is silent: the disk's
/// Linode must be `offline` ([`CAPTURE_RUNNING_REASON`]), only an ext3/ext4
/// disk is captured (Linode's guides: images are made from ext3/ext4 disks;
/// a swap disk holds nothing to deploy), and one capture at a time per
/// Linode (`Linode busy.`).
///
/// Not refused: a disk larger than 6 GB. The spec's 6 GB limit is on
/// uploaded images ("decompressed it can be up to 6 GB", POST
/// /images/upload); for a capture it says nothing, the limit Linode once
/// documented was on the data used, not the disk's size, and the recorded
/// traffic holds a 25088 MB private image.
fn create(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "disk_id" | "label" | "description" | "cloud_init" | "tags"
        ) {
            errs.push((format!("{k} is not a valid field"), Some(k.clone())));
        }
    }
    let disk_id = match b.get("disk_id") {
        None | Some(Value::Null) => {
            errs.push(("disk_id is required".into(), Some("disk_id".into())));
            None
        }
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                errs.push(("disk_id must be an integer".into(), Some("disk_id".into())));
                None
            }
        },
    };
    let label = match b.get("label") {
        None | Some(Value::Null) => None,
        Some(v) => check_label(v, &mut errs),
    };
    let description = check_description(b.get("description"), &mut errs);
    let cloud_init = match b.get("cloud_init") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(c)) => *c,
        Some(_) => {
            errs.push((
                "cloud_init must be a boolean".into(),
                Some("cloud_init".into()),
            ));
            false
        }
    };
    let tags = check_tags(b.get("tags"), &mut errs).unwrap_or_default();

    let mut st = state.lock().unwrap();
    let mut source = None;
    if let Some(d) = disk_id {
        match st.disks.get(&d) {
            None => errs.push(("Disk not found".into(), Some("disk_id".into()))),
            Some(disk) if !matches!(disk.filesystem, "ext3" | "ext4") => errs.push((
                "Only an ext3 or ext4 disk can be captured as an image".into(),
                Some("disk_id".into()),
            )),
            Some(disk) => match st.instances.get(&disk.linode) {
                None => errs.push(("Disk not found".into(), Some("disk_id".into()))),
                Some(_) if capturing(&st, disk.linode) => errs.push((BUSY_REASON.into(), None)),
                Some(i) if i.raw || instance_status(&st.config, i) != "offline" => {
                    errs.push((CAPTURE_RUNNING_REASON.into(), None))
                }
                Some(i) => {
                    source = Some((
                        disk.label.clone(),
                        disk.linode,
                        i.body["region"].as_str().unwrap_or("us-ord").to_string(),
                    ))
                }
            },
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let Some((disk_label, linode, region)) = source else {
        return (400, errors(&[("Invalid request", None)]));
    };
    // Spec: "If not provided, the disk's current label is used."
    let label = label.unwrap_or(disk_label);
    st.next_image += 1;
    let n = st.next_image;
    let now = now_naive_utc();
    let im = SimImage {
        n,
        label,
        description: description.unwrap_or_default(),
        tags,
        cloud_init,
        size: st.config.image_size_mb,
        region,
        created: now.clone(),
        updated: now,
        ready_at: Instant::now() + Duration::from_millis(st.config.image_ready_ms),
        linode: Some(linode),
    };
    let out = image_json(&im);
    st.images.insert(n, im);
    (200, out)
}

/// `PUT /images/{id}`: `label`, `description` and `tags`. Spec: the body is
/// the Image object (additionalProperties: false), its read-only fields
/// ignored; `cloud_init` is not in it.
fn update(st: &mut State, n: u64, body: Option<Value>) -> (u16, Value) {
    if !st.images.contains_key(&n) {
        return not_found();
    }
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "label"
                | "description"
                | "tags"
                | "capabilities"
                | "created"
                | "created_by"
                | "deprecated"
                | "eol"
                | "expiry"
                | "id"
                | "is_public"
                | "regions"
                | "size"
                | "status"
                | "total_size"
                | "type"
                | "updated"
                | "vendor"
        ) {
            errs.push((format!("{k} is not a valid field"), Some(k.clone())));
        }
    }
    let label = b.get("label").and_then(|l| check_label(l, &mut errs));
    let description = match b.get("description") {
        None => None,
        // Spec: nullable; the API shows "" for no description (recorded).
        Some(Value::Null) => Some(String::new()),
        v => check_description(v, &mut errs),
    };
    let tags = check_tags(b.get("tags"), &mut errs);
    if !errs.is_empty() {
        return answer(errs);
    }
    let im = st.images.get_mut(&n).unwrap();
    if let Some(l) = label {
        im.label = l;
    }
    if let Some(d) = description {
        im.description = d;
    }
    if let Some(t) = tags {
        im.tags = t;
    }
    im.updated = now_naive_utc();
    (200, image_json(im))
}

/// Changing or deleting a public image. The spec: these operate on "a
/// private image you have permission to read_write"; the account holds no
/// grant on a public one. The exact answer is not recorded: the stand-in
/// refuses with 403 `Unauthorized`, the API's answer for a missing grant.
fn not_yours() -> (u16, Value) {
    (403, errors(&[("Unauthorized", None)]))
}

/// Spec: `GET /images` Filterable fields.
const FILTERABLE: [&str; 8] = [
    "deprecated",
    "is_public",
    "label",
    "size",
    "status",
    "tags",
    "type",
    "vendor",
];

/// The `/images...` routes; `parts` starts after `images`. An image id has a
/// slash (`private/12`, `linode/debian12`), sent as is; an encoded one
/// (`private%2F12`) is not known to work on the real API and is not found.
pub(crate) fn route(
    state: &Arc<Mutex<State>>,
    method: &Method,
    parts: &[&str],
    query: &str,
    body: Option<Value>,
    filter: Option<&str>,
) -> (u16, Value) {
    let put = matches!(method, Method::Other(m) if m == "PUT");
    match (method, parts) {
        (Method::Get, []) => {
            let st = state.lock().unwrap();
            let mut items = private_images(&st);
            items.extend(public_images());
            filtered(items, filter, &FILTERABLE, query)
        }
        (Method::Post, []) => create(state, body),
        (_, ["linode", name]) => {
            let id = format!("linode/{name}");
            let Some(image) = public_images().into_iter().find(|p| p["id"] == id) else {
                return not_found();
            };
            match method {
                Method::Get => (200, image),
                Method::Delete => not_yours(),
                _ if put => not_yours(),
                _ => not_found(),
            }
        }
        (_, ["private", n]) => {
            let mut st = state.lock().unwrap();
            let Some(n) = n.parse::<u64>().ok().filter(|n| st.images.contains_key(n)) else {
                return not_found();
            };
            match method {
                Method::Get => (200, image_json(&st.images[&n])),
                Method::Delete => {
                    st.images.remove(&n);
                    (200, json!({}))
                }
                _ if put => update(&mut st, n, body),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Whether `GET` of this path (after `/v4`) answers without a token. Spec,
/// GET /images: "To limit the response to public images, don't include
/// authentication".
pub(crate) fn anonymous_path(rest: &str) -> bool {
    rest.trim_end_matches('/') == "/images" || rest.starts_with("/images/linode/")
}

/// `GET /images` and `GET /images/linode/...` without a token: public images only.
pub(crate) fn anonymous_route(rest: &str, query: &str, filter: Option<&str>) -> (u16, Value) {
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["images"] => filtered(public_images(), filter, &FILTERABLE, query),
        ["images", "linode", name] => {
            let id = format!("linode/{name}");
            match public_images().into_iter().find(|p| p["id"] == id) {
                Some(p) => (200, p),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sim, SimConfig};

    fn call(sim: &Sim, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        crate::route(&sim.state, &method, path, "", body, None)
    }

    fn put(sim: &Sim, path: &str, body: Value) -> (u16, Value) {
        call(sim, Method::Other("PUT".into()), path, Some(body))
    }

    fn get_with_filter(sim: &Sim, path: &str, filter: &str) -> (u16, Value) {
        crate::route(&sim.state, &Method::Get, path, "", None, Some(filter))
    }

    /// The errors' fields, in order.
    fn fields(out: &Value) -> Vec<String> {
        out["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    const CLOUD_CONFIG: &str = "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtwb3dlcm9mZl0K";

    /// Long phases, so a test sees each state for sure; tests move an
    /// instance through them with [`age`].
    fn slow() -> SimConfig {
        SimConfig {
            provisioning_ms: 10_000,
            booting_ms: 10_000,
            shutdown_ms: 10_000,
            image_ready_ms: 10_000,
            ..Default::default()
        }
    }

    /// Moves an instance's creation `ms` back in time.
    fn age(sim: &Sim, id: u64, ms: u64) {
        let mut st = sim.state.lock().unwrap();
        let i = st.instances.get_mut(&id).unwrap();
        i.created = i.created.checked_sub(Duration::from_millis(ms)).unwrap();
    }

    /// Moves every power transition and image `ms` back in time.
    fn age_power(sim: &Sim, id: u64, ms: u64) {
        let d = Duration::from_millis(ms);
        let mut st = sim.state.lock().unwrap();
        let i = st.instances.get_mut(&id).unwrap();
        i.power.last = match i.power.last {
            Some(Transition::Shutdown(t)) => Some(Transition::Shutdown(t - d)),
            Some(Transition::Boot(t)) => Some(Transition::Boot(t - d)),
            other => other,
        };
        for im in st.images.values_mut() {
            im.ready_at -= d;
        }
    }

    fn status(sim: &Sim, id: u64) -> String {
        let (s, v) = call(sim, Method::Get, &format!("/linode/instances/{id}"), None);
        assert_eq!(s, 200, "{v}");
        v["status"].as_str().unwrap().to_string()
    }

    /// A Linode made from `image` with a boot script (user-data).
    fn create_linode(sim: &Sim, label: &str, image: &str) -> u64 {
        let (s, v) = call(
            sim,
            Method::Post,
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g6-standard-2", "label": label, "image": image,
                        "root_pass": "aComplex@Passw0rd", "metadata": {"user_data": CLOUD_CONFIG}}),
            ),
        );
        assert_eq!(s, 200, "{v}");
        v["id"].as_u64().unwrap()
    }

    fn running_linode(sim: &Sim, label: &str) -> u64 {
        let id = create_linode(sim, label, "linode/ubuntu24.04");
        age(sim, id, 20_000);
        assert_eq!(status(sim, id), "running");
        id
    }

    fn offline_linode(sim: &Sim, label: &str) -> u64 {
        let id = running_linode(sim, label);
        assert!(sim.power_off(id));
        assert_eq!(status(sim, id), "offline");
        id
    }

    fn ext4_disk(sim: &Sim, linode: u64) -> u64 {
        sim.disks(linode)
            .into_iter()
            .find(|d| d["filesystem"] == "ext4")
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    #[test]
    fn labels() {
        for ok in [
            "a",
            "Ubuntu 24.04 LTS Disk",
            "gpu-base_1",
            "it's, ok?",
            &"a".repeat(50),
        ] {
            assert!(label_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "a:b",
            "ümlaut",
            "a+b",
            "tag=x",
            "a\tb",
            &"a".repeat(51),
        ] {
            assert!(!label_ok(bad), "{bad}");
        }
    }

    #[test]
    fn disks_like_a_linode_made_from_an_image() {
        let sim = Sim::start(slow());
        let id = create_linode(&sim, "gpu-build", "linode/ubuntu24.04");
        let (s, list) = call(
            &sim,
            Method::Get,
            &format!("/linode/instances/{id}/disks"),
            None,
        );
        assert_eq!(s, 200, "{list}");
        assert_eq!(
            (&list["page"], &list["pages"], &list["results"]),
            (&json!(1), &json!(1), &json!(2))
        );
        let (main, swap) = (&list["data"][0], &list["data"][1]);
        assert_eq!(
            keys(main),
            [
                "created",
                "filesystem",
                "id",
                "label",
                "size",
                "status",
                "updated"
            ]
        );
        assert_eq!(
            (
                &main["label"],
                &main["filesystem"],
                &main["size"],
                &main["status"]
            ),
            (
                &json!("Ubuntu 24.04 LTS Disk"),
                &json!("ext4"),
                &json!(81920 - 512),
                &json!("ready")
            )
        );
        assert_eq!(
            (&swap["label"], &swap["filesystem"], &swap["size"]),
            (&json!("512 MB Swap Image"), &json!("swap"), &json!(512))
        );
        assert_eq!(main["created"].as_str().unwrap().len(), 19);
        assert_eq!(sim.disks(id), list["data"].as_array().unwrap().clone());
        let did = main["id"].as_u64().unwrap();
        assert_eq!(
            call(
                &sim,
                Method::Get,
                &format!("/linode/instances/{id}/disks/{did}"),
                None
            ),
            (200, main.clone())
        );
        // The plan's specs agree with its disks.
        let (_, linode) = call(&sim, Method::Get, &format!("/linode/instances/{id}"), None);
        assert_eq!(linode["specs"]["disk"], 81920);

        // Another plan, another image, swap_size; ids unique across the sim.
        let (s, v) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g2-gpu-rtx4000a1-s", "image": "linode/debian12",
                        "root_pass": "aComplex@Passw0rd", "swap_size": 1024}),
            ),
        );
        assert_eq!(s, 200, "{v}");
        let gpu = v["id"].as_u64().unwrap();
        let disks = sim.disks(gpu);
        assert_eq!(disks[0]["label"], "Debian 12 Disk");
        assert_eq!(disks[0]["size"], 16384 * 20 - 1024);
        assert_eq!(disks[1]["label"], "1024 MB Swap Image");
        assert_eq!(v["specs"]["gpus"], 1);
        assert!(disks.iter().all(|d| d["id"] != json!(did)));
        let (s, out) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g6-nanode-1", "image": "linode/debian12",
                        "root_pass": "aComplex@Passw0rd", "swap_size": "512"}),
            ),
        );
        assert_eq!((s, fields(&out)), (400, vec!["swap_size".to_string()]));

        // X-Filter on the spec's Filterable fields.
        let (s, f) = get_with_filter(
            &sim,
            &format!("/linode/instances/{gpu}/disks"),
            r#"{"label": "1024 MB Swap Image"}"#,
        );
        assert_eq!((s, &f["results"]), (200, &json!(1)));
        assert_eq!(
            get_with_filter(
                &sim,
                &format!("/linode/instances/{gpu}/disks"),
                r#"{"status": "ready"}"#
            )
            .0,
            400
        );

        // No image, no disks (spec: "Disks and Configs must be created manually").
        let (_, empty) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(json!({"region": "us-ord", "type": "g6-nanode-1"})),
        );
        assert!(sim.disks(empty["id"].as_u64().unwrap()).is_empty());
        // Seeded instances look made from ubuntu24.04.
        let seeded = sim.seed_tagged("seeded", &[]);
        assert_eq!(sim.disks(seeded).len(), 2);

        let nf = json!({"errors": [{"reason": "Not found"}]});
        for path in [
            "/linode/instances/999/disks".to_string(),
            format!("/linode/instances/999/disks/{did}"),
            format!("/linode/instances/{id}/disks/999"),
            format!("/linode/instances/{id}/disks/abc"),
            format!("/linode/instances/{gpu}/disks/{did}"),
        ] {
            assert_eq!(
                call(&sim, Method::Get, &path, None),
                (404, nf.clone()),
                "{path}"
            );
        }
        // A deleted Linode's disks go with it.
        assert_eq!(
            call(
                &sim,
                Method::Delete,
                &format!("/linode/instances/{id}"),
                None
            ),
            (200, json!({}))
        );
        assert!(sim.disks(id).is_empty());
        assert!(sim.delete_instance(gpu));
        assert!(sim.disks(gpu).is_empty());
        assert!(sim
            .state
            .lock()
            .unwrap()
            .disks
            .values()
            .all(|d| d.linode == seeded));
    }

    #[test]
    fn shutdown_then_boot() {
        let sim = Sim::start(slow());
        let id = running_linode(&sim, "box");
        let shutdown = format!("/linode/instances/{id}/shutdown");
        let boot = format!("/linode/instances/{id}/boot");
        let refused = |path: &str, body: Option<Value>| {
            let (s, out) = call(&sim, Method::Post, path, body);
            assert_eq!(s, 400, "{out}");
            out["errors"][0]["reason"].as_str().unwrap().to_string()
        };
        assert_eq!(refused(&boot, None), "Linode is already running");
        assert_eq!(call(&sim, Method::Post, &shutdown, None), (200, json!({})));
        assert_eq!(status(&sim, id), "shutting_down");
        assert_eq!(refused(&shutdown, None), BUSY_REASON);
        assert_eq!(refused(&boot, None), BUSY_REASON);
        age_power(&sim, id, 10_000);
        assert_eq!(status(&sim, id), "offline");
        assert_eq!(refused(&shutdown, None), "Linode is already powered off");

        // Spec: the boot body takes `config_id` only.
        assert_eq!(
            refused(&boot, Some(json!({"config_id": "x"}))),
            "config_id must be an integer"
        );
        assert_eq!(
            refused(&boot, Some(json!({"booted": true}))),
            "booted is not a valid field"
        );
        assert_eq!(
            refused(&boot, Some(json!([]))),
            "Request body must be a JSON object"
        );
        assert_eq!(status(&sim, id), "offline");
        assert_eq!(
            call(&sim, Method::Post, &boot, Some(json!({"config_id": 7}))),
            (200, json!({}))
        );
        assert_eq!(status(&sim, id), "booting");
        age_power(&sim, id, 10_000);
        assert_eq!(status(&sim, id), "running");
        // The list shows the same, and filters on it.
        let (_, l) = get_with_filter(&sim, "/linode/instances", r#"{"status": "running"}"#);
        assert_eq!(l["data"][0]["id"], json!(id));

        // A Linode still provisioning is busy.
        let young = create_linode(&sim, "young", "linode/ubuntu24.04");
        assert_eq!(status(&sim, young), "provisioning");
        assert_eq!(
            refused(&format!("/linode/instances/{young}/shutdown"), None),
            BUSY_REASON
        );
        assert_eq!(
            refused(&format!("/linode/instances/{young}/boot"), None),
            BUSY_REASON
        );
        for path in [
            "/linode/instances/999/boot",
            "/linode/instances/999/shutdown",
            "/linode/instances/x/boot",
        ] {
            assert_eq!(call(&sim, Method::Post, path, None).0, 404, "{path}");
        }
    }

    #[test]
    fn real_time_shutdown_reaches_offline() {
        let sim = Sim::start(SimConfig {
            provisioning_ms: 0,
            booting_ms: 0,
            ..Default::default()
        });
        let id = create_linode(&sim, "box", "linode/ubuntu24.04");
        assert_eq!(status(&sim, id), "running");
        assert_eq!(
            call(
                &sim,
                Method::Post,
                &format!("/linode/instances/{id}/shutdown"),
                None
            )
            .0,
            200
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while status(&sim, id) != "offline" {
            assert!(Instant::now() < deadline, "never offline");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn watchdog_reboots_a_self_powered_off_instance() {
        let sim = Sim::start(SimConfig {
            self_poweroff_ms: Some(5_000),
            ..slow()
        });
        let id = create_linode(&sim, "lassie", "linode/ubuntu24.04");
        // No user-data: no boot script to power it off.
        let (_, plain) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g6-standard-2", "image": "linode/ubuntu24.04",
                        "root_pass": "aComplex@Passw0rd"}),
            ),
        );
        let plain = plain["id"].as_u64().unwrap();
        let (_, v) = call(&sim, Method::Get, &format!("/linode/instances/{id}"), None);
        assert_eq!(v["watchdog_enabled"], true);
        age(&sim, id, 20_000);
        age(&sim, plain, 20_000);
        assert_eq!(status(&sim, id), "running");
        // Powered itself off 5 s after running: Lassie boots it again at once.
        age(&sim, id, 5_000);
        assert_eq!(status(&sim, id), "booting");
        age(&sim, id, 10_000);
        assert_eq!(status(&sim, id), "running");
        // Once only: the script does not run again.
        age(&sim, id, 60_000);
        assert_eq!(status(&sim, id), "running");
        age(&sim, plain, 80_000);
        assert_eq!(status(&sim, plain), "running");
    }

    #[test]
    fn watchdog_disabled_stays_offline() {
        let sim = Sim::start(SimConfig {
            self_poweroff_ms: Some(5_000),
            ..slow()
        });
        // linode-ai's way: create, then turn the watchdog off (the spec
        // takes `watchdog_enabled` on PUT only).
        let (s, out) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g6-standard-2", "image": "linode/ubuntu24.04",
                        "root_pass": "aComplex@Passw0rd", "watchdog_enabled": false}),
            ),
        );
        assert_eq!(
            (s, out),
            (
                400,
                json!({"errors": [{"reason": WATCHDOG_ON_CREATE_REASON, "field": "watchdog_enabled"}]})
            )
        );
        let id = create_linode(&sim, "no-lassie", "linode/ubuntu24.04");
        let path = format!("/linode/instances/{id}");
        assert_eq!(
            fields(&put(&sim, &path, json!({"watchdog_enabled": "no"})).1),
            ["watchdog_enabled"]
        );
        let (s, v) = put(&sim, &path, json!({"watchdog_enabled": false}));
        assert_eq!((s, &v["watchdog_enabled"]), (200, &json!(false)), "{v}");
        age(&sim, id, 20_000);
        assert_eq!(status(&sim, id), "running");
        age(&sim, id, 5_000);
        assert_eq!(status(&sim, id), "offline");
        // Turning the watchdog on now does not boot it (the power-off is past).
        assert_eq!(put(&sim, &path, json!({"watchdog_enabled": true})).0, 200);
        age(&sim, id, 60_000);
        assert_eq!(status(&sim, id), "offline");
        assert_eq!(
            call(&sim, Method::Post, &format!("{path}/boot"), None).0,
            200
        );
        assert_eq!(status(&sim, id), "booting");
    }

    /// linode-ai's order: made with `booted: false`, watchdog off, then
    /// booted; the boot script runs at that first boot.
    #[test]
    fn not_booted_until_a_boot_job_then_its_script_powers_it_off() {
        let sim = Sim::start(SimConfig {
            self_poweroff_ms: Some(5_000),
            ..slow()
        });
        let body = |label: &str, booted: Value| {
            json!({"region": "us-ord", "type": "g6-standard-2", "label": label, "image": "linode/ubuntu24.04",
                   "root_pass": "aComplex@Passw0rd", "metadata": {"user_data": CLOUD_CONFIG}, "booted": booted})
        };
        let (s, out) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(body("bad", json!("no"))),
        );
        assert_eq!((s, fields(&out)), (400, vec!["booted".to_string()]));
        for (label, watchdog) in [("no-lassie", false), ("lassie", true)] {
            let (s, v) = call(
                &sim,
                Method::Post,
                "/linode/instances",
                Some(body(label, json!(false))),
            );
            assert_eq!((s, &v["status"]), (200, &json!("provisioning")), "{v}");
            let id = v["id"].as_u64().unwrap();
            let path = format!("/linode/instances/{id}");
            age(&sim, id, 10_000);
            assert_eq!(status(&sim, id), "offline");
            // Long past when a booted one's script would have run.
            age(&sim, id, 60_000);
            assert_eq!(status(&sim, id), "offline");
            assert_eq!(
                put(&sim, &path, json!({"watchdog_enabled": watchdog})).0,
                200
            );
            assert_eq!(
                call(&sim, Method::Post, &format!("{path}/boot"), None),
                (200, json!({}))
            );
            assert_eq!(status(&sim, id), "booting");
            age_power(&sim, id, 10_000);
            assert_eq!(status(&sim, id), "running");
            age_power(&sim, id, 5_000);
            assert_eq!(
                status(&sim, id),
                if watchdog { "booting" } else { "offline" },
                "{label}"
            );
            age_power(&sim, id, 10_000);
            assert_eq!(
                status(&sim, id),
                if watchdog { "running" } else { "offline" },
                "{label}"
            );
        }
    }

    #[test]
    fn admin_power_off_ignores_the_watchdog() {
        let sim = Sim::start(slow());
        let id = running_linode(&sim, "box");
        assert!(sim.power_off(id));
        assert_eq!(status(&sim, id), "offline");
        age(&sim, id, 60_000);
        assert_eq!(status(&sim, id), "offline");
        assert!(!sim.power_off(999));
        // Over HTTP, as a test outside the crate would.
        let other = running_linode(&sim, "other");
        let (code, _) = http(
            &sim,
            "POST",
            &format!("/__sim/instances/{other}/poweroff"),
            None,
            None,
        );
        assert_eq!(code, 200);
        assert_eq!(status(&sim, other), "offline");
        assert_eq!(
            http(&sim, "POST", "/__sim/instances/999/poweroff", None, None).0,
            404
        );
    }

    #[test]
    fn capture_validation_names_the_field() {
        let sim = Sim::start(slow());
        let running = running_linode(&sim, "running");
        let offline = offline_linode(&sim, "offline");
        let disk = ext4_disk(&sim, offline);
        let bad = |body: Value| {
            let (s, out) = call(&sim, Method::Post, "/images", Some(body));
            assert_eq!(s, 400, "{out}");
            out
        };
        assert_eq!(
            bad(json!({"label": "x"})),
            json!({"errors": [{"reason": "disk_id is required", "field": "disk_id"}]})
        );
        assert_eq!(fields(&bad(json!({"disk_id": "1"}))), ["disk_id"]);
        assert_eq!(
            bad(json!({"disk_id": 999})),
            json!({"errors": [{"reason": "Disk not found", "field": "disk_id"}]})
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "region": "us-ord"}))),
            ["region"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "label": "a/b"}))),
            ["label"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "label": 5}))),
            ["label"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "label": "a".repeat(51)}))),
            ["label"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "description": ""}))),
            ["description"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "description": 1}))),
            ["description"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "cloud_init": "yes"}))),
            ["cloud_init"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "tags": ["ok-tag", "x"]}))),
            ["tags[1]"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "tags": ["a".repeat(51)]}))),
            ["tags[0]"]
        );
        assert_eq!(
            fields(&bad(json!({"disk_id": disk, "tags": "ok-tag"}))),
            ["tags"]
        );
        let swap = sim.disks(offline)[1]["id"].as_u64().unwrap();
        assert_eq!(fields(&bad(json!({"disk_id": swap}))), ["disk_id"]);
        // Capturing from a running Linode is refused.
        assert_eq!(
            bad(json!({"disk_id": ext4_disk(&sim, running), "label": "gpu-base"})),
            json!({"errors": [{"reason": CAPTURE_RUNNING_REASON}]})
        );
        assert_eq!(
            call(&sim, Method::Post, "/images", Some(json!([]))),
            (
                400,
                json!({"errors": [{"reason": "Request body must be a JSON object"}]})
            )
        );
        assert!(sim.images().is_empty());
    }

    #[test]
    fn captured_image_has_the_spec_shape_and_becomes_available() {
        let sim = Sim::start(SimConfig {
            image_size_mb: 7000,
            ..slow()
        });
        let linode = offline_linode(&sim, "gpu-build");
        let disk = ext4_disk(&sim, linode);
        let (s, im) = call(
            &sim,
            Method::Post,
            "/images",
            Some(
                json!({"disk_id": disk, "label": "linode-ai gpu base", "description": "NVIDIA driver",
                        "cloud_init": true, "tags": ["linode-ai", "gpu-base"]}),
            ),
        );
        assert_eq!(s, 200, "{im}");
        assert_eq!(
            keys(&im),
            [
                "capabilities",
                "created",
                "created_by",
                "deprecated",
                "description",
                "eol",
                "expiry",
                "id",
                "image_sharing",
                "is_public",
                "is_shared",
                "label",
                "regions",
                "size",
                "status",
                "tags",
                "total_size",
                "type",
                "updated",
                "vendor"
            ]
        );
        let id = im["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("private/"), "{id}");
        assert_eq!(
            (
                &im["status"],
                &im["type"],
                &im["is_public"],
                &im["created_by"]
            ),
            (
                &json!("creating"),
                &json!("manual"),
                &json!(false),
                &json!("test-user")
            )
        );
        assert_eq!(
            (&im["label"], &im["description"], &im["tags"]),
            (
                &json!("linode-ai gpu base"),
                &json!("NVIDIA driver"),
                &json!(["linode-ai", "gpu-base"])
            )
        );
        // Bigger than 6 GB is fine (see `create`).
        assert_eq!(
            (&im["size"], &im["total_size"]),
            (&json!(7000), &json!(7000))
        );
        assert_eq!(im["capabilities"], json!(["cloud-init"]));
        assert_eq!(
            (
                &im["vendor"],
                &im["expiry"],
                &im["eol"],
                &im["deprecated"],
                &im["regions"]
            ),
            (
                &Value::Null,
                &Value::Null,
                &Value::Null,
                &json!(false),
                &json!([])
            )
        );
        assert_eq!(im["created"].as_str().unwrap().len(), 19);

        // While it is captured the Linode is busy: no second capture, no
        // boot, no delete.
        let busy_body = json!({"errors": [{"reason": BUSY_REASON}]});
        assert_eq!(
            call(
                &sim,
                Method::Post,
                "/images",
                Some(json!({"disk_id": disk}))
            ),
            (400, busy_body.clone())
        );
        let lpath = format!("/linode/instances/{linode}");
        assert_eq!(
            call(&sim, Method::Post, &format!("{lpath}/boot"), None),
            (400, busy_body.clone())
        );
        assert_eq!(call(&sim, Method::Delete, &lpath, None), (400, busy_body));

        age_power(&sim, linode, 10_000);
        let (s, now) = call(&sim, Method::Get, &format!("/images/{id}"), None);
        assert_eq!(s, 200);
        assert_eq!(now["status"], "available");
        assert_eq!(
            now["regions"],
            json!([{"region": "us-ord", "status": "available"}])
        );
        assert_eq!(sim.images(), vec![now.clone()]);
        // Without a label: the disk's; without cloud_init: no capability.
        let (s, plain) = call(
            &sim,
            Method::Post,
            "/images",
            Some(json!({"disk_id": disk, "tags": null})),
        );
        assert_eq!(s, 200, "{plain}");
        assert_eq!(
            (
                &plain["label"],
                &plain["capabilities"],
                &plain["description"],
                &plain["tags"]
            ),
            (
                &json!("Ubuntu 24.04 LTS Disk"),
                &json!([]),
                &json!(""),
                &json!([])
            )
        );
        assert_ne!(plain["id"], now["id"]);
        // The image outlives its Linode.
        age_power(&sim, linode, 10_000);
        assert_eq!(call(&sim, Method::Delete, &lpath, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Get, &format!("/images/{id}"), None).0,
            200
        );
    }

    #[test]
    fn images_list_filter_and_page() {
        let sim = Sim::start(slow());
        let tag = |t: &str| vec![t.to_string()];
        let a = sim.seed_image("gpu-base", &tag("linode-ai"));
        let b = sim.seed_image("other", &tag("mine"));
        let linode = offline_linode(&sim, "build");
        let (_, c) = call(
            &sim,
            Method::Post,
            "/images",
            Some(
                json!({"disk_id": ext4_disk(&sim, linode), "label": "gpu-base", "tags": ["linode-ai"]}),
            ),
        );
        let c = c["id"].as_str().unwrap().to_string();
        let ids = |filter: &str| {
            let (s, out) = get_with_filter(&sim, "/images", filter);
            assert_eq!(s, 200, "{out}");
            out["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let (s, all) = call(&sim, Method::Get, "/images", None);
        assert_eq!(
            (s, &all["results"]),
            (200, &json!(3 + public_images().len()))
        );
        assert_eq!(
            ids(r#"{"is_public": false}"#),
            [a.clone(), b.clone(), c.clone()]
        );
        assert_eq!(
            ids(r#"{"is_public": true, "vendor": "Debian"}"#),
            ["linode/debian12"]
        );
        assert_eq!(ids(r#"{"tags": "linode-ai"}"#), [a.clone(), c.clone()]);
        assert_eq!(
            ids(r#"{"label": "gpu-base", "status": "available"}"#),
            [a.clone()]
        );
        assert_eq!(
            ids(r#"{"label": "gpu-base", "status": "creating"}"#),
            [c.clone()]
        );
        assert_eq!(ids(r#"{"type": "automatic"}"#), Vec::<String>::new());
        assert_eq!(
            ids(r#"{"+and": [{"is_public": false}, {"deprecated": false}]}"#).len(),
            3
        );
        assert_eq!(
            get_with_filter(&sim, "/images", r#"{"created_by": "test-user"}"#),
            (
                400,
                json!({"errors": [{"reason": "Cannot filter on created_by"}]})
            )
        );
        // Public images as recorded.
        let (s, u) = call(&sim, Method::Get, "/images/linode/ubuntu24.04", None);
        assert_eq!(
            (s, &u["label"], &u["is_public"]),
            (200, &json!("Ubuntu 24.04 LTS"), &json!(true))
        );
        assert_eq!(
            (&u["vendor"], &u["regions"], &u["created_by"]),
            (&json!("Ubuntu"), &Value::Null, &json!("linode"))
        );
        assert!(u["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("cloud-init")));
        assert_eq!(call(&sim, Method::Get, "/images/linode/nope", None).0, 404);

        for i in 0..30 {
            sim.seed_image(&format!("img {i}"), &[]);
        }
        let (s, p2) = crate::route(
            &sim.state,
            &Method::Get,
            "/images",
            "page=2&page_size=25",
            None,
            None,
        );
        assert_eq!(
            (s, &p2["page"], &p2["pages"], &p2["results"]),
            (
                200,
                &json!(2),
                &json!(2),
                &json!(33 + public_images().len())
            )
        );
        assert_eq!(
            p2["data"].as_array().unwrap().len(),
            8 + public_images().len()
        );
    }

    #[test]
    fn update_and_delete_images() {
        let sim = Sim::start(slow());
        let id = sim.seed_image("gpu-base", &[]);
        let path = format!("/images/{id}");
        let (s, v) = put(
            &sim,
            &path,
            json!({"label": "gpu base 2", "description": "driver 550", "tags": ["linode-ai"],
                   "size": 1, "is_public": true, "status": "creating", "id": "private/1"}),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["label"], &v["description"], &v["tags"]),
            (
                &json!("gpu base 2"),
                &json!("driver 550"),
                &json!(["linode-ai"])
            )
        );
        // Read-only fields are ignored.
        assert_eq!(
            (&v["id"], &v["size"], &v["is_public"], &v["status"]),
            (&json!(id), &json!(2600), &json!(false), &json!("available"))
        );
        let bad = |body: Value| {
            let (s, out) = put(&sim, &path, body);
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"label": "a/b"})), ["label"]);
        assert_eq!(bad(json!({"label": null})), ["label"]);
        assert_eq!(bad(json!({"cloud_init": true})), ["cloud_init"]);
        assert_eq!(bad(json!({"tags": ["no"]})), ["tags[0]"]);
        assert_eq!(bad(json!({"description": ""})), ["description"]);
        let (s, v) = put(&sim, &path, json!({"description": null}));
        assert_eq!(
            (s, &v["description"], &v["label"]),
            (200, &json!(""), &json!("gpu base 2"))
        );

        // Public images are not the account's.
        let nope = json!({"errors": [{"reason": "Unauthorized"}]});
        assert_eq!(
            put(&sim, "/images/linode/debian12", json!({"label": "x"})),
            (403, nope.clone())
        );
        assert_eq!(
            call(&sim, Method::Delete, "/images/linode/debian12", None),
            (403, nope)
        );
        assert_eq!(
            put(&sim, "/images/private/999", json!({"label": "x"})).0,
            404
        );
        assert_eq!(call(&sim, Method::Get, "/images/private%2F1", None).0, 404);

        assert_eq!(call(&sim, Method::Delete, &path, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Get, &path, None),
            (404, json!({"errors": [{"reason": "Not found"}]}))
        );
        assert_eq!(call(&sim, Method::Delete, &path, None).0, 404);
        assert!(sim.images().is_empty());
    }

    #[test]
    fn linodes_from_private_images() {
        let sim = Sim::start(slow());
        let ready = sim.seed_image("linode-ai gpu base", &[]);
        let id = create_linode(&sim, "from-image", &ready);
        let (_, v) = call(&sim, Method::Get, &format!("/linode/instances/{id}"), None);
        assert_eq!(v["image"], json!(ready));
        assert_eq!(sim.disks(id)[0]["label"], "linode-ai gpu base Disk");

        let create = |image: &str, metadata: bool| {
            let mut body = json!({"region": "us-ord", "type": "g6-standard-2", "image": image,
                                  "root_pass": "aComplex@Passw0rd"});
            if metadata {
                body["metadata"] = json!({"user_data": CLOUD_CONFIG});
            }
            call(&sim, Method::Post, "/linode/instances", Some(body))
        };
        assert_eq!(
            create("private/999", false),
            (
                400,
                json!({"errors": [{"reason": "image is not valid", "field": "image"}]})
            )
        );
        assert_eq!(create("linode/nope", false).0, 400);
        // Still being captured.
        let linode = offline_linode(&sim, "build");
        let (_, c) = call(
            &sim,
            Method::Post,
            "/images",
            Some(json!({"disk_id": ext4_disk(&sim, linode)})),
        );
        let creating = c["id"].as_str().unwrap().to_string();
        assert_eq!(
            create(&creating, false),
            (
                400,
                json!({"errors": [{"reason": "Image is not available yet", "field": "image"}]})
            )
        );
        // Captured without cloud_init: no user-data (spec: Metadata needs
        // an image with the cloud-init capability).
        age_power(&sim, linode, 10_000);
        let (s, out) = create(&creating, true);
        assert_eq!(
            (s, fields(&out)),
            (400, vec!["metadata".to_string()]),
            "{out}"
        );
        assert_eq!(create(&creating, false).0, 200);
    }

    #[test]
    fn config_without_the_new_fields_keeps_their_defaults() {
        let mut old = serde_json::to_value(SimConfig::default()).unwrap();
        let obj = old.as_object_mut().unwrap();
        for k in [
            "shutdown_ms",
            "self_poweroff_ms",
            "image_ready_ms",
            "image_size_mb",
        ] {
            assert!(obj.remove(k).is_some(), "{k}");
        }
        let c: SimConfig = serde_json::from_value(old).unwrap();
        assert_eq!(
            (
                c.shutdown_ms,
                c.self_poweroff_ms,
                c.image_ready_ms,
                c.image_size_mb
            ),
            (100, None, 200, 2600)
        );
    }

    /// One HTTP/1.1 request; (status, body as JSON or null).
    fn http(
        sim: &Sim,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: Option<&str>,
    ) -> (u16, Value) {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", sim.port)).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            c,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            extra.unwrap_or(""),
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        let code = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let text = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (code, serde_json::from_str(text).unwrap_or(Value::Null))
    }

    /// linode-ai's `image build --gpu` against the stand-in over HTTP, in
    /// real time: create (`booted: false`) with a boot script that powers
    /// off, turn Lassie off, boot, wait for `offline`, capture the ext4
    /// disk, wait for `available`, delete the Linode, find the image, deploy
    /// from it. Every call is in the request log.
    #[test]
    fn image_build_flow_over_http_is_logged() {
        let sim = Sim::start(SimConfig {
            provisioning_ms: 50,
            booting_ms: 50,
            self_poweroff_ms: Some(100),
            image_ready_ms: 150,
            ..Default::default()
        });
        let auth = "Authorization: Bearer test-token\r\n";
        let api = |method: &str, path: &str, body: Option<Value>| {
            http(
                &sim,
                method,
                &format!("/v4{path}"),
                body.as_ref(),
                Some(auth),
            )
        };
        let wait = |path: &str, want: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (s, v) = api("GET", path, None);
                assert_eq!(s, 200, "{v}");
                if v["status"] == want {
                    return;
                }
                assert!(Instant::now() < deadline, "{path} never {want}: {v}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let (s, l) = api(
            "POST",
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g2-gpu-rtx4000a1-s", "label": "linode-ai-gpu-build",
                        "image": "linode/ubuntu24.04", "root_pass": "aComplex@Passw0rd",
                        "metadata": {"user_data": CLOUD_CONFIG}, "tags": ["linode-ai"], "booted": false}),
            ),
        );
        assert_eq!(s, 200, "{l}");
        let id = l["id"].as_u64().unwrap();
        let lpath = format!("/linode/instances/{id}");
        assert_eq!(
            api("PUT", &lpath, Some(json!({"watchdog_enabled": false}))).0,
            200
        );
        wait(&lpath, "offline");
        assert_eq!(
            api("POST", &format!("{lpath}/boot"), None),
            (200, json!({}))
        );
        // booting, running, then the script powers it off.
        wait(&lpath, "offline");
        let (s, disks) = api("GET", &format!("{lpath}/disks"), None);
        assert_eq!((s, &disks["results"]), (200, &json!(2)));
        let disk = disks["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["filesystem"] == "ext4")
            .unwrap()["id"]
            .clone();
        let (s, im) = api(
            "POST",
            "/images",
            Some(
                json!({"disk_id": disk, "label": "linode-ai gpu base", "cloud_init": true, "tags": ["linode-ai"]}),
            ),
        );
        assert_eq!(s, 200, "{im}");
        let image = im["id"].as_str().unwrap().to_string();
        wait(&format!("/images/{image}"), "available");
        assert_eq!(api("DELETE", &lpath, None), (200, json!({})));
        let (s, found) = http(
            &sim,
            "GET",
            "/v4/images",
            None,
            Some(&format!(
                "{auth}X-Filter: {{\"is_public\": false, \"tags\": \"linode-ai\"}}\r\n"
            )),
        );
        assert_eq!(
            (s, &found["results"], &found["data"][0]["id"]),
            (200, &json!(1), &json!(image))
        );
        let (s, l2) = api(
            "POST",
            "/linode/instances",
            Some(
                json!({"region": "us-ord", "type": "g2-gpu-rtx4000a1-s", "image": image,
                        "root_pass": "aComplex@Passw0rd", "metadata": {"user_data": CLOUD_CONFIG}}),
            ),
        );
        assert_eq!(s, 200, "{l2}");

        // Without a token: the public images only (spec, GET /images).
        let (s, public) = http(&sim, "GET", "/v4/images", None, None);
        assert_eq!(
            (s, &public["results"]),
            (200, &json!(public_images().len()))
        );
        assert_eq!(
            http(&sim, "GET", "/v4/images/linode/debian12", None, None).0,
            200
        );
        assert_eq!(
            http(&sim, "GET", &format!("/v4/images/{image}"), None, None).0,
            401
        );
        assert_eq!(
            http(
                &sim,
                "POST",
                "/v4/images",
                Some(&json!({"disk_id": disk})),
                None
            )
            .0,
            401
        );
        assert_eq!(
            http(
                &sim,
                "GET",
                "/v4/images",
                None,
                Some("Authorization: Bearer wrong\r\n")
            )
            .0,
            401
        );

        let log: Vec<(String, String)> = sim
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path))
            .collect();
        for (m, p) in [
            ("PUT", lpath.clone()),
            ("POST", format!("{lpath}/boot")),
            ("GET", format!("{lpath}/disks")),
            ("POST", "/images".to_string()),
            ("GET", format!("/images/{image}")),
            ("GET", "/images".to_string()),
        ] {
            assert!(
                log.contains(&(m.to_string(), format!("/v4{p}"))),
                "{m} {p} in {log:?}"
            );
        }
        let capture = sim
            .requests()
            .into_iter()
            .find(|r| r.method == "POST" && r.path == "/v4/images")
            .unwrap();
        assert_eq!(capture.body.unwrap()["disk_id"], disk);
        assert!(sim.requests().iter().any(|r| r.path == "/v4/images"
            && r.filter.as_deref().is_some_and(|f| f.contains("is_public"))));
    }
}
