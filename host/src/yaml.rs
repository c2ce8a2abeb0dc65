//! YAML parsing with errors that name the field and the line, never a value.
//!
//! serde_yaml's messages quote the offending value (`invalid type: string
//! "-----BEGIN OPENSSH PRIVATE KEY-----..."`). A manifest or template that is
//! a symlink to another file would print that file's contents; so values are
//! dropped from the message and only the field path and location remain.

use anyhow::Result;
use serde::de::DeserializeOwned;

/// How deeply a document may nest (lists, maps, flow collections). Templates
/// and manifests need a handful; the parser's time grows with the square of
/// the depth, so deeper documents are refused before parsing.
pub const MAX_DEPTH: usize = 64;

/// Parses `text` (from `origin`) into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    if nesting_depth(text) > MAX_DEPTH {
        anyhow::bail!(
            "{origin}: the document is nested more than {MAX_DEPTH} levels deep; linode-ai reads at most {MAX_DEPTH} (templates and manifests need a handful)"
        );
    }
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

/// An upper bound of a YAML document's nesting depth, in one linear pass
/// without parsing: block indentation levels, compact `- - x` items and open
/// flow collections (`[`, `{`) at each point. Quoted scalars, comments,
/// block scalars (`|`, `>`) and brackets inside plain scalars do not count.
pub fn nesting_depth(text: &str) -> usize {
    let mut max = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    // Inside a block scalar's content: lines indented more than this.
    let mut block_scalar: Option<usize> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        if let Some(parent) = block_scalar {
            if body.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if flow == 0 && quote.is_none() {
            if body.trim().is_empty() || body.starts_with('#') {
                continue;
            }
            while indents.last().is_some_and(|&t| t >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let chars: Vec<char> = body.chars().collect();
        let mut dashes = 0usize;
        let mut node_start = quote.is_none();
        let mut prev_space = true;
        let mut entry_col = indent;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next_blank = chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\t');
            if let Some(q) = quote {
                if q == '\'' && c == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    quote = None;
                    node_start = false;
                } else if q == '"' && c == '\\' {
                    i += 2;
                    continue;
                } else if q == '"' && c == '"' {
                    quote = None;
                    node_start = false;
                }
                prev_space = false;
                i += 1;
                continue;
            }
            match c {
                ' ' | '\t' => {}
                '#' if prev_space => break,
                '\'' | '"' if node_start => quote = Some(c),
                '[' | '{' if node_start || flow > 0 => {
                    flow += 1;
                    node_start = true;
                }
                ']' | '}' if flow > 0 => {
                    flow -= 1;
                    node_start = false;
                }
                ',' if flow > 0 => node_start = true,
                '-' if flow == 0 && node_start && next_blank => {
                    dashes += 1;
                    entry_col = indent + i;
                }
                '?' if node_start && next_blank => {}
                ':' if next_blank
                    || (flow > 0 && matches!(chars.get(i + 1), Some(',' | ']' | '}'))) =>
                {
                    node_start = true
                }
                '|' | '>' if flow == 0 && node_start => {
                    let rest: String = chars[i + 1..].iter().collect();
                    let rest = rest
                        .trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
                    if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
                        block_scalar = Some(entry_col);
                        break;
                    }
                    node_start = false;
                }
                _ => {
                    if node_start && flow == 0 {
                        entry_col = indent + i;
                    }
                    node_start = false;
                }
            }
            prev_space = c == ' ' || c == '\t';
            max = max.max(indents.len() + dashes + flow);
            i += 1;
        }
        max = max.max(indents.len() + dashes + flow);
    }
    max
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

    /// Issue 16, item 8: parse time grows with the square of the nesting
    /// depth (a 200 KB file of nested lists took 65 s), so depth is limited
    /// before parsing, with a message that says so.
    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let flow = format!("deploy: {}{}\n", "[".repeat(1000), "]".repeat(1000));
        let maps = format!("{}x\n", "{a: ".repeat(1000));
        let block = format!("{}x\n", "- ".repeat(1000));
        let indented: String = (0..1000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        for text in [flow, maps, block, indented] {
            let e = from_str::<serde_yaml::Value>(&text, "ai.linode.yml")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("ai.linode.yml: ") && e.contains("nested more than 64 levels"),
                "{e}"
            );
        }
        // What templates really look like parses, brackets in scripts and quotes included.
        let ok = "a:\n  - {b: [1, 2, {c: d}]}\n  - 'it''s [ not a list'\n  - \"[ \\\" {\"\n  - don't [x\n  - key: |\n      if [[ -x /bin/sh ]]; then { echo '[[[[['; }; fi\n        [[[[[[[\ne: x # [[[[\n";
        from_str::<serde_yaml::Value>(ok, "t.yml").unwrap();
        assert!(nesting_depth(ok) < 8, "{}", nesting_depth(ok));
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
