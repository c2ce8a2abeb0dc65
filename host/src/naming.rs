//! Label and tag rules of the Linode API, applied before any request.
//!
//! Labels: 3-64 chars, start with a letter, end alphanumeric, only
//! `[A-Za-z0-9-_.]`, never `--`, `__` or `..`. Tags: 3-50 chars each.
//!
//! Tag scheme (every tag fits in 50 chars):
//! `build_ai_app=<app>`, `build_ai_env=<env>`, `build_ai_template=<name>`,
//! `build_ai_template_version=<version>`, `build_ai_id=<uuid>` (the plan's
//! `build_ai_deployment_id=<uuid>` is 59 chars, which the API rejects).

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const LABEL_MAX: usize = 64;
pub const TAG_MIN: usize = 3;
pub const TAG_MAX: usize = 50;
/// Longest app or env name accepted, so that every tag stays within 50 chars.
pub const NAME_MAX: usize = 32;

/// Why a name, label or tag was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} \"{value}\" is {len} characters; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        value: String,
        len: usize,
        max: usize,
    },
    #[error("{what} \"{value}\" may only contain letters, digits, '-', '_' and '.'")]
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

/// `build-ai-<app>-<env>-<YYYYMMDDTHHMMSSZ>`: always a valid, at most 64-char label.
pub fn instance_label(app: &str, env: &str, at: DateTime<Utc>) -> String {
    let stamp = at.format("%Y%m%dT%H%M%SZ").to_string(); // 16 chars
    let app = slug(app, 24);
    let env = slug(env, 12);
    let mut label = String::from("build-ai");
    for part in [app.as_str(), env.as_str(), stamp.as_str()] {
        if !part.is_empty() {
            label.push('-');
            label.push_str(part);
        }
    }
    debug_assert!(check_label(&label).is_ok(), "{label}");
    label
}

/// The API's label rule, checked by hand (its pattern needs look-ahead).
pub fn check_label(label: &str) -> Result<(), String> {
    let len = label.chars().count();
    if !(3..=LABEL_MAX).contains(&len) {
        return Err(format!(
            "label \"{label}\" must be 3-{LABEL_MAX} characters (is {len})"
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

/// The tags put on every instance linode-ai creates.
pub fn instance_tags(app: &str, env: &str, template: &str, version: &str, id: Uuid) -> Vec<String> {
    vec![
        format!("build_ai_app={app}"),
        format!("build_ai_env={env}"),
        format!("build_ai_template={template}"),
        format!("build_ai_template_version={version}"),
        format!("build_ai_id={id}"),
    ]
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 14, 30, 0).unwrap()
    }

    #[test]
    fn label_is_compact_and_valid() {
        let l = instance_label("chat-agent", "default", at());
        assert_eq!(l, "build-ai-chat-agent-default-20261126T143000Z");
        check_label(&l).unwrap();
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
            let l = instance_label(app, env, at());
            check_label(&l).unwrap_or_else(|e| panic!("{app:?}/{env:?}: {e}"));
            assert!(l.len() <= LABEL_MAX);
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
        let tags = instance_tags(&name, &name, "chat-agent", "0.1.0", Uuid::new_v4());
        check_tags(&tags).unwrap();
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
    }
}
