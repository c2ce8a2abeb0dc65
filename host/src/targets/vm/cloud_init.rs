//! Cloud-init user-data, built as data and serialised (never string-pasted),
//! and the checks Linode and cloud-init apply to it.

use serde::{Deserialize, Serialize};

/// Linode's Metadata service limit on decoded user-data.
pub const USER_DATA_MAX: usize = 16384;
pub const HEADER: &str = "#cloud-config";

/// The subset of cloud-config linode-ai writes (unknown keys a hook adds
/// are kept in `extra`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CloudConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_update: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// `false`: SSH accepts keys only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_pwauth: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_files: Vec<WriteFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runcmd: Vec<Vec<String>>,
    #[serde(flatten)]
    pub extra: serde_yaml::Mapping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WriteFile {
    pub path: String,
    /// Always quoted octal (`'0600'`): unquoted it would be read as an integer.
    pub permissions: String,
    pub owner: String,
    /// `gz+b64` for compressed content; plain text otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    pub content: String,
}

impl WriteFile {
    /// A root-owned text file.
    pub fn text(path: &str, permissions: &str, content: String) -> WriteFile {
        WriteFile {
            path: path.into(),
            permissions: permissions.into(),
            owner: "root:root".into(),
            encoding: None,
            content,
        }
    }

    /// A root-owned file stored gzip-compressed and base64-encoded, to fit
    /// large content (a web page) into the 16 KiB user-data limit.
    pub fn compressed(path: &str, permissions: &str, content: &[u8]) -> WriteFile {
        WriteFile {
            path: path.into(),
            permissions: permissions.into(),
            owner: "root:root".into(),
            encoding: Some("gz+b64".into()),
            content: gz_b64(content),
        }
    }
}

/// `content` gzip-compressed (best) and base64-encoded. Remembered: the same
/// page is rendered several times per deploy (shown, sent) and compressing it
/// at the best level is most of a render's time.
fn gz_b64(content: &[u8]) -> String {
    use base64::Engine;
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};
    static DONE: OnceLock<Mutex<HashMap<Vec<u8>, String>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    if let Some(s) = done.lock().unwrap_or_else(|e| e.into_inner()).get(content) {
        return s.clone();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(content);
    let encoded = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap_or_default());
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    if done.len() < 16 {
        done.insert(content.to_vec(), encoded.clone());
    }
    encoded
}

impl WriteFile {
    /// The content as the instance will write it (gz+b64 decoded).
    pub fn decoded(&self) -> Option<String> {
        use base64::Engine;
        use std::io::Read;
        match self.encoding.as_deref() {
            None => Some(self.content.clone()),
            Some("gz+b64" | "gzip+base64") => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&self.content)
                    .ok()?;
                let mut out = String::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .take(1 << 20)
                    .read_to_string(&mut out)
                    .ok()?;
                Some(out)
            }
            Some(_) => None,
        }
    }
}

impl CloudConfig {
    /// `#cloud-config` + YAML.
    pub fn render(&self) -> String {
        let body = serde_yaml::to_string(self).expect("cloud-config serialises");
        format!("{HEADER}\n{body}")
    }

    pub fn file(&self, path: &str) -> Option<&WriteFile> {
        self.write_files.iter().find(|f| f.path == path)
    }
}

/// Why user-data cannot be sent. Messages never quote the document (it
/// holds env values).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserDataError {
    #[error("user-data must start with \"#cloud-config\"")]
    MissingHeader,
    #[error("user-data is {0} bytes; Linode's Metadata service accepts at most 16384 (shorten env values or scripts)")]
    TooLarge(usize),
    #[error("user-data is not valid YAML ({0})")]
    NotYaml(String),
    #[error("user-data must be a YAML mapping (cloud-config keys at the top level)")]
    NotMapping,
}

/// Checks what Linode and cloud-init require of the document.
pub fn validate_user_data(doc: &str) -> Result<(), UserDataError> {
    if doc.len() > USER_DATA_MAX {
        return Err(UserDataError::TooLarge(doc.len()));
    }
    if doc.lines().next().map(str::trim_end) != Some(HEADER) {
        return Err(UserDataError::MissingHeader);
    }
    let value: serde_yaml::Value = serde_yaml::from_str(doc).map_err(|e| {
        UserDataError::NotYaml(
            e.location()
                .map(|l| format!("line {}, column {}", l.line(), l.column()))
                .unwrap_or_else(|| "unparseable".into()),
        )
    })?;
    if !value.is_mapping() {
        return Err(UserDataError::NotMapping);
    }
    Ok(())
}

/// The document as a person reads it: every `gz+b64` file of `write_files`
/// shown decoded, as a block (its `encoding` line says `shown decoded`).
/// Only for display: what is sent is the document itself. Works on the text,
/// so whatever else is there (a hook's comments included) is shown as it is;
/// a file whose content does not decode is left as it is.
pub fn readable(doc: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(item) = line.trim_start().strip_prefix("- ") else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        // One list item: its first key on the `- ` line, the others indented by two more.
        let field = indent_of(line) + 2;
        let mut end = i + 1;
        while end < lines.len() && (lines[end].trim().is_empty() || indent_of(lines[end]) >= field)
        {
            end += 1;
        }
        let mut keys: Vec<String> = vec![format!("{}{item}", " ".repeat(field))];
        keys.extend(lines[i + 1..end].iter().map(|l| l.to_string()));
        let key_at = |name: &str| {
            keys.iter().position(|k| {
                indent_of(k) == field && k.trim_start().starts_with(&format!("{name}:"))
            })
        };
        let decoded = match (key_at("encoding"), key_at("content")) {
            (Some(e), Some(c)) if keys[e].trim_start() == "encoding: gz+b64" => {
                let value = keys[c].trim_start()["content:".len()..].trim();
                let file = WriteFile {
                    path: String::new(),
                    permissions: String::new(),
                    owner: String::new(),
                    encoding: Some("gz+b64".into()),
                    content: value.to_string(),
                };
                file.decoded().map(|text| (e, c, text))
            }
            _ => None,
        };
        match decoded {
            Some((e, c, text)) => {
                let pad = " ".repeat(field);
                keys[e] = format!("{pad}encoding: gz+b64  # shown decoded below");
                let mut block = format!("{pad}content: |");
                for l in text.lines() {
                    block.push('\n');
                    if !l.is_empty() {
                        block.push_str(&pad);
                        block.push_str("  ");
                        block.push_str(l);
                    }
                }
                keys[c] = block;
                keys[0] = format!("{}- {}", " ".repeat(field - 2), keys[0].trim_start());
                out.extend(keys);
            }
            None => out.extend(lines[i..end].iter().map(|l| l.to_string())),
        }
        i = end;
    }
    let mut text = out.join("\n");
    if doc.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// One-line standard base64 with padding, as `metadata.user_data` requires.
pub fn encode_user_data(doc: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(doc.as_bytes())
}

/// Lines added and removed per top-level section between two documents, for
/// showing what a hook changed without showing its content.
pub fn diff_summary(before: &str, after: &str) -> Vec<(String, usize, usize)> {
    fn sections(doc: &str) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut current = "(header)".to_string();
        for line in doc.lines() {
            if !line.starts_with([' ', '-', '#']) && line.contains(':') {
                current = line.split(':').next().unwrap_or("").to_string();
            }
            out.entry(current.clone())
                .or_default()
                .push(line.to_string());
        }
        out
    }
    let (a, b) = (sections(before), sections(after));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let empty = Vec::new();
        let (x, y) = (a.get(k).unwrap_or(&empty), b.get(k).unwrap_or(&empty));
        let mut counts: std::collections::HashMap<&str, isize> = Default::default();
        for l in x {
            *counts.entry(l).or_default() -= 1;
        }
        for l in y {
            *counts.entry(l).or_default() += 1;
        }
        let added: usize = counts
            .values()
            .filter(|v| **v > 0)
            .map(|v| *v as usize)
            .sum();
        let removed: usize = counts
            .values()
            .filter(|v| **v < 0)
            .map(|v| (-*v) as usize)
            .sum();
        if added + removed > 0 {
            out.push((k.clone(), added, removed));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_readable_document_shows_compressed_files_decoded() {
        let doc = CloudConfig {
            package_update: None,
            packages: vec![],
            ssh_pwauth: Some(false),
            write_files: vec![
                WriteFile::compressed("/usr/local/bin/x", "0700", b"#!/bin/bash\necho hi\n"),
                WriteFile::text("/etc/y", "0644", "plain\n".into()),
            ],
            runcmd: vec![],
            extra: Default::default(),
        }
        .render();
        assert!(!doc.contains("echo hi"), "sent compressed");
        let shown = readable(&doc);
        assert!(shown.starts_with("#cloud-config\n"), "{shown}");
        assert!(
            shown.contains("echo hi") && shown.contains("shown decoded"),
            "{shown}"
        );
        assert!(shown.contains("plain"));
        assert_eq!(readable("not: [yaml"), "not: [yaml");
        // A hook's comment stays where it was.
        let hooked = format!("{doc}# rendered by a hook\n");
        assert!(readable(&hooked).ends_with("# rendered by a hook\n"));
    }
    use super::*;

    #[test]
    fn size_and_header_rules() {
        assert_eq!(
            validate_user_data("packages: []"),
            Err(UserDataError::MissingHeader)
        );
        let big = format!("#cloud-config\nx: '{}'\n", "a".repeat(USER_DATA_MAX));
        assert!(matches!(
            validate_user_data(&big),
            Err(UserDataError::TooLarge(_))
        ));
        let e = validate_user_data("#cloud-config\nsecret: [unclosed s3cr3t").unwrap_err();
        assert!(matches!(e, UserDataError::NotYaml(_)));
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert_eq!(
            validate_user_data("#cloud-config\n- a\n"),
            Err(UserDataError::NotMapping)
        );
        assert!(!encode_user_data("#cloud-config\n").contains('\n'));
    }

    #[test]
    fn compressed_files_round_trip() {
        use base64::Engine;
        use std::io::Read;
        let page = "<html>".repeat(1000);
        let f = WriteFile::compressed("/x", "0644", page.as_bytes());
        assert_eq!(f.encoding.as_deref(), Some("gz+b64"));
        assert!(f.content.len() < page.len() / 10);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&f.content)
            .unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, page);
    }

    #[test]
    fn diff_summary_counts_lines_per_section() {
        let a = "#cloud-config\npackages:\n- docker.io\nruncmd:\n- [a]\n";
        let b = "#cloud-config\npackages:\n- docker.io\n- htop\n";
        let d = diff_summary(a, b);
        assert_eq!(
            d,
            [("packages".to_string(), 1, 0), ("runcmd".to_string(), 0, 2)]
        );
    }
}
