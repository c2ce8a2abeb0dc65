//! Making untrusted text safe to show: terminal control characters escaped,
//! long values cut, secrets scrubbed.
//!
//! Text from a hook, an API error body, a registry field or a user's input
//! can carry ANSI/OSC escape sequences (clear the screen, rewrite the title)
//! or newlines (forge a line that looks like linode-ai's own). Everything
//! such a source says passes through [`line`] (one line, every control
//! character escaped) or [`block`] (newlines and tabs kept) before it is
//! printed; [`quote`] is the short excerpt used inside error messages.

/// Escapes every control character (C0, DEL, C1, and Unicode line/paragraph
/// separators and bidi overrides) as `\n`, `\t`, `\x1b`, `\u{202e}`...
pub fn line(s: &str) -> String {
    escape(s, false)
}

/// Like [`line`], but keeps `\n` and `\t` (for multi-line documents).
pub fn block(s: &str) -> String {
    escape(s, true)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

fn escape(s: &str, keep_layout: bool) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' if keep_layout => out.push('\n'),
            '\t' if keep_layout => out.push('\t'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// How many characters of one outside value (an app name, a label, a tag)
/// are shown in a line or a table cell.
pub const FIELD_MAX: usize = 120;

/// An outside value as it is shown in a line or a table cell: escaped and
/// cut to [`FIELD_MAX`] characters (a 100,000-character tag is not printed).
pub fn field(s: &str) -> String {
    cut(&line(&cut(s, FIELD_MAX)), FIELD_MAX)
}

/// A user-supplied value as it appears inside an error message: quoted,
/// escaped and cut to 64 characters (a 10 MB `--region` is not echoed).
pub fn quote(s: &str) -> String {
    format!("\"{}\"", line(&cut(s, 64)))
}

/// Removes `secret` and any `Bearer <token>` from `text`, so an API error
/// body that echoes the request's `Authorization` header never shows the token.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        if out.contains(s) {
            out = out.replace(s, "<redacted>");
        }
    }
    scrub_bearer(&out)
}

/// `Bearer <anything up to whitespace or a quote>` becomes `Bearer <redacted>`
/// (case-insensitive).
fn scrub_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(rel) = lower[i..].find("bearer") {
        let at = i + rel;
        let word_end = at + "bearer".len();
        out.push_str(&text[i..word_end]);
        // Skip separators, then the token itself.
        let rest = &text[word_end..];
        let sep = rest
            .char_indices()
            .find(|(_, c)| !matches!(c, ' ' | '\t' | ':' | '='))
            .map(|(n, _)| n)
            .unwrap_or(rest.len());
        let token_len = rest[sep..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ']' | ';'))
            .map(|(n, _)| n)
            .unwrap_or(rest.len() - sep);
        // Words shorter than 8 characters are prose ("the bearer is late"), not tokens.
        if sep > 0 && token_len >= 8 {
            out.push_str(&rest[..sep]);
            out.push_str("<redacted>");
            i = word_end + sep + token_len;
        } else {
            i = word_end;
        }
    }
    out.push_str(&text[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(line("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(line("x\nToken: found"), "x\\nToken: found");
        assert_eq!(line("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(line("rtl\u{202e}txt"), "rtl\\u{202e}txt");
        assert_eq!(block("a\nb\t\x07"), "a\nb\t\\x07");
        assert_eq!(line("plain ünïcødé"), "plain ünïcødé");
    }

    #[test]
    fn fields_are_escaped_and_short() {
        let big = "\x1b".repeat(1 << 20);
        let f = field(&big);
        assert!(
            f.chars().count() <= FIELD_MAX + 1 && !f.contains('\x1b'),
            "{}",
            f.len()
        );
        assert_eq!(field("us-ord"), "us-ord");
    }

    #[test]
    fn quotes_are_short() {
        let big = "x".repeat(10 << 20);
        let q = quote(&big);
        assert!(q.chars().count() < 70, "{}", q.len());
        assert_eq!(quote("us-ord"), "\"us-ord\"");
        assert_eq!(cut("héllo", 2), "hé…");
    }

    #[test]
    fn tokens_are_scrubbed() {
        let body = r#"{"errors":[{"reason":"bad header Authorization: Bearer abc123XYZ"}], "echo": "tok-SECRET-1"}"#;
        let s = scrub(body, &["tok-SECRET-1"]);
        assert!(
            !s.contains("abc123XYZ") && !s.contains("tok-SECRET-1"),
            "{s}"
        );
        assert!(s.contains("Bearer <redacted>"), "{s}");
        assert_eq!(scrub("bearer:tok-12345", &[]), "bearer:<redacted>");
        assert_eq!(scrub("the bearer is late", &[]), "the bearer is late");
        assert_eq!(
            scrub("no secrets", &["no"]),
            "no secrets",
            "short secrets are not scrubbed"
        );
    }
}
