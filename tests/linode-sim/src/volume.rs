//! Block Storage volumes, as the official spec (v4.189.0) states them:
//! `GET/POST /volumes`, `GET/PUT/DELETE /volumes/{id}`, `POST
//! /volumes/{id}/attach` and `/detach`, `GET /volumes/types` and `GET
//! /linode/instances/{id}/volumes`.
//!
//! Where the spec is silent the stand-in is the stricter of the plausible
//! answers (deleting an attached volume, detaching one that is not
//! attached), so a client written against it also works against the real
//! API. Not modelled: clone, resize, Linode configs (a `config_id` is taken
//! as the Linode's own), the per-Linode attachment limit, encryption's
//! region capability.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::http::Method;
use crate::{errors, filtered, now_naive_utc, paginate, regions, status_of, State};

/// Spec: the Volume `size` has `maximum: 10240` and no minimum (the create
/// body's `size` has neither, only `default: 20`). The minimum, 10 GiB, is
/// Linode's documented one ("10–10,000 GiB", linode/docs block-storage);
/// 10240 is the real maximum (Cloud Manager, linode/manager PR #4038).
pub const MIN_SIZE: u64 = 10;
pub const MAX_SIZE: u64 = 10240;
/// Spec: `size` "default: 20".
pub const DEFAULT_SIZE: u64 = 20;

/// The reason given for a label that breaks [`label_ok`].
pub const LABEL_REASON: &str = "Label must begin with a letter, contain only letters, digits, '-' and '_', without consecutive '-' or '_', and be 2-32 characters";

/// Refusal to delete a volume that is still attached. The spec has no words
/// for it; this is the wording apache/libcloud's Linode driver uses for the
/// same refusal.
pub const DELETE_ATTACHED_REASON: &str = "Volume must be detached before it can be deleted.";

/// A volume's label (spec: `minLength: 1`, `maxLength: 32`, `pattern:
/// ^[a-zA-Z]((?!--|__)[a-zA-Z0-9-_])+$`). Hand-checked, the pattern needs
/// look-ahead. Unlike a Linode's label: no `.`, a `-` or `_` may end it, and
/// the pattern's `+` makes 2 characters the real minimum despite
/// `minLength: 1`.
pub fn label_ok(label: &str) -> bool {
    let n = label.chars().count();
    (2..=32).contains(&n)
        && label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !label.contains("--")
        && !label.contains("__")
}

/// Where a volume is attached; `until` is set while it is being detached.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    linode: u64,
    /// The Linode's label when attached (shown while a deleted Linode lets go).
    linode_label: String,
    until: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimVolume {
    id: u64,
    label: String,
    size: u64,
    region: String,
    tags: Vec<Value>,
    encryption: String,
    created: String,
    updated: String,
    /// `creating` until then, `active` after.
    ready_at: Instant,
    attachment: Option<Attachment>,
}

impl SimVolume {
    /// The Linode it is attached to now (a detach in progress still counts).
    fn attached(&self) -> Option<&Attachment> {
        self.attachment
            .as_ref()
            .filter(|a| a.until.is_none_or(|t| Instant::now() < t))
    }

    fn status(&self) -> &'static str {
        if Instant::now() < self.ready_at {
            "creating"
        } else {
            "active"
        }
    }

    /// Starts letting go of Linode `linode` (no-op when attached elsewhere
    /// or already letting go sooner).
    fn detach_from(&mut self, linode: u64, at: Instant) {
        if let Some(a) = self.attachment.as_mut().filter(|a| a.linode == linode) {
            if a.until.is_none_or(|t| at < t) {
                a.until = Some(at);
            }
        }
    }
}

/// A volume as the API shows it (the spec's Volume, plus `io_ready`, which
/// the real API sends though the spec does not list it: recorded, linodego
/// TestInstance_Config_VolumeLimitExtension).
pub(crate) fn volume_json(st: &State, v: &SimVolume) -> Value {
    let status = v.status();
    let att = v.attached();
    let linode_label = att.map(|a| {
        st.instances
            .get(&a.linode)
            .and_then(|i| i.body["label"].as_str())
            .unwrap_or(&a.linode_label)
            .to_string()
    });
    json!({
        "id": v.id,
        "label": v.label,
        "status": status,
        "size": v.size,
        "region": v.region,
        "linode_id": att.map(|a| a.linode),
        "linode_label": linode_label,
        // Spec: "Path is /dev/disk/by-id/scsi-0Linode_Volume_ + Volume label."
        "filesystem_path": format!("/dev/disk/by-id/scsi-0Linode_Volume_{}", v.label),
        "tags": v.tags,
        "created": v.created,
        "updated": v.updated,
        "hardware_type": "nvme",
        "encryption": v.encryption,
        "io_ready": att.is_some() && status == "active",
    })
}

/// `GET /volumes/types`: the spec's shape (`price` per GiB, `region_prices`,
/// `transfer`) with the real rates: $0.10 per GiB-month, $0.00015 per
/// GiB-hour (the spec's example says 0.0015, a slip: 0.10 / 730 h is
/// 0.000137), and the two regions priced differently (Jakarta, São Paulo).
pub fn volume_types() -> Vec<Value> {
    vec![json!({
        "id": "volume", "label": "Storage Volume",
        "price": {"hourly": 0.00015, "monthly": 0.1},
        "region_prices": [
            {"id": "id-cgk", "hourly": 0.00018, "monthly": 0.12},
            {"id": "br-gru", "hourly": 0.00021, "monthly": 0.14},
        ],
        "transfer": 0,
    })]
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

/// Checks `tags` (3-50 characters each, as the API enforces for every
/// taggable object though the spec omits it); `null` counts as absent.
fn check_tags(v: Option<&Value>, errs: &mut Errs) -> Option<Vec<Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
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

fn check_label(v: Option<&Value>, errs: &mut Errs) -> Option<String> {
    match v {
        Some(Value::String(l)) if label_ok(l) => Some(l.clone()),
        Some(Value::String(_)) => {
            errs.push((LABEL_REASON.into(), Some("label".into())));
            None
        }
        _ => {
            errs.push(("label must be a string".into(), Some("label".into())));
            None
        }
    }
}

/// An optional integer id field: `None` when absent, null or not an integer
/// (the last one noted in `errs`).
fn int_field(b: &Map<String, Value>, k: &str, errs: &mut Errs) -> Option<u64> {
    match b.get(k) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                errs.push((format!("{k} must be an integer"), Some(k.into())));
                None
            }
        },
    }
}

fn label_taken(st: &State, label: &str, except: Option<u64>) -> bool {
    st.volumes
        .values()
        .any(|v| v.label == label && Some(v.id) != except)
}

/// `POST /volumes`.
fn create(state: &Arc<Mutex<State>>, body: Option<Value>) -> (u16, Value) {
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Errs = Vec::new();
    // Spec: additionalProperties: false.
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "label" | "size" | "region" | "linode_id" | "config_id" | "tags" | "encryption"
        ) {
            errs.push((format!("{k} is not a valid field"), Some(k.clone())));
        }
    }
    // Spec: `required: [label]`, the only required field.
    let label = match b.get("label") {
        None | Some(Value::Null) => {
            errs.push(("label is required".into(), Some("label".into())));
            None
        }
        v => check_label(v, &mut errs),
    };
    let size = match b.get("size") {
        None | Some(Value::Null) => Some(DEFAULT_SIZE),
        Some(v) => match (v.as_i64(), v.as_u64()) {
            (_, Some(n)) if (MIN_SIZE..=MAX_SIZE).contains(&n) => Some(n),
            (Some(_), _) | (_, Some(_)) => {
                errs.push((
                    format!("Must be a value between {MIN_SIZE} and {MAX_SIZE}."),
                    Some("size".into()),
                ));
                None
            }
            _ => {
                errs.push(("size must be an integer".into(), Some("size".into())));
                None
            }
        },
    };
    let region = match b.get("region") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => match regions().into_iter().find(|x| x["id"] == r.as_str()) {
            None => {
                errs.push(("region is not valid".into(), Some("region".into())));
                None
            }
            Some(x)
                if !x["capabilities"]
                    .as_array()
                    .is_some_and(|c| c.contains(&json!("Block Storage"))) =>
            {
                errs.push((
                    "Block Storage is not available in this region".into(),
                    Some("region".into()),
                ));
                None
            }
            Some(_) => Some(r.clone()),
        },
        Some(_) => {
            errs.push(("region is not valid".into(), Some("region".into())));
            None
        }
    };
    let linode_id = int_field(&b, "linode_id", &mut errs);
    let linode_given = b.get("linode_id").is_some_and(|v| !v.is_null());
    // Spec: region "is only required if a linode_id is not given".
    if !linode_given && b.get("region").is_none_or(Value::is_null) {
        errs.push((
            "region is required if linode_id is not given".into(),
            Some("region".into()),
        ));
    }
    int_field(&b, "config_id", &mut errs);
    // Spec: config_id "Must _not_ be provided if `linode_id` is not sent."
    if b.get("config_id").is_some_and(|v| !v.is_null()) && !linode_given {
        errs.push((
            "config_id must not be given without linode_id".into(),
            Some("config_id".into()),
        ));
    }
    let tags = check_tags(b.get("tags"), &mut errs).unwrap_or_default();
    // Spec: encryption enum enabled/disabled, "default: disabled".
    let encryption = match b.get("encryption") {
        None | Some(Value::Null) => "disabled".to_string(),
        Some(Value::String(e)) if e == "enabled" || e == "disabled" => e.clone(),
        Some(_) => {
            errs.push((
                "encryption must be one of enabled, disabled".into(),
                Some("encryption".into()),
            ));
            "disabled".to_string()
        }
    };

    let mut st = state.lock().unwrap();
    // Spec: linode_id is "The Linode this volume should be attached to upon
    // creation"; the volume is made in that Linode's region.
    let mut attach = None;
    let mut region = region;
    if let Some(lid) = linode_id {
        match st.instances.get(&lid) {
            None => errs.push(("Linode not found".into(), Some("linode_id".into()))),
            Some(i) => {
                let lregion = i.body["region"].as_str().unwrap_or("").to_string();
                let llabel = i.body["label"].as_str().unwrap_or("").to_string();
                match &region {
                    Some(r) if *r != lregion => errs.push((
                        "Volume and Linode must be in the same region".into(),
                        Some("region".into()),
                    )),
                    _ => region = Some(lregion),
                }
                attach = Some(Attachment {
                    linode: lid,
                    linode_label: llabel,
                    until: None,
                });
            }
        }
    }
    if let Some(l) = &label {
        if label_taken(&st, l, None) {
            errs.push((
                "Label must be unique among your volumes".into(),
                Some("label".into()),
            ));
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let (Some(label), Some(size), Some(region)) = (label, size, region) else {
        return (400, errors(&[("Invalid request", None)]));
    };
    st.next_volume += 1;
    let id = st.next_volume;
    let now = now_naive_utc();
    let ready = Duration::from_millis(st.config.volume_ready_ms);
    let v = SimVolume {
        id,
        label,
        size,
        region,
        tags,
        encryption,
        created: now.clone(),
        updated: now,
        ready_at: Instant::now() + ready,
        attachment: attach,
    };
    let out = volume_json(&st, &v);
    st.volumes.insert(id, v);
    (200, out)
}

/// `PUT /volumes/{id}`: `label` and `tags`; the spec's read-only fields
/// (everything else, `linode_id` and `size` included) are ignored.
fn update(state: &Arc<Mutex<State>>, id: u64, body: Option<Value>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    if !st.volumes.contains_key(&id) {
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
                | "tags"
                | "id"
                | "status"
                | "size"
                | "region"
                | "linode_id"
                | "linode_label"
                | "filesystem_path"
                | "created"
                | "updated"
                | "hardware_type"
                | "encryption"
                | "io_ready"
        ) {
            errs.push((format!("{k} is not a valid field"), Some(k.clone())));
        }
    }
    let label = b.get("label").and_then(|l| check_label(Some(l), &mut errs));
    let tags = check_tags(b.get("tags"), &mut errs);
    if let Some(l) = &label {
        if label_taken(&st, l, Some(id)) {
            errs.push((
                "Label must be unique among your volumes".into(),
                Some("label".into()),
            ));
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let v = st.volumes.get_mut(&id).unwrap();
    if let Some(l) = label {
        v.label = l;
    }
    if let Some(t) = tags {
        v.tags = t;
    }
    v.updated = now_naive_utc();
    let v = v.clone();
    (200, volume_json(&st, &v))
}

/// `POST /volumes/{id}/attach`. Spec: `linode_id` required; "the Volume and
/// Linode must be located in the same Region"; `persist_across_boots`
/// "Defaults to true ... `config_id` should not be passed if this is set to
/// false ... The Linode must be running."
fn attach(state: &Arc<Mutex<State>>, id: u64, body: Option<Value>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    if !st.volumes.contains_key(&id) {
        return not_found();
    }
    let Some(Value::Object(b)) = body else {
        return (400, errors(&[("Request body must be a JSON object", None)]));
    };
    let mut errs: Errs = Vec::new();
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "linode_id" | "config_id" | "persist_across_boots"
        ) {
            errs.push((format!("{k} is not a valid field"), Some(k.clone())));
        }
    }
    let linode_id = int_field(&b, "linode_id", &mut errs);
    if b.get("linode_id").is_none_or(Value::is_null) {
        errs.push(("linode_id is required".into(), Some("linode_id".into())));
    }
    let config_given = int_field(&b, "config_id", &mut errs).is_some();
    let persist = match b.get("persist_across_boots") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(p)) => *p,
        Some(_) => {
            errs.push((
                "persist_across_boots must be a boolean".into(),
                Some("persist_across_boots".into()),
            ));
            true
        }
    };
    if !persist && config_given {
        errs.push((
            "config_id must not be given when persist_across_boots is false".into(),
            Some("config_id".into()),
        ));
    }
    let v = &st.volumes[&id];
    if v.attached().is_some() {
        errs.push(("Volume is already attached to a Linode".into(), None));
    }
    let mut target = None;
    if let Some(lid) = linode_id {
        match st.instances.get(&lid) {
            None => errs.push(("Linode not found".into(), Some("linode_id".into()))),
            Some(i) => {
                if i.body["region"].as_str() != Some(v.region.as_str()) {
                    errs.push((
                        "Volume and Linode must be in the same region".into(),
                        Some("linode_id".into()),
                    ));
                }
                if !persist && !i.raw && status_of(&st.config, i.created) != "running" {
                    errs.push(("Linode must be running".into(), Some("linode_id".into())));
                }
                target = Some(Attachment {
                    linode: lid,
                    linode_label: i.body["label"].as_str().unwrap_or("").to_string(),
                    until: None,
                });
            }
        }
    }
    if !errs.is_empty() {
        return answer(errs);
    }
    let v = st.volumes.get_mut(&id).unwrap();
    v.attachment = target;
    v.updated = now_naive_utc();
    let v = v.clone();
    (200, volume_json(&st, &v))
}

/// `POST /volumes/{id}/detach`: 200 `{}`; the volume lets go `detach_ms`
/// later (its `linode_id` stays until then). A volume attached nowhere is
/// refused (the spec does not say; the stricter answer).
fn detach(state: &Arc<Mutex<State>>, id: u64) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let at = Instant::now() + Duration::from_millis(st.config.detach_ms);
    let Some(v) = st.volumes.get_mut(&id) else {
        return not_found();
    };
    let Some(linode) = v.attached().map(|a| a.linode) else {
        return (400, errors(&[("Volume is not attached to a Linode", None)]));
    };
    v.detach_from(linode, at);
    v.updated = now_naive_utc();
    (200, json!({}))
}

/// `DELETE /volumes/{id}`: refused while attached (a detach in progress
/// included) unless `volume_delete_requires_detached` is off.
fn delete(state: &Arc<Mutex<State>>, id: u64) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let strict = st.config.volume_delete_requires_detached;
    let Some(v) = st.volumes.get(&id) else {
        return not_found();
    };
    if strict && v.attached().is_some() {
        return (400, errors(&[(DELETE_ATTACHED_REASON, None)]));
    }
    st.volumes.remove(&id);
    (200, json!({}))
}

/// The `/volumes...` routes; `parts` starts after `volumes`.
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
            let items: Vec<Value> = st.volumes.values().map(|v| volume_json(&st, v)).collect();
            // The spec marks only `label` and `tags` Filterable; the stand-in
            // also takes `region` and `linode_id`, as the instance list takes
            // more than its spec lists.
            filtered(
                items,
                filter,
                &["label", "tags", "region", "linode_id"],
                query,
            )
        }
        (Method::Post, []) => create(state, body),
        (Method::Get, ["types"]) => paginate(volume_types(), query),
        (_, [id, rest @ ..]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            match (method, rest) {
                (Method::Get, []) => {
                    let st = state.lock().unwrap();
                    match st.volumes.get(&id) {
                        Some(v) => (200, volume_json(&st, v)),
                        None => not_found(),
                    }
                }
                (_, []) if put => update(state, id, body),
                (Method::Delete, []) => delete(state, id),
                (Method::Post, ["attach"]) => attach(state, id, body),
                (Method::Post, ["detach"]) => detach(state, id),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// `GET /linode/instances/{id}/volumes`: the volumes attached to it.
pub(crate) fn linode_volumes(state: &Arc<Mutex<State>>, id: &str, query: &str) -> (u16, Value) {
    let st = state.lock().unwrap();
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| st.instances.contains_key(id))
    else {
        return not_found();
    };
    let items = st
        .volumes
        .values()
        .filter(|v| v.attached().is_some_and(|a| a.linode == id))
        .map(|v| volume_json(&st, v))
        .collect();
    paginate(items, query)
}

/// A Linode was deleted: the real API detaches its volumes (spec, detach:
/// "Volumes are automatically detached from deleted Linodes."), here once
/// `at` has passed.
pub(crate) fn linode_deleted(st: &mut State, linode: u64, at: Instant) {
    for v in st.volumes.values_mut() {
        v.detach_from(linode, at);
    }
}

/// A volume made outside the API: active at once, attached nowhere.
pub(crate) fn seed(st: &mut State, label: &str, size: u64, region: &str, tags: &[String]) -> u64 {
    st.next_volume += 1;
    let id = st.next_volume;
    let now = now_naive_utc();
    st.volumes.insert(
        id,
        SimVolume {
            id,
            label: label.to_string(),
            size,
            region: region.to_string(),
            tags: tags.iter().map(|t| json!(t)).collect(),
            encryption: "disabled".into(),
            created: now.clone(),
            updated: now,
            ready_at: Instant::now(),
            attachment: None,
        },
    );
    id
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

    fn create(sim: &Sim, body: Value) -> (u16, Value) {
        call(sim, Method::Post, "/volumes", Some(body))
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

    /// Short waits, but long enough for a busy machine to see the state
    /// in between; Linodes stay provisioning.
    fn quick() -> SimConfig {
        SimConfig {
            volume_ready_ms: 150,
            detach_ms: 400,
            provisioning_ms: 60_000,
            ..Default::default()
        }
    }

    /// Past `volume_ready_ms` and `detach_ms`.
    fn wait() {
        std::thread::sleep(Duration::from_millis(700));
    }

    #[test]
    fn labels() {
        for ok in [
            "ab",
            "my-volume",
            "cache_01",
            "a-_b",
            "ends-",
            "ends_",
            &"a".repeat(32),
        ] {
            assert!(label_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1abc",
            "-abc",
            "a--b",
            "a__b",
            "a.b",
            "a b",
            "a:b",
            "ümlaut",
            &"a".repeat(33),
        ] {
            assert!(!label_ok(bad), "{bad}");
        }
    }

    #[test]
    fn create_validation_names_the_field() {
        let sim = Sim::start(quick());
        let ord = sim.seed_tagged("ord-linode", &[]);
        let bad = |body: Value| {
            let (s, out) = create(&sim, body);
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"region": "us-ord"})), ["label"]);
        assert_eq!(bad(json!({"label": "a.b", "region": "us-ord"})), ["label"]);
        assert_eq!(bad(json!({"label": 5, "region": "us-ord"})), ["label"]);
        assert_eq!(bad(json!({"label": "cache"})), ["region"]);
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-chi"})),
            ["region"]
        );
        for size in [json!(9), json!(10241), json!(-1), json!(0)] {
            assert_eq!(
                bad(json!({"label": "cache", "region": "us-ord", "size": size})),
                ["size"]
            );
        }
        for size in [json!("20"), json!(20.5)] {
            assert_eq!(
                bad(json!({"label": "cache", "region": "us-ord", "size": size})),
                ["size"]
            );
        }
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-ord", "config_id": 7})),
            ["config_id"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-ord", "tags": ["ok-tag", "x"]})),
            ["tags[1]"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-ord", "tags": "ok-tag"})),
            ["tags"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-ord", "encryption": "yes"})),
            ["encryption"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "region": "us-ord", "filesystem": "ext4"})),
            ["filesystem"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "linode_id": 1})),
            ["linode_id"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "linode_id": "x"})),
            ["linode_id"]
        );
        assert_eq!(
            bad(json!({"label": "cache", "linode_id": ord, "region": "us-east"})),
            ["region"]
        );
        // Every problem at once, in the API's shape.
        let (s, out) = create(&sim, json!({"label": "a", "size": 5, "tags": ["x"]}));
        assert_eq!(s, 400);
        assert_eq!(
            out,
            json!({"errors": [
                {"reason": LABEL_REASON, "field": "label"},
                {"reason": "Must be a value between 10 and 10240.", "field": "size"},
                {"reason": "region is required if linode_id is not given", "field": "region"},
                {"reason": "Tag 0 (x) length must be 3-50 characters", "field": "tags[0]"},
            ]})
        );
        let (_, out) = create(&sim, json!({"label": "cache", "region": "us-chi"}));
        assert_eq!(
            out,
            json!({"errors": [{"reason": "region is not valid", "field": "region"}]})
        );
        assert_eq!(
            create(&sim, json!([])),
            (
                400,
                json!({"errors": [{"reason": "Request body must be a JSON object"}]})
            )
        );
        assert!(sim.volumes().is_empty());

        // The bounds themselves are fine; a label is unique among volumes.
        for (label, size) in [("small", 10), ("large", 10240)] {
            let (s, out) = create(
                &sim,
                json!({"label": label, "region": "us-ord", "size": size}),
            );
            assert_eq!(s, 200, "{out}");
        }
        let (s, out) = create(&sim, json!({"label": "small", "region": "us-east"}));
        assert_eq!(
            (s, out),
            (
                400,
                json!({"errors": [{"reason": "Label must be unique among your volumes", "field": "label"}]})
            )
        );
        assert_eq!(sim.volumes().len(), 2);
    }

    #[test]
    fn created_volume_has_the_spec_shape_and_becomes_active() {
        let sim = Sim::start(quick());
        // linodego sends `"tags": null` (recorded).
        let (s, v) = create(
            &sim,
            json!({"label": "hf-cache", "region": "us-ord", "tags": null}),
        );
        assert_eq!(s, 200, "{v}");
        let id = v["id"].as_u64().unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "created",
                "encryption",
                "filesystem_path",
                "hardware_type",
                "id",
                "io_ready",
                "label",
                "linode_id",
                "linode_label",
                "region",
                "size",
                "status",
                "tags",
                "updated"
            ]
        );
        assert_eq!(v["status"], "creating");
        assert_eq!(v["size"], 20);
        assert_eq!(v["region"], "us-ord");
        assert_eq!(v["linode_id"], Value::Null);
        assert_eq!(v["linode_label"], Value::Null);
        assert_eq!(
            v["filesystem_path"],
            "/dev/disk/by-id/scsi-0Linode_Volume_hf-cache"
        );
        assert_eq!(v["tags"], json!([]));
        assert_eq!(v["hardware_type"], "nvme");
        assert_eq!(v["encryption"], "disabled");
        assert_eq!(v["io_ready"], false);
        let created = v["created"].as_str().unwrap();
        assert_eq!(created.len(), 19, "naive UTC: {created}");
        assert!(!created.ends_with('Z'));
        wait();
        let (s, now) = call(&sim, Method::Get, &format!("/volumes/{id}"), None);
        assert_eq!((s, &now["status"]), (200, &json!("active")));
        assert_eq!(sim.volumes(), vec![now]);

        let (s, enc) = create(
            &sim,
            json!({"label": "secret", "region": "us-ord", "size": 40, "encryption": "enabled", "tags": ["build_ai"]}),
        );
        assert_eq!(s, 200, "{enc}");
        assert_eq!(
            (&enc["encryption"], &enc["size"], &enc["tags"]),
            (&json!("enabled"), &json!(40), &json!(["build_ai"]))
        );
    }

    #[test]
    fn created_attached_then_detached_when_the_linode_is_deleted() {
        let sim = Sim::start(quick());
        let linode = sim.seed_tagged("gpu-box", &[]);
        // No region: the Linode's.
        let (s, v) = create(
            &sim,
            json!({"label": "hf-cache", "linode_id": linode, "config_id": 42, "size": 100}),
        );
        assert_eq!(s, 200, "{v}");
        let id = v["id"].as_u64().unwrap();
        assert_eq!(
            (&v["region"], &v["linode_id"], &v["linode_label"]),
            (&json!("us-ord"), &json!(linode), &json!("gpu-box"))
        );
        // With the same region given explicitly, too.
        let (s, _) = create(
            &sim,
            json!({"label": "other", "linode_id": linode, "region": "us-ord"}),
        );
        assert_eq!(s, 200);
        wait();
        let path = format!("/volumes/{id}");
        assert_eq!(call(&sim, Method::Get, &path, None).1["io_ready"], true);
        let (s, on) = call(
            &sim,
            Method::Get,
            &format!("/linode/instances/{linode}/volumes"),
            None,
        );
        assert_eq!((s, &on["results"]), (200, &json!(2)));
        assert_eq!(on["data"][0]["id"], json!(id));

        // Refused while attached.
        assert_eq!(
            call(&sim, Method::Delete, &path, None),
            (
                400,
                json!({"errors": [{"reason": "Volume must be detached before it can be deleted."}]})
            )
        );
        // The Linode goes: its volumes let go a moment later.
        assert_eq!(
            call(
                &sim,
                Method::Delete,
                &format!("/linode/instances/{linode}"),
                None
            ),
            (200, json!({}))
        );
        let (_, still) = call(&sim, Method::Get, &path, None);
        assert_eq!(
            (&still["linode_id"], &still["linode_label"]),
            (&json!(linode), &json!("gpu-box"))
        );
        assert_eq!(call(&sim, Method::Delete, &path, None).0, 400);
        wait();
        let (_, free) = call(&sim, Method::Get, &path, None);
        assert_eq!(
            (&free["linode_id"], &free["linode_label"], &free["io_ready"]),
            (&Value::Null, &Value::Null, &json!(false))
        );
        assert_eq!(
            (&free["status"], &free["size"], &free["label"]),
            (&json!("active"), &json!(100), &json!("hf-cache"))
        );
        assert_eq!(call(&sim, Method::Delete, &path, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Get, &path, None),
            (404, json!({"errors": [{"reason": "Not found"}]}))
        );
        assert_eq!(call(&sim, Method::Delete, &path, None).0, 404);
        assert_eq!(sim.volumes().len(), 1);
    }

    #[test]
    fn attach_and_detach() {
        let sim = Sim::start(quick());
        let ord = sim.seed_tagged("ord-box", &[]);
        let ord2 = sim.seed_tagged("ord-two", &[]);
        let (s, east) = call(
            &sim,
            Method::Post,
            "/linode/instances",
            Some(json!({"region": "us-east", "type": "g6-nanode-1", "label": "east-box"})),
        );
        assert_eq!(s, 200, "{east}");
        let east = east["id"].as_u64().unwrap();
        let id = sim.seed_volume("cache", 50, "us-ord", &[]);
        let att = format!("/volumes/{id}/attach");
        let bad = |body: Value| {
            let (s, out) = call(&sim, Method::Post, &att, Some(body));
            assert_eq!(s, 400, "{out}");
            out
        };
        assert_eq!(
            bad(json!({})),
            json!({"errors": [{"reason": "linode_id is required", "field": "linode_id"}]})
        );
        assert_eq!(
            bad(json!({"linode_id": 99})),
            json!({"errors": [{"reason": "Linode not found", "field": "linode_id"}]})
        );
        assert_eq!(
            bad(json!({"linode_id": east})),
            json!({"errors": [{"reason": "Volume and Linode must be in the same region", "field": "linode_id"}]})
        );
        assert_eq!(
            fields(&bad(
                json!({"linode_id": ord, "persist_across_boots": false, "config_id": 1})
            )),
            ["config_id"]
        );
        assert_eq!(
            fields(&bad(
                json!({"linode_id": ord, "persist_across_boots": "no"})
            )),
            ["persist_across_boots"]
        );
        assert_eq!(
            fields(&bad(json!({"linode_id": ord, "device": "sdc"}))),
            ["device"]
        );
        // persist_across_boots false needs a running Linode (east is provisioning).
        let east_vol = sim.seed_volume("east-cache", 20, "us-east", &[]);
        let (s, out) = call(
            &sim,
            Method::Post,
            &format!("/volumes/{east_vol}/attach"),
            Some(json!({"linode_id": east, "persist_across_boots": false})),
        );
        assert_eq!(
            (s, out),
            (
                400,
                json!({"errors": [{"reason": "Linode must be running", "field": "linode_id"}]})
            )
        );
        // ord2 is running.
        let hot = sim.seed_volume("hot-plug", 20, "us-ord", &[]);
        let (s, out) = call(
            &sim,
            Method::Post,
            &format!("/volumes/{hot}/attach"),
            Some(json!({"linode_id": ord2, "persist_across_boots": false})),
        );
        assert_eq!((s, &out["linode_id"]), (200, &json!(ord2)), "{out}");
        let det = format!("/volumes/{id}/detach");
        assert_eq!(
            call(&sim, Method::Post, &det, None),
            (
                400,
                json!({"errors": [{"reason": "Volume is not attached to a Linode"}]})
            )
        );

        let (s, v) = call(
            &sim,
            Method::Post,
            &att,
            Some(json!({"linode_id": ord, "config_id": 5, "persist_across_boots": true})),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["linode_id"], &v["linode_label"], &v["io_ready"]),
            (&json!(ord), &json!("ord-box"), &json!(true))
        );
        // Already attached, to this Linode or another.
        for l in [ord, ord2] {
            assert_eq!(
                bad(json!({"linode_id": l})),
                json!({"errors": [{"reason": "Volume is already attached to a Linode"}]})
            );
        }
        // The Linode's label as it is now.
        assert_eq!(
            put(
                &sim,
                &format!("/linode/instances/{ord}"),
                json!({"label": "renamed"})
            )
            .0,
            200
        );
        assert_eq!(
            call(&sim, Method::Get, &format!("/volumes/{id}"), None).1["linode_label"],
            "renamed"
        );

        assert_eq!(call(&sim, Method::Post, &det, None), (200, json!({})));
        // Detaching takes a moment: still attached, still not deletable or attachable.
        let linode_of = |sim: &Sim| {
            sim.volumes()
                .into_iter()
                .find(|v| v["id"] == json!(id))
                .unwrap()["linode_id"]
                .clone()
        };
        assert_eq!(linode_of(&sim), json!(ord));
        assert_eq!(call(&sim, Method::Post, &det, None), (200, json!({})));
        assert_eq!(
            call(&sim, Method::Delete, &format!("/volumes/{id}"), None).0,
            400
        );
        assert_eq!(
            bad(json!({"linode_id": ord2}))["errors"][0]["field"],
            Value::Null
        );
        wait();
        assert_eq!(linode_of(&sim), Value::Null);
        let (s, v) = call(&sim, Method::Post, &att, Some(json!({"linode_id": ord2})));
        assert_eq!((s, &v["linode_id"]), (200, &json!(ord2)));

        for path in [
            "/volumes/999/attach",
            "/volumes/999/detach",
            "/volumes/abc/attach",
        ] {
            assert_eq!(
                call(&sim, Method::Post, path, Some(json!({"linode_id": ord}))).0,
                404,
                "{path}"
            );
        }
    }

    #[test]
    fn delete_of_an_attached_volume_can_be_allowed() {
        let sim = Sim::start(SimConfig {
            volume_delete_requires_detached: false,
            ..quick()
        });
        let linode = sim.seed_tagged("box", &[]);
        let (_, v) = create(&sim, json!({"label": "cache", "linode_id": linode}));
        let path = format!("/volumes/{}", v["id"]);
        assert_eq!(call(&sim, Method::Delete, &path, None), (200, json!({})));
        assert!(sim.volumes().is_empty());
    }

    #[test]
    fn lists_filter_and_page() {
        let sim = Sim::start(quick());
        let linode = sim.seed_tagged("box", &[]);
        let tag = |t: &str| vec![t.to_string()];
        let a = sim.seed_volume("cache-a", 20, "us-ord", &tag("build_ai"));
        let b = sim.seed_volume("cache-b", 30, "us-east", &tag("build_ai"));
        sim.seed_volume("other", 40, "us-ord", &tag("mine"));
        call(
            &sim,
            Method::Post,
            &format!("/volumes/{a}/attach"),
            Some(json!({"linode_id": linode})),
        );
        let ids = |filter: &str| {
            let (s, out) = get_with_filter(&sim, "/volumes", filter);
            assert_eq!(s, 200, "{out}");
            out["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(r#"{"tags": "build_ai"}"#), [a, b]);
        assert_eq!(ids(r#"{"label": "cache-b"}"#), [b]);
        assert_eq!(ids(r#"{"tags": "build_ai", "region": "us-ord"}"#), [a]);
        assert_eq!(ids(&format!(r#"{{"linode_id": {linode}}}"#)), [a]);
        assert_eq!(ids(r#"{"label": {"+contains": "cache"}}"#), [a, b]);
        let (s, out) = get_with_filter(&sim, "/volumes", r#"{"size": 20}"#);
        assert_eq!(
            (s, out),
            (
                400,
                json!({"errors": [{"reason": "Cannot filter on size"}]})
            )
        );

        for i in 0..30 {
            sim.seed_volume(&format!("v{i}"), 10, "us-ord", &[]);
        }
        let (s, p2) = crate::route(
            &sim.state,
            &Method::Get,
            "/volumes",
            "page=2&page_size=25",
            None,
            None,
        );
        assert_eq!(
            (s, &p2["page"], &p2["pages"], &p2["results"]),
            (200, &json!(2), &json!(2), &json!(33))
        );
        assert_eq!(p2["data"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn update_label_and_tags() {
        let sim = Sim::start(quick());
        let id = sim.seed_volume("cache", 20, "us-ord", &[]);
        sim.seed_volume("taken", 20, "us-ord", &[]);
        let path = format!("/volumes/{id}");
        let (s, v) = put(
            &sim,
            &path,
            json!({"label": "hf-cache", "tags": ["build_ai"], "size": 999, "linode_id": 5, "region": "us-east"}),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["label"], &v["tags"], &v["filesystem_path"]),
            (
                &json!("hf-cache"),
                &json!(["build_ai"]),
                &json!("/dev/disk/by-id/scsi-0Linode_Volume_hf-cache")
            )
        );
        // Read-only fields are ignored.
        assert_eq!(
            (&v["size"], &v["linode_id"], &v["region"]),
            (&json!(20), &Value::Null, &json!("us-ord"))
        );
        let bad = |body: Value| {
            let (s, out) = put(&sim, &path, body);
            assert_eq!(s, 400, "{out}");
            fields(&out)
        };
        assert_eq!(bad(json!({"label": "taken"})), ["label"]);
        assert_eq!(bad(json!({"label": "a..b"})), ["label"]);
        assert_eq!(bad(json!({"tags": ["no"]})), ["tags[0]"]);
        assert_eq!(bad(json!({"description": "x"})), ["description"]);
        // Its own label again is fine.
        assert_eq!(put(&sim, &path, json!({"label": "hf-cache"})).0, 200);
        assert_eq!(put(&sim, "/volumes/999", json!({"label": "x-y"})).0, 404);
    }

    #[test]
    fn types_have_per_gib_prices() {
        let sim = Sim::start(quick());
        let (s, t) = call(&sim, Method::Get, "/volumes/types", None);
        assert_eq!(s, 200);
        assert_eq!(
            (&t["page"], &t["pages"], &t["results"]),
            (&json!(1), &json!(1), &json!(1))
        );
        let v = &t["data"][0];
        assert_eq!(
            (&v["id"], &v["label"]),
            (&json!("volume"), &json!("Storage Volume"))
        );
        assert_eq!(v["price"], json!({"hourly": 0.00015, "monthly": 0.1}));
        assert_eq!(v["transfer"], 0);
        assert!(v["region_prices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"].is_string() && p["hourly"].is_f64() && p["monthly"].is_f64()));
        // Not a volume id.
        assert_eq!(call(&sim, Method::Delete, "/volumes/types", None).0, 404);
    }

    /// Over HTTP: volumes need the token, their types do not (the spec gives
    /// `GET /volumes/types` no security, as `GET /linode/types`).
    #[test]
    fn volumes_need_a_token_types_do_not() {
        use std::io::{Read, Write};
        let sim = Sim::start(quick());
        sim.seed_volume("cache", 20, "us-ord", &[]);
        let code = |path: &str| {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", sim.port)).unwrap();
            write!(
                c,
                "GET /v4{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out.split(' ').nth(1).unwrap_or("").to_string()
        };
        assert_eq!(code("/volumes"), "401");
        assert_eq!(code("/volumes/types"), "200");
    }

    #[test]
    fn config_without_the_new_fields_keeps_their_defaults() {
        let mut old = serde_json::to_value(SimConfig::default()).unwrap();
        let obj = old.as_object_mut().unwrap();
        obj.remove("volume_ready_ms");
        obj.remove("volume_delete_requires_detached");
        let c: SimConfig = serde_json::from_value(old).unwrap();
        assert_eq!(c.volume_ready_ms, 200);
        assert!(c.volume_delete_requires_detached);
    }
}
