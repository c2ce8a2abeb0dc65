//! Dotenv files (`.env`): `KEY=value` lines with the usual quoting.
//!
//! - `#` starts a comment at the beginning of a line, or after whitespace in
//!   an unquoted value; an optional `export ` prefix is ignored.
//! - `'single'` quotes are literal and may span lines.
//! - `"double"` quotes understand `\n`, `\t`, `\"`, `\\` and may span lines.
//! - No `$VAR` interpolation: values are taken as written, so secrets
//!   containing `$` survive.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::template::{is_env_name, EnvVars};

/// Parses dotenv text; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<EnvVars> {
    let mut vars = EnvVars::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        // Skip blank space and comment lines.
        match chars[i] {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start_line = line;
        let mut key = String::new();
        while i < chars.len() && chars[i] != '=' && chars[i] != '\n' {
            key.push(chars[i]);
            i += 1;
        }
        let mut key = key.trim().to_string();
        if let Some(rest) = key.strip_prefix("export ") {
            key = rest.trim().to_string();
        }
        if i >= chars.len() || chars[i] != '=' {
            bail!("{origin}:{start_line}: expected KEY=value (the line has no '=')");
        }
        if !is_env_name(&key) {
            // The text before '=' is not echoed: it may be a pasted secret.
            bail!("{origin}:{start_line}: the name before '=' is not a valid variable name (letters, digits and _, not starting with a digit)");
        }
        i += 1; // '='
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        let mut value = String::new();
        match chars.get(i) {
            Some('\'') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => bail!("{origin}:{start_line}: unterminated ' quote in {key}"),
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            if *c == '\n' {
                                line += 1;
                            }
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
                i = skip_trailing(&chars, i, origin, start_line, &key)?;
            }
            Some('"') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => bail!("{origin}:{start_line}: unterminated \" quote in {key}"),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let esc = chars.get(i + 1).copied();
                            match esc {
                                Some('n') => value.push('\n'),
                                Some('t') => value.push('\t'),
                                Some('r') => value.push('\r'),
                                Some('"') => value.push('"'),
                                Some('\\') => value.push('\\'),
                                Some('$') => value.push('$'),
                                Some(other) => {
                                    value.push('\\');
                                    value.push(other);
                                }
                                None => {
                                    bail!("{origin}:{start_line}: unterminated \" quote in {key}")
                                }
                            }
                            i += 2;
                        }
                        Some(c) => {
                            if *c == '\n' {
                                line += 1;
                            }
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
                i = skip_trailing(&chars, i, origin, start_line, &key)?;
            }
            _ => {
                while i < chars.len() && chars[i] != '\n' {
                    if chars[i] == '#' && value.ends_with([' ', '\t']) {
                        while i < chars.len() && chars[i] != '\n' {
                            i += 1;
                        }
                        break;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                value = value.trim_end().to_string();
            }
        }
        vars.insert(key, value);
    }
    Ok(vars)
}

/// After a closing quote only whitespace or a comment may follow on the line.
fn skip_trailing(
    chars: &[char],
    mut i: usize,
    origin: &str,
    line: usize,
    key: &str,
) -> Result<usize> {
    while i < chars.len() && chars[i] != '\n' {
        match chars[i] {
            ' ' | '\t' | '\r' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            _ => bail!("{origin}:{line}: unexpected text after the closing quote of {key}"),
        }
    }
    Ok(i)
}

/// Reads a dotenv file (a regular file of at most 1 MiB; a BOM is dropped).
pub fn read(path: &Path) -> Result<EnvVars> {
    let text = crate::files::read_text(path, "env file", crate::files::TEXT_LIMIT)?;
    parse(&text, &path.display().to_string())
}

/// Sets `values` in the env file at `path`: an existing `NAME=` line (empty or
/// not) is replaced in place, others are appended; comments and every other
/// line are kept. Written atomically, mode 0600. Values must be plain
/// (generated keys): they are written unquoted.
pub fn set_values(path: &Path, values: &[(String, String)]) -> Result<()> {
    let text = if path.exists() {
        crate::files::read_text(path, "env file", crate::files::TEXT_LIMIT)?
    } else {
        String::new()
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (name, value) in values {
        debug_assert!(value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)));
        let line = format!("{name}={value}");
        let at = lines.iter().position(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l);
            l.split_once('=').is_some_and(|(k, _)| k.trim() == name)
        });
        match at {
            Some(i) => lines[i] = line,
            None => lines.push(line),
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    crate::files::write_private(path, out.as_bytes())
        .with_context(|| format!("cannot save generated values into {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_comments() {
        let text = r#"
# comment
export A=plain value # trailing comment
B='single $HOME "x" # not a comment'
C="line1\nline2 \"q\" \$X"
D=
E=a#b
F="multi
line"
G = spaced
"#;
        let v = parse(text, ".env").unwrap();
        assert_eq!(v["A"], "plain value");
        assert_eq!(v["B"], "single $HOME \"x\" # not a comment");
        assert_eq!(v["C"], "line1\nline2 \"q\" $X");
        assert_eq!(v["D"], "");
        assert_eq!(v["E"], "a#b");
        assert_eq!(v["F"], "multi\nline");
        assert_eq!(v["G"], "spaced");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("A=1\nnot a line\n", "my.env")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.env:2:"), "{e}");
        let e = parse("A='open\n", "my.env").unwrap_err().to_string();
        assert!(e.contains("unterminated"), "{e}");
        let e = parse("1A=x", "my.env").unwrap_err().to_string();
        assert!(
            e.contains("my.env:1") && e.contains("not a valid variable name"),
            "{e}"
        );
        // A pasted secret is never echoed, whatever the line looks like.
        for line in ["sk-live-s3cr3t-token", "s3cr3t token=x", "s3cr3t.token=x"] {
            let e = parse(line, "my.env").unwrap_err().to_string();
            assert!(
                !e.contains("s3cr3t") && !e.contains("dGhpcy") && !e.contains("sk-live"),
                "{e}"
            );
        }
        // Errors never echo values.
        let e = parse("A=\"secret' x", "my.env").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn generated_values_replace_empty_lines_and_keep_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        std::fs::write(&p, "# keep me\nKEY=\nOTHER='x y'\n").unwrap();
        set_values(
            &p,
            &[("KEY".into(), "abc".into()), ("NEW".into(), "def".into())],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# keep me\nKEY=abc\nOTHER='x y'\nNEW=def\n"
        );
        assert_eq!(crate::files::mode(&p), Some(0o600));
        let v = read(&p).unwrap();
        assert_eq!(v["OTHER"], "x y");
    }
}
