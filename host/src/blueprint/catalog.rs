//! The templates a user can deploy: stock ones embedded in the binary, and
//! ones installed with `templates add` (copied, or `--dev`: read from their
//! source directory on every use).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::blueprint::template::{Source, Template};
use crate::blueprint::{load_template, parse_template};
use crate::sanitize::quote;

/// Marker file of a `--dev` install: holds the source directory's path.
pub const DEV_LINK: &str = ".dev-source";

/// `index.yml`: the list of stock templates.
#[derive(Debug, serde::Deserialize)]
struct Index {
    templates: Vec<IndexEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct IndexEntry {
    name: String,
    path: String,
}

/// The stock templates, embedded at build time.
const STOCK: &[(&str, &str)] = &[
    (
        "chat-agent/template.yml",
        include_str!("../../../templates/chat-agent/template.yml"),
    ),
    (
        "chat-webui/template.yml",
        include_str!("../../../templates/chat-webui/template.yml"),
    ),
    (
        "llm-api/template.yml",
        include_str!("../../../templates/llm-api/template.yml"),
    ),
    (
        "embeddings/template.yml",
        include_str!("../../../templates/embeddings/template.yml"),
    ),
    (
        "rag/template.yml",
        include_str!("../../../templates/rag/template.yml"),
    ),
];
const STOCK_INDEX: &str = include_str!("../../../templates/index.yml");

/// All templates a user can deploy: stock ones and installed ones.
#[derive(Debug, Clone)]
pub struct Catalog {
    templates: Vec<Template>,
    /// Installed templates that failed to load (shown as warnings, never fatal).
    pub problems: Vec<String>,
}

impl Catalog {
    /// Stock templates only (no file system access). The stock set is
    /// checked by a unit test, so a broken one never ships.
    pub fn stock() -> Catalog {
        let index: Index =
            serde_yaml::from_str(STOCK_INDEX).expect("embedded templates/index.yml is valid");
        let templates = index
            .templates
            .iter()
            .filter_map(|entry| {
                let text = STOCK.iter().find(|(p, _)| *p == entry.path)?.1;
                let spec = parse_template(text, &entry.path).ok()?;
                (spec.name == entry.name).then_some(Template {
                    spec,
                    source: Source::Stock,
                    dir: None,
                })
            })
            .collect();
        Catalog {
            templates,
            problems: Vec::new(),
        }
    }

    /// Stock templates plus those installed in `store`.
    pub fn load(store: &Path) -> Catalog {
        let mut catalog = Catalog::stock();
        let Ok(entries) = std::fs::read_dir(store) else {
            return catalog;
        };
        let mut installed: Vec<Template> = Vec::new();
        for entry in entries.flatten() {
            let dir = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') || !dir.is_dir() {
                continue;
            }
            match load_installed(&dir) {
                Ok(Some(t)) => installed.push(t),
                Ok(None) => {}
                Err(e) => catalog.problems.push(format!("{e:#}")),
            }
        }
        installed.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        for t in installed {
            // An installed template may replace a stock one (installed with --force).
            catalog.templates.retain(|s| s.spec.name != t.spec.name);
            catalog.templates.push(t);
        }
        catalog
    }

    pub fn all(&self) -> &[Template] {
        &self.templates
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.spec.name == name)
    }

    /// Finds a template or explains which ones exist.
    pub fn find(&self, name: &str) -> Result<&Template> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        let names: Vec<&str> = self.templates.iter().map(|t| t.name()).collect();
        bail!(
            "no template named {}.{} Available: {}",
            quote(name),
            crate::suggest::did_you_mean(name, names.iter().copied()),
            names.join(", ")
        )
    }
}

/// An installed template directory: a copy, or a `--dev` link to its source.
fn load_installed(dir: &Path) -> Result<Option<Template>> {
    let link = dir.join(DEV_LINK);
    if link.is_file() {
        let source =
            PathBuf::from(crate::files::read_text(&link, "dev link", 4096)?.trim_end_matches('\n'));
        let spec = load_template(&source)?;
        return Ok(Some(Template {
            spec,
            source: Source::Dev,
            dir: Some(source),
        }));
    }
    if !dir.join("template.yml").is_file() {
        return Ok(None);
    }
    let spec = load_template(dir)?;
    Ok(Some(Template {
        spec,
        source: Source::Installed,
        dir: Some(dir.to_path_buf()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of stock templates follows the catalog: every
    /// template has a row naming its default plan and the version of each
    /// service's image (a bumped image or plan cannot leave the table behind).
    #[test]
    fn the_readme_table_matches_the_stock_templates() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("## Stock templates")
            .nth(1)
            .and_then(|t| t.split("\n\n").nth(1))
            .expect("README has a Stock templates table");
        let catalog = Catalog::stock();
        for t in catalog.all() {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| {} |", t.name())))
                .unwrap_or_else(|| panic!("README: no row for {}", t.name()));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let plan = t.linode().type_default.as_deref().unwrap_or_default();
            assert!(
                cells[3].starts_with(plan),
                "README: {} runs on {plan} by default, the table says {:?}",
                t.name(),
                cells[3]
            );
            let stack = crate::blueprint::stack::Stack::from_spec(&t.spec).unwrap();
            for s in &stack.services {
                let tag = s.image.rsplit(':').next().unwrap_or_default();
                assert!(
                    cells[2].contains(tag),
                    "README: {} runs {} (tag {tag}); the table says {:?}",
                    t.name(),
                    s.image,
                    cells[2]
                );
            }
        }
        let rows = table
            .lines()
            .filter(|l| {
                l.starts_with("| ") && !l.starts_with("| template") && !l.starts_with("| ---")
            })
            .count();
        assert_eq!(rows, catalog.all().len(), "one row per stock template");
    }

    #[test]
    fn every_stock_template_loads_and_is_pinned() {
        let c = Catalog::stock();
        for (path, text) in STOCK {
            let depth = crate::yaml::nesting_depth(text);
            assert!(
                depth < crate::yaml::MAX_DEPTH / 4,
                "{path} nests {depth} deep"
            );
        }
        let names: Vec<_> = c.all().iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            ["chat-agent", "chat-webui", "llm-api", "embeddings", "rag"]
        );
        for t in c.all() {
            let l = t.linode();
            assert_eq!(l.region_default.as_deref(), Some("us-ord"), "{}", t.name());
            assert!(l.min_memory_mb.is_some(), "{} states its memory", t.name());
            let stack = crate::blueprint::stack::Stack::from_spec(&t.spec).unwrap();
            for s in &stack.services {
                assert!(
                    !s.image.ends_with(":latest") && s.image.contains(':'),
                    "{}: {} is pinned",
                    t.name(),
                    s.image
                );
                assert!(
                    s.health.is_some(),
                    "{}: {} has a health check",
                    t.name(),
                    s.name
                );
            }
        }
        let llm = c.get("llm-api").unwrap();
        assert!(llm.linode().gpu);
        assert!(llm
            .linode()
            .type_default
            .as_deref()
            .unwrap()
            .contains("gpu"));
    }

    #[test]
    fn closest_name_is_suggested() {
        let err = Catalog::stock().find("chat-agnet").unwrap_err().to_string();
        assert!(err.contains("Did you mean \"chat-agent\""), "{err}");
    }
}
