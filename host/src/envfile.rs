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
            bail!("{origin}:{start_line}: \"{key}\" is not a valid variable name (letters, digits, _)");
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

/// Reads a dotenv file.
pub fn read(path: &Path) -> Result<EnvVars> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read env file {}", path.display()))?;
    parse(&text, &path.display().to_string())
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
        assert!(e.contains("1A"), "{e}");
        // Errors never echo values.
        let e = parse("A=\"secret' x", "my.env").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
