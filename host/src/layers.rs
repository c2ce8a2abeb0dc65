//! The layering rule of `lib.rs`, checked on the source: a module names
//! only modules of its own layer or below, and no two modules name each
//! other (directly or round a longer circle). The tests module and comments
//! are not counted; grouped imports are expanded, and paths that would hide
//! a module (`super::super`, `use crate as`) are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers top to bottom; a room not listed is the bottom layer (the outside
/// world and plain helpers).
const LAYERS: &[&[&str]] = &[
    &["cli", "commands", "output"],
    &["workflow"],
    &["hooks"],
    &["targets"],
    &["blueprint"],
    &["linode"],
];

fn rank(room: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&room))
        .map(|i| LAYERS.len() - i)
        .unwrap_or(0)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `blueprint/stack.rs` -> `blueprint::stack`; `workflow/deploy/plan.rs` ->
/// `workflow::deploy` (a folder module with its children is one node).
fn node_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    let depth = match parts[0].as_str() {
        "blueprint" | "workflow" => 2,
        "targets" => 3,
        _ => 1,
    };
    parts[..parts.len().min(depth)].join("::")
}

/// The module a `crate::a::b::c` path names, at the same grain as [`node_of`].
fn node_of_path(path: &str) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    let depth = match parts[0] {
        "blueprint" | "workflow" => 2,
        "targets" => 3,
        _ => 1,
    };
    parts[..parts.len().min(depth)].join("::")
}

/// The paths a `crate::` occurrence names: `a::b::c`, or each item of a
/// group, `{a::b, c::{d, e}}` (nested groups expanded).
fn expand(after: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let head_len = after.find(|c: char| !ident(c)).unwrap_or(after.len());
    let head = &after[..head_len];
    if !after[head_len..].starts_with('{') {
        return vec![head.trim_end_matches(':').to_string()];
    }
    // The group's text up to its matching brace.
    let body = &after[head_len + 1..];
    let mut depth = 1;
    let mut end = body.len();
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let body = &body[..end];
    // Split on commas outside nested groups.
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|i| !i.is_empty() && *i != "self")
        .flat_map(|i| expand(i).into_iter().map(|p| format!("{head}{p}")))
        .collect()
}

/// Module -> the modules it names outside its test code.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let node = node_of(rel);
        if node == "lib" || node == "main" || node == "layers" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Code only: not the tests module, not comments (a doc link is not an import).
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let names = g.entry(node.clone()).or_default();
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            for path in expand(rest) {
                let target = node_of_path(&path);
                if !target.is_empty() && target != node {
                    names.insert(target);
                }
            }
        }
        // Paths that would slip past the scan.
        for trick in [
            "super::super",
            "use crate as",
            "use crate::*",
            "use crate::{self",
        ] {
            assert!(
                !code.contains(trick),
                "{}: `{trick}`: name modules by their crate:: path",
                rel.display()
            );
        }
    }
    g
}

#[test]
fn grouped_paths_are_expanded() {
    assert_eq!(
        expand("blueprint::stack::Stack;"),
        ["blueprint::stack::Stack"]
    );
    assert_eq!(
        expand("{workflow::status, blueprint::{proxy, stack::Stack}};"),
        [
            "workflow::status",
            "blueprint::proxy",
            "blueprint::stack::Stack"
        ]
    );
    assert_eq!(node_of_path("blueprint::stack::Stack"), "blueprint::stack");
    assert_eq!(
        node_of_path("targets::vm::boot::render"),
        "targets::vm::boot"
    );
    assert_eq!(node_of_path("registry::Registry"), "registry");
}

#[test]
fn no_module_names_a_layer_above_it() {
    let g = graph();
    let room = |n: &str| n.split("::").next().unwrap().to_string();
    let mut up = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            if rank(&room(to)) > rank(&room(from)) {
                up.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        up.is_empty(),
        "these imports run up the layers of lib.rs:\n{}",
        up.join("\n")
    );
}

#[test]
fn no_import_circle() {
    let g = graph();
    // Depth-first search for a back edge; reports the circle it closes.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, &g, &mut done, &mut Vec::new()) {
            panic!("import circle: {}", c.join(" -> "));
        }
    }
    assert!(g.len() > 30, "the scan found the modules ({})", g.len());
}
