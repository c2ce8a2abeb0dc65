//! Terminal output: tables, colour, JSON. The only place that knows about terminals.

use std::io::IsTerminal;

/// How to print: colour only on a terminal and never with `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// stderr is a terminal: progress hints and coloured error labels go there.
    pub interactive: bool,
    err_color: bool,
}

impl Style {
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let interactive = std::io::stderr().is_terminal();
        Style {
            color: std::io::stdout().is_terminal() && !no_color,
            interactive,
            err_color: interactive && !no_color,
        }
    }

    /// Plain style: no colour, not interactive.
    pub fn plain() -> Style {
        Style {
            color: false,
            interactive: false,
            err_color: false,
        }
    }

    /// The same style for text written to stderr (coloured only if stderr is a terminal).
    pub fn for_stderr(&self) -> Style {
        Style {
            color: self.err_color,
            ..*self
        }
    }

    /// The `error:` label for stderr.
    pub fn error_label(&self) -> &'static str {
        if self.err_color {
            "\x1b[31merror:\x1b[0m"
        } else {
            "error:"
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    /// Colours a status word by what it means.
    pub fn status(&self, s: &str) -> String {
        match s {
            "running" | "healthy" => self.paint("32", s),
            "provisioning" | "booting" | "starting" | "pending" | "container starting" => {
                self.paint("33", s)
            }
            "degraded" | "missing" | "unknown" | "unhealthy" => self.paint("31", s),
            _ => s.to_string(),
        }
    }
}

/// A plain text table with left-aligned columns; `color` fns may style cells.
pub fn table(
    headers: &[&str],
    rows: &[Vec<String>],
    style: &Style,
    status_col: Option<usize>,
) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>, raw: &[String]| -> String {
        let mut out = String::new();
        let last = cells.len() - 1;
        for (i, (c, r)) in cells.iter().zip(raw).enumerate() {
            out.push_str(c);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - r.chars().count() + 2));
            }
        }
        out.trim_end().to_string()
    };
    let head: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = line(head.iter().map(|h| style.bold(h)).collect(), &head);
    out.push('\n');
    for r in rows {
        let cells = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if Some(i) == status_col {
                    style.status(c)
                } else {
                    c.clone()
                }
            })
            .collect();
        out.push_str(&line(cells, r));
        out.push('\n');
    }
    out
}

/// Pretty JSON followed by a newline.
pub fn json(value: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("serialisable");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_without_colour() {
        let s = Style::plain();
        let t = table(
            &["NAME", "V"],
            &[
                vec!["chat-agent".into(), "0.1.0".into()],
                vec!["x".into(), "1".into()],
            ],
            &s,
            None,
        );
        assert_eq!(t, "NAME        V\nchat-agent  0.1.0\nx           1\n");
    }
}
