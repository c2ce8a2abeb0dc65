//! YAML parsing with errors that name the field and the line, never a value.
//!
//! serde_yaml's messages quote the offending value (`invalid type: string
//! "-----BEGIN OPENSSH PRIVATE KEY-----..."`). A manifest or template that is
//! a symlink to another file would print that file's contents; so values are
//! dropped from the message and only the field path and location remain.

use anyhow::Result;
use serde::de::DeserializeOwned;

/// Parses `text` (from `origin`) into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        let message = without_values(&inner.to_string());
        let field = if path.is_empty() || path == "." {
            String::new()
        } else {
            let segments: Vec<&str> = path.split('.').map(name_or_hidden).collect();
            format!("field `{}`: ", segments.join("."))
        };
        anyhow::anyhow!("{origin}: {field}{message}{location}")
    })
}

/// A key as it may appear in a message: field-name-like keys as they are,
/// anything else (a line of another file, a secret) hidden.
fn name_or_hidden(s: &str) -> &str {
    let plain = !s.is_empty()
        && s.len() <= 48
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-[]".contains(c));
    if plain {
        s
    } else {
        "…"
    }
}

/// serde's message with quoted values removed and backticked names cut short,
/// and serde_yaml's own " at line L column C" suffix dropped (we add ours).
fn without_values(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let mut out = String::new();
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // Skip a quoted value entirely (with escapes).
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                while out.ends_with(' ') {
                    out.pop();
                }
            }
            '`' => {
                let mut name = String::new();
                for c in chars.by_ref() {
                    if c == '`' {
                        break;
                    }
                    name.push(c);
                }
                out.push('`');
                out.push_str(name_or_hidden(&name));
                out.push('`');
            }
            c => out.push(c),
        }
    }
    crate::sanitize::line(&crate::sanitize::cut(&out, 300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        port: u16,
    }

    #[test]
    fn errors_name_field_and_line_but_never_values() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
        let e = from_str::<T>(key, "ai.linode.yml").unwrap_err().to_string();
        assert!(e.starts_with("ai.linode.yml: "), "{e}");
        assert!(!e.contains("b3BlbnNz") && !e.contains("PRIVATE"), "{e}");
        let e = from_str::<T>("name: x\nport: \"s3cret-value\"\n", "t.yml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `port`") && e.contains("line 2"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        let e = from_str::<T>("name: x\nport: 1\nbogus: 2\n", "t.yml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`bogus`"), "{e}");
        let e = from_str::<T>("root:$6$abcdefgh$hash:19000:0:99999:7:::\n", "x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("abcdefgh"), "{e}");
    }
}
