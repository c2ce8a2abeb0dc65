//! Quoting for the shell, in one place: every value the generated boot
//! script or a remote command names goes through [`shell_quote`] (a POSIX
//! word) or, in the env file, [`env_value_quote`] (one bash `$'...'` line).
//! [`env_value_unquote`] reads such a line's value back.

/// A bash script as it is shipped in the 16 KiB user-data: comment-only
/// lines and blank lines are left out (the sources keep them). Kept: the
/// `#!` line, `# shellcheck` directives (the check of the rendered scripts
/// reads them), and every line of a here-document, whatever it starts with.
pub fn strip_comments(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut heredoc: Option<String> = None;
    for (i, line) in script.lines().enumerate() {
        if let Some(end) = &heredoc {
            if line.trim_start_matches('\t') == end {
                heredoc = None;
            }
        } else {
            let t = line.trim_start();
            let directive = t.starts_with("# shellcheck") || (i == 0 && t.starts_with("#!"));
            if t.is_empty() || (t.starts_with('#') && !directive) {
                continue;
            }
            heredoc = heredoc_end(line);
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The word that ends a here-document a line opens (`<<WORD`, `<<-'WORD'`,
/// `<<"WORD"`), not a here-string (`<<<`).
fn heredoc_end(line: &str) -> Option<String> {
    let mut rest = line;
    while let Some(at) = rest.find("<<") {
        let after = &rest[at + 2..];
        if let Some(more) = after.strip_prefix('<') {
            rest = more.trim_start_matches('<');
            continue;
        }
        let word = after.strip_prefix('-').unwrap_or(after).trim_start();
        let word: String = word
            .chars()
            .filter(|c| *c != '\'' && *c != '"')
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            return Some(word);
        }
        rest = after;
    }
    None
}

/// Quotes a string for POSIX shells: `'...'` with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a value as one bash line: `$'...'` with `\\`, `\'`, newlines and
/// control characters escaped, so every variable is exactly one line.
pub fn env_value_quote(v: &str) -> String {
    let mut out = String::from("$'");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// One `KEY=$'value'` line of the env file.
pub fn env_line(key: &str, value: &str) -> String {
    format!("{key}={}\n", env_value_quote(value))
}

/// The value of an env file line's `$'...'` word, as bash reads it: the
/// inverse of [`env_value_quote`] (also for the escapes bash knows that it
/// never writes). `None` for any other form: a value that is not quoted
/// this way was not written by [`env_value_quote`].
pub fn env_value_unquote(word: &str) -> Option<String> {
    let body = word.strip_prefix("$'")?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                '?' => out.push('?'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'e' | 'E' => out.push('\x1b'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                'x' => {
                    let hex: String = chars
                        .clone()
                        .take(2)
                        .take_while(char::is_ascii_hexdigit)
                        .collect();
                    if hex.is_empty() {
                        return None;
                    }
                    for _ in 0..hex.len() {
                        chars.next();
                    }
                    // Bytes above 0x7f would not be UTF-8 alone (and are never written).
                    let byte = u8::from_str_radix(&hex, 16).ok().filter(u8::is_ascii)?;
                    out.push(char::from(byte));
                }
                _ => return None,
            },
            // An unescaped quote ends the word early: not one `$'...'` word.
            '\'' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn comments_are_left_out_of_shipped_scripts_but_not_heredocs() {
        let script = "#!/bin/bash\n# what it does\nset -e\n\n  # indented note\n# shellcheck disable=SC2034\nx=1 # kept: not a whole line\npython3 - <<'PY' || rc=$?\n# a Python comment, part of the program\n\nprint(1)\nPY\ncat <<-EOF\n\t# kept too\n\tEOF\ngrep -q x <<< \"$x\"\n# gone\n";
        assert_eq!(
            strip_comments(script),
            "#!/bin/bash\nset -e\n# shellcheck disable=SC2034\nx=1 # kept: not a whole line\npython3 - <<'PY' || rc=$?\n# a Python comment, part of the program\n\nprint(1)\nPY\ncat <<-EOF\n\t# kept too\n\tEOF\ngrep -q x <<< \"$x\"\n"
        );
    }

    use super::*;

    #[test]
    fn plain_words_stay_bare_and_the_rest_is_single_quoted() {
        assert_eq!(shell_quote("ollama/ollama:0.13.4"), "ollama/ollama:0.13.4");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("-x"), "-x", "hence `--` before a name");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
    }

    #[test]
    fn hostile_values_survive_the_shell() {
        let nasty = "it's \"quoted\" $HOME `x` #hash\nnew line: - [a] {b} \\ \x01";
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{}printf %s \"$V\"", env_line("V", nasty)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }

    #[test]
    fn env_values_read_back_as_written() {
        for v in [
            "",
            "plain",
            "a b*",
            "it's \"q\" \\ $x",
            "two\nlines\r\t\x01\x7f",
            "ü",
        ] {
            assert_eq!(
                env_value_unquote(&env_value_quote(v)).as_deref(),
                Some(v),
                "{v:?}"
            );
        }
        assert_eq!(env_value_unquote("plain"), None);
        assert_eq!(env_value_unquote("'single'"), None);
        assert_eq!(env_value_unquote("$'a'b'"), None);
        assert_eq!(env_value_unquote("$'a\\"), None);
        assert_eq!(env_value_unquote("$'\\x41\\x7'").as_deref(), Some("A\x07"));
        assert_eq!(env_value_unquote("$'\\xff'"), None);
    }
}
