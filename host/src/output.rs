//! Terminal output: tables, colour, JSON, error reports. The only place that
//! knows about terminals. Every cell and message from outside (API, hooks,
//! registry) is escaped before it reaches the terminal.

use std::io::IsTerminal;

use crate::sanitize;
use crate::state::{Status, Tone};

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
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    /// Colours a status word by what it means.
    pub fn status(&self, s: Status) -> String {
        self.tone(s.tone(), s.as_str())
    }
    pub fn tone(&self, tone: Tone, text: &str) -> String {
        match tone {
            Tone::Good => self.paint("32", text),
            Tone::Waiting => self.paint("33", text),
            Tone::Notice => self.paint("36", text),
            Tone::Bad => self.paint("31", text),
        }
    }
}

/// A transient progress line on an interactive stderr (compiling a hook);
/// cleared when dropped. Off a terminal it prints nothing.
pub struct Progress {
    interactive: bool,
    shown: std::cell::Cell<bool>,
    last: std::cell::Cell<u64>,
}

impl Progress {
    pub fn new(style: &Style) -> Progress {
        Progress {
            interactive: style.interactive,
            shown: Default::default(),
            last: Default::default(),
        }
    }

    /// Compiling a hook of `size` bytes for `elapsed` so far (once a second after the first).
    pub fn compiling(&self, elapsed: std::time::Duration, size: u64) {
        let secs = elapsed.as_secs();
        if !self.interactive || secs == 0 || secs == self.last.get() {
            return;
        }
        self.last.set(secs);
        self.shown.set(true);
        eprint!(
            "\r\x1b[2Kcompiling the template's hook ({:.1} MB, once; later runs use the cache)... {secs}s",
            size as f64 / 1e6
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown.get() {
            eprint!("\r\x1b[2K");
        }
    }
}

/// How many characters of the last column (a detail that explains) are shown;
/// other cells show [`sanitize::FIELD_MAX`].
pub const LAST_CELL_MAX: usize = 600;

/// A plain text table with left-aligned columns; cells are escaped and cut.
/// `toned`: a column painted with each row's tone (the status column).
pub fn table(
    headers: &[&str],
    rows: &[Vec<String>],
    style: &Style,
    toned: Option<(usize, &[Tone])>,
) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 == r.len() {
                        let cut = sanitize::cut(c, LAST_CELL_MAX);
                        sanitize::cut(&sanitize::line(&cut), LAST_CELL_MAX)
                    } else {
                        sanitize::field(c)
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
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
    for (n, r) in rows.iter().enumerate() {
        let cells = r
            .iter()
            .enumerate()
            .map(|(i, c)| match toned {
                Some((col, tones)) if col == i => match tones.get(n) {
                    Some(t) => style.tone(*t, c),
                    None => c.clone(),
                },
                _ => c.clone(),
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

/// An error as cargo prints it: `error: <what>` then `Caused by:` lines, escaped.
pub fn error_report(e: &anyhow::Error, style: &Style) -> String {
    let label = if style.err_color {
        "\x1b[1;31merror\x1b[0m:"
    } else {
        "error:"
    };
    let mut chain = e.chain();
    let mut out = format!(
        "{label} {}\n",
        sanitize::block(&chain.next().map(|c| c.to_string()).unwrap_or_default())
    );
    let causes: Vec<String> = chain.map(|c| sanitize::block(&c.to_string())).collect();
    if !causes.is_empty() {
        out.push_str("\nCaused by:\n");
        for c in causes {
            let mut lines = c.lines();
            out.push_str(&format!("  {}\n", lines.next().unwrap_or("")));
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    out
}

/// Whether an error is a closed stdout (`linode-ai status | head -1`): exit quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_escapes() {
        let s = Style::plain();
        let t = table(
            &["NAME", "V"],
            &[
                vec!["chat-agent".into(), "0.1.0".into()],
                vec!["x\x1b[2J".into(), "1\nforged".into()],
            ],
            &s,
            None,
        );
        assert_eq!(
            t,
            "NAME        V\nchat-agent  0.1.0\nx\\x1b[2J    1\\nforged\n"
        );
    }

    #[test]
    fn errors_read_like_cargos() {
        let e = anyhow::anyhow!("inner \x1b]0;title\x07").context("outer");
        let r = error_report(&e, &Style::plain());
        assert_eq!(
            r,
            "error: outer\n\nCaused by:\n  inner \\x1b]0;title\\x07\n"
        );
        let io =
            anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(&io));
    }
}
