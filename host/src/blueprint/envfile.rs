//! Dotenv files (`.env`): `KEY=value` lines with the usual quoting.
//!
//! - `#` starts a comment at the beginning of a line, or after whitespace in
//!   an unquoted value (`NAME=   # note` is empty); an optional `export `
//!   prefix is ignored.
//! - A line that looks like a pasted secret (a token-shaped name, or a value
//!   of only `=` signs: base64 padding) is refused without being shown.
//! - `'single'` quotes are literal and may span lines.
//! - `"double"` quotes understand `\n`, `\t`, `\"`, `\\` and may span lines.
//! - No `$VAR` interpolation: values are taken as written, so secrets
//!   containing `$` survive.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::blueprint::template::{is_env_name, EnvVars};

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
        if looks_like_secret(&key) {
            bail!("{origin}:{start_line}: the name before '=' looks like a pasted secret (a token's shape, not a variable name), so the line is not shown; write NAME=<secret>, or if it is a name, rename it (e.g. with '_' between words)");
        }
        i += 1; // '='
        let after_equals = i;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        let spaced = i > after_equals;
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
                    // `#` after whitespace starts a comment, also right after
                    // `NAME=   ` (as the common dotenv tools read it).
                    let after_space = if value.is_empty() {
                        spaced
                    } else {
                        value.ends_with([' ', '\t'])
                    };
                    if chars[i] == '#' && after_space {
                        while i < chars.len() && chars[i] != '\n' {
                            i += 1;
                        }
                        break;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                value = value.trim_end().to_string();
                if !value.is_empty() && value.chars().all(|c| c == '=') {
                    // `SECRETdGhp...==`: base64 padding, not NAME=value.
                    bail!("{origin}:{start_line}: this line looks like a pasted secret (base64 ending in '='), not NAME=value, so it is not shown; write NAME=<secret>, quoted if it ends in '=': NAME='<secret>'");
                }
            }
        }
        vars.insert(key, value);
    }
    Ok(vars)
}

/// Whether a name before `=` has the shape of a token rather than of a
/// variable name: a known token prefix, or 20+ characters without `_` that
/// mix upper case, lower case and digits (base64, hex-and-case keys).
fn looks_like_secret(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "hf_",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "pk_live_",
    ];
    let n = name.chars().count();
    let aws = n == 20
        && (name.starts_with("AKIA") || name.starts_with("ASIA"))
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let mixed = n >= 20
        && !name.contains('_')
        && name.chars().any(|c| c.is_ascii_uppercase())
        && name.chars().any(|c| c.is_ascii_lowercase())
        && name.chars().any(|c| c.is_ascii_digit());
    aws || mixed || (n >= 20 && PREFIXES.iter().any(|p| name.starts_with(p)))
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

    /// Issue 14: `init`'s `.env.example` has `NAME=   # generated when empty`.
    #[test]
    fn an_inline_comment_after_whitespace_is_a_comment_even_with_no_value() {
        let v = parse(
            "KEY=   # generated when empty\nB=\t# c\nC=#not-a-comment\nD=x # c\nE= x#y\n",
            ".env",
        )
        .unwrap();
        assert_eq!(v["KEY"], "");
        assert_eq!(v["B"], "");
        assert_eq!(v["C"], "#not-a-comment");
        assert_eq!(v["D"], "x");
        assert_eq!(v["E"], "x#y");
    }

    /// Issue 16, item 12: a pasted base64 secret is not a variable named
    /// after its first characters; the refusal quotes no part of it.
    #[test]
    fn a_pasted_secret_is_refused_without_quoting_it() {
        for text in [
            "SECRETdGhpcyBpcyBhIHNlY3JldA==\n",
            "A=1\nSECRETdGhpcyBpcyBhIHNlY3JldA=\n",
            "dGhpcyBpcyBhIHNlY3JldCBrZXkgb2YgMzI=\n",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a=x\n",
            "AKIAIOSFODNN7EXAMPLE=x\n",
        ] {
            let e = parse(text, "my.env").unwrap_err().to_string();
            assert!(e.starts_with("my.env:") && e.contains("secret"), "{e}");
            for part in ["SECRET", "dGhp", "ghp_", "16C7", "AKIA", "EXAMPLE"] {
                assert!(!e.contains(part), "{e}");
            }
        }
        // Names as people write them, and '=' inside values, still work.
        let v = parse(
            "HF_TOKEN=hf_abc==\nmyVar=a=b\nOLLAMA_KEEP_ALIVE=24h\nNEXT_PUBLIC_API_URL_V2=x\n",
            ".env",
        )
        .unwrap();
        assert_eq!(v["HF_TOKEN"], "hf_abc==");
        assert_eq!(v["myVar"], "a=b");
        assert_eq!(v.len(), 4);
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
